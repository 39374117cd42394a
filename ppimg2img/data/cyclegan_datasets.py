"""The official CycleGAN datasets (as in datasets/download_cyclegan_dataset.sh of
junyanz/pytorch-CycleGAN-and-pix2pix, plus ``grumpifycat`` from the CUT repository), downloaded
from ``http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/<name>.zip``.
"""
import difflib
import os

from ppimg2img.utils.download import DownloadError

from .archives import install_dataset

__all__ = ["OFFICIAL_BASE_URL", "CYCLEGAN_DATASETS", "download_cyclegan_dataset", "dataset_url"]

OFFICIAL_BASE_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets"

_UNALIGNED = ("trainA", "trainB", "testA", "testB")
# name -> sub-folders that must exist after extraction.
CYCLEGAN_DATASETS = {
    "apple2orange": _UNALIGNED,
    "summer2winter_yosemite": _UNALIGNED,
    "horse2zebra": _UNALIGNED,
    "monet2photo": _UNALIGNED,
    "cezanne2photo": _UNALIGNED,
    "ukiyoe2photo": _UNALIGNED,
    "vangogh2photo": _UNALIGNED,
    "maps": _UNALIGNED,
    "cityscapes": _UNALIGNED,  # not distributed by the authors, see CITYSCAPES_MESSAGE
    "facades": _UNALIGNED,
    "iphone2dslr_flower": _UNALIGNED,
    "ae_photos": (),  # test photos only (used with --model test); just checked to be non-empty
    "mini": ("trainA", "trainB"),  # tiny set used by the original repo's smoke tests
    "mini_pix2pix": ("train", "test"),  # aligned A|B images for pix2pix
    "grumpifycat": ("trainA", "trainB"),  # Russian Blue -> Grumpy Cat (CUT); no test split
}

CITYSCAPES_MESSAGE = (
    "Due to license issue, the CycleGAN authors cannot provide the Cityscapes dataset. Please download "
    "gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip from https://cityscapes-dataset.com and "
    "prepare them as explained in datasets/prepare_cityscapes_dataset.py of "
    "junyanz/pytorch-CycleGAN-and-pix2pix (trainA/trainB/testA/testB folders for CycleGAN), or pass "
    "--base-url / set PPIMG2IMG_DATASET_URL to a server that hosts your own cityscapes.zip."
)


def _check_name(name):
    if name in CYCLEGAN_DATASETS:
        return
    close = difflib.get_close_matches(str(name), CYCLEGAN_DATASETS, n=1, cutoff=0.5)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise ValueError(f"Unknown CycleGAN dataset '{name}'.{hint} "
                     f"Available datasets: {', '.join(CYCLEGAN_DATASETS)}.")


def dataset_url(name, base_url=None):
    """URL of ``<name>.zip``: ``base_url`` > env ``PPIMG2IMG_DATASET_URL`` > the official server."""
    base = base_url or os.environ.get("PPIMG2IMG_DATASET_URL") or OFFICIAL_BASE_URL
    return f"{base.rstrip('/')}/{name}.zip"


def download_cyclegan_dataset(name, root="datasets", base_url=None, progress=True):
    """Download and extract a CycleGAN dataset to ``<root>/<name>`` and return that path.

    The zip is downloaded (resumably) into ``get_cache_dir()/datasets``, extracted atomically and
    then deleted, like the original script. An already complete ``<root>/<name>`` is returned
    without downloading. Raises ValueError for unknown names and DownloadError when the download
    fails or the archive lacks the expected folders.
    """
    _check_name(name)
    base = base_url or os.environ.get("PPIMG2IMG_DATASET_URL")
    if name == "cityscapes" and not base:
        raise DownloadError(CITYSCAPES_MESSAGE)
    return install_dataset(name, dataset_url(name, base), root, CYCLEGAN_DATASETS[name], progress=progress)


def main(argv=None, prog=None):
    """Command line of data/download_cyclegan_dataset.py and ``ppimg2img download-dataset``."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog=prog,
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

