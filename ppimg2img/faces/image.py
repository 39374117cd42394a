"""Input hygiene: any photo array (or file) -> HxWx3 RGB uint8."""
import os

import numpy as np

from ..utils.image_io import load_image


def to_rgb_uint8(image, name="image"):
    """Convert an array to HxWx3 RGB uint8.

    Accepts grayscale (HxW, HxWx1), gray+alpha (HxWx2), RGB and RGBA (transparency composited
    onto white, as ``load_image`` does for files); uint8, uint16 (rescaled, not truncated), bool
    and float in [0, 1].
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: expected an HxW, HxWx1, HxWx2, HxWx3 or HxWx4 image, got shape {arr.shape}")
    if arr.dtype == np.uint8 and arr.shape[2] == 3:
        return np.ascontiguousarray(arr)
    if arr.dtype == np.uint8:
        x = arr / 255.0
    elif arr.dtype == np.uint16:
        x = arr / 65535.0
    elif arr.dtype == bool:
        x = arr.astype(np.float64)
    elif arr.dtype.kind == "f":
        x = np.clip(np.nan_to_num(arr.astype(np.float64)), 0.0, 1.0)
    else:
        raise ValueError(f"{name}: unsupported dtype {arr.dtype}; pass uint8, uint16, bool or float in [0, 1]")
    if arr.shape[2] in (2, 4):  # composite onto white
        color, alpha = x[..., :-1], x[..., -1:]
        x = color * alpha + (1.0 - alpha)
    if x.shape[2] == 1:
        x = np.repeat(x, 3, axis=2)
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def read_photo(image, source=None):
    """``(rgb uint8, source name)`` from a file path (read with ``load_image``: EXIF orientation,
    16-bit, palette, alpha...) or an array (converted with :func:`to_rgb_uint8`)."""
    if isinstance(image, (str, os.PathLike)):
        path = os.fspath(image)
        return load_image(path), source or path
    source = source or "<array>"
    return to_rgb_uint8(image, source), source
