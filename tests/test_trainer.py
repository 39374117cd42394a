"""The training engine: exact resume, atomic checkpoints, NaN stop, visuals and evaluation pages."""
import json
import os

import numpy as np
import pytest

from ppimg2img.config import load_config
from ppimg2img.engine.checkpoint import CheckpointError, atomic_save, load_file
from ppimg2img.engine.trainer import Trainer, TrainingDivergedError
from ppimg2img.utils.image_io import load_image

from conftest import ROOT, tiny_cyclegan_config


def _trainer(tmp_path, run, **overrides):
    cfg = load_config(tiny_cyclegan_config(tmp_path), [f"output_dir={tmp_path / run}"] +
                      [f"{k}={v}" for k, v in overrides.items()])
    return Trainer(cfg)


def _weights(trainer):
    return {f"{n}.{k}": v.numpy().copy() for n, net in trainer.model.nets.items()
            for k, v in net.state_dict().items()}


def test_resume_continues_exactly(tmp_path):
    """2N iterations in one run == N iterations, stop, --resume, N more (across epoch ends,
    LR decay, image pool swaps and random crops/flips)."""
    full = _trainer(tmp_path, "full", **{"train.max_iters": 10})
    full.train(progress=False)

    first = _trainer(tmp_path, "split", **{"train.max_iters": 5})
    first.train(progress=False)
    ckpt = os.path.join(first.run_dir, "checkpoints", "latest.pdckpt")
    assert load_file(ckpt)["iter"] == 5
    second = _trainer(tmp_path, "split", **{"train.max_iters": 10, "seed": 99})  # seed must come from the ckpt
    second.resume(ckpt)
    assert (second.epoch, second.iter, second.epoch_iter) == (2, 5, 1)
    second.train(progress=False)

    a, b = _weights(full), _weights(second)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=0, atol=1e-6, err_msg=k)
    assert full.model.current_lr() == second.model.current_lr()
    assert full.model.current_lr()["G"] == pytest.approx(2e-4 / 3)  # 2 epochs done: 1 - 2/(2+1)

    # and the check could fail: a resume without the optimizer/pool state diverges
    third = _trainer(tmp_path, "nostate", **{"train.max_iters": 10})
    third.load_weights(ckpt)
    third.iter, third.epoch, third.epoch_iter = 5, 2, 1
    third.train(progress=False)
    c = _weights(third)
    assert max(np.abs(a[k] - c[k]).max() for k in a) > 1e-5


def test_checkpoint_files_and_html(tmp_path):
    t = _trainer(tmp_path, "run", **{"train.max_iters": 8, "train.save_epoch_interval": 1})
    t.train(progress=False)
    ckdir = os.path.join(t.run_dir, "checkpoints")
    assert sorted(os.listdir(ckdir)) == ["epoch_001.pdckpt", "epoch_002.pdckpt", "latest.pdckpt"]
    state = load_file(os.path.join(ckdir, "epoch_001.pdckpt"))
    assert state["epoch"] == 2 and state["iter"] == 4
    assert set(state["nets"]) == {"netG_A", "netG_B", "netD_A", "netD_B"}
    assert set(state["optimizers"]) == {"G", "D"} and set(state["schedulers"]) == {"G", "D"}
    assert "fake_A_pool" in state["extra"] and "rng" in state
    # visuals every 4 iterations plus the last, listed newest first in index.html
    grids = sorted(os.listdir(os.path.join(t.run_dir, "web", "images")))
    assert grids == ["epoch001_iter0000004.png", "epoch002_iter0000008.png"]
    grid = load_image(os.path.join(t.run_dir, "web", "images", grids[0]))
    assert grid.shape[0] > 2 * 32 and grid.shape[1] > 4 * 32  # 2 rows x 4 images
    page = open(os.path.join(t.run_dir, "index.html")).read()
    assert page.index(grids[1]) < page.index(grids[0])
    lines = open(os.path.join(t.run_dir, "losses.csv")).read().splitlines()
    assert lines[0].startswith("epoch,iter,D_A,G_A,cycle_A,idt_A,D_B,G_B,cycle_B,idt_B")
    assert len(lines) == 1 + 4  # log_interval 2


