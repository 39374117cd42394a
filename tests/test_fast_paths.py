"""train.fast (ppimg2img/engine/fast.py): the static-program oneDNN step gives the eager step's losses,
gradients and parameter updates within float rounding, on tiny CycleGAN and pix2pix models."""
import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from ppimg2img.config import ConfigError, load_config
from ppimg2img.engine.fast import FastPathError, _conv_transpose_as_matmul, _onednn, _pad, _static_mode
from ppimg2img.engine.trainer import Trainer
from ppimg2img.models import MODELS
from ppimg2img.utils.env import set_seed

from conftest import tiny_cyclegan_config

LR = 2e-4


def _model(name, fast, gen, dis, **kwargs):
    set_seed(0)
    model = MODELS[name](gen, dis, **kwargs)
    model.setup_training({"lr": LR}, {"policy": "linear"})
    return model.set_fast(True) if fast else model


def _batches(n, size, seed=0):
    rng = np.random.default_rng(seed)
    return [{k: rng.uniform(-1, 1, (1, 3, size, size)).astype("float32") for k in "AB"} for _ in range(n)]


def _params(model):
    return {f"{n}.{k}": v.numpy().copy() for n, net in model.nets.items() for k, v in net.state_dict().items()}


def _check_step(eager, fast, batches):
    """Same losses every step; after the first step the same Adam moments (0.5 g and 0.001 g^2: the
    gradients) and the same parameter updates."""
    before = _params(eager)
    assert _params(fast).keys() == before.keys()
    for i, batch in enumerate(batches):
        eager.set_input(batch)
        fast.set_input(batch)
        le, lf = eager.train_step(), fast.train_step()
        assert list(le) == list(lf)
        for k in le:
            assert lf[k] == pytest.approx(le[k], rel=2e-4, abs=1e-5), (i, k)
        if i == 0:
            se, sf = eager.state_dict(), fast.state_dict()
            for opt in se["optimizers"]:
                oe, of = se["optimizers"][opt], sf["optimizers"][opt]
                assert sorted(oe) == sorted(of)  # the same checkpoint format
                m1 = [k for k in oe if k.endswith("_moment1_0")]
                assert m1
                scale = max(float(np.abs(oe[k].numpy()).max()) for k in m1)
                for k in m1:  # biases before InstanceNorm have a zero gradient: noise ~1e-7 either way
                    np.testing.assert_allclose(of[k].numpy(), oe[k].numpy(), rtol=0, atol=2e-4 * scale, err_msg=k)
            pe, pf = _params(eager), _params(fast)
            for k in (k for k in pe if not k.endswith(("._mean", "._variance"))):
                upd_e, upd_f = pe[k] - before[k], pf[k] - before[k]
                # Adam's first update is lr * g / (|g| + eps): the same where the gradient is not
                # noise; at most 2 lr apart where it is (signs of ~1e-7 gradients)
                assert np.abs(upd_f - upd_e).max() <= 2 * LR + 1e-6, k
                if k.endswith("weight"):
                    big = np.abs(upd_e) > 0.9 * LR
                    np.testing.assert_allclose(upd_f[big], upd_e[big], rtol=0, atol=LR * 0.05, err_msg=k)
            for k in pe:  # BatchNorm running statistics (updated by the forward pass)
                if k.endswith(("._mean", "._variance")):
                    np.testing.assert_allclose(pf[k], pe[k], rtol=1e-4, atol=1e-6, err_msg=k)


def test_cyclegan_fast_step_matches_eager():
    gen, dis = {"name": "resnet_6blocks", "ngf": 4}, {"name": "basic", "ndf": 4}
    eager = _model("CycleGANModel", False, gen, dis, pool_size=2)
    fast = _model("CycleGANModel", True, gen, dis, pool_size=2)
    _check_step(eager, fast, _batches(2, 32))
    # the visuals of the step are the step's images
    assert {name for row in fast.visuals() for name, _ in row} == {name for row in eager.visuals() for name, _ in row}
    np.testing.assert_allclose(fast.rec_A.numpy(), eager.rec_A.numpy(), atol=1e-3)


def test_pix2pix_fast_step_matches_eager():
    """BatchNorm in G and D (statistics updated once per step), U-Net transposed convolutions, D updated
    before the G step; dropout off (its masks come from another random stream)."""
    gen = {"name": "unet_128", "ngf": 4, "use_dropout": False}
    dis = {"name": "basic", "ndf": 4, "norm": "batch"}
    eager = _model("Pix2PixModel", False, gen, dis)
    fast = _model("Pix2PixModel", True, gen, dis)
    _check_step(eager, fast, _batches(2, 128))


def test_resume_from_eager_checkpoint_continues_the_same():
    """A fast model loading an eager checkpoint (weights, Adam moments) steps as the eager model does,
    and its own checkpoint (same format) loads back into an eager model."""
    gen = {"name": "unet_128", "ngf": 4, "use_dropout": False}
    dis = {"name": "basic", "ndf": 4, "norm": "batch"}
    b1, b2 = _batches(2, 128, seed=1)
    eager = _model("Pix2PixModel", False, gen, dis)
    eager.set_input(b1)
    eager.train_step()
    fast = _model("Pix2PixModel", True, gen, dis)
    fast.set_state_dict(eager.state_dict())  # live tensors of 'eager', which steps on first
    for m in (eager, fast):
        m.set_input(b2)
    le, lf = eager.train_step(), fast.train_step()
    for k in le:
        assert lf[k] == pytest.approx(le[k], rel=2e-4, abs=1e-5), k
    for name in ("G", "D"):  # the moments went on from the loaded ones (a fresh start would differ)
        for key in ("@0_moment1_0", "@0_moment2_0", "@0_beta1_pow_acc_0"):
            np.testing.assert_allclose(fast.state_dict()["optimizers"][name][key].numpy(),
                                       eager.state_dict()["optimizers"][name][key].numpy(), rtol=1e-3, atol=1e-5)
    back = _model("Pix2PixModel", False, gen, dis)
    back.set_state_dict(fast.state_dict())
    for k, v in _params(fast).items():
        np.testing.assert_array_equal(_params(back)[k], v)


