"""PyTorch reference for the training-step benchmark: the original CycleGAN and pix2pix networks
and training steps of junyanz/pytorch-CycleGAN-and-pix2pix, and the DCGAN of pytorch/examples
``dcgan/main.py``, in PyTorch eager mode, timed the way ``_cases.train_case`` times Paddle's step
(the same batch, warm-up steps, then timed steps).

Run by an interpreter that has PyTorch (Paddle and NumPy are not needed)::

    /path/to/python-with-torch benchmarks/torch_reference.py --family cyclegan --size 128   # or pix2pix, dcgan
        [--ngf 64] [--threads N] [--warmup 1] [--repeats 3] [--shapes]

It prints one JSON line: ``step_s`` (one time per timed step), ``peak_mb`` (peak resident memory of
this program), ``import_peak_mb`` (the same right after ``import torch``), the torch version and
threads, the generator and its width, and the parameter count of every net. ``--shapes`` prints
every net's parameter names and shapes instead (no training). ``benchmarks/run.py --torch PYTHON``
runs it for its ``pytorch`` training rows.

The generator and width come from ``_cases.family_config`` (the Paddle rows' choice): CycleGAN
``resnet_6blocks`` below 256 px / ``resnet_9blocks`` at 256 px with InstanceNorm, pix2pix
``unet_128`` / ``unet_256`` with BatchNorm and dropout, 70x70 PatchGANs (``basic``). The networks
are written layer for layer as upstream ``models/networks.py`` (same modules, same order, so the
parameter names equal upstream's and ppimg2img's), initialised as upstream ``init_weights``
('normal', gain 0.02), trained with Adam (lr 2e-4, betas (0.5, 0.999)) by the upstream models'
``optimize_parameters``.

DCGAN: pytorch/examples ``dcgan/main.py``'s ``Generator`` / ``Discriminator`` (one ``main``
Sequential each, the same module order and names ``main.N``), ``weights_init`` and training loop,
at the size, width and batch ``_cases`` gives the Paddle row (28 px: ngf/ndf 32, batch 64; 64 px:
ngf/ndf 64, batch 128; nz 100, one channel). At 64 px the nets are upstream's layer for layer; other
sizes keep its pattern with ppimg2img's layer plan (``_cases.dcgan_plan``): at 28 px G is
ConvT(nz, 2ngf, 7, 1, 0) -> 7x7, ConvT(2ngf, ngf, 4, 2, 1) -> 14, ConvT(ngf, nc, 4, 2, 1) -> 28, and D
mirrors it, Conv(nc, ndf, 4, 2, 1) -> 14, Conv(ndf, 2ndf, 4, 2, 1) -> 7, Conv(2ndf, 1, 7, 1, 0).
"""
import argparse
import functools
import importlib.util
import itertools
import json
import os
import random
import resource
import sys


