"""Model zoo: the published pretrained generators, where they are downloaded from, and how to
build the network that reads them.

Names are ``<collection>/<model>``; the collection says who published the file:

- ``cyclegan/<model>``: the 18 CycleGAN generators of junyanz/pytorch-CycleGAN-and-pix2pix
  (``scripts/download_cyclegan_model.sh``), ``resnet_9blocks``, ngf 64, InstanceNorm, one
  generator per file (a plain state dict), e.g. ``cyclegan/horse2zebra``;
- ``pix2pix/<model>``: the 5 pix2pix generators of the same repository
  (``scripts/download_pix2pix_model.sh``), ``unet_256``, ngf 64, BatchNorm;
- ``paddlegan/<family>_<dataset>[_<direction>]``: PaddleGAN's released ``.pdparams`` files, which
  hold a dict of networks (``netG_A``/``netG_B``, ``netG``, ``genA2B``); both directions of one
  CycleGAN file are separate entries sharing the download;
- ``minivision/photo2cartoon``: the original photo2cartoon weights, distributed only through
  Google Drive / Baidu Cloud (placed by hand, see :func:`fetch`).

A bare model name (``horse2zebra``) is accepted when it matches one entry only; ``sat2map``
exists in both ``cyclegan/`` and ``pix2pix/`` and must be written in full.

Downloads go to ``get_cache_dir()/models/<collection>/<filename>`` (``$PPIMG2IMG_HOME`` or
``~/.cache/ppimg2img``), never into the installed package. A file put there by hand is used
as is. Checksums are given only where the publisher gives one (none of them do today).
"""
import dataclasses
import difflib
import os
from typing import Optional

from ..utils.download import DownloadError, download, file_hash, get_cache_dir

__all__ = ["ZooEntry", "MODEL_ZOO", "UnknownModelError", "get_entry", "resolve_name", "list_models",
           "weights_path", "converted_path", "is_cached", "fetch", "FAMILIES"]

FAMILIES = ("cyclegan", "pix2pix", "ugatit", "photo2cartoon", "stylegan2")


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """One downloadable generator.

    ``key`` is the network's key inside the file (``'netG_A'``, ``'genA2B'``...) or None when the
    file is the generator's state dict itself. ``url`` is None when the publisher offers no
    direct link; ``page`` then says where to get ``filename``. ``direction`` is readable
    (``'horse -> zebra'``). ``sha256`` is None when unknown.
    """
    name: str
    family: str
    url: Optional[str]
    filename: str
    arch: str
    arch_kwargs: dict
    key: Optional[str]
    direction: str
    sha256: Optional[str]
    source: str  # 'original' (the paper authors' release) or 'paddlegan'
    licence: str
    description: str
    page: str

    @property
    def collection(self):
        """The ``cyclegan`` of ``cyclegan/horse2zebra``: the cache sub-folder."""
        return self.name.split("/", 1)[0]


# --- the original CycleGAN and pix2pix releases (junyanz/pytorch-CycleGAN-and-pix2pix) ---------
_JUNYANZ = "https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix"
_CYCLEGAN_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/{}.pth"
_PIX2PIX_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch/{}.pth"
_JUNYANZ_LICENCE = ("BSD licence of junyanz/pytorch-CycleGAN-and-pix2pix (Zhu, Park, Isola et al.); "
                    "the training images keep their own terms")
_CITYSCAPES_LICENCE = (_JUNYANZ_LICENCE + "; trained on Cityscapes, whose terms allow "
                       "non-commercial use only (cityscapes-dataset.com)")
# CycleGAN models are trained with the defaults of the cycle_gan model: resnet_9blocks, ngf 64,
# InstanceNorm without affine parameters, no dropout (``--no_dropout`` is its default).
_CYCLEGAN_ARCH = ("resnet_9blocks", {"input_nc": 3, "output_nc": 3, "ngf": 64, "norm": "instance",
                                     "use_dropout": False})
# pix2pix: unet_256, ngf 64, BatchNorm, dropout 0.5 in the inner decoder blocks (no weights).
# The original test.py runs the net in train mode unless --eval is given: dropout stays active and
# BatchNorm normalises with the test image's own statistics, not the running ones.
_PIX2PIX_ARCH = ("unet_256", {"input_nc": 3, "output_nc": 3, "ngf": 64, "norm": "batch",
                              "use_dropout": True})

