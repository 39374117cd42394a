"""Fast generator inference: the exported static graph run by Paddle Inference (oneDNN on CPU).

:func:`load_or_export` exports a generator once next to its weights and reuses the export while
the caller's fingerprint (weights file, architecture) is unchanged; :class:`InferenceGenerator`
runs it on NCHW float32 batches of any size the graph accepts.

Two export-time rewrites make the CPU graph faster (measured in benchmarks/README.md, "Prediction
backends"): reflection/replication padding (``nn.Pad2D``, Paddle's ``pad3d`` op, slow under oneDNN)
becomes slices and a concat of the same pixels (:class:`SlicePad2D`, identical outputs), and
parameter-free instance normalisation (a plain CPU kernel, with layout conversions around it)
becomes oneDNN global pooling and element-wise ops (:class:`PoolInstanceNorm2D`, equal up to
float32 rounding: ~1e-6 per layer, 3e-5 at the output of a 256 px CycleGAN generator; not for
photo2cartoon by default, see :func:`default_pool_norm`).
"""
import contextlib
import json
import logging
import os
import re
import tempfile
import threading

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

from ..nets.conv import slice_pad_axis as _pad_axis
from ..nets.norm import PlaneInstanceNorm2D, static_instance_norm
from ..utils.env import discard_stdout
from .paddle_graph import ExportError, export_generator, model_files

logger = logging.getLogger("ppimg2img")

#: version of the export recipe: bump it when the exported graph changes, so old exports are redone
EXPORT_RECIPE = "slice-pad+pool-instance-norm+onednn-layer-norm-v3"
#: input shapes whose oneDNN kernels a predictor keeps (bounded: native-size prediction sees many)
SHAPE_CACHE = 8


class SlicePad2D(nn.Layer):
    """``nn.Pad2D`` in 'reflect' or 'replicate' mode (NCHW) built from slices and one concat per
    axis: the same pixels as ``pad3d``, which Paddle Inference with oneDNN runs several times
    slower than a concat. Reflect padding needs ``pad < size`` along each axis, as ``pad3d``."""

    def __init__(self, padding, mode):
        super().__init__()
        if mode not in ("reflect", "replicate"):
            raise ValueError(f"SlicePad2D supports 'reflect' and 'replicate', got {mode!r}")
        self.padding = list(padding)  # [left, right, top, bottom], as nn.Pad2D
        self.mode = mode

    def forward(self, x):
        left, right, top, bottom = self.padding
        return _pad_axis(_pad_axis(x, 3, left, right, self.mode), 2, top, bottom, self.mode)


class PoolInstanceNorm2D(nn.Layer):
    """``nn.InstanceNorm2D`` without affine parameters (NCHW), as ``(x - mean) / sqrt(var + eps)``
    with the per-channel means taken by global average pooling: every op then runs in oneDNN
    (which also fuses a following ReLU), where Paddle's ``instance_norm`` is a plain CPU kernel
    that needs layout conversions around it. Biased variance, as InstanceNorm."""

    def __init__(self, epsilon):
        super().__init__()
        self.epsilon = float(epsilon)

    def forward(self, x):
        centred = x - F.adaptive_avg_pool2d(x, 1)
        return centred * paddle.rsqrt(F.adaptive_avg_pool2d(centred * centred, 1) + self.epsilon)


def _replacement(layer, pool_norm):
    """The faster equivalent of ``layer`` for the exported graph, or None."""
    if isinstance(layer, nn.Pad2D) and layer._mode in ("reflect", "replicate") and layer._data_format == "NCHW":
        padding = layer.padding if isinstance(layer.padding, (list, tuple)) else [layer.padding] * 4
        return SlicePad2D(padding, layer._mode)
    if (pool_norm and isinstance(layer, nn.InstanceNorm2D) and not isinstance(layer, PlaneInstanceNorm2D)
            and layer.scale is None and layer.bias is None and layer._data_format == "NCHW"):
        # (PlaneInstanceNorm2D, U-GAT-IT's and photo2cartoon's, exports as oneDNN ops already, centred twice)
        return PoolInstanceNorm2D(layer._epsilon)
    return None


def default_pool_norm(net):
    """Whether :func:`load_or_export` swaps ``net``'s instance norms for :class:`PoolInstanceNorm2D`
    by default: yes, except for photo2cartoon. Its generator has ~100 instance norms on small maps:
    their 7 oneDNN ops each add ~2 s to a predictor's first call (oneDNN prepares every op then)
    and save nothing measurable per image, while for CycleGAN they save ~10% per image."""
    from ..nets.photo2cartoon import Photo2CartoonGenerator
    return not any(isinstance(layer, Photo2CartoonGenerator) for layer in net.sublayers(include_self=True))


