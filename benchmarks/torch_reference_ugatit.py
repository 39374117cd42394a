"""PyTorch reference for U-GAT-IT and photo2cartoon (imported by torch_reference.py; PyTorch only).

Written from the original code, module for module (same module order and parameter names):
- znxlwm/UGATIT-pytorch ``networks.py``: ``ResnetGenerator`` (light: MLP on the average-pooled
  features), ``ResnetBlock``, ``ResnetAdaILNBlock``, ``adaILN``, ``ILN``, ``Discriminator`` with
  spectral norm (``torch.nn.utils.spectral_norm``), PyTorch's default initialisation (the original
  calls no init function); the step of ``UGATIT.train()``: D step on un-detached fakes (its backward
  also runs through both generators, as the original's), then the G step (six generator passes, four
  discriminator passes, D not frozen: the original computes D's gradients there too and discards them
  at the next ``zero_grad``), one ``backward`` of the summed loss, ``RhoClipper(0, 1)``.
- minivision-ai/photo2cartoon ``models/networks.py``: the hourglass ``ResnetGenerator`` (``ConvBlock``,
  ``HourGlassBlock``, ``HourGlass``, ``SoftAdaLIN``, ``adaLIN``, ``LIN``) and U-GAT-IT's discriminator;
  the step of ``UgatitSadalinHourglass.train()``: as U-GAT-IT's plus the face-ID loss of
  ``models/face_features.py`` (central crop, bilinear resize to 112 with ``align_corners=True``,
  ``models/mobilefacenet.py``'s ``MobileFaceNet(512)`` in eval mode, ``1 - cosine_similarity``), cycle
  weight 50, and the ``WClipper(0, 1)`` of the Soft-AdaLIN blend weights. The face net has random
  weights (same cost as the published ones).
"""
import itertools

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parameter import Parameter

SN = nn.utils.spectral_norm


# ---------------------------------------------------------------- U-GAT-IT networks.py

def _ilnorm(x, rho, eps):
    """adaILN/ILN's shared part, as the original: instance and layer statistics with torch.var (unbiased)."""
    in_mean, in_var = torch.mean(x, dim=[2, 3], keepdim=True), torch.var(x, dim=[2, 3], keepdim=True)
    out_in = (x - in_mean) / torch.sqrt(in_var + eps)
    ln_mean, ln_var = torch.mean(x, dim=[1, 2, 3], keepdim=True), torch.var(x, dim=[1, 2, 3], keepdim=True)
    out_ln = (x - ln_mean) / torch.sqrt(ln_var + eps)
    r = rho.expand(x.shape[0], -1, -1, -1)
    return r * out_in + (1 - r) * out_ln


class adaILN(nn.Module):  # noqa: N801 - the original's name
    def __init__(self, num_features, eps=1e-5, rho=0.9):
        super().__init__()
        self.eps = eps
        self.rho = Parameter(torch.full((1, num_features, 1, 1), rho))

    def forward(self, x, gamma, beta):
        return _ilnorm(x, self.rho, self.eps) * gamma.unsqueeze(2).unsqueeze(3) + beta.unsqueeze(2).unsqueeze(3)


