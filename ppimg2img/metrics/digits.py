"""Classifier scores for digit generators (DCGAN, WGAN, conditional GANs on MNIST-like digits).

A small CNN (:class:`DigitClassifier`) is trained on the real training digits and cached under
``$PPIMG2IMG_HOME/classifiers/`` (:func:`get_digit_classifier`). With it,
:func:`digit_scores` measures a set of generated digits:

- ``class_histogram``: the fraction of samples the classifier puts in each of the 10 classes;
- ``class_entropy``: the entropy (nats) of that histogram. ln 10 ~ 2.303 when every class is
  generated equally often (full mode coverage), 0 when every sample is the same digit;
- ``class_accuracy`` (conditional models): the fraction of samples whose predicted class is the
  class they were generated for;
- ``classifier_test_accuracy``: the classifier's accuracy on the real test digits, to judge how
  far the scores above can be trusted;
- ``feature_fid`` / ``feature_kid``: **FID (and KID) on the digit classifier's features**, not
  Inception FID. Protocol: every image is converted to grey, resized to 28x28 and scaled to
  [-1, 1]; its feature vector is the classifier's 128-d penultimate activation (after ReLU);
  the Frechet distance between the Gaussian fits of the generated and real features is
  computed by :func:`ppimg2img.metrics.fid.fid_from_features` (pytorch-fid's formula; feature
  dimensions that are 0 in every image of both sets are left out, which changes nothing but
  the numerics, see :func:`feature_fid`), KID by
  :func:`ppimg2img.metrics.fid.kernel_inception_distance` (cubic kernel, random subsets).
  Inception weights are not available offline, and for 28x28 digits a digit classifier's
  features are the more telling ones. Values depend on the classifier (its training data, its
  seed) and on the number of samples, so compare them only with values from the same cached
  classifier and the same sample counts, such as the baselines of :func:`digit_baselines`.

Images are accepted as uint8 arrays ``[N, H, W]`` / ``[N, H, W, C]`` (0..255), as a list of
``H x W x C`` uint8 arrays (what ``GANGeneratorPredictor.generate`` returns), or as float arrays
or Paddle tensors in [-1, 1], ``[N, C, H, W]`` or ``[N, H, W]``. Three channels are converted
to grey (ITU-R 601 luma), any size is resized to 28x28. Everything runs in batches.
"""
import hashlib
import logging
import os
import warnings

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from scipy.linalg import LinAlgWarning

from .fid import fid_from_features, kernel_inception_distance

__all__ = ["DigitClassifier", "train_digit_classifier", "get_digit_classifier", "digit_features",
           "classifier_accuracy", "feature_fid", "digit_scores", "digit_baselines", "classifier_fingerprint",
           "FEATURE_FID_PROTOCOL"]

logger = logging.getLogger("ppimg2img")

ARCH_VERSION = "digit-cnn-v1: conv3x3(16)-relu-pool2 conv3x3(32)-relu-pool2 dropout0.25 fc128-relu dropout0.5 fc10"
CACHE_FORMAT = "ppimg2img-digit-classifier"
IMAGE_SIZE = 28
NUM_CLASSES = 10
FEATURE_FID_PROTOCOL = ("FID on the digit classifier's features (128-d penultimate activations of "
                        "ppimg2img.metrics.digits.DigitClassifier, images grey 28x28 in [-1, 1]); not Inception FID")
_LUMA = (0.299, 0.587, 0.114)


