"""Predictors for whole-image translation: CycleGAN (and one class per published model),
pix2pix, colorization and U-GAT-IT."""
import numpy as np

from .base import BasePredictor


class CycleGANPredictor(BasePredictor):
    """CycleGAN generator (ResNet, Zhu et al. 2017). ``model`` is a zoo name such as
    ``'horse2zebra'`` or ``'style_monet'``; ``weights`` a file (original ``*_net_G.pth``,
    PaddleGAN ``.pdparams``, or a ppimg2img training checkpoint, whose ``direction='BtoA'``
    picks G_B). Images are resized to 256x256, the size the published models were trained
    at (the original ``load_size``/``crop_size``), and the result back to the input's size."""

    direction_keys = {"AtoB": None, "BtoA": "netG_B"}


def _named(class_name, zoo_name, base, what):
    doc = (f"{what}: :class:`{base.__name__}` with the published ``{zoo_name}`` weights (downloaded once "
           f"into the cache). Example: ``{class_name}().run('photo.jpg')``.")
    return type(class_name, (base,), {"default_model": zoo_name, "__doc__": doc,
                                      "__module__": __name__})


Horse2ZebraPredictor = _named("Horse2ZebraPredictor", "cyclegan/horse2zebra", CycleGANPredictor, "Horses to zebras")
Zebra2HorsePredictor = _named("Zebra2HorsePredictor", "cyclegan/zebra2horse", CycleGANPredictor, "Zebras to horses")
Apple2OrangePredictor = _named("Apple2OrangePredictor", "cyclegan/apple2orange", CycleGANPredictor,
                               "Apples to oranges")
Orange2ApplePredictor = _named("Orange2ApplePredictor", "cyclegan/orange2apple", CycleGANPredictor,
                               "Oranges to apples")
Summer2WinterPredictor = _named("Summer2WinterPredictor", "cyclegan/summer2winter_yosemite", CycleGANPredictor,
                                "Summer to winter (Yosemite photos)")
Winter2SummerPredictor = _named("Winter2SummerPredictor", "cyclegan/winter2summer_yosemite", CycleGANPredictor,
                                "Winter to summer (Yosemite photos)")
Photo2MonetPredictor = _named("Photo2MonetPredictor", "cyclegan/style_monet", CycleGANPredictor,
                              "Photos painted like Monet")
Photo2VanGoghPredictor = _named("Photo2VanGoghPredictor", "cyclegan/style_vangogh", CycleGANPredictor,
                                "Photos painted like Van Gogh")
Photo2CezannePredictor = _named("Photo2CezannePredictor", "cyclegan/style_cezanne", CycleGANPredictor,
                                "Photos painted like Cezanne")
Photo2UkiyoePredictor = _named("Photo2UkiyoePredictor", "cyclegan/style_ukiyoe", CycleGANPredictor,
                               "Photos as Ukiyo-e prints")
Monet2PhotoPredictor = _named("Monet2PhotoPredictor", "cyclegan/monet2photo", CycleGANPredictor,
                              "Monet paintings to photos")
Sat2MapPredictor = _named("Sat2MapPredictor", "cyclegan/sat2map", CycleGANPredictor, "Aerial photos to maps")
Map2SatPredictor = _named("Map2SatPredictor", "cyclegan/map2sat", CycleGANPredictor, "Maps to aerial photos")


class Pix2PixPredictor(BasePredictor):
    """pix2pix U-Net generator (Isola et al. 2017). ``model`` defaults to
    ``'pix2pix/facades_label2photo'``. ``inference_mode``: ``'eval'`` (the net's eval mode, no
    dropout: deterministic, exportable; BatchNorm uses the statistics the weights were published
    for: the running ones for the original's files, the batch's own for PaddleGAN's, whose
    BatchNorm has ``trainable_statistics=True``, see ``eval_stats``) or ``'train_norm'`` (batch
    statistics and dropout on, as the original ``test.py`` without ``--eval``; eager only, varies
    per run)."""

    default_model = "pix2pix/facades_label2photo"
    direction_keys = {"AtoB": None}

    def __init__(self, model=None, weights=None, inference_mode="eval", **kwargs):
        from ..models.pix2pix import INFERENCE_MODES

        if inference_mode not in INFERENCE_MODES:
            raise ValueError(f"unknown inference_mode {inference_mode!r}; use one of {', '.join(INFERENCE_MODES)}")
        self.inference_mode = inference_mode
        super().__init__(model=model, weights=weights, **kwargs)
        if inference_mode == "train_norm":
            self.net.train()

    def _can_export(self):
        return self.inference_mode == "eval"


Edges2ShoesPredictor = _named("Edges2ShoesPredictor", "pix2pix/edges2shoes", Pix2PixPredictor,
                              "Edge drawings to shoe photos")
Day2NightPredictor = _named("Day2NightPredictor", "pix2pix/day2night", Pix2PixPredictor, "Day to night")


class ColorizationPredictor(Pix2PixPredictor):
    """pix2pix colorization (L -> ab of Lab, the original ``colorization`` model): any photo in,
    its colourised version out. Needs ``weights`` of a colorization training run."""

    default_model = None

    def _to_input(self, image):
        from ..data.colorization import rgb_to_lab_arrays

        return rgb_to_lab_arrays(image)[0]

    def _from_output(self, out, image):
        from ..data.colorization import lab_to_rgb

        return lab_to_rgb(self._to_input(np.asarray(image, np.uint8)), out)


class UGATITPredictor(BasePredictor):
    """U-GAT-IT generator (Kim et al. 2020). ``model`` defaults to PaddleGAN's light
    selfie2anime; ``direction='BtoA'`` picks genB2A of a file that holds both. Images are
    resized to the generator's ``img_size`` (256), as the original test does."""

    default_model = "paddlegan/ugatit_selfie2anime_light"
    direction_keys = {"AtoB": None, "BtoA": "genB2A"}
