"""StyleGAN2Predictor: samples, style mixing, interpolation and latent walks from a StyleGAN2 generator.

    from ppimg2img import StyleGAN2Predictor
    faces = StyleGAN2Predictor().generate(seeds=[0, 1, 2], truncation=0.7)   # PaddleGAN's FFHQ release
    mine = StyleGAN2Predictor(weights="output/quickstart_stylegan2/checkpoints/latest.pdckpt")
    grid = mine.style_mix(row_seeds=[1, 2], col_seeds=[3, 4, 5], layers=range(0, 4))

A seed gives z = ``np.random.RandomState(seed).randn(style_dim)``, as NVlabs' ``generate.py``, so
seeds name the same images there and here (up to the weights' origin). Noise is the file's stored
noise (``noise_mode='const'``) unless asked otherwise: the same call gives the same images.
"""
import os

import numpy as np

from ..utils.image_io import tensor_to_image

DEFAULT_MODEL = "paddlegan/stylegan2_ffhq_config_f"


def seed_to_z(seed, style_dim):
    """The z of a seed: ``np.random.RandomState(seed).randn(style_dim)`` (NVlabs' convention)."""
    return np.random.RandomState(int(seed)).randn(style_dim).astype(np.float32)


class StyleGAN2Predictor:
    """Load a StyleGAN2 generator once (a zoo name, a rosinality ``.pt``, a PaddleGAN ``.pdparams``
    or a ppimg2img checkpoint), then draw images.

    Args:
        model: a zoo name (``ppimg2img models stylegan2`` lists them); default PaddleGAN's FFHQ
            1024 release (downloaded once).
        weights: a local file instead of ``model``.
        net: an already loaded StyleGAN2 generator instead of either.
        device: 'cpu', 'gpu' or None (GPU when there is one).
        noise_mode: 'const' (the file's noise: reproducible), 'random' or 'none'.
        batch_size: images per forward pass.
    """

    def __init__(self, model=None, weights=None, device=None, noise_mode="const", batch_size=4, net=None):
        from ..engine.checkpoint import CheckpointError
        from ..nets.stylegan2 import NOISE_MODES, StyleGAN2Generator
        from ..utils.env import set_device
        from ..weights import load_generator

        if sum(x is not None for x in (model, weights, net)) > 1:
            raise ValueError("give model= (a zoo name) or weights= (a file), not both; or net= (a loaded "
                             "generator) alone")
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {', '.join(NOISE_MODES)}, got {noise_mode!r}")
        source = "net=" if net is not None else os.fspath(weights) if weights is not None else (model or DEFAULT_MODEL)
        if weights is not None and not os.path.isfile(source):
            raise FileNotFoundError(f"weights file not found: {source}")
        if net is None:
            set_device(device)
            try:
                net = load_generator(source)
            except CheckpointError as err:  # e.g. a discriminator's or another family's file
                raise ValueError(f"{source}: not a StyleGAN2 generator file ({err})") from err
        self.net = net
        if not isinstance(self.net, StyleGAN2Generator):
            raise ValueError(f"{source}: holds a {type(self.net).__name__}, not a StyleGAN2 generator")
        self.noise_mode, self.batch_size = noise_mode, int(batch_size)
        self.style_dim, self.size, self.n_latent = self.net.style_dim, self.net.size, self.net.n_latent

    # --- w space -------------------------------------------------------------------------------
    def w_of(self, seeds, truncation=1.0):
        """[len(seeds), style_dim] w of the seeds' z, truncated towards the mean w."""
        import paddle

        z = paddle.to_tensor(np.stack([seed_to_z(s, self.style_dim) for s in seeds]))
        with paddle.no_grad():
            w = self.net.style(z)
            if truncation < 1:
                center = self.net.truncation_center()
                w = center + truncation * (w - center)
        return w

    def synthesize(self, latents):
        """[N, style_dim] w or [N, n_latent, style_dim] per-layer w -> list of HxWx3 uint8."""
        import paddle

        out = []
        with paddle.no_grad():
            for i in range(0, latents.shape[0], self.batch_size):
                img = self.net([latents[i:i + self.batch_size]], input_is_latent=True, noise_mode=self.noise_mode)
                out += [tensor_to_image(x) for x in img.numpy()]
        return out

    # --- what users call -----------------------------------------------------------------------
    def generate(self, seeds=(0,), truncation=1.0):
        """One image per seed (HxWx3 uint8), with truncation ``truncation`` (1: none; 0.7 is common)."""
        seeds = [seeds] if np.ndim(seeds) == 0 else list(seeds)
        if not seeds:
            raise ValueError("give at least one seed")
        return self.synthesize(self.w_of(seeds, truncation))

    def style_mix(self, row_seeds, col_seeds, layers=range(0, 4), truncation=1.0):
        """The style-mixing grid of StyleGAN's figure 3: the top row shows ``col_seeds``' images, the
        left column ``row_seeds``'; cell (r, c) is row r's w with the styles of ``layers`` (0 = 4x4 ...
        n_latent-1) taken from column c (0-3: coarse, pose and face shape; 4-7: middle; 8+: fine,
        colours). Returns one HxWx3 uint8 grid image."""
        import paddle

        from ..engine.evaluation.generation import tile

        layers = sorted(set(int(i) for i in layers))
        if not layers or layers[0] < 0 or layers[-1] >= self.n_latent:
            raise ValueError(f"layers must be in 0..{self.n_latent - 1} (this generator has {self.n_latent} "
                             f"style inputs), got {layers}")
        rows, cols = self.w_of(row_seeds, truncation), self.w_of(col_seeds, truncation)
        mask = np.zeros((1, self.n_latent, 1), np.float32)
        mask[0, layers] = 1.0
        mask = paddle.to_tensor(mask)
        cells = []
        for r in range(rows.shape[0]):
            w_row = paddle.tile(rows[r:r + 1].unsqueeze(1), [cols.shape[0], self.n_latent, 1])
            w_col = paddle.tile(cols.unsqueeze(1), [1, self.n_latent, 1])
            cells.append(self.synthesize(w_row * (1 - mask) + w_col * mask))
        blank = np.full((self.size, self.size, 3), 255, np.uint8)
        images = [blank] + self.synthesize(cols)
        for r, row_image in enumerate(self.synthesize(rows)):
            images += [row_image] + cells[r]
        return tile(images, len(col_seeds) + 1)

    def interpolate(self, seed_a, seed_b, steps=8, truncation=1.0):
        """``steps`` images on the straight line from seed_a's w to seed_b's (w space, StyleGAN sec. 4)."""
        if steps < 2:
            raise ValueError(f"steps must be at least 2, got {steps}")
        w = self.w_of([seed_a, seed_b], truncation).numpy()
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        import paddle
        return self.synthesize(paddle.to_tensor((1 - t) * w[0] + t * w[1]))

    def latent_walk(self, path, seeds=(0, 1, 2, 0), steps=24, truncation=1.0, fps=24):
        """A video through the seeds' w in turn (``steps`` frames per leg; end on the first seed for a
        loop). Returns ``path`` (.mp4/.webm/...)."""
        from ..utils.video import write_video

        seeds = list(seeds)
        if len(seeds) < 2:
            raise ValueError("a latent walk needs at least two seeds")

        def frames():
            for a, b in zip(seeds[:-1], seeds[1:]):
                yield from self.interpolate(a, b, steps + 1, truncation)[:-1]
            yield self.generate([seeds[-1]], truncation)[0]

        return write_video(path, frames(), fps=fps)
