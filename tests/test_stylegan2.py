"""StyleGAN2 (issue 21) against the publishers' own code, and its parts against direct computations.

tests/data/stylegan2/ (README.md and fixtures.json there) holds weights written by rosinality's
stylegan2-pytorch (``train.py`` checkpoints and ``convert_weight.py`` files) and PaddleGAN's
StyleGANv2 (``.pdparams`` as its predictor reads them), at widths / 16, with inputs and what the
reference computes for them in float32 and float64. Checked here:

- ``load_generator`` infers size, style_dim, n_mlp and every width; G and D reproduce the stored
  outputs and gradients (the float32 and float64 rules are in :func:`_assert_f64_rule`), and
  ppimg2img's own float64 networks reproduce the reference's float64 results;
- ``latent_avg``/mean-w truncation, the train.py checkpoint's args and optimizer states;
- ``upfirdn2d`` against a direct NumPy implementation and rosinality's cases;
- the equalised-lr scales, the minibatch standard deviation by hand;
- R1 and the path-length penalty against central differences (float64);
- the FFHQ config-f 1024 parameter count and state-dict layout;
- a few StyleGAN2Model training steps on a tiny config, the EMA, the extra state.
"""
import json
import math
import os
import re

import numpy as np
import paddle
import pytest

from conftest import DATA
from ppimg2img.models.stylegan2 import StyleGAN2Model, accumulate, path_length_penalty, r1_penalty
from ppimg2img.nets.equalized import EqualConv2d, EqualLinear, minibatch_stddev
from ppimg2img.nets.stylegan2 import (ModulatedConv2d, StyleGAN2Discriminator, StyleGAN2Generator, make_kernel,
                                      set_second_order, upfirdn2d)
from ppimg2img.weights import load_generator, read_checkpoint
from ppimg2img.weights.convert import from_paddlegan_stylegan2, load_state_into
from ppimg2img.weights.load import select_net

SG = os.path.join(DATA, "stylegan2")
FILES = json.load(open(os.path.join(SG, "fixtures.json")))["files"]
NAMES = ["rosinality_s64_cm1", "rosinality_s64_cm2", "rosinality_s128_cm1", "rosinality_s128_cm2",
         "paddlegan_s64_cm1", "paddlegan_s128_cm2"]
ROSINALITY = [n for n in NAMES if n.startswith("rosinality")]
#: discriminator weights: file, framework (rosinality's 'd' entry, PaddleGAN's own file)
D_FILES = {"rosinality_s64_cm1": ("rosinality_s64_cm1.pt", "torch"),
           "rosinality_s128_cm1": ("rosinality_s128_cm1.pt", "torch"),
           "rosinality_s128_cm2": ("rosinality_s128_cm2.pt", "torch"),
           "paddlegan_s64_cm1": ("paddlegan_s64_cm1_d.pdparams", "paddle")}
WITH_LATENT_AVG = ["rosinality_s64_cm2", "rosinality_s128_cm1"]  # convert_weight.py files
TOL = 1e-4  # max-abs against the reference's float32 outputs (issue 21)
F64_TOL = 1e-9  # ppimg2img in float64 against the reference in float64, relative to the largest value
OUTPUT_KEYS = ("w", "out_const", "out_trunc05", "out_mix", "d_out", "d_in_grad", "z_grad")
pytestmark = pytest.mark.filterwarnings("ignore:Tensor do not have 'place' interface",
                                        "ignore:no variable in your model")


def _weights(name):
    return os.path.join(SG, name + (".pt" if name.startswith("rosinality") else ".pdparams"))


def _meta(name):
    return FILES[os.path.basename(_weights(name))]


def _meta_io(name):
    return FILES[name + "_io.npz"]


def _widths(meta):
    return [meta["channels"][str(2 ** i)] for i in range(2, int(math.log2(meta["size"])) + 1)]


class _DefaultDtype:
    """``with _DefaultDtype('float64'):`` builds float64 parameters; restores the previous default."""

    def __init__(self, dtype):
        self.dtype = dtype

    def __enter__(self):
        self.saved = paddle.get_default_dtype()
        paddle.set_default_dtype(self.dtype)

    def __exit__(self, *exc):
        paddle.set_default_dtype(self.saved)


def _load_d(name):
    fname, framework = D_FILES[name]
    obj = read_checkpoint(os.path.join(SG, fname))
    state = obj["d"] if framework == "torch" else from_paddlegan_stylegan2(obj)
    meta = FILES[fname]
    D = StyleGAN2Discriminator(meta["size"], channels=_widths(meta))
    load_state_into(D, state, framework, source=fname)
    D.eval()
    return D


class _Nets:
    """Loaded nets and their outputs, each computed once per (name, dtype) for the whole module."""

    def __init__(self):
        self.cache = {}

    def _get(self, key, make):
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]

    def G(self, name, dtype="float32"):
        def make():
            with _DefaultDtype(dtype):
                return load_generator(_weights(name))
        return self._get(("G", name, dtype), make)

    def D(self, name, dtype="float32"):
        def make():
            with _DefaultDtype(dtype):
                return _load_d(name)
        return self._get(("D", name, dtype), make) if name in D_FILES else None

    def io(self, name):
        return self._get(("io", name), lambda: dict(np.load(os.path.join(SG, name + "_io.npz"))))

    def outputs(self, name, dtype="float32"):
        return self._get(("out", name, dtype), lambda: _outputs(self.G(name, dtype), self.D(name, dtype),
                                                                self.io(name), dtype))


