"""Paired dataset for pix2pix (original ``data/aligned_dataset.py``).

Layout: ``<dataroot>/<phase>/`` (e.g. train/, val/, test/) holds images with A on the left half
and B on the right half (``data/combine_A_and_B.py`` makes them from two folders). Each image is
split at half its width and both halves get the same random crop and flip. Random choices of
item ``i`` come from ``np.random.default_rng([seed, epoch, i])``, as in
:class:`~ppimg2img.data.unaligned.UnalignedDataset`.
"""
import logging
import math
import os

import numpy as np
import paddle
from PIL import Image

from ..utils.image_io import IMG_EXTENSIONS, image_to_array, list_images, load_image
from .skipping import load_first_usable
from .transforms import (DIRECTION_ALIASES, apply_transform, get_transform_params, normalize_direction,
                         validate_dataset_options, validate_preprocess)

__all__ = ["AlignedDataset", "DIRECTION_ALIASES", "normalize_direction", "split_ab"]

logger = logging.getLogger("ppimg2img")

def split_ab(image):
    """Split an HxWxC side-by-side image into (A, B) = (left half, right half) at ``W // 2``."""
    w2 = image.shape[1] // 2
    if w2 == 0:
        raise ValueError(f"image of width {image.shape[1]} cannot hold A and B side by side")
    return image[:, :w2], image[:, w2:]


def _data_help():
    return ("Get data with `python data/download_pix2pix_dataset.py NAME` (e.g. facades), or build "
            "side-by-side A|B images from two folders with `python data/combine_A_and_B.py "
            "--fold_A A --fold_B B --fold_AB <dataroot>` (extensions: " + " ".join(IMG_EXTENSIONS) + ")")


class AlignedDataset(paddle.io.Dataset):
    """Side-by-side A|B images; item ``i`` is image ``i`` split into its two halves.

    Args:
        dataroot: folder holding ``<phase>/`` (e.g. ./datasets/facades).
        phase: sub-folder to read: 'train', 'val', 'test' (searched recursively).
        direction: 'AtoB' or 'BtoA' (aliases 'a2b'/'b2a'); 'BtoA' makes the right half the input 'A'.
        preprocess, load_size, crop_size, flip: as the original (pix2pix default resize_and_crop 286 -> 256).
            The same crop and flip are applied to both halves.
        max_dataset_size: use at most this many images (first in sorted order); None = all.
        input_nc: channels of the input 'A' (1 = grayscale, 3 = RGB); output_nc: of the target 'B'.
        seed: base seed of ``default_rng([seed, epoch, index])``.
    """

    #: the trainer evaluates datasets with ``paired`` items by comparing the output with item['B']
    paired = True

    def __init__(self, dataroot, phase="train", direction="AtoB", preprocess="resize_and_crop", load_size=286,
                 crop_size=256, flip=True, serial_batches=False, max_dataset_size=None, input_nc=3,
                 output_nc=3, seed=0):
        super().__init__()
        self.direction = normalize_direction(direction)
        validate_preprocess(preprocess, load_size, crop_size)
        validate_dataset_options(max_dataset_size, input_nc=input_nc, output_nc=output_nc)
        self.dataroot, self.phase = os.fspath(dataroot), phase
        self.preprocess, self.load_size, self.crop_size, self.flip = preprocess, load_size, crop_size, bool(flip)
        self.serial_batches = bool(serial_batches)  # accepted for symmetry: items are paired anyway
        self.input_nc, self.output_nc, self.seed = input_nc, output_nc, int(seed)
        self.epoch = 0
        self.bad_files = {}
        self.dir_AB = os.path.join(self.dataroot, phase)
        if not os.path.isdir(self.dataroot):
            raise FileNotFoundError(f"dataroot '{self.dataroot}' does not exist. {_data_help()}.")
        if not os.path.isdir(self.dir_AB):
            present = sorted(d for d in os.listdir(self.dataroot) if os.path.isdir(os.path.join(self.dataroot, d)))
            raise FileNotFoundError(f"image folder '{self.dir_AB}' does not exist (phase='{phase}'; subfolders of "
                                    f"dataroot: {present or 'none'}). {_data_help()}.")
        self.AB_paths = list_images(self.dir_AB)
        if not self.AB_paths:
            raise FileNotFoundError(f"no images found in '{self.dir_AB}' (searched recursively). {_data_help()}.")
        if max_dataset_size is not None and max_dataset_size != math.inf:
            self.AB_paths = self.AB_paths[:int(max_dataset_size)]

    def set_epoch(self, epoch):
        """Select the epoch whose random choices ``__getitem__`` reproduces."""
        self.epoch = int(epoch)

    def __len__(self):
        return len(self.AB_paths)

    def load_pair(self, path, rng):
        """(A, B) uint8 HxWxC halves of ``path`` after the shared transform, A being the input."""
        A, B = split_ab(load_image(path))
        if self.direction == "BtoA":
            A, B = B, A
        params = get_transform_params((A.shape[1], A.shape[0]), self.preprocess, self.load_size,
                                      self.crop_size, self.flip, rng)
        out = []
        for img, nc in ((A, self.input_nc), (B, self.output_nc)):
            if nc == 1:
                img = np.asarray(Image.fromarray(img).convert("L"))  # original: transforms.Grayscale(1)
            out.append(apply_transform(img, params, self.preprocess, self.load_size, self.crop_size))
        return out[0], out[1]

    def __getitem__(self, index):
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} items")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        skipped = []  # an unusable file is replaced by the next usable one
        path, (A, B) = load_first_usable(self.AB_paths, index, lambda p: self.load_pair(p, rng), self.bad_files,
                                         skipped, f"{_data_help()}.")
        return {"A": image_to_array(A), "B": image_to_array(B), "A_paths": path, "B_paths": path,
                "skipped": "\n".join(skipped)}

    def __repr__(self):
        return (f"AlignedDataset(dataroot='{self.dataroot}', phase='{self.phase}', direction='{self.direction}', "
                f"n={len(self)})")
