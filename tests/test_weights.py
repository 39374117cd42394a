"""Checkpoint reader, layout conversion and load_generator against the original PyTorch code's
files (tests/data, copied from the shared reference set; see tests/data/README.md)."""
import json
import os
import pickle
import zipfile

import numpy as np
import paddle
import pytest

from conftest import DATA, tiny_cyclegan_config
from ppimg2img.nets import build_discriminator, build_generator
from ppimg2img.weights import (CheckpointReadError, UnsafeCheckpointError, WeightsMismatchError, convert_state_dict,
                               infer_arch, load_generator, load_weights_into, read_checkpoint,
                               save_converted)
from ppimg2img.weights.convert import canonical_state

FIXTURES = json.load(open(os.path.join(DATA, "reference_fixtures.json")))
OFFICIAL_KEYS = json.load(open(os.path.join(DATA, "official_checkpoint_keys.json")))


def fixture_path(name):
    for ext in (".pth", ".pt"):
        if os.path.isfile(os.path.join(DATA, name + ext)):
            return os.path.join(DATA, name + ext)
    raise FileNotFoundError(name)


def run(net, x):
    with paddle.no_grad():
        out = net(paddle.to_tensor(x))
    return (out[0] if isinstance(out, (tuple, list)) else out).numpy()


# ---------------------------------------------------------------------------------- reader
@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_reader_rebuilds_every_tensor_kind_of_both_torch_formats(fmt):
    expected = np.load(os.path.join(DATA, "torch_formats_expected.npz"))
    obj = read_checkpoint(os.path.join(DATA, f"torch_formats_{fmt}.pt"))
    assert obj["meta"] == {"epoch": 3, "names": ["a", "b"]}
    state = obj["genA2B"]
    assert list(state) == ["conv.weight", "transposed", "row_view", "half", "bf16", "steps", "mask", "param"]
    for key in expected.files:
        assert state[key].dtype == expected[key].dtype, key
        np.testing.assert_array_equal(state[key], expected[key], err_msg=key)
    state["transposed"][0, 0] = 123.0  # arrays own their memory (views of one storage were copied)
    assert state["row_view"][0] != 123.0


def _torch_zip_with_pickle(path, payload):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
        zf.writestr("archive/byteorder", "little")


class _RunsShell:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("container", ["torch_zip", "plain_pickle"])
def test_reader_refuses_a_pickle_that_calls_os_system(tmp_path, container):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"weight": _RunsShell(marker)}, protocol=2)
    path = tmp_path / ("evil.pth" if container == "torch_zip" else "evil.pdparams")
    if container == "torch_zip":
        _torch_zip_with_pickle(path, payload)
    else:
        path.write_bytes(payload)
    with pytest.raises(UnsafeCheckpointError, match=r"refusing to load '(posix|os)\.system'") as err:
        read_checkpoint(path)
    assert str(path) in str(err.value)
    assert not marker.exists()  # nothing ran


def test_reader_says_to_save_a_state_dict_when_a_whole_module_was_pickled(tmp_path):
    # what pickle writes for torch.save(model): a GLOBAL of the module class
    payload = b"\x80\x02ctorch.nn.modules.conv\nConv2d\nq\x00)\x81q\x01."
    path = tmp_path / "model.pth"
    _torch_zip_with_pickle(path, payload)
    with pytest.raises(UnsafeCheckpointError, match="save model.state_dict"):
        read_checkpoint(path)


def test_reader_errors_name_the_file_for_empty_truncated_and_missing_files(tmp_path):
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointReadError, match=r"empty\.pth: the file is empty"):
        read_checkpoint(empty)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(open(os.path.join(DATA, "cyclegan_resnet_6blocks_ngf8.pth"), "rb").read()[:50000])
    with pytest.raises(CheckpointReadError, match="truncated"):
        read_checkpoint(truncated)
    with pytest.raises(CheckpointReadError, match="not found"):
        read_checkpoint(tmp_path / "nope.pth")
    legacy = open(os.path.join(DATA, "torch_formats_legacy.pt"), "rb").read()
    cut = tmp_path / "cut_legacy.pt"
    cut.write_bytes(legacy[:-40])
    with pytest.raises(CheckpointReadError, match="cut_legacy.pt"):
        read_checkpoint(cut)


def test_reader_reads_paddle_save_files_plain_and_nested(tmp_path):
    net = paddle.nn.Linear(3, 2)
    paddle.save(net.state_dict(), str(tmp_path / "plain.pdparams"))
    paddle.save({"netG_A": net.state_dict(), "netD_A": {"w": paddle.ones([2])}, "epoch": 5},
                str(tmp_path / "nested.pdparams"))
    plain = read_checkpoint(tmp_path / "plain.pdparams")
    nested = read_checkpoint(tmp_path / "nested.pdparams")
    np.testing.assert_array_equal(plain["weight"], net.weight.numpy())
    np.testing.assert_array_equal(nested["netG_A"]["bias"], net.bias.numpy())
    np.testing.assert_array_equal(nested["netD_A"]["w"], np.ones(2, np.float32))
    assert nested["epoch"] == 5


