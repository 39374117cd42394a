"""Generation models (issue 18): DCGAN shapes, the objectives' arithmetic, WGAN clipping, the
critic schedule, every shipped generation config end to end, exact resume, the predictor and
`ppimg2img generate`."""
import json
import os

import numpy as np
import paddle
import pytest
import yaml

from ppimg2img.config import load_config
from ppimg2img.engine.trainer import Trainer
from ppimg2img.models import GANModel
from ppimg2img.models.gan import critic_parameters
from ppimg2img.nets import build_discriminator, build_generator
from ppimg2img.nets.dcgan import DCGANDiscriminator, one_hot_maps
from ppimg2img.utils.image_io import load_image

from test_losses import LinearD

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
G_TINY = {"name": "dcgan", "nz": 8, "ngf": 4, "output_nc": 1, "image_size": 28}


def _count(net):
    """Learned parameters (Paddle lists BatchNorm's running statistics among the parameters)."""
    return sum(int(p.numel()) for p in critic_parameters(net))


@pytest.mark.parametrize("size, channels, g_params, d_params", [
    (64, 3, 3_576_704, 2_765_568),  # the paper's 64x64 nets (pytorch/examples dcgan: nz 100, ngf = ndf = 64)
    (32, 3, 1_068_928, 663_296),    # one stride-2 layer fewer at each end
    (28, 1, 759_680, 138_624),      # MNIST: ConvT(100, 128, 7) to 7x7, then 14, 28
])
def test_dcgan_shapes_and_parameter_counts(size, channels, g_params, d_params):
    G = build_generator("dcgan", nz=100, ngf=64, output_nc=channels, image_size=size)
    D = build_discriminator("dcgan", input_nc=channels, ndf=64, image_size=size)
    assert (_count(G), _count(D)) == (g_params, d_params)
    x = G(paddle.randn([2, 100]))
    assert x.shape == [2, channels, size, size] and float(x.abs().max()) <= 1.0
    assert D(x).shape == [2]
    if size == 64:  # the paper's layer list, as pytorch/examples names it (main.N)
        assert [list(G.main[i].weight.shape) for i in (0, 3, 6, 9, 12)] == [
            [100, 512, 4, 4], [512, 256, 4, 4], [256, 128, 4, 4], [128, 64, 4, 4], [64, 3, 4, 4]]
        assert G.main[0].bias is None and not hasattr(D.main[1], "weight")  # no bias; no norm on D's first layer


def test_unsupported_image_size_is_a_clear_error():
    with pytest.raises(ValueError, match=r"image_size 48 is not supported: use 4 \* 2\*\*k"):
        build_generator("dcgan", image_size=48)


def test_label_maps_conditioning_equals_the_concatenated_input():
    D = DCGANDiscriminator(1, 8, 28, "none", n_classes=10, cond_mode="concat")
    x, y = paddle.randn([3, 1, 28, 28]), paddle.to_tensor([0, 3, 9])
    concatenated = D.head(D.main(paddle.concat([x, one_hot_maps(y, 10, 28)], axis=1))).reshape([-1])
    np.testing.assert_allclose(D(x, y).numpy(), concatenated.numpy(), atol=1e-5)  # one conv split in two
    assert not np.allclose(D(x, paddle.to_tensor([1, 3, 9])).numpy()[0], D(x, y).numpy()[0])
    with pytest.raises(ValueError, match="conditional"):
        D(x)


def _model(gan_mode="vanilla", n_classes=0, d_norm="batch", **kw):
    paddle.seed(0)
    m = GANModel({**G_TINY, "n_classes": n_classes}, {"name": "dcgan", "ndf": 4, "norm": d_norm},
                 gan_mode=gan_mode, **kw)
    m.setup_training({"lr": 2e-4, "name": "rmsprop" if gan_mode == "wgan" else "adam"},
                     {"policy": "linear", "n_epochs": 1, "n_epochs_decay": 0})
    return m


def _batch(seed=0, n=4):
    rng = np.random.default_rng(seed)
    return {"image": rng.uniform(-1, 1, (n, 1, 28, 28)).astype("float32"), "label": np.arange(n) % 10}


