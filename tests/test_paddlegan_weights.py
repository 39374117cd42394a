"""PaddleGAN's layouts against files written by PaddleGAN's own network classes.

tests/data/paddlegan/ (README.md there) holds weights saved the way PaddleGAN saves them, by its
own ``ResnetGenerator``, ``UnetGenerator``, ``ResnetUGATITGenerator`` (light and full),
``ResnetUGATITP2CGenerator``, ``NLayerDiscriminator`` and ``UGATITDiscriminator`` at PaddleGAN
commit 094a2eb, with random weights (norm parameters and running statistics too), an input, and
what PaddleGAN's net gives for it in eval mode. ppimg2img must reproduce those outputs, keep the
semantics the names do not show (BatchNorm's batch statistics at test time) through converted
files, the model zoo's cache and exported graphs, and run the photo2cartoon predictor on
PaddleGAN's file. PaddleGAN's U-Net skip (x, not the original's LeakyReLU(x)) needs nothing: it
gives bit-identical results, which is checked here too.
"""
import dataclasses
import json
import os

import numpy as np
import paddle
import pytest

from conftest import DATA
from http_fixture import serve_folder
from ppimg2img.nets import build_discriminator, build_generator, eval_stats_of, set_eval_stats
from ppimg2img.weights import (WeightsMismatchError, load_generator, load_weights_into, read_checkpoint,
                               save_converted, zoo)

PG = os.path.join(DATA, "paddlegan")
FIXTURES = json.load(open(os.path.join(PG, "fixtures.json")))["fixtures"]
TOL = 1e-4  # against PaddleGAN's float32 outputs (measured: 3e-7 .. 1.2e-5)
pytestmark = pytest.mark.filterwarnings("ignore:Tensor do not have 'place' interface",
                                        "ignore:no variable in your model")


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    home = tmp_path / "cache"
    monkeypatch.setenv("PPIMG2IMG_HOME", str(home))
    return home


def path_of(fixture):
    return os.path.join(PG, FIXTURES[fixture]["file"])


def given(fixture):
    return np.load(os.path.join(PG, fixture + "_in.npy"))


def expected(fixture, key):
    return [np.load(os.path.join(PG, f)) for f in FIXTURES[fixture]["outputs"][key]]


def outputs(net, x):
    with paddle.no_grad():
        out = net(paddle.to_tensor(x))
    return [o.numpy() for o in out] if isinstance(out, (tuple, list)) else [out.numpy()]


