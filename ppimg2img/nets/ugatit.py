"""U-GAT-IT (Kim et al., "U-GAT-IT: Unsupervised Generative Attentional Networks with Adaptive
Layer-Instance Normalization for Image-to-Image Translation", ICLR 2020).

Layer for layer as ``networks.py`` of the original PyTorch code (znxlwm/UGATIT-pytorch), so the
state_dict keys are the original ones ('DownBlock.1.weight', 'UpBlock1_1.norm1.rho',
'gap_fc.weight_orig', ...). Every network returns ``(output, cam_logit, heatmap)`` like the original.

Export note: nearest x2 upsampling is written with unsqueeze/expand/flatten (:func:`upsample_nearest2x`)
because Paddle Inference 3.3 with oneDNN cannot run any interpolate op.
"""
import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle.nn import initializer as I

from .conv import BandedConv2D, ReflectPad2D
from .norm import PlaneInstanceNorm2D, layer_instance_norm, plane_mean


def upsample_nearest2x(x):
    """Nearest-neighbour x2 upsampling of NCHW ``x`` (``nn.Upsample(scale_factor=2)``), without an
    interpolate op. Eager: each pixel repeated into a 2x2 block by expand + reshape. Static graphs
    (export): a depthwise 2x2 stride-2 transposed convolution with a kernel of ones, which oneDNN runs
    (each output pixel is one input pixel times 1: exact), where the expand + reshape cost ~8% of the
    exported U-GAT-IT's time (Paddle's plain expand kernel and layout conversions)."""
    if not paddle.in_dynamic_mode() and isinstance(x.shape[1], int) and x.shape[1] > 0:
        c = x.shape[1]
        return F.conv2d_transpose(x, paddle.ones([c, 1, 2, 2], x.dtype), stride=2, groups=c)
    return x.unsqueeze([3, 5]).expand([-1, -1, -1, 2, -1, 2]).flatten(4, 5).flatten(2, 3)


class Upsample2x(nn.Layer):
    """Layer form of :func:`upsample_nearest2x` (holds no parameters, like ``nn.Upsample``)."""

    def forward(self, x):
        return upsample_nearest2x(x)


def _instance_norm(dim):
    # nn.InstanceNorm2d(dim): affine=False, no running statistics, eps 1e-5 (float32-accurate, nets/norm.py;
    # oneDNN ops in the exported graph)
    return PlaneInstanceNorm2D(dim, epsilon=1e-5, weight_attr=False, bias_attr=False)


def _conv(cin, cout, k, stride=1, bias=False, groups=1):
    # unpadded (the nets pad first); banded in eager CPU runs to bound im2col memory (nets/conv.py)
    return BandedConv2D(cin, cout, k, stride=stride, padding=0, groups=groups, bias_attr=None if bias else False)


def torch_default_init(net):
    """PyTorch's default initialisation, which the original code keeps: Conv2d/Linear weights
    ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a=sqrt(5)), biases the same.
    Spectral-normalised layers get it on ``weight_orig``. Returns ``net``."""
    for layer in net.sublayers(include_self=True):
        if not isinstance(layer, (nn.layer.conv._ConvNd, nn.Linear)):
            continue
        weight = getattr(layer, "weight_orig", None)
        if weight is None:
            weight = layer.weight
        if isinstance(layer, nn.Linear):
            fan_in = weight.shape[0]  # Paddle Linear weight is [in, out]
        else:
            fan_in = int(math.prod(weight.shape[1:]))
        bound = 1.0 / math.sqrt(fan_in)
        I.Uniform(-bound, bound)(weight)
        if getattr(layer, "bias", None) is not None:
            I.Uniform(-bound, bound)(layer.bias)
    return net


def _layer_instance_norm(x, rho, eps, gamma=None, beta=None):
    """rho * InstanceNorm(x) + (1 - rho) * LayerNorm(x), both without affine and with the UNBIASED
    variance (``torch.var``'s default), as the original adaILN/ILN, then ``* gamma + beta``. One set
    of two-pass per-channel moments with row-by-row means serves both norms
    (:func:`~ppimg2img.nets.norm.layer_instance_norm`): ``paddle.var``'s whole-plane float32 mean
    made the photo2cartoon output drift 1.5e-3 from the original's (issue 17)."""
    return layer_instance_norm(x, rho, eps, gamma, beta)


