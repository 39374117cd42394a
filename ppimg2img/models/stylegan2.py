"""StyleGAN2 training (Karras et al. 2020, appendix B; rosinality/stylegan2-pytorch ``train.py``).

Every iteration, on a real batch x of size N:
1. D step: L_D = E[softplus(D(G(z)))] + E[softplus(-D(x))] (the non-saturating logistic loss,
   Goodfellow et al. 2014), z with style mixing (probability ``mixing``, 0.9).
2. Every ``d_reg_every`` (16) D steps, lazy R1 (Mescheder et al. 2018): gamma/2 * E[||grad_x D(x)||^2],
   gamma ``r1`` = 10, multiplied by ``d_reg_every`` (lazy regularisation, StyleGAN2 sec. 3.1).
3. G step: L_G = E[softplus(-D(G(z)))].
4. Every ``g_reg_every`` (4) G steps, path-length regularisation (sec. 3.2, eq. 4) on a batch of
   N / ``path_batch_shrink`` (2): a = E[(||J_w^T y||_2 - a_mean)^2], y ~ N(0, I) / sqrt(H W), the
   running mean a_mean with decay 0.01, weight ``path_regularize`` (2) times ``g_reg_every``.
5. G_ema <- beta G_ema + (1 - beta) G, beta = 0.5 ** (N / (``ema_kimg`` * 1000)) (half-life 10k images);
   with ``ema_rampup`` r (StyleGAN2-ADA's short-run setting, 0.05) the half-life is at most r times the
   images seen so far.

Adam (lr 0.002, betas (0, 0.99), eps 1e-8) with the lazy-regularisation correction: for c = k/(k+1),
k the regularisation interval, lr * c and betas ** c (sec. 3.1). R1 and the path length are taken at
iteration 0, k, 2k... as the reference. The EMA generator ``netG_ema`` is the one sampled, evaluated
and exported.
"""
import math

import numpy as np
import paddle
import paddle.nn.functional as F

from ..nets import build_discriminator, build_generator
from ..nets.stylegan2 import set_fused, set_second_order
from ..schedulers import build_lr_scheduler
from .base import BaseModel, build_optimizer, set_requires_grad
from .gan import GANModel


def r1_penalty(D, real):
    """E over the batch of ||grad_x D(x)||^2 (Mescheder et al. 2018, eq. 9 without gamma/2), as a
    differentiable tensor; returns (penalty, D(real))."""
    real = real.detach()
    real.stop_gradient = False
    pred = D(real)
    grad, = paddle.grad(pred.sum(), real, create_graph=True)
    return (grad * grad).reshape([grad.shape[0], -1]).sum(axis=1).mean(), pred


def path_length_penalty(fake, latents, mean_path_length, decay=0.01, noise=None):
    """StyleGAN2 eq. 4 as rosinality's ``g_path_regularize``: path lengths ||J_w^T y||, y ~ N(0, I)/sqrt(HW)
    (``noise``: that N(0, I) draw, else a new one), against their running mean (updated with ``decay``,
    kept differentiable as the reference). Returns (penalty, new running mean as a float, mean path length)."""
    if noise is None:
        noise = paddle.randn(fake.shape, dtype=fake.dtype)
    noise = noise / math.sqrt(fake.shape[2] * fake.shape[3])
    grad, = paddle.grad((fake * noise).sum(), latents, create_graph=True)
    lengths = paddle.sqrt((grad * grad).sum(axis=2).mean(axis=1))
    path_mean = mean_path_length + decay * (lengths.mean() - mean_path_length)
    penalty = ((lengths - path_mean) ** 2).mean()
    return penalty, float(path_mean), float(lengths.mean())


@paddle.no_grad()
def accumulate(ema, net, decay):
    """ema <- decay * ema + (1 - decay) * net, parameters only (rosinality's ``accumulate``)."""
    params = dict(net.named_parameters())
    for name, p in ema.named_parameters():
        p.set_value(decay * p + (1.0 - decay) * params[name])


