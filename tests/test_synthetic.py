"""Synthetic unpaired dataset: layout, determinism, reuse, and a measurable ground truth."""
import json
import os

import numpy as np
import pytest

from ppimg2img.data import UnalignedDataset
from ppimg2img.data.synthetic import (
    ensure_synthetic_dataset, is_complete_synthetic_dataset, make_synthetic_unpaired, map_a_to_b, map_b_to_a)
from ppimg2img.utils.image_io import list_images, load_image

SMALL = dict(n_train=6, n_test=4, size=32)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return np.inf if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def images(folder):
    return {os.path.basename(p): load_image(p) for p in list_images(folder)}


@pytest.fixture(scope="module")
def default_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic") / "data"
    make_synthetic_unpaired(root)
    return root


def test_default_layout_and_meta(default_root):
    """(Its generation time is not asserted: a wall-clock bound fails on a busy machine.)"""
    root = default_root
    counts = {s: len(list_images(root / s)) for s in ("trainA", "trainB", "testA", "testB", "testA_gt", "testB_gt")}
    assert counts == {"trainA": 200, "trainB": 200, "testA": 20, "testB": 20, "testA_gt": 20, "testB_gt": 20}
    assert sorted(os.listdir(root / "testB_gt")) == sorted(os.listdir(root / "testA"))
    assert sorted(os.listdir(root / "testA_gt")) == sorted(os.listdir(root / "testB"))
    assert load_image(root / "trainA" / "A_00000.png").shape == (64, 64, 3)
    meta = json.loads((root / "synthetic_meta.json").read_text())
    assert meta["status"] == "complete" and meta["perm"] == [1, 2, 0] and meta["seed"] == 0
    assert "255 - A" in (root / "README.txt").read_text()
    assert is_complete_synthetic_dataset(root)


def test_ground_truth_psnr(default_root):
    root = default_root
    test_a, gt_b = images(root / "testA"), images(root / "testB_gt")
    test_b, gt_a = images(root / "testB"), images(root / "testA_gt")
    identity = np.mean([psnr(test_a[n], gt_b[n]) for n in test_a])
    identity_b = np.mean([psnr(test_b[n], gt_a[n]) for n in test_b])
    assert 8.0 <= identity <= 14.0 and 8.0 <= identity_b <= 14.0, (identity, identity_b)
    meta = json.loads((root / "synthetic_meta.json").read_text())
    assert abs(meta["identity_psnr_db_testA_vs_testB_gt"] - identity) < 0.01
    assert all(psnr(map_a_to_b(test_a[n]), gt_b[n]) == np.inf for n in test_a)  # the true map is exact
    assert all(psnr(map_b_to_a(test_b[n]), gt_a[n]) == np.inf for n in test_b)
    # the domains look different: A has a dark background, B a light one
    a_mean = np.mean([im.mean() for im in images(root / "trainA").values()])
    b_mean = np.mean([im.mean() for im in images(root / "trainB").values()])
    assert a_mean < 110 < 140 < b_mean, (a_mean, b_mean)


def test_unpaired_and_readable_by_dataset(default_root):
    root = default_root
    a = load_image(root / "trainA" / "A_00003.png")
    b = load_image(root / "trainB" / "B_00003.png")
    assert psnr(map_b_to_a(b), a) < 20  # trainB is not the translation of trainA (independent scenes)
    ds = UnalignedDataset(root, load_size=64, crop_size=64, flip=False, serial_batches=True)
    item = ds[3]
    assert len(ds) == 200 and item["A"].shape == (3, 64, 64)
    assert np.array_equal(item["A"], a.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1)


def test_map_is_invertible():
    rgb = np.random.default_rng(0).integers(0, 256, (17, 9, 3), dtype=np.uint8)
    assert np.array_equal(map_b_to_a(map_a_to_b(rgb)), rgb)
    assert np.array_equal(map_a_to_b(map_b_to_a(rgb)), rgb)
    assert map_a_to_b(np.array([[[10, 20, 30]]], np.uint8))[0, 0].tolist() == [235, 225, 245]


def test_deterministic_for_seed(tmp_path):
    r1 = make_synthetic_unpaired(tmp_path / "r1", seed=5, **SMALL)
    r2 = make_synthetic_unpaired(tmp_path / "r2", seed=5, **SMALL)
    r3 = make_synthetic_unpaired(tmp_path / "r3", seed=6, **SMALL)
    for split in ("trainA", "trainB", "testA", "testB", "testA_gt", "testB_gt"):
        i1, i2, i3 = images(os.path.join(r1, split)), images(os.path.join(r2, split)), images(os.path.join(r3, split))
        assert list(i1) == list(i2) == list(i3) and len(i1) == (6 if split.startswith("train") else 4)
        assert all(np.array_equal(i1[n], i2[n]) for n in i1)
        assert not all(np.array_equal(i1[n], i3[n]) for n in i1)


def test_reuse_overwrite_and_incomplete(tmp_path):
    root = tmp_path / "syn"
    make_synthetic_unpaired(root, **SMALL)
    target = root / "trainA" / "A_00000.png"
    original = target.read_bytes()
    target.write_bytes(b"edited")
    make_synthetic_unpaired(root, **SMALL)  # complete with the same parameters: reused, not rewritten
    assert target.read_bytes() == b"edited"
    make_synthetic_unpaired(root, overwrite=True, **SMALL)
    assert target.read_bytes() == original

    make_synthetic_unpaired(root, n_train=3, n_test=2, size=32)  # other parameters: regenerated, no stale files
    assert len(list_images(root / "trainA")) == 3 and len(list_images(root / "testB_gt")) == 2

    os.remove(root / "testB" / "B_00001.png")  # incomplete -> ensure_ regenerates
    assert not is_complete_synthetic_dataset(root, n_train=3, n_test=2, size=32)
    ensure_synthetic_dataset(root, n_train=3, n_test=2, size=32)
    assert is_complete_synthetic_dataset(root, n_train=3, n_test=2, size=32)
    assert (root / "testB" / "B_00001.png").is_file()


def test_refuses_foreign_dataset(tmp_path):
    (tmp_path / "trainA").mkdir()
    (tmp_path / "trainA" / "mine.jpg").write_bytes(b"user data")
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        make_synthetic_unpaired(tmp_path, **SMALL)
    assert (tmp_path / "trainA" / "mine.jpg").read_bytes() == b"user data"
