"""``ppimg2img demo``: a local web app (Gradio) for every predictor.

    pip install -e ".[demo]"
    ppimg2img demo                                    # http://127.0.0.1:7860, zoo models
    ppimg2img demo --weights output/quickstart_cyclegan/checkpoints/latest.pdckpt \\
                   --weights output/quickstart_dcgan/checkpoints/latest.pdckpt --cartoon-weights p2c.pdparams

Tabs: **Translate** (a zoo model or a local checkpoint; one image, or several at once with PNGs
to download), **Cartoonize** (photo2cartoon: aligned face, cartoon, photo with the cartoon pasted
back), **Generate** (samples of the generation checkpoints given with ``--weights``: seed, count,
class, truncation for StyleGAN2) and **Video** (a short clip translated frame by frame).
Every tab is an API endpoint too (``/translate``, ``/translate_batch``, ``/cartoonize``,
``/generate``, ``/video``) that ``gradio_client`` calls; only the image (or nothing, for
``/generate``) is required. See docs/demo.md.

Models load once per process (local checkpoints when the app starts, zoo models on first use) and
are cached; requests wait in Gradio's queue and run ``--concurrency`` at a time (one net never
runs two requests at once). Uploads over ``--max-upload-mb``, images over ``--max-pixels`` and
videos over ``--max-video-seconds`` are refused with a message. Zoo weights that are not in the
cache are not downloaded by the page (unless ``--download``): it names ``ppimg2img download NAME``
and the cache path instead. The app binds to 127.0.0.1; ``--host 0.0.0.0`` opens it to the network.
"""
import argparse
import atexit
import functools
import logging
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger("ppimg2img")

#: zoo families the Translate and Video tabs offer (photo2cartoon has its own tab: it needs faces)
TRANSLATE_FAMILIES = ("cyclegan", "pix2pix", "ugatit")
DEFAULT_ZOO_MODEL = "cyclegan/horse2zebra"
DEFAULT_CARTOON_MODEL = "paddlegan/photo2cartoon"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_BATCH_IMAGES = 32
MAX_SAMPLES = 64
NO_GENERATOR = ("No generation model loaded. Start the demo with the checkpoint of a generation run, e.g. "
                "`ppimg2img demo --weights output/quickstart_dcgan/checkpoints/latest.pdckpt`.")


class DemoError(Exception):
    """A request the demo refuses or cannot serve; its message is shown in the page as is."""


@dataclass
class Limits:
    """What one request may send: ``max_pixels`` per image (width x height), ``max_upload_mb`` per
    uploaded file (Gradio refuses larger uploads) and ``max_video_seconds`` per clip."""
    max_pixels: int = 16_000_000
    max_upload_mb: float = 25.0
    max_video_seconds: float = 30.0


@dataclass
class ModelChoice:
    """One entry of a model list: ``value`` is what the API takes, ``label`` what the page shows."""
    value: str
    label: str
    kind: str  # 'zoo' or 'file'
    source: str  # zoo name or file path
    family: str = None  # predictor family; 'gan' or 'stylegan2' for generation models
    direction: str = "AtoB"


# --- messages ---------------------------------------------------------------------------------
def _first_line(err):
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _sentence(text):
    return text[:1].upper() + text[1:]


def host_warning(host):
    """The warning printed for a host other than localhost (None for localhost)."""
    if host in LOCAL_HOSTS:
        return None
    return (f"warning: --host {host}: anyone who can reach this machine on the network can use the demo "
            f"(upload files, run the models). Use the default --host 127.0.0.1 to keep it local.")


def not_downloaded_message(name):
    """What the page says for zoo weights that are not in the cache."""
    from .weights import zoo

    entry = zoo.get_entry(name)
    path = os.path.abspath(zoo.weights_path(entry.name))
    if entry.url is None:
        return (f"The weights of {entry.name} are not here: it has no direct download link. Download "
                f"{entry.filename} by hand from {entry.page} and put it at {path} "
                f"(`ppimg2img models {entry.name}` says more), then try again.")
    return (f"The weights of {entry.name} are not downloaded yet. Run `ppimg2img download {entry.name}` on "
            f"this machine (it saves them to {path}), then try again.")


