"""Read PyTorch and Paddle checkpoint files into NumPy, without importing torch and without
running code from the file.

Formats:
- ``torch.save`` zip archives (PyTorch >= 1.6): ``<name>/data.pkl`` plus one raw little-endian
  file per storage under ``<name>/data/``;
- the legacy ``torch.save`` stream (PyTorch < 1.6): magic number, protocol, system info, the
  pickle, the storage keys, then each storage as an int64 element count and its bytes;
- ``paddle.save`` pickles (``.pdparams``, ``.pdckpt``), where tensors are NumPy arrays, sometimes
  wrapped as ``(name, array)`` tuples inside nested dicts.

A checkpoint is a pickle, and unpickling can call any importable function. ``_SafeUnpickler``
only resolves the globals in ``ALLOWED_GLOBALS`` (containers, NumPy array reconstruction, torch's
tensor/storage rebuild functions, which are re-implemented here) and raises
``UnsafeCheckpointError`` for anything else.
"""
import collections
import io
import os
import pickle
import pickletools
import struct
import tarfile
import zipfile

import numpy as np


class UnsafeCheckpointError(pickle.UnpicklingError, ValueError):
    """The checkpoint's pickle asks for a global outside the allowed set (it could run code).
    A ValueError too, so commands report it in one line as bad input."""


class CheckpointReadError(OSError):
    """The file is missing, truncated, or not a checkpoint format ppimg2img reads."""


# torch storage class name -> NumPy dtype; BFloat16 is read as uint16 bits and widened below.
TORCH_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": np.uint16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _StorageType:
    """Stands for ``torch.FloatStorage`` and friends: only its dtype matters."""

    def __init__(self, name, dtype):
        self.name, self.dtype = name, np.dtype(dtype)

    def __repr__(self):
        return f"torch.{self.name}"


class _Storage:
    """A flat NumPy array of one storage's elements (bfloat16 kept as raw bits)."""

    def __init__(self, data, bfloat16=False):
        self.data, self.bfloat16 = data, bfloat16


def _as_array(storage, offset, size, stride):
    """Tensor view (offset, size, stride in elements) of a storage, copied into its own array."""
    flat = storage.data
    size, stride = tuple(size), tuple(stride)
    if not size:
        out = flat[offset:offset + 1].reshape(())
    else:
        extent = offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1 if all(size) else offset
        if extent > flat.size:
            raise CheckpointReadError(f"a tensor of shape {size} needs {extent} elements but its storage "
                                      f"holds {flat.size}: the file is truncated or corrupt")
        out = np.lib.stride_tricks.as_strided(flat[offset:], shape=size,
                                              strides=[s * flat.itemsize for s in stride])
    out = np.array(out)  # own, contiguous, writeable copy
    if storage.bfloat16:
        out = (out.astype(np.uint32) << 16).view(np.float32)
    return out


class _LazyTensor:
    """A tensor of the legacy format, whose storage bytes come after the pickle."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride


def _rebuild_tensor(storage, storage_offset, size, stride, *_):
    """torch._utils._rebuild_tensor(_v2): gradients, hooks and metadata are irrelevant here."""
    if isinstance(storage, _View):
        storage, storage_offset = storage.storage, storage_offset + storage.offset
    if storage.data is None:
        return _LazyTensor(storage, storage_offset, size, stride)
    return _as_array(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *_):
    """torch._utils._rebuild_parameter(_with_state): a Parameter is its data."""
    return data


def _numpy_reconstruct(subtype, shape, dtype):
    """numpy's array unpickling helper, limited to plain ndarrays."""
    if subtype is not np.ndarray:
        raise UnsafeCheckpointError(f"refusing to rebuild an array of type {subtype!r}")
    return np.ndarray.__new__(np.ndarray, shape, dtype)


def _numpy_scalar(dtype, data=None):
    return np.frombuffer(data, dtype=dtype, count=1)[0] if data is not None else dtype.type()


def _codecs_encode(text, encoding="utf-8", errors="strict"):
    """``_codecs.encode``, as protocol-2 pickles written by Python 3 store ``bytes`` (NumPy data,
    CIFAR-10 batches re-saved by Python 3): ``encode(str, 'latin1')``. Only text to bytes in
    latin-1 or UTF-8; nothing else of the codecs machinery."""
    if not isinstance(text, str) or encoding.lower().replace("_", "-") not in ("latin1", "latin-1", "utf-8"):
        raise UnsafeCheckpointError(f"refusing _codecs.encode({type(text).__name__}, {encoding!r}): only text "
                                    f"to latin-1/UTF-8 bytes is allowed")
    return text.encode(encoding, errors)


