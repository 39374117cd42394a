"""StyleGAN2's user-facing parts (issue 21): StyleGAN2Predictor (seeds, truncation, style mixing,
interpolation, latent walks), applications/styleganv2.py with the GAN course's flags,
``ppimg2img generate`` on StyleGAN2 files, and a shrunk configs/quickstart_stylegan2.yaml run:
training, exact --resume, and the exported z -> image sampler (Paddle Inference, ONNX) against eager.

The generator is tests/data/stylegan2/paddlegan_s64_cm1.pdparams: PaddleGAN's StyleGANv2Generator
(size 64, channel_multiplier 1, style_dim 64, n_mlp 4, widths / 16; see that folder's README.md).
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import paddle
import pytest
import yaml

from conftest import DATA, ROOT, assert_images_close
from ppimg2img.utils.image_io import load_image, tensor_to_image

imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")

FIXTURE = os.path.join(DATA, "stylegan2", "paddlegan_s64_cm1.pdparams")
SIZE, STYLE_DIM, N_MLP, N_LATENT = 64, 64, 4, 10  # fixtures.json: size 64, style_dim 64, n_mlp 4; 2*log2(64)-2
APP = os.path.join(ROOT, "applications", "styleganv2.py")
MAIN = os.path.join(ROOT, "tools", "main.py")


def grid_shape(rows, cols, side=SIZE):
    """engine.evaluation.generation.tile: ``side``-px cells with 2-px white gaps around and between."""
    return (rows * (side + 2) + 2, cols * (side + 2) + 2, 3)


def cell(grid, r, c, side=SIZE):
    return grid[2 + r * (side + 2):2 + r * (side + 2) + side, 2 + c * (side + 2):2 + c * (side + 2) + side]


def decode(path):
    """(meta, frames) of a video file (as tests/test_video.py)."""
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    return meta, [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in reader]


def run(cmd, cwd, env=None):
    return subprocess.run([sys.executable, *cmd], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def pred():
    from ppimg2img.predictors.stylegan2 import StyleGAN2Predictor
    return StyleGAN2Predictor(weights=FIXTURE, device="cpu", batch_size=4)


# --- StyleGAN2Predictor ------------------------------------------------------------------------
def test_predictor_reads_the_fixture_dims(pred):
    assert (pred.size, pred.style_dim, pred.net.n_mlp, pred.n_latent) == (SIZE, STYLE_DIM, N_MLP, N_LATENT)


def test_seeds_are_deterministic_and_name_numpy_z(pred):
    seeds = [0, 7, 233]
    a, b = pred.generate(seeds), pred.generate(seeds)
    assert len(a) == 3 and all(x.shape == (SIZE, SIZE, 3) and x.dtype == np.uint8 for x in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))  # the same path twice: exactly equal
    assert not np.array_equal(a[0], a[1])
    # seed s -> z = RandomState(s).randn(style_dim) (NVlabs' generate.py), run through G(z) directly
    z = np.stack([np.random.RandomState(s).randn(STYLE_DIM) for s in seeds]).astype(np.float32)
    with paddle.no_grad():
        direct = pred.net(paddle.to_tensor(z), noise_mode="const").numpy()
    assert direct.shape == (3, 3, SIZE, SIZE)
    for got, want in zip(a, direct):
        np.testing.assert_array_equal(got, tensor_to_image(want))
    # a single seed (int) is one image, the same as in a batch up to float rounding: the mapping
    # network's matmul takes another kernel for one row than for three (w differs by ~1e-6)
    assert_images_close(pred.generate(7)[0], a[1], what="seed 7 alone vs in a batch")


def test_truncation_zero_gives_the_centre_image_for_every_seed(pred):
    images = pred.generate([1, 2, 3, 4, 5], truncation=0.0)
    with paddle.no_grad():
        centre = pred.net([pred.net.truncation_center()], input_is_latent=True, noise_mode="const").numpy()[0]
    for img in images:
        np.testing.assert_array_equal(img, tensor_to_image(centre))
    half = pred.generate([1, 2], truncation=0.5)
    assert not np.array_equal(half[0], half[1]) and not np.array_equal(half[0], images[0])


def test_style_mix_grid(pred):
    rows, cols = [11, 12], [21, 22, 23]
    grid = pred.style_mix(rows, cols, layers=range(0, 4))
    assert grid.shape == grid_shape(len(rows) + 1, len(cols) + 1) and grid.dtype == np.uint8
    assert (cell(grid, 0, 0) == 255).all()  # top-left: blank (white)
    top, left = pred.generate(cols), pred.generate(rows)
    for c in range(len(cols)):
        np.testing.assert_array_equal(cell(grid, 0, c + 1), top[c])
    for r in range(len(rows)):
        np.testing.assert_array_equal(cell(grid, r + 1, 0), left[r])
        for c in range(len(cols)):  # coarse styles from the column, the rest from the row: neither image
            mixed = cell(grid, r + 1, c + 1)
            assert not np.array_equal(mixed, top[c]) and not np.array_equal(mixed, left[r])
    # the gaps stay white
    assert (grid[:2] == 255).all() and (grid[:, :2] == 255).all() and (grid[SIZE + 2:SIZE + 4] == 255).all()
    # every layer from the column: each cell is its column's image
    everything = pred.style_mix(rows, cols, layers=range(N_LATENT))
    for r in range(len(rows)):
        for c in range(len(cols)):
            np.testing.assert_array_equal(cell(everything, r + 1, c + 1), top[c])


@pytest.mark.parametrize("layers", [[], [N_LATENT], [-1, 2]])
def test_style_mix_layers_out_of_range(pred, layers):
    with pytest.raises(ValueError, match=rf"layers must be in 0\.\.{N_LATENT - 1}"):
        pred.style_mix([1], [2], layers=layers)


def test_interpolate_endpoints(pred):
    """t = 0 and 1 give the seeds' w exactly; the images are computed in other batches than
    generate([a])'s (one image), which moves float32 results by ~1e-6: one grey level at most."""
    frames = pred.interpolate(3, 8, steps=5, truncation=0.7)
    assert len(frames) == 5
    assert_images_close(frames[0], pred.generate([3], truncation=0.7)[0], what="t=0 vs seed 3")
    assert_images_close(frames[-1], pred.generate([8], truncation=0.7)[0], what="t=1 vs seed 8")
    again = pred.interpolate(3, 8, steps=5, truncation=0.7)  # the same path twice: exactly equal
    assert all(np.array_equal(x, y) for x, y in zip(frames, again))
    assert not np.array_equal(frames[2], frames[0]) and not np.array_equal(frames[2], frames[-1])
    with pytest.raises(ValueError, match="steps must be at least 2"):
        pred.interpolate(3, 8, steps=1)


