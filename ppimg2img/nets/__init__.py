"""Network families by name, as ``--netG``/``--netD`` of the original define_G/define_D.

``inspect.signature(GENERATORS[name])`` lists the keyword arguments each entry accepts,
with their defaults; the config validator relies on that.
"""
import difflib
import inspect

from .dcgan import DCGANDiscriminator, DCGANGenerator
from .init import init_weights
from .norm import get_norm_layer, uses_bias
from .patchgan import NLayerDiscriminator, PixelDiscriminator
from .pggan import PGGANDiscriminator, PGGANGenerator
from .photo2cartoon import Photo2CartoonGenerator
from .resnet_generator import ResnetBlock, ResnetGenerator
from .stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator
from .ugatit import UGATITDiscriminator, UGATITGenerator
from .unet_generator import EVAL_STATS, UnetGenerator, UnetSkipConnectionBlock, eval_stats_of, set_eval_stats


def resnet_9blocks(input_nc=3, output_nc=3, ngf=64, norm="instance", use_dropout=False, padding_type="reflect",
                   eval_stats="running"):
    """ResnetGenerator with 9 residual blocks (upstream default for 256x256 images).

    Args:
        eval_stats: what BatchNorm normalises with in eval mode: `running` (its running statistics,
            as the original) or `batch` (the batch's own, as PaddleGAN's BatchNorm; set for
            PaddleGAN's files); no effect without BatchNorm
    """
    net = ResnetGenerator(input_nc, output_nc, ngf, norm, use_dropout, n_blocks=9, padding_type=padding_type)
    return set_eval_stats(net, eval_stats)


def resnet_6blocks(input_nc=3, output_nc=3, ngf=64, norm="instance", use_dropout=False, padding_type="reflect",
                   eval_stats="running"):
    """ResnetGenerator with 6 residual blocks (upstream choice for 128x128 images).

    Args:
        eval_stats: what BatchNorm normalises with in eval mode: `running` (its running statistics,
            as the original) or `batch` (the batch's own, as PaddleGAN's BatchNorm; set for
            PaddleGAN's files); no effect without BatchNorm
    """
    net = ResnetGenerator(input_nc, output_nc, ngf, norm, use_dropout, n_blocks=6, padding_type=padding_type)
    return set_eval_stats(net, eval_stats)


def basic(input_nc=3, ndf=64, norm="instance"):
    """70x70 PatchGAN: NLayerDiscriminator with n_layers=3 (upstream 'basic')."""
    return NLayerDiscriminator(input_nc, ndf, n_layers=3, norm=norm)


def unet_256(input_nc=3, output_nc=3, ngf=64, norm="batch", use_dropout=True, eval_stats="running"):
    """U-Net with 8 downsamplings for 256x256 images (pix2pix default: BatchNorm, dropout).

    Args:
        eval_stats: what BatchNorm normalises with in eval mode: `running` (its running statistics,
            as the original's `test.py --eval`) or `batch` (the batch's own, as PaddleGAN's
            pix2pix; set for PaddleGAN's files)
    """
    return UnetGenerator(input_nc, output_nc, 8, ngf, norm, use_dropout, eval_stats)


def unet_128(input_nc=3, output_nc=3, ngf=64, norm="batch", use_dropout=True, eval_stats="running"):
    """U-Net with 7 downsamplings for 128x128 images (pix2pix default: BatchNorm, dropout).

    Args:
        eval_stats: what BatchNorm normalises with in eval mode: `running` (its running statistics,
            as the original's `test.py --eval`) or `batch` (the batch's own, as PaddleGAN's
            pix2pix; set for PaddleGAN's files)
    """
    return UnetGenerator(input_nc, output_nc, 7, ngf, norm, use_dropout, eval_stats)


for _fn in (resnet_9blocks, resnet_6blocks, unet_256, unet_128):
    _fn.config_choices = {"eval_stats": EVAL_STATS}  # the config checks the value by name

GENERATORS = {
    "resnet_9blocks": resnet_9blocks,
    "resnet_6blocks": resnet_6blocks,
    "unet_256": unet_256,
    "unet_128": unet_128,
    "ugatit": UGATITGenerator,
    "photo2cartoon": Photo2CartoonGenerator,
    "dcgan": DCGANGenerator,
    "stylegan2": StyleGAN2Generator,
    "pggan": PGGANGenerator,
}

DISCRIMINATORS = {
    "basic": basic,
    "n_layers": NLayerDiscriminator,
    "pixel": PixelDiscriminator,
    "ugatit": UGATITDiscriminator,
    "dcgan": DCGANDiscriminator,
    "stylegan2": StyleGAN2Discriminator,
    "pggan": PGGANDiscriminator,
}


def _build(kind, table, name, kwargs):
    if name not in table:
        close = difflib.get_close_matches(str(name), table, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown {kind} {name!r}.{hint} Valid names: {', '.join(sorted(table))}")
    accepted = inspect.signature(table[name]).parameters
    for key in kwargs:
        if key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{kind} {name!r} does not accept option {key!r}.{hint} "
                             f"Accepted: {', '.join(accepted)}")
    return table[name](**kwargs)


def build_generator(name, **kwargs):
    """Build generator ``name`` from GENERATORS with keyword arguments ``kwargs``."""
    return _build("generator", GENERATORS, name, kwargs)


def build_discriminator(name, **kwargs):
    """Build discriminator ``name`` from DISCRIMINATORS with keyword arguments ``kwargs``."""
    return _build("discriminator", DISCRIMINATORS, name, kwargs)
