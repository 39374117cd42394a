"""FID (Heusel et al. 2017) and KID (Binkowski et al. 2018) on InceptionV3 pool features.

The math follows pytorch-fid (``calculate_frechet_distance``) and the KID reference code
(unbiased MMD^2 with the cubic polynomial kernel ``(x.y / d + 1)^3`` averaged over random
subsets). Features come from :class:`~ppimg2img.nets.inception.FIDInceptionV3` (2048-d, images
resized to 299x299 bilinearly), with weights from a file:

- pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` (the standard FID weights;
  downloaded from :data:`FID_WEIGHTS_URL` into ``<cache>/weights/`` on first use), or
- PaddleGAN's ``InceptionV3.pdparams`` (https://paddlegan.bj.bcebos.com/InceptionV3.pdparams,
  same layer names, no classifier).
"""
import os

import numpy as np
from scipy import linalg
from tqdm import tqdm

from ..nets.inception import FID_WEIGHTS_NAME, FID_WEIGHTS_URL

__all__ = ["frechet_distance", "feature_statistics", "fid_from_features", "kernel_inception_distance",
           "InceptionFeatures", "InceptionWeightsError", "default_weights_path", "save_statistics",
           "load_statistics", "PADDLEGAN_WEIGHTS_URL"]

PADDLEGAN_WEIGHTS_URL = "https://paddlegan.bj.bcebos.com/InceptionV3.pdparams"


class InceptionWeightsError(RuntimeError):
    """The Inception weights for FID/KID are missing or unusable; the message says how to get them."""