# --- the app's logic, without Gradio --------------------------------------------------------------
class DemoModels:
    """The demo's models and request handlers (plain Python; :func:`build_app` wires them to Gradio).

    Args:
        weights: local checkpoints. Translation generators join the Translate and Video lists (the
            first one is their default; a file holding both generators of a CycleGAN or U-GAT-IT
            run gives both directions); generation checkpoints (DCGAN & co., StyleGAN2) join the
            Generate list. A photo2cartoon file is refused here: give it as ``cartoon_weights``.
        cartoon_weights: the Cartoonize tab's photo2cartoon generator (default: the zoo's
            ``paddlegan/photo2cartoon``).
        limits: :class:`Limits`.
        download: let the page download zoo weights that are not in the cache (default: it says
            which ``ppimg2img download`` command fetches them).
        backend, device, threads: passed to every predictor.
    """

    def __init__(self, weights=(), cartoon_weights=None, limits=None, download=False, backend="auto",
                 device=None, threads=None):
        from .weights import zoo

        self.limits = limits or Limits()
        self.download = bool(download)
        self.options = dict(backend=backend, device=device, threads=threads)
        self._predictors, self._locks, self._lock = {}, {}, threading.Lock()
        self.workdir = tempfile.mkdtemp(prefix="ppimg2img-demo-")
        atexit.register(shutil.rmtree, self.workdir, True)
        self.translate_models, self.generate_models = {}, {}
        for path in weights or ():
            self._add_local(os.fspath(path))
        for name in zoo.list_models():
            entry = zoo.get_entry(name)
            if entry.family in TRANSLATE_FAMILIES:
                self.translate_models[name] = ModelChoice(name, f"{name}: {entry.direction}", "zoo", name,
                                                          entry.family)
            elif entry.family == "stylegan2" and _stylegan2_class() is not None:
                self.generate_models[name] = ModelChoice(name, f"{name}: {entry.direction}", "zoo", name,
                                                         "stylegan2")
        local = [c.value for c in self.translate_models.values() if c.kind == "file"]
        self.default_translate = local[0] if local else DEFAULT_ZOO_MODEL
        self.default_generate = next(iter(self.generate_models), None)
        if cartoon_weights is not None:
            path = os.path.abspath(os.fspath(cartoon_weights))
            self.cartoon = ModelChoice(path, os.path.basename(path), "file", path, "photo2cartoon")
            self._predictor(self.cartoon)  # a bad file fails now, not in the first request
        else:
            self.cartoon = ModelChoice(DEFAULT_CARTOON_MODEL, DEFAULT_CARTOON_MODEL, "zoo", DEFAULT_CARTOON_MODEL,
                                       "photo2cartoon")

    # --- model lists ---------------------------------------------------------------------------
    def _add_local(self, path):
        """Sort a local checkpoint into the Translate or Generate list; loads it (a bad file fails here)."""
        from .predictors.commands import FAMILY_CLASSES, family_of
        from .weights import load_generator

        if not os.path.isfile(path):
            raise FileNotFoundError(f"weights file not found: {path}")
        path, name = os.path.abspath(path), os.path.basename(path)
        try:
            net = load_generator(path)
        except Exception as first:
            stylegan2 = _stylegan2_class()
            if stylegan2 is None:
                raise
            try:  # a StyleGAN2 file (rosinality's layout) that load_generator does not read
                predictor = stylegan2(weights=path)
            except Exception:
                raise first from None
            self._predictors[("stylegan2", path)] = predictor
            self.generate_models[path] = ModelChoice(path, f"{name} (StyleGAN2)", "file", path, "stylegan2")
            return
        if "stylegan" in type(net).__name__.lower() and _stylegan2_class() is not None:
            self.generate_models[path] = ModelChoice(path, f"{name} (StyleGAN2)", "file", path, "stylegan2")
            return
        if hasattr(net, "nz"):
            self.generate_models[path] = ModelChoice(path, f"{name} ({type(net).__name__})", "file", path, "gan")
            return
        family = family_of(*net.ppimg2img_arch)
        if family == "photo2cartoon":
            raise ValueError(f"{path} holds a photo2cartoon generator: give it with --cartoon-weights")
        self.translate_models[path] = ModelChoice(path, name, "file", path, family)
        from . import predictors

        key_b = getattr(predictors, FAMILY_CLASSES[family]).direction_keys.get("BtoA")
        if key_b and _holds_net(path, key_b):
            self.translate_models[path].label = f"{name} (A->B)"
            value = f"{path}#BtoA"
            self.translate_models[value] = ModelChoice(value, f"{name} (B->A)", "file", path, family, "BtoA")

    def translate_choices(self):
        """``(label, value)`` pairs of the Translate and Video model lists, local files first."""
        return [(c.label, c.value) for c in self.translate_models.values()]

    def generate_choices(self):
        return [(c.label, c.value) for c in self.generate_models.values()]

    def model_status(self, value):
        """A line under the model list: where the weights come from, or how to get them."""
        from .weights import zoo

        choice = self.translate_models.get(value) or self.generate_models.get(value)
        if choice is None:
            return ""
        if choice.kind == "file":
            detail = choice.family if choice.family in ("gan", "stylegan2") else f"{choice.family}, {choice.direction}"
            return f"Local checkpoint `{choice.source}` ({detail})."
        if zoo.is_cached(choice.source):
            return f"`{choice.source}`: downloaded ({zoo.weights_path(choice.source)})."
        if self.download:
            return f"`{choice.source}`: downloaded on first use into {zoo.weights_path(choice.source)}."
        return not_downloaded_message(choice.source)

    # --- predictors ----------------------------------------------------------------------------
    def _predictor(self, choice):
        """The predictor of ``choice``, built once and cached; raises :class:`DemoError` for zoo weights
        not in the cache (unless ``download``)."""
        key = (choice.family, choice.value)
        with self._lock:
            if key in self._predictors:
                return self._predictors[key]
        if choice.kind == "zoo":
            from .utils.download import DownloadError
            from .weights import zoo

            if not zoo.is_cached(choice.source) and not self.download:
                raise DemoError(not_downloaded_message(choice.source))
            try:
                predictor = self._build(choice)
            except DownloadError as err:
                raise DemoError(f"{not_downloaded_message(choice.source)} (The download failed: "
                                f"{_first_line(err)})") from None
        else:
            predictor = self._build(choice)
        with self._lock:
            return self._predictors.setdefault(key, predictor)

    def _build(self, choice):
        from . import predictors
        from .predictors.commands import create_predictor

        where = {"model": choice.source} if choice.kind == "zoo" else {"weights": choice.source}
        if choice.family == "photo2cartoon":
            return predictors.Photo2CartoonPredictor(paste_back=True, progress=False, **where, **self.options)
        if choice.family == "gan":
            return predictors.GANGeneratorPredictor(choice.source, device=self.options["device"])
        if choice.family == "stylegan2":
            return _stylegan2_class()(**where, device=self.options["device"])
        predictor = create_predictor(family=choice.family, direction=choice.direction, progress=False, **where,
                                     **self.options)
        predictor.log_summary = False
        return predictor

    def _lock_for(self, predictor):
        with self._lock:
            return self._locks.setdefault(id(predictor), threading.Lock())

    # --- checks --------------------------------------------------------------------------------
    def check_pixels(self, width, height, what="The image"):
        if width * height > self.limits.max_pixels:
            raise DemoError(f"{what} is {width}x{height} ({width * height / 1e6:.1f} megapixels); this demo takes "
                            f"at most {self.limits.max_pixels / 1e6:.1f} megapixels (--max-pixels). Resize it "
                            f"first, or use `ppimg2img translate` on the command line.")

    def _image(self, image):
        if image is None:
            raise DemoError("Upload an image first.")
        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] not in (3, 4):
            raise DemoError(f"Expected an RGB image, got an array of shape {image.shape}.")
        self.check_pixels(image.shape[1], image.shape[0])
        return np.ascontiguousarray(image[..., :3]).astype(np.uint8, copy=False)

    def _translate_choice(self, value):
        choice = self.translate_models.get(value)
        if choice is None:
            raise DemoError(f"Unknown model {value!r}: choose one of the list (the local checkpoints of "
                            f"--weights, or a zoo name: `ppimg2img models`).")
        return choice

    # --- handlers ------------------------------------------------------------------------------
    def translate(self, image, model=None, native_size=False):
        """One RGB uint8 image -> the translated image, the input's size."""
        image = self._image(image)
        predictor = self._predictor(self._translate_choice(model or self.default_translate))
        with self._lock_for(predictor):
            predictor.native_size = bool(native_size) and predictor._size_multiple() is not None
            return predictor.run(image)

    def translate_files(self, paths, model=None, native_size=False, progress=None):
        """Image files -> ``(pairs, pngs)``: ``(image, caption)`` of each input and its result, and the
        results written as PNG files."""
        from PIL import Image

        from .utils.image_io import load_image, save_image

        paths = [os.fspath(getattr(p, "name", p)) for p in (paths or [])]
        if not paths:
            raise DemoError("Upload one or more images first.")
        if len(paths) > MAX_BATCH_IMAGES:
            raise DemoError(f"{len(paths)} images: the demo takes at most {MAX_BATCH_IMAGES} at once; use "
                            f"`ppimg2img translate` for folders.")
        images = []
        for path in paths:
            try:
                with Image.open(path) as im:  # the header only: refuse before decoding
                    size = im.size
            except Exception as err:
                raise DemoError(f"{os.path.basename(path)} is not an image I can read ({_first_line(err)}).")
            self.check_pixels(*size, what=os.path.basename(path))
            images.append(load_image(path))
        choice = self._translate_choice(model or self.default_translate)
        predictor = self._predictor(choice)
        folder = tempfile.mkdtemp(dir=self.workdir)
        pairs, pngs = [], []
        with self._lock_for(predictor):
            predictor.native_size = bool(native_size) and predictor._size_multiple() is not None
            for i, (path, image) in enumerate(zip(paths, images)):
                if progress is not None:
                    progress((i, len(paths)), desc="images")
                result = predictor.run(image)
                stem = os.path.splitext(os.path.basename(path))[0]
                pngs.append(save_image(os.path.join(folder, f"{stem}.png"), result))
                pairs += [(image, f"{stem}: input"), (result, f"{stem}: {choice.label}")]
        return pairs, pngs

    def cartoonize(self, image):
        """A photo -> ``(aligned face, cartoon, photo with the cartoon pasted back)``."""
        from .faces.detect import NoFaceFoundError

        image = self._image(image)
        predictor = self._predictor(self.cartoon)
        with self._lock_for(predictor):
            try:
                faces, context = predictor.prepare(image, "the uploaded photo")
            except NoFaceFoundError as err:
                raise DemoError(_sentence(str(err))) from None
            _, files = predictor.finish(image, predictor.translate(faces), context)
        return files["_aligned"], files["_cartoon"], files["_pasted"]

    def generate(self, seed=0, count=8, truncation=0.7, label=-1, model=None):
        """``count`` samples from seed ``seed``: a list of RGB uint8 images. ``label``: the class of every
        sample of a conditional model (-1: the classes in turn); ``truncation``: StyleGAN2 only."""
        value = model or self.default_generate
        if value is None:
            raise DemoError(NO_GENERATOR)
        choice = self.generate_models.get(value)
        if choice is None:
            raise DemoError(f"Unknown generation model {value!r}: choose one of the list.")
        count, seed = int(count), int(seed)
        if not 1 <= count <= MAX_SAMPLES:
            raise DemoError(f"count must be 1..{MAX_SAMPLES}, got {count}")
        if seed < 0:
            raise DemoError(f"seed must be 0 or more, got {seed}")
        predictor = self._predictor(choice)
        with self._lock_for(predictor):
            if choice.family == "stylegan2":
                return list(predictor.generate(seeds=list(range(seed, seed + count)), truncation=float(truncation)))
            labels = None if label is None or int(label) < 0 or not predictor.n_classes else int(label)
            return predictor.generate(count, seed=seed, labels=labels)

    def video(self, path, model=None, progress=None):
        """A video file -> the path of the translated video (.mp4, the source's fps and sound)."""
        from .predictors.video_command import frame_translator
        from .utils.video import translate_video, video_info

        if not path:
            raise DemoError("Upload a video first.")
        path = os.fspath(path)
        info = video_info(path)
        if info["duration"] > self.limits.max_video_seconds:
            raise DemoError(f"The video lasts {info['duration']:.1f} s; this demo takes at most "
                            f"{self.limits.max_video_seconds:g} s (--max-video-seconds). Cut it first, or use "
                            f"`ppimg2img video` on the command line.")
        self.check_pixels(*info["size"], what="A frame of the video")
        predictor = self._predictor(self._translate_choice(model or self.default_translate))
        folder = tempfile.mkdtemp(dir=self.workdir)
        out = os.path.join(folder, os.path.splitext(os.path.basename(path))[0] + "_translated.mp4")
        total, done = max(1, info["frames"]), 0
        with self._lock_for(predictor):
            predictor.native_size = False
            translate_frames = frame_translator(predictor)

            def with_progress(frames):
                nonlocal done
                results = translate_frames(frames)
                done += len(frames)
                if progress is not None:
                    progress((min(done, total), total), desc="frames")
                return results

            translate_video(path, out, with_progress, progress=False)
        return out


