"""Export: U-GAT-IT and photo2cartoon generators saved with ``paddle.jit.save`` run in Paddle
Inference with oneDNN and give the eager outputs. (Paddle 3.3's oneDNN cannot run interpolate ops,
so the nets upsample with unsqueeze/expand/reshape.)"""
import os

import numpy as np
import paddle
import paddle.inference as paddle_infer
import paddle.nn.functional as F
import pytest

from ppimg2img.nets.photo2cartoon import Photo2CartoonGenerator
from ppimg2img.nets.ugatit import UGATITGenerator, upsample_nearest2x

# Paddle's static-graph tracing warns about its own internals (and about saving a parameter-free layer)
pytestmark = pytest.mark.filterwarnings("ignore:Tensor do not have 'place' interface",
                                        "ignore:no variable in your model")


class ImageOutput(paddle.nn.Layer):
    """Export wrapper: the translated image only (the nets also return CAM logits and heatmap)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)[0]


class Upsample(paddle.nn.Layer):
    def forward(self, x):
        return upsample_nearest2x(x)


def export_and_run(layer, x, path):
    """jit.save ``layer`` for batches of ``x``'s image size, run ``x`` through a oneDNN predictor."""
    layer.eval()
    paddle.jit.save(layer, path, input_spec=[paddle.static.InputSpec([None, *x.shape[1:]], "float32", "x")])
    model_file = path + ".json" if os.path.exists(path + ".json") else path + ".pdmodel"
    config = paddle_infer.Config(model_file, path + ".pdiparams")
    config.disable_gpu()
    config.enable_mkldnn()
    config.disable_glog_info()
    predictor = paddle_infer.create_predictor(config)
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    handle.reshape(list(x.shape))
    handle.copy_from_cpu(x)
    predictor.run()
    return predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()


def _input(size, batch=2, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (batch, 3, size, size)).astype("float32")


def test_upsample_runs_under_onednn_and_equals_interpolate(tmp_path):
    x = _input(8, batch=1)
    out = export_and_run(Upsample(), x, str(tmp_path / "up" / "model"))
    expected = F.interpolate(paddle.to_tensor(x), scale_factor=2, mode="nearest").numpy()
    assert out.shape == (1, 3, 16, 16)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6)  # nearest upsampling copies values


@pytest.mark.parametrize("light", [True, False])
def test_ugatit_generator_export_parity(tmp_path, light):
    paddle.seed(0)
    net = ImageOutput(UGATITGenerator(ngf=4, n_blocks=2, img_size=32, light=light))
    net.eval()
    x = _input(32)
    eager = net(paddle.to_tensor(x)).numpy()
    out = export_and_run(net, x, str(tmp_path / "ugatit" / "model"))
    assert out.shape == (2, 3, 32, 32)
    # graph on oneDNN vs eager: other kernels; tanh outputs in [-1, 1], float32 rounding ~1e-6
    np.testing.assert_allclose(out, eager, rtol=0, atol=1e-5)


def test_photo2cartoon_generator_export_parity(tmp_path):
    paddle.seed(0)
    net = ImageOutput(Photo2CartoonGenerator(ngf=8, img_size=32, light=True))
    net.eval()
    x = _input(32, batch=1)
    eager = net(paddle.to_tensor(x)).numpy()
    out = export_and_run(net, x, str(tmp_path / "p2c" / "model"))
    assert out.shape == (1, 3, 32, 32)
    # This net amplifies float32 rounding (its 8x8 hourglass levels normalise small maps): eager float32
    # and float64 differ by ~6e-5 on the reference fixture; the graph's fused kernels are further off
    # on some CPUs (1.9e-4 from float64 on an AVX-512 Xeon, see test_inference_backend): 5e-4.
    np.testing.assert_allclose(out, eager, rtol=0, atol=5e-4)
