"""train.fast: auto (the default): the trainer takes the static oneDNN step (engine/fast.py) for long CycleGAN
runs with the memory for it, the eager step otherwise, and logs which one and why."""
import logging
import math

import numpy as np
import pytest

from ppimg2img.config import ConfigError, load_config
from ppimg2img.engine import fast, trainer as trainer_mod
from ppimg2img.engine.checkpoint import optimizer_state
from ppimg2img.engine.trainer import Trainer, auto_fast_choice
from ppimg2img.nets import onednn_conv
from ppimg2img.models import MODELS
from ppimg2img.utils.env import set_seed

from conftest import tiny_cyclegan_config

TINY_G, TINY_D = {"name": "resnet_6blocks", "ngf": 4}, {"name": "basic", "ndf": 4}


def _model(name="CycleGANModel", gen=TINY_G, dis=TINY_D, **kwargs):
    set_seed(0)
    model = MODELS[name](gen, dis, **kwargs)
    model.setup_training({"lr": 2e-4}, {"policy": "linear"})
    return model


@pytest.fixture(autouse=True)
def without_onednn_convolutions(monkeypatch):
    """The rules below apply where the eager convolutions cannot run on oneDNN (auto takes eager where they can:
    test_onednn_convolutions_keep_eager)."""
    monkeypatch.setattr(onednn_conv, "available", lambda: False)


def test_onednn_convolutions_keep_eager(monkeypatch, plenty):
    monkeypatch.setattr(onednn_conv, "available", lambda: True)
    use, line = auto_fast_choice(_model(), 200_000, 1, (1024, 1024))
    assert not use and "convolutions run on oneDNN" in line and "train.fast: true" in line
    # a U-Net generator's convolutions are Paddle's: the rules below still apply
    unet = _model(gen={"name": "unet_128", "ngf": 4})
    assert auto_fast_choice(unet, 200_000, 1, (1024, 1024))[0]


@pytest.fixture
def plenty(monkeypatch):
    """64 GB available, whatever this machine has."""
    monkeypatch.setattr(fast, "available_memory_mb", lambda: 64 * 1024.0)


def test_config_values(tmp_path):
    path = tiny_cyclegan_config(tmp_path)
    assert load_config(path)["train"]["fast"] == "auto"
    for raw, value in (("auto", "auto"), ("true", True), ("false", False)):
        got = load_config(path, [f"train.fast={raw}"])["train"]["fast"]
        assert got == value and type(got) is type(value)
    with pytest.raises(ConfigError, match=r"train\.fast: 'yes-please' is not one of \[True, False, 'auto'\]"):
        load_config(path, ["train.fast=yes-please"])
    with pytest.raises(ConfigError, match=r"train\.fast: 'atuo' .* Did you mean 'auto'"):
        load_config(path, ["train.fast=atuo"])
    with pytest.raises(ConfigError, match=r"train\.fast: expected bool or str, got int"):
        load_config(path, ["train.fast=1"])


def test_long_cyclegan_run_with_memory_takes_the_fast_step(plenty):
    model = _model()
    use, line = auto_fast_choice(model, 200_000, 1, (1024, 1024))  # 1024^2 x ngf 4^2 = AUTO_FAST_MIN_WORK
    need = fast.estimate_peak_mb(model, 1, 1024, 1024)
    assert use
    assert line == (f"train.fast auto: static oneDNN step (1.5-2.5x faster than eager on CPU; needs about "
                    f"{need / 1024:.1f} GB, 64.0 GB available; the first step builds it); set train.fast: false "
                    f"for the lean eager step")


@pytest.mark.parametrize("available, shown", [(2000.0, "only 2.0 GB available"), (None, "cannot be read")])
def test_too_little_or_unknown_memory_keeps_eager(monkeypatch, available, shown):
    monkeypatch.setattr(fast, "available_memory_mb", lambda: available)
    model = _model()
    need = fast.estimate_peak_mb(model, 1, 1024, 1024)
    assert need * trainer_mod.AUTO_FAST_MEMORY_MARGIN > 2000
    use, line = auto_fast_choice(model, 200_000, 1, (1024, 1024))
    assert not use
    assert line.startswith("train.fast auto: eager step (") and shown in line
    assert f"needs about {need / 1024:.1f} GB" in line and line.endswith("set train.fast: true to use the "
                                                                         "static oneDNN step anyway")


