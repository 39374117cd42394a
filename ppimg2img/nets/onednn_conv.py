"""Eager 2-D convolutions on the CPU through oneDNN, the library Paddle ships (``paddle/libs/libdnnl.so.3``).

Paddle 3.3's eager CPU convolution unfolds its input (im2col) and multiplies matrices; oneDNN's direct
convolutions, which PyTorch's CPU convolutions also run, are 2-3x faster forward and backward on the
U-GAT-IT/photo2cartoon maps (benchmarks/README.md, issue 23) and unfold nothing. Paddle's eager mode
never calls them, so this module binds oneDNN's C API with ctypes (no compiler, no new dependency) and
wraps forward, data gradient and weight gradient in a :class:`paddle.autograd.PyLayer`.

A :class:`_Plan` holds one convolution geometry's primitives: oneDNN picks its blocked layouts
(``format_tag any``) and plain NCHW tensors are reordered in and out. Values and gradients equal Paddle's
convolution within float32 rounding (tests/test_onednn_conv.py checks both against float64).

The gradient is first order only: ``nets.conv.BandedConv2D`` (the convolutions of the U-GAT-IT/photo2cartoon
nets, the ResNet generator and the PatchGAN discriminator) calls it, and forwards whose gradient is
differentiated again (WGAN-GP's penalty) run inside :func:`first_order_only`, with Paddle's convolutions; a
backward with ``create_graph=True`` through the PyLayer raises an error rather than drop the second-order
terms. Paddle also refuses ``paddle.grad(..., inputs=[x])`` through it while the weight trains (a PyLayer
cannot tell which gradients were asked for): use :func:`first_order_only` there too. Where the library is missing, a
geometry is not implemented or ``PPIMG2IMG_ONEDNN_CONV=0`` is set, :func:`conv2d` is ``F.conv2d``.
"""
import collections
import contextlib
import contextvars
import ctypes
import os
import threading

import paddle
import paddle.nn.functional as F
from paddle.autograd import PyLayer

# oneDNN v3 C API constants (include/oneapi/dnnl/dnnl_types.h, dnnl_common_types.h)
_F32, _ANY = 3, 1  # dnnl_f32, dnnl_format_tag_any
_CPU, _IN_ORDER = 1, 1  # dnnl_cpu, dnnl_stream_in_order
_FORWARD_TRAINING, _DIRECT = 64, 1  # dnnl_forward_training, dnnl_convolution_direct (as PyTorch's CPU convolutions)
_Q_SRC, _Q_DIFF_SRC, _Q_WEIGHTS, _Q_DIFF_WEIGHTS, _Q_DST, _Q_DIFF_DST = 129, 130, 131, 132, 133, 134
_ARG_SRC, _ARG_DST, _ARG_WEIGHTS, _ARG_BIAS = 1, 17, 33, 41
_ARG_DIFF_SRC, _ARG_DIFF_DST, _ARG_DIFF_WEIGHTS, _ARG_DIFF_BIAS = 129, 145, 161, 169

_Dims = ctypes.c_int64 * 12  # dnnl_dims_t


class _ExecArg(ctypes.Structure):  # dnnl_exec_arg_t
    _fields_ = [("arg", ctypes.c_int), ("memory", ctypes.c_void_p)]


class OneDNNError(RuntimeError):
    """A oneDNN call failed (the status code and call name are in the message)."""