def test_atomic_save_keeps_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = str(tmp_path / "latest.pdckpt")
    atomic_save({"iter": 1}, path)
    import paddle

    def broken_save(obj, p):
        with open(p, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(paddle, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        atomic_save({"iter": 2}, path)
    monkeypatch.undo()
    assert load_file(path)["iter"] == 1
    assert os.listdir(tmp_path) == ["latest.pdckpt"]


def test_corrupt_checkpoint_error_names_file(tmp_path):
    bad = tmp_path / "latest.pdckpt"
    bad.write_bytes(b"\x80\x04garbage")
    with pytest.raises(CheckpointError, match="latest.pdckpt: cannot read checkpoint"):
        load_file(str(bad))
    with pytest.raises(CheckpointError, match="not found"):
        load_file(str(tmp_path / "missing.pdckpt"))


def test_resume_rejects_mismatched_architecture(tmp_path):
    t = _trainer(tmp_path, "a", **{"train.max_iters": 1})
    t.train(progress=False)
    other = _trainer(tmp_path, "b", **{"model.generator.ngf": 8})
    with pytest.raises(CheckpointError, match=r"netG_A\.model\.1\.weight: expected shape \[8, 3, 7, 7\], "
                                              r"found \[4, 3, 7, 7\]"):
        other.resume(t.latest_path)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    t = _trainer(tmp_path, "nan", **{"train.max_iters": 6, "train.save_latest_interval": 2})
    real_step = t.model.train_step
    calls = {"n": 0}

    def step():
        calls["n"] += 1
        losses = real_step()
        if calls["n"] == 3:
            losses["G_A"] = float("nan")
        return losses

    t.model.train_step = step
    with pytest.raises(TrainingDivergedError, match=r"G_A=nan at epoch 1, iteration 3.*latest\.pdckpt"):
        t.train(progress=False)
    assert load_file(t.latest_path)["iter"] == 2


def test_evaluate_writes_pages_and_metrics(tmp_path):
    t = _trainer(tmp_path, "ev", **{"train.max_iters": 2})
    t.train(progress=False)
    res = t.evaluate(tag="latest")
    out = os.path.join(t.run_dir, "eval", "latest")
    with open(os.path.join(out, "metrics.json")) as f:
        saved = json.load(f)
    assert saved == json.loads(json.dumps(res))
    for d, (src, dst) in {"AtoB": ("A", "B"), "BtoA": ("B", "A")}.items():
        assert res[d]["images"] == 2 and res[d]["failed"] == []
        assert 0 < res[d]["psnr"] < 60 and -1 <= res[d]["ssim"] <= 1
        assert 5 < res[d]["identity_psnr"] < 15
        imgs = sorted(os.listdir(os.path.join(out, d, "images")))
        assert len(imgs) == 6 and any(f"fake_{dst}" in n for n in imgs)
        assert load_image(os.path.join(out, d, "images", imgs[0])).shape == (32, 32, 3)
        page = open(os.path.join(out, d, "index.html")).read()
        assert "PSNR" in page and "identity baseline" in page
    assert "eval/latest/index.html" in open(os.path.join(t.run_dir, "index.html")).read()
    overview = open(os.path.join(out, "index.html")).read()
    assert "AtoB/index.html" in overview and "BtoA/index.html" in overview and "<table>" not in overview


def test_worker_processes_do_not_change_training(tmp_path):
    """Data loaded by 2 worker processes trains to the same weights as in-process loading."""
    runs = []
    for workers in (0, 2):
        t = _trainer(tmp_path, f"w{workers}", **{"train.max_iters": 3, "train.num_workers": workers})
        t.train(progress=False)
        runs.append(_weights(t))
    for k in runs[0]:
        np.testing.assert_array_equal(runs[0][k], runs[1][k], err_msg=k)


def test_plateau_policy_reduces_lr_when_loss_stalls(tmp_path):
    t = _trainer(tmp_path, "plateau", **{"lr_scheduler.policy": "plateau", "train.max_iters": 4})
    sched = t.model.schedulers["G"]
    for _ in range(7):  # constant loss: no improvement for more than patience=5 epochs
        t.model.update_learning_rate(metric=1.0)
    assert sched.last_lr == pytest.approx(2e-4 * 0.2)
    t.train(progress=False)  # the trainer feeds the epoch's mean loss without error
    assert load_file(t.latest_path)["epoch"] == 2


def test_multi_tensor_adam_matches_per_parameter_adam():
    """build_optimizer uses Paddle's multi-tensor Adam (faster with several threads): same updates,
    including the coupled weight decay, as the plain per-parameter kernel."""
    import paddle

    from ppimg2img.models.base import build_optimizer

    results = []
    for multi in (True, False):
        paddle.seed(0)
        net = paddle.nn.Sequential(paddle.nn.Conv2D(3, 8, 3), paddle.nn.ReLU(), paddle.nn.Conv2D(8, 3, 3))
        sched = paddle.optimizer.lr.LambdaDecay(2e-4, lambda e: 1.0)
        if multi:
            opt = build_optimizer(net.parameters(), sched, weight_decay=1e-4)
            assert opt._use_multi_tensor
        else:
            opt = paddle.optimizer.Adam(learning_rate=sched, beta1=0.5, beta2=0.999, parameters=net.parameters(),
                                        weight_decay=1e-4)
        x = paddle.to_tensor(np.random.RandomState(0).randn(2, 3, 16, 16).astype("float32"))
        before = [p.numpy().copy() for p in net.parameters()]
        for _ in range(5):
            net(x).square().mean().backward()
            opt.step()
            opt.clear_grad()
        results.append([p.numpy() for p in net.parameters()])
    assert max(np.abs(a - b).max() for a, b in zip(before, results[0])) > 1e-4  # it did train
    # two kernels (fused multi-tensor vs per-parameter): the same formula, possibly rounded in
    # another order; |parameters| < 0.3, where a float32 ulp is <= 3e-8, so 1e-7 allows a few
    # roundings over 5 steps, 1e-4 of the ~1e-3 the 5 updates of lr 2e-4 move them
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-7)


def test_ctrl_c_finishes_the_iteration_and_saves(tmp_path):
    """Ctrl-C during iteration 3 finishes it, saves 'latest' at iteration 3 and stops.

    No timing: a before_step hook raises SIGINT at the start of iteration 3. signal.raise_signal
    delivers it to this thread and runs the Python handler before returning (raise() plus
    PyErr_CheckSignals), which the hook asserts, so the iteration the signal lands in is known."""
    import signal
    t = _trainer(tmp_path, "int", **{"train.max_iters": 8})
    seen = []

    def ctrl_c_at_iteration_3(trainer):
        seen.append(trainer.iter + 1)  # the iteration about to run
        if trainer.iter == 2:
            assert not trainer.interrupted
            signal.raise_signal(signal.SIGINT)
            assert trainer.interrupted  # the trainer's handler ran: it finishes this iteration

    t.before_step.append(ctrl_c_at_iteration_3)
    before = signal.getsignal(signal.SIGINT)  # whatever this process had; the trainer restores it
    t.train(progress=False)
    assert seen == [1, 2, 3]
    assert t.interrupted and t.iter == 3
    assert load_file(t.latest_path)["iter"] == 3
    assert signal.getsignal(signal.SIGINT) is before  # handler restored


def test_ctrl_c_from_another_process_stops_the_command_with_exit_130(tmp_path):
    """The real case: tools/main.py's train_main in a child process, SIGINT from another process (a
    terminal's Ctrl-C). Synchronised, not timed: at the start of iteration 3 a before_step hook in
    the child says so on stdout and blocks reading stdin; the parent sends SIGINT and only then a
    line. The signal is pending before the line arrives, so the child's handler has run before
    iteration 3's step starts, whatever the machine's load."""
    import signal
    import subprocess
    import sys
    import threading
    code = (
        "import sys\n"
        "from ppimg2img import cli\n"
        "from ppimg2img.engine import trainer as trainer_module\n"
        "class Trainer(trainer_module.Trainer):\n"
        "    def __init__(self, cfg):\n"
        "        super().__init__(cfg)\n"
        "        self.before_step.append(self.wait_at_iteration_3)\n"
        "    def wait_at_iteration_3(self, trainer):\n"
        "        if trainer.iter == 2:\n"
        "            print('iteration 3 starts', flush=True)\n"
        "            sys.stdin.readline()\n"
        "trainer_module.Trainer = Trainer\n"
        f"sys.exit(cli.train_main(['-c', {tiny_cyclegan_config(tmp_path)!r}, '-o', 'train.max_iters=8', "
        "'--no-progress']))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": ROOT})
    # safety net only (a hung child would block readline for ever): kill the child's group after 600 s
    watchdog = threading.Timer(600, lambda: os.killpg(proc.pid, signal.SIGKILL))
    watchdog.start()
    try:
        seen = []
        for line in proc.stdout:  # its log lines, then the hook's
            seen.append(line)
            if line.strip() == "iteration 3 starts":
                break
        else:
            pytest.fail(f"the child ended before iteration 3:\n{''.join(seen)[-2000:]}{proc.communicate()[1][-3000:]}")
        proc.send_signal(signal.SIGINT)  # Ctrl-C while iteration 3 is under way...
        proc.stdin.write("go\n")  # ...then let it continue
        proc.stdin.flush()
        stdout, stderr = proc.communicate()
    finally:
        watchdog.cancel()
    assert proc.returncode == 130, stderr[-3000:]
    run = tmp_path / "run"
    assert load_file(str(run / "checkpoints" / "latest.pdckpt"))["iter"] == 3
    assert "stopped by Ctrl-C after iteration 3" in (run / "train.log").read_text()


