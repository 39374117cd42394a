"""Sampling from a trained generation model (DCGAN, LSGAN, WGAN(-GP), conditional DCGAN).

    from ppimg2img import GANGeneratorPredictor
    images = GANGeneratorPredictor(weights="output/quickstart_dcgan/checkpoints/latest.pdckpt").generate(16, seed=0)

and on the command line ``ppimg2img generate --weights CKPT --n 64 --seed 0 -o grid.png``.
The same seed gives the same samples: z comes from ``np.random.default_rng(seed)``.
"""
import argparse
import os
import sys

import numpy as np

from ..utils.image_io import save_image, tensor_to_image


class GANGeneratorPredictor:
    """Load a generator once, then draw samples.

    Args:
        weights: a ppimg2img training checkpoint (``.pdckpt``) or converted ``.pdparams`` of a
            generation model; the architecture comes from the file.
        device: ``'cpu'``, ``'gpu'`` or None (GPU when there is one).
        batch_size: samples per forward pass.
    """

    def __init__(self, weights, device=None, batch_size=64):
        from ..utils.env import set_device
        from ..weights import load_generator
        if not os.path.isfile(os.fspath(weights)):
            raise FileNotFoundError(f"weights file not found: {weights} (a generation run writes "
                                    f"output/<run>/checkpoints/latest.pdckpt)")
        set_device(device)
        self.net = load_generator(os.fspath(weights))
        if not hasattr(self.net, "nz"):
            raise ValueError(f"{weights}: holds a {type(self.net).__name__}, not a generation model's generator "
                             f"(use the translation predictors or `ppimg2img translate` for it)")
        self.batch_size = int(batch_size)
        self.n_classes = self.net.n_classes

    def labels_for(self, n, labels=None):
        """[n] class labels: None cycles 0..n_classes-1, an int repeats one class, a sequence is used as is."""
        if not self.n_classes:
            if labels is not None:
                raise ValueError("this generator is not conditional: it takes no labels / --class")
            return None
        if labels is None:
            out = np.arange(n) % self.n_classes
        elif np.ndim(labels) == 0:
            out = np.full(n, int(labels))
        else:
            out = np.asarray(labels, dtype=np.int64).reshape(-1)
            if len(out) != n:
                raise ValueError(f"{len(out)} labels for {n} samples")
        if out.min() < 0 or out.max() >= self.n_classes:
            raise ValueError(f"labels must be 0..{self.n_classes - 1}, got {sorted(set(out.tolist()))}")
        return out.astype(np.int64)

    def generate(self, n=16, seed=0, labels=None):
        """``n`` samples as HxWx3 uint8 arrays; ``labels`` (conditional models): None, one class or one per sample."""
        import paddle
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        z = np.random.default_rng(seed).standard_normal((n, self.net.nz)).astype(np.float32)
        y = self.labels_for(n, labels)
        out = []
        with paddle.no_grad():
            for i in range(0, n, self.batch_size):
                zb = paddle.to_tensor(z[i:i + self.batch_size])
                fake = self.net(zb, paddle.to_tensor(y[i:i + self.batch_size])) if y is not None else self.net(zb)
                out += [tensor_to_image(img) for img in fake.numpy()]
        return out


def _predictor(args):
    """The file (or StyleGAN2 zoo model) loaded once: a StyleGAN2Predictor for StyleGAN2 generators,
    else a GANGeneratorPredictor."""
    from ..nets.stylegan2 import StyleGAN2Generator
    from ..weights import zoo
    from .stylegan2 import StyleGAN2Predictor

    if args.model is not None:
        entry = zoo.get_entry(args.model)  # unknown names: UnknownModelError (a ValueError)
        if entry.arch != "stylegan2":
            raise ValueError(f"--model {args.model} is a {entry.family} translation model; `ppimg2img generate` "
                             f"takes the StyleGAN2 ones (`ppimg2img models --family stylegan2`)")
        return StyleGAN2Predictor(model=args.model, device=args.device)
    predictor = GANGeneratorPredictor(args.weights, device=args.device)
    return StyleGAN2Predictor(net=predictor.net) if isinstance(predictor.net, StyleGAN2Generator) else predictor