class _Library:
    """The loaded library and one CPU engine; a stream per thread. ``own`` lists the handles an object
    made, for :meth:`release` to destroy."""

    _DESTROY = {"md": "dnnl_memory_desc_destroy", "mem": "dnnl_memory_destroy",
                "pd": "dnnl_primitive_desc_destroy", "prim": "dnnl_primitive_destroy"}

    def __init__(self, path):
        self.lib = lib = ctypes.CDLL(path)
        lib.dnnl_primitive_desc_query_md.restype = ctypes.c_void_p
        lib.dnnl_memory_desc_equal.restype = ctypes.c_int
        lib.dnnl_memory_desc_get_size.restype = ctypes.c_size_t
        self.engine = ctypes.c_void_p()
        self.check("dnnl_engine_create", ctypes.byref(self.engine), _CPU, ctypes.c_size_t(0))
        self.local = threading.local()

    def check(self, name, *args):
        status = getattr(self.lib, name)(*args)
        if status != 0:
            raise OneDNNError(f"oneDNN {name} failed with status {status}")

    @property
    def stream(self):
        stream = getattr(self.local, "stream", None)
        if stream is None:
            stream = ctypes.c_void_p()
            self.check("dnnl_stream_create", ctypes.byref(stream), self.engine, ctypes.c_uint(_IN_ORDER))
            self.local.stream = stream
        return stream

    def _new(self, own, kind, create, *args):
        handle = ctypes.c_void_p()
        self.check(create, ctypes.byref(handle), *args)
        own.append((kind, handle))
        return handle

    def plain_md(self, own, dims):
        """A plain (row-major, like a Paddle tensor) float32 memory descriptor of ``dims``."""
        strides, step = [], 1
        for d in reversed(dims):
            strides.append(step)
            step *= d
        return self._new(own, "md", "dnnl_memory_desc_create_with_strides", len(dims), _Dims(*dims), _F32,
                         _Dims(*reversed(strides)))

    def any_md(self, own, dims):
        """A float32 descriptor whose layout the primitive chooses."""
        return self._new(own, "md", "dnnl_memory_desc_create_with_tag", len(dims), _Dims(*dims), _F32, _ANY)

    def memory(self, own, md):
        """A memory object of descriptor ``md`` without a buffer (set per call: ``set_handle``)."""
        return self._new(own, "mem", "dnnl_memory_create", md, self.engine, None)

    def primitive(self, own, pd):
        return self._new(own, "prim", "dnnl_primitive_create", pd)

    def set_handle(self, memory, tensor):
        self.check("dnnl_memory_set_data_handle", memory, ctypes.c_void_p(tensor.data_ptr()))

    def execute(self, prim, args):
        arr = (_ExecArg * len(args))(*[_ExecArg(a, m) for a, m in args])
        self.check("dnnl_primitive_execute", prim, self.stream, len(args), arr)
        self.check("dnnl_stream_wait", self.stream)

    def release(self, own):
        for kind, handle in reversed(own):
            getattr(self.lib, self._DESTROY[kind])(handle)
        own.clear()


class _Port:
    """One tensor argument of a primitive: a memory on the plain Paddle tensor and, when the primitive
    chose another layout, a memory in that layout (on a scratch tensor per call) and the reorder between."""

    def __init__(self, lib, own, dims, chosen_md, into_primitive):
        self.lib, self.into = lib, into_primitive
        plain_md = lib.plain_md(own, dims)
        self.plain = lib.memory(own, plain_md)
        self.reorder = None
        if lib.lib.dnnl_memory_desc_equal(chosen_md, plain_md):
            self.chosen = self.plain
            return
        self.chosen = lib.memory(own, chosen_md)
        self.floats = (lib.lib.dnnl_memory_desc_get_size(chosen_md) + 3) // 4
        src, dst = (plain_md, chosen_md) if into_primitive else (chosen_md, plain_md)
        pd = lib._new(own, "pd", "dnnl_reorder_primitive_desc_create", src, lib.engine, dst, lib.engine, None)
        self.reorder = lib.primitive(own, pd)

    def bind(self, tensor, scratch):
        """Point the port at ``tensor``; inputs are reordered into the chosen layout. ``scratch`` keeps
        the chosen layout's buffer alive until the primitive ran."""
        self.lib.set_handle(self.plain, tensor)
        if self.reorder is not None:
            scratch.append(_empty([self.floats]))
            self.lib.set_handle(self.chosen, scratch[-1])
            if self.into:
                self.lib.execute(self.reorder, [(_ARG_SRC, self.plain), (_ARG_DST, self.chosen)])
        return self.chosen

    def finish(self):
        """Reorder an output back into the plain tensor."""
        if self.reorder is not None:
            self.lib.execute(self.reorder, [(_ARG_SRC, self.chosen), (_ARG_DST, self.plain)])


