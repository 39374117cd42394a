#!/usr/bin/env python
"""Translate a folder (or files, or globs) of images with a trained run or a pretrained model,
keeping every image's size and resuming where an earlier run stopped.

    python applications/translate_images.py \
        --checkpoint output/quickstart_cyclegan/checkpoints/latest.pdckpt \
        --input data/synthetic_shapes/testA --output output/translated [--direction BtoA]
    python applications/translate_images.py --model horse2zebra --input photos/ --output zebras

Same as ``ppimg2img translate`` with batch-friendly defaults: each image is processed at the
nearest size the generator accepts (``--resize`` uses the model's training size instead), results
already in the output folder are kept (``--overwrite`` redoes them), and unreadable images are
listed at the end without stopping the batch. Writes ``<name>.png`` per input (folder inputs
keep their sub-folders) and ``index.html``. Exit code: 0 all done, 1 some inputs failed, 2 usage.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", "--weights", dest="weights",
                        help="a .pdckpt written by tools/main.py, or any weights file (.pth, .pdparams)")
    source.add_argument("--model", help="a model-zoo name (`ppimg2img models` lists them)")
    p.add_argument("--input", required=True, nargs="+", help="image files, folders or glob patterns")
    p.add_argument("--output", required=True, help="folder for the results")
    p.add_argument("--direction", default="AtoB", choices=["AtoB", "BtoA"],
                   help="AtoB uses G_A / genA2B, BtoA uses G_B / genB2A (pix2pix has AtoB only)")
    p.add_argument("--resize", action="store_true", help="resize to the model's training size (and back) "
                                                         "instead of processing at each image's own size")
    p.add_argument("--overwrite", action="store_true", help="redo images whose results exist")
    p.add_argument("--backend", choices=["auto", "inference", "eager"], default="auto")
    p.add_argument("--device", choices=["cpu", "gpu"], default=None)
    p.add_argument("--batch-size", type=int, default=1)
    args = p.parse_args(argv)

    from ppimg2img.predictors.commands import translate_main
    argv = (["--weights", args.weights] if args.weights else ["--model", args.model]) + list(args.input)
    argv += ["-o", args.output, "--direction", args.direction, "--backend", args.backend,
             "--batch-size", str(args.batch_size)] + (["--device", args.device] if args.device else [])
    argv += ([] if args.resize else ["--native-size"]) + ([] if args.overwrite else ["--skip-existing"])
    return translate_main(argv, prog="applications/translate_images.py")


if __name__ == "__main__":
    sys.exit(main())
