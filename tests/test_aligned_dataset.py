"""pix2pix data: side-by-side splitting, joint augmentation, directions, combine_A_and_B,
the synthetic paired task, the pix2pix dataset downloader and safe tar extraction."""
import io
import json
import os
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from ppimg2img.config import ConfigError, load_config
from ppimg2img.data.aligned import AlignedDataset, normalize_direction, split_ab
from ppimg2img.utils.image_io import image_to_array, load_image, save_image

from conftest import ROOT


def _ab_image(rng, h=24, w_half=20):
    """A|B image whose halves are distinct random noise."""
    return rng.integers(0, 256, (h, 2 * w_half, 3), dtype=np.uint8)


def _write_set(root, images, phase="train"):
    for i, img in enumerate(images):
        save_image(os.path.join(root, phase, f"{i:03d}.png"), img)
    return str(root)


def test_split_at_half_width_without_augmentation(tmp_path):
    rng = np.random.default_rng(0)
    img = _ab_image(rng)
    root = _write_set(tmp_path / "d", [img])
    ds = AlignedDataset(root, preprocess="none", flip=False)
    item = ds[0]
    np.testing.assert_array_equal(item["A"], image_to_array(img[:, :20]))
    np.testing.assert_array_equal(item["B"], image_to_array(img[:, 20:]))
    assert item["A_paths"] == item["B_paths"] == os.path.join(root, "train", "000.png")
    # odd width: A gets floor(w/2) columns, as the original (w2 = int(w / 2))
    a, b = split_ab(np.zeros((4, 7, 3), np.uint8))
    assert a.shape[1] == 3 and b.shape[1] == 4
    with pytest.raises(ValueError, match="cannot hold A and B"):
        split_ab(np.zeros((4, 1, 3), np.uint8))


def test_both_halves_get_the_same_crop_and_flip(tmp_path):
    """Halves with identical content stay identical after random resize/crop/flip, and the crops
    and flips really vary between items and epochs."""
    rng = np.random.default_rng(1)
    halves = [rng.integers(0, 256, (40, 40, 3), dtype=np.uint8) for _ in range(4)]
    root = _write_set(tmp_path / "d", [np.concatenate([h, h], axis=1) for h in halves])
    ds = AlignedDataset(root, preprocess="resize_and_crop", load_size=48, crop_size=32, flip=True, seed=5)
    seen = set()
    for epoch in range(4):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            item = ds[i]
            assert item["A"].shape == (3, 32, 32)
            np.testing.assert_array_equal(item["A"], item["B"])
            seen.add((i, item["A"].tobytes()))
    assert len(seen) > 12  # different crops/flips of the same 4 images
    ds.set_epoch(2)
    np.testing.assert_array_equal(ds[1]["A"], ds[1]["A"])  # reproducible per (seed, epoch, index)


def test_direction_swaps_halves_and_accepts_aliases(tmp_path):
    img = _ab_image(np.random.default_rng(2))
    root = _write_set(tmp_path / "d", [img])
    btoa = AlignedDataset(root, direction="BtoA", preprocess="none", flip=False)[0]
    np.testing.assert_array_equal(btoa["A"], image_to_array(img[:, 20:]))
    np.testing.assert_array_equal(btoa["B"], image_to_array(img[:, :20]))
    assert AlignedDataset(root, direction="b2a").direction == "BtoA"
    assert AlignedDataset(root, direction="a2b").direction == "AtoB"
    assert normalize_direction("AtoB") == "AtoB"
    for bad in ("B2A_", "btoa", "A->B", None):
        with pytest.raises(ValueError, match="unknown direction .*use 'AtoB' \\(or 'a2b'\\) or 'BtoA'"):
            AlignedDataset(root, direction=bad)


def test_config_accepts_direction_aliases_and_rejects_others(tmp_path):
    path = _pix2pix_config(tmp_path)
    cfg = load_config(path, ["dataset.train.direction=b2a"])
    assert cfg["dataset"]["train"]["direction"] == "b2a"
    from ppimg2img.engine.trainer import Trainer
    assert Trainer(cfg).cfg["dataset"]["train"]["direction"] == "BtoA"  # normalised for the run
    with pytest.raises(ConfigError, match=r"config\.dataset\.train\.direction: 'BA' is not one of"):
        load_config(path, ["dataset.train.direction=BA"])


