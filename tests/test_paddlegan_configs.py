"""PaddleGAN's configs run in ppimg2img (issue 19): ppimg2img/paddlegan_config.py.

The PaddleGAN configs below are written here from PaddleGAN's documented format (its configs/*.yaml
and the arguments of ppgan's models, nets, datasets, transforms, LinearDecay and optimizers), with
small nets so that everything builds in seconds. Each family's translation must build the same nets
(parameter counts) with the same optimiser and LR settings as the matching native config in configs/.
"""
import copy
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import ROOT
from ppimg2img import paddlegan_config as pg
from ppimg2img.config import ConfigError, load_config, validate
from ppimg2img.engine.schema import CONFIG_SCHEMA

NORMALIZE = {"name": "Normalize", "mean": [127.5, 127.5, 127.5], "std": [127.5, 127.5, 127.5],
             "keys": ["image", "image"]}


def _unpaired(root, phase, train, load, crop):
    pipeline = [{"name": "Resize", "size": [load, load], "interpolation": "bicubic", "keys": ["image", "image"]}]
    if train:
        pipeline += [{"name": "RandomCrop", "size": [crop, crop], "keys": ["image", "image"]},
                     {"name": "RandomHorizontalFlip", "prob": 0.5, "keys": ["image", "image"]}]
    pipeline += [{"name": "Transpose", "keys": ["image", "image"]}, NORMALIZE]
    return {"name": "UnpairedDataset", "dataroot_a": f"{root}/{phase}A", "dataroot_b": f"{root}/{phase}B",
            "num_workers": 0, "batch_size": 1, "is_train": train, "max_size": "inf",
            "preprocess": [{"name": "LoadImageFromFile", "key": "A"}, {"name": "LoadImageFromFile", "key": "B"},
                           {"name": "Transforms", "input_keys": ["A", "B"], "pipeline": pipeline}]}


def _paired(root, phase, train):
    pipeline = [{"name": "Resize", "size": [286 if train else 256] * 2, "interpolation": "bicubic"}]
    if train:
        pipeline += [{"name": "PairedRandomCrop", "size": [256, 256]},
                     {"name": "PairedRandomHorizontalFlip", "prob": 0.5}]
    pipeline += [{"name": "Transpose"}, NORMALIZE]
    return {"name": "PairedDataset", "dataroot": f"{root}/{phase}", "num_workers": 4, "batch_size": 1,
            "preprocess": [{"name": "LoadImageFromFile", "key": "pair"},
                           {"name": "SplitPairedImage", "key": "pair", "paired_keys": ["A", "B"]},
                           {"name": "Transforms", "input_keys": ["A", "B"], "pipeline": pipeline}]}


def _optim(g_nets, d_nets, **kw):
    return {"optimG": {"name": "Adam", "net_names": g_nets, "beta1": 0.5, **kw},
            "optimD": {"name": "Adam", "net_names": d_nets, "beta1": 0.5, **kw}}


def _common(lr, start, decay, epochs=None, log=100, visual=500, snapshot=5):
    return {"epochs": epochs or start + decay, "output_dir": "output_dir",
            "lr_scheduler": {"name": "LinearDecay", "learning_rate": lr, "start_epoch": start, "decay_epochs": decay,
                             "iters_per_epoch": 1},
            "log_config": {"interval": log, "visiual_interval": visual}, "snapshot_config": {"interval": snapshot}}


def pg_cyclegan(ngf=4, root="data/horse2zebra", load=286, crop=256):
    """PaddleGAN's configs/cyclegan_horse2zebra.yaml layout."""
    return {**_common(0.0002, 100, 100), "find_unused_parameters": True,
            "model": {"name": "CycleGANModel",
                      "generator": {"name": "ResnetGenerator", "output_nc": 3, "n_blocks": 9, "ngf": ngf,
                                    "use_dropout": False, "norm_type": "instance", "input_nc": 3},
                      "discriminator": {"name": "NLayerDiscriminator", "ndf": ngf, "n_layers": 3,
                                        "norm_type": "instance", "input_nc": 3},
                      "cycle_criterion": {"name": "L1Loss"},
                      "idt_criterion": {"name": "L1Loss", "loss_weight": 0.5},
                      "gan_criterion": {"name": "GANLoss", "gan_mode": "lsgan"}, "to_static": False},
            "export_model": [{"name": "netG_A", "inputs_num": 1}, {"name": "netG_B", "inputs_num": 1}],
            "dataset": {"train": _unpaired(root, "train", True, load, crop),
                        "test": _unpaired(root, "test", False, crop, crop)},
            "optimizer": _optim(["netG_A", "netG_B"], ["netD_A", "netD_B"]),
            "validate": {"interval": 30000, "save_img": False, "metrics": {"fid": {"name": "FID", "batch_size": 8}}}}


def pg_pix2pix(ngf=4):
    """PaddleGAN's configs/pix2pix_facades.yaml layout (with dropout, as the original and configs/)."""
    return {**_common(0.0002, 100, 100),
            "model": {"name": "Pix2PixModel",
                      "generator": {"name": "UnetGenerator", "norm_type": "batch", "input_nc": 3, "output_nc": 3,
                                    "num_downs": 8, "ngf": ngf, "use_dropout": True},
                      "discriminator": {"name": "NLayerDiscriminator", "ndf": ngf, "n_layers": 3, "input_nc": 6,
                                        "norm_type": "batch"},
                      "direction": "b2a", "pixel_criterion": {"name": "L1Loss", "loss_weight": 100},
                      "gan_criterion": {"name": "GANLoss", "gan_mode": "vanilla"}},
            "dataset": {"train": _paired("data/facades", "train", True),
                        "test": _paired("data/facades", "test", False)},
            "optimizer": _optim(["netG"], ["netD"])}


