"""Preprocessing of the original CycleGAN/pix2pix code (``data/base_dataset.py``).

Modes (``--preprocess``): 'resize_and_crop' (default), 'crop', 'scale_width', 'scale_width_and_crop',
'none'; optional horizontal flip. Resizing is bicubic with Pillow, as the original.

The random choices are drawn once by :func:`get_transform_params` and applied by
:func:`apply_transform`, so the same crop/flip can be applied to two images (pix2pix's A and B).
"""
import difflib
import math

import numpy as np
from PIL import Image

__all__ = ["PREPROCESS_MODES", "DIRECTION_ALIASES", "normalize_direction", "check_preprocess",
           "validate_preprocess", "validate_dataset_options", "transformed_size", "get_transform_params",
           "apply_transform"]

#: accepted spellings of the translation direction -> canonical name
DIRECTION_ALIASES = {"AtoB": "AtoB", "BtoA": "BtoA", "a2b": "AtoB", "b2a": "BtoA"}


def normalize_direction(direction):
    """'AtoB'/'a2b' -> 'AtoB', 'BtoA'/'b2a' -> 'BtoA'; anything else is a ValueError (PaddleGAN
    silently ran B->A for spellings it did not know)."""
    if direction in DIRECTION_ALIASES:
        return DIRECTION_ALIASES[direction]
    close = difflib.get_close_matches(str(direction), list(DIRECTION_ALIASES), n=1)
    raise ValueError(f"unknown direction {direction!r}; use 'AtoB' (or 'a2b') or 'BtoA' (or 'b2a')"
                     + (f" (did you mean '{close[0]}'?)" if close else ""))


def validate_dataset_options(max_dataset_size=None, **channels):
    """Channel counts (``input_nc=3``...) must be 1 or 3; ``max_dataset_size`` a positive integer,
    None or inf."""
    for name, nc in channels.items():
        if nc not in (1, 3):
            raise ValueError(f"{name} must be 1 (grayscale) or 3 (RGB), got {nc!r}")
    if max_dataset_size is not None and max_dataset_size != math.inf and (
            isinstance(max_dataset_size, bool) or not isinstance(max_dataset_size, (int, np.integer))
            or max_dataset_size <= 0):
        raise ValueError(f"max_dataset_size must be a positive integer or None, got {max_dataset_size!r}")

PREPROCESS_MODES = ("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none")
_BICUBIC = Image.Resampling.BICUBIC
_POWER_BASE = 4  # original: __make_power_2(img, base=4)


def check_preprocess(preprocess):
    """Raise ValueError (listing the valid modes and the closest match) for an unknown mode."""
    if preprocess in PREPROCESS_MODES:
        return preprocess
    close = difflib.get_close_matches(str(preprocess), PREPROCESS_MODES, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise ValueError(f"unknown preprocess '{preprocess}'; valid modes: {', '.join(PREPROCESS_MODES)}.{hint}")


def validate_preprocess(preprocess, load_size, crop_size):
    """Check the mode and the sizes together (e.g. crop_size must not exceed load_size when resizing)."""
    check_preprocess(preprocess)
    for name, value in (("load_size", load_size), ("crop_size", crop_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if preprocess in ("resize_and_crop", "scale_width_and_crop") and crop_size > load_size:
        raise ValueError(f"crop_size={crop_size} is larger than load_size={load_size} for preprocess="
                         f"'{preprocess}'; use crop_size <= load_size (original defaults: load_size=286, "
                         "crop_size=256)")


def _scale_width_size(w, h, target_width, crop_size):
    """Original __scale_width: width -> target, keep aspect, height at least crop_size."""
    if w == target_width and h >= crop_size:
        return w, h
    return target_width, int(max(target_width * h / w, crop_size))


def _power_size(w, h, base=_POWER_BASE):
    """Original __make_power_2: round each side to a multiple of ``base`` (at least ``base``)."""
    return max(base, int(round(w / base) * base)), max(base, int(round(h / base) * base))


def _resized_size(size_wh, preprocess, load_size, crop_size):
    w, h = size_wh
    if preprocess == "resize_and_crop":
        return load_size, load_size
    if preprocess.startswith("scale_width"):
        return _scale_width_size(w, h, load_size, crop_size)
    return w, h


def transformed_size(size_wh, preprocess, load_size, crop_size):
    """(width, height) of an image of size ``size_wh`` after :func:`apply_transform`."""
    check_preprocess(preprocess)
    if preprocess == "none":
        return _power_size(*size_wh)
    w, h = _resized_size(size_wh, preprocess, load_size, crop_size)
    return (crop_size, crop_size) if "crop" in preprocess else (w, h)


def get_transform_params(size_wh, preprocess, load_size, crop_size, flip, rng):
    """Draw the random choices for one image of size ``size_wh = (width, height)``.

    Returns ``{'crop_pos': (x, y), 'flip': bool}`` (original ``get_params``). ``rng`` is a
    ``numpy.random.Generator``; exactly three values are drawn whatever the mode, so the stream
    stays aligned. Raises ValueError if the image is too small to crop ('crop' mode).
    """
    validate_preprocess(preprocess, load_size, crop_size)
    new_w, new_h = _resized_size(size_wh, preprocess, load_size, crop_size)
    if "crop" in preprocess and (new_w < crop_size or new_h < crop_size):
        raise ValueError(f"image of size {size_wh[0]}x{size_wh[1]} is smaller than crop_size={crop_size} "
                         f"with preprocess='{preprocess}'; use preprocess='resize_and_crop' or a smaller crop_size")
    x = int(rng.integers(0, max(0, new_w - crop_size) + 1))
    y = int(rng.integers(0, max(0, new_h - crop_size) + 1))
    do_flip = bool(rng.random() > 0.5)
    return {"crop_pos": (x, y), "flip": bool(flip) and do_flip}


def apply_transform(img, params, preprocess, load_size, crop_size):
    """Resize / crop / flip one image (HxW or HxWxC uint8 array, or PIL image) with fixed ``params``.

    Returns a uint8 array with the same number of channels. The order of operations follows the
    original ``get_transform``: resize (or scale width), crop, make-multiple-of-4 ('none'), flip.
    """
    check_preprocess(preprocess)
    im = img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img))
    if preprocess == "resize_and_crop" or preprocess.startswith("scale_width"):
        size = _resized_size(im.size, preprocess, load_size, crop_size)
        if size != im.size:
            im = im.resize(size, _BICUBIC)
    if "crop" in preprocess:
        x, y = params["crop_pos"]
        w, h = im.size
        if x < 0 or y < 0 or x + crop_size > w or y + crop_size > h:
            raise ValueError(f"crop of {crop_size}x{crop_size} at {(x, y)} does not fit an image of {w}x{h} "
                             f"(preprocess='{preprocess}'); were the params drawn for another image size?")
        im = im.crop((x, y, x + crop_size, y + crop_size))
    if preprocess == "none":
        size = _power_size(*im.size)
        if size != im.size:
            im = im.resize(size, _BICUBIC)
    if params.get("flip"):
        im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return np.asarray(im)
