"""Metrics against independent references: PSNR/SSIM (formula, scikit-image, a SciPy SSIM),
FID (closed forms, eigen-decomposition), KID (direct double sum), and the Inception plumbing
with random weights (no download)."""
import os

import numpy as np
import paddle
import pytest
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ppimg2img.metrics import (feature_statistics, fid_from_features, frechet_distance, kernel_inception_distance,
                               psnr, rgb_to_y, ssim)


def _images(seed=0, shape=(40, 48, 3)):
    rng = np.random.default_rng(seed)
    ref = rng.integers(0, 256, shape, dtype=np.uint8)
    noisy = np.clip(ref.astype(int) + rng.integers(-30, 31, shape), 0, 255).astype(np.uint8)
    return noisy, ref


def _bt601_y(rgb):
    rgb = rgb.astype(np.float64) / 255.0
    return 16.0 + 65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]


def test_psnr_matches_formula_and_scikit_image():
    img, ref = _images()
    mse = np.mean((img.astype(np.float64) - ref) ** 2)
    assert psnr(img, ref) == pytest.approx(10 * np.log10(255 ** 2 / mse), abs=1e-4)
    assert psnr(img, ref) == pytest.approx(peak_signal_noise_ratio(ref, img, data_range=255), abs=1e-4)
    mse_y = np.mean((_bt601_y(img) - _bt601_y(ref)) ** 2)
    assert psnr(img, ref, y_channel=True) == pytest.approx(10 * np.log10(255 ** 2 / mse_y), abs=1e-4)
    np.testing.assert_allclose(rgb_to_y(img), _bt601_y(img), atol=1e-4)
    c = 4
    mse_c = np.mean((img[c:-c, c:-c].astype(np.float64) - ref[c:-c, c:-c]) ** 2)
    assert psnr(img, ref, crop_border=c) == pytest.approx(10 * np.log10(255 ** 2 / mse_c), abs=1e-4)
    assert psnr(ref, ref) == float("inf")
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(img, ref[:-1])
    with pytest.raises(ValueError, match="crop_border=20 leaves nothing"):
        psnr(img, ref, crop_border=20)


