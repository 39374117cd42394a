"""Deployment export: every generator family through Paddle Inference (oneDNN) and ONNX
(onnxruntime) equals eager mode at two batch/image sizes from one exported file; export_model
writes each generator of a model under its own name; tools/export_model.py exit codes."""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import paddle
import paddle.inference as paddle_infer
import pytest
from paddle.jit.dy2static import convert_call_func

import ppimg2img.nets as nets_module
from ppimg2img.config import ConfigError
from ppimg2img.engine.checkpoint import FORMAT, atomic_save, load_file
from ppimg2img.export.model import ExportArgumentError, export_model
from ppimg2img.export.paddle_graph import trace_as_written
from ppimg2img.export.onnx import OnnxGenerator, export_onnx
from ppimg2img.export.paddle_graph import ImageOnly, export_generator, model_files
from ppimg2img.models import MODELS
from ppimg2img.nets import build_generator
from ppimg2img.weights import save_converted

from conftest import DATA, ROOT, tiny_cyclegan_config

def _installed(module):
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: blocked in sys.modules
        return False


HAS_ONNX = _installed("paddle2onnx") and _installed("onnxruntime")
NO_ONNX = "paddle2onnx/onnxruntime not installed (pip install paddle2onnx onnxruntime): ONNX part not run"
needs_onnx = pytest.mark.skipif(not HAS_ONNX, reason=NO_ONNX)
# Paddle's static-graph tracing warns about its own internals
pytestmark = pytest.mark.filterwarnings("ignore:Tensor do not have 'place' interface",
                                        "ignore:no variable in your model")


