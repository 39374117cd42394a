"""ONNX export of the graphs :func:`~ppimg2img.export.paddle_graph.export_generator` writes,
through paddle2onnx, and :class:`OnnxGenerator` to run them with onnxruntime.

Both packages are optional (``pip install paddle2onnx onnxruntime``) and imported on first use.
paddle2onnx 2.1 reads Paddle 3.x PIR graphs (``.json``) with its ``export(model_file,
params_file)`` call; its output needs three repairs, made here before the file is written:

* ``LeakyRelu`` alpha: Paddle 3.3 stores ``negative_slope`` as a double (Paddle PR #75547),
  paddle2onnx 2.1 reads it as a float and writes a garbage alpha (6e28 for 0.2, so U-Nets give
  NaN); it is set from the Paddle graph. The same for constant ``Pad`` values (pad3d's
  ``pad_value``: uninitialised bytes, so StyleGAN2's zero-insertion padding was garbage).
* output shape: the graph output is declared ``[batch, C, 0, 0]``; batch and spatial sizes
  become the input's (every ppimg2img generator keeps the image size).
* unused constants (paddle2onnx leaves some behind) are dropped, so onnxruntime does not warn
  about each one at load time.
"""
import contextlib
import json
import logging
import os
import sys

import numpy as np

from .paddle_graph import ExportError, model_files

logger = logging.getLogger("ppimg2img")

INSTALL_HINT = "pip install paddle2onnx onnxruntime"
DEFAULT_OPSET = 11  # raised automatically by paddle2onnx when an operator needs a newer one


def _require(module):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"ONNX export/inference needs {module}, which is not installed: "
                          f"{INSTALL_HINT} (original error: {err})") from None


