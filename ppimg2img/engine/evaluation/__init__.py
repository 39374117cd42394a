"""Evaluation of a trained model, one module per kind of model: ``generation`` (samples from
fixed noise, grids, interpolations, classifier score and FID) for the models whose ``kind`` is
'generation'; translation models are evaluated by the trainer (test-set outputs, PSNR/SSIM)."""