def _input(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype("float32")


def _predictor(prefix):
    config = paddle_infer.Config(*model_files(prefix))
    config.disable_gpu()
    config.enable_mkldnn()
    config.disable_glog_info()
    return paddle_infer.create_predictor(config)


def _run(predictor, x):
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    handle.reshape(list(x.shape))
    handle.copy_from_cpu(x)
    predictor.run()
    return predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()


def _eager(net, x):
    with paddle.no_grad():
        return ImageOnly(net)(paddle.to_tensor(x)).numpy()


def _randomise_batchnorm_stats(net):
    """Running statistics far from the initial (0, 1), so a graph that ignored them would differ."""
    rng = np.random.default_rng(1)
    found = 0
    for layer in net.sublayers():
        if isinstance(layer, paddle.nn.BatchNorm2D):
            layer._mean.set_value(rng.uniform(-0.5, 0.5, layer._mean.shape).astype("float32"))
            layer._variance.set_value(rng.uniform(0.5, 2.0, layer._variance.shape).astype("float32"))
            found += 1
    return found


# name, constructor arguments, fixed image size, two input shapes, tolerance.
# Exported graph (oneDNN) / onnxruntime vs eager: other kernels, other summation orders, chosen per
# CPU instruction set. Outputs are tanh images in [-1, 1] where float32 rounding of these tiny nets
# is ~1e-6; 1e-4 is 1/80 of a grey level (1 level = 2/255), far below any real error (a missing
# normalisation or padding moves outputs by 1e-2 and more), and leaves room for other CPUs.
FAMILIES = {
    "resnet": ("resnet_6blocks", {"ngf": 4}, None, [(1, 3, 32, 32), (2, 3, 48, 40)], 1e-4),
    "unet_batchnorm": ("unet_128", {"ngf": 4, "norm": "batch", "use_dropout": True}, None,
                       [(1, 3, 128, 128), (2, 3, 128, 256)], 1e-4),
    "ugatit_light": ("ugatit", {"ngf": 4, "n_blocks": 2, "img_size": 32, "light": True}, None,
                     [(1, 3, 32, 32), (2, 3, 48, 40)], 1e-4),
    "ugatit_full": ("ugatit", {"ngf": 4, "n_blocks": 2, "img_size": 32, "light": False}, 32,
                    [(1, 3, 32, 32), (3, 3, 32, 32)], 1e-4),
    # photo2cartoon: 4 hourglasses of Soft-AdaLIN/LIN layers, each dividing by a per-image
    # standard deviation, amplify float32 rounding differences of other summation orders
    # (oneDNN, onnxruntime): measured 2e-5..4e-5 on an AVX2 EPYC, up to 2e-4 on an AVX-512 Xeon
    # (tests/test_inference_backend.py::test_photo2cartoon_parity): bound 5e-4, 1/16 grey level
    "photo2cartoon": ("photo2cartoon", {"ngf": 4, "img_size": 32, "light": True}, None,
                      [(1, 3, 32, 32), (2, 3, 64, 48)], 5e-4),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_inference_and_onnx_match_eager_at_two_sizes(tmp_path, family):
    arch, kwargs, size, shapes, tol = FAMILIES[family]
    paddle.seed(0)
    net = build_generator(arch, **kwargs)
    if family == "unet_batchnorm":
        assert _randomise_batchnorm_stats(net) > 0
    net.eval()
    prefix = str(tmp_path / family)
    with trace_as_written():
        graph = export_generator(net, prefix, image_size=size)
    assert nets_module not in convert_call_func.BUILTIN_LIKELY_MODULES  # dy2static left as it was
    assert graph.endswith(".json") and os.path.isfile(prefix + ".pdiparams")
    predictor = _predictor(prefix)
    inputs = [_input(shape, seed=i) for i, shape in enumerate(shapes)]
    expected = [_eager(net, x) for x in inputs]
    for x, eager in zip(inputs, expected):  # one exported file, two batch sizes / image sizes
        assert eager.shape == x.shape and eager.std() > 1e-3  # a real image, not a constant
        np.testing.assert_allclose(_run(predictor, x), eager, rtol=0, atol=tol, err_msg=f"inference {x.shape}")
    if family == "unet_batchnorm":  # the graph holds the running statistics, not batch statistics
        net.train()
        assert np.abs(_eager(net, inputs[-1]) - expected[-1]).max() > 1e-2
    if not HAS_ONNX:
        pytest.skip(NO_ONNX)
    onnx_net = OnnxGenerator(export_onnx(prefix, prefix + ".onnx"), threads=1)
    for x, eager in zip(inputs, expected):
        np.testing.assert_allclose(onnx_net(x), eager, rtol=0, atol=tol, err_msg=f"onnx {x.shape}")
    if size is None:
        import onnx

        model = onnx.load(prefix + ".onnx")
        dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
                for v in (model.graph.input[0], model.graph.output[0])]
        assert dims == [["batch", 3, "height", "width"]] * 2


@needs_onnx
def test_onnx_restores_leaky_relu_slope(tmp_path):
    """paddle2onnx 2.1 reads Paddle 3.3's double negative_slope as a float (alpha 6e28)."""
    import onnx

    layer = paddle.nn.Sequential(paddle.nn.Conv2D(3, 3, 1), paddle.nn.LeakyReLU(0.2), paddle.nn.Conv2D(3, 3, 1),
                                 paddle.nn.LeakyReLU(0.05))
    export_generator(layer, str(tmp_path / "leaky"))
    onnx_file = export_onnx(str(tmp_path / "leaky"), str(tmp_path / "leaky.onnx"))
    alphas = [a.f for n in onnx.load(onnx_file).graph.node if n.op_type == "LeakyRelu" for a in n.attribute]
    np.testing.assert_allclose(alphas, [0.2, 0.05], rtol=1e-6)
    x = _input((1, 3, 5, 7)) * 4
    np.testing.assert_allclose(OnnxGenerator(onnx_file)(x), _eager(layer, x), rtol=0, atol=1e-5)
    assert not [f for f in os.listdir(tmp_path) if ".tmp" in f]  # atomic write left nothing behind


def _trainer_checkpoint(tmp_path):
    """A CycleGAN checkpoint written by the trainer itself (tiny nets, no training steps)."""
    from ppimg2img.config import load_config
    from ppimg2img.engine.trainer import Trainer

    trainer = Trainer(load_config(tiny_cyclegan_config(tmp_path)))
    return trainer.save_checkpoint()


def _model_from_checkpoint(path):
    state = load_file(path)  # the restricted reader: arrays, no code run
    cfg = dict(state["config"]["model"])
    model = MODELS[cfg.pop("name")](**cfg, is_train=False)
    model.load_nets(state["nets"], strict=True)
    model.eval()
    return model


def test_export_model_writes_both_cyclegan_generators(tmp_path):
    ckpt = _trainer_checkpoint(tmp_path)
    out = tmp_path / "export"
    written = export_model(ckpt, str(out), onnx=HAS_ONNX)
    assert list(written) == ["netG_A", "netG_B"]
    for name, files in written.items():
        assert [os.path.basename(f) for f in files] == [f"{name}.json", f"{name}.pdiparams"] + \
            [f"{name}.onnx"] * HAS_ONNX
        assert all(os.path.getsize(f) > 0 for f in files)
    assert (out / "netG_A.pdiparams").read_bytes() != (out / "netG_B.pdiparams").read_bytes()

    model = _model_from_checkpoint(ckpt)
    x = _input((2, 3, 32, 36))
    outputs = {}
    for name in written:
        eager = _eager(model.nets[name], x)
        outputs[name] = _run(_predictor(str(out / name)), x)
        np.testing.assert_allclose(outputs[name], eager, rtol=0, atol=1e-4)
        if HAS_ONNX:
            np.testing.assert_allclose(OnnxGenerator(str(out / f"{name}.onnx"))(x), eager, rtol=0, atol=1e-4)
    assert np.abs(outputs["netG_A"] - outputs["netG_B"]).max() > 1e-3  # two different generators

    manifest = json.loads((out / "export.json").read_text())
    assert manifest["model"] == "CycleGANModel" and manifest["name"] == "tiny"
    assert list(manifest["generators"]) == ["netG_A", "netG_B"]
    g = manifest["generators"]["netG_B"]
    assert g["direction"] == "B->A" and g["input"]["shape"] == [-1, 3, -1, -1]
    assert g["paddle"]["model_file"] == "netG_B.json"
    assert g.get("onnx", {}).get("file") == ("netG_B.onnx" if HAS_ONNX else None)
    assert manifest["value_range"] == [-1, 1] and manifest["layout"] == "NCHW"
    assert manifest["paddle"] == paddle.__version__ and manifest["ppimg2img"]
    readme = (out / "README.md").read_text()
    assert "netG_A.json" in readme and "create_predictor" in readme
    assert ("netG_A.onnx" in readme and "onnxruntime" in readme) == HAS_ONNX


def _save_checkpoint_like_trainer(path, model_cfg, seed=0):
    model_cfg = dict(model_cfg)
    model = MODELS[model_cfg["name"]](**{k: v for k, v in model_cfg.items() if k != "name"}, is_train=False,
                                      seed=seed)
    paddle.seed(seed)
    for net in model.nets.values():  # distinct, non-trivial weights per net
        for p in net.parameters():
            p.set_value(paddle.uniform(p.shape, min=-0.3, max=0.3))
    atomic_save({"format": FORMAT, "version": 1, "nets": {k: v.state_dict() for k, v in model.nets.items()},
                 "config": {"name": "tiny", "model": model_cfg}}, path)
    return model


def test_cyclegan_b_to_a_generator_swaps_channels(tmp_path):
    ckpt = str(tmp_path / "gray2rgb.pdckpt")
    model = _save_checkpoint_like_trainer(ckpt, {
        "name": "CycleGANModel", "lambda_identity": 0.0, "discriminator": {"name": "basic", "ndf": 4},
        "generator": {"name": "resnet_6blocks", "ngf": 4, "input_nc": 1, "output_nc": 3}})
    written = export_model(ckpt, str(tmp_path / "out"))
    manifest = json.loads((tmp_path / "out" / "export.json").read_text())
    shapes = {n: (g["input"]["shape"], g["output"]["shape"]) for n, g in manifest["generators"].items()}
    assert shapes == {"netG_A": ([-1, 1, -1, -1], [-1, 3, -1, -1]), "netG_B": ([-1, 3, -1, -1], [-1, 1, -1, -1])}
    x = _input((1, 3, 16, 16))
    y = _run(_predictor(written["netG_B"][0][:-len(".json")]), x)
    np.testing.assert_allclose(y, _eager(model.nets["netG_B"], x), rtol=0, atol=1e-4)
    assert y.shape == (1, 1, 16, 16)


def test_full_ugatit_export_has_fixed_size_and_picks_nets(tmp_path):
    ckpt = str(tmp_path / "ugatit.pdckpt")
    model = _save_checkpoint_like_trainer(ckpt, {
        "name": "UGATITModel", "discriminator": {"name": "ugatit", "ndf": 4},
        "generator": {"name": "ugatit", "ngf": 4, "n_blocks": 1, "img_size": 32, "light": False}})
    with pytest.raises(ExportArgumentError, match="only takes 32x32 images"):
        export_model(ckpt, str(tmp_path / "bad"), image_size=64)
    with pytest.raises(ExportArgumentError, match="no generator netG_A; it has genA2B, genB2A"):
        export_model(ckpt, str(tmp_path / "bad"), nets=["netG_A"])
    written = export_model(ckpt, str(tmp_path / "out"), nets=["genB2A"])
    assert list(written) == ["genB2A"] and not (tmp_path / "out" / "genA2B.json").exists()
    manifest = json.loads((tmp_path / "out" / "export.json").read_text())
    assert manifest["generators"]["genB2A"]["input"]["shape"] == [-1, 3, 32, 32]
    assert manifest["dynamic"] == ["batch"]
    x = _input((2, 3, 32, 32))
    np.testing.assert_allclose(_run(_predictor(str(tmp_path / "out" / "genB2A")), x),
                               _eager(model.nets["genB2A"], x), rtol=0, atol=1e-4)


def test_config_and_single_net_weights_export_that_generator(tmp_path):
    net = build_generator("resnet_6blocks", ngf=4)
    weights = save_converted(net, str(tmp_path / "g.pdparams"), "resnet_6blocks", {"ngf": 4})
    cfg = tiny_cyclegan_config(tmp_path)
    written = export_model(weights, str(tmp_path / "out"), config=cfg)
    assert list(written) == ["netG_A"]  # the file holds one net: exported as the A->B generator
    x = _input((1, 3, 16, 16))
    np.testing.assert_allclose(_run(_predictor(str(tmp_path / "out" / "netG_A")), x), _eager(net, x),
                               rtol=0, atol=1e-4)
    written = export_model(weights, str(tmp_path / "out_b"), config=cfg, nets=["netG_B"])
    assert list(written) == ["netG_B"]
    with pytest.raises(ConfigError, match="holds no training config.*-c CONFIG"):
        export_model(weights, str(tmp_path / "none"))


def test_config_and_paddlegan_style_multi_net_file(tmp_path, caplog):
    """A .pdparams holding several nets by name (PaddleGAN's layout): each generator gets its own."""
    from ppimg2img.engine.checkpoint import CheckpointError

    paddle.seed(5)
    g_a, g_b = build_generator("resnet_6blocks", ngf=4), build_generator("resnet_6blocks", ngf=4)
    disc = {"weight": np.zeros((4, 3, 4, 4), "float32")}
    path = str(tmp_path / "cyclegan.pdparams")
    paddle.save({"netG_A": g_a.state_dict(), "netG_B": g_b.state_dict(), "netD_A": disc}, path)
    written = export_model(path, str(tmp_path / "out"), config=tiny_cyclegan_config(tmp_path))
    x = _input((1, 3, 16, 20))
    for name, net in (("netG_A", g_a), ("netG_B", g_b)):
        np.testing.assert_allclose(_run(_predictor(written[name][0][:-len(".json")]), x), _eager(net, x),
                                   rtol=0, atol=1e-4)
    paddle.save({"netG_A": g_a.state_dict(), "netD_A": disc}, path)  # no netG_B: the others are exported
    with caplog.at_level("WARNING", logger="ppimg2img"):
        written = export_model(path, str(tmp_path / "out2"), config=tiny_cyclegan_config(tmp_path))
    assert list(written) == ["netG_A"] and "holds no weights for netG_B: exporting netG_A only" in caplog.text
    with pytest.raises(CheckpointError, match=r"no weights for netG_B in the file; it holds: netD_A, netG_A.*--nets"):
        export_model(path, str(tmp_path / "out3"), config=tiny_cyclegan_config(tmp_path), nets=["netG_B"])


# ---------------------------------------------------------------- tools/export_model.py
def _tool_main():
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    try:
        import export_model as tool
    finally:
        sys.path.pop(0)
    return tool.main


def test_cli_exports_a_checkpoint(tmp_path, capsys, monkeypatch):
    ckpt = str(tmp_path / "run.pdckpt")
    _save_checkpoint_like_trainer(ckpt, {"name": "Pix2PixModel", "discriminator": {"name": "basic", "ndf": 4},
                                         "generator": {"name": "unet_128", "ngf": 4}})
    monkeypatch.chdir(tmp_path)
    assert _tool_main()(["--load", ckpt]) == 0  # default folder: output/<run name>/export
    out = os.path.join("output", "tiny", "export")
    assert capsys.readouterr().out.splitlines() == [
        f"netG: {out}/netG.json, {out}/netG.pdiparams", f"manifest: {out}/export.json (how to run: {out}/README.md)"]
    assert sorted(os.listdir(out)) == ["README.md", "export.json", "netG.json", "netG.pdiparams"]


ORIGINAL_FIXTURES = {  # tests/data/README.md: outputs the original PyTorch code gave for _in.npy
    "pix2pix_unet_128_ngf8.pth": ("quickstart_pix2pix.yaml", 8, "netG"),  # BatchNorm, dropout, LeakyReLU
    "ugatit_light_ngf8.pt": ("ugatit_selfie2anime_light.yaml", 8, "genA2B"),  # holds genA2B only
}


@needs_onnx
@pytest.mark.parametrize("fixture", list(ORIGINAL_FIXTURES))
def test_original_pytorch_weights_export_gives_the_original_output(tmp_path, capsys, fixture):
    """The original code's weights, a config and an override through the command line, exported
    to ONNX: onnxruntime and Paddle Inference give what the original PyTorch network gave."""
    config, ngf, net_name = ORIGINAL_FIXTURES[fixture]
    out = tmp_path / "out"
    code = _tool_main()(["-c", os.path.join(ROOT, "configs", config), "--opt", f"model.generator.ngf={ngf}",
                         "--load", os.path.join(DATA, fixture), "-o", str(out), "--onnx"])
    assert code == 0, capsys.readouterr().err
    stem = os.path.splitext(fixture)[0]
    x = np.load(os.path.join(DATA, f"{stem}_in.npy"))
    expected = np.load(os.path.join(DATA, f"{stem}_out.npy"))
    np.testing.assert_allclose(OnnxGenerator(str(out / f"{net_name}.onnx"))(x), expected, rtol=0, atol=1e-4)
    np.testing.assert_allclose(_run(_predictor(str(out / net_name)), x), expected, rtol=0, atol=1e-4)
    manifest = json.loads((out / "export.json").read_text())
    assert list(manifest["generators"]) == [net_name]
    assert manifest["generator"]["ngf"] == ngf and manifest["config"].endswith(config)


def test_cli_errors_and_exit_codes(tmp_path, capsys):
    main = _tool_main()
    assert main([]) == 2  # --load is required
    assert "--load" in capsys.readouterr().err

    missing = str(tmp_path / "nope.pdckpt")
    assert main(["--load", missing]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"error: {missing}: weights file not found (training checkpoints are in <run folder>/" \
                  f"checkpoints/, for example latest.pdckpt)"

    weights = save_converted(build_generator("resnet_6blocks", ngf=4), str(tmp_path / "g.pdparams"),
                             "resnet_6blocks", {"ngf": 4})
    assert main(["--load", weights]) == 2
    err = capsys.readouterr().err
    assert "g.pdparams: holds no training config" in err and "-c CONFIG" in err and len(err.splitlines()) == 1

    typo = tmp_path / "typo.yaml"
    typo.write_text(open(tiny_cyclegan_config(tmp_path)).read().replace("ngf: 4", "ngff: 4"))
    assert main(["-c", str(typo), "--load", weights]) == 2
    err = capsys.readouterr().err
    assert "typo.yaml" in err and "ngff" in err and "ngf" in err.replace("ngff", "")

    (tmp_path / "broken.pdparams").write_bytes(b"not a checkpoint at all")
    assert main(["-c", tiny_cyclegan_config(tmp_path), "--load", str(tmp_path / "broken.pdparams")]) == 1
    assert "broken.pdparams" in capsys.readouterr().err


def test_script_runs_from_a_shell(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "export_model.py"), "--load",
                             str(tmp_path / "missing.pdckpt")], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": ""})
    assert result.returncode == 1
    assert "missing.pdckpt: weights file not found" in result.stderr


def test_missing_onnx_packages_say_how_to_install(tmp_path, monkeypatch):
    export_generator(build_generator("resnet_6blocks", ngf=4), str(tmp_path / "g"))
    monkeypatch.setitem(sys.modules, "paddle2onnx", None)  # import fails as if not installed
    with pytest.raises(ImportError, match="pip install paddle2onnx onnxruntime"):
        export_onnx(str(tmp_path / "g"), str(tmp_path / "g.onnx"))
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    (tmp_path / "g.onnx").write_bytes(b"")
    with pytest.raises(ImportError, match="pip install paddle2onnx onnxruntime"):
        OnnxGenerator(str(tmp_path / "g.onnx"))