def _peak_mb():
    """Peak resident memory of this program in MiB: ``VmHWM`` (Linux), else ``ru_maxrss``. Not
    ``ru_maxrss`` on Linux: it keeps the high-water mark of the process before ``exec``, i.e. of the
    (large) Paddle process that started this interpreter."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


try:
    import torch
    from torch import nn
except ImportError as _e:
    if __name__ == "__main__":  # the parent (benchmarks/run.py) reports this line as the row's error
        print(json.dumps({"error": f"{sys.executable} cannot import torch ({type(_e).__name__}: {_e}): "
                                   "install PyTorch in that interpreter or pass another one to --torch"}))
        sys.exit(2)
    raise

IMPORT_PEAK_MB = _peak_mb()
_HAS_NUMPY = importlib.util.find_spec("numpy") is not None  # to copy inference outputs out, as .numpy() in Paddle
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _cases import _time, dcgan_plan, family_config, train_batch  # noqa: E402  (no Paddle/NumPy at import)
import torch_reference_ugatit  # noqa: E402

FAMILIES = ("cyclegan", "pix2pix", "ugatit", "photo2cartoon", "dcgan")
LR, BETAS, INIT_GAIN = 2e-4, (0.5, 0.999), 0.02  # upstream --lr, --beta1, --init_gain defaults


# ---------------------------------------------------------------- networks (upstream models/networks.py)

def norm_layer(norm):
    """Upstream get_norm_layer: InstanceNorm2d without affine/running stats, or BatchNorm2d."""
    if norm == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    if norm == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    raise ValueError(f"unknown norm {norm!r}: 'instance' or 'batch'")


class ResnetBlock(nn.Module):
    """pad-conv3-norm-ReLU-pad-conv3-norm with a skip connection (reflection padding, no dropout)."""

    def __init__(self, dim, norm, use_bias):
        super().__init__()
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), norm(dim), nn.ReLU(True),
                  nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), norm(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """c7s1-ngf, d(2ngf), d(4ngf), n_blocks x R(4ngf), u(2ngf), u(ngf), c7s1-3, Tanh (Johnson et al.)."""

    def __init__(self, ngf, n_blocks, norm="instance", input_nc=3, output_nc=3):
        super().__init__()
        nl, use_bias = norm_layer(norm), norm == "instance"  # upstream: bias only before InstanceNorm
        model = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=use_bias), nl(ngf), nn.ReLU(True)]
        for mult in (1, 2):
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=use_bias),
                      nl(ngf * mult * 2), nn.ReLU(True)]
        model += [ResnetBlock(ngf * 4, nl, use_bias) for _ in range(n_blocks)]
        for mult in (4, 2):
            model += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1,
                                         bias=use_bias), nl(ngf * mult // 2), nn.ReLU(True)]
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x)


class UnetSkipConnectionBlock(nn.Module):
    """One U-Net level; all but the outermost return cat([x, model(x)]). The in-place LeakyReLU
    that opens ``model`` also rewrites ``x``, so the skip carries LeakyReLU(x), as upstream (the
    same values and gradients as x would give: the parent applies ReLU to the concatenation)."""

    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False, innermost=False,
                 norm="batch", use_dropout=False):
        super().__init__()
        self.outermost = outermost
        nl, use_bias = norm_layer(norm), norm == "instance"
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, 4, stride=2, padding=1, bias=use_bias)
        if outermost:
            model = [downconv, submodule, nn.ReLU(True),
                     nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1), nn.Tanh()]
        elif innermost:
            model = [nn.LeakyReLU(0.2, True), downconv, nn.ReLU(True),
                     nn.ConvTranspose2d(inner_nc, outer_nc, 4, stride=2, padding=1, bias=use_bias), nl(outer_nc)]
        else:
            model = [nn.LeakyReLU(0.2, True), downconv, nl(inner_nc), submodule, nn.ReLU(True),
                     nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1, bias=use_bias), nl(outer_nc)]
            if use_dropout:
                model.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*model)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """U-Net with ``num_downs`` downsamplings; dropout in the num_downs - 5 innermost ngf*8 levels."""

    def __init__(self, ngf, num_downs, norm="batch", use_dropout=True, input_nc=3, output_nc=3):
        super().__init__()
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, norm=norm, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, norm=norm, use_dropout=use_dropout)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, norm=norm)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, norm=norm)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, norm=norm)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True,
                                             norm=norm)

    def forward(self, x):
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """PatchGAN; n_layers 3 is the 70x70 'basic' discriminator."""

    def __init__(self, input_nc, ndf, n_layers=3, norm="instance"):
        super().__init__()
        nl, use_bias = norm_layer(norm), norm == "instance"
        seq = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=use_bias), nl(ndf * mult),
                    nn.LeakyReLU(0.2, True)]
        seq += [nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        return self.model(x)


class DCGANGenerator(nn.Module):
    """pytorch/examples dcgan ``Generator``: z [N, nz, 1, 1] -> ConvT(nz, width, base, 1, 0) to the
    start side, then ConvT 4/2/1 halving the width and doubling the side, BatchNorm + ReLU after
    every ConvT but the last, Tanh; no biases. 64 px: ngf*8 at 4x4 -> ... -> 64x64 (upstream)."""

    def __init__(self, nz, ngf, nc, image_size):
        super().__init__()
        base, n_up = dcgan_plan(image_size)
        width = ngf * 2 ** (n_up - 1)
        layers = [nn.ConvTranspose2d(nz, width, base, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)]
        for _ in range(n_up - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2),
                       nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, input):
        return self.main(input)


class DCGANDiscriminator(nn.Module):
    """pytorch/examples dcgan ``Discriminator``: Conv 4/2/1 doubling the width and halving the side
    (LeakyReLU 0.2; BatchNorm on all but the first), Conv(width, 1, base, 1, 0) to one score, Sigmoid;
    no biases. Returns the probabilities [N] (upstream: ``output.view(-1, 1).squeeze(1)``)."""

    def __init__(self, nc, ndf, image_size):
        super().__init__()
        base, n_down = dcgan_plan(image_size)
        layers = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        width = ndf
        for _ in range(n_down - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2),
                       nn.LeakyReLU(0.2, inplace=True)]
            width *= 2
        layers += [nn.Conv2d(width, 1, base, 1, 0, bias=False), nn.Sigmoid()]
        self.main = nn.Sequential(*layers)

    def forward(self, input):
        return self.main(input).view(-1, 1).squeeze(1)

    def logits(self, input):
        """The score before the Sigmoid (ppimg2img's D output, whose loss is BCE with logits)."""
        return self.main[:-1](input).view(-1)


def init_weights(net, gain=INIT_GAIN):
    """Upstream init_weights('normal'): Conv*/Linear weights ~ N(0, gain), biases 0; BatchNorm2d
    weights ~ N(1, gain), biases 0."""
    for m in net.modules():
        name = type(m).__name__
        if hasattr(m, "weight") and ("Conv" in name or "Linear" in name):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0.0)
        elif "BatchNorm2d" in name:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.constant_(m.bias, 0.0)
    return net