@contextlib.contextmanager
def inference_layers(net, pool_norm=True):
    """Temporarily replace ``net``'s reflect/replicate ``nn.Pad2D`` layers by :class:`SlicePad2D`
    and (with ``pool_norm``) its parameter-free ``nn.InstanceNorm2D`` layers by
    :class:`PoolInstanceNorm2D` (NCHW), and take U-GAT-IT's and photo2cartoon's norms by oneDNN's
    layer norm (:func:`~ppimg2img.nets.norm.static_instance_norm`), for an export; the original layers
    are back on exit."""
    swapped = []
    for parent in net.sublayers(include_self=True):
        for name, sub in list(parent._sub_layers.items()):
            new = _replacement(sub, pool_norm)
            if new is not None:
                parent._sub_layers[name] = new
                swapped.append((parent, name, sub))
    try:
        with static_instance_norm("layer_norm"):
            yield net
    finally:
        for parent, name, sub in swapped:
            parent._sub_layers[name] = sub


class InferenceGenerator:
    """A generator exported by :func:`~ppimg2img.export.paddle_graph.export_generator`, run by
    Paddle Inference: oneDNN on CPU (``threads`` threads, None: every core this process may use,
    see :func:`ppimg2img.utils.env.default_threads`), CUDA with ``device='gpu'``.

    ``gen(x)`` takes an NCHW float32 array in [-1, 1] (any batch, any size the net accepts) and
    returns the NCHW float32 output. Calls are serialised (one predictor is not thread-safe).
    oneDNN keeps its prepared kernels for the last ``shape_cache`` input shapes (0: every shape
    ever seen, which makes memory grow when every image has its own size).
    """

    def __init__(self, path_prefix, device="cpu", threads=None, shape_cache=SHAPE_CACHE):
        from paddle import inference as paddle_infer

        from ..utils.env import default_threads

        graph, params = model_files(path_prefix)
        missing = [f for f in (graph, params) if not os.path.isfile(f)]
        if missing:
            raise ExportError(f"no exported generator at {path_prefix}: {', '.join(missing)} missing; "
                              f"export it first (ppimg2img.export.paddle_graph.export_generator or load_or_export)")
        self.path_prefix = path_prefix
        device = device or "cpu"
        config = paddle_infer.Config(graph, params)
        if device.startswith("gpu"):
            if not paddle.is_compiled_with_cuda():
                raise ExportError(f"device {device!r} requested, but this Paddle build has no CUDA support; "
                                  f"install the GPU build or use device='cpu'")
            device_id = int(device.split(":", 1)[1]) if ":" in device else 0
            config.enable_use_gpu(256, device_id)
            self.threads = None
        else:
            config.disable_gpu()
            self.threads = int(threads) if threads else default_threads()
            # oneDNN kernels read the thread count from this setting, not OMP_NUM_THREADS
            config.set_cpu_math_library_num_threads(self.threads)
            if paddle.base.core.is_compiled_with_mkldnn():
                config.enable_mkldnn()
                if shape_cache:
                    config.set_mkldnn_cache_capacity(int(shape_cache))
        self.device = device
        config.disable_glog_info()
        try:
            with discard_stdout():
                self._predictor = paddle_infer.create_predictor(config)
        except Exception as err:  # Paddle's messages are long: keep the informative line
            raise ExportError(f"could not load the exported generator {graph} / {params}: "
                              f"{_first_line(err)}. Delete these files to export again.") from err
        self._input = self._predictor.get_input_handle(self._predictor.get_input_names()[0])
        self._output = self._predictor.get_output_handle(self._predictor.get_output_names()[0])
        self._ran = False
        self._lock = threading.Lock()

    def __call__(self, x):
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 4:
            raise ValueError(f"InferenceGenerator expects an NCHW batch (4 dimensions), got shape {x.shape}")
        with self._lock:
            self._input.reshape(list(x.shape))
            self._input.copy_from_cpu(x)
            # oneDNN's kernel choice prints (see utils.env.discard_stdout) come at the first run only
            quiet = contextlib.nullcontext() if self._ran else discard_stdout()
            try:
                with quiet:
                    self._predictor.run()
            except Exception as err:
                why = _first_line(err)
                if why == "std::exception":  # what a too-small input gives (reflect padding, slices)
                    why += " (is the image too small for the net's padding and downsampling?)"
                raise ValueError(f"the exported generator {self.path_prefix} cannot run an input of shape "
                                 f"{tuple(x.shape)}: {why}") from err
            self._ran = True
            return self._output.copy_to_cpu()

    def __repr__(self):
        return f"InferenceGenerator({self.path_prefix!r}, device={self.device!r}, threads={self.threads})"