def test_latent_walk_writes_a_decodable_video(pred, tmp_path):
    path = str(tmp_path / "walk.mp4")
    seeds, steps = [1, 2, 3], 4
    assert pred.latent_walk(path, seeds=seeds, steps=steps, fps=10) == path
    meta, frames = decode(path)
    assert len(frames) == (len(seeds) - 1) * steps + 1  # `steps` per leg, then the last seed
    assert tuple(meta["size"]) == (SIZE, SIZE) and meta["fps"] == pytest.approx(10)
    # lossy H.264: the first and last frames are the seeds' images up to compression
    for frame, seed in ((frames[0], 1), (frames[-1], 3)):
        err = np.abs(frame.astype(np.int64) - pred.generate([seed])[0].astype(np.int64)).mean()
        assert err < 12, err
    assert not os.path.exists(path + ".part.mp4")
    with pytest.raises(ValueError, match="at least two seeds"):
        pred.latent_walk(str(tmp_path / "one.mp4"), seeds=[1])


def test_predictor_bad_files(tmp_path):
    from ppimg2img.predictors.stylegan2 import StyleGAN2Predictor
    cyclegan = os.path.join(DATA, "cyclegan_resnet_6blocks_ngf8.pth")  # a generator, but not StyleGAN2's
    with pytest.raises(ValueError, match=r"cyclegan_resnet_6blocks_ngf8\.pth: holds a \w+, not a StyleGAN2 "
                                         r"generator"):
        StyleGAN2Predictor(weights=cyclegan, device="cpu")
    missing = str(tmp_path / "nope.pt")
    with pytest.raises(FileNotFoundError, match=r"weights file not found: .*nope\.pt"):
        StyleGAN2Predictor(weights=missing)
    with pytest.raises(ValueError, match="not both"):
        StyleGAN2Predictor(model="x", weights=FIXTURE)
    with pytest.raises(ValueError, match="noise_mode must be one of"):
        StyleGAN2Predictor(weights=FIXTURE, noise_mode="sometimes")