def build_generator(cfg):
    """A ``family_config`` generator config ({'name', 'ngf'}) as the upstream network."""
    name, ngf = cfg["name"], cfg["ngf"]
    if name.startswith("resnet_") and name.endswith("blocks"):
        return ResnetGenerator(ngf, int(name[len("resnet_"):-len("blocks")]), norm=cfg.get("norm", "instance"))
    if name in ("unet_128", "unet_256"):
        return UnetGenerator(ngf, 7 if name == "unet_128" else 8, norm=cfg.get("norm", "batch"),
                             use_dropout=cfg.get("use_dropout", True))
    raise ValueError(f"no PyTorch reference for generator {name!r}")


def build_discriminator(cfg, input_nc):
    if cfg["name"] != "basic":
        raise ValueError(f"no PyTorch reference for discriminator {cfg['name']!r}")
    return NLayerDiscriminator(input_nc, cfg["ndf"], 3, norm=cfg.get("norm", "instance"))


def build_nets(family, size, ngf=None):
    """The family's nets, named as ppimg2img's ``model.nets`` (and upstream's), initialised."""
    _, gen, dis = family_config(family, size, ngf)
    if family == "dcgan":  # pytorch/examples weights_init: the same N(0, 0.02) convs, N(1, 0.02) BatchNorm scales
        nets = {"netG": DCGANGenerator(gen["nz"], gen["ngf"], gen["output_nc"], size),
                "netD": DCGANDiscriminator(gen["output_nc"], dis["ndf"], size)}
    elif family == "cyclegan":
        nets = {"netG_A": build_generator(gen), "netG_B": build_generator(gen),
                "netD_A": build_discriminator(dis, 3), "netD_B": build_discriminator(dis, 3)}
    elif family == "pix2pix":
        nets = {"netG": build_generator(gen), "netD": build_discriminator(dis, 6)}  # conditional D on (A, B)
    elif family in ("ugatit", "photo2cartoon"):  # PyTorch's default init, as the originals (no init call)
        return torch_reference_ugatit.build_nets(family, gen, dis), gen
    else:
        raise ValueError(f"no PyTorch reference for family {family!r}; choose from {', '.join(FAMILIES)}")
    for net in nets.values():
        init_weights(net)
    return nets, gen