def _pix2pix_config(tmp_path):
    import yaml
    cfg = {"name": "p", "output_dir": str(tmp_path / "run"), "threads": 1,
           "model": {"name": "Pix2PixModel", "generator": {"name": "unet_128", "ngf": 4},
                     "discriminator": {"name": "basic", "ndf": 4}},
           "dataset": {"synthetic": {"n_train": 2, "n_test": 1, "size": 128},
                       "train": {"name": "AlignedDataset", "dataroot": str(tmp_path / "data"), "preprocess": "none"}},
           "train": {"num_workers": 0}}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_grayscale_channels_and_missing_folder_errors(tmp_path):
    root = _write_set(tmp_path / "d", [_ab_image(np.random.default_rng(3))])
    item = AlignedDataset(root, preprocess="none", input_nc=1, output_nc=3)[0]
    assert item["A"].shape == (1, 24, 20) and item["B"].shape == (3, 24, 20)
    with pytest.raises(FileNotFoundError, match=r"'.*val' does not exist \(phase='val'; subfolders of dataroot: "
                                                r"\['train'\]\).*download_pix2pix_dataset\.py"):
        AlignedDataset(root, phase="val")
    with pytest.raises(ValueError, match="input_nc must be 1"):
        AlignedDataset(root, input_nc=2)


def test_unreadable_file_is_replaced_by_the_next(tmp_path):
    root = _write_set(tmp_path / "d", [_ab_image(np.random.default_rng(4))])
    (tmp_path / "d" / "train" / "bad.png").write_bytes(b"not a png")
    ds = AlignedDataset(root, preprocess="none")
    item = ds[ds.AB_paths.index(os.path.join(root, "train", "bad.png"))]
    assert item["A_paths"].endswith("000.png") and "bad.png" in item["skipped"]