def _ugatit_model(gen, ngf, ndf, img_size, cycle):
    return {"name": "UGATITModel",
            "generator": {"name": gen, "input_nc": 3, "output_nc": 3, "ngf": ngf, "n_blocks": 4, "img_size": img_size,
                          "light": True},
            "discriminator_g": {"name": "UGATITDiscriminator", "input_nc": 3, "ndf": ndf, "n_layers": 7},
            "discriminator_l": {"name": "UGATITDiscriminator", "input_nc": 3, "ndf": ndf, "n_layers": 5},
            "l1_criterion": {"name": "L1Loss"}, "mse_criterion": {"name": "MSELoss"},
            "bce_criterion": {"name": "BCEWithLogitsLoss"},
            "adv_weight": 1.0, "cycle_weight": cycle, "identity_weight": 10.0, "cam_weight": 1000.0}


def pg_ugatit(gen="ResnetUGATITGenerator", ngf=4, ndf=4, img_size=64, cycle=10.0, root="data/selfie2anime",
              start=150):
    """PaddleGAN's configs/ugatit_selfie2anime_light.yaml / ugatit_photo2cartoon.yaml layout."""
    return {**_common(0.0001, start, start, log=10, snapshot=30),
            "model": _ugatit_model(gen, ngf, ndf, img_size, cycle),
            "dataset": {"train": _unpaired(root, "train", True, 286, 256),
                        "test": _unpaired(root, "test", False, 256, 256)},
            "optimizer": _optim(["genA2B", "genB2A"], ["disGA", "disGB", "disLA", "disLB"], weight_decay=0.0001)}


def _mnist(size=None, labels=False, mode=None):
    transforms = ([{"name": "Resize", "size": [size, size], "interpolation": "bicubic"}] if size else []) + \
        [{"name": "Normalize", "mean": [127.5], "std": [127.5], "keys": ["image"]}]
    out = {"name": "CommonVisionDataset", "dataset_name": "MNIST", "num_workers": 0, "batch_size": 128,
           "return_label": labels, "transforms": transforms}
    if mode:
        out["params"] = {"mode": mode}
    return out


def pg_dcgan(ngf=4):
    """PaddleGAN's configs/dcgan_mnist.yaml layout."""
    return {**_common(0.0002, 100, 100),
            "model": {"name": "DCGANModel",
                      "generator": {"name": "DCGenerator", "norm_type": "batch", "input_nz": 100, "input_nc": 1,
                                    "output_nc": 1, "ngf": ngf},
                      "discriminator": {"name": "DCDiscriminator", "norm_type": "batch", "ndf": ngf, "input_nc": 1},
                      "gan_criterion": {"name": "GANLoss", "gan_mode": "vanilla"}},
            "dataset": {"train": _mnist(64), "test": _mnist(64)},
            "optimizer": {"optimizer_G": {"name": "Adam", "net_names": ["netG"], "beta1": 0.5},
                          "optimizer_D": {"name": "Adam", "net_names": ["netD"], "beta1": 0.5}}}


def pg_gan(conditional=False, ngf=4, optimizer=None):
    """PaddleGAN's configs/wgan_mnist.yaml / cond_dcgan_mnist.yaml layout (GANModel)."""
    gen = {"name": "ConditionalDeepConvGenerator" if conditional else "DeepConvGenerator", "latent_dim": 128,
           "output_nc": 1, "size": 28, "ngf": ngf}
    disc = {"name": "NLayerDiscriminatorWithClassification" if conditional else "NLayerDiscriminator",
            "ndf": 16, "n_layers": 3, "input_nc": 1, "norm_type": "batch" if conditional else "instance"}
    if conditional:
        gen["n_class"] = disc["n_class"] = 10
        disc["use_sigmoid"] = True
    model = {"name": "GANModel", "generator": gen, "discriminator": disc,
             "gan_criterion": {"name": "GANLoss", "gan_mode": "vanilla" if conditional else "wgan"}}
    if not conditional:
        model["params"] = {"disc_iters": 5, "visual_interval": 500}
    return {**_common(0.0002, 100, 100), "model": model,
            "dataset": {"train": _mnist(labels=conditional, mode="train" if conditional else None),
                        "test": _mnist(labels=conditional, mode="train" if conditional else None)},
            "optimizer": optimizer or {"optimizer_G": {"name": "Adam", "net_names": ["netG"], "beta1": 0.5},
                                       "optimizer_D": {"name": "Adam", "net_names": ["netD"], "beta1": 0.5}}}


def pg_stylegan2():
    """PaddleGAN's configs/stylegan_v2_256_ffhq.yaml layout (at 32 px, milestone at the end)."""
    flip = [{"name": "RandomHorizontalFlip"}, {"name": "Transpose"},
            {"name": "Normalize", "mean": [127.5] * 3, "std": [127.5] * 3}]
    single = {"name": "SingleDataset", "dataroot": "data/ffhq/images256x256/", "num_workers": 3, "batch_size": 3,
              "preprocess": [{"name": "LoadImageFromFile", "key": "A"},
                             {"name": "Transforms", "input_keys": ["A"], "pipeline": flip}]}
    return {"total_iters": 800000, "output_dir": "output_dir",
            "model": {"name": "StyleGAN2Model",
                      "generator": {"name": "StyleGANv2Generator", "size": 32, "style_dim": 64, "n_mlp": 2},
                      "discriminator": {"name": "StyleGANv2Discriminator", "size": 32},
                      "gan_criterion": {"name": "GANLoss", "gan_mode": "logistic", "loss_weight": 1.0},
                      "r1_reg_weight": 10.0, "path_batch_shrink": 2.0, "path_reg_weight": 2.0,
                      "params": {"gen_iters": 4, "disc_iters": 16}, "max_eval_steps": 50000},
            "export_model": [{"name": "gen", "inputs_num": 2}],
            "dataset": {"train": single, "test": {**single, "preprocess": single["preprocess"][:1] + [
                {"name": "Transforms", "input_keys": ["A"], "pipeline": flip[1:]}]}},
            "lr_scheduler": {"name": "MultiStepDecay", "learning_rate": 0.002, "milestones": [800000], "gamma": 0.5},
            "optimizer": {"optimG": {"name": "Adam", "beta1": 0.0, "beta2": 0.792, "net_names": ["gen"]},
                          "optimD": {"name": "Adam", "net_names": ["disc"], "beta1": 0.0,
                                     "beta2": 0.9317647058823529}},
            "log_config": {"interval": 50, "visiual_interval": 500}, "snapshot_config": {"interval": 5000}}


