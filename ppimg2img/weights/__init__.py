"""Pretrained weights: read original PyTorch (``.pth``/``.pt``) and Paddle/PaddleGAN
(``.pdparams``) checkpoints without torch, map them onto ppimg2img's nets, and the model zoo.

    from ppimg2img import load_generator
    G = load_generator("horse2zebra")                 # model zoo: downloaded once, cached
    G = load_generator("latest_net_G_A.pth")          # original CycleGAN code's checkpoint
    G = load_generator("photo2cartoon_weights.pt")    # arch and options inferred from the file
"""
import os

from .convert import WeightsMismatchError, convert_state_dict, load_state_into
from .load import _framework, infer_arch, load_generator, save_converted, select_net
from .reader import CheckpointReadError, UnsafeCheckpointError, read_checkpoint
from .zoo import MODEL_ZOO, UnknownModelError, converted_path, fetch, get_entry, list_models, weights_path


def load_weights_into(net, weights, key=None):
    """Load a checkpoint file (or an already-read dict) into ``net``, any layout; returns ``net``."""
    if isinstance(weights, (str, os.PathLike)):
        path = os.fspath(weights)
        obj = read_checkpoint(path)
        framework = _framework(path)
    else:
        path, obj, framework = "weights", weights, "paddle"
    state, _ = select_net(obj, key, source=path)
    return load_state_into(net, state, framework, source=path)


__all__ = ["read_checkpoint", "UnsafeCheckpointError", "CheckpointReadError", "WeightsMismatchError",
           "convert_state_dict", "load_state_into", "load_weights_into", "load_generator", "infer_arch",
           "select_net", "save_converted", "MODEL_ZOO", "UnknownModelError", "converted_path", "fetch",
           "get_entry", "list_models", "weights_path"]