def max_diff(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
    return max(float(np.abs(g - w).max()) for g, w in zip(got, want))


GENERATORS = [  # (fixture, key, arch and kwargs load_generator must infer)
    ("cyclegan_resnet_6blocks_ngf4", "netG_A", "resnet_6blocks", {"ngf": 4, "norm": "instance"}),
    ("cyclegan_resnet_6blocks_ngf4", "netG_B", "resnet_6blocks", {"ngf": 4, "norm": "instance"}),
    ("pix2pix_unet_128_ngf4", "netG", "unet_128",
     {"input_nc": 1, "output_nc": 2, "ngf": 4, "norm": "batch", "eval_stats": "batch"}),
    ("ugatit_light_ngf8", "genA2B", "ugatit", {"ngf": 8, "n_blocks": 2, "light": True}),
    ("ugatit_full_ngf8", "genA2B", "ugatit", {"ngf": 8, "n_blocks": 1, "light": False, "img_size": 16}),
    ("photo2cartoon_ngf8", "", "photo2cartoon", {"ngf": 8, "light": True}),
]


@pytest.mark.parametrize("fixture, key, arch, kwargs", GENERATORS,
                         ids=[f"{f}-{k or 'plain'}" for f, k, *_ in GENERATORS])
def test_load_generator_reproduces_paddlegan(fixture, key, arch, kwargs):
    """Every output (U-GAT-IT's and photo2cartoon's cam_logit and heatmap too) within 1e-4."""
    net = load_generator(path_of(fixture), key=key or None)
    assert net.ppimg2img_arch[0] == arch
    assert kwargs.items() <= net.ppimg2img_arch[1].items()
    assert max_diff(outputs(net, given(fixture)), expected(fixture, key)) < TOL


DISCRIMINATORS = [  # (fixture, key, discriminator name and options, eval statistics)
    ("cyclegan_resnet_6blocks_ngf4", "netD_A", "n_layers", {"ndf": 4, "n_layers": 3, "norm": "instance"}, "running"),
    ("pix2pix_unet_128_ngf4", "netD", "n_layers", {"input_nc": 3, "ndf": 8, "n_layers": 3, "norm": "batch"}, "batch"),
    ("ugatit_light_ngf8", "disLA", "ugatit", {"ndf": 8, "n_layers": 5}, "running"),
]


@pytest.mark.parametrize("fixture, key, name, kwargs, stats", DISCRIMINATORS, ids=[d[1] for d in DISCRIMINATORS])
def test_discriminators_load_and_reproduce_paddlegan(fixture, key, name, kwargs, stats):
    """build_discriminator + load_weights_into (+ set_eval_stats for PaddleGAN's BatchNorm)."""
    net = load_weights_into(build_discriminator(name, **kwargs), path_of(fixture), key=key)
    set_eval_stats(net, stats)
    net.eval()
    x = given(fixture)
    if key == "netD":  # Pix2PixModel's netD sees concat(input, netG's output)
        x = np.concatenate([x, expected(fixture, "netG")[0]], axis=1)
    assert max_diff(outputs(net, x), expected(fixture, key)) < TOL


def test_paddlegan_patchgan_has_no_first_bias_with_batchnorm():
    """PaddleGAN's NLayerDiscriminator builds its first conv with bias_attr=use_bias (False with
    BatchNorm): the file has no model.0.bias, which loads as zeros; every other key must be there."""
    state = read_checkpoint(path_of("pix2pix_unet_128_ngf4"))["netD"]
    assert "model.0.weight" in state and "model.0.bias" not in state
    net = load_weights_into(build_discriminator("n_layers", input_nc=3, ndf=8, n_layers=3, norm="batch"),
                            {"netD": state}, key="netD")
    assert not net.model[0].bias.numpy().any()
    del state["model.11.bias"]
    with pytest.raises(WeightsMismatchError, match=r"1 keys missing from the file: model\.11\.bias"):
        load_weights_into(build_discriminator("n_layers", input_nc=3, ndf=8, n_layers=3, norm="batch"),
                          {"netD": state}, key="netD")


def test_batch_statistics_are_what_makes_the_difference():
    """With running statistics (the original's eval mode) the PaddleGAN U-Net misses PaddleGAN's
    output by far; and the statistics are those of the whole batch: one image alone differs."""
    fixture, x = "pix2pix_unet_128_ngf4", given("pix2pix_unet_128_ngf4")
    want = expected(fixture, "netG")
    right = load_generator(path_of(fixture))
    assert max_diff(outputs(right, x), want) < TOL
    wrong = load_generator(path_of(fixture), eval_stats="running")
    assert max_diff(outputs(wrong, x), want) > 0.1
    alone = outputs(right, x[:1])[0]
    assert np.abs(alone - want[0][:1]).max() > 0.01


def _paddlegan_skip_forward(self, x):
    """PaddleGAN's UnetSkipConnectionBlock.forward: the skip carries x (non-in-place LeakyReLU)."""
    if self.outermost:
        return self.model(x)
    return paddle.concat([x, self.model(x)], 1)


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_paddlegan_and_original_skips_are_bit_identical(monkeypatch, mode):
    """The original's skip carries LeakyReLU(x) (in-place), PaddleGAN's x; the parent's up path
    starts with ReLU and ReLU(LeakyReLU(x)) = ReLU(x), so outputs and gradients are equal bit for bit."""
    from ppimg2img.nets.unet_generator import UnetSkipConnectionBlock

    net = load_generator(path_of("pix2pix_unet_128_ngf4"))
    getattr(net, mode)()
    trained = [p for name, p in net.named_parameters() if not name.endswith(("_mean", "_variance"))]
    for p in trained:
        p.stop_gradient = False
    state = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    x0 = given("pix2pix_unet_128_ngf4")

    def forward_backward():
        net.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
        x = paddle.to_tensor(x0)
        x.stop_gradient = False
        y = net(x)
        (y * y).sum().backward()
        grads = [x.grad.numpy()] + [p.grad.numpy() for p in trained]
        net.clear_gradients()
        return [y.numpy()] + grads

    ours = forward_backward()
    monkeypatch.setattr(UnetSkipConnectionBlock, "forward", _paddlegan_skip_forward)
    theirs = forward_backward()
    assert len(ours) == len(theirs) > 30
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
    monkeypatch.undo()
    # and the comparison can fail: a skip that is not fed through a ReLU would show
    monkeypatch.setattr(UnetSkipConnectionBlock, "forward",
                        lambda self, x: self.model(x) if self.outermost else paddle.concat([-x, self.model(x)], 1))
    assert np.abs(forward_backward()[0] - ours[0]).max() > 1e-3


def test_eval_batch_statistics_leave_the_running_statistics_alone():
    """Paddle's own use_global_stats=False (and PaddleGAN's trainable_statistics) updates the running
    statistics on every eval call; ppimg2img's eval_stats='batch' does not. Training is unchanged."""
    net = load_generator(path_of("pix2pix_unet_128_ngf4"))
    assert eval_stats_of(net) == "batch"
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    first = outputs(net, given("pix2pix_unet_128_ngf4"))[0]
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)
    np.testing.assert_array_equal(outputs(net, given("pix2pix_unet_128_ngf4"))[0], first)

    bn = paddle.nn.BatchNorm2D(4)  # what Paddle itself does, for the record
    bn.eval()
    bn._use_global_stats = False
    bn(paddle.to_tensor(np.full((2, 4, 2, 2), 3.0, np.float32)))
    assert np.abs(bn._mean.numpy()).max() > 0  # Paddle updated its running mean in eval mode

    net.train()
    net(paddle.to_tensor(given("pix2pix_unet_128_ngf4")))
    assert np.abs(net.state_dict()["model.model.1.model.2._mean"].numpy()
                  - before["model.model.1.model.2._mean"]).max() > 1e-3


