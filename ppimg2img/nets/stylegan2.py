"""StyleGAN2 generator and discriminator (Karras et al., "Analyzing and Improving the Image
Quality of StyleGAN", CVPR 2020), layer for layer as rosinality/stylegan2-pytorch ``model.py``
(the code PaddleGAN's StyleGANv2 port follows), with its parameter names, so the converted
official checkpoints (FFHQ, car, cat, church, horse) and rosinality's training checkpoints load
key for key.

G (config-f): z [style_dim] -> mapping network (PixelNorm, ``n_mlp`` equalised-lr linear layers
with lr_mul 0.01 and the fused leaky ReLU) -> w, repeated into ``n_latent = 2 log2(size) - 2``
styles (two different w after the ``inject_index``: style mixing, sec. 3.1 of StyleGAN) ->
learned constant 4x4 -> modulated 3x3 convolutions with weight demodulation (StyleGAN2 eq. 1-3),
per-layer noise inputs with learned strengths, the fused bias + leaky ReLU; every resolution
doubles with a transposed convolution followed by the [1, 3, 3, 1] blur, and adds its ToRGB
(1x1 modulated, no demodulation) to the upsampled RGB skip (the "skip" architecture, fig. 7).
D: FromRGB 1x1, residual blocks with blur + stride-2 convolutions ((out + skip) / sqrt(2)), the
minibatch standard deviation (group 4), a 3x3 conv and two equalised-lr linear layers ("resnet").

Widths: the reference's table {4..32: 512, 64: 256 cm, 128: 128 cm, 256: 64 cm, 512: 32 cm,
1024: 16 cm} (``channel_multiplier`` cm 2 = config-f), optionally divided by ``channel_divisor``
(small configs) or given explicitly as ``channels`` (one width per resolution from 4x4 up, as
inferred from a file).

The resampling filter is ``upfirdn2d`` (upsample by zero insertion, pad, FIR filter, downsample)
written in Paddle ops, so it runs on CPU and GPU and exports.
"""
import math

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .equalized import EqualConv2d, EqualLinear, FusedLeakyReLU, PixelNorm, minibatch_stddev

BLUR_KERNEL = (1, 3, 3, 1)
NOISE_MODES = ("const", "random", "none")
SIZES = (8, 16, 32, 64, 128, 256, 512, 1024)


