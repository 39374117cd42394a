"""The official pix2pix datasets (as datasets/download_pix2pix_dataset.sh of
junyanz/pytorch-CycleGAN-and-pix2pix), downloaded from
``http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/<name>.tar.gz``. Images are A|B side by
side (AlignedDataset layout); which half is the "input" differs per set, see DIRECTIONS.
"""
import difflib
import os

from ppimg2img.utils.download import DownloadError

from .archives import install_dataset

__all__ = ["OFFICIAL_BASE_URL", "PIX2PIX_DATASETS", "DIRECTIONS", "download_pix2pix_dataset", "dataset_url"]

OFFICIAL_BASE_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets"

# name -> sub-folders that must exist after extraction
PIX2PIX_DATASETS = {
    "facades": ("train", "val", "test"),
    "cityscapes": ("train", "val"),  # not distributed by the authors, see CITYSCAPES_MESSAGE
    "maps": ("train", "val"),
    "edges2shoes": ("train", "val"),
    "edges2handbags": ("train", "val"),
    "night2day": ("train", "val", "test"),
}

#: the direction the original scripts train with (A|B as stored)
DIRECTIONS = {"facades": "BtoA", "cityscapes": "BtoA", "maps": "AtoB", "edges2shoes": "AtoB",
              "edges2handbags": "AtoB", "night2day": "AtoB"}

CITYSCAPES_MESSAGE = (
    "Due to license issue, the pix2pix authors cannot provide the Cityscapes dataset. Download "
    "gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip from https://cityscapes-dataset.com and "
    "prepare them with datasets/prepare_cityscapes_dataset.py of junyanz/pytorch-CycleGAN-and-pix2pix "
    "(it writes side-by-side photo|label images into train/ and val/), or pass --base-url / set "
    "PPIMG2IMG_DATASET_URL to a server that hosts your own cityscapes.tar.gz."
)


def _check_name(name):
    if name in PIX2PIX_DATASETS:
        return
    close = difflib.get_close_matches(str(name), PIX2PIX_DATASETS, n=1, cutoff=0.5)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise ValueError(f"Unknown pix2pix dataset '{name}'.{hint} Available datasets: {', '.join(PIX2PIX_DATASETS)}.")


def dataset_url(name, base_url=None):
    """URL of ``<name>.tar.gz``: ``base_url`` > env ``PPIMG2IMG_DATASET_URL`` > the official server."""
    base = base_url or os.environ.get("PPIMG2IMG_DATASET_URL") or OFFICIAL_BASE_URL
    return f"{base.rstrip('/')}/{name}.tar.gz"


def download_pix2pix_dataset(name, root="datasets", base_url=None, progress=True):
    """Download and extract a pix2pix dataset to ``<root>/<name>`` and return that path.

    The archive is downloaded (resumably) into ``get_cache_dir()/datasets``, extracted safely and
    atomically, then deleted. An already complete ``<root>/<name>`` is returned as is.
    """
    _check_name(name)
    base = base_url or os.environ.get("PPIMG2IMG_DATASET_URL")
    if name == "cityscapes" and not base:
        raise DownloadError(CITYSCAPES_MESSAGE)
    return install_dataset(name, dataset_url(name, base), root, PIX2PIX_DATASETS[name], progress=progress)


def main(argv=None, prog=None):
    """Command line of data/download_pix2pix_dataset.py."""
    import argparse
    import sys
    parser = argparse.ArgumentParser(
        prog=prog, description="Download a pix2pix dataset (side-by-side A|B images) and extract it to ROOT/NAME.",
        epilog="Available datasets: " + ", ".join(f"{n} (train with direction {d})" for n, d in DIRECTIONS.items()))
    parser.add_argument("name", metavar="NAME", help="dataset name, one of: " + ", ".join(PIX2PIX_DATASETS))
    parser.add_argument("--root", default="datasets", help="folder that receives NAME/ (default: datasets)")
    parser.add_argument("--base-url", default=None, help="server hosting NAME.tar.gz (default: env "
                                                         f"PPIMG2IMG_DATASET_URL or {OFFICIAL_BASE_URL})")
    args = parser.parse_args(argv)
    try:
        path = download_pix2pix_dataset(args.name, root=args.root, base_url=args.base_url)
    except ValueError as err:
        parser.error(str(err))
    except (DownloadError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Dataset '{args.name}' is ready in {path} (A|B images; the original trains it with "
          f"direction {DIRECTIONS[args.name]})")
    return 0
