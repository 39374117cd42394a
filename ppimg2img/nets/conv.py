"""A convolution layer for eager CPU training (oneDNN's direct convolution, or Paddle's im2col in bounded
bands), and a faster eager reflection pad."""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from . import onednn_conv

#: largest im2col buffer (bytes per image) one eager CPU convolution call may unfold
BAND_BYTES = 16 * 2**20
#: bands are used only when one call would unfold more than this many times :data:`BAND_BYTES`: just over
#: the limit, the bands' full-size input-slice gradients cost more time (photo2cartoon's 19 MB hourglass
#: convolutions at 128 px: +12% of its training step) than the few MB they save
BAND_ABOVE = 4
#: eager CPU convolutions (kernels > 1x1) with at least this many output pixels run on oneDNN
#: (:meth:`BandedConv2D._onednn`): on 4x4 outputs Paddle's im2col + GEMM is faster (1.0 vs 1.9 ms forward +
#: backward for 256 -> 256 channels), from 16x16 on oneDNN (2.7 vs 2.1 ms for 128 -> 128)
ONEDNN_MIN_PIXELS = 64
#: eager reflect/replicate pads of at least this many elements run as slices + concat (:class:`SlicePadMixin`)
SLICE_PAD_ELEMENTS = 2**18


class BandedConv2D(nn.Conv2D):
    """``nn.Conv2D`` (same parameters, defaults and state_dict keys) that, in eager mode on the CPU, runs
    oneDNN's direct convolution (:mod:`.onednn_conv`, for kernels larger than 1x1 on maps of at least
    :data:`ONEDNN_MIN_PIXELS` output pixels) or else convolves bands of output rows one after another.
    The oneDNN path's gradient is first order only: forwards whose gradient is differentiated again (WGAN-GP's
    penalty through a PatchGAN discriminator) run inside ``onednn_conv.first_order_only()``.

    Paddle's eager CPU convolution unfolds the whole input (im2col) into a buffer of
    C_in*k*k*H_out*W_out floats per image, in the forward and again in the backward. For the
    ResNet/U-GAT-IT generators' last 7x7 convolution (64 -> 3 channels) that is 205 MB at 128x128
    and 822 MB at 256x256, most of a training step's peak memory. Each band unfolds at most
    :data:`BAND_BYTES`; every output pixel is the same dot product as in one call, and the weight
    gradient is summed over the bands, so results equal ``nn.Conv2D``'s within float rounding.
    Bands are used only where one call would unfold over :data:`BAND_ABOVE` times that, only for unpadded
    convolutions (the generators pad with ``Pad2D`` first);
    static graphs (export, ``train.fast``) and GPUs run the plain convolution.
    """

    def forward(self, x):
        if self._onednn(x):
            return onednn_conv.conv2d(x, self.weight, self.bias, stride=self._stride, padding=self._updated_padding,
                                      dilation=self._dilation, groups=self._groups)
        rows = self._band_rows(x)
        if rows is None:
            return super().forward(x)
        (kh, _), (sh, _), (dh, _) = self._kernel_size, self._stride, self._dilation
        out_h = (x.shape[2] - dh * (kh - 1) - 1) // sh + 1
        bands = []
        for top in range(0, out_h, rows):
            bottom = min(top + rows, out_h)  # output rows [top, bottom) read input rows [top*sh, last]
            last = (bottom - 1) * sh + dh * (kh - 1)
            bands.append(F.conv2d(x[:, :, top * sh:last + 1], self.weight, self.bias, stride=self._stride,
                                  padding=0, dilation=self._dilation, groups=self._groups))
        return paddle.concat(bands, axis=2)

    @paddle.jit.not_to_static  # Python checks on shapes and flags: static graphs never take the oneDNN path
    def _onednn(self, x):
        """Whether this eager call runs oneDNN's direct convolution (:mod:`.onednn_conv`): on the CPU, in
        float32 NCHW, for kernels larger than 1x1 with at least :data:`ONEDNN_MIN_PIXELS` output pixels
        (smaller ones and 1x1 kernels are as fast or faster as Paddle's matrix products)."""
        if (not paddle.in_dynamic_mode() or self._data_format != "NCHW" or self._padding_mode != "zeros"
                or self._padding_algorithm != "EXPLICIT" or self._kernel_size[0] * self._kernel_size[1] == 1
                or x.dtype != paddle.float32 or not x.place.is_cpu_place() or not onednn_conv.available()):
            return False
        (kh, kw), (sh, sw), (dh, dw) = self._kernel_size, self._stride, self._dilation
        pad = list(self._updated_padding)
        pad_h, pad_w = (2 * pad[0], 2 * pad[1]) if len(pad) == 2 else (pad[0] + pad[1], pad[2] + pad[3])
        out_h = (x.shape[2] + pad_h - dh * (kh - 1) - 1) // sh + 1
        out_w = (x.shape[3] + pad_w - dw * (kw - 1) - 1) // sw + 1
        return out_h * out_w >= ONEDNN_MIN_PIXELS

    def _band_rows(self, x):
        """Output rows per band, or None when one plain call is right (static graph, GPU, padding,
        NHWC, or a buffer already within :data:`BAND_BYTES`)."""
        if not paddle.in_dynamic_mode() or not x.place.is_cpu_place() or self._data_format != "NCHW":
            return None
        if self._padding_mode != "zeros" or self._padding_algorithm != "EXPLICIT" or any(self._updated_padding):
            return None
        (kh, kw), (sh, sw), (dh, dw) = self._kernel_size, self._stride, self._dilation
        out_h = (x.shape[2] - dh * (kh - 1) - 1) // sh + 1
        out_w = (x.shape[3] - dw * (kw - 1) - 1) // sw + 1
        row_bytes = self._in_channels * kh * kw * out_w * 4
        if out_h <= 1 or row_bytes * out_h <= BAND_ABOVE * BAND_BYTES:
            return None
        return max(1, BAND_BYTES // row_bytes)


class OneDNNConv2DTranspose(nn.Conv2DTranspose):
    """``nn.Conv2DTranspose`` (same parameters, defaults and state_dict keys) that, in eager mode on the CPU,
    runs as oneDNN's convolution data gradient (:func:`.onednn_conv.conv2d_transpose`): CycleGAN's 3x3
    stride-2 upsampling, forward + backward 33 -> 20 ms for 128 -> 64 channels at 64x64. Static graphs, GPUs,
    ``output_size`` and padding that oneDNN cannot express run Paddle's."""

    def forward(self, x, output_size=None):
        if (output_size is None and paddle.in_dynamic_mode() and self._data_format == "NCHW"
                and isinstance(self._padding, int)):
            return onednn_conv.conv2d_transpose(x, self.weight, self.bias, stride=self._stride, padding=self._padding,
                                                output_padding=self.output_padding, dilation=self._dilation,
                                                groups=self._groups)
        return super().forward(x, output_size)


def _line(x, axis, i):
    """Index ``i`` along ``axis`` (negative: from the end), keeping the axis."""
    return paddle.slice(x, [axis], [i], [i + 1 if i != -1 else 2**31 - 1])


@paddle.jit.not_to_static  # plain tensor ops and Python ints: tracing it as is is correct, and fast
def slice_pad_axis(x, axis, before, after, mode):
    """Reflect (``x[p], ..., x[1] | x | x[-2], ..., x[-1 - p]``) or replicate padding of ``x`` along ``axis``
    from slices and one concat: the same pixels as ``pad3d``."""
    if before == 0 and after == 0:
        return x
    if mode == "reflect":
        parts = [_line(x, axis, i) for i in range(before, 0, -1)] + [x]
        parts += [_line(x, axis, -1 - i) for i in range(1, after + 1)]
    else:  # x[0] repeated | x | x[-1] repeated
        parts = [_line(x, axis, 0)] * before + [x] + [_line(x, axis, -1)] * after
    return paddle.concat(parts, axis=axis)


class ReflectPad2D(nn.Pad2D):
    """``nn.Pad2D`` (same arguments, no parameters) that, in eager mode on the CPU, pads inputs of at
    least :data:`SLICE_PAD_ELEMENTS` elements (NCHW, 'reflect' or 'replicate') with slices and a concat:
    the same values, and the same gradients (each is a sum of at most 4 of the output's, taken in an
    order that gives the same float32 sum), in about half ``pad3d``'s forward + backward time on a
    32x128x128 map (slower on small maps, which keep ``pad3d``). Static graphs run ``pad3d``."""

    def forward(self, x):
        if (not paddle.in_dynamic_mode() or self._mode not in ("reflect", "replicate")
                or self._data_format != "NCHW" or x.ndim != 4 or x.size < SLICE_PAD_ELEMENTS
                or not isinstance(self.padding, (int, list, tuple)) or not x.place.is_cpu_place()):
            return super().forward(x)
        left, right, top, bottom = [self.padding] * 4 if isinstance(self.padding, int) else self.padding
        return slice_pad_axis(slice_pad_axis(x, 3, left, right, self._mode), 2, top, bottom, self._mode)