class ILN(nn.Module):
    def __init__(self, num_features, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.rho = Parameter(torch.zeros(1, num_features, 1, 1))
        self.gamma = Parameter(torch.ones(1, num_features, 1, 1))
        self.beta = Parameter(torch.zeros(1, num_features, 1, 1))

    def forward(self, x):
        n = x.shape[0]
        return (_ilnorm(x, self.rho, self.eps) * self.gamma.expand(n, -1, -1, -1)
                + self.beta.expand(n, -1, -1, -1))


class ResnetBlock(nn.Module):
    def __init__(self, dim, use_bias=False):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, 1, 0, bias=use_bias), nn.InstanceNorm2d(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, 1, 0, bias=use_bias), nn.InstanceNorm2d(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class _NormBlock(nn.Module):
    """ResnetAdaILNBlock / ResnetSoftAdaLINBlock: pad, conv, norm(extra args), ReLU, pad, conv, norm, + x."""

    def __init__(self, dim, norm):
        super().__init__()
        self.pad1 = nn.ReflectionPad2d(1)
        self.conv1 = nn.Conv2d(dim, dim, 3, 1, 0, bias=False)
        self.norm1 = norm(dim)
        self.relu1 = nn.ReLU(True)
        self.pad2 = nn.ReflectionPad2d(1)
        self.conv2 = nn.Conv2d(dim, dim, 3, 1, 0, bias=False)
        self.norm2 = norm(dim)

    def forward(self, x, *args):
        out = self.relu1(self.norm1(self.conv1(self.pad1(x)), *args))
        return self.norm2(self.conv2(self.pad2(out)), *args) + x


def _cam(x, gap_fc, gmp_fc):
    """The CAM of the original forward(): logits of pooled features, features re-weighted by the fc weights
    (``list(fc.parameters())[0]``: weight_orig for spectral-norm layers)."""
    n = x.shape[0]
    gap_logit = gap_fc(F.adaptive_avg_pool2d(x, 1).view(n, -1))
    gap = x * list(gap_fc.parameters())[0].unsqueeze(2).unsqueeze(3)
    gmp_logit = gmp_fc(F.adaptive_max_pool2d(x, 1).view(n, -1))
    gmp = x * list(gmp_fc.parameters())[0].unsqueeze(2).unsqueeze(3)
    return torch.cat([gap, gmp], 1), torch.cat([gap_logit, gmp_logit], 1)


class UGATITGenerator(nn.Module):
    """UGATIT-pytorch ResnetGenerator (light only: the benchmark's version)."""

    def __init__(self, ngf=64, n_blocks=4, input_nc=3, output_nc=3):
        super().__init__()
        self.n_blocks = n_blocks
        down = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, 1, 0, bias=False), nn.InstanceNorm2d(ngf),
                nn.ReLU(True)]
        for i in range(2):
            m = 2 ** i
            down += [nn.ReflectionPad2d(1), nn.Conv2d(ngf * m, ngf * m * 2, 3, 2, 0, bias=False),
                     nn.InstanceNorm2d(ngf * m * 2), nn.ReLU(True)]
        dim = ngf * 4
        down += [ResnetBlock(dim) for _ in range(n_blocks)]
        self.gap_fc = nn.Linear(dim, 1, bias=False)
        self.gmp_fc = nn.Linear(dim, 1, bias=False)
        self.conv1x1 = nn.Conv2d(dim * 2, dim, 1, 1, bias=True)
        self.relu = nn.ReLU(True)
        fc = [nn.Linear(dim, dim, bias=False), nn.ReLU(True), nn.Linear(dim, dim, bias=False), nn.ReLU(True)]
        self.gamma = nn.Linear(dim, dim, bias=False)
        self.beta = nn.Linear(dim, dim, bias=False)
        for i in range(n_blocks):
            setattr(self, f"UpBlock1_{i + 1}", _NormBlock(dim, adaILN))
        up = []
        for i in range(2):
            m = 2 ** (2 - i)
            up += [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1),
                   nn.Conv2d(ngf * m, ngf * m // 2, 3, 1, 0, bias=False), ILN(ngf * m // 2), nn.ReLU(True)]
        up += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7, 1, 0, bias=False), nn.Tanh()]
        self.DownBlock = nn.Sequential(*down)
        self.FC = nn.Sequential(*fc)
        self.UpBlock2 = nn.Sequential(*up)

    def forward(self, x):
        x = self.DownBlock(x)
        x, cam_logit = _cam(x, self.gap_fc, self.gmp_fc)
        x = self.relu(self.conv1x1(x))
        heatmap = torch.sum(x, dim=1, keepdim=True)
        x_ = self.FC(F.adaptive_avg_pool2d(x, 1).view(x.shape[0], -1))
        gamma, beta = self.gamma(x_), self.beta(x_)
        for i in range(self.n_blocks):
            x = getattr(self, f"UpBlock1_{i + 1}")(x, gamma, beta)
        return self.UpBlock2(x), cam_logit, heatmap