def _outputs(G, D, io, dtype):
    """What the reference stored, computed by ppimg2img (only the keys the file has, plus out_w)."""
    def t(key):
        return paddle.to_tensor(io[key].astype(dtype))

    out = {}
    z = t("z")
    with paddle.no_grad():
        out["w"] = G.style(z)
        out["out_const"] = G(z, noise_mode="const")
        out["out_w"] = G(out["w"], input_is_latent=True)
        if "out_trunc05" in io:
            out["out_trunc05"] = G(z, truncation=0.5, truncation_latent=t("truncation_latent"))
        if "out_mix" in io:
            out["out_mix"] = G([z, t("z2")], inject_index=3)
        if D is not None and "d_out" in io:
            out["d_out"] = D(t("d_in"))
    if "z_grad" in io:
        z.stop_gradient = False
        out["z_grad"], = paddle.grad((G(z) * t("r")).sum(), z)
    if D is not None and "d_in_grad" in io:
        x = t("d_in")
        x.stop_gradient = False
        out["d_in_grad"], = paddle.grad(D(x).sum(), x)
    return {k: v.numpy() for k, v in out.items()}


@pytest.fixture(scope="module")
def nets():
    return _Nets()


def _max_abs(a, b):
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())


def _f64_rule(ours, ref32, ref64):
    """(ok, ours' error, bound): max|ours - f64| <= 4 max|ref_f32 - f64| + 1e-6."""
    err, ref_err = _max_abs(ours, ref64), _max_abs(ref32, ref64)
    bound = 4 * ref_err + 1e-6
    return err <= bound, err, bound


# --- 1. load_generator's inferred dimensions; G and D against the reference ------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_load_generator_infers_every_dimension(nets, name):
    meta = _meta(name)
    G = nets.G(name)
    arch, kw = G.ppimg2img_arch
    assert arch == "stylegan2"
    assert (kw["size"], kw["style_dim"], kw["n_mlp"]) == (meta["size"], meta["style_dim"], meta["n_mlp"])
    assert (G.size, G.style_dim, G.n_mlp, G.n_latent) == (meta["size"], meta["style_dim"], meta["n_mlp"],
                                                          meta["n_latent"])
    assert [G.channels[2 ** i] for i in range(2, G.log_size + 1)] == _widths(meta)
    assert "channel_multiplier" not in kw and kw["channels"] == _widths(meta)  # widths/16: not the reference table


@pytest.mark.parametrize("name", NAMES)
def test_outputs_equal_reference(nets, name):
    """Every stored output (w, the constant-noise image, truncation 0.5 with the stored truncation
    latent, style mixing at inject_index 3, D's scores and D's input gradient) within 1e-4 max-abs of
    the reference's float32 result; where the reference's float64 result is stored, also
    max|ours - f64| <= 4 max|ref_f32 - f64| + 1e-6 (ours is as close to the exact value as the
    reference's own float32 computation, within a factor 4). G(w, input_is_latent=True) equals G(z)
    exactly (the reference's does too)."""
    io, ours = nets.io(name), nets.outputs(name)
    np.testing.assert_array_equal(ours["out_w"], ours["out_const"])
    report = {}
    for key in OUTPUT_KEYS:
        if key not in io or key == "z_grad":  # z_grad: test_z_grad_equals_reference
            continue
        err = _max_abs(ours[key], io[key])
        report[key] = f"{err:.1e}"
        assert err <= TOL, f"{name} {key}: max |ours - reference| = {err:.3g}"
        if key + "_f64" in io:
            ok, err64, bound = _f64_rule(ours[key], io[key], io[key + "_f64"])
            report[key] += f" (f64 {err64:.1e} <= {bound:.1e})"
            assert ok, f"{name} {key}: max |ours - float64| = {err64:.3g} > {bound:.3g}"
    print(name, report)


def _preactivations(G, z):
    """Every leaky-ReLU input of G for z: [(layer name, array)] (mapping network, then synthesis)."""
    acts = []
    h = G.style[0](z)
    for i, layer in enumerate(G.style[1:]):
        pre = paddle.matmul(h, layer.weight * layer.scale, transpose_y=True) + layer.bias * layer.lr_mul
        acts.append((f"style.{i + 1}", pre.numpy()))
        h = layer(h)
    hooks = []
    styled = [("conv1", G.conv1)] + [(f"convs.{i}", c) for i, c in enumerate(G.convs)]
    for lname, conv in styled:
        def hook(layer, inputs, lname=lname):
            acts.append((lname, (inputs[0] + layer.bias.reshape([1, -1, 1, 1])).numpy()))
        hooks.append(conv.activate.register_forward_pre_hook(hook))
    try:
        G(z)
    finally:
        for h in hooks:
            h.remove()
    return acts


