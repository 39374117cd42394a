"""Write docs/config.md, the config reference, from the config schema (ppimg2img/engine/schema.py).

    python tools/make_config_reference.py           # rewrite docs/config.md
    python tools/make_config_reference.py --check   # exit 1 if docs/config.md is out of date

Every key's type, default, allowed values and minimum come from the schema, so they cannot drift.
Its meaning comes from, in this order: the schema's ``help``; ``DESCRIPTIONS`` below (keyed
by schema path) for constructor arguments the schema has no place to describe; the ``Args:``
section of the docstring of the class or function a ``name`` picks (datasets). A key with no description stops the
generator with the list of keys to describe, and so does a ``DESCRIPTIONS`` entry that matches
no key any more.
"""
import argparse
import difflib
import fnmatch
import inspect
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from ppimg2img.config import Component, Field, Section, _type_names  # noqa: E402
from ppimg2img.engine.schema import CONFIG_SCHEMA  # noqa: E402

OUTPUT = os.path.join(ROOT, "docs", "config.md")

_NORM = "normalisation layer: 'instance' (InstanceNorm, no affine parameters), 'batch' (BatchNorm) or 'none'"
_GEN_COMMON = {
    "input_nc": "channels of the input image (3 RGB, 1 grayscale)",
    "output_nc": "channels of the output image",
    "ngf": "filters of the first conv layer; the others are multiples of it (original default 64)",
    "norm": _NORM,
    "use_dropout": "dropout 0.5 (in the residual blocks of a ResNet, in the three innermost ngf*8 "
                   "decoder blocks of a U-Net)",
    "padding_type": "padding of the residual blocks' convs: 'reflect' (original default), 'replicate' or 'zero'",
    "n_blocks": "residual blocks in the encoder and adaILN blocks in the decoder (original 4)",
    "img_size": "image side the generator is built for: the full (non-light) model's MLP reads the "
                "flattened (img_size/4)^2 feature map, so only this size is accepted",
    "light": "light version: the style MLP reads the average-pooled features instead of the whole "
             "feature map (any input size, far fewer weights)",
}
_GAN = {
    "gan_mode": "adversarial loss: 'lsgan' (least squares), 'vanilla' (cross-entropy), 'wgangp' "
                "(Wasserstein with gradient penalty) or 'hinge'",
    "init_type": "weight initialisation: normal, xavier, kaiming or orthogonal (original: normal)",
    "init_gain": "scale of the initialisation (std of 'normal', gain of xavier/orthogonal; original 0.02)",
}
_UGATIT = {
    "adv_weight": "weight of the adversarial losses (original 1)",
    "cycle_weight": "weight of the cycle-consistency L1 loss",
    "identity_weight": "weight of the identity L1 loss (original 10)",
    "cam_weight": "weight of the generator's CAM (attention) classification loss (original 1000)",
    "n_layers_local": "layers of the local discriminators (original 5); model.discriminator describes the "
                      "global ones (n_layers 7)",
}

