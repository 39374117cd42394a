"""``train.fast``: a model's training step as static programs run on oneDNN kernels (CPU).

Paddle's eager CPU kernels use im2col + MKL GEMM for convolutions (the 7x7 output convolution
of the ResNet generator alone takes ~0.5 s per forward at 128 px) and no oneDNN kernel at all,
even with ``FLAGS_use_mkldnn``; ``paddle.jit.to_static`` with that flag crashes in 3.3.1. A
static program run by the executor with ``FLAGS_use_mkldnn`` does use oneDNN's forward *and*
backward kernels. So :class:`StaticTrainStep` rebuilds the model (same class, same config) in
static mode, writes the original step into programs (the model's own loss methods, Adam with
the same settings and LR scheduler) and runs them:

- CycleGAN: program 1 = forward, G losses, G update (D frozen); the image pools pick the fakes
  (Python, same RNG as the eager step); program 2 = D_A and D_B losses, D update.
- pix2pix/colorization: one program = forward, D losses, D update, G losses with the updated D
  (backpropagated through the same forward, so BatchNorm statistics are updated once), G update.

The programs' parameters and BatchNorm buffers *share memory* with the eager nets
(``self.nets``): updates are visible to evaluation, visuals and checkpoints at no cost, and
weights loaded into the nets are used by the next step. The Adam moments live in the programs'
scope; ``BaseModel.state_dict``/``set_state_dict`` read and write them in the eager optimizers'
checkpoint format, so checkpoints of both paths are interchangeable.

Equivalence: same losses, gradients and updates as the eager step within float rounding
(tests/test_fast_paths.py); dropout masks come from the static program's random stream, not the
eager one. Not supported (``FastPathError``): ``gan_mode: wgangp`` (double backward), other model
families, multi-process training.
"""
import contextlib
import os
import types

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..models.base import set_requires_grad
from ..nets.norm import mean_over
from ..utils.env import discard_stdout

#: the per-parameter Adam state, as Paddle names it in both modes (``<param name><suffix>``)
ADAM_STATE = ("_moment1_0", "_moment2_0", "_beta1_pow_acc_0", "_beta2_pow_acc_0")


class FastPathError(ValueError):
    """The model or setting has no static-program step; train without ``train.fast``."""


@contextlib.contextmanager
def _static_mode():
    paddle.enable_static()
    try:
        yield
    finally:
        paddle.disable_static()


#: flags of the programs' runs: oneDNN kernels on; ``square``/``pow`` (MSE) and the BCE-with-logits op
#: kept out of the PIR in-place pass, which under oneDNN lets them overwrite an input their gradient
#: still reads (wrong LSGAN/vanilla GAN gradients; found by tests/test_fast_paths.py).
RUN_FLAGS = {"FLAGS_use_mkldnn": True, "FLAGS_pir_apply_inplace_pass": True,
             "FLAGS_ir_inplace_kernel_blacklist": "pd_op.square,pd_op.pow,pd_op.sigmoid_cross_entropy_with_logits"}


@contextlib.contextmanager
def _onednn():
    old = paddle.get_flags(list(RUN_FLAGS))
    paddle.set_flags(RUN_FLAGS)
    try:
        yield
    finally:
        paddle.set_flags(old)


def _pair(v):
    return [int(v), int(v)] if isinstance(v, int) else [int(a) for a in v]


def _border(x, n, axis, before, mode):
    """The ``n`` rows (axis 2) or columns (axis 3) that pad3d puts before/after ``x``, as a list of
    tensors to concatenate. Reflect: one slice, flipped only if it has several rows (Paddle's flip is
    slow; one slice per row would be slower still: each slice's gradient is a full-size tensor)."""
    size = x.shape[axis]
    if mode == "reflect":  # mirror without the edge: x[n..1] before, x[size-2..size-1-n] after
        if n >= size:
            raise FastPathError(f"train.fast: reflection padding {n} needs sides above {n}, got {size}")
        start, stop = (1, n + 1) if before else (size - 1 - n, size - 1)
        rows = paddle.slice(x, [axis], [start], [stop])
        return [paddle.flip(rows, [axis]) if n > 1 else rows]
    edge = paddle.slice(x, [axis], [0 if before else size - 1], [1 if before else size])
    return [edge if mode == "replicate" else paddle.zeros_like(edge)] * n


