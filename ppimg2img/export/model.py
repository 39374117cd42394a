"""Export every generator of a trained model for deployment: Paddle Inference graphs
(``<net>.json`` + ``<net>.pdiparams``), optionally ONNX (``<net>.onnx``), an ``export.json``
manifest and a README.md that says how to run them.

    export_model("output/horse2zebra/checkpoints/latest.pdckpt", "inference_model/horse2zebra")
    export_model("latest_net_G.pdparams", "out", config="configs/pix2pix_facades.yaml", onnx=True)

Each generator keeps its model's name (CycleGAN ``netG_A`` and ``netG_B``, U-GAT-IT and
photo2cartoon ``genA2B`` and ``genB2A``, pix2pix ``netG``): PaddleGAN's exporter saved both
CycleGAN generators under one name, so the second overwrote the first.
"""
import datetime
import inspect
import json
import os

from ..config import ConfigError
from ..engine.checkpoint import CheckpointError
from ..utils.env import logger
from .paddle_graph import export_generator, model_files

MANIFEST = "export.json"
README = "README.md"
#: what each generator translates (pix2pix: A -> B as the dataset's direction defined it in training)
DIRECTIONS = {"netG_A": "A->B", "netG_B": "B->A", "genA2B": "A->B", "genB2A": "B->A", "netG": "A->B"}
#: generators whose input is domain B: channel counts swap (CycleGAN G_B: output_nc -> input_nc)
FROM_B = ("netG_B",)


class ExportArgumentError(ValueError):
    """An export argument does not fit the model (unknown generator name, image size...)."""


def _load_source(source, config, overrides=None):
    """``(run name, model config, checkpoint object)`` from a checkpoint, or a config + weights."""
    from ..weights import read_checkpoint

    if not os.path.isfile(source):
        raise FileNotFoundError(f"{source}: weights file not found (training checkpoints are in "
                                f"<run folder>/checkpoints/, for example latest.pdckpt)")
    obj = read_checkpoint(source)
    if config is not None:
        from ..config import load_config

        cfg = load_config(config, overrides)
        name = cfg.get("name") or os.path.splitext(os.path.basename(config))[0]
        return name, dict(cfg["model"]), obj
    stored = obj.get("config") if isinstance(obj, dict) and obj.get("format") == "ppimg2img-checkpoint" else None
    model_cfg = stored.get("model") if isinstance(stored, dict) else None
    if not isinstance(model_cfg, dict) or "name" not in model_cfg or "generator" not in model_cfg:
        raise ConfigError(f"{source}: holds no training config to rebuild the model from (only ppimg2img "
                          f"training checkpoints, <run>/checkpoints/*.pdckpt, do); pass the YAML config the "
                          f"weights were trained with: -c CONFIG (for example configs/cyclegan_horse2zebra.yaml)")
    if overrides:
        raise ConfigError(f"{source}: config overrides ({', '.join(overrides)}) need the config file: -c CONFIG "
                          f"(a checkpoint's own config is the one its weights were trained with)")
    name = stored.get("name") or os.path.splitext(os.path.basename(source))[0]
    return name, dict(model_cfg), obj


def _build_model(model_cfg, source):
    from ..models import MODELS

    kwargs = dict(model_cfg)
    name = kwargs.pop("name")
    if name not in MODELS:
        raise ConfigError(f"{source}: unknown model {name!r}; ppimg2img has {', '.join(MODELS)}")
    return name, MODELS[name](**kwargs, is_train=False, seed=0)


def _is_single_net(obj):
    from ..weights.load import CONVERTED_FORMAT, _is_state_dict

    if isinstance(obj, dict) and obj.get("format") == "ppimg2img-checkpoint":
        return False
    return (isinstance(obj, dict) and obj.get("format") == CONVERTED_FORMAT) or _is_state_dict(obj)