def _holds_net(path, key):
    """Whether the checkpoint ``path`` holds a network ``key`` (a training checkpoint's ``netG_B``...)."""
    from .weights.load import CONVERTED_FORMAT, select_net
    from .weights.reader import read_checkpoint

    obj = read_checkpoint(path)
    if isinstance(obj, dict) and obj.get("format") == CONVERTED_FORMAT:  # one converted net
        return False
    try:
        select_net(obj, key, source=path)
    except Exception:
        return False
    return True


def _stylegan2_class():
    """``StyleGAN2Predictor`` when this ppimg2img has it, else None."""
    from . import predictors

    found = getattr(predictors, "StyleGAN2Predictor", None)
    if found is None:
        try:
            from .predictors.stylegan2 import StyleGAN2Predictor as found
        except ImportError:
            return None
    return found


# --- Gradio -----------------------------------------------------------------------------------
def _page_errors(fn):
    """Errors become a message in the page (``gr.Error``), never a stack trace: expected ones (bad input,
    no face, weights not downloaded) as they are, others as one line (the traceback goes to the log)."""
    import gradio as gr

    from .faces.detect import NoFaceFoundError
    from .utils.download import DownloadError
    from .utils.image_io import ImageReadError
    from .utils.video import VideoError

    expected = (DemoError, NoFaceFoundError, ImageReadError, VideoError, DownloadError, FileNotFoundError,
                ValueError)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except expected as err:
            raise gr.Error(_sentence(_first_line(err)) if not isinstance(err, DemoError) else str(err),
                           duration=None, print_exception=False) from None
        except Exception as err:
            logger.exception("demo request failed")
            raise gr.Error(f"{type(err).__name__}: {_first_line(err)}", duration=None,
                           print_exception=False) from None
    return wrapper


