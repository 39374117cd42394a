"""Synthetic paired dataset (labels -> rendered shapes) for the pix2pix quickstart and tests.

A (input): a flat label map, black background, circles red, rectangles green, triangles blue.
B (target): the scene "rendered" from the labels by a fixed, deterministic and local rule:
class colours with a bevel (shapes darker within a few pixels of their boundary, as
``0.55 + 0.45 * min(distance / 5, 1)``), a dark 1-pixel outline, a soft drop shadow offset by
(+3, +3) pixels on a light background. Every B pixel depends only on a small neighbourhood
of A, so a convolutional generator can learn the mapping exactly; identity (A as the
prediction) scores about 2 dB PSNR.

Files are side by side A|B in ``<root>/train`` and ``<root>/test`` (AlignedDataset layout).
"""
import json
import logging
import os
import shutil

import cv2
import numpy as np

from ..utils.image_io import list_images, save_image

__all__ = ["make_synthetic_paired", "ensure_synthetic_paired", "render_labels", "is_complete_synthetic_paired"]

logger = logging.getLogger("ppimg2img")

_VERSION = 1
_META = "synthetic_meta.json"
_MARKER = ".synthetic_complete"
LABEL_COLOURS = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)  # bg, circle, rect, tri
RENDER_COLOURS = np.array([[226, 218, 200], [235, 140, 40], [60, 150, 90], [70, 90, 200]], np.float32)
SHADOW_COLOUR = np.array([150, 140, 125], np.float32)


def _labels(rng, size):
    """A class-index map (0 background, 1 circle, 2 rectangle, 3 triangle) with 2-5 shapes."""
    lab = np.zeros((size, size), np.uint8)
    for _ in range(int(rng.integers(2, 6))):
        kind = int(rng.integers(1, 4))
        cx, cy = rng.uniform(0.15, 0.85, 2) * size
        r = rng.uniform(0.08, 0.2) * size
        if kind == 1:
            cv2.circle(lab, (int(cx), int(cy)), max(int(r), 3), kind, -1)
        else:
            n = 4 if kind == 2 else 3
            t = rng.uniform(0, 2 * np.pi) + np.arange(n) * 2 * np.pi / n
            pts = np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)
            cv2.fillPoly(lab, [np.round(pts).astype(np.int32)], kind)
    return lab


def render_labels(labels):
    """The hidden label -> image rule (see the module docstring); ``labels`` is an HxW class map."""
    fg = (labels > 0).astype(np.uint8)
    # distance to the nearest pixel of another class (shape boundaries, also between touching shapes)
    edges = cv2.morphologyEx(labels, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    dist = cv2.distanceTransform((~edges).astype(np.uint8), cv2.DIST_L2, 3)
    shade = 0.55 + 0.45 * np.minimum(dist / 5.0, 1.0)
    img = RENDER_COLOURS[labels] * np.where(fg > 0, shade, 1.0)[..., None]
    shadow = np.zeros_like(fg)
    shadow[3:, 3:] = fg[:-3, :-3]
    shadow = cv2.GaussianBlur(shadow.astype(np.float32), (5, 5), 1.0)[..., None]
    bg = (fg == 0)[..., None]
    img = np.where(bg, RENDER_COLOURS[0] * (1 - shadow) + SHADOW_COLOUR * shadow, img)
    img[edges & (fg > 0)] = (30, 30, 30)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _params(n_train, n_test, size, seed):
    return {"kind": "labels2shapes", "version": _VERSION, "n_train": int(n_train), "n_test": int(n_test),
            "size": int(size), "seed": int(seed)}


def is_complete_synthetic_paired(root, n_train=200, n_test=20, size=128, seed=0):
    """True if ``root`` holds a finished paired dataset generated with exactly these parameters."""
    try:
        with open(os.path.join(root, _MARKER), encoding="utf-8") as f:
            if json.load(f) != _params(n_train, n_test, size, seed):
                return False
    except (OSError, ValueError):
        return False
    return all(os.path.isdir(os.path.join(root, s)) and len(list_images(os.path.join(root, s))) == n
               for s, n in (("train", n_train), ("test", n_test)))


def make_synthetic_paired(root, n_train=200, n_test=20, size=128, seed=0):
    """Write the labels -> rendered-shapes dataset into ``root`` (train/, test/ with A|B images,
    README.txt, synthetic_meta.json) and return ``root``. Deterministic for a given seed; refuses
    to touch a folder with train/ or test/ it did not make."""
    root = os.fspath(root)
    if min(n_train, n_test) < 1 or size < 16:
        raise ValueError(f"need n_train >= 1, n_test >= 1 and size >= 16, got {n_train}, {n_test}, {size}")
    params = _params(n_train, n_test, size, seed)
    existing = [s for s in ("train", "test") if os.path.exists(os.path.join(root, s))]
    if existing and not os.path.isfile(os.path.join(root, _META)):
        raise FileExistsError(f"'{root}' already contains {existing} that were not made by make_synthetic_paired; "
                              "refusing to overwrite them. Choose an empty or new folder.")
    for name in existing + [_MARKER]:
        path = os.path.join(root, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, _META), "w", encoding="utf-8") as f:
        json.dump({**params, "status": "incomplete"}, f)
    psnrs = []
    for split, n, split_id in (("train", n_train, 0), ("test", n_test, 1)):
        for i in range(n):
            labels = _labels(np.random.default_rng([seed, split_id, i]), size)
            a, b = LABEL_COLOURS[labels], render_labels(labels)
            save_image(os.path.join(root, split, f"{i:05d}.png"), np.concatenate([a, b], axis=1))
            if split == "test":
                mse = np.mean((a.astype(np.float64) - b) ** 2)
                psnrs.append(10 * np.log10(255.0 ** 2 / mse))
    meta = {**params, "status": "complete", "layout": "A|B side by side: A = label map, B = rendered scene",
            "identity_psnr_db_test": round(float(np.mean(psnrs)), 3)}
    with open(os.path.join(root, _META), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
    with open(os.path.join(root, "README.txt"), "w", encoding="utf-8") as f:
        f.write("Synthetic paired dataset made by ppimg2img.data.synthetic_paired.make_synthetic_paired\n"
                f"(n_train={n_train}, n_test={n_test}, size={size}, seed={seed}).\n"
                "Each image is A|B side by side: A = label map (circles red, rectangles green, triangles\n"
                "blue), B = the scene rendered from it (bevel shading, outlines, drop shadows).\n"
                f"Identity baseline PSNR (A vs B, test): {meta['identity_psnr_db_test']} dB.\n")
    with open(os.path.join(root, _MARKER), "w", encoding="utf-8") as f:
        json.dump(params, f)
    return root


def ensure_synthetic_paired(root, n_train=200, n_test=20, size=128, seed=0):
    """Return ``root`` holding the paired dataset (generated only if missing or different)."""
    if is_complete_synthetic_paired(root, n_train, n_test, size, seed):
        logger.info("using the existing synthetic paired dataset in %s", root)
        return os.fspath(root)
    logger.info("generating the synthetic paired dataset in %s", root)
    return make_synthetic_paired(root, n_train, n_test, size, seed)
