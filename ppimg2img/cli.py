"""Command line: ``ppimg2img translate`` / ``cartoonize`` (predictors), ``ppimg2img export``,
``python tools/main.py -c CONFIG`` (also ``ppimg2img train -c CONFIG``),
``ppimg2img download MODEL...`` (pretrained weights, also ``tools/download_weights.py``),
``ppimg2img models`` (the model zoo) and ``ppimg2img download-dataset NAME`` (CycleGAN datasets).

Exit codes: 0 success, 1 a download, conversion or some inputs failed, 2 usage error or unknown name.
"""
import argparse
import difflib
import logging
import os
import pickle
import sys


def build_train_parser(prog="tools/main.py"):
    p = argparse.ArgumentParser(
        prog=prog, description="Train or evaluate a ppimg2img model from a YAML config. PaddleGAN's own configs "
                               "work too: they are translated to the native form, which is printed and saved as "
                               "the run's config.yaml (docs/migrating-from-paddlegan.md).")
    p.add_argument("-c", "--config-file", required=True, help="YAML config, for example configs/quickstart_cyclegan.yaml")
    p.add_argument("-o", "--opt", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="override config keys, for example -o train.max_iters=100 model.lambda_A=5 "
                        "(values are parsed as YAML; with a PaddleGAN config, PaddleGAN's keys such as "
                        "dataset.train.batch_size=4 change it before the translation)")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--resume", metavar="CKPT", help="continue a run exactly: nets, optimizers, schedulers, "
                                                        "counters, RNG states and image pools")
    start.add_argument("--load", metavar="WEIGHTS", help="initialise network weights only (fine-tuning, evaluation)")
    p.add_argument("--evaluate-only", action="store_true", help="skip training, evaluate on dataset.test")
    p.add_argument("--dry-run", action="store_true",
                   help="validate (and translate) the config, build the model and its data pipeline, print the "
                        "resolved config and the parameter counts, then exit without training or writing files")
    p.add_argument("--seed", type=int, help="random seed (config key: seed)")
    p.add_argument("--device", choices=["cpu", "gpu"], help="device (config key: device)")
    p.add_argument("--no-cuda", action="store_true", help="PaddleGAN's flag: the same as --device cpu")
    p.add_argument("--threads", type=int, help="CPU threads for Paddle (default: every core)")
    p.add_argument("--output-dir", help="run folder (default: output/<config name>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")
    return p


def resolve_config(args):
    """The validated config of ``args.config_file`` with ``-o`` and the flags applied. A PaddleGAN
    config is translated first (``args.paddlegan`` is then its Translation, else None)."""
    from .config import load_config, parse_overrides
    from .paddlegan_config import detect, load_paddlegan_config, read_yaml
    flags = {}
    if getattr(args, "no_cuda", False) and args.device is None:
        args.device = "cpu"
    for key in ("seed", "device", "threads", "output_dir"):
        value = getattr(args, key)
        if value is not None:
            flags[key] = value  # as given: not parsed as YAML (--output-dir 2024 stays a path)
    name = os.path.splitext(os.path.basename(args.config_file))[0]
    args.paddlegan = None
    if os.path.isfile(args.config_file) and detect(read_yaml(args.config_file)):
        cfg, args.paddlegan = load_paddlegan_config(args.config_file, args.opt, flags, name=name)
    else:
        overrides = parse_overrides(args.opt)
        overrides.update(flags)
        cfg = load_config(args.config_file, overrides)
    cfg["name"] = cfg["name"] or name
    cfg["output_dir"] = cfg["output_dir"] or os.path.join("output", cfg["name"])
    return cfg


