"""Colorization: RGB <-> Lab conversion, the L -> ab dataset and model, end to end in the trainer."""
import os

import numpy as np
import paddle
import pytest
import yaml
from skimage import color

from ppimg2img.data.colorization import ColorizationDataset, lab_to_rgb, rgb_to_lab_arrays
from ppimg2img.utils.image_io import load_image, save_image


def test_rgb_lab_round_trip_within_one_level():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)
    rgb[0, :6] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [128, 128, 128]]
    L, ab = rgb_to_lab_arrays(rgb)
    assert L.shape == (1, 32, 40) and ab.shape == (2, 32, 40) and L.dtype == np.float32
    assert -1.0 <= L.min() and L.max() <= 1.0 and np.abs(ab).max() <= 1.0
    lab = color.rgb2lab(rgb)  # the original's scaling: L / 50 - 1, ab / 110
    np.testing.assert_allclose(L[0], lab[..., 0] / 50 - 1, atol=1e-5)
    np.testing.assert_allclose(ab, lab[..., 1:].transpose(2, 0, 1) / 110, atol=1e-5)
    back = lab_to_rgb(L, ab)
    assert back.dtype == np.uint8 and back.shape == rgb.shape
    assert np.abs(back.astype(int) - rgb).max() <= 1
    gray = lab_to_rgb(L, np.zeros_like(ab))  # no chroma: a gray image
    assert np.abs(gray[..., 0].astype(int) - gray[..., 2]).max() <= 1


def test_dataset_items(tmp_path):
    rng = np.random.default_rng(1)
    for i in range(3):
        save_image(str(tmp_path / "train" / f"{i}.jpg"), rng.integers(0, 256, (40, 36, 3), dtype=np.uint8))
    ds = ColorizationDataset(str(tmp_path), preprocess="resize_and_crop", load_size=36, crop_size=32)
    item = ds[0]
    assert item["A"].shape == (1, 32, 32) and item["B"].shape == (2, 32, 32)
    assert item["A_paths"].endswith("0.jpg")
    with pytest.raises(FileNotFoundError, match="'.*test' does not exist.*RGB images"):
        ColorizationDataset(str(tmp_path), phase="test")


def test_model_needs_l_to_ab_channels_and_shows_rgb():
    from ppimg2img.models.pix2pix import ColorizationModel
    with pytest.raises(ValueError, match="input_nc: 1 and output_nc: 2"):
        ColorizationModel({"name": "unet_128", "ngf": 4}, {"name": "basic", "ndf": 4})
    paddle.seed(0)
    model = ColorizationModel({"name": "unet_128", "ngf": 4, "input_nc": 1, "output_nc": 2},
                              {"name": "basic", "ndf": 4, "norm": "batch"})
    assert model.nets["netD"].state_dict()["model.0.weight"].shape == [4, 3, 4, 4]  # L + ab
    model.setup_training({"lr": 2e-4}, {"policy": "linear", "n_epochs": 1, "n_epochs_decay": 1})
    rgb = np.random.default_rng(2).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    L, ab = rgb_to_lab_arrays(rgb)
    model.set_input({"A": L[None], "B": ab[None]})
    losses = model.train_step()
    assert set(losses) == {"G_GAN", "G_L1", "D_real", "D_fake"}
    (row,) = model.visuals()
    assert [name for name, _ in row] == ["real_A", "real_B_rgb", "fake_B_rgb"]
    real_rgb = row[1][1]
    assert real_rgb.shape == [1, 3, 128, 128]
    shown = ((real_rgb[0].numpy().transpose(1, 2, 0) + 1) * 127.5).round()
    assert np.abs(shown - rgb).max() <= 1.5  # the target converted back is the photo
    imgs = model.display_images(L, ab, ab)
    assert np.abs(imgs["real_B"].astype(int) - rgb).max() <= 1 and imgs["real_A"].shape == (128, 128, 3)


def test_trainer_trains_and_evaluates_colorization(tmp_path):
    from ppimg2img.config import load_config
    from ppimg2img.engine.trainer import Trainer
    rng = np.random.default_rng(3)
    for phase, n in (("train", 2), ("test", 2)):
        for i in range(n):
            save_image(str(tmp_path / "photos" / phase / f"{i}.png"), rng.integers(0, 256, (128, 128, 3), dtype=np.uint8))
    cfg = {"name": "color", "output_dir": str(tmp_path / "run"), "threads": 1,
           "model": {"name": "ColorizationModel", "generator": {"name": "unet_128", "ngf": 4, "input_nc": 1,
                                                               "output_nc": 2},
                     "discriminator": {"name": "basic", "ndf": 4}},
           "dataset": {"train": {"name": "ColorizationDataset", "dataroot": str(tmp_path / "photos"),
                                 "preprocess": "none"},
                       "test": {"name": "ColorizationDataset", "dataroot": str(tmp_path / "photos"), "phase": "test",
                                "preprocess": "none", "flip": False}},
           "train": {"num_workers": 0, "max_iters": 2, "visual_interval": 2}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    t = Trainer(load_config(str(path)))
    t.train(progress=False)
    grid = load_image(os.path.join(t.run_dir, "web", "images", "epoch001_iter0000002.png"))
    assert grid.shape[1] > 3 * 128
    res = t.evaluate()["AtoB"]
    assert res["images"] == 2 and "psnr" in res and res["identity_psnr"] > 0
    folder = os.path.join(t.run_dir, "eval", "latest", "AtoB", "images")
    real_b = load_image(os.path.join(folder, "0_real_B.png"))
    assert np.abs(real_b.astype(int) - load_image(str(tmp_path / "photos" / "test" / "0.png"))).max() <= 1
    gray_in = load_image(os.path.join(folder, "0_real_A.png"))
    assert np.array_equal(gray_in[..., 0], gray_in[..., 1])  # L shown as gray
