"""Rebuild the weights and inputs of the fixtures in ``fixtures.json`` with NumPy alone, and
write them as ``torch.save`` zip archives without PyTorch.

The same code made the arrays that were loaded into the publishers' PyTorch networks to compute
the committed outputs (see README.md), so a test can recreate a 200 MB checkpoint from a few
kilobytes of JSON.

Random numbers: SplitMix64 (Steele, Lea & Flood 2014), vectorised, so the stream depends on
integer arithmetic only, not on NumPy's generator or its version. Word ``i`` of the stream with
seed ``s`` is ``mix(s + (i + 1) * 0x9E3779B97F4A7C15 mod 2**64)``; each word gives two values
(its low, then its high 32 bits, top 24 bits of each: ``u = bits / 2**24`` in [0, 1)), and an
entry ``(low, high)`` takes ``float32(low) + float32(high - low) * u`` in float32. A tensor of
``n`` values uses ``ceil(n / 2)`` words; tensors draw in the order the recipe lists them.
"""
import io
import struct
import zipfile

import numpy as np

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix_uniform(seed, start, count):
    """``count`` float32 values in [0, 1) from words ``start ...`` of stream ``seed``."""
    words = (count + 1) // 2
    with np.errstate(over="ignore"):
        z = np.arange(start + 1, start + 1 + words, dtype=np.uint64)
        z *= _GAMMA
        z += np.uint64(seed)
        z ^= z >> np.uint64(30)
        z *= _M1
        z ^= z >> np.uint64(27)
        z *= _M2
        z ^= z >> np.uint64(31)
    halves = z.astype("<u8", copy=False).view("<u4")[:count]  # low then high half, on any platform
    halves >>= np.uint32(8)
    return halves.astype(np.float32) * np.float32(2.0 ** -24)


class Stream:
    """Consecutive draws from one seed."""

    def __init__(self, seed):
        self.seed, self.pos = int(seed), 0

    def uniform(self, shape, low, high):
        n = int(np.prod(shape, dtype=np.int64))
        u = splitmix_uniform(self.seed, self.pos, n)
        self.pos += (n + 1) // 2
        u *= np.float32(high - low)
        u += np.float32(low)
        return u.reshape(shape)


def make_input(spec):
    """The fixture's input image batch (float32 NCHW in [low, high))."""
    inp = spec["input"]
    return Stream(inp["seed"]).uniform(inp["shape"], inp["low"], inp["high"])


def make_state(entries, stream):
    """One state dict in the publisher's key names, order and layout (torch layout: Linear
    weights [out, in], BatchNorm ``running_mean``/``running_var``/``num_batches_tracked``)."""
    state = {}
    for key, shape, dtype, low, high in entries:
        if dtype == "int64":  # num_batches_tracked: a constant, draws nothing
            state[key] = np.array(low, dtype=np.int64).reshape(shape)
        else:
            state[key] = stream.uniform(shape, low, high)
    return state


def make_checkpoint(spec):
    """What the publisher's code saves: a plain state dict (CycleGAN/pix2pix) or
    ``{'genA2B': ..., 'genB2A': ...}`` (U-GAT-IT/photo2cartoon), nets drawn one after another."""
    recipe = spec["recipe"]
    stream = Stream(recipe["seed"])
    if recipe["nets"] is None:
        return make_state(recipe["entries"], stream)
    return {name: make_state(recipe["entries"], stream) for name in recipe["nets"]}


# ------------------------------------------------------------------ torch.save writer
_STORAGE = {np.dtype(np.float32): "FloatStorage", np.dtype(np.float64): "DoubleStorage",
            np.dtype(np.int64): "LongStorage"}


class _Pickle:
    """Protocol-2 pickle opcodes, written by hand: no torch class has to exist to write them."""

    def __init__(self):
        self.out = io.BytesIO()
        self.out.write(b"\x80\x02")

    def glob(self, module, name):
        self.out.write(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def str(self, s):
        raw = s.encode("utf-8")
        self.out.write(b"X" + struct.pack("<I", len(raw)) + raw)

    def int(self, i):
        self.out.write(b"J" + struct.pack("<i", i))

    def op(self, code):
        self.out.write(code)

    def int_tuple(self, values):
        self.op(b"(")
        for v in values:
            self.int(v)
        self.op(b"t")

    def ordered_dict(self):
        self.glob("collections", "OrderedDict")
        self.op(b")R")


def _strides(shape):
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return list(reversed(strides))


def write_torch_zip(obj, path, archive="archive"):
    """Write a dict of (dicts of) NumPy arrays the way ``torch.save`` does (zip format):
    ``OrderedDict`` state dicts of ``torch._utils._rebuild_tensor_v2`` tensors whose storages
    are raw little-endian files under ``<archive>/data/``."""
    p, storages = _Pickle(), []

    def tensor(a):
        a = np.asarray(a, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
        key = str(len(storages))
        storages.append((key, a))
        p.glob("torch._utils", "_rebuild_tensor_v2")
        p.op(b"(")                                   # args of _rebuild_tensor_v2
        p.op(b"(")                                   # persistent id ('storage', type, key, 'cpu', numel)
        p.str("storage")
        p.glob("torch", _STORAGE[a.dtype])
        p.str(key)
        p.str("cpu")
        p.int(int(a.size))
        p.op(b"tQ")
        p.int(0)                                     # storage offset
        p.int_tuple(a.shape)
        p.int_tuple(_strides(a.shape))
        p.op(b"\x89")                                # requires_grad False
        p.ordered_dict()                             # backward hooks
        p.op(b"tR")

    def value(v):
        if isinstance(v, dict):
            if all(isinstance(x, np.ndarray) for x in v.values()):
                p.ordered_dict()                     # a state_dict
            else:
                p.op(b"}")
            p.op(b"(")
            for k, x in v.items():
                p.str(k)
                value(x)
            p.op(b"u")
        elif isinstance(v, np.ndarray):
            tensor(v)
        else:
            raise TypeError(f"cannot write {type(v).__name__}")

    value(obj)
    p.op(b".")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{archive}/data.pkl", p.out.getvalue())
        zf.writestr(f"{archive}/byteorder", "little")
        for key, a in storages:
            zf.writestr(f"{archive}/data/{key}", a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
        zf.writestr(f"{archive}/version", "3\n")
    return path


def read_pickle_globals(path):
    """The globals a written archive's pickle names (for tests of the writer)."""
    import pickletools

    with zipfile.ZipFile(path) as zf:
        data = zf.read(next(n for n in zf.namelist() if n.endswith("data.pkl")))
    return {arg for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}


__all__ = ["Stream", "make_input", "make_state", "make_checkpoint", "write_torch_zip", "splitmix_uniform"]