def test_memory_margin_boundary(monkeypatch):
    model = _model()
    need = fast.estimate_peak_mb(model, 1, 1024, 1024) * trainer_mod.AUTO_FAST_MEMORY_MARGIN
    monkeypatch.setattr(fast, "available_memory_mb", lambda: need)
    assert auto_fast_choice(model, 200_000, 1, (1024, 1024))[0]
    monkeypatch.setattr(fast, "available_memory_mb", lambda: need - 1)
    assert not auto_fast_choice(model, 200_000, 1, (1024, 1024))[0]


def test_short_runs_small_steps_and_varying_sizes_keep_eager(plenty):
    model = _model()
    use, line = auto_fast_choice(model, trainer_mod.AUTO_FAST_MIN_ITERS - 1, 1, (1024, 1024))
    assert not use and "999 iterations do not repay the static step's 15-60 s build: auto uses it from 1000" in line
    assert auto_fast_choice(model, trainer_mod.AUTO_FAST_MIN_ITERS, 1, (1024, 1024))[0]
    use, line = auto_fast_choice(model, 200_000, 1, (512, 512))  # a quarter of the minimum work
    assert not use and "batch 1 x 512x512 px at ngf 4, is no faster as static programs" in line
    assert auto_fast_choice(model, 200_000, 4, (512, 512))[0]  # the batch counts
    use, line = auto_fast_choice(model, 200_000, 1, None)
    assert not use and "no fixed size" in line


def test_other_models_settings_and_processes_keep_eager(plenty):
    use, line = auto_fast_choice(_model("Pix2PixModel", {"name": "unet_128", "ngf": 4}, {"name": "basic", "ndf": 4}),
                                 200_000, 1, (1024, 1024))
    assert not use and "no faster than the eager one for Pix2PixModel" in line
    use, line = auto_fast_choice(_model(gan_mode="wgangp"), 200_000, 1, (1024, 1024))
    assert not use and line == ("train.fast auto: eager step (train.fast does not support gan_mode 'wgangp' (its "
                                "gradient penalty needs a double backward))")
    use, line = auto_fast_choice(_model(), 200_000, 1, (1024, 1024), world=2)
    assert not use and "this run has 2 processes" in line
    gan = _model("GANModel", {"name": "dcgan", "nz": 8, "ngf": 4, "output_nc": 1, "image_size": 28},
                 {"name": "dcgan", "ndf": 4})
    use, line = auto_fast_choice(gan, 200_000, 64, (28, 28))
    assert (use, line) == (False, "train.fast auto: eager step (GANModel has no static step)")


def test_memory_estimate_matches_the_measured_peaks():
    """The calibration points of fast.estimate_peak_mb (peak RSS, MiB, measured with train.fast; the 256 px
    figure is benchmarks/README.md's): within 10%."""
    for gen, ngf, size, measured in (("resnet_6blocks", 16, 64, 1788), ("resnet_6blocks", 32, 256, 3463),
                                     ("resnet_9blocks", 16, 256, 2789), ("resnet_9blocks", 64, 256, 7892)):
        model = MODELS["CycleGANModel"]({"name": gen, "ngf": ngf}, {"name": "basic", "ndf": ngf})
        assert abs(fast.estimate_peak_mb(model, 1, size, size) / measured - 1) < 0.1, (gen, ngf, size)


def test_available_memory_reads_meminfo_and_cgroup_limit(monkeypatch, tmp_path):
    files = {"/proc/meminfo": "MemTotal:  8000000 kB\nMemAvailable:  4194304 kB\n",
             "/sys/fs/cgroup/memory.max": f"{3 * 2**30}\n", "/sys/fs/cgroup/memory.current": f"{2 * 2**30}\n",
             "/sys/fs/cgroup/memory.stat": f"anon 1\ninactive_file {2**29}\n"}
    real_open = open

    def fake_open(path, *args, **kwargs):
        if path in files:
            target = tmp_path / path.replace("/", "_")
            target.write_text(files[path])
            return real_open(target, *args, **kwargs)
        if path.startswith(("/proc/", "/sys/")):
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    assert fast.available_memory_mb() == 1536.0  # 3 GB limit - (2 GB used - 0.5 GB page cache) < 4 GB
    files["/sys/fs/cgroup/memory.max"] = "max\n"
    assert fast.available_memory_mb() == 4096.0
    del files["/proc/meminfo"]
    assert fast.available_memory_mb() is None


