"""CycleGAN building blocks: shapes, parameter counts, key layout, init, and a number-for-number
check against the original PyTorch ResnetGenerator (tests/data, see tests/data/README.md)."""
import inspect
import json
import os

import numpy as np
import paddle
import pytest

from ppimg2img.nets import (DISCRIMINATORS, GENERATORS, NLayerDiscriminator, PixelDiscriminator,
                            ResnetGenerator, build_discriminator, build_generator, get_norm_layer,
                            init_weights, uses_bias)
from ppimg2img.weights import read_checkpoint

DATA = os.path.join(os.path.dirname(__file__), "data")


def n_params(net):
    return sum(int(p.numel()) for p in net.parameters())


def official_keys(name):
    with open(os.path.join(DATA, "official_checkpoint_keys.json")) as f:
        return {k: tuple(shape) for k, shape in json.load(f)[name]}


def paddle_keys(net):
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def conv_params(cin, cout, k, bias=True):
    return cin * cout * k * k + (cout if bias else 0)


# ---- norm layers ---------------------------------------------------------------------------

def test_norm_layers():
    inorm = get_norm_layer("instance")(8)
    assert list(inorm.parameters()) == [] and len(inorm.state_dict()) == 0
    bn = get_norm_layer("batch")(8)
    assert sorted(bn.state_dict()) == ["_mean", "_variance", "bias", "weight"]
    assert bn._momentum == pytest.approx(0.9) and bn._epsilon == pytest.approx(1e-5)
    x = paddle.randn([2, 8, 4, 4])
    assert np.array_equal(get_norm_layer("none")(8)(x).numpy(), x.numpy())
    assert uses_bias("instance") and not uses_bias("batch") and not uses_bias("none")
    with pytest.raises(ValueError, match="instance, batch, none"):
        get_norm_layer("layer")


def test_instance_norm_normalises_per_channel():
    x = paddle.randn([2, 3, 8, 8]) * 5 + 3
    y = get_norm_layer("instance")(3)(x).numpy()
    assert np.allclose(y.mean(axis=(2, 3)), 0, atol=1e-5)
    assert np.allclose(y.std(axis=(2, 3)), 1, atol=1e-3)


# ---- generators ----------------------------------------------------------------------------

def test_resnet_9blocks_params_and_shape():
    g = build_generator("resnet_9blocks")
    assert n_params(g) == 11_378_179
    g = build_generator("resnet_9blocks", ngf=8)
    assert g(paddle.randn([1, 3, 32, 48])).shape == [1, 3, 32, 48]


def test_resnet_6blocks_params():
    ngf = 64
    block = 2 * conv_params(4 * ngf, 4 * ngf, 3)
    expected = (conv_params(3, ngf, 7) + conv_params(ngf, 2 * ngf, 3) + conv_params(2 * ngf, 4 * ngf, 3)
                + 6 * block + conv_params(4 * ngf, 2 * ngf, 3) + conv_params(2 * ngf, ngf, 3)
                + conv_params(ngf, 3, 7))
    assert n_params(build_generator("resnet_6blocks")) == expected == 7_837_699
    # 9 blocks = 6 blocks + 3 more blocks
    assert 11_378_179 - expected == 3 * block


def test_resnet_keys_match_official_checkpoint():
    keys = paddle_keys(build_generator("resnet_9blocks"))
    assert keys == official_keys("cyclegan_resnet_9blocks_ngf64")
    for k in ("model.1.weight", "model.10.conv_block.1.weight", "model.10.conv_block.5.bias",
              "model.19.weight", "model.26.bias"):
        assert k in keys
    assert keys["model.19.weight"] == (256, 128, 3, 3)  # ConvTranspose [in, out, k, k] like PyTorch


def test_resnet_batchnorm_has_no_conv_bias_and_dropout_shifts_keys():
    g = ResnetGenerator(ngf=4, n_blocks=1, norm="batch", use_dropout=True)
    keys = g.state_dict()
    assert "model.1.bias" not in keys and "model.2._mean" in keys
    # with dropout the second conv of the block moves from index 5 to 6, as upstream
    assert "model.10.conv_block.6.weight" in keys and "model.10.conv_block.5.weight" not in keys
    assert "model.15.bias" in keys  # the final conv always has a bias