def _dry_run(cfg, args):
    """``--dry-run``: build the model (optimizers and LR schedulers too) and the datasets, print the
    resolved config and a summary. Nothing is written; missing data folders are reported, not fatal."""
    import yaml
    from .data import build_dataset
    from .models import MODELS
    from .utils.env import set_device, set_seed
    set_device("cpu" if cfg["device"] in ("auto", "cpu") else cfg["device"])
    set_seed(cfg["seed"])
    if args.paddlegan is None:  # a translated config was printed already
        print(f"# resolved config of {args.config_file}")
        print(yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False), end="")
    model_cfg = dict(cfg["model"])
    model = MODELS[model_cfg.pop("name")](**model_cfg, seed=cfg["seed"])
    model.setup_training(cfg["optimizer"], cfg["lr_scheduler"])
    print(f"\n# model summary: {cfg['model']['name']}")
    total = 0
    for net_name, net in model.nets.items():
        n = sum(int(p.size) for p in net.parameters())
        total += n
        print(f"{net_name}: {type(net).__name__}, {n:,} parameters")
    print(f"total: {total:,} parameters")
    opt, sched = cfg["optimizer"], cfg["lr_scheduler"]
    keys = ("beta1", "beta2") if opt["name"] == "adam" else ("alpha", "eps")
    print(f"optimizers: {', '.join(model.optimizers)}: {opt['name']}, lr {opt['lr']}, "
          + ", ".join(f"{k} {opt[k]}" for k in keys + ("weight_decay",))
          + f"; lr policy {sched['policy']}, n_epochs {sched['n_epochs']}, n_epochs_decay {sched['n_epochs_decay']}")
    print("\n# data")
    for split in ("train", "test"):
        ds_cfg = cfg["dataset"][split]
        if ds_cfg is None:
            print(f"{split}: none")
            continue
        ds_cfg = dict(ds_cfg)
        name = ds_cfg.pop("name")
        if split == "train" and cfg["dataset"]["synthetic"] is not None and not os.path.isdir(ds_cfg["dataroot"]):
            print(f"{split}: {name} at {ds_cfg['dataroot']}: missing; training would generate it (dataset.synthetic)")
            continue
        try:
            ds = build_dataset(name, **ds_cfg, seed=cfg["seed"])
        except FileNotFoundError as err:
            print(f"{split}: {name}: data missing, pipeline checked without it ({err})")
            continue
        item = ds[0]
        shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in item.items() if hasattr(v, "shape") and v.ndim >= 2)
        print(f"{split}: {name}, {len(ds)} items; first item: {shapes}")
    print(f"\ndry run: config valid, nets built; a real run writes to {cfg['output_dir']}")
    return 0


def _load_weights(trainer, path):
    """``--load``: a ppimg2img checkpoint or {net: state_dict} file; failing that, a file of another
    layout (PaddleGAN's ``.pdparams``: ``netG_A``, ``genA2B``, StyleGAN2's ``gen``...) converted per net
    by :mod:`ppimg2img.weights`, as ``load_generator`` does."""
    from .engine.checkpoint import CheckpointError, load_file
    from .paddlegan_config import NET_NAMES
    from .utils.env import logger
    from .weights import load_state_into
    from .weights.convert import WeightsMismatchError
    try:
        return trainer.load_weights(path)
    except CheckpointError as err:
        first = err
    obj = load_file(path)
    if not isinstance(obj, dict) or "nets" in obj:
        raise first
    nets = {NET_NAMES.get(k, k): v for k, v in obj.items() if isinstance(v, dict)}
    loaded = []
    for name, net in trainer.model.nets.items():
        if name in nets:
            try:
                load_state_into(net, nets[name], "torch" if path.endswith((".pth", ".pt")) else "paddle",
                                source=f"{path}: {name}")
            except (WeightsMismatchError, ValueError, KeyError) as err:
                raise CheckpointError(f"{path}: {name}: {err}") from None
            loaded.append(name)
    if not loaded:
        raise first
    logger.info("loaded weights of %s from %s (converted from its layout)", ", ".join(loaded), path)
    return loaded


