"""Layers of the progressive-growing and StyleGAN family (Karras et al. 2018, 2019, 2020).

- Equalised learning rate (PGGAN sec. 4.1): weights are stored N(0, 1) and scaled at run time by
  the He constant ``gain / sqrt(fan_in)``, so every layer learns at the same speed under Adam.
  ``lr_mul`` (StyleGAN's mapping network, 0.01) stores ``w / lr_mul`` and multiplies back.
- Pixelwise feature normalisation (PGGAN sec. 4.2, eq. 1): x / sqrt(mean_c(x^2) + 1e-8).
- Minibatch standard deviation (PGGAN sec. 3): one feature map holding the average, over features
  and pixels, of the standard deviation within groups of ``group_size`` samples.
- The fused bias + leaky ReLU of StyleGAN2 (slope 0.2, gain sqrt(2)).

The parameter names and layouts follow rosinality/stylegan2-pytorch ``model.py`` (``weight``
[out, in(, k, k)], ``bias``), so its checkpoints load key for key.
"""
import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F


def _randn_parameter(layer, shape, std=1.0):
    return layer.create_parameter(shape, default_initializer=nn.initializer.Normal(0.0, std))


def _constant_parameter(layer, shape, value):
    return layer.create_parameter(shape, default_initializer=nn.initializer.Constant(value))


def fused_leaky_relu(x, bias=None, negative_slope=0.2, scale=math.sqrt(2.0)):
    """leaky_relu(x + bias, 0.2) * sqrt(2) (rosinality ``op/fused_act.py``, its CPU path); ``bias`` is
    per channel (axis 1)."""
    if bias is not None:
        bias = bias.reshape([1, -1] + [1] * (x.ndim - 2))
        # expanded first when training (Paddle's eager CPU add is several times slower broadcasting over
        # the batch); a plain broadcast in exported graphs (an expand to the batch size does not export to ONNX)
        x = x + (paddle.expand_as(bias, x) if paddle.in_dynamic_mode() else bias)
    # the gain as a tensor product, not Paddle's scale op: a scale before the next layer's matmul gets
    # fused into it by Paddle Inference's oneDNN passes, whose later activation fusion then crashes
    # (scale_matmul_fuse_pass + matmul_activation_fuse_pass, Paddle 3.3)
    return F.leaky_relu(x, negative_slope) * paddle.full([1], scale, dtype=x.dtype)


class FusedLeakyReLU(nn.Layer):
    """A per-channel bias (zeros) then leaky ReLU 0.2 times sqrt(2)."""

    def __init__(self, channel, bias=True, negative_slope=0.2, scale=math.sqrt(2.0)):
        super().__init__()
        self.bias = _constant_parameter(self, [channel], 0.0) if bias else None
        self.negative_slope, self.scale = negative_slope, scale

    def forward(self, x):
        return fused_leaky_relu(x, self.bias, self.negative_slope, self.scale)


class PixelNorm(nn.Layer):
    """x / sqrt(mean over channels of x^2 + 1e-8) (PGGAN eq. 1; StyleGAN's z normalisation)."""

    def forward(self, x):
        return x * paddle.rsqrt(paddle.mean(x * x, axis=1, keepdim=True) + 1e-8)


class EqualConv2d(nn.Layer):
    """Conv2D with the equalised learning rate: weight N(0, 1) [out, in, k, k], used as
    ``weight * gain / sqrt(in * k * k)``; bias zeros.

    Args:
        gain: He's gain: 1 in StyleGAN2 (its sqrt(2) is in the activation), sqrt(2) in PGGAN.
    """

    def __init__(self, in_channel, out_channel, kernel_size, stride=1, padding=0, bias=True, gain=1.0):
        super().__init__()
        self.weight = _randn_parameter(self, [out_channel, in_channel, kernel_size, kernel_size])
        self.scale = gain / math.sqrt(in_channel * kernel_size ** 2)
        self.stride, self.padding = stride, padding
        self.bias = _constant_parameter(self, [out_channel], 0.0) if bias else None

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self):
        out, inp, k, _ = self.weight.shape
        return f"{inp}, {out}, {k}, stride={self.stride}, padding={self.padding}"


class EqualLinear(nn.Layer):
    """Linear with the equalised learning rate: weight N(0, 1/lr_mul^2) [out, in] (PyTorch's layout),
    used as ``weight * gain * lr_mul / sqrt(in)``; bias ``bias_init``, used times lr_mul.

    Args:
        lr_mul: learning-rate multiplier (StyleGAN's mapping network: 0.01).
        activation: ``'fused_lrelu'``: the fused bias + leaky ReLU * sqrt(2) after the product.
        gain: He's gain (PGGAN: sqrt(2), or sqrt(2)/4 for its first dense layer).
    """

    def __init__(self, in_dim, out_dim, bias=True, bias_init=0.0, lr_mul=1.0, activation=None, gain=1.0):
        super().__init__()
        self.weight = _randn_parameter(self, [out_dim, in_dim], std=1.0 / lr_mul)
        self.bias = _constant_parameter(self, [out_dim], float(bias_init)) if bias else None
        if activation not in (None, "fused_lrelu"):
            raise ValueError(f"activation must be None or 'fused_lrelu', got {activation!r}")
        self.activation = activation
        self.scale = gain * lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul

    def forward(self, x):
        # an explicit transpose: matmul(transpose_y=True) followed by leaky_relu crashes Paddle Inference's
        # oneDNN fusion pass (matmul_activation_fuse_pass, Paddle 3.3)
        out = paddle.matmul(x, (self.weight * self.scale).t())
        bias = None if self.bias is None else self.bias * self.lr_mul
        if self.activation:
            return fused_leaky_relu(out, bias)
        return out if bias is None else out + bias

    def extra_repr(self):
        out, inp = self.weight.shape
        return f"{inp}, {out}, lr_mul={self.lr_mul}, activation={self.activation}"


def minibatch_stddev(x, group_size=4, n_features=1):
    """Append the minibatch standard deviation (PGGAN sec. 3; rosinality's ``Discriminator``):
    split the batch into groups of G = ``min(N, group_size)`` samples (as the reference's
    ``view(G, -1, ...)``: sample i is in group i mod N/G), take each position's standard deviation
    over the group (biased, + 1e-8 inside the root), average it over channels and pixels per feature
    group, and append ``n_features`` constant maps. The batch must be a multiple of G."""
    n, c, h, w = x.shape
    group = min(n, group_size)
    if n % group:
        raise ValueError(f"minibatch stddev: the batch ({n}) must be a multiple of the group size ({group}); "
                         f"use a batch size divisible by {group_size}")
    y = x.reshape([group, -1, n_features, c // n_features, h, w])
    y = y - y.mean(axis=0, keepdim=True)  # the biased variance over the group (paddle.var logs a dtype warning)
    y = paddle.sqrt((y * y).mean(axis=0) + 1e-8)  # [N/G, F, C/F, H, W]
    y = y.mean(axis=[2, 3, 4], keepdim=True).squeeze(2)  # [N/G, F, 1, 1]
    y = paddle.tile(y, [group, 1, h, w])
    return paddle.concat([x, y], axis=1)
