"""The speed rewrites of issue 23 against the formulas they replace: same outputs and gradients within
float32 rounding, measured against float64 runs of the original formula (U-GAT-IT networks.py adaILN/ILN)."""
import numpy as np
import paddle
import pytest

from ppimg2img.nets.norm import layer_instance_norm, normalise
from ppimg2img.nets.ugatit import ILN, adaILN, upsample_nearest2x


def original_iln(x, rho, eps, gamma, beta):
    """The original adaILN/ILN written plainly (torch.mean / torch.var, unbiased)."""
    in_mean, in_var = x.mean(axis=[2, 3], keepdim=True), x.var(axis=[2, 3], keepdim=True)
    out_in = (x - in_mean) / paddle.sqrt(in_var + eps)
    ln_mean, ln_var = x.mean(axis=[1, 2, 3], keepdim=True), x.var(axis=[1, 2, 3], keepdim=True)
    out_ln = (x - ln_mean) / paddle.sqrt(ln_var + eps)
    return (rho * out_in + (1 - rho) * out_ln) * gamma + beta


def previous_iln(x, rho, eps, gamma, beta):
    """ppimg2img's formula before issue 23: two separate two-pass norms (nets/norm.py normalise)."""
    out_in = normalise(x, [2, 3], eps, unbiased=True)
    out_ln = normalise(x, [1, 2, 3], eps, unbiased=True)
    return (rho * out_in + (1 - rho) * out_ln) * gamma + beta


def _inputs(dtype, n=2, c=8, h=24, w=20, offset=3.0, seed=0):
    rng = np.random.default_rng(seed)
    x = offset + rng.standard_normal((n, c, h, w)) * rng.uniform(0.2, 2.0, (1, c, 1, 1))
    rho = rng.uniform(0, 1, (1, c, 1, 1))
    gamma = rng.uniform(0.5, 1.5, (n, c, 1, 1))
    beta = rng.standard_normal((n, c, 1, 1))
    up = rng.standard_normal((n, c, h, w))  # upstream gradient
    return [paddle.to_tensor(a.astype(dtype), stop_gradient=False) for a in (x, rho, gamma, beta)], \
        paddle.to_tensor(up.astype(dtype))


def _run(fn, dtype, **kw):
    (x, rho, gamma, beta), up = _inputs(dtype, **kw)
    out = fn(x, rho, 1e-5, gamma, beta)
    grads = paddle.grad([out], [x, rho, gamma, beta], grad_outputs=[up])
    return [out.numpy().astype("float64")] + [g.numpy().astype("float64") for g in grads]


@pytest.mark.parametrize("offset", [0.0, 20.0])
def test_layer_instance_norm_matches_the_original_forward_and_backward(offset):
    ref = _run(original_iln, "float64", offset=offset)
    new = _run(layer_instance_norm, "float32", offset=offset)
    old = _run(previous_iln, "float32", offset=offset)
    names = ("out", "d_x", "d_rho", "d_gamma", "d_beta")
    for name, r, a, b in zip(names, ref, new, old):
        scale = max(1.0, np.abs(r).max())
        err_new, err_old = np.abs(a - r).max() / scale, np.abs(b - r).max() / scale
        # float32 rounding: within a few ulps of the values' scale, and no worse than the previous formula's
        assert err_new < 2e-5, (name, err_new)
        assert err_new <= 3 * err_old + 1e-6, (name, err_new, err_old)
        assert np.abs(a - b).max() / scale < 2e-5, name
    # the rewrite itself in float64 is the original formula to float64 rounding
    new64 = _run(layer_instance_norm, "float64", offset=offset)
    for r, a in zip(ref, new64):
        np.testing.assert_allclose(a, r, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(r).max()))


