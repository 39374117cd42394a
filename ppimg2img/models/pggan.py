"""Progressive growing of GANs (Karras et al., ICLR 2018), trained as the official
tkarras/progressive_growing_of_gans ``train.py`` + ``loss.py`` (nets: ppimg2img/nets/pggan.py).

Schedule (``TrainingSchedule``; sec. 2, appendix A.1): after ``stable_images`` real images at
``start_resolution`` the next block fades in over ``fade_images`` images (``alpha`` 0 -> 1
linearly, in G's output and D's input), is trained ``stable_images`` more, and so on up to
``image_size``; the level of detail is ``lod = log2(image_size) - log2(start) - phase -
max(images_in_phase - stable_images, 0) / fade_images``. Each resolution has its own minibatch
(``minibatch``, else ``minibatch_default``) and learning rate (``lr_dict``, else optimizer.lr);
the Adam state is reset whenever a fade-in starts or ends (``reset_opt_for_new_lod``).

Loss (``D_wgangp_acgan``, ``G_wgan_acgan``; sec. 3 and appendix A.1): WGAN-GP,
L_D = E[D(x~)] - E[D(x)] + lambda E[(||grad D(x^)|| - 1)^2] + eps_drift E[D(x)^2] with lambda 10 and
eps_drift 0.001, x^ a per-sample uniform mix of reals and fakes; L_G = -E[D(x~)]. One D step then
one G step per minibatch; TensorFlow's Adam (:class:`TFAdam`), lr 0.001, betas (0, 0.99), eps 1e-8.
The reals at a lower
resolution are box-filtered and, during a fade-in, blended with their 2x coarser version like G's
output (``process_reals``). The official nets see every image at full size (nearest-upsampled);
here they run at the current resolution, which computes the same scores; the penalty's
gradient norm is taken as the official takes it, with respect to the full-size image: the
current-resolution gradient norm divided by image_size / resolution.

Sampling uses G's exponential moving average ``netG_ema`` (the official ``Gs``, beta 0.999,
updated with every D step).

The engine's loader batch (``train.batch_size``) is split into this resolution's minibatches:
make it a multiple of every minibatch of the schedule (images left over at the end of a batch,
fewer than one minibatch, are not used).
"""
import math

import numpy as np
import paddle

from ..nets import build_discriminator, build_generator
from ..nets.pggan import downscale2d, upscale2d
from ..utils.env import logger
from ..utils.image_io import tensor_to_image
from ..engine.checkpoint import CheckpointError
from .base import BaseModel, set_requires_grad
from .gan import real_images


