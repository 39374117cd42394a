"""The training engine: data loading, the epoch loop, logs, visuals, checkpoints, evaluation.

Determinism: the data order of epoch ``e`` comes from ``default_rng([seed, e])`` and every
sample's augmentation from ``default_rng([seed, e, index])`` (see the datasets), the image
pools and optimizers are saved, and so a run resumed from any iteration continues exactly as
an uninterrupted one.
"""
import collections
import csv
import datetime
import json
import math
import os
import statistics
import signal
import threading
import time
from contextlib import contextmanager

import numpy as np
import paddle
from PIL import Image
from tqdm import tqdm

from ..config import ConfigError
from ..data import DATASETS, build_dataset, build_loader
from ..data.synthetic import ensure_synthetic_dataset
from ..data.synthetic_paired import ensure_synthetic_paired
from ..data.transforms import apply_transform, get_transform_params, normalize_direction
from ..metrics import psnr, ssim
from ..models import MODELS
from ..utils.env import logger, peak_memory_mb, rng_state, set_device, set_rng_state, set_seed, set_threads
from ..utils.image_io import image_to_array, list_images, load_image, save_image, tensor_to_image
from . import distributed
from .checkpoint import FORMAT, CheckpointError, atomic_save, load_file
from .plots import plot_run_losses
from .visual import save_grid, write_results_page, write_training_page


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
        if cfg["train"].get("fast"):
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
    @contextmanager
    def _inference_mode(self, mode):
        """'eval': running BatchNorm statistics, no dropout. 'train_norm': the nets stay in train
        mode (batch statistics, dropout on) as the original test.py; the BatchNorm running
        statistics it would update, and the random states dropout draws from, are restored
        afterwards, so evaluating during training does not change the training run."""
        saved, rng = {}, rng_state()
        if mode == "train_norm":
            saved = {(n, k): v.numpy().copy() for n, net in self.model.nets.items()
                     for k, v in net.state_dict().items() if k.endswith(("._mean", "._variance"))}
            self.model.train()
        else:
            self.model.eval()
        try:
            yield
        finally:
            for (n, k), value in saved.items():
                self.model.nets[n].state_dict()[k].set_value(value)
            set_rng_state(rng)
            self.model.train()

    def evaluate(self, tag="latest", progress=True):
        """Translate the test set with each generator, write images, an HTML page and metrics.

        Paired test sets (AlignedDataset, ColorizationDataset) compare each output with the
        item's other half; unpaired ones use ``test<X>_gt`` folders when they exist (as the
        synthetic dataset has). PSNR/SSIM always when there is ground truth; FID/KID when
        ``eval.fid``/``eval.kid`` are on, against the real images of the target domain.
        Directions are the model's: AtoB runs G_A on what the dataset calls A (``testB`` when
        ``direction: BtoA``); one-generator models (pix2pix) only have AtoB."""
        if getattr(self.model, "kind", "translation") == "generation":
            from .evaluation.generation import evaluate_generation
            return evaluate_generation(self, tag, progress)
        test_cfg = self.cfg["dataset"]["test"]
        if test_cfg is None:
            logger.warning("dataset.test is not set: nothing to evaluate")
            return {}
        ecfg = self.cfg["eval"]
        progress = progress and self.is_main
        out_dir = os.path.join(self.run_dir, "eval", tag)
        model_dirs = getattr(self.model, "directions", ("AtoB", "BtoA"))
        directions = [d for d in ecfg["directions"] if d in model_dirs]
        if not directions:
            logger.warning("eval.directions %s: %s translates only %s", ecfg["directions"],
                           type(self.model).__name__, list(model_dirs))
        paired = getattr(DATASETS.get(test_cfg["name"]), "paired", False)
        results, lines = {}, []
        with self._inference_mode(ecfg["inference_mode"]):
            for direction in directions:
                run = self._evaluate_paired if paired else self._evaluate_direction
                res, line = run(test_cfg, direction, os.path.join(out_dir, direction),
                                f"{self.cfg['name']} {direction} ({tag})", progress)
                logger.info("evaluation %s", line)
                lines.append(line)
                if res is not None:
                    results[direction] = res
        if not self.is_main:  # the other processes translated their share; process 0 reports
            return results
        lines.append(f"inference mode: {ecfg['inference_mode']} ("
                     + ("running BatchNorm statistics, dropout off" if ecfg["inference_mode"] == "eval"
                        else "batch statistics and dropout on, as the original test.py") + ")")
        if self.world > 1:
            lines.append(f"translated by {self.world} processes, each a share of the test set")
        os.makedirs(out_dir, exist_ok=True)
        tmp = os.path.join(out_dir, "metrics.json.tmp")
        with open(tmp, "w") as f:
            json.dump(results, f, indent=2)
        os.replace(tmp, os.path.join(out_dir, "metrics.json"))
        write_results_page(out_dir, f"{self.cfg['name']} evaluation ({tag})", [], [], lines,
                           [(f"{d}/index.html", d) for d in results])
        self.write_training_page()
        return results

    def _score(self, fake, gt, src_img):
        """PSNR/SSIM of one output against its ground truth, and the identity baseline."""
        ecfg = self.cfg["eval"]
        kw = dict(y_channel=ecfg["y_channel"], crop_border=ecfg["crop_border"])
        ident = psnr(src_img, gt, **kw) if src_img.shape == gt.shape else float("nan")
        return psnr(fake, gt, **kw), ssim(fake, gt, **kw), ident

    def _summary(self, direction, res, psnrs, ssims, baseline, n, failed, gt_where):
        if psnrs:
            res.update(psnr=float(np.mean(psnrs)), ssim=float(np.mean(ssims)), identity_psnr=float(np.mean(baseline)))
            channel = " (Y channel)" if self.cfg["eval"]["y_channel"] else ""
            line = (f"{direction}: PSNR{channel} {res['psnr']:.2f} dB (identity baseline {res['identity_psnr']:.2f} dB), "
                    f"SSIM {res['ssim']:.3f} over {n} images")
        else:
            line = f"{direction}: translated {n} images (no ground truth in {gt_where})"
        for key in ("fid", "kid"):
            if key in res:
                r = res[key]
                line += (f"; {key.upper()} {r['value']:.4g}" + (f" ± {r['std']:.2g}" if "std" in r else "")
                         + f" ({r['fake_images']} outputs vs {r['real_images']} real images of {r['real_set']}, "
                         f"InceptionV3 pool features at {r['image_size']}, weights {r['weights']})")
            elif f"{key}_error" in res:
                line += f"; {key.upper()} not computed: {res[f'{key}_error']}"
        if failed:
            line += f"; {len(failed)} unreadable files skipped: " + "; ".join(failed)
        return line

    def _distribution_metrics(self, res, fakes, reals, real_set, cache_key):
        """FID/KID of the outputs against the real images (protocol stored with the values)."""
        ecfg = self.cfg["eval"]
        if not (ecfg["fid"] or ecfg["kid"]) or not fakes:
            return
        from ..metrics.fid import (InceptionWeightsError, fid_from_features, kernel_inception_distance,
                                   load_statistics, save_statistics)
        try:
            extractor = self._inception()
        except InceptionWeightsError as err:
            for key in ("fid", "kid"):
                if ecfg[key]:
                    res[f"{key}_error"] = str(err)
            logger.warning("%s", err)
            return
        test_cfg = self.cfg["dataset"]["test"]
        info = {"real_set": real_set, "images": len(reals), "weights": os.path.basename(str(extractor.weights)),
                "preprocess": [test_cfg.get(k) for k in ("preprocess", "load_size", "crop_size")]}
        cache = os.path.join(self.run_dir, "eval", f"real_features_{cache_key}.npz")
        real_feats = None
        if os.path.isfile(cache):
            try:
                stats = load_statistics(cache)
                if str(stats.get("info", "")) == repr(sorted(info.items())):
                    real_feats = stats["features"]
            except ValueError:
                pass
        if real_feats is None:
            real_feats = extractor.from_images(reals, desc="real features")
            save_statistics(cache, real_feats, **info)
        fake_feats = extractor.from_images(fakes, desc="output features")
        sizes = sorted({f"{im.shape[1]}x{im.shape[0]}" for im in fakes})
        protocol = {"real_set": real_set, "real_images": len(real_feats), "fake_images": len(fake_feats),
                    "weights": str(extractor.weights), "image_size": f"299x299 (resized from {', '.join(sizes)})"}
        if min(len(real_feats), len(fake_feats)) < 2:
            res["fid_error"] = res["kid_error"] = "needs at least 2 images per set"
            return
        if ecfg["fid"]:
            fid = fid_from_features(fake_feats, real_feats)
            res["fid"] = {"value": fid, **protocol}
        if ecfg["kid"]:
            mean, std = kernel_inception_distance(fake_feats, real_feats, ecfg["kid_subsets"], ecfg["kid_subset_size"])
            res["kid"] = {"value": mean, "std": std, **protocol}

    def _inception(self):
        if getattr(self, "_inception_features", None) is None:
            from ..metrics.fid import InceptionFeatures
            self._inception_features = InceptionFeatures(self.cfg["eval"]["inception_weights"],
                                                         batch_size=self.cfg["eval"]["fid_batch_size"])
        return self._inception_features

    def _display(self, real_A, fake_B, real_B=None):
        """uint8 images of input, output and target (colorization models convert Lab to RGB)."""
        if hasattr(self.model, "display_images"):
            return self.model.display_images(real_A, fake_B, real_B)
        out = {"real_A": tensor_to_image(real_A), "fake_B": tensor_to_image(fake_B)}
        if real_B is not None:
            out["real_B"] = tensor_to_image(real_B)
        return out

    def _gather(self, items):
        """Per-image results of every process, in test-set order (process 0 gets them all)."""
        if self.world == 1:
            return items
        merged = [it for part in distributed.all_gather_objects(items) for it in part]
        return sorted(merged, key=lambda it: it["index"])

    def _evaluate_paired(self, test_cfg, direction, page_dir, title, progress):
        """One generator over a paired test set: each output is compared with the item's other half.
        In a data-parallel job each process translates every world-th item; process 0 writes."""
        ds_cfg = dict(test_cfg)
        dataset = build_dataset(ds_cfg.pop("name"), **ds_cfg, seed=self.cfg["seed"])
        dataset.set_epoch(0)
        src, dst = ("A", "B") if direction == "AtoB" else ("B", "A")
        labels = ("A", "B") if getattr(dataset, "direction", "AtoB") == "AtoB" else ("B", "A")
        name_src, name_dst = (labels if direction == "AtoB" else labels[::-1])
        n = min(len(dataset), self.cfg["eval"]["max_images"] or len(dataset))
        root = os.path.join(test_cfg["dataroot"], test_cfg["phase"])
        items = []
        for i in tqdm(range(self.rank, n, self.world), desc=f"evaluate {direction}", leave=False,
                      disable=not progress or n < 5):
            try:
                item = dataset[i]
            except RuntimeError as err:  # no usable image at all
                items.append({"index": i, "failed": [str(err)]})
                break
            failed = [line for line in item.get("skipped", "").split("\n") if line]
            name = os.path.splitext(os.path.relpath(item["A_paths"], root))[0]
            y = self.model.translate(paddle.to_tensor(item[src][None]), direction)[0]
            imgs = self._display(item[src], y, item[dst])
            items.append({"index": i, "failed": failed, "name": name, "images": imgs,
                          "scores": self._score(imgs["fake_B"], imgs["real_B"], imgs["real_A"])})
        items = self._gather(items)
        if not self.is_main:
            return None, ""
        rows, psnrs, ssims, baseline, failed, fakes, reals = [], [], [], [], [], [], []
        for it in items:
            failed.extend(it["failed"])
            if "name" not in it:
                continue
            name, imgs, (p, s, ident) = it["name"], it["images"], it["scores"]
            cells = [f"images/{name}_real_{name_src}.png", f"images/{name}_fake_{name_dst}.png",
                     f"images/{name}_real_{name_dst}.png"]
            for cell, key in zip(cells, ("real_A", "fake_B", "real_B")):
                save_image(os.path.join(page_dir, cell), imgs[key])
            psnrs.append(p), ssims.append(s), baseline.append(ident)
            fakes.append(imgs["fake_B"]), reals.append(imgs["real_B"])
            cells.append(f"PSNR {p:.2f} dB, SSIM {s:.3f}")
            rows.append((name, cells))
        res = {"images": len(rows), "failed": failed}
        self._distribution_metrics(res, fakes, reals, f"{root} ({name_dst} halves)",
                                   f"{direction}_{len(reals)}")
        line = self._summary(direction, res, psnrs, ssims, baseline, len(rows), failed, root)
        columns = [f"input ({name_src})", f"output ({name_dst})", f"ground truth ({name_dst})", "scores"]
        write_results_page(page_dir, title, columns, rows, [line])
        return res, line

    def _evaluate_direction(self, test_cfg, direction, page_dir, title, progress):
        """One generator over one unpaired test folder; returns (metrics dict or None, summary line).
        In a data-parallel job each process translates every world-th file; process 0 writes."""
        root, phase = test_cfg["dataroot"], test_cfg["phase"]
        src, dst = ("A", "B") if direction == "AtoB" else ("B", "A")
        if test_cfg["direction"] == "BtoA":
            src, dst = dst, src
        in_channels = test_cfg["input_nc"] if direction == "AtoB" else test_cfg["output_nc"]
        src_dir, gt_dir = os.path.join(root, phase + src), os.path.join(root, f"{phase}{dst}_gt")
        if not os.path.isdir(src_dir):
            return None, f"{direction}: skipped, no folder {src_dir}"
        ground_truth = ({os.path.splitext(os.path.relpath(p, gt_dir))[0]: p for p in list_images(gt_dir)}
                        if os.path.isdir(gt_dir) else {})
        limit = test_cfg["max_dataset_size"]
        files = list_images(src_dir)[: None if limit == math.inf else limit][: self.cfg["eval"]["max_images"]]
        prep = (test_cfg["preprocess"], test_cfg["load_size"], test_cfg["crop_size"])
        items = []
        for i in tqdm(range(self.rank, len(files), self.world), desc=f"evaluate {direction}", leave=False,
                      disable=not progress or len(files) < 5):
            path = files[i]
            name = os.path.splitext(os.path.relpath(path, src_dir))[0]
            try:
                img = load_image(path)
            except OSError as err:
                items.append({"index": i, "failed": [str(err)]})
                continue
            params = get_transform_params(img.shape[1::-1], *prep, False, np.random.default_rng(0))
            x = apply_transform(img, params, *prep)
            net_in = image_to_array(np.asarray(Image.fromarray(x).convert("L")) if in_channels == 1 else x)
            y = tensor_to_image(self.model.translate(paddle.to_tensor(net_in[None]), direction)[0])
            it = {"index": i, "failed": [], "name": name, "x": x, "y": y, "gt": None}
            if name in ground_truth:
                try:
                    it["gt"] = apply_transform(load_image(ground_truth[name]), params, *prep)
                    it["scores"] = self._score(y, it["gt"], x)
                except OSError as err:
                    it["failed"].append(str(err))
            items.append(it)
        items = self._gather(items)
        if not self.is_main:
            return None, ""
        rows, psnrs, ssims, baseline, failed, fakes = [], [], [], [], [], []
        for it in items:
            failed.extend(it["failed"])
            if "name" not in it:
                continue
            name, x, y, gt = it["name"], it["x"], it["y"], it["gt"]
            fakes.append(y)
            cells = [f"images/{name}_real_{src}.png", f"images/{name}_fake_{dst}.png"]
            save_image(os.path.join(page_dir, cells[0]), x)
            save_image(os.path.join(page_dir, cells[1]), y)
            if gt is not None:
                cells.append(f"images/{name}_gt_{dst}.png")
                save_image(os.path.join(page_dir, cells[-1]), gt)
                p, s, ident = it["scores"]
                psnrs.append(p), ssims.append(s), baseline.append(ident)
                cells.append(f"PSNR {p:.2f} dB, SSIM {s:.3f}")
            rows.append((name, cells))
        res = {"images": len(rows), "failed": failed}
        if self.cfg["eval"]["fid"] or self.cfg["eval"]["kid"]:
            real_dir = os.path.join(root, phase + dst)
            reals = []
            for path in (list_images(real_dir)[: self.cfg["eval"]["max_images"]] if os.path.isdir(real_dir) else []):
                try:
                    img = load_image(path)
                except OSError:
                    continue
                reals.append(apply_transform(img, get_transform_params(img.shape[1::-1], *prep, False,
                                                                        np.random.default_rng(0)), *prep))
            self._distribution_metrics(res, fakes, reals, real_dir, f"{direction}_{len(reals)}")
        line = self._summary(direction, res, psnrs, ssims, baseline, len(rows), failed, gt_dir)
        columns = [f"input ({src})", f"output ({dst})"] + (["ground truth", "scores"] if psnrs else [])
        write_results_page(page_dir, title, columns, rows, [line])
        return res, line
