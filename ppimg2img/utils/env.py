"""Process set-up: threads, seeds, device, memory readings, logging."""
import contextlib
import logging
import os
import random
import re
import resource
import sys

import numpy as np
import paddle

logger = logging.getLogger("ppimg2img")


def default_threads():
    """The user's OMP_NUM_THREADS if they set one before ``import ppimg2img``, else every core
    this process may run on."""
    import ppimg2img
    if ppimg2img.USER_OMP_THREADS:
        return int(ppimg2img.USER_OMP_THREADS)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def set_threads(threads=None):
    """Use ``threads`` CPU threads for Paddle's kernels (None: ``default_threads()``).

    ``import paddle`` pins OMP_NUM_THREADS to 1 when it is unset; ``import ppimg2img`` calls
    this with None, so Paddle uses every core unless the user said otherwise.
    """
    n = int(threads) if threads else default_threads()
    paddle.base.core.set_num_threads(n)
    return n


def mkl_cpu_type(cpuinfo):
    """The ``MKL_DEBUG_CPU_TYPE`` for the CPU that ``/proc/cpuinfo`` text describes: '5' (MKL's AVX2
    kernels) for an AMD CPU with AVX2, else None (MKL's own choice is right)."""
    vendor = re.search(r"^vendor_id\s*:\s*(\S+)", cpuinfo, re.MULTILINE)
    flags = re.search(r"^flags\s*:(.*)$", cpuinfo, re.MULTILINE)
    if vendor and vendor.group(1) == "AuthenticAMD" and flags and "avx2" in flags.group(1).split():
        return "5"
    return None


def use_mkl_avx2_on_amd(cpuinfo_path="/proc/cpuinfo"):
    """Let MKL use its AVX2 kernels on AMD CPUs; returns the ``MKL_DEBUG_CPU_TYPE`` now in effect.

    Paddle's eager CPU convolutions and matrix products are im2col + MKL 2019 GEMMs, and on AMD CPUs
    that MKL runs generic SSE kernels unless ``MKL_DEBUG_CPU_TYPE=5`` selects the AVX2 ones: a 3x3
    convolution's forward + backward takes half the time, an eager CycleGAN 128 px training step
    1.8x less (benchmarks/README.md). MKL reads the variable at its first call, so ``import
    ppimg2img`` sets it before any computation. A value the user set is kept; Intel CPUs, CPUs
    without AVX2 and systems without /proc/cpuinfo are left alone.
    """
    if "MKL_DEBUG_CPU_TYPE" in os.environ:
        return os.environ["MKL_DEBUG_CPU_TYPE"]
    try:
        with open(cpuinfo_path, encoding="utf-8", errors="replace") as f:
            value = mkl_cpu_type(f.read())
    except OSError:
        return None
    if value:
        os.environ["MKL_DEBUG_CPU_TYPE"] = value
    return value


def set_seed(seed):
    """Seed Python, NumPy and Paddle (weight init, dropout)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    paddle.seed(seed)


def set_device(device=None):
    """'cpu', 'gpu' or None (GPU when Paddle was built with CUDA and sees one, else CPU)."""
    if device in (None, "auto"):
        device = "gpu" if paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0 else "cpu"
    if device.startswith("gpu") and not paddle.is_compiled_with_cuda():
        raise RuntimeError("device 'gpu' requested, but this Paddle build has no CUDA support. "
                           "Install the GPU build (pip install -e \".[gpu]\") or use --device cpu.")
    paddle.set_device(device)
    return device


def rng_state():
    """Every random state a resumed run needs to continue exactly."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "paddle": _plain_generator_states(paddle.get_rng_state("cpu"))}
    if paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
        state["paddle_cuda"] = _plain_generator_states(paddle.get_cuda_rng_state())
    return state


def _plain_generator_states(states):
    """Paddle's GeneratorState objects as their pickled state tuples (ints and lists of ints),
    so a checkpoint needs no Paddle class to be read back by the restricted reader."""
    return [s.__getstate__() for s in states]


def _generator_states(states):
    """The inverse of ``_plain_generator_states``; also takes the live objects and the reader's
    stand-ins (``GeneratorStateData``) for checkpoints written before states were plain."""
    out = []
    for s in states:
        if isinstance(s, paddle.base.libpaddle.GeneratorState):
            out.append(s)
            continue
        plain = getattr(s, "state", s)
        obj = paddle.base.libpaddle.GeneratorState.__new__(paddle.base.libpaddle.GeneratorState)
        obj.__setstate__(tuple(plain))
        out.append(obj)
    return out


def set_rng_state(state):
    """Restore ``rng_state()``; GPU states only where the GPU count matches (a checkpoint from
    a GPU machine resumes on a CPU, without bit-exact dropout)."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    paddle.set_rng_state(_generator_states(state["paddle"]), "cpu")
    cuda = state.get("paddle_cuda")
    if cuda and paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() == len(cuda):
        paddle.set_cuda_rng_state(_generator_states(cuda))
    elif cuda:
        logger.warning("the checkpoint's GPU random states do not fit this machine; dropout masks "
                       "will differ from an uninterrupted run")


def peak_memory_mb():
    """Peak memory in MiB: GPU allocator peak on GPU, else the process's peak RSS."""
    if paddle.get_device().startswith("gpu"):
        return paddle.device.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _TqdmConsoleHandler(logging.StreamHandler):
    """Console lines printed through tqdm, so they appear above a progress bar, not inside it."""

    def __init__(self):
        super().__init__(sys.stdout)

    def emit(self, record):
        try:
            from tqdm import tqdm
            tqdm.write(self.format(record), file=sys.stdout)  # the current stdout, even if replaced since
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


@contextlib.contextmanager
def discard_stdout():
    """Send file descriptor 1 to /dev/null inside the block: Paddle's C++ oneDNN passes print lines
    such as 'ReduceMeanCheckIfOneDNNSupport' straight to stdout, and no flag turns them off. Errors
    still arrive as exceptions; glog writes to stderr."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no real fd 1 (embedded interpreters): leave it alone
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def setup_logging(log_file=None, level=logging.INFO):
    """Readable console logs (tqdm-safe) and, optionally, a log file in the run folder."""
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # Paddle's import gives the root logger a handler: no double lines
    fmt = logging.Formatter("[%(asctime)s] %(levelname)s %(message)s", "%H:%M:%S")
    for h in list(logger.handlers):
        if getattr(h, "_ppimg2img", False):
            logger.removeHandler(h)
            h.close()
    handlers = [_TqdmConsoleHandler()]
    if log_file:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    handlers[0].setLevel(level)  # the console gets INFO; the log file also keeps debug details
    for h in handlers:
        h.setFormatter(fmt)
        h._ppimg2img = True
        logger.addHandler(h)
    return logger
