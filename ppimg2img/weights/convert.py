"""Map state dicts written by the original PyTorch code and by PaddleGAN onto ppimg2img's nets.

ppimg2img's networks keep the original PyTorch parameter names, so most of the mapping is a
handful of generic rules, applied to every family:

| original (PyTorch)                 | ppimg2img (Paddle)                  | rule                          |
|------------------------------------|-------------------------------------|-------------------------------|
| ``X.running_mean`` / ``X.running_var`` | ``X._mean`` / ``X._variance``   | BatchNorm statistics renamed  |
| ``X.num_batches_tracked``          | (dropped)                           | Paddle has no such counter    |
| ``nn.Linear`` ``X.weight`` [out, in] | ``X.weight`` [in, out]            | transposed                    |
| spectral norm ``X.weight_orig/_u/_v`` | same names                       | Linear ``weight_orig`` transposed |
| ``module.X`` (DataParallel)        | ``X``                               | prefix dropped                |
| InstanceNorm(affine=False): no keys | no keys                            |                               |
| Conv / ConvTranspose ``weight``    | same layout                         | copied                        |

PaddleGAN files are already in Paddle's layout (Linear not transposed). Its InstanceNorm layers
(``build_norm_layer('instance')``, ppgan/modules/norm.py) carry frozen ``scale``/``bias`` of 1/0
(``trainable=False``), which are accepted (and checked) and dropped.

Family tables, for layouts whose *names* differ from the original (checked against files
written by PaddleGAN's own classes, tests/data/paddlegan/):

- CycleGAN ResnetGenerator, pix2pix UnetGenerator, U-GAT-IT generator and discriminators
  (original and PaddleGAN): names identical, generic rules only.
- PatchGAN ``NLayerDiscriminator``, PaddleGAN layout (ppgan/models/discriminators/nlayers.py): its
  first convolution has ``bias_attr=use_bias``, so with BatchNorm (pix2pix) ``model.0.bias`` is
  absent where the original always has one: filled with zeros (the same function).
- photo2cartoon, PaddleGAN layout (``ResnetUGATITP2CGenerator``) -> minivision's names:
  ``PADDLEGAN_PHOTO2CARTOON_RENAMES`` below. PaddleGAN's version builds the CAM classifiers
  ``gap_fc``/``gmp_fc`` and the MLP linears (``FC``, ``c_gamma``...) with ``bias_attr=False``,
  which equals a zero bias (the CAM re-weighting uses the weight only), and drops the HourGlass
  ``ConvBlock4`` 1x1 skip convolutions that the original creates but never uses when channels match.

What the names do not say (BatchNorm's statistics at test time: PaddleGAN's use the batch's own)
is chosen by ``load.py`` from the file's origin; docs/weights.md has the full comparison.
"""
import re

import numpy as np

from ..engine.checkpoint import CheckpointError

PADDLE_METADATA_KEYS = ("StructuredToParameterName@@",)

# PaddleGAN photo2cartoon name -> original minivision name (regex, replacement), applied in order.
PADDLEGAN_PHOTO2CARTOON_RENAMES = [
    (r"^DownBlock\.1\.", "ConvBlock1.1."),
    (r"^DownBlock\.4\.", "HourGlass1."),
    (r"^DownBlock\.5\.", "HourGlass2."),
    (r"^DownBlock\.7\.", "DownBlock1.1."),
    (r"^DownBlock\.11\.", "DownBlock2.1."),
    (r"^UpBlock\.([23])\.", r"UpBlock1.\1."),
    (r"^UpBlock\.7\.", "UpBlock2.2."),
    (r"^UpBlock\.8\.", "UpBlock2.3."),
    (r"^UpBlock\.10\.", "HourGlass3."),
    (r"^UpBlock\.11\.", "HourGlass4."),
    (r"^UpBlock\.13\.", "ConvBlock2.1."),
    (r"\.HG\.0\.ConvBlockskip(\d)\.", r".HG.0.ConvBlock\1_1."),
    (r"\.HG\.0\.ConvBlock([1-4])\.(conv_block|conv_skip)", r".HG.0.ConvBlock\1_2.\2"),
    (r"\.conv_block([123])\.", r".ConvBlock\1."),
    (r"\.conv_skip\.", ".ConvBlock4."),
]
# keys the PaddleGAN photo2cartoon layout may lack: (pattern, what to do)
PADDLEGAN_PHOTO2CARTOON_OPTIONAL = [
    (r"(^gap_fc|^gmp_fc|^FC\.\d+|\.c_gamma\.\d+|\.c_beta\.\d+|\.s_gamma|\.s_beta)\.bias$", "zeros"),
    (r"\.ConvBlock4\.2\.weight$", "keep"),  # unused by the original when channels match
]