_CYCLEGAN_MODELS = [  # (name, direction, training dataset)
    ("horse2zebra", "horse -> zebra", "horse2zebra (ImageNet)"),
    ("zebra2horse", "zebra -> horse", "horse2zebra (ImageNet)"),
    ("apple2orange", "apple -> orange", "apple2orange (ImageNet)"),
    ("orange2apple", "orange -> apple", "apple2orange (ImageNet)"),
    ("summer2winter_yosemite", "summer -> winter", "summer2winter_yosemite (Flickr)"),
    ("winter2summer_yosemite", "winter -> summer", "summer2winter_yosemite (Flickr)"),
    ("monet2photo", "Monet painting -> photo", "monet2photo"),
    ("style_monet", "photo -> Monet painting", "monet2photo"),
    ("style_cezanne", "photo -> Cezanne painting", "cezanne2photo"),
    ("style_ukiyoe", "photo -> Ukiyo-e print", "ukiyoe2photo"),
    ("style_vangogh", "photo -> Van Gogh painting", "vangogh2photo"),
    ("sat2map", "aerial photo -> map", "maps (Google Maps)"),
    ("map2sat", "map -> aerial photo", "maps (Google Maps)"),
    ("cityscapes_photo2label", "street photo -> label map", "cityscapes"),
    ("cityscapes_label2photo", "label map -> street photo", "cityscapes"),
    ("facades_photo2label", "facade photo -> label map", "facades (CMP Facades)"),
    ("facades_label2photo", "label map -> facade photo", "facades (CMP Facades)"),
    ("iphone2dslr_flower", "iPhone photo -> DSLR photo", "iphone2dslr_flower (Flickr flowers)"),
]

_PIX2PIX_MODELS = [
    ("edges2shoes", "edges -> shoe photo", "edges2shoes (UT Zappos50K)"),
    ("sat2map", "aerial photo -> map", "maps (Google Maps)"),
    ("map2sat", "map -> aerial photo", "maps (Google Maps)"),
    ("facades_label2photo", "label map -> facade photo", "facades (CMP Facades)"),
    ("day2night", "day -> night", "night2day (Transient Attributes)"),
]


def _original(family, model, direction, dataset):
    url_pattern, (arch, kwargs), script = (
        (_CYCLEGAN_URL, _CYCLEGAN_ARCH, "download_cyclegan_model.sh") if family == "cyclegan"
        else (_PIX2PIX_URL, _PIX2PIX_ARCH, "download_pix2pix_model.sh"))
    licence = _CITYSCAPES_LICENCE if "cityscapes" in model else _JUNYANZ_LICENCE
    return ZooEntry(
        name=f"{family}/{model}", family=family, url=url_pattern.format(model), filename=f"{model}.pth",
        arch=arch, arch_kwargs=dict(kwargs), key=None, direction=direction, sha256=None,
        source="original", licence=licence,
        description=f"{'CycleGAN' if family == 'cyclegan' else 'pix2pix'} generator {direction}, "
                    f"trained on {dataset}",
        page=f"{_JUNYANZ}/blob/master/scripts/{script}")


# --- PaddleGAN releases (Apache-2.0), documented in PaddleGAN's docs/*/tutorials ----------------
_PADDLEGAN_URL = "https://paddlegan.bj.bcebos.com/models/{}"
_PADDLEGAN_DOCS = "https://github.com/PaddlePaddle/PaddleGAN/blob/develop/docs/en_US/tutorials/{}"
_PADDLEGAN_LICENCE = "Apache-2.0 (PaddlePaddle/PaddleGAN); the training images keep their own terms"
# PaddleGAN's configs/cyclegan_*.yaml: the original's network and names (ppgan/models/generators/
# resnet.py); its InstanceNorm's frozen scale/bias (1/0) are dropped on loading.
_PG_CYCLEGAN_ARCH = _CYCLEGAN_ARCH
# configs/pix2pix_*.yaml: unet_256, use_dropout False. PaddleGAN's BatchNorm (ppgan/modules/norm.py,
# trainable_statistics=True) normalises with the batch's statistics at test time too (eval_stats
# 'batch'). Its UnetSkipConnectionBlock (ppgan/models/generators/unet.py) has a non-in-place
# LeakyReLU, so its skips carry x, not LeakyReLU(x): the same output (the parent's ReLU comes first).
_PG_PIX2PIX_ARCH = ("unet_256", {"input_nc": 3, "output_nc": 3, "ngf": 64, "norm": "batch",
                                 "use_dropout": False, "eval_stats": "batch"})


