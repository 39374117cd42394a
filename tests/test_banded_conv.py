"""BandedConv2D (ppimg2img/nets/conv.py): convolving bands of output rows gives nn.Conv2D's output and
gradients, keeps the parameters and keys, and falls back to one plain call where bands do not apply."""
import numpy as np
import paddle
import paddle.nn as nn
import pytest

import ppimg2img.nets.conv as conv_module
from ppimg2img.nets.conv import BandedConv2D


@pytest.fixture(autouse=True)
def paddle_convolutions(monkeypatch):
    """Bands are the path where oneDNN is missing (tests/test_onednn_conv.py tests the oneDNN path)."""
    monkeypatch.setattr(conv_module, "ONEDNN_MIN_PIXELS", 2**62)


def _pair(monkeypatch, band_bytes, cin, cout, k, **kwargs):
    """A BandedConv2D and an nn.Conv2D with the same weights; bands limited to ``band_bytes``."""
    monkeypatch.setattr(conv_module, "BAND_BYTES", band_bytes)
    paddle.seed(0)
    banded = BandedConv2D(cin, cout, k, **kwargs)
    plain = nn.Conv2D(cin, cout, k, **kwargs)
    plain.set_state_dict(banded.state_dict())
    return banded, plain


def _forward_backward(layer, x):
    x = paddle.to_tensor(x, stop_gradient=False)
    y = layer(x)
    weights = paddle.linspace(-1, 1, y.size).reshape(y.shape)  # a loss that weighs every output differently
    (y * weights).sum().backward()
    grads = {"x": x.grad.numpy()} | {n: p.grad.numpy() for n, p in layer.named_parameters()}
    return y.numpy(), grads


@pytest.mark.parametrize("k, stride, dilation, height", [(7, 1, 1, 20), (3, 2, 1, 21), (3, 1, 2, 17), (4, 2, 1, 18)])
def test_bands_equal_one_convolution(monkeypatch, k, stride, dilation, height):
    banded, plain = _pair(monkeypatch, 1, 4, 3, k, stride=stride, dilation=dilation)  # 1 byte: one row per band
    out_h = (height - dilation * (k - 1) - 1) // stride + 1
    assert banded._band_rows(paddle.zeros([2, 4, height, 9])) == 1 and out_h > 1
    x = np.random.default_rng(1).standard_normal((2, 4, height, 9)).astype("float32")
    (y_b, g_b), (y_p, g_p) = _forward_backward(banded, x), _forward_backward(plain, x)
    assert y_b.shape == y_p.shape == (2, 3, out_h, (9 - dilation * (k - 1) - 1) // stride + 1)
    np.testing.assert_allclose(y_b, y_p, rtol=1e-5, atol=1e-5)
    assert g_b.keys() == g_p.keys() == {"x", "weight", "bias"}
    for name in g_p:
        np.testing.assert_allclose(g_b[name], g_p[name], rtol=1e-4, atol=1e-5, err_msg=name)


def test_bands_hold_several_rows_within_the_budget(monkeypatch):
    row_bytes = 4 * 7 * 7 * 10 * 4  # C_in * k * k * W_out * 4 bytes
    banded, plain = _pair(monkeypatch, 3 * row_bytes, 4, 3, 7)
    x = paddle.randn([1, 4, 30, 16])
    assert banded._band_rows(x) == 3
    np.testing.assert_allclose(banded(x).numpy(), plain(x).numpy(), rtol=1e-5, atol=1e-5)


def test_same_parameters_and_keys_as_conv2d():
    banded = BandedConv2D(64, 3, 7, padding=0)
    plain = nn.Conv2D(64, 3, 7, padding=0)
    assert isinstance(banded, nn.Conv2D)
    assert {k: v.shape for k, v in banded.state_dict().items()} == {k: v.shape for k, v in plain.state_dict().items()}


def test_one_plain_call_where_bands_do_not_apply(monkeypatch):
    monkeypatch.setattr(conv_module, "BAND_BYTES", 1)
    x = paddle.zeros([1, 4, 20, 20])
    assert BandedConv2D(4, 3, 3, padding=1)._band_rows(x) is None  # zero padding is the conv's own
    assert BandedConv2D(4, 3, 3, padding=1, padding_mode="reflect")._band_rows(x) is None
    assert BandedConv2D(4, 3, 3, data_format="NHWC")._band_rows(paddle.zeros([1, 20, 20, 4])) is None
    assert BandedConv2D(4, 3, 20)._band_rows(x) is None  # a single output row
    monkeypatch.setattr(conv_module, "BAND_BYTES", 2**40)
    assert BandedConv2D(4, 3, 3)._band_rows(x) is None  # the whole buffer fits


def test_static_graph_uses_the_plain_convolution(monkeypatch):
    """Exported graphs keep one conv2d op (bands are an eager CPU memory measure)."""
    banded, _ = _pair(monkeypatch, 1, 4, 3, 7)
    program = paddle.jit.to_static(banded, input_spec=[paddle.static.InputSpec([1, 4, 20, 20], "float32")],
                                   full_graph=True)
    x = paddle.randn([1, 4, 20, 20])
    np.testing.assert_allclose(program(x).numpy(), banded(x).numpy(), rtol=1e-5, atol=1e-5)
    ops = [op.name() for op in program.forward.concrete_program.main_program.global_block().ops]
    assert ops.count("pd_op.conv2d") == 1 and "pd_op.concat" not in ops, ops
