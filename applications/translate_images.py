#!/usr/bin/env python
"""Translate a folder (or files, or a glob) of images with a trained CycleGAN checkpoint.

    python applications/translate_images.py \
        --checkpoint output/quickstart_cyclegan/checkpoints/latest.pdckpt \
        --input data/synthetic_shapes/testA --output output/translated [--direction AtoB]

Images keep their size (processed at the size rounded to a multiple of 4, then resized back).
Unreadable files are reported at the end and do not stop the batch. Writes one PNG per input and
an index.html that shows inputs next to outputs.
"""
import argparse
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def collect_inputs(items):
    """Paths from files, folders (recursive) and glob patterns, in a stable order."""
    from ppimg2img.utils.image_io import is_image_file, list_images
    paths = []
    for item in items:
        if os.path.isdir(item):
            paths += [(p, os.path.relpath(p, item)) for p in list_images(item)]
        elif os.path.exists(item):
            paths.append((item, os.path.basename(item)))
        else:
            matches = sorted(p for p in glob.glob(item, recursive=True) if is_image_file(p))
            if not matches:
                raise FileNotFoundError(f"{item}: no such file or folder, and no images match it as a pattern")
            paths += [(p, os.path.basename(p)) for p in matches]
    return paths


def load_generator(checkpoint, direction):
    """Rebuild the generator from the config stored in a ppimg2img checkpoint and load its weights."""
    from ppimg2img.engine.checkpoint import CheckpointError, load_file, load_net_state
    from ppimg2img.nets import build_generator
    state = load_file(checkpoint)
    if not isinstance(state, dict) or "config" not in state or "nets" not in state:
        raise CheckpointError(f"{checkpoint}: not a ppimg2img training checkpoint (it holds no config to "
                              f"rebuild the network from); use output/<run>/checkpoints/*.pdckpt")
    g_cfg = dict(state["config"]["model"]["generator"])
    name = g_cfg.pop("name")
    net_name = "netG_A" if direction == "AtoB" else "netG_B"
    if direction == "BtoA":
        g_cfg["input_nc"], g_cfg["output_nc"] = g_cfg.get("output_nc", 3), g_cfg.get("input_nc", 3)
    net = build_generator(name, **g_cfg)
    load_net_state(net, state["nets"][net_name], net_name, checkpoint)
    net.eval()
    return net


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="a .pdckpt written by tools/main.py")
    p.add_argument("--input", required=True, nargs="+", help="image files, folders or glob patterns")
    p.add_argument("--output", required=True, help="folder for the results")
    p.add_argument("--direction", default="AtoB", choices=["AtoB", "BtoA"], help="AtoB uses G_A, BtoA uses G_B")
    p.add_argument("--device", choices=["cpu", "gpu"], default=None)
    args = p.parse_args(argv)

    import cv2
    import paddle
    from tqdm import tqdm

    from ppimg2img.engine.checkpoint import CheckpointError
    from ppimg2img.engine.visual import write_results_page
    from ppimg2img.utils.env import set_device, set_threads
    from ppimg2img.utils.image_io import image_to_array, load_image, save_image, tensor_to_image

    try:
        set_device(args.device)
        set_threads(None)
        inputs = collect_inputs(args.input)
        net = load_generator(args.checkpoint, args.direction)
    except (OSError, CheckpointError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    os.makedirs(args.output, exist_ok=True)
    rows, failed = [], []
    for path, rel in tqdm(inputs, desc="translate", disable=len(inputs) < 5):
        try:
            img = load_image(path)
        except OSError as err:
            failed.append(f"{path}: {err}")
            continue
        h, w = img.shape[:2]
        h4, w4 = max(4, round(h / 4) * 4), max(4, round(w / 4) * 4)
        x = cv2.resize(img, (w4, h4), interpolation=cv2.INTER_CUBIC) if (h4, w4) != (h, w) else img
        with paddle.no_grad():
            y = tensor_to_image(net(paddle.to_tensor(image_to_array(x)[None]))[0])
        if (h4, w4) != (h, w):
            y = cv2.resize(y, (w, h), interpolation=cv2.INTER_CUBIC)
        stem = os.path.splitext(rel)[0]
        save_image(os.path.join(args.output, "images", stem + "_input.png"), img)
        save_image(os.path.join(args.output, stem + ".png"), y)
        rows.append((stem, [f"images/{stem}_input.png", f"{stem}.png"]))
    summary = f"{len(rows)} of {len(inputs)} images translated ({args.direction}) into {args.output}"
    notes = [summary] + [f"skipped {f}" for f in failed]
    write_results_page(args.output, f"ppimg2img {args.direction}", ["input", "output"], rows, notes)
    print(summary)
    if failed:
        print(f"{len(failed)} file(s) could not be read and were skipped:", *failed, sep="\n  ", file=sys.stderr)
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
