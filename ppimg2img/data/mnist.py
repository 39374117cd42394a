"""MNIST and Fashion-MNIST (and the synthetic digits, written in the same format) for the
generation models.

Files: ``<dataroot>/train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz`` (gzip-compressed or not), in the
IDX format of http://yann.lecun.com/exdb/mnist/: a big-endian magic number (2051 for images,
2049 for labels: two zero bytes, a type byte 0x08 = uint8 and the number of dimensions), the
dimensions as big-endian int32, then the data.
"""
import gzip
import math
import os
import zlib

import cv2
import numpy as np
import paddle

__all__ = ["read_idx", "load_mnist", "mnist_files", "MNISTDataset", "SyntheticDigitsDataset", "IMAGES_MAGIC",
           "LABELS_MAGIC"]

IMAGES_MAGIC = 2051  # 0x00000803: uint8, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: uint8, 1 dimension
_PREFIX = {"train": "train", "test": "t10k"}
_GET_DATA = ("Get MNIST with `ppimg2img download-dataset mnist --root datasets` (then dataroot: datasets/mnist), "
             "Fashion-MNIST with `ppimg2img download-dataset fashion_mnist`, or use the offline synthetic digits "
             "(dataset SyntheticDigitsDataset, generated on first use)")


def read_idx(path, expected_magic=None):
    """Read an IDX file (gzip-compressed or raw) of unsigned bytes as a NumPy uint8 array.

    Raises ValueError naming the file when it is not an uint8 IDX file, when its magic number is
    not ``expected_magic`` (2051 images, 2049 labels), or when it is truncated or too long.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(0)
            data = gzip.decompress(f.read()) if head == b"\x1f\x8b" else f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"IDX file '{path}' does not exist. {_GET_DATA}.") from None
    except (EOFError, OSError, zlib.error) as err:
        raise ValueError(f"'{path}' is a truncated or corrupt gzip file ({err}); delete it and download it "
                         f"again.") from None
    if len(data) < 4:
        raise ValueError(f"'{path}' is truncated: {len(data)} bytes, not even an IDX header")
    magic = int.from_bytes(data[:4], "big")
    if data[0] or data[1] or data[2] != 0x08 or not 1 <= data[3] <= 4:
        raise ValueError(f"'{path}' is not an IDX file of unsigned bytes: magic number {magic} (0x{magic:08x}); "
                         f"MNIST-format files start with {IMAGES_MAGIC} (images) or {LABELS_MAGIC} (labels)")
    if expected_magic is not None and magic != expected_magic:
        what = {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}
        raise ValueError(f"'{path}' has magic number {magic} ({what.get(magic, '?')}) but {expected_magic} "
                         f"({what.get(expected_magic, '?')}) was expected: images and labels files swapped?")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"'{path}' is truncated: its header announces {ndim} dimensions but the file has only "
                         f"{len(data)} bytes")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header + math.prod(shape)
    if len(data) != expected:
        state = "truncated" if len(data) < expected else "longer than its header says"
        raise ValueError(f"'{path}' is {state}: shape {shape} needs {expected} bytes, the file has {len(data)}; "
                         f"delete it and download it again")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def _find(dataroot, name):
    """``<dataroot>/<name>.gz`` or ``<dataroot>/<name>`` (also under ``raw/``, torchvision's layout)."""
    for folder in (dataroot, os.path.join(dataroot, "raw")):
        for candidate in (name + ".gz", name):
            path = os.path.join(folder, candidate)
            if os.path.isfile(path):
                return path
    return None


def mnist_files(dataroot, phase="train"):
    """Paths of the (images, labels) files of ``phase`` ('train' or 'test') in ``dataroot``."""
    if phase not in _PREFIX:
        raise ValueError(f"phase must be 'train' or 'test' for MNIST-format data, got {phase!r}")
    dataroot = os.fspath(dataroot)
    if not os.path.isdir(dataroot):
        raise FileNotFoundError(f"dataroot '{dataroot}' does not exist. {_GET_DATA}.")
    paths = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        name = f"{_PREFIX[phase]}-{kind}"
        path = _find(dataroot, name)
        if path is None:
            raise FileNotFoundError(f"'{dataroot}' has no {name}.gz (or {name}) for phase '{phase}'. {_GET_DATA}.")
        paths.append(path)
    return tuple(paths)


def load_mnist(dataroot, phase="train"):
    """``(images uint8 [N, H, W], labels int64 [N])`` of the MNIST-format files in ``dataroot``."""
    images_path, labels_path = mnist_files(dataroot, phase)
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if images.ndim != 3 or labels.ndim != 1:
        raise ValueError(f"'{images_path}' / '{labels_path}': expected images [N,H,W] and labels [N], got shapes "
                         f"{images.shape} and {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"'{images_path}' holds {len(images)} images but '{labels_path}' holds {len(labels)} labels; "
                         f"the files belong to different data sets or one is damaged")
    return images, labels.astype(np.int64)


def check_generation_options(image_size, channels, max_dataset_size, seed, allowed_channels=(1, 3)):
    """Validate the options shared by the generation datasets (ValueError saying what to pass)."""
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer))
                                   or image_size < 4):
        raise ValueError(f"image_size must be None (native size) or an integer >= 4 (e.g. 32 or 64), "
                         f"got {image_size!r}")
    if channels not in allowed_channels:
        raise ValueError(f"channels must be one of {allowed_channels} (1 = grey, 3 = RGB), got {channels!r}")
    if max_dataset_size is not None and max_dataset_size != math.inf and (
            isinstance(max_dataset_size, bool) or not isinstance(max_dataset_size, (int, np.integer))
            or max_dataset_size < 1):
        raise ValueError(f"max_dataset_size must be a positive integer or None (all), got {max_dataset_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def resize_square(img, size):
    """Resize an HxW(xC) uint8 image to size x size: INTER_AREA when shrinking, INTER_LINEAR when enlarging."""
    if img.shape[0] == size and img.shape[1] == size:
        return img
    interpolation = cv2.INTER_AREA if size < max(img.shape[:2]) else cv2.INTER_LINEAR
    return cv2.resize(img, (size, size), interpolation=interpolation)


def to_item_array(img, channels):
    """HxW grey or HxWx3 RGB uint8 -> float32 [channels, H, W] in [-1, 1]."""
    if img.ndim == 2:
        img = img[None]
        if channels == 3:
            img = np.repeat(img, 3, axis=0)
    else:
        img = img.transpose(2, 0, 1)
        if channels == 1:  # ITU-R 601-2 luma, as PIL's convert('L')
            img = (img[0] * 0.299 + img[1] * 0.587 + img[2] * 0.114 + 0.5).astype(np.uint8)[None]
    return np.ascontiguousarray(img, dtype=np.float32) / np.float32(127.5) - np.float32(1.0)


class LabelledArrayDataset(paddle.io.Dataset):
    """Images and labels held in memory as arrays (MNIST-format files, CIFAR-10 batches), with the
    generation datasets' options: resizing, channels, ``max_dataset_size`` and ``flip``.
    Subclasses check the options with ``super().__init__``, read their files, then call
    ``set_arrays``."""

    kind = "generation"
    num_classes = 10

    def __init__(self, phase, image_size, channels, max_dataset_size, seed, flip):
        super().__init__()
        check_generation_options(image_size, channels, max_dataset_size, seed)
        self.phase, self.image_size, self.channels = phase, image_size, channels
        self.max_dataset_size, self.seed, self.flip, self.epoch = max_dataset_size, int(seed), bool(flip), 0

    def set_arrays(self, images, labels, source):
        """Keep the first ``max_dataset_size`` images and check the labels; ``source`` names the files."""
        if self.max_dataset_size is not None and self.max_dataset_size != math.inf:
            images, labels = images[:int(self.max_dataset_size)], labels[:int(self.max_dataset_size)]
        if not len(images):
            raise ValueError(f"{source} holds no images")
        bad = labels[(labels < 0) | (labels >= self.num_classes)]
        if bad.size:
            raise ValueError(f"labels of phase '{self.phase}' in {source} must be 0-{self.num_classes - 1}, "
                             f"found {int(bad[0])}")
        self.images, self.labels = images, labels

    def set_epoch(self, epoch):
        """Select the epoch whose random choices ``__getitem__`` reproduces (only ``flip`` uses them)."""
        self.epoch = int(epoch)

    def __len__(self):
        return len(self.images)

    def item_path(self, index):
        """Where item ``index`` comes from: '<file>#<index in that file>'."""
        raise NotImplementedError

    def __getitem__(self, index):
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} items")
        img = self.images[index]
        if self.image_size is not None:
            img = resize_square(img, self.image_size)
        if self.flip and np.random.default_rng([self.seed, self.epoch, index]).random() < 0.5:
            img = img[:, ::-1]
        return {"image": to_item_array(img, self.channels), "label": np.int64(self.labels[index]),
                "path": self.item_path(index), "skipped": ""}

    def __repr__(self):
        return (f"{type(self).__name__}(dataroot='{self.dataroot}', phase='{self.phase}', n={len(self)}, "
                f"image_size={self.image_size or self.images.shape[1]}, channels={self.channels})")


