"""pix2pix: U-Net and conditional PatchGAN as the original (keys, parameter counts, reference
output), the training step, inference modes and the trainer on a paired dataset."""
import json
import os

import numpy as np
import paddle
import pytest
import yaml

from ppimg2img.config import load_config
from ppimg2img.models.pix2pix import Pix2PixModel
from ppimg2img.nets import build_discriminator, build_generator
from ppimg2img.nets.unet_generator import UnetGenerator

from conftest import DATA


def _trainable(net):
    return sum(int(np.prod(p.shape)) for p in net.parameters() if p.trainable)


def _paddle_key(key):
    return key.replace("running_mean", "_mean").replace("running_var", "_variance")


def test_unet_parameter_counts_and_keys_equal_the_original():
    g256 = build_generator("unet_256")  # ngf 64, BatchNorm, dropout: the pix2pix default
    assert _trainable(g256) == 54_413_955
    official = json.load(open(os.path.join(DATA, "official_checkpoint_keys.json")))["pix2pix_unet_256_ngf64_batchnorm"]
    expected = {_paddle_key(k): shape for k, shape in official if not k.endswith("num_batches_tracked")}
    assert {k: list(v.shape) for k, v in g256.state_dict().items()} == expected
    del g256
    assert _trainable(build_generator("unet_128")) == 41_828_995


def test_unet_layout_bias_and_dropout():
    g = UnetGenerator(3, 3, num_downs=7, ngf=4, norm="batch", use_dropout=True)
    dropouts = [n for n, layer in g.named_sublayers() if isinstance(layer, paddle.nn.Dropout)]
    assert len(dropouts) == 2  # num_downs - 5 ngf*8 blocks around the innermost one
    assert all(dict(g.named_sublayers())[n].p == 0.5 for n in dropouts)
    sd = g.state_dict()
    # with BatchNorm only the outermost up-convolution has a bias (original use_bias = InstanceNorm)
    assert [k for k in sd if k.endswith(".bias") and _is_conv(g, k)] == ["model.model.3.bias"]
    g_in = UnetGenerator(3, 3, num_downs=7, ngf=4, norm="instance")
    assert "model.model.0.bias" in g_in.state_dict()  # InstanceNorm: every conv has a bias
    x = paddle.rand([2, 3, 128, 128]) * 2 - 1
    g.eval()
    y = g(x)
    assert y.shape == [2, 3, 128, 128] and float(y.abs().max()) <= 1.0
    with pytest.raises(ValueError, match="multiples of 128, got 96x128"):
        g(paddle.rand([1, 3, 96, 128]))
    with pytest.raises(ValueError, match="num_downs must be >= 5"):
        UnetGenerator(num_downs=4)


def _is_conv(net, key):
    layer = dict(net.named_sublayers()).get(key.rsplit(".", 1)[0])
    return isinstance(layer, (paddle.nn.Conv2D, paddle.nn.Conv2DTranspose))


def test_unet_128_reproduces_the_original_output():
    """The original UnetGenerator (7 downs, ngf 8, BatchNorm with random statistics, eval mode)
    gave pix2pix_unet_128_ngf8_out.npy for _in.npy; the Paddle port matches within 1e-4."""
    from ppimg2img.weights import read_checkpoint
    state = read_checkpoint(os.path.join(DATA, "pix2pix_unet_128_ngf8.pth"))
    state = {_paddle_key(k): np.asarray(v) for k, v in state.items() if not k.endswith("num_batches_tracked")}
    net = build_generator("unet_128", ngf=8)
    assert set(state) == set(net.state_dict())
    net.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    net.eval()
    x = np.load(os.path.join(DATA, "pix2pix_unet_128_ngf8_in.npy"))
    out = net(paddle.to_tensor(x)).numpy()
    np.testing.assert_allclose(out, np.load(os.path.join(DATA, "pix2pix_unet_128_ngf8_out.npy")), rtol=0, atol=1e-4)


