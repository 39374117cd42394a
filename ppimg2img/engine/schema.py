"""The config schema: every key a config may hold, its type, default and meaning.

Sections with a ``name`` (model, generator, discriminator, datasets) are checked against the
keyword arguments of the class or function that name picks, so their keys and defaults are
documented in that code. Everything else is listed here.
"""
from ..config import Component, Field, Section
from ..data import DATASETS
from ..models import MODELS
from ..nets import DISCRIMINATORS, GENERATORS
from ..schedulers import LR_POLICIES, build_lr_scheduler
from ..data.transforms import DIRECTION_ALIASES, PREPROCESS_MODES
from ..losses import GAN_MODES
from ..nets.init import INIT_TYPES
from ..nets.norm import NORM_TYPES
from ..nets.resnet_generator import PADDING_TYPES
from ..models.base import OPTIMIZERS, build_optimizer

#: valid values of arguments that take one of a few names, wherever they appear
CHOICES = {"norm": NORM_TYPES, "padding_type": PADDING_TYPES, "gan_mode": GAN_MODES,
           "init_type": INIT_TYPES, "policy": LR_POLICIES, "preprocess": PREPROCESS_MODES,
           "direction": tuple(DIRECTION_ALIASES)}

GENERATOR = Component(GENERATORS, choices=CHOICES, help="generator architecture and its arguments")
DISCRIMINATOR = Component(DISCRIMINATORS, choices=CHOICES, help="discriminator architecture and its arguments")

MODEL = Component(
    MODELS, exclude=("generator", "discriminator", "is_train", "seed"),
    extra={"generator": GENERATOR, "discriminator": DISCRIMINATOR}, choices=CHOICES,
    help="model class and its loss weights")

DATASET = Component(DATASETS, exclude=("seed",), choices=CHOICES, help="dataset class and its arguments")

SYNTHETIC = Section({
    "n_train": Field(int, 200, minimum=1, help="training images per domain"),
    "n_test": Field(int, 20, minimum=1, help="test images per domain"),
    "size": Field(int, 64, minimum=32, help="image side in pixels"),
    "seed": Field(int, 0, help="generator seed"),
    "kind": Field(str, None, choices=("unpaired", "paired", None),
                  help="'unpaired' (coloured shapes, CycleGAN) or 'paired' (labels -> rendered shapes, "
                       "pix2pix); default: paired for paired datasets (AlignedDataset), else unpaired"),
}, optional=True, help="generate a synthetic dataset into dataset.train.dataroot if missing")