class Discriminator(nn.Module):
    """UGATIT-pytorch (and photo2cartoon) Discriminator: spectral-norm convs, CAM, 1-channel logit map."""

    def __init__(self, input_nc=3, ndf=64, n_layers=5):
        super().__init__()
        model = [nn.ReflectionPad2d(1), SN(nn.Conv2d(input_nc, ndf, 4, 2, 0, bias=True)), nn.LeakyReLU(0.2, True)]
        for i in range(1, n_layers - 2):
            m = 2 ** (i - 1)
            model += [nn.ReflectionPad2d(1), SN(nn.Conv2d(ndf * m, ndf * m * 2, 4, 2, 0, bias=True)),
                      nn.LeakyReLU(0.2, True)]
        m = 2 ** (n_layers - 3)
        model += [nn.ReflectionPad2d(1), SN(nn.Conv2d(ndf * m, ndf * m * 2, 4, 1, 0, bias=True)),
                  nn.LeakyReLU(0.2, True)]
        m = 2 ** (n_layers - 2)
        self.gap_fc = SN(nn.Linear(ndf * m, 1, bias=False))
        self.gmp_fc = SN(nn.Linear(ndf * m, 1, bias=False))
        self.conv1x1 = nn.Conv2d(ndf * m * 2, ndf * m, 1, 1, bias=True)
        self.leaky_relu = nn.LeakyReLU(0.2, True)
        self.pad = nn.ReflectionPad2d(1)
        self.conv = SN(nn.Conv2d(ndf * m, 1, 4, 1, 0, bias=False))
        self.model = nn.Sequential(*model)

    def forward(self, x):
        x, cam_logit = _cam(self.model(x), self.gap_fc, self.gmp_fc)
        x = self.leaky_relu(self.conv1x1(x))
        heatmap = torch.sum(x, dim=1, keepdim=True)
        return self.conv(self.pad(x)), cam_logit, heatmap


# ---------------------------------------------------------------- photo2cartoon models/networks.py

