"""U-GAT-IT: layers (ILN/adaILN, CAM, spectral norm, nearest x2), published key layout, the
training step (against the original's single-backward formulation), and the trainer end to end."""
import json
import os

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest
import yaml

from ppimg2img.config import load_config
from ppimg2img.engine.trainer import Trainer
from ppimg2img.models import MODELS
from ppimg2img.models.ugatit import UGATITModel, heatmap_image
from ppimg2img.nets import build_discriminator, build_generator
from ppimg2img.nets.ugatit import ILN, RhoClipper, UGATITDiscriminator, UGATITGenerator, adaILN, upsample_nearest2x

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")


def official_keys(name):
    with open(os.path.join(DATA, "official_checkpoint_keys.json")) as f:
        return {k: tuple(shape) for k, shape in json.load(f)[name]}


def torch_layout_keys(net):
    """Paddle keys/shapes with Linear weights transposed back to torch's [out, in] (COMMON.md)."""
    linear = {f"{n}.{p}" for n, layer in net.named_sublayers() if isinstance(layer, paddle.nn.Linear)
              for p in ("weight", "weight_orig")}
    return {k: tuple(v.shape)[::-1] if k in linear else tuple(v.shape) for k, v in net.state_dict().items()}


def rand(*shape, seed=0):
    return paddle.to_tensor(np.random.default_rng(seed).uniform(-1, 1, shape).astype("float32"))


# ---- layers --------------------------------------------------------------------------------

def test_upsample_nearest2x_equals_interpolate():
    x = rand(2, 3, 5, 7)
    y = upsample_nearest2x(x)
    assert y.shape == [2, 3, 10, 14]
    # exact although another implementation: nearest upsampling only copies values
    np.testing.assert_array_equal(y.numpy(), F.interpolate(x, scale_factor=2, mode="nearest").numpy())


def _ln_in(x, rho, eps=1e-5):
    """The original's formula in NumPy float64, unbiased variances (torch.var)."""
    x = x.astype(np.float64)
    m_in, v_in = x.mean((2, 3), keepdims=True), x.var((2, 3), ddof=1, keepdims=True)
    m_ln, v_ln = x.mean((1, 2, 3), keepdims=True), x.var((1, 2, 3), ddof=1, keepdims=True)
    return rho * (x - m_in) / np.sqrt(v_in + eps) + (1 - rho) * (x - m_ln) / np.sqrt(v_ln + eps)


def test_adailn_and_iln_compute_the_original_formula():
    x = rand(2, 4, 6, 6) * 3 + 1
    ada = adaILN(4)
    assert np.allclose(ada.rho.numpy(), 0.9) and ada.rho.shape == [1, 4, 1, 1]
    gamma, beta = rand(2, 4, seed=1), rand(2, 4, seed=2)
    expected = _ln_in(x.numpy(), 0.9) * gamma.numpy()[:, :, None, None] + beta.numpy()[:, :, None, None]
    np.testing.assert_allclose(ada(x, gamma, beta).numpy(), expected, atol=1e-5)

    iln = ILN(4)
    assert np.allclose(iln.rho.numpy(), 0.0) and np.allclose(iln.gamma.numpy(), 1.0)
    assert np.allclose(iln.beta.numpy(), 0.0)
    iln.rho.set_value(paddle.full([1, 4, 1, 1], 0.3))
    np.testing.assert_allclose(iln(x).numpy(), _ln_in(x.numpy(), 0.3), atol=1e-5)
    # unbiased, not biased: the difference is visible on a 2x2 map
    small = rand(1, 2, 2, 2, seed=3)
    biased = (small.numpy() - small.numpy().mean((1, 2, 3), keepdims=True)) / np.sqrt(small.numpy().var() + 1e-5)
    assert np.abs(ILN(2)(small).numpy() - biased).max() > 0.1


def test_rho_clipper_clamps_every_rho_only():
    g = UGATITGenerator(ngf=4, n_blocks=2, img_size=32, light=True)
    rhos = {n: p for n, p in g.named_parameters() if n.endswith("rho")}
    assert len(rhos) == 2 * 2 + 2  # two adaILN per block, one ILN per upsampling
    for i, p in enumerate(rhos.values()):
        p.set_value(paddle.full(p.shape, [-0.5, 1.7, 0.4][i % 3]))
    gamma_before = g.UpBlock2[3].gamma.numpy().copy()
    g.UpBlock2[3].gamma.set_value(paddle.full(g.UpBlock2[3].gamma.shape, 5.0))
    RhoClipper(0, 1)(g)
    assert sorted({float(p.numpy().ravel()[0]) for p in rhos.values()}) == pytest.approx([0.0, 0.4, 1.0])
    assert np.allclose(g.UpBlock2[3].gamma.numpy(), 5.0) and gamma_before.shape == (1, 8, 1, 1)
    with pytest.raises(ValueError, match="smaller"):
        RhoClipper(1, 0)


