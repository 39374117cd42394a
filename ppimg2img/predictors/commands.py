"""``ppimg2img translate`` and ``ppimg2img cartoonize``: predictors from the command line.

Exit codes: 0 every input processed, 1 some inputs failed (or the model could not be loaded),
2 usage error (bad option, unknown model name, no inputs).
"""
import argparse
import os
import sys

FAMILY_CLASSES = {"cyclegan": "CycleGANPredictor", "pix2pix": "Pix2PixPredictor", "ugatit": "UGATITPredictor",
                  "colorization": "ColorizationPredictor", "photo2cartoon": "Photo2CartoonPredictor"}


def family_of(arch, arch_kwargs):
    """The predictor family of a generator architecture (``resnet_9blocks`` -> ``cyclegan``...)."""
    if arch.startswith("unet_"):
        colour = arch_kwargs.get("input_nc", 3) == 1 and arch_kwargs.get("output_nc", 3) == 2
        return "colorization" if colour else "pix2pix"
    if arch in ("ugatit", "photo2cartoon"):
        return arch
    return "cyclegan"


def create_predictor(model=None, weights=None, family=None, **kwargs):
    """The right predictor for a zoo name or a weights file (family inferred when not given):
    ``create_predictor(model='horse2zebra')``, ``create_predictor(weights='latest.pdckpt')``."""
    from .. import predictors

    if family is None:
        if model is not None:
            from ..weights import zoo

            family = zoo.get_entry(model).family
        elif weights is not None:
            from ..weights import load_generator

            if not os.path.isfile(os.fspath(weights)):
                raise FileNotFoundError(f"weights file not found: {weights}")
            net = load_generator(weights)
            family = family_of(*net.ppimg2img_arch)
        else:
            raise ValueError("give model='<zoo name>' (see `ppimg2img models`) or weights='<file>'")
    if family not in FAMILY_CLASSES:
        raise ValueError(f"unknown family {family!r}; use one of {', '.join(FAMILY_CLASSES)}")
    return getattr(predictors, FAMILY_CLASSES[family])(model=model, weights=weights, **kwargs)


def add_runtime_arguments(p):
    """``--backend``, ``--device`` and ``--threads``: where the predictors run (translate, cartoonize, video, demo)."""
    p.add_argument("--backend", choices=["auto", "inference", "onnx", "eager"], default="auto",
                   help="inference: exported graph in Paddle Inference (fast on CPU, exported once and cached "
                        "beside the weights); onnx: exported to ONNX, run by onnxruntime (CPU); eager: Paddle "
                        "dynamic graph (auto: the fastest installed for the model, photo2cartoon onnx, else "
                        "inference, else eager)")
    p.add_argument("--device", choices=["cpu", "gpu"], help="default: GPU when there is one")
    p.add_argument("--threads", type=int, help="CPU threads (default: every core)")


