"""Downloads of the generation models' data sets: MNIST, Fashion-MNIST (IDX gz files) and CIFAR-10
(python batches, tar.gz). Same behaviour as the CycleGAN/pix2pix downloaders: resumable
downloads (``.part`` files), md5 checks (torchvision's checksums), atomic extraction, and an
offline error that says where to put the files by hand.

``<root>/mnist``, ``<root>/fashion_mnist``: the four ``*-ubyte.gz`` files (MNISTDataset's dataroot).
``<root>/cifar10/cifar-10-batches-py``: the batches (CIFAR10Dataset's dataroot: ``<root>/cifar10``).
The offline default needs none of this: SyntheticDigitsDataset generates its digits.
"""
import difflib
import os

from ..utils.download import ChecksumError, DownloadError, download, extract_tar, get_cache_dir

__all__ = ["GENERATION_DATASETS", "download_generation_dataset", "main"]

_MNIST_NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte.gz")
# name -> base URL, [(file name, md5)], description. Checksums from torchvision/datasets/mnist.py and cifar.py.
GENERATION_DATASETS = {
    "mnist": {
        "base_url": "https://ossci-datasets.s3.amazonaws.com/mnist",
        "files": list(zip(_MNIST_NAMES, ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                                         "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))),
        "about": "MNIST handwritten digits, 28x28 grey, 60000 train + 10000 test (MNISTDataset)",
    },
    "fashion_mnist": {
        "base_url": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",
        "files": list(zip(_MNIST_NAMES, ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                                         "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"))),
        "about": "Fashion-MNIST clothes, 28x28 grey, 60000 train + 10000 test (MNISTDataset)",
    },
    "cifar10": {
        "base_url": "https://www.cs.toronto.edu/~kriz",
        "files": [("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a")],
        "about": "CIFAR-10, 32x32 RGB, 50000 train + 10000 test (CIFAR10Dataset)",
    },
}
_CIFAR_FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch",
                "batches.meta")


def _check_name(name):
    if name in GENERATION_DATASETS:
        return
    close = difflib.get_close_matches(str(name), GENERATION_DATASETS, n=1, cutoff=0.5)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise ValueError(f"Unknown generation dataset '{name}'.{hint} Available: {', '.join(GENERATION_DATASETS)}.")


def _base(name, base_url):
    return (base_url or os.environ.get("PPIMG2IMG_DATASET_URL") or GENERATION_DATASETS[name]["base_url"]).rstrip("/")


def _offline_help(err):
    if isinstance(err, ChecksumError):  # the server answered: being offline is not the problem
        return err
    return DownloadError(f"{err} (No internet? The generation models train offline on the synthetic digits: "
                         f"dataset SyntheticDigitsDataset, e.g. configs/quickstart_dcgan.yaml.)")


def download_generation_dataset(name, root="datasets", base_url=None, progress=True):
    """Download ``name`` ('mnist', 'fashion_mnist' or 'cifar10') to ``<root>/<name>`` and return that
    folder (the dataroot of MNISTDataset / CIFAR10Dataset). Files already there are checked (md5)
    and kept; interrupted downloads resume. ``base_url`` (or env ``PPIMG2IMG_DATASET_URL``) replaces
    the official server (files are fetched from ``<base_url>/<file name>``). Raises ValueError for
    unknown names, DownloadError (ChecksumError) when a download fails, FileExistsError when
    ``<root>/cifar10`` exists but is incomplete."""
    _check_name(name)
    spec = GENERATION_DATASETS[name]
    base = _base(name, base_url)
    target = os.path.join(os.fspath(root), name)
    if name != "cifar10":
        for filename, md5 in spec["files"]:
            try:
                download(f"{base}/{filename}", os.path.join(target, filename), md5=md5, progress=progress)
            except DownloadError as err:
                raise _offline_help(err) from None
        return target

    folder = os.path.join(target, "cifar-10-batches-py")
    if os.path.isdir(target):
        missing = [f for f in _CIFAR_FILES if not os.path.isfile(os.path.join(folder, f))]
        if missing:
            raise FileExistsError(f"{target} exists but lacks {', '.join(missing)} in cifar-10-batches-py/. "
                                  "Delete it and run again to re-download.")
        return target
    filename, md5 = spec["files"][0]
    archive = os.path.join(get_cache_dir(), "datasets", filename)
    try:
        download(f"{base}/{filename}", archive, md5=md5, progress=progress)
    except DownloadError as err:
        raise _offline_help(err) from None
    try:
        extract_tar(archive, target)
    except ValueError as err:  # corrupt or unsafe archive despite the checksum: do not keep it
        os.remove(archive)
        raise DownloadError(f"The archive downloaded from {base}/{filename} is unusable and was removed from the "
                            f"cache (the next run downloads it again): {err}") from None
    missing = [f for f in _CIFAR_FILES if not os.path.isfile(os.path.join(folder, f))]
    if missing:
        import shutil
        shutil.rmtree(target)
        raise DownloadError(f"The archive {archive} does not contain cifar-10-batches-py/{', '.join(missing)}; "
                            f"it was kept, check it or delete it to download it again.")
    os.remove(archive)
    return target


def main(argv=None, prog=None):
    """``ppimg2img download-dataset mnist|fashion_mnist|cifar10 [--root DIR] [--base-url URL]``."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog=prog, description="Download a data set of the generation models (DCGAN, WGAN, ...) to ROOT/NAME.",
        epilog="Available: " + "; ".join(f"{n}: {s['about']}" for n, s in GENERATION_DATASETS.items())
               + ". Offline, use SyntheticDigitsDataset (generated, no download).")
    parser.add_argument("name", metavar="NAME", help="one of: " + ", ".join(GENERATION_DATASETS))
    parser.add_argument("--root", default="datasets", help="folder that receives NAME/ (default: datasets)")
    parser.add_argument("--base-url", default=None, help="server hosting the files (default: env "
                                                         "PPIMG2IMG_DATASET_URL or the official server)")
    args = parser.parse_args(argv)
    try:
        path = download_generation_dataset(args.name, root=args.root, base_url=args.base_url)
    except ValueError as err:
        parser.error(str(err))
    except (DownloadError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Dataset '{args.name}' is ready in {path} (use it as dataroot: "
          f"{'CIFAR10Dataset' if args.name == 'cifar10' else 'MNISTDataset'})")
    return 0
