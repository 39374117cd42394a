#!/usr/bin/env python
"""Make pix2pix training pairs (aligned face photo | its photo2cartoon cartoon) from raw photos.

    python applications/make_cartoon_pairs.py PHOTOS OUT [--weights FILE] [--test-fraction 0.1]
    python tools/main.py --config-file configs/pix2pix_photo2cartoon.yaml   # trains on OUT

The pix2pix photo-to-cartoon recipe of the PaddleGAN course (section 3.3.1): pix2pix learns from
pairs that photo2cartoon made, and converges fast because it is supervised. Every face of every
photo under PHOTOS (a folder, searched recursively, or one image) is detected (dlib), aligned with
photo2cartoon's crop and masked (GrabCut, or --mask) onto white by ppimg2img.faces.FacePipeline,
then cartoonised by a photo2cartoon generator (default the zoo's paddlegan/photo2cartoon; --weights
reads any file load_generator reads: the authors' .pt, PaddleGAN's .pdparams, ppimg2img's files)
and put back on white through the same mask, as Photo2CartoonPredictor does.

Each face becomes one PNG, SIZE x 2*SIZE: the aligned photo on the left (A), the cartoon on the
right (B), the side-by-side layout AlignedDataset reads (train with direction AtoB):
OUT/train/<name>.png and OUT/test/<name>.png, further faces <name>_face2.png... The test split
holds round(N x --test-fraction) of the N photos (at least one when there are two or more and the
fraction is above 0): those whose names hash lowest, so the same folder always splits the same way;
photos whose pairs exist (in OUT/train or OUT/test) keep their split and are skipped (resume;
--overwrite redoes them), photos added later fill the rest of the test share;
every file is written atomically. Photos without a face and unreadable files are listed in
OUT/skipped.txt and do not stop the batch. OUT/contact_sheet.png shows the pairs.

--random-weights uses a photo2cartoon generator with random weights (ngf 8, seeded) instead: for
offline tests and demos only; its cartoons, and a pix2pix trained on them, are meaningless.

Exit status: 0 every photo made its pairs, 1 some photos were skipped, 2 usage error or the
generator could not be loaded.
"""
import argparse
import hashlib
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SPLITS = ("train", "test")
SKIPPED_FILE = "skipped.txt"
CONTACT_SHEET = "contact_sheet.png"
DEFAULT_MODEL = "paddlegan/photo2cartoon"
RANDOM_NGF = 8
RANDOM_NOTE = ("random weights (--random-weights): the cartoons are meaningless, and so is a pix2pix trained on "
               "them. For real pairs use the default photo2cartoon weights (--model paddlegan/photo2cartoon) "
               "or --weights FILE")


def output_names(photos, src):
    """``{photo: output stem}``: the photo's path inside ``src`` without extension (``src`` may be
    the photo itself); a stem already taken (``a.jpg`` and ``a.png``) gets the extension appended."""
    names, taken = {}, set()
    for path in photos:
        rel = os.path.basename(path) if os.path.isfile(src) else os.path.relpath(path, src)
        stem, ext = os.path.splitext(rel)
        name, suffix = stem, 1
        while name.casefold() in taken:
            name = f"{stem}_{ext.lstrip('.').lower()}" + (str(suffix) if suffix > 1 else "")
            suffix += 1
        taken.add(name.casefold())
        names[path] = name
    return names


def name_hash(name):
    """A number in [0, 1) fixed by the output name (posix separators), the order of the split."""
    digest = hashlib.sha1(name.replace(os.sep, "/").encode("utf-8")).hexdigest()
    return int(digest[:12], 16) / 16 ** 12


def split_names(names, test_fraction, placed=None):
    """``{name: 'train' | 'test'}``. The test split gets round(N x test_fraction) of the N names (at
    least one of two or more when the fraction is above 0). Names in ``placed`` (pairs already
    written: ``{name: split}``) keep their split and count towards it; the rest of the test quota
    goes to the other names with the lowest :func:`name_hash`."""
    names, placed = sorted(names), dict(placed or {})
    n_test = int(round(len(names) * test_fraction))
    if test_fraction > 0 and len(names) >= 2:
        n_test = max(n_test, 1)
    result = {n: placed[n] for n in names if n in placed}
    quota = max(0, n_test - sum(1 for s in result.values() if s == "test"))
    free = sorted((n for n in names if n not in placed), key=lambda n: (name_hash(n), n))
    result.update({n: "test" if i < quota else "train" for i, n in enumerate(free)})
    return result


