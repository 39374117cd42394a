"""benchmarks/run.py --quick: the output's format (JSON keys, Markdown rows, positive numbers), not its speed."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(ROOT, "benchmarks", "run.py")
FAMILIES = ("cyclegan", "pix2pix", "ugatit", "photo2cartoon")


def _load_run():
    spec = importlib.util.spec_from_file_location("benchmarks_run", RUN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run([sys.executable, RUN, "--quick", "--jobs", "2", "--output-dir", str(out)],
                          capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(out / "benchmark_quick.json") as f:
        results = json.load(f)
    return results, (out / "benchmark_quick.md").read_text(), proc.stdout


def test_quick_json_records_environment(quick):
    env = quick[0]["environment"]
    assert env["paddle"].count(".") >= 2 and env["cores"] >= 1 and env["threads"] >= 1
    assert isinstance(env["flags"], dict)
    assert env["settings"]["quick"] is True and env["settings"]["ngf"] == 4 and env["settings"]["sizes"] == [128]
    assert env["process_baseline_peak_mb"] > 0 and env["wall_s"] > 0


def test_quick_json_has_every_family_and_positive_figures(quick):
    results = quick[0]
    train = {r["family"]: r for r in results["train"]}
    assert sorted(train) == sorted(FAMILIES)
    for r in train.values():
        assert "error" not in r, r["error"]
        assert len(r["step_s"]) == 2 and min(r["step_s"]) > 0
        assert r["median_step_s"] > 0 and r["img_per_s"] > 0 and r["peak_mb"] > 0 and r["size"] == 128
    assert train["cyclegan"]["generator"] == "resnet_6blocks" and train["pix2pix"]["generator"] == "unet_128"
    infer = {(r["family"], r["backend"]): r for r in results["infer"]}
    assert sorted(infer) == sorted((f, b) for f in FAMILIES for b in ("eager", "onednn"))
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
    assert len(rows) == 4 + 8 + 4
    for family in FAMILIES:
        assert any(row.startswith(f"| {family} | 128 | eager |") for row in rows)
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
        run.parse_args(["--families", "gan"])
    assert "invalid choice: 'gan'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run.parse_args(["--repeats", "0"])
    assert "--repeats must be at least 1" in capsys.readouterr().err
    args = run.parse_args(["--quick"])
    assert (args.sizes, args.repeats, args.ngf) == ([128], 2, 4)
    args = run.parse_args([])
    assert (args.sizes, args.repeats, args.ngf, args.only) == ([128, 256], 3, None, ["train", "infer", "data"])