def _paddlegan(model, family, filename, arch, key, direction, description, doc, licence=_PADDLEGAN_LICENCE):
    return ZooEntry(
        name=f"paddlegan/{model}", family=family, url=_PADDLEGAN_URL.format(filename), filename=filename,
        arch=arch[0], arch_kwargs=dict(arch[1]), key=key, direction=direction, sha256=None,
        source="paddlegan", licence=licence, description=description, page=_PADDLEGAN_DOCS.format(doc))


_PADDLEGAN_ENTRIES = [
    _paddlegan("cyclegan_horse2zebra", "cyclegan", "CycleGAN_horse2zebra.pdparams", _PG_CYCLEGAN_ARCH,
               "netG_A", "horse -> zebra", "PaddleGAN CycleGAN trained on horse2zebra (file holds "
               "netG_A and netG_B)", "pix2pix_cyclegan.md"),
    _paddlegan("cyclegan_zebra2horse", "cyclegan", "CycleGAN_horse2zebra.pdparams", _PG_CYCLEGAN_ARCH,
               "netG_B", "zebra -> horse", "PaddleGAN CycleGAN trained on horse2zebra (file holds "
               "netG_A and netG_B)", "pix2pix_cyclegan.md"),
    _paddlegan("cyclegan_cityscapes_photo2label", "cyclegan", "CycleGAN_cityscapes.pdparams", _PG_CYCLEGAN_ARCH,
               "netG_A", "street photo -> label map", "PaddleGAN CycleGAN trained on cityscapes (file holds "
               "netG_A and netG_B)", "pix2pix_cyclegan.md",
               _PADDLEGAN_LICENCE + "; Cityscapes terms allow non-commercial use only"),
    _paddlegan("cyclegan_cityscapes_label2photo", "cyclegan", "CycleGAN_cityscapes.pdparams", _PG_CYCLEGAN_ARCH,
               "netG_B", "label map -> street photo", "PaddleGAN CycleGAN trained on cityscapes (file "
               "holds netG_A and netG_B)", "pix2pix_cyclegan.md",
               _PADDLEGAN_LICENCE + "; Cityscapes terms allow non-commercial use only"),
    _paddlegan("pix2pix_cityscapes_label2photo", "pix2pix", "Pix2Pix_cityscapes.pdparams", _PG_PIX2PIX_ARCH,
               "netG", "label map -> street photo", "PaddleGAN pix2pix trained on cityscapes, direction "
               "BtoA (PaddleGAN's BatchNorm: batch statistics at test time)",
               "pix2pix_cyclegan.md",
               _PADDLEGAN_LICENCE + "; Cityscapes terms allow non-commercial use only"),
    _paddlegan("pix2pix_facades_label2photo", "pix2pix", "Pixel2Pixel_facades.pdparams", _PG_PIX2PIX_ARCH,
               "netG", "label map -> facade photo", "PaddleGAN pix2pix trained on facades, direction BtoA "
               "(PaddleGAN's BatchNorm: batch statistics at test time)",
               "pix2pix_cyclegan.md"),
    _paddlegan("ugatit_selfie2anime_light", "ugatit", "ugatit_light.pdparams",
               ("ugatit", {"input_nc": 3, "output_nc": 3, "ngf": 64, "n_blocks": 4, "img_size": 256,
                           "light": True}),
               "genA2B", "selfie -> anime face", "PaddleGAN U-GAT-IT (light) trained on selfie2anime "
               "(configs/ugatit_selfie2anime_light.yaml)", "ugatit.md"),
    # A plain state dict of PaddleGAN's ResnetUGATITP2CGenerator (ppgan/models/generators/
    # resnet_ugatit_p2c.py). Its parameter names differ from the original photo2cartoon code
    # (DownBlock.N/UpBlock.N Sequentials, conv_block1..3, ConvBlockskipN), and its CAM classifiers
    # (gap_fc, gmp_fc) and MLP/Soft-AdaLIN linears have no bias, where the original's have one.
    _paddlegan("photo2cartoon", "photo2cartoon", "photo2cartoon_genA2B_weight.pdparams",
               ("photo2cartoon", {"ngf": 32, "img_size": 256, "light": True}),
               None, "face photo -> cartoon", "PaddleGAN photo2cartoon generator (genA2B only; "
               "PaddleGAN's parameter names; CAM and MLP linears without bias)", "photo2cartoon.md"),
]

