"""U-Net generator of pix2pix (Isola et al., CVPR 2017, sec. 3.2.1 and appendix 6.1.1).

Mirrors ``UnetGenerator``/``UnetSkipConnectionBlock`` of junyanz/pytorch-CycleGAN-and-pix2pix
layer for layer, so state_dict keys equal the PyTorch ones: each block is ``model`` (a
Sequential) whose submodule sits at index 1 (outermost) or 3 (others), giving nested keys
'model.model.0.weight', 'model.model.1.model.1.weight', 'model.model.1.model.3.model.1.weight', ...

Block layout (k4 s2 p1 convolutions everywhere)::

    outermost: [downconv, submodule, ReLU, upconv(bias), Tanh]
    middle:    [LeakyReLU(0.2), downconv, norm, submodule, ReLU, upconv, norm, (Dropout 0.5)]
    innermost: [LeakyReLU(0.2), downconv, ReLU, upconv, norm]

Non-outermost blocks return ``concat([x, block(x)])`` (the skip connection). The original's
LeakyReLU is in-place, so the skip carries LeakyReLU(x) rather than x; that is reproduced here
(checked against an output of the original network).
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .norm import get_norm_layer, uses_bias


class UnetSkipConnectionBlock(nn.Layer):
    """One U-Net level: downsample, ``submodule``, upsample, then the skip concatenation."""

    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False,
                 innermost=False, norm="batch", use_dropout=False):
        super().__init__()
        self.outermost = outermost
        norm_layer = get_norm_layer(norm)
        bias_attr = None if uses_bias(norm) else False  # original: use_bias = norm is InstanceNorm
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2D(input_nc, inner_nc, 4, stride=2, padding=1, bias_attr=bias_attr)
        if outermost:
            upconv = nn.Conv2DTranspose(inner_nc * 2, outer_nc, 4, stride=2, padding=1)
            layers = [downconv, submodule, nn.ReLU(), upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.Conv2DTranspose(inner_nc, outer_nc, 4, stride=2, padding=1, bias_attr=bias_attr)
            layers = [nn.LeakyReLU(0.2), downconv, nn.ReLU(), upconv, norm_layer(outer_nc)]
        else:
            upconv = nn.Conv2DTranspose(inner_nc * 2, outer_nc, 4, stride=2, padding=1, bias_attr=bias_attr)
            layers = [nn.LeakyReLU(0.2), downconv, norm_layer(inner_nc), submodule,
                      nn.ReLU(), upconv, norm_layer(outer_nc)]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        # the original's in-place LeakyReLU also changes x, so the skip holds LeakyReLU(x)
        return paddle.concat([F.leaky_relu(x, 0.2), self.model(x)], axis=1)


class UnetGenerator(nn.Layer):
    """U-Net with ``num_downs`` downsamplings (an image of 2**num_downs pixels becomes 1x1).

    Upstream ``define_G`` for pix2pix: ngf 64, norm 'batch', dropout on (``not --no_dropout``).
    Dropout 0.5 sits in the ``num_downs - 5`` ngf*8 blocks around the innermost one (paper:
    "dropout ... in the first 3 layers of the decoder" for unet_256).
    """

    def __init__(self, input_nc=3, output_nc=3, num_downs=8, ngf=64, norm="batch", use_dropout=False):
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"num_downs must be >= 5 (the U-Net has 4 fixed outer levels), got {num_downs}")
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, norm=norm, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, norm=norm, use_dropout=use_dropout)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, norm=norm)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, norm=norm)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, norm=norm)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block,
                                             outermost=True, norm=norm)
        self.num_downs = num_downs

    def forward(self, x):
        side = 2 ** self.num_downs
        # checked in eager mode only: an exported graph's sides are symbolic
        if paddle.in_dynamic_mode() and (x.shape[2] % side or x.shape[3] % side):
            raise ValueError(f"U-Net with {self.num_downs} downsamplings needs image sides that are multiples "
                             f"of {side}, got {x.shape[2]}x{x.shape[3]}: resize/crop the images (for example "
                             f"crop_size {side}) or pick another generator")
        return self.model(x)
