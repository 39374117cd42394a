#!/usr/bin/env python
"""Translate a video frame by frame with a pretrained or trained generator, keeping its frame
rate and sound (the same as ``ppimg2img video``).

    python applications/translate_video.py --model horse2zebra horse.mp4 -o zebra.mp4
    python applications/translate_video.py --weights output/run/checkpoints/latest.pdckpt in.mp4 -o out.mp4 \
        --batch-size 4 --backend inference

``python applications/translate_video.py --help`` lists the options.
Exit codes: 0 done, 1 error (one line says which file and why), 2 usage error.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None):
    from ppimg2img.predictors.video_command import main as run
    return run(argv, prog="applications/translate_video.py")


if __name__ == "__main__":
    sys.exit(main())