# --- photo2cartoon by Minivision (MIT), no direct download link -----------------------------------
_PHOTO2CARTOON_ORIGINAL = ZooEntry(
    name="minivision/photo2cartoon", family="photo2cartoon", url=None, filename="photo2cartoon_weights.pt",
    arch="photo2cartoon", arch_kwargs={"ngf": 32, "img_size": 256, "light": True}, key="genA2B",
    direction="face photo -> cartoon", sha256=None, source="original",
    licence="MIT (minivision-ai/photo2cartoon)",
    description="Original photo2cartoon generator (U-GAT-IT with hourglass modules and Soft-AdaLIN, "
                "ngf 32, light), the file of the May 4, 2020 update; distributed on Google Drive "
                "(https://drive.google.com/open?id=1lsQS8hOCquMFKJFhK_z-n03ixWGkjT2P) and Baidu Cloud "
                "(https://pan.baidu.com/s/1MsT3-He3UGipKhUi4OcCJw, access code y2ch)",
    page="https://github.com/minivision-ai/photo2cartoon#download")

# --- StyleGAN2 (Karras et al. 2020): converted from NVIDIA's official TensorFlow release ----------
_NVIDIA_NC = ("NVIDIA Source Code License-NC (the official StyleGAN2 weights this file is converted from): "
              "non-commercial use only; trained on FFHQ (CC BY-NC-SA 4.0)")
_STYLEGAN2_FFHQ = ("stylegan2", {"size": 1024, "style_dim": 512, "n_mlp": 8, "channel_multiplier": 2})
_STYLEGAN2_ENTRIES = [
    # PaddleGAN's ppgan/apps/styleganv2_predictor.py model_cfgs: a plain generator state dict
    _paddlegan("stylegan2_ffhq_config_f", "stylegan2", "stylegan2-ffhq-config-f.pdparams", _STYLEGAN2_FFHQ,
               None, "z -> face photo (1024x1024)", "StyleGAN2 config-f trained on FFHQ at 1024, NVIDIA's "
               "weights converted by PaddleGAN (30.4M generator parameters)", "styleganv2.md",
               "Apache-2.0 (PaddleGAN's conversion code); " + _NVIDIA_NC),
    _paddlegan("stylegan2_animeface_512", "stylegan2", "stylegan2-animeface-512.pdparams",
               ("stylegan2", {"size": 512, "style_dim": 512, "n_mlp": 8, "channel_multiplier": 2}),
               None, "z -> anime face (512x512)", "StyleGAN2 (config-f widths) trained on anime faces at 512, "
               "released by PaddleGAN", "styleganv2.md",
               "released by PaddleGAN (Apache-2.0 code); the weights' training data terms are not stated: "
               "treat as non-commercial"),
    # rosinality/stylegan2-pytorch's convert_weight.py output ({'g_ema', 'latent_avg'}), Google Drive only
    ZooEntry(name="rosinality/stylegan2_ffhq_config_f", family="stylegan2", url=None,
             filename="stylegan2-ffhq-config-f.pt", arch=_STYLEGAN2_FFHQ[0], arch_kwargs=dict(_STYLEGAN2_FFHQ[1]),
             key="g_ema", direction="z -> face photo (1024x1024)", sha256=None, source="original",
             licence=_NVIDIA_NC,
             description="StyleGAN2 config-f FFHQ 1024 converted by rosinality's convert_weight.py (g_ema and "
                         "latent_avg); distributed on Google Drive "
                         "(https://drive.google.com/open?id=1EM87UquaoQmk17Q8d5kYIAHqu0dkYqdT); the other "
                         "official releases (car, cat, church, horse: NVIDIA's .pkl) convert with the same script",
             page="https://github.com/rosinality/stylegan2-pytorch#convert-weight-from-official-checkpoints"),
]