INTRO = ("# ppimg2img\nImage-to-image translation with GANs on PaddlePaddle: CycleGAN, pix2pix, U-GAT-IT, "
         "photo2cartoon and the generation models. Every tab is an API endpoint too (\"Use via API\" below).")


def build_app(models):
    """The Gradio Blocks app of :class:`DemoModels` ``models`` (not launched)."""
    import gradio as gr

    errors = _page_errors
    limits = models.limits

    def translate(image, model, native_size):
        return models.translate(image, model, native_size)

    def translate_files(files, model, native_size, progress=gr.Progress()):
        return models.translate_files(files, model, native_size, progress=progress)

    def cartoonize(image):
        return models.cartoonize(image)

    def generate(seed, count, truncation, label, model):
        return [(img, f"seed {int(seed)} #{i}") for i, img in enumerate(models.generate(seed, count, truncation,
                                                                                        label, model))]

    def video(clip, model, progress=gr.Progress()):
        return models.video(clip, model, progress=progress)

    def status(model):
        return models.model_status(model)

    limits_text = (f"Limits: {limits.max_pixels / 1e6:g} megapixels per image, {limits.max_upload_mb:g} MB per "
                   f"upload, {limits.max_video_seconds:g} s per video.")
    with gr.Blocks(title="ppimg2img demo", delete_cache=(3600, 3600)) as app:
        gr.Markdown(INTRO + "\n\n" + limits_text)
        with gr.Tab("Translate", id="translate"):
            with gr.Row():
                t_model = gr.Dropdown(models.translate_choices(), value=models.default_translate, label="Model",
                                      scale=3)
                t_native = gr.Checkbox(False, label="Native size (run at the image's own size)", scale=1)
            t_status = gr.Markdown(models.model_status(models.default_translate))
            with gr.Row():
                with gr.Column():
                    t_in = gr.Image(type="numpy", image_mode="RGB", label="Input", sources=["upload", "clipboard"],
                                    height=400, elem_id="translate-input")
                    t_button = gr.Button("Translate", variant="primary", elem_id="translate-button")
                t_out = gr.Image(type="numpy", format="png", label="Result", interactive=False, height=450,
                                 elem_id="translate-output")
            with gr.Accordion("Several images at once", open=False):
                t_files = gr.File(file_count="multiple", file_types=["image"], type="filepath", label="Images")
                t_batch = gr.Button("Translate all", elem_id="translate-batch-button")
                t_gallery = gr.Gallery(label="Inputs and results", columns=2, format="png")
                t_pngs = gr.File(label="Results (PNG)", file_count="multiple", interactive=False)
        with gr.Tab("Cartoonize", id="cartoonize"):
            gr.Markdown(f"photo2cartoon (`{models.cartoon.label}`): the largest face is detected, aligned, "
                        f"cartoonised and pasted back into the photo.")
            with gr.Row():
                with gr.Column():
                    c_in = gr.Image(type="numpy", image_mode="RGB", label="Photo with a face", height=380,
                                    sources=["upload", "clipboard", "webcam"], elem_id="cartoonize-input")
                    c_button = gr.Button("Cartoonize", variant="primary", elem_id="cartoonize-button")
                c_pasted = gr.Image(type="numpy", format="png", label="Pasted back", interactive=False, height=430,
                                    elem_id="cartoonize-pasted")
            with gr.Row():
                c_aligned = gr.Image(type="numpy", format="png", label="Aligned face",
                                     interactive=False, height=300, elem_id="cartoonize-aligned")
                c_cartoon = gr.Image(type="numpy", format="png", label="Cartoon", interactive=False, height=300,
                                     elem_id="cartoonize-cartoon")
        with gr.Tab("Generate", id="generate"):
            if not any(c.kind == "file" for c in models.generate_models.values()):
                gr.Markdown("No local generation checkpoint: start the demo with one, e.g. `ppimg2img demo --weights "
                            "output/quickstart_dcgan/checkpoints/latest.pdckpt`, or download a zoo model of the list.")
            with gr.Row():
                g_model = gr.Dropdown(models.generate_choices(), value=models.default_generate, label="Model",
                                      scale=3)
                g_seed = gr.Number(0, precision=0, minimum=0, label="Seed")
                g_count = gr.Slider(1, MAX_SAMPLES, value=8, step=1, label="Count")
            with gr.Row():
                g_label = gr.Number(-1, precision=0, minimum=-1, label="Class (conditional models; -1: in turn)")
                g_trunc = gr.Slider(0.0, 1.0, value=0.7, step=0.05, label="Truncation (StyleGAN2)")
            g_status = gr.Markdown(models.model_status(models.default_generate))
            g_button = gr.Button("Generate", variant="primary", elem_id="generate-button")
            g_gallery = gr.Gallery(label="Samples", columns=8, format="png", elem_id="generate-output")
        with gr.Tab("Video", id="video"):
            gr.Markdown(f"Each frame goes through the model of the Translate tab's list chosen here; the result "
                        f"keeps the clip's size, frame rate and sound. At most {limits.max_video_seconds:g} s.")
            v_model = gr.Dropdown(models.translate_choices(), value=models.default_translate, label="Model")
            with gr.Row():
                v_in = gr.Video(label="Clip", sources=["upload"], elem_id="video-input")
                v_out = gr.Video(label="Translated", interactive=False, elem_id="video-output")
            v_button = gr.Button("Translate video", variant="primary", elem_id="video-button")

        t_model.change(status, t_model, t_status, api_visibility="private")
        g_model.change(status, g_model, g_status, api_visibility="private")
        t_button.click(errors(translate), [t_in, t_model, t_native], t_out, api_name="translate")
        t_batch.click(errors(translate_files), [t_files, t_model, t_native], [t_gallery, t_pngs],
                      api_name="translate_batch")
        c_button.click(errors(cartoonize), c_in, [c_aligned, c_cartoon, c_pasted], api_name="cartoonize")
        g_button.click(errors(generate), [g_seed, g_count, g_trunc, g_label, g_model], g_gallery,
                       api_name="generate")
        v_button.click(errors(video), [v_in, v_model], v_out, api_name="video")
    return app