# ---------------------------------------------------------------- training steps (upstream models/*_model.py)

class GANLoss(nn.Module):
    """Upstream GANLoss for 'lsgan' (MSE) and 'vanilla' (BCE with logits), targets 1.0 / 0.0."""

    def __init__(self, gan_mode):
        super().__init__()
        self.register_buffer("real_label", torch.tensor(1.0))
        self.register_buffer("fake_label", torch.tensor(0.0))
        self.loss = nn.MSELoss() if gan_mode == "lsgan" else nn.BCEWithLogitsLoss()

    def forward(self, prediction, target_is_real):
        target = self.real_label if target_is_real else self.fake_label
        return self.loss(prediction, target.expand_as(prediction))


class ImagePool:
    """Upstream util/image_pool.py: up to ``pool_size`` past fakes; once full, each query returns a
    stored image (replaced by the new one) with probability 0.5."""

    def __init__(self, pool_size=50):
        self.pool_size, self.images = pool_size, []

    def query(self, images):
        out = []
        for image in images:
            image = image.data.unsqueeze(0)
            if len(self.images) < self.pool_size:
                self.images.append(image)
                out.append(image)
            elif random.uniform(0, 1) > 0.5:
                i = random.randint(0, self.pool_size - 1)
                out.append(self.images[i].clone())
                self.images[i] = image
            else:
                out.append(image)
        return torch.cat(out, 0)


def set_requires_grad(nets, flag):
    for net in nets:
        for p in net.parameters():
            p.requires_grad = flag


def adam(*nets):
    return torch.optim.Adam(itertools.chain(*(n.parameters() for n in nets)), lr=LR, betas=BETAS)


class CycleGANStep:
    """Upstream CycleGANModel.optimize_parameters: forward, G step (D frozen), D step. LSGAN,
    lambda_A = lambda_B = 10, lambda_identity 0.5, image pools of 50."""

    def __init__(self, nets, real_A, real_B, lambda_A=10.0, lambda_B=10.0, lambda_idt=0.5):
        self.G_A, self.G_B, self.D_A, self.D_B = (nets[k] for k in ("netG_A", "netG_B", "netD_A", "netD_B"))
        self.real_A, self.real_B = real_A, real_B
        self.lambda_A, self.lambda_B, self.lambda_idt = lambda_A, lambda_B, lambda_idt
        self.gan, self.l1 = GANLoss("lsgan"), nn.L1Loss()
        self.fake_A_pool, self.fake_B_pool = ImagePool(50), ImagePool(50)
        self.opt_G, self.opt_D = adam(self.G_A, self.G_B), adam(self.D_A, self.D_B)

    def backward_G(self):
        idt_A = self.G_A(self.real_B)
        idt_B = self.G_B(self.real_A)
        loss = (self.l1(idt_A, self.real_B) * self.lambda_B * self.lambda_idt
                + self.l1(idt_B, self.real_A) * self.lambda_A * self.lambda_idt
                + self.gan(self.D_A(self.fake_B), True) + self.gan(self.D_B(self.fake_A), True)
                + self.l1(self.rec_A, self.real_A) * self.lambda_A + self.l1(self.rec_B, self.real_B) * self.lambda_B)
        loss.backward()
        return loss

    def backward_D_basic(self, netD, real, fake):
        loss = (self.gan(netD(real), True) + self.gan(netD(fake.detach()), False)) * 0.5
        loss.backward()
        return loss

    def __call__(self):
        self.fake_B = self.G_A(self.real_A)
        self.rec_A = self.G_B(self.fake_B)
        self.fake_A = self.G_B(self.real_B)
        self.rec_B = self.G_A(self.fake_A)
        set_requires_grad([self.D_A, self.D_B], False)
        self.opt_G.zero_grad()
        loss_G = self.backward_G()
        self.opt_G.step()
        set_requires_grad([self.D_A, self.D_B], True)
        self.opt_D.zero_grad()
        loss_D_A = self.backward_D_basic(self.D_A, self.real_B, self.fake_B_pool.query(self.fake_B))
        loss_D_B = self.backward_D_basic(self.D_B, self.real_A, self.fake_A_pool.query(self.fake_A))
        self.opt_D.step()
        return {"G": loss_G.item(), "D_A": loss_D_A.item(), "D_B": loss_D_B.item()}