# --------------------------------------------------------------------------- helpers

def translated(raw, name="x", native_overrides=None):
    tr = pg.translate(copy.deepcopy(raw), source=f"{name}.yaml", name=name)
    cfg = tr.config
    for key, value in (native_overrides or {}).items():
        node = cfg
        parts = key.split(".")
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value
    return validate(cfg, CONFIG_SCHEMA), tr


def native(config, overrides=()):
    return load_config(os.path.join(ROOT, "configs", config), list(overrides))


def built(cfg):
    """{net: parameter count}, {optimizer: (lr, beta1, beta2)} of the model a config builds."""
    from ppimg2img.models import MODELS
    model_cfg = dict(cfg["model"])
    model = MODELS[model_cfg.pop("name")](**model_cfg, seed=0)
    model.setup_training(cfg["optimizer"], cfg["lr_scheduler"])
    counts = {name: sum(int(p.size) for p in net.parameters()) for name, net in model.nets.items()}
    opts = {name: (round(o.get_lr(), 10), getattr(o, "_beta1", None), getattr(o, "_beta2", None),
                   getattr(o, "_rho", None), getattr(o, "_epsilon", None))
            for name, o in model.optimizers.items()}
    return counts, opts


def same_training(a, b, keys=("policy", "n_epochs", "n_epochs_decay")):
    assert a["optimizer"] == b["optimizer"]
    assert {k: a["lr_scheduler"][k] for k in keys} == {k: b["lr_scheduler"][k] for k in keys}


def check_family(tr_cfg, nat_cfg):
    counts_t, opts_t = built(tr_cfg)
    counts_n, opts_n = built(nat_cfg)
    assert counts_t == counts_n and sum(counts_t.values()) > 0
    assert opts_t == opts_n
    return counts_t


# --------------------------------------------------------------------------- families

def test_cyclegan_translation_equals_configs_cyclegan_horse2zebra():
    cfg, tr = translated(pg_cyclegan(), "cyclegan_horse2zebra")
    nat = native("cyclegan_horse2zebra.yaml", ["model.generator.ngf=4", "model.discriminator.ndf=4"])
    assert cfg["model"] == nat["model"]
    same_training(cfg, nat)
    for split in ("train", "test"):
        t, n = dict(cfg["dataset"][split]), dict(nat["dataset"][split])
        assert (t.pop("dataroot"), n.pop("dataroot")) == ("data/horse2zebra", "datasets/horse2zebra")
        assert t == n
    assert cfg["train"]["epochs"] == 200 and cfg["train"]["num_workers"] == 0
    assert (cfg["train"]["log_interval"], cfg["train"]["visual_interval"], cfg["train"]["save_epoch_interval"]) == \
        (100, 500, 5)
    assert cfg["output_dir"] == "output_dir/cyclegan_horse2zebra"
    counts = check_family(cfg, nat)
    assert counts["netG_A"] == counts["netG_B"] and counts["netD_A"] == counts["netD_B"]


def test_pix2pix_translation_equals_configs_pix2pix_facades():
    cfg, tr = translated(pg_pix2pix(), "pix2pix_facades")
    nat = native("pix2pix_facades.yaml", ["model.generator.ngf=4", "model.discriminator.ndf=4"])
    gen = dict(cfg["model"]["generator"])
    assert gen.pop("eval_stats") == "batch"  # PaddleGAN's BatchNorm normalises with the batch's statistics in eval
    nat_gen = dict(nat["model"]["generator"])
    assert nat_gen.pop("eval_stats") == "running"
    assert gen == nat_gen
    assert {k: v for k, v in cfg["model"].items() if k != "generator"} == \
        {k: v for k, v in nat["model"].items() if k != "generator"}
    same_training(cfg, nat)
    for split in ("train", "test"):
        t, n = dict(cfg["dataset"][split]), dict(nat["dataset"][split])
        assert t.pop("dataroot") == "data/facades" and n.pop("dataroot") == "datasets/facades"
        assert t == n and t["direction"] == "BtoA"
    check_family(cfg, nat)


def test_ugatit_light_translation_equals_configs_ugatit_selfie2anime_light():
    cfg, tr = translated(pg_ugatit(), "ugatit_selfie2anime_light")
    nat = native("ugatit_selfie2anime_light.yaml", ["model.generator.ngf=4", "model.generator.img_size=64",
                                                    "model.discriminator.ndf=4"])
    assert cfg["model"] == nat["model"]
    assert cfg["optimizer"] == nat["optimizer"]  # Adam 1e-4 (0.5, 0.999), weight decay 1e-4
    assert (cfg["lr_scheduler"]["n_epochs"], cfg["lr_scheduler"]["n_epochs_decay"]) == (150, 150)  # PaddleGAN's
    counts = check_family(cfg, {**nat, "lr_scheduler": cfg["lr_scheduler"]})
    assert set(counts) == {"genA2B", "genB2A", "disGA", "disLA", "disGB", "disLB"}


