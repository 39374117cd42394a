"""Command line: ``python tools/main.py -c CONFIG`` (also ``ppimg2img train -c CONFIG``) and
``ppimg2img download NAME``."""
import argparse
import os
import sys


def build_train_parser(prog="tools/main.py"):
    p = argparse.ArgumentParser(prog=prog, description="Train or evaluate a ppimg2img model from a YAML config.")
    p.add_argument("-c", "--config-file", required=True, help="YAML config, for example configs/quickstart_cyclegan.yaml")
    p.add_argument("-o", "--opt", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="override config keys, for example -o train.max_iters=100 model.lambda_A=5 "
                        "(values are parsed as YAML)")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--resume", metavar="CKPT", help="continue a run exactly: nets, optimizers, schedulers, "
                                                        "counters, RNG states and image pools")
    start.add_argument("--load", metavar="WEIGHTS", help="initialise network weights only (fine-tuning, evaluation)")
    p.add_argument("--evaluate-only", action="store_true", help="skip training, evaluate on dataset.test")
    p.add_argument("--seed", type=int, help="random seed (config key: seed)")
    p.add_argument("--device", choices=["cpu", "gpu"], help="device (config key: device)")
    p.add_argument("--threads", type=int, help="CPU threads for Paddle (default: every core)")
    p.add_argument("--output-dir", help="run folder (default: output/<config name>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")
    return p


def resolve_config(args):
    from .config import load_config, parse_overrides
    overrides = parse_overrides(args.opt)
    for key in ("seed", "device", "threads", "output_dir"):
        value = getattr(args, key)
        if value is not None:
            overrides[key] = value  # as given: not parsed as YAML (--output-dir 2024 stays a path)
    cfg = load_config(args.config_file, overrides)
    cfg["name"] = cfg["name"] or os.path.splitext(os.path.basename(args.config_file))[0]
    cfg["output_dir"] = cfg["output_dir"] or os.path.join("output", cfg["name"])
    return cfg


def train_main(argv=None, prog="tools/main.py"):
    """Entry point of tools/main.py. Returns the process exit code."""
    args = build_train_parser(prog).parse_args(argv)
    from .config import ConfigError, save_config
    from .engine.checkpoint import CheckpointError
    from .engine.trainer import Trainer
    from .utils.env import logger, setup_logging
    try:
        cfg = resolve_config(args)
        for flag, path in (("--resume", args.resume), ("--load", args.load)):
            if path and not os.path.isfile(path):  # before anything in the run folder changes
                raise CheckpointError(f"{flag} {path}: file not found (checkpoints are in "
                                      f"<run folder>/checkpoints/, for example latest.pdckpt)")
        os.makedirs(cfg["output_dir"], exist_ok=True)
        setup_logging(os.path.join(cfg["output_dir"], "train.log"))
        logger.info("config %s -> run folder %s", args.config_file, cfg["output_dir"])
        trainer = Trainer(cfg)
        if args.resume:
            trainer.resume(args.resume)  # may take the seed the run started with
        elif args.load:
            trainer.load_weights(args.load)
        save_config(trainer.cfg, os.path.join(cfg["output_dir"], "config.yaml"))
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
        print(f"error: {err}", file=sys.stderr)
        return 2 if isinstance(err, ConfigError) else 1
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in ("train", "download"):
        print("usage: ppimg2img train -c CONFIG [options]   (see ppimg2img train --help)\n"
              "       ppimg2img download NAME [--root datasets]   (official CycleGAN datasets)")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    if argv[0] == "train":
        return train_main(argv[1:], prog="ppimg2img train")
    from .data.cyclegan_datasets import main as download_main
    return download_main(argv[1:], prog="ppimg2img download")


if __name__ == "__main__":
    sys.exit(main())