def train_main(argv=None, prog="tools/main.py"):
    """Entry point of tools/main.py. Returns the process exit code."""
    args = build_train_parser(prog).parse_args(argv)
    from .config import ConfigError, save_config
    from .engine.checkpoint import CheckpointError
    from .engine import distributed
    from .engine.trainer import Trainer
    from .paddlegan_config import header, render
    from .utils.env import logger, setup_logging
    try:
        cfg = resolve_config(args)
        if args.paddlegan is not None and distributed.is_main():
            # the user sees (and keeps, in config.yaml) the native form of their PaddleGAN config
            print(render(args.paddlegan, cfg), flush=True)
        if args.dry_run:
            return _dry_run(cfg, args)
        for flag, path in (("--resume", args.resume), ("--load", args.load)):
            if path and not os.path.isfile(path):  # before anything in the run folder changes
                raise CheckpointError(f"{flag} {path}: file not found (checkpoints are in "
                                      f"<run folder>/checkpoints/, for example latest.pdckpt)")
        os.makedirs(cfg["output_dir"], exist_ok=True)
        if distributed.is_main():
            setup_logging(os.path.join(cfg["output_dir"], "train.log"))
        else:  # the other processes of a data-parallel job: warnings only, no files
            setup_logging(None, level=logging.WARNING)
        logger.info("config %s -> run folder %s", args.config_file, cfg["output_dir"])
        trainer = Trainer(cfg)
        if args.resume:
            trainer.resume(args.resume)  # may take the seed the run started with
        elif args.load:
            _load_weights(trainer, args.load)
        if distributed.is_main():
            save_config(trainer.cfg, os.path.join(cfg["output_dir"], "config.yaml"),
                        header=header(args.paddlegan) if args.paddlegan is not None else None)
        if args.evaluate_only:
            if not (args.resume or args.load):
                logger.warning("--evaluate-only without --load/--resume evaluates untrained weights")
            trainer.evaluate(tag="evaluate", progress=not args.no_progress)
        else:
            trainer.train(progress=not args.no_progress)
            if trainer.interrupted:
                return 130
            if cfg["train"]["eval_at_end"]:
                trainer.evaluate(tag="latest", progress=not args.no_progress)
        logger.info("results: %s", os.path.join(cfg["output_dir"], "index.html"))
    except (OSError, ValueError, RuntimeError) as err:  # ConfigError, CheckpointError, TrainingDivergedError...
        # Expected failures (bad config, data, checkpoint) get one readable line; the traceback
        # still goes to train.log for bug reports.
        logger.debug("failure details", exc_info=True)
        where = f"process {distributed.rank()} of {distributed.world_size()}: " if distributed.world_size() > 1 else ""
        print(f"error: {where}{err}", file=sys.stderr)
        return 2 if isinstance(err, ConfigError) else 1
    return 0



def _zoo_epilog():
    from .utils.download import get_cache_dir
    return (f"cache:   {os.path.join(get_cache_dir(), 'models')} (set PPIMG2IMG_HOME to move it)\n"
            "offline: download the URL that `ppimg2img models MODEL` shows on another machine and put the\n"
            "         file at the cache path it shows; it is picked up from there.")


def build_download_parser(prog="ppimg2img download"):
    p = argparse.ArgumentParser(
        prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Download pretrained generator weights from the model zoo into the cache and convert\n"
                    "them to Paddle once (the converted file is cached next to the original).",
        epilog=f"examples:\n  {prog} horse2zebra\n"
               f"  {prog} pix2pix/facades_label2photo paddlegan/photo2cartoon\n"
               "  ppimg2img models        (lists the names)\n\n" + _zoo_epilog()
               + "\ndatasets: ppimg2img download-dataset NAME")
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="zoo name such as cyclegan/horse2zebra, or a bare name (horse2zebra) when unambiguous")
    p.add_argument("--no-convert", action="store_true", help="only download, do not convert to Paddle")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _unknown_model_message(name, err):
    """The error for a name that is not a model, pointing at download-dataset for dataset names."""
    from .data.cyclegan_datasets import CYCLEGAN_DATASETS
    if name in CYCLEGAN_DATASETS:
        return (f"'{name}' is a CycleGAN dataset, not a pretrained model: download it with "
                f"`ppimg2img download-dataset {name}`. (`ppimg2img models` lists the models.)")
    return str(err)


def _convert(name):
    """Build the generator from the downloaded file once, which caches its converted weights."""
    from .weights import load_generator
    load_generator(name)