def feature_statistics(features):
    """(mean, covariance) of an N x D feature matrix (covariance with N - 1, as np.cov)."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"need an N x D feature matrix with N >= 2 images, got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 sqrt(sigma1 sigma2)) (pytorch-fid's formula,
    with its ``eps`` fallback when the product is singular)."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"statistics differ in size: mean {mu1.shape} vs {mu2.shape}, "
                         f"covariance {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    with np.errstate(all="ignore"):
        covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"FID: imaginary component {np.max(np.abs(covmean.imag))} in the matrix square root")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid_from_features(features1, features2):
    """FID between two N x D feature sets.

    When both sets have at most D images (small test sets; D = 2048 for Inception), the trace
    term is computed exactly from the features: with S_i = X_i^T X_i / (N_i - 1) for centred
    X_i, Tr sqrt(S1 S2) is the sum of the singular values of X_1 X_2^T / sqrt((N1-1)(N2-1)).
    That avoids the D x D matrix square root (tens of seconds for D = 2048) and its numerical
    trouble with singular covariances. Larger sets use pytorch-fid's formula.
    """
    f1, f2 = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    mu1, sigma1 = feature_statistics(f1)
    mu2, sigma2 = feature_statistics(f2)
    if f1.shape[1] != f2.shape[1]:
        raise ValueError(f"feature sets differ in size: {f1.shape} vs {f2.shape}")
    if max(len(f1), len(f2)) > f1.shape[1]:
        return frechet_distance(mu1, sigma1, mu2, sigma2)
    a = (f1 - mu1) / np.sqrt(len(f1) - 1)
    b = (f2 - mu2) / np.sqrt(len(f2) - 1)
    tr_covmean = np.linalg.svd(a @ b.T, compute_uv=False).sum()
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def kernel_inception_distance(features1, features2, num_subsets=100, subset_size=1000, seed=0):
    """KID: mean and standard deviation over ``num_subsets`` random subsets (of
    ``min(subset_size, N1, N2)`` images each, without replacement) of the unbiased MMD^2 with
    kernel ``k(x, y) = (x.y / d + 1)^3``. Returns ``(mean, std)``."""
    f1, f2 = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise ValueError(f"need two N x D feature matrices with the same D, got {f1.shape} and {f2.shape}")
    m = min(subset_size, len(f1), len(f2))
    if m < 2:
        raise ValueError(f"KID needs at least 2 images per set, got {len(f1)} and {len(f2)}")
    d = f1.shape[1]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(num_subsets):
        x = f1[rng.choice(len(f1), m, replace=False)]
        y = f2[rng.choice(len(f2), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        values.append((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                      - 2 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))


def save_statistics(path, features, **info):
    """Save mean, covariance (and the features, for KID) of a real set to ``path`` (.npz);
    ``info`` (folder, weights, image count...) is stored alongside."""
    mu, sigma = feature_statistics(features)
    tmp = f"{path}.tmp.npz"
    np.savez(tmp, mu=mu, sigma=sigma, features=np.asarray(features, np.float32),
             info=np.array(repr(sorted(info.items()))))
    os.replace(tmp, path)
    return path


def load_statistics(path):
    """``{'mu', 'sigma', 'features', 'info'}`` from :func:`save_statistics` (or a pytorch-fid
    .npz with just mu/sigma)."""
    try:
        with np.load(path) as data:
            out = {k: data[k] for k in data.files}
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: cannot read FID statistics ({err}); delete it to recompute") from None
    if "mu" not in out or "sigma" not in out:
        raise ValueError(f"{path}: not an FID statistics file (needs arrays 'mu' and 'sigma')")
    return out


def default_weights_path():
    """Where the FID Inception weights are cached (and where a manual download is picked up)."""
    from ..utils.download import get_cache_dir
    return os.path.join(get_cache_dir(), "weights", FID_WEIGHTS_NAME)


def _weights_help():
    return (f"FID/KID need the Inception weights {FID_WEIGHTS_NAME}. Download {FID_WEIGHTS_URL} and put it at "
            f"{default_weights_path()} (picked up automatically), or pass its path (eval.inception_weights in a "
            f"config, --inception-weights for tools/evaluate.py). PaddleGAN's InceptionV3.pdparams "
            f"({PADDLEGAN_WEIGHTS_URL}) works too.")


def resolve_weights(weights=None, download=True):
    """Path of the Inception weights: ``weights`` if given, else the cached file, downloading
    it when missing (``download=True``). Raises InceptionWeightsError with instructions."""
    if weights:
        if not os.path.isfile(weights):
            raise InceptionWeightsError(f"Inception weights file '{weights}' not found. {_weights_help()}")
        return weights
    path = default_weights_path()
    if os.path.isfile(path):
        return path
    if not download:
        raise InceptionWeightsError(_weights_help())
    from ..utils.download import DownloadError, download as fetch
    try:
        return fetch(FID_WEIGHTS_URL, path)
    except DownloadError as err:
        raise InceptionWeightsError(f"{_weights_help()} (download failed: {err})") from None


def load_inception(weights=None, download=True, resize_to=299):
    """FIDInceptionV3 in eval mode with the given (or cached/downloaded) weights, and their path.

    The file is read by ppimg2img's checkpoint reader (no torch needed): PyTorch ``.pth`` keys
    map one to one (running_mean/var -> _mean/_variance, fc weight transposed), PaddleGAN's
    ``.pdparams`` has the same names and no classifier (``fc`` is unused for features)."""
    from ..nets.inception import FIDInceptionV3
    from ..weights import load_state_into, read_checkpoint
    path = resolve_weights(weights, download)
    net = FIDInceptionV3(resize_to=resize_to)
    framework = "paddle" if path.endswith((".pdparams", ".pdparams.npz")) else "torch"
    try:
        state = dict(read_checkpoint(path))
        state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
        if framework == "paddle":  # PaddleGAN names its BatchNorm statistics after PyTorch's
            state = {k.replace(".bn.running_mean", ".bn._mean").replace(".bn.running_var", ".bn._variance"): v
                     for k, v in state.items()}
        for key, value in net.state_dict().items():
            if key.startswith("fc.") and key not in state:
                value = value.numpy()
                state[key] = value.T if framework == "torch" else value
        load_state_into(net, state, framework, source=path)
    except Exception as err:  # unreadable or mismatched file
        raise InceptionWeightsError(f"{path}: cannot load as FID Inception weights ({type(err).__name__}: {err}). "
                                    f"{_weights_help()}") from None
    net.eval()
    return net, path


class InceptionFeatures:
    """Batched 2048-d pool features of images, files or folders (any number, streamed).

    ``net``: a ready FIDInceptionV3 (tests pass one with random weights); otherwise it is built
    with :func:`load_inception` from ``weights`` (path or None for the cached/downloaded file).
    """

    def __init__(self, weights=None, batch_size=50, net=None, download=True, progress=True):
        if net is None:
            net, weights = load_inception(weights, download)
        self.net, self.weights, self.batch_size, self.progress = net, weights, int(batch_size), progress
        self.net.eval()

    def _run(self, batch):
        import paddle
        with paddle.no_grad():
            if len({img.shape for img in batch}) == 1:
                x = paddle.to_tensor(np.stack(batch).transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
                return self.net(x).numpy()
            return np.concatenate([self._run([img]) for img in batch])  # mixed sizes: one at a time

    def from_images(self, images, desc="features", total=None):
        """Features of an iterable of HxWx3 uint8 RGB images -> N x 2048 float32 (streamed: only
        one batch of images is in memory at a time when ``images`` is a generator)."""
        feats, batch = [], []
        total = len(images) if total is None and hasattr(images, "__len__") else total
        for img in tqdm(images, desc=desc, total=total, disable=not self.progress, leave=False, unit="img"):
            batch.append(np.asarray(img))
            if len(batch) == self.batch_size:
                feats.append(self._run(batch))
                batch = []
        if batch:
            feats.append(self._run(batch))
        return np.concatenate(feats).astype(np.float32) if feats else np.zeros((0, 2048), np.float32)

    def from_files(self, paths, desc="features"):
        """Features of image files (read with ppimg2img's load_image, as RGB)."""
        from ..utils.image_io import load_image
        return self.from_images((load_image(p) for p in paths), desc=desc, total=len(paths))

    def from_folder(self, folder, max_images=None):
        """Features of every image in ``folder`` (recursive, sorted), at most ``max_images``."""
        from ..utils.image_io import list_images
        paths = list_images(folder)[:max_images]
        if not paths:
            raise ValueError(f"no images found in '{folder}'")
        return self.from_files(paths, desc=os.path.basename(os.path.normpath(folder)))

    def folder_statistics(self, folder, cache=None, max_images=None):
        """Features (and mean/covariance) of ``folder``, reusing ``cache`` (.npz) when it was
        made from the same folder, image count and weights; returns the dict of load_statistics."""
        from ..utils.image_io import list_images
        n = len(list_images(folder)[:max_images])
        info = {"folder": os.path.abspath(folder), "images": n, "weights": os.path.basename(str(self.weights))}
        if cache and os.path.isfile(cache):
            stats = load_statistics(cache)
            if "info" not in stats:  # statistics made elsewhere (pytorch-fid --save-stats): used as given
                return stats
            if str(stats["info"]) == repr(sorted(info.items())):
                return stats
        feats = self.from_folder(folder, max_images)
        if cache:
            os.makedirs(os.path.dirname(os.path.abspath(cache)), exist_ok=True)
            save_statistics(cache, feats, **info)
        mu, sigma = feature_statistics(feats)
        return {"mu": mu, "sigma": sigma, "features": feats, "info": np.array(repr(sorted(info.items())))}