# ---- generator and discriminator -------------------------------------------------------------

@pytest.mark.parametrize("light", [True, False])
def test_generator_outputs_and_cam(light):
    g = build_generator("ugatit", ngf=4, n_blocks=2, img_size=32, light=light)
    g.eval()
    x = rand(2, 3, 32, 32)
    out, cam_logit, heatmap = g(x)
    assert out.shape == [2, 3, 32, 32] and cam_logit.shape == [2, 2] and heatmap.shape == [2, 1, 8, 8]
    assert float(out.abs().max()) <= 1.0
    # CAM logits: bias-free classifiers on global average and max pooled encoder features
    feat = g.DownBlock(x)
    np.testing.assert_allclose(cam_logit.numpy()[:, 0], (feat.mean([2, 3]) @ g.gap_fc.weight).numpy()[:, 0], atol=1e-5)
    np.testing.assert_allclose(cam_logit.numpy()[:, 1], (feat.max([2, 3]) @ g.gmp_fc.weight).numpy()[:, 0], atol=1e-5)
    assert g.gap_fc.bias is None and g.gamma.bias is None
    fc_in = 4 * 4 if light else 8 * 8 * 16
    assert g.FC[0].weight.shape == [fc_in, 16]
    if not light:  # the full MLP flattens the map: the size is fixed by img_size
        with pytest.raises(ValueError, match="built for 32x32 images and got 64x64"):
            g(rand(1, 3, 64, 64))


def test_light_generator_keys_equal_the_published_checkpoint():
    assert torch_layout_keys(UGATITGenerator(ngf=64, n_blocks=4, img_size=256, light=True)) == \
        official_keys("ugatit_light_ngf64_nblocks4")


@pytest.mark.parametrize("n_layers,name", [(7, "ugatit_discriminator_global_ndf64_nlayers7"),
                                           (5, "ugatit_discriminator_local_ndf64_nlayers5")])
def test_discriminator_keys_equal_the_published_checkpoint(n_layers, name):
    assert torch_layout_keys(build_discriminator("ugatit", ndf=64, n_layers=n_layers)) == official_keys(name)


def test_discriminator_outputs_cam_and_spectral_norm():
    paddle.seed(0)  # power iteration converges at the rate of the weight's top singular-value gap
    d = UGATITDiscriminator(ndf=4, n_layers=5)
    x = rand(2, 3, 64, 64)
    d.eval()
    logit, cam_logit, heatmap = d(x)
    assert logit.shape == [2, 1, 6, 6] and cam_logit.shape == [2, 2] and heatmap.shape == [2, 1, 7, 7]
    conv = d.model[1]
    u0 = conv.weight_u.numpy().copy()
    d(x)
    np.testing.assert_array_equal(conv.weight_u.numpy(), u0)  # eval: no power iteration
    d.train()
    for _ in range(100):
        d(x)
    assert np.abs(conv.weight_u.numpy() - u0).max() > 1e-3
    w = conv.weight_orig.numpy().reshape(conv.weight_orig.shape[0], -1)
    sigma = np.linalg.svd(w, compute_uv=False)[0]
    normalised = conv.weight.numpy().reshape(w.shape)
    assert np.linalg.svd(normalised, compute_uv=False)[0] == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(normalised, w / sigma, rtol=1e-3, atol=1e-6)
    # the CAM logit uses the normalised classifier, the re-weighting the raw weight_orig (as the original)
    feat = d.model(x)
    gap_w = d.gap_fc.weight.numpy()
    assert not np.allclose(gap_w, d.gap_fc.weight_orig.numpy())
    d.eval()
    _, cam_logit, _ = d(x)
    np.testing.assert_allclose(cam_logit.numpy()[:, 0], feat.mean([2, 3]).numpy() @ gap_w[:, 0], rtol=1e-4, atol=1e-5)


def test_discriminator_too_small_image_error():
    with pytest.raises(ValueError, match="at least 96 px"):
        UGATITDiscriminator(ndf=2, n_layers=7)(rand(1, 3, 64, 64))


# ---- the training step -------------------------------------------------------------------