MODEL_ZOO = {entry.name: entry for entry in (
    [_original("cyclegan", *m) for m in _CYCLEGAN_MODELS]
    + [_original("pix2pix", *m) for m in _PIX2PIX_MODELS]
    + _PADDLEGAN_ENTRIES + [_PHOTO2CARTOON_ORIGINAL] + _STYLEGAN2_ENTRIES)}


class UnknownModelError(ValueError):
    """The name is not in the zoo (or a bare name matches several entries)."""


def _short_names():
    """Bare model name -> the full names it matches, e.g. 'sat2map' -> [cyclegan/..., pix2pix/...]."""
    table = {}
    for name in MODEL_ZOO:
        table.setdefault(name.split("/", 1)[1], []).append(name)
    return table


def resolve_name(name):
    """The full zoo name for ``name`` (full or bare). Raises :class:`UnknownModelError`."""
    name = str(name).strip()
    if name in MODEL_ZOO:
        return name
    short = _short_names()
    matches = short.get(name, [])
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UnknownModelError(f"Model name '{name}' is ambiguous: write one of {', '.join(matches)}.")
    close = difflib.get_close_matches(name, list(MODEL_ZOO) + list(short), n=1, cutoff=0.6)
    hint = ""
    if close:
        options = [close[0]] if close[0] in MODEL_ZOO else short[close[0]]
        hint = f" Did you mean {' or '.join(repr(o) for o in options)}?"
    raise UnknownModelError(f"Unknown model '{name}'.{hint} Run `ppimg2img models` to list the "
                            f"{len(MODEL_ZOO)} models of the zoo.")


def get_entry(name):
    """The :class:`ZooEntry` of ``name`` (``'cyclegan/horse2zebra'`` or ``'horse2zebra'``)."""
    return MODEL_ZOO[resolve_name(name)]


def list_models(family=None):
    """Zoo names, optionally only those of one family ('cyclegan', 'pix2pix', 'ugatit', 'photo2cartoon')."""
    if family is not None and family not in FAMILIES:
        raise ValueError(f"Unknown model family '{family}'; choose from {', '.join(FAMILIES)}.")
    return [name for name, entry in MODEL_ZOO.items() if family is None or entry.family == family]


def weights_path(name):
    """Where the downloaded file of ``name`` lives (and where a hand-downloaded copy is picked up):
    ``<cache>/models/<collection>/<filename>``. Two entries of the same file share the path."""
    entry = get_entry(name)
    return os.path.join(get_cache_dir(), "models", entry.collection, entry.filename)


def converted_path(name):
    """Where the converted Paddle weights of ``name`` are cached, next to the original file:
    ``<file>.converted.pdparams``, or ``<file>.<key>.converted.pdparams`` for a file that holds
    several networks (the two directions of a PaddleGAN CycleGAN file must not share a cache)."""
    entry = get_entry(name)
    suffix = f".{entry.key}.converted.pdparams" if entry.key else ".converted.pdparams"
    return weights_path(name) + suffix


def is_cached(name):
    """Whether the original file of ``name`` is already in the cache."""
    return os.path.isfile(weights_path(name))


def fetch(name, progress=True):
    """Download the file of ``name`` into the cache unless it is there; return its path.

    The download resumes a previous partial one, verifies ``sha256`` when known and renames
    the file into place only when complete. Raises :class:`UnknownModelError` for an unknown
    name and ``DownloadError`` (``ChecksumError``) when the file cannot be obtained; the message
    names the URL and the exact path where a manually downloaded copy is picked up.
    """
    entry = get_entry(name)
    path = weights_path(entry.name)
    if entry.url is None:
        if not os.path.isfile(path):
            raise DownloadError(
                f"{entry.name} has no direct download link. Download {entry.filename} by hand from "
                f"{entry.page} ({entry.description}) and put it at {os.path.abspath(path)}")
        if entry.sha256 and file_hash(path) != entry.sha256:
            raise DownloadError(f"{path} does not have the expected sha256 {entry.sha256} of {entry.name}: "
                                f"download {entry.filename} again from {entry.page}.")
        return path
    try:
        return download(entry.url, path, sha256=entry.sha256, progress=progress)
    except DownloadError as err:
        raise type(err)(f"Model {entry.name}: {err}") from None
