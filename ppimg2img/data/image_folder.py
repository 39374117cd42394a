"""Any folder of images, unlabelled, for the generation models (your own data, e.g. faces).

Images are found recursively (sorted paths), centre-cropped to a square and resized, as
DCGAN's reference code prepares celebA (torchvision ``Resize(size)`` then ``CenterCrop(size)``;
cropping first and resizing the square is the same picture up to resampling).
"""
import logging
import math
import os

import numpy as np
import paddle

from ..utils.image_io import IMG_EXTENSIONS, list_images, load_image
from .mnist import check_generation_options, resize_square, to_item_array
from .skipping import load_first_usable

__all__ = ["ImageFolderDataset", "center_crop_square"]

logger = logging.getLogger("ppimg2img")


def center_crop_square(img):
    """The largest centred square of an HxW(xC) image."""
    h, w = img.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return img[top:top + side, left:left + side]


class ImageFolderDataset(paddle.io.Dataset):
    """Unlabelled images from one folder (searched recursively) for the generation models.

    Args:
        dataroot: folder of images (subfolders included; extensions: see ``IMG_EXTENSIONS``).
        image_size: side of the square images (centre crop to a square, then resize; default 64,
            DCGAN's 64x64 architecture).
        channels: 3 (RGB) or 1 (grey, ITU-R 601 luma).
        max_dataset_size: use at most this many images (first ones in sorted order); None = all.
        seed: base seed of the per-item generator ``default_rng([seed, epoch, index])`` (used by ``flip``).
        phase: if given and ``<dataroot>/<phase>`` is a folder, read that folder instead (so a
            config's train/test phases work with split folders); otherwise ignored.
        flip: random horizontal flip (off by default).

    Items: ``{"image": float32 [C,H,W] in [-1,1], "label": int64 -1 (no labels), "path": file,
    "skipped": "path: reason" lines of unreadable files replaced by the next usable one}``.
    """

    kind = "generation"
    num_classes = 0

    def __init__(self, dataroot, image_size=64, channels=3, max_dataset_size=None, seed=0, phase=None, flip=False):
        super().__init__()
        if image_size is None:
            raise ValueError("image_size must be an integer for ImageFolderDataset (images of a folder have no "
                             "common native size), e.g. 64")
        check_generation_options(image_size, channels, max_dataset_size, seed)
        root = os.fspath(dataroot)
        if not os.path.isdir(root):
            raise FileNotFoundError(f"dataroot '{root}' does not exist: point it to a folder of images "
                                    f"(subfolders allowed; extensions: {' '.join(IMG_EXTENSIONS)}).")
        if phase and os.path.isdir(os.path.join(root, phase)):
            root = os.path.join(root, phase)
        paths = list_images(root)
        if not paths:
            raise FileNotFoundError(f"no images found in '{root}' (searched recursively; extensions: "
                                    f"{' '.join(IMG_EXTENSIONS)}).")
        if max_dataset_size is not None and max_dataset_size != math.inf:
            paths = paths[:int(max_dataset_size)]
        self.dataroot, self.phase, self.paths = root, phase, paths
        self.image_size, self.channels, self.seed, self.flip = int(image_size), channels, int(seed), bool(flip)
        self.epoch = 0
        self.bad_files = {}  # path -> reason (this process only; workers log their own warnings)

    def set_epoch(self, epoch):
        """Select the epoch whose random choices ``__getitem__`` reproduces (only ``flip`` uses them)."""
        self.epoch = int(epoch)

    def __len__(self):
        return len(self.paths)

    def _load(self, path):
        return resize_square(center_crop_square(load_image(path)), self.image_size)

    def __getitem__(self, index):
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} items")
        skipped = []
        path, img = load_first_usable(self.paths, index, self._load, self.bad_files, skipped,
                                      "Remove or replace the broken files.")
        if self.flip and np.random.default_rng([self.seed, self.epoch, index]).random() < 0.5:
            img = img[:, ::-1]
        return {"image": to_item_array(img, self.channels), "label": np.int64(-1), "path": path,
                "skipped": "\n".join(skipped)}

    def __repr__(self):
        return (f"ImageFolderDataset(dataroot='{self.dataroot}', n={len(self)}, image_size={self.image_size}, "
                f"channels={self.channels})")