class MNISTDataset(LabelledArrayDataset):
    """MNIST-format data (MNIST, Fashion-MNIST, the synthetic digits) for the generation models.

    Args:
        dataroot: folder holding ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
            ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz`` (or the same without .gz,
            or under ``raw/``), e.g. datasets/mnist after ``ppimg2img download-dataset mnist``.
        phase: 'train' (the 60000 training images) or 'test' (the 10000 ``t10k`` images).
        image_size: None keeps the native 28x28; an integer resizes (INTER_AREA down,
            INTER_LINEAR up), e.g. 32, or 64 for DCGAN's 64x64 architecture.
        channels: 1 (grey) or 3 (grey repeated, for RGB networks).
        max_dataset_size: use at most this many images (the first ones); None = all.
        seed: base seed of the per-item generator ``default_rng([seed, epoch, index])`` (used by ``flip``).
        flip: random horizontal flip (off by default: a flipped digit is not a digit).

    Items: ``{"image": float32 [C,H,W] in [-1,1], "label": int64, "path": "<images file>#<index>",
    "skipped": ""}``.
    """

    #: grey images (``channels: 3`` repeats them): the digit classifier's metrics apply
    grey_source = True

    def __init__(self, dataroot, phase="train", image_size=None, channels=1, max_dataset_size=None, seed=0,
                 flip=False):
        super().__init__(phase, image_size, channels, max_dataset_size, seed, flip)
        self.dataroot = os.fspath(dataroot)
        self.images_path = mnist_files(self.dataroot, phase)[0]
        self.set_arrays(*load_mnist(self.dataroot, phase), f"'{self.images_path}'")

    def item_path(self, index):
        return f"{self.images_path}#{index}"


