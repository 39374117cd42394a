#!/usr/bin/env python
"""Export every generator of a trained model for deployment (Paddle Inference, optionally ONNX).

    python tools/export_model.py --load output/quickstart_cyclegan/checkpoints/latest.pdckpt
    python tools/export_model.py -c configs/cyclegan_horse2zebra.yaml --load weights.pdparams -o out --onnx

Writes <generator>.json + .pdiparams (and .onnx) per generator, export.json and README.md.
Exit codes: 0 done, 1 a file could not be read or exported, 2 usage error. See docs/export.md.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None):
    """Parse ``argv`` (default: sys.argv[1:]), export, return the exit code."""
    from ppimg2img.export.model import export_main

    return export_main(argv, prog="tools/export_model.py")


if __name__ == "__main__":
    sys.exit(main())