class StyleGAN2Model(GANModel):
    """StyleGAN2 generator + residual discriminator with the paper's losses and regularisers (see
    the module docstring).

    Args:
        generator: the generator section (``name: stylegan2``, size, style_dim, n_mlp, channel_multiplier...).
        discriminator: the discriminator section (``name: stylegan2``); size follows the generator.
        r1: R1 weight gamma (10; the official FFHQ-1024 config-f).
        path_regularize: path-length weight (2).
        path_batch_shrink: the path-length batch is N / this (2).
        d_reg_every, g_reg_every: lazy-regularisation intervals (16, 4).
        mixing: probability of style mixing (two z) in a training batch (0.9).
        ema_kimg: half-life of the generator EMA in thousands of images (10).
        ema_rampup: cap the half-life at this fraction of the images seen so far (StyleGAN2-ADA's 0.05 for
            short runs); null: no cap (the paper).
        n_visuals: fixed-noise samples in each training visuals grid.
    """

    def __init__(self, generator, discriminator, r1=10.0, path_regularize=2.0, path_batch_shrink=2, d_reg_every=16,
                 g_reg_every=4, mixing=0.9, ema_kimg=10.0, ema_rampup=None, n_visuals=16, is_train=True, seed=0):
        BaseModel.__init__(self)  # not GANModel's: no re-initialisation (equalised lr: N(0, 1) weights)
        g_cfg = dict(generator)
        name = g_cfg.pop("name")
        self.nets["netG"] = build_generator(name, **g_cfg)
        self.nets["netG_ema"] = build_generator(name, **g_cfg)
        # the trained G modulates its inputs around shared convolutions (rosinality's fused=False):
        # the same numbers within float32 rounding, 15% faster training steps on a CPU
        G = set_fused(self.nets["netG"], False)
        self.nets["netG_ema"].set_state_dict(G.state_dict())
        self.nets["netG_ema"].eval()
        self.nz, self.n_classes, self.output_nc, self.image_size = G.nz, 0, G.output_nc, G.image_size
        self.n_latent = G.n_latent
        if is_train:
            d_cfg = dict(discriminator)
            d_name = d_cfg.pop("name")
            d_cfg.update(input_nc=G.output_nc, image_size=G.image_size)
            self.nets["netD"] = build_discriminator(d_name, **d_cfg)
        for key, value in (("d_reg_every", d_reg_every), ("g_reg_every", g_reg_every),
                           ("path_batch_shrink", path_batch_shrink)):
            if int(value) < 1:
                raise ValueError(f"{key} must be >= 1, got {value}")
        if not 0.0 <= mixing <= 1.0:
            raise ValueError(f"mixing is a probability (0..1), got {mixing}")
        self.r1, self.path_regularize, self.path_batch_shrink = float(r1), float(path_regularize), int(path_batch_shrink)
        self.d_reg_every, self.g_reg_every, self.mixing = int(d_reg_every), int(g_reg_every), float(mixing)
        self.ema_kimg = float(ema_kimg)
        self.ema_rampup = None if ema_rampup is None else float(ema_rampup)
        self.images_seen = 0
        self.gan_mode, self.n_critic = "stylegan2", 1
        self.steps, self.mean_path_length = 0, 0.0
        self.last_losses = {}
        rng = np.random.default_rng([seed, 7])
        self.fixed_z = rng.standard_normal((n_visuals, self.nz)).astype(np.float32)
        self.fixed_labels = np.zeros(n_visuals, dtype=np.int64)

    #: the generator that is sampled, evaluated and exported
    sample_net = "netG_ema"

    def setup_training(self, optimizer_cfg, scheduler_cfg):
        """Adam per net with the lazy-regularisation correction c = k / (k + 1): lr c, betas ** c."""
        cfg = dict(optimizer_cfg)
        lr = cfg.pop("lr")
        beta1, beta2 = cfg.pop("beta1", 0.0), cfg.pop("beta2", 0.99)
        self.optimizer_groups, self.optimizer_cfg = {"G": [self.nets["netG"]], "D": [self.nets["netD"]]}, cfg
        for opt_name, every in (("G", self.g_reg_every), ("D", self.d_reg_every)):
            c = every / (every + 1)
            sched = build_lr_scheduler(lr * c, **scheduler_cfg)
            self.schedulers[opt_name] = sched
            params = [p for net in self.optimizer_groups[opt_name] for p in net.parameters()]
            self.optimizers[opt_name] = build_optimizer(params, sched, beta1=beta1 ** c, beta2=beta2 ** c, **cfg)

    def mixing_noise(self, n):
        """One z batch, or two with probability ``mixing`` (rosinality's ``mixing_noise``), and the
        crossover index (uniform in 1..n_latent-1); from Paddle's generator, so a resume continues exactly."""
        if self.mixing > 0 and float(paddle.rand([])) < self.mixing:
            index = int(paddle.randint(1, self.n_latent, []))
            return [paddle.randn([n, self.nz]), paddle.randn([n, self.nz])], index
        return [paddle.randn([n, self.nz])], None

    def _fake(self, n, **kwargs):
        styles, index = self.mixing_noise(n)
        return self.nets["netG"](styles, noise_mode="random", inject_index=index, **kwargs)

    def train_step(self):
        G, D = self.nets["netG"], self.nets["netD"]
        n = self.real.shape[0]
        losses = {}
        # 1-2. discriminator, and lazy R1
        set_requires_grad([G], False)
        set_requires_grad([D], True)
        fake = self._fake(n)
        real_pred, fake_pred = D(self.real), D(fake)
        loss_D = F.softplus(fake_pred).mean() + F.softplus(-real_pred).mean()
        self.zero_grad("D")
        loss_D.backward()
        self.optimizers["D"].step()
        losses.update(D=float(loss_D), real_score=float(real_pred.mean()), fake_score=float(fake_pred.mean()))
        if self.r1 and self.steps % self.d_reg_every == 0:
            r1_loss, pred = r1_penalty(D, self.real)
            self.zero_grad("D")
            (self.r1 / 2 * r1_loss * self.d_reg_every + 0 * pred[0]).sum().backward()
            self.optimizers["D"].step()
            self.last_losses["R1"] = float(r1_loss)
        # 3-4. generator, and lazy path-length regularisation
        set_requires_grad([G], True)
        set_requires_grad([D], False)
        loss_G = F.softplus(-D(self._fake(n))).mean()
        self.zero_grad("G")
        loss_G.backward()
        self.optimizers["G"].step()
        losses["G"] = float(loss_G)
        if self.path_regularize and self.steps % self.g_reg_every == 0:
            set_second_order(G, True)
            fake, latents = self._fake(max(1, n // self.path_batch_shrink), return_latents=True)
            path_loss, self.mean_path_length, path_length = path_length_penalty(fake, latents, self.mean_path_length)
            self.zero_grad("G")
            (self.path_regularize * self.g_reg_every * path_loss + 0 * fake[0, 0, 0, 0]).backward()
            self.optimizers["G"].step()
            set_second_order(G, False)
            self.last_losses.update(path=float(path_loss), path_length=path_length)
        set_requires_grad([D], True)
        # 5. the moving average of G
        self.images_seen += n
        half_life = self.ema_kimg * 1000
        if self.ema_rampup is not None:
            half_life = min(half_life, self.images_seen * self.ema_rampup)
        accumulate(self.nets["netG_ema"], G, 0.5 ** (n / max(half_life, 1e-8)))
        self.steps += 1
        losses.update(self.last_losses)
        return losses

    def extra_state(self):
        return {"steps": self.steps, "mean_path_length": self.mean_path_length, "last": dict(self.last_losses),
                "images_seen": self.images_seen}

    def set_extra_state(self, state):
        self.steps = int(state.get("steps", 0))
        self.mean_path_length = float(state.get("mean_path_length", 0.0))
        self.images_seen = int(state.get("images_seen", 0))
        self.last_losses = {k: float(v) for k, v in (state.get("last") or {}).items()}

    @paddle.no_grad()
    def generate(self, z, labels=None, truncation=1.0):
        """The EMA generator on a noise batch [N, style_dim], with its stored (constant) noise."""
        z = z if isinstance(z, paddle.Tensor) else paddle.to_tensor(np.asarray(z, np.float32))
        return self.nets[self.sample_net](z, truncation=truncation, noise_mode="const")

    def visuals(self):
        fake = self.generate(self.fixed_z)
        items = [(f"z{i}", fake[i:i + 1]) for i in range(fake.shape[0])]
        return [items[i:i + 8] for i in range(0, len(items), 8)]
