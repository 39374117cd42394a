"""``ppimg2img video`` (also applications/translate_video.py): translate a video frame by frame
with a pretrained or trained generator, keeping its frame rate and sound.

    ppimg2img video --model horse2zebra horse.mp4 -o zebra.mp4
    ppimg2img video --weights output/run/checkpoints/latest.pdckpt in.mp4 -o out.mp4 --batch-size 4

Each frame is resized to the model's working size (or, with --native-size, to its own size
rounded to what the network takes), translated, and resized back: the result has the source's
size and frame rate (H.264 .mp4 by default, the format most players read), and the source's audio
track is copied into it. The result is written to a temporary file and renamed when complete, so
an interrupted run leaves no half video behind. Needs imageio-ffmpeg (installed with ppimg2img).

Exit codes: 0 done, 1 error (one line says which file and why), 2 usage error.
"""
import argparse
import sys

FAMILIES = ("cyclegan", "pix2pix", "ugatit", "colorization")


def build_parser(prog="ppimg2img video"):
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                epilog="`ppimg2img models` lists the model names.")
    p.add_argument("input", metavar="IN", help="the video to translate (.mp4, .mov, .avi, .mkv...)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="the result video; its extension picks the container (.mp4: H.264)")
    p.add_argument("-m", "--model", help="zoo name, e.g. horse2zebra, style_monet, pix2pix/edges2shoes")
    p.add_argument("--weights", help="weights file instead of --model: original .pth, PaddleGAN .pdparams, "
                                     "or a ppimg2img .pdparams/.pdckpt")
    p.add_argument("--family", choices=FAMILIES, help="predictor family (default: inferred from the model or weights)")
    p.add_argument("--direction", choices=["AtoB", "BtoA"], default="AtoB",
                   help="BtoA: the second generator of a file that holds two (CycleGAN G_B, U-GAT-IT genB2A)")
    p.add_argument("--size", type=int, help="working size (default: the size the model was trained at)")
    p.add_argument("--native-size", action="store_true",
                   help="run at the frame's own size (rounded to what the net takes) instead of --size")
    p.add_argument("--batch-size", type=int, default=1, help="frames per forward pass (1)")
    from .commands import add_runtime_arguments
    add_runtime_arguments(p)
    p.add_argument("--max-frames", type=int, help="stop after this many frames (a quick preview)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _one_line(err):
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def frame_translator(predictor):
    """``frame_fn`` for :func:`~ppimg2img.utils.video.translate_video`: the predictor's ``run`` on
    a batch of frames (resize to the working size, translate, resize back)."""
    predictor.log_summary = False  # a failed frame stops the video with its message (below)

    def translate_frames(frames):
        results = predictor.run(list(frames))
        if len(results) != len(frames):
            failed = "; ".join(message for _, message in predictor.summary.failed) or "unknown error"
            raise RuntimeError(f"could not translate a frame: {failed}")
        return results
    return translate_frames


def parse_args(argv=None, prog="ppimg2img video"):
    """The options; ``SystemExit`` (2, or 0 for --help) on a usage error, as argparse does."""
    p = build_parser(prog)
    args = p.parse_args(argv)
    if bool(args.model) == bool(args.weights):
        p.error("give exactly one of --model NAME or --weights FILE")
    if args.batch_size < 1:
        p.error(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.max_frames is not None and args.max_frames < 1:
        p.error(f"--max-frames must be at least 1, got {args.max_frames}")
    return args


def main(argv=None, prog="ppimg2img video"):
    """Run the command; returns the exit code (0 done, 1 error, 2 usage)."""
    try:
        args = parse_args(argv, prog)
    except SystemExit as exit_:  # usage error (argparse printed it) or --help
        return exit_.code

    from .commands import create_predictor
    from ..utils.video import translate_video, video_info
    from ..weights.zoo import UnknownModelError

    try:
        video_info(args.input)  # a missing or broken video fails before the model loads
    except Exception as err:  # FileNotFoundError, VideoError (not a video, no ffmpeg)
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 1

    try:
        predictor = create_predictor(model=args.model, weights=args.weights, family=args.family,
                                     direction=args.direction, size=args.size, native_size=args.native_size,
                                     batch_size=args.batch_size, backend=args.backend, device=args.device,
                                     threads=args.threads, progress=False)
    except (UnknownModelError, ValueError) as err:  # unknown name, an option the model cannot take
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 2
    except Exception as err:  # weights missing/corrupt, download failure
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 1
    if type(predictor).__name__ == "Photo2CartoonPredictor":
        print("error: photo2cartoon translates aligned faces, not whole frames; use a whole-image model "
              "(cyclegan, pix2pix, ugatit)", file=sys.stderr)
        return 2
    try:
        info = translate_video(args.input, args.output, frame_translator(predictor), batch_size=args.batch_size,
                               progress=not args.no_progress, max_frames=args.max_frames)
    except KeyboardInterrupt:
        print(f"interrupted: '{args.output}' was not written", file=sys.stderr)
        return 130
    except Exception as err:  # VideoError (not a video, no ffmpeg), a frame that failed
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 1
    width, height = info["size"]
    sound = "with the source's audio" if info["audio"] else "no audio"
    print(f"wrote {args.output}: {info['frames']} frames, {width}x{height} at {info['fps']:g} fps, {sound}")
    return 0

