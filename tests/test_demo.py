"""``ppimg2img demo``: the web app's endpoints through gradio_client against a server this module
starts (127.0.0.1, a free port, tiny local checkpoints, no downloads), and a real headless Chromium
that cartoonises the shared portrait in the page."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

pytest.importorskip("gradio", reason="the demo extra is not installed (pip install -e '.[demo]')")
gradio_client = pytest.importorskip("gradio_client")

from conftest import ROOT, assert_images_close  # noqa: E402
from ppimg2img.demo import DemoModels, host_warning, main  # noqa: E402
from ppimg2img.nets import build_generator  # noqa: E402
from ppimg2img.utils.image_io import load_image, save_image  # noqa: E402
from ppimg2img.weights.load import save_converted  # noqa: E402

PORTRAIT = os.path.join(ROOT, "tests", "data", "portrait_photo2cartoon.jpg")
SCREENSHOT = os.path.join(ROOT, "docs", "images", "demo.png")
MAX_PIXELS = 1_000_000
MAX_UPLOAD_MB = 1
MAX_VIDEO_SECONDS = 2


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Tiny untrained generators written as ppimg2img files: translation, photo2cartoon, DCGAN."""
    import paddle

    paddle.seed(0)  # the same weights every run: the same screenshot
    folder = tmp_path_factory.mktemp("weights")
    return {
        "translate": save_converted(build_generator("resnet_6blocks", ngf=4), str(folder / "cyclegan_tiny.pdparams"),
                                    "resnet_6blocks", {"ngf": 4}),
        "cartoon": save_converted(build_generator("photo2cartoon", ngf=4, img_size=256, light=True),
                                  str(folder / "p2c_tiny.pdparams"), "photo2cartoon",
                                  {"ngf": 4, "img_size": 256, "light": True}),
        "generate": save_converted(build_generator("dcgan", nz=8, ngf=4, image_size=28, output_nc=1),
                                   str(folder / "dcgan_tiny.pdparams"), "dcgan",
                                   {"nz": 8, "ngf": 4, "image_size": 28, "output_nc": 1}),
        "stylegan2": save_converted(build_generator("stylegan2", size=8, style_dim=8, n_mlp=1, channels=[4, 4]),
                                    str(folder / "stylegan2_tiny.pdparams"), "stylegan2",
                                    {"size": 8, "style_dim": 8, "n_mlp": 1, "channels": [4, 4]}),
    }


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url):
    """HTTP status of ``url`` (None while nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return None


@pytest.fixture(scope="module")
def server(checkpoints, tmp_path_factory):
    """``ppimg2img demo`` in a subprocess; yields ``(url, cache folder)``. Ready when the page answers
    (polled; the deadline only bounds a server that never comes up)."""
    folder = tmp_path_factory.mktemp("server")
    port = _free_port()
    env = dict(os.environ, PPIMG2IMG_HOME=str(folder / "cache"), GRADIO_ANALYTICS_ENABLED="False",
               GRADIO_TEMP_DIR=str(folder / "gradio"), NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    cmd = [sys.executable, "-m", "ppimg2img.cli", "demo", "--port", str(port), "--backend", "eager",
           "--weights", checkpoints["translate"], "--weights", checkpoints["generate"],
           "--weights", checkpoints["stylegan2"],
           "--cartoon-weights", checkpoints["cartoon"], "--max-pixels", str(MAX_PIXELS),
           "--max-upload-mb", str(MAX_UPLOAD_MB), "--max-video-seconds", str(MAX_VIDEO_SECONDS)]
    log_path = folder / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(folder))
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    try:
        while _get(url) != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the demo server did not start (exit code {proc.poll()}):\n{log_path.read_text()}")
            time.sleep(0.5)
        yield url, str(folder / "cache")
    finally:
        proc.send_signal(signal.SIGINT)  # as Ctrl-C: Gradio closes, main returns 0
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def client(server, tmp_path_factory):
    return gradio_client.Client(server[0], verbose=False, analytics_enabled=False,
                                download_files=str(tmp_path_factory.mktemp("client")))


def _png(path, image):
    save_image(str(path), image)
    return gradio_client.handle_file(str(path))


def _noise(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


# --- the API ---------------------------------------------------------------------------------------
def test_translate_returns_the_local_checkpoints_result_at_the_input_size(client, checkpoints, tmp_path):
    from ppimg2img import CycleGANPredictor

    image = _noise((30, 41, 3))
    result = load_image(client.predict(_png(tmp_path / "a.png", image), api_name="/translate"))
    assert result.shape == (30, 41, 3) and result.dtype == np.uint8
    expected = CycleGANPredictor(weights=checkpoints["translate"], backend="eager").run(image)
    assert_images_close(result, expected, what="page result vs the predictor")


def test_translate_batch_gives_every_result_as_png(client, tmp_path):
    files = [_png(tmp_path / "one.png", _noise((24, 40, 3), 1)), _png(tmp_path / "two.png", _noise((36, 20, 3), 2))]
    gallery, pngs = client.predict(files, api_name="/translate_batch")
    assert [item["caption"].split(":")[0] for item in gallery] == ["one", "one", "two", "two"]
    assert [os.path.basename(p) for p in pngs] == ["one.png", "two.png"]
    assert [load_image(p).shape for p in pngs] == [(24, 40, 3), (36, 20, 3)]


def test_cartoonize_returns_aligned_face_cartoon_and_pasted_photo(client, checkpoints):
    from ppimg2img import Photo2CartoonPredictor

    aligned, cartoon, pasted = map(load_image, client.predict(gradio_client.handle_file(PORTRAIT),
                                                              api_name="/cartoonize"))
    photo = load_image(PORTRAIT)
    assert aligned.shape == cartoon.shape == (256, 256, 3)
    assert pasted.shape == photo.shape
    assert np.abs(pasted.astype(int) - photo).max() > 50  # the face changed
    assert np.array_equal(pasted[:20], photo[:20])  # the top of the photo, far from the face, did not
    expected = Photo2CartoonPredictor(weights=checkpoints["cartoon"], paste_back=True, backend="eager").run(PORTRAIT)
    assert_images_close(pasted, expected, what="page result vs the predictor")


def test_photo_without_a_face_gets_a_readable_message(client, tmp_path):
    with pytest.raises(gradio_client.exceptions.AppError, match="No face found in 'the uploaded photo'") as err:
        client.predict(_png(tmp_path / "wall.png", np.full((120, 160, 3), 128, np.uint8)), api_name="/cartoonize")
    assert "Traceback" not in str(err.value) and "--detector cnn" in str(err.value)


def test_oversized_uploads_are_refused_with_a_message(client, server, tmp_path):
    big = _png(tmp_path / "big.png", np.full((1100, 1000, 3), 128, np.uint8))  # 1.1 MP, a small file
    too_big = r"1000x1100 \(1\.1 megapixels\); this demo takes at most 1\.0 megapixels \(--max-pixels\)"
    with pytest.raises(gradio_client.exceptions.AppError, match=too_big):
        client.predict(big, api_name="/translate")
    heavy = tmp_path / "heavy.png"  # 0.49 MP of noise: 1.5 MB, over --max-upload-mb 1
    save_image(str(heavy), _noise((700, 700, 3)))
    assert heavy.stat().st_size > MAX_UPLOAD_MB * 1024 * 1024
    boundary = "ppimg2imgtestboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"heavy.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + heavy.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(server[0] + "gradio_api/upload", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 413
    assert "exceeded maximum allowed size of 1048576 bytes" in refused.value.read().decode()


def test_zoo_model_not_downloaded_names_the_command_and_cache_path(client, server, tmp_path):
    with pytest.raises(gradio_client.exceptions.AppError) as err:
        client.predict(_png(tmp_path / "a.png", _noise((16, 16, 3))), "cyclegan/horse2zebra", api_name="/translate")
    message = str(err.value)
    assert "`ppimg2img download cyclegan/horse2zebra`" in message
    assert os.path.join(server[1], "models", "cyclegan", "horse2zebra.pth") in message


def test_two_concurrent_requests_both_complete(client, tmp_path):
    jobs = [client.submit(_png(tmp_path / f"{i}.png", _noise(shape, i)), api_name="/translate")
            for i, shape in enumerate([(20, 28, 3), (32, 12, 3)])]
    assert [load_image(job.result()).shape for job in jobs] == [(20, 28, 3), (32, 12, 3)]


def test_generate_draws_the_checkpoints_samples_for_a_seed(client, checkpoints):
    from ppimg2img import GANGeneratorPredictor

    gallery = client.predict(seed=5, count=3, api_name="/generate")
    samples = [load_image(item["image"]) for item in gallery]
    assert [s.shape for s in samples] == [(28, 28, 3)] * 3
    expected = GANGeneratorPredictor(checkpoints["generate"]).generate(3, seed=5)
    for got, want in zip(samples, expected):
        assert_images_close(got, want, what="page sample vs the predictor")
    default = client.predict(api_name="/generate")  # every input has a default: seed 0, 8 samples
    assert len(default) == 8


def test_generate_with_a_stylegan2_file_uses_seeds_and_truncation(client, checkpoints):
    from ppimg2img.predictors.stylegan2 import StyleGAN2Predictor

    gallery = client.predict(seed=1, count=2, truncation=0.5, model=checkpoints["stylegan2"], api_name="/generate")
    samples = [load_image(item["image"]) for item in gallery]
    expected = StyleGAN2Predictor(weights=checkpoints["stylegan2"]).generate(seeds=[1, 2], truncation=0.5)
    assert [s.shape for s in samples] == [(8, 8, 3)] * 2
    for got, want in zip(samples, expected):
        assert_images_close(got, want, what="page sample vs the predictor")


def _write_clip(path, frames, fps):
    import imageio.v2 as imageio

    with imageio.get_writer(str(path), fps=fps, codec="libx264", quality=8, macro_block_size=1) as writer:
        for i in range(frames):
            writer.append_data(np.full((32, 48, 3), 40 * (i % 6), np.uint8))
    return str(path)


def test_video_is_translated_and_a_long_one_refused(client, tmp_path):
    from ppimg2img.utils.video import video_info

    clip = _write_clip(tmp_path / "clip.mp4", 6, 6)
    info = video_info(client.predict(gradio_client.handle_file(clip), api_name="/video"))
    assert info["size"] == (48, 32) and info["fps"] == 6 and info["frames"] == 6
    long_clip = _write_clip(tmp_path / "long.mp4", 15, 5)  # 3 s
    with pytest.raises(gradio_client.exceptions.AppError, match=r"lasts 3\.0 s; this demo takes at most 2 s"):
        client.predict(gradio_client.handle_file(long_clip), api_name="/video")


# --- the command, without a server -----------------------------------------------------------------
def test_command_errors_before_starting_a_server(checkpoints, tmp_path, capsys):
    assert main(["--weights", str(tmp_path / "missing.pdparams")]) == 1
    assert "weights file not found" in capsys.readouterr().err
    assert main(["--weights", checkpoints["cartoon"]]) == 1
    assert "give it with --cartoon-weights" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--share", "maybe"])
    assert "expected true or false" in capsys.readouterr().err
    assert host_warning("127.0.0.1") is None
    assert "anyone who can reach this machine" in host_warning("0.0.0.0")


def test_without_gradio_the_command_names_the_extra(monkeypatch, capsys):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gradio" else find_spec(name, *a))
    assert main([]) == 1
    assert 'the demo needs Gradio, which is an extra: pip install -e ".[demo]"' in capsys.readouterr().err


def test_a_file_with_both_generators_offers_both_directions(tmp_path):
    from ppimg2img.engine.checkpoint import atomic_save

    nets = {k: {n: v.numpy() for n, v in build_generator("resnet_6blocks", ngf=4).state_dict().items()}
            for k in ("netG_A", "netG_B")}
    both = str(tmp_path / "both.pth")
    atomic_save(nets, both)
    models = DemoModels([both])
    local = [(label, value) for label, value in models.translate_choices() if value.startswith(both)]
    assert local == [("both.pth (A->B)", both), ("both.pth (B->A)", both + "#BtoA")]
    assert models.default_translate == both


# --- a real browser ----------------------------------------------------------------------------------
def _chromium():
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    return browser, shutil.which("chromedriver")


def test_browser_cartoonizes_the_portrait(server, tmp_path):
    browser, driver_path = _chromium()
    if not (browser and driver_path):
        pytest.skip("no Chromium and chromedriver found: apt-get install chromium chromium-driver "
                    "(.ci/run installs them when it runs as root)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1250", "--hide-scrollbars"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(server[0])
        wait = WebDriverWait(driver, 180, poll_frequency=0.25)  # bounds a page that never renders
        tab = wait.until(lambda d: next((b for b in d.find_elements(By.CSS_SELECTOR, "button[role=tab]")
                                         if b.text.strip() == "Cartoonize"), None))
        tab.click()
        upload = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#cartoonize-input input[type=file]"))
        upload.send_keys(PORTRAIT)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#cartoonize-input img"))
        driver.find_element(By.ID, "cartoonize-button").click()

        def rendered(d):
            for img in d.find_elements(By.CSS_SELECTOR, "#cartoonize-cartoon img"):
                size = d.execute_script("const r = arguments[0].getBoundingClientRect(); return arguments[0]"
                                        ".complete ? [arguments[0].naturalWidth, r.width, r.height] : null", img)
                if size and size[0] > 0:
                    return size
            return None

        natural_width, width, height = wait.until(rendered)
        assert natural_width == 256 and width > 0 and height > 0
        assert driver.find_elements(By.CSS_SELECTOR, "#cartoonize-pasted img")
        driver.execute_script("window.scrollTo(0, 0)")
        shot = tmp_path / "demo.png"
        assert driver.save_screenshot(str(shot))
    finally:
        driver.quit()
    assert load_image(str(shot)).shape[1] == 1280
    if os.environ.get("PPIMG2IMG_UPDATE_SCREENSHOT") == "1":  # the README's screenshot
        shutil.copyfile(shot, SCREENSHOT)


def test_a_stylegan2_file_joins_the_generate_list_when_the_predictor_exists(tmp_path, monkeypatch):
    """A file load_generator does not read goes to StyleGAN2Predictor (once ppimg2img has it); its
    generate(seeds=..., truncation=...) answers /generate."""
    import ppimg2img.predictors

    calls = []

    class FakeStyleGAN2Predictor:
        def __init__(self, weights):
            if not weights.endswith(".style"):
                raise ValueError("not a StyleGAN2 file")

        def generate(self, seeds, truncation):
            calls.append((seeds, truncation))
            return [np.full((8, 8, 3), s, np.uint8) for s in seeds]

    style = tmp_path / "ffhq.style"
    style.write_bytes(b"not a checkpoint ppimg2img reads")
    with pytest.raises(OSError, match="ffhq.style: cannot read checkpoint"):  # nothing reads it: the loader's error
        DemoModels([str(style)])
    monkeypatch.setattr(ppimg2img.predictors, "StyleGAN2Predictor", FakeStyleGAN2Predictor, raising=False)
    models = DemoModels([str(style)])
    assert models.generate_choices()[0] == ("ffhq.style (StyleGAN2)", str(style))
    assert models.default_generate == str(style)
    samples = models.generate(seed=4, count=2, truncation=0.5)
    assert calls == [([4, 5], 0.5)] and [int(s[0, 0, 0]) for s in samples] == [4, 5]