class adaILN(nn.Layer):  # noqa: N801 - the original class name
    """Adaptive Layer-Instance Normalization (paper eq. 1): gamma and beta come from the MLP;
    ``rho`` (per channel) starts at 0.9 and is clipped to [0, 1] after each step (RhoClipper)."""

    def __init__(self, num_features, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.rho = self.create_parameter([1, num_features, 1, 1], default_initializer=I.Constant(0.9))

    def forward(self, x, gamma, beta):
        return _layer_instance_norm(x, self.rho, self.eps, gamma.unsqueeze([2, 3]), beta.unsqueeze([2, 3]))


class ILN(nn.Layer):
    """Layer-Instance Normalization of the upsampling blocks: learned rho (init 0, i.e. LayerNorm
    at the start), gamma (init 1) and beta (init 0)."""

    def __init__(self, num_features, eps=1e-5):
        super().__init__()
        self.eps = eps
        shape = [1, num_features, 1, 1]
        self.rho = self.create_parameter(shape, default_initializer=I.Constant(0.0))
        self.gamma = self.create_parameter(shape, default_initializer=I.Constant(1.0))
        self.beta = self.create_parameter(shape, default_initializer=I.Constant(0.0))

    def forward(self, x):
        return _layer_instance_norm(x, self.rho, self.eps, self.gamma, self.beta)


class RhoClipper:
    """Clamp every ``rho`` parameter of a net into [clip_min, clip_max] (original: after each
    generator step, RhoClipper(0, 1)). Use as ``RhoClipper(0, 1)(net)``."""

    names = ("rho",)

    def __init__(self, clip_min=0.0, clip_max=1.0):
        if not clip_min < clip_max:
            raise ValueError(f"clip_min ({clip_min}) must be smaller than clip_max ({clip_max})")
        self.clip_min, self.clip_max = clip_min, clip_max

    @paddle.no_grad()
    def __call__(self, net):
        for layer in net.sublayers(include_self=True):
            for name in self.names:
                p = layer._parameters.get(name)
                if p is not None:
                    p.set_value(p.clip(self.clip_min, self.clip_max))
        return net


class ResnetBlock(nn.Layer):
    """Bias-free residual block: (reflect pad, conv3, InstanceNorm, ReLU) x2 without the last ReLU."""

    def __init__(self, dim, use_bias=False):
        super().__init__()
        self.conv_block = nn.Sequential(
            ReflectPad2D(1, mode="reflect"), _conv(dim, dim, 3, bias=use_bias), _instance_norm(dim), nn.ReLU(),
            ReflectPad2D(1, mode="reflect"), _conv(dim, dim, 3, bias=use_bias), _instance_norm(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetAdaILNBlock(nn.Layer):
    """Decoder residual block whose two norms are adaILN with the MLP's gamma/beta."""

    def __init__(self, dim, use_bias=False):
        super().__init__()
        self.pad1 = ReflectPad2D(1, mode="reflect")
        self.conv1 = _conv(dim, dim, 3, bias=use_bias)
        self.norm1 = adaILN(dim)
        self.relu1 = nn.ReLU()
        self.pad2 = ReflectPad2D(1, mode="reflect")
        self.conv2 = _conv(dim, dim, 3, bias=use_bias)
        self.norm2 = adaILN(dim)

    def forward(self, x, gamma, beta):
        out = self.relu1(self.norm1(self.conv1(self.pad1(x)), gamma, beta))
        out = self.norm2(self.conv2(self.pad2(out)), gamma, beta)
        return out + x


def class_activation(x, gap_fc, gmp_fc, gap_weight, gmp_weight):
    """The CAM attention of generator and discriminators (paper sec. 2.1.1): auxiliary logits of
    global average and max pooled features, and the features re-weighted by those classifiers'
    weights ([in, 1] here, Paddle's Linear layout), concatenated -> (features, cam_logit [N, 2])."""
    gap_logit = gap_fc(plane_mean(x).flatten(1))
    # adaptive max pooling, as the original: Paddle's gradient of max over axes [2, 3] took 5.9 s for a
    # 256x32x32 map (70% of a U-GAT-IT training step), the pooling's 0.5 ms; the same gradient (to the maximum)
    gmp_logit = gmp_fc(F.adaptive_max_pool2d(x, 1).flatten(1))
    gap = x * gap_weight.transpose([1, 0]).unsqueeze([2, 3])
    gmp = x * gmp_weight.transpose([1, 0]).unsqueeze([2, 3])
    return paddle.concat([gap, gmp], axis=1), paddle.concat([gap_logit, gmp_logit], axis=1)


class UGATITGenerator(nn.Layer):
    """The U-GAT-IT ResnetGenerator.

    Encoder: c7s1-ngf, two stride-2 convs (reflect padding, InstanceNorm), ``n_blocks`` residual
    blocks; CAM (bias-free gap_fc/gmp_fc, conv1x1, ReLU; heatmap = channel sum); MLP giving
    gamma/beta (``light``: from the average-pooled features; full: from the flattened feature map,
    which fixes the input size to ``img_size``); decoder: ``n_blocks`` adaILN blocks, two
    (nearest x2, conv3, ILN, ReLU), c7s1-output_nc, Tanh. Original defaults (main.py): ngf 64,
    4 blocks, 256 px, full version. Returns ``(image, cam_logit, heatmap)``.
    """

    def __init__(self, input_nc=3, output_nc=3, ngf=64, n_blocks=4, img_size=256, light=False):
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {n_blocks}")
        if img_size % 4:
            raise ValueError(f"img_size must be a multiple of 4 (two stride-2 downsamples), got {img_size}")
        self.n_blocks, self.img_size, self.light = n_blocks, img_size, light
        down = [ReflectPad2D(3, mode="reflect"), _conv(input_nc, ngf, 7), _instance_norm(ngf), nn.ReLU()]
        n_down = 2
        for i in range(n_down):
            mult = 2 ** i
            down += [ReflectPad2D(1, mode="reflect"), _conv(ngf * mult, ngf * mult * 2, 3, stride=2),
                     _instance_norm(ngf * mult * 2), nn.ReLU()]
        mult = 2 ** n_down
        dim = ngf * mult
        down += [ResnetBlock(dim) for _ in range(n_blocks)]
        self.DownBlock = nn.Sequential(*down)

        self.gap_fc = nn.Linear(dim, 1, bias_attr=False)
        self.gmp_fc = nn.Linear(dim, 1, bias_attr=False)
        self.conv1x1 = nn.Conv2D(dim * 2, dim, 1)
        self.relu = nn.ReLU()

        fc_in = dim if light else (img_size // mult) * (img_size // mult) * dim
        self.FC = nn.Sequential(nn.Linear(fc_in, dim, bias_attr=False), nn.ReLU(),
                                nn.Linear(dim, dim, bias_attr=False), nn.ReLU())
        self.gamma = nn.Linear(dim, dim, bias_attr=False)
        self.beta = nn.Linear(dim, dim, bias_attr=False)

        for i in range(n_blocks):
            setattr(self, f"UpBlock1_{i + 1}", ResnetAdaILNBlock(dim))
        up = []
        for i in range(n_down):
            mult = 2 ** (n_down - i)
            up += [Upsample2x(), ReflectPad2D(1, mode="reflect"), _conv(ngf * mult, ngf * mult // 2, 3),
                   ILN(ngf * mult // 2), nn.ReLU()]
        up += [ReflectPad2D(3, mode="reflect"), _conv(ngf, output_nc, 7), nn.Tanh()]
        self.UpBlock2 = nn.Sequential(*up)
        torch_default_init(self)

    def forward(self, x):
        if not self.light:
            check_full_size(x, self.img_size)
        x = self.DownBlock(x)
        x, cam_logit = class_activation(x, self.gap_fc, self.gmp_fc, self.gap_fc.weight, self.gmp_fc.weight)
        x = self.relu(self.conv1x1(x))
        heatmap = x.sum(axis=1, keepdim=True)
        if self.light:
            style = self.FC(plane_mean(x).flatten(1))
        else:
            style = self.FC(x.flatten(1))
        gamma, beta = self.gamma(style), self.beta(style)
        for i in range(self.n_blocks):
            x = getattr(self, f"UpBlock1_{i + 1}")(x, gamma, beta)
        return self.UpBlock2(x), cam_logit, heatmap


def check_full_size(x, img_size):
    """The full (non-light) MLP flattens the feature map, so only img_size x img_size images fit."""
    if min(x.shape[-2:]) > 0 and list(x.shape[-2:]) != [img_size, img_size]:
        raise ValueError(f"this generator (light: false) was built for {img_size}x{img_size} images and got "
                         f"{x.shape[-2]}x{x.shape[-1]}: resize the input, or use a light generator "
                         f"(light: true), which takes other sizes")


def _sn(layer):
    return nn.utils.spectral_norm(layer)


class UGATITDiscriminator(nn.Layer):
    """The U-GAT-IT Discriminator: ``n_layers - 2`` stride-2 and one stride-1 4x4 spectral-norm conv
    (reflect padding, LeakyReLU 0.2), then CAM (spectral-norm bias-free linears, conv1x1, LeakyReLU)
    and a 4x4 spectral-norm conv to a 1-channel logit map. The original trains a global
    (``n_layers=7``, receptive field covering a 256 px image) and a local (``n_layers=5``) one per
    domain. Returns ``(logit_map, cam_logit, heatmap)``.

    As the original, the CAM re-weighting uses the classifiers' raw ``weight_orig`` (the first
    parameter of a spectral-norm layer) while the logits use the normalised weight.
    """

    def __init__(self, input_nc=3, ndf=64, n_layers=7):
        super().__init__()
        if n_layers < 3:
            raise ValueError(f"n_layers must be >= 3, got {n_layers}")
        model = [ReflectPad2D(1, mode="reflect"), _sn(_conv(input_nc, ndf, 4, stride=2, bias=True)), nn.LeakyReLU(0.2)]
        for i in range(1, n_layers - 2):
            mult = 2 ** (i - 1)
            model += [ReflectPad2D(1, mode="reflect"), _sn(_conv(ndf * mult, ndf * mult * 2, 4, stride=2, bias=True)),
                      nn.LeakyReLU(0.2)]
        mult = 2 ** (n_layers - 3)
        model += [ReflectPad2D(1, mode="reflect"), _sn(_conv(ndf * mult, ndf * mult * 2, 4, stride=1, bias=True)),
                  nn.LeakyReLU(0.2)]
        mult = 2 ** (n_layers - 2)
        self.gap_fc = _sn(nn.Linear(ndf * mult, 1, bias_attr=False))
        self.gmp_fc = _sn(nn.Linear(ndf * mult, 1, bias_attr=False))
        self.conv1x1 = nn.Conv2D(ndf * mult * 2, ndf * mult, 1)
        self.leaky_relu = nn.LeakyReLU(0.2)
        self.pad = ReflectPad2D(1, mode="reflect")
        self.conv = _sn(_conv(ndf * mult, 1, 4))
        self.model = nn.Sequential(*model)
        # reflection padding needs >= 2 pixels after the stride-1 conv: 3 after the downsamplings
        self.n_layers, self.min_size = n_layers, 3 * 2 ** (n_layers - 2)
        torch_default_init(self)

    def forward(self, x):
        if 0 < min(x.shape[-2:]) < self.min_size:
            raise ValueError(f"a U-GAT-IT discriminator with n_layers={self.n_layers} needs images of at "
                             f"least {self.min_size} px, got {x.shape[-2]}x{x.shape[-1]}: use larger images or "
                             f"fewer layers (discriminator n_layers, model.n_layers_local)")
        x = self.model(x)
        x, cam_logit = class_activation(x, self.gap_fc, self.gmp_fc,
                                        self.gap_fc.weight_orig, self.gmp_fc.weight_orig)
        x = self.leaky_relu(self.conv1x1(x))
        heatmap = x.sum(axis=1, keepdim=True)
        return self.conv(self.pad(x)), cam_logit, heatmap