def test_wgan_critic_stays_clipped_after_every_step():
    m = _model("wgan", clip_value=0.01, n_critic=5)
    stats = {n: p.numpy().copy() for n, p in m.nets["netD"].named_parameters() if n.endswith("._variance")}
    for step in range(7):
        m.set_input(_batch(step))
        losses = m.train_step()
        assert max(float(p.abs().max()) for p in critic_parameters(m.nets["netD"])) <= 0.01 + 1e-9
        assert set(losses) == {"G", "D_real", "D_fake", "W"}
        assert losses["W"] == pytest.approx(-(losses["D_real"] + losses["D_fake"]), abs=1e-6)
    moved = [n for n, p in m.nets["netD"].named_parameters() if n in stats and not np.array_equal(p.numpy(), stats[n])]
    assert moved and all(float(p.abs().max()) > 0.01 for n, p in m.nets["netD"].named_parameters() if n in moved)
    with pytest.raises(ValueError, match="needs clip_value"):
        _model("wgan")


def test_n_critic_counts_critic_steps_and_survives_a_checkpoint():
    m = _model("wgangp", n_critic=3, d_norm="layer")
    changed = []
    for step in range(7):
        before = m.nets["netG"].main[0].weight.numpy().copy()
        m.set_input(_batch(step))
        m.train_step()
        changed.append(not np.array_equal(before, m.nets["netG"].main[0].weight.numpy()))
    assert changed == [False, False, True, False, False, True, False]
    state = m.state_dict()
    other = _model("wgangp", n_critic=3, d_norm="layer")
    other.set_state_dict(state)
    assert other.critic_steps == 7  # the next G step comes after 2 more critic steps, as in m


def test_gradient_penalty_of_the_model_against_a_hand_computed_case():
    m = _model("wgangp", d_norm="none")
    w = np.full((1, 1, 28, 28), 0.05, np.float32)  # |w| = 0.05 * 28 = 1.4
    m.nets["netD"] = LinearD(w)  # s(x) = sum(w * x): the gradient is w at every interpolate
    m.set_input(_batch())
    m.forward()
    losses = m.discriminator_losses()
    # float32 norm of 784 terms, then (|g| - 1)^2 multiplies its relative error by 2 * 1.4 / 0.4 = 7
    assert float(losses["GP"]) == pytest.approx(10.0 * (1.4 - 1.0) ** 2, rel=1e-4)
    real, fake = _batch()["image"], m.fake.numpy()
    assert float(losses["D_real"]) == pytest.approx(-(real * w).sum(axis=(1, 2, 3)).mean(), rel=1e-5)
    assert float(losses["D_fake"]) == pytest.approx((fake * w).sum(axis=(1, 2, 3)).mean(), rel=1e-4, abs=1e-6)


def test_lsgan_losses_follow_the_paper_with_its_targets():
    m = _model("lsgan", lsgan_targets=[-1.0, 1.0, 0.0])
    m.set_input(_batch())
    m.forward()
    losses = m.discriminator_losses()
    s_real, s_fake = m._D(m.real).numpy(), m._D(m.fake).numpy()
    assert float(losses["D_real"]) == pytest.approx(0.5 * ((s_real - 1.0) ** 2).mean(), rel=1e-5)
    assert float(losses["D_fake"]) == pytest.approx(0.5 * ((s_fake + 1.0) ** 2).mean(), rel=1e-5)
    assert float(m.generator_loss()) == pytest.approx(0.5 * (s_fake ** 2).mean(), rel=1e-5)


def _write_config(tmp_path, name, **overrides):
    """A shipped config, shrunk: tiny nets, a few iterations, 64+32 synthetic digits in tmp_path."""
    raw = yaml.safe_load(open(os.path.join(REPO, "configs", name)))
    data = tmp_path / "digits"
    for split in ("train", "test"):
        ds = raw["dataset"][split]
        if ds["name"] == "SyntheticDigitsDataset":
            ds.update(n_train=64, n_test=32)
        else:  # MNIST configs read MNIST-format files: the synthetic ones are
            from ppimg2img.data.digits import ensure_synthetic_digits
            ensure_synthetic_digits(data, n_train=64, n_test=32)
        ds["dataroot"] = str(data)
        ds.pop("num_workers", None)
    raw["model"]["generator"]["ngf"] = raw["model"]["discriminator"]["ndf"] = 4
    raw["train"].update(batch_size=8, num_workers=0, max_iters=4, log_interval=2, visual_interval=2)
    raw["output_dir"] = str(tmp_path / "run")
    raw["eval"] = {"samples": 64}
    raw.update(overrides)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return str(path)


