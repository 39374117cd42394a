"""MobileFaceNet (Chen et al., "MobileFaceNets: Efficient CNNs for Accurate Real-Time Face
Verification on Mobile Devices", 2018): a 512-d face embedding of a 112x112 face.

Layer for layer as ``MobileFaceNet`` of InsightFace_Pytorch (TreB1eN), which photo2cartoon copies
into ``models/mobilefacenet.py`` and loads from ``model_mobilefacenet.pth``, so the state_dict keys
are those ('conv1.conv.weight', 'conv_23.conv_dw.bn.running_mean' -> '..._mean', 'linear.weight',
...). photo2cartoon uses it, frozen and in eval mode, for its face-ID loss.
"""
import paddle.nn as nn
import paddle.nn.functional as F


def _bn2d(c):
    # torch BatchNorm2d(c): eps 1e-5, momentum 0.1 (Paddle 0.9)
    return nn.BatchNorm2D(c, momentum=0.9, epsilon=1e-5)


class PReLU(nn.Layer):
    """PReLU with one slope per channel (init 0.25) stored as ``weight``, torch's parameter name
    (Paddle's nn.PReLU calls it ``_weight``)."""

    def __init__(self, num_parameters, init=0.25):
        super().__init__()
        self.weight = self.create_parameter([num_parameters], default_initializer=nn.initializer.Constant(init))

    def forward(self, x):
        return F.prelu(x, self.weight)


class Conv_block(nn.Layer):  # noqa: N801 - the original class names
    """conv (no bias) + BatchNorm + PReLU (one slope per channel)."""

    def __init__(self, in_c, out_c, kernel=1, stride=1, padding=0, groups=1):
        super().__init__()
        self.conv = nn.Conv2D(in_c, out_c, kernel, stride=stride, padding=padding, groups=groups, bias_attr=False)
        self.bn = _bn2d(out_c)
        self.prelu = PReLU(out_c)

    def forward(self, x):
        return self.prelu(self.bn(self.conv(x)))


class Linear_block(nn.Layer):  # noqa: N801
    """conv (no bias) + BatchNorm, no activation."""

    def __init__(self, in_c, out_c, kernel=1, stride=1, padding=0, groups=1):
        super().__init__()
        self.conv = nn.Conv2D(in_c, out_c, kernel, stride=stride, padding=padding, groups=groups, bias_attr=False)
        self.bn = _bn2d(out_c)

    def forward(self, x):
        return self.bn(self.conv(x))


class Depth_Wise(nn.Layer):  # noqa: N801
    """Inverted residual: 1x1 expand to ``groups`` channels, depthwise 3x3, 1x1 linear projection."""

    def __init__(self, in_c, out_c, residual=False, kernel=3, stride=2, padding=1, groups=1):
        super().__init__()
        self.conv = Conv_block(in_c, groups)
        self.conv_dw = Conv_block(groups, groups, kernel, stride, padding, groups=groups)
        self.project = Linear_block(groups, out_c)
        self.residual = residual

    def forward(self, x):
        out = self.project(self.conv_dw(self.conv(x)))
        return x + out if self.residual else out


class Residual(nn.Layer):
    """``num_block`` residual Depth_Wise blocks at stride 1."""

    def __init__(self, c, num_block, groups, kernel=3, stride=1, padding=1):
        super().__init__()
        self.model = nn.Sequential(*[Depth_Wise(c, c, True, kernel, stride, padding, groups)
                                     for _ in range(num_block)])

    def forward(self, x):
        return self.model(x)


class MobileFaceNet(nn.Layer):
    """112x112 RGB face in [-1, 1] -> L2-normalised ``embedding_size`` vector."""

    def __init__(self, embedding_size=512):
        super().__init__()
        self.conv1 = Conv_block(3, 64, kernel=3, stride=2, padding=1)
        self.conv2_dw = Conv_block(64, 64, kernel=3, stride=1, padding=1, groups=64)
        self.conv_23 = Depth_Wise(64, 64, kernel=3, stride=2, padding=1, groups=128)
        self.conv_3 = Residual(64, num_block=4, groups=128)
        self.conv_34 = Depth_Wise(64, 128, kernel=3, stride=2, padding=1, groups=256)
        self.conv_4 = Residual(128, num_block=6, groups=256)
        self.conv_45 = Depth_Wise(128, 128, kernel=3, stride=2, padding=1, groups=512)
        self.conv_5 = Residual(128, num_block=2, groups=256)
        self.conv_6_sep = Conv_block(128, 512)
        self.conv_6_dw = Linear_block(512, 512, kernel=7, groups=512)
        self.linear = nn.Linear(512, embedding_size, bias_attr=False)
        self.bn = nn.BatchNorm1D(embedding_size, momentum=0.9, epsilon=1e-5)

    def forward(self, x):
        if x.shape[-2:] != [112, 112]:
            raise ValueError(f"MobileFaceNet expects 112x112 faces, got {x.shape[-2]}x{x.shape[-1]}")
        for layer in (self.conv1, self.conv2_dw, self.conv_23, self.conv_3, self.conv_34, self.conv_4,
                      self.conv_45, self.conv_5, self.conv_6_sep, self.conv_6_dw):
            x = layer(x)
        x = self.bn(self.linear(x.flatten(1)))
        return F.normalize(x, axis=1)


def face_crop_112(images):
    """photo2cartoon's fixed face crop for the face-ID loss (``FaceFeatures.infer``): rows
    h/2.1*0.47 .. h - h/2.1*0.3, a centred square of that height, resized bilinearly
    (align_corners=True) to 112x112. Made for the aligned 256x256 faces of its face pipeline."""
    h, w = images.shape[2:]
    top = int(h / 2.1 * (0.8 - 0.33))
    bottom = int(h - (h / 2.1 * 0.3))
    size = bottom - top
    left = int(w / 2 - size / 2)
    crop = images[:, :, top:bottom, left:left + size]
    return F.interpolate(crop, size=[112, 112], mode="bilinear", align_corners=True)


def face_id_distance(facenet, real, fake):
    """Mean over the batch of 1 - cosine similarity of the embeddings of the cropped faces
    (photo2cartoon's ``cosine_distance``, which returns it per sample)."""
    e_real, e_fake = facenet(face_crop_112(real)), facenet(face_crop_112(fake))
    return (1.0 - F.cosine_similarity(e_real, e_fake, axis=1)).mean()