def reference_channels(size, channel_multiplier=2, channel_divisor=1):
    """Widths per resolution 4..size: the reference's table, divided by ``channel_divisor``."""
    table = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * channel_multiplier, 128: 128 * channel_multiplier,
             256: 64 * channel_multiplier, 512: 32 * channel_multiplier, 1024: 16 * channel_multiplier}
    return [max(1, table[2 ** i] // channel_divisor) for i in range(2, int(math.log2(size)) + 1)]


def _check_size(size):
    if size not in SIZES:
        raise ValueError(f"StyleGAN2 size must be a power of two from 8 to 1024, got {size}")
    return int(math.log2(size))


def _widths(size, channel_multiplier, channel_divisor, channels):
    log_size = _check_size(size)
    if channels is None:
        return reference_channels(size, channel_multiplier, channel_divisor)
    channels = [int(c) for c in channels]
    if len(channels) != log_size - 1:
        raise ValueError(f"channels: one width per resolution 4..{size} ({log_size - 1} numbers), got {len(channels)}")
    return channels


def make_kernel(k):
    """The separable FIR filter: outer product of ``k`` with itself, normalised to sum 1."""
    k = np.asarray(k, dtype=np.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def zero_insert(x, up):
    """[N, C, H, W] -> [N, C, up H, up W] with x at (up i, up j) and zeros elsewhere: constant padding
    of two unit axes (twice differentiable, unlike a concat with constant zeros; exports to ONNX)."""
    _, c, h, w = x.shape
    out = x.reshape([-1, h, 1, w, 1])  # as NCDHW: pad "D" and "W" (the two unit axes) after the sample
    out = F.pad(out, [0, up - 1, 0, 0, 0, up - 1], data_format="NCDHW")
    return out.reshape([-1, c, h * up, w * up])


def upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0)):
    """Upsample by zero insertion (``up``), pad (``pad`` = (p0, p1) on both axes, or (x0, x1, y0, y1);
    negative crops), convolve every channel with the flipped ``kernel`` [kh, kw] (a true
    convolution), keep every ``down``-th sample: rosinality's ``upfirdn2d_native``. Every op has a
    second derivative (R1, path-length regularisation)."""
    if len(pad) == 2:
        pad = (pad[0], pad[1], pad[0], pad[1])
    px0, px1, py0, py1 = (int(p) for p in pad)
    _, c, h, w = x.shape
    out = x.reshape([-1, 1, h, w])  # every channel a single-channel image: a plain conv, not depthwise
    if up > 1:
        out = zero_insert(out, up)
        h, w = h * up, w * up
    if min(px0, px1, py0, py1) < 0:
        out = out[:, :, max(-py0, 0):h - max(-py1, 0), max(-px0, 0):w - max(-px1, 0)]
    kernel = paddle.to_tensor(kernel) if not isinstance(kernel, paddle.Tensor) else kernel
    weight = paddle.flip(kernel.astype(out.dtype), [0, 1]).reshape([1, 1] + list(kernel.shape))
    # the (positive) zero padding inside the convolution: [top, bottom, left, right]
    out = F.conv2d(out, weight, stride=down, padding=[max(py0, 0), max(py1, 0), max(px0, 0), max(px1, 0)])
    return out.reshape([-1, c, out.shape[2], out.shape[3]])


class _FIR(nn.Layer):
    """A fixed resampling filter (a non-persistable buffer: files that store it are checked, not read)."""

    def __init__(self, kernel, scale=1.0):
        super().__init__()
        self.register_buffer("kernel", paddle.to_tensor(make_kernel(kernel) * scale), persistable=False)


class Upsample(_FIR):
    """x2 upsampling with the blur filter (ToRGB skips): upfirdn2d(up=2), kernel * 4."""

    def __init__(self, kernel=BLUR_KERNEL, factor=2):
        super().__init__(kernel, factor ** 2)
        self.factor = factor
        p = len(kernel) - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x):
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class Blur(_FIR):
    """The [1, 3, 3, 1] blur after a transposed convolution (kernel * factor^2) or before a strided one."""

    def __init__(self, kernel, pad, upsample_factor=1):
        super().__init__(kernel, upsample_factor ** 2)
        self.pad = pad

    def forward(self, x):
        return upfirdn2d(x, self.kernel, pad=self.pad)


def _zero_insert_conv(x, weight, groups):
    """``conv2d_transpose(x, w', stride=2, groups)`` as a plain convolution of the zero-inserted
    input with the spatially flipped kernel; ``weight`` is [groups * out, in, k, k] (the conv
    layout of the transposed weight w'). Used where a second derivative is needed: Paddle's CPU
    conv2d_transpose has none (path-length regularisation differentiates G twice)."""
    k = weight.shape[-1]
    up = F.pad(zero_insert(x, 2), [k - 1, k - 2, k - 1, k - 2])
    return F.conv2d(up, paddle.flip(weight, [2, 3]), groups=groups)