def test_photo2cartoon_translation_equals_configs_photo2cartoon():
    raw = pg_ugatit("ResnetUGATITP2CGenerator", ngf=8, ndf=4, cycle=50.0, root="data/photo2cartoon")
    cfg, tr = translated(raw, "ugatit_photo2cartoon")
    over = ["model.generator.ngf=8", "model.generator.img_size=64", "model.discriminator.ndf=4"]
    for config in ("photo2cartoon.yaml", "ugatit_photo2cartoon.yaml"):
        nat = native(config, over)
        assert cfg["model"] == nat["model"] and cfg["model"]["faceid_weight"] == 0.0
        assert cfg["optimizer"] == nat["optimizer"]
    # the alias reads the course's layout, as the translation of PaddleGAN's file
    assert nat["dataset"]["train"]["dataroot"] == cfg["dataset"]["train"]["dataroot"] == "data/photo2cartoon"
    assert {k: v for k, v in nat["dataset"]["train"].items()} == cfg["dataset"]["train"]
    assert any("Photo2CartoonModel" in n for n in tr.notes)
    check_family(cfg, {**nat, "lr_scheduler": cfg["lr_scheduler"]})


def test_ugatit_photo2cartoon_alias_is_photo2cartoon_with_the_course_data_folder():
    alias, base = native("ugatit_photo2cartoon.yaml"), native("photo2cartoon.yaml")
    for split in ("train", "test"):
        assert alias["dataset"][split].pop("dataroot") == "data/photo2cartoon"
        assert base["dataset"][split].pop("dataroot") == "datasets/photo2cartoon"
    assert alias == base
    text = open(os.path.join(ROOT, "configs", "ugatit_photo2cartoon.yaml")).read()
    assert "configs/photo2cartoon.yaml" in text.split("model:")[0]


def test_dcgan_translation_equals_configs_dcgan_mnist():
    cfg, tr = translated(pg_dcgan(), "dcgan_mnist")
    nat = native("dcgan_mnist.yaml", ["model.generator.ngf=4", "model.discriminator.ndf=4"])
    assert cfg["model"] == nat["model"]
    assert cfg["optimizer"] == nat["optimizer"]
    assert cfg["dataset"]["train"] == nat["dataset"]["train"] and cfg["dataset"]["test"] == nat["dataset"]["test"]
    assert ("model.generator.input_nc", "PaddleGAN's DCGenerator takes it but does not use it") in tr.ignored
    assert any(n.startswith("DCGenerator -> dcgan") for n in tr.notes)
    check_family(cfg, {**nat, "lr_scheduler": cfg["lr_scheduler"]})


def test_wgan_translation_equals_configs_wgan_mnist_with_paddlegan_choices():
    """PaddleGAN's wgan_mnist (28 px DeepConvGenerator, z 128, PatchGAN critic with instance norm, Adam) is the
    native WGAN (critic clipped to 0.01 after each step, 5 critic steps) with those choices, on the DCGAN nets."""
    cfg, tr = translated(pg_gan(), "wgan_mnist")
    nat = native("wgan_mnist.yaml", ["model.generator.ngf=4", "model.generator.nz=128", "model.generator.image_size=28",
                                     "model.discriminator.ndf=16", "model.discriminator.norm=layer",
                                     "dataset.train.image_size=null", "dataset.test.image_size=null",
                                     "optimizer.name=adam", "optimizer.lr=0.0002", "optimizer.beta1=0.5"])
    assert cfg["model"] == nat["model"]
    assert (cfg["model"]["gan_mode"], cfg["model"]["clip_value"], cfg["model"]["n_critic"]) == ("wgan", 0.01, 5)
    assert cfg["optimizer"] == nat["optimizer"]
    assert any("DeepConvGenerator -> dcgan" in n and "different network" in n for n in tr.notes)
    check_family(cfg, {**nat, "lr_scheduler": cfg["lr_scheduler"]})
    # with PaddleGAN's RMSProp (Paddle's rho, epsilon inside the square root): configs/wgan_mnist.yaml's optimiser
    rms = {"name": "RMSProp", "rho": 0.99, "epsilon": 1e-16}
    cfg, _ = translated(pg_gan(optimizer={"optimizer_G": {**rms, "net_names": ["netG"]},
                                          "optimizer_D": {**rms, "net_names": ["netD"]}}), "wgan_mnist")
    cfg["optimizer"]["lr"] = 5e-5
    assert cfg["optimizer"] == native("wgan_mnist.yaml")["optimizer"]


def test_conditional_dcgan_translation_equals_configs_cond_dcgan_mnist_with_paddlegan_choices():
    cfg, tr = translated(pg_gan(conditional=True), "cond_dcgan_mnist")
    nat = native("cond_dcgan_mnist.yaml", ["model.generator.ngf=4", "model.generator.nz=128",
                                           "model.generator.image_size=28", "model.discriminator.ndf=16",
                                           "dataset.train.image_size=null", "dataset.test.image_size=null"])
    assert cfg["model"] == nat["model"]
    assert cfg["model"]["generator"]["n_classes"] == 10 and cfg["model"]["discriminator"]["cond_mode"] == "concat"
    assert cfg["optimizer"] == nat["optimizer"]
    assert cfg["dataset"]["test"]["phase"] == "train"  # PaddleGAN's file evaluates on params.mode: train
    assert any("use_sigmoid dropped" in n for n in tr.notes)
    check_family(cfg, {**nat, "lr_scheduler": cfg["lr_scheduler"]})


