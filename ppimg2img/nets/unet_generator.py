"""U-Net generator of pix2pix (Isola et al., CVPR 2017, sec. 3.2.1 and appendix 6.1.1).

Mirrors ``UnetGenerator``/``UnetSkipConnectionBlock`` of junyanz/pytorch-CycleGAN-and-pix2pix
layer for layer, so state_dict keys equal the PyTorch ones: each block is ``model`` (a
Sequential) whose submodule sits at index 1 (outermost) or 3 (others), giving nested keys
'model.model.0.weight', 'model.model.1.model.1.weight', 'model.model.1.model.3.model.1.weight', ...

Block layout (k4 s2 p1 convolutions everywhere)::

    outermost: [downconv, submodule, ReLU, upconv(bias), Tanh]
    middle:    [LeakyReLU(0.2), downconv, norm, submodule, ReLU, upconv, norm, (Dropout 0.5)]
    innermost: [LeakyReLU(0.2), downconv, ReLU, upconv, norm]

Non-outermost blocks return ``concat([LeakyReLU(x), block(x)])`` (the skip connection): the
original's LeakyReLU is in-place, so it also changes ``x``. PaddleGAN's ``UnetSkipConnectionBlock``
(ppgan/models/generators/unet.py) has a non-in-place ``nn.LeakyReLU(0.2)``, so its skip carries
``x`` itself. The two give bit-identical outputs and gradients: every skip is consumed by the
parent block's up path, which starts with ReLU, and ReLU(LeakyReLU(x)) = ReLU(x)
(tests/test_paddlegan_weights.py checks it). One U-Net therefore serves both publishers' files.

What does differ is BatchNorm at test time. ``eval_stats`` says what it normalises with in eval
mode: ``'running'`` (the original's ``test.py --eval``, and ppimg2img's default) or ``'batch'``:
the batch's own statistics, as PaddleGAN's BatchNorm (``trainable_statistics=True``,
ppgan/modules/norm.py) does at test time; PaddleGAN's pix2pix files need it (``load_generator``
picks it for them). See :func:`set_eval_stats`.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .norm import get_norm_layer, uses_bias

EVAL_STATS = ("running", "batch")


class _EvalBatchStats:
    """Mixed in front of a BatchNorm class by :func:`set_eval_stats`: in eval mode the layer
    normalises with the statistics of the batch it is given (biased variance, as training does)
    and leaves its running statistics untouched; in training mode it is the BatchNorm it was."""

    def forward(self, x):
        if self.training:
            return super().forward(x)
        axes = [0] + list(range(2, len(x.shape)))  # NCHW: every axis but the channels
        centred = x - _mean(x, axes)
        var = _mean(centred * centred, axes)  # two passes: no cancellation
        shape = [1, -1] + [1] * (len(x.shape) - 2)
        out = centred / paddle.sqrt(var + self._epsilon)
        if self.weight is not None:
            out = out * self.weight.reshape(shape)
        if self.bias is not None:
            out = out + self.bias.reshape(shape)
        return out


def _mean(x, axes):
    # one axis at a time: each float32 sum runs over one side, not a whole plane
    for axis in sorted(axes, reverse=True):
        x = x.mean(axis=axis, keepdim=True)
    return x


_BATCH_STATS_CLASSES = {}


def _batch_stats_class(base):
    if base not in _BATCH_STATS_CLASSES:
        _BATCH_STATS_CLASSES[base] = type(f"EvalBatchStats{base.__name__}", (_EvalBatchStats, base), {})
    return _BATCH_STATS_CLASSES[base]


def _batch_norms(net):
    return [layer for layer in net.sublayers(include_self=True)
            if isinstance(layer, nn.layer.norm._BatchNormBase)]


def set_eval_stats(net, mode):
    """Choose what every BatchNorm layer of ``net`` normalises with in eval mode:
    ``'running'`` (its running mean/variance, Paddle's and PyTorch's eval default) or ``'batch'``
    (the current batch's mean/variance, as PaddleGAN's BatchNorm with ``trainable_statistics=True``;
    unlike Paddle's ``use_global_stats=False``, which also updates the running statistics on every
    eval call, the running statistics are left as they are). Training mode is not affected.
    Works on any network (the discriminators too); returns ``net``."""
    if mode not in EVAL_STATS:
        raise ValueError(f"eval_stats must be one of {', '.join(map(repr, EVAL_STATS))}, got {mode!r}")
    for layer in _batch_norms(net):
        cls = type(layer)
        base = cls.__mro__[2] if issubclass(cls, _EvalBatchStats) else cls  # the BatchNorm class it was
        layer.__class__ = _batch_stats_class(base) if mode == "batch" else base
    if hasattr(net, "eval_stats"):
        net.eval_stats = mode
    return net


def eval_stats_of(net):
    """``'batch'`` if the BatchNorm layers of ``net`` use batch statistics in eval mode, else
    ``'running'`` (also for nets without BatchNorm)."""
    norms = _batch_norms(net)
    return "batch" if norms and all(isinstance(n, _EvalBatchStats) for n in norms) else "running"


class UnetSkipConnectionBlock(nn.Layer):
    """One U-Net level: downsample, ``submodule``, upsample, then the skip concatenation."""

    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False,
                 innermost=False, norm="batch", use_dropout=False):
        super().__init__()
        self.outermost = outermost
        norm_layer = get_norm_layer(norm)
        bias_attr = None if uses_bias(norm) else False  # original: use_bias = norm is InstanceNorm
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2D(input_nc, inner_nc, 4, stride=2, padding=1, bias_attr=bias_attr)
        if outermost:
            upconv = nn.Conv2DTranspose(inner_nc * 2, outer_nc, 4, stride=2, padding=1)
            layers = [downconv, submodule, nn.ReLU(), upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.Conv2DTranspose(inner_nc, outer_nc, 4, stride=2, padding=1, bias_attr=bias_attr)
            layers = [nn.LeakyReLU(0.2), downconv, nn.ReLU(), upconv, norm_layer(outer_nc)]
        else:
            upconv = nn.Conv2DTranspose(inner_nc * 2, outer_nc, 4, stride=2, padding=1, bias_attr=bias_attr)
            layers = [nn.LeakyReLU(0.2), downconv, norm_layer(inner_nc), submodule,
                      nn.ReLU(), upconv, norm_layer(outer_nc)]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        # the original's in-place LeakyReLU also changes x, so the skip holds LeakyReLU(x)
        # (PaddleGAN's holds x: the same result, the parent's up path starts with ReLU)
        return paddle.concat([F.leaky_relu(x, 0.2), self.model(x)], axis=1)


class UnetGenerator(nn.Layer):
    """U-Net with ``num_downs`` downsamplings (an image of 2**num_downs pixels becomes 1x1).

    Upstream ``define_G`` for pix2pix: ngf 64, norm 'batch', dropout on (``not --no_dropout``).
    Dropout 0.5 sits in the ``num_downs - 5`` ngf*8 blocks around the innermost one (paper:
    "dropout ... in the first 3 layers of the decoder" for unet_256).

    ``eval_stats``: ``'running'`` or ``'batch'``, what BatchNorm normalises with in eval mode
    (PaddleGAN's pix2pix: ``'batch'``). See the module docstring.
    """

    def __init__(self, input_nc=3, output_nc=3, num_downs=8, ngf=64, norm="batch", use_dropout=False,
                 eval_stats="running"):
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"num_downs must be >= 5 (the U-Net has 4 fixed outer levels), got {num_downs}")
        kw = {"norm": norm}
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True, **kw)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, use_dropout=use_dropout, **kw)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, **kw)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, **kw)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, **kw)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block,
                                             outermost=True, **kw)
        self.num_downs = num_downs
        self.eval_stats = "running"
        set_eval_stats(self, eval_stats)

    def forward(self, x):
        side = 2 ** self.num_downs
        # checked in eager mode only: an exported graph's sides are symbolic
        if paddle.in_dynamic_mode() and (x.shape[2] % side or x.shape[3] % side):
            raise ValueError(f"U-Net with {self.num_downs} downsamplings needs image sides that are multiples "
                             f"of {side}, got {x.shape[2]}x{x.shape[3]}: resize/crop the images (for example "
                             f"crop_size {side}) or pick another generator")
        return self.model(x)