class _Plan:
    """The forward, data-gradient and weight-gradient primitives of one convolution geometry. oneDNN chooses
    their layouts (``format_tag any``), :class:`_Port` reorders. ``padding`` is (top, bottom, left, right)."""

    def __init__(self, lib, x_shape, w_shape, bias, stride, padding, dilation, groups):
        self.lib, self.own, self.lock = lib, [], threading.Lock()
        n, c, h, w = x_shape
        o, _, kh, kw = w_shape
        oh = (h + padding[0] + padding[1] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        ow = (w + padding[2] + padding[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
        self.x_dims, self.y_dims, self.w_shape = [n, c, h, w], [n, o, oh, ow], list(w_shape)
        w_dims = [groups, o // groups, w_shape[1], kh, kw] if groups > 1 else list(w_shape)
        geometry = (_Dims(*stride), _Dims(dilation[0] - 1, dilation[1] - 1),  # oneDNN: dilation 0 = none
                    _Dims(padding[0], padding[2]), _Dims(padding[1], padding[3]))
        try:
            own, x_any, w_any, y_any = self.own, lib.any_md(self.own, self.x_dims), lib.any_md(self.own, w_dims), \
                lib.any_md(self.own, self.y_dims)
            bias_md = lib.plain_md(own, [o]) if bias else None
            self.bias = lib.memory(own, bias_md) if bias else None
            fwd = lib._new(own, "pd", "dnnl_convolution_forward_primitive_desc_create", lib.engine,
                           _FORWARD_TRAINING, _DIRECT, x_any, w_any, bias_md, y_any, *geometry, None)
            data = lib._new(own, "pd", "dnnl_convolution_backward_data_primitive_desc_create", lib.engine,
                            _DIRECT, x_any, w_any, y_any, *geometry, fwd, None)
            weights = lib._new(own, "pd", "dnnl_convolution_backward_weights_primitive_desc_create", lib.engine,
                               _DIRECT, x_any, w_any, bias_md, y_any, *geometry, fwd, None)
            self.steps = {}
            for kind, pd, ports in (("forward", fwd, {"x": (self.x_dims, _Q_SRC, True), "w": (w_dims, _Q_WEIGHTS, True),
                                                       "y": (self.y_dims, _Q_DST, False)}),
                                    ("data", data, {"dy": (self.y_dims, _Q_DIFF_DST, True), "w": (w_dims, _Q_WEIGHTS, True),
                                                    "dx": (self.x_dims, _Q_DIFF_SRC, False)}),
                                    ("weights", weights, {"x": (self.x_dims, _Q_SRC, True),
                                                          "dy": (self.y_dims, _Q_DIFF_DST, True),
                                                          "dw": (w_dims, _Q_DIFF_WEIGHTS, False)})):
                self.steps[kind] = (lib.primitive(own, pd), {
                    name: _Port(lib, own, dims, ctypes.c_void_p(lib.lib.dnnl_primitive_desc_query_md(pd, query, 0)), into)
                    for name, (dims, query, into) in ports.items()})
        except OneDNNError:
            lib.release(self.own)
            raise

    def run(self, kind, tensors, bias=None):
        """Run primitive ``kind`` on {port name: (oneDNN argument, tensor)} (outputs preallocated)."""
        prim, ports = self.steps[kind]
        with self.lock:
            scratch = []
            args = [(arg, ports[name].bind(t, scratch)) for name, (arg, t) in tensors.items()]
            if bias is not None:
                self.lib.set_handle(self.bias, bias[1])
                args.append((bias[0], self.bias))
            self.lib.execute(prim, args)
            for name in tensors:
                if not ports[name].into:
                    ports[name].finish()

    def __del__(self):
        try:
            self.lib.release(self.own)
        except Exception:  # interpreter shutdown: the library may be gone already
            pass


def _empty(shape):
    return paddle.empty(shape, "float32", device=paddle.CPUPlace())


def _first_order(dy):
    """The incoming gradient, contiguous; refuses a backward that is itself differentiated (``create_graph``),
    whose second-order terms this PyLayer cannot give."""
    if paddle.is_grad_enabled():
        raise RuntimeError("ppimg2img's oneDNN convolutions have first-order gradients only, and this backward "
                           "builds a graph (create_graph=True): run the forward inside "
                           "ppimg2img.nets.onednn_conv.first_order_only() (Paddle's convolutions), or set "
                           "PPIMG2IMG_ONEDNN_CONV=0")
    return dy if dy.is_contiguous() else dy.contiguous()


class _Convolution(PyLayer):
    """The convolution as a PyLayer: oneDNN forward, data and weight gradients (first order only). A gradient
    is returned for each input that has ``stop_gradient`` off at the forward, as Paddle requires."""

    @staticmethod
    def forward(ctx, x, weight, bias, plan):
        y = _empty(plan.y_dims)
        plan.run("forward", {"x": (_ARG_SRC, x), "w": (_ARG_WEIGHTS, weight), "y": (_ARG_DST, y)},
                 None if bias is None else (_ARG_BIAS, bias))
        ctx.plan, ctx.has_bias = plan, bias is not None
        ctx.needs = (not x.stop_gradient, not weight.stop_gradient, bias is not None and not bias.stop_gradient)
        ctx.save_for_backward(x, weight)
        return y

    @staticmethod
    def backward(ctx, dy):
        dy = _first_order(dy)
        x, weight = ctx.saved_tensor()
        plan = ctx.plan
        dx = dw = db = None
        if ctx.needs[0]:
            dx = _empty(plan.x_dims)
            plan.run("data", {"dy": (_ARG_DIFF_DST, dy), "w": (_ARG_WEIGHTS, weight), "dx": (_ARG_DIFF_SRC, dx)})
        if ctx.needs[1] or ctx.needs[2]:
            dw = _empty(plan.w_shape)
            db = _empty([plan.y_dims[1]]) if ctx.has_bias else None
            plan.run("weights", {"x": (_ARG_SRC, x), "dy": (_ARG_DIFF_DST, dy), "dw": (_ARG_DIFF_WEIGHTS, dw)},
                     None if db is None else (_ARG_DIFF_BIAS, db))
        dw = dw if ctx.needs[1] else None
        return (dx, dw, db if ctx.needs[2] else None) if ctx.has_bias else (dx, dw)


_LIBRARY = None
_PLANS_LOCK = threading.Lock()
_PLANS = collections.OrderedDict()  # geometry -> _Plan (False: oneDNN lacks it)
#: geometries whose primitives are kept (least recently used ones are dropped)
MAX_PLANS = 256
ENABLED = os.environ.get("PPIMG2IMG_ONEDNN_CONV", "1") != "0"


def _library():
    """The loaded library, or None (not found, failed, or switched off by ``ENABLED``)."""
    global _LIBRARY, ENABLED
    if ENABLED and _LIBRARY is None:
        try:
            _LIBRARY = _Library(os.path.join(os.path.dirname(paddle.__file__), "libs", "libdnnl.so.3"))
        except (OSError, OneDNNError, AttributeError):  # no such file, an engine error, a symbol missing
            ENABLED = False
    return _LIBRARY if ENABLED else None


#: False inside :func:`first_order_only`
_ALLOWED = contextvars.ContextVar("onednn_conv_allowed", default=True)


@contextlib.contextmanager
def first_order_only():
    """Within it, convolutions are Paddle's (differentiable twice): for forwards whose gradient is itself
    differentiated, such as WGAN-GP's penalty (``losses.gradient_penalty``)."""
    token = _ALLOWED.set(False)
    try:
        yield
    finally:
        _ALLOWED.reset(token)


def available():
    """Whether oneDNN's library loaded (and ``PPIMG2IMG_ONEDNN_CONV`` is not ``0``), outside
    :func:`first_order_only`."""
    return _ALLOWED.get() and _library() is not None


def _pair(value):
    return tuple(value) if isinstance(value, (list, tuple)) else (value, value)


def _plan(lib, x_shape, w_shape, bias, stride, pads, dilation, groups):
    """The cached :class:`_Plan` of a geometry, or None where oneDNN does not implement it (Paddle's kernel then
    runs, and raises Paddle's own error for inconsistent arguments)."""
    try:
        key = (tuple(x_shape), tuple(w_shape), bias, tuple(stride), tuple(pads), tuple(dilation), int(groups))
        hash(key)
    except TypeError:  # nested or odd argument forms: Paddle's convolution sorts them out
        return None
    if len(stride) != 2 or len(pads) != 4 or len(dilation) != 2 or min(pads) < 0:
        return None
    with _PLANS_LOCK:
        plan = _PLANS.pop(key, None)
        if plan is None:
            try:
                plan = _Plan(lib, x_shape, w_shape, bias, stride, pads, dilation, groups)
            except OneDNNError:
                plan = False
        _PLANS[key] = plan  # most recent last
        while len(_PLANS) > MAX_PLANS:
            _PLANS.popitem(last=False)  # a plan still used by a pending backward lives on in its PyLayer context
    return plan or None


def _eager_cpu_float32(*tensors):
    """The library when ``tensors`` (None ones skipped) are eager float32 CPU tensors, outside
    :func:`first_order_only`."""
    if not paddle.in_dynamic_mode() or not _ALLOWED.get():
        return None
    if any(t is not None and (t.dtype != paddle.float32 or not t.place.is_cpu_place()) for t in tensors):
        return None
    return _library()


def _contiguous(t):
    return t if t is None or t.is_contiguous() else t.contiguous()


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``F.conv2d`` (NCHW, float32) by oneDNN in eager mode on the CPU; ``F.conv2d`` elsewhere."""
    lib = _eager_cpu_float32(x, weight, bias)
    plan = None
    if (lib is not None and not isinstance(padding, str) and len(x.shape) == 4 and len(weight.shape) == 4
            and x.shape[1] == weight.shape[1] * groups and weight.shape[0] % groups == 0
            and (bias is None or list(bias.shape) == [weight.shape[0]])):
        p = tuple(padding) if isinstance(padding, (list, tuple)) and len(padding) == 4 else _pair(padding)
        pads = (p[0], p[0], p[1], p[1]) if len(p) == 2 else p  # top, bottom, left, right
        plan = _plan(lib, x.shape, weight.shape, bias is not None, _pair(stride), pads, _pair(dilation), groups)
    if plan is None:
        return F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)
    return _Convolution.apply(_contiguous(x), _contiguous(weight), _contiguous(bias), plan)


class _TransposedConvolution(PyLayer):
    """``conv2d_transpose`` as the data gradient of the convolution it transposes (``plan``: from the output's
    shape to the input's, weight [C_in, C_out / groups, kh, kw] read as that convolution's); its input
    gradient is that convolution's forward, its weight gradient that convolution's weight gradient."""

    @staticmethod
    def forward(ctx, x, weight, plan):
        y = _empty(plan.x_dims)
        plan.run("data", {"dy": (_ARG_DIFF_DST, x), "w": (_ARG_WEIGHTS, weight), "dx": (_ARG_DIFF_SRC, y)})
        ctx.plan, ctx.needs = plan, (not x.stop_gradient, not weight.stop_gradient)
        ctx.save_for_backward(x, weight)
        return y

    @staticmethod
    def backward(ctx, dy):
        dy = _first_order(dy)
        x, weight = ctx.saved_tensor()
        plan = ctx.plan
        dx = dw = None
        if ctx.needs[0]:
            dx = _empty(plan.y_dims)
            plan.run("forward", {"x": (_ARG_SRC, dy), "w": (_ARG_WEIGHTS, weight), "y": (_ARG_DST, dx)})
        if ctx.needs[1]:
            dw = _empty(plan.w_shape)
            plan.run("weights", {"x": (_ARG_SRC, dy), "dy": (_ARG_DIFF_DST, x), "dw": (_ARG_DIFF_WEIGHTS, dw)})
        return dx, dw


def conv2d_transpose(x, weight, bias=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """``F.conv2d_transpose`` (NCHW, float32, ``padding`` an int or [pad_h, pad_w]) by oneDNN in eager mode on
    the CPU; ``F.conv2d_transpose`` elsewhere."""
    lib = _eager_cpu_float32(x, weight, bias)
    plan = None
    if (lib is not None and all(isinstance(v, int) or (isinstance(v, (list, tuple)) and len(v) == 2
                                                        and all(isinstance(i, int) for i in v))
                                for v in (stride, padding, output_padding, dilation))
            and len(x.shape) == 4 and len(weight.shape) == 4 and x.shape[1] == weight.shape[0]
            and weight.shape[0] % groups == 0 and (bias is None or list(bias.shape) == [weight.shape[1] * groups])):
        (sh, sw), (ph, pw), (oh, ow), (dh, dw) = _pair(stride), _pair(padding), _pair(output_padding), _pair(dilation)
        _, cout_g, kh, kw = weight.shape
        height = (x.shape[2] - 1) * sh - 2 * ph + dh * (kh - 1) + 1 + oh
        width = (x.shape[3] - 1) * sw - 2 * pw + dw * (kw - 1) + 1 + ow
        # the transposed convolution's padding: (p, p - output_padding) on each axis; Paddle's own checks
        # (output_padding below stride or dilation) stay Paddle's
        if ph >= oh and pw >= ow and oh < max(sh, dh) and ow < max(sw, dw):
            plan = _plan(lib, [x.shape[0], cout_g * groups, height, width], weight.shape, False, (sh, sw),
                         (ph, ph - oh, pw, pw - ow), (dh, dw), groups)
    if plan is None:
        return F.conv2d_transpose(x, weight, bias, stride=stride, padding=padding, output_padding=output_padding,
                                  dilation=dilation, groups=groups)
    y = _TransposedConvolution.apply(_contiguous(x), _contiguous(weight), plan)
    return y if bias is None else y + bias.reshape([1, -1, 1, 1])