def test_exact_formulations_of_pad_and_transposed_convolution():
    """The static program's replacements for pad3d and conv2d_transpose give the same values."""
    x = paddle.to_tensor(np.random.default_rng(0).normal(size=(2, 5, 7, 9)).astype("float32"))
    for mode in ("constant", "reflect", "replicate"):
        for pad in ([1, 2, 3, 0], [3, 3, 3, 3], [0, 0, 1, 1]):
            # exact although another implementation: a pad only copies values (and zeros)
            np.testing.assert_array_equal(_pad(x, pad, mode).numpy(), F.pad(x, pad, mode=mode).numpy(), err_msg=mode)
    # ResNet generator, U-Net, then odd output sides, stride 3, kernel = stride, dilation; also one-pixel inputs
    settings = ((3, 2, 1, 1), (4, 2, 1, 0), (3, 2, 1, 0), (5, 3, 2, 1), (3, 1, 1, 0), (2, 2, 0, 0), (3, 3, 0, 2))
    for x in (x, x[:1, :, :1, :1]):
        for k, s, p, op, d in [setting + (1,) for setting in settings] + [(3, 2, 1, 1, 2)]:
            layer = paddle.nn.Conv2DTranspose(5, 6, k, stride=s, padding=p, output_padding=op, dilation=d)
            y = _conv_transpose_as_matmul(layer, x)
            assert y.shape == layer(x).shape, (k, s, p, op)
            np.testing.assert_allclose(y.numpy(), layer(x).numpy(), atol=1e-5, err_msg=str((k, s, p, op)))


@pytest.mark.parametrize("side", [1, 3])  # one pixel: the unbatched product (oneDNN's batched matmul_grad is wrong there)
def test_transposed_convolution_gradients_under_onednn(side):
    """The replacement's input and weight gradients in a static program on oneDNN, batch 2, equal the
    eager conv2d_transpose's."""
    rng = np.random.default_rng(side)
    x_value = rng.normal(size=(2, 6, side, side)).astype("float32")
    target = rng.normal(size=(2, 4, 2 * side, 2 * side)).astype("float32")
    layer = paddle.nn.Conv2DTranspose(6, 4, 4, stride=2, padding=1)
    weight, bias = layer.weight.numpy(), layer.bias.numpy()

    with _static_mode():
        main, startup = paddle.static.Program(), paddle.static.Program()
        with paddle.static.program_guard(main, startup):
            x = paddle.static.data("x", [-1, 6, side, side], "float32")
            x.stop_gradient = False
            twin = paddle.nn.Conv2DTranspose(6, 4, 4, stride=2, padding=1)
            loss = ((_conv_transpose_as_matmul(twin, x) - paddle.to_tensor(target)) ** 2).mean()
            grads = paddle.static.gradients(loss, [x, twin.weight])
        exe, scope = paddle.static.Executor(paddle.CPUPlace()), paddle.static.Scope()
        with paddle.static.scope_guard(scope):
            exe.run(startup)
            scope.find_var(twin.weight.name).get_tensor().set(weight, paddle.CPUPlace())
            scope.find_var(twin.bias.name).get_tensor().set(bias, paddle.CPUPlace())
            with _onednn():
                got = exe.run(main, feed={"x": x_value}, fetch_list=[loss, *grads])

    xe = paddle.to_tensor(x_value, stop_gradient=False)
    expected = ((layer(xe) - paddle.to_tensor(target)) ** 2).mean()
    expected.backward()
    np.testing.assert_allclose(got[0], expected.numpy(), rtol=1e-5)
    np.testing.assert_allclose(got[1], xe.grad.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got[2], layer.weight.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_unsupported_settings_are_refused():
    gen, dis = {"name": "resnet_6blocks", "ngf": 4}, {"name": "basic", "ndf": 4}
    with pytest.raises(FastPathError, match="wgangp"):
        _model("CycleGANModel", True, gen, dis, gan_mode="wgangp")
    set_seed(0)
    with pytest.raises(FastPathError, match="setup_training"):
        MODELS["CycleGANModel"](gen, dis).set_fast(True)


def test_trainer_switch(tmp_path):
    """train.fast: true turns the static step on (its training is tested above); the default 'auto' decides
    when training starts (tests/test_fast_auto.py)."""
    cfg = load_config(tiny_cyclegan_config(tmp_path), ["train.fast=true", f"output_dir={tmp_path / 'run'}"])
    assert Trainer(cfg).model.fast_step is not None
    cfg = load_config(tiny_cyclegan_config(tmp_path), [f"output_dir={tmp_path / 'run1'}"])
    assert cfg["train"]["fast"] == "auto" and Trainer(cfg).model.fast_step is None
    cfg = load_config(tiny_cyclegan_config(tmp_path), ["train.fast=true", "model.gan_mode=wgangp",
                                                       f"output_dir={tmp_path / 'run2'}"])
    with pytest.raises(ConfigError, match="wgangp"):
        Trainer(cfg)