@pytest.mark.parametrize("name", ROSINALITY)
def test_z_grad_equals_reference(nets, name):
    """z_grad = d sum(G(z) * r) / dz (constant noise) against the reference's float64 gradient:
    max|ours - f64| <= 4 max|ref_f32 - f64| + 1e-6, per sample.

    The gradient jumps where a leaky-ReLU input crosses 0 (slope 1 vs 0.2). A sample may fail the
    rule only when that is the cause (the fixture README: rounding that differs from torch's can land
    on the other side of a kink): one of its leaky-ReLU inputs then has the opposite sign in our
    float32 run and in our float64 run (which equals the reference's float64 gradient to 1e-9,
    test_float64_equals_reference_float64), with |value| < 1e-5 in float64."""
    io, ours = nets.io(name), nets.outputs(name)
    per_sample = [_f64_rule(ours["z_grad"][i], io["z_grad"][i], io["z_grad_f64"][i]) for i in range(len(io["z"]))]
    print(name, "z_grad: max |ours - ref f32|", f"{_max_abs(ours['z_grad'], io['z_grad']):.2e}",
          "per sample |ours - f64| <= bound:", [f"{e:.1e} <= {b:.1e}" for _, e, b in per_sample])
    bad = [i for i, (ok, _, _) in enumerate(per_sample) if not ok]
    if not bad:
        return
    z32 = paddle.to_tensor(io["z"])
    z64 = paddle.to_tensor(io["z"].astype("float64"))
    with paddle.no_grad():
        a32, a64 = _preactivations(nets.G(name), z32), _preactivations(nets.G(name, "float64"), z64)
    for i in bad:
        flips = [(lname, idx.tolist(), float(v32[i][tuple(idx)]), float(v64[i][tuple(idx)]))
                 for (lname, v32), (_, v64) in zip(a32, a64)
                 for idx in np.argwhere(np.sign(v32[i]) != np.sign(v64[i]))]
        print(f"{name} sample {i}: z_grad off by {per_sample[i][1]:.3g}; leaky-ReLU inputs of opposite sign in "
              f"float32 and float64 (layer, [channel, y, x], f32, f64): {flips}")
        assert flips and all(abs(v64) < 1e-5 for *_, v64 in flips), (
            f"{name} sample {i}: z_grad off by {per_sample[i][1]:.3g} without a leaky-ReLU kink to explain it")


@pytest.mark.parametrize("name", NAMES)
def test_float64_equals_reference_float64(nets, name):
    """ppimg2img's networks built in float64 reproduce every float64 result the reference stored
    (w, images, z_grad, d_out, d_in_grad) to 1e-9 relative to the largest value: no float32
    rounding left to hide a difference."""
    io, ours = nets.io(name), nets.outputs(name, "float64")
    report = {}
    for key in OUTPUT_KEYS:
        if key + "_f64" in io:
            ref = io[key + "_f64"]
            err = _max_abs(ours[key], ref)
            report[key] = f"{err:.1e}"
            assert err <= F64_TOL * max(1.0, float(np.abs(ref).max())), f"{name} {key} (float64): {err:.3g}"
    print(name, "float64 vs reference float64:", report)


# --- 2. the mean w for truncation -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", WITH_LATENT_AVG)
def test_latent_avg_is_loaded_and_used(nets, name):
    G, io = nets.G(name), nets.io(name)
    latent_avg = read_checkpoint(_weights(name))["latent_avg"]
    assert G.has_latent_avg()
    np.testing.assert_array_equal(G.latent_avg.numpy(), latent_avg)
    np.testing.assert_array_equal(io["truncation_latent"], latent_avg[None])  # what the reference used
    np.testing.assert_array_equal(G.truncation_center().numpy(), latent_avg[None])
    z = paddle.to_tensor(io["z"])
    with paddle.no_grad():
        default = G(z, truncation=0.5).numpy()
        given = G(z, truncation=0.5, truncation_latent=paddle.to_tensor(latent_avg[None])).numpy()
    np.testing.assert_array_equal(default, given)
    if "out_trunc05" in io:
        assert _max_abs(default, io["out_trunc05"]) <= TOL


