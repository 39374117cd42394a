"""The eager oneDNN convolution (ppimg2img/nets/onednn_conv.py) against Paddle's convolution in float64.

Tolerances: each float32 result is held to the float64 result within 4x Paddle's own float32 error plus
1e-6 of the result's largest value (both sides are float32 sums of the same products, added in another
order)."""
import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from ppimg2img.nets import conv as conv_module
from ppimg2img.nets import onednn_conv
from ppimg2img.nets.conv import BandedConv2D, OneDNNConv2DTranspose

pytestmark = pytest.mark.skipif(not onednn_conv.available(), reason="oneDNN library not found in the paddle wheel")

GEOMETRIES = [  # (x shape, weight shape, bias, stride, padding, dilation, groups)
    ((1, 8, 12, 12), (16, 8, 3, 3), True, 1, 0, 1, 1),
    ((2, 6, 13, 11), (4, 6, 4, 4), True, 2, [1, 2], 1, 1),
    ((1, 3, 15, 15), (5, 3, 7, 7), False, 1, [1, 0, 2, 3], 1, 1),
    ((2, 8, 10, 10), (8, 2, 3, 3), False, 1, 1, 2, 4),
    ((1, 4, 9, 9), (4, 1, 3, 3), True, 1, 1, 1, 4),
]


def _run(fn, x0, w0, b0, g0, dtype, **kw):
    x = paddle.to_tensor(x0.astype(dtype), stop_gradient=False)
    w = paddle.to_tensor(w0.astype(dtype), stop_gradient=False)
    b = None if b0 is None else paddle.to_tensor(b0.astype(dtype), stop_gradient=False)
    y = fn(x, w, b, **kw)
    y.backward(paddle.to_tensor(g0.astype(dtype)))
    out = [y.numpy(), x.grad.numpy(), w.grad.numpy()]
    return out + ([b.grad.numpy()] if b is not None else [])


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: "x%s_w%s" % ("x".join(map(str, g[0])), "x".join(map(str, g[1]))))
def test_values_and_gradients_match_float64(geometry):
    x_shape, w_shape, bias, stride, padding, dilation, groups = geometry
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(x_shape)
    w0 = rng.standard_normal(w_shape) * 0.3
    b0 = rng.standard_normal(w_shape[0]) if bias else None
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    y_shape = F.conv2d(paddle.to_tensor(x0), paddle.to_tensor(w0), **kw).shape
    g0 = rng.standard_normal(y_shape)
    exact = _run(F.conv2d, x0, w0, b0, g0, "float64", **kw)
    paddle32 = _run(F.conv2d, x0, w0, b0, g0, "float32", **kw)
    onednn = _run(onednn_conv.conv2d, x0, w0, b0, g0, "float32", **kw)
    for name, e, p, o in zip(("y", "dx", "dw", "db"), exact, paddle32, onednn):
        assert o.shape == e.shape, name
        own = np.abs(p - e).max()
        err = np.abs(o - e).max()
        assert err <= 4 * own + 1e-6 * np.abs(e).max(), f"{name}: {err} from float64 (Paddle's float32: {own})"


TRANSPOSED = [  # (x shape, weight shape [C_in, C_out / groups, k, k], stride, padding, output_padding, groups, bias)
    ((1, 8, 6, 7), (8, 4, 3, 3), 2, 1, 1, 1, True),  # CycleGAN's upsampling
    ((2, 6, 5, 5), (6, 2, 4, 4), 2, 1, 0, 3, False),  # pix2pix's, grouped
    ((1, 4, 5, 4), (4, 3, 3, 3), 1, 0, 0, 1, True),
]