@pytest.mark.parametrize("padding_type", ["reflect", "replicate", "zero"])
def test_resnet_padding_types(padding_type):
    g = ResnetGenerator(ngf=4, n_blocks=2, padding_type=padding_type)
    assert g(paddle.randn([1, 3, 16, 16])).shape == [1, 3, 16, 16]
    first_conv = "model.10.conv_block.0.weight" if padding_type == "zero" else "model.10.conv_block.1.weight"
    assert first_conv in g.state_dict()


def test_resnet_bad_padding():
    with pytest.raises(ValueError, match="reflect, replicate, zero"):
        ResnetGenerator(ngf=4, n_blocks=1, padding_type="circular")


def test_resnet_matches_original_pytorch_output():
    # the original code's torch.save file, read without torch and with the generic key rules
    # (identity for this layout: the names are the original's)
    state = read_checkpoint(os.path.join(DATA, "cyclegan_resnet_6blocks_ngf8.pth"))
    x = np.load(os.path.join(DATA, "cyclegan_resnet_6blocks_ngf8_in.npy"))
    expected = np.load(os.path.join(DATA, "cyclegan_resnet_6blocks_ngf8_out.npy"))
    g = ResnetGenerator(ngf=8, n_blocks=6)
    own = g.state_dict()
    assert sorted(state) == sorted(own)
    for k in state:
        assert tuple(state[k].shape) == tuple(own[k].shape), k
    # the reference weights are real random weights, not a default init: the test can fail
    assert all(np.abs(state[k]).max() > 0 for k in state if k.endswith("bias"))
    fresh = g(paddle.to_tensor(x)).numpy()
    assert np.abs(fresh - expected).max() > 1e-2
    g.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    g.eval()
    out = g(paddle.to_tensor(x)).numpy()
    assert out.shape == expected.shape
    assert np.abs(out - expected).max() < 1e-5  # README: matches the reference within 1e-5


# ---- discriminators ------------------------------------------------------------------------

def test_basic_discriminator():
    d = build_discriminator("basic")
    assert n_params(d) == 2_764_737
    assert paddle_keys(d) == official_keys("patchgan_basic_ndf64_nlayers3_instancenorm_in3")
    assert d(paddle.randn([2, 3, 64, 64])).shape == [2, 1, 6, 6]


def test_basic_discriminator_batchnorm_keys():
    """BatchNorm PatchGAN (pix2pix, input_nc 6): same layout; PyTorch running_mean/var are
    Paddle's _mean/_variance, num_batches_tracked has no Paddle counterpart."""
    theirs = official_keys("patchgan_basic_ndf64_nlayers3_batchnorm_in6")
    renamed = {k.replace("running_mean", "_mean").replace("running_var", "_variance"): v
               for k, v in theirs.items() if not k.endswith("num_batches_tracked")}
    d = build_discriminator("basic", input_nc=6, norm="batch")
    assert {k: tuple(v) for k, v in paddle_keys(d).items()} == {k: tuple(v) for k, v in renamed.items()}


def test_n_layers_discriminator():
    ndf = 64
    expected = (conv_params(3, ndf, 4) + conv_params(ndf, 2 * ndf, 4) + conv_params(2 * ndf, 4 * ndf, 4)
                + conv_params(4 * ndf, 8 * ndf, 4) + conv_params(8 * ndf, 8 * ndf, 4)  # nf_mult capped at 8
                + conv_params(8 * ndf, 8 * ndf, 4) + conv_params(8 * ndf, 1, 4))
    d = build_discriminator("n_layers", n_layers=5)
    assert n_params(d) == expected == 11_154_369
    # 128 -> 5 stride-2 convs -> 4 -> two stride-1 k4 p1 convs -> 2
    assert d(paddle.randn([1, 3, 128, 128])).shape == [1, 1, 2, 2]
    assert n_params(NLayerDiscriminator(n_layers=3)) == 2_764_737