def test_conditional_patchgan():
    d = build_discriminator("basic", input_nc=6, norm="batch")
    assert _trainable(d) == 2_768_705
    official = json.load(open(os.path.join(DATA, "official_checkpoint_keys.json")))[
        "patchgan_basic_ndf64_nlayers3_batchnorm_in6"]
    assert {k: list(v.shape) for k, v in d.state_dict().items()} == {
        _paddle_key(k): s for k, s in official if not k.endswith("num_batches_tracked")}
    assert d(paddle.rand([1, 6, 256, 256])).shape == [1, 1, 30, 30]  # 70x70 patches
    model = _model()
    assert model.nets["netD"].state_dict()["model.0.weight"].shape == [4, 6, 4, 4]  # concat(A, B)


def _model(lambda_L1=100.0, dropout=True, seed=0):
    paddle.seed(seed)
    model = Pix2PixModel({"name": "unet_128", "ngf": 4, "use_dropout": dropout},
                         {"name": "basic", "ndf": 4, "norm": "batch"}, lambda_L1=lambda_L1)
    model.setup_training({"lr": 2e-4}, {"policy": "linear", "n_epochs": 1, "n_epochs_decay": 1})
    return model


def _pair(seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, (1, 3, 128, 128)).astype("float32")
    return {"A": a, "B": np.tanh(a[:, ::-1] * 2).copy()}


def test_training_step_lowers_l1_on_a_fixed_pair():
    model = _model(dropout=False)
    model.set_input(_pair())
    l1 = []
    for _ in range(4):
        losses = model.train_step()
        l1.append(losses["G_L1"])
    assert list(losses) == ["G_GAN", "G_L1", "D_real", "D_fake"]
    # each step lowers the L1 term (x100) of the next forward pass (no dropout: deterministic)
    assert all(after < before - 0.03 for before, after in zip(l1, l1[1:])), l1
    no_l1 = _model(lambda_L1=0.0)
    no_l1.set_input(_pair())
    assert no_l1.train_step()["G_L1"] == 0.0


def test_d_step_then_g_step_updates_both_nets():
    model = _model()
    before = {n: {k: v.numpy().copy() for k, v in net.state_dict().items()} for n, net in model.nets.items()}
    model.set_input(_pair())
    model.train_step()
    for name, net in model.nets.items():
        after = net.state_dict()
        changed = [k for k in before[name] if not np.array_equal(before[name][k], after[k].numpy())]
        assert any(k.endswith("weight") for k in changed), name
        assert any(k.endswith("_mean") for k in changed), name  # BatchNorm statistics move in training
    assert not hasattr(model, "fake_B_pool")  # no image pool (original pool_size 0)


def test_inference_modes_and_direction():
    model = _model()
    x = paddle.to_tensor(_pair()["A"])
    model.set_inference_mode("eval")
    np.testing.assert_array_equal(model.translate(x).numpy(), model.translate(x).numpy())
    model.set_inference_mode("train_norm")  # batch statistics + dropout, as the original test.py
    a, b = model.translate(x).numpy(), model.translate(x).numpy()
    assert np.abs(a - b).max() > 1e-3
    with pytest.raises(ValueError, match="unknown inference mode"):
        model.set_inference_mode("test")
    with pytest.raises(ValueError, match="one generator.*direction: BtoA"):
        model.translate(x, "BtoA")


