"""Image reading/writing: odd formats decode to exact RGB uint8, broken files give clear errors."""
import os
import pickle

import cv2
import numpy as np
import pytest
from PIL import Image

from ppimg2img.utils.image_io import (
    IMG_EXTENSIONS, ImageReadError, image_to_array, is_image_file, list_images, load_image, save_image,
    tensor_to_image)


def to8(v):
    """Expected 8-bit value of a 16-bit sample: round(v * 255 / 65535)."""
    return np.rint(np.asarray(v, dtype=np.float64) * 255 / 65535).astype(np.uint8)


def test_extensions_case_insensitive():
    assert set(IMG_EXTENSIONS) == {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
    for name in ("a.JPG", "b.PnG", "c.jpeg", "d.TIFF", "e.webp", "dir/f.Bmp"):
        assert is_image_file(name), name
    for name in ("a.txt", "png", "b.png.txt", "c.gif", "README"):
        assert not is_image_file(name), name


def test_list_images_nested_sorted(tmp_path):
    rgb = np.zeros((2, 2, 3), np.uint8)
    for rel in ("b.PNG", "a.jpg", "sub/deeper/c.JPG", "sub/a.png", "sub/notes.txt", "z.json"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if is_image_file(rel):
            Image.fromarray(rgb).save(p, format="PNG" if rel.lower().endswith("png") else "JPEG")
        else:
            p.write_text("x")
    found = [os.path.relpath(p, tmp_path) for p in list_images(tmp_path)]
    assert found == sorted(found)
    assert set(found) == {"a.jpg", "b.PNG", os.path.join("sub", "a.png"), os.path.join("sub", "deeper", "c.JPG")}
    assert [os.path.basename(p) for p in list_images(tmp_path, recursive=False)] == ["a.jpg", "b.PNG"]
    with pytest.raises(FileNotFoundError, match="missing"):
        list_images(tmp_path / "missing")


def test_grayscale_and_1bit(tmp_path):
    g = np.array([[0, 10], [128, 255]], np.uint8)
    Image.fromarray(g, "L").save(tmp_path / "g.png")
    out = load_image(tmp_path / "g.png")
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    assert np.array_equal(out, np.repeat(g[..., None], 3, axis=2))

    bits = Image.new("1", (3, 1), 0)
    bits.putpixel((1, 0), 1)
    bits.save(tmp_path / "b.png")
    assert load_image(tmp_path / "b.png")[0, :, 0].tolist() == [0, 255, 0]


def test_rgba_and_la_composited_on_white(tmp_path):
    rgba = np.array([[[0, 0, 0, 0], [10, 20, 30, 255], [0, 0, 0, 128]]], np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png")
    assert out[0, 0].tolist() == [255, 255, 255]  # fully transparent -> white, not black
    assert out[0, 1].tolist() == [10, 20, 30]  # opaque unchanged
    assert out[0, 2].tolist() == [127, 127, 127]  # black at alpha 128/255 over white

    Image.fromarray(np.array([[[50, 0], [50, 255]]], np.uint8), "LA").save(tmp_path / "la.png")
    assert load_image(tmp_path / "la.png")[0].tolist() == [[255] * 3, [50] * 3]


def test_palette_with_transparency(tmp_path):
    im = Image.new("P", (2, 1), 0)
    im.putpalette([200, 10, 20, 0, 0, 0] + [0] * 762)
    im.putpixel((1, 0), 1)
    im.save(tmp_path / "p.png", transparency=1)
    assert load_image(tmp_path / "p.png")[0].tolist() == [[200, 10, 20], [255, 255, 255]]
    im.save(tmp_path / "p_opaque.png")
    assert load_image(tmp_path / "p_opaque.png")[0].tolist() == [[200, 10, 20], [0, 0, 0]]


# 1000 -> 4 and 65280 -> 254 with proper scaling; keeping the high byte would give 3 and 255.
VALUES16 = [0, 257, 1000, 32768, 65280, 65535]


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16bit_grayscale(tmp_path, ext):
    g16 = np.array([VALUES16], np.uint16)
    cv2.imwrite(str(tmp_path / f"g16{ext}"), g16)
    assert Image.open(tmp_path / f"g16{ext}").mode.startswith("I;16")
    out = load_image(tmp_path / f"g16{ext}")
    assert out.shape == (1, 6, 3)
    assert out[0, :, 0].tolist() == to8(VALUES16).tolist() == [0, 1, 4, 128, 254, 255]
    assert np.array_equal(out[..., 0], out[..., 2])


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16bit_rgb(tmp_path, ext):
    rgb16 = np.zeros((2, 6, 3), np.uint16)
    rgb16[..., 0] = VALUES16
    rgb16[..., 1] = VALUES16[::-1]
    rgb16[..., 2] = 1000
    cv2.imwrite(str(tmp_path / f"c16{ext}"), rgb16[..., ::-1])  # OpenCV writes BGR
    out = load_image(tmp_path / f"c16{ext}")
    assert out.shape == (2, 6, 3) and out.dtype == np.uint8
    assert np.array_equal(out, to8(rgb16))


def test_16bit_rgba_transparent_is_white(tmp_path):
    rgba16 = np.zeros((1, 2, 4), np.uint16)
    rgba16[0, 1] = [1000, 65280, 0, 65535]  # BGRA, opaque
    cv2.imwrite(str(tmp_path / "a16.png"), rgba16)
    out = load_image(tmp_path / "a16.png")
    assert out[0, 0].tolist() == [255, 255, 255]
    assert out[0, 1].tolist() == [0, 254, 4]


def test_cmyk(tmp_path):
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "c.tif")
    assert np.all(load_image(tmp_path / "c.tif") == [255, 0, 0])
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(tmp_path / "c.JPG", quality=95)
    out = load_image(tmp_path / "c.JPG").astype(int)
    assert out.shape == (16, 16, 3)
    assert np.abs(out - [255, 0, 0]).max() <= 6


@pytest.mark.parametrize("orientation, corner", [(6, "top_right"), (8, "bottom_left"), (3, "bottom_right"),
                                                 (1, "top_left")])
def test_exif_orientation(tmp_path, orientation, corner):
    img = np.zeros((16, 32, 3), np.uint8)  # landscape 32x16, white block at the top-left
    img[:8, :8] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(img).save(tmp_path / "e.jpg", exif=exif.tobytes(), quality=95)
    out = load_image(tmp_path / "e.jpg")
    assert out.shape == ((32, 16, 3) if orientation in (6, 8) else (16, 32, 3))
    h, w = out.shape[:2]
    corners = {"top_left": out[:4, :4], "top_right": out[:4, w - 4:], "bottom_left": out[h - 4:, :4],
               "bottom_right": out[h - 4:, w - 4:]}
    for name, patch in corners.items():
        assert (patch.mean() > 200) == (name == corner), (name, patch.mean())


def test_errors_name_path_cause_and_fix(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(good)
    data = good.read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    jpg = tmp_path / "good.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(jpg)
    (tmp_path / "truncated.jpg").write_bytes(jpg.read_bytes()[:600])
    (tmp_path / "garbage.png").write_bytes(data[:8] + b"\x00" * 200)  # PNG signature, then junk
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.png").write_text("this is a text file, not an image\n")
    cases = {"missing.png": "does not exist", "empty.jpg": "empty (0 bytes)", "truncated.png": "truncated or corrupt",
             "truncated.jpg": "truncated or corrupt", "garbage.png": "", "notes.png": "not a recognised image"}
    for name, cause in cases.items():
        with pytest.raises(ImageReadError) as info:
            load_image(tmp_path / name)
        msg = str(info.value)
        assert str(tmp_path / name) in msg and cause in msg and "Fix:" in msg, msg
        assert info.value.path == str(tmp_path / name)
        assert isinstance(info.value, OSError)
    err = pickle.loads(pickle.dumps(ImageReadError("x.png", "broken")))
    assert (err.path, err.reason, str(err)) == ("x.png", "broken", str(ImageReadError("x.png", "broken")))
    assert load_image(good).shape == (64, 64, 3)


def test_save_image_atomic_roundtrip(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = tmp_path / "a" / "b" / "out.png"
    assert save_image(path, rgb) == str(path)
    assert np.array_equal(load_image(path), rgb)
    save_image(path, 255 - rgb)  # replaces the existing file
    assert np.array_equal(load_image(path), 255 - rgb)
    save_image(tmp_path / "gray.PNG", rgb[..., 0])
    assert np.array_equal(load_image(tmp_path / "gray.PNG")[..., 1], rgb[..., 0])
    for ext in (".bmp", ".webp", ".TIF"):  # lossless formats round-trip exactly
        save_image(tmp_path / f"x{ext}", rgb)
        assert np.array_equal(load_image(tmp_path / f"x{ext}"), rgb), ext
    save_image(tmp_path / "x.jpg", rgb)
    assert load_image(tmp_path / "x.jpg").shape == (5, 7, 3)
    assert sorted(os.listdir(path.parent)) == ["out.png"]  # no temporary files left
    with pytest.raises(ValueError, match="uint8"):
        save_image(tmp_path / "f.png", rgb.astype(np.float32))
    with pytest.raises(ValueError, match="extension"):
        save_image(tmp_path / "f.xyz", rgb)
    assert not (tmp_path / "f.png").exists() and not (tmp_path / "f.xyz").exists()


def test_tensor_image_conversions():
    import paddle

    t = np.array([[[-1.0, 0.0, 1.0, 2.0, -3.0, 0.5]]], np.float32)  # 1x1x6
    assert tensor_to_image(t)[0].tolist() == [[0] * 3, [128] * 3, [255] * 3, [255] * 3, [0] * 3, [191] * 3]
    chw = np.stack([t[0], -t[0], np.zeros_like(t[0])])
    out = tensor_to_image(paddle.to_tensor(chw[None]))  # paddle tensor, batch of one
    assert out.shape == (1, 6, 3) and out[0, 0].tolist() == [0, 255, 128]
    with pytest.raises(ValueError, match="CHW"):
        tensor_to_image(np.zeros((2, 3, 4, 4), np.float32))

    all_values = np.arange(256, dtype=np.uint8).reshape(16, 16)
    rgb = np.stack([all_values, all_values.T, 255 - all_values], axis=2)
    arr = image_to_array(rgb)
    assert arr.dtype == np.float32 and arr.shape == (3, 16, 16)
    assert arr.min() == -1.0 and arr.max() == 1.0
    assert np.array_equal(tensor_to_image(arr), rgb)  # exact round trip
    assert image_to_array(all_values).shape == (1, 16, 16)
    with pytest.raises(ValueError, match="uint8"):
        image_to_array(rgb.astype(np.float32))
