"""BasePredictor: load a generator once, then translate images, folders, globs or arrays."""
import hashlib
import logging
import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from ..utils.image_io import ImageReadError, image_to_array, save_image, tensor_to_image
from .inputs import collect_inputs

logger = logging.getLogger("ppimg2img")

BACKENDS = ("auto", "inference", "onnx", "eager")
#: exported runtimes: Paddle Inference, onnxruntime
EXPORTED = ("inference", "onnx")


@dataclass
class RunSummary:
    """What the last :meth:`BasePredictor.run` did. ``succeeded``: sources processed; ``written``:
    files written; ``skipped``: sources whose outputs already existed (``skip_existing``);
    ``failed``: ``(source, message)`` of inputs that could not be processed."""
    total: int = 0
    succeeded: list = field(default_factory=list)
    written: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: list = field(default_factory=list)

    @property
    def headline(self):
        """One line: how many inputs were processed, skipped and failed."""
        text = f"{len(self.succeeded)} of {self.total} images processed"
        if self.skipped:
            text += f", {len(self.skipped)} skipped (already done)"
        return text + (f", {len(self.failed)} failed" if self.failed else "")

    def __str__(self):
        """The headline, then every failed input with its message."""
        return "\n".join([self.headline + (":" if self.failed else "")] + [f"  {s}: {m}" for s, m in self.failed])


def _short_error(err):
    """One line naming the cause (Paddle errors append pages of C++ context)."""
    if isinstance(err, (ImageReadError, FileNotFoundError)):
        return str(err)
    first = (str(err).strip().splitlines() or [""])[0]
    return f"{type(err).__name__}: {first}"


def resize(image, size):
    """Bicubic resize of an RGB uint8 image to ``(height, width)`` (PIL, as the original
    ``transforms.Resize``); returns the image itself when it already has that size."""
    h, w = size
    if image.shape[:2] == (h, w):
        return image
    return np.asarray(Image.fromarray(image).resize((w, h), Image.BICUBIC))


