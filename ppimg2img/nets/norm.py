"""Normalisation layers and the layer factory (``get_norm_layer`` of the original models/networks.py).

Float32 accuracy (issue 17). Paddle's CPU ``mean`` adds a whole plane in one float32 reduction
(error ~1e-5 of the values' magnitude for a 256x256 plane; PyTorch's cascade sum ~1e-7), and its
``instance_norm``/``batch_norm`` kernels take the variance in one pass (E[x^2] - E[x]^2), which
cancels when the mean is large against the spread: on x = 20 + 0.5 N(0, 1) (256x256) Paddle's
instance norm is off by 3e-5, PyTorch's by 3e-6. The layers here therefore

- take means row by row, then over the rows (:func:`mean_over`: every reduction adds at most one
  side's worth of values), and
- shift the input by that per-channel mean (a constant: no gradient flows through it) before the
  Paddle kernel, so the kernel's own mean and one-pass variance work on centred values, where they
  do not cancel. Normalisation is shift-invariant, so output and gradient are unchanged in exact
  arithmetic; in float32 both are within 1-3x PyTorch's error against float64 (tests/test_norm_numerics.py).

Cost: a cheap mean and one per-channel subtraction per norm layer (:func:`subtract_per_channel`).
"""
import contextlib
import contextvars

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle import _C_ops

NORM_TYPES = ("instance", "batch", "none")


def mean_over(x, axes, keepdim=True):
    """Mean of ``x`` over ``axes``, one axis at a time from the last: each reduction adds at most
    one axis' worth of values, so the float32 error is that of a ~side-length sum, not of a
    whole-plane one (Paddle's CPU ``mean`` over [2, 3] of a 256x256 plane of values ~20 is off by
    1e-4; this, by 5e-6). Differentiable; plain Paddle ops (static graphs, export)."""
    for axis in sorted(axes, reverse=True):
        x = x.mean(axis=axis, keepdim=True)
    if not keepdim:
        x = x.squeeze(sorted(axes))
    return x


def plane_mean(x):
    """Per-channel mean ``[N, C, 1, 1]`` of NCHW ``x`` over H and W.

    Eager: :func:`mean_over` (rows, then columns: each sum one side long). Static graphs (export,
    Paddle Inference with oneDNN): average pooling, because oneDNN's reduction kernels are ~10x slower
    than its pooling on a convolution's output (4 means after a 64-channel 128x128 convolution:
    355-507 ms against 49 ms) and were two thirds of the exported U-GAT-IT's time. With H and W known
    at export: a [1, W] pool, then an [H, 1] pool (rows, then columns). With sizes unknown until run
    time: one global pool, a whole-plane float32 sum; the callers centre first, so its error is
    relative to the spread, but it adds up over many norms (exported photo2cartoon at 256 px:
    2.9e-4 from float64 against 2.4e-5 with a fixed size; rows then columns as two matrix products
    were as accurate and fast per image, but Paddle Inference took minutes to prepare that graph)."""
    if paddle.in_dynamic_mode():
        return mean_over(x, [2, 3])
    h, w = x.shape[2], x.shape[3]
    if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
        return F.avg_pool2d(F.avg_pool2d(x, [1, w]), [h, 1])
    return F.adaptive_avg_pool2d(x, 1)


#: how :class:`PlaneInstanceNorm2D` writes itself into a static graph: "pools" (default), "layer_norm"
#: (:func:`static_instance_norm`) or "kernel"
_STATIC_INSTANCE_NORM = contextvars.ContextVar("static_instance_norm", default="pools")