# PaddleGAN's StyleGANv2 (ppgan/modules/equalized.py EqualLinear) stores linear weights [in, out];
# rosinality's (and ppimg2img's) are [out, in]. Square ones (the mapping network) cannot be told
# apart by shape, so the layout is chosen by the file's origin (load.py).
PADDLEGAN_STYLEGAN2_LINEARS = r"(^style\.\d+|\.modulation|^final_linear\.\d+)\.weight$"


def from_paddlegan_stylegan2(state):
    """A PaddleGAN StyleGANv2 generator/discriminator state dict in rosinality's layout (linear
    weights transposed; its missing blur-filter buffers are rebuilt by ppimg2img itself)."""
    return {k: (np.asarray(v).T if re.search(PADDLEGAN_STYLEGAN2_LINEARS, k) and np.ndim(v) == 2 else v)
            for k, v in state.items()}


class WeightsMismatchError(CheckpointError):
    """A checkpoint's keys or shapes do not fit the network."""


def _is_paddlegan_photo2cartoon(keys):
    return any(k.startswith("DownBlock.4.HG.") for k in keys)


def _rename(keys_to_values, renames):
    out = {}
    for key, value in keys_to_values.items():
        for pattern, repl in renames:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


def canonical_state(state, framework):
    """Generic renames: metadata, ``module.`` prefix, BatchNorm statistics, num_batches_tracked.
    Also maps the PaddleGAN photo2cartoon layout to the original's names. Returns (state, layout)."""
    state = {k: np.asarray(v) for k, v in state.items()
             if k not in PADDLE_METADATA_KEYS and not k.endswith("num_batches_tracked")}
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    layout = "original" if framework == "torch" else "paddle"
    if framework == "torch":
        state = {re.sub(r"\.running_mean$", "._mean", re.sub(r"\.running_var$", "._variance", k)): v
                 for k, v in state.items()}
    elif _is_paddlegan_photo2cartoon(state):
        state = _rename(state, PADDLEGAN_PHOTO2CARTOON_RENAMES)
        layout = "paddlegan-photo2cartoon"
    return state, layout


def _owner(sublayers, net, key):
    return sublayers.get(key.rsplit(".", 1)[0]) if "." in key else net


def _shape(a):
    return list(np.shape(a))


