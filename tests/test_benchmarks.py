"""benchmarks/run.py --quick: the output's format (JSON keys, Markdown rows, positive numbers), not its speed."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(ROOT, "benchmarks", "run.py")
TRANSLATION = ("cyclegan", "pix2pix", "ugatit", "photo2cartoon")  # training step, inference, data loader
FAMILIES = TRANSLATION + ("dcgan",)  # dcgan (generation from noise): training step only


def _load_run():
    spec = importlib.util.spec_from_file_location("benchmarks_run", RUN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run([sys.executable, RUN, "--quick", "--jobs", "2", "--output-dir", str(out)],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(out / "benchmark_quick.json") as f:
        results = json.load(f)
    return results, (out / "benchmark_quick.md").read_text(), proc.stdout


def test_quick_json_records_environment(quick):
    env = quick[0]["environment"]
    assert env["paddle"].count(".") >= 2 and env["cores"] >= 1 and env["threads"] >= 1
    assert isinstance(env["flags"], dict)
    assert env["settings"]["quick"] is True and env["settings"]["ngf"] == 4 and env["settings"]["sizes"] == [128]
    assert env["settings"]["dcgan_sizes"] == [28] and env["settings"]["train_batch"]["dcgan"] == {"28": 64}
    assert env["process_baseline_peak_mb"] > 0 and env["wall_s"] > 0


def test_quick_json_has_every_family_and_positive_figures(quick):
    results = quick[0]
    train = {r["family"]: r for r in results["train"]}
    assert sorted(train) == sorted(FAMILIES)
    for r in train.values():
        assert "error" not in r, r["error"]
        assert len(r["step_s"]) == 2 and min(r["step_s"]) > 0
        assert r["median_step_s"] > 0 and r["peak_mb"] > 0 and r["size"] == (28 if r["family"] == "dcgan" else 128)
        assert r["img_per_s"] == pytest.approx(r["batch"] / r["median_step_s"])
        assert all(n > 0 for n in r["params"].values()) and r["generator_params"] == next(iter(r["params"].values()))
    assert train["cyclegan"]["generator"] == "resnet_6blocks" and train["pix2pix"]["generator"] == "unet_128"
    assert {f: r["batch"] for f, r in train.items()} == {**{f: 1 for f in TRANSLATION}, "dcgan": 64}
    # DCGAN at 28 px, ngf 4 (quickstart_dcgan's layer plan): G 100*8*7*7 + 8*4*4*4 + 4*1*4*4 weights + 2*(8+4)
    # BatchNorm; D 4*1*4*4 + 8*4*4*4 + 1*8*7*7 weights + 2*8 BatchNorm
    dcgan = train["dcgan"]
    assert (dcgan["generator"], dcgan["ngf"], dcgan["params"]) == ("dcgan", 4, {"netG": 39_800, "netD": 984})
    infer = {(r["family"], r["backend"]): r for r in results["infer"]}
    # photo2cartoon also measures its default backend, onnxruntime (installed with the test extra)
    assert sorted(infer) == sorted([(f, b) for f in TRANSLATION for b in ("eager", "onednn")] + [("photo2cartoon", "onnx")])
    for (family, backend), r in infer.items():
        assert "error" not in r, r["error"]
        assert r["latency_ms"] > 0 and r["throughput_img_per_s"] > 0 and r["peak_mb"] > 0
        # the ratio to the same run's eager baseline
        assert r["latency_speedup_vs_eager"] == pytest.approx(infer[family, "eager"]["latency_ms"] / r["latency_ms"])
        assert r["throughput_ratio_vs_eager"] > 0
    data = {(r["dataset"], r["workers"]): r for r in results["data"]}
    assert sorted(data) == [("AlignedDataset", 0), ("AlignedDataset", 2), ("UnalignedDataset", 0),
                            ("UnalignedDataset", 2)]
    for r in data.values():
        assert "error" not in r, r["error"]
        assert r["samples"] == 8 and r["samples_per_s"] > 0 and r["peak_mb"] > 0 and r["ratio_vs_0_workers"] > 0


def test_quick_markdown_has_a_row_per_measurement(quick):
    results, md, stdout = quick
    for title in ("## Training step", "## Generator inference", "## Data loader"):
        assert title in md
    rows = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| family")
            and not line.startswith("| dataset")]
    assert len(rows) == 5 + 9 + 4  # training; inference (4 families x 2 backends + photo2cartoon's onnx); data
    assert any(row.startswith("| dcgan | 28 | eager | dcgan | 4 | 64 |") for row in rows)
    for family in TRANSLATION:
        assert any(row.startswith(f"| {family} | 128 | eager | ") and " | 1 | " in row for row in rows)
        assert any(row.startswith(f"| {family} | 128 | onednn |") and "x |" in row for row in rows)
    assert f"Paddle {results['environment']['paddle']}" in md
    assert "| error |" not in md and md in stdout  # the table is also printed


def test_bad_options_fail_before_measuring(capsys):
    run = _load_run()
    with pytest.raises(SystemExit):
        run.parse_args(["--families", "pix2pix", "--sizes", "96"])
    assert "multiple of 128" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run.parse_args(["--families", "ugatit", "--sizes", "64"])
    assert "at least 96" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run.parse_args(["--families", "dcgan", "--dcgan-sizes", "48"])
    assert "4 * 2**k or 7 * 2**k" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run.parse_args(["--families", "gan"])
    assert "invalid choice: 'gan'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run.parse_args(["--repeats", "0"])
    assert "--repeats must be at least 1" in capsys.readouterr().err
    args = run.parse_args(["--quick"])
    assert (args.sizes, args.dcgan_sizes, args.repeats, args.ngf) == ([128], [28], 2, 4)
    args = run.parse_args([])
    assert (args.sizes, args.dcgan_sizes, args.repeats, args.ngf, args.only) == (
        [128, 256], [28, 64], 3, None, ["train", "infer", "data"])


def test_dcgan_cases_follow_the_shipped_configs():
    """DCGAN is measured at its configs' sizes, widths and batches, training step only; --sizes is the
    translation families'."""
    run = _load_run()
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    from _cases import family_config, train_batch
    assert family_config("dcgan", 28)[1:] == ({"name": "dcgan", "nz": 100, "ngf": 32, "output_nc": 1, "image_size": 28},
                                              {"name": "dcgan", "ndf": 32, "norm": "batch"})  # quickstart_dcgan.yaml
    assert family_config("dcgan", 64)[1]["ngf"] == 64 and family_config("dcgan", 64)[2]["ndf"] == 64  # dcgan_mnist
    assert (train_batch("dcgan", 28), train_batch("dcgan", 64), train_batch("pix2pix", 256)) == (64, 128, 1)
    args = run.parse_args(["--families", "pix2pix", "dcgan", "--sizes", "256", "--torch", "python"])
    cases = run.build_cases(args, 1, "/tmp/export", {("AlignedDataset", 256): "/tmp/data"})
    train = [(c["family"], c["size"], c["mode"]) for c in cases if c["kind"] == "train"]
    assert train == [("pix2pix", 256, "eager"), ("pix2pix", 256, "pytorch"), ("dcgan", 28, "eager"),
                     ("dcgan", 28, "pytorch"), ("dcgan", 64, "eager"), ("dcgan", 64, "pytorch")]
    assert {c["family"] for c in cases if c["kind"] == "infer"} == {"pix2pix"}
    assert {c["dataset"] for c in cases if c["kind"] == "data"} == {"AlignedDataset"}


