#!/usr/bin/env python
"""Translate a folder (or files, or a glob) of images with a trained ppimg2img checkpoint
(CycleGAN, pix2pix, colorization, U-GAT-IT, photo2cartoon).

    python applications/translate_images.py \
        --checkpoint output/quickstart_cyclegan/checkpoints/latest.pdckpt \
        --input data/synthetic_shapes/testA --output output/translated [--direction AtoB]

Images keep their size: each is processed at the nearest size the generator accepts (a multiple
of 4 for ResNet and light U-GAT-IT generators, of 16 for photo2cartoon, of 2^downsamplings for
U-Nets, exactly ``img_size`` for full U-GAT-IT), then resized back. Grayscale models (input_nc 1
in the checkpoint's config) get the image converted to grayscale, as in training; colorization
models get its L channel and return the colourised photo. Files that cannot be read or translated are reported by name at the end and do
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


def load_model(checkpoint, direction):
    """Rebuild the model from the config stored in a ppimg2img checkpoint, with its generators'
    weights. Returns ``(model, generator config, input channels)``."""
    from ppimg2img.engine.checkpoint import CheckpointError, load_file
    from ppimg2img.models import MODELS
    state = load_file(checkpoint)
    if not isinstance(state, dict) or "config" not in state or "nets" not in state:
        raise CheckpointError(f"{checkpoint}: not a ppimg2img training checkpoint (it holds no config to "
                              f"rebuild the network from); use output/<run>/checkpoints/*.pdckpt")
    try:
        model_cfg = dict(state["config"]["model"])
        name = model_cfg.pop("name")
        g_cfg = dict(model_cfg["generator"])
    except (KeyError, TypeError) as err:
        raise CheckpointError(f"{checkpoint}: incomplete checkpoint, it lacks {err} (needs config.model with "
                              f"a name and a generator); use output/<run>/checkpoints/*.pdckpt") from None
    if name not in MODELS:
        raise CheckpointError(f"{checkpoint}: unknown model {name!r}; this ppimg2img knows {', '.join(MODELS)}")
    directions = getattr(MODELS[name], "directions", ("AtoB", "BtoA"))
    if direction not in directions:
        raise CheckpointError(f"{checkpoint}: {name} has one generator, which translates A -> B as the dataset's "
                              f"direction defined it in training; use --direction AtoB")
    model = MODELS[name](**model_cfg, is_train=False, seed=0)
    model.load_nets(state["nets"], source=checkpoint, strict=True)
    model.eval()
    input_nc = g_cfg.get("input_nc", 3) if direction == "AtoB" else g_cfg.get("output_nc", 3)
    return model, g_cfg, input_nc


def working_size(g_cfg, h, w):
    """The (height, width) nearest to (h, w) that the generator accepts."""
    import inspect

    from ppimg2img.nets import GENERATORS
    name = g_cfg["name"]
    defaults = {k: p.default for k, p in inspect.signature(GENERATORS[name]).parameters.items()}
    if name in ("ugatit", "photo2cartoon") and not g_cfg.get("light", defaults.get("light")):
        size = g_cfg.get("img_size", defaults["img_size"])  # the full MLP reads a fixed-size feature map
        return size, size
    multiple = {"unet_256": 256, "unet_128": 128, "photo2cartoon": 16}.get(name, 4)
    return (max(multiple, round(h / multiple) * multiple), max(multiple, round(w / multiple) * multiple))


def translate(model, g_cfg, img, input_nc, direction="AtoB"):
    """HxWx3 uint8 image -> translated HxWx3 uint8 image of the same size."""
    import cv2
    import numpy as np
    import paddle
    from PIL import Image

    from ppimg2img.utils.image_io import image_to_array, tensor_to_image
    h, w = img.shape[:2]
    hs, ws = working_size(g_cfg, h, w)
    x = cv2.resize(img, (ws, hs), interpolation=cv2.INTER_CUBIC) if (hs, ws) != (h, w) else img
    colorization = type(model).__name__ == "ColorizationModel"
    if colorization:
        from ppimg2img.data.colorization import rgb_to_lab_arrays
        net_in = rgb_to_lab_arrays(x)[0]
    else:
        if input_nc == 1:
            x = np.asarray(Image.fromarray(x).convert("L"))
        net_in = image_to_array(x)
    with paddle.no_grad():
        out = model.translate(paddle.to_tensor(net_in[None]), direction)[0]
    y = model.display_images(net_in, out)["fake_B"] if colorization else tensor_to_image(out)
    return cv2.resize(y, (w, h), interpolation=cv2.INTER_CUBIC) if (hs, ws) != (h, w) else y


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="a .pdckpt written by tools/main.py")
    p.add_argument("--input", required=True, nargs="+", help="image files, folders or glob patterns")
    p.add_argument("--output", required=True, help="folder for the results")
    p.add_argument("--direction", default="AtoB", choices=["AtoB", "BtoA"],
                   help="AtoB uses G_A / genA2B, BtoA uses G_B / genB2A (pix2pix has AtoB only)")
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
        model, g_cfg, input_nc = load_model(args.checkpoint, args.direction)
    except (OSError, CheckpointError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    os.makedirs(args.output, exist_ok=True)
    rows, failed = [], []
    for path, name in tqdm(inputs, desc="translate", disable=len(inputs) < 5):
        try:
            img = load_image(path)
            y = translate(model, g_cfg, img, input_nc, args.direction)
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
