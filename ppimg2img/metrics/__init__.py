"""Image-translation metrics.

- :func:`psnr`, :func:`ssim`: full-reference, on RGB or Y (``y_channel=True``), optional border crop.
- :func:`frechet_distance`, :func:`kernel_inception_distance`: FID and KID on InceptionV3 pool
  features (``ppimg2img.metrics.fid``; :class:`InceptionFeatures` extracts them from folders).
"""
from .fid import (InceptionFeatures, InceptionWeightsError, feature_statistics, fid_from_features,
                  frechet_distance, kernel_inception_distance, load_statistics, save_statistics)
from .image import psnr, rgb_to_y, ssim

__all__ = ["psnr", "ssim", "rgb_to_y", "frechet_distance", "kernel_inception_distance", "feature_statistics",
           "fid_from_features", "InceptionFeatures", "InceptionWeightsError", "load_statistics",
           "save_statistics"]

# Digit generators: a cached digit classifier, class histogram/entropy/accuracy and FID on its features.
from .digits import (DigitClassifier, digit_baselines, digit_features, digit_scores, get_digit_classifier,
                     train_digit_classifier)

__all__ += ["DigitClassifier", "train_digit_classifier", "get_digit_classifier", "digit_features", "digit_scores",
            "digit_baselines"]
