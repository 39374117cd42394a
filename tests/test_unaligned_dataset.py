"""UnalignedDataset: layout errors, determinism per (seed, epoch, index), bad files, DataLoader workers."""
import inspect
import logging
import os

import numpy as np
import pytest
from PIL import Image

from ppimg2img.data import DATASETS, UnalignedDataset, build_dataset, build_loader

KW = dict(load_size=32, crop_size=24)


def write(path, seed, size=(40, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path, format="JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG")


@pytest.fixture
def root(tmp_path):
    for i, rel in enumerate(["a0.png", "a1.PNG", "sub/a2.png", "sub/deep/a3.jpg", "a4.png"]):
        write(tmp_path / "trainA" / rel, i)
    for i in range(3):
        write(tmp_path / "trainB" / f"b{i}.png", 100 + i)
    write(tmp_path / "testA" / "t.png", 7)
    write(tmp_path / "testB" / "t.png", 8)
    (tmp_path / "trainA" / "readme.txt").write_text("not an image")
    return tmp_path


def same(x, y):
    return all(np.array_equal(x[k], y[k]) for k in ("A", "B")) and x["A_paths"] == y["A_paths"] \
        and x["B_paths"] == y["B_paths"]


def test_items_shapes_and_length(root):
    ds = UnalignedDataset(root, **KW)
    assert len(ds) == 5 and ds.A_size == 5 and ds.B_size == 3
    assert [os.path.relpath(p, root) for p in ds.A_paths] == [
        "trainA/a0.png", "trainA/a1.PNG", "trainA/a4.png", "trainA/sub/a2.png", "trainA/sub/deep/a3.jpg"]
    item = ds[0]
    assert set(item) == {"A", "B", "A_paths", "B_paths", "skipped"} and item["skipped"] == ""
    for k in ("A", "B"):
        assert item[k].shape == (3, 24, 24) and item[k].dtype == np.float32
        assert -1.0 <= item[k].min() and item[k].max() <= 1.0
    assert item["A_paths"] == ds.A_paths[0] and item["B_paths"] in ds.B_paths
    with pytest.raises(IndexError):
        ds[5]
    assert len(UnalignedDataset(root, phase="test", **KW)) == 1
    assert len(UnalignedDataset(root, max_dataset_size=2, **KW)) == 2


def test_serial_batches_and_direction(root):
    ds = UnalignedDataset(root, serial_batches=True, **KW)
    assert [ds[i]["B_paths"] for i in range(5)] == [ds.B_paths[i % 3] for i in range(5)]
    rev = UnalignedDataset(root, direction="BtoA", serial_batches=True, **KW)
    assert rev.A_paths == ds.B_paths and rev.B_paths == ds.A_paths
    assert rev[1]["A_paths"].startswith(str(root / "trainB"))
    with pytest.raises(ValueError, match="did you mean 'BtoA'"):
        UnalignedDataset(root, direction="BtoAA", **KW)


def test_grayscale_channels(root):
    ds = UnalignedDataset(root, input_nc=1, output_nc=3, **KW)
    assert ds[0]["A"].shape == (1, 24, 24) and ds[0]["B"].shape == (3, 24, 24)
    ds = UnalignedDataset(root, input_nc=3, output_nc=1, direction="BtoA", **KW)
    assert ds[0]["A"].shape == (3, 24, 24) and ds[0]["B"].shape == (1, 24, 24)
    with pytest.raises(ValueError, match="input_nc must be 1"):
        UnalignedDataset(root, input_nc=4, **KW)


def test_determinism_seed_epoch_index(root):
    ds1, ds2 = UnalignedDataset(root, seed=3, **KW), UnalignedDataset(root, seed=3, **KW)
    forward = [ds1[i] for i in range(5)]
    backward = [ds2[i] for i in reversed(range(5))][::-1]  # call order does not matter
    assert all(same(a, b) for a, b in zip(forward, backward))
    ds2.set_epoch(1)
    epoch1 = [ds2[i] for i in range(5)]
    assert not all(np.array_equal(a["A"], b["A"]) for a, b in zip(forward, epoch1))  # new crops/flips
    ds2.set_epoch(0)
    assert all(same(a, ds2[i]) for i, a in enumerate(forward))
    other_seed = UnalignedDataset(root, seed=4, **KW)
    assert not all(np.array_equal(a["A"], other_seed[i]["A"]) for i, a in enumerate(forward))


def test_missing_and_empty_folders(tmp_path, root):
    with pytest.raises(FileNotFoundError) as info:
        UnalignedDataset(root, phase="val", **KW)
    msg = str(info.value)
    assert str(root / "valA") in msg and "download_cyclegan_dataset.py" in msg and "trainA" in msg
    with pytest.raises(FileNotFoundError, match="dataroot .* does not exist"):
        UnalignedDataset(tmp_path / "nowhere", **KW)
    (root / "emptyA").mkdir()
    (root / "emptyB").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no images found in .*emptyA"):
        UnalignedDataset(root, phase="empty", **KW)


def test_bad_files_are_skipped_with_one_warning(root, caplog):
    bad = root / "trainA" / "a1.PNG"
    bad.write_text("not really a png")
    (root / "trainB" / "b1.png").write_bytes(b"")
    write(root / "trainB" / "tiny.png", 9, size=(10, 10))  # too small to crop 24x24
    ds = UnalignedDataset(root, serial_batches=True, preprocess="crop", crop_size=24)
    with caplog.at_level(logging.WARNING, logger="ppimg2img"):
        item = ds[1]
        assert item["A_paths"] == ds.A_paths[2]  # next readable file
        again = ds[1]
    assert same(item, again)
    warnings = [r.getMessage() for r in caplog.records if str(bad) in r.getMessage()]
    assert len(warnings) == 1 and "not a recognised image" in warnings[0]
    assert str(bad) in ds.bad_files
    b_items = [ds[i]["B_paths"] for i in range(4)]
    assert [os.path.basename(p) for p in ds.B_paths] == ["b0.png", "b1.png", "b2.png", "tiny.png"]
    assert b_items == [ds.B_paths[0], ds.B_paths[2], ds.B_paths[2], ds.B_paths[0]]  # b1 -> b2, tiny -> (wrap) b0
    assert "empty (0 bytes)" in ds.bad_files[str(root / "trainB" / "b1.png")]
    assert "smaller than crop_size=24" in ds.bad_files[str(root / "trainB" / "tiny.png")]

    fresh = UnalignedDataset(root, serial_batches=True, preprocess="crop", crop_size=24)
    assert same(fresh[1], item)  # same result without the cached bad-file record

    for p in fresh.B_paths:
        open(p, "wb").close()
    with pytest.raises(RuntimeError, match="none of the 4 images in .*trainB"):
        fresh[0]


def test_dataloader_workers_identical(root):
    ds = UnalignedDataset(root, **KW)

    def batches(num_workers, epoch):
        ds.set_epoch(epoch)
        loader = build_loader(ds, batch_size=2, num_workers=num_workers)
        return [b for b in loader]

    for epoch in (1, 2):
        b0, b2 = batches(0, epoch), batches(2, epoch)
        assert len(b0) == len(b2) == 3
        for x, y in zip(b0, b2):
            assert np.array_equal(x["A"].numpy(), y["A"].numpy()) and np.array_equal(x["B"].numpy(), y["B"].numpy())
            assert list(x["A_paths"]) == list(y["A_paths"]) and list(x["B_paths"]) == list(y["B_paths"])
        ds.set_epoch(epoch)  # the workers saw the epoch set before iter()
        assert np.array_equal(b2[1]["A"].numpy()[0], ds[2]["A"])


def test_registry_and_signature(root):
    assert DATASETS["UnalignedDataset"] is UnalignedDataset
    assert len(build_dataset("UnalignedDataset", dataroot=str(root), **KW)) == 5
    with pytest.raises(ValueError, match="Did you mean 'UnalignedDataset'"):
        build_dataset("UnalignedDatset", dataroot=str(root))
    sig = inspect.signature(UnalignedDataset.__init__)
    names = [n for n in sig.parameters if n != "self"]
    assert names == ["dataroot", "phase", "direction", "preprocess", "load_size", "crop_size", "flip",
                     "serial_batches", "max_dataset_size", "input_nc", "output_nc", "seed"]
    assert sig.parameters["load_size"].default == 286 and sig.parameters["crop_size"].default == 256
    doc = inspect.getdoc(UnalignedDataset)
    assert all(f"{n}:" in doc for n in names)