def _stylegan2(predictor, args):
    """``ppimg2img generate`` for StyleGAN2: image i from seed ``seed + i`` (NVlabs' seeds)."""
    if args.label is not None:
        raise ValueError("StyleGAN2 generators are unconditional: leave out --class")
    seeds = list(range(args.seed, args.seed + args.n))
    images = predictor.generate(seeds, truncation=args.truncation)
    if args.video:
        predictor.latent_walk(args.video, seeds + seeds[:1], truncation=args.truncation)
        print(f"latent walk through seeds {seeds[0]}..{seeds[-1]} -> {args.video}")
    return images


def grid(images, cols=8):
    """Tile HxWx3 images into one image, ``cols`` per row."""
    from ..engine.evaluation.generation import tile
    return tile(images, cols)


def generate_main(argv=None, prog="ppimg2img generate"):
    """``ppimg2img generate (--weights CKPT | --model NAME) [--n 64] [--seed 0] [--class 3] [--truncation 0.7]
    [--video walk.mp4] (-o grid.png | --out-dir DIR)``."""
    p = argparse.ArgumentParser(prog=prog, description="Draw samples from a trained generation model "
                                                       "(DCGAN, LSGAN, WGAN, WGAN-GP, conditional DCGAN, StyleGAN2).")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--weights", help="checkpoint of a generation run (e.g. output/quickstart_dcgan/checkpoints/"
                                          "latest.pdckpt) or a StyleGAN2 file (rosinality .pt, PaddleGAN .pdparams)")
    source.add_argument("--model", help="a model-zoo generator, e.g. paddlegan/stylegan2_ffhq_config_f "
                                        "(`ppimg2img models stylegan2` lists them)")
    p.add_argument("--n", type=int, default=64, help="number of samples (64)")
    p.add_argument("--seed", type=int, default=0, help="noise seed: the same seed gives the same samples (0)")
    p.add_argument("--class", dest="label", type=int, help="conditional models: the class of every sample "
                                                           "(default: the classes in turn)")
    p.add_argument("-o", "--output", help="grid image to write (default: samples.png unless --out-dir)")
    p.add_argument("--out-dir", help="write one PNG per sample into this folder")
    p.add_argument("--cols", type=int, default=8, help="grid columns (8)")
    p.add_argument("--device", choices=["cpu", "gpu"], help="default: GPU when there is one")
    p.add_argument("--truncation", type=float, default=1.0,
                   help="StyleGAN2: pull w towards the mean w (1: none; 0.7 is common)")
    p.add_argument("--video", help="StyleGAN2: also write a latent walk through the samples' seeds (.mp4)")
    args = p.parse_args(argv)
    try:
        predictor = _predictor(args)
        if hasattr(predictor, "style_mix"):  # a StyleGAN2Predictor
            images = _stylegan2(predictor, args)
        else:
            if args.video or args.truncation != 1.0:
                raise ValueError("--video and --truncation are for StyleGAN2 generators")
            images = predictor.generate(args.n, seed=args.seed, labels=args.label)
    except (OSError, ValueError, RuntimeError) as err:  # missing/corrupt/hostile file, wrong model, bad class
        print(f"error: {err}", file=sys.stderr)
        return 1
    written = []
    if args.out_dir:
        os.makedirs(args.out_dir, exist_ok=True)
        for i, img in enumerate(images):
            written.append(save_image(os.path.join(args.out_dir, f"sample_{i:04d}.png"), img))
    if args.output or not args.out_dir:
        written.append(save_image(args.output or "samples.png", grid(images, args.cols)))
    print(f"{len(images)} samples (seed {args.seed}) -> " + (args.out_dir if args.out_dir else "")
          + (" and " if args.out_dir and len(written) > len(images) else "")
          + (written[-1] if len(written) > len(images) or not args.out_dir else ""))
    return 0