def convert_state_dict(state, net, framework, source="checkpoint"):
    """Return ``{name: array}`` for ``net.set_state_dict`` from a state dict of the original
    (``framework='torch'``) or a Paddle/PaddleGAN (``'paddle'``) layout. Raises
    ``WeightsMismatchError`` naming every missing, unexpected or mis-shaped key."""
    import paddle

    state, layout = canonical_state(state, framework)
    target = net.state_dict()
    sublayers = dict(net.named_sublayers())
    out, missing, mismatched = {}, [], []
    used = set()
    for key, param in target.items():
        expected = list(param.shape)
        if key not in state:
            fill = _optional_fill(key, layout, net)
            if fill == "zeros":
                out[key] = np.zeros(expected, dtype=np.float32)
            elif fill == "keep":
                out[key] = param.numpy()
            else:
                missing.append(f"{key} (expected shape {expected})")
            continue
        used.add(key)
        value = state[key]
        owner = _owner(sublayers, net, key)
        if (framework == "torch" and isinstance(owner, paddle.nn.Linear)
                and key.rsplit(".", 1)[-1] in ("weight", "weight_orig") and value.ndim == 2):
            value = value.T
        if _shape(value) != expected:
            mismatched.append(f"{key}: expected shape {expected}, found {_shape(value)}")
            continue
        out[key] = np.ascontiguousarray(value, dtype=_dtype_of(param))
    unexpected = []
    for key in state:
        if key in used:
            continue
        frozen = _instance_norm_param(sublayers, key, state[key]) if framework == "paddle" else None
        if frozen or _fixed_filter(sublayers, key, state[key]):
            continue
        note = (", trained InstanceNorm values, but ppimg2img's InstanceNorm has no affine parameters, "
                "like the original's" if frozen is False else "")
        unexpected.append(f"{key} (shape {_shape(state[key])}{note})")
    if missing or unexpected or mismatched:
        parts = []
        for title, items in (("missing from the file", missing), ("in the file but not in the network", unexpected),
                             ("with the wrong shape", mismatched)):
            if items:
                shown = "; ".join(items[:8]) + (f"; ... {len(items) - 8} more" if len(items) > 8 else "")
                parts.append(f"{len(items)} keys {title}: {shown}")
        raise WeightsMismatchError(
            f"{source}: the weights do not fit {type(net).__name__} ({layout} layout). " + ". ".join(parts)
            + ". Check the architecture options (arch, ngf, n_blocks, norm, light, img_size) or let "
              "load_generator infer them from the file by not passing them.")
    return out


def _optional_fill(key, layout, net=None):
    if key == "latent_avg" and type(net).__name__ == "StyleGAN2Generator":
        return "keep"  # StyleGAN2: the mean w is stored beside the weights, if at all (load.py reads it)
    if layout == "paddle" and key == "model.0.bias" and type(net).__name__ == "NLayerDiscriminator":
        return "zeros"  # PaddleGAN's NLayerDiscriminator: bias_attr=use_bias, False with BatchNorm
    if layout != "paddlegan-photo2cartoon":
        return None
    for pattern, action in PADDLEGAN_PHOTO2CARTOON_OPTIONAL:
        if re.search(pattern, key):
            return action
    return None


def _fixed_filter(sublayers, key, value):
    """StyleGAN2 files store the fixed [1, 3, 3, 1] resampling filters (``*.kernel`` buffers); ppimg2img
    builds them itself. True when ``key`` is such a filter holding the same values (dropped); a
    different filter is an error (the net would compute something else)."""
    prefix, _, leaf = key.rpartition(".")
    owner = sublayers.get(prefix)
    if leaf != "kernel" or owner is None or not hasattr(owner, "kernel"):
        return False
    own = owner.kernel.numpy()
    if np.shape(value) != own.shape or not np.allclose(value, own, atol=1e-6):
        raise WeightsMismatchError(f"{key}: the file's resampling filter {np.asarray(value).tolist()} is not the "
                                   f"[1, 3, 3, 1] blur ppimg2img's StyleGAN2 uses")
    return True


def _instance_norm_param(sublayers, key, value):
    """PaddleGAN's InstanceNorm has frozen ``scale``=1 / ``bias``=0 parameters; ppimg2img's (like
    the original's) has none. Returns None if ``key`` is not such a parameter, True if it holds
    the frozen values (safe to drop), False if it holds trained values."""
    import paddle

    prefix, _, leaf = key.rpartition(".")
    owner = sublayers.get(prefix)
    if not isinstance(owner, (paddle.nn.InstanceNorm2D, paddle.nn.InstanceNorm1D)) or leaf not in ("scale", "bias"):
        return None
    return bool(np.allclose(value, 1.0 if leaf == "scale" else 0.0))


def _dtype_of(param):
    return {"paddle.float32": np.float32, "paddle.float64": np.float64, "paddle.float16": np.float16,
            "paddle.int64": np.int64, "paddle.int32": np.int32}.get(str(param.dtype), np.float32)


def load_state_into(net, state, framework, source="checkpoint"):
    """Convert ``state`` for ``net`` and load it; returns ``net``."""
    import paddle

    converted = convert_state_dict(state, net, framework, source)
    net.set_state_dict({k: paddle.to_tensor(v) for k, v in converted.items()})
    return net