def test_predictor_discriminator_file_is_a_clear_value_error():
    from ppimg2img.predictors.stylegan2 import StyleGAN2Predictor
    with pytest.raises(ValueError, match=r"paddlegan_s64_cm1_d\.pdparams: not a StyleGAN2 generator"):
        StyleGAN2Predictor(weights=os.path.join(DATA, "stylegan2", "paddlegan_s64_cm1_d.pdparams"), device="cpu")


# --- applications/styleganv2.py (the course's command) --------------------------------------------
COURSE = ["--seed", "233", "--size", str(SIZE), "--style_dim", str(STYLE_DIM), "--n_mlp", str(N_MLP),
          "--channel_multiplier", "1", "--n_row", "2", "--n_col", "3", "--cpu"]  # the fixture's (widths / 16)


def _app(out, *extra):
    return [APP, "--output_path", str(out), "--weight_path", FIXTURE, *extra]


def _start(cmd, cwd):
    return subprocess.Popen([sys.executable, *cmd], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_styleganv2_app(tmp_path):
    """The course's flags; two runs with --seed 233 at once (separate processes), and the errors."""
    procs = {"a": _start(_app(tmp_path / "a", *COURSE), tmp_path),
             "b": _start(_app(tmp_path / "b", *COURSE), tmp_path),
             "size": _start(_app(tmp_path / "c", *COURSE[:2], "--size", "128", "--cpu"), tmp_path),
             "usage": _start([APP, "--output_path", str(tmp_path / "d"), "--cpu"], tmp_path),
             "random": _start(_app(tmp_path / "e", *COURSE[2:]), tmp_path)}  # no --seed
    done = {k: (p.wait(timeout=600), *p.communicate()) for k, p in procs.items()}
    rc, out, err = done["a"]
    assert rc == 0, err
    shapes = {"sample.png": grid_shape(2, 3), "sample_mixing_0.png": grid_shape(3, 4),
              "sample_mixing_1.png": grid_shape(3, 4)}
    for name, shape in shapes.items():
        assert name in out
        img = load_image(str(tmp_path / "a" / name))
        assert img.shape == shape and img.dtype == np.uint8, name
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    sample = load_image(str(tmp_path / "a" / "sample.png"))
    assert len({cell(sample, r, c).tobytes() for r in range(2) for c in range(3)}) == 6  # six different faces
    mixing = [load_image(str(tmp_path / "a" / f"sample_mixing_{j}.png")) for j in range(2)]
    assert (cell(mixing[0], 0, 0) == 0).all()  # PaddleGAN's blank cell: -1 -> black
    assert not np.array_equal(mixing[0], mixing[1])  # two draws
    rc, out, err = done["random"]  # without --seed: random latents and noise, other images
    assert rc == 0, err
    assert load_image(str(tmp_path / "e" / "sample.png")).shape == grid_shape(2, 3)
    assert (tmp_path / "e" / "sample.png").read_bytes() != (tmp_path / "a" / "sample.png").read_bytes()
    rc, out, err = done["size"]
    assert rc == 1 and "--size 128 (the file has 64)" in err, err
    assert not (tmp_path / "c").exists()
    rc, out, err = done["usage"]
    assert rc == 2 and "--weight_path" in err and "--model_type" in err, err


# --- ppimg2img generate ----------------------------------------------------------------------------
def test_generate_command_with_a_stylegan2_file(tmp_path, capsys):
    from ppimg2img.cli import main
    from ppimg2img.predictors.stylegan2 import StyleGAN2Predictor
    grid, video = tmp_path / "grid.png", str(tmp_path / "walk.mp4")
    assert main(["generate", "--weights", FIXTURE, "--n", "3", "--seed", "5", "--cols", "2", "--truncation", "0.7",
                 "-o", str(grid), "--out-dir", str(tmp_path / "each"), "--video", video, "--device", "cpu"]) == 0
    img = load_image(str(grid))
    assert img.shape == grid_shape(2, 2)
    expected = StyleGAN2Predictor(weights=FIXTURE, device="cpu").generate([5, 6, 7], truncation=0.7)
    for i, want in enumerate(expected):  # image i: seed seed + i
        np.testing.assert_array_equal(cell(img, *divmod(i, 2)), want)
        np.testing.assert_array_equal(load_image(str(tmp_path / "each" / f"sample_{i:04d}.png")), want)
    meta, frames = decode(video)
    assert len(frames) == 3 * 24 + 1 and tuple(meta["size"]) == (SIZE, SIZE)  # seeds 5, 6, 7, 5: 24 per leg
    capsys.readouterr()
    assert main(["generate", "--weights", FIXTURE, "--class", "3", "-o", str(tmp_path / "x.png")]) == 1
    assert "unconditional" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


@pytest.fixture(scope="module")
def dcgan_checkpoint(tmp_path_factory):
    """A DCGAN run of one iteration (quickstart_dcgan.yaml with ngf/ndf 4 on 16 synthetic digits)."""
    from ppimg2img.config import load_config
    from ppimg2img.engine.trainer import Trainer
    folder = tmp_path_factory.mktemp("dcgan")
    raw = yaml.safe_load(open(os.path.join(ROOT, "configs", "quickstart_dcgan.yaml")))
    raw["dataset"]["train"].update(dataroot=str(folder / "digits"), n_train=16, n_test=8)
    raw["dataset"]["test"] = None
    raw["model"]["generator"]["ngf"] = raw["model"]["discriminator"]["ndf"] = 4
    raw["train"].update(batch_size=8, num_workers=0, max_iters=1)
    raw["output_dir"] = str(folder / "run")
    (folder / "c.yaml").write_text(yaml.safe_dump(raw))
    trainer = Trainer(load_config(str(folder / "c.yaml")))
    trainer.train(progress=False)
    return trainer.latest_path


def test_generate_stylegan2_flags_with_a_dcgan_checkpoint(dcgan_checkpoint, tmp_path, capsys):
    from ppimg2img.cli import main
    for flags in (["--truncation", "0.7"], ["--video", str(tmp_path / "v.mp4")]):
        assert main(["generate", "--weights", dcgan_checkpoint, *flags, "-o", str(tmp_path / "g.png")]) == 1
        assert "--truncation are for StyleGAN2 generators" in capsys.readouterr().err
    assert not (tmp_path / "g.png").exists() and not (tmp_path / "v.mp4").exists()
    assert main(["generate", "--weights", dcgan_checkpoint, "--n", "2", "--cols", "2",
                 "-o", str(tmp_path / "g.png")]) == 0
    assert load_image(str(tmp_path / "g.png")).shape == (30 + 2, 2 * 30 + 2, 3)  # two 28-px digits


# --- configs/quickstart_stylegan2.yaml shrunk: training, exact resume, export ---------------------------
QUICKSTART = os.path.join(ROOT, "configs", "quickstart_stylegan2.yaml")
TRAIN_SIZE = 16


def _overrides(digits):
    """16 px, widths / 64, style_dim 16, 2 mapping layers, 32 digits in batches of 8, R1 and path length
    every 2nd step (both regularisers run within the 4 iterations of an epoch), 2 epochs."""
    return ["model.generator.size=16", "model.generator.style_dim=16", "model.generator.n_mlp=2",
            "model.generator.channel_divisor=64", "model.discriminator.channel_divisor=64",
            "model.d_reg_every=2", "model.g_reg_every=2",
            *[f"dataset.{s}.{k}={v}" for s in ("train", "test")
              for k, v in (("image_size", 16), ("dataroot", digits), ("n_train", 32), ("n_test", 16))],
            "dataset.train.max_dataset_size=32", "train.batch_size=8", "lr_scheduler.n_epochs=2"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An uninterrupted 2-epoch run (with the evaluation at its end), then the same run resumed from
    its epoch-1 checkpoint in another folder: tools/main.py in subprocesses, one thread each."""
    folder = tmp_path_factory.mktemp("stylegan2_run")
    env = {"PPIMG2IMG_HOME": str(folder / "home")}  # the digit classifier's cache
    opts = _overrides(str(folder / "digits"))
    common = [MAIN, "-c", QUICKSTART, "--threads", "1", "--no-progress", "--device", "cpu"]
    full = run([*common, "--output-dir", str(folder / "full"), "-o", *opts], folder, env)
    assert full.returncode == 0, full.stderr[-3000:]
    resumed = run([*common, "--output-dir", str(folder / "resumed"), "--resume",
                   str(folder / "full" / "checkpoints" / "epoch_001.pdckpt"), "-o", *opts, "train.eval_at_end=false"],
                  folder, env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return folder


def test_quickstart_trains_and_evaluates(runs):
    from ppimg2img.weights.reader import read_checkpoint
    ckpt = read_checkpoint(str(runs / "full" / "checkpoints" / "latest.pdckpt"))
    assert (runs / "full" / "checkpoints" / "epoch_001.pdckpt").is_file()
    assert sorted(ckpt["nets"]) == ["netD", "netG", "netG_ema"] and ckpt["iter"] == 8
    assert ckpt["extra"]["steps"] == 8 and np.isfinite(ckpt["extra"]["mean_path_length"])
    assert ckpt["extra"]["mean_path_length"] > 0  # path-length regularisation ran (every 2nd G step)
    g = ckpt["config"]["model"]["generator"]
    assert (g["size"], g["style_dim"], g["n_mlp"], g["channel_divisor"]) == (16, 16, 2, 64)
    assert ckpt["nets"]["netG"]["style.1.weight"].shape[0] == 16
    # eval grid: 64 samples, 8 per row, 16-px cells with 2-px gaps, upscaled (nearest) x2 to >= 384 px
    grid = load_image(str(runs / "full" / "eval" / "latest" / "grid.png"))
    assert grid.shape == tuple(2 * np.array(grid_shape(8, 8, TRAIN_SIZE)[:2])) + (3,)
    assert grid.std() > 1  # not a constant image
    metrics = json.loads((runs / "full" / "eval" / "latest" / "metrics.json").read_text())
    assert metrics["samples"] == 64 and 0.0 <= metrics["class_entropy"] <= np.log(10) + 1e-6


def test_resume_from_epoch_1_equals_the_uninterrupted_run(runs):
    from ppimg2img.weights.reader import read_checkpoint
    full = read_checkpoint(str(runs / "full" / "checkpoints" / "latest.pdckpt"))
    resumed = read_checkpoint(str(runs / "resumed" / "checkpoints" / "latest.pdckpt"))
    assert resumed["iter"] == full["iter"] == 8
    for net in ("netG", "netG_ema", "netD"):
        assert sorted(resumed["nets"][net]) == sorted(full["nets"][net])
        for key, value in full["nets"][net].items():
            np.testing.assert_array_equal(resumed["nets"][net][key], value, f"{net}.{key}")
    for name in ("G", "D"):  # Adam moments too
        for key, value in full["optimizers"][name].items():
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(resumed["optimizers"][name][key], value, f"{name} {key}")
    assert resumed["extra"] == full["extra"]  # step count, path-length running mean, last penalties


@pytest.fixture(scope="module")
def exported(runs):
    """`ppimg2img export --load CKPT --onnx --truncation 0.7` of the 2-epoch run, and the eager
    TruncatedSampler(G_ema, 0.7) outputs for 5 z."""
    from ppimg2img.cli import main
    from ppimg2img.nets.stylegan2 import TruncatedSampler
    from ppimg2img.weights import load_generator
    from ppimg2img.weights.reader import read_checkpoint
    ckpt = str(runs / "full" / "checkpoints" / "latest.pdckpt")
    out = runs / "export"
    assert main(["export", "--load", ckpt, "--onnx", "--truncation", "0.7", "-o", str(out)]) == 0
    G = load_generator(ckpt)  # the EMA generator
    for key, value in read_checkpoint(ckpt)["nets"]["netG_ema"].items():
        np.testing.assert_array_equal(G.state_dict()[key].numpy(), value, key)
    G.eval()
    z = np.random.RandomState(0).randn(5, 16).astype(np.float32)
    with paddle.no_grad():
        eager = TruncatedSampler(G, 0.7)(paddle.to_tensor(z)).numpy()
        untruncated = G(paddle.to_tensor(z), noise_mode="const").numpy()
    assert eager.shape == (5, 3, 16, 16) and np.abs(eager - untruncated).max() > 1e-2  # truncation matters
    return out, z, eager


# Paddle Inference (oneDNN) and onnxruntime against the eager TruncatedSampler(G_ema, 0.7): other
# kernels, and the export unfuses the modulated convolutions, so float32 rounding (~1e-6 on outputs
# of order 1) differs: within 1e-4 (as tests/test_gan.py's export parity).
def test_export_manifest_records_the_truncation(exported):
    out, _, _ = exported
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["truncation"] == 0.7 and manifest["noise"] == "const" and manifest["model"] == "StyleGAN2Model"
    entry = manifest["generators"]["netG"]
    assert entry["inputs"]["z"]["shape"] == [-1, 16] and entry["output"]["shape"] == [-1, 3, 16, 16]
    assert (out / entry["paddle"]["model_file"]).is_file() and (out / entry["onnx"]["file"]).is_file()


def test_export_paddle_inference_matches_eager(exported):
    out, z, eager = exported
    config = paddle.inference.Config(str(out / "netG.json"), str(out / "netG.pdiparams"))
    config.disable_gpu()
    predictor = paddle.inference.create_predictor(config)
    predictor.get_input_handle(predictor.get_input_names()[0]).copy_from_cpu(z)
    predictor.run()
    inference_out = predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()
    print(f"max |inference - eager| {np.abs(inference_out - eager).max():.2e}")
    np.testing.assert_allclose(inference_out, eager, atol=1e-4, rtol=0)


def test_export_onnx_matches_eager(exported):
    import onnxruntime as ort
    out, z, eager = exported
    session = ort.InferenceSession(str(out / "netG.onnx"), providers=["CPUExecutionProvider"])
    for n in (1, 5):
        onnx_out = session.run(None, {"z": z[:n]})[0]
        print(f"batch {n}: max |onnx - eager| {np.abs(onnx_out - eager[:n]).max():.2e}")
        np.testing.assert_allclose(onnx_out, eager[:n], atol=1e-4, rtol=0)


# --- the model zoo: a StyleGAN2 release downloaded from 127.0.0.1, converted and cached ------------
@pytest.mark.parametrize("name, served, fixture", [
    ("paddlegan/stylegan2_ffhq_config_f", "stylegan2-ffhq-config-f.pdparams", "paddlegan_s64_cm1"),
    ("rosinality/stylegan2_ffhq_config_f", "stylegan2-ffhq-config-f.pt", "rosinality_s64_cm2"),
])
def test_zoo_release_downloads_converts_and_reproduces(name, served, fixture, tmp_path, monkeypatch):
    """A zoo entry pointed at a publisher-written fixture served over HTTP: the first predictor
    downloads and converts it (PaddleGAN's [in, out] linears transposed; rosinality's g_ema and
    latent_avg), the second reads the converted cache; both give the publisher's stored outputs."""
    import dataclasses

    from http_fixture import serve_folder
    from ppimg2img.predictors.stylegan2 import StyleGAN2Predictor
    from ppimg2img.weights import load_generator, zoo

    monkeypatch.setenv("PPIMG2IMG_HOME", str(tmp_path / "cache"))
    root = tmp_path / "served"
    root.mkdir()
    ext = os.path.splitext(served)[1]
    shutil.copy(os.path.join(DATA, "stylegan2", fixture + ext), root / served)
    io = np.load(os.path.join(DATA, "stylegan2", fixture + "_io.npz"))
    with serve_folder(root) as server:
        # the entry describes the served file, as the real entries describe the real releases
        described = load_generator(os.path.join(DATA, "stylegan2", fixture + ext)).ppimg2img_arch[1]
        entry = dataclasses.replace(zoo.MODEL_ZOO[name], url=server.url + "/" + served, arch_kwargs=described)
        monkeypatch.setitem(zoo.MODEL_ZOO, name, entry)
        outputs = []
        for _ in range(2):
            G = StyleGAN2Predictor(model=name, device="cpu").net
            with paddle.no_grad():
                outputs.append(G(paddle.to_tensor(io["z"])).numpy())
        assert len(server.log) == 1  # downloaded once; the second load reads the converted cache
    assert os.path.isfile(zoo.converted_path(name))
    for out in outputs:
        assert np.abs(out - io["out_const"]).max() <= 1e-4
    assert G.has_latent_avg() == (name.startswith("rosinality"))  # convert_weight.py files store latent_avg