class _Inert:
    """Stands for harmless objects that weights do not need (the RNG state in ppimg2img's
    training checkpoints): accepts its arguments and state, does nothing."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "tuple"): tuple, ("builtins", "list"): list, ("builtins", "dict"): dict,
    ("builtins", "set"): set, ("builtins", "frozenset"): frozenset, ("builtins", "slice"): slice,
    ("__builtin__", "set"): set,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _codecs_encode,
}


class GeneratorStateData:
    """Stands for Paddle's ``GeneratorState`` (the RNG state in ppimg2img's older ``.pdckpt``
    files): keeps the plain state tuple it was pickled with (ints), never builds Paddle's object.
    ``ppimg2img.utils.env.set_rng_state`` restores from it."""

    def __init__(self, *args):
        self.state = None

    def __setstate__(self, state):
        self.state = state


class NamespaceData:
    """Stands for ``argparse.Namespace`` (the training arguments rosinality's StyleGAN2 checkpoints
    store under 'args'): keeps the plain attribute dict as ``.vars``, sets no attributes, runs nothing."""

    def __init__(self, *args, **kwargs):
        self.vars = {}

    def __setstate__(self, state):
        self.vars = dict(state) if isinstance(state, dict) else {}

    def __repr__(self):
        return f"Namespace({', '.join(f'{k}={v!r}' for k, v in self.vars.items())})"


ALLOWED_GLOBALS[("argparse", "Namespace")] = NamespaceData
ALLOWED_GLOBALS[("paddle.base.libpaddle", "GeneratorState")] = GeneratorStateData
ALLOWED_GLOBALS[("paddle.fluid.libpaddle", "GeneratorState")] = GeneratorStateData
ALLOWED_GLOBALS.update({("torch", name): _StorageType(name, dt) for name, dt in TORCH_STORAGE_DTYPES.items()})
# an UntypedStorage saved on its own (torch >= 2): raw bytes
ALLOWED_GLOBALS[("torch.storage", "UntypedStorage")] = _StorageType("UntypedStorage", np.uint8)
ALLOWED_GLOBALS[("torch", "UntypedStorage")] = ALLOWED_GLOBALS[("torch.storage", "UntypedStorage")]


class _SafeUnpickler(pickle.Unpickler):
    """Unpickler that resolves only ``ALLOWED_GLOBALS``; ``load_storage(pid)`` serves torch's
    persistent storage ids."""

    def __init__(self, file, source, load_storage=None):
        super().__init__(file, encoding="latin1")
        self.source, self.load_storage = source, load_storage

    def find_class(self, module, name):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            pass
        hint = ""
        if module.startswith(("torch.nn", "__main__", "models", "networks")):
            hint = (" The file seems to pickle a whole model object rather than its weights: load it "
                    "once in PyTorch and save model.state_dict() instead.")
        raise UnsafeCheckpointError(
            f"{self.source}: refusing to load '{module}.{name}': a checkpoint is a pickle, and this one "
            f"asks to import or call something beyond tensors and plain containers, which could run "
            f"arbitrary code.{hint} Only load files from sources you trust.")

    def persistent_load(self, pid):
        if self.load_storage is None:
            raise UnsafeCheckpointError(f"{self.source}: unexpected persistent id {pid!r} in a Paddle pickle")
        return self.load_storage(pid)


def _storage_from_bytes(storage_type, raw):
    """Little-endian bytes (as torch.save writes them) -> a flat native-order array."""
    dt = storage_type.dtype
    usable = len(raw) - len(raw) % dt.itemsize
    data = np.frombuffer(raw[:usable], dtype=dt.newbyteorder("<")).astype(dt, copy=False)
    return _Storage(data, bfloat16=storage_type.name == "BFloat16Storage")


def _read_torch_zip(path, zf):
    pkl_names = [n for n in zf.namelist() if n.endswith("data.pkl")]
    if not pkl_names:
        raise CheckpointReadError(f"{path}: a zip file without data.pkl is not a torch.save checkpoint")
    prefix = pkl_names[0][: -len("data.pkl")]
    byteorder = zf.read(prefix + "byteorder").decode().strip() if prefix + "byteorder" in zf.namelist() else "little"
    if byteorder != "little":
        raise CheckpointReadError(f"{path}: big-endian torch checkpoints are not supported")
    cache = {}

    def load_storage(pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise UnsafeCheckpointError(f"{path}: unexpected persistent id {pid!r}")
        storage_type, key = pid[1], str(pid[2])
        if not isinstance(storage_type, _StorageType):
            raise CheckpointReadError(f"{path}: unknown storage type {storage_type!r}")
        if key not in cache:
            try:
                raw = zf.read(f"{prefix}data/{key}")
            except KeyError:
                raise CheckpointReadError(f"{path}: storage {key} is missing from the archive "
                                          f"(truncated download?)") from None
            cache[key] = _storage_from_bytes(storage_type, raw)
        return cache[key]

    with zf.open(pkl_names[0]) as f:
        return _SafeUnpickler(f, path, load_storage).load()


def _read_torch_legacy(path, f):
    """PyTorch < 1.6 stream: the object's storages follow the pickles, each as count + bytes."""
    def unpickler(load_storage=None):
        return _SafeUnpickler(f, path, load_storage)

    if unpickler().load() != _LEGACY_MAGIC:
        raise CheckpointReadError(f"{path}: not a torch checkpoint (bad magic number)")
    unpickler().load()  # protocol version
    unpickler().load()  # sys info (endianness, type sizes)
    pending = {}

    def load_storage(pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise UnsafeCheckpointError(f"{path}: unexpected persistent id {pid!r}")
        storage_type, key, view = pid[1], str(pid[2]), pid[5] if len(pid) > 5 else None
        if key not in pending:
            pending[key] = _Storage(None), storage_type
        storage = pending[key][0]
        if view is not None:  # (view key, offset, size): a slice of the root storage
            _, offset, size = view
            return _View(storage, offset, size)
        return storage

    obj = unpickler(load_storage).load()
    keys = unpickler().load()
    for key in keys:
        storage, storage_type = pending[str(key)]
        (count,) = struct.unpack("<q", f.read(8))
        raw = f.read(count * storage_type.dtype.itemsize)
        if len(raw) < count * storage_type.dtype.itemsize:
            raise CheckpointReadError(f"{path}: file ends inside storage {key}: truncated download?")
        loaded = _storage_from_bytes(storage_type, raw)
        storage.data, storage.bfloat16 = loaded.data, loaded.bfloat16
    return _resolve_views(obj)


class _View:
    """A slice of a legacy root storage (offset in elements)."""

    def __init__(self, storage, offset, size):
        self.storage, self.offset, self.size = storage, offset, size


def _resolve_views(obj):
    """Replace the legacy format's lazy tensors, now that their storages are read."""
    if isinstance(obj, _LazyTensor):
        return _as_array(obj.storage, obj.offset, obj.size, obj.stride)
    if isinstance(obj, dict):
        return type(obj)((k, _resolve_views(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve_views(v) for v in obj)
    return obj


def _read_torch_tar(path):
    raise CheckpointReadError(f"{path}: this is PyTorch's oldest (tar) checkpoint format, from before "
                              f"PyTorch 0.4. Load it once in PyTorch and save it again with torch.save.")


def _unwrap_paddle(obj):
    """paddle.save stores nested tensors as ``(name, array)`` tuples; keep the arrays."""
    if isinstance(obj, dict):
        return type(obj)((k, _unwrap_paddle(v)) for k, v in obj.items())
    if (isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], str)
            and isinstance(obj[1], np.ndarray)):
        return obj[1]
    if isinstance(obj, list):
        return [_unwrap_paddle(v) for v in obj]
    return obj


def read_checkpoint(path):
    """Read a ``.pth``/``.pt`` (torch.save, zip or legacy) or ``.pdparams``/``.pdckpt``
    (paddle.save) file. Returns the stored object with every tensor as a NumPy array; nothing in
    the file is executed (``UnsafeCheckpointError`` otherwise)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointReadError(f"{path}: checkpoint file not found")
    if os.path.getsize(path) == 0:
        raise CheckpointReadError(f"{path}: the file is empty (an interrupted download?)")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                return _read_torch_zip(path, zf)
        if tarfile.is_tarfile(path):
            _read_torch_tar(path)
        with open(path, "rb") as f:
            head = f.read(64)
            f.seek(0)
            if _looks_like_legacy_torch(head):
                return _read_torch_legacy(path, f)
            return _unwrap_paddle(_SafeUnpickler(f, path).load())
    except (UnsafeCheckpointError, CheckpointReadError):
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, struct.error, zipfile.BadZipFile, OSError) as err:
        raise CheckpointReadError(f"{path}: cannot read checkpoint ({type(err).__name__}: {err}); "
                                  f"the file may be truncated or not a PyTorch/Paddle checkpoint") from None


def _looks_like_legacy_torch(head):
    """The legacy stream opens with the pickled magic number (PROTO, then a LONG1 opcode).
    Decided from the opcodes alone (``pickletools.genops`` decodes, it never executes)."""
    try:
        for opcode, arg, _ in pickletools.genops(io.BytesIO(head)):
            if opcode.name != "PROTO":
                return opcode.name in ("LONG1", "LONG4", "LONG", "INT") and arg == _LEGACY_MAGIC
    except Exception:  # a truncated head or bytes that are not a pickle
        pass
    return False
