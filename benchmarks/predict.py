"""Prediction speed on CPU: eager Paddle vs the Paddle Inference backend predictors use by default.

    python benchmarks/predict.py [--quick] [--families cyclegan pix2pix ugatit photo2cartoon] [--size 256]
                                 [--repeats 5] [--warmup 1] [--threads N] [--output-dir benchmarks/results]
                                 [--torch /path/to/python-with-torch]

For each family's generator (published width, random weights) at ``--size``: median latency at
batch 1 and throughput at batch 4 for the ``eager`` backend (``net(x)`` under ``paddle.no_grad()``)
and the ``inference`` backend (:func:`ppimg2img.export.inference.load_or_export`: the exported
graph in Paddle Inference with oneDNN), the speed-up, the largest output difference between the
two, and each backend's peak memory. Each backend runs in its own process (forked from a server
that imported Paddle once), so its peak resident memory is its own; the export runs in a third
process. The two backends' timed runs alternate (eager, inference, inference, eager, ...), so load
from other programs hits both alike. Writes ``predict.json`` and ``predict.md`` (``predict_quick.*``
with ``--quick``: tiny nets at 128 px, for CI) to the output folder. ``--torch PYTHON`` adds a
``pytorch`` row for CycleGAN: the same ResNet generator in PyTorch eager mode, run by that
interpreter (PyTorch installed, no Paddle needed), timed alternately with the other two. See
benchmarks/README.md.
"""
import argparse
import json
import os
import statistics
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE]
import run as _run  # noqa: E402  (before Paddle: records the environment as the user set it)

