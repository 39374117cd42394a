"""Sampling from a progressive GAN (PGGANModel, Karras et al. 2018).

    from ppimg2img import PGGANPredictor
    images = PGGANPredictor("output/quickstart_pggan/checkpoints/latest.pdckpt").generate(16, seed=0)

The generator is G's moving average ``netG_ema`` (the official ``Gs``, what the paper shows) when
the file has it, else ``netG``; it samples at the level of detail it was saved at (a run stopped
mid-fade gives the blended images, nearest-upsampled to the final size unless ``full_size=False``).
The same seed gives the same samples: z comes from ``np.random.default_rng(seed)``, as
GANGeneratorPredictor's.
"""
import os

import numpy as np

from ..utils.image_io import tensor_to_image


def load_pggan_generator(weights, key=None):
    """A PGGANGenerator in eval mode from a ppimg2img checkpoint (``.pdckpt``, its config gives the
    architecture) or a converted ``.pdparams`` (``save_converted`` with arch 'pggan'), read through the
    restricted reader. ``key``: 'netG_ema' or 'netG' (default: netG_ema when present)."""
    from ..nets import build_generator
    from ..weights.convert import load_state_into
    from ..weights.load import CONVERTED_FORMAT, _is_training_checkpoint, select_net
    from ..weights.reader import read_checkpoint

    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file not found: {path} (a PGGAN run writes "
                                f"output/<run>/checkpoints/latest.pdckpt)")
    obj = read_checkpoint(path)
    if _is_training_checkpoint(obj):
        g_cfg = dict(obj["config"].get("model", {}).get("generator", {}))
        nets = obj.get("nets", {})
        key = key or ("netG_ema" if "netG_ema" in nets else "netG")
    elif isinstance(obj, dict) and obj.get("format") == CONVERTED_FORMAT:
        g_cfg = {"name": obj.get("arch"), **(obj.get("arch_kwargs") or {})}
        key = None
    else:
        raise ValueError(f"{path}: not a PGGAN checkpoint (expected a ppimg2img training checkpoint of "
                         f"PGGANModel or weights converted with arch 'pggan')")
    name = g_cfg.pop("name", None)
    if name != "pggan":
        raise ValueError(f"{path}: holds a {name!r} generator, not a progressive GAN's ('pggan'); use "
                         f"GANGeneratorPredictor or the predictor of that model")
    state, _ = select_net(obj, key, source=path)
    net = build_generator("pggan", **g_cfg)
    load_state_into(net, state, "paddle", source=f"{path} [{key}]" if key else path)
    net.eval()
    return net


class PGGANPredictor:
    """Load a progressive GAN's generator once, then draw samples.

    Args:
        weights: a PGGANModel training checkpoint (``.pdckpt``) or converted ``.pdparams``; or a
            PGGANGenerator.
        device: ``'cpu'``, ``'gpu'`` or None (GPU when there is one).
        batch_size: samples per forward pass.
        ema: use G's moving average (netG_ema) when the file has it (the paper's samples); False: netG.
    """

    def __init__(self, weights, device=None, batch_size=64, ema=True):
        from ..utils.env import set_device
        set_device(device)
        if hasattr(weights, "set_lod"):
            self.net = weights
        else:
            self.net = load_pggan_generator(weights, key=None if ema else "netG")
        self.net.eval()
        self.batch_size = int(batch_size)
        self.nz = self.net.nz

    @property
    def resolution(self):
        """The resolution the generator was saved at (its lod)."""
        return self.net.resolution

    @property
    def alpha(self):
        """The newest block's fade-in weight (1: not fading)."""
        return self.net.alpha

    def generate(self, n=16, seed=0, full_size=True):
        """``n`` samples as HxWx3 uint8 arrays (grey digits repeated to RGB); ``full_size=False``:
        at the saved resolution instead of upsampled to the final size."""
        import paddle
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        z = np.random.default_rng(seed).standard_normal((n, self.nz)).astype(np.float32)
        out = []
        with paddle.no_grad():
            for i in range(0, n, self.batch_size):
                fake = self.net(paddle.to_tensor(z[i:i + self.batch_size]), full_size=full_size)
                out += [tensor_to_image(img) for img in fake.numpy()]
        return out
