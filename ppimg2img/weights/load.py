"""``load_generator``: one call from a weights file or a model-zoo name to a ready generator."""
import math
import os
import re

import numpy as np

from ..engine.checkpoint import CheckpointError
from .convert import WeightsMismatchError, canonical_state, from_paddlegan_stylegan2, load_state_into
from .reader import read_checkpoint

TORCH_SUFFIXES = (".pth", ".pt", ".pkl", ".bin", ".tar")
CONVERTED_FORMAT = "ppimg2img-weights"
# Which net a multi-net file gives by default: the A->B generator, in each project's naming.
DEFAULT_NET_KEYS = ("g_ema", "netG_ema", "netG_A", "genA2B", "netG", "G_A", "netG_A2B", "generator", "G", "state_dict",
                    "model", "params")
ARCHS = ("resnet_9blocks", "resnet_6blocks", "unet_256", "unet_128", "ugatit", "photo2cartoon", "stylegan2")


def _is_state_dict(obj):
    return (isinstance(obj, dict) and obj
            and all(isinstance(v, np.ndarray) or k == "StructuredToParameterName@@" for k, v in obj.items()))


def _is_training_checkpoint(obj):
    """A ppimg2img training checkpoint (also one written without the format tag: config + nets)."""
    return isinstance(obj, dict) and (obj.get("format") == "ppimg2img-checkpoint"
                                      or (isinstance(obj.get("nets"), dict) and isinstance(obj.get("config"), dict)))


def select_net(obj, key=None, source="checkpoint"):
    """Pick one network's state dict out of what a checkpoint file holds. Returns (state, key)."""
    if _is_training_checkpoint(obj):
        obj = obj.get("nets", {})
    if isinstance(obj, dict) and obj.get("format") == CONVERTED_FORMAT:
        return obj["state_dict"], obj.get("key")
    if _is_state_dict(obj):
        if key is not None:
            raise CheckpointError(f"{source}: key={key!r} was given, but the file holds a single network's "
                                  f"weights (a plain state dict); leave key out")
        return obj, None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{source}: expected a dict of weights, found {type(obj).__name__}")
    nets = {k: v for k, v in obj.items() if _is_state_dict(v)}
    if key is not None:
        if key not in nets:
            raise CheckpointError(f"{source}: no network {key!r} in the file; it holds: "
                                  f"{', '.join(nets) or 'no state dicts'}")
        return nets[key], key
    if not nets:
        raise CheckpointError(f"{source}: the file holds no network weights (top-level keys: "
                              f"{', '.join(map(str, obj)) or 'none'}); it may be an incomplete or "
                              f"interrupted save: use another checkpoint")
    for name in DEFAULT_NET_KEYS:
        if name in nets:
            return nets[name], name
    if len(nets) == 1:
        name = next(iter(nets))
        return nets[name], name
    raise CheckpointError(f"{source}: the file holds several networks ({', '.join(nets) or 'none'}); "
                          f"pass key=... to choose one")


def _count(keys, pattern):
    return len({m.group(1) for k in keys for m in [re.match(pattern, k)] if m})


def _mlp_input(state, name):
    """Input width of a Linear stored in either layout (the larger side for the MLP's first layer)."""
    return max(state[name].shape)


