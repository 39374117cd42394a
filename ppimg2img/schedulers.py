"""Learning-rate policies, as ``get_scheduler`` in the original networks.py.

All schedulers are stepped once per EPOCH (``scheduler.step()``; 'plateau' takes the
metric: ``scheduler.step(metric)``). Upstream defaults: policy 'linear', n_epochs 100,
n_epochs_decay 100, epoch_count 1, lr_decay_iters 50.
"""
from paddle.optimizer import lr as lr_sched

LR_POLICIES = ("linear", "step", "cosine", "plateau")


def build_lr_scheduler(optimizer_lr: float, policy: str = "linear", n_epochs: int = 100,
                       n_epochs_decay: int = 100, epoch_count: int = 1,
                       lr_decay_iters: int = 50) -> lr_sched.LRScheduler:
    """Return a paddle LRScheduler starting at ``optimizer_lr``.

    - 'linear': keep lr for ``n_epochs`` epochs, then decay linearly to 0 over
      ``n_epochs_decay`` epochs (factor 1 - max(0, epoch + epoch_count - n_epochs) / (n_epochs_decay + 1),
      never below 0); ``epoch_count`` is the epoch a run starts at (the trainer starts there),
    - 'step': multiply by 0.1 every ``lr_decay_iters`` epochs,
    - 'cosine': cosine annealing to 0 over ``n_epochs`` epochs,
    - 'plateau': multiply by 0.2 when the metric has not improved by 1% for 5 epochs.
    Pass the result as the optimizer's ``learning_rate``.
    """
    if policy == "linear":
        def lambda_rule(epoch):
            # clamped at 0: epochs past n_epochs + n_epochs_decay must not turn the lr negative
            return max(0.0, 1.0 - max(0, epoch + epoch_count - n_epochs) / float(n_epochs_decay + 1))
        return lr_sched.LambdaDecay(optimizer_lr, lr_lambda=lambda_rule)
    if policy == "step":
        return lr_sched.StepDecay(optimizer_lr, step_size=lr_decay_iters, gamma=0.1)
    if policy == "cosine":
        return lr_sched.CosineAnnealingDecay(optimizer_lr, T_max=n_epochs, eta_min=0)
    if policy == "plateau":
        return lr_sched.ReduceOnPlateau(optimizer_lr, mode="min", factor=0.2, threshold=0.01, patience=5)
    raise ValueError(f"unknown lr policy {policy!r}; valid: {', '.join(LR_POLICIES)}")