def test_combine_A_and_B(tmp_path):
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 256, (16, 12, 3), dtype=np.uint8), rng.integers(0, 256, (16, 10, 3), dtype=np.uint8)
    save_image(str(tmp_path / "A" / "train" / "x.png"), a)
    save_image(str(tmp_path / "B" / "train" / "x.png"), b)
    save_image(str(tmp_path / "A" / "train" / "lonely.png"), a)
    save_image(str(tmp_path / "A" / "test" / "y.png"), a)
    save_image(str(tmp_path / "B" / "test" / "y.png"), b[:8])  # different height
    out = subprocess.run([sys.executable, os.path.join(ROOT, "data", "combine_A_and_B.py"), "--fold_A",
                          str(tmp_path / "A"), "--fold_B", str(tmp_path / "B"), "--fold_AB", str(tmp_path / "AB")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    np.testing.assert_array_equal(load_image(str(tmp_path / "AB" / "train" / "x.png")), np.concatenate([a, b], 1))
    assert "lonely.png: no partner" in out.stderr and "differ in height" in out.stderr
    assert not (tmp_path / "AB" / "test" / "y.png").exists()
    assert "0 images to" in out.stdout and "1 images to" in out.stdout


def test_synthetic_paired_dataset(tmp_path):
    from ppimg2img.data.synthetic_paired import (LABEL_COLOURS, ensure_synthetic_paired,
                                                 is_complete_synthetic_paired, render_labels)
    root = ensure_synthetic_paired(str(tmp_path / "s"), n_train=3, n_test=2, size=32, seed=1)
    assert is_complete_synthetic_paired(root, 3, 2, 32, 1) and not is_complete_synthetic_paired(root, 3, 2, 32, 2)
    img = load_image(os.path.join(root, "test", "00000.png"))
    assert img.shape == (32, 64, 3)
    a, b = img[:, :32], img[:, 32:]
    labels = np.argmax((a[..., None, :] == LABEL_COLOURS[None, None]).all(-1), axis=-1)
    assert (a[..., None, :] == LABEL_COLOURS[None, None]).all(-1).any(-1).all()  # only label colours in A
    np.testing.assert_array_equal(b, render_labels(labels.astype(np.uint8)))  # B is the rule applied to A
    meta = json.load(open(os.path.join(root, "synthetic_meta.json")))
    assert 0 < meta["identity_psnr_db_test"] < 10
    again = str(tmp_path / "again")
    ensure_synthetic_paired(again, n_train=3, n_test=2, size=32, seed=1)
    np.testing.assert_array_equal(load_image(os.path.join(again, "test", "00000.png")), img)  # deterministic
    os.makedirs(tmp_path / "foreign" / "train")
    with pytest.raises(FileExistsError, match="not made by make_synthetic_paired"):
        ensure_synthetic_paired(str(tmp_path / "foreign"), n_train=1, n_test=1, size=32)


def _tar(path, members, mode="w:gz"):
    with tarfile.open(path, mode) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            elif isinstance(data, tuple):  # (link type, target)
                info.type, info.linkname = data
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return str(path)


def test_extract_tar_is_safe_and_atomic(tmp_path):
    from ppimg2img.utils.download import extract_tar
    good = _tar(tmp_path / "ok.tar.gz", [("facades/", None), ("facades/train/1.jpg", b"x"), ("facades/val/2.jpg", b"y")])
    out = extract_tar(good, str(tmp_path / "out" / "facades"), strip_top_dir=True)
    assert open(os.path.join(out, "train", "1.jpg"), "rb").read() == b"x"
    for name, members in {"dotdot": [("a/../../evil.txt", b"x")], "absolute": [("/tmp/evil.txt", b"x")],
                          "symlink": [("a/link", (tarfile.SYMTYPE, "../../etc/passwd")), ("a/ok", b"x")],
                          "abslink": [("a/link", (tarfile.SYMTYPE, "/etc/passwd"))]}.items():
        bad = _tar(tmp_path / f"{name}.tar.gz", members)
        dest = tmp_path / f"x_{name}"
        with pytest.raises(ValueError, match="Refusing to extract"):
            extract_tar(bad, str(dest))
        assert not dest.exists() and not (tmp_path / "evil.txt").exists()
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tar at all")
    with pytest.raises(ValueError, match="not a valid tar archive"):
        extract_tar(str(tmp_path / "junk.tar.gz"), str(tmp_path / "j"))
    raw = open(good, "rb").read()
    (tmp_path / "cut.tar.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="corrupt|not a valid"):
        extract_tar(str(tmp_path / "cut.tar.gz"), str(tmp_path / "c"))
    assert not (tmp_path / "c").exists()
    assert [n for n in os.listdir(tmp_path) if ".extract-" in n] == []
    with pytest.raises(FileExistsError, match="already exists"):
        extract_tar(good, out)


def test_download_pix2pix_dataset(tmp_path, monkeypatch):
    from ppimg2img.data import pix2pix_datasets as p2p
    from ppimg2img.utils.download import DownloadError
    archives = {"facades": _tar(tmp_path / "f.tar.gz", [("facades/train/1.jpg", b"x"), ("facades/val/1.jpg", b"x"),
                                                        ("facades/test/1.jpg", b"x")]),
                "maps": _tar(tmp_path / "m.tar.gz", [("maps/train/1.jpg", b"x")])}
    calls = []

    def fake_download(url, dest, **kw):
        calls.append(url)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(archives[os.path.basename(url).split(".")[0]], "rb") as src, open(dest, "wb") as dst:
            dst.write(src.read())
        return dest

    monkeypatch.setenv("PPIMG2IMG_HOME", str(tmp_path / "cache"))
    from ppimg2img.data import archives as archive_module
    monkeypatch.setattr(archive_module, "download", fake_download)
    path = p2p.download_pix2pix_dataset("facades", root=str(tmp_path / "datasets"), progress=False)
    assert calls == ["http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz"]
    assert sorted(os.listdir(path)) == ["test", "train", "val"]
    assert not os.path.exists(tmp_path / "cache" / "datasets" / "facades.tar.gz")  # archive removed
    assert p2p.download_pix2pix_dataset("facades", root=str(tmp_path / "datasets")) == path and len(calls) == 1
    with pytest.raises(DownloadError, match="does not contain the expected folders val"):
        p2p.download_pix2pix_dataset("maps", root=str(tmp_path / "datasets"))  # the archive lacks val/
    assert not os.path.exists(tmp_path / "datasets" / "maps")
    with pytest.raises(ValueError, match="Unknown pix2pix dataset 'facade'. Did you mean 'facades'"):
        p2p.download_pix2pix_dataset("facade")
    with pytest.raises(DownloadError, match="cityscapes-dataset.com"):
        p2p.download_pix2pix_dataset("cityscapes", root=str(tmp_path / "datasets"))
    script = subprocess.run([sys.executable, os.path.join(ROOT, "data", "download_pix2pix_dataset.py"), "nope"],
                            capture_output=True, text=True)
    assert script.returncode == 2 and "Available datasets: facades" in script.stderr
