"""CycleGAN training-step speed on CPU: threads x Adam kernel, medians of several runs.

    python benchmarks/cyclegan_train_step.py [--size 64] [--ngf 16] [--blocks 6] [--steps 20] [--repeats 3]

Each setting runs in its own process (Paddle's thread pool is process-wide). Prints a Markdown
table of images/s (median over repeats, after warm-up) with the ratio to the 1-thread,
per-parameter-Adam baseline measured in the same run, and writes benchmarks/results/*.json.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure(args):
    """Child process: time ``steps`` training steps ``repeats`` times; print JSON."""
    sys.path.insert(0, ROOT)
    import numpy as np
    import paddle

    import ppimg2img.models.base as base
    from ppimg2img.models.cyclegan import CycleGANModel
    from ppimg2img.utils.env import set_seed, set_threads

    set_threads(args.threads)
    set_seed(0)
    if args.adam == "per_param":  # Paddle's default Adam kernel, for comparison
        def per_param_adam(parameters, scheduler, name="adam", beta1=0.5, beta2=0.999, weight_decay=0.0):
            return paddle.optimizer.Adam(learning_rate=scheduler, beta1=beta1, beta2=beta2,
                                         parameters=parameters, weight_decay=weight_decay or None)
        base.build_optimizer = per_param_adam
    model = CycleGANModel({"name": f"resnet_{args.blocks}blocks", "ngf": args.ngf},
                          {"name": "basic", "ndf": args.ngf})
    model.setup_training({"lr": 2e-4}, {"policy": "linear"})
    rng = np.random.default_rng(0)
    batch = {k: paddle.to_tensor(rng.uniform(-1, 1, (1, 3, args.size, args.size)).astype("float32"))
             for k in ("A", "B")}
    model.set_input(batch)
    for _ in range(3):
        model.train_step()
    rates = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            model.train_step()
        rates.append(args.steps / (time.perf_counter() - t0))
    print(json.dumps({"img_per_s": rates}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--ngf", type=int, default=16)
    p.add_argument("--blocks", type=int, default=6, choices=[6, 9])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--adam", default="multi_tensor", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return measure(args)
    import paddle
    cores = os.cpu_count() or 1
    settings = [(1, "per_param"), (1, "multi_tensor")]
    if cores > 1:
        settings += [(cores, "per_param"), (cores, "multi_tensor")]
    results = []
    for threads, adam in settings:
        cmd = [sys.executable, __file__, "--child", "--threads", str(threads), "--adam", adam,
               "--size", str(args.size), "--ngf", str(args.ngf), "--blocks", str(args.blocks),
               "--steps", str(args.steps), "--repeats", str(args.repeats)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        rates = json.loads(out.strip().splitlines()[-1])["img_per_s"]
        results.append({"threads": threads, "adam": adam, "img_per_s": rates,
                        "median_img_per_s": statistics.median(rates)})
    baseline = results[0]["median_img_per_s"]
    print(f"CycleGAN training step, {args.size}x{args.size}, resnet_{args.blocks}blocks ngf {args.ngf}, "
          f"basic D ndf {args.ngf}, batch 1; Paddle {paddle.__version__}, {cores} cores, "
          f"median of {args.repeats} x {args.steps} steps after 3 warm-up steps\n")
    print("| threads | Adam kernel | img/s (median) | runs | vs 1 thread, per-parameter Adam |")
    print("|---|---|---|---|---|")
    for r in results:
        runs = ", ".join(f"{v:.2f}" for v in r["img_per_s"])
        print(f"| {r['threads']} | {r['adam']} | {r['median_img_per_s']:.2f} | {runs} | "
              f"{r['median_img_per_s'] / baseline:.2f}x |")
    os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
    path = os.path.join(ROOT, "benchmarks", "results", f"cyclegan_train_step_{args.size}.json")
    with open(path, "w") as f:
        json.dump({"paddle": paddle.__version__, "cores": cores, "python": platform.python_version(),
                   "args": {k: v for k, v in vars(args).items() if k not in ("child", "threads", "adam")},
                   "results": results}, f, indent=2)
    print(f"\nwritten {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    main()
