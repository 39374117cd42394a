"""``ppimg2img translate`` / ``cartoonize`` and applications/photo2cartoon.py: outputs, exit codes, messages."""
import importlib.util
import os

import numpy as np
import pytest

from ppimg2img.cli import main
from ppimg2img.nets import build_generator
from ppimg2img.utils.image_io import load_image, save_image
from ppimg2img.weights.load import save_converted

from conftest import ROOT

PORTRAIT = os.path.join(ROOT, "tests", "data", "portrait_photo2cartoon.jpg")
P2C_WEIGHTS = os.path.join(ROOT, "tests", "data", "photo2cartoon_ngf16.pt")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("w") / "g.pdparams")
    save_converted(build_generator("resnet_6blocks", ngf=4), path, "resnet_6blocks", {"ngf": 4})
    return path


@pytest.fixture
def photos(tmp_path):
    rng = np.random.default_rng(0)
    save_image(str(tmp_path / "in" / "a.png"), rng.integers(0, 255, (30, 41, 3), dtype=np.uint8))
    save_image(str(tmp_path / "in" / "b.jpg"), rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    return tmp_path / "in"


def test_translate_writes_results_of_input_size(weights, photos, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["translate", "--weights", weights, str(photos), "-o", str(out), "--size", "32", "--backend", "eager"])
    assert code == 0
    assert "2 of 2 images processed" in capsys.readouterr().out
    assert load_image(str(out / "a.png")).shape == (30, 41, 3)
    assert load_image(str(out / "b.png")).shape == (64, 64, 3)
    page = (out / "index.html").read_text()
    assert "a.png" in page and "b.png" in page


def test_translate_reports_bad_files_and_exits_1(weights, photos, tmp_path, capsys):
    (photos / "zero.png").write_bytes(b"")
    (photos / "corrupt.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    code = main(["translate", "--weights", weights, str(photos), "-o", str(tmp_path / "o"), "--size", "32",
                 "--backend", "eager", "--batch-size", "2"])
    captured = capsys.readouterr()
    assert code == 1
    assert "2 of 4 images processed, 2 failed" in captured.out
    assert "zero.png" in captured.err and "empty" in captured.err and "corrupt.jpg" in captured.err
    assert "Traceback" not in captured.err
    assert sorted(os.listdir(tmp_path / "o")) == ["a.png", "b.png", "index.html"]


@pytest.mark.parametrize("args, message", [
    (["translate", "--model", "horse2zebar", "x.png"], "Did you mean 'cyclegan/horse2zebra'"),
    (["translate", "x.png"], "give exactly one of --model NAME or --weights FILE"),
    (["translate", "--model", "horse2zebra", "--weights", "w.pth", "x.png"], "give exactly one of"),
    (["translate", "--model", "horse2zebra", "--backend", "fast", "x.png"], "invalid choice: 'fast'"),
    (["cartoonize", "--faces", "some", "x.png"], "invalid choice: 'some'"),
])
def test_usage_errors_exit_2(args, message, capsys):
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_missing_input_exits_2(weights, tmp_path, capsys):
    code = main(["translate", "--weights", weights, str(tmp_path / "nope*.png"), "-o", str(tmp_path / "o"),
                 "--backend", "eager"])
    assert code == 2
    assert "nope*.png: no such file or folder, and no images match it" in capsys.readouterr().err


def test_missing_weights_exit_1(tmp_path, capsys):
    assert main(["translate", "--weights", str(tmp_path / "none.pth"), "x.png"]) == 1
    assert f"weights file not found: {tmp_path / 'none.pth'}" in capsys.readouterr().err


def test_offline_zoo_model_names_url_and_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PPIMG2IMG_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr("urllib.request.urlopen", _offline)  # fail fast, as on a machine without network
    code = main(["translate", "--model", "horse2zebra", PORTRAIT, "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1
    assert "horse2zebra.pth" in err and str(tmp_path / "cache") in err


def _offline(*args, **kwargs):
    import urllib.error
    raise urllib.error.URLError(OSError(101, "Network is unreachable"))


def test_cartoonize_writes_face_files_and_reports_photo_without_face(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    save_image(str(src / "me.jpg"), load_image(PORTRAIT))
    save_image(str(src / "wall.png"), np.full((120, 160, 3), 128, np.uint8))
    out = tmp_path / "out"
    code = main(["cartoonize", "--weights", P2C_WEIGHTS, str(src), "-o", str(out), "--paste-back",
                 "--backend", "eager"])
    captured = capsys.readouterr()
    assert code == 1
    assert "wall.png" in captured.err and "no face found" in captured.err
    assert load_image(str(out / "me_cartoon.png")).shape == (256, 256, 3)
    assert load_image(str(out / "me_aligned.png")).shape == (256, 256, 3)
    assert load_image(str(out / "me_pasted.png")).shape == load_image(PORTRAIT).shape


def test_photo2cartoon_application_resumes(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("p2c_app", os.path.join(ROOT, "applications", "photo2cartoon.py"))
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    out = tmp_path / "out"
    args = ["--weights", P2C_WEIGHTS, "--input", PORTRAIT, "--output", str(out), "--backend", "eager"]
    assert app.main(args) == 0
    first = (out / "portrait_photo2cartoon_cartoon.png").stat().st_mtime_ns
    assert app.main(args) == 0
    assert "0 of 1 images processed, 1 skipped" in capsys.readouterr().out
    assert (out / "portrait_photo2cartoon_cartoon.png").stat().st_mtime_ns == first


def test_training_checkpoint_runs_at_its_crop_size(tmp_path):
    """A run trained on 32 px crops translates at 32 px by default (the published models: 256)."""
    from ppimg2img import CycleGANPredictor
    from ppimg2img.config import load_config
    from ppimg2img.engine.trainer import Trainer

    from conftest import tiny_cyclegan_config

    trainer = Trainer(load_config(tiny_cyclegan_config(tmp_path), ["train.max_iters=1"]))
    trainer.train(progress=False)
    predictor = CycleGANPredictor(weights=trainer.latest_path, backend="eager")
    assert predictor.size == 32 and predictor.working_size(50, 70) == (32, 32)
    assert CycleGANPredictor(weights=trainer.latest_path, backend="eager", size=48).size == 48