class ModulatedConv2d(nn.Layer):
    """Modulated convolution (StyleGAN2 sec. 2.2): w'_ijk = s_i w_ijk (eq. 1), demodulated by
    1/sqrt(sum w'^2 + 1e-8) (eq. 3), as one grouped convolution per sample (rosinality's fused path).
    ``weight`` [1, out, in, k, k] N(0, 1) with the equalised-lr scale; the style affine ``modulation``
    has bias 1. ``upsample``: transposed conv (stride 2) then Blur; ``downsample``: Blur then stride 2."""

    def __init__(self, in_channel, out_channel, kernel_size, style_dim, demodulate=True, upsample=False,
                 downsample=False, blur_kernel=BLUR_KERNEL):
        super().__init__()
        self.in_channel, self.out_channel, self.kernel_size = in_channel, out_channel, kernel_size
        self.upsample, self.downsample, self.demodulate = upsample, downsample, demodulate
        factor = 2
        if upsample:
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)
        if downsample:
            p = (len(blur_kernel) - factor) + (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2, p // 2))
        self.scale = 1 / math.sqrt(in_channel * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.weight = self.create_parameter([1, out_channel, in_channel, kernel_size, kernel_size],
                                            default_initializer=nn.initializer.Normal(0.0, 1.0))
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1)
        #: set by :func:`set_second_order`: upsample without conv2d_transpose (see _zero_insert_conv)
        self.second_order = False
        #: one grouped convolution per sample (rosinality's default); False: modulate the input and
        #: demodulate the output around one shared convolution (its ``fused=False``; any batch size in
        #: an exported graph). The same numbers within float32 rounding.
        self.fused = True
        self.fused_before = True  # what set_second_order(on=False) restores

    def extra_repr(self):
        return (f"{self.in_channel}, {self.out_channel}, {self.kernel_size}, upsample={self.upsample}, "
                f"downsample={self.downsample}, demodulate={self.demodulate}")

    def forward(self, x, style):
        if not self.fused:
            return self._forward_unfused(x, style)
        batch = x.shape[0]
        _, cin, h, w = x.shape
        k, cout = self.kernel_size, self.out_channel
        style = self.modulation(style).reshape([batch, 1, cin, 1, 1])
        weight = self.scale * self.weight * style  # [B, out, in, k, k]
        if self.demodulate:
            demod = paddle.rsqrt((weight * weight).sum(axis=[2, 3, 4]) + 1e-8)
            weight = weight * demod.reshape([batch, cout, 1, 1, 1])
        x = x.reshape([1, batch * cin, h, w])
        if self.upsample:
            if self.second_order:
                out = _zero_insert_conv(x, weight.reshape([batch * cout, cin, k, k]), batch)
            else:
                weight = weight.transpose([0, 2, 1, 3, 4]).reshape([batch * cin, cout, k, k])
                out = F.conv2d_transpose(x, weight, stride=2, padding=0, groups=batch)
            out = self.blur(out.reshape([batch, cout, out.shape[2], out.shape[3]]))
            return out
        weight = weight.reshape([batch * cout, cin, k, k])
        if self.downsample:
            x = self.blur(x.reshape([batch, cin, h, w]))
            x = x.reshape([1, batch * cin, x.shape[2], x.shape[3]])
            out = F.conv2d(x, weight, stride=2, padding=0, groups=batch)
        else:
            out = F.conv2d(x, weight, padding=self.padding, groups=batch)
        return out.reshape([batch, cout, out.shape[2], out.shape[3]])


    def _forward_unfused(self, x, style):
        """rosinality's ``fused=False`` path: conv(x * s) * d, d = 1/sqrt(sum (w s)^2 + 1e-8)."""
        weight = self.scale * self.weight.squeeze(0)  # [out, in, k, k]
        style = self.modulation(style)  # [N, in]
        x = x * style.unsqueeze([2, 3])
        if self.upsample:
            if self.second_order:
                out = _zero_insert_conv(x, weight, 1)
            else:
                out = F.conv2d_transpose(x, weight.transpose([1, 0, 2, 3]), stride=2, padding=0)
            out = self.blur(out)
        elif self.downsample:
            out = F.conv2d(self.blur(x), weight, stride=2, padding=0)
        else:
            out = F.conv2d(x, weight, padding=self.padding)
        if self.demodulate:
            w = weight.unsqueeze(0) * style.unsqueeze([1, 3, 4])  # [N, out, in, k, k]
            demod = paddle.rsqrt((w * w).sum(axis=[2, 3, 4]) + 1e-8)
            out = out * demod.unsqueeze([2, 3])
        return out


class NoiseInjection(nn.Layer):
    """x + strength * noise (StyleGAN sec. 2, "B"); the per-layer strength starts at 0."""

    def __init__(self):
        super().__init__()
        self.weight = self.create_parameter([1], default_initializer=nn.initializer.Constant(0.0))

    def forward(self, image, noise=None):
        """``noise``: a [N or 1, 1, H, W] tensor, None (fresh N(0, 1) noise) or 0 (none)."""
        if isinstance(noise, (int, float)) and noise == 0:
            return image
        if noise is None:
            noise = paddle.randn([image.shape[0], 1, image.shape[2], image.shape[3]], dtype=image.dtype)
        return image + self.weight * noise


class ConstantInput(nn.Layer):
    """The learned constant 4x4 input (N(0, 1)), repeated over the batch."""

    def __init__(self, channel, size=4):
        super().__init__()
        self.input = self.create_parameter([1, channel, size, size],
                                           default_initializer=nn.initializer.Normal(0.0, 1.0))

    def forward(self, latent):
        # a broadcast against the batch (not tile with a Python batch size: any batch in an exported graph)
        return self.input * paddle.ones_like(latent[:, :1, :1]).unsqueeze(-1)


class StyledConv(nn.Layer):
    """Modulated conv -> noise -> fused bias + leaky ReLU."""

    def __init__(self, in_channel, out_channel, kernel_size, style_dim, upsample=False, blur_kernel=BLUR_KERNEL,
                 demodulate=True):
        super().__init__()
        self.conv = ModulatedConv2d(in_channel, out_channel, kernel_size, style_dim, demodulate=demodulate,
                                    upsample=upsample, blur_kernel=blur_kernel)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channel)

    def forward(self, x, style, noise=None):
        return self.activate(self.noise(self.conv(x, style), noise=noise))


