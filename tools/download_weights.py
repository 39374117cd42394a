#!/usr/bin/env python
"""Download pretrained generator weights from the model zoo ahead of time (same as
``ppimg2img download``), converting each to Paddle once:

    python tools/download_weights.py horse2zebra pix2pix/facades_label2photo
    python tools/download_weights.py --help       # the cache folder and offline instructions

``ppimg2img models`` lists the names.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppimg2img.cli import download_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(download_main(prog="download_weights.py"))
