"""U-GAT-IT (Kim et al., ICLR 2020), following ``UGATIT.train()`` of the original PyTorch code
(znxlwm/UGATIT-pytorch) step for step.

Nets (original names, so an original checkpoint's dict loads by name): genA2B, genB2A and, per
domain, a global (7-layer) and a local (5-layer) CAM discriminator: disGA, disLA (judge domain A),
disGB, disLB (domain B). One training step:

1. D step: LSGAN on logit maps and on CAM logits, real -> 1, fake -> 0, for the four
   discriminators: D_A = adv_weight * (global + global CAM + local + local CAM) on domain A, D_B the same.
2. G step: L_G = adv_weight * LSGAN(D(fake) -> 1, maps and CAM logits)
   + cycle_weight * |G_BA(G_AB(A)) - A|_1 + identity_weight * |G_BA(A) - A|_1
   + cam_weight * (BCE(cam(G_BA(B)) -> 1) + BCE(cam(G_BA(A)) -> 0)), and the same for B.
3. RhoClipper(0, 1) on both generators.

Differences that change no number: the D step computes the fakes without a graph (the original
keeps one and discards it), and the G step back-propagates the four independent parts of L_G
(the two translation chains and the two identity mappings) one after the other, which accumulates
the same gradients with about a third of the activation memory.
"""
import paddle
import paddle.nn.functional as F

from ..nets import build_discriminator, build_generator
from ..nets.ugatit import RhoClipper, upsample_nearest2x
from .base import BaseModel, set_requires_grad


def _mse(pred, target):
    return F.mse_loss(pred, paddle.full_like(pred, target))


def _bce(logit, target):
    return F.binary_cross_entropy_with_logits(logit, paddle.full_like(logit, target))


def heatmap_image(heatmap, size):
    """A CAM heatmap [N, 1, h, w] as a grey image in [-1, 1] of ``size`` (min-max normalised per
    image like the original's ``cam()``, enlarged by nearest x2 steps)."""
    lo = heatmap.min(axis=[1, 2, 3], keepdim=True)
    hi = heatmap.max(axis=[1, 2, 3], keepdim=True)
    img = (heatmap - lo) / (hi - lo + 1e-8) * 2 - 1
    while img.shape[-1] < size:
        img = upsample_nearest2x(img)
    return img