# -------------------------------------------------------------------- reference parity
@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_original_pytorch_checkpoints_reproduce_the_original_outputs(name):
    """Every fixture written by the original code loads with inferred options and matches the
    original network's output within 1e-4 (max abs)."""
    net = load_generator(fixture_path(name))
    spec = FIXTURES[name]
    arch, kwargs = net.ppimg2img_arch
    assert arch == spec["arch"]
    assert kwargs["ngf"] == spec["ngf"]
    assert not net.training
    x = np.load(os.path.join(DATA, f"{name}_in.npy"))
    expected = np.load(os.path.join(DATA, f"{name}_out.npy"))
    out = run(net, x)
    assert out.shape == expected.shape
    assert np.abs(out - expected).max() < 1e-4


def _zeros(keys):
    return {k: np.zeros(shape, np.float32) for k, shape in keys}


def _official_net(name):
    if name.startswith("patchgan_basic"):
        norm = "batch" if "batchnorm" in name else "instance"
        return build_discriminator("basic", input_nc=int(name[-1]), ndf=64, norm=norm)
    if name.startswith("ugatit_discriminator"):
        n_layers = 7 if "global" in name else 5
        return build_discriminator("ugatit", input_nc=3, ndf=64, n_layers=n_layers)
    arch, kwargs = infer_arch(canonical_state(_zeros(OFFICIAL_KEYS[name]), "torch")[0])
    return build_generator(arch, **kwargs)


@pytest.mark.parametrize("name", sorted(OFFICIAL_KEYS))
def test_published_key_lists_map_completely(name):
    """Each family's table maps every key and shape of the published checkpoint, none left over."""
    net = _official_net(name)
    converted = convert_state_dict(_zeros(OFFICIAL_KEYS[name]), net, "torch", source=name)
    assert set(converted) == set(net.state_dict())


# ---------------------------------------------------------------------------- errors
def test_wrong_architecture_options_name_the_key_and_both_shapes():
    path = fixture_path("cyclegan_resnet_6blocks_ngf8")
    with pytest.raises(WeightsMismatchError) as err:
        load_generator(path, arch="resnet_6blocks", ngf=16)
    msg = str(err.value)
    assert "model.1.weight: expected shape [16, 3, 7, 7], found [8, 3, 7, 7]" in msg
    assert path in msg
    with pytest.raises(WeightsMismatchError, match=r"keys missing from the file: model\.\d+\.conv_block"):
        load_generator(path, arch="resnet_9blocks", ngf=8)


def test_multi_net_files_default_to_the_a_to_b_generator_and_key_selects(tmp_path):
    ref = load_generator(fixture_path("cyclegan_resnet_6blocks_ngf8"))
    other = build_generator("resnet_6blocks", ngf=8)
    both = {"netG_A": {k: v.numpy() for k, v in ref.state_dict().items()},
            "netG_B": {k: v.numpy() for k, v in other.state_dict().items()}}
    path = str(tmp_path / "two.pdparams")
    paddle.save(both, path)
    x = np.load(os.path.join(DATA, "cyclegan_resnet_6blocks_ngf8_in.npy"))
    np.testing.assert_allclose(run(load_generator(path), x), run(ref, x), atol=1e-6)
    other.eval()
    np.testing.assert_allclose(run(load_generator(path, key="netG_B"), x), run(other, x), atol=1e-6)
    with pytest.raises(Exception, match=r"no network 'genB2A' in the file; it holds: netG_A, netG_B"):
        load_generator(path, key="genB2A")


# PaddleGAN's layouts: tests/test_paddlegan_weights.py, against files written by PaddleGAN's own
# network classes (tests/data/paddlegan/).


# ------------------------------------------------------------------ ppimg2img's own files
def test_load_generator_round_trips_trainer_checkpoints_and_converted_files(tmp_path):
    from ppimg2img.config import load_config
    from ppimg2img.engine.trainer import Trainer

    cfg_path = tiny_cyclegan_config(tmp_path, train={"max_iters": 1})
    trainer = Trainer(load_config(cfg_path))
    ckpt = trainer.save_checkpoint()
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32)
    for key in ("netG_A", "netG_B"):
        expected = trainer.model.nets[key]
        expected.eval()
        loaded = load_generator(ckpt, key=key if key != "netG_A" else None)
        np.testing.assert_allclose(run(loaded, x), run(expected, x), atol=1e-6)
    loaded = load_generator(ckpt)
    converted = save_converted(loaded, str(tmp_path / "g.pdparams"), *loaded.ppimg2img_arch)
    again = load_generator(converted)
    assert again.ppimg2img_arch == loaded.ppimg2img_arch
    np.testing.assert_allclose(run(again, x), run(loaded, x), atol=1e-7)


def test_load_weights_into_accepts_paths_and_read_dicts():
    net = build_generator("resnet_6blocks", ngf=8)
    load_weights_into(net, fixture_path("cyclegan_resnet_6blocks_ngf8"))
    net.eval()
    x = np.load(os.path.join(DATA, "cyclegan_resnet_6blocks_ngf8_in.npy"))
    expected = np.load(os.path.join(DATA, "cyclegan_resnet_6blocks_ngf8_out.npy"))
    assert np.abs(run(net, x) - expected).max() < 1e-4
    # an already-read dict in Paddle layout (here a multi-net dict, as paddle.save would hold it)
    again = load_weights_into(build_generator("resnet_6blocks", ngf=8),
                              {"netG_A": {k: v.numpy() for k, v in net.state_dict().items()}})
    again.eval()
    assert np.abs(run(again, x) - expected).max() < 1e-4