class ToRGB(nn.Layer):
    """1x1 modulated conv to RGB (no demodulation) + bias, plus the upsampled skip."""

    def __init__(self, in_channel, style_dim, upsample=True, blur_kernel=BLUR_KERNEL):
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channel, 3, 1, style_dim, demodulate=False)
        self.bias = self.create_parameter([1, 3, 1, 1], default_initializer=nn.initializer.Constant(0.0))

    def forward(self, x, style, skip=None):
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


def set_fused(net, on=True):
    """Choose the modulated convolutions' path (``ModulatedConv2d.fused``); returns ``net``."""
    for layer in net.sublayers(include_self=True):
        if isinstance(layer, ModulatedConv2d):
            layer.fused = bool(on)
    return net


class TruncatedSampler(nn.Layer):
    """z -> G(z, truncation) with the stored noise: what ``ppimg2img export`` saves (truncation and its
    centre baked in as constants)."""

    def __init__(self, generator, truncation=1.0):
        super().__init__()
        self.generator, self.truncation = generator, float(truncation)
        self.nz, self.n_classes, self.output_nc, self.image_size = (generator.nz, 0, generator.output_nc,
                                                                    generator.image_size)
        center = generator.truncation_center() if self.truncation < 1 else paddle.zeros([1, generator.style_dim])
        self.register_buffer("center", center.detach().clone())

    def forward(self, z):
        return self.generator(z, truncation=self.truncation, truncation_latent=self.center, noise_mode="const")


def set_second_order(net, on=True):
    """Make every modulated conv of ``net`` differentiable twice (path-length regularisation): the
    upsampling ones without conv2d_transpose (no second derivative in Paddle's CPU kernels, about 4x
    the multiply-adds there), and all unfused (style on the input, not in the filter): Paddle 3.3's
    conv2d second derivative drops the filter gradient's dependence on the incoming gradient when
    the input's gradient is not also taken, which loses the style's share of the penalty's
    gradient (tests/test_stylegan2.py checks it against finite differences). The same forward
    numbers within float32 rounding; ``on=False`` restores each layer's fused setting."""
    for layer in net.sublayers(include_self=True):
        if isinstance(layer, ModulatedConv2d):
            if on and not layer.second_order:
                layer.fused_before = layer.fused
            elif not on and layer.second_order:
                layer.fused = layer.fused_before
            layer.second_order = bool(on)
            if on:
                layer.fused = False
    return net