class UGATITModel(BaseModel):
    """Two U-GAT-IT generators and four CAM discriminators, trained as the original.

    ``generator`` / ``discriminator``: config sections (``name`` + constructor arguments). The
    discriminator section describes the global discriminators (``n_layers`` 7 in the original); the
    local ones are the same with ``n_layers_local`` layers (original 5).
    Original weights (main.py): adv 1, cycle 10, identity 10, CAM 1000.
    """

    loss_order = ("D_A", "G_adv_A", "cycle_A", "idt_A", "cam_A", "D_B", "G_adv_B", "cycle_B", "idt_B", "cam_B")

    def __init__(self, generator, discriminator, adv_weight=1.0, cycle_weight=10.0, identity_weight=10.0,
                 cam_weight=1000.0, n_layers_local=5, is_train=True, seed=0):
        super().__init__()
        self.adv_weight, self.cycle_weight = adv_weight, cycle_weight
        self.identity_weight, self.cam_weight = identity_weight, cam_weight
        g_cfg = dict(generator)
        g_name = g_cfg.pop("name")
        if g_cfg.get("input_nc", 3) != g_cfg.get("output_nc", 3):
            raise ValueError("U-GAT-IT needs generator input_nc == output_nc: its identity and cycle losses "
                             "feed each generator images of both domains")
        self.nets["genA2B"] = build_generator(g_name, **g_cfg)
        self.nets["genB2A"] = build_generator(g_name, **g_cfg)
        self.rho_clipper = RhoClipper(0.0, 1.0)
        if is_train:
            d_cfg = dict(discriminator)
            d_name = d_cfg.pop("name")
            d_cfg["input_nc"] = g_cfg.get("output_nc", 3)
            for domain in ("A", "B"):
                self.nets[f"disG{domain}"] = build_discriminator(d_name, **d_cfg)
                self.nets[f"disL{domain}"] = build_discriminator(d_name, **{**d_cfg, "n_layers": n_layers_local})

    def setup_training(self, optimizer_cfg, scheduler_cfg):
        self.setup_optimizers({"G": [self.nets["genA2B"], self.nets["genB2A"]],
                               "D": [self.nets[k] for k in ("disGA", "disGB", "disLA", "disLB")]},
                              optimizer_cfg, scheduler_cfg)

    def set_input(self, batch):
        """``batch['A']``/``['B']``: NCHW in [-1, 1], paddle tensors or arrays."""
        self.real_A, self.real_B = (b if isinstance(b, paddle.Tensor) else paddle.to_tensor(b)
                                    for b in (batch["A"], batch["B"]))

    # ------------------------------------------------------------------ losses
    def _d_loss(self, domain, real, fake):
        """adv_weight * LSGAN of the global and local discriminator of ``domain`` (maps + CAM)."""
        loss = 0.0
        for kind in ("G", "L"):
            net = self.nets[f"dis{kind}{domain}"]
            real_logit, real_cam, _ = net(real)  # real first, as the original (spectral-norm iterations)
            fake_logit, fake_cam, _ = net(fake)
            loss = loss + _mse(real_logit, 1.0) + _mse(fake_logit, 0.0) + _mse(real_cam, 1.0) + _mse(fake_cam, 0.0)
        return self.adv_weight * loss

    def _g_adv_loss(self, domain, fake):
        loss = 0.0
        for kind in ("G", "L"):
            logit, cam, _ = self.nets[f"dis{kind}{domain}"](fake)
            loss = loss + _mse(logit, 1.0) + _mse(cam, 1.0)
        return self.adv_weight * loss

    def extra_generator_losses(self, real, fake, domain):
        """Hook for subclasses: more losses on the translation real -> fake (e.g. face identity),
        as {name: weighted loss}, added to the loss of the source ``domain``."""
        return {}

    def _translation_chain(self, src, dst):
        """real_src -> fake_dst -> rec_src: the G-step losses that depend on this translation."""
        real = getattr(self, f"real_{src}")
        fwd, back = self.nets[f"gen{src}2{dst}"], self.nets[f"gen{dst}2{src}"]
        fake, fake_cam, heatmap = fwd(real)
        rec = back(fake)[0]
        losses = {f"G_adv_{dst}": self._g_adv_loss(dst, fake),
                  f"cam_{dst}": self.cam_weight * _bce(fake_cam, 1.0),
                  f"cycle_{src}": self.cycle_weight * F.l1_loss(rec, real)}
        losses.update(self.extra_generator_losses(real, fake, src))
        self._keep(**{f"fake_{src}2{dst}": fake, f"fake_{src}2{dst}2{src}": rec, f"heatmap_{src}2{dst}": heatmap})
        return losses

    def _identity(self, domain):
        """G_{other->domain}(real_domain) should be real_domain, and its CAM should say 'not the source'."""
        other = "B" if domain == "A" else "A"
        real = getattr(self, f"real_{domain}")
        idt, idt_cam, _ = self.nets[f"gen{other}2{domain}"](real)
        self._keep(**{f"fake_{domain}2{domain}": idt})
        return {f"idt_{domain}": self.identity_weight * F.l1_loss(idt, real),
                f"cam_{domain}": self.cam_weight * _bce(idt_cam, 0.0)}

    def _keep(self, **tensors):
        for name, t in tensors.items():
            setattr(self, name, t.detach())

    # ------------------------------------------------------------------ one step
    def train_step(self):
        """One iteration of the original: D step, G step, RhoClipper. Returns float losses."""
        G = [self.nets["genA2B"], self.nets["genB2A"]]
        D = [self.nets[k] for k in ("disGA", "disGB", "disLA", "disLB")]
        values = {}

        self.zero_grad("D")
        with paddle.no_grad():
            fake_A2B = G[0](self.real_A)[0]
            fake_B2A = G[1](self.real_B)[0]
        for domain, real, fake in (("A", self.real_A, fake_B2A), ("B", self.real_B, fake_A2B)):
            loss = self._d_loss(domain, real, fake)
            loss.backward()
            values[f"D_{domain}"] = float(loss)
        self.optimizers["D"].step()

        set_requires_grad(D, False)
        self.zero_grad("G")
        values.update(self.backward_generators())
        self.optimizers["G"].step()
        set_requires_grad(D, True)
        self.clip_generators()
        return {k: values[k] for k in self.loss_order + tuple(sorted(set(values) - set(self.loss_order)))
                if k in values}

    def generator_parts(self):
        """The four independent parts of L_G, as functions returning {name: weighted loss}."""
        return (lambda: self._translation_chain("A", "B"), lambda: self._translation_chain("B", "A"),
                lambda: self._identity("A"), lambda: self._identity("B"))

    def backward_generators(self):
        """Back-propagate L_G part by part (each graph is freed before the next is built);
        returns the float losses, parts of the same name summed."""
        values = {}
        for part in self.generator_parts():
            losses = part()
            paddle.add_n(list(losses.values())).backward()
            for k, v in losses.items():
                values[k] = values.get(k, 0.0) + float(v)
            del losses
        return values

    def clip_generators(self):
        """RhoClipper(0, 1) after the generator step, as the original."""
        for net in (self.nets["genA2B"], self.nets["genB2A"]):
            self.rho_clipper(net)

    # ------------------------------------------------------------------ outputs
    def visuals(self):
        """Rows as the original's sample sheet: real, CAM heatmap, translation, reconstruction,
        identity mapping (domain A, then domain B)."""
        rows = []
        for src, dst in (("A", "B"), ("B", "A")):
            if not hasattr(self, f"fake_{src}2{dst}"):
                continue
            real = getattr(self, f"real_{src}")
            row = [(f"real_{src}", real),
                   (f"heatmap_{src}2{dst}", heatmap_image(getattr(self, f"heatmap_{src}2{dst}"), real.shape[-1])),
                   (f"fake_{src}2{dst}", getattr(self, f"fake_{src}2{dst}")),
                   (f"rec_{src}", getattr(self, f"fake_{src}2{dst}2{src}"))]
            if hasattr(self, f"fake_{src}2{src}"):
                row.append((f"idt_{src}", getattr(self, f"fake_{src}2{src}")))
            rows.append(row)
        return rows

    @paddle.no_grad()
    def translate(self, images, direction="AtoB"):
        """genA2B (AtoB) or genB2A (BtoA) on a batch in [-1, 1]; the image output only."""
        return self.nets["genA2B" if direction == "AtoB" else "genB2A"](images)[0]
