"""applications/align_faces.py: a photo2cartoon trainA folder from raw photos."""
import importlib.util
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from ppimg2img.utils.image_io import load_image

from conftest import DATA, ROOT

SCRIPT = os.path.join(ROOT, "applications", "align_faces.py")
PORTRAIT = os.path.join(DATA, "portrait_photo2cartoon.jpg")
_spec = importlib.util.spec_from_file_location("align_faces", SCRIPT)
align_faces = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(align_faces)


@pytest.fixture
def photos(tmp_path):
    src = tmp_path / "photos"
    (src / "sub").mkdir(parents=True)
    shutil.copy(PORTRAIT, src / "me.jpg")
    portrait = np.asarray(Image.open(PORTRAIT))
    Image.fromarray(portrait).convert("L").save(src / "me.png")  # same stem, grayscale
    Image.fromarray(np.hstack([portrait, portrait[:, ::-1]])).save(src / "sub" / "pair.jpg")
    Image.fromarray(skdata.coffee()).save(src / "sub" / "coffee.jpg")  # no face
    (src / "sub" / "broken.jpg").write_bytes(b"not an image")
    return src


def test_folder_to_trainA_skips_lists_and_resumes(tmp_path, photos, capsys):
    dst = tmp_path / "trainA"
    assert align_faces.main([str(photos), str(dst), "--max-faces", "0"]) == 1
    out, err = capsys.readouterr()
    assert "5 photos" in out and "3 aligned (4 faces)" in out and "2 skipped" in out
    expected = ["me.png", "me_png.png", "sub/pair.png", "sub/pair_face2.png"]
    for name in expected:
        img = load_image(str(dst / name))
        assert img.shape == (256, 256, 3)
        assert (img[:4, :4] == 255).all()  # background removed: white corners
        assert img[96:160, 96:160].mean() < 230  # the face is there
    assert not (dst / "sub" / "coffee.png").exists()
    skipped = (dst / "skipped.txt").read_text().splitlines()
    assert len(skipped) == 2
    assert any(line.startswith(str(photos / "sub" / "coffee.jpg")) and "no face found" in line for line in skipped)
    assert any("broken.jpg" in line and "cannot read image" in line for line in skipped)
    assert "coffee.jpg" in err and "Traceback" not in err
    page = (dst / "index.html").read_text()
    assert "sub/pair_face2.png" in page and "no face found" in page

    # a second run redoes nothing that exists; a deleted output is redone
    stamp = os.path.getmtime(dst / "me.png")
    os.remove(dst / "sub" / "pair.png")
    assert align_faces.main([str(photos), str(dst), "--max-faces", "0"]) == 1
    out, _ = capsys.readouterr()
    assert "1 aligned (2 faces), 2 already done, 2 skipped" in out
    assert os.path.getmtime(dst / "me.png") == stamp and (dst / "sub" / "pair.png").exists()


def test_only_faces_exit_0_with_size_and_one_face_by_default(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    portrait = np.asarray(Image.open(PORTRAIT))
    small = np.asarray(Image.fromarray(portrait).resize((297, 300)))
    canvas = np.full((600, 594 + 297, 3), 255, np.uint8)
    canvas[:, :594], canvas[:300, 594:] = portrait, small
    Image.fromarray(canvas).save(src / "two.jpg")
    dst = tmp_path / "out"
    assert align_faces.main([str(src), str(dst), "--size", "128", "--mask", "ellipse"]) == 0
    assert sorted(os.listdir(dst)) == ["index.html", "skipped.txt", "two.png"]  # max-faces 1 by default
    assert load_image(str(dst / "two.png")).shape == (128, 128, 3)
    assert (dst / "skipped.txt").read_text() == ""
    assert "1 aligned (1 faces)" in capsys.readouterr().out


def test_output_names_are_unique():
    names = align_faces.output_names(["s/a.jpg", "s/a.png", "s/A.PNG", "s/x/b.jpg"], "s")
    assert names == {"s/a.jpg": "a", "s/a.png": "a_png", "s/A.PNG": "A_png2", "s/x/b.jpg": os.path.join("x", "b")}


@pytest.mark.parametrize("args, message", [
    (["{missing}", "{dst}"], "is not a folder"),
    (["{src}", "{dst}", "--size", "8"], "--size must be at least 16"),
    (["{src}", "{dst}", "--max-faces", "-1"], "--max-faces must be 0"),
    (["{src}", "{dst}", "--mask", "model"], "--mask model needs --mask-weights"),
    (["{src}", "{dst}", "--mask", "model", "--mask-weights", "{missing}"], "segmentation weights"),
    (["{src}", "{src}"], "DST_DIR must differ from SRC_DIR"),
    (["{empty}", "{dst}"], "no images in SRC_DIR"),
])
def test_usage_errors_exit_2(tmp_path, capsys, args, message):
    (tmp_path / "src").mkdir()
    shutil.copy(PORTRAIT, tmp_path / "src" / "p.jpg")
    (tmp_path / "empty").mkdir()
    paths = {k: str(tmp_path / k) for k in ("src", "dst", "missing", "empty")}
    with pytest.raises(SystemExit) as info:
        align_faces.main([a.format(**paths) for a in args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "dst").exists()


def test_command_line_help():
    proc = subprocess.run([sys.executable, SCRIPT, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "SRC_DIR" in proc.stdout and "--max-faces" in proc.stdout and "Exit status" in proc.stdout