def download_main(argv=None, prog="ppimg2img download"):
    """``ppimg2img download MODEL...`` and ``tools/download_weights.py``. Returns the exit code."""
    parser = build_download_parser(prog)
    args, unknown = parser.parse_known_args(argv)
    if {"--root", "--base-url"} & {u.split("=", 1)[0] for u in unknown}:
        parser.error("--root/--base-url are options of dataset downloads, which moved to "
                     "`ppimg2img download-dataset NAME --root DIR`")
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    from .data.cyclegan_datasets import CYCLEGAN_DATASETS
    from .utils.download import DownloadError
    from .weights import zoo
    names = []
    for name in args.models:  # every name is checked before anything is downloaded
        try:
            names.append(zoo.resolve_name(name))
        except zoo.UnknownModelError as err:
            print(f"error: {_unknown_model_message(name, err)}", file=sys.stderr)
            return 2
        if name in CYCLEGAN_DATASETS:
            print(f"note: '{name}' is also a dataset; this downloads the model {names[-1]} "
                  f"(the images: `ppimg2img download-dataset {name}`)", file=sys.stderr)
    failed = 0
    for name in dict.fromkeys(names):
        try:
            path = zoo.fetch(name, progress=not args.no_progress)
        except DownloadError as err:
            print(f"error: {err}", file=sys.stderr)
            failed += 1
            continue
        print(f"{name}: {path}")
        if args.no_convert:
            continue
        try:
            _convert(name)
        except (OSError, ValueError, RuntimeError, KeyError, ImportError, pickle.UnpicklingError) as err:
            print(f"error: {name} was downloaded to {path} but could not be converted: {err} (if the file is "
                  f"damaged, delete it and run the command again)", file=sys.stderr)
            failed += 1
            continue
        converted = zoo.converted_path(name)
        if os.path.isfile(converted):
            print(f"{name}: converted {converted}")
    return 1 if failed else 0


def build_models_parser(prog="ppimg2img models"):
    from .weights.zoo import FAMILIES
    p = argparse.ArgumentParser(
        prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="List the pretrained models of the zoo, or show the details (URL, file, architecture,\n"
                    "licence, cache path) of the models named.",
        epilog="names:   <collection>/<model>: cyclegan/ and pix2pix/ are the original authors' releases,\n"
               "         paddlegan/ PaddleGAN's, minivision/ the original photo2cartoon; a bare model name\n"
               "         (horse2zebra) works when only one collection has it.\n" + _zoo_epilog())
    p.add_argument("models", nargs="*", metavar="MODEL", help="show the details of these models")
    p.add_argument("--family", choices=FAMILIES, help="only models of this family")
    p.add_argument("--cached", action="store_true", help="only models whose file is in the cache")
    return p


def _table(rows):
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def _model_details(entry, zoo):
    lines = [f"{entry.name}: {entry.description}",
             f"  direction   {entry.direction}",
             f"  family      {entry.family} ({entry.source} release)",
             f"  network     {entry.arch} {entry.arch_kwargs}" + (f", key '{entry.key}' in the file" if entry.key
                                                                   else ", plain state dict"),
             f"  url         {entry.url or 'none: manual download from ' + entry.page}",
             f"  page        {entry.page}",
             f"  sha256      {entry.sha256 or 'not published'}",
             f"  licence     {entry.licence}",
             f"  cache file  {zoo.weights_path(entry.name)} ({'present' if zoo.is_cached(entry.name) else 'missing'})"]
    return "\n".join(lines)


def models_main(argv=None, prog="ppimg2img models"):
    """``ppimg2img models [MODEL...]``. Returns the exit code."""
    args = build_models_parser(prog).parse_args(argv)
    from .weights import zoo
    if args.models:
        try:
            entries = [zoo.get_entry(name) for name in args.models]
        except zoo.UnknownModelError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print("\n\n".join(_model_details(entry, zoo) for entry in entries))
        return 0
    rows = [("NAME", "FAMILY", "ARCH", "DIRECTION", "SOURCE", "CACHED")]
    for name in zoo.list_models(args.family):
        entry = zoo.MODEL_ZOO[name]
        cached = zoo.is_cached(name)
        if args.cached and not cached:
            continue
        source = entry.source if entry.url else entry.source + " (manual)"
        rows.append((name, entry.family, entry.arch, entry.direction, source, "yes" if cached else "no"))
    print(_table(rows))
    count = len(rows) - 1
    print(f"\n{count} model{'' if count == 1 else 's'}. download: ppimg2img download NAME; details (URL, "
          f"licence, cache path): ppimg2img models NAME\n{_zoo_epilog()}")
    return 0


