"""Progressive growing of GANs (Karras et al., "Progressive Growing of GANs for Improved Quality,
Stability, and Variation", ICLR 2018): the generator and discriminator of the paper's table 2, as
``G_paper``/``D_paper`` of the official tkarras/progressive_growing_of_gans ``networks.py``.

- Widths: ``nf(stage) = min(fmap_base / 2**(stage * fmap_decay), fmap_max)``; the block at
  resolution 2**r has nf(r - 1) maps (the paper's 1024 net: 512 up to 32x32, then 256, 128, 64,
  32, 16), the latent has nf(0) = 512 dimensions.
- Equalised learning rate (sec. 4.1): every layer is an :class:`~ppimg2img.nets.equalized.EqualConv2d`
  / ``EqualLinear`` with He's gain sqrt(2), except toRGB and D's last dense layer (gain 1) and G's
  first dense layer (sqrt(2)/4, "to match the original Theano implementation").
- G (sec. 4.2): the latent is pixel-normalised, then every conv is followed by leaky ReLU 0.2 and
  pixelwise feature normalisation; 2x nearest upsampling before the first conv of each block
  (the official ``fused_scale`` transposed convolution computes the same function).
- D (sec. 3): fromRGB (1x1) + leaky ReLU, two 3x3 convs per block with 2x2 average pooling after
  the second conv and before its bias and activation (as the official default ``fused_scale``
  conv2d_downscale2d); minibatch standard deviation (group 4) before the 4x4 block.
- Growing (sec. 2, fig. 2): both nets hold every block of the final resolution and a ``lod``
  buffer ("level of detail", saved with the weights as the official ``lod`` variable): the
  current resolution is ``image_size / 2**floor(lod)`` and the new block's weight
  ``alpha = 1 - (lod - floor(lod))``. During a fade-in G outputs
  ``(1 - alpha) * upsample(toRGB_old(h)) + alpha * toRGB_new(block(h))`` and D reads
  ``(1 - alpha) * fromRGB_old(avgpool(x)) + alpha * block(fromRGB_new(x))``.

Parameter counts of the paper's CelebA-HQ 1024 nets (defaults, 3 channels): G 23,079,115,
D 23,087,249 (the paper's table 2: 23.1M each).
"""
import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .equalized import EqualConv2d, EqualLinear, minibatch_stddev

SQRT2 = math.sqrt(2.0)


def nf_schedule(fmap_base=8192, fmap_decay=1.0, fmap_max=512):
    """The official ``nf(stage)``: feature maps at stage ``stage`` (resolution 2**(stage + 1))."""
    return lambda stage: min(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_max)


def _log2_size(image_size, what):
    log2 = int(round(math.log2(image_size))) if image_size >= 4 else 0
    if image_size < 4 or 2 ** log2 != image_size:
        raise ValueError(f"{what}: image_size must be a power of two >= 4 (4, 8, ..., 1024), got {image_size}")
    return log2


def lod_split(lod, log2_size):
    """(resolution, alpha) of a level of detail: resolution ``2**(log2_size - floor(lod))`` with the
    newest block weighted ``alpha = 1 - (lod - floor(lod))`` (1: no fade-in in progress)."""
    level = math.floor(lod)
    return 2 ** (log2_size - level), 1.0 - (lod - level)


def upscale2d(x, factor=2):
    """Nearest-neighbour upsampling by an integer factor (the official ``upscale2d``: a reshape and
    tile; on CPU 2x faster than Paddle's interpolate)."""
    if factor == 1:
        return x
    n, c, h, w = x.shape
    x = x.reshape([n, c, h, 1, w, 1]).expand([n, c, h, factor, w, factor])
    return x.reshape([n, c, h * factor, w * factor])


def pixel_norm(x, epsilon=1e-8):
    """x / sqrt(mean over channels of x^2 + epsilon) (eq. 1), as equalized.PixelNorm; the factor is
    tiled over the channels first (Paddle's CPU broadcast over axis 1 is ~3x slower)."""
    factor = paddle.rsqrt(paddle.mean(x * x, axis=1, keepdim=True) + epsilon)
    return x * paddle.tile(factor, [1, x.shape[1], 1, 1])


def downscale2d(x, factor=2):
    """Box-filter downsampling: ``factor`` x ``factor`` average pooling (the official ``downscale2d``)."""
    return x if factor == 1 else F.avg_pool2d(x, factor, stride=factor)


def add_bias(x, bias):
    """x + bias per channel (the official ``apply_bias``); the bias is expanded to x's shape first
    (Paddle's CPU broadcast over axis 1 and its gradient are ~4x slower)."""
    return x + bias.reshape([1, -1] + [1] * (x.ndim - 2)).expand(x.shape)