def test_trainer_default_stays_eager_for_the_tiny_run(tmp_path, caplog):
    cfg = load_config(tiny_cyclegan_config(tmp_path), ["train.max_iters=1"])
    t = Trainer(cfg)
    with caplog.at_level(logging.INFO, logger="ppimg2img"):
        t.train(progress=False)
    assert t.model.fast_step is None and t.fast_auto[0] is False
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("train.fast")]
    assert lines == [t.fast_auto[1]] and "batch 1 x 32x32 px at ngf 4" in lines[0]


def test_explicit_false_is_honoured(tmp_path, monkeypatch, plenty):
    monkeypatch.setattr(trainer_mod, "AUTO_FAST_MIN_ITERS", 1)
    monkeypatch.setattr(trainer_mod, "AUTO_FAST_MIN_WORK", 1)
    cfg = load_config(tiny_cyclegan_config(tmp_path), ["train.fast=false", "train.max_iters=1"])
    t = Trainer(cfg)
    t.train(progress=False)
    assert t.model.fast_step is None and t.fast_auto is None


def test_auto_trains_with_the_fast_step_and_resumes_eagerly(tmp_path, monkeypatch, plenty, caplog):
    """A tiny real run where auto picks the fast step (thresholds lowered), then its checkpoint resumed under
    the default thresholds (eager): the auto choice is made again at resume, and the Adam state crosses over."""
    monkeypatch.setattr(trainer_mod, "AUTO_FAST_MIN_ITERS", 2)
    monkeypatch.setattr(trainer_mod, "AUTO_FAST_MIN_WORK", 1)
    path = tiny_cyclegan_config(tmp_path)
    t = Trainer(load_config(path, ["train.max_iters=2"]))
    assert t.model.fast_step is None  # decided when training starts
    with caplog.at_level(logging.INFO, logger="ppimg2img"):
        losses = t.train(progress=False)
    assert t.fast_auto[0] and t.model.fast_step is not None and t.model.fast_step.builds
    assert any(r.getMessage().startswith("train.fast auto: static oneDNN step") for r in caplog.records)
    assert t.iter == 2 and set(losses) == {"D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"}
    assert all(math.isfinite(v) for v in losses.values())
    moments = t.model.state_dict()["optimizers"]["G"]
    monkeypatch.setattr(trainer_mod, "AUTO_FAST_MIN_ITERS", 1000)
    r = Trainer(load_config(path, ["train.max_iters=3"]))
    r.resume(t.latest_path)
    resumed = optimizer_state(r.model.optimizers["G"])  # the fast run's Adam moments, in the eager optimizer
    keys = [k for k in moments if k.startswith("@") and k.endswith(("_moment1_0", "_moment2_0"))]
    assert keys and all(np.array_equal(np.asarray(resumed[k]), np.asarray(moments[k])) for k in keys)
    losses = r.train(progress=False)
    assert r.fast_auto[0] is False and r.model.fast_step is None and r.iter == 3
    assert all(math.isfinite(v) for v in losses.values())


def test_published_configs(monkeypatch):
    """The quickstart (800 iterations, 64 px, ngf 16) stays eager; horse2zebra (resnet_9blocks, 256 px crops,
    200 epochs) takes the fast step with 10 GB available, not with 8 GB (it needs ~7.7 GB)."""
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def decide(name, iters, available):
        monkeypatch.setattr(fast, "available_memory_mb", lambda: available)
        cfg = load_config(os.path.join(root, "configs", name))
        args = dict(cfg["model"])
        model = MODELS[args.pop("name")](**args)
        model.setup_training(cfg["optimizer"], cfg["lr_scheduler"])
        crop = cfg["dataset"]["train"]["crop_size"]
        return auto_fast_choice(model, iters, cfg["train"]["batch_size"], (crop, crop))

    use, line = decide("quickstart_cyclegan.yaml", 800, 64 * 1024.0)
    assert not use and "64x64 px at ngf 16" in line
    assert decide("cyclegan_horse2zebra.yaml", 200 * 1334, 10 * 1024.0) == (
        True, "train.fast auto: static oneDNN step (1.5-2.5x faster than eager on CPU; needs about 7.7 GB, 10.0 GB "
              "available; the first step builds it); set train.fast: false for the lean eager step")
    use, line = decide("cyclegan_horse2zebra.yaml", 200 * 1334, 8 * 1024.0)
    assert not use and "only 8.0 GB available; the static step needs about 7.7 GB, plus a 25% margin" in line
