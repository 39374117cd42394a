"""Normalisation layer factory, as ``get_norm_layer`` in the original models/networks.py."""
import paddle.nn as nn

NORM_TYPES = ("instance", "batch", "none")


def _instance_norm(num_features):
    # nn.InstanceNorm2d(affine=False, track_running_stats=False): no parameters, no running stats.
    return nn.InstanceNorm2D(num_features, epsilon=1e-5, weight_attr=False, bias_attr=False)


def _batch_norm(num_features):
    # nn.BatchNorm2d(affine=True, track_running_stats=True); PyTorch momentum 0.1 == Paddle 0.9.
    return nn.BatchNorm2D(num_features, momentum=0.9, epsilon=1e-5)


def _no_norm(num_features):
    return nn.Identity()


_FACTORIES = {"instance": _instance_norm, "batch": _batch_norm, "none": _no_norm}


def _check(norm):
    if norm not in _FACTORIES:
        raise ValueError(f"unknown norm {norm!r}; valid names are: {', '.join(NORM_TYPES)}")


def get_norm_layer(norm="instance"):
    """Return a callable ``f(num_features) -> paddle.nn.Layer`` for 'instance', 'batch' or 'none'."""
    _check(norm)
    return _FACTORIES[norm]


def uses_bias(norm):
    """Whether convolutions before this norm carry a bias.

    The original sets ``use_bias = norm_layer is InstanceNorm2d``: True only for 'instance'
    (so 'batch' and also 'none' give bias-free convolutions, exactly as upstream).
    """
    _check(norm)
    return norm == "instance"
