"""The training engine: data loading, the epoch loop, logs, visuals, checkpoints, evaluation.

Determinism: the data order of epoch ``e`` comes from ``default_rng([seed, e])`` and every
sample's augmentation from ``default_rng([seed, e, index])`` (see the datasets), the image
pools and optimizers are saved, and so a run resumed from any iteration continues exactly as
an uninterrupted one.
"""
import collections
import csv
import datetime
import math
import os
import statistics
import signal
import threading
import time

import numpy as np
import paddle
from tqdm import tqdm

from ..config import ConfigError
from ..data import DATASETS, build_dataset, build_loader
from ..data.synthetic import ensure_synthetic_dataset
from ..data.synthetic_paired import ensure_synthetic_paired
from ..data.transforms import normalize_direction
from ..models import MODELS
from ..nets import onednn_conv
from ..utils.env import logger, peak_memory_mb, rng_state, set_device, set_rng_state, set_seed, set_threads
from . import distributed
from .checkpoint import FORMAT, CheckpointError, atomic_save, load_file
from .plots import plot_run_losses
from .visual import save_grid, write_training_page


#: ``train.fast: auto`` takes the static oneDNN step only for runs of at least this many iterations. Its first
#: step builds the programs (15-60 s); a CycleGAN 128 px step then saves ~2.4 s (4.02 -> 1.61 s), repaid in
#: ~25 steps, but small steps save little or nothing (64 px ngf 16, the quickstart's 800 iterations: 0.27 vs
#: 0.25 s), so the threshold leaves the quickstarts and tests on the eager step.
AUTO_FAST_MIN_ITERS = 1000
#: ... and only for steps of at least this much work, batch x height x width x ngf^2 (it grows as the convolutions'
#: multiply-adds): 64 px at ngf 64 or 128 px at ngf 32, where the fast step was measured 1.1-2.4x faster
#: (0.66-1.35 vs 1.25-1.75 s; 1.55 vs 1.67-2.6 s). At a quarter of it (128 px at ngf 16, 64 px at ngf 32) it was
#: no faster or slower (0.4-0.9 vs 0.73-1.3 s; 0.74-0.96 vs 0.50 s), at 64 px ngf 16 (the quickstart) equal
#: (0.27 vs 0.25 s), while it needs 1.4 GB more.
AUTO_FAST_MIN_WORK = 64 * 64 * 64**2
#: ... and only if MemAvailable holds this many times the fast step's estimated peak (fast.estimate_peak_mb).
AUTO_FAST_MEMORY_MARGIN = 1.25