def _pad(x, pad, mode="constant"):
    """``F.pad(x, [left, right, top, bottom], mode)`` (NCHW; constant pads are zeros) with slices
    and one concat per axis: the same values, and a backward that works under oneDNN (pad3d's
    returns zeros there in Paddle 3.3.1; a 0/1-matrix product gave wrong results from the second
    call on)."""
    left, right, top, bottom = (int(v) for v in pad)
    for before, after, axis in ((left, right, 3), (top, bottom, 2)):
        if before or after:
            x = paddle.concat(_border(x, before, axis, True, mode) + [x] + _border(x, after, axis, False, mode),
                              axis=axis)
    return x


def _pad2d_forward(layer, x):
    """``Pad2D.forward`` through :func:`_pad` (NCHW, constant/reflect/replicate)."""
    if layer._data_format != "NCHW" or layer._mode not in ("constant", "reflect", "replicate"):
        raise FastPathError(f"train.fast: Pad2D mode {layer._mode!r} / {layer._data_format} is not supported")
    if layer._mode == "constant" and layer.value != 0:
        raise FastPathError("train.fast: constant padding with a value other than 0 is not supported")
    return _pad(x, layer.padding, layer._mode)


def _batch_norm_forward(layer, x):
    """Training-mode ``BatchNorm2D.forward`` plus its running-statistics update written out: oneDNN's
    batch_norm kernel leaves them unchanged. As PyTorch (and nets/norm.BatchNorm2D in eager mode):
    running = momentum * running + (1 - momentum) * batch statistic, with the UNBIASED batch variance
    (n/(n-1) times the biased one the batch is normalised with, n values per channel)."""
    if layer._data_format != "NCHW" or not layer.training:
        raise FastPathError("train.fast: BatchNorm2D must be NCHW and in training mode")
    out = F.batch_norm(x, layer._mean, layer._variance, weight=layer.weight, bias=layer.bias, training=True,
                       momentum=layer._momentum, epsilon=layer._epsilon)
    xd = x.detach()
    batch_mean = mean_over(xd, [0, 2, 3], keepdim=False)  # row by row: float32 sums of few terms
    centred = xd - batch_mean.reshape([1, -1, 1, 1])
    batch_var = mean_over(centred * centred, [0, 2, 3], keepdim=False)  # a oneDNN product; pow has no oneDNN kernel
    n = paddle.numel(xd).astype(x.dtype) / x.shape[1]  # values per channel (the batch size is a feed's)
    batch_var = batch_var * (n / paddle.maximum(n - 1, paddle.ones_like(n)))  # n = 1: variance 0 either way
    m = layer._momentum
    paddle.assign(layer._mean * m + batch_mean * (1.0 - m), output=layer._mean)
    paddle.assign(layer._variance * m + batch_var * (1.0 - m), output=layer._variance)
    return out


