"""Evaluation end to end: ``--evaluate-only`` writes images, HTML and metrics.json; FID/KID in
the trainer (protocol recorded, clear message without weights); tools/evaluate.py on folders."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ppimg2img.cli import train_main
from ppimg2img.utils.image_io import load_image, save_image

from conftest import ROOT
from test_pix2pix import _config


def test_evaluate_only_writes_images_html_and_metrics(tmp_path):
    path = _config(tmp_path)
    assert train_main(["-c", path, "-o", "train.max_iters=2", "train.eval_at_end=false", "--no-progress"]) == 0
    ckpt = str(tmp_path / "run" / "checkpoints" / "latest.pdckpt")
    assert train_main(["-c", path, "--evaluate-only", "--load", ckpt, "--no-progress",
                       "-o", "eval.y_channel=true", "eval.crop_border=2"]) == 0
    out = tmp_path / "run" / "eval" / "evaluate"
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == ["AtoB"] and metrics["AtoB"]["images"] == 2 and metrics["AtoB"]["failed"] == []
    assert 0 < metrics["AtoB"]["psnr"] < 60
    names = sorted(os.listdir(out / "AtoB" / "images"))
    assert len(names) == 6
    for name in names:
        assert load_image(str(out / "AtoB" / "images" / name)).shape == (128, 128, 3)
    page = (out / "AtoB" / "index.html").read_text()
    assert "PSNR (Y channel)" in page and "identity baseline" in page and "00001_fake_B.png" in page
    assert "AtoB/index.html" in (out / "index.html").read_text()
    # the same checkpoint evaluated again gives the same numbers (eval mode is deterministic)
    assert train_main(["-c", path, "--evaluate-only", "--load", ckpt, "--no-progress",
                       "-o", "eval.y_channel=true", "eval.crop_border=2"]) == 0
    assert json.loads((out / "metrics.json").read_text()) == metrics


def _small_extractor():
    import paddle

    from ppimg2img.metrics.fid import InceptionFeatures
    from ppimg2img.nets.inception import FIDInceptionV3
    paddle.seed(0)
    return InceptionFeatures(net=FIDInceptionV3(resize_to=75), batch_size=4, progress=False)


def test_trainer_fid_kid_with_protocol(tmp_path, monkeypatch):
    from ppimg2img.config import load_config
    from ppimg2img.engine.trainer import Trainer
    t = Trainer(load_config(_config(tmp_path, eval={"fid": True, "kid": True, "kid_subsets": 3}),
                            ["train.max_iters=1"]))
    extractor = _small_extractor()
    from ppimg2img.engine.evaluation import common
    monkeypatch.setattr(common, "_inception", lambda trainer: extractor)
    t.train(progress=False)
    res = t.evaluate(tag="fid")["AtoB"]
    assert np.isfinite(res["fid"]["value"]) and res["fid"]["value"] > 0
    assert res["fid"]["real_images"] == res["fid"]["fake_images"] == 2
    assert "test (B halves)" in res["fid"]["real_set"] and res["fid"]["image_size"].startswith("299x299")
    assert np.isfinite(res["kid"]["value"]) and "std" in res["kid"]
    page = open(os.path.join(t.run_dir, "eval", "fid", "AtoB", "index.html")).read()
    assert "FID" in page and "2 outputs vs 2 real images" in page
    cached = [n for n in os.listdir(os.path.join(t.run_dir, "eval")) if n.startswith("real_features")]
    assert cached == ["real_features_AtoB_2.npz"]


def test_trainer_fid_without_weights_reports_how_to_get_them(tmp_path, monkeypatch):
    from ppimg2img.config import load_config
    from ppimg2img.engine.trainer import Trainer
    from ppimg2img.utils.download import DownloadError
    monkeypatch.setenv("PPIMG2IMG_HOME", str(tmp_path / "cache"))

    def offline(url, dest, **kw):
        raise DownloadError("cannot resolve the host name, are you offline?")

    monkeypatch.setattr("ppimg2img.utils.download.download", offline)
    t = Trainer(load_config(_config(tmp_path, eval={"fid": True}), ["train.max_iters=1"]))
    t.train(progress=False)
    res = t.evaluate(tag="nofid")["AtoB"]
    assert "psnr" in res and "fid" not in res
    assert "pytorch-fid/releases/download/fid_weights" in res["fid_error"]
    assert str(tmp_path / "cache" / "weights" / "pt_inception-2015-12-05-6726825d.pth") in res["fid_error"]


def _folders(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(4):
        real = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        fake = np.clip(real.astype(int) + rng.integers(-20, 21, real.shape), 0, 255).astype(np.uint8)
        save_image(str(tmp_path / "real" / f"{i}.png"), real)
        save_image(str(tmp_path / "fake" / f"{i}_fake_B.png"), fake)  # ppimg2img's naming is understood
    save_image(str(tmp_path / "fake" / "extra.png"), fake)
    return str(tmp_path / "real"), str(tmp_path / "fake")


def test_tools_evaluate_psnr_ssim(tmp_path):
    from ppimg2img.metrics import psnr
    real, fake = _folders(tmp_path)
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "evaluate.py"), "--real", real, "--fake", fake,
                          "--output", str(tmp_path / "m.json"), "--no-progress"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "m.json").read_text())
    expected = np.mean([psnr(load_image(os.path.join(fake, f"{i}_fake_B.png")), load_image(os.path.join(real, f"{i}.png")))
                        for i in range(4)])
    assert report["metrics"]["psnr"]["value"] == pytest.approx(expected)
    assert report["metrics"]["psnr"]["pairs"] == 4 and report["metrics"]["psnr"]["unpaired_fakes"] == 1
    assert "PSNR:" in out.stdout and "over 4 pairs (RGB" in out.stdout
    bad = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "evaluate.py"), "--real", real, "--fake",
                          str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert bad.returncode == 1 and "nowhere' does not exist" in bad.stderr


def test_evaluate_folders_fid_kid_and_cache(tmp_path):
    from ppimg2img.metrics.folders import evaluate_folders, format_report
    real, fake = _folders(tmp_path)
    ex = _small_extractor()
    cache = str(tmp_path / "real_stats.npz")
    rep = evaluate_folders(real, real, metrics=("fid", "kid"), real_stats_cache=cache, extractor=ex,
                           kid_subsets=2, progress=False)
    assert abs(rep["metrics"]["fid"]["value"]) < 1e-3  # a folder against itself
    assert os.path.isfile(cache)
    rep2 = evaluate_folders(real, fake, metrics=("fid", "kid"), real_stats_cache=cache, extractor=ex,
                            kid_subsets=2, progress=False)
    assert rep2["metrics"]["fid"]["value"] > rep["metrics"]["fid"]["value"]
    assert rep2["metrics"]["fid"]["real_images"] == 4 and rep2["metrics"]["fid"]["fake_images"] == 5
    assert any("FID" in line and "5 fake vs 4 real" in line for line in format_report(rep2))
    save_image(str(tmp_path / "other" / "zzz.png"), np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="no image of .* has a partner with the same name"):
        evaluate_folders(real, str(tmp_path / "other"), metrics=("psnr",), progress=False)