CONFIG_SCHEMA = Section({
    "name": Field(str, None, help="run name (default: the config file's name)"),
    "output_dir": Field(str, None, help="run folder (default: output/<name>)"),
    "seed": Field(int, 0, help="random seed for weights, data order, augmentation and pools"),
    "device": Field(str, "auto", choices=("auto", "cpu", "gpu"), help="where to run"),
    "threads": Field(int, None, minimum=1, help="CPU threads for Paddle (default: every core)"),
    "model": MODEL,
    "dataset": Section({
        "train": DATASET,
        "test": Component(DATASETS, exclude=("seed",), optional=True, choices=CHOICES,
                          help="evaluation dataset (phase: test); null to skip evaluation"),
        "synthetic": SYNTHETIC,
    }),
    "optimizer": Component(build_optimizer, exclude=("parameters", "scheduler"),
                           extra={"lr": Field(float, 0.0002, help="initial learning rate")},
                           choices={"name": OPTIMIZERS},
                           help="optimizer settings (Adam, or RMSprop for WGAN)"),
    "lr_scheduler": Component(build_lr_scheduler, exclude=("optimizer_lr",), choices=CHOICES,
                              help="learning-rate policy, stepped once per epoch"),
    "train": Section({
        "epochs": Field(int, None, minimum=1, help="number of epochs (default: n_epochs + n_epochs_decay)"),
        "max_iters": Field(int, None, minimum=1, help="stop after this many iterations in total (for quick runs)"),
        "batch_size": Field(int, 1, minimum=1, help="images per batch"),
        "num_workers": Field(int, 2, minimum=0, help="data-loading worker processes (0: load in the main process)"),
        "log_interval": Field(int, 100, minimum=1, help="log losses every N iterations"),
        "visual_interval": Field(int, 400, minimum=1, help="save a visuals grid every N iterations"),
        "save_epoch_interval": Field(int, 5, minimum=1,
                                     help="keep a checkpoint every N epochs (latest is always kept)"),
        "save_latest_interval": Field(int, 5000, minimum=1, help="also refresh 'latest' every N iterations"),
        "eval_at_end": Field(bool, True, help="evaluate on dataset.test when training ends"),
        "visualdl": Field(bool, False, help="write VisualDL scalars (pip install visualdl)"),
        "sync_batchnorm": Field(bool, False, help="multi-process runs: BatchNorm statistics over the global "
                                                  "batch (SyncBatchNorm, GPU); no effect in one process"),
        "fast": Field((bool, str), "auto", choices=(True, False, "auto"),
                      help="the training step: true runs it as static programs on oneDNN kernels (CPU; CycleGAN, "
                           "pix2pix, colorization; same losses and updates within float rounding, dropout masks from "
                           "another random stream; 2-2.3x the eager step's memory for CycleGAN; the first step builds "
                           "the programs, 15-60 s; single process, not with gan_mode wgangp; no faster than the eager "
                           "step now that eager convolutions run on oneDNN, ppimg2img/nets/onednn_conv.py), false the "
                           "eager step (about PyTorch's memory). 'auto' keeps the eager step for ResNet-generator "
                           "CycleGANs when the eager convolutions run on oneDNN; otherwise it takes the static step "
                           "for CycleGAN runs of at least 1000 iterations on a "
                           "fixed-size crop, with batch x crop_size^2 x ngf^2 at least 64^2 x 64^2 (64 px at ngf 64, "
                           "128 px at ngf 32; smaller steps are no faster), when its estimated peak memory plus 25% "
                           "fits in the available memory (resnet_9blocks at 256 px: about 9.6 GB), else the eager "
                           "step; the training log says which and why. See ppimg2img/engine/fast.py and "
                           "benchmarks/README.md"),
        "eval_epoch_interval": Field(int, None, minimum=1,
                                     help="also evaluate on dataset.test every N epochs (eval/epoch_NNN/)"),
    }),
    "eval": Section({
        "max_images": Field(int, None, minimum=1, help="evaluate at most N images per direction"),
        "samples": Field(int, None, minimum=1, help="generation models: samples drawn from fixed noise for the "
                                                   "metrics (default: as many as the test set holds, at most 10000)"),
        "directions": Field(list, ["AtoB", "BtoA"], choices=("AtoB", "BtoA"),
                            help="which generators to evaluate (models with one generator, like pix2pix, "
                                 "only have AtoB)"),
        "inference_mode": Field(str, "eval", choices=("eval", "train_norm"),
                                help="'eval': BatchNorm running statistics, no dropout; 'train_norm': batch "
                                     "statistics and dropout on, as the original pix2pix test.py"),
        "y_channel": Field(bool, False, help="PSNR/SSIM on the BT.601 luma (Y) instead of RGB"),
        "crop_border": Field(int, 0, minimum=0, help="ignore this many border pixels in PSNR/SSIM"),
        "fid": Field(bool, False, help="compute FID of the outputs against the real target images "
                                       "(needs the Inception weights, see eval.inception_weights)"),
        "kid": Field(bool, False, help="compute KID (same features as FID)"),
        "inception_weights": Field(str, None, help="FID Inception weights file (default: the cached "
                                                    "pt_inception-2015-12-05-6726825d.pth, downloaded once)"),
        "fid_batch_size": Field(int, 50, minimum=1, help="images per Inception forward pass"),
        "kid_subsets": Field(int, 100, minimum=1, help="KID: number of random subsets"),
        "kid_subset_size": Field(int, 1000, minimum=2, help="KID: images per subset (capped at the set sizes)"),
    }),
})