def _ssim_reference(x, y, sigma=1.5, truncate=3.5):
    """Wang et al. 2004 with a gaussian window, population statistics, mean over the valid area."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    f = lambda a: ndimage.gaussian_filter(a, sigma, truncate=truncate)  # noqa: E731
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = f(x), f(y)
    vx, vy, cxy = f(x * x) - mx * mx, f(y * y) - my * my, f(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    pad = int(truncate * sigma + 0.5)
    return s[pad:-pad, pad:-pad].mean()


def test_ssim_matches_an_independent_implementation_and_scikit_image():
    img, ref = _images(1)
    per_channel = np.mean([_ssim_reference(img[..., c], ref[..., c]) for c in range(3)])
    assert ssim(img, ref) == pytest.approx(per_channel, abs=1e-4)
    assert ssim(img, ref) == pytest.approx(structural_similarity(
        ref, img, data_range=255, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False),
        abs=1e-4)
    assert ssim(img, ref, y_channel=True) == pytest.approx(_ssim_reference(_bt601_y(img), _bt601_y(ref)), abs=1e-4)
    assert ssim(img, ref, crop_border=3) == pytest.approx(
        np.mean([_ssim_reference(img[3:-3, 3:-3, c], ref[3:-3, 3:-3, c]) for c in range(3)]), abs=1e-4)
    assert ssim(ref, ref) == pytest.approx(1.0)
    assert ssim(img, ref) < 0.99


def _random_cov(rng, d):
    a = rng.normal(size=(d, d + 3))
    return a @ a.T / d


def _sqrtm_psd(s):
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def test_frechet_distance_against_closed_forms():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(60, 8))
    assert fid_from_features(feats, feats) == pytest.approx(0.0, abs=1e-6)  # a set against itself
    # diagonal covariances: ||mu1 - mu2||^2 + sum (sqrt(s1) - sqrt(s2))^2
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    s1, s2 = rng.uniform(0.5, 2, 5), rng.uniform(0.5, 2, 5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-9)
    # general covariances: Tr sqrt(S1 S2) = Tr sqrt(S1^1/2 S2 S1^1/2), computed by eigen-decomposition
    c1, c2 = _random_cov(rng, 6), _random_cov(rng, 6)
    r = _sqrtm_psd(c1)
    expected = np.sum((mu1[:1].repeat(6) - mu2[:1].repeat(6)) ** 2) + np.trace(c1) + np.trace(c2) - 2 * np.trace(
        _sqrtm_psd(r @ c2 @ r))
    got = frechet_distance(mu1[:1].repeat(6), c1, mu2[:1].repeat(6), c2)
    assert got == pytest.approx(expected, rel=1e-6)
    # the exact small-set route of fid_from_features equals the matrix square root formula
    small1, small2 = rng.normal(size=(5, 8)), rng.normal(0.3, 1.2, size=(7, 8))
    assert fid_from_features(small1, small2) == pytest.approx(
        frechet_distance(*feature_statistics(small1), *feature_statistics(small2)), rel=1e-6)
    mu, sigma = feature_statistics(feats)
    np.testing.assert_allclose(sigma, np.cov(feats.T), rtol=1e-12)
    with pytest.raises(ValueError, match="differ in size"):
        frechet_distance(mu, sigma, mu[:3], sigma[:3, :3])
    with pytest.raises(ValueError, match="N >= 2"):
        feature_statistics(feats[:1])
    # pytorch-fid's singular fallback: rank-deficient covariances still give a finite value
    low = rng.normal(size=(3, 8))
    assert np.isfinite(fid_from_features(low, low + 1.0))


def test_kid_unbiased_estimator_matches_the_direct_formula():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 5)), rng.normal(0.5, 1.0, size=(10, 5))
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1) ** 3  # noqa: E731
    m = 10  # subsets of min(N1, N2) images; y is taken whole
    xs = x[np.random.default_rng(0).choice(12, m, replace=False)]
    # with one subset and seed 0 the estimator sees the same x subset as drawn here
    direct_xx = sum(k(xs[i], xs[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    direct_yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    direct_xy = sum(k(xs[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    mean, std = kernel_inception_distance(x, y, num_subsets=1, subset_size=100, seed=0)
    assert mean == pytest.approx(direct_xx + direct_yy - 2 * direct_xy, rel=1e-10)
    assert std == 0.0
    assert kernel_inception_distance(x, y + 3, num_subsets=5, subset_size=8)[0] > mean + 1  # farther apart
    with pytest.raises(ValueError, match="same D"):
        kernel_inception_distance(x, y[:, :3])


def test_inception_network_shapes_and_names():
    from ppimg2img.nets.inception import FIDInceptionV3
    paddle.seed(0)
    net = FIDInceptionV3(resize_to=None)
    keys = net.state_dict()
    # pytorch-fid's FID Inception: 23,850,960 parameters including the 1008-way classifier
    assert sum(int(np.prod(p.shape)) for p in net.parameters() if p.trainable) == 23_850_960
    for key in ("Conv2d_1a_3x3.conv.weight", "Conv2d_1a_3x3.bn._mean", "Mixed_5b.branch5x5_1.conv.weight",
                "Mixed_6e.branch7x7dbl_5.bn._variance", "Mixed_7c.branch3x3dbl_3b.conv.weight", "fc.weight"):
        assert key in keys, key
    assert list(keys["Mixed_7c.branch_pool.conv.weight"].shape) == [192, 2048, 1, 1]
    assert list(keys["fc.weight"].shape) == [2048, 1008]  # Paddle Linear layout of torch's [1008, 2048]
    assert all(layer._epsilon == 0.001 for layer in net.sublayers() if isinstance(layer, paddle.nn.BatchNorm2D))
    assert not any(k.startswith("AuxLogits") for k in keys)
    out = net(paddle.rand([2, 3, 75, 75]))
    assert out.shape == [2, 2048] and float(out.min()) >= 0  # pooled ReLU outputs


def _fake_extractor(batch_size=3):
    from ppimg2img.metrics.fid import InceptionFeatures
    from ppimg2img.nets.inception import FIDInceptionV3
    paddle.seed(0)
    net = FIDInceptionV3(resize_to=75)  # small for speed; FID proper uses 299
    return InceptionFeatures(net=net, batch_size=batch_size, progress=False)


def test_features_stream_in_batches_and_real_statistics_are_cached(tmp_path, monkeypatch):
    from ppimg2img.utils.image_io import save_image
    rng = np.random.default_rng(0)
    for i in range(7):
        save_image(str(tmp_path / "real" / f"{i}.png"), rng.integers(0, 256, (20, 24, 3), dtype=np.uint8))
    ex = _fake_extractor(batch_size=3)
    feats = ex.from_folder(str(tmp_path / "real"))
    one_by_one = _fake_extractor(batch_size=1).from_folder(str(tmp_path / "real"))
    assert feats.shape == (7, 2048)
    np.testing.assert_allclose(feats, one_by_one, atol=1e-4)
    cache = str(tmp_path / "stats" / "real.npz")
    stats = ex.folder_statistics(str(tmp_path / "real"), cache=cache)
    assert os.path.isfile(cache)
    monkeypatch.setattr(ex, "from_folder", lambda *a, **k: pytest.fail("cache not reused"))
    again = ex.folder_statistics(str(tmp_path / "real"), cache=cache)
    np.testing.assert_allclose(again["mu"], stats["mu"])
    save_image(str(tmp_path / "real" / "new.png"), rng.integers(0, 256, (20, 24, 3), dtype=np.uint8))
    with pytest.raises(pytest.fail.Exception, match="cache not reused"):  # 8 images now: recomputed
        ex.folder_statistics(str(tmp_path / "real"), cache=cache)


def test_missing_weights_offline_say_how_to_get_them(tmp_path, monkeypatch):
    from ppimg2img.metrics import fid
    from ppimg2img.utils.download import DownloadError
    monkeypatch.setenv("PPIMG2IMG_HOME", str(tmp_path / "cache"))
    expected_path = str(tmp_path / "cache" / "weights" / "pt_inception-2015-12-05-6726825d.pth")
    assert fid.default_weights_path() == expected_path
    with pytest.raises(fid.InceptionWeightsError) as info:
        fid.resolve_weights(download=False)
    msg = str(info.value)
    assert fid.FID_WEIGHTS_URL in msg and expected_path in msg and "eval.inception_weights" in msg

    def offline(url, dest, **kw):
        raise DownloadError(f"Failed to download {url}: cannot resolve the host name, are you offline?")

    monkeypatch.setattr("ppimg2img.utils.download.download", offline)
    with pytest.raises(fid.InceptionWeightsError, match="are you offline"):
        fid.resolve_weights()
    with pytest.raises(fid.InceptionWeightsError, match="'nope.pth' not found"):
        fid.resolve_weights("nope.pth")
    os.makedirs(os.path.dirname(expected_path))
    open(expected_path, "wb").write(b"manually downloaded")
    assert fid.resolve_weights() == expected_path  # a manual copy is picked up
    with pytest.raises(fid.InceptionWeightsError, match="cannot load as FID Inception weights"):
        fid.load_inception()


def test_load_inception_reads_paddle_weights_without_classifier(tmp_path):
    """PaddleGAN's InceptionV3.pdparams layout (same names, no fc) loads; outputs are unchanged."""
    from ppimg2img.metrics.fid import load_inception
    from ppimg2img.nets.inception import FIDInceptionV3
    paddle.seed(3)
    src = FIDInceptionV3(resize_to=None)
    state = {k.replace("bn._mean", "bn.running_mean"): v  # PaddleGAN's ParamAttr names for the statistics
             for k, v in src.state_dict().items() if not k.startswith("fc.")}
    path = str(tmp_path / "InceptionV3.pdparams")
    paddle.save(state, path)
    net, used = load_inception(path, resize_to=None)
    x = paddle.rand([1, 3, 80, 80])
    assert used == path
    np.testing.assert_allclose(net(x).numpy(), src(x).numpy(), atol=1e-5)