class ConvBlock(nn.Module):
    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.dim_out = dim_out

        def stage(cin, cout):
            return nn.Sequential(nn.InstanceNorm2d(cin), nn.ReLU(True), nn.ReflectionPad2d(1),
                                 nn.Conv2d(cin, cout, 3, 1, bias=False))
        self.ConvBlock1 = stage(dim_in, dim_out // 2)
        self.ConvBlock2 = stage(dim_out // 2, dim_out // 4)
        self.ConvBlock3 = stage(dim_out // 4, dim_out // 4)
        self.ConvBlock4 = nn.Sequential(nn.InstanceNorm2d(dim_in), nn.ReLU(True),
                                        nn.Conv2d(dim_in, dim_out, 1, 1, bias=False))

    def forward(self, x):
        residual = x
        x1 = self.ConvBlock1(x)
        x2 = self.ConvBlock2(x1)
        x3 = self.ConvBlock3(x2)
        out = torch.cat((x1, x2, x3), 1)
        if residual.size(1) != self.dim_out:
            residual = self.ConvBlock4(residual)
        return residual + out


class HourGlassBlock(nn.Module):
    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.ConvBlock1_1 = ConvBlock(dim_in, dim_out)
        for name in ("1_2", "2_1", "2_2", "3_1", "3_2", "4_1", "4_2", "5", "6", "7", "8", "9"):
            setattr(self, "ConvBlock" + name, ConvBlock(dim_out, dim_out))

    def forward(self, x):
        skip1 = self.ConvBlock1_1(x)
        down1 = self.ConvBlock1_2(F.avg_pool2d(x, 2))
        skip2 = self.ConvBlock2_1(down1)
        down2 = self.ConvBlock2_2(F.avg_pool2d(down1, 2))
        skip3 = self.ConvBlock3_1(down2)
        down3 = self.ConvBlock3_2(F.avg_pool2d(down2, 2))
        skip4 = self.ConvBlock4_1(down3)
        down4 = self.ConvBlock4_2(F.avg_pool2d(down3, 2))
        center = self.ConvBlock5(down4)
        up4 = skip4 + F.interpolate(self.ConvBlock6(center), scale_factor=2)  # F.upsample: nearest
        up3 = skip3 + F.interpolate(self.ConvBlock7(up4), scale_factor=2)
        up2 = skip2 + F.interpolate(self.ConvBlock8(up3), scale_factor=2)
        return skip1 + F.interpolate(self.ConvBlock9(up2), scale_factor=2)


class HourGlass(nn.Module):
    def __init__(self, dim_in, dim_out, use_res=True):
        super().__init__()
        self.use_res = use_res
        self.HG = nn.Sequential(HourGlassBlock(dim_in, dim_out), ConvBlock(dim_out, dim_out),
                                nn.Conv2d(dim_out, dim_out, 1, 1, bias=False), nn.InstanceNorm2d(dim_out),
                                nn.ReLU(True))
        self.Conv1 = nn.Conv2d(dim_out, 3, 1, 1)
        if use_res:
            self.Conv2 = nn.Conv2d(dim_out, dim_out, 1, 1)
            self.Conv3 = nn.Conv2d(3, dim_out, 1, 1)

    def forward(self, x):
        ll = self.HG(x)
        tmp_out = self.Conv1(ll)
        if self.use_res:
            return x + self.Conv2(ll) + self.Conv3(tmp_out)
        return tmp_out


class SoftAdaLIN(nn.Module):
    def __init__(self, num_features, eps=1e-5):
        super().__init__()
        self.norm = adaILN(num_features, eps)  # the original's adaLIN: the same computation
        self.w_gamma = Parameter(torch.zeros(1, num_features))
        self.w_beta = Parameter(torch.zeros(1, num_features))
        self.c_gamma = nn.Sequential(nn.Linear(num_features, num_features), nn.ReLU(True),
                                     nn.Linear(num_features, num_features))
        self.c_beta = nn.Sequential(nn.Linear(num_features, num_features), nn.ReLU(True),
                                    nn.Linear(num_features, num_features))
        self.s_gamma = nn.Linear(num_features, num_features)
        self.s_beta = nn.Linear(num_features, num_features)

    def forward(self, x, content_features, style_features):
        content_gamma, content_beta = self.c_gamma(content_features), self.c_beta(content_features)
        style_gamma, style_beta = self.s_gamma(style_features), self.s_beta(style_features)
        w_gamma, w_beta = self.w_gamma.expand(x.shape[0], -1), self.w_beta.expand(x.shape[0], -1)
        soft_gamma = (1. - w_gamma) * style_gamma + w_gamma * content_gamma
        soft_beta = (1. - w_beta) * style_beta + w_beta * content_beta
        return self.norm(x, soft_gamma, soft_beta)


class Photo2CartoonGenerator(nn.Module):
    """photo2cartoon ResnetGenerator, light (the original's training default)."""

    def __init__(self, ngf=32):
        super().__init__()
        self.ConvBlock1 = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7, 1, 0, bias=False),
                                        nn.InstanceNorm2d(ngf), nn.ReLU(True))
        self.HourGlass1 = HourGlass(ngf, ngf)
        self.HourGlass2 = HourGlass(ngf, ngf)
        self.DownBlock1 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(ngf, ngf * 2, 3, 2, 0, bias=False),
                                        nn.InstanceNorm2d(ngf * 2), nn.ReLU(True))
        self.DownBlock2 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(ngf * 2, ngf * 4, 3, 2, 0, bias=False),
                                        nn.InstanceNorm2d(ngf * 4), nn.ReLU(True))
        dim = ngf * 4
        for i in range(1, 5):
            setattr(self, f"EncodeBlock{i}", ResnetBlock(dim))
        self.gap_fc = nn.Linear(dim, 1)
        self.gmp_fc = nn.Linear(dim, 1)
        self.conv1x1 = nn.Conv2d(dim * 2, dim, 1, 1)
        self.relu = nn.ReLU(True)
        self.FC = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(True), nn.Linear(dim, dim), nn.ReLU(True))
        for i in range(1, 5):
            setattr(self, f"DecodeBlock{i}", _NormBlock(dim, SoftAdaLIN))
        self.UpBlock1 = nn.Sequential(nn.Upsample(scale_factor=2), nn.ReflectionPad2d(1),
                                      nn.Conv2d(dim, ngf * 2, 3, 1, 0, bias=False), ILN(ngf * 2), nn.ReLU(True))
        self.UpBlock2 = nn.Sequential(nn.Upsample(scale_factor=2), nn.ReflectionPad2d(1),
                                      nn.Conv2d(ngf * 2, ngf, 3, 1, 0, bias=False), ILN(ngf), nn.ReLU(True))
        self.HourGlass3 = HourGlass(ngf, ngf)
        self.HourGlass4 = HourGlass(ngf, ngf, False)
        self.ConvBlock2 = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(3, 3, 7, 1, 0, bias=False), nn.Tanh())

    def forward(self, x):
        x = self.HourGlass2(self.HourGlass1(self.ConvBlock1(x)))
        x = self.DownBlock2(self.DownBlock1(x))
        content = []
        for i in range(1, 5):
            x = getattr(self, f"EncodeBlock{i}")(x)
            content.append(F.adaptive_avg_pool2d(x, 1).view(x.shape[0], -1))
        x, cam_logit = _cam(x, self.gap_fc, self.gmp_fc)
        x = self.relu(self.conv1x1(x))
        heatmap = torch.sum(x, dim=1, keepdim=True)
        style = self.FC(F.adaptive_avg_pool2d(x, 1).view(x.shape[0], -1))
        for i in range(1, 5):
            x = getattr(self, f"DecodeBlock{i}")(x, content[4 - i], style)
        x = self.HourGlass4(self.HourGlass3(self.UpBlock2(self.UpBlock1(x))))
        return self.ConvBlock2(x), cam_logit, heatmap


