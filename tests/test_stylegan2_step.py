"""One StyleGAN2 training iteration (issue 21) against rosinality/stylegan2-pytorch ``train.py`` on the same
weights and inputs.

tests/data/stylegan2/step/ (README.md there): a tiny G and D (size 16, style_dim 16, n_mlp 2, 8 channels)
and an EMA generator written by rosinality's ``model.py`` with random values in every parameter; a real
batch of 4, z (one batch: no style mixing), per-sample noise maps, the path-length draw y; and what
``train.py``'s iteration 0 (R1 and path length both due) computes from them in float32 and float64:

- each step's loss and every parameter gradient at the initial weights (the D step's logistic loss, R1
  weighted r1/2 * d_reg_every, the G step's non-saturating loss, the path length weighted
  path_regularize * g_reg_every on the batch / path_batch_shrink with running mean 0);
- the whole iteration with its Adam steps (lr and betas with the lazy-regularisation correction) and
  the EMA: the losses on the way and every parameter of G, D and G_ema after it.

ppimg2img (float32) must agree per tensor with the float64 reference as the float32 reference does:
max|ours - ref_f64| <= 4 max|ref_f32 - ref_f64| + FLOOR * max(1, max|ref_f64|).
"""
import os

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

import ppimg2img.models.stylegan2 as sg2_model
from conftest import DATA
from ppimg2img.models.base import set_requires_grad
from ppimg2img.models.stylegan2 import StyleGAN2Model, path_length_penalty, r1_penalty
from ppimg2img.nets.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator, set_fused, set_second_order
from ppimg2img.weights import read_checkpoint
from ppimg2img.weights.convert import load_state_into

STEP = os.path.join(DATA, "stylegan2", "step")
SIZE, STYLE_DIM, N_MLP, CHANNELS = 16, 16, 2, [8, 8, 8]
#: train.py's settings (r1, d_reg_every, g_reg_every, path_regularize, path_batch_shrink)
R1, D_REG_EVERY, G_REG_EVERY, PATH_REGULARIZE, PATH_BATCH_SHRINK = 10.0, 16, 4, 2.0, 2
#: the absolute floor of the rule, relative to the tensor's scale (float32's spacing is 1.2e-7 at 1)
FLOOR = 1e-6
pytestmark = pytest.mark.filterwarnings("ignore:Tensor do not have 'place' interface")


def _npz(name):
    with np.load(os.path.join(STEP, name)) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def data():
    return {"weights": read_checkpoint(os.path.join(STEP, "weights.pt")), "inputs": _npz("inputs.npz"),
            "f32": _npz("expected_f32.npz"), "f64": _npz("expected_f64.npz")}


def _check(ours, data, keys):
    """Assert the rule for every key; returns {key: (error, bound)}."""
    report, bad = {}, []
    for k in keys:
        ref32, ref64 = data["f32"][k].astype(np.float64), data["f64"][k]
        mine = np.asarray(ours[k], np.float64)
        assert mine.shape == ref64.shape, (k, mine.shape, ref64.shape)
        err = float(np.abs(mine - ref64).max())
        bound = 4 * float(np.abs(ref32 - ref64).max()) + FLOOR * max(1.0, float(np.abs(ref64).max()))
        report[k] = (err, bound)
        if not err <= bound:
            bad.append(f"{k}: max|ours - ref_f64| {err:.3e} > {bound:.3e}")
    assert not bad, "\n".join(bad)
    return report


def _inputs(data):
    inp = {k: paddle.to_tensor(v) for k, v in data["inputs"].items()}
    noise = [inp[f"noise_{i}"] for i in range(sum(k.startswith("noise_") for k in inp))]
    return inp["real"], inp["z"], noise, inp["y"]


def _nets(data):
    """G (unfused, as StyleGAN2Model trains it) and D with the reference's weights."""
    G = set_fused(StyleGAN2Generator(SIZE, STYLE_DIM, N_MLP, channels=CHANNELS), False)
    D = StyleGAN2Discriminator(SIZE, channels=CHANNELS)
    load_state_into(G, data["weights"]["g"], "torch", source="weights.pt g")
    load_state_into(D, data["weights"]["d"], "torch", source="weights.pt d")
    return G, D


def _grads(net, prefix, out):
    for k, p in net.named_parameters():
        out[f"{prefix}/{k}"] = np.zeros(p.shape, np.float32) if p.grad is None else p.grad.numpy().copy()


def _clear(net):
    for p in net.parameters():
        p.clear_gradient(set_to_zero=False)


