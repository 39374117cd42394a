#!/usr/bin/env python
"""Build pix2pix's side-by-side A|B images from two folders (port of the original
datasets/combine_A_and_B.py).

    python data/combine_A_and_B.py --fold_A /path/A --fold_B /path/B --fold_AB /path/AB

Each split folder ``A/<split>`` (train, val, test, ...) is paired with ``B/<split>`` by file name
(``--use_AB``: ``x_A.png`` pairs with ``x_B.png`` and becomes ``x.png``); the result goes to
``AB/<split>/<name>``, A on the left, B on the right. Both images must have the same height.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from ppimg2img.utils.image_io import ImageReadError, list_images, load_image, save_image  # noqa: E402


def combine(fold_A, fold_B, fold_AB, num_imgs=None, use_AB=False, progress=True):
    """Write A|B images for every split of ``fold_A``; returns {split: number written} and a
    list of problems (missing partners, unreadable files, height mismatches)."""
    from tqdm import tqdm
    if not os.path.isdir(fold_A) or not os.path.isdir(fold_B):
        missing = [f for f in (fold_A, fold_B) if not os.path.isdir(f)]
        raise FileNotFoundError(f"folder(s) not found: {', '.join(missing)}")
    splits = sorted(d for d in os.listdir(fold_A) if os.path.isdir(os.path.join(fold_A, d)))
    if not splits:
        raise FileNotFoundError(f"{fold_A} has no split sub-folders (expected e.g. {fold_A}/train with images, "
                                f"and the same names in {fold_B}/train)")
    written, problems = {}, []
    for split in splits:
        dir_A, dir_B, dir_AB = (os.path.join(f, split) for f in (fold_A, fold_B, fold_AB))
        if not os.path.isdir(dir_B):
            problems.append(f"{dir_B}: missing, split '{split}' skipped")
            continue
        paths = list_images(dir_A)[:num_imgs]
        written[split] = 0
        for path_A in tqdm(paths, desc=split, disable=not progress, leave=False):
            rel = os.path.relpath(path_A, dir_A)
            rel_B, rel_AB = rel, rel
            if use_AB:
                if "_A." not in os.path.basename(rel):
                    continue
                rel_B, rel_AB = rel.replace("_A.", "_B."), rel.replace("_A.", ".")
            path_B = os.path.join(dir_B, rel_B)
            if not os.path.isfile(path_B):
                problems.append(f"{path_A}: no partner {path_B}")
                continue
            try:
                im_A, im_B = load_image(path_A), load_image(path_B)
            except ImageReadError as err:
                problems.append(str(err))
                continue
            if im_A.shape[0] != im_B.shape[0]:
                problems.append(f"{path_A} ({im_A.shape[1]}x{im_A.shape[0]}) and {path_B} "
                                f"({im_B.shape[1]}x{im_B.shape[0]}) differ in height; resize one of them")
                continue
            save_image(os.path.join(dir_AB, rel_AB), np.concatenate([im_A, im_B], axis=1))
            written[split] += 1
    return written, problems


def main(argv=None):
    p = argparse.ArgumentParser(description="Combine A/<split>/name and B/<split>/name into AB/<split>/name "
                                            "(A left, B right) for pix2pix's AlignedDataset.")
    p.add_argument("--fold_A", required=True, help="input folder A (with split sub-folders: train, val, test)")
    p.add_argument("--fold_B", required=True, help="input folder B (same split sub-folders and file names)")
    p.add_argument("--fold_AB", required=True, help="output folder")
    p.add_argument("--num_imgs", type=int, default=None, help="at most this many images per split")
    p.add_argument("--use_AB", action="store_true", help="pair x_A.ext with x_B.ext (output x.ext)")
    args = p.parse_args(argv)
    try:
        written, problems = combine(args.fold_A, args.fold_B, args.fold_AB, args.num_imgs, args.use_AB)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for line in problems:
        print(f"warning: {line}", file=sys.stderr)
    print("wrote " + ", ".join(f"{n} images to {os.path.join(args.fold_AB, s)}" for s, n in written.items()))
    return 0 if any(written.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
