import logging
import os

import numpy as np
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")


@pytest.fixture(autouse=True)
def _ppimg2img_logger_propagates():
    """The CLI turns propagation off for its own console handler; tests that use caplog need it on."""
    logging.getLogger("ppimg2img").propagate = True
    yield
    logging.getLogger("ppimg2img").propagate = True


def tiny_cyclegan_config(tmp_path, **sections):
    """A CycleGAN config small enough to train a few iterations in a second or two."""
    data = str(tmp_path / "shapes")
    cfg = {
        "name": "tiny",
        "output_dir": str(tmp_path / "run"),
        "seed": 3,
        "threads": 1,
        "model": {"name": "CycleGANModel",
                  "generator": {"name": "resnet_6blocks", "ngf": 4},
                  "discriminator": {"name": "basic", "ndf": 4},
                  "pool_size": 2},
        "dataset": {
            "synthetic": {"n_train": 4, "n_test": 2, "size": 32},
            "train": {"name": "UnalignedDataset", "dataroot": data, "preprocess": "crop",
                      "crop_size": 32},
            "test": {"name": "UnalignedDataset", "dataroot": data, "phase": "test",
                     "preprocess": "none", "flip": False, "serial_batches": True},
        },
        "lr_scheduler": {"policy": "linear", "n_epochs": 1, "n_epochs_decay": 2},
        "train": {"batch_size": 1, "num_workers": 0, "log_interval": 2, "visual_interval": 4},
    }
    for key, value in sections.items():
        cfg[key] = {**cfg.get(key, {}), **value} if isinstance(value, dict) else value
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


# --- comparing the results of two computation paths ------------------------------------------------
# Eager mode, Paddle Inference (oneDNN), onnxruntime, 1 or 2 threads and the kernels a CPU's
# instruction set selects (AVX2, AVX-512) sum in different orders: float32 results differ by about
# 1e-6 relative. Saving an image rounds x * 127.5 + 127.5 to an integer, so a value that lands
# near .5 can go either way: one grey level apart on a few pixels is rounding, not a bug (on an
# AVX-512 Xeon the exported graph and eager mode differ like that). A real difference (a wrong
# layer, padding, normalisation, channel order) moves many pixels by many levels. Hence: at most
# `max_diff` levels anywhere and a PSNR of at least `min_psnr` dB (50 dB = MSE 0.65: most pixels
# must match exactly). Exact equality stays for one path run twice (determinism) and for pure
# data movement (crops, pads, copies), where nothing is rounded.
def images_close(actual, expected, max_diff=1, min_psnr=50.0):
    """(ok, description) for two uint8 images (same shape) computed along different paths."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        return False, f"shapes differ: {actual.shape} vs {expected.shape}"
    diff = np.abs(actual.astype(np.int64) - expected.astype(np.int64))
    mse = float(np.mean(diff.astype(np.float64) ** 2)) if diff.size else 0.0
    psnr = float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)
    worst = int(diff.max()) if diff.size else 0
    ok = worst <= max_diff and psnr >= min_psnr
    return ok, (f"max difference {worst} grey levels (allowed {max_diff}), {np.count_nonzero(diff)} of "
                f"{diff.size} values differ, PSNR {psnr:.1f} dB (required {min_psnr})")


def assert_images_close(actual, expected, max_diff=1, min_psnr=50.0, what=""):
    """Two uint8 images from different computation paths agree up to float rounding (see above)."""
    ok, description = images_close(actual, expected, max_diff, min_psnr)
    assert ok, f"{what}: {description}" if what else description