def _conv_transpose_as_matmul(layer, x, output_size=None):
    """``Conv2DTranspose.forward`` as one matrix product and a ``fold`` (col2im), for the static
    programs: oneDNN's transposed convolution has no backward (inference only). Every input pixel's
    Cin values times the kernel, read as a [Cin, Cout * kh * kw] matrix in its own layout, give that
    pixel's kh x kw patch of outputs; ``fold`` adds the overlapping patches at stride spacing, less the
    padding. The same products as the transposed convolution, and no kernel reordering: the backward
    is two matrix products and an ``unfold``. Groups 1, NCHW, fixed sides."""
    if output_size is not None or layer._groups != 1 or layer._data_format != "NCHW":
        raise FastPathError("train.fast: transposed convolutions with output_size, groups or NHWC are not supported")
    pad = layer._padding
    if not (isinstance(pad, int) or (len(pad) == 2 and all(isinstance(p, int) for p in pad))):
        raise FastPathError(f"train.fast: transposed convolution padding {pad!r} is not supported")
    (sh, sw), (dh, dw), (ph, pw), (oph, opw) = (_pair(v) for v in (layer._stride, layer._dilation, pad,
                                                                   layer.output_padding))
    cin, cout, kh, kw = layer.weight.shape
    h, w = x.shape[2:]
    out_h, out_w = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1, (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    weight = layer.weight.reshape([cin, cout * kh * kw])
    if h * w == 1:  # oneDNN's batched matmul_grad gives a wrong weight gradient for one pixel: a plain product
        cols = paddle.matmul(x.reshape([-1, cin]), weight).unsqueeze(2)
    else:  # [Cout * kh * kw, Cin] x [N, Cin, H * W]
        cols = paddle.matmul(weight, x.reshape([-1, cin, h * w]), transpose_x=True)
    # F.fold itself refuses the static programs' unknown batch size
    y = paddle._C_ops.fold(cols, [out_h, out_w], [kh, kw], [sh, sw], [ph, pw, ph, pw], [dh, dw])
    return y if layer.bias is None else y + layer.bias.reshape([1, -1, 1, 1])


def _plain_gradient_activation(layer, x):
    """An activation's ``forward`` (ReLU, LeakyReLU after InstanceNorm) with its output passed through a
    plain copy, so that its gradient arrives in plain NCHW layout, as its forward value is (Paddle's
    instance norm is not a oneDNN kernel): with a blocked/NHWC gradient from the next convolution,
    oneDNN's activation backward falls back to its reference kernel, ~40x slower."""
    return paddle.assign(type(layer).forward(layer, x))


#: ops without side effects that ``init_weights`` leaves in a static main program (their results unused)
_PURE_INIT_OPS = {"pd_op.gaussian", "pd_op.uniform", "pd_op.full", "pd_op.full_int_array", "pd_op.truncated_gaussian"}


def _remove_dead_init_ops(program):
    """Drop the weight initialisers the twin's construction wrote into the main program (the
    values are never used: the parameters come from the eager nets), or every step would run them."""
    block = program.global_block()
    changed = True
    while changed:
        changed = False
        for op in list(block.ops):
            if op.name() in _PURE_INIT_OPS and all(r.use_empty() for r in op.results()):
                block.remove_op(op)
                changed = True


def _add_n_to_adds(program):
    """Replace every ``add_n`` (the backward's gradient accumulation) by a chain of ``add``: oneDNN's
    add_n fails ("dnnl::error") on some of them in Paddle 3.3.1 (0-D and BatchNorm gradients).
    Same sums, in the same order."""
    block = program.global_block()
    for op in list(block.ops):
        if op.name() != "pd_op.add_n":
            continue
        combine = op.operand_source(0).get_defining_op()
        inputs = combine.operands_source()
        paddle.pir.set_insertion_point(op)
        total = inputs[0]
        for value in inputs[1:]:
            if len(value.shape) < 2:  # oneDNN's batch_norm_grad gives scale/bias gradients no oneDNN
                total, value = paddle.assign(total), paddle.assign(value)  # op accepts: plain copies
            total = paddle.add(total, value)
        op.result(0).replace_all_uses_with(total)
        block.remove_op(op)
        if combine.result(0).use_empty():
            block.remove_op(combine)
    paddle.pir.reset_insertion_point_to_end()


class _Program:
    """One static program with its own twin of the model; ``body(self)`` writes the step into it
    and returns {fetch name: value}. Images are ``sides`` = (height, width)."""

    def __init__(self, model, body, sides):
        self.model, self.sides = model, sides
        self.main, self.startup = paddle.static.Program(), paddle.static.Program()
        self.params = {}  # optimizer name -> static parameters, in the eager optimizer's order
        # unique_name.guard: every program's twin gets the same parameter names, so the programs
        # share one set of scope variables
        with _static_mode(), paddle.static.program_guard(self.main, self.startup), paddle.utils.unique_name.guard():
            self.twin = type(model)(**model.init_args, is_train=True)
            for net in self.twin.nets.values():
                for layer in net.sublayers(include_self=True):
                    if isinstance(layer, nn.Conv2DTranspose):
                        layer.forward = types.MethodType(_conv_transpose_as_matmul, layer)
                    elif isinstance(layer, nn.Pad2D):
                        layer.forward = types.MethodType(_pad2d_forward, layer)
                    elif isinstance(layer, nn.BatchNorm2D):
                        layer.forward = types.MethodType(_batch_norm_forward, layer)
                    elif isinstance(layer, nn.Sequential):  # activations right after an instance norm
                        children = list(layer.children())
                        for norm, act in zip(children, children[1:]):
                            if isinstance(norm, nn.InstanceNorm2D) and isinstance(act, (nn.ReLU, nn.LeakyReLU)):
                                act.forward = types.MethodType(_plain_gradient_activation, act)
            self.fetch = body(self)
            _add_n_to_adds(self.main)
            _remove_dead_init_ops(self.main)
        self.compiled = False
        self.fetch_names = list(self.fetch)
        self.fetch_list = [self.fetch[k] for k in self.fetch_names]
        # (scope variable name, eager tensor) of every parameter and buffer of the nets
        self.shared = [(twin_sd[key].name, eager_sd[key])
                       for name, net in model.nets.items()
                       for twin_sd, eager_sd in [(self.twin.nets[name].state_dict(), net.state_dict())]
                       for key in eager_sd]

    def data(self, name):
        """Image feed ``name`` (real_A/fake_A: generator input_nc channels, *_B: output_nc), any batch size."""
        gen = self.model.init_args["generator"]
        channels = gen.get("input_nc", 3) if name.endswith("A") else gen.get("output_nc", 3)
        return paddle.static.data(name, [-1, channels, *self.sides], "float32")

    def minimize(self, opt_name, loss):
        """Adam on the twin's nets of optimizer ``opt_name``, as ``base.build_optimizer`` with the
        same LR scheduler object (the executor reads its value at every run)."""
        model, twin = self.model, self.twin
        names = [next(n for n, net in model.nets.items() if net is eager) for eager in model.optimizer_groups[opt_name]]
        params = [p for n in names for p in twin.nets[n].parameters()]
        cfg = model.optimizer_cfg
        opt = paddle.optimizer.Adam(learning_rate=model.schedulers[opt_name], beta1=cfg.get("beta1", 0.5),
                                    beta2=cfg.get("beta2", 0.999), parameters=params,
                                    weight_decay=cfg.get("weight_decay") or None)
        opt.minimize(loss, parameters=params)
        self.params[opt_name] = params


def check_supported(model):
    """Raise :class:`FastPathError` (saying why and what to set) unless ``model`` can train with
    :class:`StaticTrainStep` here: a CycleGAN or pix2pix/colorization model after ``setup_training``,
    not ``gan_mode: wgangp``, on the CPU."""
    from ..models.cyclegan import CycleGANModel
    from ..models.pix2pix import Pix2PixModel
    if not hasattr(model, "optimizer_groups"):
        raise FastPathError("train.fast: call model.setup_training(...) before set_fast()")
    if not isinstance(model, (CycleGANModel, Pix2PixModel)):
        raise FastPathError(f"train.fast supports CycleGAN and pix2pix/colorization models, not "
                            f"{type(model).__name__}: set train.fast: false")
    if model.init_args.get("gan_mode") == "wgangp":
        raise FastPathError("train.fast does not support gan_mode 'wgangp' (its gradient penalty needs a "
                            "double backward): set train.fast: false")
    if paddle.get_device() != "cpu":
        raise FastPathError(f"train.fast runs on the CPU (oneDNN); the device is {paddle.get_device()}: "
                            "set train.fast: false or device: cpu")


def model_width(model):
    """The generator's ``ngf`` (64 when the config leaves it out, the original default)."""
    gen = model.init_args.get("generator") or {}
    return int(gen.get("ngf", 64)) if isinstance(gen, dict) else 64


def estimate_peak_mb(model, batch_size, height, width):
    """Estimated peak RSS (MiB) of a CycleGAN process training with :class:`StaticTrainStep`, for ``train.fast:
    auto``. The larger of two phases, fitted to peak RSS measured on this project's CPU machine (2026-12-05,
    resnet_6blocks at ngf 16/32/64 and 64-256 px, resnet_9blocks at ngf 16/64 and 64-256 px; batch 1 and 2;
    the measurements are in benchmarks/README.md):

    - the first step, which builds the programs: 1770 MiB for resnet_6blocks, + 312 MiB per further residual
      block (it grows with the number of ops, not with the image size), + 15.5 MiB per million parameters;
    - the steps after it: 700 MiB, + 120 MiB per residual block beyond 6, + 38 MiB per million parameters
      (the eager parameters, gradients and Adam moments and oneDNN's reordered copies of the weights: ~10
      floats per parameter) + 1220 MiB (4.2% more per residual block beyond 6) per million
      ``batch x height x width x ngf`` (activations, their gradients and oneDNN's reordered copies: ~1.3 KB each).

    Parameters are those of all four nets (G_A, G_B, D_A, D_B). Generators other than ``resnet_<n>blocks``
    count as 6 blocks. Within 4% of each measured peak (batch 2: -4%); the fit without the 256 px
    resnet_9blocks point (7.9 GB, benchmarks/README.md) put it at 7.4 GB (-6%). ``train.fast: auto`` adds a
    25% margin."""
    import re
    gen = model.init_args.get("generator") or {}
    found = re.fullmatch(r"resnet_(\d+)blocks", str(gen.get("name", "")) if isinstance(gen, dict) else "")
    extra_blocks = int(found.group(1)) - 6 if found else 0
    params = sum(int(p.size) for net in model.nets.values() for p in net.parameters() if not p.stop_gradient)
    units = batch_size * height * width * model_width(model)
    build = 1770 + 312 * extra_blocks + 15.5 * params / 1e6
    steady = 700 + 120 * extra_blocks + 38 * params / 1e6 + 1220 * (1 + 0.042 * extra_blocks) * units / 1e6
    return max(build, steady)


def _read_number(path, key=None):
    """An integer from a /proc or /sys file: the whole file, or the line ``key value`` (None if unreadable)."""
    try:
        with open(path) as f:
            if key is None:
                return int(f.read().split()[0])
            for line in f:
                parts = line.replace(":", " ").split()
                if parts and parts[0] == key:
                    return int(parts[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def available_memory_mb():
    """Memory this process can still take (MiB): ``MemAvailable`` of /proc/meminfo, lowered to the room
    left under a cgroup (container) memory limit if there is one; None where /proc/meminfo cannot be read
    (not Linux)."""
    kib = _read_number("/proc/meminfo", "MemAvailable")
    if kib is None:
        return None
    available = kib / 1024
    for limit_file, usage_file, inactive_key in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current",
                                                  "inactive_file"),
                                                 ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                                  "/sys/fs/cgroup/memory/memory.usage_in_bytes",
                                                  "total_inactive_file")):
        limit, usage = _read_number(limit_file), _read_number(usage_file)
        if limit is None or usage is None or limit >= 2**60:  # 'max' (unreadable as a number) or no limit
            continue
        stat = os.path.join(os.path.dirname(limit_file), "memory.stat")
        usage -= _read_number(stat, inactive_key) or 0  # page cache the kernel can drop
        available = min(available, max(limit - usage, 0) / 2**20)
    return available


