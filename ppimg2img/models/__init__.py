"""Model table: the config's ``model.name`` is a key here."""
from .cyclegan import CycleGANModel
from .gan import GANModel
from .pggan import PGGANModel
from .photo2cartoon import Photo2CartoonModel
from .pix2pix import ColorizationModel, Pix2PixModel
from .stylegan2 import StyleGAN2Model
from .ugatit import UGATITModel

MODELS = {"CycleGANModel": CycleGANModel, "Pix2PixModel": Pix2PixModel, "ColorizationModel": ColorizationModel,
          "UGATITModel": UGATITModel, "Photo2CartoonModel": Photo2CartoonModel,
          "GANModel": GANModel, "StyleGAN2Model": StyleGAN2Model,
          "PGGANModel": PGGANModel}
