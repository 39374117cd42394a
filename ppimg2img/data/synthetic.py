"""Synthetic unpaired dataset with a known ground truth, for the quickstart and the tests.

Domain A: shaded warm-coloured shapes (circles, rectangles, triangles) on a dark blue background.
Domain B: the same kind of scenes seen through a hidden, exact, invertible PIXELWISE colour map

    B[..., c] = 255 - A[..., PERM[c]]        with PERM = (1, 2, 0)
    (B.red = 255 - A.green, B.green = 255 - A.blue, B.blue = 255 - A.red)

so the B background is light and the shapes are greenish. A 1x1 convolution can represent the map,
so even tiny generators learn it quickly. trainA and trainB have independent random scenes (unpaired);
``testB_gt/<name>`` is the true translation of ``testA/<name>`` and ``testA_gt/<name>`` the true
translation of ``testB/<name>``. The identity baseline (testA vs testB_gt) is about 10 dB PSNR,
the true map gives infinite PSNR (identical images).
"""
import json
import logging
import os
import shutil

import cv2
import numpy as np

from ..utils.image_io import list_images, save_image

__all__ = ["PERM", "map_a_to_b", "map_b_to_a", "make_synthetic_unpaired", "ensure_synthetic_dataset",
           "is_complete_synthetic_dataset"]

logger = logging.getLogger("ppimg2img")

PERM = (1, 2, 0)
_INV_PERM = tuple(int(i) for i in np.argsort(PERM))
_VERSION = 1
_META = "synthetic_meta.json"
_MARKER = ".synthetic_complete"
_README = "README.txt"
_SPLITS = ("trainA", "trainB", "testA", "testB", "testA_gt", "testB_gt")
_A_BACKGROUND = np.array([70.0, 82.0, 112.0])  # dark blue (A); maps to light violet-grey in B
_A_SHAPE_LOW = np.array([150.0, 70.0, 40.0])   # warm shape colours (A); map to greens in B
_A_SHAPE_HIGH = np.array([235.0, 185.0, 115.0])


def map_a_to_b(rgb):
    """The hidden A->B map: ``B[..., c] = 255 - A[..., PERM[c]]`` on HxWx3 uint8 images (exact)."""
    rgb = np.asarray(rgb, dtype=np.uint8)
    return 255 - rgb[..., list(PERM)]


def map_b_to_a(rgb):
    """Exact inverse of :func:`map_a_to_b`."""
    rgb = np.asarray(rgb, dtype=np.uint8)
    return (255 - rgb)[..., list(_INV_PERM)]