@pytest.fixture
def home(tmp_path_factory, monkeypatch):
    """One classifier cache for the test session (the digit classifier trains once per data set)."""
    folder = tmp_path_factory.getbasetemp() / "ppimg2img_home"
    monkeypatch.setenv("PPIMG2IMG_HOME", str(folder))
    return folder


@pytest.mark.parametrize("name", ["quickstart_dcgan.yaml", "quickstart_cgan.yaml", "quickstart_wgangp.yaml",
                                  "dcgan_mnist.yaml", "lsgan_mnist.yaml", "wgan_mnist.yaml", "wgangp_mnist.yaml",
                                  "cond_dcgan_mnist.yaml"])
def test_every_generation_config_trains_and_evaluates(tmp_path, home, name):
    cfg = load_config(_write_config(tmp_path, name))
    trainer = Trainer(cfg)
    losses = trainer.train(progress=False)
    assert trainer.iter == 4 and all(np.isfinite(v) for v in losses.values())
    metrics = trainer.evaluate(progress=False)
    out = tmp_path / "run" / "eval" / "latest"
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    assert 0.0 <= metrics["class_entropy"] <= np.log(10) + 1e-6
    assert metrics["baselines"]["feature_fid_noise"] > metrics["baselines"]["feature_fid_real"]
    if cfg["model"]["generator"].get("n_classes"):
        assert 0.0 <= metrics["class_accuracy"] <= 1.0
    grid = load_image(str(out / "grid.png"))
    assert grid.ndim == 3 and min(grid.shape[:2]) >= 8 * 28  # 8 columns, 8 rows (one per class: 10)
    assert load_image(str(out / "interpolation.png")).shape[1] > load_image(str(out / "interpolation.png")).shape[0]
    assert "grid.png" in (out / "index.html").read_text()
    if name == "quickstart_cgan.yaml":  # the same fixed noise every evaluation: the same grid (same path twice)
        trainer.evaluate(tag="again", progress=False)
        again = tmp_path / "run" / "eval" / "again"
        assert (again / "grid.png").read_bytes() == (out / "grid.png").read_bytes()
        assert json.loads((again / "metrics.json").read_text()) == metrics


def test_generation_resume_continues_exactly(tmp_path, home):
    """2N iterations == N, --resume, N more: noise, critic step count and optimizers restored."""
    def run(folder, iters, resume=None):
        cfg = load_config(_write_config(tmp_path / folder, "quickstart_wgangp.yaml"),
                          [f"train.max_iters={iters}", "model.n_critic=3", "dataset.test=null"])
        t = Trainer(cfg)
        if resume:
            t.resume(resume)
        t.train(progress=False)
        return t

    for folder in ("full", "half"):
        (tmp_path / folder).mkdir()
    full = run("full", 6)
    half = run("half", 3)
    resumed = run("half", 6, resume=half.latest_path)
    for name in ("netG", "netD"):
        for key, value in full.model.nets[name].state_dict().items():
            np.testing.assert_array_equal(resumed.model.nets[name].state_dict()[key].numpy(), value.numpy(), key)


@pytest.fixture
def checkpoints(tmp_path_factory):
    """A trained (2 iterations) unconditional and conditional generator's checkpoints."""
    folder = tmp_path_factory.mktemp("gan_ckpt")
    out = {}
    for name in ("quickstart_dcgan.yaml", "quickstart_cgan.yaml"):
        sub = folder / name.split(".")[0]
        sub.mkdir()
        t = Trainer(load_config(_write_config(sub, name), ["train.max_iters=2"]))
        t.train(progress=False)
        out[name.split("_")[1].split(".")[0]] = t.latest_path
    return out