def test_stylegan2_translation():
    cfg, tr = translated(pg_stylegan2(), "stylegan_v2_256_ffhq",
                         {"model.generator.channel_divisor": 32, "model.discriminator.channel_divisor": 32})
    m = cfg["model"]
    assert m["name"] == "StyleGAN2Model" and m["generator"]["name"] == m["discriminator"]["name"] == "stylegan2"
    assert (m["r1"], m["path_regularize"], m["path_batch_shrink"], m["g_reg_every"], m["d_reg_every"]) == \
        (10.0, 2.0, 2, 4, 16)
    assert m["ema_kimg"] == pytest.approx(3 * 10 / 32)  # the same EMA decay per iteration at batch 3
    assert 0.5 ** (3 / (m["ema_kimg"] * 1000)) == pytest.approx(0.5 ** (32 / 10000), abs=1e-15)
    # PaddleGAN's betas are 0.99 * k / (k + 1); the native ones are plain and corrected inside the model
    assert (cfg["optimizer"]["beta1"], cfg["optimizer"]["beta2"], cfg["optimizer"]["lr"]) == (0.0, 0.99, 0.002)
    assert cfg["dataset"]["train"] == {**cfg["dataset"]["train"], "name": "ImageFolderDataset",
                                       "dataroot": "data/ffhq/images256x256", "image_size": 32, "flip": True}
    assert cfg["dataset"]["test"]["flip"] is False
    assert (cfg["train"]["max_iters"], cfg["train"]["batch_size"], cfg["train"]["save_latest_interval"]) == \
        (800000, 3, 5000)
    counts, opts = built(cfg)
    assert set(counts) == {"netG", "netG_ema", "netD"} and counts["netG"] == counts["netG_ema"]
    assert opts["G"][:3] == (round(0.002 * 4 / 5, 10), 0.0, pytest.approx(0.99 ** (4 / 5)))
    assert opts["D"][:3] == (round(0.002 * 16 / 17, 10), 0.0, pytest.approx(0.99 ** (16 / 17)))
    if os.path.isfile(os.path.join(ROOT, "configs", "stylegan_v2_256_ffhq.yaml")):
        nat = native("stylegan_v2_256_ffhq.yaml")  # the lead's native config: the settings PaddleGAN's file sets
        assert {k: nat["optimizer"][k] for k in ("name", "lr", "beta1", "beta2")} == \
            {k: cfg["optimizer"][k] for k in ("name", "lr", "beta1", "beta2")}
        assert nat["model"]["generator"]["style_dim"] == 512 and nat["model"]["generator"]["n_mlp"] == 8
    # a milestone before total_iters cannot be reproduced (the LR policies step per epoch)
    raw = pg_stylegan2()
    raw["lr_scheduler"]["milestones"] = [600000]
    with pytest.raises(pg.PaddleGANConfigError, match=r"lr_scheduler\.milestones: \[600000\].*once per epoch"):
        pg.translate(raw)


# --------------------------------------------------------------------------- tables, key by key

@pytest.mark.parametrize("n_blocks, name", [(9, "resnet_9blocks"), (6, "resnet_6blocks")])
def test_resnet_generator_by_n_blocks(n_blocks, name):
    raw = pg_cyclegan()
    raw["model"]["generator"]["n_blocks"] = n_blocks
    assert pg.translate(raw).config["model"]["generator"]["name"] == name
    assert pg.RESNET_BY_BLOCKS[n_blocks] == name


def test_resnet_generator_other_n_blocks_is_an_error():
    raw = pg_cyclegan()
    raw["model"]["generator"]["n_blocks"] = 4
    with pytest.raises(pg.PaddleGANConfigError, match=r"model\.generator\.n_blocks: value 4 .* use n_blocks 9 or 6"):
        pg.translate(raw)


@pytest.mark.parametrize("num_downs, name", [(8, "unet_256"), (7, "unet_128")])
def test_unet_generator_by_num_downs(num_downs, name):
    raw = pg_pix2pix()
    raw["model"]["generator"]["num_downs"] = num_downs
    assert pg.translate(raw).config["model"]["generator"]["name"] == name


@pytest.mark.parametrize("norm_type", ["instance", "batch", "none"])
def test_norm_type_to_norm(norm_type):
    raw = pg_cyclegan()
    raw["model"]["generator"]["norm_type"] = raw["model"]["discriminator"]["norm_type"] = norm_type
    model = pg.translate(raw).config["model"]
    assert model["generator"]["norm"] == model["discriminator"]["norm"] == norm_type
    assert ("eval_stats" in model["generator"]) == (norm_type == "batch")
    raw["model"]["generator"]["norm_type"] = "spectral"
    with pytest.raises(pg.PaddleGANConfigError, match=r"model\.generator\.norm_type: value 'spectral'"):
        pg.translate(raw)


@pytest.mark.parametrize("n_layers, expected", [(3, {"name": "basic"}), (4, {"name": "n_layers", "n_layers": 4})])
def test_nlayer_discriminator(n_layers, expected):
    raw = pg_cyclegan()
    raw["model"]["discriminator"]["n_layers"] = n_layers
    d = pg.translate(raw).config["model"]["discriminator"]
    assert {k: d[k] for k in expected} == expected and d["ndf"] == 4 and d["norm"] == "instance"


def test_ugatit_generators_and_weights():
    for gen, native_gen, model in (("ResnetUGATITGenerator", "ugatit", "UGATITModel"),
                                   ("ResnetUGATITP2CGenerator", "photo2cartoon", "Photo2CartoonModel")):
        raw = pg_ugatit(gen)
        raw["model"].update(adv_weight=2.0, cycle_weight=3.0, identity_weight=4.0, cam_weight=5.0)
        m = pg.translate(raw).config["model"]
        assert (m["name"], m["generator"]["name"]) == (model, native_gen)
        assert [m[k] for k in pg.UGATIT_WEIGHTS] == [2.0, 3.0, 4.0, 5.0]
        assert (m["discriminator"], m["n_layers_local"]) == ({"name": "ugatit", "ndf": 4, "n_layers": 7}, 5)