#: Meanings of constructor arguments that neither the schema nor a docstring describes, keyed by
#: schema path: ``section[choice].key``; ``*`` matches any choice.
DESCRIPTIONS = {
    **{f"model.generator[*].{k}": v for k, v in _GEN_COMMON.items()},
    "model.generator[photo2cartoon].ngf": "filters of the first conv layer (photo2cartoon original 32)",
    "model.generator[photo2cartoon].light": "light version: the style MLP reads pooled features "
                                            "(original training default: light)",
    "model.discriminator[*].input_nc": "ignored: the models set it from the generator's channels (CycleGAN, "
                                       "U-GAT-IT: the domain's; pix2pix: input_nc + output_nc, as its "
                                       "conditional D judges the pair)",
    "model.discriminator[*].ndf": "filters of the first conv layer (original default 64)",
    "model.discriminator[*].norm": _NORM,
    "model.discriminator[n_layers].n_layers": "strided 4x4 conv layers; 3 is the 70x70 PatchGAN ('basic')",
    "model.discriminator[ugatit].n_layers": "layers of the global discriminator (original 7; the local "
                                            "ones use model.n_layers_local)",
    **{f"model[{m}].{k}": v for m in ("CycleGANModel", "Pix2PixModel", "ColorizationModel")
       for k, v in _GAN.items()},
    "model[CycleGANModel].lambda_A": "weight of the cycle loss A -> B -> A (original 10)",
    "model[CycleGANModel].lambda_B": "weight of the cycle loss B -> A -> B (original 10)",
    "model[CycleGANModel].lambda_identity": "weight of the identity loss, relative to lambda_A/lambda_B "
                                            "(original 0.5; 0 turns it off)",
    "model[CycleGANModel].lambda_gp": "weight of the gradient penalty (gan_mode wgangp only)",
    "model[CycleGANModel].pool_size": "image pool of earlier fakes shown to the discriminators "
                                      "(original 50; 0: no pool)",
    "model[Pix2PixModel].lambda_L1": "weight of the L1 loss between output and target (original 100)",
    "model[ColorizationModel].lambda_L1": "weight of the L1 loss on the ab channels (original 100)",
    **{f"model[{m}].{k}": v for m in ("UGATITModel", "Photo2CartoonModel") for k, v in _UGATIT.items()},
    "model[Photo2CartoonModel].faceid_weight": "weight of the face-ID loss (1 - cosine similarity of "
                                               "MobileFaceNet embeddings of photo and cartoon); 0: off",
    "model[Photo2CartoonModel].faceid_model": "MobileFaceNet weights for the face-ID loss "
                                              "(model_mobilefacenet.pth or a converted .pdparams)",
    "dataset.train[AlignedDataset].output_nc": "channels of the target 'B' (1 = grayscale, 3 = RGB)",
    "dataset.train[*].serial_batches": "read the images in order instead of shuffling (test sets)",
    "dataset.train[*].preprocess": "'resize_and_crop' (resize to load_size, random crop_size crop; pix2pix and "
                                   "CycleGAN default 286 -> 256), 'crop', 'scale_width', 'scale_width_and_crop' "
                                   "or 'none'; paired datasets crop both halves alike",
    "dataset.train[*].load_size": "resize target before cropping (original default 286)",
    "dataset.train[*].crop_size": "random crop size (original default 256)",
    "dataset.train[*].flip": "random horizontal flip (the original's `not no_flip`); paired datasets flip both halves",
    "optimizer.name": "optimizer: only 'adam' (as the originals)",
    "optimizer.beta1": "Adam beta1 (original 0.5)",
    "optimizer.beta2": "Adam beta2 (original 0.999)",
    "optimizer.weight_decay": "coupled L2 weight decay, as torch.optim.Adam's (U-GAT-IT: 1e-4)",
    "lr_scheduler.policy": "'linear': constant for n_epochs, then linear decay to 0 over n_epochs_decay; "
                           "'step': x0.1 every lr_decay_iters epochs; 'cosine': cosine annealing to 0 "
                           "over n_epochs; 'plateau': x0.2 when the epoch's mean loss stalls for 5 epochs",
    "lr_scheduler.n_epochs": "epochs at the initial learning rate ('linear'), or the cosine period",
    "lr_scheduler.n_epochs_decay": "epochs of linear decay to 0 ('linear')",
    "lr_scheduler.epoch_count": "epoch number the schedule starts at (the original's --epoch_count)",
    "lr_scheduler.lr_decay_iters": "'step': epochs between two x0.1 steps",
}


_NOUNS = {"dataset.train": "dataset class", "model": "model class"}


class MissingDescription(SystemExit):
    pass