def _model(cls=UGATITModel, size=32, **kw):
    g = {"name": "ugatit", "ngf": 4, "n_blocks": 2, "img_size": size, "light": True}
    m = cls(g, {"name": "ugatit", "ndf": 4, "n_layers": 5}, n_layers_local=4, **kw)
    m.setup_training({"lr": 1e-4, "beta1": 0.5, "beta2": 0.999, "weight_decay": 1e-4},
                     {"policy": "linear", "n_epochs": 1, "n_epochs_decay": 1})
    m.set_input({"A": rand(1, 3, size, size, seed=1).numpy(), "B": rand(1, 3, size, size, seed=2).numpy()})
    return m


def _original_generator_loss(m):
    """L_G exactly as the original's G step writes it: one expression, one backward."""
    A, B = m.real_A, m.real_B
    gA, gB = m.nets["genA2B"], m.nets["genB2A"]
    mse = lambda p, t: F.mse_loss(p, paddle.full_like(p, t))  # noqa: E731
    bce = lambda p, t: F.binary_cross_entropy_with_logits(p, paddle.full_like(p, t))  # noqa: E731
    fake_A2B, fake_A2B_cam, _ = gA(A)
    fake_B2A, fake_B2A_cam, _ = gB(B)
    fake_A2B2A, fake_B2A2B = gB(fake_A2B)[0], gA(fake_B2A)[0]
    fake_A2A, fake_A2A_cam, _ = gB(A)
    fake_B2B, fake_B2B_cam, _ = gA(B)
    adv = {}
    for dom, fake in (("A", fake_B2A), ("B", fake_A2B)):
        adv[dom] = 0.0
        for kind in "GL":
            logit, cam, _ = m.nets[f"dis{kind}{dom}"](fake)
            adv[dom] = adv[dom] + mse(logit, 1.0) + mse(cam, 1.0)
    loss_A = (m.adv_weight * adv["A"] + m.cycle_weight * F.l1_loss(fake_A2B2A, A)
              + m.identity_weight * F.l1_loss(fake_A2A, A)
              + m.cam_weight * (bce(fake_B2A_cam, 1.0) + bce(fake_A2A_cam, 0.0)))
    loss_B = (m.adv_weight * adv["B"] + m.cycle_weight * F.l1_loss(fake_B2A2B, B)
              + m.identity_weight * F.l1_loss(fake_B2B, B)
              + m.cam_weight * (bce(fake_A2B_cam, 1.0) + bce(fake_B2B_cam, 0.0)))
    return loss_A + loss_B


def test_split_generator_backward_equals_the_original_single_backward():
    paddle.seed(0)
    m = _model()
    G = [m.nets["genA2B"], m.nets["genB2A"]]
    D = [m.nets[k] for k in ("disGA", "disGB", "disLA", "disLB")]
    for net in D:
        net.eval()  # no power iterations: both computations see the same normalised weights
    for p in m.optimizers["D"]._parameter_list:
        p.stop_gradient = True
    total = _original_generator_loss(m)
    total.backward()
    reference = [p.grad.numpy().copy() for net in G for p in net.parameters()]
    for net in G:
        net.clear_gradients()
    split_total = sum(m.backward_generators().values())
    assert split_total == pytest.approx(float(total), rel=1e-5)
    grads = [p.grad.numpy() for net in G for p in net.parameters()]
    assert len(grads) == len(reference) > 0
    for a, b in zip(grads, reference):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_train_step_updates_all_nets_and_clips_rho():
    paddle.seed(1)
    m = _model()
    before = {n: [p.numpy().copy() for p in net.parameters()] for n, net in m.nets.items()}
    m.nets["genA2B"].UpBlock1_1.norm1.rho.set_value(paddle.full([1, 16, 1, 1], 1.5))
    losses = m.train_step()
    assert list(losses) == ["D_A", "G_adv_A", "cycle_A", "idt_A", "cam_A",
                            "D_B", "G_adv_B", "cycle_B", "idt_B", "cam_B"]
    assert all(np.isfinite(v) and v > 0 for v in losses.values())
    for name, net in m.nets.items():
        changed = [np.abs(p.numpy() - b).max() > 0 for p, b in zip(net.parameters(), before[name])]
        assert sum(changed) >= len(changed) - 2, name  # each net trained (rho at a bound may stay)
    assert float(m.nets["genA2B"].UpBlock1_1.norm1.rho.max()) == 1.0
    rows = m.visuals()
    assert [[label for label, _ in row] for row in rows] == [
        ["real_A", "heatmap_A2B", "fake_A2B", "rec_A", "idt_A"],
        ["real_B", "heatmap_B2A", "fake_B2A", "rec_B", "idt_B"]]
    assert all(t.shape == [1, 3, 32, 32] or t.shape == [1, 1, 32, 32] for row in rows for _, t in row)
    assert m.translate(m.real_A, "BtoA").shape == [1, 3, 32, 32]


