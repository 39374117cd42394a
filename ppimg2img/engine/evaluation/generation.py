"""Evaluation of generation models (``model.kind == 'generation'``): the same noise every time.

Writes into ``<run>/eval/<tag>/``:
- ``grid.png``: 64 samples of fixed noise (conditional models: one row per class), the same z at
  every evaluation, so grids of different epochs compare;
- ``interpolation.png``: rows of slerp paths between two fixed noise vectors (White 2016);
- ``metrics.json`` and ``index.html``.

Metrics (``eval.samples`` samples; default: as many as the test set holds):
- grey 10-class data (digits, Fashion-MNIST): the classifier score of ppimg2img.metrics.digits:
  the class histogram and its entropy (mode coverage, ln 10 = 2.303 at most), ``class_accuracy``
  for conditional models (the sampled class is the one asked for), the classifier's own test
  accuracy, and FID/KID on the classifier's features against the training set, next to the same
  FID for blurred and noise images and for the real test set (its floor);
- ``eval.fid`` / ``eval.kid``: Inception FID/KID against the test set (needs the Inception weights).
"""
import json
import os

import numpy as np
import paddle

from ...data import build_dataset
from ...utils.env import logger
from ...utils.image_io import save_image, tensor_to_image
from ..visual import write_results_page
from .common import distribution_metrics, inference_mode

GRID_SAMPLES = 64
INTERPOLATION_ROWS, INTERPOLATION_STEPS = 4, 10


