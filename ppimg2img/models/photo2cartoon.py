"""photo2cartoon (minivision-ai/photo2cartoon), following ``UgatitSadalinHourglass.train()``.

U-GAT-IT's training step (see :mod:`ppimg2img.models.ugatit`) with the photo2cartoon generator,
the original weights (adv 1, cycle 50, identity 10, CAM 1000, face-ID 1), WClipper(0, 1) on the
Soft-AdaLIN blend weights next to RhoClipper(0, 1), and a face-ID loss: 1 - cosine similarity of
the MobileFaceNet embeddings of each real face and its translation (both directions), on the
original's fixed central crop resized to 112. The face-ID network is frozen, in eval mode, and its
weights come from a file (InsightFace_Pytorch's ``model_mobilefacenet.pth``, as the original).
"""
import os

from ..nets.mobilefacenet import MobileFaceNet, face_id_distance
from ..nets.photo2cartoon import WClipper
from ..utils.env import logger
from ..weights import load_weights_into
from .base import set_requires_grad
from .ugatit import UGATITModel


class Photo2CartoonModel(UGATITModel):
    """trainA: aligned face photos (from the face pipeline), trainB: cartoon faces.

    ``faceid_model``: path of the MobileFaceNet weights (.pth from InsightFace_Pytorch /
    photo2cartoon, or a converted .pdparams). ``faceid_weight: 0`` trains without the face-ID loss.
    """

    def __init__(self, generator, discriminator, adv_weight=1.0, cycle_weight=50.0, identity_weight=10.0,
                 cam_weight=1000.0, faceid_weight=1.0, faceid_model=None, n_layers_local=5,
                 is_train=True, seed=0):
        super().__init__(generator, discriminator, adv_weight=adv_weight, cycle_weight=cycle_weight,
                         identity_weight=identity_weight, cam_weight=cam_weight,
                         n_layers_local=n_layers_local,
                         is_train=is_train, seed=seed)
        self.faceid_weight = faceid_weight
        self.w_clipper = WClipper(0.0, 1.0)
        self.facenet = None
        if not is_train:
            return
        if faceid_weight <= 0:
            logger.info("photo2cartoon: face-ID loss off (model.faceid_weight is 0). The original trains "
                        "with faceid_weight 1 and MobileFaceNet weights (model.faceid_model: "
                        "model_mobilefacenet.pth)")
            return
        if not faceid_model:
            raise ValueError(
                f"model.faceid_weight is {faceid_weight} but model.faceid_model is not set: the face-ID loss "
                f"needs MobileFaceNet weights (model_mobilefacenet.pth of InsightFace_Pytorch, which "
                f"photo2cartoon uses). Set model.faceid_model to that file, or model.faceid_weight: 0 to "
                f"train without the face-ID loss.")
        if not os.path.isfile(faceid_model):
            raise FileNotFoundError(
                f"model.faceid_model: {faceid_model} not found (MobileFaceNet weights for the face-ID loss). "
                f"Fix the path, or set model.faceid_weight: 0 to train without the face-ID loss.")
        # not in self.nets: never switched to train mode, never saved in checkpoints (reloaded from the file)
        self.facenet = load_weights_into(MobileFaceNet(512), faceid_model)
        self.facenet.eval()
        set_requires_grad([self.facenet], False)
        logger.info("photo2cartoon: face-ID loss on (weight %g, MobileFaceNet from %s)", faceid_weight, faceid_model)

    def extra_generator_losses(self, real, fake, domain):
        if self.facenet is None:
            return {}
        return {f"faceid_{domain}": self.faceid_weight * face_id_distance(self.facenet, real, fake)}

    def clip_generators(self):
        """RhoClipper(0, 1) and WClipper(0, 1) on both generators, as the original."""
        super().clip_generators()
        for net in (self.nets["genA2B"], self.nets["genB2A"]):
            self.w_clipper(net)