class _Conv(nn.Layer):
    """Equalised-lr conv, bias, leaky ReLU 0.2 and (G) pixel norm; ``down``: 2x2 average pooling
    between the conv and the bias (D's fused conv2d_downscale2d: conv, pool, bias, activation)."""

    def __init__(self, in_channel, out_channel, kernel_size=3, pixel_norm=False, down=False, leaky=True):
        super().__init__()
        self.conv = EqualConv2d(in_channel, out_channel, kernel_size, padding=kernel_size // 2, bias=False,
                                gain=SQRT2)
        self.bias = self.create_parameter([out_channel], default_initializer=nn.initializer.Constant(0.0))
        self.pixel_norm, self.down, self.leaky = pixel_norm, down, leaky

    def forward(self, x):
        x = self.conv(x)
        if self.down:
            x = downscale2d(x)
        x = add_bias(x, self.bias)
        x = F.leaky_relu(x, 0.2) if self.leaky else F.relu(x)
        return pixel_norm(x) if self.pixel_norm else x


class _GBlock(nn.Layer):
    """G's block at resolution 2**r >= 8: upsample, conv, conv (nf(r-1) maps each)."""

    def __init__(self, in_channel, out_channel, pixel_norm, leaky):
        super().__init__()
        self.conv0 = _Conv(in_channel, out_channel, 3, pixel_norm, leaky=leaky)
        self.conv1 = _Conv(out_channel, out_channel, 3, pixel_norm, leaky=leaky)

    def forward(self, x):
        return self.conv1(self.conv0(upscale2d(x)))