def test_cyclegan_loss_weights():
    raw = pg_cyclegan()
    raw["model"].update(lambda_a=5.0, lambda_b=7.0, pool_size=0)
    raw["model"]["idt_criterion"]["loss_weight"] = 0.25
    m = pg.translate(raw).config["model"]
    assert (m["lambda_A"], m["lambda_B"], m["lambda_identity"], m["pool_size"]) == (5.0, 7.0, 0.25, 0)
    raw["model"]["cycle_criterion"]["loss_weight"] = 2.0  # cycle = L1 * 2 * lambda, identity = L1 * 0.25 * lambda
    m = pg.translate(raw).config["model"]
    assert (m["lambda_A"], m["lambda_B"], m["lambda_A"] * m["lambda_identity"]) == (10.0, 14.0, 5.0 * 0.25)
    del raw["model"]["idt_criterion"]
    assert pg.translate(raw).config["model"]["lambda_identity"] == 0.0


@pytest.mark.parametrize("steps, expected", [
    ([("Resize", 286), ("RandomCrop", 256), ("RandomHorizontalFlip", None)],
     {"preprocess": "resize_and_crop", "load_size": 286, "crop_size": 256, "flip": True}),
    ([("Resize", 256)], {"preprocess": "resize_and_crop", "load_size": 256, "crop_size": 256, "flip": False}),
    ([("RandomCrop", 128), ("RandomHorizontalFlip", None)],
     {"preprocess": "crop", "load_size": 128, "crop_size": 128, "flip": True}),
    ([], {"preprocess": "none", "flip": False}),
])
def test_transform_pipelines(steps, expected):
    pipeline = []
    for name, size in steps:
        step = {"name": name, "keys": ["image", "image"]}
        if name == "Resize":
            step.update(size=[size, size], interpolation="bicubic")
        elif name == "RandomCrop":
            step["size"] = [size, size]
        pipeline.append(step)
    pipeline += [{"name": "Transpose"}, NORMALIZE]
    assert pg._pipeline(pipeline, "p", paired=False) == expected


@pytest.mark.parametrize("step, message", [
    ({"name": "Resize", "size": [286, 286]}, r"interpolation: 'bilinear'.*bicubically"),
    ({"name": "Resize", "size": [286, 200], "interpolation": "bicubic"}, r"square load_size"),
    ({"name": "RandomHorizontalFlip", "prob": 0.3}, r"probability 0.5"),
    ({"name": "Normalize", "mean": [0.5] * 3, "std": [0.5] * 3}, r"\[-1, 1\]"),
    ({"name": "ColorJitter", "brightness": 0.1}, r"p\[0\]\.name: 'ColorJitter' has no ppimg2img equivalent"),
])
def test_transforms_without_equivalent_are_errors(step, message):
    with pytest.raises(pg.PaddleGANConfigError, match=message):
        pg._pipeline([step], "p", paired=False)


def test_linear_decay_and_intervals():
    raw = pg_cyclegan()
    raw.update(epochs=30)
    raw["lr_scheduler"].update(learning_rate=0.001, start_epoch=10, decay_epochs=20)
    raw["log_config"] = {"interval": 7, "visiual_interval": 11}
    raw["snapshot_config"] = {"interval": 3}
    c = pg.translate(raw).config
    assert c["lr_scheduler"] == {"policy": "linear", "n_epochs": 10, "n_epochs_decay": 20}
    assert c["optimizer"]["lr"] == 0.001
    assert {k: c["train"][k] for k in ("epochs", "log_interval", "visual_interval", "save_epoch_interval")} == \
        {"epochs": 30, "log_interval": 7, "visual_interval": 11, "save_epoch_interval": 3}
    raw["lr_scheduler"]["name"] = "linear"
    assert pg.translate(raw).config["lr_scheduler"]["policy"] == "linear"


def test_linear_decay_rule_matches_paddlegan():
    """PaddleGAN's LinearDecay: 1 - max(0, epoch + 1 - start_epoch) / (decay_epochs + 1), epoch from 0."""
    from ppimg2img.schedulers import build_lr_scheduler
    sched = build_lr_scheduler(1.0, policy="linear", n_epochs=3, n_epochs_decay=4)
    got = []
    for _ in range(7):
        got.append(sched.get_lr())
        sched.step()
    assert got == pytest.approx([1.0 - max(0, e + 1 - 3) / 5.0 for e in range(7)])


def test_total_iters_counts_snapshot_in_iterations():
    raw = pg_cyclegan()
    del raw["epochs"]
    raw["total_iters"] = 1000
    raw["snapshot_config"] = {"interval": 250}
    t = pg.translate(raw).config["train"]
    assert (t["max_iters"], t["save_latest_interval"]) == (1000, 250) and "save_epoch_interval" not in t


def test_dataroot_layouts_direction_and_max_size():
    raw = pg_cyclegan(root="my/data/h2z/")
    raw["model"]["direction"] = "b2a"
    raw["dataset"]["train"]["max_size"] = 40
    tr = pg.translate(raw)
    train, test = tr.config["dataset"]["train"], tr.config["dataset"]["test"]
    assert (train["dataroot"], train["phase"], test["phase"]) == ("my/data/h2z", "train", "test")
    assert (train["direction"], test["direction"]) == ("BtoA", "BtoA")
    assert (train["serial_batches"], test["serial_batches"]) == (False, True)  # is_train: random B / B[i % |B|]
    assert (train["max_dataset_size"], test["max_dataset_size"]) == (40, None)  # max_size: inf -> all
    assert any("max_size 40" in n for n in tr.notes)
    raw["dataset"]["train"]["dataroot_b"] = "elsewhere/trainB"
    with pytest.raises(pg.PaddleGANConfigError, match=r"dataset\.train\.dataroot_b: elsewhere/trainB does not sit "
                                                      r"next to my/data/h2z/trainA"):
        pg.translate(raw)
    raw["dataset"]["train"]["dataroot_a"] = "photos"
    with pytest.raises(pg.PaddleGANConfigError, match=r"dataset\.train\.dataroot_a: 'photos': ppimg2img reads "
                                                      r"<dataroot>/<phase>A.*symbolic link"):
        pg.translate(raw)
    p = pg.translate(pg_pix2pix()).config["dataset"]
    assert (p["train"]["dataroot"], p["train"]["phase"], p["test"]["phase"]) == ("data/facades", "train", "test")


