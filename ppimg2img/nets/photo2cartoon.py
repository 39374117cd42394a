"""photo2cartoon generator (minivision-ai/photo2cartoon): U-GAT-IT with hourglass blocks and
Soft-AdaLIN.

Layer for layer as the original ``models/networks.py``, so state_dict keys are the original ones
('HourGlass1.HG.0.ConvBlock1_1.ConvBlock1.3.weight', 'DecodeBlock1.norm1.w_gamma', ...). The
discriminators are U-GAT-IT's (:class:`~ppimg2img.nets.ugatit.UGATITDiscriminator`); LIN/adaLIN
are U-GAT-IT's ILN/adaILN (same computation, same parameter names).
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle.nn import initializer as I

from .conv import ReflectPad2D
from .norm import plane_mean
from .ugatit import (ILN, ResnetBlock, RhoClipper, Upsample2x, _conv, _instance_norm, adaILN, check_full_size,
                     class_activation, torch_default_init, upsample_nearest2x)


class ConvBlock(nn.Layer):
    """Pre-activation block of three 3x3 convs (dim_out/2, /4, /4 channels, each after
    InstanceNorm + ReLU) whose outputs are concatenated and added to the input. ``ConvBlock4``
    (1x1 projection) is only used when dim_in != dim_out, but exists always, as in the original."""

    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.dim_out = dim_out

        def stage(cin, cout):
            return nn.Sequential(_instance_norm(cin), nn.ReLU(), ReflectPad2D(1, mode="reflect"), _conv(cin, cout, 3))
        self.ConvBlock1 = stage(dim_in, dim_out // 2)
        self.ConvBlock2 = stage(dim_out // 2, dim_out // 4)
        self.ConvBlock3 = stage(dim_out // 4, dim_out // 4)
        self.ConvBlock4 = nn.Sequential(_instance_norm(dim_in), nn.ReLU(), _conv(dim_in, dim_out, 1))

    def forward(self, x):
        x1 = self.ConvBlock1(x)
        x2 = self.ConvBlock2(x1)
        x3 = self.ConvBlock3(x2)
        residual = self.ConvBlock4(x) if x.shape[1] != self.dim_out else x
        return residual + paddle.concat([x1, x2, x3], axis=1)


class HourGlassBlock(nn.Layer):
    """Four-level hourglass: skip ConvBlocks at each scale, 2x2 average-pool down, nearest x2 up."""

    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.ConvBlock1_1 = ConvBlock(dim_in, dim_out)
        self.ConvBlock1_2 = ConvBlock(dim_out, dim_out)
        for name in ("2_1", "2_2", "3_1", "3_2", "4_1", "4_2", "5", "6", "7", "8", "9"):
            setattr(self, "ConvBlock" + name, ConvBlock(dim_out, dim_out))

    def forward(self, x):
        skip1 = self.ConvBlock1_1(x)
        down1 = self.ConvBlock1_2(F.avg_pool2d(x, 2))
        skip2 = self.ConvBlock2_1(down1)
        down2 = self.ConvBlock2_2(F.avg_pool2d(down1, 2))
        skip3 = self.ConvBlock3_1(down2)
        down3 = self.ConvBlock3_2(F.avg_pool2d(down2, 2))
        skip4 = self.ConvBlock4_1(down3)
        down4 = self.ConvBlock4_2(F.avg_pool2d(down3, 2))
        center = self.ConvBlock5(down4)
        up4 = skip4 + upsample_nearest2x(self.ConvBlock6(center))
        up3 = skip3 + upsample_nearest2x(self.ConvBlock7(up4))
        up2 = skip2 + upsample_nearest2x(self.ConvBlock8(up3))
        return skip1 + upsample_nearest2x(self.ConvBlock9(up2))


class HourGlass(nn.Layer):
    """HourGlassBlock + ConvBlock + 1x1 conv/IN/ReLU; a 3-channel side output (``Conv1``) that, with
    ``use_res``, is projected back and added with the features and the input; without ``use_res``
    (the last hourglass) the 3-channel output is returned."""

    def __init__(self, dim_in, dim_out, use_res=True):
        super().__init__()
        self.use_res = use_res
        self.HG = nn.Sequential(HourGlassBlock(dim_in, dim_out), ConvBlock(dim_out, dim_out),
                                _conv(dim_out, dim_out, 1), _instance_norm(dim_out), nn.ReLU())
        self.Conv1 = nn.Conv2D(dim_out, 3, 1)
        if use_res:
            self.Conv2 = nn.Conv2D(dim_out, dim_out, 1)
            self.Conv3 = nn.Conv2D(3, dim_out, 1)

    def forward(self, x):
        ll = self.HG(x)
        tmp_out = self.Conv1(ll)
        if self.use_res:
            return x + self.Conv2(ll) + self.Conv3(tmp_out)
        return tmp_out


class SoftAdaLIN(nn.Layer):
    """Soft-AdaLIN: gamma/beta = (1 - w) * style MLP(style features) + w * content MLP(pooled
    encoder features), with learnable per-channel ``w_gamma``/``w_beta`` (init 0, clipped to
    [0, 1] by :class:`WClipper`), then adaLIN (rho init 0.9)."""

    def __init__(self, num_features, eps=1e-5):
        super().__init__()
        self.norm = adaILN(num_features, eps)
        self.w_gamma = self.create_parameter([1, num_features], default_initializer=I.Constant(0.0))
        self.w_beta = self.create_parameter([1, num_features], default_initializer=I.Constant(0.0))
        self.c_gamma = nn.Sequential(nn.Linear(num_features, num_features), nn.ReLU(),
                                     nn.Linear(num_features, num_features))
        self.c_beta = nn.Sequential(nn.Linear(num_features, num_features), nn.ReLU(),
                                    nn.Linear(num_features, num_features))
        self.s_gamma = nn.Linear(num_features, num_features)
        self.s_beta = nn.Linear(num_features, num_features)

    def forward(self, x, content_features, style_features):
        gamma = (1.0 - self.w_gamma) * self.s_gamma(style_features) + self.w_gamma * self.c_gamma(content_features)
        beta = (1.0 - self.w_beta) * self.s_beta(style_features) + self.w_beta * self.c_beta(content_features)
        return self.norm(x, gamma, beta)


class ResnetSoftAdaLINBlock(nn.Layer):
    """Decoder residual block with Soft-AdaLIN norms."""

    def __init__(self, dim, use_bias=False):
        super().__init__()
        self.pad1 = ReflectPad2D(1, mode="reflect")
        self.conv1 = _conv(dim, dim, 3, bias=use_bias)
        self.norm1 = SoftAdaLIN(dim)
        self.relu1 = nn.ReLU()
        self.pad2 = ReflectPad2D(1, mode="reflect")
        self.conv2 = _conv(dim, dim, 3, bias=use_bias)
        self.norm2 = SoftAdaLIN(dim)

    def forward(self, x, content_features, style_features):
        out = self.relu1(self.norm1(self.conv1(self.pad1(x)), content_features, style_features))
        out = self.norm2(self.conv2(self.pad2(out)), content_features, style_features)
        return out + x


class WClipper(RhoClipper):
    """Clamp every Soft-AdaLIN ``w_gamma``/``w_beta`` into [clip_min, clip_max] (original:
    WClipper(0, 1) after each generator step)."""

    names = ("w_gamma", "w_beta")


class Photo2CartoonGenerator(nn.Layer):
    """The photo2cartoon ResnetGenerator (RGB in, RGB out).

    c7s1-ngf, HourGlass x2, two stride-2 convs, 4 encoder ResnetBlocks (their average-pooled
    outputs are the content features, fed in reverse order to the decoder), CAM (gap_fc/gmp_fc
    with bias), style MLP (``light``: from pooled features; full: flattened map of ``img_size``/4),
    4 Soft-AdaLIN blocks, two (nearest x2, conv3, LIN, ReLU), HourGlass, HourGlass without
    residual (3 channels), c7s1-3 without bias, Tanh. Original training defaults: ngf 32,
    256 px, light. Returns ``(image, cam_logit, heatmap)``.
    """

    def __init__(self, ngf=32, img_size=256, light=True):
        super().__init__()
        if img_size % 16:
            raise ValueError(f"img_size must be a multiple of 16 (the hourglass halves the image 4 times), "
                             f"got {img_size}")
        self.light, self.img_size = light, img_size
        self.ConvBlock1 = nn.Sequential(ReflectPad2D(3, mode="reflect"), _conv(3, ngf, 7), _instance_norm(ngf),
                                        nn.ReLU())
        self.HourGlass1 = HourGlass(ngf, ngf)
        self.HourGlass2 = HourGlass(ngf, ngf)
        self.DownBlock1 = nn.Sequential(ReflectPad2D(1, mode="reflect"), _conv(ngf, ngf * 2, 3, stride=2),
                                        _instance_norm(ngf * 2), nn.ReLU())
        self.DownBlock2 = nn.Sequential(ReflectPad2D(1, mode="reflect"), _conv(ngf * 2, ngf * 4, 3, stride=2),
                                        _instance_norm(ngf * 4), nn.ReLU())
        dim = ngf * 4
        for i in range(1, 5):
            setattr(self, f"EncodeBlock{i}", ResnetBlock(dim))
        self.gap_fc = nn.Linear(dim, 1)
        self.gmp_fc = nn.Linear(dim, 1)
        self.conv1x1 = nn.Conv2D(dim * 2, dim, 1)
        self.relu = nn.ReLU()
        fc_in = dim if light else (img_size // 4) * (img_size // 4) * dim
        self.FC = nn.Sequential(nn.Linear(fc_in, dim), nn.ReLU(), nn.Linear(dim, dim), nn.ReLU())
        for i in range(1, 5):
            setattr(self, f"DecodeBlock{i}", ResnetSoftAdaLINBlock(dim))
        self.UpBlock1 = nn.Sequential(Upsample2x(), ReflectPad2D(1, mode="reflect"), _conv(dim, ngf * 2, 3),
                                      ILN(ngf * 2), nn.ReLU())
        self.UpBlock2 = nn.Sequential(Upsample2x(), ReflectPad2D(1, mode="reflect"), _conv(ngf * 2, ngf, 3),
                                      ILN(ngf), nn.ReLU())
        self.HourGlass3 = HourGlass(ngf, ngf)
        self.HourGlass4 = HourGlass(ngf, ngf, use_res=False)
        self.ConvBlock2 = nn.Sequential(ReflectPad2D(3, mode="reflect"), _conv(3, 3, 7), nn.Tanh())
        torch_default_init(self)

    def forward(self, x):
        h, w = x.shape[-2:]
        # checked in eager mode only: an exported graph's sides are symbolic
        if paddle.in_dynamic_mode() and (h % 16 or w % 16 or min(h, w) < 32):
            raise ValueError(f"photo2cartoon generators take images whose sides are multiples of 16 and at least "
                             f"32 px (the hourglasses halve them 4 times), got {h}x{w}: resize the input")
        if not self.light:
            check_full_size(x, self.img_size)
        x = self.HourGlass2(self.HourGlass1(self.ConvBlock1(x)))
        x = self.DownBlock2(self.DownBlock1(x))
        content = []
        for i in range(1, 5):
            x = getattr(self, f"EncodeBlock{i}")(x)
            content.append(plane_mean(x).flatten(1))
        x, cam_logit = class_activation(x, self.gap_fc, self.gmp_fc, self.gap_fc.weight, self.gmp_fc.weight)
        x = self.relu(self.conv1x1(x))
        heatmap = x.sum(axis=1, keepdim=True)
        style = self.FC(plane_mean(x).flatten(1) if self.light else x.flatten(1))
        for i in range(1, 5):  # DecodeBlock1 gets the last encoder block's features
            x = getattr(self, f"DecodeBlock{i}")(x, content[4 - i], style)
        x = self.UpBlock2(self.UpBlock1(x))
        x = self.HourGlass4(self.HourGlass3(x))
        return self.ConvBlock2(x), cam_logit, heatmap