def _config(tmp_path, **extra):
    cfg = {"name": "p2p", "output_dir": str(tmp_path / "run"), "seed": 1, "threads": 1,
           "model": {"name": "Pix2PixModel", "generator": {"name": "unet_128", "ngf": 4},
                     "discriminator": {"name": "basic", "ndf": 4}},
           "dataset": {"synthetic": {"n_train": 3, "n_test": 2, "size": 128},
                       "train": {"name": "AlignedDataset", "dataroot": str(tmp_path / "data"), "preprocess": "none"},
                       "test": {"name": "AlignedDataset", "dataroot": str(tmp_path / "data"), "phase": "test",
                                "preprocess": "none", "flip": False}},
           "lr_scheduler": {"n_epochs": 1, "n_epochs_decay": 1},
           "train": {"num_workers": 0, "log_interval": 1, "visual_interval": 2}}
    for key, value in extra.items():
        cfg[key] = {**cfg.get(key, {}), **value}
    path = tmp_path / "p2p.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_trainer_trains_and_evaluates_pix2pix(tmp_path):
    from ppimg2img.engine.trainer import Trainer
    from ppimg2img.utils.image_io import load_image
    t = Trainer(load_config(_config(tmp_path), ["train.max_iters=3"]))
    t.train(progress=False)
    header = open(os.path.join(t.run_dir, "losses.csv")).readline().strip()
    assert header == "epoch,iter,G_GAN,G_L1,D_real,D_fake,lr_G,lr_D"
    res = t.evaluate(tag="latest")
    assert list(res) == ["AtoB"]  # one generator: BtoA is not evaluated
    r = res["AtoB"]
    assert r["images"] == 2 and 0 < r["psnr"] < 60 and 0 < r["identity_psnr"] < 10 and -1 <= r["ssim"] <= 1
    imgs = sorted(os.listdir(os.path.join(t.run_dir, "eval", "latest", "AtoB", "images")))
    assert imgs[:3] == ["00000_fake_B.png", "00000_real_A.png", "00000_real_B.png"]
    real_b = load_image(os.path.join(t.run_dir, "eval", "latest", "AtoB", "images", "00000_real_B.png"))
    ab = load_image(os.path.join(str(tmp_path / "data"), "test", "00000.png"))
    np.testing.assert_array_equal(real_b, ab[:, 128:])  # ground truth = right half
    page = open(os.path.join(t.run_dir, "eval", "latest", "index.html")).read()
    assert "inference mode: eval" in page


def test_train_norm_evaluation_keeps_running_statistics(tmp_path):
    from ppimg2img.engine.trainer import Trainer
    t = Trainer(load_config(_config(tmp_path, eval={"inference_mode": "train_norm"}), ["train.max_iters=1"]))
    t.train(progress=False)
    before = {k: v.numpy().copy() for k, v in t.model.nets["netG"].state_dict().items()}
    res = t.evaluate(tag="tn")
    assert res["AtoB"]["images"] == 2
    for k, v in t.model.nets["netG"].state_dict().items():
        np.testing.assert_array_equal(before[k], v.numpy(), err_msg=k)
    assert "batch statistics and dropout on" in open(os.path.join(t.run_dir, "eval", "tn", "index.html")).read()


def test_btoa_direction_trains_the_reverse_mapping(tmp_path):
    from ppimg2img.engine.trainer import Trainer
    from ppimg2img.utils.image_io import load_image
    t = Trainer(load_config(_config(tmp_path), ["train.max_iters=1", "dataset.train.direction=b2a",
                                                "dataset.test.direction=BtoA"]))
    t.train(progress=False)
    t.evaluate(tag="r")
    folder = os.path.join(t.run_dir, "eval", "r", "AtoB", "images")
    assert sorted(os.listdir(folder))[:3] == ["00000_fake_A.png", "00000_real_A.png", "00000_real_B.png"]
    ab = load_image(os.path.join(str(tmp_path / "data"), "test", "00000.png"))
    np.testing.assert_array_equal(load_image(os.path.join(folder, "00000_real_B.png")), ab[:, 128:])  # the input
    np.testing.assert_array_equal(load_image(os.path.join(folder, "00000_real_A.png")), ab[:, :128])  # the target


def test_validation_during_training_leaves_the_run_unchanged(tmp_path):
    """train.eval_epoch_interval evaluates between epochs (here in train_norm mode, which uses
    dropout and batch statistics); the trained weights equal those of a run without it."""
    from ppimg2img.engine.trainer import Trainer
    weights = []
    for i, extra in enumerate(({}, {"train": {"eval_epoch_interval": 1}, "eval": {"inference_mode": "train_norm"}})):
        os.makedirs(tmp_path / str(i))
        t = Trainer(load_config(_config(tmp_path / str(i), **extra), ["train.max_iters=5"]))
        t.train(progress=False)
        weights.append({k: v.numpy() for k, v in t.model.nets["netG"].state_dict().items()})
    assert os.path.isfile(os.path.join(t.run_dir, "eval", "epoch_001", "metrics.json"))
    for k in weights[0]:
        np.testing.assert_array_equal(weights[0][k], weights[1][k], err_msg=k)