def _common_arguments(p, default_output):
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files, folders (recursive) or glob patterns")
    p.add_argument("-o", "--output-dir", default=default_output, help=f"folder for the results ({default_output})")
    p.add_argument("--weights", help="weights file instead of --model: original .pth, PaddleGAN .pdparams, or a "
                                     "ppimg2img .pdparams/.pdckpt")
    add_runtime_arguments(p)
    p.add_argument("--batch-size", type=int, default=1, help="images per forward pass (1)")
    p.add_argument("--skip-existing", action="store_true", help="skip inputs whose results exist (resume a batch)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_translate_parser(prog="ppimg2img translate"):
    p = argparse.ArgumentParser(
        prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Translate images with a pretrained or trained generator (CycleGAN, pix2pix, colorization,\n"
                    "U-GAT-IT). Results keep each input's size; a page index.html shows them next to the inputs.",
        epilog=f"examples:\n  {prog} --model horse2zebra horse.jpg photos/ -o zebras\n"
               f"  {prog} --weights output/quickstart_cyclegan/checkpoints/latest.pdckpt 'data/*.png' -o out\n"
               f"  {prog} --model pix2pix/facades_label2photo labels/ --batch-size 4\n"
               "`ppimg2img models` lists the model names.")
    p.add_argument("-m", "--model", help="zoo name, e.g. horse2zebra, style_monet, pix2pix/edges2shoes")
    _common_arguments(p, "output/translate")
    p.add_argument("--family", choices=sorted(set(FAMILY_CLASSES) - {"photo2cartoon"}),
                   help="predictor family (default: inferred from the model or weights)")
    p.add_argument("--direction", choices=["AtoB", "BtoA"], default="AtoB",
                   help="BtoA: the second generator of a file that holds two (CycleGAN G_B, U-GAT-IT genB2A)")
    p.add_argument("--size", type=int, help="working size (default: the size the model was trained at)")
    p.add_argument("--native-size", action="store_true",
                   help="run at each image's own size (rounded to what the net takes) instead of --size")
    return p


def build_cartoonize_parser(prog="ppimg2img cartoonize"):
    p = argparse.ArgumentParser(
        prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Cartoonise the faces of photos with photo2cartoon: detect, align, mask, translate;\n"
                    "writes NAME_aligned.png and NAME_cartoon.png per photo (and NAME_pasted.png with --paste-back).",
        epilog=f"examples:\n  {prog} me.jpg -o cartoons\n  {prog} photos/ --faces all --paste-back\n"
               "The default weights are PaddleGAN's photo2cartoon (--model minivision/photo2cartoon: the authors'\n"
               "file, downloaded by hand; `ppimg2img models minivision/photo2cartoon` says where to put it).")
    p.add_argument("-m", "--model", default="paddlegan/photo2cartoon", help="zoo name (paddlegan/photo2cartoon)")
    _common_arguments(p, "output/cartoonize")
    p.add_argument("--faces", choices=["largest", "all"], default="largest", help="faces per photo (largest)")
    p.add_argument("--paste-back", action="store_true", help="also write the photo with the cartoon faces in it")
    p.add_argument("--detector", choices=["hog", "cnn"], default="hog", help="dlib face detector (hog: fast)")
    p.add_argument("--mask", choices=["grabcut", "ellipse", "none"], default="grabcut", help="head mask (grabcut)")
    return p


def _run(args, make_predictor):
    """Load, run, report. Returns the exit code."""
    from ..utils.env import setup_logging

    setup_logging(None)
    from ..weights.zoo import UnknownModelError

    try:
        predictor = make_predictor()
    except UnknownModelError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ValueError as err:  # an option the model cannot take (size, native size...)
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # weights missing/corrupt, download failure: one clear line
        print(f"error: {(str(err).strip().splitlines() or [type(err).__name__])[0]}", file=sys.stderr)
        return 1
    predictor.log_summary = False  # printed below: failures on stderr
    try:
        predictor.run(list(args.inputs))
    except (FileNotFoundError, TypeError) as err:  # an input path that matches nothing
        print(f"error: {err}", file=sys.stderr)
        return 2
    summary = predictor.summary
    print(f"{summary.headline}; results: {os.path.join(args.output_dir, 'index.html')}")
    for source, message in summary.failed:
        print(f"failed {source}: {message}", file=sys.stderr)
    return 1 if summary.failed else 0


def _predictor_options(args):
    return dict(output_dir=args.output_dir, backend=args.backend, device=args.device, batch_size=args.batch_size,
                threads=args.threads, skip_existing=args.skip_existing, progress=False if args.no_progress else None)


def translate_main(argv=None, prog="ppimg2img translate"):
    """``ppimg2img translate``. Returns the exit code."""
    p = build_translate_parser(prog)
    args = p.parse_args(argv)
    if bool(args.model) == bool(args.weights):
        p.error("give exactly one of --model NAME or --weights FILE")
    return _run(args, lambda: create_predictor(
        model=args.model, weights=args.weights, family=args.family, direction=args.direction, size=args.size,
        native_size=args.native_size, **_predictor_options(args)))


def cartoonize_main(argv=None, prog="ppimg2img cartoonize"):
    """``ppimg2img cartoonize``. Returns the exit code."""
    args = build_cartoonize_parser(prog).parse_args(argv)
    from .photo2cartoon import Photo2CartoonPredictor

    model = None if args.weights else args.model
    return _run(args, lambda: Photo2CartoonPredictor(
        model=model, weights=args.weights, faces=args.faces, paste_back=args.paste_back, detector=args.detector,
        mask=args.mask, **_predictor_options(args)))