@contextlib.contextmanager
def static_instance_norm(recipe):
    """Within it, static graphs write U-GAT-IT's/photo2cartoon's instance norms (:class:`PlaneInstanceNorm2D`)
    for a runtime: ``"pools"`` (the default; plain oneDNN ops, also ONNX), ``"layer_norm"`` (Paddle Inference
    exports at a fixed size, ``export.inference.inference_layers``: one oneDNN ``layer_norm`` op per norm,
    :func:`layer_norm_rows`, instead of the pooled two-pass form's six; photo2cartoon 256 px ~10% less time
    per image and a third less memory), ``"kernel"`` (onnxruntime: centred by the per-channel mean, then
    one ``instance_norm`` op, ONNX InstanceNormalization, whose one-pass variance then does not cancel).
    Not kept where measured slower: ILN/adaILN as two layer norms (the layer norm's one row per sample runs
    on one thread), CycleGAN's instance norms as layer norms (5% slower than its pooled ones)."""
    if recipe not in ("pools", "layer_norm", "kernel"):
        raise ValueError(f"unknown static instance-norm recipe {recipe!r}")
    token = _STATIC_INSTANCE_NORM.set(recipe)
    try:
        yield
    finally:
        _STATIC_INSTANCE_NORM.reset(token)


def _static_sizes(x):
    """C, H, W of a static-graph NCHW ``x`` when the export fixed them, else None."""
    dims = x.shape[1:]
    return dims if len(dims) == 3 and all(isinstance(d, int) and d > 0 for d in dims) else None


def layer_norm_rows(x, eps):
    """Instance norm ``(x - mean) / sqrt(biased var + eps)`` over H and W of NCHW ``x`` as ONE ``layer_norm``
    op over the rows of ``x`` seen as ``[1, N*C, H*W]``. Static graphs whose C, H, W the export fixed (with
    sizes left dynamic Paddle 3.3 loses the rank of a transposed convolution's output in the reshapes).
    oneDNN's layer norm takes only the last axis, and with a rank-2 or a batched rank-3 input Paddle 3.3's
    oneDNN kernel returns a wrong shape, hence the leading 1. Measured against float64 in
    tests/test_speed_rewrites.py."""
    dims = _static_sizes(x)
    if dims is None:
        raise ValueError(f"layer_norm_rows needs C, H and W fixed in the static graph, got {list(x.shape)}")
    return _C_ops.layer_norm(x.reshape([1, -1, dims[1] * dims[2]]), None, None, eps, 2)[0].reshape([-1, *dims])


def _count(x, axes):
    """Number of values reduced over ``axes`` (a Python float when the shape is known, else a tensor)."""
    dims = [x.shape[a] for a in axes]
    if all(isinstance(d, int) and d >= 0 for d in dims):
        n = 1
        for d in dims:
            n *= d
        return float(n)
    shape = paddle.shape(x)
    n = paddle.prod(paddle.stack([shape[a] for a in axes])).astype(x.dtype)
    n.stop_gradient = True
    return n


def normalise(x, axes, eps, unbiased=False):
    """``(x - mean) / sqrt(var + eps)`` over ``axes`` (U-GAT-IT's adaILN/ILN with ``unbiased``, as
    ``torch.var``), computed in two passes on values centred twice: first by a constant (gradient-free)
    estimate of the mean, then by the exact mean of what is left, which is small; the variance is the
    mean of the squares of the result. Same value and gradient as the one-line formula, at
    float32 error comparable to PyTorch's."""
    centred = x - mean_over(x.detach(), axes)
    centred = centred - mean_over(centred, axes)
    var = mean_over(centred * centred, axes)
    if unbiased:
        n = _count(x, axes)
        var = var * (n / (n - 1))
    return centred * paddle.rsqrt(var + eps)


