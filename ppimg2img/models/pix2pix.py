"""pix2pix (Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks",
CVPR 2017) and its colorization variant, following the original PyTorch code step for step.

Losses (paper eq. 4, original defaults: vanilla GAN, lambda_L1 = 100):
    L_D = 0.5 * (GAN(D(A, B), real) + GAN(D(A, G(A)), fake))
    L_G = GAN(D(A, G(A)), real) + lambda_L1 * |G(A) - B|_1
D is a conditional PatchGAN on concat(A, B) (input_nc + output_nc channels). One step:
forward, D step, then G step (D frozen); no image pool (original ``pool_size 0``).

Inference modes (``eval.inference_mode`` of the trainer, ``mode`` of :meth:`Pix2PixModel.set_inference_mode`):
- ``eval``: BatchNorm uses its running statistics and dropout is off (deterministic; the
  default of ppimg2img's evaluation and predictors; the original's ``test.py --eval``).
- ``train_norm``: BatchNorm uses the statistics of the test batch and dropout stays on, which
  is what the original ``test.py`` does without ``--eval`` (the paper applies dropout at test
  time as the noise source, sec. 2.2). Outputs then vary between runs and with the batch.
"""
import numpy as np
import paddle
import paddle.nn.functional as F

from ..losses import GANLoss
from ..nets import build_discriminator, build_generator
from ..nets.init import init_weights
from ..utils.image_io import image_to_array, tensor_to_image
from .base import BaseModel, set_requires_grad

INFERENCE_MODES = ("eval", "train_norm")


class Pix2PixModel(BaseModel):
    """Generator G: A -> B (default U-Net 256) and a conditional PatchGAN D on (A, B)."""

    #: evaluation directions this model translates (one generator: the dataset picks A and B)
    directions = ("AtoB",)

    def __init__(self, generator, discriminator, gan_mode="vanilla", lambda_L1=100.0, init_type="normal",
                 init_gain=0.02, is_train=True, seed=0):
        super().__init__()
        # what train.fast rebuilds the model from (as a static program twin)
        self.init_args = dict(generator=generator, discriminator=discriminator, gan_mode=gan_mode, lambda_L1=lambda_L1,
                              init_type=init_type, init_gain=init_gain, seed=seed)
        self.lambda_L1 = lambda_L1
        g_cfg = dict(generator)
        g_name = g_cfg.pop("name")
        self.input_nc, self.output_nc = g_cfg.get("input_nc", 3), g_cfg.get("output_nc", 3)
        self.nets["netG"] = build_generator(g_name, **g_cfg)
        if is_train:
            d_cfg = dict(discriminator)
            d_name = d_cfg.pop("name")
            d_cfg.pop("input_nc", None)  # conditional D: always sees A and B stacked
            self.nets["netD"] = build_discriminator(d_name, input_nc=self.input_nc + self.output_nc, **d_cfg)
            self.criterion_gan = GANLoss(gan_mode)
        for net in self.nets.values():
            init_weights(net, init_type, init_gain)

    def setup_training(self, optimizer_cfg, scheduler_cfg):
        self.setup_optimizers({"G": [self.nets["netG"]], "D": [self.nets["netD"]]}, optimizer_cfg, scheduler_cfg)

    def set_input(self, batch):
        """``batch['A']`` (input) and ``batch['B']`` (target): NCHW in [-1, 1], tensors or arrays."""
        self.real_A, self.real_B = (b if isinstance(b, paddle.Tensor) else paddle.to_tensor(b)
                                    for b in (batch["A"], batch["B"]))

    def forward(self):
        self.fake_B = self.nets["netG"](self.real_A)

    def discriminator_losses(self):
        """D's real and fake terms (fake_B detached); L_D is their mean."""
        netD = self.nets["netD"]
        fake_AB = paddle.concat([self.real_A, self.fake_B], axis=1).detach()
        loss_fake = self.criterion_gan(netD(fake_AB), False)
        loss_real = self.criterion_gan(netD(paddle.concat([self.real_A, self.real_B], axis=1)), True)
        return {"D_real": loss_real, "D_fake": loss_fake}

    def backward_D(self):
        losses = self.discriminator_losses()
        ((losses["D_fake"] + losses["D_real"]) * 0.5).backward()
        return losses

    def generator_losses(self):
        """G's GAN and L1 terms; L_G is their sum."""
        pred_fake = self.nets["netD"](paddle.concat([self.real_A, self.fake_B], axis=1))
        loss_gan = self.criterion_gan(pred_fake, True, for_discriminator=False)
        loss_l1 = F.l1_loss(self.fake_B, self.real_B) * self.lambda_L1
        return {"G_GAN": loss_gan, "G_L1": loss_l1}

    def backward_G(self):
        losses = self.generator_losses()
        (losses["G_GAN"] + losses["G_L1"]).backward()
        return losses

    def train_step(self):
        """One original optimize_parameters(): forward, D step, G step. Returns float losses.
        With :meth:`set_fast` on, the same step runs as a static program (engine/fast.py)."""
        if self.fast_step is not None:
            return self.fast_step.step()
        netD = self.nets["netD"]
        self.forward()
        set_requires_grad([netD], True)
        self.zero_grad("D")
        losses = self.backward_D()
        self.optimizers["D"].step()
        set_requires_grad([netD], False)
        self.zero_grad("G")
        losses.update(self.backward_G())
        self.optimizers["G"].step()
        return {k: float(losses[k]) for k in ("G_GAN", "G_L1", "D_real", "D_fake")}

    def set_inference_mode(self, mode="eval"):
        """'eval': running statistics, no dropout; 'train_norm': batch statistics and dropout
        on, as the original test.py (see the module docstring)."""
        if mode not in INFERENCE_MODES:
            raise ValueError(f"unknown inference mode {mode!r}; use one of {INFERENCE_MODES}")
        self.nets["netG"].train() if mode == "train_norm" else self.nets["netG"].eval()

    def visuals(self):
        """real_A, fake_B, real_B of the last step (the original's visual_names)."""
        return [[(n, getattr(self, n)) for n in ("real_A", "fake_B", "real_B") if hasattr(self, n)]]

    @paddle.no_grad()
    def translate(self, images, direction="AtoB"):
        """Run G on a batch tensor in [-1, 1] (direction must be 'AtoB': the dataset's
        ``direction`` decides which half is the input)."""
        if direction != "AtoB":
            raise ValueError(f"{type(self).__name__} has one generator (A -> B); got direction {direction!r}. "
                             "Set dataset.*.direction: BtoA to train/evaluate the reverse mapping.")
        return self.nets["netG"](images)

    def display_images(self, real_A, fake_B, real_B=None):
        """HxWx3 uint8 images for pages and metrics, from CHW arrays/tensors of one sample."""
        out = {"real_A": tensor_to_image(real_A), "fake_B": tensor_to_image(fake_B)}
        if real_B is not None:
            out["real_B"] = tensor_to_image(real_B)
        return out