def _scene_a(rng, size):
    """One domain-A scene: shaded background, 2-5 random shapes, smooth lighting and mild noise."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1) - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xx + np.sin(angle) * yy  # in [-0.71, 0.71]
    bg = _A_BACKGROUND + rng.uniform(-10, 10, 3)
    canvas = np.clip(bg[None, None, :] + 25.0 * ramp[..., None], 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(2, 6))):
        colour = tuple(float(c) for c in rng.uniform(_A_SHAPE_LOW, _A_SHAPE_HIGH))
        cx, cy = rng.uniform(0.1, 0.9, 2) * size
        r = rng.uniform(0.08, 0.22) * size
        kind = int(rng.integers(3))
        if kind == 0:
            cv2.circle(canvas, (int(cx), int(cy)), max(int(r), 2), colour, -1, cv2.LINE_AA)
        else:
            n = 4 if kind == 1 else 3
            rot = rng.uniform(0, 2 * np.pi)
            aspect = rng.uniform(0.6, 1.4) if n == 4 else 1.0
            t = rot + np.arange(n) * 2 * np.pi / n + (np.pi / 4 if n == 4 else 0.0)
            pts = np.stack([cx + r * aspect * np.cos(t), cy + r / aspect * np.sin(t)], axis=1)
            cv2.fillPoly(canvas, [np.round(pts).astype(np.int32)], colour, cv2.LINE_AA)
    light = 1.0 + 0.12 * ramp[..., None] * rng.choice([-1.0, 1.0])
    noisy = canvas.astype(np.float32) * light + rng.normal(0.0, 2.0, canvas.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def _params(n_train, n_test, size, seed):
    return {"version": _VERSION, "n_train": int(n_train), "n_test": int(n_test), "size": int(size), "seed": int(seed)}


def _expected_counts(p):
    return {"trainA": p["n_train"], "trainB": p["n_train"], "testA": p["n_test"], "testB": p["n_test"],
            "testA_gt": p["n_test"], "testB_gt": p["n_test"]}


def is_complete_synthetic_dataset(root, n_train=200, n_test=20, size=64, seed=0):
    """True if ``root`` holds a finished synthetic dataset generated with exactly these parameters."""
    marker = os.path.join(root, _MARKER)
    if not os.path.isfile(marker):
        return False
    try:
        with open(marker, encoding="utf-8") as f:
            if json.load(f) != _params(n_train, n_test, size, seed):
                return False
    except (OSError, ValueError):
        return False
    counts = _expected_counts(_params(n_train, n_test, size, seed))
    return all(os.path.isdir(os.path.join(root, s)) and len(list_images(os.path.join(root, s))) == n
               for s, n in counts.items())


def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def make_synthetic_unpaired(root, n_train=200, n_test=20, size=64, seed=0, overwrite=False):
    """Write the synthetic unpaired dataset into ``root`` and return ``root``.

    Folders: trainA, trainB, testA, testB (PNG), testB_gt (true A->B of testA), testA_gt (true
    B->A of testB), plus README.txt and synthetic_meta.json. Deterministic for a given seed.
    A complete dataset with the same parameters is reused unless ``overwrite=True``; a root that
    holds other images (not made by this function) is never touched.
    """
    root = os.fspath(root)
    if min(n_train, n_test) < 1 or size < 8:
        raise ValueError(f"need n_train >= 1, n_test >= 1 and size >= 8, got {n_train}, {n_test}, {size}")
    params = _params(n_train, n_test, size, seed)
    if not overwrite and is_complete_synthetic_dataset(root, n_train, n_test, size, seed):
        return root
    ours = os.path.isfile(os.path.join(root, _META))
    existing = [s for s in _SPLITS if os.path.exists(os.path.join(root, s))]
    if existing and not ours:
        raise FileExistsError(f"'{root}' already contains {existing} that were not made by make_synthetic_unpaired; "
                              "refusing to overwrite them. Choose an empty or new folder for the synthetic dataset.")
    for name in existing + [_MARKER]:
        path = os.path.join(root, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, _META), "w", encoding="utf-8") as f:  # first: marks the folder as ours
        json.dump({**params, "status": "incomplete"}, f)

    psnrs = []
    for split, n, split_id in (("train", n_train, 0), ("test", n_test, 1)):
        for i in range(n):
            a = _scene_a(np.random.default_rng([seed, split_id, 0, i]), size)
            b = map_a_to_b(_scene_a(np.random.default_rng([seed, split_id, 1, i]), size))
            name_a, name_b = f"A_{i:05d}.png", f"B_{i:05d}.png"
            save_image(os.path.join(root, split + "A", name_a), a)
            save_image(os.path.join(root, split + "B", name_b), b)
            if split == "test":
                gt_b = map_a_to_b(a)
                save_image(os.path.join(root, "testB_gt", name_a), gt_b)
                save_image(os.path.join(root, "testA_gt", name_b), map_b_to_a(b))
                psnrs.append(_psnr(a, gt_b))

    meta = {**params, "status": "complete",
            "mapping": "B[..., c] = 255 - A[..., perm[c]] (RGB uint8, exact and invertible)",
            "perm": list(PERM), "inverse_perm": list(_INV_PERM),
            "identity_psnr_db_testA_vs_testB_gt": round(float(np.mean(psnrs)), 3),
            "ground_truth": {"testB_gt/<name>": "true A->B translation of testA/<name>",
                             "testA_gt/<name>": "true B->A translation of testB/<name>"}}
    with open(os.path.join(root, _META), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
    with open(os.path.join(root, _README), "w", encoding="utf-8") as f:
        f.write(
            "Synthetic unpaired dataset made by ppimg2img.data.synthetic.make_synthetic_unpaired\n"
            f"(n_train={n_train}, n_test={n_test}, size={size}, seed={seed}).\n\n"
            "Domain A: warm shapes on a dark blue background. Domain B: the same kind of scenes under the\n"
            "hidden pixelwise colour map  B[..., c] = 255 - A[..., perm[c]],  perm = (1, 2, 0)\n"
            "(B.red = 255 - A.green, B.green = 255 - A.blue, B.blue = 255 - A.red); exact and invertible.\n"
            "trainA and trainB are unpaired (independent random scenes).\n"
            "testB_gt/<name> = true A->B translation of testA/<name>;\n"
            "testA_gt/<name> = true B->A translation of testB/<name>.\n"
            f"Identity baseline PSNR (testA vs testB_gt): {meta['identity_psnr_db_testA_vs_testB_gt']} dB.\n")
    with open(os.path.join(root, _MARKER), "w", encoding="utf-8") as f:  # last: the dataset is complete
        json.dump(params, f)
    return root


def ensure_synthetic_dataset(root, n_train=200, n_test=20, size=64, seed=0):
    """Return ``root`` holding the synthetic dataset (generated only if missing, incomplete or different)."""
    if is_complete_synthetic_dataset(root, n_train, n_test, size, seed):
        logger.info("using the existing synthetic dataset in %s", root)
        return os.fspath(root)
    logger.info("generating the synthetic dataset in %s", root)
    return make_synthetic_unpaired(root, n_train, n_test, size, seed)