def _load_generators(model, obj, source, wanted, chosen_by_user):
    """Load the weights of the generators ``wanted`` from ``obj``; returns the names loaded."""
    from ..weights import load_state_into, select_net
    from ..weights.load import _framework

    framework = _framework(source)
    if _is_single_net(obj):
        if len(wanted) > 1:
            if chosen_by_user:
                raise ExportArgumentError(f"{source} holds one network's weights; it can be exported as one "
                                          f"generator only, not {', '.join(wanted)}")
            logger.warning("%s holds one network's weights: exporting it as %s (choose another name with "
                           "--nets, for example --nets %s)", source, wanted[0], wanted[-1])
            wanted = wanted[:1]
        state, _ = select_net(obj, None, source=source)
        load_state_into(model.nets[wanted[0]], state, framework, source=source)
        return wanted
    held = set(select_net_names(obj))
    missing = [n for n in wanted if n not in held]
    if missing and (chosen_by_user or len(missing) == len(wanted)):
        raise CheckpointError(f"{source}: no weights for {', '.join(missing)} in the file; it holds: "
                              f"{', '.join(sorted(held)) or 'no networks'}. Export the generators it holds "
                              f"with --nets NAME...")
    if missing:  # for example photo2cartoon's published file, which holds genA2B only
        logger.warning("%s holds no weights for %s: exporting %s only", source, ", ".join(missing),
                       ", ".join(n for n in wanted if n in held))
        wanted = [n for n in wanted if n in held]
    for name in wanted:
        state, _ = select_net(obj, name, source=source)
        load_state_into(model.nets[name], state, framework, source=f"{source} [{name}]")
    return wanted


def select_net_names(obj):
    """Names of the networks a multi-network weights file holds (ppimg2img checkpoints included)."""
    from ..weights.load import _is_state_dict

    if isinstance(obj, dict) and obj.get("format") == "ppimg2img-checkpoint":
        obj = obj.get("nets", {})
    return [k for k, v in obj.items() if _is_state_dict(v)] if isinstance(obj, dict) else []


def _size_rule(g_cfg):
    """``(fixed size or None, side multiple)`` of a generator config (as translate_images)."""
    from ..nets import GENERATORS

    arch = g_cfg["name"]
    defaults = {k: p.default for k, p in inspect.signature(GENERATORS[arch]).parameters.items()}
    if arch in ("ugatit", "photo2cartoon") and not g_cfg.get("light", defaults.get("light")):
        return int(g_cfg.get("img_size", defaults["img_size"])), 4  # the full MLP reads a fixed-size map
    return None, {"unet_256": 256, "unet_128": 128, "photo2cartoon": 16}.get(arch, 4)


def _image_size(g_cfg, image_size):
    fixed, multiple = _size_rule(g_cfg)
    if image_size is None:
        return fixed, multiple
    image_size = int(image_size)
    if fixed is not None and image_size != fixed:
        raise ExportArgumentError(f"--image-size {image_size}: this {g_cfg['name']} generator (light: false) "
                                  f"only takes {fixed}x{fixed} images (its img_size); leave --image-size out")
    if image_size <= 0 or image_size % multiple:
        raise ExportArgumentError(f"--image-size {image_size}: a {g_cfg['name']} generator needs a positive "
                                  f"multiple of {multiple}")
    return image_size, multiple


def _channels(net_name, g_cfg):
    cin, cout = g_cfg.get("input_nc", 3), g_cfg.get("output_nc", 3)
    return (cout, cin) if net_name in FROM_B else (cin, cout)


def _meaning(model_name, channels, side):
    if model_name == "ColorizationModel":
        return ("L of CIE Lab scaled to [-1, 1] (L / 50 - 1)" if side == "input"
                else "ab of CIE Lab divided by 110; add the input L and convert Lab to RGB")
    kind = {1: "grayscale", 3: "RGB"}.get(channels, f"{channels} channels")
    return f"{kind} in [-1, 1]: " + ("x = pixel / 127.5 - 1" if side == "input" else "pixel = (y + 1) * 127.5")