class Pix2PixStep:
    """Upstream Pix2PixModel.optimize_parameters: forward, D step, G step (D frozen). Vanilla GAN
    (BCE with logits) on the conditional D's view of cat(A, B), L1 weight 100, no image pool."""

    def __init__(self, nets, real_A, real_B, lambda_L1=100.0):
        self.G, self.D = nets["netG"], nets["netD"]
        self.real_A, self.real_B, self.lambda_L1 = real_A, real_B, lambda_L1
        self.gan, self.l1 = GANLoss("vanilla"), nn.L1Loss()
        self.opt_G, self.opt_D = adam(self.G), adam(self.D)

    def __call__(self):
        fake_B = self.G(self.real_A)
        set_requires_grad([self.D], True)
        self.opt_D.zero_grad()
        fake_AB = torch.cat((self.real_A, fake_B), 1)
        loss_D = (self.gan(self.D(fake_AB.detach()), False)
                  + self.gan(self.D(torch.cat((self.real_A, self.real_B), 1)), True)) * 0.5
        loss_D.backward()
        self.opt_D.step()
        set_requires_grad([self.D], False)
        self.opt_G.zero_grad()
        fake_AB = torch.cat((self.real_A, fake_B), 1)
        loss_G = self.gan(self.D(fake_AB), True) + self.l1(fake_B, self.real_B) * self.lambda_L1
        loss_G.backward()
        self.opt_G.step()
        return {"G": loss_G.item(), "D": loss_D.item()}


class DCGANStep:
    """pytorch/examples dcgan/main.py's training loop, one iteration on a fixed real batch: D step
    (BCE of D(real) vs 1, backward; noise ~ N(0, 1), fake = G(noise); BCE of D(fake.detach()) vs 0,
    backward; Adam step), then G step (BCE of D(fake) vs 1, backward, Adam step). As upstream, D is
    not frozen in the G step (its weight gradients are computed too and dropped by the next
    ``netD.zero_grad()``); ``freeze_d=True`` sets D's ``requires_grad`` off for it, as ppimg2img's step does."""

    def __init__(self, nets, real, nz, freeze_d=False):
        self.G, self.D, self.real, self.nz, self.freeze_d = nets["netG"], nets["netD"], real, nz, freeze_d
        self.criterion = nn.BCELoss()
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=LR, betas=BETAS)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=LR, betas=BETAS)

    def __call__(self):
        self.D.zero_grad()
        batch_size = self.real.size(0)
        label = torch.full((batch_size,), 1.0, dtype=self.real.dtype)
        errD_real = self.criterion(self.D(self.real), label)
        errD_real.backward()
        noise = torch.randn(batch_size, self.nz, 1, 1)
        fake = self.G(noise)
        label.fill_(0.0)
        errD_fake = self.criterion(self.D(fake.detach()), label)
        errD_fake.backward()
        errD = errD_real + errD_fake
        self.opt_D.step()
        if self.freeze_d:
            set_requires_grad([self.D], False)
        self.G.zero_grad()
        label.fill_(1.0)
        errG = self.criterion(self.D(fake), label)
        errG.backward()
        self.opt_G.step()
        if self.freeze_d:
            set_requires_grad([self.D], True)
        return {"G": errG.item(), "D": errD.item()}