def test_unreadable_training_image_is_reported_at_the_end(tmp_path, caplog):
    """A corrupt file in trainA does not stop training, and the end-of-run summary names it even
    when the workers (separate processes) met it."""
    import logging

    from ppimg2img.data.synthetic import ensure_synthetic_dataset
    data = tmp_path / "shapes"
    ensure_synthetic_dataset(str(data), n_train=4, n_test=2, size=32)
    (data / "trainA" / "A_00001_broken.png").write_bytes(b"\x89PNG truncated")
    t = _trainer(tmp_path, "bad", **{"train.max_iters": 5, "train.num_workers": 2, "dataset.synthetic": "null"})
    with caplog.at_level(logging.WARNING, logger="ppimg2img"):
        t.train(progress=False)
    assert t.iter == 5
    summary = [r.getMessage() for r in caplog.records if "unreadable training image" in r.getMessage()]
    assert len(summary) == 1 and "A_00001_broken.png" in summary[0] and summary[0].startswith("1 unreadable")


def test_grayscale_and_btoa_train_and_evaluate(tmp_path):
    """input_nc/output_nc 1 and direction BtoA run end to end; evaluation follows the dataset's
    direction (G_A translates testB when direction is BtoA)."""
    t = _trainer(tmp_path, "gray", **{"train.max_iters": 2, "model.generator.input_nc": 1,
                                      "model.generator.output_nc": 1, "dataset.train.input_nc": 1,
                                      "dataset.train.output_nc": 1, "dataset.test.input_nc": 1,
                                      "dataset.test.output_nc": 1, "dataset.train.direction": "BtoA",
                                      "dataset.test.direction": "BtoA"})
    assert t.model.nets["netG_A"].state_dict()["model.1.weight"].shape[1] == 1
    t.train(progress=False)
    res = t.evaluate()
    assert res["AtoB"]["images"] == 2 and "psnr" in res["AtoB"]
    names = sorted(os.listdir(os.path.join(t.run_dir, "eval", "latest", "AtoB", "images")))
    assert any(n.endswith("_real_B.png") for n in names) and any(n.endswith("_fake_A.png") for n in names)
    out = load_image(os.path.join(t.run_dir, "eval", "latest", "AtoB", "images",
                                  next(n for n in names if n.endswith("_fake_A.png"))))
    assert np.array_equal(out[..., 0], out[..., 1])  # one channel shown as gray


