"""applications/translate_images.py (``ppimg2img translate`` with native sizes and resuming): a batch
over a folder with a trained checkpoint."""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest
from PIL import Image

from ppimg2img.config import load_config
from ppimg2img.engine.checkpoint import load_file
from ppimg2img.engine.trainer import Trainer
from ppimg2img.nets import build_generator
from ppimg2img.predictors.inputs import collect_inputs
from ppimg2img.utils.image_io import image_to_array, load_image, save_image, tensor_to_image

from conftest import ROOT, assert_images_close, tiny_cyclegan_config

SCRIPT = os.path.join(ROOT, "applications", "translate_images.py")
_spec = importlib.util.spec_from_file_location("translate_images", SCRIPT)
translate_images = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(translate_images)


def train_tiny(tmp_path, overrides=()):
    trainer = Trainer(load_config(tiny_cyclegan_config(tmp_path), ["train.max_iters=1", *overrides]))
    trainer.train(progress=False)
    return trainer.latest_path


@pytest.fixture(scope="module")
def rgb_checkpoint(tmp_path_factory):
    return train_tiny(tmp_path_factory.mktemp("rgb"))


def random_image(path, shape, seed):
    img = np.random.default_rng(seed).integers(0, 255, shape, dtype=np.uint8)
    save_image(str(path), img)
    return img


def test_translate_folder_keeps_sizes_and_reports_bad_files(tmp_path, rgb_checkpoint):
    src = tmp_path / "photos"
    random_image(src / "a.png", (30, 34, 3), 0)
    random_image(src / "sub" / "b.jpg", (32, 32, 3), 1)
    (src / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, SCRIPT, "--checkpoint", rgb_checkpoint, "--input", str(src),
                           "--output", str(out), "--direction", "BtoA"], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.returncode == 1, proc.stderr  # one input failed
    assert "2 of 3 images processed, 1 failed" in proc.stdout
    assert "broken.png" in proc.stderr and "Traceback" not in proc.stderr
    assert load_image(str(out / "a.png")).shape == (30, 34, 3)
    assert load_image(str(out / "sub" / "b.png")).shape == (32, 32, 3)
    page = (out / "index.html").read_text()
    assert "sub/b.png" in page and "failed" in page and "broken.png" in page


def test_translate_resumes_and_overwrites(tmp_path, rgb_checkpoint, capsys):
    random_image(tmp_path / "in" / "a.png", (12, 16, 3), 0)
    out = tmp_path / "out"
    args = ["--checkpoint", rgb_checkpoint, "--input", str(tmp_path / "in"), "--output", str(out)]
    assert translate_images.main(args) == 0
    save_image(str(out / "a.png"), np.zeros((12, 16, 3), np.uint8))  # marks the result as already done
    assert translate_images.main(args) == 0
    assert "0 of 1 images processed, 1 skipped (already done)" in capsys.readouterr().out
    assert load_image(str(out / "a.png")).max() == 0
    assert translate_images.main(args + ["--overwrite"]) == 0
    assert load_image(str(out / "a.png")).max() > 0


def test_translate_unusable_weights_give_one_clear_line(tmp_path):
    bad = tmp_path / "w.pdparams"
    paddle.save({"netG_A": {}}, str(bad))
    proc = subprocess.run([sys.executable, SCRIPT, "--checkpoint", str(bad), "--input", str(tmp_path),
                           "--output", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.returncode == 1
    assert f"error: {bad}" in proc.stderr and "Traceback" not in proc.stderr


def test_translate_rejects_incomplete_checkpoint(tmp_path, capsys):
    bad = tmp_path / "c.pdckpt"
    paddle.save({"config": {"model": {}}, "nets": {}}, str(bad))
    assert translate_images.main(["--checkpoint", str(bad), "--input", str(tmp_path),
                                  "--output", str(tmp_path / "o")]) == 1
    assert f"error: {bad}: the file holds no network weights" in capsys.readouterr().err
    model = {"name": "CycleGANModel", "generator": {"name": "resnet_6blocks", "ngf": 4},
             "discriminator": {"name": "basic", "ndf": 4}}
    paddle.save({"config": {"model": model}, "nets": {}}, str(bad))
    assert translate_images.main(["--checkpoint", str(bad), "--input", str(tmp_path),
                                  "--output", str(tmp_path / "o")]) == 1
    assert "the file holds no network weights" in capsys.readouterr().err


@pytest.mark.parametrize("model_cfg", [
    {"name": "Pix2PixModel", "generator": {"name": "unet_128", "ngf": 4}, "discriminator": {"name": "basic", "ndf": 4}},
    {"name": "UGATITModel", "generator": {"name": "ugatit", "ngf": 4, "n_blocks": 1, "light": True},
     "discriminator": {"name": "ugatit", "ndf": 4}},
    {"name": "UGATITModel", "generator": {"name": "ugatit", "ngf": 4, "n_blocks": 1, "img_size": 32, "light": False},
     "discriminator": {"name": "ugatit", "ndf": 4}},
], ids=["pix2pix_unet128", "ugatit_light", "ugatit_full_32"])
def test_translate_any_model_family_keeps_odd_image_sizes(tmp_path, model_cfg):
    from ppimg2img.models import MODELS

    cfg = dict(model_cfg)
    model = MODELS[cfg.pop("name")](**cfg, is_train=False)
    ckpt = tmp_path / "run.pdckpt"
    paddle.save({"config": {"model": model_cfg}, "nets": {k: v.state_dict() for k, v in model.nets.items()}}, str(ckpt))
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (70, 101, 3), dtype=np.uint8)).save(src / "odd.png")
    out = tmp_path / "out"
    assert translate_images.main(["--checkpoint", str(ckpt), "--input", str(src), "--output", str(out)]) == 0
    assert np.asarray(Image.open(out / "odd.png")).shape == (70, 101, 3)
    if model_cfg["name"] == "Pix2PixModel":  # one generator: no B->A
        assert translate_images.main(["--checkpoint", str(ckpt), "--input", str(src), "--output", str(out),
                                      "--direction", "BtoA"]) == 2  # usage error