def _fmt(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _docstring_args(fn):
    """``({name: text}, {name: text})`` from a Google-style ``Args:`` block: entries for one name,
    and entries shared by several (``a, b: text``), which are only used when nothing more
    specific describes a key. ``a: text; b: text`` on one line documents both."""
    doc = inspect.getdoc(fn) or ""
    match = re.search(r"^Args:\n((?:[ \t]+.*\n?|\n)+)", doc, re.M)
    entries, names = [], []
    for line in (match.group(1).splitlines() if match else []):
        entry = re.match(r"^ {4}([A-Za-z_][\w, ]*):\s+(.*)", line)
        if entry:
            names = [n.strip() for n in entry.group(1).split(",")]
            entries.append([names, entry.group(2).strip()])
        elif line.strip() and entries:  # continuation line
            entries[-1][1] += " " + line.strip()
    single, shared = {}, {}
    for names, text in entries:
        parts = re.split(r";\s+([A-Za-z_]\w*):\s+", text)  # 'a: text; b: text'
        for i, name in enumerate([None] + parts[1::2]):
            piece = re.sub(r"\bNone\b", "null", parts[2 * i].replace("``", "`")).strip().rstrip(".")
            for n in (names if name is None else [name]):
                (single if len(names) == 1 or name is not None else shared)[n] = piece
    return single, shared


class Reference:
    """Collects the rows of every section and the keys that have no description."""

    def __init__(self):
        self.blocks = []  # (heading, intro, rows)
        self.missing = []
        self.used = set()

    def describe(self, path, field, doc_args=None):
        if field.help:
            return field.help
        key = path.rsplit(".", 1)[1]
        single, shared = doc_args or ({}, {})
        if path in DESCRIPTIONS:
            self.used.add(path)
            return DESCRIPTIONS[path]
        if key in single:
            return single[key]
        for pattern, text in DESCRIPTIONS.items():
            if "*" in pattern and fnmatch.fnmatchcase(path, pattern.replace("[", "[[]")):
                self.used.add(pattern)
                return text
        if key in shared:
            return shared[key]
        self.missing.append(path)
        return ""

    def row(self, path, key, field, doc_args=None):
        allowed = []
        if field.choices is not None:
            allowed.append(", ".join(f"`{_fmt(c)}`" for c in field.choices))
        if field.minimum is not None:
            allowed.append(f">= {field.minimum}")
        default = "**required**" if field.required else f"`{_fmt(field.default)}`"
        return (f"`{key}`", _type_names(field.types), default, "; ".join(allowed),
                self.describe(path, field, doc_args))

    def section(self, spec, path):
        rows, later = [], []
        for key, sub in spec.fields.items():
            if isinstance(sub, Field):
                rows.append(self.row(f"{path}.{key}" if path else key, key, sub))
            else:
                later.append((key, sub))
        title = f"`{path}`" if path else "Top level"
        intro = spec.help + (" (optional: `null` or absent skips it)" if spec.optional else "")
        if rows:
            self.blocks.append((title, intro, rows))
        for key, sub in later:
            sub_path = f"{path}.{key}" if path else key
            if sub_path == "dataset.test":  # the same table as dataset.train: a pointer, not a second copy
                self.blocks.append(("`dataset.test`", sub.help + ". Same keys and choices as `dataset.train` "
                                    "(usually `phase: test`, `preprocess: none`, `flip: false`, "
                                    "`serial_batches: true`)", []))
                continue
            if isinstance(sub, Section):
                self.section(sub, sub_path)
            else:
                self.component(sub, sub_path)

    def component(self, spec, path):
        intro = spec.help or ""
        if spec.optional:
            intro += " (optional: `null` skips it)"
        if callable(spec.table):  # one function: its arguments, plus the engine's own keys
            rows = [self.row(f"{path}.{k}", k, f, _docstring_args(spec.table))
                    for k, f in {**spec.arguments(spec.table), **spec.extra}.items() if isinstance(f, Field)]
            self.blocks.append((f"`{path}`", intro, rows))
            return
        names = sorted(spec.table)
        select = Field(str, None, required=True, choices=names, help=f"which {_NOUNS.get(path, path.rsplit('.', 1)[-1])} to build")
        common = [self.row(f"{path}.{spec.select}", spec.select, select)]
        common += [self.row(f"{path}.{k}", k, f) for k, f in spec.extra.items() if isinstance(f, Field)]
        nested = [f"`{path}.{k}`" for k, f in spec.extra.items() if not isinstance(f, Field)]
        if nested:
            intro += f". Sections inside it: {', '.join(nested)}"
        self.blocks.append((f"`{path}`", intro + f". Its other keys depend on `{spec.select}`:", common))
        for name in names:
            fn = spec.table[name]
            doc = inspect.getdoc(fn) or ""
            first = doc.split("\n\n")[0].replace("\n", " ").replace("``", "`")
            where = f"`{fn.__module__}.{fn.__qualname__}`"
            rows = [self.row(f"{path}[{name}].{k}", k, f, _docstring_args(fn))
                    for k, f in spec.arguments(fn).items()]
            self.blocks.append((f"`{path}` with `{spec.select}: {name}`", f"{first} ({where})", rows))
        for key, sub in spec.extra.items():
            if isinstance(sub, Component):
                self.component(sub, f"{path}.{key}")

    def markdown(self):
        out = [
            "# Config reference",
            "",
            "<!-- Generated by tools/make_config_reference.py from ppimg2img/engine/schema.py: do not edit by "
            "hand; run `python tools/make_config_reference.py` after changing the schema. -->",
            "",
            "Every key a YAML config (`configs/*.yaml`) may hold. A config is validated when it is loaded: an "
            "unknown key, a wrong type, a value outside the allowed ones or a missing required key stops the run "
            "with the file, the key path and the closest valid key. Keys left out take the default shown; `null` "
            "means \"use the default behaviour\". Override any key on the command line with "
            "`-o key.sub=value` (values are parsed as YAML), for example "
            "`python tools/main.py -c configs/quickstart_cyclegan.yaml -o train.max_iters=10 optimizer.lr=1e-4`. "
            "The resolved config, every default filled in, is saved as `config.yaml` in the run folder.",
            "",
            "Sections with a `name` (`model`, `model.generator`, `model.discriminator`, `dataset.train`, "
            "`dataset.test`) accept exactly the keyword arguments of the class or function that `name` picks; "
            "their tables below list them per choice.",
            "",
            "Sections: " + ", ".join(f"[{t.replace('`', '')}](#{_anchor(t)})" for t, _, _ in self.blocks
                                     if " with " not in t),
            "",
        ]
        for title, intro, rows in self.blocks:
            out += [f"## {title}", ""]
            if intro:
                out += [intro.strip().rstrip(":.") + ("." if not intro.rstrip().endswith(":") else ":"), ""]
            if rows:
                out += ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
                out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
                out.append("")
        return "\n".join(out)


def _anchor(title):
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def render():
    """The text of docs/config.md. Raises MissingDescription when a key is undocumented."""
    ref = Reference()
    test = CONFIG_SCHEMA.fields["dataset"].fields["test"]
    train = CONFIG_SCHEMA.fields["dataset"].fields["train"]
    if test.table is not train.table:
        raise MissingDescription("dataset.test no longer uses dataset.train's table: describe it separately "
                                 "in tools/make_config_reference.py")
    ref.section(CONFIG_SCHEMA, "")
    stale = sorted(set(DESCRIPTIONS) - ref.used)
    problems = []
    if ref.missing:
        problems.append("these config keys have no description (add `help=` in ppimg2img/engine/schema.py, "
                        "an `Args:` entry in the docstring, or an entry in DESCRIPTIONS of "
                        "tools/make_config_reference.py):\n  " + "\n  ".join(ref.missing))
    if stale:
        problems.append("these DESCRIPTIONS entries in tools/make_config_reference.py match no config key "
                        "any more (remove or rename them):\n  " + "\n  ".join(stale))
    if problems:
        raise MissingDescription("\n".join(problems))
    return ref.markdown()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that docs/config.md is up to date")
    parser.add_argument("--output", default=OUTPUT, help="file to write (default: docs/config.md)")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = open(args.output, encoding="utf-8").read() if os.path.exists(args.output) else ""
        if current != text:
            diff = difflib.unified_diff(current.splitlines(), text.splitlines(), args.output, "generated",
                                        lineterm="", n=0)
            print("\n".join(list(diff)[:40]))
            print(f"{args.output} is out of date: run `python tools/make_config_reference.py`")
            return 1
        print(f"{args.output} is up to date")
        return 0
    with open(args.output + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(args.output + ".tmp", args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