def test_iln_layers_use_the_rewrite():
    (x, rho, gamma, beta), _ = _inputs("float64", c=4)
    layer = ILN(4)
    layer.rho.set_value(rho[0:1].astype("float32"))
    out = layer(x.astype("float32")).numpy()
    ref = original_iln(x, layer.rho.astype("float64"), 1e-5, layer.gamma.astype("float64"),
                       layer.beta.astype("float64")).numpy()
    np.testing.assert_allclose(out, ref, atol=2e-5)
    ada = adaILN(4)
    g, b = gamma[:, :, 0, 0], beta[:, :, 0, 0]
    out = ada(x.astype("float32"), g.astype("float32"), b.astype("float32")).numpy()
    ref = original_iln(x, paddle.full([1, 4, 1, 1], 0.9, "float64"), 1e-5, gamma, beta).numpy()
    np.testing.assert_allclose(out, ref, atol=2e-5)


def test_static_graph_plane_mean_matches_eager():
    """The exported graph takes plane means by average pooling (nets/norm.py plane_mean)."""
    (x, rho, gamma, beta), _ = _inputs("float32", offset=20.0)
    eager = layer_instance_norm(x, rho, 1e-5, gamma, beta).numpy()

    class Net(paddle.nn.Layer):
        def forward(self, t):
            return layer_instance_norm(t, rho, 1e-5, gamma, beta)

    for shape in ([2, 8, 24, 20], [2, 8, None, None]):  # known sizes: row/column pools; unknown: global pool
        static = paddle.jit.to_static(Net(), input_spec=[paddle.static.InputSpec(shape, "float32")], full_graph=True)
        np.testing.assert_allclose(static(x).numpy(), eager, atol=2e-5)


def test_upsample_nearest2x():
    x = paddle.arange(24, dtype="float32").reshape([1, 2, 3, 4])
    ref = np.repeat(np.repeat(x.numpy(), 2, axis=2), 2, axis=3)
    np.testing.assert_array_equal(upsample_nearest2x(x).numpy(), ref)


def test_cam_max_pooling_equals_max_over_the_plane():
    """class_activation's max-pooled logit (adaptive max pooling, as the original) against the previous
    ``x.max(axis=[2, 3])``: identical values and gradients (both route the gradient to the maximum)."""
    from ppimg2img.nets.ugatit import class_activation

    rng = np.random.default_rng(1)
    x = paddle.to_tensor(rng.standard_normal((2, 6, 5, 7)).astype("float32"), stop_gradient=False)
    gap_fc, gmp_fc = paddle.nn.Linear(6, 1), paddle.nn.Linear(6, 1)
    features, cam = class_activation(x, gap_fc, gmp_fc, gap_fc.weight, gmp_fc.weight)
    old_logit = gmp_fc(x.max(axis=[2, 3]))
    np.testing.assert_array_equal(cam[:, 1:].numpy(), old_logit.numpy())
    new_grad, = paddle.grad([cam[:, 1].sum()], [x])
    old_grad, = paddle.grad([old_logit.sum()], [x])
    np.testing.assert_array_equal(new_grad.numpy(), old_grad.numpy())


def _pad_forward_backward(layer, x, weights):
    x = paddle.to_tensor(x, stop_gradient=False)
    y = layer(x)
    (y * paddle.to_tensor(weights)).sum().backward()
    return y.numpy(), x.grad.numpy()


@pytest.mark.parametrize("shape, padding, mode", [((2, 3, 12, 10), 1, "reflect"),
                                                  ((1, 4, 9, 11), [3, 2, 1, 3], "reflect"),
                                                  ((1, 2, 7, 8), 2, "replicate")])
def test_eager_slice_pad_equals_pad3d(monkeypatch, shape, padding, mode):
    """ReflectPad2D's eager slices + concat: pad3d's values exactly; gradients within float32 rounding of
    float64 (pad3d's own float32 gradient sums the up to 4 contributions of a pixel in another order)."""
    import paddle.nn as nn

    import ppimg2img.nets.conv as conv_module
    from ppimg2img.nets.conv import ReflectPad2D

    monkeypatch.setattr(conv_module, "SLICE_PAD_ELEMENTS", 1)  # these tiny maps take the slice path
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape) * 5
    pl, pr, pt, pb = [padding] * 4 if isinstance(padding, int) else padding
    weights = rng.standard_normal((shape[0], shape[1], shape[2] + pt + pb, shape[3] + pl + pr))
    y_ref, g_ref = _pad_forward_backward(nn.Pad2D(padding, mode=mode), x, weights)  # float64
    y_pad3d, g_pad3d = _pad_forward_backward(nn.Pad2D(padding, mode=mode), x.astype("float32"),
                                             weights.astype("float32"))
    y, g = _pad_forward_backward(ReflectPad2D(padding, mode=mode), x.astype("float32"), weights.astype("float32"))
    assert np.array_equal(y, y_pad3d)
    np.testing.assert_allclose(y, y_ref, rtol=1e-7, atol=1e-6)
    scale = np.abs(g_ref).max()
    assert np.abs(g - g_ref).max() <= 1e-6 * scale and np.abs(g_pad3d - g_ref).max() <= 1e-6 * scale
    assert np.abs(g - g_pad3d).max() <= 2e-6 * scale