def _first_line(err):
    """The informative line of a Paddle error: its messages quote code and tracebacks first and
    end with ``SomeError: what went wrong`` (C++ errors: ``(InvalidArgument) ...``)."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    causes = [line for line in lines if re.match(r"(\(\w+\) |\w*(Error|Exception): )", line)]
    line = causes[-1] if causes else (lines[0] if lines else type(err).__name__)
    return line if len(line) <= 400 else line[:400] + "..."


def _stamp_path(path_prefix):
    return path_prefix + ".fingerprint.json"


def _stamp(path_prefix, fingerprint, input_nc, image_size, pool_norm):
    """What the fingerprint file holds: the caller's fingerprint, the export's input settings, the
    export recipe and Paddle version, and the size of each model file (a truncated file then never
    counts as exported)."""
    files = {}
    for f in model_files(path_prefix):
        files[os.path.basename(f)] = os.path.getsize(f) if os.path.isfile(f) else None
    return {"fingerprint": str(fingerprint), "input_nc": int(input_nc),
            "image_size": None if image_size is None else int(image_size), "recipe": EXPORT_RECIPE,
            "pool_norm": pool_norm,
            "paddle": paddle.__version__, "files": files}


def _read_stamp(path_prefix):
    try:
        with open(_stamp_path(path_prefix), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _write_stamp(path_prefix, stamp):
    folder = os.path.dirname(os.path.abspath(path_prefix))
    fd, tmp = tempfile.mkstemp(prefix=".fingerprint-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(stamp, f, indent=1)
        os.replace(tmp, _stamp_path(path_prefix))
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def _export_lock(path_prefix):
    """An exclusive lock on ``<prefix>.lock`` (POSIX): two processes exporting the same model wait
    for each other instead of mixing their files. No-op where ``fcntl`` is missing."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    os.makedirs(os.path.dirname(os.path.abspath(path_prefix)), exist_ok=True)
    with open(path_prefix + ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def is_current(path_prefix, fingerprint, input_nc=3, image_size=None, pool_norm=None):
    """Whether ``path_prefix`` holds a complete export made for ``fingerprint`` (and these
    :func:`load_or_export` settings) by this export recipe and Paddle version."""
    stamp = _read_stamp(path_prefix)
    return stamp is not None and stamp == _stamp(path_prefix, fingerprint, input_nc, image_size, pool_norm)


def load_or_export(net, path_prefix, fingerprint, input_nc=3, image_size=None, device="cpu", threads=None,
                   pool_norm=None):
    """An :class:`InferenceGenerator` for ``net``, exported to ``path_prefix`` only when needed.

    ``fingerprint`` is any string that changes when the generator does (e.g. the weights file's
    size, mtime and architecture). An export made with the same fingerprint (and the same
    ``input_nc``/``image_size``, export recipe and Paddle version) is reused; otherwise ``net`` (a
    Layer, or a function returning one, called only when an export is needed) is exported again with
    ``export_generator(net, path_prefix, input_nc, image_size)`` under :func:`inference_layers`
    (faster pads; instance norms too when ``pool_norm``, None: :func:`default_pool_norm`). The
    fingerprint file ``<prefix>.fingerprint.json`` is written last, with the exported files' sizes:
    an interrupted export, or files truncated later, lead to a new export, never to a broken model.
    Raises :class:`ExportError` when the net cannot be exported or loaded.
    """
    with _export_lock(path_prefix):
        if is_current(path_prefix, fingerprint, input_nc, image_size, pool_norm):
            try:
                return InferenceGenerator(path_prefix, device, threads)
            except ExportError as err:
                logger.warning("the cached export %s cannot be loaded (%s): exporting it again", path_prefix, err)
        with contextlib.suppress(FileNotFoundError):
            os.remove(_stamp_path(path_prefix))  # from here until the new stamp, the export is not valid
        layer = net if isinstance(net, nn.Layer) else net()
        if not isinstance(layer, nn.Layer):
            raise ExportError(f"load_or_export needs a paddle.nn.Layer (or a function returning one) to export "
                              f"to {path_prefix}, got {type(layer).__name__}")
        try:
            with inference_layers(layer, default_pool_norm(layer) if pool_norm is None else pool_norm):
                export_generator(layer, path_prefix, input_nc=input_nc, image_size=image_size)
        except ExportError as err:  # its message keeps Paddle's first line, often "In transformed code:"
            cause = err.__cause__ or err
            raise ExportError(f"could not export {type(layer).__name__} to {path_prefix}: "
                              f"{_first_line(cause)}") from cause
        gen = InferenceGenerator(path_prefix, device, threads)  # loads: only a usable export gets a stamp
        _write_stamp(path_prefix, _stamp(path_prefix, fingerprint, input_nc, image_size, pool_norm))
        return gen


def weights_fingerprint(weights_path, arch=""):
    """A fingerprint for :func:`load_or_export` from a weights file (absolute path, size, mtime in
    nanoseconds) and an architecture description (e.g. ``"resnet_9blocks ngf=64"``)."""
    st = os.stat(weights_path)
    return f"{os.path.abspath(weights_path)}|{st.st_size}|{st.st_mtime_ns}|{arch}"