def test_pixel_discriminator():
    d = build_discriminator("pixel")
    assert n_params(d) == conv_params(3, 64, 1) + conv_params(64, 128, 1) + conv_params(128, 1, 1) == 8705
    assert sorted(d.state_dict()) == ["net.0.bias", "net.0.weight", "net.2.bias", "net.2.weight",
                                      "net.5.bias", "net.5.weight"]
    assert d(paddle.randn([1, 3, 10, 12])).shape == [1, 1, 10, 12]
    assert "net.5.bias" not in PixelDiscriminator(norm="batch").state_dict()


# ---- name tables ---------------------------------------------------------------------------

def test_tables_signatures():
    assert set(GENERATORS) >= {"resnet_9blocks", "resnet_6blocks"}
    assert set(DISCRIMINATORS) >= {"basic", "n_layers", "pixel"}
    gen = inspect.signature(GENERATORS["resnet_9blocks"]).parameters
    assert gen["ngf"].default == 64 and gen["norm"].default == "instance" and "n_blocks" not in gen
    assert "n_layers" not in inspect.signature(DISCRIMINATORS["basic"]).parameters
    assert inspect.signature(DISCRIMINATORS["n_layers"]).parameters["n_layers"].default == 3
    assert len(GENERATORS["resnet_6blocks"](ngf=4).model) == 4 + 6 + 6 + 6 + 3


def test_build_errors():
    with pytest.raises(ValueError, match="Did you mean 'resnet_9blocks'"):
        build_generator("resnet_9block")
    with pytest.raises(ValueError, match="Did you mean 'basic'"):
        build_discriminator("basci")
    with pytest.raises(ValueError, match="does not accept option 'n_layers'"):
        build_discriminator("basic", n_layers=4)
    with pytest.raises(ValueError, match="Did you mean 'ngf'"):
        build_generator("resnet_6blocks", ngff=4)


# ---- init ----------------------------------------------------------------------------------

def test_init_normal():
    paddle.seed(0)
    g = init_weights(ResnetGenerator(ngf=16, n_blocks=1), "normal", 0.02)
    w = g.model[10].conv_block[1].weight.numpy()  # 64*64*9 = 36864 values
    assert abs(w.std() - 0.02) < 0.001 and abs(w.mean()) < 0.001
    assert np.all(g.model[1].bias.numpy() == 0)
    assert abs(g.model[11].weight.numpy().std() - 0.02) < 0.002  # ConvTranspose is a 'Conv' too


def test_init_kaiming_xavier_orthogonal():
    paddle.seed(0)
    d = init_weights(NLayerDiscriminator(ndf=32, n_layers=3), "kaiming")
    w = d.model[5].weight.numpy()  # [128, 64, 4, 4], fan_in 1024
    assert abs(w.std() - np.sqrt(2.0 / 1024)) < 0.002
    d = init_weights(NLayerDiscriminator(ndf=32, n_layers=3), "xavier", 0.02)
    w = d.model[5].weight.numpy()
    assert abs(w.std() - 0.02 * np.sqrt(2.0 / (1024 + 2048))) < 0.0002
    d = init_weights(NLayerDiscriminator(ndf=32, n_layers=3), "orthogonal", 0.5)
    flat = d.model[2].weight.numpy().reshape(64, -1)  # 64 rows, 512 cols: orthonormal rows * gain
    assert np.allclose(flat @ flat.T, 0.25 * np.eye(64), atol=1e-4)


def test_init_batchnorm():
    paddle.seed(0)
    d = init_weights(NLayerDiscriminator(ndf=64, n_layers=3, norm="batch"), "normal", 0.02)
    bn = d.model[9]  # BatchNorm2D(512)
    assert abs(bn.weight.numpy().mean() - 1.0) < 0.005 and abs(bn.weight.numpy().std() - 0.02) < 0.004
    assert np.all(bn.bias.numpy() == 0)


def test_init_unknown():
    with pytest.raises(ValueError, match="normal, xavier, kaiming, orthogonal"):
        init_weights(PixelDiscriminator(ndf=4), "uniform")
