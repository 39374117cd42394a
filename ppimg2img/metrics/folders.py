"""Metrics between two image folders (``tools/evaluate.py --real DIR --fake DIR``).

PSNR/SSIM compare images paired by name (relative path without extension; ppimg2img's own
suffixes ``_fake_B``, ``_real_B``, ``_gt_B`` (and A) are ignored so an evaluation page folder
pairs with itself); FID/KID compare the two sets as distributions, all images of each folder.
"""
import json
import os
import re

import numpy as np
from tqdm import tqdm

from ..utils.image_io import ImageReadError, list_images, load_image
from .image import psnr, ssim

__all__ = ["evaluate_folders", "pair_images", "format_report"]

_SUFFIX = re.compile(r"_(fake|real|gt)_[AB]$")


def _key(path, folder):
    return _SUFFIX.sub("", os.path.splitext(os.path.relpath(path, folder))[0])


def pair_images(real_dir, fake_dir):
    """([(real path, fake path)], fakes without a real partner, reals without a fake)."""
    reals = {_key(p, real_dir): p for p in list_images(real_dir)}
    fakes = {_key(p, fake_dir): p for p in list_images(fake_dir)}
    pairs = [(reals[k], fakes[k]) for k in sorted(fakes) if k in reals]
    return pairs, sorted(fakes[k] for k in fakes if k not in reals), sorted(reals[k] for k in reals if k not in fakes)


def evaluate_folders(real_dir, fake_dir, metrics=("psnr", "ssim"), y_channel=False, crop_border=0,
                     inception_weights=None, real_stats_cache=None, batch_size=50, kid_subsets=100,
                     kid_subset_size=1000, max_images=None, progress=True, extractor=None):
    """Compute ``metrics`` (any of psnr, ssim, fid, kid) of ``fake_dir`` against ``real_dir``.

    Returns a JSON-ready dict with the values and the protocol (folders, image counts, channel,
    border crop, Inception weights and input size). ``extractor``: an InceptionFeatures to use
    instead of loading the weights (tests).
    """
    for folder in (real_dir, fake_dir):
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"image folder '{folder}' does not exist")
    unknown = [m for m in metrics if m not in ("psnr", "ssim", "fid", "kid")]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from psnr, ssim, fid, kid")
    report = {"real": os.path.abspath(real_dir), "fake": os.path.abspath(fake_dir), "metrics": {}}
    if "psnr" in metrics or "ssim" in metrics:
        pairs, lonely_fakes, _ = pair_images(real_dir, fake_dir)
        pairs = pairs[:max_images]
        if not pairs:
            raise ValueError(f"no image of '{fake_dir}' has a partner with the same name in '{real_dir}' "
                             "(PSNR/SSIM need pairs; FID/KID do not: use --metrics fid kid)")
        values, problems = {"psnr": [], "ssim": []}, []
        for real_path, fake_path in tqdm(pairs, desc="psnr/ssim", disable=not progress, leave=False):
            try:
                real, fake = load_image(real_path), load_image(fake_path)
            except ImageReadError as err:
                problems.append(str(err))
                continue
            if real.shape != fake.shape:
                problems.append(f"{fake_path}: size {fake.shape[1]}x{fake.shape[0]} differs from {real_path} "
                                f"({real.shape[1]}x{real.shape[0]}); pair skipped")
                continue
            for name, fn in (("psnr", psnr), ("ssim", ssim)):
                if name in metrics:
                    values[name].append(fn(fake, real, y_channel=y_channel, crop_border=crop_border))
        protocol = {"pairs": len(values["psnr"] or values["ssim"]), "unpaired_fakes": len(lonely_fakes),
                    "channel": "Y (BT.601)" if y_channel else "RGB", "crop_border": crop_border,
                    "skipped": problems}
        for name in ("psnr", "ssim"):
            if name in metrics and values[name]:
                finite = [v for v in values[name] if np.isfinite(v)]
                report["metrics"][name] = {"value": float(np.mean(finite)) if finite else float("inf"),
                                           "identical_images": len(values[name]) - len(finite), **protocol}
    if "fid" in metrics or "kid" in metrics:
        from .fid import (InceptionFeatures, feature_statistics, fid_from_features, frechet_distance,
                          kernel_inception_distance)
        extractor = extractor or InceptionFeatures(inception_weights, batch_size=batch_size, progress=progress)
        real = extractor.folder_statistics(real_dir, cache=real_stats_cache, max_images=max_images)
        fake_feats = extractor.from_folder(fake_dir, max_images)
        sizes = sorted({f"{w}x{h}" for w, h in _sizes(list_images(fake_dir)[:max_images][:20])})
        protocol = {"real_images": int(len(real["features"])) if "features" in real else None,
                    "fake_images": len(fake_feats), "weights": str(extractor.weights),
                    "image_size": f"299x299 (bilinear resize; fake sizes {', '.join(sizes)}"
                                  f"{', ...' if len(list_images(fake_dir)) > 20 else ''})",
                    "real_stats_cache": real_stats_cache}
        if "fid" in metrics:
            value = (fid_from_features(fake_feats, real["features"]) if "features" in real
                     else frechet_distance(*feature_statistics(fake_feats), real["mu"], real["sigma"]))
            report["metrics"]["fid"] = {"value": value, **protocol}
        if "kid" in metrics:
            if "features" not in real:
                raise ValueError(f"{real_stats_cache}: holds only mean/covariance; KID needs the features. "
                                 "Delete the cache to recompute it.")
            mean, std = kernel_inception_distance(fake_feats, real["features"], kid_subsets, kid_subset_size)
            report["metrics"]["kid"] = {"value": mean, "std": std, **protocol}
    return report


def _sizes(paths):
    from PIL import Image
    for p in paths:
        try:
            with Image.open(p) as im:
                yield im.size
        except OSError:
            continue


def format_report(report):
    """Human-readable lines of an :func:`evaluate_folders` report."""
    lines = [f"real: {report['real']}", f"fake: {report['fake']}"]
    for name, r in report["metrics"].items():
        if name in ("psnr", "ssim"):
            unit = " dB" if name == "psnr" else ""
            lines.append(f"{name.upper()}: {r['value']:.4f}{unit} over {r['pairs']} pairs ({r['channel']}, "
                         f"border crop {r['crop_border']})" + (f", {len(r['skipped'])} skipped" if r["skipped"] else ""))
        else:
            std = f" ± {r['std']:.2g}" if "std" in r else ""
            lines.append(f"{name.upper()}: {r['value']:.4f}{std} ({r['fake_images']} fake vs {r['real_images']} real "
                         f"images, InceptionV3 pool3 2048-d at {r['image_size']}, weights {r['weights']})")
    return lines


def write_report(report, path):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=2)
    os.replace(tmp, path)
    return path