class DigitClassifier(nn.Layer):
    """LeNet-like CNN for grey digits, 10 classes (206,922 parameters).

    conv 3x3 16 - ReLU - max-pool 2 - conv 3x3 32 - ReLU - max-pool 2 - dropout 0.25 -
    fc 128 - ReLU (the feature vector) - dropout 0.5 - fc 10. Input: float NCHW in [-1, 1], 1 or 3
    channels (3 are converted to grey), any size (resized to 28x28). Output: logits.
    Half the width of the Keras MNIST example (32/64 without padding), and pooled after each
    convolution: about 8x fewer multiply-adds, so it trains in seconds on a CPU.
    """

    feature_dim = 128

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2D(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2D(16, 32, 3, padding=1)
        self.pool = nn.MaxPool2D(2)
        self.drop1 = nn.Dropout(0.25)
        self.fc1 = nn.Linear(32 * 7 * 7, self.feature_dim)
        self.drop2 = nn.Dropout(0.5)
        self.fc2 = nn.Linear(self.feature_dim, NUM_CLASSES)
        self.test_accuracy = None  # set by get_digit_classifier
        self.cache_path = None

    @staticmethod
    def standardise(x):
        """float NCHW in [-1, 1] (1 or 3 channels, any size) -> grey N x 1 x 28 x 28."""
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"DigitClassifier expects N x C x H x W with C = 1 or 3, got shape {list(x.shape)}")
        if x.shape[1] == 3:
            x = _LUMA[0] * x[:, 0:1] + _LUMA[1] * x[:, 1:2] + _LUMA[2] * x[:, 2:3]
        h, w = x.shape[2], x.shape[3]
        if (h, w) != (IMAGE_SIZE, IMAGE_SIZE):
            if h >= IMAGE_SIZE and w >= IMAGE_SIZE:  # shrinking: average the pixels each output covers
                x = F.adaptive_avg_pool2d(x, IMAGE_SIZE)
            else:
                x = F.interpolate(x, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False)
        return x

    def features(self, x):
        """The 128-d penultimate activations (after ReLU, before dropout)."""
        x = self.standardise(x)
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = self.drop1(x).flatten(1)
        return F.relu(self.fc1(x))

    def forward(self, x):
        return self.fc2(self.drop2(self.features(x)))


# --- inputs -----------------------------------------------------------------------------------------

def _to_nchw_float(batch):
    """One batch (NumPy) -> float32 N x C x H x W in [-1, 1] (see the module docstring)."""
    batch = np.asarray(batch)
    if batch.ndim == 3:
        batch = batch[:, None]
    elif batch.ndim == 4:
        integer = not np.issubdtype(batch.dtype, np.floating)
        channels_last = batch.shape[-1] in (1, 3) and (integer or batch.shape[1] not in (1, 3))
        if channels_last:
            batch = batch.transpose(0, 3, 1, 2)
    else:
        raise ValueError(f"expected images [N, H, W], [N, H, W, C] (uint8) or [N, C, H, W] (float), "
                         f"got shape {batch.shape}")
    if batch.shape[1] not in (1, 3):
        raise ValueError(f"expected 1 or 3 channels, got images of shape {batch.shape}")
    if np.issubdtype(batch.dtype, np.floating):
        batch = batch.astype(np.float32)
        if batch.size and (batch.min() < -1.01 or batch.max() > 1.01):
            raise ValueError(f"float images must be in [-1, 1] (found {batch.min():.3g}..{batch.max():.3g}); "
                             f"pass 0..255 images as uint8")
        return batch
    if batch.dtype == np.bool_ or not np.issubdtype(batch.dtype, np.integer):
        raise ValueError(f"unsupported image dtype {batch.dtype}: use uint8 (0..255) or float in [-1, 1]")
    if batch.size and (batch.min() < 0 or batch.max() > 255):
        raise ValueError("integer images must be in 0..255")
    return batch.astype(np.float32) / 127.5 - 1.0


def _num_images(images):
    return int(images.shape[0]) if hasattr(images, "shape") else len(images)


def _iter_batches(images, batch_size):
    """Float32 N x C x H x W batches in [-1, 1], converted one batch at a time."""
    if isinstance(images, (list, tuple)):
        images = [np.asarray(img) for img in images]
    n = _num_images(images)
    for start in range(0, n, batch_size):
        chunk = images[start:start + batch_size]
        if isinstance(chunk, paddle.Tensor):
            chunk = chunk.astype("float32").numpy()
        elif isinstance(chunk, list):
            chunk = np.stack(chunk)
        yield _to_nchw_float(chunk)


def _labels(labels, n=None):
    labels = labels.numpy() if isinstance(labels, paddle.Tensor) else np.asarray(labels)
    labels = labels.reshape(-1)
    if labels.size and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0
                        or labels.max() >= NUM_CLASSES):
        raise ValueError(f"labels must be integers 0..{NUM_CLASSES - 1}")
    if n is not None and len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} images")
    return labels.astype(np.int64)


