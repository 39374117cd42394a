"""A convolution layer that keeps Paddle's eager CPU im2col buffer small."""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

#: largest im2col buffer (bytes per image) one eager CPU convolution call may unfold
BAND_BYTES = 16 * 2**20


class BandedConv2D(nn.Conv2D):
    """``nn.Conv2D`` (same parameters, defaults and state_dict keys) that, in eager mode on the CPU,
    convolves bands of output rows one after another.

    Paddle's eager CPU convolution unfolds the whole input (im2col) into a buffer of
    C_in*k*k*H_out*W_out floats per image, in the forward and again in the backward. For the
    ResNet/U-GAT-IT generators' last 7x7 convolution (64 -> 3 channels) that is 205 MB at 128x128
    and 822 MB at 256x256, most of a training step's peak memory. Each band unfolds at most
    :data:`BAND_BYTES`; every output pixel is the same dot product as in one call, and the weight
    gradient is summed over the bands, so results equal ``nn.Conv2D``'s within float rounding.
    Bands are used only for unpadded convolutions (the generators pad with ``Pad2D`` first);
    static graphs (export, ``train.fast``) and GPUs run the plain convolution.
    """

    def forward(self, x):
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
        if out_h <= 1 or row_bytes * out_h <= BAND_BYTES:
            return None
        return max(1, BAND_BYTES // row_bytes)