class BasePredictor:
    """Translate images with one generator.

    Args:
        model: a model-zoo name (``ppimg2img models`` lists them), downloaded once into the cache.
        weights: a weights file instead: the original ``.pth``, PaddleGAN's ``.pdparams``, or a
            ppimg2img ``.pdparams``/``.pdckpt``.
        output_dir: when set, :meth:`run` writes ``<output_dir>/<name>.png`` per input and an
            ``index.html`` that shows inputs next to results.
        device: ``'cpu'``, ``'gpu'`` or None (GPU when there is one).
        backend: ``'inference'`` (the generator exported once as a static graph, cached beside the
            weights, run by Paddle Inference with oneDNN on CPU: several times faster than eager),
            ``'onnx'`` (exported once to ONNX, run by onnxruntime on the CPU; needs paddle2onnx and
            onnxruntime, which ``pip install -e ".[cpu]"`` brings), ``'eager'`` (Paddle dynamic graph),
            or ``'auto'``: the fastest measured for the net on this device (:attr:`onnx_on_cpu`: onnx
            when installed, else inference), falling back to the next, then to eager, with a warning
            when an export fails.
        batch_size: images per forward pass.
        size: working side the generator runs at (default: the size the model was trained at: the
            crop size of a ppimg2img training run, 256 for the published models); every input is
            resized to it and the result resized back to the input's size.
        native_size: run at the input's own size rounded to a size the network accepts instead of
            ``size`` (fully convolutional generators; the full U-GAT-IT takes its ``img_size`` only).
        skip_existing: with ``output_dir``, skip inputs whose outputs exist (resume a batch).
        progress: show a progress bar (None: when more than 4 inputs).
        threads: CPU threads (None: every core this process may use).
        net: an already built generator (a ``paddle.nn.Layer``) instead of ``model``/``weights``.
    """

    #: zoo name used when neither ``model`` nor ``weights`` is given
    default_model = None
    #: log the summary of each run (failed inputs by name) at its end
    log_summary = True
    #: which of :meth:`output_suffixes` holds the result :meth:`run` returns
    result_index = 0
    #: key of the net inside multi-net files, per direction
    direction_keys = {"AtoB": None, "BtoA": None}
    #: architectures that ``backend='auto'`` runs with onnxruntime on the CPU (when installed): measured faster
    #: there than Paddle Inference (photo2cartoon 256 px, 2 threads: 0.34 vs 0.41-0.44 s, PyTorch eager 0.37 s;
    #: U-GAT-IT, CycleGAN, pix2pix: no faster or slower; benchmarks/README.md, issue 23)
    onnx_on_cpu = ("photo2cartoon",)

    def __init__(self, model=None, weights=None, output_dir=None, device=None, backend="auto", batch_size=1,
                 size=None, native_size=False, skip_existing=False, progress=None, threads=None, net=None,
                 direction="AtoB"):
        from ..utils.env import set_device, set_threads

        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if direction not in self.direction_keys:
            raise ValueError(f"{type(self).__name__}: unknown direction {direction!r}; use one of "
                             f"{', '.join(self.direction_keys)}")
        self.output_dir, self.batch_size = output_dir, int(batch_size)
        self.native_size, self.skip_existing, self.progress = bool(native_size), bool(skip_existing), progress
        self.device = set_device(device)
        self.threads = set_threads(threads)
        self.direction = direction
        self.net, self.weights_file = self._load_net(model, weights, net, self.direction_keys[direction])
        arch, kwargs = getattr(self.net, "ppimg2img_arch", (type(self.net).__name__, {}))
        self.arch, self.arch_kwargs = arch, dict(kwargs)
        self.input_nc = int(self.arch_kwargs.get("input_nc", 3))
        self.size = self._working_side(size)
        self.summary = RunSummary()
        self.backend = self._start_backend(backend)

    # --- loading -----------------------------------------------------------------------------
    def _load_net(self, model, weights, net, key):
        from ..weights import load_generator

        given = [n for n, v in (("model", model), ("weights", weights), ("net", net)) if v is not None]
        if len(given) > 1:
            raise ValueError(f"{type(self).__name__}: give one of model=, weights= or net=, not {' and '.join(given)}")
        if net is not None:
            net.eval()
            return net, None
        if weights is not None:
            path = os.fspath(weights)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"weights file not found: {path} (give a .pth, .pdparams or .pdckpt file, "
                                        f"or model='<zoo name>': `ppimg2img models` lists them)")
            return load_generator(path, key=key), path
        name = model or self.default_model
        if name is None:
            raise ValueError(f"{type(self).__name__} needs model='<zoo name>' (see `ppimg2img models`) or "
                             f"weights='<file>'")
        from ..weights import zoo

        net = load_generator(name, key=key)
        return net, zoo.converted_path(name) if key is None else zoo.weights_path(name)

    # --- sizes ---------------------------------------------------------------------------------
    def _size_multiple(self):
        """Image sides must be multiples of this (None: only ``img_size`` fits)."""
        if self.arch.startswith("unet_"):
            return 2 ** {"unet_256": 8, "unet_128": 7}[self.arch]
        if self.arch in ("ugatit", "photo2cartoon") and not self.arch_kwargs.get("light", True):
            return None
        return 16 if self.arch == "photo2cartoon" else 4

    def _default_side(self):
        """The full U-GAT-IT's ``img_size``; else the crop size of the training run when the weights
        are a ppimg2img checkpoint; else the published models' size (256; unet_128: 128; U-GAT-IT: img_size)."""
        full = self.arch in ("ugatit", "photo2cartoon") and not self.arch_kwargs.get("light", True)
        trained = getattr(self.net, "ppimg2img_trained_size", None)
        if trained and not full:
            return trained
        if self.arch in ("ugatit", "photo2cartoon"):
            return int(self.arch_kwargs.get("img_size", 256))
        return {"unet_128": 128}.get(self.arch, 256)

    def _working_side(self, size):
        multiple = self._size_multiple()
        if self.native_size and multiple is None:  # a preference: this net takes one size only
            logger.info("%s (light: false) only takes %dx%d images: resizing every input to that size",
                        self.arch, self._default_side(), self._default_side())
            self.native_size = False
        side = int(size) if size else self._default_side()
        if multiple is None and side != self._default_side():
            raise ValueError(f"{self.arch} (light: false) was built for {self._default_side()} px images; got size={side}")
        if multiple and side % multiple:
            raise ValueError(f"size={side} does not fit {self.arch}: use a multiple of {multiple}")
        return side

    def working_size(self, height, width):
        """``(height, width)`` an image of that size is translated at."""
        if not self.native_size:
            return self.size, self.size
        m = self._size_multiple()
        return max(m, round(height / m) * m), max(m, round(width / m) * m)

    # --- backends ------------------------------------------------------------------------------
    def _export_prefix(self, runtime="inference"):
        """Where the exported graph (``runtime``: 'inference' or 'onnx') is cached: beside the weights file
        when that folder is writable, else in the ppimg2img cache; a temporary folder for a net given directly."""
        fixed = self._export_side()
        tag = f"{self.arch}_{self.direction}" + (f"_{fixed}" if fixed else "") + ("_onnx" if runtime == "onnx" else "")
        if self.weights_file is None:  # nothing to cache against: a temporary folder, removed with the predictor
            folder = tempfile.mkdtemp(prefix="ppimg2img-export-")
            weakref.finalize(self, shutil.rmtree, folder, True)
            return os.path.join(folder, tag, "model")
        folder = os.path.dirname(os.path.abspath(self.weights_file))
        base = os.path.basename(self.weights_file) + ".inference"
        if not os.access(folder, os.W_OK):
            from ..utils.download import get_cache_dir

            digest = hashlib.sha1(os.path.abspath(self.weights_file).encode()).hexdigest()[:16]
            folder, base = os.path.join(get_cache_dir(), "inference"), digest
        return os.path.join(folder, base, tag, "model")

    def _can_export(self):
        return True

    def _export_side(self):
        """The side the export fixes, or None (sizes left dynamic). Fixed: the full U-GAT-IT (its MLP reads
        an ``img_size`` map), and U-GAT-IT light / photo2cartoon when every input is resized to
        :attr:`size` (``native_size`` off): their norms' plane means then export as row-then-column pools,
        closer to float64 than one global pool (photo2cartoon 256 px: 2.4e-5 instead of 2.9e-4), at the
        same speed. :meth:`translate` runs other sizes in eager mode."""
        if self._size_multiple() is None or (not self.native_size and self.arch in ("ugatit", "photo2cartoon")):
            return self.size
        return None

    def _runtimes(self, backend):
        """The exported runtimes ``backend`` tries, in order."""
        if backend != "auto":
            return [backend]
        from ..export.onnx import onnx_runtime_available

        cpu = not str(self.device or "cpu").startswith("gpu")
        onnx = cpu and self.arch in self.onnx_on_cpu and onnx_runtime_available()
        return ["onnx", "inference"] if onnx else ["inference"]

    def _start_backend(self, backend):
        if backend == "eager" or (backend == "auto" and not self._can_export()):
            return "eager"
        if backend in EXPORTED and not self._can_export():
            raise ValueError(f"{type(self).__name__}: this configuration cannot run as an exported graph; "
                             f"use backend='eager'")
        from ..export.paddle_graph import ExportError

        arch = f"{self.arch} {sorted(self.arch_kwargs.items())} {self.direction}"
        runtimes = self._runtimes(backend)
        names = {"onnx": "onnxruntime", "inference": "Paddle Inference"}
        for i, runtime in enumerate(runtimes):
            try:
                from ..export.inference import load_or_export, weights_fingerprint
                from ..export.onnx import load_or_export_onnx

                # the export's own stamp adds the Paddle version, input settings and file sizes
                fingerprint = weights_fingerprint(self.weights_file, arch) if self.weights_file else arch
                fixed = self._export_side()
                prefix = self._export_prefix(runtime)
                if runtime == "onnx":
                    self._graph = load_or_export_onnx(self.net, prefix, fingerprint, input_nc=self.input_nc,
                                                      image_size=fixed, threads=self.threads)
                else:
                    self._graph = load_or_export(self.net, prefix, fingerprint, input_nc=self.input_nc,
                                                 image_size=fixed, device=self.device, threads=self.threads)
                return runtime
            except (ExportError, ImportError, RuntimeError, OSError) as err:
                if backend != "auto":
                    raise
                then = (f"trying {names[runtimes[i + 1]]}" if i + 1 < len(runtimes)
                        else "running the generator in eager mode, which is slower on CPU")
                logger.warning("%s backend unavailable (%s); %s", names[runtime], _short_error(err), then)
        return "eager"

    def _forward(self, x):
        """NCHW float32 in [-1, 1] -> the generator's NCHW float32 image output."""
        fixed = self._export_side() if self.backend in EXPORTED else None
        if self.backend in EXPORTED and (fixed is None or tuple(x.shape[2:]) == (fixed, fixed)):
            return self._graph(x)
        import paddle

        with paddle.no_grad():
            out = self.net(paddle.to_tensor(x))
        return (out[0] if isinstance(out, (tuple, list)) else out).numpy()

    # --- the work ------------------------------------------------------------------------------
    def _to_input(self, image):
        """HxWx3 uint8 at the working size -> CHW float32 the generator takes."""
        if self.input_nc == 1:
            image = np.asarray(Image.fromarray(image).convert("L"))
        return image_to_array(image)

    def _from_output(self, out, image):
        """The generator's CHW output -> HxWx3 uint8 (``image`` is its input)."""
        return tensor_to_image(out)

    def translate(self, images):
        """Translate RGB uint8 images that already have a size the generator takes (no resize,
        no face step). ``images``: one HxWx3 array, an NxHxWx3 array or a list; returns a list."""
        if isinstance(images, np.ndarray) and images.ndim == 3:
            images = [images]
        images = list(images)
        results = [None] * len(images)
        by_shape = {}
        for i, image in enumerate(images):
            by_shape.setdefault(np.asarray(image).shape[:2], []).append(i)
        for indexes in by_shape.values():
            for start in range(0, len(indexes), self.batch_size):
                chunk = indexes[start:start + self.batch_size]
                x = np.stack([self._to_input(np.asarray(images[i], dtype=np.uint8)) for i in chunk])
                for i, out in zip(chunk, self._forward(x)):
                    results[i] = self._from_output(out, images[i])
        return results

    def prepare(self, image, source):
        """One input photo -> ``(list of images at the working size, context)``."""
        return [resize(image, self.working_size(*image.shape[:2]))], None

    def finish(self, image, outputs, context):
        """The translated images of one input -> ``(result, {file suffix: image to write})``."""
        result = resize(outputs[0], image.shape[:2])
        return result, {"": result}

    def output_suffixes(self):
        """Suffixes of the files :meth:`finish` writes per input (``<name><suffix>.png``)."""
        return ("",)

    def _output_paths(self, name):
        return [os.path.join(self.output_dir, f"{name}{s}.png") for s in self.output_suffixes()]

    def _process_chunk(self, chunk):
        """Translate a chunk of items together (one forward per batch); per item ``(result, files)`` or an error."""
        prepared, done = [], {}
        for item in chunk:
            try:
                image = item.read()
                nets_in, ctx = self.prepare(image, item.source)
                prepared.append((item, image, nets_in, ctx))
            except Exception as err:  # a bad file must not stop the batch
                done[id(item)] = err
        flat = [x for _, _, nets_in, _ in prepared for x in nets_in]
        try:
            outs = self.translate(flat) if flat else []
        except Exception:  # find the culprit: translate each item alone
            outs = None
        pos = 0
        for item, image, nets_in, ctx in prepared:
            try:
                if outs is None:
                    mine = self.translate(nets_in) if nets_in else []
                else:
                    mine = outs[pos:pos + len(nets_in)]
                pos += len(nets_in)
                done[id(item)] = self.finish(image, mine, ctx)
            except Exception as err:
                done[id(item)] = err
        return [(item, done[id(item)]) for item in chunk]

    def run(self, inputs):
        """Process ``inputs``: a path, a folder (recursive), a glob pattern, a list of those, an
        RGB uint8 array or a PIL image (grayscale, RGBA and 16-bit are converted).

        Returns the result (an RGB uint8 array the size of the input) for one input; a list of
        results, in input order, for a folder, a glob or a list. Inputs that cannot be read or
        processed are skipped and reported (logged, and in :attr:`summary`); a single input
        that fails raises its error. With ``output_dir`` the results are written there too;
        with ``skip_existing`` inputs already done are not processed again (a single one returns
        its result read back, a list leaves them out: see ``summary.skipped``).
        """
        from tqdm import tqdm

        items, many = collect_inputs(inputs)
        self.summary = summary = RunSummary(total=len(items))
        results, rows = [], []
        todo = []
        for item in items:
            if self.output_dir and self.skip_existing and all(map(os.path.isfile, self._output_paths(item.name))):
                summary.skipped.append(item.source)
            else:
                todo.append(item)
        show = self.progress if self.progress is not None else len(todo) > 4
        bar = tqdm(total=len(todo), desc=type(self).__name__.replace("Predictor", "").lower() or "predict",
                   unit="img", disable=not show)
        for start in range(0, len(todo), self.batch_size):
            for item, outcome in self._process_chunk(todo[start:start + self.batch_size]):
                bar.update(1)
                if isinstance(outcome, Exception):
                    if not many:
                        bar.close()
                        raise outcome
                    summary.failed.append((item.source, _short_error(outcome)))
                    continue
                result, files = outcome
                results.append(result)
                summary.succeeded.append(item.source)
                if self.output_dir:
                    rows.append(self._write(item, files))
        bar.close()
        if self.output_dir and (rows or summary.failed):
            self._write_page(rows, summary)
        if self.log_summary and summary.failed:  # every bad input, by name, once at the end
            logger.warning("%s", summary)
        elif self.log_summary and many and len(items) > 4:
            logger.info("%s", summary)
        if many:
            return results
        if summary.skipped:  # a single input done before: its result as written
            from ..utils.image_io import load_image

            return load_image(self._output_paths(items[0].name)[self.result_index])
        return results[0]

    def _write(self, item, files):
        written = []
        for suffix, image in files.items():
            path = os.path.join(self.output_dir, f"{item.name}{suffix}.png")
            save_image(path, image)
            written.append(path)
        self.summary.written += written
        cells = [os.path.relpath(p, self.output_dir).replace(os.sep, "/") for p in written]
        if item.path is not None:
            cells.insert(0, os.path.relpath(os.path.abspath(item.path), os.path.abspath(self.output_dir))
                         .replace(os.sep, "/"))
        else:
            cells.insert(0, None)
        return item.name.replace(os.sep, "/"), cells

    def _write_page(self, rows, summary):
        from ..engine.visual import write_results_page

        columns = ["input"] + [s.strip("_") or "result" for s in self.output_suffixes()]
        notes = [summary.headline] + [f"failed {s}: {m}" for s, m in summary.failed]
        write_results_page(self.output_dir, type(self).__name__, columns, rows, notes)