def test_channel_mismatch_between_model_and_data_is_a_config_error(tmp_path):
    from ppimg2img.config import ConfigError
    with pytest.raises(ConfigError, match=r"model\.generator\.input_nc is 1 but dataset\.train\.input_nc is 3"):
        _trainer(tmp_path, "mismatch", **{"model.generator.input_nc": 1})


def test_run_starts_at_epoch_count_like_the_original(tmp_path):
    """lr_scheduler.epoch_count: the original's --epoch_count, the epoch a (hand-continued) run
    starts at; the linear decay is already under way there."""
    t = _trainer(tmp_path, "ec", **{"lr_scheduler.epoch_count": 2, "train.max_iters": 4})
    assert t.epoch == 2 and t.model.current_lr()["G"] == pytest.approx(2e-4 * 2 / 3)
    t.train(progress=False)
    assert load_file(t.latest_path)["epoch"] == 3


def test_identity_loss_needs_equal_channels(tmp_path):
    with pytest.raises(ValueError, match="model.lambda_identity must be 0 when generator input_nc != output_nc"):
        _trainer(tmp_path, "idt", **{"model.generator.input_nc": 1, "dataset.train.input_nc": 1,
                                     "dataset.test.input_nc": 1})


def test_resume_rejects_incomplete_checkpoint(tmp_path):
    t = _trainer(tmp_path, "inc", **{"train.max_iters": 1})
    t.train(progress=False)
    state = load_file(t.latest_path)
    del state["nets"]["netD_B"]
    broken = str(tmp_path / "broken.pdckpt")
    atomic_save(state, broken)
    with pytest.raises(CheckpointError, match="no weights for 'netD_B'"):
        _trainer(tmp_path, "inc2").resume(broken)
    del state["optimizers"]
    atomic_save(state, broken)
    with pytest.raises(CheckpointError, match=r"incomplete checkpoint, missing \['optimizers'\]"):
        _trainer(tmp_path, "inc3").resume(broken)


