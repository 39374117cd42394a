"""What the evaluations of every kind of model share: the inference mode of the nets and
FID/KID of outputs against real images (ppimg2img.metrics.fid)."""
import os
from contextlib import contextmanager

from ...utils.env import logger, rng_state, set_rng_state


@contextmanager
def inference_mode(trainer, mode):
    """'eval': running BatchNorm statistics, no dropout. 'train_norm': the nets stay in train
    mode (batch statistics, dropout on) as the original test.py; the BatchNorm running
    statistics it would update, and the random states dropout draws from, are restored
    afterwards, so evaluating during training does not change the training run."""
    saved, rng = {}, rng_state()
    if mode == "train_norm":
        saved = {(n, k): v.numpy().copy() for n, net in trainer.model.nets.items()
                 for k, v in net.state_dict().items() if k.endswith(("._mean", "._variance"))}
        trainer.model.train()
    else:
        trainer.model.eval()
    try:
        yield
    finally:
        for (n, k), value in saved.items():
            trainer.model.nets[n].state_dict()[k].set_value(value)
        set_rng_state(rng)
        trainer.model.train()


def distribution_metrics(trainer, res, fakes, reals, real_set, cache_key):
    """FID/KID of the outputs against the real images (protocol stored with the values)."""
    ecfg = trainer.cfg["eval"]
    if not (ecfg["fid"] or ecfg["kid"]) or not fakes:
        return
    from ...metrics.fid import (InceptionWeightsError, fid_from_features, kernel_inception_distance,
                               load_statistics, save_statistics)
    try:
        extractor = _inception(trainer)
    except InceptionWeightsError as err:
        for key in ("fid", "kid"):
            if ecfg[key]:
                res[f"{key}_error"] = str(err)
        logger.warning("%s", err)
        return
    test_cfg = trainer.cfg["dataset"]["test"]
    info = {"real_set": real_set, "images": len(reals), "weights": os.path.basename(str(extractor.weights)),
            "preprocess": [test_cfg.get(k) for k in ("preprocess", "load_size", "crop_size")]}
    cache = os.path.join(trainer.run_dir, "eval", f"real_features_{cache_key}.npz")
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


def _inception(trainer):
    """The Inception feature extractor, built once per trainer (its weights load once per run)."""
    if getattr(trainer, "_inception_features", None) is None:
        from ...metrics.fid import InceptionFeatures
        trainer._inception_features = InceptionFeatures(trainer.cfg["eval"]["inception_weights"],
                                                        batch_size=trainer.cfg["eval"]["fid_batch_size"])
    return trainer._inception_features
