"""ppimg2img speed and memory on CPU, every model family: one entry point.

    python benchmarks/run.py [--quick] [--families cyclegan pix2pix ugatit photo2cartoon dcgan] [--sizes 128 256]
                             [--dcgan-sizes 28 64] [--repeats 3] [--warmup 1] [--threads N]
                             [--only train infer data] [--fast] [--torch PYTHON] [--issue23] [--rounds R]
                             [--output-dir benchmarks/results]

Measures, per translation family and size: the training step (batch 1), generator inference latency (batch 1)
and throughput (batch 4) in eager mode and in Paddle Inference with oneDNN (from a paddle.jit.save
export), and data-loader throughput with 0 and 2 workers; for DCGAN (generation from noise) the
training step at its configs' sizes and batches (28 px batch 64, 64 px batch 128). ``--torch PYTHON``
adds a ``pytorch`` training row for CycleGAN, pix2pix, U-GAT-IT, photo2cartoon and DCGAN and a ``pytorch``
inference row for the translation families: the original networks and step in PyTorch eager mode
(benchmarks/torch_reference.py, run by that interpreter), the baseline of each Paddle row's "x PyTorch"
ratios; ``--issue23`` prints issue 23's tables with them in one command. Every case runs in a fresh
process (forked from a server that imported Paddle once), so its peak resident memory is its own. Figures are medians over ``--repeats`` runs after
``--warmup`` runs. Writes ``benchmark.json`` and ``benchmark.md`` (``benchmark_quick.*`` with
``--quick``: tiny nets, 2 repetitions, for CI) to the output folder. See benchmarks/README.md.
"""
import argparse
import datetime
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ENV_BEFORE_PADDLE = dict(os.environ)  # ``import paddle`` sets OMP_NUM_THREADS=1: children get this environment
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.dirname(os.path.abspath(__file__))]
from _cases import (DATASET_OF, FAMILIES, ONNX_FAMILIES, TRANSLATION_FAMILIES, family_config,  # noqa: E402
                    train_batch)

