"""Progressive growing of GANs (issue 21): the official schedule's values, the fade-in blends of G
and D checked by hand, the equalised-lr scales, the paper's parameter counts, the WGAN-GP penalty
(as the official takes it, at full size) and drift term, the Adam reset per level of detail, exact
resume mid-fade, and the predictor."""
import math
import os
import shutil

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest
import yaml

from ppimg2img.config import load_config
from ppimg2img.engine.checkpoint import load_file
from ppimg2img.engine.trainer import Trainer
from ppimg2img.models.pggan import PGGANModel, process_reals, training_schedule, wgangp_penalty
from ppimg2img.nets.equalized import minibatch_stddev
from ppimg2img.nets.pggan import PGGANDiscriminator, PGGANGenerator

from test_losses import LinearD

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = {"fmap_base": 32, "fmap_max": 8}  # 8, 8, 8, 4 maps at 4, 8, 16, 32 px


def _count(net):
    return sum(int(p.numel()) for p in net.parameters())


def _pool(x, f=2):
    """NumPy box filter (the official downscale2d)."""
    n, c, h, w = x.shape
    return x.reshape(n, c, h // f, f, w // f, f).mean(axis=(3, 5))


def _up(x, f=2):
    """NumPy nearest upsampling (the official upscale2d)."""
    return x.repeat(f, axis=2).repeat(f, axis=3)


# ---------------------------------------------------------------------------- schedule
OFFICIAL_1GPU = {"minibatch": {4: 128, 8: 128, 16: 128, 32: 64, 64: 32, 128: 16, 256: 8, 512: 4},
                 "minibatch_default": 4, "lr_dict": {1024: 0.0015}}


@pytest.mark.parametrize("images, lod, resolution, alpha, phase, minibatch", [
    (0, 8.0, 4, 1.0, 0, 128),                # 4x4, stable
    (599_999, 8.0, 4, 1.0, 0, 128),
    (600_000, 8.0, 4, 1.0, 0, 128),          # the fade-in starts after 600k images
    (750_000, 7.75, 8, 0.25, 0, 128),        # 8x8 fading in: a quarter of the way
    (900_000, 7.5, 8, 0.5, 0, 128),
    (1_200_000, 7.0, 8, 1.0, 1, 128),        # 8x8 stable
    (4_500_000, 4.5, 64, 0.5, 3, 32),        # 64x64 half faded in
    (9_300_000, 0.5, 1024, 0.5, 7, 4),       # the last block fading in
    (9_600_000, 0.0, 1024, 1.0, 8, 4),       # full resolution from here on
    (12_000_000, 0.0, 1024, 1.0, 10, 4),
])
def test_official_schedule_values(images, lod, resolution, alpha, phase, minibatch):
    s = training_schedule(images, 1024, 4, 600_000, 600_000, **OFFICIAL_1GPU)
    assert s["lod"] == pytest.approx(lod, abs=1e-12) and s["alpha"] == pytest.approx(alpha, abs=1e-12)
    assert (s["resolution"], s["phase"], s["minibatch"]) == (resolution, phase, minibatch)
    assert s["lr"] == (0.0015 if resolution == 1024 else 0.001)


def test_alpha_rises_linearly_over_the_fade():
    alphas = [training_schedule(n, 32, 4, 100, 400)["alpha"] for n in range(100, 500, 40)]
    np.testing.assert_allclose(alphas[1:], np.arange(1, 10) * 0.1, atol=1e-12)
    assert alphas[0] == 1.0  # the first image of a fade-in still sees the old resolution only
    assert [training_schedule(n, 32, 4, 100, 400)["resolution"] for n in (99, 100, 101, 499, 500, 1500)] == \
        [4, 4, 8, 8, 8, 32]


# ---------------------------------------------------------------------------- architecture
def test_paper_1024_parameter_counts_and_widths():
    """Table 2 of the paper: 23.1M trainable parameters in G and in D."""
    G, D = PGGANGenerator(), PGGANDiscriminator()
    assert _count(G) == 23_079_115 and _count(D) == 23_087_249
    assert round(_count(G) / 1e6, 1) == round(_count(D) / 1e6, 1) == 23.1
    assert [b.conv1.conv.weight.shape[0] for b in G.blocks] == [512, 512, 512, 256, 128, 64, 32, 16]
    assert [r.weight.shape[1] for r in G.to_rgb] == [512, 512, 512, 512, 256, 128, 64, 32, 16]
    assert [b[1].conv.weight.shape[:2] for b in D.blocks] == [
        [512, 512], [512, 512], [512, 512], [512, 256], [256, 128], [128, 64], [64, 32], [32, 16]]
    assert D.conv4.conv.weight.shape == [512, 513, 3, 3]  # + the minibatch stddev map
    assert G.nz == 512 and G.dense.weight.shape == [8192, 512] and G.dense_bias.shape == [512]
    assert "lod" in G.state_dict() and "lod" in D.state_dict()  # saved with the weights


def test_equalized_learning_rate_scales():
    """He's constant gain / sqrt(fan_in) at run time; weights stored N(0, 1), biases 0."""
    G, D = PGGANGenerator(image_size=32, fmap_base=2048, fmap_max=256), PGGANDiscriminator(image_size=32,
                                                                                           fmap_base=2048, fmap_max=256)
    assert G.nz == 256
    assert G.dense.scale == pytest.approx(math.sqrt(2) / 4 / math.sqrt(256), rel=1e-12)  # the Theano override
    assert G.conv4.conv.scale == pytest.approx(math.sqrt(2) / math.sqrt(256 * 9), rel=1e-12)
    assert G.blocks[2].conv0.conv.scale == pytest.approx(math.sqrt(2) / math.sqrt(256 * 9), rel=1e-12)
    assert G.to_rgb[3].scale == pytest.approx(1 / math.sqrt(128), rel=1e-12)  # toRGB: gain 1, 1x1 kernel
    assert D.from_rgb[3].conv.scale == pytest.approx(math.sqrt(2) / math.sqrt(3), rel=1e-12)
    assert D.conv4.conv.scale == pytest.approx(math.sqrt(2) / math.sqrt(257 * 9), rel=1e-12)
    assert D.dense0.scale == pytest.approx(math.sqrt(2) / math.sqrt(256 * 16), rel=1e-12)
    assert D.dense1.scale == pytest.approx(1 / math.sqrt(256), rel=1e-12)  # the score layer: gain 1
    w = G.blocks[2].conv0.conv.weight.numpy()
    assert abs(w.std() - 1.0) < 0.02 and abs(w.mean()) < 0.02
    assert not G.conv4.bias.numpy().any() and not D.dense0.bias.numpy().any()
    # the layer computes conv(x, w * scale) + b
    x = paddle.randn([2, 256, 4, 4])
    layer = G.conv4.conv
    ref = F.conv2d(x, layer.weight * layer.scale, padding=1)
    np.testing.assert_allclose(layer(x).numpy(), ref.numpy(), rtol=0, atol=0)


def test_generator_fade_in_blend_by_hand():
    """G at alpha: (1 - a) * upsample(toRGB_old(h)) + a * toRGB_new(block(h))."""
    paddle.seed(3)
    G = PGGANGenerator(image_size=16, output_nc=3, **TINY)
    z = paddle.randn([4, G.nz])
    h4 = G.features(z, 0)[0]
    old = _up(G.to_rgb[0](h4).numpy())
    new = G.to_rgb[1](G.blocks[0](h4)).numpy()
    for lod, a in ((1.75, 0.25), (1.3, 0.7)):
        G.set_lod(lod)
        assert (G.resolution, G.alpha) == (8, pytest.approx(a, abs=1e-6))
        out = G(z, full_size=False).numpy()
        a32 = float(np.float32(G.alpha))
        np.testing.assert_allclose(out, (1 - a32) * old + a32 * new, rtol=0, atol=2e-6)
        np.testing.assert_array_equal(G(z).numpy(), _up(out))  # full size: nearest-upsampled
    G.set_lod(1.0)
    np.testing.assert_allclose(G(z, full_size=False).numpy(), new, rtol=0, atol=1e-6)
    G.set_lod(2.0)
    np.testing.assert_allclose(G(z).numpy(), _up(G.to_rgb[0](h4).numpy(), 4), rtol=0, atol=1e-6)


def _d_tail(D, h):
    """D's 4x4 end on features h: minibatch stddev, conv, dense, dense."""
    h = D.conv4(minibatch_stddev(h, D.mbstd_group_size))
    return D.dense1(F.leaky_relu(D.dense0(h.reshape([h.shape[0], -1])), 0.2))


def test_discriminator_fade_in_blend_by_hand():
    """D at alpha reads (1 - a) * fromRGB_old(avgpool(x)) + a * block(fromRGB_new(x))."""
    paddle.seed(4)
    D = PGGANDiscriminator(image_size=16, input_nc=3, **TINY)
    x = np.random.default_rng(0).uniform(-1, 1, (4, 3, 8, 8)).astype(np.float32)
    new = D.blocks[0](D.from_rgb[1](paddle.to_tensor(x))).numpy()
    old = D.from_rgb[0](paddle.to_tensor(_pool(x))).numpy()
    D.set_lod(1.4)
    a = float(np.float32(D.alpha))
    assert D.resolution == 8 and a == pytest.approx(0.6, abs=1e-6)
    expected = _d_tail(D, paddle.to_tensor((1 - a) * old + a * new)).numpy()
    np.testing.assert_allclose(D(paddle.to_tensor(x)).numpy(), expected, rtol=0, atol=2e-6)
    # a full-size (16x16) image is box-filtered to the current resolution first, as the official D
    np.testing.assert_allclose(D(paddle.to_tensor(_up(x))).numpy(), D(paddle.to_tensor(x)).numpy(), atol=1e-6)
    D.set_lod(1.0)
    np.testing.assert_allclose(D(paddle.to_tensor(x)).numpy(), _d_tail(D, paddle.to_tensor(new)).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match=r"at resolution 8x8 \(lod 1\) got 12x12 images"):
        D(paddle.zeros([4, 3, 12, 12]))


def test_reals_follow_the_same_fade():
    x = np.random.default_rng(1).uniform(-1, 1, (2, 1, 32, 32)).astype(np.float32)
    x8 = _pool(x, 4)
    got = process_reals(paddle.to_tensor(x), 8, 0.3).numpy()
    np.testing.assert_allclose(got, 0.3 * x8 + 0.7 * _up(_pool(x8)), atol=1e-6)
    np.testing.assert_allclose(process_reals(paddle.to_tensor(x), 8, 1.0).numpy(), x8, atol=1e-6)


# ---------------------------------------------------------------------------- loss
def test_penalty_of_a_linear_critic_and_at_full_size():
    """Every sample's input gradient of a linear critic is w: penalty = 10 (||w|| / f - 1)^2, with f =
    full size / current size; and equal to the penalty taken at full size on upsampled images."""
    w = np.random.default_rng(0).normal(size=(1, 1, 4, 4)).astype(np.float32)
    reals, fakes = paddle.randn([4, 1, 4, 4]), paddle.randn([4, 1, 4, 4])
    norm = float(np.sqrt((w.astype(np.float64) ** 2).sum()))
    for f in (1, 8):
        penalty, norms = wgangp_penalty(LinearD(w), reals, fakes, 10.0, 1.0, size_factor=f)
        np.testing.assert_allclose(norms.numpy(), norm / f, rtol=1e-6)
        assert float(penalty) == pytest.approx(10 * (norm / f - 1) ** 2, rel=1e-5)
    # a real PGGAN critic at 8x8 of a 32 px net: the gradient w.r.t. the nearest-upsampled 32x32 image
    D = PGGANDiscriminator(image_size=32, input_nc=1, **TINY)
    D.set_lod(2.0)
    r, f_ = paddle.randn([4, 1, 8, 8]), paddle.randn([4, 1, 8, 8])
    paddle.seed(11)
    native, n1 = wgangp_penalty(D, r, f_, size_factor=4)
    paddle.seed(11)
    full, n2 = wgangp_penalty(D, paddle.to_tensor(_up(r.numpy(), 4)), paddle.to_tensor(_up(f_.numpy(), 4)))
    np.testing.assert_allclose(n1.numpy(), n2.numpy(), rtol=1e-5)
    assert float(native) == pytest.approx(float(full), rel=1e-5)


def _tiny_model(**kw):
    args = dict(start_resolution=4, stable_images=16, fade_images=32, minibatch={4: 8, 8: 4, 16: 4},
                g_smoothing=0.5)
    args.update(kw)
    m = PGGANModel({"name": "pggan", "image_size": 16, "output_nc": 1, **TINY},
                   {"name": "pggan", **TINY}, **args)
    m.setup_training({"lr": 0.001, "beta1": 0.0, "beta2": 0.99}, {})
    return m


def test_discriminator_terms_with_the_drift():
    """L_D = E[D(x~)] - E[D(x)] + GP + 0.001 E[D(x)^2], on a critic whose scores are known."""
    m = _tiny_model()
    w = np.random.default_rng(2).normal(size=(1, 1, 4, 4)).astype(np.float32)
    m.nets["netD"] = LinearD(w)
    reals = paddle.randn([8, 1, 4, 4])
    paddle.seed(5)
    z = paddle.randn([8, m.nz])
    fakes = m.nets["netG"](z, full_size=False)
    s_real = (reals.numpy() * w).sum(axis=(1, 2, 3))
    s_fake = (fakes.numpy() * w).sum(axis=(1, 2, 3))
    paddle.seed(5)
    losses, W = m.discriminator_losses(reals, 4)
    norm = float(np.sqrt((w.astype(np.float64) ** 2).sum()))
    assert float(losses["D_real"]) == pytest.approx(-s_real.mean(), rel=1e-5, abs=1e-6)
    assert float(losses["D_fake"]) == pytest.approx(s_fake.mean(), rel=1e-5, abs=1e-6)
    assert float(losses["drift"]) == pytest.approx(0.001 * (s_real ** 2).mean(), rel=1e-5)
    assert float(losses["GP"]) == pytest.approx(10 * (norm / 4 - 1) ** 2, rel=1e-5)  # 16 px net at 4x4: f = 4
    assert float(W) == pytest.approx(s_real.mean() - s_fake.mean(), rel=1e-5, abs=1e-6)


def test_adam_state_resets_when_a_fade_in_starts_and_ends_and_lod_follows_images():
    m = _tiny_model()  # 16 px: 4x4 (minibatch 8) for 16 images, 8x8 (minibatch 4) fading in over images 16..48
    x = np.random.default_rng(3).uniform(-1, 1, (8, 1, 16, 16)).astype(np.float32)
    m.set_input({"image": x})
    seen = []
    for _ in range(8):
        m.train_step()
        G = m.nets["netG"]
        seen.append((m.cur_nimg, G.resolution, round(G.alpha, 4), m.optimizers["G"].t, m.optimizers["D"].t))
    assert [s[0] for s in seen] == [8, 16, 24, 32, 40, 48, 56, 64]
    # the lod of each call's last minibatch: the step at image 16 still sees 4x4 (as the official),
    # then 8x8 at alpha (images - 16) / 32 per minibatch of 4, stable from image 48
    assert [s[1:3] for s in seen] == [(4, 1.0), (4, 1.0), (4, 1.0), (8, 0.375), (8, 0.625), (8, 0.875),
                                      (8, 1.0), (8, 1.0)]
    # Adam restarts when the fade-in starts (image 24's step) and when it ends (image 48's):
    # Adam's step count t (its bias correction) restarts with the moments
    assert [s[3] for s in seen] == [s[4] for s in seen] == [1, 2, 3, 2, 4, 6, 2, 4]
    used = {id(p) for p in m.nets["netG"].parameters() if p.grad is not None}
    assert {id(p) for i, p in enumerate(m.optimizers["G"]._parameter_list) if i in m.optimizers["G"].m} == used
    assert m.nets["netD"].alpha == 1.0 and m.nets["netG_ema"].resolution == 8


def test_adam_is_tensorflows():
    """tf.train.AdamOptimizer: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t), p -= lr_t m / (sqrt(v) + eps);
    a parameter without a gradient is not touched."""
    from ppimg2img.models.pggan import TFAdam
    p, idle = paddle.create_parameter([3], "float32"), paddle.create_parameter([2], "float32")
    p.set_value(paddle.to_tensor([0.5, -1.0, 2.0]))
    idle.set_value(paddle.to_tensor([1.0, 1.0]))
    opt = TFAdam([idle, p], lr=0.01, beta1=0.5, beta2=0.9, epsilon=1e-3)
    ref, m, v = np.array([0.5, -1.0, 2.0]), 0.0, 0.0
    for t in range(1, 4):
        opt.clear_grad()
        (p * p * p).sum().backward()  # gradient 3 p^2
        g = 3 * ref ** 2
        opt.step()
        m, v = 0.5 * m + 0.5 * g, 0.9 * v + 0.1 * g * g
        ref = ref - 0.01 * np.sqrt(1 - 0.9 ** t) / (1 - 0.5 ** t) * m / (np.sqrt(v) + 1e-3)
        np.testing.assert_allclose(p.numpy(), ref, rtol=1e-5)
    np.testing.assert_array_equal(idle.numpy(), [1.0, 1.0])
    assert opt.t == 3 and set(opt.m) == {1}
    opt.reset()
    assert opt.t == 0 and not opt.m and not opt.v


def test_schedule_errors_name_the_key():
    with pytest.raises(ValueError, match=r"minibatch\[8\] = 6: a minibatch must be a positive multiple of the "
                                         r"discriminator's mbstd_group_size \(4\)"):
        _tiny_model(minibatch={8: 6})
    with pytest.raises(ValueError, match=r"start_resolution must be a power of two in \[4, 16\]"):
        _tiny_model(start_resolution=12)
    with pytest.raises(ValueError, match="image_size must be a power of two"):
        PGGANGenerator(image_size=48)


# ---------------------------------------------------------------------------- training, resume, predictor
def _write_config(tmp_path, **overrides):
    """quickstart_pggan.yaml shrunk: 16 px, tiny nets, 64+32 digits, 4-image minibatches, a fade-in
    from image 16 to 48 (8x8) and from 80 to 112 (16x16)."""
    raw = yaml.safe_load(open(os.path.join(REPO, "configs", "quickstart_pggan.yaml")))
    for split in ("train", "test"):
        raw["dataset"][split].update(dataroot=str(tmp_path.parent / "digits"), n_train=64, n_test=32, image_size=16)
    raw["model"].update(stable_images=16, fade_images=32, minibatch={4: 8, 8: 4, 16: 4}, g_smoothing=0.9)
    for net in ("generator", "discriminator"):
        raw["model"][net].update(TINY)
    raw["model"]["generator"]["image_size"] = 16
    raw["train"].update(batch_size=8, num_workers=0, max_iters=16, log_interval=2, visual_interval=4)
    raw["output_dir"] = str(tmp_path / "run")
    raw["eval"] = {"samples": 64}
    raw.update(overrides)
    path = tmp_path / "pggan.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An uninterrupted 16-iteration run, and one stopped at iteration 4 (mid-fade) then resumed."""
    base = tmp_path_factory.mktemp("pggan")
    out = {}

    def run(folder, iters, resume=None):
        sub = base / folder
        sub.mkdir(exist_ok=True)
        t = Trainer(load_config(_write_config(sub), [f"train.max_iters={iters}"]))
        if resume:
            t.resume(resume)
        t.train(progress=False)
        return t

    out["full"] = run("full", 16)
    out["half"] = run("half", 4)
    out["half_ckpt"] = load_file(out["half"].latest_path)
    out["mid_fade"] = str(base / "mid_fade.pdckpt")  # kept: the resumed run overwrites latest
    shutil.copy(out["half"].latest_path, out["mid_fade"])
    out["resumed"] = run("half", 16, resume=out["half"].latest_path)
    # the same checkpoint with Adam's state dropped (as the official resume does)
    from ppimg2img.engine.checkpoint import atomic_save
    state = dict(out["half_ckpt"], optimizers={k: {"t": 0, "lr": v["lr"], "m": {}, "v": {}}
                                               for k, v in out["half_ckpt"]["optimizers"].items()})
    out["no_adam"] = run("no_adam", 16, resume=atomic_save(state, str(base / "no_adam.pdckpt")))
    return out


def test_checkpoint_mid_fade_holds_images_and_lod(runs):
    state = runs["half_ckpt"]
    # 4 iterations of 8 images: 24 at 4x4 (the step at image 16 still is), then minibatches of 4 at
    # 8x8 from image 24 (alpha 0.25) and 28 (alpha 0.375, the last one: lod 2 - 12 / 32)
    assert state["extra"]["cur_nimg"] == 32
    assert state["extra"]["lod"] == pytest.approx(1.625)
    for name in ("netG", "netG_ema", "netD"):
        assert float(np.asarray(state["nets"][name]["lod"]).reshape(-1)[0]) == pytest.approx(1.625)
    assert set(state["nets"]) == {"netG", "netG_ema", "netD"}


def test_resume_mid_fade_equals_an_uninterrupted_run(runs):
    full, resumed = runs["full"].model, runs["resumed"].model
    assert full.cur_nimg == resumed.cur_nimg == 128 and full.sched == resumed.sched
    assert full.sched["resolution"] == 16 and full.sched["alpha"] == 1.0  # grew to 16 px and finished fading
    for name in ("netG", "netG_ema", "netD"):
        a, b = full.nets[name].state_dict(), resumed.nets[name].state_dict()
        for key in a:
            np.testing.assert_array_equal(b[key].numpy(), a[key].numpy(), err_msg=f"{name}.{key}")
    # and the check can fail: without Adam's moments the continuation differs
    other = runs["no_adam"].model.nets["netG"].state_dict()
    gap = max(float(np.abs(other[k].numpy() - v.numpy()).max()) for k, v in full.nets["netG"].state_dict().items())
    assert gap > 1e-4
    for name in ("G", "D"):
        a, b = full.optimizers[name].state_dict(), resumed.optimizers[name].state_dict()
        assert a["t"] == b["t"] and a["m"].keys() == b["m"].keys()
        for key in a["m"]:
            np.testing.assert_array_equal(b["v"][key], a["v"][key], err_msg=f"{name} {key}")


def test_predictor_same_seed_same_images(runs):
    from ppimg2img import PGGANPredictor
    pred = PGGANPredictor(runs["full"].latest_path)
    a, b, c = pred.generate(5, seed=1), pred.generate(5, seed=1), pred.generate(5, seed=2)
    assert len(a) == 5 and a[0].shape == (16, 16, 3) and a[0].dtype == np.uint8
    assert all(np.array_equal(x, y) for x, y in zip(a, b))  # the same path twice: exactly equal
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    # the moving average by default (what the model's evaluation samples); netG on request
    z = np.random.default_rng(1).standard_normal((5, pred.nz)).astype(np.float32)
    ema = runs["full"].model.generate(z).numpy()
    np.testing.assert_array_equal(np.stack(a), np.stack([np.clip(np.rint((e.transpose(1, 2, 0) + 1) * 127.5), 0, 255)
                                                         .astype(np.uint8).repeat(3, axis=2) for e in ema]))
    raw = PGGANPredictor(runs["full"].latest_path, ema=False).generate(5, seed=1)
    assert not all(np.array_equal(x, y) for x, y in zip(a, raw))
    # a run stopped mid-fade samples its blend, at 8x8 or upsampled
    mid = PGGANPredictor(runs["mid_fade"])
    assert (mid.resolution, mid.alpha) == (8, 0.375)
    assert mid.generate(2, full_size=False)[0].shape == (8, 8, 3) and mid.generate(2)[0].shape == (16, 16, 3)
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        PGGANPredictor(os.path.join(os.path.dirname(runs["full"].latest_path), "nope.pdckpt"))


def test_load_generator_and_export_sample_the_moving_average_with_onnx_parity(runs, tmp_path):
    from ppimg2img import load_generator
    from ppimg2img.export.model import export_model
    model = runs["full"].model
    z = np.random.default_rng(4).standard_normal((3, model.nz)).astype(np.float32)
    ema = model.generate(z).numpy()
    G = load_generator(runs["full"].latest_path)
    np.testing.assert_array_equal(G(paddle.to_tensor(z)).numpy(), ema)
    pytest.importorskip("paddle2onnx")
    ort = pytest.importorskip("onnxruntime")
    export_model(runs["full"].latest_path, str(tmp_path / "export"), onnx=True)
    exported = paddle.jit.load(str(tmp_path / "export" / "netG"))
    out = exported(paddle.to_tensor(z))
    np.testing.assert_allclose((out[0] if isinstance(out, (list, tuple)) else out).numpy(), ema, rtol=0, atol=1e-5)
    session = ort.InferenceSession(str(tmp_path / "export" / "netG.onnx"), providers=["CPUExecutionProvider"])
    for n in (1, 3):  # any batch size
        out = session.run(None, {session.get_inputs()[0].name: z[:n]})[0]
        np.testing.assert_allclose(out, ema[:n], rtol=0, atol=1e-4)


def test_training_run_evaluates_and_writes_a_grid(runs):
    from ppimg2img.utils.image_io import load_image
    t = runs["full"]
    metrics = t.evaluate(progress=False)
    out = os.path.join(t.run_dir, "eval", "latest")
    assert metrics["samples"] == 64 and 0.0 <= metrics["class_entropy"] <= np.log(10) + 1e-6
    assert load_image(os.path.join(out, "grid.png")).shape[0] >= 8 * 16
    assert any(name.endswith(".png") for name in os.listdir(os.path.join(t.run_dir, "web", "images")))