def pair_files(out, split, name, n):
    """Paths of ``n`` face pairs of one photo: <name>.png, <name>_face2.png, ..."""
    return [os.path.join(out, split, f"{name}.png" if i == 0 else f"{name}_face{i + 1}.png") for i in range(n)]


def existing_pairs(out, name):
    """``{split: [paths]}`` of the pairs of ``name`` already in OUT (the first face marks a photo done)."""
    found = {}
    for split in SPLITS:
        first = pair_files(out, split, name, 1)[0]
        if os.path.exists(first):
            paths, k = [first], 2
            while os.path.exists(os.path.join(out, split, f"{name}_face{k}.png")):
                paths.append(os.path.join(out, split, f"{name}_face{k}.png"))
                k += 1
            found[split] = paths
    return found


def make_pair(photo, cartoon):
    """The AlignedDataset layout: A (the aligned photo) on the left, B (the cartoon) on the right."""
    if photo.shape != cartoon.shape:
        raise ValueError(f"photo {photo.shape} and cartoon {cartoon.shape} differ in size")
    return np.concatenate([photo, cartoon], axis=1)


def random_generator(size, seed=0, ngf=RANDOM_NGF):
    """A photo2cartoon generator (light, ``img_size`` = ``size``) with seeded random weights."""
    import paddle

    from ppimg2img.nets import build_generator

    paddle.seed(seed)
    kwargs = {"ngf": ngf, "img_size": size, "light": True}
    net = build_generator("photo2cartoon", **kwargs)
    net.eval()
    net.ppimg2img_arch = ("photo2cartoon", kwargs)
    return net


