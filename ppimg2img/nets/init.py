"""Weight initialisation, as ``init_weights`` in the original networks.py.

Upstream default: 'normal' with gain 0.02 (pix2pix/CycleGAN papers: weights ~ N(0, 0.02)).
"""
import paddle.nn as nn
from paddle.nn import initializer as I

INIT_TYPES = ("normal", "xavier", "kaiming", "orthogonal")


def _weight_initializer(init_type, init_gain):
    if init_type == "normal":
        return I.Normal(mean=0.0, std=init_gain)
    if init_type == "xavier":
        return I.XavierNormal(gain=init_gain)
    if init_type == "kaiming":
        return I.KaimingNormal(negative_slope=0.0, mode="fan_in")  # a=0, fan_in, like upstream
    if init_type == "orthogonal":
        return I.Orthogonal(gain=init_gain)
    raise ValueError(f"unknown init_type {init_type!r}; valid: {', '.join(INIT_TYPES)}")


def init_weights(net, init_type="normal", init_gain=0.02):
    """Initialise Conv*/Linear weights by ``init_type``, their biases to 0, and BatchNorm
    weights ~ N(1, init_gain) with bias 0 (InstanceNorm without affine has nothing to set).
    Returns ``net``.
    """
    weight_init = _weight_initializer(init_type, init_gain)
    zeros = I.Constant(0.0)
    for layer in net.sublayers(include_self=True):
        if isinstance(layer, (nn.layer.conv._ConvNd, nn.Linear)):
            weight_init(layer.weight)
            if getattr(layer, "bias", None) is not None:
                zeros(layer.bias)
        elif isinstance(layer, nn.BatchNorm2D):  # upstream matches class name 'BatchNorm2d'
            I.Normal(mean=1.0, std=init_gain)(layer.weight)
            zeros(layer.bias)
    return net