@pytest.mark.parametrize("name", [n for n in NAMES if n not in WITH_LATENT_AVG])
def test_truncation_center_without_latent_avg(nets, name):
    """No latent_avg in the file: the centre is the mean w of 4096 mapped samples (z from NumPy's
    default_rng(0)); and G maps the fixture's own 4096 z to the reference's mean within 1e-5."""
    G, io = nets.G(name), nets.io(name)
    assert not G.has_latent_avg()
    z = np.random.default_rng(0).standard_normal((4096, G.style_dim)).astype(np.float32)
    with paddle.no_grad():
        mean = G.style(paddle.to_tensor(z)).mean(axis=0, keepdim=True).numpy()
        center = G.truncation_center().numpy()
        np.testing.assert_allclose(center, mean, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(center, G.mean_latent().numpy())
        seed = int(re.search(r"RandomState\((\d+)\)", _meta_io(name)["truncation_latent"]).group(1))
        z_ref = np.random.RandomState(seed).standard_normal((4096, G.style_dim)).astype(np.float32)
        ref_mean = G.style(paddle.to_tensor(z_ref)).mean(axis=0, keepdim=True).numpy()
        err = _max_abs(ref_mean, io["truncation_latent"])
        assert err <= 1e-5, err
        zz = paddle.to_tensor(io["z"])
        np.testing.assert_array_equal(G(zz, truncation=0.5).numpy(),
                                      G(zz, truncation=0.5, truncation_latent=paddle.to_tensor(center)).numpy())


# --- 3. rosinality's train.py checkpoint -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["rosinality_s64_cm1", "rosinality_s128_cm2"])
def test_train_py_checkpoint(nets, name):
    """train.py's {'g', 'd', 'g_ema', 'g_optim', 'd_optim', 'args', 'ada_aug_p'}: read without torch
    and without running anything; args as plain data; g_ema is the generator load_generator takes."""
    meta = _meta(name)
    obj = read_checkpoint(_weights(name))
    assert sorted(obj) == sorted(meta["top_level_keys"])
    args = obj["args"]
    assert type(args).__name__ != "Namespace" and not hasattr(args, "size")  # nothing set as attributes
    expected = meta["args (argparse.Namespace, train.py's parser defaults + what train.py sets)"]
    assert args.vars == expected
    assert obj["ada_aug_p"] == 0.0
    for opt, every in (("g_optim", expected["g_reg_every"]), ("d_optim", expected["d_reg_every"])):
        ratio = every / (every + 1)
        group, = obj[opt]["param_groups"]
        assert obj[opt]["state"] == {}
        assert group["lr"] == pytest.approx(expected["lr"] * ratio, rel=1e-12)
        assert tuple(group["betas"]) == pytest.approx((0.0, 0.99 ** ratio), rel=1e-12)
    _, key = select_net(obj)
    assert key == "g_ema"
    G = nets.G(name)
    state = G.state_dict()
    compared = 0
    for k, v in obj["g_ema"].items():
        if k in state:
            np.testing.assert_array_equal(state[k].numpy(), v, err_msg=k)
            compared += 1
    assert compared == len(state) - 1  # all but latent_avg (not in a train.py file)
    assert not np.array_equal(state["conv1.conv.weight"].numpy(), obj["g"]["conv1.conv.weight"])


# --- 4. upfirdn2d ---------------------------------------------------------------------------------------------

def np_upfirdn2d(x, kernel, up=(1, 1), down=(1, 1), pad=(0, 0, 0, 0)):
    """Direct NumPy upfirdn2d in float64: insert up-1 zeros after every sample, pad (negative: crop)
    by (x0, x1, y0, y1), true 2-D convolution with ``kernel`` (valid part), keep every down-th
    sample from the first. ``up``/``down`` are (x, y)."""
    (ux, uy), (dx, dy), (px0, px1, py0, py1) = up, down, pad
    x = np.asarray(x, np.float64)
    n, c, h, w = x.shape
    u = np.zeros((n, c, h * uy, w * ux))
    u[:, :, ::uy, ::ux] = x
    u = np.pad(u, ((0, 0), (0, 0), (max(py0, 0), max(py1, 0)), (max(px0, 0), max(px1, 0))))
    u = u[:, :, max(-py0, 0):u.shape[2] - max(-py1, 0), max(-px0, 0):u.shape[3] - max(-px1, 0)]
    kh, kw = kernel.shape
    oh, ow = u.shape[2] - kh + 1, u.shape[3] - kw + 1
    out = np.zeros((n, c, oh, ow))
    for a in range(kh):
        for b in range(kw):  # convolution: out[i, j] = sum u[i + a, j + b] k[kh-1-a, kw-1-b]
            out += u[:, :, a:a + oh, b:b + ow] * float(kernel[kh - 1 - a, kw - 1 - b])
    return out[:, :, ::dy, ::dx]


@pytest.mark.parametrize("up, down, pad", [(2, 1, (2, 1)), (1, 2, (1, 1)), (1, 1, (2, 2)), (2, 2, (1, 2)),
                                           (1, 1, (-1, 2, 0, -2)), (2, 1, (1, -1, -2, 2))])
def test_upfirdn2d_equals_numpy(up, down, pad):
    """An asymmetric kernel, so that a correlation (unflipped kernel) or swapped x/y pads would show."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 7, 9)).astype(np.float32)
    kernel = rng.uniform(0.1, 1.0, (4, 3)).astype(np.float32)
    ours = upfirdn2d(paddle.to_tensor(x), paddle.to_tensor(kernel), up=up, down=down, pad=pad).numpy()
    pad4 = pad if len(pad) == 4 else (pad[0], pad[1], pad[0], pad[1])
    ref = np_upfirdn2d(x, kernel, (up, up), (down, down), pad4)
    assert ours.shape == ref.shape
    assert _max_abs(ours, ref) <= 1e-6


def test_upfirdn2d_equals_rosinality_cases():
    """rosinality's upfirdn2d on its six cases: the NumPy version reproduces all six (checking it),
    ppimg2img's the five with the same factor on both axes (its networks use no other)."""
    cases = np.load(os.path.join(SG, "upfirdn2d_cases.npz"))
    x, kernel = cases["input"], cases["kernel"]
    np.testing.assert_allclose(kernel, make_kernel([1, 3, 3, 1]), rtol=0, atol=0)
    checked = 0
    for i in range(6):
        ux, uy, dx, dy, px0, px1, py0, py1 = (int(v) for v in cases[f"params_{i}"])
        ref = cases[f"out_{i}"]
        assert _max_abs(np_upfirdn2d(x, kernel, (ux, uy), (dx, dy), (px0, px1, py0, py1)), ref) <= 1e-6, i
        if ux == uy and dx == dy:
            ours = upfirdn2d(paddle.to_tensor(x), paddle.to_tensor(kernel), up=ux, down=dx,
                             pad=(px0, px1, py0, py1)).numpy()
            assert ours.shape == ref.shape and _max_abs(ours, ref) <= 1e-6, i
            checked += 1
    assert checked == 5


# --- 5. equalised learning rate, minibatch standard deviation -------------------------------------------------

def test_equalized_scales():
    paddle.seed(0)
    lin = EqualLinear(64, 16, lr_mul=0.01, bias_init=0.5)
    assert lin.scale == pytest.approx(0.01 / 8, rel=1e-15)
    conv = EqualConv2d(3, 5, 3, padding=1)
    assert conv.scale == pytest.approx(1 / math.sqrt(27), rel=1e-15)
    mod = ModulatedConv2d(6, 4, 3, style_dim=8)
    assert mod.scale == pytest.approx(1 / math.sqrt(54), rel=1e-15)
    assert mod.modulation.scale == pytest.approx(1 / math.sqrt(8), rel=1e-15)
    np.testing.assert_array_equal(mod.modulation.bias.numpy(), np.ones(6, np.float32))  # bias_init 1
    # EqualLinear: x (W * lr_mul / sqrt(in))^T + b * lr_mul
    x = np.random.default_rng(0).standard_normal((3, 64)).astype(np.float32)
    w, b = lin.weight.numpy().astype(np.float64), lin.bias.numpy().astype(np.float64)
    np.testing.assert_allclose(lin(paddle.to_tensor(x)).numpy(), x @ (w * 0.01 / 8).T + b * 0.01, rtol=0, atol=1e-6)
    # the mapping network stores N(0, 1/lr_mul^2): std 100 (4096 samples: +-1.1 % standard error)
    G = StyleGAN2Generator(size=8, style_dim=64, n_mlp=2, channel_divisor=64)
    for layer in G.style[1:]:
        assert layer.lr_mul == 0.01 and layer.scale == pytest.approx(0.01 / 8, rel=1e-15)
        assert 95 < float(layer.weight.numpy().std()) < 105
    assert 0.95 < float(G.convs[0].conv.weight.numpy().std()) < 1.05  # the others: N(0, 1)
    # in the published layout too: the fixture stores N(0, 1)/lr_mul mapping weights, 10 N(0,1) biases
    state = read_checkpoint(_weights("rosinality_s64_cm1"))["g_ema"]
    assert 90 < float(state["style.1.weight"].std()) < 110 and 7 < float(state["style.1.bias"].std()) < 13


def test_minibatch_stddev_by_hand():
    """8 samples, group 4: sample i is in group i mod 2 (the reference's view(4, -1, ...)). Group 0
    holds 1, 2, 3, 4 at channel 0 and 0, 0, 0, 2 at channel 1 (constant over the 2x2 pixels):
    biased variances 1.25 and 0.75, so its map is (sqrt(1.25 + 1e-8) + sqrt(0.75 + 1e-8)) / 2; group 1
    is group 0 times 2 (map doubled, up to the 1e-8)."""
    g0 = np.array([[1, 0], [2, 0], [3, 0], [4, 2]], np.float64)
    x = np.zeros((8, 2, 2, 2))
    x[0::2] = g0[:, :, None, None]
    x[1::2] = 2 * g0[:, :, None, None]
    out = minibatch_stddev(paddle.to_tensor(x.astype(np.float32))).numpy()
    assert out.shape == (8, 3, 2, 2)
    np.testing.assert_array_equal(out[:, :2], x.astype(np.float32))
    v0 = (math.sqrt(1.25 + 1e-8) + math.sqrt(0.75 + 1e-8)) / 2
    v1 = (math.sqrt(5.0 + 1e-8) + math.sqrt(3.0 + 1e-8)) / 2
    np.testing.assert_allclose(out[0::2, 2], np.full((4, 2, 2), v0), rtol=1e-6)
    np.testing.assert_allclose(out[1::2, 2], np.full((4, 2, 2), v1), rtol=1e-6)
    # a batch below the group size is one group
    two = minibatch_stddev(paddle.to_tensor(np.array([[[[1.0]]], [[[3.0]]]], np.float32))).numpy()
    np.testing.assert_allclose(two[:, 1], [[[1.0]], [[1.0]]], rtol=1e-6)
    with pytest.raises(ValueError, match=r"batch \(6\) must be a multiple of the group size \(4\)"):
        minibatch_stddev(paddle.zeros([6, 2, 2, 2]))


# --- 6. R1 and path length against finite differences (float64) -----------------------------------------------

def _directional_fd(net, f, eps=1e-6, seed=0):
    """(analytic <grad f, v>, central difference of f along v) for a random unit direction v over net's
    parameters; ``f()`` returns a 0-d tensor."""
    rng = np.random.default_rng(seed)
    params = list(net.parameters())
    v = [rng.standard_normal(p.shape) for p in params]
    norm = math.sqrt(sum(float((a * a).sum()) for a in v))
    v = [a / norm for a in v]
    for p in params:
        p.clear_gradient()
    f().backward()
    # a parameter the value does not depend on has no gradient (R1: D's last bias)
    analytic = sum(float((p.grad.numpy() * a).sum()) for p, a in zip(params, v) if p.grad is not None)
    base = [p.numpy().copy() for p in params]
    values = []
    for sign in (1, -1):
        for p, b, a in zip(params, base, v):
            p.set_value(b + sign * eps * a)
        values.append(float(f()))
    for p, b in zip(params, base):
        p.set_value(b)
    return analytic, (values[0] - values[1]) / (2 * eps)


def test_r1_penalty_against_finite_differences():
    """E_i ||grad_{x_i} sum D(x)||^2 with the gradient from central differences (float64, step 1e-6,
    batch 2 so the minibatch stddev couples the samples); and the penalty's own parameter gradient
    (the double backward R1 training uses) against central differences of the penalty."""
    with _DefaultDtype("float64"):
        paddle.seed(5)
        D = StyleGAN2Discriminator(size=8, channel_divisor=64)
        rng = np.random.default_rng(1)
        x = rng.uniform(-1, 1, (2, 3, 8, 8))
        penalty, pred = r1_penalty(D, paddle.to_tensor(x))
        with paddle.no_grad():
            np.testing.assert_allclose(pred.numpy(), D(paddle.to_tensor(x)).numpy(), rtol=1e-14)
            eps, grad = 1e-6, np.zeros_like(x)
            flat = x.reshape(-1)
            for j in range(flat.size):
                vals = []
                for sign in (1, -1):
                    xp = flat.copy()
                    xp[j] += sign * eps
                    vals.append(float(D(paddle.to_tensor(xp.reshape(x.shape))).sum()))
                grad.reshape(-1)[j] = (vals[0] - vals[1]) / (2 * eps)
        fd = float((grad ** 2).reshape(2, -1).sum(1).mean())
        print("R1: penalty", float(penalty), "finite differences", fd, "rel", abs(float(penalty) - fd) / fd)
        assert float(penalty) == pytest.approx(fd, rel=1e-7)
        analytic, numeric = _directional_fd(D, lambda: r1_penalty(D, paddle.to_tensor(x))[0])
        print("R1 parameter gradient: analytic", analytic, "finite differences", numeric)
        assert analytic == pytest.approx(numeric, rel=1e-6)


TINY_G = {"size": 8, "style_dim": 8, "n_mlp": 2, "channel_divisor": 64}


def _tiny_g64(seed=6):
    """A float64 tiny generator with every parameter random (the zero-initialised biases and noise
    strengths too, so that no term of a derivative vanishes by accident)."""
    with _DefaultDtype("float64"):
        paddle.seed(seed)
        G = StyleGAN2Generator(**TINY_G)
        for p in G.parameters():
            p.set_value(p.numpy() + 0.1 * np.random.default_rng(p.size).standard_normal(p.shape))
    return G


def _path_penalty(G, z, mean_path=0.7, decay=0.01, noise_seed=11):
    """path_length_penalty on G(z) (constant noise), its y drawn after paddle.seed(noise_seed)."""
    fake, latents = G(z, return_latents=True)
    paddle.seed(noise_seed)
    return path_length_penalty(fake, latents, mean_path, decay), fake, latents


def test_path_length_penalty_against_finite_differences():
    """StyleGAN2 eq. 4 (rosinality's g_path_regularize): J_w^T y by central differences of
    sum(G(w) * y) over every element of the [N, n_latent, style_dim] latents (float64, step 1e-6), y
    the function's own noise (same Paddle seed); the lengths sqrt(mean_latents sum_dim (J^T y)^2),
    the running mean's update m + 0.01 (mean length - m) and the penalty mean((length - new mean)^2)
    from them by hand."""
    G = set_second_order(_tiny_g64(), True)
    with _DefaultDtype("float64"):
        z = paddle.to_tensor(np.random.default_rng(2).standard_normal((2, 8)))
        mean_path, decay = 0.7, 0.01
        (pen, new_mean, length_mean), fake, latents = _path_penalty(G, z, mean_path, decay)
        paddle.seed(11)
        y = (paddle.randn(fake.shape, dtype="float64") / math.sqrt(8 * 8)).numpy()
        lat = latents.numpy()
        eps, jty = 1e-6, np.zeros_like(lat)
        with paddle.no_grad():
            for j in range(lat.size):
                vals = []
                for sign in (1, -1):
                    lp = lat.reshape(-1).copy()
                    lp[j] += sign * eps
                    out = G(paddle.to_tensor(lp.reshape(lat.shape)), input_is_latent=True).numpy()
                    vals.append(float((out * y).sum()))
                jty.reshape(-1)[j] = (vals[0] - vals[1]) / (2 * eps)
    lengths = np.sqrt((jty ** 2).sum(2).mean(1))
    path_mean = mean_path + decay * (lengths.mean() - mean_path)
    expected = float(((lengths - path_mean) ** 2).mean())
    print("path length: penalty", float(pen), "finite differences", expected, "lengths", lengths)
    assert length_mean == pytest.approx(lengths.mean(), rel=1e-8)
    assert new_mean == pytest.approx(path_mean, rel=1e-8)
    assert float(pen) == pytest.approx(expected, rel=1e-6)


def _modconv_flags_in_train_step(monkeypatch):
    """The (second_order, fused) flags of every ModulatedConv2d of netG at the moment
    StyleGAN2Model.train_step calls path_length_penalty (a spy on the call)."""
    import ppimg2img.models.stylegan2 as sg2_model

    m = _tiny_model()
    m.set_input({"image": np.random.default_rng(0).uniform(-1, 1, (4, 3, 8, 8)).astype(np.float32)})
    flags, real = {}, sg2_model.path_length_penalty

    def spy(*args, **kwargs):
        flags.update({n: (l.second_order, getattr(l, "fused", True)) for n, l in m.nets["netG"].named_sublayers()
                      if isinstance(l, ModulatedConv2d)})
        return real(*args, **kwargs)

    monkeypatch.setattr(sg2_model, "path_length_penalty", spy)
    m.train_step()
    assert flags, "train_step took no path-length step at step 0"
    return flags


def _penalty_gradient_check(G):
    """(analytic, central difference) of the path-length penalty's derivative along a random
    direction over all of G's parameters (float64, step 1e-6)."""
    with _DefaultDtype("float64"):
        z = paddle.to_tensor(np.random.default_rng(2).standard_normal((2, 8)))
        return _directional_fd(G, lambda: _path_penalty(G, z)[0][0])


def test_path_length_penalty_gradient_as_trained(monkeypatch):
    """The penalty's gradient with G configured as StyleGAN2Model.train_step configures it for the
    path-length step, against central differences of the penalty itself (float64): what the
    optimizer receives must be the penalty's derivative."""
    flags = _modconv_flags_in_train_step(monkeypatch)
    G = _tiny_g64()
    for name, layer in G.named_sublayers():
        if isinstance(layer, ModulatedConv2d):
            layer.second_order, fused = flags[name]
            if hasattr(layer, "fused"):
                layer.fused = fused
    analytic, numeric = _penalty_gradient_check(G)
    print("path-length parameter gradient as trained: analytic", analytic, "finite differences", numeric)
    assert analytic == pytest.approx(numeric, rel=1e-6)


def test_path_length_penalty_gradient_fused_is_wrong_in_paddle():
    """Why set_second_order also unfuses: through the fused (style-in-the-filter) modulated
    convolution, Paddle 3.3's conv2d double backward drops terms, and the penalty's gradient is off
    (analytic -1.15e-3 vs -1.05e-3). If this starts passing, Paddle fixed it and the fused path can
    be used for the path-length step again."""
    G = set_second_order(_tiny_g64(), True)
    for layer in G.sublayers():
        if isinstance(layer, ModulatedConv2d):
            layer.fused = True
    analytic, numeric = _penalty_gradient_check(G)
    assert analytic != pytest.approx(numeric, rel=1e-3)


def test_path_length_penalty_gradient_unfused():
    """The same check with the unfused modulated convolution (the style multiplies the input; its
    gradient goes through the conv input, whose double backward Paddle has right)."""
    G = set_second_order(_tiny_g64(), True)
    assert all(not layer.fused for layer in G.sublayers() if isinstance(layer, ModulatedConv2d))
    analytic, numeric = _penalty_gradient_check(G)
    print("path-length parameter gradient, unfused: analytic", analytic, "finite differences", numeric)
    assert analytic == pytest.approx(numeric, rel=1e-6)


def test_second_order_path_same_forward(nets):
    """set_second_order swaps the transposed convolution for a zero-insert convolution and unfuses the
    modulation: the same images within float32 rounding."""
    G, io = nets.G("rosinality_s64_cm1"), nets.io("rosinality_s64_cm1")
    z = paddle.to_tensor(io["z"])
    try:
        with paddle.no_grad():
            a = set_second_order(G, False)(z).numpy()
            b = set_second_order(G, True)(z).numpy()
    finally:
        set_second_order(G, False)
    err = _max_abs(a, b)
    print("set_second_order True vs False:", err)
    assert err <= 3e-5  # two float32 paths (unfused, zero-insert); the reference's own float32 error: 6.5e-6
    assert _max_abs(b, io["out_const"]) <= TOL


# --- 7. FFHQ config-f 1024: parameter count and state-dict layout ---------------------------------------------

@pytest.fixture(scope="module")
def ffhq_1024():
    paddle.seed(0)
    G, D = StyleGAN2Generator(1024, 512, 8, 2), StyleGAN2Discriminator(1024, 2)
    yield G, D
    del G, D


def _is_kernel(key):
    return key.endswith(".kernel")  # the fixed FIR filters, built by ppimg2img itself (not in its state dict)


def test_ffhq_config_f_parameter_count(ffhq_1024):
    """30,370,060: the official release's figure, which is rosinality's trainable parameters (the
    fixture README): it leaves out the 17 noise maps, latent_avg and the FIR kernels. ppimg2img's state
    dict is the reference's minus the kernels plus latent_avg, key for key and shape for shape."""
    G, D = ffhq_1024
    ref = json.load(open(os.path.join(SG, "stylegan2_ffhq_config_f_1024_shapes.json")))
    counts = ref["counts"]
    n_g = sum(int(p.size) for p in G.parameters())
    n_map = sum(int(p.size) for p in G.style.parameters())
    n_d = sum(int(p.size) for p in D.parameters())
    print(f"StyleGAN2 FFHQ config-f 1024: G {n_g:,} parameters (mapping {n_map:,}, synthesis {n_g - n_map:,}); "
          f"D {n_d:,}")
    assert n_g == counts["G_parameters"] == 30_370_060
    assert n_map == counts["G_mapping_parameters"] == 2_101_248
    assert n_d == counts["D_parameters"] == 29_012_513
    for net, ref_state, extra in ((G, ref["generator_state_dict"], {"latent_avg": [512]}),
                                  (D, ref["discriminator_state_dict"], {})):
        ours = {k: list(v.shape) for k, v in net.state_dict().items()}
        expected = {**{k: v for k, v in ref_state.items() if not _is_kernel(k)}, **extra}
        assert ours == expected
    g_state = G.state_dict()
    noise = sum(int(v.size) for k, v in g_state.items() if k.startswith("noises."))
    assert noise == counts["G_noise_buffer_elements"]
    assert sum(int(v.size) for v in g_state.values()) == (counts["G_state_dict_elements"]
                                                          - counts["G_fir_kernel_buffer_elements"] + 512)
    assert len(g_state) == counts["G_state_dict_keys"] - sum(map(_is_kernel, ref["generator_state_dict"])) + 1


# --- 8. StyleGAN2Model on a tiny config -----------------------------------------------------------------------

def _tiny_model(**kw):
    paddle.seed(0)
    m = StyleGAN2Model({"name": "stylegan2", "size": 8, "style_dim": 8, "n_mlp": 2, "channel_divisor": 64},
                       {"name": "stylegan2", "channel_divisor": 64}, d_reg_every=2, g_reg_every=2, **kw)
    m.setup_training({"lr": 0.002}, {"policy": "linear", "n_epochs": 1, "n_epochs_decay": 0})
    return m


def test_accumulate():
    paddle.seed(0)
    ema, net = (StyleGAN2Generator(size=8, style_dim=8, n_mlp=2, channel_divisor=64) for _ in range(2))
    before = {k: v.numpy().copy() for k, v in ema.state_dict().items()}
    target = {k: v.numpy() for k, v in net.state_dict().items()}
    accumulate(ema, net, 0.9)
    params = {k for k, _ in ema.named_parameters()}
    for k, v in ema.state_dict().items():
        if k in params:
            np.testing.assert_allclose(v.numpy(), 0.9 * before[k] + 0.1 * target[k], rtol=0, atol=1e-6, err_msg=k)
        else:  # buffers (noise maps, latent_avg) are not averaged
            np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)