def contact_sheet(out, path, title_lines, max_pairs=64, thumb=96, columns=4):
    """One PNG of the first ``max_pairs`` pairs in OUT (train then test, sorted), each labelled
    ``split/name``, under ``title_lines``. Returns (path, number of pairs shown)."""
    import cv2

    from ppimg2img.utils.image_io import ImageReadError, list_images, load_image, save_image

    pairs = [(split, p) for split in SPLITS if os.path.isdir(os.path.join(out, split))
             for p in list_images(os.path.join(out, split))]
    tiles = []
    for split, p in pairs[:max_pairs]:
        try:
            img = load_image(p)
        except ImageReadError:
            continue
        img = cv2.resize(img, (2 * thumb, thumb), interpolation=cv2.INTER_AREA)
        img = cv2.copyMakeBorder(img, 2, 14, 2, 2, cv2.BORDER_CONSTANT, value=(255, 255, 255))
        label = os.path.splitext(os.path.relpath(p, out).replace(os.sep, "/"))[0]
        cv2.putText(img, label[:32], (2, img.shape[0] - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1,
                    cv2.LINE_AA)
        tiles.append(img)
    th, tw = (tiles[0].shape[:2] if tiles else (thumb + 16, 2 * thumb + 4))
    rows = max(1, -(-len(tiles) // columns))
    head = 16 * len(title_lines) + 6
    canvas = np.full((head + rows * th, columns * tw, 3), 255, np.uint8)
    for i, line in enumerate(title_lines):
        colour = (200, 0, 0) if line.startswith("RANDOM") else (0, 0, 0)
        cv2.putText(canvas, line, (4, 14 + 16 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA)
    for i, img in enumerate(tiles):
        y, x = head + (i // columns) * th, (i % columns) * tw
        canvas[y:y + th, x:x + tw] = img
    save_image(path, canvas)
    return path, len(tiles)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos", metavar="PHOTOS", help="folder of photos (searched recursively) or one photo")
    p.add_argument("out", metavar="OUT", help="output folder: OUT/train, OUT/test (created; existing pairs kept)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--weights", help="photo2cartoon weights file: the authors' .pt, PaddleGAN's .pdparams, "
                                          "a ppimg2img .pdparams/.pdckpt")
    source.add_argument("--model", default=None, help=f"model-zoo name (default {DEFAULT_MODEL})")
    source.add_argument("--random-weights", action="store_true",
                        help="random weights (ngf 8, --seed): offline tests and demos only, meaningless cartoons")
    p.add_argument("--test-fraction", type=float, default=0.1,
                   help="share of the photos whose pairs go to OUT/test (default 0.1: a 90/10 split)")
    p.add_argument("--size", type=int, default=256,
                   help="side of the aligned faces, a multiple of 16 (default 256 as photo2cartoon); pairs are "
                        "SIZE x 2*SIZE")
    p.add_argument("--max-faces", type=int, default=0, help="faces per photo, largest first (default 0: all)")
    p.add_argument("--detector", choices=["hog", "cnn"], default="hog",
                   help="dlib HOG (fast, default) or CNN (slower; small, turned or tilted faces)")
    p.add_argument("--mask", choices=["grabcut", "ellipse", "none"], default="grabcut",
                   help="background removal (default grabcut; 'none' keeps the background)")
    p.add_argument("--min-score", type=float, default=0.0,
                   help="drop detections scoring below this (default 0 as dlib; ~0.5 drops most false positives)")
    p.add_argument("--seed", type=int, default=0, help="seed of --random-weights (default 0)")
    p.add_argument("--backend", choices=["auto", "inference", "eager"], default="auto")
    p.add_argument("--device", choices=["cpu", "gpu"], default=None)
    p.add_argument("--overwrite", action="store_true", help="redo photos whose pairs already exist")
    p.add_argument("--sheet-max", type=int, default=64, help="pairs shown on the contact sheet (default 64)")
    args = p.parse_args(argv)
    if not 0.0 <= args.test_fraction < 1.0:
        p.error(f"--test-fraction must be in [0, 1), got {args.test_fraction}")
    if args.size < 16 or args.size % 16:
        p.error(f"--size must be a multiple of 16 (photo2cartoon's hourglass halves it 4 times), got {args.size}")
    if args.max_faces < 0:
        p.error(f"--max-faces must be 0 (all faces) or more, got {args.max_faces}")
    if not os.path.exists(args.photos):
        p.error(f"PHOTOS '{args.photos}' does not exist")
    if os.path.isdir(args.photos) and os.path.abspath(args.out) == os.path.abspath(args.photos):
        p.error("OUT must differ from PHOTOS (the pairs would be read as photos on the next run)")
    return p, args


def load_predictor(args):
    """Photo2CartoonPredictor over the chosen weights, with a FacePipeline for every face."""
    from ppimg2img.faces import FacePipeline
    from ppimg2img.predictors import Photo2CartoonPredictor

    common = dict(size=args.size, detector=args.detector, mask=args.mask, faces="all", output_path=None,
                  backend=args.backend, device=args.device, progress=False)
    if args.random_weights:
        p = Photo2CartoonPredictor(net=random_generator(args.size, args.seed), **common)
    else:
        p = Photo2CartoonPredictor(model=None if args.weights else (args.model or DEFAULT_MODEL),
                                   weights=args.weights, **common)
    if p.arch != "photo2cartoon":
        raise ValueError(f"{args.weights or args.model}: holds a {p.arch} generator, not photo2cartoon; give "
                         f"photo2cartoon weights (the authors' photo2cartoon_weights.pt, PaddleGAN's "
                         f"photo2cartoon_genA2B_weight.pdparams, or a ppimg2img Photo2CartoonModel checkpoint)")
    p.pipeline = FacePipeline(size=p.size, detector=args.detector, max_faces=args.max_faces or None,
                              mask=args.mask, min_score=args.min_score)
    return p


def cartoon_faces(predictor, path):
    """``[(aligned photo on white, cartoon on white)]`` of every face of ``path``, largest first."""
    from ppimg2img.utils.image_io import load_image

    image = load_image(path)
    nets_in, aligned = predictor.prepare(image, path)
    _, files = predictor.finish(image, predictor.translate(nets_in), aligned)
    tags = [""] + [f"_{i}" for i in range(2, len(aligned) + 1)]
    return [(files[f"_aligned{t}"], files[f"_cartoon{t}"]) for t in tags]


def main(argv=None):
    parser, args = parse_args(argv)

    from tqdm import tqdm

    from ppimg2img.faces import NoFaceFoundError
    from ppimg2img.utils.image_io import ImageReadError, list_images, save_image

    out = os.path.abspath(args.out)
    photos = [args.photos] if os.path.isfile(args.photos) else [
        p for p in list_images(args.photos) if not os.path.abspath(p).startswith(out + os.sep)]
    if not photos:
        parser.error(f"no images in PHOTOS '{args.photos}' (looked for .jpg .jpeg .png .bmp .tif .tiff .webp)")
    weights = (f"random weights (photo2cartoon ngf {RANDOM_NGF}, seed {args.seed})" if args.random_weights
               else args.weights or args.model or DEFAULT_MODEL)
    print(f"photo2cartoon weights: {weights}")
    if args.random_weights:
        print(f"note: {RANDOM_NOTE}")

    names = output_names(photos, args.photos)
    before = {path: {} if args.overwrite else existing_pairs(out, names[path]) for path in photos}
    split = split_names(names.values(), args.test_fraction,
                        {names[p]: next(iter(b)) for p, b in before.items() if b})
    predictor = None  # loaded for the first photo that needs it: a resumed run that is done loads nothing
    made, done, counts = 0, 0, {s: 0 for s in SPLITS}
    skipped = []  # (photo, reason)
    bar = tqdm(photos, desc="cartoon pairs", unit="photo", disable=None)
    for path in bar:
        name = names[path]
        if before[path]:
            done += 1
            continue
        if predictor is None:
            try:
                predictor = load_predictor(args)
            except Exception as err:  # unknown zoo name, missing/corrupt weights, download failure, no dlib
                bar.close()
                print(f"error: {(str(err).strip().splitlines() or [type(err).__name__])[0]}", file=sys.stderr)
                return 2
        try:
            faces = cartoon_faces(predictor, path)
        except (ImageReadError, NoFaceFoundError) as err:  # their messages name the file and a fix
            skipped.append((path, str(err)))
            continue
        except Exception as err:  # anything else about one photo must not stop the batch
            skipped.append((path, f"{path}: {type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"))
            continue
        for paths in existing_pairs(out, name).values():  # --overwrite: the old pairs go (the split may change)
            for old in reversed(paths):
                os.remove(old)
        files = pair_files(out, split[name], name, len(faces))
        for (photo, cartoon), target in reversed(list(zip(faces, files))):  # <name>.png last: it marks done
            save_image(target, make_pair(photo, cartoon))
        made += 1
        counts[split[name]] += len(faces)
        bar.set_postfix(pairs=sum(counts.values()), skipped=len(skipped))
    bar.close()

    os.makedirs(out, exist_ok=True)
    tmp = os.path.join(out, SKIPPED_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(f"{p}\t{reason}\n" for p, reason in skipped)
    os.replace(tmp, os.path.join(out, SKIPPED_FILE))
    totals = {s: len(list_images(os.path.join(out, s))) if os.path.isdir(os.path.join(out, s)) else 0
              for s in SPLITS}
    title = [f"photo | cartoon pairs in {args.out}: {totals['train']} train, {totals['test']} test",
             f"weights of the last run: {weights}"]
    if args.random_weights:
        title.append("RANDOM WEIGHTS: these cartoons are meaningless")
    sheet, _ = contact_sheet(out, os.path.join(out, CONTACT_SHEET), title, max_pairs=args.sheet_max)

    written = sum(counts.values())
    news = (f"{made} made into {written} pair{'s' * (written != 1)} ({counts['train']} train, "
            f"{counts['test']} test)" if made
            else "no new pairs written")
    summary = (f"{len(photos)} photos in {args.photos}: {news}, {done} already done, {len(skipped)} skipped; "
               f"{args.out} holds {totals['train']} train and {totals['test']} test pairs; contact sheet "
               f"{os.path.join(args.out, CONTACT_SHEET)}")
    print(summary + (f"; skipped photos listed in {os.path.join(args.out, SKIPPED_FILE)}" if skipped else ""))
    if args.random_weights:
        print(f"note: {RANDOM_NOTE}")
    if totals["train"] and not totals["test"]:
        print(f"note: {args.out}/test holds no pairs; training evaluates on it at the end: add photos, or train "
              f"with -o train.eval_at_end=false", file=sys.stderr)
    if skipped:
        print(f"{len(skipped)} photo(s) skipped:", *(reason for _, reason in skipped), sep="\n  ", file=sys.stderr)
    return 1 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
