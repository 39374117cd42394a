"""Checkpoints: written atomically, portable between processes, weights loadable alone.

A full checkpoint is one ``paddle.save`` file holding a dict::

    {'format': 'ppimg2img-checkpoint', 'version': 1,
     'nets': {name: state_dict}, 'optimizers': {name: state}, 'schedulers': {name: state},
     'epoch': int, 'iter': int, 'epoch_iter': int, 'rng': {...}, 'extra': {...}, 'config': {...}}

Paddle names optimizer state after parameter names (``conv2d_3.w_0_moment1_0``), which depend on
how many layers the process created before; they are stored by parameter position instead so
a checkpoint resumes in any process.
"""
import os
import re

import paddle

FORMAT = "ppimg2img-checkpoint"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable or does not fit the model."""


def atomic_save(obj, path):
    """``paddle.save`` to a temporary file in the same folder, then rename over ``path``:
    a crash mid-write never leaves a truncated checkpoint behind."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        paddle.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_file(path):
    """Read a ``.pdckpt``/``.pdparams`` file through the restricted reader: tensors come back as
    NumPy arrays and nothing in the file runs (``paddle.load`` would unpickle it unrestricted).
    Raises ``UnsafeCheckpointError`` for a file that asks for anything else."""
    from ..weights.reader import CheckpointReadError, read_checkpoint

    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: checkpoint not found. Pass the path of a .pdckpt/.pdparams "
                              f"file, for example output/<run>/checkpoints/latest.pdckpt")
    try:
        return read_checkpoint(path)
    except CheckpointReadError as err:
        raise CheckpointError(f"{err}. Use another checkpoint (checkpoints/ keeps one per saved epoch).") from None


def _param_names(optimizer):
    return [p.name for p in optimizer._parameter_list]


def optimizer_state(optimizer):
    """Optimizer state with parameter names replaced by their position (``@3``)."""
    names = _param_names(optimizer)
    by_len = sorted(range(len(names)), key=lambda i: -len(names[i]))
    out = {}
    for key, value in optimizer.state_dict().items():
        new_key = key
        for i in by_len:
            if key.startswith(names[i] + "_"):
                new_key = f"@{i}" + key[len(names[i]):]
                break
        if new_key == "master_weights" and isinstance(value, dict):
            value = {f"@{names.index(k)}": v for k, v in value.items() if k in names}
        out[new_key] = value
    return out


def set_optimizer_state(optimizer, state):
    names = _param_names(optimizer)
    restored = {}
    for key, value in state.items():
        m = re.match(r"@(\d+)(_.*)$", key)
        if m:
            idx = int(m.group(1))
            if idx >= len(names):
                raise CheckpointError(f"optimizer state refers to parameter #{idx}, but the model has "
                                      f"{len(names)}: the checkpoint belongs to a different network")
            key = names[idx] + m.group(2)
        elif key == "master_weights" and isinstance(value, dict):
            value = {names[int(k[1:])]: v for k, v in value.items()}
        restored[key] = value
    optimizer.set_state_dict(restored)


def load_net_state(net, state, net_name="net", source=""):
    """Load a state dict strictly: every key present, every shape equal, no leftovers."""
    own = net.state_dict()
    where = f"{source}: " if source else ""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise CheckpointError(
            f"{where}{net_name}: keys do not match the network (missing: {missing[:5]}"
            f"{'...' if len(missing) > 5 else ''}; unexpected: {unexpected[:5]}"
            f"{'...' if len(unexpected) > 5 else ''}). Check the architecture settings "
            f"(generator name, ngf, norm) against the ones used for training.")
    for k, v in own.items():
        shape = list(state[k].shape)
        if shape != list(v.shape):
            raise CheckpointError(f"{where}{net_name}.{k}: expected shape {list(v.shape)}, found {shape}. "
                                  f"Check the architecture settings (ngf, n_blocks, channels).")
    net.set_state_dict(state)
