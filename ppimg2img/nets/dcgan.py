"""DCGAN generator and discriminator (Radford et al., ICLR 2016, sec. 3 and fig. 1), with the
conditional inputs of Mirza & Osindero (2014) and the critic variants of WGAN / WGAN-GP.

At ``image_size`` 64 the layers are those of the paper's 64x64 architecture as written in the
PyTorch DCGAN example (pytorch/examples ``dcgan/main.py``), with the same ``main.N`` keys:

G: z [nz, 1, 1] -> ConvT(nz, 8ngf, 4, 1, 0) -> 4x4 -> ConvT(., 4ngf, 4, 2, 1) -> 8x8 -> ... ->
   ConvT(ngf, nc, 4, 2, 1) -> 64x64, Tanh; BatchNorm + ReLU after every ConvT but the last;
   no biases (BatchNorm follows). nz 100, ngf 64, nc 3: 3,576,704 parameters.
D: Conv(nc, ndf, 4, 2, 1) + LeakyReLU 0.2 (no norm on the first layer) -> 32 -> ... -> 4x4 ->
   Conv(8ndf, 1, 4, 1, 0): one logit. The sigmoid of the paper's D is in the loss
   (``GANLoss('vanilla')`` is BCE with logits), so the same net is a WGAN critic.

Other sizes keep the pattern with fewer or more stride-2 layers: 32 and 128 start from 4x4
(32: ConvT(nz, 4ngf) -> 4 -> 8 -> 16 -> 32); 28 (MNIST) starts from 7x7 (ConvT(nz, 2ngf, 7) ->
7 -> 14 -> 28), the usual MNIST variant. The widths double towards the 4x4 (7x7) end.

Conditioning (``n_classes > 0``): G takes the one-hot label concatenated with z (cGAN eq. 2);
D takes either label maps (one-hot planes, ``cond_mode='concat'``, Mirza & Osindero / PaddleGAN's
cond_dcgan) concatenated with the image, or a projection term <embed(y), h> added to its logit
(``cond_mode='projection'``, Miyato & Koyama 2018).
"""
import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .norm import get_norm_layer

DISCRIMINATOR_NORMS = ("batch", "layer", "none")
COND_MODES = ("concat", "projection")


def _plan(image_size):
    """(start side, number of stride-2 layers) for an image side: 4 * 2**k, or 7 * 2**k."""
    for base in (4, 7):
        k = math.log2(image_size / base) if image_size >= base else -1
        if k >= 1 and k == int(k):
            return base, int(k)
    raise ValueError(f"image_size {image_size} is not supported: use 4 * 2**k (32, 64, 128) or "
                     f"7 * 2**k (28)")


def one_hot_maps(labels, n_classes, size):
    """[N] int labels -> [N, n_classes, size, size] one-hot planes (float32)."""
    onehot = F.one_hot(labels.astype("int64").reshape([-1]), n_classes)
    return onehot.reshape([-1, n_classes, 1, 1]).expand([-1, n_classes, size, size])


