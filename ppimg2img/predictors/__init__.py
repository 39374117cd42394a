"""One-line inference: ``Horse2ZebraPredictor().run('horse.jpg')``.

Every predictor loads its generator once (a zoo name, a weights file or a net), then
:meth:`~ppimg2img.predictors.base.BasePredictor.run` takes paths, folders, globs, lists, arrays
or PIL images and returns RGB uint8 arrays the size of the inputs; see :class:`BasePredictor`.
"""
from .base import BasePredictor, RunSummary
from .generation import GANGeneratorPredictor
from .pggan import PGGANPredictor
from .stylegan2 import StyleGAN2Predictor
from .photo2cartoon import Photo2CartoonPredictor
from .translation import (Apple2OrangePredictor, ColorizationPredictor, CycleGANPredictor, Day2NightPredictor,
                          Edges2ShoesPredictor, Horse2ZebraPredictor, Map2SatPredictor, Monet2PhotoPredictor,
                          Orange2ApplePredictor, Photo2CezannePredictor, Photo2MonetPredictor,
                          Photo2UkiyoePredictor, Photo2VanGoghPredictor, Pix2PixPredictor, Sat2MapPredictor,
                          Summer2WinterPredictor, UGATITPredictor, Winter2SummerPredictor, Zebra2HorsePredictor)

__all__ = ["BasePredictor", "RunSummary", "CycleGANPredictor", "Pix2PixPredictor", "ColorizationPredictor",
           "UGATITPredictor", "Photo2CartoonPredictor", "Horse2ZebraPredictor", "Zebra2HorsePredictor",
           "Apple2OrangePredictor", "Orange2ApplePredictor", "Summer2WinterPredictor", "Winter2SummerPredictor",
           "Photo2MonetPredictor", "Photo2VanGoghPredictor", "Photo2CezannePredictor", "Photo2UkiyoePredictor",
           "Monet2PhotoPredictor", "Sat2MapPredictor", "Map2SatPredictor", "Edges2ShoesPredictor",
           "Day2NightPredictor", "GANGeneratorPredictor", "PGGANPredictor",
           "StyleGAN2Predictor"]