# ---------------------------------------------------------------- --torch: the PyTorch reference row

def _torch_python():
    """An interpreter that can import torch: $PPIMG2IMG_TORCH_PYTHON or this one (CI has none: the
    tests below that need it are skipped there)."""
    for python in (os.environ.get("PPIMG2IMG_TORCH_PYTHON"), sys.executable):
        if python and subprocess.run([python, "-c", "import torch"], capture_output=True).returncode == 0:
            return python
    return None


def _train_only(out, torch_python):
    """A tiny run: pix2pix training step only, with ``--torch torch_python``."""
    return _train_run(out, torch_python, "pix2pix")


def _train_run(out, torch_python, *families):
    """A tiny run (--quick): the training steps of ``families`` only, with ``--torch torch_python``."""
    proc = subprocess.run([sys.executable, RUN, "--quick", "--families", *families, "--only", "train", "--jobs", "1",
                           "--torch", torch_python, "--output-dir", str(out)],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    with open(out / "benchmark_quick.json") as f:
        return proc, json.load(f), (out / "benchmark_quick.md").read_text()


def test_missing_torch_interpreter_fails_only_its_row(tmp_path):
    proc, results, md = _train_only(tmp_path, "/nonexistent/python")
    assert proc.returncode == 1  # a failed row fails the run...
    rows = {r["mode"]: r for r in results["train"]}
    assert sorted(rows) == ["eager", "pytorch"]
    eager, torch_row = rows["eager"], rows["pytorch"]
    assert "error" not in eager and eager["median_step_s"] > 0 and eager["peak_mb"] > 0  # ...but not the others
    assert "time_ratio_vs_pytorch" not in eager
    assert torch_row["error"].startswith("--torch /nonexistent/python: cannot run this interpreter")
    assert torch_row["interpreter"] == "/nonexistent/python" and results["environment"]["settings"]["torch"]
    assert "| x PyTorch s/step | x PyTorch peak |" in md
    assert "| pix2pix | 128 | eager | unet_128 | 4 | 1 |" in md and md.count("| pix2pix | 128 | pytorch | error |") == 1
    assert "pix2pix 128 pytorch: --torch /nonexistent/python: cannot run this interpreter" in md
    assert "FAILED --torch /nonexistent/python" in proc.stdout


def test_interpreter_without_torch_is_named_in_the_error():
    run = _load_run()
    if _torch_python() == sys.executable:
        pytest.skip("this interpreter has torch")
    row = run.run_torch({"interpreter": sys.executable, "family": "pix2pix", "size": 128, "ngf": 4, "threads": 1,
                         "warmup": 0, "repeats": 1})
    assert row["error"].startswith(f"--torch {sys.executable}: {sys.executable} cannot import torch")
    assert "No module named 'torch'" in row["error"] and "install PyTorch" in row["error"]


def test_torch_reference_shares_a_paddle_free_cases_module():
    """torch_reference.py imports family_config and the timing loop from _cases in an interpreter without
    Paddle or NumPy: _cases must import without them."""
    code = ("import sys; sys.modules['paddle'] = sys.modules['numpy'] = None; sys.path.insert(0, 'benchmarks'); "
            "import _cases; print(_cases.family_config('cyclegan', 128)[1]['name'], "
            "_cases.family_config('pix2pix', 256)[1]['name'], len(_cases._time(lambda: None, 1, 3)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["resnet_6blocks", "unet_256", "3"]


@pytest.fixture(scope="module")
def torch_python():
    python = _torch_python()
    if python is None:
        pytest.skip("no interpreter with torch (set PPIMG2IMG_TORCH_PYTHON to one)")
    return python


def test_pytorch_row_and_ratios(torch_python, tmp_path):
    proc, results, md = _train_only(tmp_path, torch_python)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = {r["mode"]: r for r in results["train"]}
    eager, torch_row = rows["eager"], rows["pytorch"]
    assert torch_row["generator"] == "unet_128" and torch_row["ngf"] == 4 and len(torch_row["step_s"]) == 2
    assert torch_row["torch_threads"] == results["environment"]["threads"]
    assert 0 < torch_row["import_peak_mb"] < torch_row["peak_mb"]
    assert all(abs(v) < 1e6 for v in torch_row["losses"].values()) and set(torch_row["losses"]) == {"G", "D"}
    assert eager["time_ratio_vs_pytorch"] == pytest.approx(eager["median_step_s"] / torch_row["median_step_s"])
    assert eager["peak_ratio_vs_pytorch"] == pytest.approx(eager["peak_mb"] / torch_row["peak_mb"])
    assert torch_row["speedup_vs_eager"] == pytest.approx(eager["time_ratio_vs_pytorch"])  # eager s / PyTorch s
    line = next(x for x in md.splitlines() if x.startswith("| pix2pix | 128 | eager |"))
    assert line.endswith(f"| {eager['time_ratio_vs_pytorch']:.2f}x | {eager['peak_ratio_vs_pytorch']:.2f}x |")
    assert "| pix2pix | 128 | pytorch | unet_128 | 4 | 1 |" in md and "pytorch rows: PyTorch " in md


def test_dcgan_pytorch_row_has_the_paddle_nets_sizes(torch_python, tmp_path):
    """The DCGAN step against pytorch/examples' loop: same batch, same parameter counts per net, finite losses."""
    proc, results, md = _train_run(tmp_path, torch_python, "dcgan")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = {r["mode"]: r for r in results["train"]}
    eager, torch_row = rows["eager"], rows["pytorch"]
    assert (torch_row["generator"], torch_row["ngf"], torch_row["batch"], torch_row["size"]) == ("dcgan", 4, 64, 28)
    assert torch_row["params"] == eager["params"] == {"netG": 39_800, "netD": 984}
    assert torch_row["freeze_d"] is False and set(torch_row["losses"]) == {"G", "D"}
    assert all(abs(v) < 1e6 for v in torch_row["losses"].values())
    assert eager["time_ratio_vs_pytorch"] == pytest.approx(eager["median_step_s"] / torch_row["median_step_s"])
    assert eager["peak_ratio_vs_pytorch"] == pytest.approx(eager["peak_mb"] / torch_row["peak_mb"])
    assert "| dcgan | 28 | pytorch | dcgan | 4 | 64 |" in md


_FORWARD = """
import json, sys
sys.path.insert(0, sys.argv[1])
import torch, torch_reference
data = json.load(open(sys.argv[2]))
nets, _ = torch_reference.build_nets(data["family"], data["size"], data["ngf"])
out = {}
for name, net in nets.items():
    state = net.state_dict()
    # Paddle's BatchNorm buffers are _mean/_variance; num_batches_tracked has no Paddle twin
    names = {k: k.replace("running_mean", "_mean").replace("running_var", "_variance")
             for k in state if not k.endswith("num_batches_tracked")}
    if isinstance(net, torch_reference.DCGANDiscriminator):  # upstream's last conv is main.N, ppimg2img's head
        names[f"main.{len(net.main) - 2}.weight"] = "head.weight"
    missing = sorted(set(data["weights"][name]) ^ set(names.values()))
    assert not missing, (name, missing[:5])
    net.load_state_dict({k: torch.tensor(data["weights"][name][p]).reshape(state[k].shape) for k, p in names.items()},
                        strict=False)
    net.eval()
    x = torch.tensor(data["inputs"][name]).reshape(data["shapes"][name])
    with torch.no_grad():  # DCGAN's D: the score before upstream's Sigmoid (ppimg2img's output)
        out[name] = (net.logits(x) if hasattr(net, "logits") else net(x)).flatten().tolist()
print(json.dumps(out))
"""


@pytest.mark.parametrize("family, size", [("cyclegan", 64), ("pix2pix", 128), ("dcgan", 28), ("dcgan", 64)])
def test_pytorch_nets_equal_paddle_nets(torch_python, tmp_path, family, size):
    """The PyTorch reference nets are the Paddle nets: same parameter names and shapes, and the same
    outputs for the same weights (eval mode: running BatchNorm statistics, no dropout)."""
    import numpy as np
    import paddle

    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    from _cases import family_config

    from ppimg2img.models import MODELS

    name, gen, dis = family_config(family, size, ngf=4)
    model = MODELS[name](gen, dis)
    rng = np.random.default_rng(0)
    data = {"family": family, "size": size, "ngf": 4, "weights": {}, "inputs": {}, "shapes": {}}
    expected = {}
    for key, net in model.nets.items():
        net.eval()
        for pname, p in net.named_parameters():  # activations of both signs near 1 (unlike N(0, 0.02) weights)
            if len(p.shape) > 1:
                bound = 1.5 / np.sqrt(np.prod(p.shape[1:]))
                p.set_value(rng.uniform(-bound, bound, p.shape).astype("float32"))
            elif pname.endswith(("weight", "_variance")):  # BatchNorm scales and running variances
                p.set_value(rng.uniform(0.5, 1.5, p.shape).astype("float32"))
            else:  # biases and running means
                p.set_value(rng.uniform(-0.5, 0.5, p.shape).astype("float32"))
        if family == "dcgan":  # G: noise [2, nz, 1, 1]; D: two one-channel images
            shape = (2, gen["nz"], 1, 1) if key == "netG" else (2, gen["output_nc"], size, size)
        else:  # pix2pix's conditional D sees (A, B)
            shape = (1, 6 if key == "netD" else 3, size, size)
        x = rng.uniform(-1, 1, shape).astype("float32")
        data["weights"][key] = {k: v.numpy().ravel().tolist() for k, v in net.state_dict().items()}
        data["inputs"][key], data["shapes"][key] = x.ravel().tolist(), list(x.shape)
        expected[key] = net(paddle.to_tensor(x)).numpy().ravel()
    (tmp_path / "nets.json").write_text(json.dumps(data))
    proc = subprocess.run([torch_python, "-c", _FORWARD, os.path.join(ROOT, "benchmarks"), str(tmp_path / "nets.json")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout)
    assert sorted(got) == sorted(expected)
    for key in expected:
        assert np.abs(expected[key]).mean() > 0.05, key  # outputs that weights and skips matter to
        # float32 differences between the frameworks are <= 5e-6 here; one LeakyReLU slope of the innermost
        # U-Net level changed from 0.2 to 0.1 moves the output by 3e-5
        np.testing.assert_allclose(np.asarray(got[key], "float32"), expected[key], rtol=0, atol=1e-5, err_msg=key)


_GENERATOR_FORWARD = """
import json, sys
sys.path.insert(0, sys.argv[1])
import torch, torch_reference
data = json.load(open(sys.argv[2]))
nets, _ = torch_reference.build_nets(data["family"], data["size"], data["ngf"])
net = nets["genA2B"].eval().double()
state = net.state_dict()
assert sorted(state) == sorted(data["weights"]), sorted(set(state) ^ set(data["weights"]))[:5]
linear = {n + ".weight" for n, m in net.named_modules() if isinstance(m, torch.nn.Linear)}
new = {}
for k, v in state.items():
    t = torch.tensor(data["weights"][k], dtype=torch.float64)
    # Paddle's Linear weight is [in, out], PyTorch's [out, in]
    new[k] = t.reshape(v.shape[::-1]).t().contiguous() if k in linear else t.reshape(v.shape)
net.load_state_dict(new)
x = torch.tensor(data["input"], dtype=torch.float64).reshape(data["shape"])
with torch.no_grad():
    image, cam, heatmap = net(x)
print(json.dumps({"image": image.flatten().tolist(), "cam": cam.flatten().tolist(),
                  "heatmap": heatmap.flatten().tolist()}))
"""


@pytest.mark.parametrize("family", ["ugatit", "photo2cartoon"])
def test_pytorch_ugatit_generators_equal_paddle_generators(torch_python, tmp_path, family):
    """The PyTorch mirror of the original U-GAT-IT / photo2cartoon generators (benchmarks/torch_reference_ugatit.py)
    has ppimg2img's parameter names, and gives its image, CAM logits and heatmap for the same weights (both in
    float64: in float32 the 200 norms of photo2cartoon at ngf 4 already differ by 1.5e-4)."""
    import numpy as np
    import paddle

    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    from _cases import family_config

    from ppimg2img.nets import build_generator

    size = 64
    _, gen, _ = family_config(family, 128, ngf=4)
    cfg = {**gen, "img_size": size}
    net = build_generator(cfg.pop("name"), **cfg)
    net.eval()
    rng = np.random.default_rng(0)
    for pname, p in net.named_parameters():  # rho, w_gamma/w_beta away from their 0/1 initial values too
        p.set_value((rng.uniform(0.1, 0.9, p.shape) if pname.endswith(("rho", "w_gamma", "w_beta")) else
                     rng.uniform(-1, 1, p.shape) / np.sqrt(max(1, np.prod(p.shape[1:])))).astype("float32"))
    x = rng.uniform(-1, 1, (1, 3, size, size)).astype("float32")
    data = {"family": family, "size": 128, "ngf": 4, "input": x.ravel().tolist(), "shape": list(x.shape),
            "weights": {k: v.numpy().ravel().tolist() for k, v in net.state_dict().items()}}
    net.to(dtype="float64")
    with paddle.no_grad():
        expected = [t.numpy().ravel() for t in net(paddle.to_tensor(x.astype("float64")))]
    (tmp_path / "gen.json").write_text(json.dumps(data))
    proc = subprocess.run([torch_python, "-c", _GENERATOR_FORWARD, os.path.join(ROOT, "benchmarks"),
                           str(tmp_path / "gen.json")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout)
    for key, want in zip(("image", "cam", "heatmap"), expected):
        assert np.abs(want).mean() > 1e-3, key
        # 1.4e-8 for photo2cartoon: Paddle's instance_norm takes epsilon as a float32 attribute (1e-5 + 2.5e-13)
        np.testing.assert_allclose(np.asarray(got[key]), want, rtol=0, atol=1e-7, err_msg=key)
