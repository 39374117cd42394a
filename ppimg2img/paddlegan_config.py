"""PaddleGAN configs, translated to ppimg2img's native config.

``python tools/main.py -c X.yaml`` with X one of PaddleGAN's own configs (``configs/*.yaml`` of
PaddlePaddle/PaddleGAN, read by ``ppgan/utils/config.py`` and built by ``ppgan/engine/trainer.py``)
trains the same model with the same settings. :func:`is_paddlegan_config` tells the format from
its keys, :func:`translate` maps every key through the tables below (all in this module) and
returns the native config, the keys reported as ignored (they change no training) and notes on what
is built differently. A key with no equivalent is a :class:`PaddleGANConfigError` naming the key
and what to do; nothing is dropped silently.

Families: CycleGAN, pix2pix, U-GAT-IT, photo2cartoon (PaddleGAN's ``UGATITModel`` with
``ResnetUGATITP2CGenerator``), DCGAN and PaddleGAN's ``GANModel`` (WGAN, conditional DCGAN);
and StyleGAN2 (``StyleGAN2Model``).
"""
import copy
import math
import os
import posixpath

import yaml

from .config import ConfigError, merge, parse_overrides, read_yaml

__all__ = ["PaddleGANConfigError", "Translation", "is_paddlegan_config", "detect", "translate",
           "load_paddlegan_config", "split_overrides", "header", "render", "read_yaml", "PADDLEGAN_TOP_LEVEL"]


class PaddleGANConfigError(ConfigError):
    """A PaddleGAN config holds a key or value ppimg2img cannot reproduce; the message says which and what to do."""


# =========================================================================== mapping tables
# Everything the translation knows is in these tables (and the small functions that apply them).

#: top-level PaddleGAN keys: where each goes (a native key path, or None: handled by its own code)
PADDLEGAN_TOP_LEVEL = {
    "epochs": "train.epochs",
    "total_iters": "train.max_iters",
    "output_dir": "output_dir",          # + the config's name: PaddleGAN writes <output_dir>/<name>-<timestamp>
    "enable_visualdl": "train.visualdl",
    "model": None, "dataset": None, "lr_scheduler": None, "optimizer": None,
    "log_config": None, "snapshot_config": None,
    # ignored below
    "find_unused_parameters": None, "export_model": None, "validate": None, "is_train": None,
    "profiler_options": None, "timestamp": None, "min_max": None, "image_num": None,
}

#: keys that change no training: reported once as ignored, with the reason
IGNORED = {
    "find_unused_parameters": "a DataParallel detail: ppimg2img's multi-process training finds unused "
                              "parameters itself",
    "export_model": "export every generator with `ppimg2img export --load CKPT` (tools/export_model.py)",
    "validate": "evaluation runs on dataset.test at the end of training (train.eval_at_end) and every "
                "train.eval_epoch_interval epochs; PSNR/SSIM always, FID with eval.fid: true",
    "is_train": "set by the command (training unless --evaluate-only)",
    "profiler_options": "a profiling switch",
    "timestamp": "set by PaddleGAN at run time",
    "min_max": "test-image value range of PaddleGAN's validation: ppimg2img's evaluation maps [-1, 1]",
    "image_num": "PaddleGAN's validation image count: see eval.max_images",
    "model.to_static": "a benchmarking switch of PaddleGAN (ppimg2img: train.fast for CycleGAN/pix2pix on CPU)",
    "model.image_shape": "input shape for model.to_static",
    "model.max_eval_steps": "see eval.max_images / eval.samples",
    "model.params.samples_every_row": "layout of PaddleGAN's sample grid",
    "model.params.visual_interval": "visuals follow log_config.visiual_interval (train.visual_interval)",
    "dataset.test.batch_size": "evaluation translates one batch at a time of its own choosing",
    "dataset.test.num_workers": "evaluation loads its images itself",
    "dataset.train.use_shared_memory": "ppimg2img's loader never uses shared memory (see ppimg2img.data.build_loader)",
    "dataset.test.use_shared_memory": "ppimg2img's loader never uses shared memory",
    "lr_scheduler.iters_per_epoch": "PaddleGAN replaces it with the loader's length; ppimg2img steps once per epoch",
    "generator.input_nc (DCGenerator)": "PaddleGAN's DCGenerator takes it but does not use it",
    "generator.padding_type (DCGenerator)": "PaddleGAN's DCGenerator takes it but does not use it",
}

#: model.name -> (native model, {optimizer role: PaddleGAN net names})
MODELS = {
    "CycleGANModel": ("CycleGANModel", {"G": ["netG_A", "netG_B"], "D": ["netD_A", "netD_B"]}),
    "Pix2PixModel": ("Pix2PixModel", {"G": ["netG"], "D": ["netD"]}),
    "UGATITModel": ("UGATITModel", {"G": ["genA2B", "genB2A"], "D": ["disGA", "disGB", "disLA", "disLB"]}),
    "DCGANModel": ("GANModel", {"G": ["netG"], "D": ["netD"]}),
    "GANModel": ("GANModel", {"G": ["netG"], "D": ["netD"]}),
    "StyleGAN2Model": ("StyleGAN2Model", {"G": ["gen"], "D": ["disc"]}),
}

#: PaddleGAN's net names in its weight files -> ppimg2img's (the others are the same: netG_A, genA2B, netG...)
NET_NAMES = {"gen": "netG", "disc": "netD", "gen_ema": "netG_ema"}

#: PaddleGAN generator class -> native generator name (the functions below pick variants and map arguments)
GENERATORS = {
    "ResnetGenerator": "resnet_9blocks | resnet_6blocks (by n_blocks)",
    "UnetGenerator": "unet_256 | unet_128 (by num_downs)",
    "ResnetUGATITGenerator": "ugatit",
    "ResnetUGATITP2CGenerator": "photo2cartoon",
    "DCGenerator": "dcgan (64x64)",
    "DeepConvGenerator": "dcgan (a different network: see the notes)",
    "ConditionalDeepConvGenerator": "dcgan with n_classes (a different network: see the notes)",
    "StyleGANv2Generator": "stylegan2",
}

#: PaddleGAN discriminator class -> native discriminator name
DISCRIMINATORS = {
    "NLayerDiscriminator": "basic (n_layers 3) | n_layers",
    "UGATITDiscriminator": "ugatit (discriminator_g; discriminator_l's n_layers -> model.n_layers_local)",
    "DCDiscriminator": "dcgan",
    "NLayerDiscriminatorWithClassification": "dcgan, conditional (a different network: see the notes)",
    "StyleGANv2Discriminator": "stylegan2",
}

#: ResnetGenerator n_blocks -> native generator
RESNET_BY_BLOCKS = {9: "resnet_9blocks", 6: "resnet_6blocks"}
#: UnetGenerator num_downs -> native generator
UNET_BY_DOWNS = {8: "unet_256", 7: "unet_128"}
#: norm_type -> norm (PaddleGAN's build_norm_layer; 'spectral' has no equivalent)
NORM_TYPES = {"instance": "instance", "batch": "batch", "none": "none"}
#: norm_type -> the DCGAN discriminator's norm
DCGAN_D_NORMS = {"batch": "batch", "none": "none"}
#: gan_criterion.gan_mode -> model.gan_mode (PaddleGAN's 'wgangp' and 'logistic' are other objectives: see _gan_mode)
GAN_MODES = {"vanilla": "vanilla", "lsgan": "lsgan", "wgan": "wgan", "hinge": "hinge"}
#: model keys copied under the same name (U-GAT-IT / photo2cartoon loss weights)
UGATIT_WEIGHTS = ("adv_weight", "cycle_weight", "identity_weight", "cam_weight")
#: criteria a U-GAT-IT config names: key -> the PaddleGAN class it must be
UGATIT_CRITERIA = {"l1_criterion": "L1Loss", "mse_criterion": "MSELoss", "bce_criterion": "BCEWithLogitsLoss"}
#: model.direction / datasets: PaddleGAN spelling -> native
DIRECTIONS = {"a2b": "AtoB", "b2a": "BtoA", "AtoB": "AtoB", "BtoA": "BtoA"}
#: lr_scheduler.name -> native policy
LR_SCHEDULERS = {"LinearDecay": "linear", "linear": "linear"}
#: lr_scheduler keys -> native keys (learning_rate goes to optimizer.lr)
LINEAR_DECAY_KEYS = {"learning_rate": "optimizer.lr", "start_epoch": "lr_scheduler.n_epochs",
                     "decay_epochs": "lr_scheduler.n_epochs_decay"}