def test_predictor_samples_are_deterministic_uint8_images(checkpoints):
    from ppimg2img import GANGeneratorPredictor
    pred = GANGeneratorPredictor(weights=checkpoints["dcgan"])
    a, b, c = pred.generate(5, seed=1), pred.generate(5, seed=1), pred.generate(5, seed=2)
    assert len(a) == 5 and a[0].shape == (28, 28, 3) and a[0].dtype == np.uint8
    assert all(np.array_equal(x, y) for x, y in zip(a, b))  # same path twice: exactly equal
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    with pytest.raises(ValueError, match="not conditional"):
        pred.generate(2, labels=3)
    cond = GANGeneratorPredictor(weights=checkpoints["cgan"])
    threes, cycled = cond.generate(4, seed=0, labels=3), cond.generate(4, seed=0)
    assert np.array_equal(threes[3], cycled[3]) and not np.array_equal(threes[0], cycled[0])
    with pytest.raises(ValueError, match=r"labels must be 0\.\.9"):
        cond.generate(2, labels=10)


def test_generate_command_writes_a_grid_and_one_png_per_sample(checkpoints, tmp_path, capsys):
    from ppimg2img.cli import main
    grid = tmp_path / "grid.png"
    assert main(["generate", "--weights", checkpoints["cgan"], "--n", "20", "--class", "7", "-o", str(grid),
                 "--out-dir", str(tmp_path / "samples"), "--cols", "5"]) == 0
    img = load_image(str(grid))
    assert img.shape == (4 * 30 + 2, 5 * 30 + 2, 3)  # 4 rows of 5 28-px tiles with 2-px gaps
    assert len(os.listdir(tmp_path / "samples")) == 20
    assert load_image(str(tmp_path / "samples" / "sample_0019.png")).shape == (28, 28, 3)
    assert main(["generate", "--weights", checkpoints["dcgan"], "--class", "3", "-o", str(grid)]) == 1
    assert "not conditional" in capsys.readouterr().err
    assert main(["generate", "--weights", str(tmp_path / "nope.pdckpt")]) == 1
    assert "weights file not found" in capsys.readouterr().err


def test_dataset_and_generator_sizes_must_agree():
    m = _model()
    with pytest.raises(ValueError, match=r"images of shape \[1, 32, 32\].*generator makes \[1, 28, 28\]"):
        m.set_input({"image": np.zeros((2, 1, 32, 32), np.float32)})
    with pytest.raises(ValueError, match="built for 28x28 images, got 32x32"):
        m.nets["netD"](paddle.zeros([2, 1, 32, 32]))


@pytest.mark.parametrize("which", ["dcgan", "cgan"])
def test_export_takes_noise_and_labels_with_onnx_parity(checkpoints, tmp_path, which):
    """`ppimg2img export` of a generation run: inputs z (and labels), output the image. The
    exported graph (Paddle Inference, oneDNN) and ONNX (onnxruntime) compute the same function
    in other kernels: within 1e-4 of eager (outputs in [-1, 1]; float32 rounding is ~1e-6)."""
    import onnxruntime as ort
    from ppimg2img import GANGeneratorPredictor
    from ppimg2img.export.model import export_model
    written = export_model(checkpoints[which], str(tmp_path / "export"), onnx=True)
    prefix = str(tmp_path / "export" / "netG")
    manifest = json.loads((tmp_path / "export" / "export.json").read_text())
    inputs = manifest["generators"]["netG"]["inputs"]
    assert sorted(written) == ["netG"] and list(inputs) == (["z", "labels"] if which == "cgan" else ["z"])
    net = GANGeneratorPredictor(weights=checkpoints[which]).net
    z = np.random.default_rng(0).standard_normal((6, net.nz)).astype(np.float32)
    feed = {"z": z}
    if which == "cgan":
        feed["labels"] = np.array([0, 1, 2, 7, 8, 9], np.int64)
    with paddle.no_grad():
        eager = net(*[paddle.to_tensor(v) for v in feed.values()]).numpy()
    onnx_out = ort.InferenceSession(prefix + ".onnx", providers=["CPUExecutionProvider"]).run(None, feed)[0]
    config = paddle.inference.Config(prefix + ".json", prefix + ".pdiparams")
    config.disable_gpu()
    predictor = paddle.inference.create_predictor(config)
    for name in predictor.get_input_names():
        predictor.get_input_handle(name).copy_from_cpu(feed[name])
    predictor.run()
    inference_out = predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()
    assert eager.shape == (6, 1, 28, 28)
    np.testing.assert_allclose(onnx_out, eager, atol=1e-4)
    np.testing.assert_allclose(inference_out, eager, atol=1e-4)
