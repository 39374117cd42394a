"""What every model shares: named nets, optimizers and schedulers, and their checkpoint state."""
import paddle

from ..engine.checkpoint import CheckpointError, load_net_state, optimizer_state, set_optimizer_state
from ..schedulers import build_lr_scheduler


OPTIMIZERS = ("adam", "rmsprop")


def build_optimizer(parameters, scheduler, name="adam", beta1=0.5, beta2=0.999, weight_decay=0.0, alpha=0.99,
                    eps=1e-8):
    """The optimizer of a net group, with the originals' numerics.

    - 'adam': torch.optim.Adam with the CycleGAN/pix2pix/DCGAN default beta1 0.5 (beta2 0.999);
      ``weight_decay`` is coupled L2, as in torch.optim.Adam.
    - 'rmsprop': torch.optim.RMSprop (WGAN, Arjovsky et al. 2017, alg. 1: lr 5e-5), smoothing
      ``alpha`` 0.99, ``eps`` 1e-8, no momentum. PyTorch adds eps outside the square root and
      Paddle inside, so Paddle gets eps**2: sqrt(v + eps**2) equals sqrt(v) + eps at both ends.

    Args:
        name: 'adam' or 'rmsprop' (WGAN).
        beta1: Adam's first-moment decay (the originals' 0.5).
        beta2: Adam's second-moment decay (0.999; WGAN-GP: 0.9).
        weight_decay: coupled L2 weight decay (U-GAT-IT: 1e-4).
        alpha: RMSprop's smoothing constant (torch's default 0.99).
        eps: RMSprop's epsilon as PyTorch defines it (1e-8).
    """
    if name == "adam":
        return paddle.optimizer.Adam(learning_rate=scheduler, beta1=beta1, beta2=beta2,
                                     parameters=parameters, weight_decay=weight_decay or None,
                                     use_multi_tensor=True)
    if name == "rmsprop":
        return paddle.optimizer.RMSProp(learning_rate=scheduler, rho=alpha, epsilon=eps ** 2, momentum=0.0,
                                        centered=False, parameters=parameters, weight_decay=weight_decay or None)
    raise ValueError(f"optimizer '{name}' is not supported; use one of {', '.join(OPTIMIZERS)}")


def set_requires_grad(nets, requires_grad):
    """Freeze or unfreeze parameters (the original's set_requires_grad)."""
    for net in nets:
        for p in net.parameters():
            p.stop_gradient = not requires_grad