def test_each_step_loss_and_gradients(data):
    """The four steps of train.py's iteration 0, every gradient at the initial weights, with ppimg2img's
    loss code (the softplus losses as StyleGAN2Model.train_step, r1_penalty, path_length_penalty)."""
    G, D = _nets(data)
    real, z, noise, y = _inputs(data)
    out = {}
    # 1. D step on G(z) (G frozen)
    set_requires_grad([G], False)
    set_requires_grad([D], True)
    fake = G(z, noise=noise)
    real_pred, fake_pred = D(real), D(fake)
    loss = F.softplus(fake_pred).mean() + F.softplus(-real_pred).mean()
    loss.backward()
    out.update({"d/loss": float(loss), "d/real_score": float(real_pred.mean()),
                "d/fake_score": float(fake_pred.mean())})
    _grads(D, "d/grad", out)
    _clear(D)
    # 2. R1, weighted r1/2 * d_reg_every
    r1_loss, pred = r1_penalty(D, real)
    (R1 / 2 * r1_loss * D_REG_EVERY + 0 * pred[0]).sum().backward()
    out["r1/loss"] = float(r1_loss)
    _grads(D, "r1/grad", out)
    _clear(D)
    # 3. G step (D frozen)
    set_requires_grad([G], True)
    set_requires_grad([D], False)
    loss = F.softplus(-D(G(z, noise=noise))).mean()
    loss.backward()
    out["g/loss"] = float(loss)
    _grads(G, "g/grad", out)
    _clear(G)
    # 4. path length on batch // path_batch_shrink, running mean 0, weighted path_regularize * g_reg_every
    n = z.shape[0] // PATH_BATCH_SHRINK
    set_second_order(G, True)
    fake, latents = G(z[:n], noise=[x[:n] for x in noise], return_latents=True)
    path_loss, out["path/mean"], out["path/length"] = path_length_penalty(fake, latents, 0.0, noise=y)
    (PATH_REGULARIZE * G_REG_EVERY * path_loss + 0 * fake[0, 0, 0, 0]).backward()
    set_second_order(G, False)
    out["path/loss"] = float(path_loss)
    _grads(G, "path/grad", out)
    keys = [k for k in data["f64"] if not k.startswith("iter/")]
    assert set(keys) == set(out), set(keys) ^ set(out)
    report = _check(out, data, keys)
    assert len([k for k in keys if "/grad/" in k]) == 2 * (len(list(G.parameters())) + len(list(D.parameters())))
    for step in ("d", "r1", "g", "path"):
        errs = [report[k] for k in report if k.startswith(step + "/")]
        print(step, "worst error / bound: %.3g" % max(e / b for e, b in errs),
              "max error %.3g" % max(e for e, _ in errs))


def test_train_step_iteration(data, monkeypatch):
    """StyleGAN2Model.train_step itself (step 0: R1 and path length due) with z, the noise maps and the path
    draw y fixed as the reference's: losses, and every parameter of G, D and G_ema after the Adam steps
    (lr 0.002 * k/(k+1), betas (0, 0.99) ** (k/(k+1))) and the EMA. rosinality's EMA decay is
    0.5 ** (32 / 10k) whatever the batch (ppimg2img's: 0.5 ** (N / (ema_kimg * 1000)), as the official
    code): ema_kimg 1.25 gives it at N = 4."""
    m = StyleGAN2Model({"name": "stylegan2", "size": SIZE, "style_dim": STYLE_DIM, "n_mlp": N_MLP,
                        "channels": CHANNELS}, {"name": "stylegan2", "channels": CHANNELS}, mixing=0.0,
                       ema_kimg=1.25)
    for net, key in (("netG", "g"), ("netD", "d"), ("netG_ema", "g_ema")):
        load_state_into(m.nets[net], data["weights"][key], "torch", source=f"weights.pt {key}")
    m.setup_training({"lr": 0.002}, {"policy": "linear", "n_epochs": 1, "n_epochs_decay": 0})
    real, z, noise, y = _inputs(data)
    G = m.nets["netG"]
    m._fake = lambda n, **kw: G(z[:n], noise=[x[:n] for x in noise], **kw)
    monkeypatch.setattr(sg2_model, "path_length_penalty",
                        lambda fake, latents, mean: path_length_penalty(fake, latents, mean, noise=y))
    m.set_input({"image": real})
    losses = m.train_step()
    out = {"iter/d/loss": losses["D"], "iter/d/real_score": losses["real_score"],
           "iter/d/fake_score": losses["fake_score"], "iter/r1/loss": losses["R1"], "iter/g/loss": losses["G"],
           "iter/path/loss": losses["path"], "iter/path/length": losses["path_length"],
           "iter/path/mean": m.mean_path_length}
    for prefix, net in (("iter/after/g", "netG"), ("iter/after/d", "netD"), ("iter/after/g_ema", "netG_ema")):
        for k, p in m.nets[net].named_parameters():
            out[f"{prefix}/{k}"] = p.numpy()
    keys = [k for k in data["f64"] if k.startswith("iter/")]
    assert set(keys) == set(out), set(keys) ^ set(out)
    report = _check(out, data, keys)
    for part in ("after/g/", "after/d/", "after/g_ema/"):
        errs = [report[k] for k in report if k.startswith("iter/" + part)]
        print(part, "worst error / bound: %.3g" % max(e / b for e, b in errs))
