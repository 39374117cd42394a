"""Evaluation of translation models (CycleGAN, pix2pix, U-GAT-IT, photo2cartoon): each generator
over the test set, result pages with inputs, outputs and ground truth, PSNR/SSIM (and FID/KID on
request) in ``<run>/eval/<tag>/``."""
import json
import math
import os

import numpy as np
import paddle
from PIL import Image
from tqdm import tqdm

from ...data import DATASETS, build_dataset
from ...data.transforms import apply_transform, get_transform_params
from ...metrics import psnr, ssim
from ...utils.env import logger
from ...utils.image_io import image_to_array, list_images, load_image, save_image, tensor_to_image
from .. import distributed
from ..visual import write_results_page
from .common import distribution_metrics, inference_mode


def evaluate_translation(trainer, tag="latest", progress=True):
    """Translate the test set with each generator of ``trainer.model``; see :class:`TranslationEvaluation`."""
    return TranslationEvaluation(trainer).run(tag, progress)


class TranslationEvaluation:
    """One evaluation of a trainer's translation model (its config, run folder and processes)."""

    def __init__(self, trainer):
        self.trainer = trainer
        self.cfg, self.model, self.run_dir = trainer.cfg, trainer.model, trainer.run_dir
        self.is_main, self.rank, self.world = trainer.is_main, trainer.rank, trainer.world

    def run(self, tag="latest", progress=True):
        """Translate the test set with each generator, write images, an HTML page and metrics.

        Paired test sets (AlignedDataset, ColorizationDataset) compare each output with the
        item's other half; unpaired ones use ``test<X>_gt`` folders when they exist (as the
        synthetic dataset has). PSNR/SSIM always when there is ground truth; FID/KID when
        ``eval.fid``/``eval.kid`` are on, against the real images of the target domain.
        Directions are the model's: AtoB runs G_A on what the dataset calls A (``testB`` when
        ``direction: BtoA``); one-generator models (pix2pix) only have AtoB."""
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
        with inference_mode(self.trainer, ecfg["inference_mode"]):
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
        self.trainer.write_training_page()
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
        distribution_metrics(self.trainer, res, fakes, reals, f"{root} ({name_dst} halves)",
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
            distribution_metrics(self.trainer, res, fakes, reals, real_dir, f"{direction}_{len(reals)}")
        line = self._summary(direction, res, psnrs, ssims, baseline, len(rows), failed, gt_dir)
        columns = [f"input ({src})", f"output ({dst})"] + (["ground truth", "scores"] if psnrs else [])
        write_results_page(page_dir, title, columns, rows, [line])
        return res, line