ROOT = _run.ROOT
BACKENDS = ("eager", "inference")
BATCHES = (1, 4)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="CI smoke run: ngf 4, 128 px, 1 warm-up + 2 repetitions")
    p.add_argument("--families", nargs="+", choices=_run.FAMILIES, default=list(_run.FAMILIES))
    p.add_argument("--size", type=int, help="image size (default 256; --quick: 128)")
    p.add_argument("--repeats", type=int,
                   help="timed runs per figure and backend, median reported (default 5; --quick: 2)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs of each batch size first (default 1)")
    p.add_argument("--threads", type=int, help="CPU threads (default: every core of this process)")
    p.add_argument("--ngf", type=int, help="generator width for every family (default: each family's published "
                                           "width; --quick: 4)")
    p.add_argument("--output-dir", default=os.path.join(ROOT, "benchmarks", "results"))
    p.add_argument("--torch", metavar="PYTHON", help="a Python interpreter with PyTorch: adds a PyTorch eager row "
                                                     "for cyclegan (the reference the inference backend must beat)")
    args = p.parse_args(argv)
    defaults = {"size": 128 if args.quick else 256, "repeats": 2 if args.quick else 5, "ngf": 4 if args.quick else None}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("repeats", "threads", "ngf", "size"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.warmup < 0:
        p.error(f"--warmup must be at least 0, got {args.warmup}")
    for family in args.families:  # fail now, not after minutes of measuring
        try:
            _run.family_config(family, args.size)
        except ValueError as e:
            p.error(str(e))
    return args


# ---------------------------------------------------------------- child processes

def _generator_config(case):
    _, gen, _ = _run.family_config(case["family"], case["size"], case.get("ngf"))
    return gen


def _build_net(case):
    """The family's generator (seed 0, the family's initialisation), eval mode."""
    from ppimg2img.nets import build_generator
    from ppimg2img.nets.init import init_weights
    from ppimg2img.utils.env import set_seed

    set_seed(0)
    cfg = dict(_generator_config(case))
    net = build_generator(cfg.pop("name"), **cfg)
    if case["family"] in ("cyclegan", "pix2pix"):
        init_weights(net, "normal", 0.02)
    net.eval()  # pix2pix: running BatchNorm statistics, no dropout (ppimg2img's default inference mode)
    return net


def _fingerprint(case):
    return "benchmark seed 0 " + json.dumps(_generator_config(case), sort_keys=True)


def _runner(case):
    """A function ``run(x) -> NCHW ndarray`` for the case's backend."""
    import numpy as np
    import paddle

    from ppimg2img.export.inference import load_or_export
    from ppimg2img.export.paddle_graph import ImageOnly

    if case["backend"] == "eager":
        net = ImageOnly(_build_net(case))

        def run(x):
            with paddle.no_grad():
                return net(paddle.to_tensor(x)).numpy()
        return run
    gen = load_or_export(lambda: _build_net(case), case["prefix"], _fingerprint(case), threads=case["threads"])
    return lambda x: np.asarray(gen(x))


def worker(case, conn):
    """A case's process. ``role == 'export'``: export and report the time. Otherwise: build the
    backend, warm up, send ``{"ready": ...}``, then time one run per batch size received until
    ``None``, and send the peak memory and the batch-1 output."""
    try:
        import ppimg2img  # noqa: F401  (thread set-up)
        from _cases import _images, _setup

        from ppimg2img.utils.env import peak_memory_mb

        _setup(case)
        if case["role"] == "export":
            from ppimg2img.export.inference import is_current, load_or_export
            t0 = time.perf_counter()
            reused = is_current(case["prefix"], _fingerprint(case))
            load_or_export(lambda: _build_net(case), case["prefix"], _fingerprint(case), threads=case["threads"])
            conn.send({"export_s": time.perf_counter() - t0, "reused": reused})
            return
        t0 = time.perf_counter()
        run = _runner(case)
        inputs = {b: _images(case["size"], b) for b in case["batches"]}
        first = run(inputs[1])
        ready = {"ready": True, "setup_and_first_run_s": time.perf_counter() - t0}
        for b in case["batches"]:
            for _ in range(case["warmup"]):
                run(inputs[b])
        conn.send(ready)
        while (batch := conn.recv()) is not None:
            t0 = time.perf_counter()
            run(inputs[batch])
            conn.send(time.perf_counter() - t0)
        conn.send({"peak_mb": peak_memory_mb(), "output": first})
    except BaseException as e:  # noqa: BLE001 - reported as the case's result
        conn.send({"error": f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=-4)}"})
    finally:
        conn.close()


def torch_worker(size, ngf, n_blocks, threads, batches, warmup):
    """PyTorch reference (run by the ``--torch`` interpreter): CycleGAN's ResNet generator as in the
    original code (benchmarks/torch_reference.py), timed on request. Same
    line protocol as :func:`worker`, over stdin/stdout as JSON lines."""
    import resource

    import torch

    from torch_reference import ResnetGenerator  # the original network, as the training-step reference

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = ResnetGenerator(ngf, n_blocks).eval()
    inputs = {b: torch.rand(b, 3, size, size) * 2 - 1 for b in batches}
    out = sys.stdout

    def send(obj):
        out.write(json.dumps(obj) + "\n")
        out.flush()

    with torch.no_grad():
        t0 = time.perf_counter()
        net(inputs[1])
        ready = {"ready": True, "setup_and_first_run_s": time.perf_counter() - t0, "torch": torch.__version__}
        for b in batches:
            for _ in range(warmup):
                net(inputs[b])
        send(ready)
        for line in sys.stdin:
            batch = json.loads(line)
            if batch is None:
                break
            t0 = time.perf_counter()
            net(inputs[batch])
            send(time.perf_counter() - t0)
    send({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


class _TorchProcess:
    """The ``--torch`` interpreter running :func:`torch_worker`, with ``send``/``recv`` like a Pipe."""

    def __init__(self, python, case):
        import subprocess
        args = [case["size"], case["ngf"], case["n_blocks"], case["threads"], case["batches"], case["warmup"]]
        code = f"import sys; sys.path.insert(0, {HERE!r}); import predict; predict.torch_worker(*{args!r})"
        self.proc = subprocess.Popen([python, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def send(self, obj):
        self.proc.stdin.write(json.dumps(obj) + "\n")
        self.proc.stdin.flush()

    def recv(self):
        line = self.proc.stdout.readline()
        if not line:
            raise EOFError
        return json.loads(line)

    def is_alive(self):
        return self.proc.poll() is None

    def join(self, timeout=None):
        self.proc.wait(timeout)

    def terminate(self):
        self.proc.terminate()

    @property
    def exitcode(self):
        return self.proc.returncode


# ---------------------------------------------------------------- parent

def _start(case):
    import predict  # this module by its import name: the forkserver's child imports it to find ``worker``
    ctx = _run.process_context()
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=predict.worker, args=(case, child))
    proc.start()
    child.close()
    return proc, parent


def _receive(proc, conn):
    try:
        msg = conn.recv()
    except EOFError:
        proc.join()
        return {"error": f"the case's process died (exit code {proc.exitcode})"}
    return msg


def measure_family(family, args, threads, out_dir):
    """Rows (one per backend) for one family: export, then the backends side by side, timed runs alternating."""
    import numpy as np

    common = {"family": family, "size": args.size, "ngf": args.ngf, "threads": threads, "warmup": args.warmup,
              "batches": list(BATCHES),
              "prefix": os.path.join(out_dir, "export_predict", f"{family}_{args.size}_ngf{args.ngf or 'published'}",
                                     "generator")}
    gen_cfg = _generator_config(common)
    backends = list(BACKENDS) + (["pytorch"] if args.torch and gen_cfg["name"].startswith("resnet_") else [])
    rows = {b: {"family": family, "generator": gen_cfg["name"], "ngf": gen_cfg["ngf"], "size": args.size,
                "backend": b} for b in backends}
    proc, conn = _start({**common, "role": "export"})
    export = _receive(proc, conn)
    proc.join()
    if "error" in export:
        for r in rows.values():
            r["error"] = "export: " + export["error"]
        return list(rows.values())
    rows["inference"].update(export_s=export["export_s"], export_reused=export["reused"])
    procs = {b: _start({**common, "role": "measure", "backend": b}) for b in BACKENDS}
    if "pytorch" in backends:
        n_blocks = int(gen_cfg["name"].split("_")[1].replace("blocks", ""))
        torch_proc = _TorchProcess(args.torch, {**common, "ngf": gen_cfg["ngf"], "n_blocks": n_blocks})
        procs["pytorch"] = (torch_proc, torch_proc)
    live = []
    try:
        for b, (proc, conn) in procs.items():
            msg = _receive(proc, conn)
            rows[b].update(msg if "error" in msg else {k: v for k, v in msg.items() if k != "ready"})
        live = [b for b in backends if "error" not in rows[b]]
        for batch in BATCHES:
            times = {b: [] for b in live}
            for rep in range(args.repeats):
                for b in (live if rep % 2 == 0 else live[::-1]):
                    procs[b][1].send(batch)
                    times[b].append(procs[b][1].recv())
            for b in live:
                rows[b][f"batch{batch}_s"] = times[b]
        outputs = {}
        for b in live:
            procs[b][1].send(None)
            final = procs[b][1].recv()
            rows[b]["peak_mb"] = final["peak_mb"]
            if "output" in final:
                outputs[b] = final["output"]
    finally:
        for proc, conn in procs.values():
            if proc.is_alive():
                proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()
                proc.join()
    for b in live:
        r = rows[b]
        r["latency_ms"] = 1000 * statistics.median(r["batch1_s"])
        r["throughput_img_per_s"] = BATCHES[-1] / statistics.median(r[f"batch{BATCHES[-1]}_s"])
    if "eager" in live:
        e = rows["eager"]
        for b in live:
            if b != "eager":
                rows[b]["latency_speedup_vs_eager"] = e["latency_ms"] / rows[b]["latency_ms"]
                rows[b]["throughput_ratio_vs_eager"] = rows[b]["throughput_img_per_s"] / e["throughput_img_per_s"]
        if "inference" in outputs and "eager" in outputs:
            rows["inference"]["max_abs_diff_vs_eager"] = float(np.abs(outputs["inference"] - outputs["eager"]).max())
    if "pytorch" in live and "inference" in live:
        inf = rows["inference"]
        inf["latency_speedup_vs_pytorch"] = rows["pytorch"]["latency_ms"] / inf["latency_ms"]
    return [rows[b] for b in backends]


def environment(args, threads):
    from ppimg2img.export.inference import EXPORT_RECIPE
    return {
        **_run.base_environment("benchmarks/predict.py", threads),
        "inference_config": f"Paddle Inference Config: enable_mkldnn(), set_cpu_math_library_num_threads({threads}), "
                            f"IR optimisation on (default passes); export recipe {EXPORT_RECIPE} (reflect pads as "
                            f"slices + concat); input copy_from_cpu, output copy_to_cpu",
    }


def markdown(results):
    env, s = results["environment"], results["settings"]
    lines = [f"# ppimg2img prediction backends on CPU{' (quick)' if s['quick'] else ''}", "",
             f"`{env['command']}` on {env['date_utc']}", "",
             f"Paddle {env['paddle']} (commit {env['paddle_commit'][:10]}, "
             f"oneDNN {'yes' if env['paddle_onednn'] else 'no'}), "
             f"Python {env['python']}, {env['cpu']}, {env['cores']} cores, {env['threads']} threads; flags: "
             f"{', '.join(f'{k}={v}' for k, v in env['flags'].items()) or 'none set'}. {s['size']} px, medians of "
             f"{s['repeats']} timed runs per backend (alternating between the backends) after "
             f"{s['warmup']} warm-up run(s). "
             f"Peak MB: peak resident memory of the backend's own process.", "",
             "| family | generator | ngf | backend | latency ms (batch 1) | speed-up vs eager | img/s (batch 4) "
             "| ratio vs eager | peak MB | max abs diff vs eager |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["rows"]:
        head = f"| {r['family']} | {r['generator']} | {r['ngf']} | {r['backend']} |"
        if "error" in r:
            lines.append(head + " error | | | | | |")
            continue
        speed = f"{r['latency_speedup_vs_eager']:.2f}x" if "latency_speedup_vs_eager" in r else "1.00x"
        ratio = f"{r['throughput_ratio_vs_eager']:.2f}x" if "throughput_ratio_vs_eager" in r else "1.00x"
        diff = f"{r['max_abs_diff_vs_eager']:.1e}" if "max_abs_diff_vs_eager" in r else "-"
        lines.append(f"{head} {r['latency_ms']:.1f} | {speed} | {r['throughput_img_per_s']:.2f} | {ratio} | "
                     f"{r['peak_mb']:.0f} | {diff} |")
    for r in results["rows"]:
        if "latency_speedup_vs_pytorch" in r:
            torch_row = next(t for t in results["rows"] if t["family"] == r["family"] and t["backend"] == "pytorch")
            lines += ["", f"{r['family']} ({r['generator']}, ngf {r['ngf']}): the inference backend takes "
                          f"{r['latency_ms']:.0f} ms per image against PyTorch {torch_row.get('torch', '')} eager's "
                          f"{torch_row['latency_ms']:.0f} ms in the same run: {r['latency_speedup_vs_pytorch']:.2f}x."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    from ppimg2img.utils.env import default_threads
    threads = args.threads or default_threads()
    out_dir = os.path.abspath(args.output_dir)
    os.makedirs(out_dir, exist_ok=True)
    results = {"environment": environment(args, threads),
               "settings": {"quick": args.quick, "size": args.size, "repeats": args.repeats, "warmup": args.warmup,
                            "ngf": args.ngf or "published", "families": args.families, "batches": list(BATCHES),
                            "torch": args.torch},
               "rows": []}
    t_start = time.perf_counter()
    for family in args.families:
        t0 = time.perf_counter()
        rows = measure_family(family, args, threads, out_dir)
        results["rows"] += rows
        for r in rows:
            status = (f"FAILED {r['error']}" if "error" in r else
                      f"{r['latency_ms']:.1f} ms, {r['throughput_img_per_s']:.2f} img/s, peak {r['peak_mb']:.0f} MB")
            print(f"{family} {r['backend']}: {status}", flush=True)
        print(f"  ({time.perf_counter() - t0:.1f} s)", flush=True)
    results["environment"]["wall_s"] = time.perf_counter() - t_start
    _run.write_results(results, markdown(results), out_dir, "predict_quick" if args.quick else "predict")
    return 1 if any("error" in r for r in results["rows"]) else 0


if __name__ == "__main__":
    sys.exit(main())