class StyleGAN2Generator(nn.Layer):
    """z -> image (NCHW, about [-1, 1]; not clipped, as the reference).

    Args:
        size: output side (8..1024, a power of two).
        style_dim: length of z and w (512).
        n_mlp: layers of the mapping network (8).
        channel_multiplier: the reference's width factor for 64 px and up (2 = config-f).
        channel_divisor: divide every width by this (small configs; 1 = the reference).
        channels: explicit widths, one per resolution 4..size (overrides the two above).
        lr_mlp: the mapping network's learning-rate multiplier (0.01).
    """

    def __init__(self, size=256, style_dim=512, n_mlp=8, channel_multiplier=2, channel_divisor=1, channels=None,
                 lr_mlp=0.01):
        super().__init__()
        widths = _widths(size, channel_multiplier, channel_divisor, channels)
        self.size, self.style_dim, self.n_mlp = size, style_dim, n_mlp
        self.channels = {2 ** (i + 2): c for i, c in enumerate(widths)}
        self.log_size = int(math.log2(size))
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.n_latent = self.log_size * 2 - 2
        # what the generation engine and predictors read (as the DCGAN generator's)
        self.nz, self.n_classes, self.output_nc, self.image_size = style_dim, 0, 3, size
        self.style = nn.Sequential(PixelNorm(), *[EqualLinear(style_dim, style_dim, lr_mul=lr_mlp,
                                                              activation="fused_lrelu") for _ in range(n_mlp)])
        c4 = self.channels[4]
        self.input = ConstantInput(c4)
        self.conv1 = StyledConv(c4, c4, 3, style_dim)
        self.to_rgb1 = ToRGB(c4, style_dim, upsample=False)
        self.convs, self.to_rgbs = nn.LayerList(), nn.LayerList()
        self.noises = nn.Layer()
        rng = np.random.default_rng(0)
        for i in range(self.num_layers):
            side = 2 ** ((i + 5) // 2)
            self.noises.register_buffer(f"noise_{i}", paddle.to_tensor(
                rng.standard_normal((1, 1, side, side)).astype(np.float32)))
        in_channel = c4
        for i in range(3, self.log_size + 1):
            out_channel = self.channels[2 ** i]
            self.convs.append(StyledConv(in_channel, out_channel, 3, style_dim, upsample=True))
            self.convs.append(StyledConv(out_channel, out_channel, 3, style_dim))
            self.to_rgbs.append(ToRGB(out_channel, style_dim))
            in_channel = out_channel
        # the mean w of the published files ('latent_avg'; NaN: unknown, computed when needed)
        self.register_buffer("latent_avg", paddle.full([style_dim], float("nan")))

    def has_latent_avg(self):
        return not bool(paddle.isnan(self.latent_avg).any())

    @paddle.no_grad()
    def mean_latent(self, n=4096, seed=0):
        """The mean of ``n`` mapped samples (rosinality's ``mean_latent``; z from NumPy's seed)."""
        z = np.random.default_rng(seed).standard_normal((n, self.style_dim)).astype(np.float32)
        return self.style(paddle.to_tensor(z)).mean(axis=0, keepdim=True)

    def truncation_center(self):
        """w's centre for truncation: the file's ``latent_avg``, else the mean of 4096 mapped samples."""
        if self.has_latent_avg():
            return self.latent_avg.reshape([1, -1])
        if getattr(self, "_mean_w", None) is None:
            self._mean_w = self.mean_latent()
        return self._mean_w

    def noise_inputs(self, noise_mode):
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {', '.join(NOISE_MODES)}, got {noise_mode!r}")
        if noise_mode == "const":
            return [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]
        return [None if noise_mode == "random" else 0] * self.num_layers

    def forward(self, styles, truncation=1.0, truncation_latent=None, noise_mode="const", inject_index=None,
                input_is_latent=False, noise=None, return_latents=False):
        """``styles``: z [N, style_dim] or a list of one or two (style mixing after ``inject_index``;
        random in 1..n_latent-1 when None). ``input_is_latent``: they are w (or [N, n_latent, dim]).
        ``noise_mode``: 'const' (the stored noise buffers: reproducible, rosinality's
        ``randomize_noise=False``), 'random' (fresh noise) or 'none'; ``noise`` (a list) overrides it.
        ``truncation`` < 1: w -> c + t (w - c), c = ``truncation_latent`` or :meth:`truncation_center`."""
        if not isinstance(styles, (list, tuple)):
            styles = [styles]
        if not input_is_latent:
            styles = [self.style(s) for s in styles]
        if noise is None:
            noise = self.noise_inputs(noise_mode)
        if truncation < 1:
            center = self.truncation_center() if truncation_latent is None else truncation_latent
            styles = [center + truncation * (s - center) for s in styles]
        if len(styles) < 2:
            latent = styles[0]
            if latent.ndim < 3:
                latent = paddle.tile(latent.unsqueeze(1), [1, self.n_latent, 1])
        else:
            if inject_index is None:
                inject_index = int(np.random.randint(1, self.n_latent))
            latent = paddle.concat([paddle.tile(styles[0].unsqueeze(1), [1, inject_index, 1]),
                                    paddle.tile(styles[1].unsqueeze(1), [1, self.n_latent - inject_index, 1])], 1)
        out = self.input(latent)
        out = self.conv1(out, latent[:, 0], noise=noise[0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for conv1, conv2, noise1, noise2, to_rgb in zip(self.convs[::2], self.convs[1::2], noise[1::2], noise[2::2],
                                                        self.to_rgbs):
            out = conv1(out, latent[:, i], noise=noise1)
            out = conv2(out, latent[:, i + 1], noise=noise2)
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return (skip, latent) if return_latents else skip


class ConvLayer(nn.Sequential):
    """[Blur] -> EqualConv2d (stride 2 when downsampling) -> [fused bias + leaky ReLU]."""

    def __init__(self, in_channel, out_channel, kernel_size, downsample=False, blur_kernel=BLUR_KERNEL, bias=True,
                 activate=True):
        layers = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(EqualConv2d(in_channel, out_channel, kernel_size, padding=padding, stride=stride,
                                  bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_channel, bias=bias))
        super().__init__(*layers)


class ResBlock(nn.Layer):
    """conv 3x3 -> conv 3x3 down, plus a 1x1 down skip; (out + skip) / sqrt(2)."""

    def __init__(self, in_channel, out_channel, blur_kernel=BLUR_KERNEL):
        super().__init__()
        self.conv1 = ConvLayer(in_channel, in_channel, 3)
        self.conv2 = ConvLayer(in_channel, out_channel, 3, downsample=True)
        self.skip = ConvLayer(in_channel, out_channel, 1, downsample=True, activate=False, bias=False)

    def forward(self, x):
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)


class StyleGAN2Discriminator(nn.Layer):
    """image [N, 3, size, size] -> score [N, 1] (the residual D of config-f).

    Args:
        size: input side (8..1024, a power of two); the generation engine passes the generator's as image_size.
        channel_multiplier: the reference's width factor for 64 px and up (2 = config-f).
        channel_divisor: divide every width by this (small configs; 1 = the reference).
        channels: explicit widths, one per resolution 4..size (overrides the two above).
        stddev_group: minibatch standard deviation group size (the reference's 4).
        input_nc: image channels (set from the generator by the engine).
        image_size: overrides size (set from the generator by the engine).
        n_classes: must be 0: the StyleGAN2 discriminator is unconditional.
    """

    def __init__(self, size=256, channel_multiplier=2, channel_divisor=1, channels=None, stddev_group=4,
                 input_nc=3, image_size=None, n_classes=0):
        super().__init__()
        size = image_size or size
        if n_classes:
            raise ValueError("the StyleGAN2 discriminator is unconditional (n_classes must be 0)")
        widths = _widths(size, channel_multiplier, channel_divisor, channels)
        ch = {2 ** (i + 2): c for i, c in enumerate(widths)}
        log_size = int(math.log2(size))
        convs = [ConvLayer(input_nc, ch[size], 1)]
        in_channel = ch[size]
        for i in range(log_size, 2, -1):
            convs.append(ResBlock(in_channel, ch[2 ** (i - 1)]))
            in_channel = ch[2 ** (i - 1)]
        self.convs = nn.Sequential(*convs)
        self.stddev_group, self.stddev_feat = stddev_group, 1
        self.final_conv = ConvLayer(in_channel + 1, ch[4], 3)
        self.final_linear = nn.Sequential(EqualLinear(ch[4] * 4 * 4, ch[4], activation="fused_lrelu"),
                                          EqualLinear(ch[4], 1))

    def forward(self, x):
        out = minibatch_stddev(self.convs(x), self.stddev_group, self.stddev_feat)
        out = self.final_conv(out)
        return self.final_linear(out.reshape([out.shape[0], -1]))


for _cls in (StyleGAN2Generator, StyleGAN2Discriminator):
    _cls.config_choices = {"size": SIZES}
