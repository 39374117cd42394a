"""Train, resume or evaluate a model from a config:

    python tools/main.py --config-file configs/quickstart_cyclegan.yaml
    python tools/main.py -c configs/cyclegan_horse2zebra.yaml -o train.batch_size=4 --resume CKPT
    python tools/main.py -c my_paddlegan_config.yaml --dry-run    # PaddleGAN's configs are translated

PaddleGAN's own configs and flags work as they are: docs/migrating-from-paddlegan.md.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppimg2img.cli import train_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(train_main())