def test_origin_decides_and_explicit_options_win(tmp_path):
    """A PyTorch file keeps the original's running statistics; options passed to load_generator
    win over the origin's; unknown values are refused by message."""
    original = load_generator(os.path.join(DATA, "pix2pix_unet_128_ngf8.pth"))
    assert "eval_stats" not in original.ppimg2img_arch[1] and eval_stats_of(original) == "running"
    pg = load_generator(path_of("pix2pix_unet_128_ngf4"), eval_stats="running")
    assert pg.ppimg2img_arch[1]["eval_stats"] == "running" and eval_stats_of(pg) == "running"
    with pytest.raises(ValueError, match="eval_stats must be one of 'running', 'batch', got 'global'"):
        build_generator("unet_128", ngf=4, eval_stats="global")
    # a PaddleGAN ResNet generator with BatchNorm gets batch statistics too
    net = build_generator("resnet_6blocks", ngf=4, norm="batch")
    path = str(tmp_path / "resnet_bn.pdparams")
    paddle.save({"netG_A": {k: v.numpy() for k, v in net.state_dict().items()}}, path)
    loaded = load_generator(path)
    assert loaded.ppimg2img_arch[1]["eval_stats"] == "batch" and eval_stats_of(loaded) == "batch"


def test_converted_files_keep_the_batch_statistics(tmp_path):
    fixture, x = "pix2pix_unet_128_ngf4", given("pix2pix_unet_128_ngf4")
    net = load_generator(path_of(fixture))
    # arch_kwargs without eval_stats: it is read from the net itself
    bare = {k: v for k, v in net.ppimg2img_arch[1].items() if k != "eval_stats"}
    for name, kwargs in (("full", net.ppimg2img_arch[1]), ("bare", bare)):
        path = save_converted(net, str(tmp_path / f"{name}.pdparams"), "unet_128", kwargs)
        assert read_checkpoint(path)["arch_kwargs"]["eval_stats"] == "batch"
        again = load_generator(path)
        assert eval_stats_of(again) == "batch"
        assert max_diff(outputs(again, x), expected(fixture, "netG")) < TOL
    # a net with the original's semantics stores nothing new (the default)
    original = load_generator(os.path.join(DATA, "pix2pix_unet_128_ngf8.pth"))
    path = save_converted(original, str(tmp_path / "orig.pdparams"), *original.ppimg2img_arch)
    assert "eval_stats" not in read_checkpoint(path)["arch_kwargs"]
    assert eval_stats_of(load_generator(path)) == "running"