def infer_arch(state):
    """Architecture and constructor options from a state dict in the original's names
    (after ``canonical_state``). Returns (arch, kwargs)."""
    keys = set(state)
    if "input.input" in keys and "conv1.conv.weight" in keys and "style.1.weight" in keys:
        return "stylegan2", infer_stylegan2(state)
    if "ConvBlock1.1.weight" in keys and any(k.startswith("HourGlass1.") for k in keys):
        ngf = state["ConvBlock1.1.weight"].shape[0]
        n_blocks = _count(keys, r"EncodeBlock(\d+)\.")
        if n_blocks != 4:  # the original generator has exactly 4 encoder/decoder blocks
            raise CheckpointError(f"a photo2cartoon generator with {n_blocks} encoder blocks; the original has 4")
        kw = {"ngf": ngf}
        fc_in = _mlp_input(state, "FC.0.weight")
        kw.update(_light_and_size(fc_in, ngf * 4))
        return "photo2cartoon", kw
    if "gap_fc.weight" in keys and "DownBlock.1.weight" in keys:
        w = state["DownBlock.1.weight"]
        ngf = w.shape[0]
        last = max((k for k in keys if re.match(r"UpBlock2\.\d+\.weight$", k)), key=lambda k: int(k.split(".")[1]))
        kw = {"input_nc": w.shape[1], "output_nc": state[last].shape[0], "ngf": ngf,
              "n_blocks": _count(keys, r"UpBlock1_(\d+)\.")}
        kw.update(_light_and_size(_mlp_input(state, "FC.0.weight"), ngf * 4))
        return "ugatit", kw
    if "model.model.0.weight" in keys:
        first = state["model.model.0.weight"]
        # one downsampling conv per level: the outermost's is model.model.0, every inner one's
        # is the ".model.1" of its block (the original UnetSkipConnectionBlock layout)
        depth = 1 + sum(1 for k in keys if k.endswith(".model.1.weight"))
        arch = {7: "unet_128", 8: "unet_256"}.get(depth)
        if arch is None:
            raise CheckpointError(f"a U-Net with {depth} downsamplings; ppimg2img has unet_128 (7) and unet_256 (8)")
        norm = "batch" if any(k.endswith("._mean") for k in keys) else "instance"
        return arch, {"input_nc": first.shape[1], "output_nc": state["model.model.3.weight"].shape[1],
                      "ngf": first.shape[0], "norm": norm}
    if "model.1.weight" in keys and any(".conv_block." in k for k in keys):
        first = state["model.1.weight"]
        n_blocks = _count(keys, r"model\.(\d+)\.conv_block\.")
        arch = {6: "resnet_6blocks", 9: "resnet_9blocks"}.get(n_blocks)
        if arch is None:
            raise CheckpointError(f"a ResNet generator with {n_blocks} blocks; ppimg2img has 6 and 9")
        norm = "batch" if "model.2._mean" in keys else "instance"
        convs = sorted((int(m.group(1)), k) for k in keys for m in [re.match(r"model\.(\d+)\.weight$", k)] if m)
        return arch, {"input_nc": first.shape[1], "output_nc": state[convs[-1][1]].shape[0], "ngf": first.shape[0],
                      # with dropout the second conv moves from conv_block.5 to .6 (a BatchNorm's
                      # .6.weight is 1-D)
                      "norm": norm, "use_dropout": any(k.endswith(".conv_block.6.weight") and state[k].ndim == 4
                                                       for k in keys),
                      "padding_type": "reflect" if any(".conv_block.1.weight" in k for k in keys) else "zero"}
    raise CheckpointError("cannot tell the architecture from the checkpoint's keys (first keys: "
                          f"{', '.join(sorted(keys)[:5])}); pass arch=... ({', '.join(ARCHS)})")


def infer_stylegan2(state):
    """StyleGAN2 generator options from its shapes (rosinality's names): size from the ToRGB layers,
    style_dim and n_mlp from the mapping network, one width per resolution from the convolutions
    (``channel_multiplier`` when they are the reference's table, else explicit ``channels``)."""
    from ..nets.stylegan2 import reference_channels

    keys = set(state)
    n_mlp = _count(keys, r"style\.(\d+)\.weight$")
    style_dim = state["style.1.weight"].shape[0]
    size = 2 ** (_count(keys, r"to_rgbs\.(\d+)\.") + 2)
    widths = [state["input.input"].shape[1]]
    for i in range(_count(keys, r"to_rgbs\.(\d+)\.")):
        widths.append(state[f"convs.{2 * i}.conv.weight"].shape[1])  # [1, out, in, k, k]
    kw = {"size": size, "style_dim": style_dim, "n_mlp": n_mlp}
    for multiplier in (2, 1):
        if widths == reference_channels(size, multiplier):
            return {**kw, "channel_multiplier": multiplier}
    return {**kw, "channels": widths}


