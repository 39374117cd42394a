"""Generation from noise: DCGAN, LSGAN, WGAN, WGAN-GP and the conditional DCGAN, one model whose
config picks the objective (``gan_mode``) and the critic schedule (``n_critic``, clipping, penalty).

Objectives (D's raw score s = D(x[, y]); fakes x~ = G(z[, y])):
- 'vanilla' (DCGAN, Radford et al. 2016; Goodfellow et al. 2014 eq. 1 with the non-saturating G
  loss): L_D = BCE(s(x), 1) + BCE(s(x~), 0), L_G = BCE(s(x~), 1), summed as pytorch/examples' dcgan.
- 'lsgan' (Mao et al. 2017 eq. 2): L_D = 1/2 E[(s(x) - b)^2] + 1/2 E[(s(x~) - a)^2],
  L_G = 1/2 E[(s(x~) - c)^2], with (a, b, c) = ``lsgan_targets`` (paper: (0, 1, 1) or (-1, 1, 0)).
- 'wgan' (Arjovsky et al. 2017 alg. 1): L_D = E[s(x~)] - E[s(x)], L_G = -E[s(x~)]; every critic
  parameter clipped to [-clip_value, clip_value] after each critic step (c = 0.01; RMSprop 5e-5).
- 'wgangp' (Gulrajani et al. 2017 alg. 1): the WGAN losses + lambda_gp * E[(||grad s(x^)|| - 1)^2]
  on random interpolates x^ (lambda 10; Adam 1e-4, betas (0, 0.9) or (0.5, 0.9); no BatchNorm in
  the critic).
- 'hinge': L_D = E[relu(1 - s(x))] + E[relu(1 + s(x~))], L_G = -E[s(x~)].
For the Wasserstein objectives ``W`` in the log is the critic's estimate E[s(x)] - E[s(x~)].

Schedule: every training iteration is one critic (D) step on that iteration's real batch; every
``n_critic``-th iteration (by the count of critic steps, kept in checkpoints) also takes one G step
on the same noise, so ``n_critic: 5`` is WGAN's five critic steps per generator step.

Conditioning: ``generator.n_classes`` > 0 makes G and D conditional (the dataset's labels; fakes
use the real batch's labels); D's variant is ``discriminator.cond_mode``.
"""
import numpy as np
import paddle

from ..losses import GAN_MODES, GANLoss, gradient_penalty
from ..nets import build_discriminator, build_generator
from ..nets.init import init_weights
from ..utils.image_io import tensor_to_image
from .base import BaseModel, set_requires_grad


def critic_parameters(net):
    """The learned parameters of a net: without BatchNorm's running statistics, which Paddle
    keeps among the parameters (PyTorch's are buffers, which WGAN's clipping never touches)."""
    return [p for name, p in net.named_parameters() if not name.endswith(("._mean", "._variance"))]


def real_images(batch, output_nc, image_size, made="makes"):
    """A loader batch's ``image`` as a tensor, checked against what the generator ``made``: [C, H, W]."""
    image = batch["image"]
    real = image if isinstance(image, paddle.Tensor) else paddle.to_tensor(image)
    shape = [output_nc, image_size, image_size]
    if list(real.shape[1:]) != shape:
        raise ValueError(f"the dataset gives images of shape {list(real.shape[1:])} (C, H, W) but the generator "
                         f"{made} {shape}: set the dataset's image_size/channels to the generator's "
                         f"image_size/output_nc (or the other way)")
    return real