def _walk_ops(node):
    """Every operation dict (``{"#": "1.name", "A": [attributes], ...}``) in a PIR .json graph."""
    if isinstance(node, dict):
        if isinstance(node.get("#"), str) and isinstance(node.get("A"), list):
            yield node
        for value in node.values():
            yield from _walk_ops(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_ops(value)


def _op_attributes(graph_file, names):
    """The attributes ({name: value}) of every operation called one of ``names`` in a PIR .json
    graph, in program order."""
    with open(graph_file, encoding="utf-8") as f:
        program = json.load(f)
    return [{a.get("N"): a.get("AT", {}).get("D") for a in op["A"] if isinstance(a, dict)}
            for op in _walk_ops(program) if op["#"].split(".", 1)[-1] in names]


def _leaky_relu_slopes(graph_file):
    """``negative_slope`` of each leaky_relu of a PIR .json graph, in program order."""
    return [float(a.get("negative_slope", 0.01)) for a in _op_attributes(graph_file, ("leaky_relu", "leaky_relu_"))]


def _constant_pad_values(graph_file):
    """``pad_value`` of each constant-mode pad3d of a PIR .json graph, in program order."""
    return [float(a.get("pad_value", 0.0)) for a in _op_attributes(graph_file, ("pad3d", "pad3d_"))
            if a.get("mode", "constant") == "constant"]


def _repair_pad_values(model, graph_file):
    """Constant ``Pad`` values: Paddle 3.3 stores pad3d's ``pad_value`` as a double too, and paddle2onnx
    2.1 writes uninitialised bytes (the padding is garbage, different on every run); set from the graph."""
    import onnx.numpy_helper as nph

    pads = [n for n in model.graph.node if n.op_type == "Pad" and len(n.input) > 2 and n.input[2]
            and any(a.name == "mode" and a.s in (b"constant", "constant") for a in n.attribute)]
    if not pads:
        return
    values = _constant_pad_values(graph_file)
    if len(values) != len(pads):
        raise ExportError(f"{graph_file}: {len(values)} constant pad3d ops in the Paddle graph but {len(pads)} "
                          f"constant Pad nodes in the ONNX graph; cannot restore their values")
    producers = {o: n for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    for pad, value in zip(pads, values):
        const = producers.get(pad.input[2])
        if const is None:
            raise ExportError(f"{graph_file}: an ONNX Pad value that is not a constant ({pad.input[2]})")
        for attr in const.attribute:
            if attr.name == "value":
                old = nph.to_array(attr.t)
                attr.t.CopyFrom(nph.from_array(np.full(old.shape, value, dtype=old.dtype), attr.t.name))


def _set_dim(dim, value):
    if isinstance(value, str):
        dim.dim_param = value
    else:
        dim.dim_value = int(value)


def _repair(model, graph_file):
    """The three repairs of the module docstring; returns the model."""
    nodes = [n for n in model.graph.node if n.op_type == "LeakyRelu"]
    if nodes:
        if not graph_file.endswith(".json"):
            raise ExportError(f"{graph_file}: ONNX export of LeakyRelu needs the PIR .json graph of Paddle 3")
        slopes = _leaky_relu_slopes(graph_file)
        if len(slopes) != len(nodes):
            raise ExportError(f"{graph_file}: {len(slopes)} leaky_relu ops in the Paddle graph but {len(nodes)} "
                              f"LeakyRelu nodes in the ONNX graph; cannot restore their slopes")
        for node, slope in zip(nodes, slopes):
            for attr in node.attribute:
                if attr.name == "alpha":
                    attr.f = slope
    _repair_pad_values(model, graph_file)
    # inputs: x [N, C, H, W] (translation), or z [N, nz] and labels [N] (generation); the
    # output has the batch of the inputs, and an image input's size
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    for inp in inputs:
        dims = inp.type.tensor_type.shape.dim
        for dim, name in zip(dims, ("batch", None, "height", "width")[:len(dims)]):
            if name and not dim.HasField("dim_value"):
                _set_dim(dim, name)
    in_dims = inputs[0].type.tensor_type.shape.dim
    copied = (0, 2, 3) if len(in_dims) == 4 else (0,)
    for out in model.graph.output:
        out_dims = out.type.tensor_type.shape.dim
        if len(out_dims) == 4:
            for i in copied:
                src = in_dims[i]
                _set_dim(out_dims[i], src.dim_value if src.HasField("dim_value") else src.dim_param)
    if not any(a.type in (a.GRAPH, a.GRAPHS) for n in model.graph.node for a in n.attribute):  # no subgraphs
        while True:  # drop nodes (constants) whose outputs nothing reads, then unread initializers
            used = {name for node in model.graph.node for name in node.input}
            used |= {out.name for out in model.graph.output}
            dead = [n for n in model.graph.node if not any(o in used for o in n.output)]
            if not dead:
                break
            for node in dead:
                model.graph.node.remove(node)
        for init in [i for i in model.graph.initializer if i.name not in used]:
            model.graph.initializer.remove(init)
    return model


@contextlib.contextmanager
def _native_stdout_to_stderr():
    """paddle2onnx's C++ code prints progress on file descriptor 1; send it to stderr so that
    stdout keeps only what the caller prints (tools/export_model.py lists the files there)."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no file descriptor 1 (some embedded interpreters): leave it alone
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def export_onnx(path_prefix, onnx_file, opset=None):
    """Convert the graph written by ``export_generator(net, path_prefix)`` to ``onnx_file``.

    Batch, height and width stay dynamic where the Paddle graph has them dynamic (named
    ``batch``, ``height``, ``width``). ``opset``: the lowest ONNX opset to use (default 11;
    paddle2onnx raises it when an operator needs a newer one). The file is written to a
    temporary name and renamed, so an interrupted export never leaves a half-written model.
    Returns ``onnx_file``.
    """
    graph, params = model_files(path_prefix)
    if not os.path.isfile(graph) or not os.path.isfile(params):
        raise ExportError(f"{path_prefix}: no exported Paddle graph there ({os.path.basename(graph)} and "
                          f"{os.path.basename(params)} are written by export_generator); export it first")
    paddle2onnx = _require("paddle2onnx")
    onnx = _require("onnx")  # a dependency of paddle2onnx
    try:
        # save_file=None returns the bytes (and skips paddle2onnx's optional polygraphy pass)
        with _native_stdout_to_stderr():
            data = paddle2onnx.export(graph, params, save_file=None,
                                      opset_version=int(opset or DEFAULT_OPSET), auto_upgrade_opset=True)
        model = onnx.load_from_string(data)
    except Exception as err:  # paddle2onnx logs the cause, then fails on an unset result
        raise ExportError(f"paddle2onnx could not convert {graph} ({type(err).__name__}: {err}; its log above "
                          f"names the operator). The Paddle Inference graph is still usable.") from err
    model = _repair(model, graph)
    try:
        onnx.checker.check_model(model)
    except Exception as err:  # onnx.checker.ValidationError
        raise ExportError(f"{graph}: the converted ONNX model is invalid: {err}") from err
    folder = os.path.dirname(os.path.abspath(onnx_file))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{onnx_file}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(model.SerializeToString())
        os.replace(tmp, onnx_file)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return onnx_file


class OnnxGenerator:
    """An exported generator run by onnxruntime on the CPU.

    ``OnnxGenerator("netG_A.onnx")(x)``: ``x`` an NCHW float32 array in [-1, 1] -> the translated
    NCHW float32 array. ``threads``: onnxruntime intra-op threads (default: its own choice,
    every physical core).
    """

    def __init__(self, onnx_file, threads=None):
        if not os.path.isfile(onnx_file):
            raise FileNotFoundError(f"{onnx_file}: ONNX model not found (write it with tools/export_model.py "
                                    f"--onnx or ppimg2img.export.onnx.export_onnx)")
        ort = _require("onnxruntime")
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only
        if threads:
            options.intra_op_num_threads = int(threads)
        self.onnx_file = onnx_file
        self.session = ort.InferenceSession(onnx_file, options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0]
        self.output_name = self.session.get_outputs()[0].name

    def __call__(self, x):
        x = np.ascontiguousarray(x, dtype=np.float32)
        channels = self.input.shape[1]
        if x.ndim != 4 or (isinstance(channels, int) and x.shape[1] != channels):
            raise ValueError(f"{self.onnx_file}: expected an NCHW array with {channels} channels, "
                             f"got shape {list(x.shape)}")
        return self.session.run([self.output_name], {self.input.name: x})[0]

    def __repr__(self):
        return f"OnnxGenerator({self.onnx_file!r}, input {self.input.name} {self.input.shape})"


#: version of the onnxruntime export recipe (the stamp of :func:`load_or_export_onnx`): bump it when the graph changes
ONNX_RECIPE = "kernel-instance-norm-v1"


def onnx_runtime_available():
    """Whether paddle2onnx and onnxruntime are installed (``pip install -e ".[cpu]"`` brings them on
    Python < 3.13), without importing them."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("paddle2onnx", "onnxruntime"))


def load_or_export_onnx(net, path_prefix, fingerprint, input_nc=3, image_size=None, threads=None):
    """An :class:`OnnxGenerator` for ``net``, exported to ``<path_prefix>.onnx`` only when needed: the
    onnxruntime counterpart of :func:`~ppimg2img.export.inference.load_or_export` (same fingerprint,
    lock and stamp rules). The graph is written with U-GAT-IT's/photo2cartoon's instance norms as one
    centred ``instance_norm`` op each (ONNX InstanceNormalization, which onnxruntime runs fastest:
    ``nets.norm.static_instance_norm("kernel")``) and Paddle's own pads (ONNX reflect ``Pad``).
    Raises :class:`ExportError` when the net cannot be exported or loaded."""
    import paddle
    from paddle import nn

    from ..nets.norm import static_instance_norm
    from .inference import _export_lock, _first_line, _read_stamp, _stamp_path, _write_stamp
    from .paddle_graph import export_generator

    onnx_file = path_prefix + ".onnx"

    def stamp():
        size = os.path.getsize(onnx_file) if os.path.isfile(onnx_file) else None
        return {"fingerprint": str(fingerprint), "input_nc": int(input_nc),
                "image_size": None if image_size is None else int(image_size), "recipe": ONNX_RECIPE,
                "paddle": paddle.__version__, "files": {os.path.basename(onnx_file): size}}

    with _export_lock(path_prefix):
        if _read_stamp(path_prefix) == stamp():
            try:
                return OnnxGenerator(onnx_file, threads)
            except Exception as err:  # a file onnxruntime cannot read: export again
                logger.warning("the cached ONNX export %s cannot be loaded (%s): exporting it again", onnx_file,
                               _first_line(err))
        with contextlib.suppress(FileNotFoundError):
            os.remove(_stamp_path(path_prefix))  # from here until the new stamp, the export is not valid
        layer = net if isinstance(net, nn.Layer) else net()
        try:
            with static_instance_norm("kernel"):
                export_generator(layer, path_prefix, input_nc=input_nc, image_size=image_size)
        except ExportError as err:
            cause = err.__cause__ or err
            raise ExportError(f"could not export {type(layer).__name__} to {path_prefix}: "
                              f"{_first_line(cause)}") from cause
        export_onnx(path_prefix, onnx_file)
        for f in model_files(path_prefix):  # the Paddle graph was only the way to the ONNX file
            with contextlib.suppress(FileNotFoundError):
                os.remove(f)
        try:
            gen = OnnxGenerator(onnx_file, threads)  # loads: only a usable export gets a stamp
        except Exception as err:
            raise ExportError(f"onnxruntime cannot load {onnx_file}: {_first_line(err)}") from err
        _write_stamp(path_prefix, stamp())
        return gen
