"""load_generator against PaddleGAN's own network classes at the widths PaddleGAN releases (issue 17).

tests/data/paddlegan/wide/ (README.md there) holds, per fixture, what PaddleGAN's own
``ResnetGenerator`` (resnet_9blocks, ngf 32 and 64), ``UnetGenerator`` (num_downs 8, BatchNorm,
ngf 32 and 64), ``ResnetUGATITGenerator`` (light, ngf 32 and 64) and ``ResnetUGATITP2CGenerator``
(ngf 32, photo2cartoon's released width) at PaddleGAN commit 094a2eb computed in eval mode, in
float32 and float64, from weights drawn by a seeded recipe. The weights (up to 218 MB) are not
committed: ``fixtures.json`` lists every state_dict entry in PaddleGAN's order and layout
(``[key, shape, dtype, low, high]``; Linear weights ``[in, out]``, BatchNorm ``_mean``/``_variance``)
and they are rebuilt here with tests/data/original/recipe.py's SplitMix64 stream, then written
as PaddleGAN writes ``.pdparams`` (``paddle.save`` of a dict of NumPy state dicts, one per net,
as ``ppgan.utils.filesystem.save`` does; photo2cartoon's released file is a plain state dict)
and loaded with ``load_generator(path)`` alone: reader, layout, architecture inference, and the
BatchNorm batch statistics PaddleGAN uses in eval mode.

Checked per fixture: the inferred architecture and options; every output (U-GAT-IT's and
photo2cartoon's cam_logit and heatmap too) within 1e-4 of PaddleGAN's float32 output; and, where
PaddleGAN's float64 output is stored (as float64 minus float32, ``*_delta64.npy``; not for the
256x256 U-Net images), ours within 10x PaddleGAN's own float32 error of it.
"""
import importlib.util
import json
import os

import numpy as np
import paddle
import pytest

from conftest import DATA
from ppimg2img.weights import load_generator

WIDE = os.path.join(DATA, "paddlegan", "wide")
MANIFEST = json.load(open(os.path.join(WIDE, "fixtures.json")))
FIXTURES = MANIFEST["fixtures"]
TOL = 1e-4
_spec = importlib.util.spec_from_file_location("original_fixture_recipe", os.path.join(DATA, "original", "recipe.py"))
recipe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recipe)
pytestmark = pytest.mark.filterwarnings("ignore:Tensor do not have 'place' interface",
                                        "ignore:no variable in your model")


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("PPIMG2IMG_HOME", str(tmp_path / "cache"))


def paddlegan_file(spec, path):
    """The fixture's weights as PaddleGAN saves them: ``{net: {key: ndarray}}`` (CycleGANModel's
    netG_A/netG_B, Pix2PixModel's netG, UGATITModel's genA2B/genB2A; nets drawn one after another
    from the recipe's stream), or a plain state dict (photo2cartoon_genA2B_weight.pdparams)."""
    rec = spec["recipe"]
    stream = recipe.Stream(rec["seed"])
    if rec["nets"] is None:
        obj = recipe.make_state(rec["entries"], stream)
    else:
        obj = {net: recipe.make_state(rec["entries"], stream) for net in rec["nets"]}
    paddle.save(obj, path)
    return path


def test_fixture_set_covers_the_issue_matrix():
    have = {(s["family"], s["expect"]["ngf"]) for s in FIXTURES.values()}
    assert have == {("cyclegan", 32), ("cyclegan", 64), ("pix2pix", 32), ("pix2pix", 64),
                    ("ugatit", 32), ("ugatit", 64), ("photo2cartoon", 32)}
    assert MANIFEST["paddlegan_commit"] == "094a2eb"
    for spec in FIXTURES.values():
        for f in spec["outputs"] + spec["output64_minus_output"]:
            assert os.path.isfile(os.path.join(WIDE, f)), f
        assert all(e > 0 for e in spec["paddlegan_float32_vs_float64"])
        assert spec["input"]["shape"][0] == 1  # PaddleGAN's predictors run one image at a time


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_load_generator_reproduces_paddlegan_wide(name, tmp_path):
    spec = FIXTURES[name]
    path = paddlegan_file(spec, str(tmp_path / f"{name}.pdparams"))
    try:
        net = load_generator(path)
    finally:
        os.remove(path)
    arch, kwargs = net.ppimg2img_arch
    expect = dict(spec["expect"])
    assert arch == expect.pop("arch")
    assert {k: kwargs.get(k) for k in expect} == expect
    assert not net.training

    x = recipe.make_input(spec)
    with paddle.no_grad():
        out = net(paddle.to_tensor(x))
    got = [o.numpy() for o in out] if isinstance(out, (tuple, list)) else [out.numpy()]
    want = [np.load(os.path.join(WIDE, f)) for f in spec["outputs"]]
    assert len(got) >= len(want)  # U-GAT-IT / photo2cartoon: (image, cam_logit, heatmap)
    own = spec["paddlegan_float32_vs_float64"]
    deltas = spec["output64_minus_output"]
    for i, w in enumerate(want):
        g = got[i].astype(np.float64)
        assert g.shape == w.shape
        err32 = np.abs(g - w).max()
        assert err32 < TOL, f"{spec['outputs'][i]}: max|ours - PaddleGAN float32| = {err32:.3g}"
        if deltas:
            w64 = w.astype(np.float64) + np.load(os.path.join(WIDE, deltas[i])).astype(np.float64)
            assert np.isclose(np.abs(w - w64).max(), own[i], rtol=1e-6, atol=0)
            err64 = np.abs(g - w64).max()
            assert err64 <= 10 * own[i], (f"{spec['outputs'][i]}: max|ours - PaddleGAN float64| = {err64:.3g} > 10x "
                                          f"PaddleGAN's own float32 error {own[i]:.3g}")


def test_wide_unet_depends_on_paddlegans_batch_statistics(tmp_path):
    """At this width too the fixture tells PaddleGAN's eval-mode BatchNorm (the batch's statistics)
    from the original's (running statistics): the latter misses PaddleGAN's output by far (0.77)."""
    name = "pix2pix_unet_256_ngf32"
    spec = FIXTURES[name]
    path = paddlegan_file(spec, str(tmp_path / f"{name}.pdparams"))
    try:
        net = load_generator(path, eval_stats="running")
    finally:
        os.remove(path)
    with paddle.no_grad():
        out = net(paddle.to_tensor(recipe.make_input(spec))).numpy()
    assert np.abs(out - np.load(os.path.join(WIDE, spec["outputs"][0]))).max() > 0.1