def _light_and_size(fc_in, channels):
    if fc_in == channels:
        return {"light": True}
    side = math.isqrt(fc_in // channels)
    return {"light": False, "img_size": side * 4}


def build_arch(arch, **kwargs):
    """Build a generator by name (the config's ``model.generator.name``)."""
    from ..nets import build_generator

    return build_generator(arch, **kwargs)


def _framework(path):
    if path.endswith(TORCH_SUFFIXES):
        return "torch"
    if path.endswith((".pdparams", ".pdckpt", ".pdmodel")):
        return "paddle"
    raise CheckpointError(f"{path}: unknown weights file type; expected .pth/.pt (PyTorch) or "
                          f".pdparams/.pdckpt (Paddle)")


def load_generator(weights, arch=None, key=None, **arch_kwargs):
    """Load a generator in eval mode.

    ``weights``: a ``.pth``/``.pt`` file of the original PyTorch code, a ``.pdparams`` file
    (ppimg2img's or PaddleGAN's), a ppimg2img ``.pdckpt`` checkpoint, or a model-zoo name
    (``ppimg2img models`` lists them; the file is downloaded once into the cache).
    ``arch`` and ``arch_kwargs`` (``ngf``, ``n_blocks``, ``norm``, ``light``, ``img_size``...)
    are inferred from the file when omitted. ``key`` picks one net of a multi-net file
    (default: the A->B generator: ``netG_A``, ``genA2B`` or ``netG``).

    What a file's names do not say comes from its origin (:func:`origin_kwargs`): a PyTorch
    file gets the original code's semantics; a Paddle file that is not ppimg2img's own (a
    converted file or a training checkpoint, which store their options) is taken as PaddleGAN's,
    whose BatchNorm normalises with batch statistics in eval mode (``eval_stats='batch'``).
    Options passed here win.

    The result maps an NCHW float32 tensor in [-1, 1] to the translated image (U-GAT-IT and
    photo2cartoon generators return ``(image, cam_logit, heatmap)``).
    """
    path = os.fspath(weights)
    if not os.path.exists(path) and not os.path.splitext(path)[1]:
        return _load_from_zoo(path, arch, key, arch_kwargs)
    return _load_object(read_checkpoint(path), path, arch, key, arch_kwargs)


def _load_object(obj, path, arch, key, arch_kwargs):
    framework = _framework(path)
    stored_arch, stored_kwargs = _stored_arch(obj, key)
    state, chosen = select_net(obj, key, source=path)
    canonical, _ = canonical_state(state, framework)
    if arch is None:
        try:
            arch, inferred = (stored_arch, dict(stored_kwargs)) if stored_arch else infer_arch(canonical)
        except CheckpointError as err:
            raise CheckpointError(f"{path}: {err} (is it a generator's weights?)") from None
        inferred.update(arch_kwargs)
        arch_kwargs = inferred
    elif arch == "stylegan2" and not stored_arch:  # every dimension from the file's shapes; given options win
        arch_kwargs = {**infer_stylegan2(canonical), **arch_kwargs}
    else:
        arch_kwargs = dict(arch_kwargs)
    if not stored_arch:
        for name, value in origin_kwargs(arch, canonical, framework).items():
            arch_kwargs.setdefault(name, value)
    net = build_arch(arch, **arch_kwargs)
    where = f"{path}" + (f" [{chosen}]" if chosen else "")
    if arch == "stylegan2" and framework == "paddle" and not stored_arch:  # PaddleGAN's release layout
        state = from_paddlegan_stylegan2(canonical)
    if isinstance(obj, dict) and obj.get("latent_avg") is not None and "latent_avg" not in state:
        state = {**state, "latent_avg": np.asarray(obj["latent_avg"], np.float32).reshape(-1)}  # StyleGAN2's mean w
    load_state_into(net, state, framework, source=where)
    net.eval()
    net.ppimg2img_arch = (arch, dict(arch_kwargs))
    net.ppimg2img_trained_size = trained_size(obj)
    return net


def _accepted(arch):
    import inspect

    from ..nets import GENERATORS

    return inspect.signature(GENERATORS[arch]).parameters if arch in GENERATORS else {}


def origin_kwargs(arch, state, framework):
    """Constructor options a file's origin implies, beyond what its names say.

    ``framework='torch'`` (the original PyTorch code): none, ppimg2img's defaults are the
    original's. ``'paddle'`` (PaddleGAN): ``eval_stats='batch'`` for a net with BatchNorm
    (PaddleGAN's ``build_norm_layer('batch')`` has ``trainable_statistics=True``), and
    ``use_dropout=False`` for a U-Net (every PaddleGAN pix2pix config; dropout has no weights, so
    the file cannot say, and it only matters in train mode). PaddleGAN's U-Net skips carry x where
    the original's carry LeakyReLU(x), which gives the same result (nets/unet_generator.py), so
    nothing is needed for them. ``state`` is the canonical state dict (for the BatchNorm test)."""
    if framework != "paddle":
        return {}
    accepted = _accepted(arch)
    out = {}
    if arch.startswith("unet_") and "use_dropout" in accepted:
        out["use_dropout"] = False
    if "eval_stats" in accepted and any(k.endswith("._mean") for k in state):
        out["eval_stats"] = "batch"
    return out


def trained_size(obj):
    """The image side a ppimg2img training run trained at (its ``dataset.train.crop_size``), or
    None when unknown (other files, or ``preprocess: none``: the run trained at the images' size)."""
    if not _is_training_checkpoint(obj):
        return None
    train = (obj["config"].get("dataset") or {}).get("train") or {}
    size = train.get("crop_size")
    if train.get("preprocess") == "none" or not isinstance(size, int) or size <= 0:
        return None
    return size


def _stored_arch(obj, key):
    """ppimg2img files say what they hold: the converted-weights format and full checkpoints."""
    if isinstance(obj, dict) and obj.get("format") == CONVERTED_FORMAT:
        return obj["arch"], obj.get("arch_kwargs", {})
    if _is_training_checkpoint(obj):
        gen = dict(obj.get("config", {}).get("model", {}).get("generator", {}))
        name = gen.pop("name", None)
        if name and (key in (None, "netG_A", "genA2B", "netG")):
            return name, gen
        if name and key in ("netG_B", "genB2A"):  # the B->A generator swaps channel counts
            gen["input_nc"], gen["output_nc"] = gen.get("output_nc", 3), gen.get("input_nc", 3)
            return name, gen
    return None, {}


def semantic_kwargs(net, arch):
    """The options of ``net`` that change what its weights compute without changing their names
    (BatchNorm's ``eval_stats``), read from the net itself."""
    from ..nets import eval_stats_of

    accepted = _accepted(arch)
    out = {}
    if "eval_stats" in accepted:
        out["eval_stats"] = eval_stats_of(net)
    return out


def _full_kwargs(arch, kwargs):
    """``kwargs`` with the arch's defaults filled in (to compare two descriptions of one net)."""
    defaults = {k: p.default for k, p in _accepted(arch).items() if p.default is not p.empty}
    return {**defaults, **kwargs}


def save_converted(net, path, arch, arch_kwargs, key=None):
    """Write ``net``'s weights with their architecture as a ppimg2img ``.pdparams`` (atomic).
    The options that change what the weights compute (:func:`semantic_kwargs`) are taken from
    ``net`` itself and stored too, so a PaddleGAN U-Net keeps its batch statistics when the file is
    loaded again."""
    from ..engine.checkpoint import atomic_save

    kwargs = dict(arch_kwargs)
    defaults = _full_kwargs(arch, {})
    for name, value in semantic_kwargs(net, arch).items():
        if name in kwargs or defaults.get(name) != value:
            kwargs[name] = value
    state = {k: v.numpy() for k, v in net.state_dict().items()}
    atomic_save({"format": CONVERTED_FORMAT, "arch": arch, "arch_kwargs": kwargs, "key": key,
                 "state_dict": state}, path)
    return path


def _load_from_zoo(name, arch, key, arch_kwargs):
    from . import zoo

    entry = zoo.get_entry(name)
    original = zoo.fetch(name)
    cached = zoo.converted_path(name)  # per net: two directions of one file are cached apart
    default_call = arch is None and not arch_kwargs and key is None
    if default_call and os.path.isfile(cached) and os.path.getmtime(cached) >= os.path.getmtime(original):
        obj = read_checkpoint(cached)
        # a cache written for another description of the entry (an older ppimg2img) is converted again
        if (isinstance(obj, dict) and obj.get("arch") == entry.arch
                and _full_kwargs(entry.arch, obj.get("arch_kwargs") or {})
                == _full_kwargs(entry.arch, entry.arch_kwargs)):
            return _load_object(obj, cached, None, None, {})
    kwargs = {**entry.arch_kwargs, **arch_kwargs}
    net = load_generator(original, arch=arch or entry.arch, key=key or entry.key, **kwargs)
    if default_call:
        save_converted(net, cached, entry.arch, kwargs, key=entry.key)
    return net


__all__ = ["load_generator", "infer_arch", "select_net", "save_converted", "origin_kwargs", "semantic_kwargs",
           "WeightsMismatchError"]