class ColorizationModel(Pix2PixModel):
    """pix2pix from the L channel (input_nc 1) to the ab channels (output_nc 2) of Lab
    (original ``colorization_model.py``); visuals and outputs are converted back to RGB."""

    def __init__(self, generator, discriminator, gan_mode="vanilla", lambda_L1=100.0, init_type="normal",
                 init_gain=0.02, is_train=True, seed=0):
        if generator.get("input_nc", 3) != 1 or generator.get("output_nc", 3) != 2:
            raise ValueError("ColorizationModel translates L to ab: set model.generator.input_nc: 1 and "
                             f"output_nc: 2 (got {generator.get('input_nc', 3)} and {generator.get('output_nc', 3)})")
        super().__init__(generator, discriminator, gan_mode, lambda_L1, init_type, init_gain, is_train, seed)

    def _rgb_tensor(self, L, ab):
        from ..data.colorization import lab_to_rgb
        imgs = [image_to_array(lab_to_rgb(L[i].numpy(), ab[i].numpy())) for i in range(L.shape[0])]
        return paddle.to_tensor(np.stack(imgs))

    def visuals(self):
        """real_A (L as gray), real_B_rgb and fake_B_rgb, as the original's visual_names."""
        if not hasattr(self, "fake_B"):
            return [[]]
        return [[("real_A", self.real_A), ("real_B_rgb", self._rgb_tensor(self.real_A, self.real_B)),
                 ("fake_B_rgb", self._rgb_tensor(self.real_A, self.fake_B.detach()))]]

    def display_images(self, real_A, fake_B, real_B=None):
        from ..data.colorization import lab_to_rgb
        L = real_A.numpy() if hasattr(real_A, "numpy") else np.asarray(real_A)
        ab = fake_B.numpy() if hasattr(fake_B, "numpy") else np.asarray(fake_B)
        out = {"real_A": tensor_to_image(L), "fake_B": lab_to_rgb(L, ab)}
        if real_B is not None:
            out["real_B"] = lab_to_rgb(L, real_B.numpy() if hasattr(real_B, "numpy") else np.asarray(real_B))
        return out