def test_heatmap_image_is_normalised_and_enlarged():
    h = paddle.to_tensor(np.arange(16, dtype="float32").reshape(1, 1, 4, 4))
    img = heatmap_image(h, 16).numpy()
    assert img.shape == (1, 1, 16, 16) and img.min() == pytest.approx(-1) and img.max() == pytest.approx(1, abs=1e-6)


def test_discriminators_are_global_and_local():
    m = _model()
    assert (m.nets["disGA"].n_layers, m.nets["disLA"].n_layers) == (5, 4)
    assert set(m.nets) == {"genA2B", "genB2A", "disGA", "disGB", "disLA", "disLB"}
    inference = UGATITModel({"name": "ugatit", "ngf": 4, "img_size": 32}, None, is_train=False)
    assert set(inference.nets) == {"genA2B", "genB2A"}


# ---- configs and the trainer ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["ugatit_selfie2anime_light", "ugatit_selfie2anime", "ugatit_horse2zebra"])
def test_shipped_configs_are_valid_and_original(name):
    cfg = load_config(os.path.join(ROOT, "configs", f"{name}.yaml"))
    model = cfg["model"]
    assert model["name"] == "UGATITModel" and model["generator"]["ngf"] == 64
    assert (model["generator"]["n_blocks"], model["generator"]["img_size"]) == (4, 256)
    assert model["generator"]["light"] is (name != "ugatit_selfie2anime")
    assert (model["discriminator"]["n_layers"], model["n_layers_local"]) == (7, 5)
    weights = (model["adv_weight"], model["cycle_weight"], model["identity_weight"], model["cam_weight"])
    assert weights == (1, 10, 10, 1000)
    assert cfg["optimizer"] == {"lr": 1e-4, "name": "adam", "beta1": 0.5, "beta2": 0.999, "weight_decay": 1e-4,
                                "alpha": 0.99, "eps": 1e-8}  # alpha, eps: RMSprop only
    sched = cfg["lr_scheduler"]
    assert sched["policy"] == "linear" and sched["n_epochs"] == sched["n_epochs_decay"]


def tiny_ugatit_config(tmp_path, model="UGATITModel", generator=None, **model_extra):
    data = str(tmp_path / "shapes")
    cfg = {
        "name": "tiny_ugatit", "output_dir": str(tmp_path / "run"), "seed": 5, "threads": 1,
        "model": {"name": model,
                  "generator": generator or {"name": "ugatit", "ngf": 4, "n_blocks": 2, "img_size": 32, "light": True},
                  "discriminator": {"name": "ugatit", "ndf": 4, "n_layers": 5},
                  "n_layers_local": 4, **model_extra},
        "dataset": {
            "synthetic": {"n_train": 3, "n_test": 2, "size": 32},
            "train": {"name": "UnalignedDataset", "dataroot": data, "preprocess": "crop", "crop_size": 32},
            "test": {"name": "UnalignedDataset", "dataroot": data, "phase": "test", "preprocess": "none",
                     "flip": False, "serial_batches": True}},
        "optimizer": {"lr": 1e-4, "weight_decay": 1e-4},
        "lr_scheduler": {"policy": "linear", "n_epochs": 1, "n_epochs_decay": 1},
        "train": {"batch_size": 1, "num_workers": 0, "log_interval": 2, "visual_interval": 2},
    }
    path = tmp_path / "tiny_ugatit.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_trainer_trains_evaluates_and_resumes_ugatit(tmp_path):
    t = Trainer(load_config(tiny_ugatit_config(tmp_path), ["train.max_iters=2"]))
    losses = t.train(progress=False)
    assert set(losses) >= {"D_A", "cam_B"} and all(np.isfinite(list(losses.values())))
    results = t.evaluate(progress=False)
    assert results["AtoB"]["images"] == 2 and "psnr" in results["AtoB"]
    grid = os.path.join(t.run_dir, "web", "images", "epoch001_iter0000002.png")
    assert os.path.isfile(grid)
    t2 = Trainer(load_config(tiny_ugatit_config(tmp_path), ["train.max_iters=3"]))
    t2.resume(t.latest_path)
    for name in t.model.nets:
        for (k, a), b in zip(t.model.nets[name].state_dict().items(), t2.model.nets[name].state_dict().values()):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=f"{name}.{k}")
    t2.train(progress=False)
    assert t2.iter == 3


def test_model_is_registered():
    assert MODELS["UGATITModel"] is UGATITModel