def test_model_training_steps():
    """Three steps, batch 4, d_reg_every = g_reg_every = 2: R1 and path length at steps 0 and 2; the
    Adam corrections lr * k/(k+1), beta2 ** (k/(k+1)); G_ema <- beta G_ema + (1 - beta) G after every
    step (ema_kimg 0.004: beta = 0.5 ** (4 / 4) = 0.5); the running path mean 0.01 * length after the
    first; extra_state round trip."""
    m = _tiny_model(ema_kimg=0.004)
    for name, k in (("G", 2), ("D", 2)):
        opt = m.optimizers[name]
        assert opt.get_lr() == pytest.approx(0.002 * k / (k + 1))
        assert float(opt._beta1) == 0.0 and float(opt._beta2) == pytest.approx(0.99 ** (k / (k + 1)))
    rng = np.random.default_rng(0)
    m.set_input({"image": rng.uniform(-1, 1, (4, 3, 8, 8)).astype(np.float32)})
    history = []
    for step in range(3):
        ema_before = {k: p.numpy().copy() for k, p in m.nets["netG_ema"].named_parameters()}
        losses = m.train_step()
        history.append(losses)
        for k, p in m.nets["netG_ema"].named_parameters():
            g = dict(m.nets["netG"].named_parameters())[k].numpy()
            np.testing.assert_allclose(p.numpy(), 0.5 * ema_before[k] + 0.5 * g, rtol=0, atol=1e-6, err_msg=k)
        if step == 0:
            assert m.mean_path_length == pytest.approx(0.01 * losses["path_length"], rel=1e-6)
    for losses in history:
        assert {"D", "G", "real_score", "fake_score", "R1", "path", "path_length"} <= set(losses)
        assert all(math.isfinite(v) for v in losses.values()), losses
    assert history[0]["R1"] > 0 and history[0]["path_length"] > 0
    assert history[1]["R1"] == history[0]["R1"] and history[1]["path"] == history[0]["path"]  # no reg at step 1
    assert history[2]["R1"] != history[0]["R1"]  # taken again at step 2
    assert m.steps == 3
    state = m.extra_state()
    other = _tiny_model()
    other.set_extra_state(json.loads(json.dumps(state)))
    assert other.extra_state() == state
    assert state["steps"] == 3 and state["mean_path_length"] == m.mean_path_length
