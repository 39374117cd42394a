"""Robust image reading/writing and tensor <-> image conversion.

``load_image`` always returns an HxWx3 RGB ``uint8`` array, whatever the file holds:
grayscale (1-bit, 8/16-bit), palette (with transparency), RGBA/LA (composited onto white),
16-bit RGB PNG/TIFF (rescaled to 8 bit, not truncated), CMYK, with the EXIF orientation applied.
Every failure raises :class:`ImageReadError` naming the file, the cause and a fix.

Value ranges follow the original CycleGAN code (``transforms.Normalize((0.5,)*3, (0.5,)*3)`` and
``util.tensor2im``): network tensors are in [-1, 1], images are uint8 in [0, 255].
"""
import os
import uuid

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = [
    "IMG_EXTENSIONS",
    "ImageReadError",
    "is_image_file",
    "list_images",
    "load_image",
    "save_image",
    "tensor_to_image",
    "image_to_array",
]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

# EXIF orientation tag value -> PIL transpose that brings the image upright (as ImageOps.exif_transpose).
_EXIF_ORIENTATION = 0x0112
_ORIENTATION_OPS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_GRAY_HIGH_DEPTH_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N", "F")
_FIX_BROKEN = "re-download or re-export the file, or delete it from the dataset folder"


class ImageReadError(OSError):
    """An image file could not be read; ``path``, ``reason`` and ``hint`` say which, why and what to do."""

    def __init__(self, path, reason, hint=None):
        self.path = str(path)
        self.reason = str(reason)
        self.hint = hint or _FIX_BROKEN
        super().__init__(f"cannot read image '{self.path}': {self.reason}. Fix: {self.hint}.")

    def __reduce__(self):  # keep picklable (e.g. when raised inside a DataLoader worker)
        return (type(self), (self.path, self.reason, self.hint))


def is_image_file(path):
    """True if ``path`` ends with one of ``IMG_EXTENSIONS`` (case-insensitive)."""
    return os.path.splitext(str(path))[1].lower() in IMG_EXTENSIONS