class StaticTrainStep:
    """The training step of ``model`` (CycleGAN, pix2pix, colorization) as static programs on oneDNN.

    ``step()`` does what ``model.train_step()`` does in eager mode and returns the same dict of
    float losses; see the module docstring for what is shared and what differs. The programs are
    built at the first step (and again for every new image size).
    """

    def __init__(self, model):
        from ..models.cyclegan import CycleGANModel
        from .checkpoint import optimizer_state
        check_supported(model)
        if isinstance(model, CycleGANModel):
            self.bodies, self._step = {"G": _cyclegan_g, "D": _cyclegan_d}, self._cyclegan_step
        else:
            self.bodies, self._step = {"GD": _pix2pix}, self._pix2pix_step
        self.model = model
        self.scope = paddle.static.Scope()
        self.exe = paddle.static.Executor(paddle.CPUPlace())
        self.builds = {}  # (height, width) -> {name: _Program}
        self.params = None  # optimizer name -> static parameters (after the first build)
        # the eager optimizers' state (empty before their first step), loaded at the first build
        self.pending = {}
        for name, opt in model.optimizers.items():
            self.set_optimizer_state(name, optimizer_state(opt))

    # ------------------------------------------------------------------ state
    def programs(self, sides):
        """The programs for images of ``sides`` (built and initialised on first use)."""
        sides = tuple(int(v) for v in sides)
        if sides not in self.builds:
            progs = {name: _Program(self.model, body, sides) for name, body in self.bodies.items()}
            rng = paddle.get_rng_state("cpu")  # the initialisers must not move the eager random stream
            tmp = paddle.static.Scope()
            with _static_mode(), paddle.static.scope_guard(tmp):
                for prog in progs.values():
                    self.exe.run(prog.startup)
            paddle.set_rng_state(rng, "cpu")
            for name in tmp.local_var_names():  # new variables only: keep the moments of other sizes
                if self.scope.find_var(name) is None:
                    try:
                        value = tmp.find_var(name).get_tensor()
                    except RuntimeError:  # not a dense tensor
                        continue
                    if value._is_initialized():
                        self.scope.var(name).get_tensor()._share_data_with(value)
            self.builds[sides] = progs
            if self.params is None:
                self.params = {k: v for prog in progs.values() for k, v in prog.params.items()}
                for name, state in self.pending.items():
                    self.set_optimizer_state(name, state)
                self.pending = {}
        return self.builds[sides]

    def _share(self, prog):
        """Point the program's parameters and buffers at the eager nets' memory (again, if a load
        gave an eager tensor new memory)."""
        for var_name, eager in prog.shared:
            src = eager.get_tensor()
            dst = self.scope.find_var(var_name).get_tensor()
            if not dst._is_initialized() or dst._ptr() != src._ptr():
                dst._share_data_with(src)

    def _share_back(self, prog):
        """Kernels that wrote a new tensor instead of updating in place (oneDNN's batch_norm for the
        running statistics): the eager tensor takes the new memory."""
        for var_name, eager in prog.shared:
            dst = self.scope.find_var(var_name).get_tensor()
            if dst._ptr() != eager.get_tensor()._ptr():
                eager.get_tensor()._share_data_with(dst)

    def _var(self, name):
        var = self.scope.find_var(name)
        if var is None:
            raise KeyError(f"train.fast: no variable {name!r} in the static programs")
        return var.get_tensor()

    def optimizer_state(self, opt_name):
        """Optimizer ``opt_name``'s state in the checkpoint format of ``checkpoint.optimizer_state``."""
        from .checkpoint import optimizer_state
        if self.params is None:
            return {k: paddle.to_tensor(v) if isinstance(v, np.ndarray) else v
                    for k, v in self.pending.get(opt_name, {}).items()} or \
                optimizer_state(self.model.optimizers[opt_name])
        state = optimizer_state(self.model.optimizers[opt_name])  # LR scheduler entry, format
        for i, p in enumerate(self.params[opt_name]):
            for suffix in ADAM_STATE:
                var = self.scope.find_var(p.name + suffix)  # none for BatchNorm statistics (not trained)
                if var is not None:
                    state[f"@{i}{suffix}"] = paddle.to_tensor(np.array(var.get_tensor()))
        return state

    def set_optimizer_state(self, opt_name, state):
        """Load the Adam moments of a ``checkpoint.optimizer_state`` dict into the programs."""
        if self.params is None:  # a snapshot: the dict may hold another model's live tensors
            self.pending[opt_name] = {k: np.array(v.numpy() if hasattr(v, "numpy") else v, copy=True)
                                      if k.startswith("@") else v for k, v in state.items()}
            return
        params = self.params[opt_name]
        for key, value in state.items():
            for suffix in ADAM_STATE:
                if key.startswith("@") and key.endswith(suffix):
                    i = int(key[1:-len(suffix)])
                    value = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
                    self._var(params[i].name + suffix).set(value.astype("float32"), paddle.CPUPlace())

    # ------------------------------------------------------------------ steps
    def run(self, name, feed):
        """Run program ``name`` for the feed's image size; returns {fetch name: numpy array}."""
        feed = {k: (v.numpy() if isinstance(v, paddle.Tensor) else np.asarray(v)).astype("float32")
                for k, v in feed.items()}
        prog = self.programs(next(iter(feed.values())).shape[2:])[name]
        self._share(prog)
        quiet = contextlib.nullcontext() if prog.compiled else discard_stdout()  # the first run compiles
        with _onednn(), _static_mode(), paddle.static.scope_guard(self.scope), quiet:
            out = self.exe.run(prog.main, feed=feed, fetch_list=prog.fetch_list)
        prog.compiled = True
        self._share_back(prog)
        return dict(zip(prog.fetch_names, out))

    def step(self):
        return self._step()

    def _cyclegan_step(self):
        m = self.model
        out = self.run("G", {"real_A": m.real_A, "real_B": m.real_B})
        for k in ("fake_B", "rec_A", "fake_A", "rec_B", "idt_A", "idt_B"):
            if "image_" + k in out:
                setattr(m, k, paddle.to_tensor(out["image_" + k]))
        fake_B = m.fake_B_pool.query(m.fake_B)
        fake_A = m.fake_A_pool.query(m.fake_A)
        out.update(self.run("D", {"real_A": m.real_A, "real_B": m.real_B, "fake_A": fake_A, "fake_B": fake_B}))
        order = ["D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"]
        return {k: float(out[k].item()) for k in order if k in out}

    def _pix2pix_step(self):
        m = self.model
        out = self.run("GD", {"real_A": m.real_A, "real_B": m.real_B})
        m.fake_B = paddle.to_tensor(out["image_fake_B"])
        return {k: float(out[k].item()) for k in ("G_GAN", "G_L1", "D_real", "D_fake")}


