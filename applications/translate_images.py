#!/usr/bin/env python
"""Translate a folder (or files, or a glob) of images with a trained CycleGAN checkpoint.

    python applications/translate_images.py \
        --checkpoint output/quickstart_cyclegan/checkpoints/latest.pdckpt \
        --input data/synthetic_shapes/testA --output output/translated [--direction AtoB]

Images keep their size (processed at the size rounded to a multiple of 4, then resized back);
grayscale models (input_nc 1 in the checkpoint's config) get the image converted to grayscale,
as in training. Files that cannot be read or translated are reported by name at the end and do
not stop the batch. Writes one PNG per input (folder inputs keep their sub-folders; a name that
is already taken gets a suffix _2, _3...) and an index.html that shows inputs next to outputs.
"""
import argparse
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _written_files(name):
    """The files written for the output name ``name``, case-folded (case-insensitive file systems)."""
    return {f"{name}.png".casefold(), os.path.join("images", f"{name}_input.png").casefold()}


def collect_inputs(items):
    """``(path, output name)`` for files, folders (recursive) and glob patterns, in a stable order.

    Folder inputs are named by their path inside the folder (``sub/b``), files and glob matches
    by their base name. Names are unique: one already taken (``x/a.png`` and ``y/a.png``, or
    ``a.png`` and ``a.jpg``) gets a suffix ``_2``, ``_3``... A file given twice is translated once.
    """
    from ppimg2img.utils.image_io import is_image_file, list_images
    found = []
    for item in items:
        if os.path.isdir(item):
            found += [(p, os.path.relpath(p, item)) for p in list_images(item)]
        elif os.path.exists(item):
            found.append((item, os.path.basename(item)))
        else:
            matches = sorted(p for p in glob.glob(item, recursive=True) if is_image_file(p))
            if not matches:
                raise FileNotFoundError(f"{item}: no such file or folder, and no images match it as a pattern")
            found += [(p, os.path.basename(p)) for p in matches]
    inputs, seen, taken = [], set(), set()
    for path, rel in found:
        if os.path.realpath(path) in seen:
            continue
        seen.add(os.path.realpath(path))
        name = stem = os.path.splitext(rel)[0]
        suffix = 1
        while _written_files(name) & taken:
            suffix += 1
            name = f"{stem}_{suffix}"
        taken |= _written_files(name)
        inputs.append((path, name))
    return inputs


def load_generator(checkpoint, direction):
    """Rebuild the generator from the config stored in a ppimg2img checkpoint and load its weights.

    Returns ``(net, input_nc)``; for BtoA the generator G_B reads the config's ``output_nc``.
    """
    from ppimg2img.engine.checkpoint import CheckpointError, load_file, load_net_state
    from ppimg2img.nets import build_generator
    state = load_file(checkpoint)
    if not isinstance(state, dict) or "config" not in state or "nets" not in state:
        raise CheckpointError(f"{checkpoint}: not a ppimg2img training checkpoint (it holds no config to "
                              f"rebuild the network from); use output/<run>/checkpoints/*.pdckpt")
    net_name = "netG_A" if direction == "AtoB" else "netG_B"
    try:
        g_cfg = dict(state["config"]["model"]["generator"])
        name = g_cfg.pop("name")
        weights = state["nets"][net_name]
    except (KeyError, TypeError) as err:
        raise CheckpointError(f"{checkpoint}: incomplete checkpoint, it lacks {err} (needs config.model."
                              f"generator with a name, and nets.{net_name}); use output/<run>/checkpoints/*.pdckpt"
                              ) from None
    if direction == "BtoA":
        g_cfg["input_nc"], g_cfg["output_nc"] = g_cfg.get("output_nc", 3), g_cfg.get("input_nc", 3)
    net = build_generator(name, **g_cfg)
    load_net_state(net, weights, net_name, checkpoint)
    net.eval()
    return net, g_cfg.get("input_nc", 3)


def translate(net, img, input_nc):
    """HxWx3 uint8 image -> translated HxWx3 uint8 image of the same size.

    The network runs at the size rounded to a multiple of 4 (two stride-2 downsamplings); with
    ``input_nc`` 1 the image is converted to grayscale first, as the training dataset does.
    """
    import cv2
    import numpy as np
    import paddle
    from PIL import Image

    from ppimg2img.utils.image_io import image_to_array, tensor_to_image
    h, w = img.shape[:2]
    h4, w4 = max(4, round(h / 4) * 4), max(4, round(w / 4) * 4)
    x = cv2.resize(img, (w4, h4), interpolation=cv2.INTER_CUBIC) if (h4, w4) != (h, w) else img
    if input_nc == 1:
        x = np.asarray(Image.fromarray(x).convert("L"))
    with paddle.no_grad():
        y = tensor_to_image(net(paddle.to_tensor(image_to_array(x)[None]))[0])
    return cv2.resize(y, (w, h), interpolation=cv2.INTER_CUBIC) if (h4, w4) != (h, w) else y


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="a .pdckpt written by tools/main.py")
    p.add_argument("--input", required=True, nargs="+", help="image files, folders or glob patterns")
    p.add_argument("--output", required=True, help="folder for the results")
    p.add_argument("--direction", default="AtoB", choices=["AtoB", "BtoA"], help="AtoB uses G_A, BtoA uses G_B")
    p.add_argument("--device", choices=["cpu", "gpu"], default=None)
    args = p.parse_args(argv)

    from tqdm import tqdm

    from ppimg2img.engine.checkpoint import CheckpointError
    from ppimg2img.engine.visual import write_results_page
    from ppimg2img.utils.env import set_device, set_threads
    from ppimg2img.utils.image_io import ImageReadError, load_image, save_image

    try:
        set_device(args.device)
        set_threads(None)
        inputs = collect_inputs(args.input)
        net, input_nc = load_generator(args.checkpoint, args.direction)
    except (OSError, CheckpointError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    os.makedirs(args.output, exist_ok=True)
    rows, failed = [], []
    for path, name in tqdm(inputs, desc="translate", disable=len(inputs) < 5):
        try:
            img = load_image(path)
            y = translate(net, img, input_nc)
            save_image(os.path.join(args.output, "images", name + "_input.png"), img)
            save_image(os.path.join(args.output, name + ".png"), y)
        except Exception as err:  # one bad image (unreadable, too small for the net...) must not stop the batch
            if isinstance(err, ImageReadError):  # its message names the file, the cause and a fix
                failed.append(str(err))
            else:  # first line only: Paddle errors append a long C++ hint
                failed.append(f"{path}: {type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}")
            continue
        cell = name.replace(os.sep, "/")
        rows.append((cell, [f"images/{cell}_input.png", f"{cell}.png"]))
    summary = f"{len(rows)} of {len(inputs)} images translated ({args.direction}) into {args.output}"
    notes = [summary] + [f"skipped {f}" for f in failed]
    write_results_page(args.output, f"ppimg2img {args.direction}", ["input", "output"], rows, notes)
    print(summary)
    if failed:
        print(f"{len(failed)} file(s) could not be translated and were skipped:", *failed, sep="\n  ",
              file=sys.stderr)
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