def _fetch_names(graph_file):
    from .onnx import _walk_ops

    with open(graph_file, encoding="utf-8") as f:
        program = json.load(f)
    names = []
    for op in _walk_ops(program):
        if op["#"].split(".", 1)[-1] == "fetch":
            attrs = {a.get("N"): a.get("AT", {}).get("D") for a in op["A"] if isinstance(a, dict)}
            names.append(attrs.get("name"))
    return names


def export_model(source, output_dir, config=None, onnx=False, image_size=None, nets=None, opset=None,
                 overrides=None, truncation=1.0):
    """Export the generators of a trained model into ``output_dir``.

    ``output_dir``: the folder (None: ``output/<run name>/export``).
    ``source``: a ppimg2img training checkpoint (``.pdckpt``, which holds its config), or with
    ``config`` (the training YAML) any weights file ppimg2img reads (``.pdparams``, ``.pdckpt``,
    PyTorch ``.pth``/``.pt``). ``nets``: generator names to export (default: every generator the
    file holds). ``image_size``: fix height and width (default: dynamic, except the full U-GAT-IT
    and photo2cartoon generators, which only take their ``img_size``). ``onnx``: also write ONNX
    (needs paddle2onnx; ``opset``: its lowest opset). ``overrides``: ``["model.generator.ngf=8", ...]``
    applied to ``config``, as ``tools/main.py -o``. ``truncation`` (StyleGAN2): baked into the exported
    sampler with its centre (1: none). Returns ``{generator name: [written files]}``; ``export.json`` and
    README.md are written last.
    """
    import paddle

    from .. import __version__

    run_name, model_cfg, obj = _load_source(os.fspath(source), config, overrides)
    if output_dir is None:
        output_dir = default_output_dir(run_name)
    model_name, model = _build_model(model_cfg, source)
    available = list(model.nets)
    wanted = list(nets) if nets else available
    unknown = [n for n in wanted if n not in available]
    if unknown:
        raise ExportArgumentError(f"{model_name} has no generator {', '.join(unknown)}; it has "
                                  f"{', '.join(available)}")
    wanted = _load_generators(model, obj, source, wanted, chosen_by_user=bool(nets))
    g_cfg = dict(model_cfg["generator"])
    model.eval()
    if model.kind == "generation":
        if image_size is not None:
            raise ExportArgumentError(f"--image-size: a generation model makes {model.nets['netG'].image_size}x"
                                      f"{model.nets['netG'].image_size} images from noise; leave it out")
        return _export_sampler(model, model_name, run_name, g_cfg, output_dir, source, config, onnx, opset,
                               truncation)
    if truncation != 1.0:
        raise ExportArgumentError("--truncation is for StyleGAN2 generators; leave it out")
    size, multiple = _image_size(g_cfg, image_size)

    os.makedirs(output_dir, exist_ok=True)
    written, entries = {}, {}
    for name in wanted:
        prefix = os.path.join(output_dir, name)
        cin, cout = _channels(name, g_cfg)
        export_generator(model.nets[name], prefix, input_nc=cin, image_size=size)
        files = list(model_files(prefix))
        side = [-1, -1] if size is None else [size, size]
        entry = {"direction": DIRECTIONS.get(name, "A->B"),
                 "paddle": {"model_file": os.path.basename(files[0]), "params_file": os.path.basename(files[1]),
                            "input": "x", "output": (_fetch_names(files[0]) or ["fetch_name_0"])[0]},
                 "input": {"shape": [-1, cin, *side], "meaning": _meaning(model_name, cin, "input")},
                 "output": {"shape": [-1, cout, *side], "meaning": _meaning(model_name, cout, "output")},
                 "size_multiple": multiple}
        if onnx:
            from .onnx import export_onnx

            onnx_file = export_onnx(prefix, prefix + ".onnx", opset=opset)
            files.append(onnx_file)
            entry["onnx"] = {"file": os.path.basename(onnx_file), "input": "x",
                             "output": entry["paddle"]["output"]}
        written[name] = files
        entries[name] = entry
        logger.info("exported %s (%s) -> %s", name, entry["direction"], ", ".join(files))

    manifest = {"format": "ppimg2img-export", "version": 1, "name": run_name, "model": model_name,
                "generator": g_cfg, "generators": entries, "layout": "NCHW", "dtype": "float32",
                "value_range": [-1, 1], "dynamic": ["batch"] + (["height", "width"] if size is None else []),
                "source": os.path.abspath(source), "config": os.path.abspath(config) if config else None,
                "ppimg2img": __version__, "paddle": paddle.__version__,
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    if onnx:
        import paddle2onnx

        manifest["paddle2onnx"] = paddle2onnx.__version__
    _write_text(os.path.join(output_dir, MANIFEST), json.dumps(manifest, indent=2) + "\n")
    _write_text(os.path.join(output_dir, README), _readme(manifest))
    return written


def _export_sampler(model, model_name, run_name, g_cfg, output_dir, source, config, onnx, opset, truncation=1.0):
    """A generation model's generator: inputs z (and labels), output the image (export_sampler).
    StyleGAN2: the EMA generator (``model.sample_net``) with its stored noise, unfused modulated
    convolutions (any batch size) and ``truncation`` baked in."""
    import paddle

    from .. import __version__
    from ..nets.stylegan2 import StyleGAN2Generator, TruncatedSampler, set_fused
    from .paddle_graph import export_sampler

    G = model.nets[getattr(model, "sample_net", "netG")]
    net = G
    if isinstance(G, StyleGAN2Generator):
        net = TruncatedSampler(set_fused(G, False), truncation)
    elif truncation != 1.0:
        raise ExportArgumentError("--truncation is for StyleGAN2 generators; leave it out")
    os.makedirs(output_dir, exist_ok=True)
    prefix = os.path.join(output_dir, "netG")
    export_sampler(net, prefix)
    files = list(model_files(prefix))
    inputs = {"z": {"shape": [-1, G.nz], "dtype": "float32", "meaning": "noise z ~ N(0, I)"}}
    if G.n_classes:
        inputs["labels"] = {"shape": [-1], "dtype": "int64", "meaning": f"class of each sample, 0..{G.n_classes - 1}"}
    entry = {"direction": "z -> image",
             "paddle": {"model_file": os.path.basename(files[0]), "params_file": os.path.basename(files[1]),
                        "inputs": list(inputs), "output": (_fetch_names(files[0]) or ["fetch_name_0"])[0]},
             "inputs": inputs,
             "output": {"shape": [-1, G.output_nc, G.image_size, G.image_size],
                        "meaning": _meaning(model_name, G.output_nc, "output")}}
    if onnx:
        from .onnx import export_onnx

        files.append(export_onnx(prefix, prefix + ".onnx", opset=opset))
        entry["onnx"] = {"file": os.path.basename(files[-1]), "inputs": list(inputs),
                         "output": entry["paddle"]["output"]}
    logger.info("exported netG (z -> image) -> %s", ", ".join(files))
    manifest = {"format": "ppimg2img-export", "version": 1, "name": run_name, "model": model_name,
                "generator": g_cfg, "generators": {"netG": entry}, "dtype": "float32", "value_range": [-1, 1],
                **({"truncation": truncation, "noise": "const"} if net is not G else {}),
                "dynamic": ["batch"], "source": os.path.abspath(source),
                "config": os.path.abspath(config) if config else None, "ppimg2img": __version__,
                "paddle": paddle.__version__,
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    if onnx:
        import paddle2onnx

        manifest["paddle2onnx"] = paddle2onnx.__version__
    _write_text(os.path.join(output_dir, MANIFEST), json.dumps(manifest, indent=2) + "\n")
    _write_text(os.path.join(output_dir, README), _sampler_readme(manifest))
    return {"netG": files}


def _sampler_readme(manifest):
    entry = manifest["generators"]["netG"]
    labels = "labels" in entry["inputs"]
    feed = "{'z': z" + (", 'labels': labels" if labels else "") + "}"
    return (f"# {manifest['name']}: exported {manifest['model']} generator\n\n"
            f"Inputs: z float32 [batch, {entry['inputs']['z']['shape'][1]}] drawn from N(0, I)"
            + (f"; labels int64 [batch] ({entry['inputs']['labels']['meaning']})" if labels else "")
            + f". Output: {entry['output']['meaning']}, shape {entry['output']['shape']}.\n\n"
            "```python\nimport numpy as np, onnxruntime as ort\n"
            "session = ort.InferenceSession('netG.onnx')\n"
            f"z = np.random.default_rng(0).standard_normal((16, {entry['inputs']['z']['shape'][1]}))"
            ".astype('float32')\n"
            + ("labels = np.arange(16) % 10\n" if labels else "")
            + f"images = session.run(None, {feed})[0]  # [-1, 1]\n```\n")


def default_output_dir(run_name):
    """Where ``tools/export_model.py`` writes without ``-o``: next to the run's other outputs."""
    return os.path.join("output", run_name, "export")


def _write_text(path, text):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _readme(manifest):
    gens = manifest["generators"]
    first = next(iter(gens))
    entry = gens[first]
    shape = entry["input"]["shape"]
    size = f"images whose sides are multiples of {entry['size_multiple']}" if shape[2] == -1 \
        else f"{shape[2]}x{shape[3]} images"
    rows = "\n".join(f"| `{n}` | {e['direction']} | `{e['paddle']['model_file']}`, `{e['paddle']['params_file']}`"
                     f"{', `' + e['onnx']['file'] + '`' if 'onnx' in e else ''} | {e['input']['shape']} -> "
                     f"{e['output']['shape']} |" for n, e in gens.items())
    cin = shape[1]
    if manifest["model"] == "ColorizationModel":
        prepare = ("from skimage import color\n"
                   "lab = color.rgb2lab(np.asarray(Image.open(\"photo.png\").convert(\"RGB\")))\n"
                   "x = np.ascontiguousarray((lab[..., :1] / 50 - 1).transpose(2, 0, 1)[None], np.float32)")
        finish = ("ab = y[0].transpose(1, 2, 0) * 110\n"
                  "rgb = color.lab2rgb(np.concatenate([lab[..., :1], ab], axis=2))\n"
                  "out = (rgb * 255).round().astype(np.uint8)")
    else:
        mode, add_axis = ("L", "[None, None]") if cin == 1 else ("RGB", ".transpose(2, 0, 1)[None]")
        prepare = (f"img = np.asarray(Image.open(\"photo.png\").convert(\"{mode}\"), np.float32)\n"
                   f"x = np.ascontiguousarray((img / 127.5 - 1){add_axis})")
        out_axes = "[0, 0]" if entry["output"]["shape"][1] == 1 else "[0].transpose(1, 2, 0)"
        finish = f"out = ((y{out_axes} + 1) * 127.5).clip(0, 255).round().astype(np.uint8)"
    onnx_part = ""
    if "onnx" in entry:
        onnx_part = f"""
ONNX (`pip install onnxruntime`):

```python
import onnxruntime as ort
sess = ort.InferenceSession("{entry['onnx']['file']}", providers=["CPUExecutionProvider"])
y = sess.run(None, {{"x": x}})[0]
```
"""
    return f"""# {manifest['name']}: exported {manifest['model']} generators

Written by ppimg2img {manifest['ppimg2img']} with Paddle {manifest['paddle']} from `{manifest['source']}`.

| generator | translates | files | input -> output (NCHW, -1 = any) |
|---|---|---|---|
{rows}

Input `x`: float32, NCHW, a batch of {size}; {entry['input']['meaning']}.
Output (same size): {entry['output']['meaning']}. `export.json` lists the same in machine-readable form.

Paddle Inference (`pip install paddlepaddle`):

```python
import numpy as np
from PIL import Image
import paddle.inference as paddle_infer

{prepare}
config = paddle_infer.Config("{entry['paddle']['model_file']}", "{entry['paddle']['params_file']}")
config.enable_mkldnn()  # oneDNN on CPU
predictor = paddle_infer.create_predictor(config)
handle = predictor.get_input_handle("x")
handle.reshape(list(x.shape))
handle.copy_from_cpu(x)
predictor.run()
y = predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()
{finish}
Image.fromarray(out).save("result.png")
```
{onnx_part}"""


# ---------------------------------------------------------------- command line
def add_export_arguments(parser):
    """The options of ``tools/export_model.py`` / ``ppimg2img export`` on an argparse parser."""
    parser.add_argument("--load", required=True, metavar="WEIGHTS",
                        help="a training checkpoint (<run>/checkpoints/latest.pdckpt holds its config), or with "
                             "-c any weights file (.pdparams, .pdckpt, PyTorch .pth/.pt)")
    parser.add_argument("-c", "--config-file", metavar="CFG",
                        help="the YAML config the weights were trained with (needed unless --load is a "
                             "ppimg2img training checkpoint)")
    parser.add_argument("--opt", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                        help="override keys of the -c config, for example --opt model.generator.ngf=8")
    parser.add_argument("-o", "--output-dir", metavar="OUT",
                        help="output folder (default: output/<run name>/export)")
    parser.add_argument("--onnx", action="store_true",
                        help="also write <generator>.onnx (needs: pip install paddle2onnx onnxruntime)")
    parser.add_argument("--opset", type=int, metavar="N",
                        help="lowest ONNX opset (default 11, raised when an operator needs it)")
    parser.add_argument("--image-size", type=int, metavar="N",
                        help="fix height and width to N (default: dynamic; full U-GAT-IT/photo2cartoon "
                             "generators always take their img_size)")
    parser.add_argument("--nets", nargs="+", metavar="NAME",
                        help="generators to export (default: all, for example netG_A and netG_B)")
    parser.add_argument("--truncation", type=float, default=1.0, metavar="T",
                        help="StyleGAN2: bake truncation T (0.7 is common) into the exported sampler (default 1: none)")
    return parser


def run_export(args):
    """Run an export from parsed arguments; prints one line per generator. Returns the exit code:
    0 done, 1 a file could not be read or exported, 2 a usage error (config, names, sizes)."""
    import pickle
    import sys

    from .paddle_graph import ExportError

    try:
        written = export_model(args.load, args.output_dir, config=args.config_file, onnx=args.onnx,
                               image_size=args.image_size, nets=args.nets, opset=args.opset,
                               overrides=args.opt, truncation=args.truncation)
    except (ConfigError, ExportArgumentError) as err:
        print(f"error: {_first_line(err)}", file=sys.stderr)
        return 2
    except (OSError, ImportError, ValueError, RuntimeError, pickle.UnpicklingError) as err:
        # CheckpointError, WeightsMismatchError, ExportError... name the file and the cause
        logger.debug("export failure details", exc_info=True)
        prefix = "" if isinstance(err, (CheckpointError, ExportError, ImportError, OSError)) \
            else f"{type(err).__name__}: "
        print(f"error: {prefix}{_first_line(err)}", file=sys.stderr)
        return 1
    folder = os.path.dirname(next(iter(written.values()))[0])
    for name, files in written.items():
        print(f"{name}: {', '.join(files)}")
    print(f"manifest: {os.path.join(folder, MANIFEST)} (how to run: {os.path.join(folder, README)})")
    return 0


def _first_line(err):
    text = str(err).strip()
    return (text.splitlines() or [type(err).__name__])[0]


def export_main(argv=None, prog="tools/export_model.py"):
    """``tools/export_model.py`` and ``ppimg2img export``: parse ``argv`` and export. Returns the
    exit code (argparse's 2 for a usage error, 0 for --help)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog=prog, description="Export every generator of a trained model for Paddle Inference "
                               "(and ONNX with --onnx), with dynamic batch and image size.")
    add_export_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return stop.code
    import logging

    from ..utils.env import setup_logging

    setup_logging(None, level=logging.WARNING)  # run_export prints what was written
    return run_export(args)