def layer_instance_norm(x, rho, eps, gamma=None, beta=None):
    """U-GAT-IT's ILN/adaILN (and photo2cartoon's LIN/adaLIN): ``rho * IN(x) + (1 - rho) * LN(x)``,
    both with the UNBIASED variance (``torch.var``), times ``gamma`` plus ``beta`` (per sample or per
    channel, shape [N or 1, C, 1, 1]; None: no affine).

    One set of per-channel statistics serves both norms: the channel is centred twice (by a
    gradient-free estimate of its mean, then by the exact mean of what is left, as :func:`normalise`),
    ``d = x - mean_c``; the layer mean and variance follow from the channel means and variances
    (``mean_ln = mean_C(mean_c)``, ``var_ln = mean_C(var_c + (mean_c - mean_ln)^2)``, the law of total
    variance), and the output is one per-channel affine of ``d``:
    ``d * (rho r_in + (1 - rho) r_ln) + (1 - rho) r_ln (mean_c - mean_ln)`` with ``r = 1/sqrt(var + eps)``.
    Five full-size element-wise passes and three plane means (:func:`plane_mean`), where the two
    separate two-pass norms took about twenty; same value and gradient in exact arithmetic, float32
    error measured in tests/test_speed_rewrites.py and benchmarks/README.md."""
    n_in = _count(x, [2, 3])
    n_ln = _count(x, [1, 2, 3])
    shift = plane_mean(x.detach())
    centred = subtract_per_channel(x, shift)
    rest = plane_mean(centred)
    d = subtract_per_channel(centred, rest)
    var_in = plane_mean(d * d)  # biased, per channel
    mean_c = shift + rest  # the channel means; the gradient flows through ``rest``
    delta = mean_c - mean_c.mean(axis=1, keepdim=True)
    var_ln = (var_in + delta * delta).mean(axis=1, keepdim=True)  # biased, per sample
    r_in = paddle.rsqrt(var_in * (n_in / (n_in - 1)) + eps)
    r_ln = paddle.rsqrt(var_ln * (n_ln / (n_ln - 1)) + eps)
    scale = rho * r_in + (1 - rho) * r_ln
    offset = (1 - rho) * r_ln * delta
    if gamma is not None:
        scale, offset = scale * gamma, offset * gamma + beta
    return d * scale + offset


def subtract_per_channel(x, shift):
    """``x - shift`` for NCHW ``x`` and a constant ``shift`` of shape [1 or N, C, 1, 1].

    The shift is first expanded to [N, C, 1, 1]: Paddle's CPU subtraction broadcasting over the
    batch axis is slow (69 vs 17 ms forward for a 128x128x16x16 tensor), over H and W it is not.
    Plain ops, so it exports and has every derivative (WGAN-GP differentiates twice)."""
    if paddle.in_dynamic_mode() and shift.shape[0] == 1 and x.shape[0] != 1:
        shift = shift.expand([x.shape[0], -1, 1, 1])
    return x - shift


class InstanceNorm2D(nn.InstanceNorm2D):
    """``nn.InstanceNorm2D`` (same arguments, parameters and state_dict keys) whose input is first
    centred by its per-channel mean (taken by :func:`mean_over`, without gradient): Paddle's
    kernel, which takes mean and variance in one float32 pass, then sees values around 0, and
    output and gradient match PyTorch's float32 accuracy (see the module docstring)."""

    def forward(self, x):
        if self._data_format != "NCHW":
            return super().forward(x)
        centred = subtract_per_channel(x, mean_over(x.detach(), [2, 3]))
        return F.instance_norm(centred, weight=self.scale, bias=self.bias, eps=self._epsilon,
                               momentum=self._momentum, data_format="NCHW")


class PlaneInstanceNorm2D(InstanceNorm2D):
    """:class:`InstanceNorm2D` (same arguments, no parameters allowed) whose static graph (export) is
    plain oneDNN ops: the two-pass centring of :func:`layer_instance_norm` with plane means taken by
    average pooling (:func:`plane_mean`), ``d * rsqrt(mean(d^2) + eps)``, instead of Paddle's
    ``instance_norm`` kernel, which runs outside oneDNN with a layout conversion on each side (with its
    centring means, half of the exported photo2cartoon generator's time). Eager mode: InstanceNorm2D.
    The U-GAT-IT and photo2cartoon generators use it; :func:`static_instance_norm` picks the form a
    runtime runs fastest."""

    def forward(self, x):
        if paddle.in_dynamic_mode() or self._data_format != "NCHW" or self.scale is not None or self.bias is not None:
            return super().forward(x)
        recipe = _STATIC_INSTANCE_NORM.get()
        if recipe == "kernel":
            return super().forward(x)
        if recipe == "layer_norm" and _static_sizes(x) is not None:
            return layer_norm_rows(x, self._epsilon)
        centred = x - plane_mean(x.detach())
        d = centred - plane_mean(centred)
        return d * paddle.rsqrt(plane_mean(d * d) + self._epsilon)