def _cyclegan_g(prog):
    """Forward, G losses (discriminators frozen), G update; fetches losses and the images."""
    tw = prog.twin
    tw.real_A, tw.real_B = prog.data("real_A"), prog.data("real_B")
    tw.forward()
    set_requires_grad([tw.nets["netD_A"], tw.nets["netD_B"]], False)
    losses = tw.generator_losses()
    prog.minimize("G", sum(losses.values()))  # not add_n: oneDNN's add_n fails on 0-D tensors
    images = {"image_" + k: getattr(tw, k) for k in ("fake_B", "rec_A", "fake_A", "rec_B", "idt_A", "idt_B")
              if hasattr(tw, k)}
    return {**losses, **images}


def _cyclegan_d(prog):
    """D_A and D_B losses on the real images and the pools' fakes, D update."""
    tw = prog.twin
    real_A, real_B, fake_A, fake_B = (prog.data(k) for k in ("real_A", "real_B", "fake_A", "fake_B"))
    loss_A = tw.discriminator_loss(tw.nets["netD_A"], real_B, fake_B)
    loss_B = tw.discriminator_loss(tw.nets["netD_B"], real_A, fake_A)
    prog.minimize("D", loss_A + loss_B)  # eager: two backward passes into the same gradients, one update
    return {"D_A": loss_A, "D_B": loss_B}


def _pix2pix(prog):
    """Forward, D losses, D update, G losses with the updated D, G update (upstream order)."""
    tw = prog.twin
    tw.real_A, tw.real_B = prog.data("real_A"), prog.data("real_B")
    tw.forward()
    d_losses = tw.discriminator_losses()
    prog.minimize("D", (d_losses["D_fake"] + d_losses["D_real"]) * 0.5)
    # upstream freezes D for its G step; here only D's convolutions are (no weight gradients to compute):
    # oneDNN's batch_norm_grad fails when its scale/bias gradients are not wanted. Only G is updated either way
    set_requires_grad([layer for layer in tw.nets["netD"].sublayers() if isinstance(layer, nn.Conv2D)], False)
    g_losses = tw.generator_losses()
    prog.minimize("G", g_losses["G_GAN"] + g_losses["G_L1"])
    return {**d_losses, **g_losses, "image_fake_B": tw.fake_B}
