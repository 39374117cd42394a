"""Make the README's quickstart figure from an evaluation folder: rows of input | output | truth.

    python tools/make_quickstart_figure.py output/quickstart_cyclegan/eval/latest docs/images/quickstart_results.png
"""
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ppimg2img.utils.image_io import load_image, save_image  # noqa: E402


def main(eval_dir, out_path, per_direction=2, side=128):
    rows = []
    for direction, (src, dst) in (("AtoB", ("A", "B")), ("BtoA", ("B", "A"))):
        img_dir = os.path.join(eval_dir, direction, "images")
        stems = sorted({f.split("_real_")[0] for f in os.listdir(img_dir) if "_real_" in f})[:per_direction]
        for stem in stems:
            tiles = [load_image(os.path.join(img_dir, f"{stem}_{kind}.png"))
                     for kind in (f"real_{src}", f"fake_{dst}", f"gt_{dst}")]
            tiles = [cv2.copyMakeBorder(cv2.resize(t, (side, side), interpolation=cv2.INTER_NEAREST),
                                        2, 2, 2, 2, cv2.BORDER_CONSTANT, value=(255, 255, 255)) for t in tiles]
            rows.append(np.concatenate(tiles, axis=1))
    save_image(out_path, np.concatenate(rows, axis=0))
    print(f"wrote {out_path} ({len(rows)} rows: input | output | ground truth)")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