def test_output_names_are_unique(tmp_path):
    for rel in ("x/a.png", "y/a.png", "z/a.png", "z/a.jpg", "z/a_2.png", "f/a.png", "f/sub/a.png", "f/A.PNG"):
        random_image(tmp_path / rel, (4, 4, 3), 0)
    items = [str(tmp_path / "x" / "a.png"), str(tmp_path / "y" / "a.png"), str(tmp_path / "z" / "*"),
             str(tmp_path / "x" / "a.png"),  # the same file again: translated once
             str(tmp_path / "f")]
    names = [item.name for item in collect_inputs(items)[0]]
    assert names == ["a", "a_2", "a_3", "a_4", "a_2_2", "A_5", "a_6", os.path.join("sub", "a")]


def test_colliding_names_do_not_overwrite(tmp_path, rgb_checkpoint, capsys):
    x = random_image(tmp_path / "x" / "a.png", (8, 8, 3), 0)
    y = random_image(tmp_path / "y" / "a.png", (8, 8, 3), 1)
    out = tmp_path / "out"
    assert translate_images.main(["--checkpoint", rgb_checkpoint, "--output", str(out),
                                  "--input", str(tmp_path / "x" / "a.png"), str(tmp_path / "y" / "a.png")]) == 0
    assert "2 of 2 images processed" in capsys.readouterr().out
    assert not np.array_equal(x, y)
    assert not np.array_equal(load_image(str(out / "a.png")), load_image(str(out / "a_2.png")))
    assert "a_2.png" in (out / "index.html").read_text()


def test_failing_image_is_reported_and_batch_continues(tmp_path, rgb_checkpoint, capsys):
    # 2x2 runs at 4x4, which the ResNet generator downsamples to 1x1: its reflection padding fails
    random_image(tmp_path / "in" / "a_tiny.png", (2, 2, 3), 0)
    random_image(tmp_path / "in" / "b_good.png", (12, 16, 3), 1)
    out = tmp_path / "out"
    assert translate_images.main(["--checkpoint", rgb_checkpoint, "--input", str(tmp_path / "in"),
                                  "--output", str(out)]) == 1
    captured = capsys.readouterr()
    assert "1 of 2 images processed, 1 failed" in captured.out
    assert "a_tiny.png: ValueError" in captured.err
    assert load_image(str(out / "b_good.png")).shape == (12, 16, 3)
    assert not (out / "a_tiny.png").exists()
    assert "a_tiny.png" in (out / "index.html").read_text()


def test_grayscale_model(tmp_path, capsys):
    """A is grayscale (input_nc 1), B is RGB: AtoB feeds G_A the image converted with PIL 'L'
    (as the training dataset does), BtoA feeds G_B the RGB image and writes a gray result.
    A wrong conversion (RGB mean instead of 'L', a channel dropped) is far more than 1 grey level."""
    ckpt = train_tiny(tmp_path, ["model.generator.input_nc=1", "model.generator.output_nc=3",
                                 "dataset.train.input_nc=1", "dataset.train.output_nc=3",
                                 "dataset.test.input_nc=1", "dataset.test.output_nc=3",
                                 "model.lambda_identity=0"])
    img = random_image(tmp_path / "in" / "p.png", (16, 20, 3), 0)
    state = load_file(ckpt)  # the restricted reader: arrays, no code run
    for direction, net_name, in_nc, out_nc in (("AtoB", "netG_A", 1, 3), ("BtoA", "netG_B", 3, 1)):
        out = tmp_path / direction
        code = translate_images.main(["--checkpoint", ckpt, "--input", str(tmp_path / "in"),
                                      "--output", str(out), "--direction", direction])
        assert code == 0, capsys.readouterr().err
        net = build_generator("resnet_6blocks", ngf=4, input_nc=in_nc, output_nc=out_nc)
        net.set_state_dict(state["nets"][net_name])
        net.eval()
        x = np.asarray(Image.fromarray(img).convert("L")) if in_nc == 1 else img
        with paddle.no_grad():
            expected = tensor_to_image(net(paddle.to_tensor(image_to_array(x)[None]))[0])
        result = load_image(str(out / "p.png"))
        # the script runs the exported graph on oneDNN, the reference is eager mode: two paths
        # whose float32 rounding differs by CPU (AVX-512 vs AVX2), so 1 grey level and 50 dB
        assert_images_close(result, expected, what=direction)
        if out_nc == 1:  # a one-channel result is saved as gray RGB
            assert (result == result[..., :1]).all()
