"""One-off: convert the reference CycleGAN checkpoint (.pth) to a plain .npz of numpy arrays.

Needs PyTorch, which the project does not depend on; run it from a separate virtualenv:

    python3 -m venv /work/torchvenv && /work/torchvenv/bin/pip install torch==2.13.0 numpy
    /work/torchvenv/bin/python tests/data/make_reference_npz.py \
        /work/shared/reference/cyclegan_resnet_6blocks_ngf8.pth tests/data/cyclegan_resnet_6blocks_ngf8.npz

The .pth is a plain state_dict saved with ``torch.save`` by the original
junyanz/pytorch-CycleGAN-and-pix2pix ResnetGenerator (6 blocks, ngf 8, InstanceNorm
affine=False). Keys are kept unchanged, so the .npz mirrors the PyTorch layout 1:1; the
result is committed so the tests never need torch.
"""
import sys

import numpy as np
import torch


def main(src, dst):
    state = torch.load(src, map_location="cpu", weights_only=True)
    arrays = {key: value.detach().cpu().numpy() for key, value in state.items()}
    np.savez(dst, **arrays)
    print(f"wrote {dst}: {len(arrays)} arrays")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: make_reference_npz.py SRC.pth DST.npz")
    main(sys.argv[1], sys.argv[2])