class GANModel(BaseModel):
    """G: z (and label) -> image; D: image (and label) -> score. See the module docstring.

    Args:
        generator: the generator section (``name: dcgan`` and its arguments).
        discriminator: the discriminator section; its channels, image size and classes follow the generator.
        gan_mode: the objective: 'vanilla' (DCGAN), 'lsgan', 'wgan' (needs clip_value), 'wgangp', 'hinge'.
        n_critic: critic (D) steps per generator step (WGAN and WGAN-GP: 5).
        clip_value: clip every critic parameter to [-c, c] after each critic step (WGAN: 0.01); null: no clipping.
        lambda_gp: weight of the gradient penalty of 'wgangp' (the paper's 10); ignored by the other objectives.
        lsgan_targets: LSGAN's (a, b, c): D's targets for fake and real, G's target for fake
            (the paper: [0, 1, 1] or [-1, 1, 0]).
        n_visuals: fixed-noise samples in each training visuals grid.
        init_type: weight initialisation: 'normal' (DCGAN's N(0, 0.02)), 'xavier', 'kaiming', 'orthogonal'.
        init_gain: standard deviation (normal) or gain (xavier, orthogonal) of the initialisation.
    """

    #: what the engine evaluates: generated samples, not translations
    kind = "generation"

    def __init__(self, generator, discriminator, gan_mode="vanilla", n_critic=1, clip_value=None,
                 lambda_gp=10.0, lsgan_targets=[0.0, 1.0, 1.0], n_visuals=32, init_type="normal",
                 init_gain=0.02, is_train=True, seed=0):
        super().__init__()
        if gan_mode not in GAN_MODES:
            raise ValueError(f"unknown gan_mode {gan_mode!r}; use one of {', '.join(GAN_MODES)}")
        if n_critic < 1:
            raise ValueError(f"n_critic must be >= 1, got {n_critic}")
        if gan_mode == "wgan" and not clip_value:
            raise ValueError("gan_mode 'wgan' needs clip_value (the paper's c = 0.01): the critic must stay "
                             "Lipschitz; or use gan_mode 'wgangp' (gradient penalty)")
        if len(lsgan_targets) != 3:
            raise ValueError(f"lsgan_targets is (a, b, c), three numbers; got {lsgan_targets!r}")
        self.gan_mode, self.n_critic, self.clip_value = gan_mode, int(n_critic), clip_value
        self.lambda_gp = float(lambda_gp) if gan_mode == "wgangp" else 0.0
        self.lsgan_targets = tuple(float(t) for t in lsgan_targets)
        g_cfg = dict(generator)
        self.nets["netG"] = build_generator(g_cfg.pop("name"), **g_cfg)
        G = self.nets["netG"]
        # kept here: in a data-parallel job the nets are wrapped in paddle.DataParallel
        self.nz, self.n_classes, self.output_nc, self.image_size = G.nz, G.n_classes, G.output_nc, G.image_size
        if is_train:
            d_cfg = dict(discriminator)
            d_name = d_cfg.pop("name")
            # D sees what G makes: channels, size and classes follow the generator
            d_cfg.update(input_nc=G.output_nc, image_size=G.image_size, n_classes=G.n_classes)
            self.nets["netD"] = build_discriminator(d_name, **d_cfg)
            a, b, _ = self.lsgan_targets
            self.criterion = (GANLoss("lsgan", target_real_label=b, target_fake_label=a) if gan_mode == "lsgan"
                              else GANLoss(gan_mode))
        for net in self.nets.values():
            init_weights(net, init_type, init_gain)
        self.critic_steps = 0
        self.last_losses = {}
        # fixed noise (and labels) for the training visuals: the same samples at every save
        rng = np.random.default_rng([seed, 7])
        self.fixed_z = rng.standard_normal((n_visuals, self.nz)).astype(np.float32)
        self.fixed_labels = np.arange(n_visuals, dtype=np.int64) % max(self.n_classes, 1)

    def setup_training(self, optimizer_cfg, scheduler_cfg):
        self.setup_optimizers({"G": [self.nets["netG"]], "D": [self.nets["netD"]]}, optimizer_cfg, scheduler_cfg)

    def set_fast(self, on=True):
        if on:
            from ..engine.fast import FastPathError
            raise FastPathError("train.fast is for the translation models (CycleGAN, pix2pix); GANModel trains "
                                "eagerly: set train.fast: false")
        return self

    def set_input(self, batch):
        """``batch['image']``: NCHW in [-1, 1]; ``batch['label']``: [N] ints (conditional models)."""
        self.real = real_images(batch, self.output_nc, self.image_size)
        self.labels = None
        if self.n_classes:
            if "label" not in batch:
                raise ValueError("the model is conditional (generator.n_classes > 0) but the dataset gives no "
                                 "labels: use a labelled dataset (MNISTDataset, CIFAR10Dataset)")
            label = batch["label"]
            self.labels = (label if isinstance(label, paddle.Tensor) else paddle.to_tensor(label)).astype("int64")
            self.labels = self.labels.reshape([-1])
            bad = (self.labels < 0) | (self.labels >= self.n_classes)
            if bool(bad.any()):
                raise ValueError(f"labels outside 0..{self.n_classes - 1} in the batch: set generator.n_classes to "
                                 f"the dataset's number of classes")

    def _D(self, x):
        return self.nets["netD"](x, self.labels) if self.n_classes else self.nets["netD"](x)

    def sample_noise(self, n):
        """z ~ N(0, I) from Paddle's generator (its state is saved, so a resumed run continues exactly)."""
        return paddle.randn([n, self.nz])

    def forward(self):
        self.z = self.sample_noise(self.real.shape[0])
        self.fake = self.nets["netG"](self.z, self.labels) if self.n_classes else self.nets["netG"](self.z)

    def discriminator_losses(self):
        """D's real and fake terms (fakes detached), and the penalty of 'wgangp'."""
        s_real, s_fake = self._D(self.real), self._D(self.fake.detach())
        losses = {"D_real": self.criterion(s_real, True), "D_fake": self.criterion(s_fake, False)}
        if self.gan_mode == "lsgan":
            losses = {k: 0.5 * v for k, v in losses.items()}
        if self.gan_mode in ("wgan", "wgangp"):
            losses["W"] = (s_real.mean() - s_fake.mean()).detach()
        if self.lambda_gp:
            losses["GP"], _ = gradient_penalty(self._D, self.real, self.fake.detach(), "mixed", 1.0, self.lambda_gp)
        return losses

    def generator_loss(self):
        s_fake = self._D(self.fake)
        if self.gan_mode == "lsgan":
            return 0.5 * ((s_fake - self.lsgan_targets[2]) ** 2).mean()
        return self.criterion(s_fake, True, for_discriminator=False)

    def clip_critic(self):
        """WGAN: every critic parameter back into [-c, c] (alg. 1, line 7)."""
        with paddle.no_grad():
            for p in critic_parameters(self.nets["netD"]):
                p.set_value(paddle.clip(p, -self.clip_value, self.clip_value))

    def train_step(self):
        """One critic step; every n_critic-th critic step also one generator step. Float losses."""
        netD = self.nets["netD"]
        self.forward()
        set_requires_grad([netD], True)
        self.zero_grad("D")
        losses = self.discriminator_losses()
        sum(v for k, v in losses.items() if k != "W").backward()
        self.optimizers["D"].step()
        if self.clip_value:
            self.clip_critic()
        self.critic_steps += 1
        if self.critic_steps % self.n_critic == 0:
            set_requires_grad([netD], False)
            self.zero_grad("G")
            loss_G = self.generator_loss()
            loss_G.backward()
            self.optimizers["G"].step()
            self.last_losses["G"] = float(loss_G)
        out = {"G": self.last_losses.get("G", 0.0)}  # the latest G step's loss (0 before the first)
        out.update({k: float(v) for k, v in losses.items()})
        return out

    def extra_state(self):
        return {"critic_steps": self.critic_steps, "last_G": self.last_losses.get("G", 0.0)}

    def set_extra_state(self, state):
        self.critic_steps = int(state.get("critic_steps", 0))
        self.last_losses["G"] = float(state.get("last_G", 0.0))

    @paddle.no_grad()
    def generate(self, z, labels=None):
        """G on a noise batch [N, nz] (and labels [N]) -> images NCHW in [-1, 1]."""
        z = z if isinstance(z, paddle.Tensor) else paddle.to_tensor(np.asarray(z, np.float32))
        if not self.n_classes:
            return self.nets["netG"](z)
        labels = labels if isinstance(labels, paddle.Tensor) else paddle.to_tensor(np.asarray(labels, np.int64))
        return self.nets["netG"](z, labels)

    def visuals(self):
        """Samples of the fixed noise (G in eval mode), 8 per row; conditional: the class cycles."""
        G = self.nets["netG"]
        was_training = G.training
        G.eval()
        fake = self.generate(self.fixed_z, self.fixed_labels)
        if was_training:
            G.train()
        names = [f"y={y}" if self.n_classes else f"z{i}" for i, y in enumerate(self.fixed_labels)]
        items = [(names[i], fake[i:i + 1]) for i in range(fake.shape[0])]
        return [items[i:i + 8] for i in range(0, len(items), 8)]

    def display_images(self, fake):
        return {"fake": tensor_to_image(fake)}
