"""Full-reference image metrics on uint8 images: PSNR and SSIM, on RGB or on the Y channel.

Y is ITU-R BT.601 luma in [16, 235] (MATLAB ``rgb2ycbcr``, scikit-image ``rgb2ycbcr``), the
convention of super-resolution and restoration papers. ``crop_border`` drops that many pixels
on each side before measuring (also a common protocol).
"""
import numpy as np
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

__all__ = ["psnr", "ssim", "rgb_to_y"]


def rgb_to_y(rgb):
    """HxWx3 uint8 RGB -> HxW float64 BT.601 luma Y in [16, 235] (not rounded)."""
    return rgb2ycbcr(np.asarray(rgb))[..., 0]


def _prepare(image, reference, y_channel, crop_border):
    image, reference = np.asarray(image), np.asarray(reference)
    if image.shape != reference.shape:
        raise ValueError(f"images differ in shape: {image.shape} vs {reference.shape}")
    if crop_border < 0 or 2 * crop_border >= min(image.shape[:2]):
        raise ValueError(f"crop_border={crop_border} leaves nothing of a {image.shape[1]}x{image.shape[0]} image")
    if crop_border:
        image = image[crop_border:-crop_border, crop_border:-crop_border]
        reference = reference[crop_border:-crop_border, crop_border:-crop_border]
    if y_channel:
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"y_channel needs HxWx3 RGB images, got shape {image.shape}")
        return rgb_to_y(image), rgb_to_y(reference)
    return image, reference


def psnr(image, reference, y_channel=False, crop_border=0):
    """PSNR in dB of uint8 ``image`` against ``reference`` (data range 255); inf if identical.

    ``y_channel``: measure the BT.601 luma only; ``crop_border``: ignore that many border pixels.
    """
    image, reference = _prepare(image, reference, y_channel, crop_border)
    if np.array_equal(image, reference):
        return float("inf")
    return float(peak_signal_noise_ratio(reference.astype(np.float64), image.astype(np.float64), data_range=255))


def ssim(image, reference, y_channel=False, crop_border=0):
    """Mean SSIM (Wang et al. 2004: 11x11 gaussian window, sigma 1.5, K1 0.01, K2 0.03), averaged
    over the RGB channels or on Y; uint8 data range 255."""
    image, reference = _prepare(image, reference, y_channel, crop_border)
    return float(structural_similarity(reference.astype(np.float64), image.astype(np.float64), data_range=255,
                                       channel_axis=-1 if image.ndim == 3 else None, gaussian_weights=True,
                                       sigma=1.5, use_sample_covariance=False))
