"""train.fast for U-GAT-IT (ppimg2img/engine/fast.py): the static-program oneDNN step gives the eager step's
losses, gradients and updates within float rounding, and the rewrites it needs (Paddle 3.3.1's oneDNN
subtract_grad, matmul_grad with one output column and max-pool workspace give wrong gradients) are checked
piece by piece against eager gradients."""
import numpy as np
import paddle
import paddle.nn as nn
import pytest

from ppimg2img.engine.fast import _onednn, _patch, _static_mode, _subtracts_to_adds, _without_struct_names
from ppimg2img.models.ugatit import _mse
from ppimg2img.nets import ugatit as U

from test_fast_paths import LR, _batches, _check_step, _model, _params


def _static_gradients(make, x_value, loss_fn):
    """Gradients of ``loss_fn(net, x)`` for every trained parameter of ``make()``: eager, and in a training
    program (the layers patched as engine/fast.py patches them) run on oneDNN, from the same weights."""
    paddle.seed(0)
    net = make()
    start = {k: v.numpy().copy() for k, v in net.state_dict().items()}  # before the eager power iteration
    loss_fn(net, paddle.to_tensor(x_value)).backward()
    eager = {k: p.grad.numpy() for k, p in net.named_parameters() if p.grad is not None}
    token = U.TRAINING_PROGRAM.set(True)
    try:
        with _static_mode():
            main, startup = paddle.static.Program(), paddle.static.Program()
            with paddle.static.program_guard(main, startup), paddle.utils.unique_name.guard(), \
                    _without_struct_names():
                twin = make()
                for layer in twin.sublayers(include_self=True):
                    _patch(layer)
                x = paddle.static.data("x", [-1, *x_value.shape[1:]], "float32")
                loss = loss_fn(twin, x)
                _subtracts_to_adds(main)
                names = [k for k, _ in twin.named_parameters() if k in eager]
                params = dict(twin.named_parameters())
                grads = paddle.static.gradients(loss, [params[k] for k in names])
            exe, scope = paddle.static.Executor(paddle.CPUPlace()), paddle.static.Scope()
            with paddle.static.scope_guard(scope):
                exe.run(startup)
                for k, v in twin.state_dict().items():
                    scope.find_var(v.name).get_tensor().set(start[k], paddle.CPUPlace())
                with _onednn():
                    got = exe.run(main, feed={"x": x_value}, fetch_list=grads)
    finally:
        U.TRAINING_PROGRAM.reset(token)
    return {k: (g, eager[k]) for k, g in zip(names, got)}


def _discriminator_loss(net, x):
    """U-GAT-IT's D loss on a real and a fake batch: two calls (two power iterations, two max poolings)."""
    real_map, real_cam, _ = net(x)
    fake_map, fake_cam, _ = net(x * 0.5 - 0.2)
    return _mse(real_map, 1.0) + _mse(fake_map, 0.0) + _mse(real_cam, 1.0) + _mse(fake_cam, 0.0)


def _map_loss(net, x):
    out = net(x)
    out = out[0] if isinstance(out, tuple) else out
    return (out * paddle.to_tensor(np.linspace(-1, 1, int(np.prod(out.shape[1:])), dtype="float32")
                                   .reshape(out.shape[1:]))).sum()


PIECES = {
    # x - mean(x) with a gradient on both sides: oneDNN's subtract_grad (-> add + scale)
    "instance norm": (lambda: nn.Sequential(U._conv(4, 6, 3), U._instance_norm(6), nn.ReLU(), U._conv(6, 3, 3)),
                      _map_loss),
    "ILN": (lambda: nn.Sequential(U._conv(4, 6, 3), U.ILN(6)), _map_loss),
    "residual block": (lambda: nn.Sequential(U._conv(4, 6, 1), U.ResnetBlock(6)), _map_loss),
    # spectral norm (weight * 1/sigma), linears to one output (CAM), max over H and W, called twice
    "discriminator": (lambda: U.UGATITDiscriminator(4, 4, 4), _discriminator_loss),
}


@pytest.mark.parametrize("piece", sorted(PIECES))
def test_training_program_gradients_under_onednn(piece):
    make, loss_fn = PIECES[piece]
    x = np.random.default_rng(0).uniform(-1, 1, (1, 4, 24, 24)).astype("float32")
    for name, (got, expected) in _static_gradients(make, x, loss_fn).items():
        scale = np.abs(expected).max()
        assert scale > 0, name
        np.testing.assert_allclose(got, expected, rtol=0, atol=2e-5 * scale, err_msg=f"{piece}: {name}")


def _ugatit(fast):
    gen = {"name": "ugatit", "ngf": 4, "n_blocks": 1, "img_size": 32, "light": True}
    dis = {"name": "ugatit", "ndf": 4, "n_layers": 4}
    return _model("UGATITModel", fast, gen, dis, n_layers_local=3)


def test_ugatit_fast_step_matches_eager():
    """Two steps: the same losses, Adam moments and updates (test_fast_paths._check_step), the same
    spectral-norm vectors (three power iterations per discriminator and step), clipped rho, the step's images."""
    eager, fast = _ugatit(False), _ugatit(True)
    _check_step(eager, fast, _batches(2, 32))
    pe, pf = _params(eager), _params(fast)
    vectors = [k for k in pe if k.endswith(("weight_u", "weight_v"))]
    assert len(vectors) == 2 * 2 * (6 + 5)  # u and v of the 6 (global) + 5 (local) spectral-norm layers per domain
    for k in vectors:
        np.testing.assert_allclose(pf[k], pe[k], rtol=0, atol=2e-5, err_msg=k)
    rhos = [v for k, v in pf.items() if k.endswith(".rho")]
    assert rhos and all(v.min() >= 0 and v.max() <= 1 for v in rhos)
    assert [[n for n, _ in row] for row in fast.visuals()] == [[n for n, _ in row] for row in eager.visuals()]
    for name in ("fake_A2B", "heatmap_B2A", "fake_B2B"):
        np.testing.assert_allclose(getattr(fast, name).numpy(), getattr(eager, name).numpy(), atol=2e-3, err_msg=name)
    assert LR == 2e-4
