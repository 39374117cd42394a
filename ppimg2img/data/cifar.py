"""CIFAR-10 for the generation models, from the official "python version" batches
(https://www.cs.toronto.edu/~kriz/cifar.html): ``cifar-10-batches-py/data_batch_1`` ... ``data_batch_5``,
``test_batch`` and ``batches.meta``.

The batches are pickles (Python 2 cPickle dicts with keys ``data``: uint8 [10000, 3072], each row
the 1024 red, then green, then blue values of a 32x32 image, row-major; ``labels``: 10000 ints
0-9). A pickle can run code when it is loaded, so they are read only through the project's
restricted unpickler (:func:`ppimg2img.weights.reader.read_checkpoint`), which builds containers
and NumPy arrays and refuses anything else; never with ``pickle.load``.
"""
import os

import numpy as np

from .mnist import LabelledArrayDataset

__all__ = ["CIFAR10Dataset", "load_cifar10", "read_cifar_batch", "CIFAR10_CLASSES", "TRAIN_BATCHES", "TEST_BATCHES"]

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FOLDER = "cifar-10-batches-py"
_GET_DATA = ("Get CIFAR-10 with `ppimg2img download-dataset cifar10 --root datasets` (then dataroot: "
             "datasets/cifar10), or extract cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html "
             "into dataroot")


def _get(batch, key):
    """``batch[key]`` whether the dict keys were decoded as str (Python 2 str read with latin1) or kept as bytes."""
    if key in batch:
        return batch[key]
    if key.encode() in batch:
        return batch[key.encode()]
    raise KeyError(key)


def read_cifar_batch(path):
    """``(images uint8 [N, 32, 32, 3] RGB, labels int64 [N])`` of one CIFAR-10 batch file, read
    with the restricted unpickler (hostile pickles raise UnsafeCheckpointError naming the global)."""
    # imported here: ppimg2img.weights pulls in the nets, which ``import ppimg2img.data`` does not need
    from ..weights.reader import CheckpointReadError, read_checkpoint
    path = os.fspath(path)
    try:
        batch = read_checkpoint(path)
    except CheckpointReadError as err:
        raise ValueError(f"cannot read CIFAR-10 batch: {err}. Delete the data set and download it again.") from None
    if not isinstance(batch, dict):
        raise ValueError(f"'{path}' is not a CIFAR-10 batch: it holds a {type(batch).__name__}, not a dict")
    try:
        data, labels = _get(batch, "data"), _get(batch, "labels")
    except KeyError as err:
        keys = sorted(k.decode("latin1") if isinstance(k, bytes) else str(k) for k in batch)
        raise ValueError(f"'{path}' is not a CIFAR-10 batch: no {err} entry (keys: {keys}). CIFAR-100's "
                         f"'fine_labels' batches are not supported.") from None
    data = np.asarray(data)
    labels = np.asarray(labels)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"'{path}': 'data' must be uint8 [N, 3072] (32x32 RGB planes), got {data.dtype} "
                         f"{data.shape}; the file is damaged or not a CIFAR-10 python batch")
    if labels.ndim != 1 or len(labels) != len(data):
        raise ValueError(f"'{path}': {len(data)} images but labels of shape {labels.shape}; the file is damaged")
    if labels.size and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"'{path}': labels must be integers 0-9; the file is damaged or not CIFAR-10")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), labels.astype(np.int64)


def batches_folder(dataroot):
    """The folder holding the batch files: ``dataroot`` itself or ``dataroot/cifar-10-batches-py``."""
    dataroot = os.fspath(dataroot)
    if not os.path.isdir(dataroot):
        raise FileNotFoundError(f"dataroot '{dataroot}' does not exist. {_GET_DATA}.")
    for folder in (os.path.join(dataroot, FOLDER), dataroot):
        if os.path.isfile(os.path.join(folder, TEST_BATCHES[0])) or os.path.isfile(
                os.path.join(folder, TRAIN_BATCHES[0])):
            return folder
    raise FileNotFoundError(f"'{dataroot}' holds no CIFAR-10 batches (data_batch_1 ... data_batch_5, test_batch, "
                            f"directly or in {FOLDER}/). {_GET_DATA}.")


def _load_batches(dataroot, phase):
    if phase not in ("train", "test"):
        raise ValueError(f"phase must be 'train' or 'test' for CIFAR-10, got {phase!r}")
    folder = batches_folder(dataroot)
    names = TRAIN_BATCHES if phase == "train" else TEST_BATCHES
    missing = [n for n in names if not os.path.isfile(os.path.join(folder, n))]
    if missing:
        raise FileNotFoundError(f"'{folder}' lacks {', '.join(missing)} for phase '{phase}'. {_GET_DATA}.")
    paths = [os.path.join(folder, n) for n in names]
    parts = [read_cifar_batch(p) for p in paths]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), paths, [len(p[1]) for p in parts]


def load_cifar10(dataroot, phase="train"):
    """``(images uint8 [N, 32, 32, 3], labels int64 [N])``: the five training batches or the test batch."""
    images, labels, _, _ = _load_batches(dataroot, phase)
    return images, labels


def read_class_names(dataroot):
    """Class names from ``batches.meta`` (restricted unpickler), or the official ones if it is absent."""
    path = os.path.join(batches_folder(dataroot), "batches.meta")
    if not os.path.isfile(path):
        return CIFAR10_CLASSES
    from ..weights.reader import read_checkpoint
    meta = read_checkpoint(path)
    names = _get(meta, "label_names")
    return tuple(n.decode("latin1") if isinstance(n, bytes) else str(n) for n in names)


class CIFAR10Dataset(LabelledArrayDataset):
    """CIFAR-10 (32x32 RGB, 10 classes) for the generation models.

    Args:
        dataroot: folder holding ``cifar-10-batches-py/`` (e.g. datasets/cifar10 after
            ``ppimg2img download-dataset cifar10``) or the batch files themselves.
        phase: 'train' (data_batch_1..5, 50000 images) or 'test' (test_batch, 10000 images).
        image_size: None keeps the native 32x32; an integer resizes (INTER_AREA down, INTER_LINEAR up), e.g. 64.
        channels: 3 (RGB) or 1 (grey, ITU-R 601 luma).
        max_dataset_size: use at most this many images (the first ones); None = all.
        seed: base seed of the per-item generator ``default_rng([seed, epoch, index])`` (used by ``flip``).
        flip: random horizontal flip (off by default).

    Items: ``{"image": float32 [C,H,W] in [-1,1], "label": int64, "path": "<batch file>#<index>",
    "skipped": ""}``. ``class_names`` holds the names from ``batches.meta``.
    """

    def __init__(self, dataroot, phase="train", image_size=None, channels=3, max_dataset_size=None, seed=0,
                 flip=False):
        super().__init__(phase, image_size, channels, max_dataset_size, seed, flip)
        self.dataroot = os.fspath(dataroot)
        images, labels, self._batch_paths, counts = _load_batches(self.dataroot, phase)
        self._batch_starts = np.cumsum([0] + counts[:-1])
        self.set_arrays(images, labels, f"the CIFAR-10 batches of phase '{phase}' in '{self.dataroot}'")
        self.class_names = read_class_names(self.dataroot)

    def item_path(self, index):
        """'<batch file>#<index in that file>'."""
        batch = int(np.searchsorted(self._batch_starts, index, side="right")) - 1
        return f"{self._batch_paths[batch]}#{index - int(self._batch_starts[batch])}"
