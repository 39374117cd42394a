"""CycleGAN (Zhu et al., ICCV 2017), following the original PyTorch code step for step.

Losses (paper eq. 1-3 and the identity loss of sec. 5.2, original defaults):
    L_G = GAN(D_A(G_A(A)), real) + GAN(D_B(G_B(B)), real)
        + lambda_A * |G_B(G_A(A)) - A|_1 + lambda_B * |G_A(G_B(B)) - B|_1
        + lambda_identity * (lambda_B * |G_A(B) - B|_1 + lambda_A * |G_B(A) - A|_1)
    L_D = 0.5 * (GAN(D(real), real) + GAN(D(pool(fake)), fake))      for D_A and D_B
One step: forward, G step (discriminators frozen), then D step on images from a 50-image pool.
"""
import paddle
import paddle.nn.functional as F

from ..image_pool import ImagePool
from ..losses import GANLoss, gradient_penalty
from ..nets import build_discriminator, build_generator
from ..nets.init import init_weights
from .base import BaseModel, set_requires_grad


class CycleGANModel(BaseModel):
    """Two generators (G_A: A->B, G_B: B->A) and two PatchGAN discriminators."""

    def __init__(self, generator, discriminator, gan_mode="lsgan", lambda_A=10.0, lambda_B=10.0,
                 lambda_identity=0.5, lambda_gp=10.0, pool_size=50, init_type="normal",
                 init_gain=0.02, is_train=True, seed=0):
        super().__init__()
        # what train.fast rebuilds the model from (as a static program twin)
        self.init_args = dict(generator=generator, discriminator=discriminator, gan_mode=gan_mode, lambda_A=lambda_A,
                              lambda_B=lambda_B, lambda_identity=lambda_identity, lambda_gp=lambda_gp,
                              pool_size=pool_size, init_type=init_type, init_gain=init_gain, seed=seed)
        self.lambda_A, self.lambda_B = lambda_A, lambda_B
        self.lambda_identity = lambda_identity
        self.lambda_gp = lambda_gp
        self.gan_mode = gan_mode
        g_cfg = dict(generator)
        g_name = g_cfg.pop("name")
        if lambda_identity > 0 and g_cfg.get("input_nc", 3) != g_cfg.get("output_nc", 3):
            raise ValueError("model.lambda_identity must be 0 when generator input_nc != output_nc: the "
                             "identity loss compares G_A(B) with B, which needs equal channels (as the original)")
        self.nets["netG_A"] = build_generator(g_name, **g_cfg)
        self.nets["netG_B"] = build_generator(g_name, **{**g_cfg, "input_nc": g_cfg.get("output_nc", 3),
                                                          "output_nc": g_cfg.get("input_nc", 3)})
        if is_train:
            d_cfg = dict(discriminator)
            d_name = d_cfg.pop("name")
            d_cfg.pop("input_nc", None)
            self.nets["netD_A"] = build_discriminator(d_name, input_nc=g_cfg.get("output_nc", 3), **d_cfg)
            self.nets["netD_B"] = build_discriminator(d_name, input_nc=g_cfg.get("input_nc", 3), **d_cfg)
            self.criterion_gan = GANLoss(gan_mode)
            # One pool per fake domain, each with its own seeded RNG (saved in checkpoints).
            self.fake_A_pool = ImagePool(pool_size, seed=seed * 2 + 1)
            self.fake_B_pool = ImagePool(pool_size, seed=seed * 2 + 2)
        for net in self.nets.values():
            init_weights(net, init_type, init_gain)

    def setup_training(self, optimizer_cfg, scheduler_cfg):
        self.setup_optimizers({"G": [self.nets["netG_A"], self.nets["netG_B"]],
                               "D": [self.nets["netD_A"], self.nets["netD_B"]]},
                              optimizer_cfg, scheduler_cfg)

    def set_input(self, batch):
        """``batch['A']``/``['B']``: NCHW in [-1, 1], paddle tensors (from the loader) or arrays."""
        self.real_A, self.real_B = (b if isinstance(b, paddle.Tensor) else paddle.to_tensor(b)
                                    for b in (batch["A"], batch["B"]))

    def forward(self):
        G_A, G_B = self.nets["netG_A"], self.nets["netG_B"]
        self.fake_B = G_A(self.real_A)
        self.rec_A = G_B(self.fake_B)
        self.fake_A = G_B(self.real_B)
        self.rec_B = G_A(self.fake_A)

    def generator_losses(self):
        """The terms of L_G after :meth:`forward` (the identity passes run here, as upstream)."""
        G_A, G_B = self.nets["netG_A"], self.nets["netG_B"]
        D_A, D_B = self.nets["netD_A"], self.nets["netD_B"]
        losses = {}
        if self.lambda_identity > 0:
            self.idt_A = G_A(self.real_B)
            self.idt_B = G_B(self.real_A)
            losses["idt_A"] = F.l1_loss(self.idt_A, self.real_B) * self.lambda_B * self.lambda_identity
            losses["idt_B"] = F.l1_loss(self.idt_B, self.real_A) * self.lambda_A * self.lambda_identity
        losses["G_A"] = self.criterion_gan(D_A(self.fake_B), True, for_discriminator=False)
        losses["G_B"] = self.criterion_gan(D_B(self.fake_A), True, for_discriminator=False)
        losses["cycle_A"] = F.l1_loss(self.rec_A, self.real_A) * self.lambda_A
        losses["cycle_B"] = F.l1_loss(self.rec_B, self.real_B) * self.lambda_B
        return losses

    def backward_G(self):
        losses = self.generator_losses()
        paddle.add_n(list(losses.values())).backward()
        return losses

    def discriminator_loss(self, netD, real, fake):
        """Original backward_D_basic's loss: 0.5 * (real loss + fake loss); fakes are detached.
        For wgangp the gradient penalty (lambda_gp * ((|grad|-1)^2)) is added."""
        fake = fake.detach()
        loss = (self.criterion_gan(netD(real), True) + self.criterion_gan(netD(fake), False)) * 0.5
        if self.gan_mode == "wgangp":
            loss = loss + gradient_penalty(netD, real, fake, lambda_gp=self.lambda_gp)[0]
        return loss

    def backward_D(self, netD, real, fake):
        loss = self.discriminator_loss(netD, real, fake)
        loss.backward()
        return loss

    def train_step(self):
        """One original optimize_parameters(): forward, G step, D step. Returns float losses.
        With :meth:`set_fast` on, the same step runs as static programs (engine/fast.py)."""
        if self.fast_step is not None:
            return self.fast_step.step()
        D_A, D_B = self.nets["netD_A"], self.nets["netD_B"]
        self.forward()
        set_requires_grad([D_A, D_B], False)
        self.zero_grad("G")
        losses = self.backward_G()
        self.optimizers["G"].step()
        set_requires_grad([D_A, D_B], True)
        self.zero_grad("D")
        fake_B = self.fake_B_pool.query(self.fake_B.detach())
        losses["D_A"] = self.backward_D(D_A, self.real_B, fake_B)
        fake_A = self.fake_A_pool.query(self.fake_A.detach())
        losses["D_B"] = self.backward_D(D_B, self.real_A, fake_A)
        self.optimizers["D"].step()
        order = ["D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"]
        return {k: float(losses[k]) for k in order if k in losses}

    def visuals(self):
        """Images of the last step, in the original's order (rows: domain A, domain B)."""
        rows = [["real_A", "fake_B", "rec_A", "idt_B"], ["real_B", "fake_A", "rec_B", "idt_A"]]
        return [[(name, getattr(self, name)) for name in row if hasattr(self, name)] for row in rows]

    @paddle.no_grad()
    def translate(self, images, direction="AtoB"):
        """Run G_A (AtoB) or G_B (BtoA) on a batch tensor in [-1, 1]."""
        net = self.nets["netG_A" if direction == "AtoB" else "netG_B"]
        return net(images)

    def extra_state(self):
        if not hasattr(self, "fake_A_pool"):
            return {}
        return {"fake_A_pool": self.fake_A_pool.state_dict(), "fake_B_pool": self.fake_B_pool.state_dict()}

    def set_extra_state(self, state):
        if "fake_A_pool" in state and hasattr(self, "fake_A_pool"):
            self.fake_A_pool.set_state_dict(state["fake_A_pool"])
            self.fake_B_pool.set_state_dict(state["fake_B_pool"])