class BaseModel:
    """Holds ``nets``, ``optimizers`` and ``schedulers`` dicts. The contract between a model and
    the engine (trainer, evaluation, export, predictors), in one place:

    Every model
        ``__init__(generator, discriminator, ..., is_train=True, seed=0)``: build ``nets`` (the
        config's ``model`` section is its keyword arguments); ``setup_training(optimizer_cfg,
        scheduler_cfg)``: the optimizers (``setup_optimizers``); ``set_input(batch)``: a loader
        batch; ``train_step()``: one training step, returning ``{loss name: float}``;
        ``visuals()``: rows of ``(label, NCHW tensor)`` for the training grid;
        ``extra_state()``/``set_extra_state()``: whatever else a checkpoint must restore.
    ``kind = 'translation'`` (CycleGAN, pix2pix, U-GAT-IT, photo2cartoon)
        ``translate(images, direction)``; ``directions`` ('AtoB', 'BtoA'); optionally
        ``display_images`` (colorization converts Lab to RGB). Evaluated by
        engine/evaluation/translation.py.
    ``kind = 'generation'`` (GANModel)
        ``generate(z, labels=None)``, ``nz``, ``n_classes``. Evaluated by
        engine/evaluation/generation.py; exported with inputs z (and labels).
    """

    #: what the model does: 'translation' (A -> B) or 'generation' (z -> image)
    kind = "translation"

    #: the static-program step of ``train.fast`` (engine/fast.py), or None for the eager step
    fast_step = None

    def __init__(self):
        self.nets = {}
        self.optimizers = {}
        self.schedulers = {}

    def setup_optimizers(self, groups, optimizer_cfg, scheduler_cfg):
        """``groups``: {optimizer name: [nets]}; one LR scheduler per optimizer."""
        cfg = dict(optimizer_cfg)
        lr = cfg.pop("lr")
        self.optimizer_groups, self.optimizer_cfg = groups, cfg
        for opt_name, nets in groups.items():
            params = [p for net in nets for p in net.parameters()]
            sched = build_lr_scheduler(lr, **scheduler_cfg)
            self.schedulers[opt_name] = sched
            self.optimizers[opt_name] = build_optimizer(params, sched, **cfg)

    def zero_grad(self, name):
        """The original's ``optimizer.zero_grad()``: like torch >= 2.0 it drops the gradients
        (``set_to_zero=False``) instead of zero-filling them, so their memory is free until the
        next backward creates them (the training step's peak is about 60 MB lower for CycleGAN 128)."""
        self.optimizers[name].clear_grad(set_to_zero=False)

    def train(self):
        for net in self.nets.values():
            net.train()

    def eval(self):
        for net in self.nets.values():
            net.eval()

    def update_learning_rate(self, metric=None):
        """Step every scheduler once per epoch, as the original does. ``plateau`` needs ``metric``."""
        for sched in self.schedulers.values():
            if isinstance(sched, paddle.optimizer.lr.ReduceOnPlateau):
                if metric is not None:
                    sched.step(metric)
            else:
                sched.step()

    def set_fast(self, on=True):
        """Run ``train_step`` as static programs on oneDNN kernels (``train.fast``, see
        ppimg2img/engine/fast.py): same losses, gradients and updates within float rounding; CycleGAN
        steps ~2.5x faster on CPU (pix2pix: no faster than eager). The parameters stay shared with
        ``self.nets``; the Adam moments live in the programs and are read/written through ``state_dict``/``set_state_dict``."""
        from ..engine.fast import StaticTrainStep
        if on and self.fast_step is None:
            self.fast_step = StaticTrainStep(self)
        elif not on and self.fast_step is not None:
            for name, opt in self.optimizers.items():  # the eager optimizers continue from the programs' state
                set_optimizer_state(opt, self.fast_step.optimizer_state(name))
            self.fast_step = None
        return self

    def current_lr(self):
        return {name: opt.get_lr() for name, opt in self.optimizers.items()}

    def extra_state(self):
        """Model-specific state for checkpoints (for example image pools)."""
        return {}

    def set_extra_state(self, state):
        pass

    def state_dict(self):
        return {
            "nets": {k: v.state_dict() for k, v in self.nets.items()},
            "optimizers": {k: self.fast_step.optimizer_state(k) if self.fast_step else optimizer_state(v)
                           for k, v in self.optimizers.items()},
            "schedulers": {k: v.state_dict() for k, v in self.schedulers.items()},
            "extra": self.extra_state(),
        }

    def set_state_dict(self, state, source=""):
        self.load_nets(state["nets"], source=source, strict=True)
        for kind, own in (("optimizers", self.optimizers), ("schedulers", self.schedulers)):
            missing = [k for k in own if k not in state[kind]]
            if missing:
                raise CheckpointError(f"{source}: no state for {kind} {missing} in the checkpoint")
        for k, opt in self.optimizers.items():
            set_optimizer_state(opt, state["optimizers"][k])
            if self.fast_step is not None:
                self.fast_step.set_optimizer_state(k, state["optimizers"][k])
        for k, sched in self.schedulers.items():
            sched.set_state_dict(state["schedulers"][k])
        self.set_extra_state(state.get("extra", {}))

    def load_nets(self, nets_state, source="", strict=False):
        """Load the nets found in ``nets_state``; with ``strict`` every net must be present.
        Returns the names loaded."""
        loaded = []
        for name, net in self.nets.items():
            if name in nets_state:
                load_net_state(net, nets_state[name], name, source)
                loaded.append(name)
            elif strict:
                raise CheckpointError(f"{source}: no weights for '{name}' in the checkpoint")
        return loaded