class DCGANGenerator(nn.Layer):
    """z (and label) -> image in [-1, 1]. ``forward(z, labels=None)``: z is [N, nz] or
    [N, nz, 1, 1]; ``labels`` [N] ints when ``n_classes > 0``.

    Args:
        nz: length of the noise vector z (the paper's 100).
        ngf: filters of the last transposed convolution; they double towards the 4x4 (7x7) end.
        output_nc: channels of the generated images (1 grey, 3 RGB).
        image_size: side of the generated images: 4 * 2**k (32, 64, 128) or 7 * 2**k (28).
        n_classes: > 0 makes G and D conditional on a class label 0..n_classes-1 (one-hot with z).
    """

    def __init__(self, nz=100, ngf=64, output_nc=3, image_size=64, n_classes=0):
        super().__init__()
        self.nz, self.n_classes, self.image_size, self.output_nc = nz, n_classes, image_size, output_nc
        base, n_up = _plan(image_size)
        width = ngf * 2 ** (n_up - 1)
        layers = [nn.Conv2DTranspose(nz + n_classes, width, base, 1, 0, bias_attr=False),
                  get_norm_layer("batch")(width), nn.ReLU()]
        for _ in range(n_up - 1):
            layers += [nn.Conv2DTranspose(width, width // 2, 4, 2, 1, bias_attr=False),
                       get_norm_layer("batch")(width // 2), nn.ReLU()]
            width //= 2
        layers += [nn.Conv2DTranspose(width, output_nc, 4, 2, 1, bias_attr=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z, labels=None):
        z = z.reshape([z.shape[0], self.nz, 1, 1])
        if self.n_classes:
            if labels is None:
                raise ValueError("this generator is conditional (n_classes > 0): pass labels")
            z = paddle.concat([z, one_hot_maps(labels, self.n_classes, 1).astype(z.dtype)], axis=1)
        return self.main(z)


class LayerNorm2D(nn.Layer):
    """Layer normalisation over (C, H, W) of each sample with a per-channel scale and shift, as
    ``nn.GroupNorm(1, C)`` (WGAN-GP's critic norm, Gulrajani et al. sec. 4). Written with plain
    ops because the gradient penalty differentiates the critic twice, and Paddle's group_norm
    has no second derivative."""

    def __init__(self, channels, epsilon=1e-5):
        super().__init__()
        self.epsilon = epsilon
        self.weight = self.create_parameter([channels], default_initializer=nn.initializer.Constant(1.0))
        self.bias = self.create_parameter([channels], is_bias=True)

    def forward(self, x):
        centred = x - x.mean(axis=[1, 2, 3], keepdim=True)
        y = centred / paddle.sqrt((centred * centred).mean(axis=[1, 2, 3], keepdim=True) + self.epsilon)
        return y * self.weight.reshape([1, -1, 1, 1]) + self.bias.reshape([1, -1, 1, 1])


def _norm(kind, channels):
    if kind == "batch":  # PyTorch's BatchNorm2d numerics (momentum 0.1, eps 1e-5), as the other nets
        return get_norm_layer("batch")(channels)
    if kind == "layer":
        return LayerNorm2D(channels)
    return nn.Identity()


class DCGANDiscriminator(nn.Layer):
    """Image (and label) -> one raw score per image, shape [N].

    ``norm``: 'batch' (DCGAN), 'layer' or 'none' (WGAN-GP: no BatchNorm in the critic, since the
    penalty is per sample). The first layer never has one (paper sec. 3).

    Args:
        input_nc: channels of the images (set from the generator by GANModel).
        ndf: filters of the first convolution; they double towards the 4x4 (7x7) end.
        image_size: side of the images (set from the generator by GANModel).
        norm: 'batch' (DCGAN), 'layer' or 'none' (WGAN-GP's critic: no BatchNorm).
        n_classes: classes of a conditional D (set from the generator by GANModel).
        cond_mode: how a conditional D sees the label: 'concat' (one-hot label maps with the image) or 'projection'.
    """

    #: valid values the config validator checks (``norm`` differs from the other nets')
    config_choices = {"norm": DISCRIMINATOR_NORMS, "cond_mode": COND_MODES}

    def __init__(self, input_nc=3, ndf=64, image_size=64, norm="batch", n_classes=0, cond_mode="concat"):
        super().__init__()
        if norm not in DISCRIMINATOR_NORMS:
            raise ValueError(f"unknown norm {norm!r} for the DCGAN discriminator; use one of {DISCRIMINATOR_NORMS}")
        if cond_mode not in COND_MODES:
            raise ValueError(f"unknown cond_mode {cond_mode!r}; use one of {COND_MODES}")
        self.n_classes, self.cond_mode, self.image_size = n_classes, cond_mode, image_size
        base, n_down = _plan(image_size)
        extra = n_classes if n_classes and cond_mode == "concat" else 0
        layers = [nn.Conv2D(input_nc + extra, ndf, 4, 2, 1, bias_attr=False), nn.LeakyReLU(0.2)]
        width = ndf
        for _ in range(n_down - 1):
            layers += [nn.Conv2D(width, width * 2, 4, 2, 1, bias_attr=False), _norm(norm, width * 2),
                       nn.LeakyReLU(0.2)]
            width *= 2
        self.main = nn.Sequential(*layers)
        self.head = nn.Conv2D(width, 1, base, 1, 0, bias_attr=False)
        if n_classes and cond_mode == "projection":
            self.embed = nn.Embedding(n_classes, width * base * base)

    def _first_conv_with_label_maps(self, x, labels):
        """The first convolution of concat([x, label maps]), as conv(x, W_image) + conv(maps, W_label):
        the same numbers, without a concat in the graph (Paddle's concat has no working second
        derivative for WGAN-GP's penalty)."""
        conv, c = self.main[0], x.shape[1]
        maps = one_hot_maps(labels, self.n_classes, x.shape[2]).astype(x.dtype)
        return (F.conv2d(x, conv.weight[:, :c], stride=2, padding=1)
                + F.conv2d(maps, conv.weight[:, c:], stride=2, padding=1))

    def forward(self, x, labels=None):
        if self.n_classes and labels is None:
            raise ValueError("this discriminator is conditional (n_classes > 0): pass labels")
        if paddle.in_dynamic_mode() and list(x.shape[2:]) != [self.image_size] * 2:
            raise ValueError(f"the discriminator was built for {self.image_size}x{self.image_size} images, "
                             f"got {x.shape[2]}x{x.shape[3]}")
        if self.n_classes and self.cond_mode == "concat":
            h = self.main[1:](self._first_conv_with_label_maps(x, labels))
        else:
            h = self.main(x)
        out = self.head(h).reshape([-1])
        if self.n_classes and self.cond_mode == "projection":
            out = out + (self.embed(labels.astype("int64").reshape([-1])) * h.reshape([h.shape[0], -1])).sum(axis=1)
        return out
