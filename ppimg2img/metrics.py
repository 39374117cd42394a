"""Image quality metrics on RGB uint8 arrays (scikit-image implementations)."""
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def psnr(image, reference):
    """PSNR in dB for uint8 images (data range 255); inf for identical images."""
    _check(image, reference)
    if np.array_equal(image, reference):
        return float("inf")
    return float(peak_signal_noise_ratio(reference, image, data_range=255))


def ssim(image, reference):
    """Mean SSIM over RGB channels (Wang et al. 2004, gaussian window as in the paper)."""
    _check(image, reference)
    return float(structural_similarity(reference, image, data_range=255, channel_axis=-1,
                                       gaussian_weights=True, sigma=1.5, use_sample_covariance=False))


def _check(a, b):
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