def _digest(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        a = a.numpy() if isinstance(a, paddle.Tensor) else np.asarray(a)
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


# --- classifier -------------------------------------------------------------------------------------

def train_digit_classifier(train_images, train_labels, epochs=3, batch_size=64, lr=1e-3, seed=0):
    """Train a :class:`DigitClassifier` with Adam and cross-entropy; returns it in eval mode.

    Deterministic for a ``seed`` (initial weights, shuffling, dropout). Paddle's global random
    state is restored afterwards, so training the classifier in the middle of a GAN run does not
    change the run's random numbers. 3 epochs on 6000 digits: about 22 s of CPU time (measured
    on 2 cores: 40-46 s wall while the machine was shared, load ~8); 96% test accuracy on
    jittered multi-font Hershey digits, 82% on Fashion-MNIST.
    """
    x = np.concatenate(list(_iter_batches(train_images, 1000)))
    y = _labels(train_labels, len(x))
    if len(x) == 0:
        raise ValueError("no training images")
    rng_state = paddle.get_rng_state()
    try:
        paddle.seed(seed)
        net = DigitClassifier()
        opt = paddle.optimizer.Adam(learning_rate=lr, parameters=net.parameters())
        order = np.random.default_rng(seed)
        net.train()
        for epoch in range(epochs):
            perm = order.permutation(len(x))
            total = 0.0
            for start in range(0, len(x), batch_size):
                idx = perm[start:start + batch_size]
                loss = F.cross_entropy(net(paddle.to_tensor(x[idx])), paddle.to_tensor(y[idx]))
                loss.backward()
                opt.step()
                opt.clear_grad()
                total += float(loss) * len(idx)
            logger.debug("digit classifier epoch %d/%d: loss %.4f", epoch + 1, epochs, total / len(x))
    finally:
        paddle.set_rng_state(rng_state)
    net.eval()
    return net


def digit_features(classifier, images, batch_size=500):
    """``(features [N, 128] float32, logits [N, 10] float32)`` of ``images`` (batched, eval mode).
    Compute the real set's features once and pass them to :func:`digit_scores` as
    ``real_features`` when scoring many generator checkpoints."""
    was_training = classifier.training
    classifier.eval()
    feats, logits = [], []
    try:
        with paddle.no_grad():
            for batch in _iter_batches(images, batch_size):
                f = classifier.features(paddle.to_tensor(batch))
                feats.append(f.numpy())
                logits.append(classifier.fc2(f).numpy())
    finally:
        if was_training:
            classifier.train()
    if not feats:
        return (np.zeros((0, classifier.feature_dim), np.float32), np.zeros((0, NUM_CLASSES), np.float32))
    return np.concatenate(feats), np.concatenate(logits)


def classifier_accuracy(classifier, images, labels, batch_size=500):
    """Fraction of ``images`` the classifier labels correctly."""
    _, logits = digit_features(classifier, images, batch_size)
    labels = _labels(labels, len(logits))
    return float((logits.argmax(1) == labels).mean()) if len(labels) else float("nan")


def classifier_fingerprint(train_images, train_labels, epochs=3, batch_size=64, lr=1e-3, seed=0):
    """sha256 of the training arrays, the architecture version and the training settings:
    the cache key of :func:`get_digit_classifier`."""
    h = hashlib.sha256()
    h.update(f"{ARCH_VERSION}|epochs={epochs}|batch_size={batch_size}|lr={lr}|seed={seed}|".encode())
    h.update(_digest(train_images, train_labels).encode())
    return h.hexdigest()


def _load_cached(path, fingerprint):
    """(net, stored dict) from a cache file read through the restricted checkpoint reader."""
    from ..engine.checkpoint import load_net_state
    from ..weights.reader import read_checkpoint
    stored = read_checkpoint(path)
    if not isinstance(stored, dict) or stored.get("format") != CACHE_FORMAT:
        raise ValueError("not a ppimg2img digit-classifier file")
    if stored.get("arch") != ARCH_VERSION or stored.get("fingerprint") != fingerprint:
        raise ValueError("made for another architecture or training set")
    net = DigitClassifier()
    load_net_state(net, stored["state"], "digit classifier", source=path)
    net.eval()
    return net, stored


def get_digit_classifier(train_images, train_labels, test_images, test_labels, cache_dir=None, epochs=3,
                         batch_size=64, lr=1e-3, seed=0):
    """The digit classifier for this training set: read from the cache, or trained and cached.

    The file is ``<cache_dir>/digits_<fingerprint[:16]>.pdparams`` (``cache_dir`` defaults to
    ``<PPIMG2IMG_HOME>/classifiers``), fingerprint from :func:`classifier_fingerprint`. It is
    written atomically and read only through ppimg2img's restricted checkpoint reader; an
    unreadable, hostile or mismatched file is reported (logged warning) and replaced by a
    retrained classifier. The returned net has ``test_accuracy`` (accuracy on ``test_images``,
    stored in the file and recomputed if the test set differs) and ``cache_path``.
    """
    from ..engine.checkpoint import CheckpointError, atomic_save
    from ..utils.download import get_cache_dir
    from ..weights.reader import CheckpointReadError, UnsafeCheckpointError

    cache_dir = cache_dir or os.path.join(get_cache_dir(), "classifiers")
    fingerprint = classifier_fingerprint(train_images, train_labels, epochs, batch_size, lr, seed)
    test_fingerprint = _digest(test_images, test_labels)
    path = os.path.join(cache_dir, f"digits_{fingerprint[:16]}.pdparams")
    net = stored = None
    if os.path.isfile(path):
        try:
            net, stored = _load_cached(path, fingerprint)
        except (UnsafeCheckpointError, CheckpointReadError, CheckpointError, ValueError, KeyError, TypeError,
                AttributeError) as err:
            logger.warning("%s: cached digit classifier is unusable (%s: %s); retraining it",
                           path, type(err).__name__, err)
    if net is not None and stored.get("test_fingerprint") == test_fingerprint:
        accuracy = float(stored["test_accuracy"])
    else:
        if net is None:
            logger.info("training the digit classifier on %d images (cached as %s)",
                        _num_images(train_images), path)
            net = train_digit_classifier(train_images, train_labels, epochs=epochs, batch_size=batch_size,
                                         lr=lr, seed=seed)
        accuracy = classifier_accuracy(net, test_images, test_labels)
        atomic_save({"format": CACHE_FORMAT, "arch": ARCH_VERSION, "fingerprint": fingerprint,
                     "state": {k: v.numpy() for k, v in net.state_dict().items()},
                     "test_accuracy": accuracy, "test_fingerprint": test_fingerprint,
                     "num_train": _num_images(train_images), "num_test": _num_images(test_images),
                     "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed}, path)
        logger.info("digit classifier: test accuracy %.4f on %d images", accuracy, _num_images(test_images))
    net.test_accuracy, net.cache_path = accuracy, path
    return net


# --- scores -----------------------------------------------------------------------------------------

def _entropy(fractions):
    p = np.asarray(fractions, np.float64)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def feature_fid(features1, features2):
    """:func:`~ppimg2img.metrics.fid.fid_from_features` on the feature dimensions that are
    non-zero somewhere in either set. A ReLU unit that never fires (common in a small network) is
    0 in every image of both sets: its mean difference and covariance rows are 0 and it adds
    exactly 0 to the distance, but it makes both covariances singular, which slows down and
    destabilises the matrix square root. Dropping those dimensions leaves the value unchanged."""
    f1, f2 = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise ValueError(f"need two N x D feature matrices with the same D, got {f1.shape} and {f2.shape}")
    used = (f1 != 0).any(axis=0) | (f2 != 0).any(axis=0)
    if not used.any():
        return 0.0
    with warnings.catch_warnings():
        # a collapsed generator's features have a singular covariance; scipy's sqrtm then warns
        # "Matrix is singular" although its result is fine (fid.py checks it for imaginary parts)
        warnings.simplefilter("ignore", LinAlgWarning)
        return fid_from_features(f1[:, used], f2[:, used])


def digit_scores(classifier, images, labels=None, real_images=None, real_features=None, batch_size=500,
                 kid_subsets=20, kid_subset_size=1000, seed=0):
    """Scores of generated digits (see the module docstring for the protocol).

    ``labels``: the classes the samples were generated for (conditional models) ->
    ``class_accuracy``. ``real_images`` (or their precomputed ``real_features`` from
    :func:`digit_features`) -> ``feature_fid``, ``feature_kid``, ``feature_kid_std``
    (``kid_subsets`` subsets of ``min(kid_subset_size, N)`` images, drawn with ``seed``; the KID
    reference code uses 100 subsets, which costs about 7 s of CPU for 1000 samples against 6000
    real digits, hence 20 by default; ``kid_subsets=0`` skips KID). Pass ``real_features`` to
    avoid recomputing the real set's features at every evaluation.
    Always: ``num_images``, ``class_histogram`` (10 fractions), ``class_entropy`` (nats),
    ``classifier_test_accuracy`` (None if the classifier did not come from
    :func:`get_digit_classifier`).
    """
    feats, logits = digit_features(classifier, images, batch_size)
    if len(feats) == 0:
        raise ValueError("no images to score")
    predicted = logits.argmax(1)
    histogram = np.bincount(predicted, minlength=NUM_CLASSES) / len(predicted)
    out = {"num_images": len(predicted),
           "class_histogram": [float(v) for v in histogram],
           "class_entropy": _entropy(histogram),
           "classifier_test_accuracy": getattr(classifier, "test_accuracy", None)}
    if labels is not None:
        out["class_accuracy"] = float((predicted == _labels(labels, len(predicted))).mean())
    if real_features is None and real_images is not None:
        real_features, _ = digit_features(classifier, real_images, batch_size)
    if real_features is not None:
        out["feature_fid"] = feature_fid(feats, real_features)
        if kid_subsets:
            out["feature_kid"], out["feature_kid_std"] = kernel_inception_distance(
                feats, real_features, num_subsets=kid_subsets, subset_size=kid_subset_size, seed=seed)
    return out


def _blurred(classifier, images, sigma, batch_size):
    """Grey 28x28 versions of ``images`` blurred with a Gaussian of ``sigma`` pixels (in [-1, 1])."""
    from scipy.ndimage import gaussian_filter
    out = []
    for batch in _iter_batches(images, batch_size):
        grey = classifier.standardise(paddle.to_tensor(batch)).numpy()
        out.append(gaussian_filter(grey, sigma=(0, 0, sigma, sigma), mode="nearest"))
    return np.concatenate(out)


def digit_baselines(classifier, real_train, real_test, blur_sigma=2.0, seed=0, batch_size=500):
    """Reference values of ``feature_fid``, all against ``real_train``, computed on as many
    images as ``real_test`` holds:

    - ``feature_fid_blurred``: the real test digits blurred (Gaussian, ``blur_sigma`` pixels at 28x28);
    - ``feature_fid_noise``: uniform noise images (seeded);
    - ``feature_fid_real``: the real test digits themselves (the floor a perfect generator reaches).

    FID shrinks as the sample count grows, so score the generator with ``real_images=real_train``
    and ``len(real_test)`` samples to compare: "the generator's FID X is below the blurred
    baseline Y". Also returns ``num_reference`` and ``num_compared``.
    """
    n = _num_images(real_test)
    ref, _ = digit_features(classifier, real_train, batch_size)
    real, _ = digit_features(classifier, real_test, batch_size)
    blurred, _ = digit_features(classifier, _blurred(classifier, real_test, blur_sigma, batch_size), batch_size)
    noise_images = np.random.default_rng(seed).integers(0, 256, (n, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    noise, _ = digit_features(classifier, noise_images, batch_size)
    return {"feature_fid_blurred": feature_fid(blurred, ref),
            "feature_fid_noise": feature_fid(noise, ref),
            "feature_fid_real": feature_fid(real, ref),
            "blur_sigma": float(blur_sigma), "num_reference": len(ref), "num_compared": n}
