"""Synthetic digits: the offline default data set of the generation models (DCGAN & co.).

28x28 grey digits 0-9 rendered with OpenCV's Hershey fonts (several faces, upright or italic),
random stroke width, random affine jitter (rotation, scale, shear, translation), a slight blur
and a little noise; a white digit on black, centred in a 20x20 box like MNIST. They are
generated, never downloaded, so ``quickstart_dcgan.yaml`` runs on a machine without internet.

Everything is deterministic: item ``i`` of split ``s`` (0 = train, 1 = test) takes all its random
choices from ``np.random.default_rng([seed, s, i])``, and the labels are a balanced permutation
drawn from ``default_rng([seed, s])``.

:func:`ensure_synthetic_digits` writes them to a folder in MNIST's own file format
(``train-images-idx3-ubyte.gz`` ...), which :class:`ppimg2img.data.mnist.MNISTDataset` reads.
"""
import functools
import gzip
import hashlib
import json
import os
import tempfile

import cv2
import numpy as np

__all__ = ["render_digits", "ensure_synthetic_digits", "write_idx", "FONTS", "STAMP_NAME", "GENERATOR_VERSION"]

# Hershey faces whose digits read as digits (PLAIN is a one-pixel stick font, too thin to scale).
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
         cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SCRIPT_COMPLEX)
STAMP_NAME = "synthetic_digits.json"
GENERATOR_VERSION = 1  # bump when the rendering changes: stamped folders are then regenerated
_SPLITS = {"train": 0, "test": 1}
_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}

_CANVAS = 96  # glyphs are drawn large, then warped down to the final size (anti-aliased)
_FONT_SCALE = 2.0


@functools.lru_cache(maxsize=None)
def _glyph(digit, font, thickness):
    """The digit drawn white on a black ``_CANVAS`` square, pre-blurred against aliasing for the
    ~3.5x shrinking bilinear warp, and its ink bounding box (cached: 720 combinations at most)."""
    canvas = np.zeros((_CANVAS, _CANVAS), np.uint8)
    (w, h), _ = cv2.getTextSize(str(digit), font, _FONT_SCALE, thickness)
    org = ((_CANVAS - w) // 2, (_CANVAS + h) // 2)
    cv2.putText(canvas, str(digit), org, font, _FONT_SCALE, 255, thickness, cv2.LINE_AA)
    ys, xs = np.nonzero(canvas)
    canvas = cv2.GaussianBlur(canvas, (0, 0), 1.2)
    canvas.flags.writeable = False
    return canvas, (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


def _render_one(digit, rng, size):
    """One digit (uint8, size x size) with all its random choices taken from ``rng``."""
    u = rng.random(12)  # all scalar choices at once (one call is much cheaper than twelve)
    font = FONTS[int(u[0] * len(FONTS))]
    if u[1] < 0.3:
        font |= cv2.FONT_ITALIC
    thickness = 3 + int(u[2] * 7)  # 3..9 on the large canvas: ~1.2-3.5 px at 28x28
    glyph, (x0, y0, x1, y1) = _glyph(digit, font, thickness)

    # MNIST: the digit fits a 20x20 box (for 28x28) centred in the image
    box = 20.0 / 28.0 * size
    scale = box / max(x1 - x0, y1 - y0) * (0.8 + 0.28 * u[3])
    angle = np.deg2rad(-15 + 30 * u[4])
    shear = -0.25 + 0.5 * u[5]
    aspect = 0.85 + 0.3 * u[6]
    shift = (-1.5 + 3.0 * u[7:9]) * size / 28.0
    c, s = np.cos(angle), np.sin(angle)
    linear = scale * np.array([[c, -s], [s, c]]) @ np.array([[aspect, shear], [0.0, 1.0]])
    centre = np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0])
    offset = size / 2.0 + shift - linear @ centre
    matrix = np.concatenate([linear, offset[:, None]], axis=1)
    out = cv2.warpAffine(glyph, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=0).astype(np.float32)

    peak = out.max()
    if peak > 0:  # strokes saturate like MNIST's: stretch, then let the core clip at white
        out *= (1.1 + 0.5 * u[9]) * 255.0 / peak
    sigma = 0.6 * u[10]  # slight blur
    if sigma > 0.15:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    noise = rng.standard_normal(out.shape, dtype=np.float32) * np.float32(12.0 * u[11])
    out += noise * (out > 8)  # on the strokes only: the background stays black, as in MNIST
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def render_digits(n, split="train", seed=0, size=28):
    """``n`` synthetic digits: ``(images uint8 [n, size, size], labels int64 [n])``, balanced classes
    (counts differ by at most one), deterministic for ``(seed, split)``."""
    if split not in _SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"the number of digits must be a non-negative integer, got {n!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size must be an integer >= 8, got {size!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    s = _SPLITS[split]
    labels = np.random.default_rng([seed, s]).permutation(np.arange(n) % 10).astype(np.int64)
    images = np.empty((n, size, size), np.uint8)
    for i in range(n):
        images[i] = _render_one(int(labels[i]), np.random.default_rng([seed, s, i]), size)
    return images, labels


