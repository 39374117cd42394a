"""GANLoss values on hand-computed inputs for every mode, and the WGAN-GP gradient penalty."""
import math

import numpy as np
import paddle
import pytest

from ppimg2img.losses import GANLoss, gradient_penalty
from ppimg2img.nets import NLayerDiscriminator

PRED = [[-2.0, 0.0], [1.0, 3.0]]


def value(mode, target_is_real, **kw):
    return float(GANLoss(mode)(paddle.to_tensor(PRED), target_is_real, **kw))


def test_lsgan():
    assert value("lsgan", True) == pytest.approx((9 + 1 + 0 + 4) / 4)
    assert value("lsgan", False) == pytest.approx((4 + 0 + 1 + 9) / 4)
    assert float(GANLoss("lsgan", target_real_label=0.9)(paddle.to_tensor([1.0]), True)) == pytest.approx(0.01)


def test_vanilla():
    softplus = lambda x: math.log1p(math.exp(x))  # BCE(logit x, 1) = softplus(-x); (x, 0) = softplus(x)
    xs = [-2.0, 0.0, 1.0, 3.0]
    assert value("vanilla", True) == pytest.approx(sum(softplus(-x) for x in xs) / 4, rel=1e-6)
    assert value("vanilla", False) == pytest.approx(sum(softplus(x) for x in xs) / 4, rel=1e-6)


def test_wgangp():
    assert value("wgangp", True) == pytest.approx(-0.5)
    assert value("wgangp", False) == pytest.approx(0.5)


def test_hinge():
    assert value("hinge", True) == pytest.approx((3 + 1 + 0 + 0) / 4)   # relu(1 - x)
    assert value("hinge", False) == pytest.approx((0 + 1 + 2 + 4) / 4)  # relu(1 + x)
    assert value("hinge", True, for_discriminator=False) == pytest.approx(-0.5)
    with pytest.raises(ValueError, match="target_is_real=True"):
        value("hinge", False, for_discriminator=False)


def test_loss_is_differentiable():
    pred = paddle.to_tensor(PRED, stop_gradient=False)
    GANLoss("lsgan")(pred, True).backward()
    assert np.allclose(pred.grad.numpy(), (np.array(PRED) - 1.0) * 2 / 4)


def test_unknown_mode():
    with pytest.raises(ValueError, match="vanilla, lsgan, wgan, wgangp, hinge"):
        GANLoss("wgan-gp")


class LinearD(paddle.nn.Layer):
    """D(x) = sum(w * x) per sample: its input gradient is exactly w, wherever it is taken."""

    def __init__(self, w):
        super().__init__()
        self.w = self.create_parameter(list(w.shape), default_initializer=paddle.nn.initializer.Assign(w))

    def forward(self, x):
        return (x * self.w).sum(axis=[1, 2, 3])


@pytest.mark.parametrize("kind", ["mixed", "real", "fake"])
@pytest.mark.parametrize("lambda_gp, constant", [(10.0, 1.0), (2.5, 0.5)])
def test_gradient_penalty_of_linear_discriminator(kind, lambda_gp, constant):
    w = np.random.default_rng(0).normal(size=(1, 2, 3, 3)).astype("float32")
    norm = np.sqrt((w.astype(np.float64) ** 2).sum())  # every sample's gradient is w
    netD = LinearD(w)
    paddle.seed(0)
    real, fake = paddle.randn([4, 2, 3, 3]), paddle.randn([4, 2, 3, 3])
    penalty, grads = gradient_penalty(netD, real, fake, type=kind, constant=constant, lambda_gp=lambda_gp)
    assert np.allclose(grads.numpy(), np.tile(w.reshape(1, -1), (4, 1)))
    assert float(penalty) == pytest.approx(lambda_gp * (norm - constant) ** 2, rel=1e-5)
    # create_graph=True: the penalty reaches D's weights, d/dw lambda (|w| - c)^2 = 2 lambda (|w| - c) w / |w|
    penalty.backward()
    assert np.allclose(netD.w.grad.numpy(), 2 * lambda_gp * (norm - constant) * w / norm, rtol=1e-4, atol=1e-6)
    assert real.stop_gradient and fake.stop_gradient  # inputs left untouched


def test_gradient_penalty_reaches_conv_discriminator():
    paddle.seed(0)
    netD = NLayerDiscriminator(input_nc=3, ndf=4, n_layers=2)
    real, fake = paddle.randn([2, 3, 32, 32]), paddle.randn([2, 3, 32, 32])
    penalty, grads = gradient_penalty(netD, real, fake)
    assert grads.shape == [2, 3 * 32 * 32] and float(penalty) > 0
    penalty.backward()
    assert float(netD.model[0].weight.grad.abs().sum()) > 0


def test_gradient_penalty_off_and_bad_type():
    netD = NLayerDiscriminator(input_nc=3, ndf=4, n_layers=1)
    x = paddle.randn([1, 3, 16, 16])
    assert gradient_penalty(netD, x, x, lambda_gp=0.0) == (0.0, None)
    with pytest.raises(ValueError, match="real, fake, mixed"):
        gradient_penalty(netD, x, x, type="both")