class SyntheticDigitsDataset(MNISTDataset):
    """The offline default digits (:mod:`ppimg2img.data.digits`): generated into ``dataroot`` on first
    use (MNIST's file format, a few seconds), then read like MNIST. Never downloads anything.

    Args:
        dataroot: folder for the generated files (e.g. datasets/synthetic_digits), created if missing;
            a folder holding other MNIST-format files (e.g. the real MNIST) is refused, not overwritten.
        phase: 'train' (the n_train generated digits) or 'test' (the n_test others).
        image_size: None keeps the native 28x28; an integer resizes (INTER_AREA down,
            INTER_LINEAR up), e.g. 32, or 64 for DCGAN's 64x64 architecture.
        channels: 1 (grey) or 3 (grey repeated, for RGB networks).
        max_dataset_size: use at most this many images (the first ones); None = all.
        seed: base seed of the per-item generator ``default_rng([seed, epoch, index])`` (used by ``flip``).
        flip: random horizontal flip (off by default: a flipped digit is not a digit).
        n_train: number of generated training digits (balanced classes).
        n_test: number of generated test digits (balanced classes).
        digits_seed: seed of the generated digits themselves (which digits the files hold).

    Items: as :class:`MNISTDataset`.
    """

    def __init__(self, dataroot, phase="train", image_size=None, channels=1, max_dataset_size=None, seed=0,
                 flip=False, n_train=6000, n_test=1000, digits_seed=0):
        from .digits import ensure_synthetic_digits
        ensure_synthetic_digits(dataroot, n_train=n_train, n_test=n_test, seed=digits_seed)
        super().__init__(dataroot, phase=phase, image_size=image_size, channels=channels,
                         max_dataset_size=max_dataset_size, seed=seed, flip=flip)
