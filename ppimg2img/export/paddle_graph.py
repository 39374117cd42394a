"""Save a generator as a static graph with ``paddle.jit.save``, for Paddle Inference (and ONNX)."""
import contextlib
import os
import shutil
import tempfile
import warnings

import paddle
from paddle import nn


class ExportError(RuntimeError):
    """A generator could not be exported; the message names the net and the cause."""


class ImageOnly(nn.Layer):
    """Export wrapper that keeps the translated image of nets returning a tuple (U-GAT-IT and
    photo2cartoon return ``(image, cam_logit, heatmap)``)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        out = self.net(x)
        return out[0] if isinstance(out, (tuple, list)) else out


@contextlib.contextmanager
def trace_as_written():
    """Trace ppimg2img's networks as written while saving a static graph.

    ``paddle.jit.save`` rewrites every ``forward`` it reaches into static-graph code (dy2static);
    for photo2cartoon's hourglass that takes 15-50 s on a CPU. The nets have no data-dependent
    Python control flow (their loops run over layer counts, size checks run in eager mode only),
    so running their code as written under the static-graph guard records the same operators, in
    about 1 s. Only ``ppimg2img.nets`` is exempted, and only inside this block.
    """
    from paddle.jit.dy2static import convert_call_func

    from .. import nets

    ignored = convert_call_func.BUILTIN_LIKELY_MODULES
    added = nets not in ignored
    if added:
        ignored.append(nets)
    try:
        yield
    finally:
        if added and nets in ignored:
            ignored.remove(nets)


def model_files(path_prefix):
    """``(graph file, parameters file)`` written by :func:`export_generator` for ``path_prefix``:
    Paddle 3 writes the graph as ``.json`` (PIR), older versions as ``.pdmodel``."""
    graph = path_prefix + ".json"
    if not os.path.exists(graph) and os.path.exists(path_prefix + ".pdmodel"):
        graph = path_prefix + ".pdmodel"
    return graph, path_prefix + ".pdiparams"


def export_generator(net, path_prefix, input_nc=3, image_size=None):
    """Save ``net`` (eval mode) to ``path_prefix``.json/.pdiparams and return the graph file.

    The input is ``x`` of shape ``[batch, input_nc, H, W]``, float32 in [-1, 1]; batch, H and W
    stay dynamic unless ``image_size`` fixes H and W (the full U-GAT-IT MLP reads a fixed-size
    feature map). The output is the translated image only. Files are written into a temporary
    folder and moved into place, so an interrupted export never leaves a half-written model.
    """
    size = [None, None] if image_size is None else [int(image_size), int(image_size)]
    spec = [paddle.static.InputSpec([None, int(input_nc), *size], "float32", "x")]
    return _save(ImageOnly(net), net, path_prefix, spec)


def export_sampler(net, path_prefix):
    """Save a generation model's generator: inputs ``z`` [batch, nz] float32 (N(0, I) noise) and,
    for a conditional one, ``labels`` [batch] int64; output the image [batch, C, H, W] in [-1, 1]."""
    spec = [paddle.static.InputSpec([None, int(net.nz)], "float32", "z")]
    if net.n_classes:
        spec.append(paddle.static.InputSpec([None], "int64", "labels"))
    return _save(net, net, path_prefix, spec)


def _save(layer, net, path_prefix, spec):
    """``paddle.jit.save(layer)`` into a temporary folder, then moved into place (net in eval mode)."""
    was_training = net.training
    net.eval()
    folder = os.path.dirname(os.path.abspath(path_prefix))
    os.makedirs(folder, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".export-", dir=folder)
    name = os.path.basename(path_prefix)
    try:
        try:
            with trace_as_written(), warnings.catch_warnings():  # the tracer warns about its own internals
                warnings.filterwarnings("ignore", message="Tensor do not have 'place' interface")
                warnings.filterwarnings("ignore", message="no variable in your model")
                paddle.jit.save(layer, os.path.join(tmp, name), input_spec=spec)
        except Exception as err:  # Paddle's tracing errors are long: keep the first line
            first = (str(err).strip().splitlines() or [""])[0]
            raise ExportError(f"could not export {type(net).__name__} to {path_prefix}: "
                              f"{type(err).__name__}: {first}") from err
        for fname in os.listdir(tmp):
            os.replace(os.path.join(tmp, fname), os.path.join(folder, fname))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        net.train(was_training)
    return model_files(path_prefix)[0]