def auto_fast_choice(model, total_iters, batch_size, image_hw, world=1):
    """``train.fast: auto``: ``(use_fast, log line)``. The static oneDNN step (engine/fast.py) is taken
    only for CycleGAN (pix2pix and colorization gain nothing from it), when it is supported here
    (``fast.check_supported``: CPU, not wgangp), in a single process, with a fixed image size ``image_hw``
    (``None``: sizes vary, and each new size builds new programs), for steps of at least
    ``AUTO_FAST_MIN_WORK``, runs of at least ``AUTO_FAST_MIN_ITERS`` iterations, and when its estimated
    peak memory (x ``AUTO_FAST_MEMORY_MARGIN``) fits in the available memory (``fast.available_memory_mb``;
    unknown: eager), and not for ResNet generators when the eager convolutions run on oneDNN (``nets.onednn_conv``:
    then the eager CycleGAN step is as fast as the static one, benchmarks/README.md). Otherwise the eager step,
    which needs about PyTorch's memory."""
    from ..models.cyclegan import CycleGANModel
    from ..models.pix2pix import Pix2PixModel
    from . import fast
    eager = "train.fast auto: eager step"
    lean = "set train.fast: true to use the static oneDNN step anyway"
    name = type(model).__name__
    if not isinstance(model, CycleGANModel):
        if isinstance(model, Pix2PixModel):
            return False, f"{eager} (the static step is no faster than the eager one for {name}); {lean}"
        return False, f"{eager} ({name} has no static step)"
    try:
        fast.check_supported(model)
    except fast.FastPathError as err:
        return False, f"{eager} ({str(err).split(': set train.fast')[0]})"
    from ..nets.resnet_generator import ResnetGenerator
    if onednn_conv.available() and isinstance(model.nets["netG_A"], ResnetGenerator):
        return False, (f"{eager} (its convolutions run on oneDNN, as fast as the static step at less than half its "
                       f"memory); {lean}")
    if world > 1:
        return False, f"{eager} (the static step is for single-process training; this run has {world} processes)"
    if image_hw is None:
        return False, (f"{eager} (the training images have no fixed size, and the static step builds its programs "
                       f"again for every new size: use a preprocess with crop); {lean}")
    work = batch_size * image_hw[0] * image_hw[1] * fast.model_width(model) ** 2
    if work < AUTO_FAST_MIN_WORK:
        return False, (f"{eager} (a step this small, batch {batch_size} x {image_hw[0]}x{image_hw[1]} px at ngf "
                       f"{fast.model_width(model)}, is no faster as static programs); {lean}")
    if total_iters < AUTO_FAST_MIN_ITERS:
        return False, (f"{eager} ({total_iters} iterations do not repay the static step's 15-60 s build: auto "
                       f"uses it from {AUTO_FAST_MIN_ITERS}); {lean}")
    need = fast.estimate_peak_mb(model, batch_size, *image_hw)
    have = fast.available_memory_mb()
    if have is None:
        return False, (f"{eager} (the static step needs about {need / 1024:.1f} GB and the available memory "
                       f"cannot be read here); {lean}")
    if need * AUTO_FAST_MEMORY_MARGIN > have:
        return False, (f"{eager} (only {have / 1024:.1f} GB available; the static step needs about "
                       f"{need / 1024:.1f} GB, plus a {AUTO_FAST_MEMORY_MARGIN - 1:.0%} margin); {lean}")
    return True, (f"train.fast auto: static oneDNN step (1.5-2.5x faster than eager on CPU; needs about "
                  f"{need / 1024:.1f} GB, {have / 1024:.1f} GB available; the first step builds it); set "
                  f"train.fast: false for the lean eager step")


class TrainingDivergedError(RuntimeError):
    """A loss became NaN or infinite; training stopped and the last good checkpoint is kept."""


class EpochBatchSampler(paddle.io.BatchSampler):
    """Batches of one epoch in a seeded order; ``skip`` drops batches already trained on
    (used when resuming in the middle of an epoch). In a data-parallel job every process draws the
    same order and takes its own slice of each global batch (``distributed.shard_order``), so
    the shards differ per rank and per epoch and the union is the single-process epoch."""

    def __init__(self, num_samples, batch_size, shuffle=True, seed=0):  # noqa: D107 - no super(): no sampler
        self.num_samples, self.batch_size = num_samples, batch_size
        self.shuffle, self.seed = shuffle, seed
        self.epoch, self.skip = 1, 0

    def batches(self):
        order = (np.random.default_rng([self.seed, self.epoch]).permutation(self.num_samples)
                 if self.shuffle else np.arange(self.num_samples))
        if distributed.world_size() > 1:
            return distributed.shard_order(order, self.batch_size)
        return [order[i:i + self.batch_size].tolist() for i in range(0, self.num_samples, self.batch_size)]

    def __iter__(self):
        yield from self.batches()[self.skip:]

    def __len__(self):
        return math.ceil(self.num_samples / (self.batch_size * distributed.world_size())) - self.skip


