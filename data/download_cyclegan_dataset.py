#!/usr/bin/env python
"""Download a CycleGAN dataset (Python port of the original datasets/download_cyclegan_dataset.sh).

    python data/download_cyclegan_dataset.py horse2zebra [--root datasets] [--base-url URL]
"""
import os
import sys

try:
    from ppimg2img.data.cyclegan_datasets import main
except ModuleNotFoundError as err:  # run from a checkout without `pip install -e .`
    if err.name != "ppimg2img":
        raise
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from ppimg2img.data.cyclegan_datasets import main

if __name__ == "__main__":
    sys.exit(main(prog="download_cyclegan_dataset.py"))
