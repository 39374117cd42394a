"""Adversarial losses, as ``GANLoss`` and ``cal_gradient_penalty`` in the original networks.py."""
import paddle
import paddle.nn.functional as F

from .nets.onednn_conv import first_order_only

GAN_MODES = ("vanilla", "lsgan", "wgan", "wgangp", "hinge")
GP_TYPES = ("real", "fake", "mixed")


class GANLoss:
    """Loss of a discriminator's raw output (no sigmoid) against real/fake targets.

    - 'vanilla': BCE with logits (original GAN paper),
    - 'lsgan': MSE (LSGAN; the CycleGAN default),
    - 'wgan' / 'wgangp': -mean(pred) for real, +mean(pred) for fake (WGAN; the penalty of WGAN-GP
      is :func:`gradient_penalty`),
    - 'hinge': discriminator mean(relu(1 - pred)) real / mean(relu(1 + pred)) fake;
      generator (``for_discriminator=False``) -mean(pred).
    Targets are ``target_real_label`` / ``target_fake_label`` (upstream 1.0 / 0.0).
    """

    def __init__(self, gan_mode, target_real_label=1.0, target_fake_label=0.0):
        if gan_mode not in GAN_MODES:
            raise ValueError(f"unknown gan_mode {gan_mode!r}; valid: {', '.join(GAN_MODES)}")
        self.gan_mode = gan_mode
        self.real_label = float(target_real_label)
        self.fake_label = float(target_fake_label)

    def get_target_tensor(self, prediction, target_is_real):
        """A tensor of the real or fake label with the shape of ``prediction``."""
        value = self.real_label if target_is_real else self.fake_label
        return paddle.full_like(prediction, value)

    def __call__(self, prediction, target_is_real, for_discriminator=True):
        if self.gan_mode == "lsgan":
            return F.mse_loss(prediction, self.get_target_tensor(prediction, target_is_real))
        if self.gan_mode == "vanilla":
            return F.binary_cross_entropy_with_logits(
                prediction, self.get_target_tensor(prediction, target_is_real))
        if self.gan_mode in ("wgan", "wgangp"):
            return -prediction.mean() if target_is_real else prediction.mean()
        # hinge
        if not for_discriminator:
            if not target_is_real:
                raise ValueError("hinge generator loss is defined for target_is_real=True only "
                                 "(the generator wants its fakes judged real)")
            return -prediction.mean()
        if target_is_real:
            return F.relu(1.0 - prediction).mean()
        return F.relu(1.0 + prediction).mean()


def gradient_penalty(netD, real, fake, type="mixed", constant=1.0, lambda_gp=10.0):
    """WGAN-GP gradient penalty (Gulrajani et al. 2017), as upstream ``cal_gradient_penalty``.

    ``type`` picks where the gradient is taken: 'real', 'fake' or 'mixed' (random per-sample
    interpolation between them). Returns ``(penalty, gradients)`` with gradients flattened to
    [batch, -1]; the penalty keeps its graph (create_graph=True) so it can be backpropagated
    into ``netD``. ``lambda_gp <= 0`` returns ``(0.0, None)``.
    """
    if lambda_gp <= 0.0:
        return 0.0, None
    if type == "real":
        interpolates = real.detach()
    elif type == "fake":
        interpolates = fake.detach()
    elif type == "mixed":
        alpha = paddle.rand([real.shape[0]] + [1] * (real.ndim - 1), dtype=real.dtype)
        interpolates = alpha * real.detach() + (1.0 - alpha) * fake.detach()
    else:
        raise ValueError(f"unknown gradient penalty type {type!r}; valid: {', '.join(GP_TYPES)}")
    interpolates.stop_gradient = False
    with first_order_only():  # differentiated twice: Paddle's convolutions, not the oneDNN PyLayer
        disc = netD(interpolates)
    gradients = paddle.grad(outputs=disc, inputs=interpolates, grad_outputs=paddle.ones_like(disc),
                            create_graph=True, retain_graph=True)[0]
    gradients = gradients.reshape([real.shape[0], -1])
    penalty = ((paddle.linalg.norm(gradients + 1e-16, p=2, axis=1) - constant) ** 2).mean() * lambda_gp
    return penalty, gradients