# ---------------------------------------------------------------- photo2cartoon models/mobilefacenet.py

class ConvBn(nn.Module):
    """Conv_block (with PReLU) / Linear_block (without)."""

    def __init__(self, in_c, out_c, kernel=1, stride=1, padding=0, groups=1, prelu=True):
        super().__init__()
        self.conv = nn.Conv2d(in_c, out_c, kernel, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_c)
        self.prelu = nn.PReLU(out_c) if prelu else None

    def forward(self, x):
        x = self.bn(self.conv(x))
        return self.prelu(x) if self.prelu is not None else x


class DepthWise(nn.Module):
    def __init__(self, in_c, out_c, residual=False, stride=2, groups=1):
        super().__init__()
        self.conv = ConvBn(in_c, groups)
        self.conv_dw = ConvBn(groups, groups, 3, stride, 1, groups=groups)
        self.project = ConvBn(groups, out_c, prelu=False)
        self.residual = residual

    def forward(self, x):
        out = self.project(self.conv_dw(self.conv(x)))
        return x + out if self.residual else out


def _residual(c, num_block, groups):
    return nn.Sequential(*[DepthWise(c, c, True, 1, groups) for _ in range(num_block)])


class MobileFaceNet(nn.Module):
    def __init__(self, embedding_size=512):
        super().__init__()
        self.conv1 = ConvBn(3, 64, 3, 2, 1)
        self.conv2_dw = ConvBn(64, 64, 3, 1, 1, groups=64)
        self.conv_23 = DepthWise(64, 64, stride=2, groups=128)
        self.conv_3 = _residual(64, 4, 128)
        self.conv_34 = DepthWise(64, 128, stride=2, groups=256)
        self.conv_4 = _residual(128, 6, 256)
        self.conv_45 = DepthWise(128, 128, stride=2, groups=512)
        self.conv_5 = _residual(128, 2, 256)
        self.conv_6_sep = ConvBn(128, 512)
        self.conv_6_dw = ConvBn(512, 512, 7, 1, 0, groups=512, prelu=False)
        self.linear = nn.Linear(512, embedding_size, bias=False)
        self.bn = nn.BatchNorm1d(embedding_size)

    def forward(self, x):
        for name in ("conv1", "conv2_dw", "conv_23", "conv_3", "conv_34", "conv_4", "conv_45", "conv_5",
                     "conv_6_sep", "conv_6_dw"):
            x = getattr(self, name)(x)
        out = self.bn(self.linear(x.view(x.shape[0], -1)))
        return out / torch.norm(out, 2, 1, True)


def face_cosine_distance(model, a, b):
    """models/face_features.py FaceFeatures.cosine_distance."""
    def infer(t):
        h, w = t.shape[2:]
        top = int(h / 2.1 * (0.8 - 0.33))
        bottom = int(h - (h / 2.1 * 0.3))
        size = bottom - top
        left = int(w / 2 - size / 2)
        t = t[:, :, top:bottom, left:left + size]
        return model(F.interpolate(t, size=[112, 112], mode="bilinear", align_corners=True))
    return 1 - torch.cosine_similarity(infer(a), infer(b))


# ---------------------------------------------------------------- nets and the training step

def build_nets(family, gen, dis):
    """genA2B, genB2A, disGA, disGB, disLA, disLB (+ facenet for photo2cartoon), PyTorch's default init."""
    make_g = ((lambda: UGATITGenerator(gen["ngf"], gen.get("n_blocks", 4))) if family == "ugatit"
              else (lambda: Photo2CartoonGenerator(gen["ngf"])))
    nets = {"genA2B": make_g(), "genB2A": make_g(),
            "disGA": Discriminator(3, dis["ndf"], dis.get("n_layers", 7)),
            "disGB": Discriminator(3, dis["ndf"], dis.get("n_layers", 7)),
            "disLA": Discriminator(3, dis["ndf"], 5), "disLB": Discriminator(3, dis["ndf"], 5)}
    return nets


