"""The command line as users run it: ``python tools/main.py`` in a fresh process (train, resume,
evaluate-only, errors without tracebacks), the paddle-missing hint and the README's commands."""
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ppimg2img.cli import COMMANDS, build_train_parser, main, resolve_config
from ppimg2img.config import ConfigError, load_config
from ppimg2img.engine.checkpoint import load_file

from conftest import ROOT, tiny_cyclegan_config

MAIN = os.path.join(ROOT, "tools", "main.py")


def _env():
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("OMP_NUM_THREADS", None)  # not needed: importing ppimg2img sets Paddle to every core
    return env


def _main(cwd, *args, timeout=600):
    return subprocess.run([sys.executable, MAIN, *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=timeout)


def _decodes(path):
    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"))
    assert arr.size > 0 and arr.std() > 0, path  # a real picture, not a blank file
    return arr


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One 4-iteration training through the CLI, shared by the tests below."""
    tmp = tmp_path_factory.mktemp("cli")
    tiny_cyclegan_config(tmp)  # tmp/tiny.yaml (seed 3, threads 1, output_dir tmp/run)
    proc = _main(tmp, "-c", "tiny.yaml", "-o", "train.max_iters=4", "train.log_interval=1",
                 "--seed", "5", "--output-dir", "myrun", "--threads", "2", "--device", "cpu",
                 "--no-progress")
    return tmp, proc


def test_train_writes_a_complete_run_folder(run):
    tmp, proc = run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    out = tmp / "myrun"
    assert not (tmp / "run").exists()  # --output-dir wins over the config's output_dir

    # the resolved config: flags and both -o values applied, defaults filled, loadable again
    cfg = load_config(str(out / "config.yaml"))
    assert cfg["seed"] == 5 and cfg["threads"] == 2 and cfg["device"] == "cpu"
    assert cfg["output_dir"] == "myrun" and cfg["name"] == "tiny"
    assert cfg["train"]["max_iters"] == 4 and cfg["train"]["log_interval"] == 1
    assert cfg["train"]["save_latest_interval"] == 5000 and cfg["model"]["lambda_A"] == 10.0

    log = (out / "train.log").read_text()
    assert "2 threads, cpu" in log
    iters = [int(m) for m in re.findall(r"epoch 1 iter (\d+) \| D_A [\d.]+ G_A [\d.]+ cycle_A [\d.]+", log)]
    assert iters == [1, 2, 3, 4]
    assert "training done: 4 iterations" in log
    # the console shows each line once (no second copy through the root logger on stderr)
    assert proc.stdout.count("training done") == 1 and "training done" not in proc.stderr

    state = load_file(str(out / "checkpoints" / "latest.pdckpt"))
    assert (state["epoch"], state["iter"], state["epoch_iter"]) == (2, 4, 0)
    assert state["config"]["seed"] == 5

    index = (out / "index.html").read_text()
    assert "web/images/epoch001_iter0000004.png" in index and "eval/latest/index.html" in index
    _decodes(out / "web" / "images" / "epoch001_iter0000004.png")
    assert "losses.png" in index  # the loss curves, plotted at the end of training
    assert _decodes(out / "losses.png").ndim == 3

    metrics = json.loads((out / "eval" / "latest" / "metrics.json").read_text())
    assert set(metrics) == {"AtoB", "BtoA"}
    for direction, src, dst in (("AtoB", "A", "B"), ("BtoA", "B", "A")):
        m = metrics[direction]
        assert m["images"] == 2 and m["failed"] == []
        assert 5 < m["psnr"] < 60 and 0 < m["identity_psnr"] < 60 and -1 <= m["ssim"] <= 1
        fakes = sorted(glob.glob(str(out / "eval" / "latest" / direction / "images" / f"*_fake_{dst}.png")))
        reals = sorted(glob.glob(str(out / "eval" / "latest" / direction / "images" / f"*_real_{src}.png")))
        assert len(fakes) == len(reals) == 2
        for path in fakes + reals:
            assert _decodes(path).shape == (32, 32, 3)
        assert (out / "eval" / "latest" / direction / "index.html").is_file()


def test_resume_continues_from_the_checkpoint(run):
    tmp, first = run
    assert first.returncode == 0, first.stderr[-3000:]
    ckpt = str(tmp / "myrun" / "checkpoints" / "latest.pdckpt")
    proc = _main(tmp, "-c", "tiny.yaml", "--resume", ckpt, "-o", "train.max_iters=6", "eval.max_images=1",
                 "--output-dir", "resumed", "--no-progress")
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = (tmp / "resumed" / "train.log").read_text()
    assert f"resumed from {ckpt} at epoch 2, iteration 4" in log
    # the config says seed 3 but the run was started with --seed 5: the checkpoint's seed wins
    assert "resuming with the checkpoint's seed 5 (config says 3)" in log
    assert re.findall(r"epoch 2 iter (\d+) \|", log) == ["6"]  # log_interval 2 + the last iteration
    assert "training done: 2 iterations" in log
    state = load_file(str(tmp / "resumed" / "checkpoints" / "latest.pdckpt"))
    assert (state["epoch"], state["iter"], state["epoch_iter"]) == (2, 6, 2)
    assert json.loads((tmp / "resumed" / "eval" / "latest" / "metrics.json").read_text())["AtoB"]["images"] == 1
    assert load_config(str(tmp / "resumed" / "config.yaml"))["seed"] == 5  # the saved config tells the truth


def test_load_and_evaluate_only(run):
    tmp, first = run
    assert first.returncode == 0, first.stderr[-3000:]
    ckpt = str(tmp / "myrun" / "checkpoints" / "latest.pdckpt")
    proc = _main(tmp, "-c", "tiny.yaml", "--load", ckpt, "--evaluate-only", "--output-dir", "evalonly",
                 "--device", "cpu", "--no-progress")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp / "evalonly"
    log = (out / "train.log").read_text()
    assert f"loaded weights of netG_A, netG_B, netD_A, netD_B from {ckpt}" in log
    assert "training CycleGANModel" not in log and "training done" not in log
    assert not (out / "checkpoints").exists() and not (out / "losses.csv").exists()
    assert not (out / "eval" / "latest").exists()
    got = json.loads((out / "eval" / "evaluate" / "metrics.json").read_text())
    # same weights, same test images -> the same scores as the end-of-training evaluation
    ref = json.loads((tmp / "myrun" / "eval" / "latest" / "metrics.json").read_text())
    for direction in ("AtoB", "BtoA"):
        assert got[direction]["psnr"] == pytest.approx(ref[direction]["psnr"], abs=1e-3)
        assert got[direction]["ssim"] == pytest.approx(ref[direction]["ssim"], abs=1e-4)
    assert "evaluation: evaluate" in (out / "index.html").read_text()


def test_config_typo_exits_2_without_traceback(tmp_path):
    path = tiny_cyclegan_config(tmp_path, model={"lamda_A": 5.0})
    proc = _main(tmp_path, "-c", path, "-o", "train.max_iters=1", "train.log_interval=1")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    line = next(l for l in proc.stderr.splitlines() if l.startswith("error:"))
    assert path in line and "config.model.lamda_A: unknown key" in line and "Did you mean 'lambda_A'?" in line
    assert not (tmp_path / "run").exists()  # nothing is created for an invalid config


def test_missing_resume_checkpoint_exits_1(tmp_path):
    path = tiny_cyclegan_config(tmp_path)
    proc = _main(tmp_path, "-c", path, "--resume", "missing.pdckpt")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "error: --resume missing.pdckpt: file not found" in proc.stderr
    assert "checkpoints/" in proc.stderr and "latest.pdckpt" in proc.stderr  # says what to pass instead
    assert not (tmp_path / "run").exists()  # checked before the run folder is touched


def test_resolve_config_flags_and_defaults(tmp_path):
    """In-process: flag values are taken as given (not YAML-parsed) and beat -o; name and
    output_dir default to the config file's name."""
    cfg_path = str(tmp_path / "my_exp.yaml")
    shutil.copy(tiny_cyclegan_config(tmp_path, name=None, output_dir=None), cfg_path)
    args = build_train_parser().parse_args(["-c", cfg_path, "-o", "seed=1", "threads=3", "--seed", "7",
                                            "--output-dir", "2024", "--device", "cpu"])
    cfg = resolve_config(args)
    assert cfg["seed"] == 7 and cfg["threads"] == 3 and cfg["device"] == "cpu"
    assert cfg["output_dir"] == "2024"  # a path, although YAML would read it as an int
    assert cfg["name"] == "my_exp"
    args = build_train_parser().parse_args(["-c", cfg_path, "--output-dir", "runs/a #1: b"])
    assert resolve_config(args)["output_dir"] == "runs/a #1: b"
    cfg = resolve_config(build_train_parser().parse_args(["-c", cfg_path]))
    assert cfg["output_dir"] == os.path.join("output", "my_exp") and cfg["seed"] == 3
    with pytest.raises(ConfigError, match="override 'train.max_iters'"):
        resolve_config(build_train_parser().parse_args(["-c", cfg_path, "-o", "train.max_iters"]))
    with pytest.raises(SystemExit) as info:  # argparse: exit 2 with a usage line
        build_train_parser().parse_args(["-c", cfg_path, "--device", "tpu"])
    assert info.value.code == 2


def test_ppimg2img_command_dispatch(capsys):
    assert main([]) == 2 and main(["fly"]) == 2
    assert "unknown command 'fly'" in capsys.readouterr().err
    assert main(["modles"]) == 2
    assert "Did you mean 'models'?" in capsys.readouterr().err
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("ppimg2img train -c CONFIG", "ppimg2img download MODEL", "ppimg2img models",
                    "ppimg2img download-dataset NAME"):
        assert command in out
    for command in ("train", "download", "models", "download-dataset"):  # --help everywhere, exit 0
        assert main([command, "--help"]) == 0
        assert f"usage: ppimg2img {command}" in capsys.readouterr().out


def test_import_without_paddle_explains_how_to_install(tmp_path):
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'paddle' or name.startswith('paddle.'):\n"
        "            raise ModuleNotFoundError(\"No module named 'paddle'\", name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import ppimg2img\n")
    proc = subprocess.run([sys.executable, "-c", blocker], cwd=tmp_path, env=_env(), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: ppimg2img needs PaddlePaddle")
    assert 'pip install -e ".[cpu]"' in last and 'pip install -e ".[gpu]"' in last
    assert "No module named 'paddle'" in last


def _readme_commands():
    readme = os.path.join(ROOT, "README.md")
    if not os.path.isfile(readme):
        pytest.skip("README.md not written yet")
    text = open(readme, encoding="utf-8").read()
    commands = []
    for block in re.findall(r"```(?:bash|sh|shell|console)\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.strip()
            line = line[2:] if line.startswith("$ ") else line
            if line and not line.startswith("#"):
                commands.append(line.split(" #")[0].strip())
    return commands


def test_readme_first_two_commands_exist():
    """What the README tells a new user to type first must point at things that exist:
    pip extras in setup.py, scripts, configs that validate, the ``ppimg2img`` entry point."""
    commands = _readme_commands()[:2]
    assert len(commands) == 2, "README.md needs its install and quickstart commands in ```bash blocks"
    setup = open(os.path.join(ROOT, "setup.py"), encoding="utf-8").read()
    checked = 0
    for command in commands:
        words = shlex.split(command)
        for i, word in enumerate(words):
            extra = re.fullmatch(r"\.\[([\w,-]+)\]", word)
            if extra:  # pip install -e ".[cpu]"
                for name in extra.group(1).split(","):
                    assert re.search(rf'"{name}"\s*:', setup), f"{command}: no extra '{name}' in setup.py"
                checked += 1
            elif word.endswith(".py"):
                assert os.path.isfile(os.path.join(ROOT, word)), f"{command}: {word} does not exist"
                checked += 1
            elif word.endswith((".yaml", ".yml")):
                assert words[i - 1] in ("-c", "--config-file"), command
                load_config(os.path.join(ROOT, word))  # exists and validates
                checked += 1
        if words[0] == "ppimg2img":
            assert "ppimg2img=ppimg2img.cli:main" in setup
            assert words[1] in COMMANDS, command
            checked += 1
    assert checked >= 2, f"nothing checkable in {commands}"


@pytest.mark.skipif(shutil.which("ppimg2img") is None, reason="package not pip-installed (CI installs it)")
def test_installed_console_script():
    proc = subprocess.run(["ppimg2img", "download", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "ppimg2img download" in proc.stdout and "horse2zebra" in proc.stdout
    proc = subprocess.run(["ppimg2img", "download-dataset", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "summer2winter_yosemite" in proc.stdout
    proc = subprocess.run(["ppimg2img", "train", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "--resume" in proc.stdout


def test_resume_and_load_are_mutually_exclusive():
    with pytest.raises(SystemExit) as info:
        build_train_parser().parse_args(["-c", "x.yaml", "--resume", "a", "--load", "b"])
    assert info.value.code == 2


def test_default_threads_follow_omp_num_threads():
    code = "import ppimg2img; from ppimg2img.utils.env import default_threads; print(default_threads())"
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env["PYTHONPATH"] = ROOT
    every_core = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert every_core.stdout.split()[-1] == str(len(os.sched_getaffinity(0)))
    one = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_NUM_THREADS": "1"},
                         capture_output=True, text=True, timeout=120)
    assert one.stdout.split()[-1] == "1"


AMD_CPUINFO = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx avx2 fma\n"


def test_mkl_avx2_kernels_only_for_amd_cpus_with_avx2():
    from ppimg2img.utils.env import mkl_cpu_type
    assert mkl_cpu_type(AMD_CPUINFO) == "5"
    assert mkl_cpu_type(AMD_CPUINFO.replace(" avx2", "")) is None  # AVX2 kernels would crash there
    assert mkl_cpu_type(AMD_CPUINFO.replace("AuthenticAMD", "GenuineIntel")) is None  # MKL picks well itself
    assert mkl_cpu_type("") is None


def test_mkl_cpu_type_set_unless_the_user_set_one(tmp_path, monkeypatch):
    from ppimg2img.utils.env import use_mkl_avx2_on_amd
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(AMD_CPUINFO)
    monkeypatch.delenv("MKL_DEBUG_CPU_TYPE", raising=False)
    assert use_mkl_avx2_on_amd(str(cpuinfo)) == "5" and os.environ["MKL_DEBUG_CPU_TYPE"] == "5"
    monkeypatch.setenv("MKL_DEBUG_CPU_TYPE", "2")
    assert use_mkl_avx2_on_amd(str(cpuinfo)) == "2" and os.environ["MKL_DEBUG_CPU_TYPE"] == "2"
    monkeypatch.delenv("MKL_DEBUG_CPU_TYPE")
    assert use_mkl_avx2_on_amd(str(tmp_path / "missing")) is None and "MKL_DEBUG_CPU_TYPE" not in os.environ


def test_import_sets_mkl_cpu_type_for_this_cpu():
    """A fresh ``import ppimg2img`` sets the variable exactly when this machine's CPU calls for it."""
    from ppimg2img.utils.env import mkl_cpu_type
    try:
        with open("/proc/cpuinfo") as f:
            expected = mkl_cpu_type(f.read())
    except OSError:
        expected = None
    code = "import os, ppimg2img; print(os.environ.get('MKL_DEBUG_CPU_TYPE'))"
    env = {k: v for k, v in os.environ.items() if k != "MKL_DEBUG_CPU_TYPE"}
    env["PYTHONPATH"] = ROOT
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.split()[-1] == str(expected)


# --- model zoo commands: ppimg2img download / models / download-dataset, tools/download_weights.py ---

@pytest.fixture
def zoo_server(tmp_path, monkeypatch):
    """cyclegan/horse2zebra served from 127.0.0.1 (the ngf-8 reference checkpoint), cache in tmp."""
    import dataclasses

    from ppimg2img.weights import zoo
    from http_fixture import serve_folder
    monkeypatch.setenv("PPIMG2IMG_HOME", str(tmp_path / "cache"))
    root = tmp_path / "served"
    root.mkdir()
    shutil.copy(os.path.join(ROOT, "tests", "data", "cyclegan_resnet_6blocks_ngf8.pth"), root / "horse2zebra.pth")
    with serve_folder(root) as server:
        entry = dataclasses.replace(zoo.MODEL_ZOO["cyclegan/horse2zebra"], url=server.url + "/horse2zebra.pth",
                                    arch="resnet_6blocks", arch_kwargs={"ngf": 8})
        monkeypatch.setitem(zoo.MODEL_ZOO, entry.name, entry)
        yield server


def test_download_model_fetches_and_converts(zoo_server, tmp_path, capsys):
    cache = tmp_path / "cache" / "models" / "cyclegan"
    assert main(["download", "horse2zebra", "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert f"cyclegan/horse2zebra: {cache / 'horse2zebra.pth'}" in out
    assert f"cyclegan/horse2zebra: converted {cache / 'horse2zebra.pth.converted.pdparams'}" in out
    # horse2zebra is a dataset too: say how to get the images instead
    assert "'horse2zebra' is also a dataset" in err and "ppimg2img download-dataset horse2zebra" in err
    assert sorted(os.listdir(cache)) == ["horse2zebra.pth", "horse2zebra.pth.converted.pdparams"]
    # again: nothing downloaded, still exit 0
    assert main(["download", "cyclegan/horse2zebra"]) == 0
    assert len(zoo_server.log) == 1 and "horse2zebra.pth.converted.pdparams" in capsys.readouterr().out
    # and `models` now marks it as cached
    assert main(["models", "--cached"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split() == ["NAME", "FAMILY", "ARCH", "DIRECTION", "SOURCE", "CACHED"]
    assert re.match(r"cyclegan/horse2zebra +cyclegan +resnet_6blocks +horse -> zebra +original +yes$", rows[1])
    assert rows[2] == "" and rows[3].startswith("1 model.")


def test_download_failure_exits_1_with_url_and_path(zoo_server, tmp_path, capsys):
    zoo_server.errors = [404]
    assert main(["download", "horse2zebra", "--no-progress"]) == 1
    err = capsys.readouterr().err
    path = tmp_path / "cache" / "models" / "cyclegan" / "horse2zebra.pth"
    assert "HTTP error 404" in err and zoo_server.url + "/horse2zebra.pth" in err and f"put it at {path}" in err
    assert not path.exists()


def test_download_of_a_damaged_file_exits_1(zoo_server, tmp_path, capsys):
    (tmp_path / "served" / "horse2zebra.pth").write_text("<html>maintenance page</html>")
    assert main(["download", "horse2zebra", "--no-progress"]) == 1
    err = capsys.readouterr().err
    path = tmp_path / "cache" / "models" / "cyclegan" / "horse2zebra.pth"
    assert f"cyclegan/horse2zebra was downloaded to {path} but could not be converted" in err
    assert "delete it and run the command again" in err and "Traceback" not in err
    assert main(["download", "horse2zebra", "--no-convert"]) == 0  # the file itself is there


@pytest.mark.parametrize("args, message", [
    (["download", "maps"], "'maps' is a CycleGAN dataset, not a pretrained model: download it with "
                           "`ppimg2img download-dataset maps`"),
    (["download", "hrse2zebra"], "Did you mean 'cyclegan/horse2zebra'?"),
    (["download", "sat2map"], "ambiguous: write one of cyclegan/sat2map, pix2pix/sat2map"),
    (["download", "horse2zebra", "--root", "datasets"], "moved to `ppimg2img download-dataset NAME --root DIR`"),
    (["download"], "the following arguments are required: MODEL"),
    (["models", "horse2zebr"], "Did you mean 'cyclegan/horse2zebra'?"),
    (["download-dataset", "horse2zebar"], "Did you mean 'horse2zebra'?"),
])
def test_zoo_usage_errors_exit_2(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PPIMG2IMG_HOME", str(tmp_path / "cache"))
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "cache").exists()  # nothing was downloaded


def test_models_lists_the_zoo_and_details(capsys, tmp_path, monkeypatch):
    from ppimg2img.weights import zoo
    monkeypatch.setenv("PPIMG2IMG_HOME", str(tmp_path / "cache"))
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len([l for l in lines if re.match(r"[a-z0-9]+/\w+ ", l)]) == len(zoo.MODEL_ZOO)
    assert re.search(r"^pix2pix/facades_label2photo +pix2pix +unet_256 +label map -> facade photo +original +no$",
                     out, flags=re.M)
    assert re.search(r"^minivision/photo2cartoon +photo2cartoon +photo2cartoon .* original \(manual\) +no$", out,
                     flags=re.M)
    assert str(tmp_path / "cache" / "models") in out  # where files go
    assert main(["models", "--family", "pix2pix"]) == 0
    assert len([l for l in capsys.readouterr().out.splitlines() if l.startswith(("pix2pix/", "paddlegan/"))]) == 7
    assert main(["models", "paddlegan/cyclegan_zebra2horse", "minivision/photo2cartoon"]) == 0
    out = capsys.readouterr().out
    assert "https://paddlegan.bj.bcebos.com/models/CycleGAN_horse2zebra.pdparams" in out and "key 'netG_B'" in out
    assert "none: manual download from https://github.com/minivision-ai/photo2cartoon#download" in out
    assert str(tmp_path / "cache" / "models" / "minivision" / "photo2cartoon_weights.pt") + " (missing)" in out


def test_download_weights_script_manual_model_exits_1(tmp_path):
    """tools/download_weights.py in a fresh process: a model without a direct link explains where
    to get the file and where to put it."""
    env = dict(_env(), PPIMG2IMG_HOME=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "download_weights.py"),
                           "minivision/photo2cartoon"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    path = tmp_path / "cache" / "models" / "minivision" / "photo2cartoon_weights.pt"
    assert f"put it at {path}" in proc.stderr and "drive.google.com" in proc.stderr
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "download_weights.py"), "--help"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "usage: download_weights.py" in proc.stdout and "PPIMG2IMG_HOME" in proc.stdout
