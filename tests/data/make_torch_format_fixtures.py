"""Writes tests/data/torch_formats_{zip,legacy}.pt and torch_formats_expected.npz.

Run once with a Python that has torch (tests never import torch):
    python tests/data/make_torch_format_fixtures.py
The same small state dict is saved in PyTorch's zip format and in its legacy (< 1.6) stream
format. It covers what real checkpoints hold: float32/float16/bfloat16/int64/bool tensors,
views that share a storage at an offset, non-contiguous (transposed) tensors, 0-d tensors,
an nn.Parameter, nested dicts and an OrderedDict.
"""
import collections
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))

g = torch.Generator().manual_seed(0)
base = torch.randn(4, 6, generator=g)
state = collections.OrderedDict()
state["conv.weight"] = torch.randn(3, 2, 3, 3, generator=g)
state["transposed"] = base.t()                 # non-contiguous view
state["row_view"] = base[2]                     # shares base's storage at an offset
state["half"] = torch.randn(5, generator=g).half()
state["bf16"] = torch.randn(5, generator=g).bfloat16()
state["steps"] = torch.tensor(7)                # 0-d int64, like num_batches_tracked
state["mask"] = torch.tensor([True, False, True])
state["param"] = torch.nn.Parameter(torch.randn(2, 2, generator=g))
obj = {"genA2B": state, "meta": {"epoch": 3, "names": ["a", "b"]}}

torch.save(obj, os.path.join(HERE, "torch_formats_zip.pt"))
torch.save(obj, os.path.join(HERE, "torch_formats_legacy.pt"), _use_new_zipfile_serialization=False)
expected = {k: (v.float() if v.dtype == torch.bfloat16 else v).detach().numpy() for k, v in state.items()}
np.savez(os.path.join(HERE, "torch_formats_expected.npz"), **expected)
print("wrote", sorted(expected))
