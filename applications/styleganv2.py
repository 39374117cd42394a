#!/usr/bin/env python
"""StyleGAN2 samples and style-mixing grids with the flags of PaddleGAN's
``applications/tools/styleganv2.py`` (the GAN course's command works as written):

    python -u applications/styleganv2.py --output_path OUT --weight_path W --model_type ffhq-config-f \\
        --seed 233 --size 1024 --style_dim 512 --n_mlp 8 --channel_multiplier 2 --n_row 3 --n_col 5 --cpu

Writes, as PaddleGAN's predictor: ``OUT/sample.png`` (n_row x n_col samples, truncation 0.7 towards
the mean w) and ``OUT/sample_mixing_0.png``, ``sample_mixing_1.png`` (top row: n_col source images;
each further row: a target image, then the target with its later styles taken from each source, at
a random crossover layer). ``--weight_path`` takes PaddleGAN's .pdparams, rosinality's .pt or a
ppimg2img checkpoint; without it, ``--model_type`` picks PaddleGAN's release (downloaded once).
Noise and latents are random unless ``--seed`` is given (then every run draws the same).
``--size/--style_dim/--n_mlp/--channel_multiplier`` are read from the weights file; when given
they must agree with it (a different file would not load in PaddleGAN either).
Exit code: 0 done, 1 a file or weights problem, 2 usage.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MODEL_TYPES = {"ffhq-config-f": "paddlegan/stylegan2_ffhq_config_f",
               "animeface-512": "paddlegan/stylegan2_animeface_512"}
TRUNCATION = 0.7  # PaddleGAN's sample() and style_mixing()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--output_path", default="output_dir", help="folder for the images (output_dir)")
    p.add_argument("--weight_path", default=None, help="generator weights (.pdparams, .pt, .pdckpt)")
    p.add_argument("--model_type", default=None, choices=sorted(MODEL_TYPES),
                   help="a PaddleGAN release, used when --weight_path is not given")
    p.add_argument("--seed", type=int, default=None, help="random seed: the same images on every run")
    p.add_argument("--size", type=int, default=None, help="output resolution (checked against the file)")
    p.add_argument("--style_dim", type=int, default=None, help="length of z and w (checked against the file)")
    p.add_argument("--n_mlp", type=int, default=None, help="mapping layers (checked against the file)")
    p.add_argument("--channel_multiplier", type=int, default=None, help="width factor (checked against the file)")
    p.add_argument("--n_row", type=int, default=3, help="rows of the sample grid (3)")
    p.add_argument("--n_col", type=int, default=5, help="columns of the sample grid (5)")
    p.add_argument("--cpu", action="store_true", help="run on the CPU (default: GPU when there is one)")
    args = p.parse_args(argv)
    if args.weight_path is None and args.model_type is None:
        p.error("give --weight_path FILE or --model_type (" + ", ".join(sorted(MODEL_TYPES)) + ")")
    if args.n_row < 1 or args.n_col < 1:
        p.error("--n_row and --n_col must be at least 1")
    return args


def check_options(net, args):
    """The shape flags, when given, must describe the loaded generator."""
    from ppimg2img.nets.stylegan2 import reference_channels

    given = {"size": args.size, "style_dim": args.style_dim, "n_mlp": args.n_mlp}
    actual = {"size": net.size, "style_dim": net.style_dim, "n_mlp": net.n_mlp}
    bad = [f"--{k} {v} (the file has {actual[k]})" for k, v in given.items() if v is not None and v != actual[k]]
    widths = [net.channels[2 ** i] for i in range(2, net.log_size + 1)]
    reference = {cm: reference_channels(net.size, cm) for cm in (1, 2)}
    # a file at the reference's widths must be the multiplier asked for; narrower files (reduced widths)
    # have no multiplier to contradict
    if (args.channel_multiplier is not None and widths in reference.values()
            and widths != reference.get(args.channel_multiplier)):
        bad.append(f"--channel_multiplier {args.channel_multiplier} (the file's widths are {widths})")
    if bad:
        raise ValueError("the weights do not match " + ", ".join(bad) + ": leave these flags out (they are read "
                         "from the file) or use the weights they describe")


def style_mixing(net, center, n_source, n_target):
    """PaddleGAN's style_mixing(): [blank, sources...] then per target [target, target x each source]."""
    import paddle

    source = paddle.randn([n_source, net.style_dim])
    target = paddle.randn([n_target, net.style_dim])
    kw = dict(truncation=TRUNCATION, truncation_latent=center, noise_mode="random")
    images = [paddle.full([1, 3, net.size, net.size], -1.0), net(source, **kw)]
    target_images = net(target, **kw)
    for i in range(n_target):
        images.append(target_images[i:i + 1])
        images.append(net([paddle.tile(target[i:i + 1], [n_source, 1]), source], **kw))
    return paddle.concat(images, 0)


def main(argv=None):
    args = parse_args(argv)
    import numpy as np
    import paddle

    from ppimg2img.engine.evaluation.generation import tile
    from ppimg2img.nets.stylegan2 import StyleGAN2Generator
    from ppimg2img.utils.env import set_device
    from ppimg2img.utils.image_io import save_image, tensor_to_image
    from ppimg2img.weights import load_generator

    try:
        set_device("cpu" if args.cpu else None)
        source = args.weight_path or MODEL_TYPES[args.model_type]
        if args.weight_path and not os.path.isfile(args.weight_path):
            raise FileNotFoundError(f"--weight_path: no such file: {args.weight_path}")
        net = load_generator(source)
        if not isinstance(net, StyleGAN2Generator):
            raise ValueError(f"{source}: holds a {type(net).__name__}, not a StyleGAN2 generator")
        check_options(net, args)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.seed is not None:
        paddle.seed(args.seed)
        np.random.seed(args.seed)

    def save(name, batch, cols):
        images = [tensor_to_image(x) for x in batch.numpy()]
        return save_image(os.path.join(args.output_path, name), tile(images, cols))

    os.makedirs(args.output_path, exist_ok=True)
    with paddle.no_grad():
        center = net.truncation_center()
        z = paddle.randn([args.n_row * args.n_col, net.style_dim])
        samples = paddle.concat([net(z[i:i + 4], truncation=TRUNCATION, truncation_latent=center, noise_mode="random")
                                 for i in range(0, z.shape[0], 4)], 0)
        written = [save("sample.png", samples, args.n_col)]
        for j in range(2):
            written.append(save(f"sample_mixing_{j}.png", style_mixing(net, center, args.n_col, args.n_row),
                                args.n_col + 1))
    print(f"{net.size}x{net.size} StyleGAN2 ({source}): " + ", ".join(written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