def test_small_or_static_pads_keep_pad3d(monkeypatch):
    import ppimg2img.nets.conv as conv_module
    from ppimg2img.nets.conv import ReflectPad2D

    calls = []
    monkeypatch.setattr(conv_module, "slice_pad_axis", lambda *a: calls.append(a) or a[0])
    pad = ReflectPad2D(1, mode="reflect")
    assert pad(paddle.zeros([1, 4, 8, 8])).shape == [1, 4, 10, 10] and not calls  # below SLICE_PAD_ELEMENTS
    monkeypatch.setattr(conv_module, "SLICE_PAD_ELEMENTS", 1)
    pad(paddle.zeros([1, 4, 8, 8]))
    assert len(calls) == 2  # one concat per axis
    assert ReflectPad2D(1, mode="constant")(paddle.ones([1, 1, 3, 3])).numpy()[0, 0, 0, 0] == 0  # pad3d


@pytest.mark.parametrize("family", ["photo2cartoon", "ugatit", "resnet"])
def test_generator_pads_are_slice_pads_and_export_as_slices(family):
    import paddle.nn as nn

    from ppimg2img.export.inference import SlicePad2D, inference_layers
    from ppimg2img.nets.conv import ReflectPad2D
    from ppimg2img.nets.photo2cartoon import Photo2CartoonGenerator

    from ppimg2img.nets import build_generator
    from ppimg2img.nets.ugatit import UGATITDiscriminator

    net = {"photo2cartoon": lambda: Photo2CartoonGenerator(ngf=4, img_size=32),
           "ugatit": lambda: paddle.nn.LayerList([build_generator("ugatit", ngf=4, n_blocks=2, img_size=32, light=True),
                                                 UGATITDiscriminator(3, ndf=4, n_layers=5)]),
           "resnet": lambda: build_generator("resnet_6blocks", ngf=4)}[family]()
    pads = [layer for layer in net.sublayers() if isinstance(layer, nn.Pad2D)]
    assert sum(isinstance(layer, ReflectPad2D) for layer in pads) == len(pads) > {"photo2cartoon": 100, "ugatit": 10, "resnet": 7}[family]
    with inference_layers(net, pool_norm=False):
        assert sum(isinstance(layer, SlicePad2D) for layer in net.sublayers()) == len(pads)
        assert not any(isinstance(layer, nn.Pad2D) for layer in net.sublayers())