KINDS = ("train", "infer", "data")
FAST_FAMILIES = ("cyclegan", "pix2pix")  # the families with a train.fast step
TORCH_FAMILIES = ("cyclegan", "pix2pix", "ugatit", "photo2cartoon", "dcgan")  # benchmarks/torch_reference.py's
TORCH_INFER_FAMILIES = ("cyclegan", "pix2pix", "ugatit", "photo2cartoon")
#: --issue23: the tables of issue 23 (inference at 256 px; training at 128 px, and 256 px for these two)
ISSUE23_TRAIN_256 = ("ugatit", "photo2cartoon")
TORCH_REFERENCE = os.path.join(ROOT, "benchmarks", "torch_reference.py")
BACKENDS = ("eager", "onednn")
WORKERS = (0, 2)
BATCHES = (1, 4)
DATA_BATCH = 4


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 2)[2])
    p.add_argument("--quick", action="store_true",
                   help="CI smoke run: ngf 4, 128 px, 1 warm-up + 2 repetitions, 8-image datasets (under a minute)")
    p.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    p.add_argument("--sizes", nargs="+", type=int, help="image sizes of the translation families "
                                                        "(default 128 256; --quick: 128)")
    p.add_argument("--dcgan-sizes", nargs="+", type=int,
                   help="image sizes of the DCGAN training step (default 28 64: configs/quickstart_dcgan.yaml, "
                        "batch 64, and configs/dcgan_mnist.yaml, batch 128; --quick: 28)")
    p.add_argument("--repeats", type=int, help="timed runs per figure, median reported (default 3; --quick: 2)")
    p.add_argument("--warmup", type=int, help="untimed runs first (default 1)")
    p.add_argument("--threads", type=int, help="CPU threads for Paddle (default: every core of this process)")
    p.add_argument("--only", nargs="+", choices=KINDS, default=list(KINDS), help="measure only these kinds")
    p.add_argument("--fast", action="store_true",
                   help="also measure the train.fast step (static programs on oneDNN, ppimg2img/engine/fast.py) "
                        "of the families that have one (%s), next to the eager step" % ", ".join(FAST_FAMILIES))
    p.add_argument("--torch", metavar="PYTHON",
                   help="a Python interpreter with PyTorch: adds a pytorch training row for %s and a pytorch "
                        "inference row for the translation families (the original networks and step, "
                        "benchmarks/torch_reference.py) and each Paddle row's time and peak memory as a ratio "
                        "to it" % ", ".join(TORCH_FAMILIES))
    p.add_argument("--issue23", action="store_true",
                   help="the tables of issue 23 in one run (needs --torch): the four translation families' "
                        "inference at 256 px and training at 128 px (U-GAT-IT and photo2cartoon also at 256 px), "
                        "2 threads, 5 timed runs, each next to its PyTorch row; with --rounds 3 unless given")
    p.add_argument("--rounds", type=int,
                   help="run the whole case list this many times, one round after the other, and pool each "
                        "row's timed runs (medians over all rounds, peak memory the largest): Paddle and "
                        "PyTorch cases then alternate, so load from other programs hits both alike (default 1)")
    p.add_argument("--ngf", type=int, help="generator/discriminator width for every family "
                                           "(default: each family's published width; --quick: 4)")
    p.add_argument("--jobs", type=int, help="cases run at the same time (default 1; --quick: 2). Above 1 the "
                                            "cases compete for the cores: figures are then only a smoke test")
    p.add_argument("--output-dir", default=os.path.join(ROOT, "benchmarks", "results"))
    args = p.parse_args(argv)
    if args.issue23:
        if not args.torch:
            p.error("--issue23 compares with PyTorch: give --torch PYTHON (an interpreter with torch installed)")
        args.families = [f for f in args.families if f in TORCH_INFER_FAMILIES] or list(TORCH_INFER_FAMILIES)
        args.only = [k for k in args.only if k != "data"]
        args.sizes = args.sizes or [128, 256]
        args.threads = args.threads or 2
        args.repeats = args.repeats or 5
        args.rounds = args.rounds or 3
    quick = args.quick
    defaults = {"sizes": [128] if quick else [128, 256], "dcgan_sizes": [28] if quick else [28, 64],
                "repeats": 2 if quick else 3, "warmup": 1, "rounds": 1,
                "ngf": 4 if quick else None, "jobs": 2 if quick else 1}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("repeats", "threads", "ngf", "jobs", "rounds"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.warmup < 0 or min(args.sizes) < 1 or min(args.dcgan_sizes) < 1:
        p.error("--warmup must be at least 0 and --sizes / --dcgan-sizes positive")
    for family in args.families:  # fail now, not after an hour of measuring
        for size in family_sizes(args, family):
            try:
                family_config(family, size)
            except ValueError as e:
                p.error(str(e))
    return args


def family_sizes(args, family):
    """The sizes a family is measured at: ``--dcgan-sizes`` for DCGAN, ``--sizes`` for the others."""
    return args.dcgan_sizes if family == "dcgan" else args.sizes


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def base_environment(script, threads):
    """Paddle version, machine, threads and flags: what every benchmark's figures depend on."""
    import paddle

    import ppimg2img  # noqa: F401 - its import sets MKL_DEBUG_CPU_TYPE on AMD CPUs, as in every case's process
    flags = {k: v for k, v in sorted(ENV_BEFORE_PADDLE.items())
             if k.startswith(("FLAGS_", "OMP_", "MKL_", "DNNL_", "ONEDNN_", "KMP_", "OPENBLAS_"))}
    if "MKL_DEBUG_CPU_TYPE" not in flags and os.environ.get("MKL_DEBUG_CPU_TYPE"):
        flags["MKL_DEBUG_CPU_TYPE"] = os.environ["MKL_DEBUG_CPU_TYPE"] + " (set by ppimg2img)"
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python", script, *sys.argv[1:]]),
        "paddle": paddle.__version__, "paddle_commit": paddle.version.commit,
        "paddle_onednn": bool(paddle.base.core.is_compiled_with_mkldnn()),
        "python": platform.python_version(), "platform": platform.platform(), "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "threads": threads,
        "flags": flags,
    }


