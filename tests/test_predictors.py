"""Predictors (ppimg2img.CycleGANPredictor & co.) with tiny saved generators: every input kind, bad
and unusual files, sizes, output folders and resuming, backends, each family, lazy imports, the zoo offline."""
import dataclasses
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import paddle
import pytest
from PIL import Image

import ppimg2img
from ppimg2img.nets import build_generator
from ppimg2img.utils.image_io import ImageReadError, image_to_array, load_image, save_image, tensor_to_image
from ppimg2img.weights.load import save_converted

from conftest import DATA, ROOT, assert_images_close, images_close

PORTRAIT = os.path.join(DATA, "portrait_photo2cartoon.jpg")
SIDE = 32  # working size of the tiny CycleGAN predictor


def smooth_image(h, w, seed=0):
    """A smooth colour image (gradients and a disc): stable under resizing and JPEG."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    a, b, c = rng.uniform(0.3, 1.0, 3)
    img = np.stack([a * x, b * y, c * (1 - x * y)], axis=-1) * 255
    cv2.circle(img, (w // 2, h // 2), max(2, min(h, w) // 4), (230.0, 40.0, 90.0), -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def save_tiny(net, folder, name, arch, kwargs):
    return save_converted(net, os.path.join(str(folder), name), arch, kwargs)


def forward(net, img):
    """The generator itself on one uint8 image: the reference every predictor must reproduce, up to
    float rounding (conftest.assert_images_close: 1 grey level, 50 dB), since the predictor's input
    and output conversions and batching are another computation path. Results of the same
    predictor for the same pixels are compared exactly (determinism)."""
    with paddle.no_grad():
        out = net(paddle.to_tensor(image_to_array(img)[None]))
    return tensor_to_image((out[0] if isinstance(out, (tuple, list)) else out)[0])




@pytest.fixture(scope="module")
def cyclegan(tmp_path_factory):
    """(weights file, the net) of a random ResNet generator with ngf 4."""
    paddle.seed(11)
    net = build_generator("resnet_6blocks", ngf=4)
    net.eval()
    return save_tiny(net, tmp_path_factory.mktemp("cyclegan"), "g.pdparams", "resnet_6blocks", {"ngf": 4}), net


@pytest.fixture(scope="module")
def eager(cyclegan):
    return ppimg2img.CycleGANPredictor(weights=cyclegan[0], size=SIDE, backend="eager", progress=False)


# --- translate and the input kinds ---------------------------------------------------------------
def test_translate_runs_the_network_without_resizing(eager, cyclegan):
    img, other = smooth_image(SIDE, SIDE, 1), smooth_image(40, 44, 2)
    out = eager.translate([img, other])
    assert isinstance(out, list) and len(out) == 2
    assert_images_close(out[0], forward(cyclegan[1], img))
    assert_images_close(out[1], forward(cyclegan[1], other))
    assert out[1].shape == (40, 44, 3)  # no resize: the caller prepared the size
    stacked = eager.translate(np.stack([img, img]))  # an NxHxWx3 array works too
    assert len(stacked) == 2 and np.array_equal(stacked[0], out[0])


def test_every_input_kind_gives_the_same_result(tmp_path, eager):
    folder = tmp_path / "photos"
    a, b = smooth_image(SIDE, SIDE, 3), smooth_image(45, 30, 4)
    save_image(str(folder / "a.png"), a)
    save_image(str(folder / "sub" / "b.png"), b)
    ref_a, ref_b = eager.run(a), eager.run(b)
    assert isinstance(ref_a, np.ndarray) and ref_a.dtype == np.uint8 and ref_a.shape == (SIDE, SIDE, 3)
    assert ref_b.shape == (45, 30, 3)  # the input's size, not the working size
    assert np.array_equal(ref_a, eager.translate([a])[0])  # already at the working size: no resize
    assert np.array_equal(eager.run(str(folder / "a.png")), ref_a)  # a path (str)
    assert np.array_equal(eager.run(folder / "sub" / "b.png"), ref_b)  # a pathlib.Path
    with Image.open(folder / "sub" / "b.png") as pil:
        assert np.array_equal(eager.run(pil), ref_b)  # a PIL image
    results = eager.run(str(folder))  # a folder (recursive, sorted): a list
    assert isinstance(results, list) and len(results) == 2
    assert np.array_equal(results[0], ref_a) and np.array_equal(results[1], ref_b)
    globbed = eager.run(str(folder / "**" / "*.png"))
    assert len(globbed) == 2 and np.array_equal(globbed[1], ref_b)
    listed = eager.run([str(folder / "sub" / "b.png"), a])  # a list mixing a path and an array
    assert len(listed) == 2 and np.array_equal(listed[0], ref_b) and np.array_equal(listed[1], ref_a)
    assert len(eager.summary.succeeded) == 2 and not eager.summary.failed


def test_missing_input_and_bad_arguments(tmp_path, eager, cyclegan):
    with pytest.raises(FileNotFoundError, match="nothing.png"):
        eager.run(str(tmp_path / "nothing.png"))
    with pytest.raises(TypeError):
        eager.run(42)
    os.makedirs(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="holds no images"):
        eager.run(str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="missing.pdparams"):
        ppimg2img.CycleGANPredictor(weights=str(tmp_path / "missing.pdparams"))
    with pytest.raises(ValueError, match="one of model=, weights="):
        ppimg2img.CycleGANPredictor(model="horse2zebra", weights=cyclegan[0])
    with pytest.raises(ValueError, match="backend"):
        ppimg2img.CycleGANPredictor(weights=cyclegan[0], backend="fast")
    with pytest.raises(ValueError, match="multiple of 4"):
        ppimg2img.CycleGANPredictor(weights=cyclegan[0], size=30, backend="eager")


# --- bad and unusual files -----------------------------------------------------------------------
def test_folder_with_corrupt_and_empty_files_continues(tmp_path, eager):
    folder = tmp_path / "in"
    save_image(str(folder / "good.png"), smooth_image(24, 28))
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    (folder / "empty.jpg").write_bytes(b"")
    out = tmp_path / "out"
    p = ppimg2img.CycleGANPredictor(weights=eager.weights_file, size=SIDE, backend="eager", output_dir=str(out),
                                    progress=False)
    results = p.run(str(folder))
    assert len(results) == 1 and results[0].shape == (24, 28, 3)
    summary = p.summary
    assert summary.total == 3 and [os.path.basename(s) for s in summary.succeeded] == ["good.png"]
    failed = {os.path.basename(s): m for s, m in summary.failed}
    assert set(failed) == {"corrupt.png", "empty.jpg"}
    assert "corrupt.png" in failed["corrupt.png"] and "empty (0 bytes)" in failed["empty.jpg"]
    text = str(summary)
    assert text.startswith("1 of 3 images processed") and "corrupt.png" in text and "empty.jpg" in text
    assert os.path.isfile(out / "good.png") and not os.path.exists(out / "corrupt.png")
    page = (out / "index.html").read_text()
    assert "corrupt.png" in page and "empty.jpg" in page
    with pytest.raises(ImageReadError, match="empty.jpg"):  # a single bad input raises, naming it
        p.run(str(folder / "empty.jpg"))


def test_grayscale_rgba_and_16_bit_inputs(tmp_path, eager):
    gray = cv2.cvtColor(smooth_image(36, 40, 5), cv2.COLOR_RGB2GRAY)
    gray_rgb = np.repeat(gray[..., None], 3, axis=2)
    ref = eager.run(gray_rgb)
    Image.fromarray(gray).save(tmp_path / "gray8.png")
    assert cv2.imwrite(str(tmp_path / "gray16.png"), gray.astype(np.uint16) * 257)
    assert np.array_equal(eager.run(str(tmp_path / "gray8.png")), ref)
    assert np.array_equal(eager.run(str(tmp_path / "gray16.png")), ref)  # rescaled, not truncated
    assert np.array_equal(eager.run(gray), ref)  # an HxW array
    assert np.array_equal(eager.run(Image.fromarray(gray)), ref)  # a PIL "L" image

    rgb = smooth_image(36, 40, 6)
    rgb16 = rgb.astype(np.uint16) * 257
    assert cv2.imwrite(str(tmp_path / "rgb16.png"), np.ascontiguousarray(rgb16[..., ::-1]))
    assert np.array_equal(eager.run(str(tmp_path / "rgb16.png")), eager.run(rgb))

    alpha = np.zeros((36, 40), np.uint8)
    alpha[:, :20] = 255  # left half opaque, right half transparent
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(tmp_path / "rgba.png")
    on_white = rgb.copy()
    on_white[:, 20:] = 255
    out = eager.run(str(tmp_path / "rgba.png"))
    assert out.shape == (36, 40, 3) and np.array_equal(out, eager.run(on_white))


def test_odd_sizes_are_restored(eager, cyclegan):
    img = smooth_image(53, 37, 7)  # H 53, W 37: odd, not square, not a multiple of 4
    out = eager.run(img)
    assert out.shape == (53, 37, 3) and out.dtype == np.uint8
    native = ppimg2img.CycleGANPredictor(weights=cyclegan[0], backend="eager", native_size=True, progress=False)
    assert native.working_size(53, 37) == (52, 36)
    assert native.run(img).shape == (53, 37, 3)
    exact = smooth_image(52, 36, 8)  # already a size the net takes: no resize at all
    assert_images_close(native.run(exact), forward(cyclegan[1], exact))


# --- output folders ------------------------------------------------------------------------------
def test_output_dir_files_and_resume(tmp_path, cyclegan, capsys):
    folder = tmp_path / "in"
    images = {"a": smooth_image(30, 34, 10), "b": smooth_image(32, 32, 11), "c": smooth_image(20, 50, 12),
              "d": smooth_image(16, 16, 13), "sub/e": smooth_image(28, 24, 14)}
    for name, img in images.items():
        save_image(str(folder / f"{name}.png"), img)
    out = tmp_path / "out"
    p = ppimg2img.CycleGANPredictor(weights=cyclegan[0], size=SIDE, backend="eager", output_dir=str(out))
    results = p.run(str(folder))
    assert "5/5" in capsys.readouterr().err  # progress bar for more than a few images
    expected = [str(out / f"{n}.png") for n in images]
    assert sorted(p.summary.written) == sorted(expected)
    for path, result, img in zip(expected, results, images.values()):
        written = load_image(path)
        assert written.shape == img.shape and np.array_equal(written, result)
    assert "sub/e.png" in (out / "index.html").read_text()

    # files of the same name from two folders get distinct outputs
    twins = ppimg2img.CycleGANPredictor(weights=cyclegan[0], size=SIDE, backend="eager", output_dir=str(tmp_path / "t"),
                                        progress=False)
    save_image(str(tmp_path / "x" / "a.png"), images["b"])
    twins.run([str(folder / "a.png"), str(tmp_path / "x" / "a.png")])
    assert sorted(os.listdir(tmp_path / "t")) == ["a.png", "a_2.png", "index.html"]
    assert np.array_equal(load_image(str(tmp_path / "t" / "a_2.png")), results[1])

    # resume: a.png is kept as it is (even though it is not what the model would write), b.png is redone
    marker = np.full((30, 34, 3), 7, np.uint8)
    save_image(str(out / "a.png"), marker)
    os.remove(out / "b.png")
    again = ppimg2img.CycleGANPredictor(weights=cyclegan[0], size=SIDE, backend="eager", output_dir=str(out),
                                        skip_existing=True, progress=False)
    again.run(str(folder))
    assert [os.path.basename(s) for s in again.summary.succeeded] == ["b.png"]
    assert len(again.summary.skipped) == 4
    assert again.summary.written == [str(out / "b.png")]
    assert np.array_equal(load_image(str(out / "a.png")), marker)
    assert np.array_equal(load_image(str(out / "b.png")), results[1])
    # resuming one file whose result exists: skipped, not an IndexError
    single = again.run(str(folder / "a.png"))
    assert again.summary.skipped == [str(folder / "a.png")] and not again.summary.written
    assert single is None or np.array_equal(single, marker)  # nothing, or the result already there


# --- backends ------------------------------------------------------------------------------------
def test_inference_backend_matches_eager_and_is_cached(tmp_path, cyclegan, eager):
    weights = shutil.copy(cyclegan[0], tmp_path / "g.pdparams")
    inference = ppimg2img.CycleGANPredictor(weights=weights, size=SIDE, backend="inference", progress=False)
    assert inference.backend == "inference"
    imgs = [smooth_image(SIDE, SIDE, 20), smooth_image(41, 29, 21)]
    for a, b in zip(inference.run(imgs), eager.run(imgs)):
        assert_images_close(a, b)
    cached = sorted(n for n in os.listdir(tmp_path) if n != "g.pdparams")
    assert cached, "the exported graph is cached next to the weights"
    stamp = {os.path.join(r, f): os.path.getmtime(os.path.join(r, f))
             for r, _, fs in os.walk(tmp_path / cached[0]) for f in fs}
    second = ppimg2img.CycleGANPredictor(weights=weights, size=SIDE, backend="inference", progress=False)
    assert_images_close(second.run(imgs[0]), eager.run(imgs[0]))
    assert {p: os.path.getmtime(p) for p in stamp} == stamp  # exported once, then reused
    # the graph takes any batch and spatial size: native sizes, two images per forward pass
    native = ppimg2img.CycleGANPredictor(weights=weights, backend="inference", native_size=True, batch_size=2,
                                         progress=False)
    native_eager = ppimg2img.CycleGANPredictor(weights=weights, backend="eager", native_size=True, progress=False)
    imgs = [smooth_image(52, 36, 22), smooth_image(52, 36, 23), smooth_image(40, 64, 24)]
    for a, b in zip(native.run(imgs), native_eager.run(imgs)):
        assert_images_close(a, b)


# --- families ------------------------------------------------------------------------------------
def test_pix2pix_predictor(tmp_path):
    paddle.seed(12)
    net = build_generator("unet_128", ngf=4)
    net.eval()
    weights = save_tiny(net, tmp_path, "unet.pdparams", "unet_128", {"ngf": 4})
    p = ppimg2img.Pix2PixPredictor(weights=weights, backend="eager", progress=False)
    assert p.size == 128  # unet_128's own size
    img = smooth_image(128, 128, 30)
    assert_images_close(p.run(img), forward(net, img))  # eval mode: running BatchNorm statistics, no dropout
    assert p.run(smooth_image(90, 150, 31)).shape == (90, 150, 3)
    with pytest.raises(ValueError, match="multiple of 128"):
        ppimg2img.Pix2PixPredictor(weights=weights, size=100, backend="eager")
    original = ppimg2img.Pix2PixPredictor(weights=weights, inference_mode="train_norm", backend="eager", progress=False)
    assert not images_close(original.run(img), p.run(img), max_diff=3)[0]  # batch statistics, as the original test.py
    with pytest.raises(ValueError, match="eager"):  # batch statistics and dropout cannot be exported
        ppimg2img.Pix2PixPredictor(weights=weights, inference_mode="train_norm", backend="inference")
    inference = ppimg2img.Pix2PixPredictor(weights=weights, backend="inference", progress=False)
    assert_images_close(inference.run(img), p.run(img))


def test_ugatit_predictor(tmp_path):
    paddle.seed(13)
    net = build_generator("ugatit", ngf=4, n_blocks=2, img_size=32, light=True)
    net.eval()
    weights = save_tiny(net, tmp_path, "ugatit.pdparams", "ugatit",
                        {"ngf": 4, "n_blocks": 2, "img_size": 32, "light": True})
    p = ppimg2img.UGATITPredictor(weights=weights, backend="eager", progress=False)
    assert p.size == 32  # the generator's img_size
    img = smooth_image(32, 32, 40)
    assert_images_close(p.run(img), forward(net, img))  # the image output of (image, cam_logit, heatmap)
    assert p.run(smooth_image(50, 70, 41)).shape == (50, 70, 3)

    full = build_generator("ugatit", ngf=4, n_blocks=2, img_size=32, light=False)
    full_weights = save_tiny(full, tmp_path, "full.pdparams", "ugatit",
                             {"ngf": 4, "n_blocks": 2, "img_size": 32, "light": False})
    with pytest.raises(ValueError, match="was built for 32 px images; got size=64"):  # the full MLP: img_size only
        ppimg2img.UGATITPredictor(weights=full_weights, size=64, backend="eager")
    fixed = ppimg2img.UGATITPredictor(weights=full_weights, backend="eager", native_size=True, progress=False)
    assert fixed.working_size(45, 20) == (32, 32)  # native size is a preference: falls back to img_size
    assert fixed.run(smooth_image(45, 20, 42)).shape == (45, 20, 3)
    inference = ppimg2img.UGATITPredictor(weights=weights, backend="inference", progress=False)
    assert_images_close(inference.run(img), p.run(img))


@pytest.fixture(scope="module")
def cartoon_weights(tmp_path_factory):
    paddle.seed(14)
    net = build_generator("photo2cartoon", ngf=4, img_size=256, light=True)
    return save_tiny(net, tmp_path_factory.mktemp("p2c"), "p2c.pdparams", "photo2cartoon",
                     {"ngf": 4, "img_size": 256, "light": True})


def test_photo2cartoon_predictor_writes_aligned_and_cartoon(tmp_path, cartoon_weights):
    photo = load_image(PORTRAIT)
    folder = tmp_path / "photos"
    os.makedirs(folder)
    shutil.copy(PORTRAIT, folder / "me.jpg")
    save_image(str(folder / "wall.png"), smooth_image(120, 160, 50))  # no face in it
    out = tmp_path / "out"
    p = ppimg2img.Photo2CartoonPredictor(weights=cartoon_weights, backend="eager", output_dir=str(out),
                                         paste_back=True, progress=False)
    results = p.run(str(folder))
    assert len(results) == 1 and results[0].shape == photo.shape  # the photo with the cartoon pasted in
    assert [os.path.basename(s) for s, _ in p.summary.failed] == ["wall.png"]
    assert "wall.png" in p.summary.failed[0][1] or "face" in p.summary.failed[0][1].lower()
    aligned, cartoon = load_image(str(out / "me_aligned.png")), load_image(str(out / "me_cartoon.png"))
    assert aligned.shape == cartoon.shape == (256, 256, 3)
    assert np.array_equal(load_image(str(out / "me_pasted.png")), results[0])
    assert not np.array_equal(results[0], photo)  # something was pasted
    assert np.abs(results[0].astype(int) - photo)[:40].mean() < 2  # ...onto the face, not the top rows

    plain = ppimg2img.Photo2CartoonPredictor(weights=cartoon_weights, backend="eager", progress=False,
                                             output_path=None)
    single = plain.run(photo)
    assert single.shape == (256, 256, 3)  # the largest face's cartoon, as written above; not bit-exact:
    # the GrabCut head mask depends on OpenCV's global random state (differs by ~0.02 between calls)
    assert np.abs(single.astype(int) - cartoon).mean() < 0.5
    with pytest.raises(Exception, match="wall.png"):  # one photo without a face: an error naming it
        plain.run(str(folder / "wall.png"))


# --- imports and the zoo -------------------------------------------------------------------------
def test_lazy_imports_and_a_broken_optional_dependency_breaks_only_its_part(cyclegan, cartoon_weights):
    heavy = ("dlib", "imageio_ffmpeg", "paddle2onnx", "onnxruntime", "visualdl")
    code = ("import sys, ppimg2img\n"
            "assert 'ppimg2img.predictors' not in sys.modules, 'import ppimg2img loaded the predictors'\n"
            "ppimg2img.CycleGANPredictor, ppimg2img.Photo2CartoonPredictor, ppimg2img.Horse2ZebraPredictor\n"
            f"print('loaded:', sorted(m for m in {heavy!r} if m in sys.modules))\n"
            f"for m in {heavy!r}:\n"
            "    sys.modules[m] = None  # from now on importing it fails, as when it is broken\n"
            "import numpy as np\n"
            f"p = ppimg2img.CycleGANPredictor(weights={cyclegan[0]!r}, size=32, backend='eager')\n"
            "print(p.run(np.zeros((10, 12, 3), np.uint8)).shape)\n"
            f"c = ppimg2img.Photo2CartoonPredictor(weights={cartoon_weights!r}, backend='eager')\n"
            f"c.run({PORTRAIT!r})\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": ROOT})
    assert "loaded: []" in proc.stdout, proc.stdout + proc.stderr
    assert "(10, 12, 3)" in proc.stdout, proc.stderr  # CycleGAN works without dlib & co.
    assert proc.returncode == 1 and "needs dlib" in proc.stderr and "pip install" in proc.stderr  # says what to do


def test_zoo_model_offline_names_url_and_cache(tmp_path, monkeypatch):
    from http_fixture import closed_port_url

    from ppimg2img.utils.download import DownloadError
    from ppimg2img.weights import zoo
    from ppimg2img.weights.zoo import UnknownModelError

    monkeypatch.setenv("PPIMG2IMG_HOME", str(tmp_path / "home"))
    entry = zoo.get_entry("horse2zebra")
    offline = dataclasses.replace(entry, url=closed_port_url("/horse2zebra.pth"))  # nothing listens: as offline
    monkeypatch.setitem(zoo.MODEL_ZOO, entry.name, offline)
    for make in (lambda: ppimg2img.CycleGANPredictor(model="horse2zebra", backend="eager"),
                 lambda: ppimg2img.Horse2ZebraPredictor(backend="eager")):
        with pytest.raises(DownloadError) as info:
            make()
        msg = str(info.value)
        assert offline.url in msg and os.path.join(str(tmp_path / "home"), "models", "cyclegan") in msg
    with pytest.raises(UnknownModelError, match="horse2zebrra"):
        ppimg2img.CycleGANPredictor(model="horse2zebrra")