def test_convolutions_just_over_the_band_limit_run_in_one_call(monkeypatch):
    """Bands only above BAND_ABOVE x BAND_BYTES: just over the limit, one call (no full-size slice gradients)."""
    import ppimg2img.nets.conv as conv_module
    from ppimg2img.nets.conv import BandedConv2D

    conv = BandedConv2D(4, 3, 3)
    x = paddle.zeros([1, 4, 22, 12])  # 20 x 10 outputs, each row unfolds 4*3*3*10*4 = 1440 bytes
    monkeypatch.setattr(conv_module, "BAND_BYTES", 1440 * 20 // conv_module.BAND_ABOVE)
    assert conv._band_rows(x) is None
    monkeypatch.setattr(conv_module, "BAND_BYTES", 1440 * 20 // conv_module.BAND_ABOVE - 1)
    assert conv._band_rows(x) == (1440 * 20 // conv_module.BAND_ABOVE - 1) // 1440


def test_predictors_export_ugatit_and_photo2cartoon_at_their_fixed_size(tmp_path):
    """Every input resized to ``size``: the export fixes it (row-then-column pooled plane means), the cache tag
    names it, and translate() runs any other size in eager mode; native_size keeps sizes dynamic."""
    import ppimg2img
    from ppimg2img.export.inference import is_current
    from ppimg2img.nets import build_generator
    from ppimg2img.weights.load import save_converted

    paddle.seed(13)
    kwargs = {"ngf": 4, "n_blocks": 2, "img_size": 32, "light": True}
    net = build_generator("ugatit", **kwargs)
    net.eval()
    weights = save_converted(net, str(tmp_path / "ugatit.pdparams"), "ugatit", kwargs)
    p = ppimg2img.UGATITPredictor(weights=weights, backend="inference", progress=False)
    prefix = p._export_prefix()
    assert p._export_side() == 32 and prefix.endswith("ugatit_AtoB_32/model")
    assert is_current(prefix, _fingerprint_of(p), image_size=32) and not is_current(prefix, _fingerprint_of(p))
    rng = np.random.default_rng(5)
    for side in (32, 24):  # 32: the exported graph; 24: eager
        x = rng.uniform(-1, 1, (1, 3, side, side)).astype("float32")
        with paddle.no_grad():
            want = net(paddle.to_tensor(x))[0].numpy()
        np.testing.assert_allclose(p._forward(x), want, atol=2e-5)
    native = ppimg2img.UGATITPredictor(weights=weights, backend="eager", native_size=True, progress=False)
    assert native._export_side() is None and native._export_prefix().endswith("ugatit_AtoB/model")


def _fingerprint_of(predictor):
    from ppimg2img.export.inference import weights_fingerprint

    arch = f"{predictor.arch} {sorted(predictor.arch_kwargs.items())} {predictor.direction}"
    return weights_fingerprint(predictor.weights_file, arch)


@pytest.mark.parametrize("sizes", ["fixed", "dynamic"])
def test_exported_instance_norms_are_onednn_layer_norms(tmp_path, sizes):
    """Under the inference recipe, U-GAT-IT's/photo2cartoon's instance norms (PlaneInstanceNorm2D) export as one
    ``layer_norm`` op each over [1, N*C, H*W] (nets/norm.py layer_norm_rows) when the sizes are fixed, as pooled
    oneDNN ops when not; run by Paddle Inference with oneDNN, both are within float32 rounding of float64 on
    values far from 0 (where a one-pass variance would cancel)."""
    import json

    from ppimg2img.export.inference import InferenceGenerator, inference_layers
    from ppimg2img.export.paddle_graph import export_generator, model_files
    from ppimg2img.nets.norm import PlaneInstanceNorm2D

    class Net(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.scale = paddle.nn.Conv2D(3, 3, 1)  # x * 4 + 20: mean 20, where a one-pass variance loses digits
            self.scale.weight.set_value(4.0 * paddle.eye(3).reshape([3, 3, 1, 1]))
            self.scale.bias.set_value(paddle.full([3], 20.0))
            self.norm = PlaneInstanceNorm2D(3, epsilon=1e-5, weight_attr=False, bias_attr=False)

        def forward(self, t):
            return self.norm(self.scale(t))

    prefix = str(tmp_path / "norm")
    with inference_layers(Net()) as net:
        export_generator(net, prefix, input_nc=3, image_size=24 if sizes == "fixed" else None)
    ops = json.dumps(json.load(open(model_files(prefix)[0])))
    assert "instance_norm" not in ops
    assert ("layer_norm" in ops, "pool2d" in ops) == ((True, False) if sizes == "fixed" else (False, True))
    x = np.random.default_rng(3).uniform(-1, 1, (2, 3, 24, 24)).astype("float32")
    got = InferenceGenerator(prefix, threads=1)(x)
    x64 = x.astype("float64") * 4.0 + 20.0
    centred = x64 - x64.mean(axis=(2, 3), keepdims=True)
    want = centred / np.sqrt((centred ** 2).mean(axis=(2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(got, want, atol=1e-5)  # measured: ~1e-6 (float32 rounding of x * 4 + 20 included)
