"""PatchGAN discriminators of pix2pix/CycleGAN (Isola et al. 2017), as in the original networks.py."""
import paddle.nn as nn

from .conv import BandedConv2D
from .norm import get_norm_layer, uses_bias


class NLayerDiscriminator(nn.Layer):
    """PatchGAN with ``n_layers`` strided 4x4 convs; n_layers=3 is the 70x70 'basic' D.

    Keys mirror upstream ('model.0.weight', ..., 'model.11.weight' for n_layers 3).
    """

    def __init__(self, input_nc=3, ndf=64, n_layers=3, norm="instance"):
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        norm_layer = get_norm_layer(norm)
        bias_attr = None if uses_bias(norm) else False
        kw, padw = 4, 1
        # BandedConv2D: oneDNN's convolutions in eager CPU training (nets/conv.py); WGAN-GP's penalty, whose
        # gradient is differentiated again, runs them as Paddle's (losses.gradient_penalty)
        seq = [BandedConv2D(input_nc, ndf, kw, stride=2, padding=padw), nn.LeakyReLU(0.2)]
        nf_mult = 1
        for n in range(1, n_layers):
            nf_mult_prev, nf_mult = nf_mult, min(2 ** n, 8)
            seq += [BandedConv2D(ndf * nf_mult_prev, ndf * nf_mult, kw, stride=2, padding=padw, bias_attr=bias_attr),
                    norm_layer(ndf * nf_mult), nn.LeakyReLU(0.2)]
        nf_mult_prev, nf_mult = nf_mult, min(2 ** n_layers, 8)
        seq += [BandedConv2D(ndf * nf_mult_prev, ndf * nf_mult, kw, stride=1, padding=padw, bias_attr=bias_attr),
                norm_layer(ndf * nf_mult), nn.LeakyReLU(0.2)]
        seq += [BandedConv2D(ndf * nf_mult, 1, kw, stride=1, padding=padw)]
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        return self.model(x)


class PixelDiscriminator(nn.Layer):
    """1x1 PatchGAN ('pixel' D): classifies every pixel independently. Keys 'net.N...'."""

    def __init__(self, input_nc=3, ndf=64, norm="instance"):
        super().__init__()
        norm_layer = get_norm_layer(norm)
        bias_attr = None if uses_bias(norm) else False
        self.net = nn.Sequential(
            nn.Conv2D(input_nc, ndf, 1, stride=1, padding=0), nn.LeakyReLU(0.2),
            nn.Conv2D(ndf, ndf * 2, 1, stride=1, padding=0, bias_attr=bias_attr),
            norm_layer(ndf * 2), nn.LeakyReLU(0.2),
            nn.Conv2D(ndf * 2, 1, 1, stride=1, padding=0, bias_attr=bias_attr))

    def forward(self, x):
        return self.net(x)
