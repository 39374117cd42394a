"""Evaluation of a trained model, one module per kind of model (``model.kind``):

- ``translation`` (CycleGAN, pix2pix, U-GAT-IT, photo2cartoon): every test image through each
  generator, pages of input / output / ground truth, PSNR/SSIM, FID/KID on request;
- ``generation`` (GANModel): samples from fixed noise, grids, interpolations, the digit
  classifier score, feature and Inception FID/KID;
- ``common``: the nets' inference mode and FID/KID against real images, shared by both.
"""


def evaluate(trainer, tag="latest", progress=True):
    """Evaluate ``trainer.model`` by its kind ('translation' unless the model says 'generation')."""
    if trainer.model.kind == "generation":
        from .generation import evaluate_generation
        return evaluate_generation(trainer, tag, progress)
    from .translation import evaluate_translation
    return evaluate_translation(trainer, tag, progress)