def test_resume_drops_abandoned_loss_rows_and_evaluation_survives_missing_folders(tmp_path):
    t = _trainer(tmp_path, "csv", **{"train.max_iters": 4, "train.save_latest_interval": 2,
                                     "train.log_interval": 1})
    t.train(progress=False)
    ckpt2 = str(tmp_path / "iter2.pdckpt")
    state = load_file(os.path.join(t.run_dir, "checkpoints", "latest.pdckpt"))
    assert state["iter"] == 4
    # resume from an older checkpoint: rows 3-4 of losses.csv are from the abandoned future
    t2 = _trainer(tmp_path, "csv", **{"train.max_iters": 3, "train.log_interval": 1})
    first = _trainer(tmp_path, "csv_first", **{"train.max_iters": 2})
    first.train(progress=False)
    os.replace(first.latest_path, ckpt2)
    t2.resume(ckpt2)
    rows = open(os.path.join(t.run_dir, "losses.csv")).read().splitlines()
    assert [r.split(",")[1] for r in rows[1:]] == ["1", "2"]
    t2.train(progress=False)
    rows = open(os.path.join(t.run_dir, "losses.csv")).read().splitlines()
    assert [r.split(",")[1] for r in rows[1:]] == ["1", "2", "3"]
    # a test phase without folders: evaluation reports and skips instead of failing
    t2.cfg["dataset"]["test"]["phase"] = "val"
    assert t2.evaluate(tag="val") == {}
    assert os.path.exists(os.path.join(t.run_dir, "eval", "val", "metrics.json"))
    assert "skipped, no folder" in open(os.path.join(t.run_dir, "eval", "val", "index.html")).read()


def test_loader_workers_leave_ctrl_c_to_the_main_process():
    import signal

    from ppimg2img.data import _worker_init
    before = signal.getsignal(signal.SIGINT)
    try:
        _worker_init(0)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_resume_with_another_batch_size_keeps_the_images_done(tmp_path, caplog):
    import logging
    t = _trainer(tmp_path, "bs", **{"train.max_iters": 1, "train.batch_size": 2})
    t.train(progress=False)
    t2 = _trainer(tmp_path, "bs2", **{"train.max_iters": 3, "train.batch_size": 1})
    with caplog.at_level(logging.WARNING, logger="ppimg2img"):
        t2.resume(t.latest_path)
    assert t2.epoch_iter == 2  # 1 batch of 2 images = 2 batches of 1
    assert "images per iteration changed from 2 to 1" in caplog.text


def test_loader_workers_start_after_multithreaded_opencv_in_the_main_process(tmp_path):
    """A multi-threaded OpenCV call in the main process before training (faces, visuals, data
    generation) must not make the forked loader workers hang in their cv2.setNumThreads(1)."""
    import subprocess
    import sys
    code = (
        "import cv2, numpy as np\n"
        "cv2.GaussianBlur(np.random.rand(1024, 1024).astype(np.float32), (5, 5), 1.0)  # starts OpenCV's pool\n"
        "from ppimg2img.config import load_config\n"
        "from ppimg2img.engine.trainer import Trainer\n"
        f"t = Trainer(load_config({tiny_cyclegan_config(tmp_path)!r}, ['train.max_iters=2', 'train.num_workers=2']))\n"
        "t.train(progress=False)\n"
        "print('trained', t.iter)\n")
    import signal
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,  # so a hang can be cleaned up with its workers
                            env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))})
    try:
        stdout, stderr = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("training hung: the loader workers deadlocked in OpenCV")
    assert proc.returncode == 0 and "trained 2" in stdout, stderr[-2000:]
