"""applications/translate_images.py: a batch over a folder with a trained checkpoint."""
import os
import subprocess
import sys

import numpy as np

from ppimg2img.config import load_config
from ppimg2img.engine.trainer import Trainer
from ppimg2img.utils.image_io import load_image, save_image

from conftest import ROOT, tiny_cyclegan_config


def test_translate_folder_keeps_sizes_and_reports_bad_files(tmp_path):
    cfg = load_config(tiny_cyclegan_config(tmp_path), ["train.max_iters=1"])
    trainer = Trainer(cfg)
    trainer.train(progress=False)
    src = tmp_path / "photos"
    rng = np.random.default_rng(0)
    save_image(str(src / "a.png"), rng.integers(0, 255, (30, 34, 3), dtype=np.uint8))
    save_image(str(src / "sub" / "b.jpg"), rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    (src / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "applications", "translate_images.py"),
                           "--checkpoint", trainer.latest_path, "--input", str(src), "--output", str(out),
                           "--direction", "BtoA"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.returncode == 0, proc.stderr
    assert "2 of 3 images translated (BtoA)" in proc.stdout
    assert "broken.png" in proc.stderr and "Traceback" not in proc.stderr
    assert load_image(str(out / "a.png")).shape == (30, 34, 3)
    assert load_image(str(out / "sub" / "b.png")).shape == (32, 32, 3)
    page = (out / "index.html").read_text()
    assert "sub/b.png" in page and "skipped" in page and "broken.png" in page


def test_translate_rejects_weights_without_config(tmp_path):
    import paddle
    bad = tmp_path / "w.pdparams"
    paddle.save({"netG_A": {}}, str(bad))
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "applications", "translate_images.py"),
                           "--checkpoint", str(bad), "--input", str(tmp_path), "--output", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.returncode == 1
    assert "not a ppimg2img training checkpoint" in proc.stderr and "Traceback" not in proc.stderr
