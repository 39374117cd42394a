"""ImagePool: fill-up, 50% swap rule, pool_size 0, and state round-trip."""
import numpy as np
import paddle
import pytest

from ppimg2img.image_pool import ImagePool


def batch(*values):
    return paddle.to_tensor(np.array(values, dtype="float32").reshape(-1, 1, 1, 1))


def ids(t):
    return t.numpy().reshape(-1).tolist()


def test_pool_size_zero_returns_input():
    x = batch(1, 2)
    assert ImagePool(0).query(x) is x


def test_fills_then_swaps():
    pool = ImagePool(pool_size=3, seed=0)
    assert ids(pool.query(batch(1, 2))) == [1, 2]
    assert ids(pool.query(batch(3))) == [3]  # still filling
    stored_before = sorted(ids(paddle.concat(pool.images)))
    assert stored_before == [1, 2, 3]
    seen_old = seen_new = 0
    for step in range(200):
        new = 100 + step
        out = ids(pool.query(batch(new)))[0]
        stored = ids(paddle.concat(pool.images))
        assert len(stored) == 3
        if out == new:  # returned the new image, pool unchanged
            seen_new += 1
            assert new not in stored
        else:  # returned an old image, the new one took its place
            seen_old += 1
            assert out in stored_before and new in stored and out not in stored
        stored_before = stored
    assert 70 < seen_old < 130 and 70 < seen_new < 130  # p = 0.5


def test_query_detaches_and_keeps_shape():
    x = paddle.randn([4, 3, 8, 8])
    x.stop_gradient = False
    out = ImagePool(2, seed=1).query(x * 2)
    assert out.shape == [4, 3, 8, 8] and out.stop_gradient


def test_state_round_trip_continues_identically():
    a = ImagePool(4, seed=123)
    for i in range(6):
        a.query(batch(i, i + 10))
    state = a.state_dict()
    assert all(isinstance(img, np.ndarray) for img in state["images"])
    b = ImagePool(4, seed=999)
    b.set_state_dict(state)
    for i in range(20):
        x = batch(50 + i, 80 + i)
        assert ids(a.query(x)) == ids(b.query(x))
    assert ids(paddle.concat(a.images)) == ids(paddle.concat(b.images))


def test_state_pool_size_mismatch():
    with pytest.raises(ValueError, match="pool_size 4"):
        ImagePool(2).set_state_dict(ImagePool(4).state_dict())