def training_schedule(images, image_size, start_resolution=4, stable_images=600000, fade_images=600000,
                      minibatch=None, minibatch_default=16, lr_dict=None, lr=0.001):
    """The official ``TrainingSchedule`` after ``images`` real images: a dict with ``lod``,
    ``resolution``, ``alpha`` (weight of the newest block, 1 when not fading), ``phase`` (0 at
    the start resolution), ``minibatch`` and ``lr``."""
    log2_size = int(round(math.log2(image_size)))
    phase_len = stable_images + fade_images
    phase = int(images // phase_len) if phase_len > 0 else 0
    in_phase = images - phase * phase_len
    lod = float(log2_size - math.floor(math.log2(start_resolution)) - phase)
    if fade_images > 0:
        lod -= max(in_phase - stable_images, 0) / fade_images
    lod = max(lod, 0.0)
    level = math.floor(lod)
    resolution = 2 ** (log2_size - level)
    return {"lod": lod, "resolution": resolution, "alpha": 1.0 - (lod - level), "phase": phase,
            "minibatch": int((minibatch or {}).get(resolution, minibatch_default)),
            "lr": float((lr_dict or {}).get(resolution, lr))}


def process_reals(x, resolution, alpha):
    """Full-size reals [N, C, S, S] -> the current resolution (box filter), blended during a
    fade-in with their 2x box-filtered and re-upsampled version: ``alpha * x + (1 - alpha) * y``
    (the official ``process_reals`` FadeLOD)."""
    x = downscale2d(x, x.shape[-1] // resolution)
    if alpha < 1.0:
        y = upscale2d(downscale2d(x))
        x = x + (y - x) * (1.0 - alpha)
    return x


def wgangp_penalty(netD, reals, fakes, lambda_gp=10.0, target=1.0, size_factor=1):
    """lambda / target^2 * E[(||grad D(x^)|| - target)^2] at x^ = reals + u (fakes - reals),
    u ~ U[0, 1) per sample (the official ``D_wgangp_acgan``). ``size_factor``: full size / the
    images' size; the norm is that of the gradient with respect to the nearest-upsampled
    full-size image, ``||grad|| / size_factor``. Returns (penalty, gradient norms)."""
    u = paddle.rand([reals.shape[0], 1, 1, 1], dtype=reals.dtype)
    mixed = reals.detach() + (fakes.detach() - reals.detach()) * u
    mixed.stop_gradient = False
    scores = netD(mixed)
    grads = paddle.grad(outputs=scores.sum(), inputs=mixed, create_graph=True, retain_graph=True)[0]
    norms = paddle.sqrt(paddle.sum(grads * grads, axis=[1, 2, 3])) / float(size_factor)
    return ((norms - target) ** 2).mean() * (lambda_gp / target ** 2), norms


class TFAdam:
    """Adam as TensorFlow 1's ``tf.train.AdamOptimizer``, the official optimizer: one step count t
    per optimizer, ``lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)``, ``p -= lr_t m / (sqrt(v) + eps)``
    (eps outside the root, unscaled). ``reset()`` is the official ``reset_optimizer_state``: zero
    moments, t = 0. Parameters without a gradient are left alone (TensorFlow gives the layers of
    the other levels of detail zero gradients; their moments are zero after each reset, so their
    update is zero too). The state is plain arrays keyed by parameter position, so a checkpoint
    resumes in any process."""

    def __init__(self, parameters, lr=0.001, beta1=0.0, beta2=0.99, epsilon=1e-8):
        self._parameter_list = list(parameters)
        self.lr, self.beta1, self.beta2, self.epsilon = float(lr), float(beta1), float(beta2), float(epsilon)
        self.reset()

    def reset(self):
        self.t = 0
        self.m, self.v = {}, {}

    def get_lr(self):
        return self.lr

    def set_lr(self, lr):
        self.lr = float(lr)

    def clear_grad(self, set_to_zero=False):
        for p in self._parameter_list:
            p.clear_gradient(set_to_zero)

    @paddle.no_grad()
    def step(self):
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        lr_t = self.lr * math.sqrt(1.0 - b2 ** self.t) / (1.0 - b1 ** self.t)
        for i, p in enumerate(self._parameter_list):
            g = p.grad
            if g is None:
                continue
            m = (1.0 - b1) * g if i not in self.m else b1 * self.m[i] + (1.0 - b1) * g
            v = (1.0 - b2) * g * g if i not in self.v else b2 * self.v[i] + (1.0 - b2) * g * g
            self.m[i], self.v[i] = m, v
            p.set_value(p - lr_t * m / (paddle.sqrt(v) + self.epsilon))

    def state_dict(self):
        return {"t": self.t, "lr": self.lr, "m": {f"@{i}": m.numpy() for i, m in self.m.items()},
                "v": {f"@{i}": v.numpy() for i, v in self.v.items()}}

    def set_state_dict(self, state, source=""):
        n = len(self._parameter_list)
        for kind in ("m", "v"):
            bad = [k for k in state.get(kind, {}) if not (k.startswith("@") and k[1:].isdigit() and int(k[1:]) < n)]
            if bad or "t" not in state:
                raise CheckpointError(f"{source}: the optimizer state does not fit PGGANModel's Adam "
                                      f"({'no step count' if 't' not in state else f'unknown entries {bad[:3]}'}): "
                                      f"the checkpoint belongs to another model or network size")
        self.t, self.lr = int(state["t"]), float(state.get("lr", self.lr))
        self.m = {int(k[1:]): paddle.to_tensor(np.asarray(a, np.float32)) for k, a in state.get("m", {}).items()}
        self.v = {int(k[1:]): paddle.to_tensor(np.asarray(a, np.float32)) for k, a in state.get("v", {}).items()}


class PGGANModel(BaseModel):
    """G: z -> image, grown from 4x4 to ``generator.image_size``; D the mirror image. See the module docstring.

    Args:
        generator: the generator section (``name: pggan`` and its arguments).
        discriminator: the discriminator section (``name: pggan``); its size and channels follow the generator.
        start_resolution: resolution of the first phase (the paper: 4).
        stable_images: real images shown per phase before the next block fades in (official 600k;
            the paper's CelebA-HQ run: 800k).
        fade_images: real images over which a new block fades in (official 600k; paper 800k).
        minibatch: {resolution: minibatch} (official 1-GPU preset: {4: 128, 8: 128, 16: 128, 32: 64,
            64: 32, 128: 16, 256: 8, 512: 4}).
        minibatch_default: minibatch of the resolutions not in ``minibatch`` (the paper's 16; official 1-GPU: 4).
        lr_dict: {resolution: learning rate} overrides of optimizer.lr for G and D (official 1-GPU: {1024: 0.0015}).
        reset_opt_for_new_lod: reset the Adam moments when a fade-in starts or ends (official: yes).
        lambda_gp: weight of the gradient penalty (10).
        gp_target: the penalty's target norm (1; the official CIFAR-10 run: 750).
        epsilon_drift: weight of E[D(x)^2] in D's loss (0.001).
        g_smoothing: beta of G's moving average netG_ema, used for sampling (0.999; 0: no average).
        n_visuals: fixed-noise samples in each training visuals grid.
    """

    kind = "generation"

    def __init__(self, generator, discriminator, start_resolution=4, stable_images=600000, fade_images=600000,
                 minibatch=None, minibatch_default=16, lr_dict=None, reset_opt_for_new_lod=True, lambda_gp=10.0,
                 gp_target=1.0, epsilon_drift=0.001, g_smoothing=0.999, n_visuals=32, is_train=True, seed=0):
        super().__init__()
        g_cfg = dict(generator)
        g_name = g_cfg.pop("name")
        self.nets["netG"] = build_generator(g_name, **g_cfg)
        G = self.nets["netG"]
        if not hasattr(G, "set_lod"):
            raise ValueError(f"PGGANModel needs a growing generator (generator.name: pggan), got {g_name!r}")
        self.nz, self.n_classes, self.output_nc, self.image_size = G.nz, 0, G.output_nc, G.image_size
        start = int(start_resolution)
        if start < 4 or start & (start - 1) or start > G.image_size:
            raise ValueError(f"start_resolution must be a power of two in [4, {G.image_size}] (generator.image_size), "
                             f"got {start_resolution}")
        if stable_images < 0 or fade_images < 0:
            raise ValueError(f"stable_images and fade_images must be >= 0, got {stable_images} and {fade_images}")
        for name, table in (("minibatch", minibatch), ("lr_dict", lr_dict)):
            bad = [k for k in (table or {}) if not isinstance(k, int) or k < 4 or k & (k - 1)]
            if bad:
                raise ValueError(f"{name}: keys are resolutions (powers of two >= 4), got {bad}")
        group = int(discriminator.get("mbstd_group_size", 4)) if isinstance(discriminator, dict) else 4
        for res, mb in {**(minibatch or {}), 0: minibatch_default}.items():
            if mb < 1 or (group > 1 and mb % min(group, mb)):
                where = f"minibatch[{res}]" if res else "minibatch_default"
                raise ValueError(f"{where} = {mb}: a minibatch must be a positive multiple of the discriminator's "
                                 f"mbstd_group_size ({group})")
        self.sched_cfg = {"start_resolution": start, "stable_images": int(stable_images),
                          "fade_images": int(fade_images), "minibatch": dict(minibatch or {}),
                          "minibatch_default": int(minibatch_default), "lr_dict": dict(lr_dict or {})}
        self.reset_opt = bool(reset_opt_for_new_lod)
        self.lambda_gp, self.gp_target, self.epsilon_drift = float(lambda_gp), float(gp_target), float(epsilon_drift)
        self.g_smoothing = float(g_smoothing)
        if self.g_smoothing > 0:
            self.nets["netG_ema"] = build_generator(g_name, **g_cfg)  # the official Gs = G.clone()
            self.nets["netG_ema"].set_state_dict(G.state_dict())
            set_requires_grad([self.nets["netG_ema"]], False)
        if is_train:
            d_cfg = dict(discriminator)
            d_name = d_cfg.pop("name")
            d_cfg.update(input_nc=G.output_nc, image_size=G.image_size)
            self.nets["netD"] = build_discriminator(d_name, **d_cfg)
        self.cur_nimg = 0
        self.sched = None
        self.last_losses = {}
        self._apply_lod(self.schedule(0)["lod"])
        rng = np.random.default_rng([seed, 7])
        self.fixed_z = rng.standard_normal((n_visuals, self.nz)).astype(np.float32)

    # ------------------------------------------------------------------ schedule
    def schedule(self, images=None):
        """:func:`training_schedule` after ``images`` real images (default: those shown so far)."""
        lr = getattr(self, "base_lr", 0.001)
        return training_schedule(self.cur_nimg if images is None else images, self.image_size,
                                 **self.sched_cfg, lr=lr)

    def _apply_lod(self, lod):
        for net in self.nets.values():
            net.set_lod(lod)

    def setup_training(self, optimizer_cfg, scheduler_cfg):
        """Adam per net (TFAdam; optimizer.beta1, beta2, eps; the official (0, 0.99, 1e-8)) with a
        constant lr per resolution, as the official; ``lr_scheduler`` is not used."""
        cfg = dict(optimizer_cfg)
        self.base_lr = float(cfg.pop("lr"))
        if cfg.get("name", "adam") != "adam" or cfg.get("weight_decay"):
            raise ValueError("PGGANModel trains with Adam without weight decay (the official optimizer): set "
                             "optimizer.name: adam and leave weight_decay out")
        self.optimizer_cfg = {"beta1": cfg.get("beta1", 0.0), "beta2": cfg.get("beta2", 0.99),
                              "epsilon": cfg.get("eps", 1e-8)}
        self.schedulers = {}
        self.sched = self.schedule()
        for name, net in (("G", self.nets["netG"]), ("D", self.nets["netD"])):
            self.optimizers[name] = TFAdam(net.parameters(), self.sched["lr"], **self.optimizer_cfg)

    def update_learning_rate(self, metric=None):
        pass  # per resolution, set by the schedule

    def set_fast(self, on=True):
        if on:
            from ..engine.fast import FastPathError
            raise FastPathError("train.fast is for the translation models; PGGANModel trains eagerly: "
                                "set train.fast: false")
        return self

    def _enter(self, sched):
        """Make ``sched`` current: lod of every net, optimizer reset when the integer bounds of lod
        change (a fade-in starts or ends), this resolution's lr."""
        prev = self.sched
        if self.reset_opt and (prev is None or math.floor(prev["lod"]) != math.floor(sched["lod"])
                               or math.ceil(prev["lod"]) != math.ceil(sched["lod"])):
            for opt in self.optimizers.values():
                opt.reset()
        if prev is None or prev["resolution"] != sched["resolution"] or (prev["alpha"] < 1) != (sched["alpha"] < 1):
            logger.info("PGGAN: %d images shown: %s at %dx%d, minibatch %d", self.cur_nimg,
                        "fading in" if sched["alpha"] < 1 else "stable", sched["resolution"], sched["resolution"],
                        sched["minibatch"])
        for opt in self.optimizers.values():
            if opt.get_lr() != sched["lr"]:
                opt.set_lr(sched["lr"])
        self._apply_lod(sched["lod"])
        self.sched = sched

    # ------------------------------------------------------------------ training
    def set_input(self, batch):
        """``batch['image']``: NCHW in [-1, 1] at the final size (``generator.image_size``)."""
        self.real = real_images(batch, self.output_nc, self.image_size, made="grows to")

    def discriminator_losses(self, reals, resolution):
        """D's terms on one minibatch at the current lod: W-distance parts, penalty, drift."""
        netD = self.nets["netD"]
        z = paddle.randn([reals.shape[0], self.nz])
        with paddle.no_grad():  # D's step: G only supplies images
            fakes = self.nets["netG"](z, full_size=False)
        s_real, s_fake = netD(reals), netD(fakes.detach())
        losses = {"D_real": -s_real.mean(), "D_fake": s_fake.mean()}
        losses["GP"], _ = wgangp_penalty(netD, reals, fakes, self.lambda_gp, self.gp_target,
                                         self.image_size // resolution)
        losses["drift"] = self.epsilon_drift * (s_real ** 2).mean()
        return losses, (s_real.mean() - s_fake.mean()).detach()

    def generator_loss(self, n):
        z = paddle.randn([n, self.nz])
        return -self.nets["netD"](self.nets["netG"](z, full_size=False)).mean()

    @paddle.no_grad()
    def update_ema(self):
        """Gs = G + beta (Gs - G) for every parameter (the official ``setup_as_moving_average_of``)."""
        if self.g_smoothing <= 0:
            return
        G, Gs = self.nets["netG"], self.nets["netG_ema"]
        for p, q in zip(G.parameters(), Gs.parameters()):
            q.set_value(p + (q - p) * self.g_smoothing)

    def train_step(self):
        """The loader batch as this schedule's minibatches: each one D step (+ the G average) then
        one G step. Returns the losses averaged over the minibatches."""
        netD = self.nets["netD"]
        n, pos, sums, steps = self.real.shape[0], 0, {}, 0
        while True:
            sched = self.schedule()
            mb = sched["minibatch"]
            if pos + mb > n:
                break
            self._enter(sched)
            reals = process_reals(self.real[pos:pos + mb], sched["resolution"], sched["alpha"])
            set_requires_grad([netD], True)
            self.zero_grad("D")
            losses, w = self.discriminator_losses(reals, sched["resolution"])
            sum(losses.values()).backward()
            self.optimizers["D"].step()
            self.update_ema()
            self.cur_nimg += mb
            set_requires_grad([netD], False)
            self.zero_grad("G")
            loss_G = self.generator_loss(mb)
            loss_G.backward()
            self.optimizers["G"].step()
            step = {"G": float(loss_G), "W": float(w), **{k: float(v) for k, v in losses.items()}}
            for k, v in step.items():
                sums[k] = sums.get(k, 0.0) + v
            pos, steps = pos + mb, steps + 1
        set_requires_grad([netD], True)
        if steps:
            self.last_losses = {k: v / steps for k, v in sums.items()}
        return dict(self.last_losses) or {"G": 0.0}

    def extra_state(self):
        return {"cur_nimg": int(self.cur_nimg), "lod": None if self.sched is None else float(self.sched["lod"]),
                "last_losses": dict(self.last_losses)}

    def set_extra_state(self, state):
        """Restore the image count; the schedule (lod, alpha, resolution, lr) follows from it. The
        optimizers keep the moments just loaded (no reset on resume, unlike the official)."""
        self.cur_nimg = int(state.get("cur_nimg", 0))
        self.last_losses = dict(state.get("last_losses", {}))
        sched = self.schedule()
        saved = state.get("lod")
        self.sched = dict(sched, lod=float(saved)) if saved is not None else sched
        for opt in self.optimizers.values():
            opt.set_lr(self.sched["lr"])
        self._apply_lod(self.sched["lod"])

    def state_dict(self):
        return {"nets": {k: v.state_dict() for k, v in self.nets.items()},
                "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
                "schedulers": {}, "extra": self.extra_state()}

    def set_state_dict(self, state, source=""):
        self.load_nets(state["nets"], source=source, strict=True)
        missing = [k for k in self.optimizers if k not in state.get("optimizers", {})]
        if missing:
            raise CheckpointError(f"{source}: no state for optimizers {missing} in the checkpoint")
        for k, opt in self.optimizers.items():
            opt.set_state_dict(state["optimizers"][k], source)
        self.set_extra_state(state.get("extra", {}))

    # ------------------------------------------------------------------ sampling
    @property
    def sample_net(self):
        """The net that samples, is evaluated and exported: netG_ema (else netG)."""
        return "netG_ema" if "netG_ema" in self.nets else "netG"

    def sampler(self):
        return self.nets[self.sample_net]

    @paddle.no_grad()
    def generate(self, z, labels=None):
        """netG_ema (else netG) on a noise batch [N, nz] -> images NCHW in [-1, 1] at the final size
        (nearest-upsampled while training at a lower resolution)."""
        z = z if isinstance(z, paddle.Tensor) else paddle.to_tensor(np.asarray(z, np.float32))
        return self.sampler()(z)

    def visuals(self):
        """Fixed-noise samples of netG_ema at the current lod, 8 per row."""
        G = self.sampler()
        fake = self.generate(self.fixed_z)
        res, alpha = G.resolution, G.alpha
        tag = f"{res}px" + (f" a={alpha:.2f}" if alpha < 1 else "")
        items = [(f"z{i} {tag}" if i == 0 else f"z{i}", fake[i:i + 1]) for i in range(fake.shape[0])]
        return [items[i:i + 8] for i in range(0, len(items), 8)]

    def display_images(self, fake):
        return {"fake": tensor_to_image(fake)}
