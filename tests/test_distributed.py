"""Data-parallel training with paddle.distributed on CPU processes (gloo): two processes,
tiny CycleGAN, a few iterations."""
import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, tiny_cyclegan_config

WORKER = os.path.join(ROOT, "tests", "distributed_worker.py")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(tmp_path, config, env=None, timeout=900):
    """Run the worker in 2 processes; returns (exit code, text of both worker logs). ``timeout``
    only stops a hung job (a few times what a busy 2-core machine needs), it is no speed test."""
    dump = tmp_path / "dump"
    dump.mkdir(exist_ok=True)
    logs = tmp_path / "launch_logs"
    cmd = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
           "--master", f"127.0.0.1:{_free_port()}", "--log_dir", str(logs), WORKER, config, str(dump)]
    full_env = {**os.environ, "PYTHONPATH": ROOT, **(env or {})}
    proc = subprocess.Popen(cmd, cwd=str(tmp_path), env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # its own group: a hung job is killed whole
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"the 2-process job did not end within {timeout} s: hung")
    text = stdout + stderr
    for name in sorted(os.listdir(logs)) if logs.exists() else []:
        text += open(logs / name, errors="replace").read()
    return proc.returncode, text


def _params(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def test_two_processes_train_like_one_process_with_the_global_batch(tmp_path):
    """2 processes x batch 1 == 1 process x batch 2 (no batch-dependent layers, no image pool);
    both processes end with identical parameters; only process 0 writes; the checkpoint resumes
    in one process."""
    from ppimg2img.config import load_config
    from ppimg2img.engine.trainer import Trainer

    # norm 'none': with InstanceNorm the conv biases before it get a zero gradient up to rounding,
    # which Adam turns into full-size steps in random directions, different for any batch split
    sections = dict(model={"pool_size": 0, "generator": {"name": "resnet_6blocks", "ngf": 4, "norm": "none"},
                           "discriminator": {"name": "basic", "ndf": 4, "norm": "none"}},
                    train={"max_iters": 3, "log_interval": 1, "visual_interval": 2})
    dist_cfg = tiny_cyclegan_config(tmp_path, **sections)
    code, logs = launch(tmp_path, dist_cfg)
    assert code == 0, logs[-3000:]
    rank0, rank1 = (_params(tmp_path / "dump" / f"params_rank{r}.npz") for r in (0, 1))
    assert rank0.keys() == rank1.keys()
    for key in rank0:  # exact: both apply the same all-reduced gradient to the same weights
        np.testing.assert_array_equal(rank0[key], rank1[key], err_msg=key)

    single_dir = tmp_path / "single"
    single_dir.mkdir()
    single_cfg = load_config(tiny_cyclegan_config(single_dir, **{**sections, "train": {
        **sections["train"], "batch_size": 2}}))
    trainer = Trainer(single_cfg)
    trainer.train(progress=False)
    # another path: one batch-2 gradient vs the mean of two batch-1 gradients (another summation
    # order, ~1e-7 relative), amplified by 3 Adam steps of lr 2e-4 where gradients are tiny: 2e-5
    for name, net in trainer.model.nets.items():
        for key, value in net.state_dict().items():
            np.testing.assert_allclose(rank0[f"{name}/{key}"], value.numpy(), atol=2e-5, err_msg=f"{name}/{key}")

    run = tmp_path / "run"
    writes = [json.load(open(tmp_path / "dump" / f"writes_rank{r}.json")) for r in (0, 1)]
    assert {"atomic_save", "save_grid", "save_image", "save_config"} <= set(writes[0])
    assert writes[1] == []  # process 1 wrote nothing
    assert "data parallel over 2 processes" in (run / "train.log").read_text()
    log = (run / "train.log").read_text()
    assert log.count("iter 3 |") == 1  # one process logs
    assert sorted(os.listdir(run)) == sorted(["checkpoints", "config.yaml", "eval", "index.html", "losses.csv",
                                              "losses.png", "train.log", "web"])
    metrics = json.loads((run / "eval" / "latest" / "metrics.json").read_text())
    assert metrics["AtoB"]["images"] == 2  # each process translated one test image; process 0 reports both
    assert len([f for f in os.listdir(run / "eval" / "latest" / "AtoB" / "images") if "_fake_" in f]) == 2

    # resume the 2-process checkpoint in one process: same images done, same weights
    resumed = Trainer(load_config(tiny_cyclegan_config(tmp_path / "single", **{
        **sections, "output_dir": str(tmp_path / "resumed")})))
    resumed.resume(str(run / "checkpoints" / "latest.pdckpt"))
    assert resumed.iter == 3 and resumed.epoch == 2
    assert resumed.epoch_iter == 2  # 1 iteration of 2 processes = 2 iterations of batch 1
    for key, value in resumed.model.nets["netG_A"].state_dict().items():
        np.testing.assert_array_equal(value.numpy(), rank0[f"netG_A/{key}"])


def test_ugatit_several_backward_passes_per_step_stay_in_sync(tmp_path):
    """U-GAT-IT back-propagates its generator loss in four parts per step: DataParallel averages
    each part, so 2 processes x batch 1 still equal 1 process x batch 2."""
    import yaml

    from ppimg2img.config import load_config
    from ppimg2img.engine.trainer import Trainer
    from test_ugatit import tiny_ugatit_config

    def config(folder, batch_size):
        folder.mkdir(exist_ok=True)
        path = tiny_ugatit_config(folder)
        cfg = yaml.safe_load(open(path))
        cfg["dataset"]["synthetic"]["n_train"] = 4
        cfg["train"].update(batch_size=batch_size, max_iters=2, eval_at_end=False)
        open(path, "w").write(yaml.safe_dump(cfg))
        return path

    code, logs = launch(tmp_path, config(tmp_path / "dist", 1))
    assert code == 0, logs[-3000:]
    rank0, rank1 = (_params(tmp_path / "dump" / f"params_rank{r}.npz") for r in (0, 1))
    for key in rank0:
        np.testing.assert_array_equal(rank0[key], rank1[key], err_msg=key)
    trainer = Trainer(load_config(config(tmp_path / "single", 2)))
    trainer.train(progress=False)
    for name, net in trainer.model.nets.items():
        for key, value in net.state_dict().items():
            np.testing.assert_allclose(rank0[f"{name}/{key}"], value.numpy(), atol=2e-5, err_msg=f"{name}/{key}")


def test_a_failing_process_stops_the_job_with_its_error(tmp_path):
    config = tiny_cyclegan_config(tmp_path, train={"max_iters": 20})
    # stopped, not hung: launch() fails the test if the job outlives its timeout (no clock read here)
    code, logs = launch(tmp_path, config, env={"PPIMG2IMG_TEST_FAIL_RANK": "1"})
    assert code != 0
    assert "error: process 1 of 2: injected failure in the training step" in logs


def test_generation_model_trains_data_parallel_with_the_gradient_penalty(tmp_path):
    """GANModel in 2 processes: WGAN-GP's double backward through DataParallel, the n_critic
    schedule and the conditional nets; both processes end with identical parameters."""
    import yaml

    from test_gan import _write_config

    path = _write_config(tmp_path, "quickstart_wgangp.yaml")
    cfg = yaml.safe_load(open(path))
    cfg["model"].update(n_critic=2)
    cfg["model"]["generator"]["n_classes"] = 10
    cfg["dataset"]["test"] = None
    cfg["train"].update(batch_size=4, max_iters=4)
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    code, logs = launch(tmp_path, path)
    assert code == 0, logs[-3000:]
    rank0, rank1 = (_params(tmp_path / "dump" / f"params_rank{r}.npz") for r in (0, 1))
    assert rank0.keys() == rank1.keys() and any(k.startswith("netD/") for k in rank0)
    learned = [k for k in rank0 if not k.endswith(("._mean", "._variance"))]
    assert len(learned) < len(rank0)  # G has BatchNorm: its running statistics are per process (own batch)
    for key in learned:  # exact: both apply the same all-reduced gradient to the same weights
        np.testing.assert_array_equal(rank0[key], rank1[key], err_msg=key)
    log = (tmp_path / "run" / "train.log").read_text()
    assert "data parallel over 2 processes" in log and log.count("iter 4 |") == 1
