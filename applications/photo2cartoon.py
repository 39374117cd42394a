#!/usr/bin/env python
"""Cartoonise the faces of a folder of photos with photo2cartoon, resuming where an earlier run
stopped.

    python applications/photo2cartoon.py --input photos/ --output cartoons [--paste-back] [--faces all]
    python applications/photo2cartoon.py --weights photo2cartoon_weights.pt --input me.jpg --output out

Same as ``ppimg2img cartoonize`` with batch-friendly defaults: photos whose results are already in
the output folder are skipped (``--overwrite`` redoes them); photos without a face, and unreadable
files, are listed at the end without stopping the batch. Per photo it writes
``<name>_aligned.png`` (the aligned face on white, as the network sees it), ``<name>_cartoon.png``
(and ``<name>_pasted.png`` with ``--paste-back``), plus ``index.html`` showing them side by side.
Exit code: 0 all done, 1 some photos failed, 2 usage.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = p.add_mutually_exclusive_group()
    source.add_argument("--weights", help="photo2cartoon weights: the authors' .pt or PaddleGAN's .pdparams")
    source.add_argument("--model", default="paddlegan/photo2cartoon", help="zoo name (paddlegan/photo2cartoon)")
    p.add_argument("--input", required=True, nargs="+", help="photos, folders or glob patterns")
    p.add_argument("--output", required=True, help="folder for the results")
    p.add_argument("--faces", choices=["largest", "all"], default="largest")
    p.add_argument("--paste-back", action="store_true", help="also write the photo with the cartoon faces in it")
    p.add_argument("--overwrite", action="store_true", help="redo photos whose results exist")
    p.add_argument("--backend", choices=["auto", "inference", "eager"], default="auto")
    p.add_argument("--device", choices=["cpu", "gpu"], default=None)
    args = p.parse_args(argv)

    from ppimg2img.predictors.commands import cartoonize_main
    argv = (["--weights", args.weights] if args.weights else ["--model", args.model]) + list(args.input)
    argv += ["-o", args.output, "--faces", args.faces, "--backend", args.backend]
    argv += (["--device", args.device] if args.device else []) + (["--paste-back"] if args.paste_back else [])
    argv += [] if args.overwrite else ["--skip-existing"]
    return cartoonize_main(argv, prog="applications/photo2cartoon.py")


if __name__ == "__main__":
    sys.exit(main())