def slerp(z0, z1, t):
    """Spherical interpolation between two noise vectors (White, "Sampling Generative Networks")."""
    cos = np.dot(z0 / np.linalg.norm(z0), z1 / np.linalg.norm(z1))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:
        return (1.0 - t) * z0 + t * z1
    return (np.sin((1.0 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)


def fixed_noise(seed, n, nz, n_classes):
    """The evaluation noise and labels: a function of the seed only (balanced classes)."""
    z = np.random.default_rng([seed, 20161119]).standard_normal((n, nz)).astype(np.float32)
    labels = np.arange(n, dtype=np.int64) % n_classes if n_classes else None
    return z, labels


def generate_batches(model, z, labels, batch_size=100):
    """NCHW float32 samples in [-1, 1] (NumPy), ``batch_size`` at a time."""
    out = []
    for i in range(0, len(z), batch_size):
        y = None if labels is None else labels[i:i + batch_size]
        out.append(model.generate(z[i:i + batch_size], y).numpy())
    return np.concatenate(out) if out else np.zeros((0,), np.float32)


def tile(images, cols):
    """HxWx3 uint8 images -> one grid image, ``cols`` per row, 2-pixel white gaps."""
    h, w = images[0].shape[:2]
    rows = -(-len(images) // cols)
    canvas = np.full((rows * (h + 2) + 2, cols * (w + 2) + 2, 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        canvas[2 + r * (h + 2):2 + r * (h + 2) + h, 2 + c * (w + 2):2 + c * (w + 2) + w] = img
    return canvas


def _upscale(img, min_side=256):
    import cv2
    scale = max(1, min_side // max(img.shape[:2]))
    return cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST) if scale > 1 else img


def _grey_uint8(samples):
    """NCHW [-1, 1] -> [N, H, W] uint8 (the mean of the channels)."""
    return np.clip(np.rint((samples.mean(axis=1) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def _dataset_arrays(ds):
    """(uint8 [N, H, W] or [N, H, W, 3], int64 labels) of a generation dataset."""
    if hasattr(ds, "images") and hasattr(ds, "labels"):  # MNIST-format and CIFAR sets keep their arrays
        return ds.images, ds.labels
    items = [ds[i] for i in range(len(ds))]
    images = np.stack([tensor_to_image(it["image"]) for it in items])
    return images, np.array([int(it.get("label", -1)) for it in items], np.int64)


def _is_grey_ten_class(ds):
    """Grey 10-class data, also when served as RGB for an RGB network (``channels: 3`` repeats the grey)."""
    grey = getattr(ds, "channels", 3) == 1 or getattr(ds, "grey_source", False)
    return getattr(ds, "num_classes", 0) == 10 and grey


def evaluate_generation(trainer, tag="latest", progress=True):
    """Sample, write the grids, score, write metrics.json and the page. Returns the metrics."""
    cfg, model = trainer.cfg, trainer.model
    ecfg = cfg["eval"]
    out_dir = os.path.join(trainer.run_dir, "eval", tag)
    test_cfg = cfg["dataset"]["test"]
    test_set = None
    if test_cfg is not None:
        test_cfg = dict(test_cfg)
        test_set = build_dataset(test_cfg.pop("name"), **test_cfg, seed=cfg["seed"])
    n = ecfg["samples"] or (min(len(test_set), 10000) if test_set is not None else GRID_SAMPLES)
    n = max(n, GRID_SAMPLES)
    z, labels = fixed_noise(cfg["seed"], n, model.nz, model.n_classes)
    results = {"samples": n, "seed": cfg["seed"]}
    if not trainer.is_main:
        return results
    with inference_mode(trainer, "eval"), paddle.no_grad():
        samples = generate_batches(model, z, labels)
        strips = _interpolations(model, cfg["seed"])
    os.makedirs(out_dir, exist_ok=True)
    _save_grid(model, samples, os.path.join(out_dir, "grid.png"))
    save_image(os.path.join(out_dir, "interpolation.png"),
               _upscale(tile([tensor_to_image(s) for s in strips], INTERPOLATION_STEPS)))
    lines = [f"{n} samples of fixed noise (seed {cfg['seed']}); G in eval mode (BatchNorm running statistics)"]
    if test_set is not None and _is_grey_ten_class(test_set):
        results.update(_digit_metrics(cfg, test_set, samples, labels, progress))
    if test_set is not None and (ecfg["fid"] or ecfg["kid"]):
        reals = [tensor_to_image(test_set[i]["image"]) for i in range(len(test_set))]
        distribution_metrics(trainer, results, [tensor_to_image(s) for s in samples], reals,
                                      getattr(test_set, "dataroot", "test set"), "generation")
    tmp = os.path.join(out_dir, "metrics.json.tmp")
    with open(tmp, "w") as f:
        json.dump(results, f, indent=2)
    os.replace(tmp, os.path.join(out_dir, "metrics.json"))
    lines += [f"{k}: {_fmt(v)}" for k, v in results.items() if k not in ("samples", "seed", "class_histogram")]
    rows = [("samples", ["grid.png"]), ("interpolation (slerp)", ["interpolation.png"])]
    write_results_page(out_dir, f"{cfg['name']} evaluation ({tag})", ["images"], rows, lines,
                       [("metrics.json", "metrics.json")])
    logger.info("evaluation %s: %s", tag, "; ".join(lines[1:]) or "samples written")
    trainer.write_training_page()
    return results


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items() if not isinstance(v, (list, dict)))
    return str(value)


def _save_grid(model, samples, path):
    """The first 64 samples, 8 per row; conditional models: one row per class, 8 columns."""
    if model.n_classes:
        order = [i for c in range(model.n_classes) for i in range(c, len(samples), model.n_classes)[:8]]
        images, cols = [tensor_to_image(samples[i]) for i in order], 8
    else:
        images, cols = [tensor_to_image(s) for s in samples[:GRID_SAMPLES]], 8
    save_image(path, _upscale(tile(images, cols), 384))


def _interpolations(model, seed):
    """INTERPOLATION_ROWS slerp paths between fixed noise pairs (a fixed class per row)."""
    ends = np.random.default_rng([seed, 1789]).standard_normal((INTERPOLATION_ROWS, 2, model.nz))
    ts = np.linspace(0.0, 1.0, INTERPOLATION_STEPS)
    z = np.stack([slerp(a, b, t) for a, b in ends for t in ts]).astype(np.float32)
    labels = (np.repeat(np.arange(INTERPOLATION_ROWS), INTERPOLATION_STEPS) % model.n_classes
              if model.n_classes else None)
    return generate_batches(model, z, labels)


def _digit_metrics(cfg, test_set, samples, labels, progress):
    """Classifier score and feature FID/KID (ppimg2img.metrics.digits) against the training set."""
    from ...metrics.digits import digit_baselines, digit_scores, get_digit_classifier
    train_cfg = dict(cfg["dataset"]["train"])
    train_set = build_dataset(train_cfg.pop("name"), **train_cfg, seed=cfg["seed"])
    train_images, train_labels = _dataset_arrays(train_set)
    test_images, test_labels = _dataset_arrays(test_set)
    classifier = get_digit_classifier(train_images, train_labels, test_images, test_labels)
    scores = digit_scores(classifier, _grey_uint8(samples), labels=labels, real_images=train_images)
    scores["baselines"] = digit_baselines(classifier, train_images, test_images)
    scores["protocol"] = (f"digit classifier ({classifier.cache_path}) trained on the {len(train_images)} training "
                          f"images; feature FID/KID: its penultimate features of {len(samples)} samples vs the "
                          f"training images; baselines on {len(test_images)} test images")
    return scores
