"""LR policies: lr sequence per epoch for each policy, state round-trip, errors."""
import inspect
import math

import paddle
import pytest

from ppimg2img.schedulers import build_lr_scheduler


def lrs(sched, n, metrics=None):
    out = []
    for i in range(n):
        out.append(sched.last_lr)
        sched.step(metrics[i]) if metrics else sched.step()
    return out


def test_linear():
    s = build_lr_scheduler(0.3, "linear", n_epochs=2, n_epochs_decay=2)
    assert lrs(s, 4) == pytest.approx([0.3, 0.3, 0.2, 0.1])


def test_linear_resumed_epoch_count():
    # epoch_count 3 = resume at the third epoch: the sequence continues where it was
    s = build_lr_scheduler(0.3, "linear", n_epochs=2, n_epochs_decay=2, epoch_count=3)
    assert lrs(s, 2) == pytest.approx([0.2, 0.1])


def test_step():
    s = build_lr_scheduler(1.0, "step", lr_decay_iters=2)
    assert lrs(s, 5) == pytest.approx([1, 1, 0.1, 0.1, 0.01])


def test_cosine():
    s = build_lr_scheduler(1.0, "cosine", n_epochs=4)
    assert lrs(s, 5) == pytest.approx([(1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)], abs=1e-9)


def test_plateau():
    s = build_lr_scheduler(1.0, "plateau")
    # improves for 2 epochs, then flat: after patience 5 bad epochs lr *= 0.2
    metrics = [1.0, 0.5] + [0.5] * 7
    seq = lrs(s, len(metrics), metrics) + [s.last_lr]
    assert seq[:8] == pytest.approx([1.0] * 8)
    assert seq[8] == pytest.approx(0.2)


@pytest.mark.parametrize("policy", ["linear", "step", "cosine", "plateau"])
def test_state_round_trip(policy):
    kw = dict(n_epochs=3, n_epochs_decay=3, lr_decay_iters=2)
    step = (lambda s: s.step(1.0)) if policy == "plateau" else (lambda s: s.step())
    a = build_lr_scheduler(0.1, policy, **kw)
    for _ in range(7 if policy == "plateau" else 4):
        step(a)
    b = build_lr_scheduler(0.1, policy, **kw)
    b.set_state_dict(a.state_dict())
    assert b.last_epoch == a.last_epoch
    for _ in range(2):
        step(a)
        step(b)
        assert b.last_lr == pytest.approx(a.last_lr)
    assert b.last_lr != pytest.approx(0.1) or policy == "cosine"


def test_drives_optimizer():
    layer = paddle.nn.Linear(2, 2)
    s = build_lr_scheduler(0.5, "linear", n_epochs=1, n_epochs_decay=1)
    opt = paddle.optimizer.Adam(learning_rate=s, parameters=layer.parameters())
    assert opt.get_lr() == pytest.approx(0.5)
    s.step()
    assert opt.get_lr() == pytest.approx(0.25)


def test_signature_and_errors():
    params = inspect.signature(build_lr_scheduler).parameters
    assert {k: p.default for k, p in params.items() if k != "optimizer_lr"} == dict(
        policy="linear", n_epochs=100, n_epochs_decay=100, epoch_count=1, lr_decay_iters=50)
    with pytest.raises(ValueError, match="linear, step, cosine, plateau"):
        build_lr_scheduler(0.1, "exponential")


def test_linear_never_goes_negative_past_the_schedule():
    s = build_lr_scheduler(2e-4, "linear", n_epochs=100, n_epochs_decay=100, epoch_count=51)
    lrs = []
    for _ in range(200):
        s.step()
        lrs.append(s.last_lr)
    assert min(lrs) == 0.0 and lrs[-1] == 0.0