def train_step(family, size, ngf=None, seed=0, freeze_d=False):
    """(step function, generator config, nets) of ``family`` at ``size`` on one random image pair in [-1, 1]
    (DCGAN: one real batch of ``_cases.train_batch`` images in [-1, 1])."""
    torch.manual_seed(seed)
    random.seed(seed)  # the image pools
    nets, gen = build_nets(family, size, ngf)
    for net in nets.values():
        net.train()
    if family == "dcgan":
        real = torch.rand(train_batch(family, size), gen["output_nc"], size, size) * 2 - 1
        return DCGANStep(nets, real, gen["nz"], freeze_d), gen, nets
    real_A, real_B = (torch.rand(1, 3, size, size) * 2 - 1 for _ in "AB")
    if family in ("ugatit", "photo2cartoon"):
        return torch_reference_ugatit.UGATITStep(family, nets, real_A, real_B), gen, nets
    step = (CycleGANStep if family == "cyclegan" else Pix2PixStep)(nets, real_A, real_B)
    return step, gen, nets


def measure(family, size, ngf=None, threads=None, warmup=1, repeats=3, freeze_d=False):
    """The benchmark row's raw figures: ``step_s`` after ``warmup`` untimed steps, peak memory."""
    torch.set_num_threads(threads or len(os.sched_getaffinity(0)))
    step, gen, nets = train_step(family, size, ngf, freeze_d=freeze_d)
    losses = []
    times = _time(lambda: losses.append(step()), warmup, repeats)
    if losses and not all(abs(v) < float("inf") for v in losses[-1].values()):  # also false for NaN
        raise FloatingPointError(f"non-finite losses in the PyTorch step: {losses[-1]}")
    return {"step_s": times, "peak_mb": _peak_mb(), "import_peak_mb": IMPORT_PEAK_MB,
            "losses": losses[-1] if losses else {}, "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "generator": gen["name"], "ngf": gen["ngf"], "batch": train_batch(family, size),
            **({"freeze_d": freeze_d} if family == "dcgan" else {}),
            "params": {k: sum(p.numel() for p in n.parameters()) for k, n in nets.items()},
            "generator_params": sum(p.numel() for p in next(iter(nets.values())).parameters())}


def measure_inference(family, size, ngf=None, threads=None, warmup=1, repeats=3, batches=(1, 4)):
    """The ``pytorch`` inference row: the generator in eval mode under ``torch.no_grad()``, one image
    translated per call at batch 1 (and a batch of 4), output copied to a list, as ``_cases`` times Paddle."""
    torch.set_num_threads(threads or len(os.sched_getaffinity(0)))
    torch.manual_seed(0)
    nets, gen = build_nets(family, size, ngf)
    net = next(iter(nets.values())).eval()
    out = {}
    with torch.no_grad():
        for batch in batches:
            x = torch.rand(batch, 3, size, size) * 2 - 1

            def run(x=x):
                y = net(x)
                return (y[0] if isinstance(y, tuple) else y).numpy() if _HAS_NUMPY else y[0].tolist()
            out[f"batch{batch}_s"] = _time(run, warmup, repeats)
    return {**out, "peak_mb": _peak_mb(), "import_peak_mb": IMPORT_PEAK_MB, "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "generator": gen["name"], "ngf": gen["ngf"]}


def parameter_shapes(family, size, ngf=None):
    nets, _ = build_nets(family, size, ngf)
    return {k: {name: list(p.shape) for name, p in n.named_parameters()} for k, n in nets.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--family", required=True, choices=FAMILIES)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--ngf", type=int, help="width of every net (default: the family's published 64)")
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: every core of this process)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--infer", action="store_true",
                   help="time the generator's inference (eval, no_grad; batch 1 and 4) instead of the training step")
    p.add_argument("--shapes", action="store_true", help="print parameter names and shapes, do not train")
    p.add_argument("--freeze-d", action="store_true",
                   help="dcgan: D's requires_grad off during the G step (ppimg2img's step; upstream leaves it on)")
    args = p.parse_args(argv)
    try:
        out = (parameter_shapes(args.family, args.size, args.ngf) if args.shapes else
               measure_inference(args.family, args.size, args.ngf, args.threads, args.warmup, args.repeats)
               if args.infer else
               measure(args.family, args.size, args.ngf, args.threads, args.warmup, args.repeats, args.freeze_d))
    except Exception as e:  # noqa: BLE001 - one JSON line either way, for benchmarks/run.py
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