@pytest.mark.parametrize("geometry", TRANSPOSED, ids=lambda g: "x%s_w%s_s%d" % ("x".join(map(str, g[0])), "x".join(map(str, g[1])), g[2]))
def test_transposed_values_and_gradients_match_float64(geometry):
    x_shape, w_shape, stride, padding, output_padding, groups, bias = geometry
    rng = np.random.default_rng(4)
    x0, w0 = rng.standard_normal(x_shape), rng.standard_normal(w_shape) * 0.3
    b0 = rng.standard_normal(w_shape[1] * groups) if bias else None
    kw = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups)
    g0 = rng.standard_normal(F.conv2d_transpose(paddle.to_tensor(x0), paddle.to_tensor(w0), **kw).shape)
    exact = _run(F.conv2d_transpose, x0, w0, b0, g0, "float64", **kw)
    paddle32 = _run(F.conv2d_transpose, x0, w0, b0, g0, "float32", **kw)
    onednn = _run(onednn_conv.conv2d_transpose, x0, w0, b0, g0, "float32", **kw)
    for name, e, p, o in zip(("y", "dx", "dw", "db"), exact, paddle32, onednn):
        assert o.shape == e.shape, name
        own, err = np.abs(p - e).max(), np.abs(o - e).max()
        assert err <= 4 * own + 1e-6 * np.abs(e).max(), f"{name}: {err} from float64 (Paddle's float32: {own})"


def test_transposed_layer_is_conv2d_transpose_with_the_same_keys(monkeypatch):
    calls = []
    real = onednn_conv._TransposedConvolution.apply
    monkeypatch.setattr(onednn_conv._TransposedConvolution, "apply", lambda *a: calls.append(1) or real(*a))
    paddle.seed(1)
    layer = OneDNNConv2DTranspose(8, 4, 3, stride=2, padding=1, output_padding=1)
    plain = paddle.nn.Conv2DTranspose(8, 4, 3, stride=2, padding=1, output_padding=1)
    assert layer.state_dict().keys() == plain.state_dict().keys()
    plain.set_state_dict(layer.state_dict())
    x = paddle.randn([1, 8, 9, 9])
    y = layer(x)
    np.testing.assert_allclose(y.numpy(), plain(x).numpy(), rtol=0, atol=1e-5)
    assert len(calls) == 1 and y.shape == [1, 4, 18, 18]
    assert layer(x, output_size=[17, 17]).shape == [1, 4, 17, 17]  # an explicit output size: Paddle's kernel
    assert len(calls) == 1


def test_same_call_twice_is_identical_and_frozen_inputs_get_no_gradient():
    rng = np.random.default_rng(1)
    x = paddle.to_tensor(rng.standard_normal((1, 4, 16, 16)).astype("float32"))  # stop_gradient: a detached fake
    w = paddle.to_tensor(rng.standard_normal((8, 4, 3, 3)).astype("float32"), stop_gradient=False)
    first = onednn_conv.conv2d(x, w, padding=1)
    second = onednn_conv.conv2d(x, w, padding=1)
    assert np.array_equal(first.numpy(), second.numpy())
    (first * first).sum().backward()
    assert x.grad is None and w.grad is not None and float(paddle.abs(w.grad).sum()) > 0
    w.stop_gradient = True
    x.stop_gradient = False
    y = onednn_conv.conv2d(x, w, padding=1)
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    with paddle.no_grad():
        assert onednn_conv.conv2d(x, w, padding=1).stop_gradient


def test_strided_view_input():
    """A non-contiguous input (a column slice) is copied before oneDNN reads it."""
    rng = np.random.default_rng(2)
    base = paddle.to_tensor(rng.standard_normal((1, 3, 12, 20)).astype("float32"))
    w = paddle.to_tensor(rng.standard_normal((4, 3, 3, 3)).astype("float32"))
    view = base[:, :, :, 4:16]
    expected = F.conv2d(paddle.to_tensor(view.numpy()), w)
    np.testing.assert_allclose(onednn_conv.conv2d(view, w).numpy(), expected.numpy(), rtol=0, atol=1e-5)


def test_banded_conv_layer_uses_onednn_where_it_is_faster(monkeypatch):
    calls = []
    real = onednn_conv.conv2d
    monkeypatch.setattr(onednn_conv, "conv2d", lambda *a, **k: calls.append(1) or real(*a, **k))
    paddle.seed(0)
    layer = BandedConv2D(4, 6, 3)
    x = paddle.randn([1, 4, 12, 12])
    expected = F.conv2d(x, layer.weight, layer.bias)
    np.testing.assert_allclose(layer(x).numpy(), expected.numpy(), rtol=0, atol=1e-5)
    assert len(calls) == 1  # 10x10 output pixels
    layer(paddle.randn([1, 4, 6, 6]))  # 4x4 outputs: Paddle's im2col + GEMM
    BandedConv2D(4, 6, 1)(x)  # 1x1 kernel: a plain matrix product
    assert len(calls) == 1
    monkeypatch.setattr(conv_module, "ONEDNN_MIN_PIXELS", 16)
    layer(paddle.randn([1, 4, 6, 6]))
    assert len(calls) == 2