def test_optimizer_defaults_are_paddles():
    """A PaddleGAN optimiser without beta1 gets Paddle's Adam default, 0.9 (not the 0.5 of the configs)."""
    raw = pg_cyclegan()
    for o in raw["optimizer"].values():
        del o["beta1"]
    assert pg.translate(raw).config["optimizer"] == {"lr": 0.0002, "name": "adam", "beta1": 0.9, "beta2": 0.999,
                                                     "weight_decay": 0.0}
    raw["optimizer"]["optimD"]["beta1"] = 0.5
    with pytest.raises(pg.PaddleGANConfigError, match=r"optimizer\.optimD: differs from optimizer\.optimG in beta1"):
        pg.translate(raw)
    raw = pg_cyclegan()
    raw["optimizer"]["optimG"]["net_names"] = ["netG_A"]
    with pytest.raises(pg.PaddleGANConfigError, match=r"optimizer\.optimG\.net_names: \['netG_A'\]"):
        pg.translate(raw)


# --------------------------------------------------------------------------- errors and the ignored keys

@pytest.mark.parametrize("edit, message", [
    (lambda c: c["model"]["generator"].update(foo=1), r"PaddleGAN key model\.generator\.foo: has no ppimg2img "
                                                      r"equivalent for ResnetGenerator.*Remove it"),
    (lambda c: c.update(amp_scale=2), r"PaddleGAN key amp_scale: is not a key of PaddleGAN's configs"),
    (lambda c: c["model"].update(name="MakeupModel"), r"model\.name: 'MakeupModel' has no ppimg2img equivalent"),
    (lambda c: c["dataset"]["train"].update(name="SRDataset"), r"dataset\.train\.name: 'SRDataset'"),
    (lambda c: c["lr_scheduler"].update(name="CosineAnnealingRestartLR"), r"lr_scheduler\.name: value "
                                                                           r"'CosineAnnealingRestartLR'"),
    (lambda c: c["log_config"].update(save_log=True), r"log_config\.save_log: has no ppimg2img equivalent"),
    (lambda c: c["model"]["gan_criterion"].update(gan_mode="wgangp"), r"without a gradient penalty"),
    (lambda c: c.update(train={"max_iters": 3}), r"PaddleGAN key train: is not a key of PaddleGAN's configs.*"
                                                 r"cannot be mixed"),
])
def test_keys_without_equivalent_are_errors(edit, message):
    raw = pg_cyclegan()
    edit(raw)
    with pytest.raises(pg.PaddleGANConfigError, match=message):
        pg.translate(raw)


def test_ignored_keys_are_reported_once():
    raw = pg_cyclegan()
    raw["is_train"] = True
    tr = pg.translate(raw)
    keys = [k for k, _ in tr.ignored]
    assert len(keys) == len(set(keys))
    assert {"find_unused_parameters", "export_model", "validate", "is_train", "model.to_static",
            "dataset.test.batch_size", "lr_scheduler.iters_per_epoch"} <= set(keys)
    assert "save_img" in yaml.safe_dump(raw["validate"]) and all(why for _, why in tr.ignored)
    text = pg.render(tr)
    assert text.count("# ignored: validate:") == 1 and text.count("# ignored: export_model:") == 1


def test_detection():
    assert pg.is_paddlegan_config(pg_cyclegan())
    natives = sorted(f for f in os.listdir(os.path.join(ROOT, "configs")) if f.endswith(".yaml"))
    assert len(natives) > 20
    for name in natives:  # no native config is taken for a PaddleGAN one
        assert pg.detect(yaml.safe_load(open(os.path.join(ROOT, "configs", name)))) == [], name
    assert pg.detect({"snapshot_config": {"interval": 5}}) == ["snapshot_config"]
    with pytest.raises(pg.PaddleGANConfigError, match="not a PaddleGAN config"):
        pg.translate({"model": {"name": "CycleGANModel"}})


def test_overrides_go_to_paddlegan_keys_first():
    pg_opts, native_opts = pg.split_overrides(["dataset.train.batch_size=4", "epochs=3", "train.max_iters=2",
                                               "seed=1"], pg_cyclegan())
    assert pg_opts == ["dataset.train.batch_size=4", "epochs=3"] and native_opts == ["train.max_iters=2", "seed=1"]


# --------------------------------------------------------------------------- the command

def _write_images(folder, n, size=40):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(len(folder))
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(os.path.join(folder, f"{i}.png"))