def list_images(folder, recursive=True):
    """Sorted list of the image files in ``folder`` (and its subfolders if ``recursive``).

    Symlinked folders are followed, as in the original ``make_dataset``. The order is
    deterministic (sorted full paths), independent of the file system.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"image folder '{folder}' does not exist or is not a folder")
    if not recursive:
        names = (os.path.join(folder, n) for n in os.listdir(folder))
        return sorted(p for p in names if is_image_file(p) and os.path.isfile(p))
    paths = []
    for root, _, names in os.walk(folder, followlinks=True):
        paths.extend(os.path.join(root, n) for n in names if is_image_file(n))
    return sorted(paths)


def _over_white(rgb, alpha):
    """Composite float RGB in [0, 1] with alpha in [0, 1] onto a white background."""
    return rgb * alpha + (1.0 - alpha)


def _to_uint8(x01):
    return np.clip(np.rint(x01 * 255.0), 0, 255).astype(np.uint8)


def _rawmode(im):
    """Decoder raw mode of the first tile (e.g. 'RGB;16B' for a 16-bit RGB PNG), '' if unknown."""
    if not im.tile:
        return ""
    args = im.tile[0].args if hasattr(im.tile[0], "args") else im.tile[0][3]
    return args if isinstance(args, str) else (args[0] if args and isinstance(args[0], str) else "")


def _decode_16bit_color(path):
    """16-bit RGB(A)/LA files: Pillow keeps only the high byte, so decode with OpenCV at full depth."""
    arr = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ImageReadError(path, "OpenCV could not decode this 16-bit colour image (corrupt or unsupported)")
    x = arr.astype(np.float64) / float(np.iinfo(arr.dtype).max if arr.dtype.kind in "ui" else 1.0)
    if x.ndim == 2:
        x = x[..., None]
    if x.shape[2] == 1:
        return _to_uint8(np.repeat(x, 3, axis=2))
    if x.shape[2] == 2:  # gray + alpha
        return _to_uint8(np.repeat(_over_white(x[..., :1], x[..., 1:]), 3, axis=2))
    rgb = x[..., 2::-1]  # BGR(A) -> RGB
    if x.shape[2] == 4:
        rgb = _over_white(rgb, x[..., 3:])
    return _to_uint8(rgb)


def _decode_gray_high_depth(im):
    """'I;16*' / 'I' / 'F' grayscale: rescale to [0, 1] (16-bit full range, floats assumed in [0, 1])."""
    x = np.asarray(im, dtype=np.float64)
    if im.mode == "F":
        lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
        if lo < 0.0 or hi > 1.0:  # not a [0, 1] image: stretch its range
            x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
        x = np.nan_to_num(x)
    else:
        hi = float(x.max()) if x.size else 0.0
        x = x / (65535.0 if hi <= 65535.0 else hi)
    return _to_uint8(np.repeat(x[..., None], 3, axis=2))


def _decode_pil(im):
    """Any 8-bit Pillow mode -> RGB uint8, transparency composited onto white."""
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float64) / 255.0
        return _to_uint8(_over_white(rgba[..., :3], rgba[..., 3:]))
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def _check_file(path):
    if not os.path.exists(path):
        raise ImageReadError(path, "the file does not exist", "check the path (and dataroot/phase settings)")
    if os.path.isdir(path):
        raise ImageReadError(path, "it is a folder, not a file", "pass an image file path")
    if os.path.getsize(path) == 0:
        raise ImageReadError(path, "the file is empty (0 bytes), e.g. an interrupted download/copy", _FIX_BROKEN)


def load_image(path):
    """Read an image file as an HxWx3 RGB uint8 array (EXIF orientation applied).

    Transparent pixels are composited onto white; 16-bit data is rescaled with
    ``round(v * 255 / 65535)``. Raises :class:`ImageReadError` for missing, empty, corrupt,
    truncated or non-image files.
    """
    path = os.fspath(path)
    _check_file(path)
    try:
        with Image.open(path) as im:
            # before getexif(), which may decode the image (PNG) and clear the tile list
            sixteen_bit_color = ";16" in _rawmode(im) and im.mode not in _GRAY_HIGH_DEPTH_MODES
            try:
                orientation = int(im.getexif().get(_EXIF_ORIENTATION, 1))
            except Exception:  # a broken EXIF block must not make a readable image unreadable
                orientation = 1
            im.load()
            if sixteen_bit_color:
                rgb = _decode_16bit_color(path)
            elif im.mode in _GRAY_HIGH_DEPTH_MODES:
                rgb = _decode_gray_high_depth(im)
            else:
                rgb = _decode_pil(im)
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(path, "not a recognised image (Pillow cannot identify the format; "
                             "maybe a text/HTML file or a wrong extension)",
                             "delete the file or convert it to PNG/JPEG") from None
    except PermissionError as e:
        raise ImageReadError(path, f"permission denied ({e})", "make the file readable (chmod)") from None
    except Image.DecompressionBombError as e:
        raise ImageReadError(path, f"the image is too large ({e})",
                             "downscale it, or raise PIL.Image.MAX_IMAGE_PIXELS if you trust the file") from None
    except Exception as e:  # truncated / corrupt data: OSError, SyntaxError, ValueError, zlib/struct errors, ...
        raise ImageReadError(path, f"the file is truncated or corrupt ({type(e).__name__}: {e})") from None
    if orientation in _ORIENTATION_OPS:
        rgb = np.asarray(Image.fromarray(rgb).transpose(_ORIENTATION_OPS[orientation]))
    return np.ascontiguousarray(rgb)


def save_image(path, rgb_uint8):
    """Write an HxW / HxWx1 / HxWx3 / HxWx4 uint8 array to ``path`` (format from the extension;
    JPEG at quality 95, WebP lossless).

    Parent folders are created; the write is atomic (temporary file in the same folder, then
    ``os.replace``), so readers never see a half-written image.
    """
    path = os.fspath(path)
    arr = np.asarray(rgb_uint8)
    if arr.dtype != np.uint8:
        raise ValueError(f"save_image('{path}'): expected a uint8 array, got dtype {arr.dtype}; "
                         "convert network outputs in [-1, 1] with tensor_to_image() first")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ValueError(f"save_image('{path}'): expected HxW, HxWx1, HxWx3 or HxWx4, got shape {arr.shape}")
    ext = os.path.splitext(path)[1].lower()
    fmt = Image.registered_extensions().get(ext)
    if fmt is None:
        raise ValueError(f"save_image('{path}'): unknown image extension '{ext}'; use one of {IMG_EXTENSIONS}")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.tmp")
    options = {"JPEG": {"quality": 95}, "WEBP": {"lossless": True}}.get(fmt, {})
    try:
        with open(tmp, "xb") as f:
            Image.fromarray(np.ascontiguousarray(arr)).save(f, format=fmt, **options)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def tensor_to_image(t):
    """CHW (or 1xCHW) float tensor/array in [-1, 1] -> HxWx3 uint8 (rounded, clipped).

    One-channel input is repeated to RGB, as the original ``util.tensor2im``.
    """
    if hasattr(t, "numpy"):  # paddle.Tensor
        t = t.numpy()
    arr = np.asarray(t, dtype=np.float32)
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 3 or arr.shape[0] not in (1, 3):
        raise ValueError(f"tensor_to_image: expected a CHW array with C in (1, 3) (or a batch of one), "
                         f"got shape {arr.shape}")
    img = (np.nan_to_num(arr.transpose(1, 2, 0)) + 1.0) * 127.5
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img


def image_to_array(rgb):
    """HxWx3 (or HxW grayscale) uint8 image -> CHW float32 in [-1, 1] (ToTensor + Normalize(0.5, 0.5))."""
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8:
        raise ValueError(f"image_to_array: expected a uint8 image, got dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3:
        raise ValueError(f"image_to_array: expected HxW or HxWxC, got shape {arr.shape}")
    return np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=np.float32) / np.float32(127.5) - np.float32(1.0)