#: log_config / snapshot_config keys -> native train keys (by epochs: snapshot interval counts epochs)
LOG_KEYS = {"interval": "log_interval", "visiual_interval": "visual_interval", "visual_interval": "visual_interval"}
SNAPSHOT_KEYS_EPOCHS = {"interval": "save_epoch_interval"}
SNAPSHOT_KEYS_ITERS = {"interval": "save_latest_interval"}
#: optimizer name -> native optimizer; Paddle's defaults, which PaddleGAN configs rely on when they omit a key
OPTIMIZERS = {"Adam": "adam", "RMSProp": "rmsprop"}
ADAM_DEFAULTS = {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weight_decay": 0.0}
RMSPROP_DEFAULTS = {"rho": 0.95, "epsilon": 1e-6, "momentum": 0.0, "centered": False, "weight_decay": 0.0}
#: StyleGAN2Model keys -> native model keys (params.gen_iters / disc_iters are the lazy-regularisation intervals)
STYLEGAN2_KEYS = {"mixing_prob": "mixing", "r1_reg_weight": "r1", "path_reg_weight": "path_regularize",
                  "path_batch_shrink": "path_batch_shrink"}
STYLEGAN2_PARAMS = {"gen_iters": "g_reg_every", "disc_iters": "d_reg_every"}
#: PaddleGAN's (and rosinality's) generator EMA: decay 0.5 ** (32 / 10000) per iteration whatever the batch;
#: ppimg2img's is 0.5 ** (batch / (ema_kimg * 1000)), so ema_kimg = batch * 10 / 32 gives the same decay
STYLEGAN2_EMA_DECAY_BATCH, STYLEGAN2_EMA_KIMG = 32, 10.0
#: dataset classes
DATASETS = {"UnpairedDataset": "UnalignedDataset", "PairedDataset": "AlignedDataset",
            "CommonVisionDataset": "MNISTDataset | CIFAR10Dataset", "SingleDataset": "ImageFolderDataset"}
#: CommonVisionDataset.dataset_name -> (native dataset, dataroot, `ppimg2img download-dataset` name)
VISION_DATASETS = {"MNIST": ("MNISTDataset", "datasets/mnist", "mnist"),
                   "FashionMNIST": ("MNISTDataset", "datasets/fashion_mnist", "fashion_mnist"),
                   "Cifar10": ("CIFAR10Dataset", "datasets/cifar10", "cifar10")}
#: dataset loader keys (train) -> native train keys
LOADER_KEYS = {"batch_size": "batch_size", "num_workers": "num_workers"}
#: transforms of a Transforms pipeline: name -> what it sets
TRANSFORMS = {"Resize": "load_size", "RandomCrop": "crop_size", "PairedRandomCrop": "crop_size",
              "RandomHorizontalFlip": "flip", "PairedRandomHorizontalFlip": "flip",
              "Transpose": "(HWC -> CHW: always)", "Normalize": "(to [-1, 1]: always)"}


# =========================================================================== detection

def detect(cfg):
    """The keys that mark ``cfg`` as a PaddleGAN config (empty list: a native config)."""
    if not isinstance(cfg, dict):
        return []
    found = [k for k in ("epochs", "total_iters", "snapshot_config", "log_config", "export_model", "validate",
                         "find_unused_parameters", "enable_visualdl") if k in cfg]
    sched = cfg.get("lr_scheduler")
    if isinstance(sched, dict) and "name" in sched:
        found.append(f"lr_scheduler.name: {sched['name']}")
    opt = cfg.get("optimizer")
    if isinstance(opt, dict) and any(isinstance(v, dict) and "net_names" in v for v in opt.values()):
        found.append("optimizer." + next(k for k, v in opt.items() if isinstance(v, dict) and "net_names" in v))
    model = cfg.get("model")
    if isinstance(model, dict):
        if model.get("name") in ("DCGANModel", "StyleGAN2Model") and "generator" in model \
                and (model["generator"] or {}).get("name") in GENERATORS:
            found.append(f"model.name: {model['name']}")
        gen = model.get("generator")
        if isinstance(gen, dict) and gen.get("name") in GENERATORS:
            found.append(f"model.generator.name: {gen['name']}")
    data = cfg.get("dataset")
    if isinstance(data, dict):
        for split in ("train", "test"):
            d = data.get(split)
            if isinstance(d, dict) and (d.get("name") in DATASETS or isinstance(d.get("preprocess"), list)):
                found.append(f"dataset.{split}.name: {d.get('name')}")
    return found


def is_paddlegan_config(cfg):
    """True when ``cfg`` (a parsed YAML mapping) is in PaddleGAN's format."""
    return bool(detect(cfg))


# =========================================================================== helpers

class Translation:
    """``config``: the native config (not yet validated); ``ignored``: [(key, why)];
    ``notes``: what is built differently from PaddleGAN and why; ``detected_by``: the marker keys."""

    def __init__(self, config, ignored, notes, detected_by, source=None):
        self.config, self.ignored, self.notes = config, ignored, notes
        self.detected_by, self.source = detected_by, source


class _Ctx:
    def __init__(self):
        self.ignored, self.notes = [], []

    def ignore(self, key, why=None):
        why = why or IGNORED.get(key) or IGNORED.get(key.split(".", 1)[-1], "changes no training")
        if all(k != key for k, _ in self.ignored):
            self.ignored.append((key, why))

    def note(self, text):
        if text not in self.notes:
            self.notes.append(text)


def _err(key, problem, fix):
    return PaddleGANConfigError(f"PaddleGAN key {key}: {problem}. {fix}")


def _section(cfg, key, where, required=True):
    """Take (pop) the mapping ``cfg[key]``."""
    value = cfg.pop(key, None)
    if value is None:
        if required:
            raise _err(f"{where}.{key}", "missing", "PaddleGAN needs it too: see PaddleGAN's configs/ for the layout")
        return {}
    if not isinstance(value, dict):
        raise _err(f"{where}.{key}", f"expected a mapping, got {type(value).__name__} ({value!r})",
                   "Write it as PaddleGAN's configs do")
    return dict(value)


def _unknown(rest, where, known, what):
    """Leftover keys of a section are errors: they would change training and have no equivalent."""
    for key in rest:
        raise _err(f"{where}.{key}", f"has no ppimg2img equivalent for {what} (keys translated here: "
                                     f"{', '.join(sorted(known)) or 'none'})",
                   "Remove it, or write the run as a native ppimg2img config (docs/config.md lists every "
                   "native key)")


def _take(cfg, mapping, where, what):
    """``cfg``'s keys through ``mapping`` {PaddleGAN key: native key} (``name`` aside); leftovers are errors."""
    rest = {k: v for k, v in cfg.items() if k != "name"}
    out = {native: rest.pop(key) for key, native in mapping.items() if key in rest}
    _unknown(rest, where, list(mapping), what)
    return out


def _value(table, value, key, fix):
    try:
        known = value in table
    except TypeError:  # a list or mapping where a name or number belongs
        known = False
    if not known:
        raise _err(key, f"value {value!r} has no ppimg2img equivalent (translated values: "
                        f"{', '.join(map(str, table))})", fix)
    return table[value]


def _number(value, key, kind=int):
    """``value`` as an int (or float); a PaddleGANConfigError naming ``key`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise _err(key, f"expected {'an integer' if kind is int else 'a number'}, got {value!r}", "Fix the value")
    return kind(value)


def _is_inf(v):
    return v is None or (isinstance(v, str) and v.strip().lower() in ("inf", ".inf")) or \
        (isinstance(v, float) and math.isinf(v))


# =========================================================================== nets

def _channels(cfg, where):
    for key in ("input_nc", "output_nc"):
        if key in cfg and not isinstance(cfg[key], int):
            raise _err(f"{where}.{key}", f"expected an integer, got {cfg[key]!r}", "Set a channel count such as 3")
    return {k: cfg.pop(k) for k in ("input_nc", "output_nc") if k in cfg}


def _resnet(g, where, ctx):
    n_blocks = g.pop("n_blocks", 6)  # PaddleGAN's default
    name = _value(RESNET_BY_BLOCKS, n_blocks, f"{where}.n_blocks",
                  "ppimg2img has resnet_9blocks and resnet_6blocks: use n_blocks 9 or 6")
    out = {"name": name}
    out.update(_channels(g, where))
    g.setdefault("norm_type", "instance")
    out.update(_take(g, {"ngf": "ngf", "norm_type": "norm", "use_dropout": "use_dropout",
                         "padding_type": "padding_type"}, where, "ResnetGenerator"))
    out["norm"] = _value(NORM_TYPES, out["norm"], f"{where}.norm_type", "Use instance, batch or none")
    if out["norm"] == "batch":
        out["eval_stats"] = "batch"
    return out


def _unet(g, where, ctx):
    if "num_downs" not in g:
        raise _err(f"{where}.num_downs", "missing (PaddleGAN requires it)", "Set 8 (256x256 images) or 7 (128x128)")
    name = _value(UNET_BY_DOWNS, g.pop("num_downs"), f"{where}.num_downs",
                  "ppimg2img has unet_256 (num_downs 8) and unet_128 (num_downs 7)")
    out = {"name": name}
    out.update(_channels(g, where))
    g.setdefault("norm_type", "batch")
    g.setdefault("use_dropout", False)  # PaddleGAN's default (the original pix2pix: True)
    out.update(_take(g, {"ngf": "ngf", "norm_type": "norm", "use_dropout": "use_dropout"}, where, "UnetGenerator"))
    out["norm"] = _value(NORM_TYPES, out["norm"], f"{where}.norm_type", "Use batch, instance or none")
    if out["norm"] == "batch":
        out["eval_stats"] = "batch"
    return out


def _ugatit(g, where, ctx):
    out = {"name": "ugatit"}
    out.update(_channels(g, where))
    norm = g.pop("norm_type", "instance")
    if norm != "instance":
        raise _err(f"{where}.norm_type", f"{norm!r}: U-GAT-IT's generator normalises with instance norm, "
                                         "AdaLIN and LIN only", "Remove norm_type (or set instance)")
    g.setdefault("n_blocks", 6)
    g.setdefault("img_size", 256)
    g.setdefault("light", False)
    out.update(_take(g, {"ngf": "ngf", "n_blocks": "n_blocks", "img_size": "img_size", "light": "light"},
                     where, "ResnetUGATITGenerator"))
    return out


def _photo2cartoon(g, where, ctx):
    for key, fixed in (("input_nc", 3), ("output_nc", 3), ("n_blocks", 4)):
        if g.pop(key, fixed) != fixed:
            raise _err(f"{where}.{key}", f"photo2cartoon's generator is built with {key} {fixed} (ppimg2img, "
                                         "like the original photo2cartoon, has no other)", f"Set {key}: {fixed}")
    g.setdefault("ngf", 32)
    g.setdefault("img_size", 256)
    g.setdefault("light", True)
    return {"name": "photo2cartoon", **_take(g, {"ngf": "ngf", "img_size": "img_size", "light": "light"},
                                              where, "ResnetUGATITP2CGenerator")}


def _dcgenerator(g, where, ctx):
    norm = g.pop("norm_type", "batch")
    if norm != "batch":
        raise _err(f"{where}.norm_type", f"{norm!r}: ppimg2img's DCGAN generator uses BatchNorm (the paper's)",
                   "Set norm_type: batch")
    for key in ("input_nc", "padding_type"):
        if key in g:
            g.pop(key)
            ctx.ignore(f"{where}.{key}", IGNORED[f"generator.{key} (DCGenerator)"])
    if "input_nz" not in g:
        raise _err(f"{where}.input_nz", "missing (PaddleGAN requires it)", "Set the noise length, e.g. 100")
    out = {"name": "dcgan", **_take(g, {"input_nz": "nz", "ngf": "ngf", "output_nc": "output_nc"}, where,
                                    "DCGenerator"), "image_size": 64}
    ctx.note("DCGenerator -> dcgan: the same 64x64 transposed-convolution network, without PaddleGAN's "
             "convolution biases in front of BatchNorm (BatchNorm removes them; the paper's and PyTorch "
             "example's nets have none), so it has fewer parameters")
    return out


def _deepconv(g, where, ctx, conditional=False):
    for key in ("latent_dim", "output_nc"):
        if key not in g:
            raise _err(f"{where}.{key}", "missing (PaddleGAN requires it)", "Set it as PaddleGAN's configs do")
    mapping = {"latent_dim": "nz", "output_nc": "output_nc", "size": "image_size", "ngf": "ngf"}
    if conditional:
        g.setdefault("n_class", 10)
        mapping["n_class"] = "n_classes"
    g.setdefault("size", 64)
    out = {"name": "dcgan", **_take(g, mapping, where, g.get("name", "DeepConvGenerator"))}
    ctx.note(f"{'ConditionalDeepConvGenerator' if conditional else 'DeepConvGenerator'} -> dcgan: ppimg2img has "
             "no copy of PaddleGAN's linear + upsample + 3x3-conv generator; it trains the DCGAN generator "
             "(transposed convolutions) at the same size, noise length, ngf"
             + (" and classes" if conditional else "") + ". A different network with other parameter counts")
    return out


def _stylegan2(g, where, ctx):
    """StyleGANv2Generator -> stylegan2 (rosinality's network, which PaddleGAN's is a port of)."""
    if list(g.pop("blur_kernel", [1, 3, 3, 1])) != [1, 3, 3, 1]:
        raise _err(f"{where}.blur_kernel", "ppimg2img's StyleGAN2 blurs with [1, 3, 3, 1]", "Remove blur_kernel")
    for key in ("is_concat", "is_concat_noise_map"):
        if g.pop(key, False):
            raise _err(f"{where}.{key}", "the noise-map concatenation of PaddleGAN's GPEN variant has no equivalent",
                       f"Remove {key}")
    for key in ("size", "style_dim", "n_mlp"):
        if key not in g:
            raise _err(f"{where}.{key}", "missing (PaddleGAN requires it)", "Set it as PaddleGAN's configs do")
    return {"name": "stylegan2", **_take(g, {"size": "size", "style_dim": "style_dim", "n_mlp": "n_mlp",
                                             "channel_multiplier": "channel_multiplier", "lr_mlp": "lr_mlp"},
                                         where, "StyleGANv2Generator")}


def _stylegan2_d(d, where, ctx, generator):
    """StyleGANv2Discriminator -> stylegan2 (its size follows the generator's)."""
    if d.get("name") != "StyleGANv2Discriminator":
        raise _err(f"{where}.name", f"{d.get('name')!r}: StyleGAN2Model takes StyleGANv2Discriminator",
                   "Set name: StyleGANv2Discriminator")
    d = dict(d)
    if list(d.pop("blur_kernel", [1, 3, 3, 1])) != [1, 3, 3, 1]:
        raise _err(f"{where}.blur_kernel", "ppimg2img's StyleGAN2 blurs with [1, 3, 3, 1]", "Remove blur_kernel")
    size = d.pop("size", generator["size"])
    if size != generator["size"]:
        raise _err(f"{where}.size", f"{size} but the generator makes {generator['size']}px images",
                   f"Set size: {generator['size']}")
    return {"name": "stylegan2", **_take(d, {"channel_multiplier": "channel_multiplier"}, where,
                                         "StyleGANv2Discriminator")}


_GENERATOR_FNS = {"ResnetGenerator": _resnet, "UnetGenerator": _unet, "ResnetUGATITGenerator": _ugatit,
                  "ResnetUGATITP2CGenerator": _photo2cartoon, "DCGenerator": _dcgenerator,
                  "DeepConvGenerator": _deepconv,
                  "ConditionalDeepConvGenerator": lambda g, w, c: _deepconv(g, w, c, conditional=True),
                  "StyleGANv2Generator": _stylegan2}


def _generator(model, ctx):
    g = _section(model, "generator", "model")
    name = g.get("name")
    fn = _GENERATOR_FNS.get(name)
    if fn is None:
        raise _err("model.generator.name", f"{name!r} has no ppimg2img equivalent (translated: "
                                           f"{', '.join(GENERATORS)})", "Use one of those, or a native config")
    return fn(dict(g), "model.generator", ctx)


def _nlayer(d, where, ctx, generator):
    _check_d_channels(d, where, generator, paired=False)
    n_layers = d.pop("n_layers", 3)
    d.setdefault("norm_type", "instance")
    if d.pop("use_sigmoid", False):
        raise _err(f"{where}.use_sigmoid", "True: the losses take raw scores (vanilla is BCE with logits)",
                   "Remove use_sigmoid")
    out = _take(d, {"ndf": "ndf", "norm_type": "norm"}, where, "NLayerDiscriminator")
    out["norm"] = _value(NORM_TYPES, out["norm"], f"{where}.norm_type", "Use instance, batch or none")
    if out["norm"] == "batch":
        ctx.note(f"{where}: with BatchNorm PaddleGAN's NLayerDiscriminator has no bias on its first convolution; "
                 f"ppimg2img's has one, as the original PatchGAN ({out.get('ndf', 64)} more parameters)")
    if n_layers == 3:
        return {"name": "basic", **out}
    return {"name": "n_layers", "n_layers": n_layers, **out}


def _check_d_channels(d, where, generator, paired):
    """The native models set the discriminator's input channels themselves; PaddleGAN's must agree."""
    if "input_nc" not in d:
        return
    gin, gout = generator.get("input_nc", 3), generator.get("output_nc", 3)
    expected = gin + gout if paired else gout
    if d["input_nc"] != expected:
        raise _err(f"{where}.input_nc", f"{d['input_nc']} but the model feeds it {expected} channels "
                                        f"({'input + output images' if paired else 'the generated images'})",
                   f"Set input_nc: {expected}")
    d.pop("input_nc")


def _dcdiscriminator(d, where, ctx, generator):
    _check_d_channels(d, where, generator, paired=False)
    d.setdefault("norm_type", "instance")  # PaddleGAN's default
    out = _take(d, {"ndf": "ndf", "norm_type": "norm"}, where, "DCDiscriminator")
    out["norm"] = _value(DCGAN_D_NORMS, out["norm"], f"{where}.norm_type",
                         "ppimg2img's DCGAN discriminator has batch, layer or no norm: use batch or none")
    return {"name": "dcgan", **out}


def _nlayer_as_dcgan(d, where, ctx, generator, conditional=False):
    """GANModel's NLayerDiscriminator(WithClassification) -> the DCGAN discriminator (substitution, noted)."""
    if "input_nc" in d and d["input_nc"] != generator.get("output_nc", 3):
        raise _err(f"{where}.input_nc", f"{d['input_nc']} but the generator makes {generator.get('output_nc', 3)}"
                                        "-channel images", f"Set input_nc: {generator.get('output_nc', 3)}")
    d.pop("input_nc", None)
    if conditional:
        n_class = d.pop("n_class", 10)
        if n_class != generator.get("n_classes", 0):
            raise _err(f"{where}.n_class", f"{n_class} but the generator has {generator.get('n_classes', 0)} classes",
                       "Set the same n_class in generator and discriminator")
    norm = d.pop("norm_type", "instance")
    d.pop("n_layers", None)
    use_sigmoid = d.pop("use_sigmoid", False)
    out = {"name": "dcgan", **_take(d, {"ndf": "ndf"}, where, d.get("name", "NLayerDiscriminator"))}
    out["norm"] = {"batch": "batch", "none": "none", "instance": "layer"}.get(norm)
    if out["norm"] is None:
        raise _err(f"{where}.norm_type", f"{norm!r} has no equivalent", "Use batch, instance or none")
    if conditional:
        out["cond_mode"] = "concat"
    ctx.note(f"{'NLayerDiscriminatorWithClassification' if conditional else 'NLayerDiscriminator'} of GANModel -> "
             "dcgan discriminator: a strided-conv critic at the generator's size with one score per image "
             "(PaddleGAN's is a PatchGAN; n_layers follows from the image size)"
             + (", label maps concatenated with the image as PaddleGAN" if conditional else "")
             + (f"; norm_type {norm} -> {out['norm']}" if norm != out["norm"] else "")
             + ("; use_sigmoid dropped: the loss takes raw scores (vanilla is BCE with logits)" if use_sigmoid else ""))
    return out


def _ugatit_discriminators(model, ctx):
    g = _section(model, "discriminator_g", "model")
    l_ = _section(model, "discriminator_l", "model")
    for where, d in (("model.discriminator_g", g), ("model.discriminator_l", l_)):
        if d.get("name") != "UGATITDiscriminator":
            raise _err(f"{where}.name", f"{d.get('name')!r}: a U-GAT-IT model takes UGATITDiscriminator",
                       "Set name: UGATITDiscriminator")
        if d.pop("input_nc", 3) != 3:
            raise _err(f"{where}.input_nc", "the discriminators see the generated images (3 channels)",
                       "Set input_nc: 3")
    gd = _take(g, {"ndf": "ndf", "n_layers": "n_layers"}, "model.discriminator_g", "UGATITDiscriminator")
    ld = _take(l_, {"ndf": "ndf", "n_layers": "n_layers"}, "model.discriminator_l", "UGATITDiscriminator")
    gd.setdefault("ndf", 64), ld.setdefault("ndf", 64)
    gd.setdefault("n_layers", 5), ld.setdefault("n_layers", 5)
    if gd["ndf"] != ld["ndf"]:
        raise _err("model.discriminator_l.ndf", f"{ld['ndf']} differs from discriminator_g's {gd['ndf']}: ppimg2img's "
                                                "U-GAT-IT builds both with one ndf", "Use the same ndf for both")
    return {"name": "ugatit", "ndf": gd["ndf"], "n_layers": gd["n_layers"]}, ld["n_layers"]


# =========================================================================== losses

def _criterion(model, key, expected, ctx, default_weight=1.0):
    """A PaddleGAN criterion section -> its loss_weight (after checking its class)."""
    c = model.pop(key, None)
    if c is None:
        return None
    c = dict(c)
    if c.get("name") != expected:
        raise _err(f"model.{key}.name", f"{c.get('name')!r}: ppimg2img computes this loss as {expected}",
                   f"Set name: {expected}")
    if c.get("reduction", "mean") != "mean":
        raise _err(f"model.{key}.reduction", f"{c['reduction']!r}: the losses are means", "Remove reduction")
    c.pop("reduction", None)
    weight = c.pop("loss_weight", default_weight)
    _unknown({k: v for k, v in c.items() if k != "name"}, f"model.{key}", ["name", "loss_weight", "reduction"],
             expected)
    return weight


def _gan_mode(model, ctx, family):
    c = dict(_section(model, "gan_criterion", "model"))
    if c.get("name", "GANLoss") != "GANLoss":
        raise _err("model.gan_criterion.name", f"{c.get('name')!r}", "Set name: GANLoss")
    mode = c.get("gan_mode")
    if mode == "wgangp":
        raise _err("model.gan_criterion.gan_mode", "'wgangp' in PaddleGAN's models is the WGAN loss without a "
                                                   "gradient penalty and without clipping",
                   "For WGAN-GP write a native config with model.gan_mode: wgangp (configs/wgangp_mnist.yaml); "
                   "for PaddleGAN's behaviour there is no equivalent")
    native = _value(GAN_MODES, mode, "model.gan_criterion.gan_mode", "Use vanilla, lsgan or wgan")
    if native == "wgan" and family != "GANModel":
        raise _err("model.gan_criterion.gan_mode", f"'wgan' with {family}: ppimg2img trains WGAN (clipped critic) "
                                                   "only in its generation model", "Use lsgan or vanilla")
    for key, fixed in (("target_real_label", 1.0), ("target_fake_label", 0.0), ("loss_weight", 1.0)):
        if c.pop(key, fixed) != fixed:
            raise _err(f"model.gan_criterion.{key}", f"ppimg2img's GAN losses use {key} {fixed}", "Remove it")
    c.pop("gan_mode", None)
    _unknown({k: v for k, v in c.items() if k != "name"}, "model.gan_criterion",
             ["name", "gan_mode", "target_real_label", "target_fake_label", "loss_weight"], "GANLoss")
    return native


# =========================================================================== models

def _translate_model(model, ctx):
    """-> (native model section, PaddleGAN name, net groups, dataset direction or None)"""
    model = dict(model)
    pname = model.pop("name", None)
    if pname not in MODELS:
        raise _err("model.name", f"{pname!r} has no ppimg2img equivalent (translated: {', '.join(MODELS)})",
                   "ppimg2img trains CycleGAN, pix2pix, U-GAT-IT, photo2cartoon and the DCGAN family")
    native_name, groups = MODELS[pname]
    for key in ("to_static", "image_shape", "max_eval_steps"):
        if key in model:
            model.pop(key)
            ctx.ignore(f"model.{key}")
    direction = model.pop("direction", None)
    if direction is not None:
        direction = _value(DIRECTIONS, direction, "model.direction", "Use a2b or b2a")
    out = {"name": native_name}
    if pname == "CycleGANModel":
        out["generator"] = _generator(model, ctx)
        d = _section(model, "discriminator", "model")
        out["discriminator"] = _nlayer_checked(d, ctx, out["generator"], paired=False)
        out["gan_mode"] = _gan_mode(model, ctx, pname)
        cyc = _criterion(model, "cycle_criterion", "L1Loss", ctx)
        idt = _criterion(model, "idt_criterion", "L1Loss", ctx)
        cyc = 1.0 if cyc is None else cyc
        lam_a, lam_b = model.pop("lambda_a", 10.0), model.pop("lambda_b", 10.0)
        # PaddleGAN: cycle = L1 * cycle_weight * lambda; identity = L1 * idt_weight * lambda (of the other
        # domain); ppimg2img: cycle = lambda_A * L1, identity = lambda_identity * lambda_B * L1
        out["lambda_A"], out["lambda_B"] = float(lam_a * cyc), float(lam_b * cyc)
        out["lambda_identity"] = 0.0 if not idt else float(idt) / cyc
        out["pool_size"] = model.pop("pool_size", 50)
        _unknown(model, "model", ["generator", "discriminator", "gan_criterion", "cycle_criterion", "idt_criterion",
                                  "lambda_a", "lambda_b", "pool_size", "direction"], pname)
    elif pname == "Pix2PixModel":
        out["generator"] = _generator(model, ctx)
        d = _section(model, "discriminator", "model")
        out["discriminator"] = _nlayer_checked(d, ctx, out["generator"], paired=True)
        out["gan_mode"] = _gan_mode(model, ctx, pname)
        l1 = _criterion(model, "pixel_criterion", "L1Loss", ctx)
        out["lambda_L1"] = 0.0 if l1 is None else float(l1)
        _unknown(model, "model", ["generator", "discriminator", "gan_criterion", "pixel_criterion", "direction"], pname)
    elif pname == "UGATITModel":
        out["generator"] = _generator(model, ctx)
        if out["generator"]["name"] == "photo2cartoon":
            out["name"] = "Photo2CartoonModel"
            out["faceid_weight"] = 0.0
            ctx.note("UGATITModel with ResnetUGATITP2CGenerator -> Photo2CartoonModel with faceid_weight 0: "
                     "PaddleGAN trains photo2cartoon with U-GAT-IT's losses and clips rho and the Soft-AdaLIN "
                     "weights, as Photo2CartoonModel; PaddleGAN has no face-ID loss (set model.faceid_weight: 1 "
                     "and model.faceid_model for the original's)")
        elif out["generator"]["name"] != "ugatit":
            raise _err("model.generator.name", "UGATITModel takes ResnetUGATITGenerator or ResnetUGATITP2CGenerator",
                       "Use one of those")
        out["discriminator"], out["n_layers_local"] = _ugatit_discriminators(model, ctx)
        for key, cls in UGATIT_CRITERIA.items():
            w = _criterion(model, key, cls, ctx)
            if w not in (None, 1.0):
                raise _err(f"model.{key}.loss_weight", "U-GAT-IT weighs its losses with adv_weight, cycle_weight, "
                                                       "identity_weight and cam_weight", "Remove loss_weight")
        defaults = {"adv_weight": 1.0, "cycle_weight": 10.0, "identity_weight": 10.0, "cam_weight": 1000.0}
        for key in UGATIT_WEIGHTS:
            out[key] = float(model.pop(key, defaults[key]))
        _unknown(model, "model", ["generator", "discriminator_g", "discriminator_l", "direction", *UGATIT_CRITERIA,
                                  *UGATIT_WEIGHTS], pname)
    elif pname in ("DCGANModel", "GANModel"):
        out["generator"] = _generator(model, ctx)
        d = _section(model, "discriminator", "model")
        dname = d.get("name")
        if dname == "DCDiscriminator":
            out["discriminator"] = _dcdiscriminator(dict(d), "model.discriminator", ctx, out["generator"])
        elif dname in ("NLayerDiscriminator", "NLayerDiscriminatorWithClassification"):
            out["discriminator"] = _nlayer_as_dcgan(dict(d), "model.discriminator", ctx, out["generator"],
                                                    conditional=dname == "NLayerDiscriminatorWithClassification")
        else:
            raise _err("model.discriminator.name", f"{dname!r} has no equivalent in ppimg2img's generation model",
                       "Use DCDiscriminator, NLayerDiscriminator or NLayerDiscriminatorWithClassification")
        out["gan_mode"] = _gan_mode(model, ctx, "GANModel")
        if out["gan_mode"] == "wgan":
            out["clip_value"] = 0.01  # PaddleGAN's GANModel clips the critic to [-0.01, 0.01] after each step
        params = dict(model.pop("params", None) or {})
        if "disc_iters" in params:
            out["n_critic"] = params.pop("disc_iters")
        if params.pop("disc_start_iters", 0) != 0:
            raise _err("model.params.disc_start_iters", "ppimg2img starts the generator steps at once",
                       "Remove it (or set 0)")
        for key in ("samples_every_row", "visual_interval"):
            if key in params:
                params.pop(key)
                ctx.ignore(f"model.params.{key}")
        _unknown(params, "model.params", ["disc_iters", "disc_start_iters", "samples_every_row", "visual_interval"],
                 pname)
        if out["generator"].get("n_classes") and out["discriminator"].get("cond_mode") is None:
            raise _err("model.discriminator.name", "the generator is conditional but the discriminator is not",
                       "Use NLayerDiscriminatorWithClassification")
        _unknown(model, "model", ["generator", "discriminator", "gan_criterion", "params"], pname)
    else:  # StyleGAN2Model
        out["generator"] = _generator(model, ctx)
        if out["generator"]["name"] != "stylegan2":
            raise _err("model.generator.name", "StyleGAN2Model takes StyleGANv2Generator", "Use it")
        out["discriminator"] = _stylegan2_d(_section(model, "discriminator", "model"), "model.discriminator", ctx,
                                            out["generator"])
        c = dict(_section(model, "gan_criterion", "model"))
        if c.get("gan_mode") != "logistic" or c.get("loss_weight", 1.0) != 1.0:
            raise _err("model.gan_criterion", f"{c}: StyleGAN2 trains with the non-saturating logistic loss",
                       "Set gan_mode: logistic (loss_weight 1)")
        if model.pop("num_style_feat", out["generator"]["style_dim"]) != out["generator"]["style_dim"]:
            raise _err("model.num_style_feat", "differs from generator.style_dim: z has the style's length",
                       "Remove num_style_feat")
        for key, native in STYLEGAN2_KEYS.items():
            if key in model:
                out[native] = model.pop(key)
        if "path_batch_shrink" in out:
            out["path_batch_shrink"] = int(out["path_batch_shrink"])
        params = dict(model.pop("params", None) or {})
        for key, native in STYLEGAN2_PARAMS.items():
            if key in params:
                out[native] = params.pop(key)
        if params.pop("disc_start_iters", 0) != 0:
            raise _err("model.params.disc_start_iters", "ppimg2img starts the generator steps at once",
                       "Remove it (or set 0)")
        if "visual_iters" in params:
            params.pop("visual_iters")
            ctx.ignore("model.params.visual_iters",
                       "visuals follow log_config.visiual_interval (train.visual_interval)")
        _unknown(params, "model.params", [*STYLEGAN2_PARAMS, "disc_start_iters", "visual_iters"], pname)
        _unknown(model, "model", ["generator", "discriminator", "gan_criterion", "num_style_feat", "params",
                                  *STYLEGAN2_KEYS], pname)
        ctx.note("StyleGAN2Model: regularisation at iterations 0, k, 2k... (PaddleGAN: k, 2k...), as rosinality's "
                 "train.py; the G EMA is netG_ema (PaddleGAN: gen_ema)")
    return out, pname, groups, direction


def _nlayer_checked(d, ctx, generator, paired):
    if d.get("name") != "NLayerDiscriminator":
        raise _err("model.discriminator.name", f"{d.get('name')!r}: this model takes NLayerDiscriminator",
                   "Set name: NLayerDiscriminator")
    d = dict(d)
    _check_d_channels(d, "model.discriminator", generator, paired)
    return _nlayer(d, "model.discriminator", ctx, generator)


# =========================================================================== data

def _pipeline(steps, where, paired):
    """A Transforms pipeline -> {preprocess, load_size, crop_size, flip}."""
    load = crop = None
    flip = False
    for i, step in enumerate(steps or []):
        w = f"{where}[{i}]"
        if not isinstance(step, dict) or "name" not in step:
            raise _err(w, f"expected a mapping with a name, got {step!r}", "Write it as PaddleGAN's configs do")
        step = dict(step)
        name = step.pop("name")
        step.pop("keys", None)
        if name == "Resize":
            size = step.pop("size", None)
            if isinstance(size, int) or not (isinstance(size, (list, tuple)) and len(size) == 2 and size[0] == size[1]):
                raise _err(f"{w}.size", f"{size!r}: ppimg2img resizes to a square load_size",
                           "Use a square size [N, N]")
            interp = step.pop("interpolation", "bilinear")  # paddle.vision.transforms.Resize's default
            if interp != "bicubic":
                raise _err(f"{w}.interpolation", f"{interp!r}: ppimg2img's datasets resize bicubically, as the "
                                                 "original CycleGAN/pix2pix", "Set interpolation: 'bicubic'")
            if crop is not None:
                raise _err(w, "Resize after the crop", "Put Resize before the crop")
            load = int(size[0])
        elif name in ("RandomCrop", "PairedRandomCrop"):
            size = step.pop("size", None)
            size = [size, size] if isinstance(size, int) else size
            if not (isinstance(size, (list, tuple)) and len(size) == 2 and size[0] == size[1]):
                raise _err(f"{w}.size", f"{size!r}: ppimg2img crops squares", "Use a square size [N, N]")
            for key in ("padding", "pad_if_needed"):
                if step.pop(key, None) not in (None, 0, False):
                    raise _err(f"{w}.{key}", "ppimg2img crops without padding", f"Remove {key}")
            crop = int(size[0])
        elif name in ("RandomHorizontalFlip", "PairedRandomHorizontalFlip"):
            if step.pop("prob", 0.5) != 0.5:
                raise _err(f"{w}.prob", "ppimg2img flips with probability 0.5", "Remove prob (or set 0.5)")
            flip = True
        elif name == "Transpose":
            if step.pop("order", (2, 0, 1)) not in ((2, 0, 1), [2, 0, 1]):
                raise _err(f"{w}.order", "images are CHW", "Remove order")
        elif name == "Normalize":
            mean, std = step.pop("mean", None), step.pop("std", None)
            if not (isinstance(mean, list) and isinstance(std, list) and set(mean) == {127.5} and set(std) == {127.5}):
                raise _err(w, f"mean {mean} / std {std}: ppimg2img's images are in [-1, 1] "
                              "(mean 127.5, std 127.5)", "Use mean [127.5, 127.5, 127.5] and std [127.5, 127.5, 127.5]")
        else:
            raise _err(f"{w}.name", f"{name!r} has no ppimg2img equivalent (translated: {', '.join(TRANSFORMS)})",
                       "Remove it; ppimg2img's datasets do resize, crop and flip")
        _unknown({k: v for k, v in step.items()}, w, ["name", "keys"], name)
    if load is not None and crop is not None:
        if crop > load:
            raise _err(where, f"crop {crop} larger than the resize {load}", "Crop at most the resized size")
        return {"preprocess": "resize_and_crop", "load_size": load, "crop_size": crop, "flip": flip}
    if load is not None:
        return {"preprocess": "resize_and_crop", "load_size": load, "crop_size": load, "flip": flip}
    if crop is not None:
        return {"preprocess": "crop", "load_size": crop, "crop_size": crop, "flip": flip}
    return {"preprocess": "none", "flip": flip}


def _preprocess(steps, where, paired):
    """The preprocess list (LoadImageFromFile, SplitPairedImage, Transforms) -> the transform options."""
    if not isinstance(steps, list):
        raise _err(where, f"expected a list of steps, got {steps!r}", "Write it as PaddleGAN's configs do")
    result = {"preprocess": "none", "flip": False}
    for i, step in enumerate(steps):
        w = f"{where}[{i}]"
        step = dict(step or {})
        name = step.pop("name", None)
        if name == "LoadImageFromFile":
            for key in ("to_rgb", "backend"):
                step.pop(key, None)
            if step.pop("channel_order", "rgb") != "rgb":
                raise _err(f"{w}.channel_order", "ppimg2img reads RGB", "Remove channel_order")
            step.pop("key", None)
        elif name == "SplitPairedImage":
            if not paired:
                raise _err(w, "SplitPairedImage in an unpaired dataset", "Use PairedDataset for side-by-side images")
            step.pop("key", None)
            if list(step.pop("paired_keys", ["A", "B"])) != ["A", "B"]:
                raise _err(f"{w}.paired_keys", "the left half is A, the right half B", "Use paired_keys: [A, B]")
        elif name == "Transforms":
            step.pop("input_keys", None)
            step.pop("output_keys", None)
            result = _pipeline(step.pop("pipeline", []), f"{w}.pipeline", paired)
        else:
            raise _err(f"{w}.name", f"{name!r} has no ppimg2img equivalent (translated: LoadImageFromFile, "
                                    "SplitPairedImage, Transforms)", "Remove it")
        _unknown(step, w, [], name)
    return result


def _split_root(path, suffix, where, layout):
    """``data/horse2zebra/trainA`` -> (``data/horse2zebra``, ``train``) for suffix 'A'."""
    norm = posixpath.normpath(str(path).replace(os.sep, "/"))
    parent, last = posixpath.split(norm)
    if not last.endswith(suffix) or len(last) <= len(suffix):
        raise _err(where, f"{path!r}: ppimg2img reads {layout}",
                   "Name the folders that way (a symbolic link is enough), then point the key at them")
    return parent or ".", last[: len(last) - len(suffix)]


def _dataset(d, split, ctx, native_model, direction):
    where = f"dataset.{split}"
    d = dict(d)
    name = d.pop("name", None)
    loader = {}
    for key in LOADER_KEYS:
        if key in d:
            value = d.pop(key)
            if split == "train":
                loader[LOADER_KEYS[key]] = value
            else:
                ctx.ignore(f"{where}.{key}")
    if "use_shared_memory" in d:
        d.pop("use_shared_memory")
        ctx.ignore(f"{where}.use_shared_memory")
    out = {}
    if name == "UnpairedDataset":
        for key in ("dataroot_a", "dataroot_b"):
            if key not in d:
                raise _err(f"{where}.{key}", "missing", "Set the folder of the domain's images")
        layout = "<dataroot>/<phase>A and <dataroot>/<phase>B (for example data/horse2zebra/trainA and trainB)"
        root_a, phase_a = _split_root(d.pop("dataroot_a"), "A", f"{where}.dataroot_a", layout)
        root_b, phase_b = _split_root(d.pop("dataroot_b"), "B", f"{where}.dataroot_b", layout)
        if (root_a, phase_a) != (root_b, phase_b):
            raise _err(f"{where}.dataroot_b", f"{root_b}/{phase_b}B does not sit next to {root_a}/{phase_a}A: "
                                              f"ppimg2img reads {layout}",
                       "Put both folders in one parent with matching names")
        out = {"name": "UnalignedDataset", "dataroot": root_a, "phase": phase_a}
        is_train = d.pop("is_train", split == "train")
        max_size = d.pop("max_size", None)
        out.update(_preprocess(d.pop("preprocess", []), f"{where}.preprocess", paired=False))
        out["serial_batches"] = not is_train  # PaddleGAN: random B when training, B[i % |B|] otherwise
        out["max_dataset_size"] = None if _is_inf(max_size) else _number(max_size, f"{where}.max_size")
        if not _is_inf(max_size):
            ctx.note(f"{where}.max_size {max_size}: PaddleGAN's UnpairedDataset ignores it; ppimg2img uses at most "
                     f"{int(max_size)} images per domain (max_dataset_size)")
    elif name == "PairedDataset":
        if "dataroot" not in d:
            raise _err(f"{where}.dataroot", "missing", "Set the folder of side-by-side images")
        parent, phase = posixpath.split(posixpath.normpath(str(d.pop("dataroot")).replace(os.sep, "/")))
        out = {"name": "AlignedDataset", "dataroot": parent or ".", "phase": phase}
        out.update(_preprocess(d.pop("preprocess", []), f"{where}.preprocess", paired=True))
    elif name == "CommonVisionDataset":
        dname = d.pop("dataset_name", None)
        native, root, dl = _value(VISION_DATASETS, dname, f"{where}.dataset_name",
                                  "Use MNIST, FashionMNIST or Cifar10, or a native config with ImageFolderDataset")
        out = {"name": native, "dataroot": root}
        params = dict(d.pop("params", None) or {})
        mode = params.pop("mode", "train" if split == "train" else "test")
        out["phase"] = _value({"train": "train", "test": "test"}, mode, f"{where}.params.mode", "Use train or test")
        _unknown(params, f"{where}.params", ["mode"], "CommonVisionDataset")
        labels = d.pop("return_label", True)
        if labels is False and (native_model.get("generator") or {}).get("n_classes"):
            raise _err(f"{where}.return_label", "False but the generator is conditional", "Set return_label: True")
        t = _pipeline(d.pop("transforms", []), f"{where}.transforms", paired=False)
        if t["preprocess"] not in ("resize_and_crop", "none") or t.get("crop_size") not in (None, t.get("load_size")):
            raise _err(f"{where}.transforms", "cropping: ppimg2img's generation datasets only resize (and flip)",
                       "Remove the crop")
        out["image_size"] = t.get("load_size")
        out["flip"] = t["flip"]
        ctx.note(f"{where}: {dname} is read from {root} (get it with `ppimg2img download-dataset {dl}`), where "
                 "PaddleGAN downloaded it through paddle.vision")
    elif name == "SingleDataset":
        if "dataroot" not in d:
            raise _err(f"{where}.dataroot", "missing", "Set the image folder")
        t = _preprocess(d.pop("preprocess", []), f"{where}.preprocess", paired=False)
        size = (native_model.get("generator") or {}).get("size")
        if t["preprocess"] != "none" and t.get("crop_size") != t.get("load_size"):
            raise _err(f"{where}.preprocess", "cropping: ppimg2img's image-folder dataset only resizes (and flips)",
                       "Remove the crop")
        out = {"name": "ImageFolderDataset", "dataroot": posixpath.normpath(str(d.pop("dataroot"))),
               "image_size": t.get("load_size") or size, "flip": t["flip"]}
        if not t.get("load_size"):
            ctx.note(f"{where}: images are resized to {size}px if they are not that size already (PaddleGAN "
                     "expected them at the generator's size)")
    else:
        raise _err(f"{where}.name", f"{name!r} has no ppimg2img equivalent (translated: {', '.join(DATASETS)})",
                   "Use one of those, or a native config (docs/config.md)")
    if direction is not None and out["name"] in ("UnalignedDataset", "AlignedDataset"):
        out["direction"] = direction
    _unknown(d, where, ["name", "batch_size", "num_workers", "preprocess", "dataroot", "dataroot_a", "dataroot_b",
                        "is_train", "max_size"], name)
    return out, loader


# =========================================================================== optimiser and schedule

def _optimizer_group(o, where):
    o = dict(o)
    name = o.pop("name", None)
    native = _value(OPTIMIZERS, name, f"{where}.name", "Use Adam or RMSProp")
    o.pop("net_names", None)
    if native == "adam":
        s = {**ADAM_DEFAULTS, **o}
        if s.pop("epsilon") != 1e-8:
            raise _err(f"{where}.epsilon", "ppimg2img's Adam uses epsilon 1e-8", "Remove epsilon")
        for key in ("lazy_mode", "multi_precision", "grad_clip"):
            if s.get(key) not in (None, False):
                raise _err(f"{where}.{key}", "has no ppimg2img equivalent", f"Remove {key}")
            s.pop(key, None)
        out = {"name": "adam", "beta1": float(s.pop("beta1")), "beta2": float(s.pop("beta2")),
               "weight_decay": float(s.pop("weight_decay") or 0.0)}
    else:
        s = {**RMSPROP_DEFAULTS, **o}
        if s.pop("momentum") != 0 or s.pop("centered"):
            raise _err(where, "momentum or centered RMSProp: ppimg2img's RMSprop has neither (WGAN's)",
                       "Remove momentum and centered")
        # Paddle adds epsilon inside the square root; ppimg2img's eps is PyTorch's (outside), passed squared
        out = {"name": "rmsprop", "alpha": float(s.pop("rho")), "eps": math.sqrt(float(s.pop("epsilon"))),
               "weight_decay": float(s.pop("weight_decay") or 0.0)}
    _unknown(s, where, ["name", "net_names", "beta1", "beta2", "epsilon", "weight_decay", "rho", "momentum",
                        "centered"], name)
    return out


def _optimizer(opt, groups, pname, model=None):
    """optimizer.{optimG, optimD} (or optimizer_G/_D) -> one native optimizer section."""
    if not isinstance(opt, dict) or not opt:
        raise _err("optimizer", "missing", "PaddleGAN configs name one optimizer per net group (optimG, optimD)")
    found = {}
    for key, o in opt.items():
        if not isinstance(o, dict) or "net_names" not in o:
            raise _err(f"optimizer.{key}", "expected a group with name and net_names",
                       "Write it as PaddleGAN's configs do")
        nets = sorted(o["net_names"])
        role = next((r for r, names in groups.items() if sorted(names) == nets), None)
        if role is None:
            raise _err(f"optimizer.{key}.net_names", f"{o['net_names']}: {pname} trains the groups "
                                                     f"{' and '.join(str(v) for v in groups.values())}",
                       "Name those nets, one group per optimizer")
        found[role] = (key, _optimizer_group(o, f"optimizer.{key}"))
    for role, names in groups.items():
        if role not in found:
            raise _err("optimizer", f"no group for {names}", "Add one (PaddleGAN trains nothing without it)")
    (kg, og), (kd, od) = found["G"], found["D"]
    if pname == "StyleGAN2Model":
        # PaddleGAN's config writes the betas already corrected for lazy regularisation, as beta * c
        # (c = k / (k + 1)); ppimg2img takes the plain betas and applies the reference's beta ** c
        for o, every in ((og, model.get("g_reg_every", 4)), (od, model.get("d_reg_every", 16))):
            c = every / (every + 1)
            for key in ("beta1", "beta2"):
                o[key] = round(o[key] / c, 12)
    if og != od:
        diff = [k for k in og if og[k] != od.get(k)]
        raise _err(f"optimizer.{kd}", f"differs from optimizer.{kg} in {', '.join(diff)}: ppimg2img uses one "
                                      "optimizer setting for every net group", "Use the same settings in both")
    return og


def _schedule(sched, ctx, by_epoch, total_iters=None):
    """lr_scheduler -> (optimizer.lr, native lr_scheduler)."""
    s = dict(sched or {})
    if not s:
        raise _err("lr_scheduler", "missing", "PaddleGAN configs set the learning rate there (learning_rate)")
    name = s.pop("name", None)
    if name == "MultiStepDecay":
        milestones = list(s.pop("milestones", []))
        s.pop("gamma", None)
        if "learning_rate" not in s:
            raise _err("lr_scheduler.learning_rate", "missing (PaddleGAN requires it)", "Set it")
        lr = _number(s.pop("learning_rate"), "lr_scheduler.learning_rate", float)
        s.pop("last_epoch", None)
        _unknown(s, "lr_scheduler", ["name", "learning_rate", "milestones", "gamma"], name)
        if by_epoch or any(m < total_iters for m in milestones):
            raise _err("lr_scheduler.milestones", f"{milestones}: ppimg2img's LR policies change the rate once per "
                                                  "epoch, not at an iteration",
                       "Remove the milestones before total_iters (a constant rate), or use LinearDecay")
        ctx.note(f"lr_scheduler: MultiStepDecay's milestones {milestones} are not before total_iters: a constant rate")
        return lr, {"policy": "linear", "n_epochs": 1000000, "n_epochs_decay": 0}
    policy = _value(LR_SCHEDULERS, name, "lr_scheduler.name", "ppimg2img's policies are linear, step, cosine and "
                                                             "plateau: write a native config for the others")
    if "iters_per_epoch" in s:
        s.pop("iters_per_epoch")
        ctx.ignore("lr_scheduler.iters_per_epoch")
    for key in ("learning_rate", "start_epoch", "decay_epochs"):
        if key not in s:
            raise _err(f"lr_scheduler.{key}", "missing (PaddleGAN requires it)", "Set it")
    lr = _number(s.pop("learning_rate"), "lr_scheduler.learning_rate", float)
    out = {"policy": policy, "n_epochs": _number(s.pop("start_epoch"), "lr_scheduler.start_epoch"),
           "n_epochs_decay": _number(s.pop("decay_epochs"), "lr_scheduler.decay_epochs")}
    _unknown(s, "lr_scheduler", ["name", "learning_rate", "start_epoch", "decay_epochs", "iters_per_epoch"], name)
    if not by_epoch:
        ctx.note("lr_scheduler: LinearDecay counts epochs (iterations // iters_per_epoch) in PaddleGAN too; "
                 "total_iters only sets where training stops (train.max_iters)")
    return lr, out


# =========================================================================== the whole config

def translate(cfg, source=None, name=None):
    """Translate a parsed PaddleGAN config into a :class:`Translation` (native config not yet validated).

    ``name``: the run name (default: the source file's name), for PaddleGAN's ``output_dir``.
    """
    markers = detect(cfg)
    if not markers:
        raise PaddleGANConfigError(f"{source or 'config'}: not a PaddleGAN config (none of its keys: epochs, "
                                   "total_iters, snapshot_config, log_config, lr_scheduler.name, optimizer.optimG)")
    ctx = _Ctx()
    cfg = copy.deepcopy(cfg)
    name = name or (os.path.splitext(os.path.basename(source))[0] if source else "run")
    for key in list(cfg):
        if key not in PADDLEGAN_TOP_LEVEL:
            raise _err(key, "is not a key of PaddleGAN's configs (nor translated)",
                       "Remove it; a native ppimg2img config cannot be mixed with PaddleGAN keys")
        if key in IGNORED:
            cfg.pop(key)
            ctx.ignore(key)
    train = {}
    by_epoch = "total_iters" not in cfg
    if "epochs" in cfg:
        train["epochs"] = _number(cfg.pop("epochs"), "epochs")
    if "total_iters" in cfg:
        train["max_iters"] = _number(cfg.pop("total_iters"), "total_iters")
    if not train:
        raise _err("epochs", "missing (PaddleGAN needs epochs or total_iters)", "Set epochs")
    native = {}
    if "output_dir" in cfg:
        native["output_dir"] = posixpath.join(str(cfg.pop("output_dir")), name)
        ctx.note(f"output_dir: the run folder is {native['output_dir']} (PaddleGAN added '-<timestamp>' to each "
                 "run's folder; ppimg2img keeps one folder per config, so --resume finds it)")
    if "enable_visualdl" in cfg:
        train["visualdl"] = bool(cfg.pop("enable_visualdl"))
    model, pname, groups, direction = _translate_model(_section(cfg, "model", "config"), ctx)
    native["model"] = model
    data = _section(cfg, "dataset", "config")
    if "train" not in data:
        raise _err("dataset.train", "missing", "Describe the training data")
    native["dataset"] = {}
    for split in ("train", "test"):
        if split in data:
            native["dataset"][split], loader = _dataset(data.pop(split), split, ctx, model, direction)
            train.update(loader)
        else:
            native["dataset"][split] = None
    _unknown(data, "dataset", ["train", "test"], "datasets")
    lr, native["lr_scheduler"] = _schedule(cfg.pop("lr_scheduler", None), ctx, by_epoch, train.get("max_iters"))
    native["optimizer"] = {"lr": lr, **_optimizer(cfg.pop("optimizer", None), groups, pname, model)}
    if pname == "StyleGAN2Model":
        ctx.note(f"optimizer: PaddleGAN writes the Adam betas of StyleGAN2 already scaled by c = k/(k+1) for lazy "
                 f"regularisation (beta * c); the translation divides c out (beta1 {native['optimizer']['beta1']}, "
                 f"beta2 {native['optimizer']['beta2']}) and ppimg2img applies the reference's beta ** c")
        batch = train.get("batch_size", 1)
        model["ema_kimg"] = batch * STYLEGAN2_EMA_KIMG / STYLEGAN2_EMA_DECAY_BATCH
        ctx.note(f"model.ema_kimg {model['ema_kimg']:g}: PaddleGAN's G EMA decays by 0.5 ** (32 / 10000) per "
                 f"iteration whatever the batch; ppimg2img's by 0.5 ** (batch / (ema_kimg * 1000)), so batch "
                 f"{batch} needs this ema_kimg")
    log = dict(cfg.pop("log_config", None) or {})
    train.update(_take(log, LOG_KEYS, "log_config", "logging"))
    snap = dict(cfg.pop("snapshot_config", None) or {})
    train.update(_take(snap, SNAPSHOT_KEYS_EPOCHS if by_epoch else SNAPSHOT_KEYS_ITERS, "snapshot_config",
                       "checkpoints"))
    if not by_epoch and "epochs" not in train:
        train["epochs"] = 1000000  # PaddleGAN stops at total_iters only: so does the run (train.max_iters)
    native["train"] = train
    leftover = {k: v for k, v in cfg.items()}
    _unknown(leftover, "config", list(PADDLEGAN_TOP_LEVEL), "the run")
    return Translation(native, ctx.ignored, ctx.notes, markers, source)


# =========================================================================== files and overrides

def split_overrides(opts, paddlegan_cfg):
    """``-o`` overrides of a PaddleGAN run: keys whose first part is a PaddleGAN top-level key
    (model., dataset., epochs, ...) change the PaddleGAN config before the translation, as
    PaddleGAN's own ``-o``; the others (train., eval., seed, name, device, threads) the native one."""
    pg, native = [], []
    for opt in opts or []:
        head = opt.split("=", 1)[0].strip().split(".", 1)[0]
        (pg if head in PADDLEGAN_TOP_LEVEL or head in paddlegan_cfg else native).append(opt)
    return pg, native


def load_paddlegan_config(path, opts=None, native_overrides=None, name=None):
    """Read PaddleGAN config ``path``, apply ``opts`` (``key=value``, PaddleGAN keys first, see
    :func:`split_overrides`) and ``native_overrides`` (a dict), translate and validate it.

    Returns ``(resolved native config, Translation)``; errors name the file.
    """
    from .config import validate
    from .engine.schema import CONFIG_SCHEMA
    raw = read_yaml(path)
    pg_opts, native_opts = split_overrides(opts, raw)
    try:
        raw = merge(raw, parse_overrides(pg_opts))
        tr = translate(raw, source=path, name=name)
        cfg = merge(tr.config, parse_overrides(native_opts))
        cfg = merge(cfg, native_overrides or {})
        resolved = validate(cfg, CONFIG_SCHEMA, where="config")
    except ConfigError as err:
        raise type(err)(f"{path} (PaddleGAN format): {err}") from None
    return resolved, tr


def header(tr):
    """Comment lines naming the source file, the ignored keys and the notes of a translation."""
    lines = [f"# Translated from the PaddleGAN config {tr.source or '(unnamed)'} by ppimg2img "
             "(ppimg2img/paddlegan_config.py).",
             f"# Detected by: {', '.join(tr.detected_by)}.",
             "# Run this file as it is with: python tools/main.py -c THIS_FILE"]
    for key, why in tr.ignored:
        lines.append(f"# ignored: {key}: {why}")
    for text in tr.notes:
        lines.append(f"# note: {text}")
    return "\n".join(lines) + "\n"


def render(tr, resolved=None):
    """The translation as a YAML document: :func:`header`, then the native config (``resolved`` if given)."""
    body = yaml.safe_dump(resolved if resolved is not None else tr.config, sort_keys=False, default_flow_style=False)
    return header(tr) + body