class BatchNorm2D(nn.BatchNorm2D):
    """``nn.BatchNorm2D`` (same arguments, parameters, buffers and state_dict keys) with PyTorch's
    running statistics: ``running = momentum * running + (1 - momentum) * batch statistic`` with
    the UNBIASED batch variance (N/(N-1) times the biased one, N = batch x height x width values
    per channel), where Paddle's kernel uses the biased one. The batch is normalised with the biased
    variance, as both do. Pass ``momentum=0.9`` for PyTorch's default 0.1.

    When batch statistics are used, Paddle's semantics: in training mode, or always when
    ``_use_global_stats`` is False (PaddleGAN's ``trainable_statistics=True``: batch statistics
    also in eval mode, and the running statistics updated as by Paddle's kernel); True: running
    statistics always, nothing updated. N = 1 (one value per channel, which PyTorch refuses in
    training) updates with variance 0, as Paddle.

    The input is centred by its per-channel batch mean first (no gradient through it), so the
    kernel's one-pass variance does not cancel (see the module docstring); the statistics are
    taken by the kernel on the centred values (one extra subtraction per layer, no more: the
    kernel, run with momentum 0 on scratch buffers, hands back the batch's mean and variance).
    Static graphs (export, and ``train.fast``, which writes its own update in engine/fast.py) use
    Paddle's layer as is.
    """

    def _uses_batch_statistics(self):
        return self._use_global_stats is False or (self._use_global_stats is None and self.training)

    def forward(self, x):
        if not paddle.in_dynamic_mode() or self._data_format != "NCHW" or not self._uses_batch_statistics():
            return super().forward(x)
        axes = [0, 2, 3]
        shift = mean_over(x.detach(), axes)
        c = x.shape[1]
        # momentum 0: the kernel writes the batch's own mean and biased variance (of the centred
        # input) into these scratch buffers, and leaves the layer's running statistics alone
        batch_mean, batch_var = paddle.zeros([c], x.dtype), paddle.zeros([c], x.dtype)
        out = F.batch_norm(subtract_per_channel(x, shift), batch_mean, batch_var, weight=self.weight,
                           bias=self.bias, training=True, momentum=0.0, epsilon=self._epsilon, data_format="NCHW",
                           use_global_stats=False)
        with paddle.no_grad():
            self.update_running_statistics(shift.flatten() + batch_mean, batch_var, _count(x, axes))
        return out

    def update_running_statistics(self, mean, biased_var, n):
        """PyTorch's update from a batch's per-channel ``mean`` and ``biased_var`` of ``n`` values each."""
        if isinstance(n, float) and n <= 1:  # one value per channel: variance 0, as Paddle's kernel
            var = paddle.zeros_like(biased_var)
        else:
            var = biased_var * (n / (n - 1))
        m = self._momentum
        paddle.assign(self._mean * m + mean * (1.0 - m), output=self._mean)
        paddle.assign(self._variance * m + var * (1.0 - m), output=self._variance)


def _instance_norm(num_features):
    # nn.InstanceNorm2d(affine=False, track_running_stats=False): no parameters, no running stats.
    return InstanceNorm2D(num_features, epsilon=1e-5, weight_attr=False, bias_attr=False)


def _batch_norm(num_features):
    # nn.BatchNorm2d(affine=True, track_running_stats=True); PyTorch momentum 0.1 == Paddle 0.9.
    return BatchNorm2D(num_features, momentum=0.9, epsilon=1e-5)


def _no_norm(num_features):
    return nn.Identity()


_FACTORIES = {"instance": _instance_norm, "batch": _batch_norm, "none": _no_norm}


def _check(norm):
    if norm not in _FACTORIES:
        raise ValueError(f"unknown norm {norm!r}; valid names are: {', '.join(NORM_TYPES)}")


def get_norm_layer(norm="instance"):
    """Return a callable ``f(num_features) -> paddle.nn.Layer`` for 'instance', 'batch' or 'none'."""
    _check(norm)
    return _FACTORIES[norm]


def uses_bias(norm):
    """Whether convolutions before this norm carry a bias.

    The original sets ``use_bias = norm_layer is InstanceNorm2d``: True only for 'instance'
    (so 'batch' and also 'none' give bias-free convolutions, exactly as upstream).
    """
    _check(norm)
    return norm == "instance"
