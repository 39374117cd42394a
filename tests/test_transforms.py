"""Preprocessing modes of the original CycleGAN code: sizes, crop positions, flips, shared params."""
import numpy as np
import pytest
from PIL import Image

from ppimg2img.data.transforms import (
    PREPROCESS_MODES, apply_transform, check_preprocess, get_transform_params, transformed_size,
    validate_preprocess)


def image(w, h, seed=0, channels=3):
    shape = (h, w, channels) if channels > 1 else (h, w)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def params_for(img, mode, load, crop, flip=True, seed=0):
    return get_transform_params((img.shape[1], img.shape[0]), mode, load, crop, flip, np.random.default_rng(seed))


def test_unknown_mode_suggests_closest():
    with pytest.raises(ValueError) as info:
        check_preprocess("resize_and_corp")
    msg = str(info.value)
    assert "Did you mean 'resize_and_crop'" in msg
    assert all(m in msg for m in PREPROCESS_MODES)
    with pytest.raises(ValueError, match="unknown preprocess"):
        apply_transform(image(8, 8), {"crop_pos": (0, 0), "flip": False}, "zoom", 8, 8)
    with pytest.raises(ValueError, match="crop_size=300 is larger than load_size=286"):
        validate_preprocess("resize_and_crop", 286, 300)
    with pytest.raises(ValueError, match="load_size must be a positive integer"):
        validate_preprocess("crop", 0, 256)


def test_resize_and_crop_matches_pil_bicubic():
    img = image(50, 30)
    p = params_for(img, "resize_and_crop", 40, 32, flip=False)
    x, y = p["crop_pos"]
    assert 0 <= x <= 8 and 0 <= y <= 8 and p["flip"] is False
    out = apply_transform(img, p, "resize_and_crop", 40, 32)
    resized = np.asarray(Image.fromarray(img).resize((40, 40), Image.Resampling.BICUBIC))
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert np.array_equal(out, resized[y:y + 32, x:x + 32])


def test_crop_only_is_exact_subarray_and_rejects_small_images():
    img = image(40, 30)
    positions = set()
    for seed in range(30):
        p = params_for(img, "crop", 999, 16, flip=False, seed=seed)
        x, y = p["crop_pos"]
        assert 0 <= x <= 24 and 0 <= y <= 14
        positions.add((x, y))
        assert np.array_equal(apply_transform(img, p, "crop", 999, 16), img[y:y + 16, x:x + 16])
    assert len(positions) > 10  # really random
    with pytest.raises(ValueError, match="12x30 is smaller than crop_size=16"):
        params_for(image(12, 30), "crop", 999, 16)


def test_scale_width_modes():
    img = image(40, 20)  # w=40, h=20
    p = params_for(img, "scale_width", 32, 24, flip=False)
    assert apply_transform(img, p, "scale_width", 32, 24).shape == (24, 32, 3)  # h = max(32*20/40, 24)
    tall = image(20, 40)
    assert apply_transform(tall, p, "scale_width", 32, 24).shape == (64, 32, 3)  # keeps aspect
    p = params_for(tall, "scale_width_and_crop", 32, 24, flip=False)
    x, y = p["crop_pos"]
    assert 0 <= x <= 8 and 0 <= y <= 40
    out = apply_transform(tall, p, "scale_width_and_crop", 32, 24)
    scaled = np.asarray(Image.fromarray(tall).resize((32, 64), Image.Resampling.BICUBIC))
    assert np.array_equal(out, scaled[y:y + 24, x:x + 24])


def test_none_makes_multiple_of_4():
    p = {"crop_pos": (0, 0), "flip": False}
    assert apply_transform(image(30, 22), p, "none", 286, 256).shape == (24, 32, 3)  # round(22/4)*4, round(30/4)*4
    img = image(36, 20)
    assert np.array_equal(apply_transform(img, p, "none", 286, 256), img)  # already multiples of 4: untouched
    assert apply_transform(image(1, 1), p, "none", 286, 256).shape == (4, 4, 3)


def test_flip_and_flag():
    img = image(20, 20)
    flips = [params_for(img, "crop", 20, 16, flip=True, seed=s)["flip"] for s in range(40)]
    assert any(flips) and not all(flips)
    assert not any(params_for(img, "crop", 20, 16, flip=False, seed=s)["flip"] for s in range(40))
    p = {"crop_pos": (3, 1), "flip": True}
    out = apply_transform(img, p, "crop", 20, 16)
    assert np.array_equal(out, img[1:17, 3:19][:, ::-1])


def test_same_params_align_two_images_and_grayscale():
    a = image(48, 40, seed=1)
    b = 255 - a
    p = params_for(a, "crop", 286, 24, seed=5)  # load_size unused by "crop"
    assert np.array_equal(apply_transform(b, p, "crop", 286, 24), 255 - apply_transform(a, p, "crop", 286, 24))
    gray = image(48, 40, channels=1)
    out = apply_transform(gray, params_for(gray, "resize_and_crop", 32, 24), "resize_and_crop", 32, 24)
    assert out.shape == (24, 24)
    with pytest.raises(ValueError, match="does not fit"):
        apply_transform(image(20, 20), {"crop_pos": (10, 0), "flip": False}, "crop", 20, 16)


@pytest.mark.parametrize("mode", PREPROCESS_MODES)
def test_transformed_size_matches_output(mode):
    for w, h in ((50, 30), (30, 50), (64, 64)):
        img = image(w, h)
        out = apply_transform(img, params_for(img, mode, 40, 24), mode, 40, 24)
        assert (out.shape[1], out.shape[0]) == transformed_size((w, h), mode, 40, 24)


def test_params_deterministic_for_rng_state():
    img = image(60, 50)
    p1 = params_for(img, "resize_and_crop", 64, 32, seed=7)
    p2 = params_for(img, "resize_and_crop", 64, 32, seed=7)
    assert p1 == p2
    assert len({tuple(params_for(img, "resize_and_crop", 64, 32, seed=s)["crop_pos"]) for s in range(20)}) > 5
