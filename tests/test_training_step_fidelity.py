"""One CycleGAN and one pix2pix training step equal the original PyTorch ``optimize_parameters``
(junyanz/pytorch-CycleGAN-and-pix2pix) on the same start weights and inputs (issue 17).

tests/data/steps/ (see its README.md) holds the original's start weights, the inputs, and what
its step gave in float64: the losses, every parameter's change, the gradients and the BatchNorm
running statistics, together with ``err32``: per tensor, max|original float32 - original float64|,
the original's own float32 error.

Criterion, per tensor: max|ours (float32) - original float64| <= 10 * max(err32, floor), where
``floor = FLOOR_REL * max|original float64|`` with FLOOR_REL = 2.4e-7, two float32 ulps at the
tensor's scale: it only matters where the original's float32 result happened to be (nearly)
exact, as for a loss of 50 that PyTorch's float32 run got within 0.1 ulp.

Parameters are compared through their change in the step. Adam's first step changes a parameter by
u(g) = -lr * g / (|g| + eps) (the bias corrections cancel), about -lr * sign(g): an entry whose
float64 gradient is comparable to eps = 1e-8 moves by a large part of lr for a gradient error of
a few ulps (measured: g = 6.4e-8 in a pix2pix up-convolution, our gradient 1.6e-9 off, 25x inside
the gradient criterion, moves the update by 5.5e-7 where PyTorch's float32 run happened to move it
by 4e-9). So the allowed update error is, element-wise, the per-tensor criterion above PLUS what
u does to a gradient error the gradient criterion allows: max over +-tol_grad of
|u(g64 +- tol_grad) - u(g64)|. Where the float64 gradient is ~0 (a convolution bias in front of an
InstanceNorm, whose exact gradient is 0) err32 of the update is itself ~lr; everywhere else the
added term is ~lr * eps * tol_grad / g^2, negligible.
"""
import os

import numpy as np
import paddle
import pytest

from ppimg2img.models import MODELS
from ppimg2img.weights.reader import read_checkpoint

DATA = os.path.join(os.path.dirname(__file__), "data", "steps")
LR = 2e-4
FACTOR = 10.0
FLOOR_REL = 2.4e-7  # two float32 ulps (2 * 2**-23) of the tensor's scale
ADAM_EPS = 1e-8  # torch.optim.Adam's and paddle.optimizer.Adam's default

CASES = {
    "cyclegan_resnet_6blocks_ngf4": (
        "CycleGANModel", "cyclegan_resnet_6blocks_ngf4", 1,
        dict(generator={"name": "resnet_6blocks", "ngf": 4, "norm": "instance", "use_dropout": False},
             discriminator={"name": "basic", "ndf": 4, "norm": "instance"},
             gan_mode="lsgan", lambda_A=10.0, lambda_B=10.0, lambda_identity=0.5, pool_size=0)),
    "pix2pix_unet_128_ngf4_batch1": (
        "Pix2PixModel", "pix2pix_unet_128_ngf4", 1,
        dict(generator={"name": "unet_128", "ngf": 4, "norm": "batch", "use_dropout": False},
             discriminator={"name": "basic", "ndf": 4, "norm": "batch"}, gan_mode="vanilla", lambda_L1=100.0)),
    "pix2pix_unet_128_ngf4_batch2": (
        "Pix2PixModel", "pix2pix_unet_128_ngf4", 2,
        dict(generator={"name": "unet_128", "ngf": 4, "norm": "batch", "use_dropout": False},
             discriminator={"name": "basic", "ndf": 4, "norm": "batch"}, gan_mode="vanilla", lambda_L1=100.0)),
}


def _paddle_key(key):
    return key.replace("running_mean", "_mean").replace("running_var", "_variance")