# --- the command ------------------------------------------------------------------------------------
def _boolean(text):
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def build_parser(prog="ppimg2img demo"):
    p = argparse.ArgumentParser(
        prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="A local web app (Gradio) for every predictor: translate, cartoonize, generate, video.\n"
                    "Needs the demo extra: pip install -e \".[demo]\".",
        epilog=f"examples:\n  {prog}\n  {prog} --weights output/quickstart_cyclegan/checkpoints/latest.pdckpt\n"
               f"  {prog} --cartoon-weights photo2cartoon_weights.pt --port 8080\nsee docs/demo.md")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1: this machine only; "
                                                      "0.0.0.0: the whole network)")
    p.add_argument("--port", type=int, default=7860, help="port (7860)")
    p.add_argument("--weights", action="append", default=[], metavar="FILE",
                   help="a local checkpoint (repeatable): translation generators join the Translate and Video "
                        "lists (the first is the default), generation ones the Generate list")
    p.add_argument("--cartoon-weights", metavar="FILE",
                   help=f"the Cartoonize tab's photo2cartoon generator (default: the zoo's {DEFAULT_CARTOON_MODEL})")
    p.add_argument("--share", type=_boolean, default=False, metavar="{true,false}",
                   help="also publish the app through a public gradio.live link (false)")
    p.add_argument("--download", action="store_true",
                   help="download zoo weights that are not cached on first use (default: the page names the "
                        "`ppimg2img download` command)")
    p.add_argument("--max-pixels", type=float, default=Limits.max_pixels,
                   help=f"largest image, width x height ({Limits.max_pixels:g})")
    p.add_argument("--max-upload-mb", type=float, default=Limits.max_upload_mb,
                   help=f"largest uploaded file in MB ({Limits.max_upload_mb:g})")
    p.add_argument("--max-video-seconds", type=float, default=Limits.max_video_seconds,
                   help=f"longest video in seconds ({Limits.max_video_seconds:g})")
    p.add_argument("--concurrency", type=int, default=1,
                   help="requests that run at the same time (1); the others wait in the queue")
    p.add_argument("--queue-size", type=int, default=64, help="requests that may wait in the queue (64)")
    from .predictors.commands import add_runtime_arguments
    add_runtime_arguments(p)
    return p


