"""The onnxruntime backend of the predictors (issue 23): photo2cartoon's default on the CPU when paddle2onnx and
onnxruntime are installed (measured faster there than Paddle Inference and than PyTorch eager), cached like the
Paddle Inference export, and equal to the eager generator within float32 rounding."""
import logging
import os

import numpy as np
import paddle
import pytest

import ppimg2img
from ppimg2img.nets import build_generator
from ppimg2img.weights.load import save_converted

pytest.importorskip("onnxruntime")
pytest.importorskip("paddle2onnx")


@pytest.fixture(scope="module")
def cartoon_weights(tmp_path_factory):
    paddle.seed(23)
    kwargs = {"ngf": 4, "img_size": 32, "light": True}
    net = build_generator("photo2cartoon", **kwargs)
    return save_converted(net, str(tmp_path_factory.mktemp("p2c") / "p2c.pdparams"), "photo2cartoon", kwargs)


def _float64_and_eager(predictor, x):
    """The generator's output in float64 and in eager float32 (tiny random nets are ill-conditioned: the eager
    float32 output is ~1e-4 from float64 here)."""
    net64 = build_generator("photo2cartoon", **predictor.arch_kwargs)
    net64.set_state_dict(predictor.net.state_dict())
    net64.eval()
    net64.to(dtype="float64")
    with paddle.no_grad():
        want = net64(paddle.to_tensor(x.astype("float64")))[0].numpy()
        eager = predictor.net(paddle.to_tensor(x))[0].numpy()
    return want, eager


def test_auto_runs_photo2cartoon_with_onnxruntime_and_caches_it(cartoon_weights, caplog):
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 32, 32)).astype("float32")
    p = ppimg2img.Photo2CartoonPredictor(weights=cartoon_weights, size=32, progress=False)
    assert p.backend == "onnx"
    prefix = p._export_prefix("onnx")
    assert prefix.endswith("photo2cartoon_AtoB_32_onnx/model") and os.path.isfile(prefix + ".onnx")
    assert not os.path.exists(prefix + ".json")  # the Paddle graph was only the way to the ONNX file
    want, eager = _float64_and_eager(p, x)
    # measured: onnxruntime 2.3e-5 from float64, eager float32 1.4e-4, Paddle Inference 1.2e-4
    assert np.abs(p._forward(x) - want).max() <= max(np.abs(eager - want).max(), 1e-5)
    mtime = os.stat(prefix + ".onnx").st_mtime_ns
    with caplog.at_level(logging.INFO, logger="ppimg2img"):
        again = ppimg2img.Photo2CartoonPredictor(weights=cartoon_weights, size=32, progress=False)
    assert again.backend == "onnx" and os.stat(prefix + ".onnx").st_mtime_ns == mtime  # reused, not exported again


def test_onnx_graph_has_instance_normalization_and_reflect_pads(cartoon_weights):
    import onnx

    p = ppimg2img.Photo2CartoonPredictor(weights=cartoon_weights, backend="onnx", size=32, progress=False)
    ops = {node.op_type for node in onnx.load(p._export_prefix("onnx") + ".onnx").graph.node}
    assert "InstanceNormalization" in ops and "Pad" in ops


def test_auto_falls_back_to_paddle_inference_without_onnxruntime(cartoon_weights, monkeypatch):
    import ppimg2img.export.onnx as onnx_module

    monkeypatch.setattr(onnx_module, "onnx_runtime_available", lambda: False)
    p = ppimg2img.Photo2CartoonPredictor(weights=cartoon_weights, size=32, progress=False)
    assert p.backend == "inference"


def test_auto_falls_back_when_the_onnx_export_fails(cartoon_weights, monkeypatch, caplog):
    import ppimg2img.export.onnx as onnx_module
    from ppimg2img.export.paddle_graph import ExportError

    def broken(*args, **kwargs):
        raise ExportError("paddle2onnx could not convert the graph (test)")

    monkeypatch.setattr(onnx_module, "load_or_export_onnx", broken)
    with caplog.at_level(logging.WARNING, logger="ppimg2img"):
        p = ppimg2img.Photo2CartoonPredictor(weights=cartoon_weights, size=32, progress=False)
    assert p.backend == "inference"
    assert ("onnxruntime backend unavailable (ExportError: paddle2onnx could not convert the graph (test)); trying "
            "Paddle Inference") in caplog.text
    with pytest.raises(ExportError, match="could not convert"):  # asked for by name: the error, not a fallback
        ppimg2img.Photo2CartoonPredictor(weights=cartoon_weights, backend="onnx", size=32, progress=False)


def test_other_families_keep_paddle_inference(tmp_path):
    paddle.seed(3)
    kwargs = {"ngf": 4, "n_blocks": 2, "img_size": 32, "light": True}
    weights = save_converted(build_generator("ugatit", **kwargs), str(tmp_path / "ugatit.pdparams"), "ugatit", kwargs)
    assert ppimg2img.UGATITPredictor(weights=weights, progress=False).backend == "inference"


def test_onnx_instance_norm_is_centred_first(tmp_path):
    """onnxruntime's InstanceNormalization takes the variance in one pass (3e-5 off on values around 20); the
    export centres each plane by its mean first, so the norm stays at float32 rounding of float64."""
    from ppimg2img.export.onnx import load_or_export_onnx
    from ppimg2img.nets.norm import PlaneInstanceNorm2D

    class Net(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.scale = paddle.nn.Conv2D(3, 3, 1)  # x * 4 + 20
            self.scale.weight.set_value(4.0 * paddle.eye(3).reshape([3, 3, 1, 1]))
            self.scale.bias.set_value(paddle.full([3], 20.0))
            self.norm = PlaneInstanceNorm2D(3, epsilon=1e-5, weight_attr=False, bias_attr=False)

        def forward(self, t):
            return self.norm(self.scale(t))

    gen = load_or_export_onnx(Net(), str(tmp_path / "norm"), "test", image_size=48)
    x = np.random.default_rng(4).uniform(-1, 1, (2, 3, 48, 48)).astype("float32")
    x64 = x.astype("float64") * 4.0 + 20.0
    centred = x64 - x64.mean(axis=(2, 3), keepdims=True)
    want = centred / np.sqrt((centred ** 2).mean(axis=(2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(gen(x), want, atol=1e-5)
