"""Peak host memory and time of one training step: photo2cartoon and U-GAT-IT light on CPU.

    python benchmarks/photo2cartoon_train_step.py [--sizes 256 128] [--steps 2] [--warmup 1]
                                                  [--models photo2cartoon ugatit_light] [--original-sizes 128]

Each (model, size) runs in its own process, so the peak resident memory (``ru_maxrss``, via
``ppimg2img.utils.env.peak_memory_mb``) is that setting's alone. Nets at their published sizes:
photo2cartoon ngf 32 (light, Soft-AdaLIN, hourglasses) with ndf 32 discriminators and the face-ID
loss on (a MobileFaceNet with random weights: same cost as the real one); U-GAT-IT light ngf 64,
4 blocks, ndf 64. Batch 1. Prints the median step time after the warm-up steps and the peak
memory, and writes benchmarks/results/photo2cartoon_train_step.json.

``--original-sizes`` also measures, at those sizes, the generator step written as the original
writes it (every loss in one graph, one backward) instead of ppimg2img's four independent backward passes, to show
the memory that saves. Reference: PaddleGAN's photo2cartoon step peaked at 12.3 GB on this kind of
machine (256 px, CPU).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure(args):
    """Child process: build one model, run warm-up + timed steps, print JSON."""
    sys.path.insert(0, ROOT)
    import numpy as np
    import paddle

    from ppimg2img.models import Photo2CartoonModel, UGATITModel
    from ppimg2img.nets.mobilefacenet import MobileFaceNet
    from ppimg2img.utils.env import peak_memory_mb, set_seed, set_threads

    set_threads(args.threads)
    set_seed(0)
    size = args.size
    if args.model == "photo2cartoon":
        facenet = os.path.join(tempfile.mkdtemp(), "mobilefacenet_random.pdparams")
        paddle.save(MobileFaceNet().state_dict(), facenet)
        cls, kw = Photo2CartoonModel, {"faceid_weight": 1.0, "faceid_model": facenet}
        gen = {"name": "photo2cartoon", "ngf": 32, "img_size": size, "light": True}
        dis = {"name": "ugatit", "ndf": 32, "n_layers": 7}
    else:
        cls, kw = UGATITModel, {}
        gen = {"name": "ugatit", "ngf": 64, "n_blocks": 4, "img_size": size, "light": True}
        dis = {"name": "ugatit", "ndf": 64, "n_layers": 7}
    model = cls(gen, dis, **kw)
    if args.g_step == "original":
        def backward_in_one_graph(m=model):
            """L_G as the original builds it: every part in one graph, one backward."""
            parts = [part() for part in m.generator_parts()]
            paddle.add_n([v for losses in parts for v in losses.values()]).backward()
            return {f"{k}_{i}": float(v) for i, losses in enumerate(parts) for k, v in losses.items()}
        model.backward_generators = backward_in_one_graph
    model.setup_training({"lr": 1e-4, "weight_decay": 1e-4}, {"policy": "linear"})
    rng = np.random.default_rng(0)
    model.set_input({k: paddle.to_tensor(rng.uniform(-1, 1, (1, 3, size, size)).astype("float32")) for k in "AB"})
    mem_built = peak_memory_mb()
    for _ in range(args.warmup):
        model.train_step()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        model.train_step()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"step_s": times, "peak_mb": peak_memory_mb(), "after_build_mb": mem_built}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["photo2cartoon", "ugatit_light"],
                   choices=["photo2cartoon", "ugatit_light"])
    p.add_argument("--sizes", nargs="+", type=int, default=[256, 128])
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: every core)")
    p.add_argument("--original-sizes", nargs="*", type=int, default=[],
                   help="sizes at which to also time the original one-backward generator step")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    p.add_argument("--g-step", default="split", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return measure(args)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = args.threads or cores  # explicit: the children must not inherit an OMP_NUM_THREADS=1
    results = []
    for model in args.models:
        for size in args.sizes:
            for g_step in ["split"] + (["original"] if size in args.original_sizes else []):
                cmd = [sys.executable, __file__, "--child", "--model", model, "--size", str(size), "--threads",
                       str(threads), "--steps", str(args.steps), "--warmup", str(args.warmup), "--g-step", g_step]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                r = json.loads(out.strip().splitlines()[-1])
                r.update(model=model, size=size, g_step=g_step, median_step_s=statistics.median(r["step_s"]))
                results.append(r)
                print(f"{model} {size}px ({g_step} G step): median {r['median_step_s']:.2f} s/step, "
                      f"peak {r['peak_mb']:.0f} MB", flush=True)
    import paddle
    print(f"\nTraining step, batch 1, Paddle {paddle.__version__}, {threads} threads on {cores} cores, "
          f"median of {args.steps} steps after {args.warmup} warm-up step(s)\n")
    print("| model | size | G step | s/step (median) | runs | peak memory MB | after building MB |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        runs = ", ".join(f"{v:.2f}" for v in r["step_s"])
        print(f"| {r['model']} | {r['size']} | {r['g_step']} | {r['median_step_s']:.2f} | {runs} | "
              f"{r['peak_mb']:.0f} | {r['after_build_mb']:.0f} |")
    os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
    path = os.path.join(ROOT, "benchmarks", "results", "photo2cartoon_train_step.json")
    with open(path, "w") as f:
        json.dump({"paddle": paddle.__version__, "cores": cores, "threads": threads,
                   "python": platform.python_version(),
                   "args": {k: v for k, v in vars(args).items() if k not in ("child", "model", "size", "g_step")},
                   "results": results}, f, indent=2)
    print(f"\nwritten {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    main()