def main(argv=None, prog="ppimg2img demo"):
    """Run the app until interrupted. Returns the exit code (0, 1 error, 2 usage)."""
    p = build_parser(prog)
    args = p.parse_args(argv)
    for name in ("max_pixels", "max_upload_mb", "max_video_seconds", "concurrency", "queue_size"):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name):g}")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a local app
    import importlib.util

    if importlib.util.find_spec("gradio") is None:
        print("error: the demo needs Gradio, which is an extra: pip install -e \".[demo]\" "
              "(or pip install \"ppimg2img[demo]\")", file=sys.stderr)
        return 1
    from .utils.env import setup_logging

    setup_logging(None)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's requests to itself
    warning = host_warning(args.host)
    if warning:
        print(warning, file=sys.stderr)
    if args.share:
        print("warning: --share true: the app also gets a public gradio.live link; anyone who has it can use the "
              "demo", file=sys.stderr)
    limits = Limits(int(args.max_pixels), args.max_upload_mb, args.max_video_seconds)
    try:
        models = DemoModels(args.weights, args.cartoon_weights, limits, download=args.download,
                            backend=args.backend, device=args.device, threads=args.threads)
    except Exception as err:  # a missing, corrupt or misplaced checkpoint: one line, before the server starts
        print(f"error: {_first_line(err)}", file=sys.stderr)
        return 1
    app = build_app(models)
    app.queue(default_concurrency_limit=args.concurrency, max_size=args.queue_size)
    try:
        app.launch(server_name=args.host, server_port=args.port, share=args.share,
                   max_file_size=int(args.max_upload_mb * 1024 * 1024), show_error=False)
    except OSError as err:  # the port is taken
        print(f"error: {_first_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
