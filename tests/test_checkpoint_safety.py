"""Hostile checkpoints never run code: every container, pickle protocol and code-calling opcode,
through every entry point that opens a checkpoint.

Each payload would run ``touch pwned`` (in the test's folder) under an unrestricted unpickler
(``pickle.load``, ``paddle.load``, ``torch.load(weights_only=False)``). Each test asserts that the
marker file never appears and that the error names the refused global.
"""
import io
import os
import pickle
import pickletools
import struct
import sys
import zipfile

import numpy as np
import pytest

from ppimg2img.weights.reader import UnsafeCheckpointError, read_checkpoint

from conftest import tiny_cyclegan_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = "pwned"  # relative: the tests run in their tmp_path, so the payloads stay short
CMD = f"touch {MARKER}"
SYSTEM = r"'(posix|os|nt)\.system'"
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _RunsShell:
    """Pickles as a call of os.system (REDUCE on a GLOBAL / STACK_GLOBAL, by protocol)."""

    def __reduce__(self):
        return (os.system, (CMD,))


def _op(name, arg=b""):
    return pickletools.opcodes[[o.name for o in pickletools.opcodes].index(name)].code.encode("latin1") + arg


def _short_str(s):
    raw = s.encode()
    return _op("SHORT_BINSTRING", bytes([len(raw)]) + raw)


def _global(module, name):
    return _op("GLOBAL", f"{module}\n{name}\n".encode())


# name -> (pickle bytes, opcode the payload exercises, pattern of the refused global)
PAYLOADS = {}
for protocol in range(6):
    opcode = "STACK_GLOBAL" if protocol >= 4 else "GLOBAL"
    PAYLOADS[f"protocol{protocol}-reduce-short"] = (pickle.dumps(_RunsShell(), protocol=protocol), opcode, SYSTEM)
    # the call comes after 200 harmless bytes: a reader that peeks at a 64-byte head must not help
    PAYLOADS[f"protocol{protocol}-reduce-long"] = (pickle.dumps(("x" * 200, _RunsShell()), protocol=protocol),
                                                   opcode, SYSTEM)
PAYLOADS.update({
    # protocol 0: INST calls os.system('touch pwned') while building the "instance"
    "protocol0-inst": (b"(S'" + CMD.encode() + b"'\nios\nsystem\n.", "INST", SYSTEM),
    # protocol 1: OBJ calls the class (os.system) with the marked arguments
    "protocol1-obj": (b"(cos\nsystem\nS'" + CMD.encode() + b"'\no.", "OBJ", SYSTEM),
    # protocol 2: NEWOBJ builds functools.partial(os.system, cmd), REDUCE calls it
    "protocol2-newobj": (_op("PROTO", b"\x02") + _global("functools", "partial") + _global("os", "system")
                         + _short_str(CMD) + _op("TUPLE2") + _op("NEWOBJ") + _op("EMPTY_TUPLE") + _op("REDUCE")
                         + _op("STOP"), "NEWOBJ", r"'functools\.partial'"),
    # protocol 2: BUILD turns partial(print) into partial(os.system, cmd) through __setstate__
    "protocol2-build": (_op("PROTO", b"\x02") + _global("functools", "partial") + _global("builtins", "print")
                        + _op("TUPLE1") + _op("REDUCE") + _op("MARK") + _global("os", "system") + _short_str(CMD)
                        + _op("TUPLE1") + _op("EMPTY_DICT") + _op("NONE") + _op("TUPLE") + _op("BUILD")
                        + _op("EMPTY_TUPLE") + _op("REDUCE") + _op("STOP"), "BUILD", r"'functools\.partial'"),
    # an allowed container first, the refused global inside its BUILD state
    "protocol2-build-after-allowed": (_op("PROTO", b"\x02") + _global("collections", "OrderedDict")
                                      + _op("EMPTY_TUPLE") + _op("NEWOBJ") + _op("EMPTY_DICT") + _short_str("w")
                                      + _global("subprocess", "Popen") + _op("SETITEM") + _op("BUILD")
                                      + _op("STOP"), "BUILD", r"'subprocess\.Popen'"),
})


def test_payloads_use_the_opcodes_they_claim():
    for name, (payload, opcode, _) in PAYLOADS.items():
        ops = [op.name for op, _, _ in pickletools.genops(payload)]  # decodes, never executes
        assert opcode in ops, name
        assert ops[-1] == "STOP", name
    assert len(PAYLOADS["protocol0-reduce-short"][0]) < 64
    assert all(len(PAYLOADS[f"protocol{p}-reduce-long"][0]) > 200 for p in range(6))