def _load(npz_path):
    with np.load(npz_path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _torch_key(key):
    return key.replace("._mean", ".running_mean").replace("._variance", ".running_var")


def _build(case):
    kind, stem, batch, kwargs = CASES[case]
    paddle.seed(0)
    model = MODELS[kind](**kwargs)
    start = read_checkpoint(os.path.join(DATA, stem + "_start.pth"))
    start_np = {}
    for net_name, net in model.nets.items():
        state = {_paddle_key(k): np.asarray(v) for k, v in start[net_name].items()
                 if not k.endswith("num_batches_tracked")}
        assert set(state) == set(net.state_dict()), net_name
        net.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
        start_np.update({f"{net_name}/{_torch_key(k)}": v.astype(np.float64) for k, v in state.items()})
    model.setup_training({"lr": LR, "beta1": 0.5, "beta2": 0.999}, {"policy": "linear"})
    model.train()
    inputs = _load(os.path.join(DATA, stem + "_inputs.npz"))
    model.set_input({k: v[:batch] for k, v in inputs.items()})
    return model, start_np


def _tolerance(ref, err32):
    return FACTOR * max(float(err32), FLOOR_REL * float(np.abs(np.asarray(ref, np.float64)).max()))


def _adam_first_update(g):
    return -LR * g / (np.abs(g) + ADAM_EPS)


def _check(name, ours, ref, err32, failures, extra=0.0):
    """Record a failure unless |ours - ref| <= the per-tensor tolerance (+ ``extra``, element-wise)."""
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    assert ours.shape == ref.shape, name
    tol = _tolerance(ref, err32) + extra
    excess = np.abs(ours - ref) - tol
    if not excess.max() <= 0:
        i = np.unravel_index(np.argmax(excess), excess.shape) if excess.ndim else ()
        failures.append(f"{name}: |ours - orig64| {float(np.abs(ours - ref)[i]):.3g} > tolerance "
                        f"{float(np.broadcast_to(tol, excess.shape)[i]):.3g} at {i} (orig32 error {float(err32):.3g})")


@pytest.mark.parametrize("case", list(CASES))
def test_one_training_step_matches_the_original(case):
    model, start = _build(case)
    losses = model.train_step()
    exp = _load(os.path.join(DATA, case + "_expected.npz"))
    failures = []
    checked = {"loss": 0, "grad": 0, "state": 0, "running": 0}
    for name, value in losses.items():
        _check(f"loss {name}", value, exp[f"float64/loss/{name}"], exp[f"err32/loss/{name}"], failures)
        checked["loss"] += 1
    for net_name, net in model.nets.items():
        params = dict(net.named_parameters())
        for key, tensor in net.state_dict().items():
            tkey = f"{net_name}/{_torch_key(key)}"
            if "running_" in tkey:  # BatchNorm statistics after the step
                _check(f"{tkey}", tensor.numpy(), exp[f"float64/state/{tkey}"], exp[f"err32/state/{tkey}"], failures)
                checked["running"] += 1
                continue
            # the gradient of the step, then the parameter's change (the start is exact in both)
            grad, g64, g_err32 = params[key].grad, exp[f"float64/grad/{tkey}"], exp[f"err32/grad/{tkey}"]
            assert grad is not None, tkey
            _check(f"grad {tkey}", grad.numpy(), g64, g_err32, failures)
            checked["grad"] += 1
            g64 = g64.astype(np.float64)
            tol_grad = _tolerance(g64, g_err32)
            adam = np.maximum(np.abs(_adam_first_update(g64 + tol_grad) - _adam_first_update(g64)),
                              np.abs(_adam_first_update(g64 - tol_grad) - _adam_first_update(g64)))
            delta = tensor.numpy().astype(np.float64) - start[tkey]
            _check(f"update {tkey}", delta, exp[f"delta64/state/{tkey}"], exp[f"err32/state/{tkey}"], failures,
                   extra=adam)
            checked["state"] += 1
    assert not failures, "\n".join(failures)
    assert checked["loss"] == (8 if case.startswith("cyclegan") else 4)
    assert checked["grad"] == checked["state"] > 0
    assert checked["running"] == (0 if case.startswith("cyclegan") else 2 * sum(
        1 for k in exp if k.startswith("float64/state/") and k.endswith("running_mean")))