class UGATITStep:
    """UGATIT.train() / UgatitSadalinHourglass.train(): D step, G step, clippers (one iteration)."""

    def __init__(self, family, nets, real_A, real_B):
        self.family, self.nets, self.real_A, self.real_B = family, nets, real_A, real_B
        self.adv_weight, self.cycle_weight, self.identity_weight, self.cam_weight = (
            1.0, 10.0 if family == "ugatit" else 50.0, 10.0, 1000.0)
        self.facenet = None
        if family == "photo2cartoon":
            self.facenet = MobileFaceNet(512).eval()  # FaceFeatures: eval mode, parameters not frozen
            self.faceid_weight = 1.0
        g = itertools.chain(nets["genA2B"].parameters(), nets["genB2A"].parameters())
        d = itertools.chain(*(nets[k].parameters() for k in ("disGA", "disGB", "disLA", "disLB")))
        self.G_optim = torch.optim.Adam(g, lr=1e-4, betas=(0.5, 0.999), weight_decay=1e-4)
        self.D_optim = torch.optim.Adam(d, lr=1e-4, betas=(0.5, 0.999), weight_decay=1e-4)
        self.mse, self.l1, self.bce = nn.MSELoss(), nn.L1Loss(), nn.BCEWithLogitsLoss()

    def _adv(self, out, target):
        logit, cam, _ = out
        return (self.mse(logit, torch.full_like(logit, target)), self.mse(cam, torch.full_like(cam, target)))

    def __call__(self):
        n, A, B = self.nets, self.real_A, self.real_B
        self.D_optim.zero_grad()
        fake_A2B, _, _ = n["genA2B"](A)
        fake_B2A, _, _ = n["genB2A"](B)
        real = {k: n[k](x) for k, x in (("disGA", A), ("disLA", A), ("disGB", B), ("disLB", B))}
        fake = {k: n[k](x) for k, x in (("disGA", fake_B2A), ("disLA", fake_B2A), ("disGB", fake_A2B),
                                        ("disLB", fake_A2B))}

        def d_loss(domain):
            total = 0
            for k in (f"disG{domain}", f"disL{domain}"):
                (r, rc), (f, fc) = self._adv(real[k], 1.0), self._adv(fake[k], 0.0)
                total = total + (r + f) + (rc + fc)
            return self.adv_weight * total
        d_total = d_loss("A") + d_loss("B")
        d_total.backward()
        self.D_optim.step()

        self.G_optim.zero_grad()
        fake_A2B, fake_A2B_cam, _ = n["genA2B"](A)
        fake_B2A, fake_B2A_cam, _ = n["genB2A"](B)
        fake_A2B2A, _, _ = n["genB2A"](fake_A2B)
        fake_B2A2B, _, _ = n["genA2B"](fake_B2A)
        fake_A2A, fake_A2A_cam, _ = n["genB2A"](A)
        fake_B2B, fake_B2B_cam, _ = n["genA2B"](B)
        adv = {k: self._adv(n[k](x), 1.0) for k, x in (("disGA", fake_B2A), ("disLA", fake_B2A),
                                                         ("disGB", fake_A2B), ("disLB", fake_A2B))}

        def g_loss(domain, rec, real, idt, cam_fake, cam_idt, fake_other):
            ad = sum(a + c for a, c in (adv[f"disG{domain}"], adv[f"disL{domain}"]))
            cam = (self.bce(cam_fake, torch.ones_like(cam_fake)) + self.bce(cam_idt, torch.zeros_like(cam_idt)))
            loss = (self.adv_weight * ad + self.cycle_weight * self.l1(rec, real)
                    + self.identity_weight * self.l1(idt, real) + self.cam_weight * cam)
            if self.facenet is not None:
                loss = loss + self.faceid_weight * face_cosine_distance(self.facenet, real, fake_other).mean()
            return loss
        g_total = (g_loss("A", fake_A2B2A, A, fake_A2A, fake_B2A_cam, fake_A2A_cam, fake_A2B)
                   + g_loss("B", fake_B2A2B, B, fake_B2B, fake_A2B_cam, fake_B2B_cam, fake_B2A))
        g_total.backward()
        self.G_optim.step()
        with torch.no_grad():  # RhoClipper(0, 1) (and photo2cartoon's WClipper(0, 1)) on both generators
            for g in (n["genA2B"], n["genB2A"]):
                for name, p in g.named_parameters():
                    if name.endswith(("rho", "w_gamma", "w_beta")):
                        p.clamp_(0, 1)
        return {"D": d_total.item(), "G": g_total.item()}