class PGGANGenerator(nn.Layer):
    """z [N, nz] -> image [N, output_nc, S, S] (S = ``image_size``, or the current resolution).

    Args:
        image_size: final resolution, a power of two (the paper: 1024).
        output_nc: image channels.
        nz: latent size; None: nf(0) = min(fmap_base, fmap_max) (512).
        fmap_base, fmap_decay, fmap_max: widths nf(stage) = min(fmap_base / 2**(stage * fmap_decay), fmap_max).
        normalize_latents: pixel-normalise z first (the paper: yes).
        use_pixelnorm: pixelwise feature normalisation after every conv (sec. 4.2).
        use_leakyrelu: leaky ReLU 0.2 (else ReLU).
    """

    def __init__(self, image_size=1024, output_nc=3, nz=None, fmap_base=8192, fmap_decay=1.0, fmap_max=512,
                 normalize_latents=True, use_pixelnorm=True, use_leakyrelu=True):
        super().__init__()
        self.log2_size = _log2_size(image_size, "PGGANGenerator")
        nf = nf_schedule(fmap_base, fmap_decay, fmap_max)
        self.image_size, self.output_nc, self.n_classes = image_size, output_nc, 0
        self.nz = nz or nf(0)
        self.normalize_latents = normalize_latents
        self.use_pixelnorm = use_pixelnorm
        self.leaky = use_leakyrelu
        c4 = nf(1)
        # 4x4: dense z -> c4 x 4 x 4 (bias per channel, after the reshape), then a 3x3 conv
        self.dense = EqualLinear(self.nz, c4 * 16, bias=False, gain=SQRT2 / 4)
        self.dense_bias = self.create_parameter([c4], default_initializer=nn.initializer.Constant(0.0))
        self.conv4 = _Conv(c4, c4, 3, use_pixelnorm, leaky=use_leakyrelu)
        self.blocks = nn.LayerList([_GBlock(nf(r - 2), nf(r - 1), use_pixelnorm, use_leakyrelu)
                                    for r in range(3, self.log2_size + 1)])
        # to_rgb[k]: the output layer of resolution 4 * 2**k (the official ToRGB_lod{log2_size - 2 - k})
        self.to_rgb = nn.LayerList([EqualConv2d(nf(r - 1), output_nc, 1, gain=1.0)
                                    for r in range(2, self.log2_size + 1)])
        self.register_buffer("lod", paddle.to_tensor([0.0], dtype="float32"), persistable=True)
        self._lod_value = 0.0

    # ------------------------------------------------------------------ level of detail
    def set_lod(self, lod):
        """Set the level of detail: 0 = full resolution; log2(image_size) - 2 = 4x4."""
        max_lod = self.log2_size - 2
        if not 0.0 <= float(lod) <= max_lod:
            raise ValueError(f"lod must be in [0, {max_lod}] for image_size {self.image_size}, got {lod}")
        self.lod.set_value(paddle.to_tensor([float(lod)], dtype="float32"))
        self._lod_value = float(lod)

    def current_lod(self):
        """The ``lod`` buffer's value (in a static-graph trace: the value it held when set or loaded)."""
        if paddle.in_dynamic_mode():
            self._lod_value = float(self.lod.numpy()[0])
        return self._lod_value

    def set_state_dict(self, state_dict, *args, **kwargs):
        out = nn.Layer.set_state_dict(self, state_dict, *args, **kwargs)
        self._lod_value = float(self.lod.numpy()[0])
        return out

    @property
    def resolution(self):
        return lod_split(self.current_lod(), self.log2_size)[0]

    @property
    def alpha(self):
        return lod_split(self.current_lod(), self.log2_size)[1]

    def _act(self, x):
        x = F.leaky_relu(x, 0.2) if self.leaky else F.relu(x)
        return pixel_norm(x) if self.use_pixelnorm else x

    def features(self, z, level):
        """The activations of the blocks 4x4 .. 4 * 2**level (a list, last = highest resolution)."""
        x = z
        if self.normalize_latents:
            x = x * paddle.rsqrt(paddle.mean(x * x, axis=1, keepdim=True) + 1e-8)  # PixelNorm of z
        x = self.dense(x).reshape([-1, self.dense_bias.shape[0], 4, 4])
        x = self.conv4(self._act(add_bias(x, self.dense_bias)))
        out = [x]
        for block in self.blocks[:level]:
            out.append(block(out[-1]))
        return out

    def forward(self, z, full_size=True, lod=None):
        """Images at the current level of detail (``lod`` overrides the buffer): with ``full_size``
        nearest-upsampled to ``image_size`` (the official G's output), else at the current resolution."""
        lod = self.current_lod() if lod is None else float(lod)
        res, alpha = lod_split(lod, self.log2_size)
        level = int(round(math.log2(res))) - 2
        feats = self.features(z, level)
        img = self.to_rgb[level](feats[-1])
        if alpha < 1.0 and level > 0:  # the official lerp(new, upsample(old), 1 - alpha)
            old = upscale2d(self.to_rgb[level - 1](feats[-2]))
            img = img + (old - img) * (1.0 - alpha)
        return upscale2d(img, self.image_size // res) if full_size else img


class PGGANDiscriminator(nn.Layer):
    """image [N, input_nc, R, R] -> score [N, 1], R = the current resolution or any power-of-two
    multiple of it (box-filtered down first, as the official D reads full-size images).

    Args:
        image_size: final resolution (the generator's).
        input_nc: image channels.
        fmap_base, fmap_decay, fmap_max: widths, as the generator's.
        mbstd_group_size: minibatch standard deviation group (the official 4; 0 or 1: off).
    """

    def __init__(self, image_size=1024, input_nc=3, fmap_base=8192, fmap_decay=1.0, fmap_max=512,
                 mbstd_group_size=4):
        super().__init__()
        self.log2_size = _log2_size(image_size, "PGGANDiscriminator")
        nf = nf_schedule(fmap_base, fmap_decay, fmap_max)
        self.image_size, self.input_nc = image_size, input_nc
        self.mbstd_group_size = int(mbstd_group_size)
        # from_rgb[k] / blocks[k - 1]: resolution 4 * 2**k
        self.from_rgb = nn.LayerList([_Conv(input_nc, nf(r - 1), 1) for r in range(2, self.log2_size + 1)])
        self.blocks = nn.LayerList([nn.Sequential(_Conv(nf(r - 1), nf(r - 1), 3),
                                                  _Conv(nf(r - 1), nf(r - 2), 3, down=True))
                                    for r in range(3, self.log2_size + 1)])
        extra = 1 if self.mbstd_group_size > 1 else 0
        self.conv4 = _Conv(nf(1) + extra, nf(1), 3)
        self.dense0 = EqualLinear(nf(1) * 16, nf(0), gain=SQRT2)
        self.dense1 = EqualLinear(nf(0), 1, gain=1.0)
        self.register_buffer("lod", paddle.to_tensor([0.0], dtype="float32"), persistable=True)
        self._lod_value = 0.0

    set_lod = PGGANGenerator.set_lod
    current_lod = PGGANGenerator.current_lod
    set_state_dict = PGGANGenerator.set_state_dict
    resolution = PGGANGenerator.resolution
    alpha = PGGANGenerator.alpha

    def forward(self, x, lod=None):
        lod = self.current_lod() if lod is None else float(lod)
        res, alpha = lod_split(lod, self.log2_size)
        size = x.shape[-1]
        if size % res or 2 ** int(round(math.log2(size // res))) != size // res or x.shape[-2] != size:
            raise ValueError(f"PGGANDiscriminator at resolution {res}x{res} (lod {lod:g}) got {x.shape[-2]}x{size} "
                             f"images: give square images of that size or a power-of-two multiple of it")
        x = downscale2d(x, size // res)
        level = int(round(math.log2(res))) - 2
        h = self.from_rgb[level](x)
        if level > 0:
            h = self.blocks[level - 1](h)
            if alpha < 1.0:  # the official lerp(new, fromRGB_old(downscale(x)), 1 - alpha)
                old = self.from_rgb[level - 1](downscale2d(x))
                h = h + (old - h) * (1.0 - alpha)
        for k in range(level - 1, 0, -1):
            h = self.blocks[k - 1](h)
        if self.mbstd_group_size > 1:
            h = minibatch_stddev(h, self.mbstd_group_size)
        h = self.conv4(h)
        h = F.leaky_relu(self.dense0(h.reshape([h.shape[0], -1])), 0.2)  # reshape: twice differentiable
        return self.dense1(h)
