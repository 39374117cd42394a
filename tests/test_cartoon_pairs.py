"""applications/make_cartoon_pairs.py and configs/pix2pix_photo2cartoon.yaml: the course's pix2pix
photo-to-cartoon recipe (issue 19), offline with a photo2cartoon generator with random weights."""
import importlib.util
import os
import shutil
import subprocess
import sys

import numpy as np
import paddle
import pytest
from PIL import Image

from ppimg2img.config import load_config
from ppimg2img.faces import FacePipeline
from ppimg2img.nets import build_generator
from ppimg2img.utils.image_io import image_to_array, load_image, save_image, tensor_to_image
from ppimg2img.weights import load_generator, save_converted

from conftest import DATA, ROOT

SCRIPT = os.path.join(ROOT, "applications", "make_cartoon_pairs.py")
CONFIG = os.path.join(ROOT, "configs", "pix2pix_photo2cartoon.yaml")
PORTRAIT = os.path.join(DATA, "portrait_photo2cartoon.jpg")
_spec = importlib.util.spec_from_file_location("make_cartoon_pairs", SCRIPT)
pairs_app = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pairs_app)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """photo2cartoon generator, ngf 8, random weights, in ppimg2img's .pdparams format."""
    paddle.seed(7)
    kwargs = {"ngf": 8, "img_size": 256, "light": True}
    net = build_generator("photo2cartoon", **kwargs)
    return save_converted(net, str(tmp_path_factory.mktemp("w") / "p2c_random_ngf8.pdparams"), "photo2cartoon",
                          kwargs)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    src = tmp_path_factory.mktemp("photos")
    (src / "sub").mkdir()
    portrait = np.asarray(Image.open(PORTRAIT))
    shutil.copy(PORTRAIT, src / "me.jpg")
    save_image(str(src / "sub" / "two.png"), np.hstack([portrait, portrait[:, ::-1]]))  # two faces
    yy, xx = np.mgrid[:120, :160]
    save_image(str(src / "wall.png"), np.stack([yy, xx, (yy + xx) // 2], -1).astype(np.uint8))  # no face
    (src / "broken.jpg").write_bytes(b"not an image")
    return src


@pytest.fixture(scope="module")
def made(tmp_path_factory, photos, weights):
    """One run over the photos, shared by the tests below (pairs, split, skipped files)."""
    out = tmp_path_factory.mktemp("made") / "pairs"
    proc = subprocess.run([sys.executable, SCRIPT, str(photos), str(out), "--weights", weights, "--backend", "eager",
                           "--test-fraction", "0.5"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": ROOT})
    return out, proc


def direct_cartoon(net, face):
    """The generator run directly on the face on white, put back on white through the mask
    (photo2cartoon's test.py)."""
    with paddle.no_grad():
        out = net(paddle.to_tensor(image_to_array(face.on_white())[None]))[0]
    mask = face.mask[..., None]
    return np.clip(np.rint(tensor_to_image(out[0]) * mask + 255.0 * (1.0 - mask)), 0, 255).astype(np.uint8)


def red_pixels(image):
    r, g, b = np.moveaxis(image.astype(int), -1, 0)
    return int(((r > 150) & (g < 80) & (b < 80)).sum())


def test_pairs_are_aligned_face_beside_its_cartoon(made, photos, weights):
    out, proc = made
    assert proc.returncode == 1, proc.stderr[-3000:]  # two photos skipped
    assert "4 photos in" in proc.stdout and "2 made into 3 pairs" in proc.stdout and "2 skipped" in proc.stdout
    assert "meaningless" not in proc.stdout  # a --weights file: no claim about its quality
    split = pairs_app.split_names(["me", "sub/two", "wall", "broken"], 0.5)
    # two of four photos: the lowest name hashes (sha1), whatever the order they are listed in
    assert split == {"broken": "test", "me": "test", "wall": "train", "sub/two": "train"}
    pipe, net = FacePipeline(), load_generator(weights)
    for name, photo, n in (("me", PORTRAIT, 1), ("sub/two", photos / "sub" / "two.png", 2)):
        files = pairs_app.pair_files(str(out), split[name], name, n)
        faces = pipe.process(str(photo))
        assert len(faces) == n
        for face, path in zip(faces, files):
            pair = load_image(path)
            assert pair.shape == (256, 512, 3)
            assert np.array_equal(pair[:, :256], face.on_white())  # A: FacePipeline's aligned, masked face
            assert np.array_equal(pair[:, 256:], direct_cartoon(net, face))  # B: the generator's cartoon
        other = "test" if split[name] == "train" else "train"
        assert not os.path.exists(pairs_app.pair_files(str(out), other, name, 1)[0])
    assert not os.path.exists(out / "sub" / "two_face3.png")
    listed = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
    assert len(listed) == 5  # 3 pairs, skipped.txt, the contact sheet (no temporary files left)


def test_no_face_and_corrupt_photos_are_reported_and_skipped(made, photos):
    out, proc = made
    skipped = (out / "skipped.txt").read_text().splitlines()
    assert len(skipped) == 2
    assert any(line.startswith(str(photos / "wall.png")) and "no face found" in line for line in skipped)
    assert any(line.startswith(str(photos / "broken.jpg")) and "cannot read image" in line for line in skipped)
    assert "wall.png" in proc.stderr and "broken.jpg" in proc.stderr and "Traceback" not in proc.stderr
    sheet = load_image(str(out / "contact_sheet.png"))
    assert sheet.shape[1] == 4 * (2 * 96 + 4) and sheet.shape[0] > 96 + 16
    assert sheet.std() > 10  # the pairs are drawn on it
    assert red_pixels(sheet[:38]) == 0  # weights from a file: no RANDOM WEIGHTS line in the header


def test_second_run_writes_nothing_and_says_so(made, photos, weights, tmp_path, capsys):
    out = tmp_path / "pairs"
    shutil.copytree(made[0], out)
    files = sorted(str(p) for p in out.rglob("*.png") if p.name != "contact_sheet.png")
    stamps = {p: os.path.getmtime(p) for p in files}
    argv = [str(photos), str(out), "--weights", weights, "--backend", "eager", "--test-fraction", "0.5"]
    assert pairs_app.main(argv) == 1
    stdout = capsys.readouterr().out
    assert "no new pairs written, 2 already done, 2 skipped" in stdout
    assert {p: os.path.getmtime(p) for p in files} == stamps

    # --overwrite redoes them; with --test-fraction 0 everything moves to train
    assert pairs_app.main(argv[:-1] + ["0", "--overwrite"]) == 1
    captured = capsys.readouterr()
    assert "2 made into 3 pairs (3 train, 0 test)" in captured.out and "holds 3 train and 0 test pairs" in captured.out
    assert sorted(os.listdir(out / "train")) == ["me.png", "sub"] and sorted(os.listdir(out / "train" / "sub")) == [
        "two.png", "two_face2.png"]
    assert not list((out / "test").rglob("*.png")) and "eval_at_end=false" in captured.err


def test_split_is_deterministic_exact_and_keeps_written_pairs():
    names = [f"p{i:03d}" for i in range(50)]
    split = pairs_app.split_names(names, 0.1)
    assert split == pairs_app.split_names(list(reversed(names)), 0.1)
    assert sum(s == "test" for s in split.values()) == 5
    assert pairs_app.split_names(["a", "b"], 0.1) in ({"a": "test", "b": "train"}, {"a": "train", "b": "test"})
    assert pairs_app.split_names(["a"], 0.1) == {"a": "train"} and set(pairs_app.split_names(names, 0).values()) == {
        "train"}
    test = [n for n, s in split.items() if s == "test"]
    # pairs already written keep their split; the quota is filled from the others
    placed = {test[0]: "train", names[-1]: "test"}
    again = pairs_app.split_names(names, 0.1, placed)
    assert again[test[0]] == "train" and again[names[-1]] == "test"
    assert sum(s == "test" for s in again.values()) == 5
    assert pairs_app.output_names(["/p/a.jpg", "/p/a.png", "/p/s/a.jpg"], "/p") == {
        "/p/a.jpg": "a", "/p/a.png": "a_png", "/p/s/a.jpg": os.path.join("s", "a")}


def test_random_weights_say_the_cartoons_are_meaningless(tmp_path, capsys):
    out = tmp_path / "demo"
    assert pairs_app.main([PORTRAIT, str(out), "--random-weights", "--size", "128", "--backend", "eager",
                           "--mask", "ellipse"]) == 0
    stdout = capsys.readouterr().out
    assert "random weights" in stdout and stdout.count("meaningless") == 2  # at the start and with the summary
    pair = load_image(str(out / "train" / "portrait_photo2cartoon.png"))
    assert pair.shape == (128, 256, 3)
    face = FacePipeline(size=128, mask="ellipse").process(PORTRAIT)[0]
    assert np.array_equal(pair[:, :128], face.on_white())
    assert np.array_equal(pair[:, 128:], direct_cartoon(pairs_app.random_generator(128, seed=0), face))
    assert red_pixels(load_image(str(out / "contact_sheet.png"))[:54]) > 50  # the red RANDOM WEIGHTS line


def test_weights_that_are_not_photo2cartoon_are_refused(tmp_path, capsys):
    cyclegan = os.path.join(DATA, "cyclegan_resnet_6blocks_ngf8.pth")
    assert pairs_app.main([PORTRAIT, str(tmp_path / "o"), "--weights", cyclegan, "--backend", "eager"]) == 2
    assert "holds a resnet_6blocks generator, not photo2cartoon" in capsys.readouterr().err
    assert pairs_app.main([PORTRAIT, str(tmp_path / "o"), "--weights", str(tmp_path / "none.pt")]) == 2
    assert "weights file not found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit):
        pairs_app.main([PORTRAIT, str(tmp_path / "o"), "--size", "100"])
    assert "multiple of 16" in capsys.readouterr().err


def test_config_trains_pix2pix_on_the_pairs_for_one_iteration(made, tmp_path):
    cfg = load_config(CONFIG)
    assert cfg["model"]["name"] == "Pix2PixModel" and cfg["model"]["generator"]["name"] == "unet_256"
    for phase in ("train", "test"):
        data = cfg["dataset"][phase]
        assert (data["name"], data["direction"], data["phase"]) == ("AlignedDataset", "AtoB", phase)
        assert data["crop_size"] == 256
    out, _ = made
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "main.py"), "-c", CONFIG, "-o", f"dataset.train.dataroot={out}",
         f"dataset.test.dataroot={out}", "train.max_iters=1", "train.num_workers=0", "model.generator.ngf=8",
         "model.discriminator.ndf=8", "--output-dir", "run", "--no-progress", "--threads", "1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = (tmp_path / "run" / "train.log").read_text()
    assert "training Pix2PixModel on 2 images" in log and "training done: 1 iterations" in log  # sub/two's faces
    assert "evaluation AtoB" in log and "over 1 images" in log  # test: me.png
    assert (tmp_path / "run" / "checkpoints" / "latest.pdckpt").is_file()
