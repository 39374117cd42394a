"""Unpaired two-domain dataset for CycleGAN (original ``data/unaligned_dataset.py``).

Layout: ``<dataroot>/<phase>A`` and ``<dataroot>/<phase>B`` (e.g. trainA/trainB/testA/testB), searched
recursively. The random choices of item ``i`` come only from ``np.random.default_rng([seed, epoch, i])``
so items are reproducible whatever the worker processes or the call order (the trainer's exact
resume relies on it); call :meth:`UnalignedDataset.set_epoch` before creating each epoch's iterator.
"""
import logging
import math
import os

import numpy as np
import paddle
from PIL import Image

from ..utils.image_io import IMG_EXTENSIONS, image_to_array, list_images, load_image
from .skipping import load_first_usable
from .transforms import (apply_transform, get_transform_params, normalize_direction, validate_dataset_options,
                         validate_preprocess)

__all__ = ["UnalignedDataset"]

logger = logging.getLogger("ppimg2img")

_GET_DATA = ("Get data with `python data/download_cyclegan_dataset.py NAME` (e.g. horse2zebra), or "
             "arrange your own images as <dataroot>/trainA, trainB, testA, testB "
             "(one folder per domain, subfolders allowed; extensions: {exts})")


def _data_help():
    return _GET_DATA.format(exts=" ".join(IMG_EXTENSIONS))


class UnalignedDataset(paddle.io.Dataset):
    """Unpaired images from two domains; item ``i`` pairs A[i % |A|] with a random (or serial) B.

    Args:
        dataroot: folder holding ``<phase>A`` and ``<phase>B`` (e.g. ./datasets/horse2zebra).
        phase: 'train' or 'test' (any name works: reads ``<phase>A`` / ``<phase>B``).
        direction: 'AtoB' or 'BtoA'; 'BtoA' swaps the domains, so key 'A' holds ``<phase>B`` images.
        preprocess: 'resize_and_crop' | 'crop' | 'scale_width' | 'scale_width_and_crop' | 'none'.
        load_size: resize target before cropping (original default 286).
        crop_size: random crop size (original default 256).
        flip: random horizontal flip (the original's ``not no_flip``).
        serial_batches: take B[i % |B|] instead of a random B image.
        max_dataset_size: use at most this many images per domain (first ones in sorted order); None = all.
        input_nc: channels of the 'A' (input) images: 3 = RGB, 1 = grayscale.
        output_nc: channels of the 'B' (output) images: 3 = RGB, 1 = grayscale.
        seed: base seed of the per-item random generator ``default_rng([seed, epoch, index])``.
    """

    def __init__(self, dataroot, phase='train', direction='AtoB', preprocess='resize_and_crop', load_size=286,
                 crop_size=256, flip=True, serial_batches=False, max_dataset_size=None, input_nc=3, output_nc=3,
                 seed=0):
        super().__init__()
        direction = normalize_direction(direction)
        validate_preprocess(preprocess, load_size, crop_size)
        validate_dataset_options(max_dataset_size, input_nc=input_nc, output_nc=output_nc)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")

        self.dataroot = os.fspath(dataroot)
        self.phase, self.direction, self.preprocess = phase, direction, preprocess
        self.load_size, self.crop_size, self.flip = load_size, crop_size, bool(flip)
        self.serial_batches, self.seed = bool(serial_batches), int(seed)
        self.input_nc, self.output_nc = input_nc, output_nc
        self.epoch = 0
        self.bad_files = {}  # path -> reason (this process only; workers log their own warnings)

        self.dir_A = os.path.join(self.dataroot, phase + "A")
        self.dir_B = os.path.join(self.dataroot, phase + "B")
        self.A_paths = self._find_images(self.dir_A, max_dataset_size)
        self.B_paths = self._find_images(self.dir_B, max_dataset_size)
        if direction == "BtoA":  # the model always translates key 'A' -> key 'B'
            self.A_paths, self.B_paths = self.B_paths, self.A_paths
        self.A_size, self.B_size = len(self.A_paths), len(self.B_paths)

    def _find_images(self, folder, max_dataset_size):
        if not os.path.isdir(self.dataroot):
            raise FileNotFoundError(f"dataroot '{self.dataroot}' does not exist. {_data_help()}.")
        if not os.path.isdir(folder):
            present = sorted(d for d in os.listdir(self.dataroot) if os.path.isdir(os.path.join(self.dataroot, d)))
            raise FileNotFoundError(
                f"image folder '{folder}' does not exist (phase='{self.phase}'; subfolders of dataroot: "
                f"{present or 'none'}). {_data_help()}.")
        paths = list_images(folder)
        if not paths:
            raise FileNotFoundError(f"no images found in '{folder}' (searched recursively). {_data_help()}.")
        if max_dataset_size is not None and max_dataset_size != math.inf:
            paths = paths[:int(max_dataset_size)]
        return paths

    def set_epoch(self, epoch):
        """Select the epoch whose random choices ``__getitem__`` reproduces (call before ``iter(loader)``)."""
        self.epoch = int(epoch)

    def __len__(self):
        return max(self.A_size, self.B_size)

    def _load(self, paths, start, nc, rng, skipped):
        """Load and transform paths[start] or, if unusable, the next usable file (start+1, ...);
        unusable files found on the way are appended to ``skipped`` as 'path: reason'."""
        def load(path):
            img = load_image(path)
            if nc == 1:
                img = np.asarray(Image.fromarray(img).convert("L"))  # original: transforms.Grayscale(1)
            params = get_transform_params((img.shape[1], img.shape[0]), self.preprocess, self.load_size,
                                          self.crop_size, self.flip, rng)
            return image_to_array(apply_transform(img, params, self.preprocess, self.load_size, self.crop_size))
        return load_first_usable(paths, start, load, self.bad_files, skipped, f"{_data_help()}.")

    def __getitem__(self, index):
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} items")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        index_B = index % self.B_size if self.serial_batches else int(rng.integers(self.B_size))
        skipped = []
        A_path, A = self._load(self.A_paths, index % self.A_size, self.input_nc, rng, skipped)
        B_path, B = self._load(self.B_paths, index_B, self.output_nc, rng, skipped)
        # 'skipped' reaches the trainer even from worker processes, for the end-of-run report
        return {"A": A, "B": B, "A_paths": A_path, "B_paths": B_path, "skipped": "\n".join(skipped)}

    def __repr__(self):
        return (f"UnalignedDataset(dataroot='{self.dataroot}', phase='{self.phase}', direction='{self.direction}', "
                f"|A|={self.A_size}, |B|={self.B_size})")