def test_switched_off(monkeypatch):
    monkeypatch.setattr(onednn_conv, "ENABLED", False)
    assert not onednn_conv.available()
    x, w = paddle.randn([1, 2, 8, 8]), paddle.randn([3, 2, 3, 3])
    np.testing.assert_array_equal(onednn_conv.conv2d(x, w).numpy(), F.conv2d(x, w).numpy())


def _penalty_gradients(monkeypatch, enabled, guard=True):
    from ppimg2img import losses
    from ppimg2img.nets.patchgan import NLayerDiscriminator
    monkeypatch.setattr(onednn_conv, "ENABLED", enabled)
    if not guard:
        monkeypatch.setattr(losses, "first_order_only", lambda: __import__("contextlib").nullcontext())
    paddle.seed(3)
    netD = NLayerDiscriminator(3, 8, n_layers=2)
    rng = np.random.default_rng(3)
    real, fake = (paddle.to_tensor(rng.uniform(-1, 1, (2, 3, 32, 32)).astype("float32")) for _ in range(2))
    penalty, _ = losses.gradient_penalty(netD, real, fake, type="real")
    penalty.backward()
    return float(penalty), {n: np.zeros(p.shape) if p.grad is None else p.grad.numpy() for n, p in netD.named_parameters()}


def test_wgan_gp_penalty_is_differentiated_twice_through_paddle_convolutions(monkeypatch):
    """The penalty's forward runs inside first_order_only: its parameter gradients (a double backward) equal
    those with oneDNN switched off; without the guard the oneDNN PyLayer refuses the double backward."""
    reference_value, reference = _penalty_gradients(monkeypatch, False)
    value, grads = _penalty_gradients(monkeypatch, True)
    assert abs(value - reference_value) <= 1e-5 * abs(reference_value)
    for name, g in reference.items():
        np.testing.assert_allclose(grads[name], g, rtol=1e-4, atol=1e-6 * np.abs(g).max(), err_msg=name)
    # Paddle wraps the error raised in a PyLayer backward into an OSError
    with pytest.raises((RuntimeError, OSError), match="first_order_only"):  # not silently wrong second-order terms
        _penalty_gradients(monkeypatch, True, guard=False)


@pytest.mark.parametrize("frozen", ["weight", "bias", "input"])
def test_partly_frozen_layer_gets_the_gradients_it_asks_for(frozen):
    rng = np.random.default_rng(5)
    x0, w0, b0 = rng.standard_normal((1, 3, 9, 9)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    grads = {}
    for name, fn in (("paddle", F.conv2d), ("onednn", onednn_conv.conv2d)):
        x, w, b = (paddle.to_tensor(v.astype("float32"), stop_gradient=False) for v in (x0, w0, b0))
        {"weight": w, "bias": b, "input": x}[frozen].stop_gradient = True
        (fn(x, w, b) ** 2).sum().backward()
        grads[name] = {k: None if t.grad is None else t.grad.numpy() for k, t in (("input", x), ("weight", w), ("bias", b))}
    assert grads["onednn"][frozen] is None
    for k, g in grads["paddle"].items():
        if k != frozen:
            np.testing.assert_allclose(grads["onednn"][k], g, rtol=1e-4, atol=1e-4 * np.abs(g).max(), err_msg=k)


def test_wrong_channels_and_strided_weights():
    """A weight that does not fit the input gets Paddle's own error (not oneDNN reading past it); a strided
    weight view is copied before oneDNN reads it."""
    with pytest.raises(ValueError):
        BandedConv2D(3, 8, 3)(paddle.randn([1, 1, 12, 12]))
    rng = np.random.default_rng(6)
    x = paddle.to_tensor(rng.standard_normal((1, 4, 10, 10)).astype("float32"))
    w = paddle.to_tensor(rng.standard_normal((4, 6, 3, 3)).astype("float32")).transpose([1, 0, 2, 3])
    expected = F.conv2d(x, paddle.to_tensor(w.numpy()))
    np.testing.assert_allclose(onednn_conv.conv2d(x, w).numpy(), expected.numpy(), rtol=0, atol=1e-5)
