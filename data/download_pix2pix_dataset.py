#!/usr/bin/env python
"""Download a pix2pix dataset (Python port of the original datasets/download_pix2pix_dataset.sh).

    python data/download_pix2pix_dataset.py facades [--root datasets] [--base-url URL]
"""
import os
import sys

try:
    from ppimg2img.data.pix2pix_datasets import main
except ModuleNotFoundError as err:  # run from a checkout without `pip install -e .`
    if err.name != "ppimg2img":
        raise
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from ppimg2img.data.pix2pix_datasets import main

if __name__ == "__main__":
    sys.exit(main(prog="download_pix2pix_dataset.py"))