class Trainer:
    """Builds everything a config describes and runs training / evaluation in ``run_dir``."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.run_dir = cfg["output_dir"]
        os.makedirs(self.run_dir, exist_ok=True)
        # data parallel when launched with paddle.distributed.launch; rank 0 alone writes files
        self.world, self.rank = distributed.world_size(), distributed.rank()
        self.is_main = self.rank == 0
        self.device = set_device(None if cfg["device"] == "auto" else cfg["device"])
        distributed.init()
        self.threads = set_threads(cfg["threads"])
        set_seed(cfg["seed"])

        ds_cfg = cfg["dataset"]
        gen_cfg = cfg["model"]["generator"]
        for split in ("train", "test"):
            if ds_cfg[split] is not None and "direction" in ds_cfg[split]:  # a2b/b2a -> AtoB/BtoA
                ds_cfg[split]["direction"] = normalize_direction(ds_cfg[split]["direction"])
        for key in ("input_nc", "output_nc"):
            for split in ("train", "test"):
                # datasets without the key (colorization: L -> ab) define their channels themselves
                if ds_cfg[split] is not None and key in ds_cfg[split] and gen_cfg.get(key, 3) != ds_cfg[split][key]:
                    raise ConfigError(f"model.generator.{key} is {gen_cfg.get(key, 3)} but dataset.{split}.{key} "
                                      f"is {ds_cfg[split][key]}: set both to the same number of channels")
        if ds_cfg["synthetic"] is not None:
            syn = dict(ds_cfg["synthetic"])
            kind = syn.pop("kind", None) or ("paired" if getattr(DATASETS.get(ds_cfg["train"]["name"]), "paired", False)
                                             else "unpaired")
            make = ensure_synthetic_paired if kind == "paired" else ensure_synthetic_dataset
            make(ds_cfg["train"]["dataroot"], **syn)
        model_cfg = dict(cfg["model"])
        self.model = MODELS[model_cfg.pop("name")](**model_cfg, seed=cfg["seed"])
        if self.world > 1 and cfg["train"]["sync_batchnorm"]:
            distributed.convert_sync_batchnorm(self.model)  # before the optimizers take the parameters
        self.model.setup_training(cfg["optimizer"], cfg["lr_scheduler"])
        if cfg["train"].get("fast") is True:
            self._enable_fast()
        if self.world > 1:
            wrapped = distributed.wrap_trainable_nets(self.model)
            distributed.log_setup(cfg["train"]["batch_size"], cfg["optimizer"]["lr"], wrapped)

        sched = cfg["lr_scheduler"]
        self.total_epochs = cfg["train"]["epochs"] or (sched["n_epochs"] + sched["n_epochs_decay"])
        # the original starts at --epoch_count (1 unless continuing an old run by hand)
        self.epoch, self.iter, self.epoch_iter = sched["epoch_count"], 0, 0
        self.epoch_loss = 0.0  # sum of this epoch's losses, for the 'plateau' LR policy
        self.latest_path = os.path.join(self.run_dir, "checkpoints", "latest.pdckpt")
        self._train_loader = None
        self.fast_auto = None  # train.fast auto: (use_fast, reason), decided when training starts
        # callables hook(trainer) run before each training step (trainer.iter = iterations done);
        # the tests use one to send Ctrl-C at a known iteration instead of timing a signal
        self.before_step = []

    def _enable_fast(self):
        """``train.fast``: the training step as static programs on oneDNN (engine/fast.py)."""
        from .fast import FastPathError
        if self.world > 1:
            raise ConfigError("train.fast is for single-process CPU training; set train.fast: false for "
                              "multi-process runs")
        try:
            self.model.set_fast(True)
        except FastPathError as err:
            raise ConfigError(str(err)) from None
        logger.info("train.fast: training steps run as static programs on oneDNN kernels (the first step "
                    "builds them and takes longer)")

    def _choose_fast(self, total_iters):
        """``train.fast: auto`` (the default): pick the step with :func:`auto_fast_choice`, once per run (a
        resumed run decides again, the same way: from the run's total iterations, not the ones left)."""
        ds = self.train_set
        preprocess = getattr(ds, "preprocess", None)
        crop = getattr(ds, "crop_size", None)
        hw = (crop, crop) if isinstance(preprocess, str) and "crop" in preprocess and crop else None
        use, reason = auto_fast_choice(self.model, total_iters, self.cfg["train"]["batch_size"], hw, self.world)
        if use:
            self.model.set_fast(True)
        self.fast_auto = (use, reason)
        logger.info(reason)

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_state(self):
        return {"format": FORMAT, "version": 1, **self.model.state_dict(),
                "epoch": self.epoch, "iter": self.iter, "epoch_iter": self.epoch_iter,
                "epoch_loss": self.epoch_loss, "batch_size": self.cfg["train"]["batch_size"],
                "world_size": self.world,
                "rng": rng_state(), "config": self.cfg}

    def save_checkpoint(self, path=None):
        """Write a checkpoint (process 0 only: every process holds the same weights)."""
        path = path or self.latest_path
        if self.is_main:
            atomic_save(self.checkpoint_state(), path)
        return path

    def resume(self, path):
        """Restore nets, optimizers, schedulers, pools, counters and RNG states."""
        state = load_file(path)
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise CheckpointError(f"{path}: not a full ppimg2img checkpoint (it has no optimizer and "
                                  f"counter state). Use --load for weight files.")
        missing = [k for k in ("nets", "optimizers", "schedulers", "epoch", "iter", "epoch_iter", "rng")
                   if k not in state]
        if missing:
            raise CheckpointError(f"{path}: incomplete checkpoint, missing {missing}")
        self.model.set_state_dict(state, source=path)
        self.epoch, self.iter, self.epoch_iter = state["epoch"], state["iter"], state["epoch_iter"]
        # images per iteration = batch per process x processes; a checkpoint of an N-process run
        # resumes in M processes at the same image of the epoch
        old_bs = state.get("batch_size", self.cfg["train"]["batch_size"]) * state.get("world_size", 1)
        new_bs = self.cfg["train"]["batch_size"] * self.world
        if old_bs != new_bs:
            self.epoch_iter = self.epoch_iter * old_bs // new_bs  # same images done, in new batches
            logger.warning("images per iteration changed from %d to %d (batch size x processes): the run "
                           "continues, but not exactly as an uninterrupted run would", old_bs, new_bs)
        self._truncate_loss_log()
        self.epoch_loss = state.get("epoch_loss", 0.0)
        seed = state.get("config", {}).get("seed", self.cfg["seed"])
        if seed != self.cfg["seed"]:
            logger.warning("resuming with the checkpoint's seed %d (config says %d): the data order "
                           "must stay the one the run started with", seed, self.cfg["seed"])
            self.cfg["seed"] = seed
            self._train_loader = None
        set_rng_state(state["rng"])
        logger.info("resumed from %s at epoch %d, iteration %d", path, self.epoch, self.iter)

    def _truncate_loss_log(self):
        """Drop losses.csv rows after the resumed iteration (they belong to the abandoned future)."""
        path = os.path.join(self.run_dir, "losses.csv")
        if not self.is_main or not os.path.exists(path):
            return
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        kept = rows[:1] + [r for r in rows[1:] if int(r[1]) <= self.iter]
        with open(path + ".tmp", "w", newline="") as f:
            csv.writer(f).writerows(kept)
        os.replace(path + ".tmp", path)

    def load_weights(self, path):
        """Load network weights only, from a full checkpoint or a {net name: state_dict} file."""
        state = load_file(path)
        nets = state.get("nets", state) if isinstance(state, dict) else None
        loaded = self.model.load_nets(nets, source=path) if isinstance(nets, dict) else []
        if not loaded:
            raise CheckpointError(f"{path}: found no weights for any of {list(self.model.nets)}; "
                                  f"expected a ppimg2img checkpoint or a dict keyed by net name")
        logger.info("loaded weights of %s from %s", ", ".join(loaded), path)
        return loaded

    # ------------------------------------------------------------------ training
    def _loader(self):
        if self._train_loader is None:
            tcfg = self.cfg["train"]
            ds_cfg = dict(self.cfg["dataset"]["train"])
            self.train_set = build_dataset(ds_cfg.pop("name"), **ds_cfg, seed=self.cfg["seed"])
            self.sampler = EpochBatchSampler(len(self.train_set), tcfg["batch_size"],
                                             shuffle=not ds_cfg.get("serial_batches", False),
                                             seed=self.cfg["seed"])
            self._train_loader = build_loader(self.train_set, batch_sampler=self.sampler,
                                              num_workers=tcfg["num_workers"])
        return self._train_loader

    def train(self, progress=True):
        """Train until ``train.epochs`` (or ``train.max_iters``, or Ctrl-C); returns the last losses."""
        tcfg = self.cfg["train"]
        progress = progress and self.is_main
        loader = self._loader()
        n_batches = len(self.sampler.batches())
        total_iters = self.total_epochs * n_batches
        if tcfg["max_iters"]:
            total_iters = min(total_iters, tcfg["max_iters"])
        if tcfg.get("fast") == "auto" and self.fast_auto is None:
            self._choose_fast(total_iters)
        logger.info("training %s on %d images (%d batches of %d per epoch), epochs %d-%d, %d threads, %s",
                    type(self.model).__name__, len(self.train_set), n_batches, tcfg["batch_size"],
                    self.epoch, self.total_epochs, self.threads, self.device)
        self._vdl = self._visualdl() if tcfg["visualdl"] and self.is_main else None
        self._step_time = None
        # train_step() durations of the last steps: images/s in the log = images per step / their
        # median, as benchmarks/run.py measures a training step (data loading is logged apart)
        self._compute_times = collections.deque(maxlen=max(tcfg["log_interval"], 5))
        self.interrupted = False
        self.skipped_files = set()  # 'path: reason' of unreadable training images met in this run
        self.model.train()
        losses, start_iter, t_start = {}, self.iter, time.time()
        previous_handler = self._catch_ctrl_c()
        try:
            stop = False
            while self.epoch <= self.total_epochs and not stop:
                losses, stop = self._train_epoch(loader, n_batches, total_iters, progress)
                self.save_checkpoint()
        finally:
            if previous_handler is not None:
                signal.signal(signal.SIGINT, previous_handler)
            if self._vdl is not None:
                self._vdl.close()
        if self.interrupted:
            logger.warning("stopped by Ctrl-C after iteration %d; continue with --resume %s",
                           self.iter, self.latest_path)
        if self.skipped_files:
            logger.warning("%d unreadable training image(s) were skipped (replaced by the next image):\n  %s",
                           len(self.skipped_files), "\n  ".join(sorted(self.skipped_files)))
        elapsed = time.time() - t_start
        if self.is_main and self.iter > start_iter:
            plot_run_losses(self.run_dir)  # losses.png next to losses.csv
        if self.iter > start_iter and self.iter % tcfg["visual_interval"] != 0:
            self.save_visuals()  # the final state, unless just saved
        else:
            self.write_training_page()  # links the new loss plot
        logger.info("training done: %d iterations in %.1f s (%.2f it/s), checkpoint %s",
                    self.iter - start_iter, elapsed, (self.iter - start_iter) / max(elapsed, 1e-9),
                    self.latest_path)
        return losses

    def _train_epoch(self, loader, n_batches, total_iters, progress):
        """The rest of the current epoch; returns (last losses, whether to stop early)."""
        tcfg = self.cfg["train"]
        max_iters = tcfg["max_iters"]
        self.train_set.set_epoch(self.epoch)
        self.sampler.epoch, self.sampler.skip = self.epoch, self.epoch_iter
        losses, stop = {}, False
        bar = tqdm(total=n_batches, initial=self.epoch_iter, desc=f"epoch {self.epoch}/{self.total_epochs}",
                   disable=not progress, leave=False, dynamic_ncols=True)
        t_data = time.time()
        for batch in loader:
            t0 = time.time()
            data_time = t0 - t_data
            self.model.set_input(batch)
            self.skipped_files.update(line for item in batch.get("skipped", []) for line in item.split("\n") if line)
            for hook in self.before_step:
                hook(self)
            t_step = time.time()
            losses = self.model.train_step()
            self._compute_times.append(time.time() - t_step)
            self._check_finite(losses)
            self.epoch_loss += sum(losses.values())
            self.iter += 1
            self.epoch_iter += 1
            t_data = time.time()
            dt = t_data - t0 + data_time
            self._step_time = dt if self._step_time is None else 0.9 * self._step_time + 0.1 * dt
            bar.update(1)
            bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)
            if self.iter % tcfg["log_interval"] == 0 or self.iter == max_iters:
                self._log(losses, data_time, total_iters)
            if self.iter % tcfg["visual_interval"] == 0:
                self.save_visuals()
            if self.iter % tcfg["save_latest_interval"] == 0:
                self.save_checkpoint()
            if self.interrupted or (max_iters and self.iter >= max_iters):
                stop = True
                break
        bar.close()
        if self.epoch_iter >= n_batches:  # the epoch is complete
            # 'plateau' watches the epoch's mean total loss (the original passes a constant 0)
            self.model.update_learning_rate(metric=self.epoch_loss / max(self.epoch_iter, 1))
            self.epoch_loss = 0.0
            done, self.epoch, self.epoch_iter = self.epoch, self.epoch + 1, 0
            if done % tcfg["save_epoch_interval"] == 0:
                self.save_checkpoint(os.path.join(self.run_dir, "checkpoints", f"epoch_{done:03d}.pdckpt"))
            interval = tcfg.get("eval_epoch_interval")
            if interval and done % interval == 0 and done < self.total_epochs and self.cfg["dataset"]["test"]:
                self.evaluate(tag=f"epoch_{done:03d}", progress=False)  # validation during training
        return losses, stop

    def _catch_ctrl_c(self):
        """First Ctrl-C: finish the current iteration, save 'latest' and stop. Second: abort."""
        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum, frame):
            if self.interrupted:
                raise KeyboardInterrupt
            self.interrupted = True
            logger.warning("Ctrl-C: finishing this iteration, then saving the latest checkpoint "
                           "(press Ctrl-C again to abort without saving)")
        return signal.signal(signal.SIGINT, handler)

    def _check_finite(self, losses):
        bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
        if bad:
            last = self.latest_path if os.path.exists(self.latest_path) else "none written yet"
            msg = (f"loss {', '.join(f'{k}={v}' for k, v in bad.items())} at epoch {self.epoch}, iteration "
                   f"{self.iter + 1}: training stopped and nothing was saved over the last good checkpoint "
                   f"({last}). Lower optimizer.lr, check the data, or resume from that checkpoint.")
            logger.error(msg)
            raise TrainingDivergedError(msg)

    def _log(self, losses, data_time, total_iters):
        """Console, train.log, losses.csv (and VisualDL): process 0's losses; images/s of the whole job."""
        if not self.is_main:
            return
        lr = self.model.current_lr()
        bs = self.cfg["train"]["batch_size"] * self.world
        step_time = self._step_time
        compute_time = statistics.median(self._compute_times) if self._compute_times else step_time
        csv_path = os.path.join(self.run_dir, "losses.csv")
        eta = max(total_iters - self.iter, 0) * step_time
        # peak mem: the process's peak RSS (CPU), as the benchmark's peak MB
        logger.info("epoch %d iter %d | %s | lr %s | %.2f img/s, data %.3fs | eta %s | peak mem %.0f MB",
                    self.epoch, self.iter, " ".join(f"{k} {v:.3f}" for k, v in losses.items()),
                    " ".join(f"{v:.2e}" for v in lr.values()), bs / max(compute_time, 1e-9), data_time,
                    datetime.timedelta(seconds=round(eta)), peak_memory_mb())
        new = not os.path.exists(csv_path)
        with open(csv_path, "a", newline="") as f:
            w = csv.writer(f)
            if new:
                w.writerow(["epoch", "iter"] + list(losses) + [f"lr_{k}" for k in lr])
            w.writerow([self.epoch, self.iter] + [f"{v:.6g}" for v in losses.values()] + list(lr.values()))
        if self._vdl is not None:
            for k, v in losses.items():
                self._vdl.add_scalar(f"loss/{k}", v, self.iter)

    def _visualdl(self):
        try:
            from visualdl import LogWriter
        except ImportError:
            logger.warning("train.visualdl is on but VisualDL is not installed: pip install visualdl")
            return None
        return LogWriter(logdir=os.path.join(self.run_dir, "visualdl"))

    def save_visuals(self):
        path = os.path.join(self.run_dir, "web", "images", f"epoch{self.epoch:03d}_iter{self.iter:07d}.png")
        if not self.is_main:
            return path
        save_grid(self.model.visuals(), path)
        self.write_training_page()
        return path

    def write_training_page(self):
        if not self.is_main:
            return
        eval_dir = os.path.join(self.run_dir, "eval")
        tags = sorted(os.listdir(eval_dir)) if os.path.isdir(eval_dir) else []
        links = [(f"eval/{tag}/index.html", f"evaluation: {tag}") for tag in tags]
        if os.path.exists(os.path.join(self.run_dir, "losses.png")):
            links.append(("losses.png", "loss curves"))
        links += [("train.log", "train.log"), ("losses.csv", "losses.csv"), ("config.yaml", "config.yaml")]
        notes = [f"iteration {self.iter}, epoch {min(self.epoch, self.total_epochs)} of {self.total_epochs}"]
        write_training_page(self.run_dir, f"{self.cfg['name']}: training visuals", notes, links)
    # ------------------------------------------------------------------ evaluation
    def evaluate(self, tag="latest", progress=True):
        """Evaluate the model on ``dataset.test`` into ``<run>/eval/<tag>/`` (pages, metrics.json):
        translation models by engine/evaluation/translation.py, generation models (``model.kind``
        'generation') by engine/evaluation/generation.py. Returns the metrics."""
        from .evaluation import evaluate
        return evaluate(self, tag, progress)
