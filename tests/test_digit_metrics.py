"""Digit-generator metrics (ppimg2img.metrics.digits): the classifier, its cache, the class
scores, feature FID/KID and the baselines, on small synthetic digits drawn here with OpenCV."""
import glob
import logging
import math
import os
import pickle

import cv2
import numpy as np
import paddle
import pytest

from ppimg2img.metrics import digits as D


def synthetic_digits(n, seed):
    """n 28x28 uint8 digits 0-9 (Hershey font, jittered position and size, noise) and their labels."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = np.zeros((n, 28, 28), np.uint8)
    for i, label in enumerate(labels):
        img = np.zeros((28, 28), np.uint8)
        scale = rng.uniform(0.75, 0.9)
        (w, h), _ = cv2.getTextSize(str(label), cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
        dx, dy = rng.integers(-2, 3, 2)
        cv2.putText(img, str(label), ((28 - w) // 2 + int(dx), (28 + h) // 2 + int(dy)), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, 255, 2, cv2.LINE_AA)
        images[i] = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
    return images, labels.astype(np.int64)


@pytest.fixture(scope="module")
def data():
    train_x, train_y = synthetic_digits(600, seed=0)
    test_x, test_y = synthetic_digits(200, seed=1)
    return train_x, train_y, test_x, test_y


@pytest.fixture(scope="module")
def net(data):
    train_x, train_y, _, _ = data
    return D.train_digit_classifier(train_x, train_y, epochs=2, batch_size=16, lr=2e-3, seed=0)


@pytest.fixture
def count_training(monkeypatch):
    """Counts the trainings get_digit_classifier starts."""
    calls = []
    real = D.train_digit_classifier

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(D, "train_digit_classifier", counting)
    return calls


def _cached(data, cache_dir):
    train_x, train_y, test_x, test_y = data
    # a small, fast classifier: these tests are about the cache, not about accuracy
    return D.get_digit_classifier(train_x[:64], train_y[:64], test_x[:40], test_y[:40], cache_dir=str(cache_dir),
                                  epochs=1, batch_size=32)


def _state(net):
    return {k: v.numpy() for k, v in net.state_dict().items()}


def test_classifier_learns_synthetic_digits(net, data):
    _, _, test_x, test_y = data
    assert D.classifier_accuracy(net, test_x, test_y) > 0.9
    feats, logits = D.digit_features(net, test_x[:5])
    assert feats.shape == (5, D.DigitClassifier.feature_dim) and logits.shape == (5, 10)


def test_training_is_deterministic_and_leaves_global_rng_alone(data):
    x, y = data[0][:48], data[1][:48]
    paddle.seed(123)
    expected = paddle.rand([4]).numpy()
    paddle.seed(123)
    a = D.train_digit_classifier(x, y, epochs=1, batch_size=16, seed=0)
    assert np.array_equal(paddle.rand([4]).numpy(), expected)  # the caller's random stream is unchanged
    b = D.train_digit_classifier(x, y, epochs=1, batch_size=16, seed=0)
    c = D.train_digit_classifier(x, y, epochs=1, batch_size=16, seed=1)
    sa, sb, sc = _state(a), _state(b), _state(c)
    assert all(np.array_equal(sa[k], sb[k]) for k in sa)
    assert not all(np.array_equal(sa[k], sc[k]) for k in sa)
    scores_a = D.digit_scores(a, data[2][:30], real_images=data[0][:30], kid_subsets=5)
    scores_b = D.digit_scores(b, data[2][:30], real_images=data[0][:30], kid_subsets=5)
    assert scores_a == scores_b


def test_cache_is_reused_and_read_only_through_the_restricted_reader(data, tmp_path, monkeypatch, count_training):
    monkeypatch.setenv("PPIMG2IMG_HOME", str(tmp_path / "home"))
    train_x, train_y, test_x, test_y = data
    first = D.get_digit_classifier(train_x[:64], train_y[:64], test_x[:40], test_y[:40], epochs=1, batch_size=32)
    assert len(count_training) == 1
    assert os.path.dirname(first.cache_path) == str(tmp_path / "home" / "classifiers")
    assert os.path.basename(first.cache_path).startswith("digits_") and os.path.isfile(first.cache_path)
    assert 0.0 <= first.test_accuracy <= 1.0

    def no_unrestricted_unpickling(*args, **kwargs):
        raise AssertionError("the cache must be read through ppimg2img.weights.reader.read_checkpoint")

    monkeypatch.setattr(paddle, "load", no_unrestricted_unpickling)
    monkeypatch.setattr(pickle, "load", no_unrestricted_unpickling)
    second = D.get_digit_classifier(train_x[:64], train_y[:64], test_x[:40], test_y[:40], epochs=1, batch_size=32)
    assert len(count_training) == 1  # read back, not retrained
    assert second.test_accuracy == first.test_accuracy and second.cache_path == first.cache_path
    s1, s2 = _state(first), _state(second)
    assert all(np.array_equal(s1[k], s2[k]) for k in s1)
    assert D.digit_scores(second, test_x[:5])["classifier_test_accuracy"] == first.test_accuracy

    # another training set is another file
    D.get_digit_classifier(train_x[:60], train_y[:60], test_x[:40], test_y[:40], epochs=1, batch_size=32)
    assert len(count_training) == 2
    assert len(glob.glob(str(tmp_path / "home" / "classifiers" / "digits_*.pdparams"))) == 2


def test_cache_is_retrained_when_deleted_or_corrupt(data, tmp_path, count_training, caplog):
    net = _cached(data, tmp_path)
    path = net.cache_path
    os.remove(path)
    _cached(data, tmp_path)
    assert len(count_training) == 2 and os.path.isfile(path)

    with open(path, "r+b") as f:  # truncated
        f.truncate(os.path.getsize(path) // 2)
    with caplog.at_level(logging.WARNING, logger="ppimg2img"):
        again = _cached(data, tmp_path)
    assert len(count_training) == 3
    assert path in caplog.text and "retraining" in caplog.text
    _cached(data, tmp_path)
    assert len(count_training) == 3  # the retrained file is good again
    assert again.test_accuracy == net.test_accuracy  # same seed, same classifier

    with open(path, "wb") as f:  # not a pickle at all
        f.write(b"garbage" * 10)
    _cached(data, tmp_path)
    assert len(count_training) == 4


class _RunsShell:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_hostile_cache_file_is_refused_and_retrained(data, tmp_path, count_training, caplog):
    path = _cached(data, tmp_path).cache_path
    marker = tmp_path / "pwned"
    with open(path, "wb") as f:
        pickle.dump({"format": D.CACHE_FORMAT, "state": _RunsShell(marker)}, f, protocol=2)
    with caplog.at_level(logging.WARNING, logger="ppimg2img"):
        net = _cached(data, tmp_path)
    assert not marker.exists()
    assert len(count_training) == 2
    assert "system" in caplog.text and "retraining" in caplog.text
    assert net.test_accuracy is not None
    _cached(data, tmp_path)
    assert len(count_training) == 2 and not marker.exists()


def _by_prediction(net, images):
    """Images grouped by the class the classifier predicts for them."""
    _, logits = D.digit_features(net, images)
    predicted = logits.argmax(1)
    return {c: images[predicted == c] for c in range(10)}, predicted


def test_class_histogram_entropy_and_accuracy(net, data):
    groups, _ = _by_prediction(net, np.concatenate([data[2], data[0]]))
    assert all(len(groups[c]) >= 6 for c in range(10))

    one_class = D.digit_scores(net, groups[3][:6])
    assert one_class["class_histogram"][3] == 1.0 and one_class["class_entropy"] == 0.0
    assert one_class["num_images"] == 6 and "class_accuracy" not in one_class and "feature_fid" not in one_class

    balanced = D.digit_scores(net, np.concatenate([groups[c][:2] for c in range(10)]))
    assert balanced["class_histogram"] == [0.1] * 10
    assert balanced["class_entropy"] == pytest.approx(math.log(10), abs=1e-12)

    # predicted 6 x class 0, 3 x class 1, 1 x class 2
    mixed = np.concatenate([groups[0][:6], groups[1][:3], groups[2][:1]])
    scores = D.digit_scores(net, mixed, labels=[0, 0, 0, 0, 0, 5, 1, 1, 7, 2])
    assert scores["class_histogram"] == pytest.approx([0.6, 0.3, 0.1] + [0.0] * 7)
    assert scores["class_entropy"] == pytest.approx(-(0.6 * math.log(0.6) + 0.3 * math.log(0.3)
                                                      + 0.1 * math.log(0.1)), abs=1e-12)
    assert scores["class_accuracy"] == pytest.approx(0.8)  # two of the ten labels disagree
    assert scores["classifier_test_accuracy"] is None  # not from the cache
    with pytest.raises(ValueError, match="labels"):
        D.digit_scores(net, mixed, labels=[0] * 9)


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # the full 128-d sqrtm below
def test_feature_fid_and_baselines(net, data):
    train_x, _, test_x, _ = data
    kid = dict(kid_subsets=10, kid_subset_size=100)
    base = D.digit_baselines(net, train_x, test_x)
    assert base["num_reference"] == 600 and base["num_compared"] == 200
    assert base["feature_fid_real"] < base["feature_fid_blurred"] < base["feature_fid_noise"]
    same = D.digit_scores(net, test_x, real_images=test_x, **kid)
    assert abs(same["feature_fid"]) < 1e-6 * base["feature_fid_blurred"]
    train_feats, _ = D.digit_features(net, train_x)
    real = D.digit_scores(net, test_x, real_images=train_x, **kid)
    assert real["feature_fid"] == pytest.approx(base["feature_fid_real"])
    # precomputed real features give the same numbers
    again = D.digit_scores(net, test_x, real_features=train_feats, **kid)
    assert again["feature_fid"] == real["feature_fid"] and again["feature_kid"] == real["feature_kid"]
    blurred = D.digit_scores(net, D._blurred(net, test_x, 2.0, 64), real_features=train_feats, **kid)
    assert blurred["feature_fid"] == pytest.approx(base["feature_fid_blurred"], rel=1e-5)
    assert blurred["feature_kid"] > real["feature_kid"]
    # dimensions that are 0 everywhere change nothing: the full 128-d computation agrees
    from ppimg2img.metrics.fid import fid_from_features
    test_feats, _ = D.digit_features(net, test_x)
    assert D.feature_fid(test_feats, train_feats) == pytest.approx(fid_from_features(test_feats, train_feats),
                                                                    rel=1e-6)


def test_input_formats_and_batching(net, data):
    x = data[2][:12]
    ref, ref_logits = D.digit_features(net, x)
    rgb = np.repeat(x[..., None], 3, axis=-1)
    as_float = paddle.to_tensor(x[:, None].astype(np.float32) / 127.5 - 1)
    bigger = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)  # 56x56: area-averaged back to the same 28x28
    for variant in (rgb, list(rgb), x[..., None], as_float, as_float.numpy()[:, 0], bigger):
        feats, logits = D.digit_features(net, variant)
        np.testing.assert_allclose(feats, ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(D.digit_features(net, x, batch_size=5)[0], ref, rtol=1e-5, atol=1e-5)
    small = D.digit_features(net, x[:, ::2, ::2])[0]  # 14x14: upsampled
    assert small.shape == ref.shape and np.isfinite(small).all()
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        D.digit_features(net, x.astype(np.float32))
    with pytest.raises(ValueError, match="channels"):
        D.digit_features(net, np.zeros((2, 2, 28, 28), np.float32))