def download_dataset_main(argv=None, prog="ppimg2img download-dataset"):
    """``ppimg2img download-dataset NAME``: a CycleGAN dataset (same as data/download_cyclegan_dataset.py)
    or a dataset of the generation models (mnist, fashion_mnist, cifar10: data/generation_datasets.py)."""
    from .data.cyclegan_datasets import CYCLEGAN_DATASETS
    from .data.cyclegan_datasets import main as cyclegan_main
    from .data.generation_datasets import GENERATION_DATASETS
    from .data.generation_datasets import main as generation_main
    argv = sys.argv[1:] if argv is None else list(argv)
    names = [a for i, a in enumerate(argv)
             if not a.startswith("-") and not (i and argv[i - 1] in ("--root", "--base-url"))]
    name = names[0] if names else None
    if name is not None and name not in CYCLEGAN_DATASETS:
        def best(pool):  # a typo goes to the family with the closest name, for its "Did you mean"
            return max(difflib.SequenceMatcher(None, name, n).ratio() for n in pool)
        if name in GENERATION_DATASETS or best(GENERATION_DATASETS) > best(CYCLEGAN_DATASETS):
            return generation_main(argv, prog=prog)
    try:
        return cyclegan_main(argv, prog=prog)
    except SystemExit as exit_:
        if exit_.code == 0:  # --help: list the generation datasets too
            print(f"\nDatasets of the generation models (DCGAN, WGAN, ...): {', '.join(GENERATION_DATASETS)} "
                  "(`ppimg2img download-dataset mnist --help` describes them).")
        raise


def translate_main(argv=None, prog="ppimg2img translate"):
    from .predictors.commands import translate_main as run
    return run(argv, prog=prog)


def cartoonize_main(argv=None, prog="ppimg2img cartoonize"):
    from .predictors.commands import cartoonize_main as run
    return run(argv, prog=prog)


def video_main(argv=None, prog="ppimg2img video"):
    from .predictors.video_command import main as run
    return run(argv, prog=prog)


def generate_main(argv=None, prog="ppimg2img generate"):
    from .predictors.generation import generate_main as run
    return run(argv, prog=prog)


def export_main(argv=None, prog="ppimg2img export"):
    from .export.model import export_main as run
    return run(argv, prog=prog)


def demo_main(argv=None, prog="ppimg2img demo"):
    from .demo import main as run
    return run(argv, prog=prog)


COMMANDS = {
    "translate": (translate_main, "translate --model NAME IN... [-o OUT]",
                  "translate images, folders or globs with a pretrained or trained generator"),
    "cartoonize": (cartoonize_main, "cartoonize IN... [-o OUT]", "cartoonise the faces of photos (photo2cartoon)"),
    "video": (video_main, "video --model NAME IN.mp4 -o OUT.mp4",
              "translate a video frame by frame, keeping its frame rate and sound"),
    "generate": (generate_main, "generate --weights CKPT [--n 64] [--seed 0] [--class 3] [-o grid.png]",
                 "draw samples from a trained generation model (DCGAN, WGAN...)"),
    "export": (export_main, "export --load WEIGHTS [-c CONFIG] [-o OUT] [--onnx]",
               "export every generator for Paddle Inference (and ONNX)"),
    "train": (lambda argv: train_main(argv, prog="ppimg2img train"), "train -c CONFIG [options]",
              "train or evaluate a model from a YAML config"),
    "download": (download_main, "download MODEL [MODEL...]", "download (and convert) pretrained weights"),
    "models": (models_main, "models [MODEL...]", "list the model zoo, or details of some models"),
    "demo": (demo_main, "demo [--port 7860] [--weights CKPT ...]",
             "a local web app for every predictor (pip install -e \".[demo]\")"),
    "download-dataset": (download_dataset_main, "download-dataset NAME [--root datasets]",
                         "download a dataset (CycleGAN's, or mnist, fashion_mnist, cifar10)"),
}


def _usage():
    width = max(len(usage) for _, usage, _ in COMMANDS.values())
    lines = [f"  ppimg2img {usage.ljust(width)}  {text}" for _, usage, text in COMMANDS.values()]
    return "usage:\n" + "\n".join(lines) + "\n`ppimg2img COMMAND --help` explains each command."


def main(argv=None):
    """The ``ppimg2img`` console script. Returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    command = argv[0]
    if command not in COMMANDS:
        close = difflib.get_close_matches(command, COMMANDS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        print(f"{_usage()}\nerror: unknown command '{command}'.{hint}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[command][0](argv[1:])
    except SystemExit as exit_:  # argparse: --help (0) and usage errors (2)
        return exit_.code if isinstance(exit_.code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
