"""Colorization dataset (original ``data/colorization_dataset.py``): RGB photos -> Lab
(scikit-image), input 'A' = L scaled to [-1, 1] (L / 50 - 1), target 'B' = ab / 110.

Layout: ``<dataroot>/<phase>/`` holds ordinary RGB images (searched recursively).
"""
import logging
import math
import os

import numpy as np
import paddle
from skimage import color

from ..utils.image_io import list_images, load_image
from .skipping import load_first_usable
from .transforms import apply_transform, get_transform_params, validate_dataset_options, validate_preprocess

__all__ = ["ColorizationDataset", "rgb_to_lab_arrays", "lab_to_rgb"]

logger = logging.getLogger("ppimg2img")


def rgb_to_lab_arrays(rgb):
    """HxWx3 uint8 RGB -> (L, ab) float32 arrays 1xHxW in [-1, 1] and 2xHxW (ab / 110)."""
    lab = color.rgb2lab(np.asarray(rgb)).astype(np.float32).transpose(2, 0, 1)
    return lab[:1] / 50.0 - 1.0, lab[1:] / 110.0


def lab_to_rgb(L, ab):
    """Network-range L (1xHxW) and ab (2xHxW) -> HxWx3 uint8 RGB (original ``lab2rgb``:
    L = (L + 1) * 50, ab * 110, skimage ``lab2rgb``); out-of-gamut colours are clipped."""
    L, ab = np.asarray(L, np.float64), np.asarray(ab, np.float64)
    if L.ndim == 4:
        L, ab = L[0], ab[0]
    lab = np.concatenate([(L + 1.0) * 50.0, ab * 110.0], axis=0).transpose(1, 2, 0)
    rgb = color.lab2rgb(lab)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


class ColorizationDataset(paddle.io.Dataset):
    """RGB images; item ``i`` = (L, ab) of image ``i`` after the usual resize/crop/flip.

    Args:
        dataroot: folder holding ``<phase>/`` with RGB images.
        phase: sub-folder ('train', 'test', ...).
        preprocess, load_size, crop_size, flip: as the original (resize_and_crop 286 -> 256, flip).
        max_dataset_size: use at most this many images; None = all.
        seed: base seed of ``default_rng([seed, epoch, index])``.
    """

    paired = True
    direction = "AtoB"

    def __init__(self, dataroot, phase="train", preprocess="resize_and_crop", load_size=286, crop_size=256,
                 flip=True, serial_batches=False, max_dataset_size=None, seed=0):
        super().__init__()
        validate_preprocess(preprocess, load_size, crop_size)
        validate_dataset_options(max_dataset_size)
        self.dataroot, self.phase = os.fspath(dataroot), phase
        self.preprocess, self.load_size, self.crop_size, self.flip = preprocess, load_size, crop_size, bool(flip)
        self.seed, self.epoch, self.bad_files = int(seed), 0, {}
        self.dir = os.path.join(self.dataroot, phase)
        if not os.path.isdir(self.dir):
            raise FileNotFoundError(f"image folder '{self.dir}' does not exist (phase='{phase}'). Put RGB "
                                    f"images in <dataroot>/{phase}/ (any photos work for colorization).")
        self.paths = list_images(self.dir)
        if not self.paths:
            raise FileNotFoundError(f"no images found in '{self.dir}' (searched recursively)")
        if max_dataset_size is not None and max_dataset_size != math.inf:
            self.paths = self.paths[:int(max_dataset_size)]

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def __len__(self):
        return len(self.paths)

    def load_pair(self, path, rng):
        """The transformed RGB image of ``path`` (uint8 HxWx3)."""
        img = load_image(path)
        params = get_transform_params((img.shape[1], img.shape[0]), self.preprocess, self.load_size,
                                      self.crop_size, self.flip, rng)
        return apply_transform(img, params, self.preprocess, self.load_size, self.crop_size)

    def __getitem__(self, index):
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} items")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        skipped = []  # an unusable file is replaced by the next usable one
        path, rgb = load_first_usable(self.paths, index, lambda p: self.load_pair(p, rng), self.bad_files, skipped)
        L, ab = rgb_to_lab_arrays(rgb)
        return {"A": L, "B": ab, "A_paths": path, "B_paths": path, "skipped": "\n".join(skipped)}