def _torch_zip(payload):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
        zf.writestr("archive/byteorder", "little")
        zf.writestr("archive/version", "3\n")
    return buf.getvalue()


def _legacy_header():
    return (pickle.dumps(LEGACY_MAGIC, protocol=2) + pickle.dumps(1001, protocol=2)
            + pickle.dumps({"protocol_version": 1001, "little_endian": True,
                            "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2))


# container -> (file suffix, bytes of the file around a payload)
CONTAINERS = {
    "pdparams": (".pdparams", lambda p: p),
    "pdckpt": (".pdckpt", lambda p: p),
    "torch-zip": (".pth", _torch_zip),
    "torch-legacy-first-pickle": (".pth", lambda p: p),  # the bytes where the magic number would be
    "torch-legacy-after-header": (".pt", lambda p: _legacy_header() + p + struct.pack("<q", 0)),
}


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _hostile_file(folder, payload_name="protocol2-reduce-short", container="pdparams", name="evil"):
    suffix, wrap = CONTAINERS[container]
    path = folder / f"{name}{suffix}"
    path.write_bytes(wrap(PAYLOADS[payload_name][0]))
    return path


@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("payload", PAYLOADS)
def test_reader_refuses_every_payload_in_every_container(in_tmp, payload, container):
    path = _hostile_file(in_tmp, payload, container)
    with pytest.raises(UnsafeCheckpointError, match=PAYLOADS[payload][2]) as err:
        read_checkpoint(path)
    assert str(path) in str(err.value)
    assert not (in_tmp / MARKER).exists()


def test_the_40_byte_legacy_file_of_the_report_runs_nothing(in_tmp):
    """The reported kind of file: a .pth of about 40 bytes whose first pickle calls os.system. The legacy-format
    check used to unpickle the head unrestricted, so the command ran before the refusal."""
    payload = PAYLOADS["protocol0-reduce-short"][0]
    assert len(payload) < 64
    path = in_tmp / "tiny.pth"
    path.write_bytes(payload)
    from ppimg2img import load_generator
    with pytest.raises(UnsafeCheckpointError, match=SYSTEM):
        load_generator(str(path))
    assert not (in_tmp / MARKER).exists()


def test_no_unrestricted_unpickling_in_the_package():
    """Source check: the package's only unpickler is the restricted one in weights/reader.py."""
    risky = ("pickle.load(", "pickle.loads(", "paddle.load(", "allow_pickle=True", "torch.load(",
             "yaml.load(f)", "yaml.unsafe_load", "pickle.Unpickler(")
    found = []
    for root, _, files in os.walk(os.path.join(REPO, "ppimg2img")):
        for name in files:
            if name.endswith(".py"):
                text = open(os.path.join(root, name), encoding="utf-8").read()
                found += [f"{name}: {r}" for r in risky if r in text]
    assert found == []


# ------------------------------------------------------------------ entry points

def _trainer(tmp_path):
    from ppimg2img.config import load_config
    from ppimg2img.engine.trainer import Trainer
    return Trainer(load_config(tiny_cyclegan_config(tmp_path), [f"output_dir={tmp_path / 'run'}"]))


@pytest.mark.parametrize("container", ["torch-zip", "torch-legacy-first-pickle", "pdparams"])
def test_load_generator_refuses(in_tmp, container):
    from ppimg2img import load_generator
    with pytest.raises(UnsafeCheckpointError, match=SYSTEM):
        load_generator(str(_hostile_file(in_tmp, "protocol4-reduce-long", container)))
    assert not (in_tmp / MARKER).exists()


def test_trainer_resume_and_load_refuse(in_tmp):
    trainer = _trainer(in_tmp)
    with pytest.raises(UnsafeCheckpointError, match=SYSTEM):
        trainer.resume(str(_hostile_file(in_tmp, "protocol5-reduce-long", "pdckpt")))
    with pytest.raises(UnsafeCheckpointError, match=r"'functools\.partial'"):
        trainer.load_weights(str(_hostile_file(in_tmp, "protocol2-newobj", "pdparams")))
    assert not (in_tmp / MARKER).exists()


@pytest.mark.parametrize("flags", [["--resume"], ["--load"], ["--evaluate-only", "--load"]])
def test_train_command_refuses_in_one_line(in_tmp, capsys, flags):
    from ppimg2img.cli import train_main
    evil = _hostile_file(in_tmp, "protocol1-obj", "pdckpt")
    code = train_main(["-c", str(tiny_cyclegan_config(in_tmp)), "--no-progress"] + flags + [str(evil)])
    err = capsys.readouterr().err
    assert code == 1
    assert "refusing to load 'posix.system'" in err or "refusing to load 'os.system'" in err
    assert "Traceback" not in err
    assert not (in_tmp / MARKER).exists()


def test_predictors_refuse(in_tmp):
    from ppimg2img import CycleGANPredictor
    from ppimg2img.predictors.commands import create_predictor
    evil = _hostile_file(in_tmp, "protocol3-reduce-short", "torch-zip")
    with pytest.raises(UnsafeCheckpointError, match=SYSTEM):
        CycleGANPredictor(weights=str(evil)).run(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(UnsafeCheckpointError, match=SYSTEM):
        create_predictor(weights=str(evil))
    assert not (in_tmp / MARKER).exists()


@pytest.mark.parametrize("command", ["translate", "export"])
def test_commands_refuse_in_one_line(in_tmp, capsys, command):
    from ppimg2img.cli import main
    evil = _hostile_file(in_tmp, "protocol0-inst", "torch-legacy-after-header")
    image = in_tmp / "in.png"
    import cv2
    cv2.imwrite(str(image), np.zeros((8, 8, 3), np.uint8))
    argv = (["translate", "--weights", str(evil), str(image), "-o", str(in_tmp / "out"), "--no-progress"]
            if command == "translate" else ["export", "--load", str(evil), "-o", str(in_tmp / "out")])
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0
    assert "refusing to load 'os.system'" in err
    assert "Traceback" not in err
    assert not (in_tmp / MARKER).exists()


def test_translate_images_application_refuses(in_tmp):
    import subprocess
    evil = _hostile_file(in_tmp, "protocol2-build", "torch-zip")
    (in_tmp / "photos").mkdir()
    import cv2
    cv2.imwrite(str(in_tmp / "photos" / "a.png"), np.zeros((8, 8, 3), np.uint8))
    proc = subprocess.run([sys.executable, os.path.join(REPO, "applications", "translate_images.py"),
                           "--weights", str(evil), "--input", "photos", "--output", "out"],
                          cwd=in_tmp, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "refusing to load 'functools.partial'" in proc.stderr
    assert not (in_tmp / MARKER).exists()


def test_fid_inception_and_face_id_weights_refuse(in_tmp):
    from ppimg2img.metrics.fid import InceptionWeightsError, load_inception
    from ppimg2img.nets.mobilefacenet import MobileFaceNet
    from ppimg2img.weights import load_weights_into
    with pytest.raises(InceptionWeightsError, match=SYSTEM):
        load_inception(weights=str(_hostile_file(in_tmp, "protocol4-reduce-short", "torch-zip")), download=False)
    with pytest.raises(UnsafeCheckpointError, match=r"'subprocess\.Popen'"):
        load_weights_into(MobileFaceNet(512), str(_hostile_file(in_tmp, "protocol2-build-after-allowed",
                                                                "torch-legacy-after-header")))
    assert not (in_tmp / MARKER).exists()


def test_resume_still_restores_the_random_state_exactly(in_tmp):
    """Checkpoints keep Paddle's RNG state as plain integers, readable by the restricted reader."""
    import paddle
    from ppimg2img.engine.checkpoint import atomic_save, load_file
    from ppimg2img.utils.env import rng_state, set_rng_state
    paddle.seed(7)
    atomic_save({"rng": rng_state()}, str(in_tmp / "rng.pdckpt"))
    expected = paddle.rand([4]).numpy()
    set_rng_state(load_file(str(in_tmp / "rng.pdckpt"))["rng"])
    np.testing.assert_array_equal(paddle.rand([4]).numpy(), expected)  # same generator, same path


def test_protocol_2_bytes_from_python_3_are_read(in_tmp):
    """Python 3 writes bytes (and NumPy data) in protocol 2 through _codecs.encode(str, 'latin1'):
    allowed for text to latin-1/UTF-8 bytes only."""
    arrays = {"data": np.arange(12, dtype=np.uint8).reshape(3, 4), "raw": b"\x00\xffabc"}
    path = in_tmp / "py3.pdparams"
    path.write_bytes(pickle.dumps(arrays, protocol=2))
    out = read_checkpoint(path)
    np.testing.assert_array_equal(out["data"], arrays["data"])
    assert out["raw"] == arrays["raw"]
    sneaky = in_tmp / "codecs.pdparams"
    sneaky.write_bytes(_op("PROTO", b"\x02") + _global("_codecs", "encode") + _short_str("abc")
                       + _short_str("rot13") + _op("TUPLE2") + _op("REDUCE") + _op("STOP"))
    with pytest.raises(UnsafeCheckpointError, match="only text"):
        read_checkpoint(sneaky)