def test_zoo_pix2pix_entry_and_its_cache_keep_paddlegan_semantics(tmp_path, monkeypatch):
    """paddlegan/pix2pix_facades_label2photo: downloaded, converted, cached; the cache reproduces
    PaddleGAN, and a cache written without the two options (an older ppimg2img) is redone."""
    name = "paddlegan/pix2pix_facades_label2photo"
    entry = zoo.MODEL_ZOO[name]
    assert entry.arch_kwargs["eval_stats"] == "batch"
    root = tmp_path / "served"
    root.mkdir()
    (root / entry.filename).write_bytes(open(path_of("pix2pix_unet_128_ngf4"), "rb").read())
    kwargs = {"input_nc": 1, "output_nc": 2, "ngf": 4, "norm": "batch", "use_dropout": False, "eval_stats": "batch"}
    x, want = given("pix2pix_unet_128_ngf4"), expected("pix2pix_unet_128_ngf4", "netG")
    with serve_folder(root) as server:
        monkeypatch.setitem(zoo.MODEL_ZOO, name, dataclasses.replace(
            entry, url=f"{server.url}/{entry.filename}", arch="unet_128", arch_kwargs=kwargs))
        first = load_generator(name)
        assert max_diff(outputs(first, x), want) < TOL
        cached = zoo.converted_path(name)
        stored = read_checkpoint(cached)
        assert stored["arch_kwargs"]["eval_stats"] == "batch"
        from ppimg2img.weights import load as load_module
        read = []
        real_read = load_module.read_checkpoint
        monkeypatch.setattr(load_module, "read_checkpoint", lambda p: read.append(p) or real_read(p))
        again = load_generator(name)
        assert read == [cached]  # the cache only
        assert max_diff(outputs(again, x), want) < TOL
        # a stale cache: the same weights described without eval_stats (as an older ppimg2img wrote it)
        stale = {**stored, "arch_kwargs": {k: v for k, v in kwargs.items() if k != "eval_stats"}}
        paddle.save(stale, cached)
        read.clear()
        redone = load_generator(name)
        assert read == [cached, zoo.weights_path(name)]  # seen as stale: converted again from the original
        assert max_diff(outputs(redone, x), want) < TOL
        assert read_checkpoint(cached)["arch_kwargs"]["eval_stats"] == "batch"
        assert len(server.log) == 1  # downloaded once


def test_exported_graph_keeps_the_batch_statistics(tmp_path):
    """Paddle Inference runs the exported PaddleGAN U-Net as PaddleGAN does (batch of 2, batch statistics)."""
    from paddle import inference as paddle_infer

    from ppimg2img.export.paddle_graph import export_generator, model_files

    fixture = "pix2pix_unet_128_ngf4"
    net = load_generator(path_of(fixture))
    prefix = str(tmp_path / "unet" / "model")
    export_generator(net, prefix, input_nc=1)
    config = paddle_infer.Config(*model_files(prefix))
    config.disable_gpu()
    config.disable_glog_info()
    predictor = paddle_infer.create_predictor(config)
    x = given(fixture)
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    handle.reshape(list(x.shape))
    handle.copy_from_cpu(x)
    predictor.run()
    got = predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()
    eager = outputs(net, x)[0]
    assert np.abs(got - eager).max() < 1e-5  # exported vs eager: same operators, float32 reordering only
    assert max_diff([got], expected(fixture, "netG")) < TOL
    assert eval_stats_of(net) == "batch" and net.training is False  # export left the net as it was