def write_results(results, table, out_dir, stem):
    """``<stem>.json`` (every figure and the environment) and ``<stem>.md`` (``table``), and print the table."""
    with open(os.path.join(out_dir, stem + ".json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(out_dir, stem + ".md"), "w") as f:
        f.write(table)
    print("\n" + table)
    print(f"written {os.path.join(out_dir, stem + '.json')} and .md ({results['environment']['wall_s']:.0f} s)")


def environment(args, threads):
    """:func:`base_environment` and this run's settings."""
    return {
        **base_environment("benchmarks/run.py", threads),
        "settings": {"quick": args.quick, "sizes": args.sizes, "dcgan_sizes": args.dcgan_sizes,
                     "repeats": args.repeats, "warmup": args.warmup,
                     "ngf": args.ngf or "published", "jobs": args.jobs, "families": args.families, "only": args.only,
                     "fast": args.fast, "torch": args.torch, "issue23": args.issue23, "rounds": args.rounds,
                     "train_batch": {**{f: 1 for f in TRANSLATION_FAMILIES},
                                     "dcgan": {str(size): train_batch("dcgan", size) for size in args.dcgan_sizes}},
                     "infer_batches": list(BATCHES), "data_batch": DATA_BATCH,
                     "data_workers": list(WORKERS), "onednn_config": "Config.enable_mkldnn(), "
                     "set_cpu_math_library_num_threads(threads), IR optimisation on (default)"},
    }


def build_cases(args, threads, export_dir, data_dirs):
    common = {"threads": threads, "warmup": args.warmup, "repeats": args.repeats}
    translation = [f for f in args.families if f in TRANSLATION_FAMILIES]

    def train_cases(families, size):  # the fast and pytorch cases follow their eager baseline (same chain)
        out = []
        for f in families:
            modes = (["eager"] + (["fast"] if args.fast and f in FAST_FAMILIES else [])
                     + (["pytorch"] if args.torch and f in TORCH_FAMILIES else []))
            out += [{"kind": "train", "family": f, "size": size, "ngf": args.ngf, "mode": m, **common,
                     **({"interpreter": args.torch} if m == "pytorch" else {})} for m in modes]
        return out

    def infer_backends(f):
        from ppimg2img.export.onnx import onnx_runtime_available
        return (list(BACKENDS) + (["onnx"] if f in ONNX_FAMILIES and onnx_runtime_available() else [])
                + (["pytorch"] if args.torch and f in TORCH_INFER_FAMILIES else []))

    cases = []
    for size in args.sizes if translation else []:
        if "train" in args.only:
            cases += train_cases([f for f in translation
                                  if not args.issue23 or size == 128 or (size == 256 and f in ISSUE23_TRAIN_256)], size)
        if "infer" in args.only and (not args.issue23 or size == 256):
            cases += [{"kind": "infer", "family": f, "size": size, "ngf": args.ngf, "backend": b,
                       "batches": list(BATCHES), "export_dir": export_dir, **common,
                       **({"interpreter": args.torch} if b == "pytorch" else {})}
                      for f in translation for b in infer_backends(f)]
        if "data" in args.only:
            for dataset in sorted({DATASET_OF[f] for f in translation}):
                cases += [{"kind": "data", "dataset": dataset, "size": size, "workers": w, "batch_size": DATA_BATCH,
                           "dataroot": data_dirs[dataset, size], **common} for w in WORKERS]
    if "train" in args.only and "dcgan" in args.families:  # generation: a training-step case only
        for size in args.dcgan_sizes:
            cases += train_cases(["dcgan"], size)
    return cases


def prepare_data(args, out_dir):
    """Synthetic datasets (cached in the output folder) at each size, for the data-loader cases."""
    from ppimg2img.data.synthetic import ensure_synthetic_dataset
    from ppimg2img.data.synthetic_paired import ensure_synthetic_paired
    n = 8 if args.quick else 64
    dirs = {}
    datasets = {DATASET_OF[f] for f in args.families if f in DATASET_OF}
    for size in args.sizes:
        if "UnalignedDataset" in datasets:
            dirs["UnalignedDataset", size] = ensure_synthetic_dataset(
                os.path.join(out_dir, "data", f"unpaired_{size}_{n}"), n_train=n, n_test=1, size=size)
        if "AlignedDataset" in datasets:
            dirs["AlignedDataset", size] = ensure_synthetic_paired(
                os.path.join(out_dir, "data", f"paired_{size}_{n}"), n_train=n, n_test=1, size=size)
    return dirs


_CONTEXT = None


def process_context():
    """A forkserver that imports Paddle and ppimg2img once: each case is a fresh process forked from it
    (own peak RSS, from the same baseline as a new interpreter that imported them) without paying
    the ~2 s import per case."""
    global _CONTEXT
    if _CONTEXT is None:
        os.environ.clear()
        os.environ.update(ENV_BEFORE_PADDLE)  # the server must not inherit paddle's OMP_NUM_THREADS=1
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(["paddle", "paddle.inference", "ppimg2img.models", "ppimg2img.data",
                                         "_cases"])
    return _CONTEXT


def run_child(case):
    """Run ``case`` in its own process; returns its result dict (``{"error": ...}`` if it failed)."""
    ctx = process_context()
    receive, send = ctx.Pipe(duplex=False)
    from _cases import child_main
    proc = ctx.Process(target=child_main, args=(case, send))
    proc.start()
    send.close()
    result = None
    try:
        result = receive.recv()
    except EOFError:
        pass
    finally:  # Ctrl-C: do not leave the case running
        if result is None and proc.is_alive():
            proc.terminate()
        proc.join()
    if result is None:
        return {"error": f"the case's process died (exit code {proc.exitcode}) without a result"}
    return result


def run_torch(case):
    """The ``pytorch`` training row: benchmarks/torch_reference.py run by the ``--torch`` interpreter
    (a process of its own, the environment as the user set it); ``{"error": ...}`` naming the
    interpreter if it cannot run or has no PyTorch."""
    python = case["interpreter"]
    cmd = [python, TORCH_REFERENCE, "--family", case["family"], "--size", str(case["size"]),
           "--threads", str(case["threads"]), "--warmup", str(case["warmup"]), "--repeats", str(case["repeats"])]
    if case.get("ngf"):
        cmd += ["--ngf", str(case["ngf"])]
    if case.get("kind") == "infer":
        cmd.append("--infer")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV_BEFORE_PADDLE, cwd=ROOT)
    except OSError as e:
        return {"error": f"--torch {python}: cannot run this interpreter ({e.strerror or e}); pass the path of a "
                         f"Python that has PyTorch installed, e.g. --torch /path/to/venv/bin/python"}
    lines = proc.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        result = None
    if not isinstance(result, dict):
        tail = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
        return {"error": f"--torch {python}: {os.path.basename(TORCH_REFERENCE)} exited with code "
                         f"{proc.returncode} without a result: {tail}"}
    if "error" in result:
        return {"error": f"--torch {python}: {result['error']}"}
    return result


def pool_rounds(raws):
    """One case's results of several rounds as one: every timed run (``*_s`` lists) of every round,
    the largest peak memory; the first error if any round failed."""
    failed = [r for r in raws if "error" in r]
    if failed:
        return failed[0]
    out = dict(raws[0])
    for key, value in raws[0].items():
        if key.endswith("_s") and isinstance(value, list):
            out[key] = [t for r in raws for t in r[key]]
        elif key.startswith("first_") and key.endswith("_s"):
            out[key] = statistics.median(r[key] for r in raws)
    out["peak_mb"] = max(r["peak_mb"] for r in raws)
    if len(raws) > 1:
        out["rounds"] = len(raws)
    return out


def summarise(case, raw):
    """One result row: the case's identity, medians and the raw runs."""
    row = {k: v for k, v in case.items() if k not in ("threads", "warmup", "repeats", "export_dir", "dataroot",
                                                       "batches", "ngf", "batch_size")}
    if case["kind"] == "train":
        row["batch"] = train_batch(case["family"], case["size"])
    row.update(raw)
    if "error" in raw:
        return row
    if case["kind"] == "train":
        row["median_step_s"] = statistics.median(raw["step_s"])
        row["img_per_s"] = row["batch"] / row["median_step_s"]
    elif case["kind"] == "infer":
        row["latency_ms"] = 1000 * statistics.median(raw["batch1_s"])
        row["throughput_img_per_s"] = 4 / statistics.median(raw["batch4_s"])
    else:
        row["batch_size"] = case["batch_size"]
        row["samples_per_s"] = raw["samples"] / statistics.median(raw["pass_s"])
    return row


def add_ratios(results):
    """Same-run baselines: train.fast (and PyTorch) vs eager step and oneDNN vs eager inference (speed-up,
    >1 is faster), 2 workers vs 0; each Paddle training row against the PyTorch row (time and peak
    memory ratios: Paddle / PyTorch, >1 is Paddle slower or bigger)."""
    def same(mode, r):
        return next((e for e in results["train"] if e.get("mode", "eager") == mode and e["family"] == r["family"]
                     and e["size"] == r["size"] and "error" not in e), None)

    for r in results["train"]:
        if "error" in r:
            continue
        base, torch_row = same("eager", r), same("pytorch", r)
        if base:
            r["speedup_vs_eager"] = base["median_step_s"] / r["median_step_s"]
            r["peak_ratio_vs_eager"] = r["peak_mb"] / base["peak_mb"]
        if torch_row and r.get("mode", "eager") != "pytorch":
            r["time_ratio_vs_pytorch"] = r["median_step_s"] / torch_row["median_step_s"]
            r["peak_ratio_vs_pytorch"] = r["peak_mb"] / torch_row["peak_mb"]
    for r in results["infer"]:
        def backend(name):
            return next((e for e in results["infer"] if e["backend"] == name and e["family"] == r["family"]
                         and e["size"] == r["size"] and "error" not in e), None)
        base, torch_row = backend("eager"), backend("pytorch")
        if base and "error" not in r:
            r["latency_speedup_vs_eager"] = base["latency_ms"] / r["latency_ms"]
            r["throughput_ratio_vs_eager"] = r["throughput_img_per_s"] / base["throughput_img_per_s"]
        if torch_row and "error" not in r and r["backend"] != "pytorch":
            r["latency_ratio_vs_pytorch"] = r["latency_ms"] / torch_row["latency_ms"]
            r["peak_ratio_vs_pytorch"] = r["peak_mb"] / torch_row["peak_mb"]
    for r in results["data"]:
        base = next((e for e in results["data"] if e["workers"] == 0 and e["dataset"] == r["dataset"]
                     and e["size"] == r["size"] and "error" not in e), None)
        if base and "error" not in r:
            r["ratio_vs_0_workers"] = r["samples_per_s"] / base["samples_per_s"]


def _ratio(r, key):
    return f"{r[key]:.2f}x" if key in r else "-"


def markdown(results):
    env = results["environment"]
    s = env["settings"]
    lines = [f"# ppimg2img CPU benchmark{' (quick)' if s['quick'] else ''}", "",
             f"`{env['command']}` on {env['date_utc']}", "",
             f"Paddle {env['paddle']} (commit {env['paddle_commit'][:10]}, oneDNN {'yes' if env['paddle_onednn'] else 'no'}), "
             f"Python {env['python']}, {env['cpu']}, {env['cores']} cores, {env['threads']} threads; "
             f"flags: {', '.join(f'{k}={v}' for k, v in env['flags'].items()) or 'none set'}. "
             f"Medians of {s['repeats']} runs after {s['warmup']} warm-up run(s); widths: "
             f"{'each family' + chr(39) + 's published ngf' if s['ngf'] == 'published' else 'ngf ' + str(s['ngf'])}; "
             f"peak MB = peak resident memory of the process that measured the row "
             f"(an idle one: {env['process_baseline_peak_mb']:.0f} MB).", ""]
    if results["train"]:
        torch_cols = bool(s.get("torch"))  # the "x PyTorch" columns only when --torch was given
        lines += ["## Training step", "",
                  "| family | size | mode | generator | ngf | batch | s/step | speed-up vs eager | img/s | peak MB |"
                  + (" x PyTorch s/step | x PyTorch peak |" if torch_cols else ""),
                  "|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if torch_cols else "")]
        for r in results["train"]:
            mode = r.get("mode", "eager")
            vs_torch = (f" {_ratio(r, 'time_ratio_vs_pytorch')} | {_ratio(r, 'peak_ratio_vs_pytorch')} |"
                        if torch_cols else "")
            lines.append(f"| {r['family']} | {r['size']} | {mode} | error | | | | | | |" + " |" * (2 * torch_cols)
                         if "error" in r else
                         f"| {r['family']} | {r['size']} | {mode} | {r['generator']} | {r['ngf']} | {r['batch']} | "
                         f"{r['median_step_s']:.3f} | {_ratio(r, 'speedup_vs_eager')} | {r['img_per_s']:.2f} | "
                         f"{r['peak_mb']:.0f} |" + vs_torch)
        lines.append("")
        torch_rows = [r for r in results["train"] if r.get("mode") == "pytorch"]
        for r in torch_rows:
            if "error" in r:
                lines += [f"{r['family']} {r['size']} pytorch: {r['error'].splitlines()[0]}", ""]
        ok = [r for r in torch_rows if "error" not in r]
        if ok:
            lines += [f"pytorch rows: PyTorch {ok[0]['torch']} eager (`{s['torch']}`), "
                      f"torch.set_num_threads({ok[0]['torch_threads']}), the original networks and "
                      f"training step (CycleGAN/pix2pix: upstream optimize_parameters; DCGAN: pytorch/examples "
                      f"dcgan/main.py's loop; benchmarks/torch_reference.py); their peak MB includes "
                      f"`import torch` ({ok[0]['import_peak_mb']:.0f} MB). x PyTorch = the row's s/step (peak MB) / "
                      f"the pytorch row's of the same family and size in this run: above 1, Paddle is slower "
                      f"(bigger).", ""]
    if results["infer"]:
        torch_cols = any(r["backend"] == "pytorch" for r in results["infer"])
        lines += ["## Generator inference", "",
                  "| family | size | backend | latency ms (batch 1) | speed-up vs eager | img/s (batch 4) "
                  "| ratio vs eager | peak MB | first call s |"
                  + (" x PyTorch latency | x PyTorch peak |" if torch_cols else ""),
                  "|---|---|---|---|---|---|---|---|---|" + ("---|---|" if torch_cols else "")]
        for r in results["infer"]:
            vs_torch = (f" {_ratio(r, 'latency_ratio_vs_pytorch')} | {_ratio(r, 'peak_ratio_vs_pytorch')} |"
                        if torch_cols else "")
            first = f"{r['first_batch1_s']:.1f}" if "first_batch1_s" in r else "-"
            lines.append(f"| {r['family']} | {r['size']} | {r['backend']} | error | | | | | |"
                         + " |" * (2 * torch_cols) if "error" in r else
                         f"| {r['family']} | {r['size']} | {r['backend']} | {r['latency_ms']:.1f} | "
                         f"{_ratio(r, 'latency_speedup_vs_eager')} | {r['throughput_img_per_s']:.2f} | "
                         f"{_ratio(r, 'throughput_ratio_vs_eager')} | {r['peak_mb']:.0f} | {first} |" + vs_torch)
        lines.append("")
        for r in results["infer"]:
            if r["backend"] == "pytorch" and "error" in r:
                lines += [f"{r['family']} {r['size']} pytorch: {r['error'].splitlines()[0]}", ""]
        if torch_cols:
            lines += ["Inference: `onnx` = photo2cartoon's default backend (ONNX export run by onnxruntime); "
                      "`onednn` = the other predictors' default backend (export with the inference recipe, "
                      "sizes dynamic, fixed for U-GAT-IT and photo2cartoon as their predictors export them, Paddle "
                      "Inference + oneDNN via `InferenceGenerator`; its first call, where "
                      "oneDNN prepares its kernels, is the first call column and not in the latency); `pytorch` "
                      "= the original generator in PyTorch eager (eval, `torch.no_grad()`). x PyTorch = latency "
                      "(peak MB) / the pytorch row's: above 1, ppimg2img is slower (bigger).", ""]
    if results["data"]:
        lines += [f"## Data loader (decode + resize/crop/flip + batch {DATA_BATCH})", "",
                  "| dataset | families | size | workers | samples/s | ratio vs 0 workers | peak MB |",
                  "|---|---|---|---|---|---|---|"]
        for r in results["data"]:
            fams = ", ".join(f for f in s["families"] if DATASET_OF.get(f) == r["dataset"])
            lines.append(f"| {r['dataset']} | {fams} | {r['size']} | {r['workers']} | error | | |" if "error" in r else
                         f"| {r['dataset']} | {fams} | {r['size']} | {r['workers']} | {r['samples_per_s']:.1f} | "
                         f"{_ratio(r, 'ratio_vs_0_workers')} | {r['peak_mb']:.0f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    from ppimg2img.utils.env import default_threads
    threads = args.threads or default_threads()  # explicit: children must not inherit paddle's OMP_NUM_THREADS=1
    out_dir = os.path.abspath(args.output_dir)
    os.makedirs(out_dir, exist_ok=True)
    data_dirs = prepare_data(args, out_dir) if "data" in args.only else {}
    cases = build_cases(args, threads, os.path.join(out_dir, "export"), data_dirs)
    results = {"environment": environment(args, threads), "train": [], "infer": [], "data": []}
    t_start = time.perf_counter()
    # a family's oneDNN case loads the export its eager case writes: each such pair is one chain, run in order
    chains = {}
    for case in cases:
        chains.setdefault((case["kind"], case.get("family"), case.get("dataset"), case["size"],
                           case.get("workers")), []).append(case)
    done = []
    total = len(cases) * args.rounds

    def run_chain(chain):
        for case in chain:
            t0 = time.perf_counter()
            torch_case = case.get("mode") == "pytorch" or case.get("backend") == "pytorch"
            raw = run_torch(case) if torch_case else run_child(case)
            done.append(case)
            label = " ".join(str(case[k]) for k in ("kind", "family", "dataset", "size", "mode", "backend",
                                                    "workers") if k in case)
            status = (f"FAILED {raw['error']}" if "error" in raw else
                      f"{time.perf_counter() - t0:.1f} s, peak {raw['peak_mb']:.0f} MB")
            print(f"[{len(done)}/{total}] {label}: {status}", flush=True)
            yield case, raw

    rounds = []
    for _ in range(args.rounds):  # each round runs every case once; rounds pool their timed runs
        with ThreadPoolExecutor(args.jobs) as pool:
            rounds.append([pair for chain_rows in pool.map(lambda chain: list(run_chain(chain)), chains.values())
                           for pair in chain_rows])
    for i, (case, _) in enumerate(rounds[0]):  # in case order, whatever finished first
        row = summarise(case, pool_rounds([r[i][1] for r in rounds]))
        results[row["kind"]].append(row)
    failed = sum("error" in r for kind in KINDS for r in results[kind])
    add_ratios(results)
    results["environment"]["process_baseline_peak_mb"] = run_child({"kind": "idle"}).get("peak_mb")
    results["environment"]["wall_s"] = time.perf_counter() - t_start
    write_results(results, markdown(results), out_dir, "benchmark_quick" if args.quick else "benchmark")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
