#!/usr/bin/env python
"""Prepare a photo2cartoon trainA folder from raw photos: aligned, masked square face PNGs.

    python applications/align_faces.py SRC_DIR DST_DIR [--size 256] [--max-faces 1] [--detector hog]

Every photo under SRC_DIR (sub-folders too) gets its largest face (``--max-faces N`` for more,
0 for all) detected with dlib, levelled, cropped as photo2cartoon does, cut out of its background
(GrabCut, or ``--mask``) and composited onto white: DST_DIR/<same sub-folder>/<name>.png, further
faces <name>_face2.png... Photos that exist in DST_DIR already are skipped (resume after an
interruption; ``--overwrite`` redoes them). Photos without a face or unreadable are listed in
DST_DIR/skipped.txt and do not stop the batch; DST_DIR/index.html is a contact sheet.

Exit status: 0 every photo has its faces, 1 some photos were skipped, 2 usage error.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SKIPPED_FILE = "skipped.txt"


def output_names(photos, src):
    """``{photo: output stem}``: the photo's path inside ``src`` without extension; a stem already
    taken (``a.jpg`` and ``a.png``) gets the extension appended (``a_png``)."""
    names, taken = {}, set()
    for path in photos:
        rel = os.path.relpath(path, src)
        stem, ext = os.path.splitext(rel)
        name = stem if stem.casefold() not in taken else f"{stem}_{ext.lstrip('.').lower()}"
        suffix = 1
        while name.casefold() in taken:
            suffix += 1
            name = f"{stem}_{ext.lstrip('.').lower()}{suffix}"
        taken.add(name.casefold())
        names[path] = name
    return names


def face_files(dst, name, n):
    """Output paths of ``n`` faces of one photo: <name>.png, <name>_face2.png, ..."""
    return [os.path.join(dst, f"{name}.png" if i == 0 else f"{name}_face{i + 1}.png") for i in range(n)]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", metavar="SRC_DIR", help="folder of photos (searched recursively)")
    p.add_argument("dst", metavar="DST_DIR", help="output folder (created; existing outputs are kept)")
    p.add_argument("--size", type=int, default=256, help="side of the aligned faces in pixels (default 256)")
    p.add_argument("--max-faces", type=int, default=1,
                   help="faces per photo, largest first (default 1 as photo2cartoon's data_process.py; 0: all)")
    p.add_argument("--detector", choices=["hog", "cnn"], default="hog",
                   help="dlib HOG (fast, default) or CNN (slower; small, turned or tilted faces)")
    p.add_argument("--mask", choices=["grabcut", "ellipse", "none", "model"], default="grabcut",
                   help="background removal (default grabcut; 'model' needs --mask-weights; 'none' keeps it)")
    p.add_argument("--mask-weights", help="segmentation model for --mask model (ONNX)")
    p.add_argument("--max-side", type=int, default=1024,
                   help="detect on a copy downscaled to this longer side (default 1024)")
    p.add_argument("--min-score", type=float, default=0.0,
                   help="drop detections scoring below this (default 0 as dlib; ~0.5 drops most false positives)")
    p.add_argument("--overwrite", action="store_true", help="redo photos whose output already exists")
    args = p.parse_args(argv)
    if args.size < 16:
        p.error(f"--size must be at least 16, got {args.size}")
    if args.max_faces < 0:
        p.error(f"--max-faces must be 0 (all faces) or more, got {args.max_faces}")
    if args.max_side < 64:
        p.error(f"--max-side must be at least 64, got {args.max_side}")
    if not os.path.isdir(args.src):
        p.error(f"SRC_DIR '{args.src}' is not a folder")
    if args.mask == "model" and not args.mask_weights:
        p.error("--mask model needs --mask-weights PATH")
    if os.path.abspath(args.dst) == os.path.abspath(args.src):
        p.error("DST_DIR must differ from SRC_DIR (the aligned PNGs would be read as photos on the next run)")
    return p, args


def main(argv=None):
    parser, args = parse_args(argv)

    from tqdm import tqdm

    from ppimg2img.engine.visual import write_results_page
    from ppimg2img.faces import FacePipeline, NoFaceFoundError
    from ppimg2img.utils.image_io import ImageReadError, list_images, save_image

    try:
        pipe = FacePipeline(size=args.size, detector=args.detector, max_faces=args.max_faces or None,
                            mask=args.mask, max_side=args.max_side, mask_weights=args.mask_weights,
                            min_score=args.min_score)
    except (ValueError, OSError) as err:
        parser.error(str(err))
    dst = os.path.abspath(args.dst)
    photos = [p for p in list_images(args.src) if not os.path.abspath(p).startswith(dst + os.sep)]
    if not photos:
        parser.error(f"no images in SRC_DIR '{args.src}' (looked for .jpg .jpeg .png .bmp .tif .tiff .webp)")
    os.makedirs(dst, exist_ok=True)
    names = output_names(photos, args.src)
    done = aligned = faces_written = 0
    skipped = []  # (photo, reason)
    bar = tqdm(photos, desc="align faces", unit="photo", disable=None)
    for path in bar:
        first = face_files(dst, names[path], 1)[0]
        if os.path.exists(first) and not args.overwrite:
            done += 1
            continue
        try:
            faces = pipe.process(path)
        except (ImageReadError, NoFaceFoundError) as err:  # their messages name the file and a fix
            skipped.append((path, str(err)))
            continue
        except Exception as err:  # anything else about one photo must not stop the batch
            skipped.append((path, f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"))
            continue
        files = face_files(dst, names[path], len(faces))
        for face, out in reversed(list(zip(faces, files))):  # <name>.png last: it marks the photo done
            save_image(out, face.on_white())
        aligned += 1
        faces_written += len(faces)
        bar.set_postfix(faces=faces_written, skipped=len(skipped))
    bar.close()

    with open(os.path.join(dst, SKIPPED_FILE), "w", encoding="utf-8") as f:
        f.writelines(f"{p}\t{reason}\n" for p, reason in skipped)
    rows = []
    for path in photos:
        name = names[path].replace(os.sep, "/")
        extra = 2
        cells = [f"{name}.png"] if os.path.exists(face_files(dst, names[path], 1)[0]) else []
        while os.path.exists(os.path.join(dst, f"{names[path]}_face{extra}.png")):
            cells.append(f"{name}_face{extra}.png")
            extra += 1
        if cells:
            rows.append((name, cells))
    summary = (f"{len(photos)} photos in {args.src}: {aligned} aligned ({faces_written} faces), "
               f"{done} already done, {len(skipped)} skipped")
    notes = [summary] + [f"skipped {p}: {reason}" for p, reason in skipped]
    columns = ["face"] + [f"face {i}" for i in range(2, max((len(c) for _, c in rows), default=1) + 1)]
    rows = [(n, c + [None] * (len(columns) - len(c))) for n, c in rows]
    write_results_page(dst, "aligned faces", columns, rows, notes)
    print(summary + (f"; list in {os.path.join(args.dst, SKIPPED_FILE)}" if skipped else ""))
    if skipped:
        print(f"{len(skipped)} photo(s) skipped:", *(reason for _, reason in skipped), sep="\n  ", file=sys.stderr)
    return 1 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