def _run(args, cwd):
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, os.path.join(ROOT, "tools", "main.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_dry_run_native_and_paddlegan(tmp_path):
    # a PaddleGAN config (photo2cartoon, the course's data layout present) and a native one (data missing)
    for split in ("trainA", "trainB", "testA", "testB"):
        _write_images(str(tmp_path / "data" / "photo2cartoon" / split), 2)
    raw = pg_ugatit("ResnetUGATITP2CGenerator", ngf=8, ndf=4, img_size=32, cycle=50.0, root="data/photo2cartoon")
    for split in ("train", "test"):
        for step in raw["dataset"][split]["preprocess"][2]["pipeline"]:
            if "size" in step:
                step["size"] = [36, 36] if step["name"] == "Resize" and split == "train" else [32, 32]
    (tmp_path / "ugatit_photo2cartoon.yaml").write_text(yaml.safe_dump(raw))
    cfg, _ = translated(raw, "ugatit_photo2cartoon")
    counts, _ = built(cfg)
    res = _run(["-c", "ugatit_photo2cartoon.yaml", "--dry-run"], tmp_path)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert out.count("# Translated from the PaddleGAN config ugatit_photo2cartoon.yaml") == 1
    assert out.count("# ignored: lr_scheduler.iters_per_epoch") == 1
    for net, n in counts.items():
        assert f"{net}: " in out and f"{n:,} parameters" in out
    assert f"total: {sum(counts.values()):,} parameters" in out
    assert "train: UnalignedDataset, 2 items; first item: A [3, 32, 32], B [3, 32, 32]" in out
    assert not (tmp_path / "output_dir").exists()  # a dry run writes nothing

    nat = native("quickstart_cyclegan.yaml", ["model.generator.ngf=4", "model.discriminator.ndf=4"])
    counts, _ = built(nat)
    res = _run(["-c", os.path.join(ROOT, "configs", "quickstart_cyclegan.yaml"), "--dry-run", "-o",
                "model.generator.ngf=4", "model.discriminator.ndf=4"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert "# resolved config of" in res.stdout and "Translated" not in res.stdout
    assert f"netG_A: ResnetGenerator, {counts['netG_A']:,} parameters" in res.stdout
    assert f"netD_B: NLayerDiscriminator, {counts['netD_B']:,} parameters" in res.stdout
    assert "train: UnalignedDataset at data/synthetic_shapes: missing; training would generate it" in res.stdout
    assert not (tmp_path / "output").exists()


def test_training_from_a_paddlegan_config_saves_the_translation(tmp_path, monkeypatch):
    from ppimg2img.cli import train_main
    for split in ("trainA", "trainB", "testA", "testB"):
        _write_images(str(tmp_path / "data" / "h2z" / split), 2)
    raw = pg_cyclegan(root="data/h2z", load=36, crop=32)
    raw["model"]["generator"]["n_blocks"] = 6
    (tmp_path / "cyclegan_h2z.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    code = train_main(["-c", "cyclegan_h2z.yaml", "--no-progress", "--no-cuda", "-o", "epochs=1",
                       "train.max_iters=1", "train.eval_at_end=false"])
    assert code == 0
    saved = tmp_path / "output_dir" / "cyclegan_h2z" / "config.yaml"
    text = saved.read_text()
    assert text.startswith("# Translated from the PaddleGAN config cyclegan_h2z.yaml")
    assert "# ignored: export_model:" in text
    again = load_config(str(saved))  # the saved file is a native config that runs as it is
    assert again["model"]["generator"]["name"] == "resnet_6blocks" and again["device"] == "cpu"
    assert again["train"]["epochs"] == 1 and again["dataset"]["train"]["dataroot"] == "data/h2z"
    assert (tmp_path / "output_dir" / "cyclegan_h2z" / "checkpoints" / "latest.pdckpt").is_file()


def test_a_bad_paddlegan_key_stops_the_command_with_the_file_and_key(tmp_path, capsys):
    from ppimg2img.cli import train_main
    raw = pg_cyclegan()
    raw["model"]["generator"]["norm_type"] = "spectral"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert train_main(["-c", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"{path} (PaddleGAN format): PaddleGAN key model.generator.norm_type: value 'spectral'" in err
    assert isinstance(pg.PaddleGANConfigError("x"), ConfigError)


def test_load_takes_paddlegans_weight_files(tmp_path):
    """`--load X.pdparams` (PaddleGAN's `--evaluate-only --load`): the nets of PaddleGAN's file are converted
    as load_generator converts them, and netG_A then gives PaddleGAN's own output."""
    import paddle
    from ppimg2img.cli import _load_weights
    from ppimg2img.engine.trainer import Trainer
    pgdir = os.path.join(ROOT, "tests", "data", "paddlegan")
    raw = pg_cyclegan(root=str(tmp_path / "none"))
    raw["model"]["generator"]["n_blocks"] = 6
    cfg, _ = translated(raw, "c", {"output_dir": str(tmp_path / "run"), "device": "cpu"})
    trainer = Trainer(cfg)
    assert _load_weights(trainer, os.path.join(pgdir, "cyclegan_resnet_6blocks_ngf4.pdparams")) == \
        ["netG_A", "netG_B", "netD_A", "netD_B"]
    net = trainer.model.nets["netG_A"]
    net.eval()
    x = np.load(os.path.join(pgdir, "cyclegan_resnet_6blocks_ngf4_in.npy"))
    with paddle.no_grad():
        got = net(paddle.to_tensor(x)).numpy()
    assert np.abs(got - np.load(os.path.join(pgdir, "cyclegan_resnet_6blocks_ngf4_netG_A_out.npy"))).max() < 1e-4


def test_load_config_translates_paddlegan_files(tmp_path):
    """Every command that reads a config (`ppimg2img export -c`, tools/evaluate.py...) takes PaddleGAN's too."""
    path = tmp_path / "cyclegan_horse2zebra.yaml"
    path.write_text(yaml.safe_dump(pg_cyclegan()))
    cfg = load_config(str(path), ["model.generator.ngf=8", "train.max_iters=3"])
    expected, _ = translated(pg_cyclegan(), "cyclegan_horse2zebra", {"model.generator.ngf": 8, "train.max_iters": 3})
    assert cfg == expected
    assert load_config(str(path), {"seed": 4})["seed"] == 4
    path.write_text(yaml.safe_dump({**pg_cyclegan(), "epochs": "many"}))
    with pytest.raises(ConfigError, match=r"cyclegan_horse2zebra\.yaml \(PaddleGAN format\): .*epochs"):
        load_config(str(path))


def test_a_list_where_a_name_belongs_is_a_named_error():
    raw = pg_cyclegan()
    raw["model"]["generator"]["n_blocks"] = [9]
    with pytest.raises(pg.PaddleGANConfigError, match=r"model\.generator\.n_blocks: value \[9\]"):
        pg.translate(raw)
    tr = pg.translate(pg_pix2pix())
    assert any("no bias on its first convolution" in n and "(4 more parameters)" in n for n in tr.notes)