def write_idx(path, array):
    """Write ``array`` (uint8, 1-d labels or 3-d images) in MNIST's IDX format, gzip-compressed
    if ``path`` ends with .gz (fast level 1, and a fixed gzip time stamp so equal data gives equal files)."""
    array = np.asarray(array)
    if array.dtype != np.uint8 or array.ndim not in (1, 3):
        raise ValueError(f"write_idx: expected uint8 labels [N] or images [N,H,W], got {array.dtype} {array.shape}")
    header = np.array([0x0800 + array.ndim, *array.shape], dtype=">i4").tobytes()
    payload = header + np.ascontiguousarray(array).tobytes()
    with open(path, "wb") as f:
        if os.fspath(path).endswith(".gz"):
            with gzip.GzipFile(fileobj=f, mode="wb", compresslevel=1, mtime=0, filename="") as gz:
                gz.write(payload)
        else:
            f.write(payload)


def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _read_stamp(dataroot):
    try:
        with open(os.path.join(dataroot, STAMP_NAME)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _stamp_is_valid(dataroot, stamp, settings):
    if not isinstance(stamp, dict) or stamp.get("settings") != settings:
        return False
    hashes = stamp.get("sha256") or {}
    for names in _FILES.values():
        for name in names:
            path = os.path.join(dataroot, name)
            if not os.path.isfile(path) or hashes.get(name) != _sha256(path):
                return False
    return True


def ensure_synthetic_digits(dataroot, n_train=6000, n_test=1000, size=28, seed=0):
    """Make sure ``dataroot`` holds the synthetic digits for these settings, in MNIST's format.

    Writes ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
    ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz`` and a stamp
    ``synthetic_digits.json`` (settings and file hashes, written before the files). Nothing is written when the stamp
    matches the settings and the files; files stamped with other settings (or damaged) are
    regenerated. A folder holding MNIST-format files without the stamp (e.g. the real MNIST) is
    never overwritten: that raises FileExistsError. Files are written to temporary names and
    renamed, so concurrent callers (e.g. distributed ranks) and interrupted runs never leave a
    half-written file. Returns ``dataroot``.
    """
    dataroot = os.fspath(dataroot)
    settings = {"n_train": int(n_train), "n_test": int(n_test), "size": int(size), "seed": int(seed),
                "version": GENERATOR_VERSION}
    if n_train < 1 or n_test < 1:
        raise ValueError(f"n_train and n_test must be >= 1, got {n_train} and {n_test}")
    stamp = _read_stamp(dataroot) if os.path.isdir(dataroot) else None
    if stamp is not None and _stamp_is_valid(dataroot, stamp, settings):
        return dataroot
    if stamp is None and os.path.isdir(dataroot):
        present = [n for names in _FILES.values() for n in names
                   if os.path.exists(os.path.join(dataroot, n)) or os.path.exists(os.path.join(dataroot, n[:-3]))]
        if present:
            raise FileExistsError(
                f"'{dataroot}' already holds MNIST-format files ({', '.join(present)}) that were not generated "
                f"by ensure_synthetic_digits (no {STAMP_NAME}); they may be the real MNIST. Refusing to overwrite "
                f"them: use another folder for the synthetic digits, or delete these files.")
    os.makedirs(dataroot, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".synthetic-digits-", dir=dataroot)
    try:
        hashes = {}
        for split, n in (("train", settings["n_train"]), ("test", settings["n_test"])):
            images, labels = render_digits(n, split, seed=settings["seed"], size=settings["size"])
            for name, array in zip(_FILES[split], (images, labels.astype(np.uint8))):
                write_idx(os.path.join(tmp, name), array)
                hashes[name] = _sha256(os.path.join(tmp, name))
        # the stamp goes first: a concurrent caller that sees the new files sees them as ours (and
        # regenerates the same bytes until all hashes match); an interrupted run is redone next time
        stamp_tmp = os.path.join(tmp, STAMP_NAME)
        with open(stamp_tmp, "w") as f:
            json.dump({"generator": "ppimg2img.data.digits", "settings": settings, "sha256": hashes}, f, indent=1)
        os.replace(stamp_tmp, os.path.join(dataroot, STAMP_NAME))
        for name in hashes:
            os.replace(os.path.join(tmp, name), os.path.join(dataroot, name))
    finally:
        for name in os.listdir(tmp):
            os.remove(os.path.join(tmp, name))
        os.rmdir(tmp)
    return dataroot


def digits_grid(images, cols=20):
    """Tile uint8 images [N,H,W] into one grey image (for looking at them)."""
    n, h, w = images.shape
    rows = -(-n // cols)
    grid = np.zeros((rows * h, cols * w), np.uint8)
    for k in range(n):
        r, c = divmod(k, cols)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = images[k]
    return grid