def test_photo2cartoon_predictor_runs_paddlegans_release_layout(tmp_path, monkeypatch):
    """Photo2CartoonPredictor's default model is PaddleGAN's photo2cartoon_genA2B_weight.pdparams, a
    plain state dict with bias-free gap_fc/gmp_fc: served locally under that name, it loads and
    translates as PaddleGAN's generator (up to the uint8 rounding of the result)."""
    import ppimg2img

    name = ppimg2img.Photo2CartoonPredictor.default_model
    entry = zoo.MODEL_ZOO[name]
    assert entry.filename == "photo2cartoon_genA2B_weight.pdparams" and entry.key is None
    state = read_checkpoint(path_of("photo2cartoon_ngf8"))
    assert "gap_fc.weight" in state and "gap_fc.bias" not in state and "gmp_fc.bias" not in state
    root = tmp_path / "served"
    root.mkdir()
    (root / entry.filename).write_bytes(open(path_of("photo2cartoon_ngf8"), "rb").read())
    with serve_folder(root) as server:
        monkeypatch.setitem(zoo.MODEL_ZOO, name, dataclasses.replace(
            entry, url=f"{server.url}/{entry.filename}", arch_kwargs={"ngf": 8, "img_size": 64, "light": True}))
        p = ppimg2img.Photo2CartoonPredictor(size=64, backend="eager", progress=False)
    assert p.net.gap_fc.bias is not None and not p.net.gap_fc.bias.numpy().any()  # no bias = a zero bias
    x = given("photo2cartoon_ngf8")
    image = np.rint((x[0].transpose(1, 2, 0) + 1.0) * 127.5).astype(np.uint8)  # the fixture's input image
    got = p.translate([image])[0].astype(np.float64)
    want = (expected("photo2cartoon_ngf8", "")[0][0].transpose(1, 2, 0).astype(np.float64) + 1.0) * 127.5
    assert np.abs(got - want).max() <= 0.5 + 1e-2  # rounding to uint8 only


def test_paddlegan_instance_norm_must_hold_its_frozen_values(tmp_path):
    """PaddleGAN's InstanceNorm scale/bias are frozen at 1/0 (trainable=False); other values are
    refused by name, since ppimg2img's (like the original's) InstanceNorm has no affine parameters."""
    obj = read_checkpoint(path_of("cyclegan_resnet_6blocks_ngf4"))
    assert np.all(obj["netG_A"]["model.2.scale"] == 1) and np.all(obj["netG_A"]["model.2.bias"] == 0)
    obj["netG_A"]["model.2.scale"] = obj["netG_A"]["model.2.scale"] * 2
    path = str(tmp_path / "CycleGAN_trained_scale.pdparams")
    paddle.save({k: v for k, v in obj.items() if k.startswith("net")}, path)
    with pytest.raises(WeightsMismatchError, match=r"model\.2\.scale \(shape \[4\], trained InstanceNorm values"):
        load_generator(path)


def test_photo2cartoon_missing_key_is_named(tmp_path):
    state = read_checkpoint(path_of("photo2cartoon_ngf8"))
    del state["DownBlock.4.HG.0.ConvBlockskip1.conv_block1.3.weight"]
    path = str(tmp_path / "p2c.pdparams")
    paddle.save(state, path)
    with pytest.raises(WeightsMismatchError, match=r"paddlegan-photo2cartoon layout\). 1 keys missing from the file: "
                                                   r"HourGlass1\.HG\.0\.ConvBlock1_1\.ConvBlock1\.3\.weight"):
        load_generator(path)
