#!/usr/bin/env python
"""Download a CycleGAN dataset (Python port of datasets/download_cyclegan_dataset.sh).

    python data/download_cyclegan_dataset.py horse2zebra [--root datasets] [--base-url URL]
"""
import argparse
import os
import sys

try:
    from ppimg2img.data.cyclegan_datasets import CYCLEGAN_DATASETS, OFFICIAL_BASE_URL, download_cyclegan_dataset
except ModuleNotFoundError as err:  # run from a checkout without `pip install -e .`
    if err.name != "ppimg2img":
        raise
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from ppimg2img.data.cyclegan_datasets import CYCLEGAN_DATASETS, OFFICIAL_BASE_URL, download_cyclegan_dataset
from ppimg2img.utils.download import DownloadError


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Download a CycleGAN dataset and extract it to ROOT/NAME "
                    "(folders trainA, trainB, testA, testB).",
        epilog="Available datasets: " + ", ".join(CYCLEGAN_DATASETS))
    parser.add_argument("name", metavar="NAME", help="dataset name, one of: " + ", ".join(CYCLEGAN_DATASETS))
    parser.add_argument("--root", default="datasets", help="folder that receives NAME/ (default: datasets)")
    parser.add_argument("--base-url", default=None,
                        help="server hosting NAME.zip (default: env PPIMG2IMG_DATASET_URL or "
                             f"{OFFICIAL_BASE_URL})")
    args = parser.parse_args(argv)
    try:
        path = download_cyclegan_dataset(args.name, root=args.root, base_url=args.base_url)
    except ValueError as err:  # unknown name
        parser.error(str(err))
    except (DownloadError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Dataset '{args.name}' is ready in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
