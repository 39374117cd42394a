"""ResNet-based generator of CycleGAN (Zhu et al. 2017), after Johnson et al. 2016.

Mirrors ``ResnetGenerator``/``ResnetBlock`` of junyanz/pytorch-CycleGAN-and-pix2pix layer for
layer, so state_dict keys equal the PyTorch ones ('model.1.weight',
'model.10.conv_block.1.weight', ...).
"""
import paddle.nn as nn

from .conv import BandedConv2D, OneDNNConv2DTranspose, ReflectPad2D
from .norm import get_norm_layer, uses_bias

PADDING_TYPES = ("reflect", "replicate", "zero")


class ResnetBlock(nn.Layer):
    """conv3-norm-ReLU-[dropout]-conv3-norm with a skip connection (``conv_block`` as upstream)."""

    def __init__(self, dim, padding_type="reflect", norm="instance", use_dropout=False, use_bias=True):
        super().__init__()
        if padding_type not in PADDING_TYPES:
            raise ValueError(f"unknown padding_type {padding_type!r}; valid: {', '.join(PADDING_TYPES)}")
        norm_layer = get_norm_layer(norm)
        bias_attr = None if use_bias else False

        def pad():
            if padding_type == "zero":
                return [], 1
            return [ReflectPad2D(1, mode=padding_type)], 0

        layers, p = pad()
        layers += [BandedConv2D(dim, dim, 3, padding=p, bias_attr=bias_attr), norm_layer(dim), nn.ReLU()]
        if use_dropout:
            layers += [nn.Dropout(0.5)]
        more, p = pad()
        layers += more + [BandedConv2D(dim, dim, 3, padding=p, bias_attr=bias_attr), norm_layer(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Layer):
    """c7s1-ngf, d(2ngf), d(4ngf), n x R(4ngf), u(2ngf), u(ngf), c7s1-output_nc, Tanh.

    Upstream ``define_G`` defaults: ngf 64, norm 'instance' (CycleGAN), no dropout,
    9 blocks for 'resnet_9blocks' (256px) and 6 for 'resnet_6blocks' (128px).
    """

    def __init__(self, input_nc=3, output_nc=3, ngf=64, norm="instance", use_dropout=False,
                 n_blocks=9, padding_type="reflect"):
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {n_blocks}")
        norm_layer = get_norm_layer(norm)
        use_bias = uses_bias(norm)
        bias_attr = None if use_bias else False

        model = [ReflectPad2D(3, mode="reflect"),
                 BandedConv2D(input_nc, ngf, 7, padding=0, bias_attr=bias_attr),
                 norm_layer(ngf), nn.ReLU()]
        n_downsampling = 2
        for i in range(n_downsampling):
            mult = 2 ** i
            model += [BandedConv2D(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias_attr=bias_attr),
                      norm_layer(ngf * mult * 2), nn.ReLU()]
        mult = 2 ** n_downsampling
        for _ in range(n_blocks):
            model += [ResnetBlock(ngf * mult, padding_type, norm, use_dropout, use_bias)]
        for i in range(n_downsampling):
            mult = 2 ** (n_downsampling - i)
            model += [OneDNNConv2DTranspose(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1,
                                         output_padding=1, bias_attr=bias_attr),
                      norm_layer(ngf * mult // 2), nn.ReLU()]
        model += [ReflectPad2D(3, mode="reflect"), BandedConv2D(ngf, output_nc, 7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x)
