"""photo2cartoon: hourglass/Soft-AdaLIN generator, W clipping, published key layout, MobileFaceNet
and the face-ID loss, the training step and the shipped config."""
import json
import logging
import os

import numpy as np
import paddle
import pytest

from ppimg2img.config import load_config
from ppimg2img.engine.trainer import Trainer
from ppimg2img.models import MODELS, Photo2CartoonModel
from ppimg2img.nets import build_generator
from ppimg2img.nets.mobilefacenet import MobileFaceNet, face_crop_112, face_id_distance
from ppimg2img.nets.photo2cartoon import ConvBlock, HourGlass, Photo2CartoonGenerator, SoftAdaLIN, WClipper

from test_ugatit import DATA, ROOT, official_keys, rand, tiny_ugatit_config, torch_layout_keys


def test_generator_outputs_and_published_keys():
    g = build_generator("photo2cartoon", ngf=8, img_size=32)
    g.eval()
    out, cam_logit, heatmap = g(rand(2, 3, 32, 32))
    assert out.shape == [2, 3, 32, 32] and cam_logit.shape == [2, 2] and heatmap.shape == [2, 1, 8, 8]
    assert float(out.abs().max()) <= 1.0
    assert torch_layout_keys(Photo2CartoonGenerator(ngf=32, img_size=256, light=True)) == \
        official_keys("photo2cartoon_ngf32_light")


def test_full_generator_mlp_flattens_the_map():
    g = Photo2CartoonGenerator(ngf=4, img_size=32, light=False)
    assert g.FC[0].weight.shape == [8 * 8 * 16, 16]
    with pytest.raises(ValueError, match="light: false"):
        g(rand(1, 3, 64, 64))


def test_conv_block_and_hourglass_layout():
    block = ConvBlock(8, 8)
    x = rand(1, 8, 16, 16)
    x1 = block.ConvBlock1(x)
    x2 = block.ConvBlock2(x1)
    x3 = block.ConvBlock3(x2)
    # equal widths: identity residual, ConvBlock4 unused (but present, as in the original's checkpoints)
    np.testing.assert_allclose(block(x).numpy(), (x + paddle.concat([x1, x2, x3], 1)).numpy(), atol=1e-6)
    wide = ConvBlock(4, 8)
    y = rand(1, 4, 16, 16)
    expected = wide.ConvBlock4(y) + paddle.concat([wide.ConvBlock1(y), wide.ConvBlock2(wide.ConvBlock1(y)),
                                                   wide.ConvBlock3(wide.ConvBlock2(wide.ConvBlock1(y)))], 1)
    np.testing.assert_allclose(wide(y).numpy(), expected.numpy(), atol=1e-6)
    x = rand(1, 8, 32, 32)
    assert HourGlass(8, 8)(x).shape == [1, 8, 32, 32]
    last = HourGlass(8, 8, use_res=False)
    assert last(x).shape == [1, 3, 32, 32] and not hasattr(last, "Conv2")
    with pytest.raises(ValueError, match="multiples of 16"):
        Photo2CartoonGenerator(ngf=4, img_size=32)(rand(1, 3, 40, 40))


def test_soft_adalin_blends_content_and_style():
    norm = SoftAdaLIN(4)
    assert np.allclose(norm.w_gamma.numpy(), 0) and np.allclose(norm.w_beta.numpy(), 0)
    assert np.allclose(norm.norm.rho.numpy(), 0.9)
    x, content, style = rand(2, 4, 6, 6), rand(2, 4, seed=1), rand(2, 4, seed=2)
    only_style = norm.norm(x, norm.s_gamma(style), norm.s_beta(style))
    np.testing.assert_allclose(norm(x, content, style).numpy(), only_style.numpy(), atol=1e-6)
    for p in (norm.w_gamma, norm.w_beta):
        p.set_value(paddle.ones(p.shape))
    only_content = norm.norm(x, norm.c_gamma(content), norm.c_beta(content))
    np.testing.assert_allclose(norm(x, content, style).numpy(), only_content.numpy(), atol=1e-6)


def test_w_clipper_clamps_blend_weights_only():
    g = Photo2CartoonGenerator(ngf=4, img_size=32)
    ws = {n: p for n, p in g.named_parameters() if n.endswith(("w_gamma", "w_beta"))}
    assert len(ws) == 4 * 2 * 2
    for i, p in enumerate(ws.values()):
        p.set_value(paddle.full(p.shape, [-0.3, 1.4, 0.25][i % 3]))
    g.DecodeBlock1.norm1.norm.rho.set_value(paddle.full([1, 16, 1, 1], 2.0))
    WClipper(0, 1)(g)
    assert sorted({float(p.numpy().ravel()[0]) for p in ws.values()}) == pytest.approx([0.0, 0.25, 1.0])
    assert float(g.DecodeBlock1.norm1.norm.rho.max()) == 2.0  # rho is RhoClipper's business


# ---- face identity -----------------------------------------------------------------------

def test_mobilefacenet_keys_equal_insightface():
    with open(os.path.join(DATA, "mobilefacenet_keys.json")) as f:
        torch_keys = {k: tuple(s) for k, s in json.load(f)["mobilefacenet_512"]
                      if not k.endswith("num_batches_tracked")}
    renamed = {k.replace("running_mean", "_mean").replace("running_var", "_variance"): s for k, s in torch_keys.items()}
    assert torch_layout_keys(MobileFaceNet(512)) == renamed


def test_mobilefacenet_embedding_and_face_crop():
    net = MobileFaceNet()
    net.eval()
    e = net(rand(2, 3, 112, 112))
    assert e.shape == [2, 512]
    np.testing.assert_allclose(paddle.linalg.norm(e, axis=1).numpy(), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="112x112"):
        net(rand(1, 3, 96, 96))
    # the original's crop of a 256 image: rows 57..219, a centred 162 px square
    img = paddle.zeros([1, 3, 256, 256])
    img[:, :, 57:219, 47:209] = 1.0
    crop = face_crop_112(img)
    assert crop.shape == [1, 3, 112, 112] and float(crop.min()) == pytest.approx(1.0)
    img[:, :, 56, :] = 5.0
    img[:, :, :, 209] = 5.0
    assert float(face_crop_112(img).max()) == pytest.approx(1.0)  # just outside the crop


def test_face_id_distance():
    net = MobileFaceNet()
    net.eval()
    a, b = rand(2, 3, 64, 64), rand(2, 3, 64, 64, seed=9)
    assert float(face_id_distance(net, a, a)) == pytest.approx(0.0, abs=1e-5)
    d = float(face_id_distance(net, a, b))
    assert 0.0 < d <= 2.0


# ---- the model ---------------------------------------------------------------------------

def _model(**kw):
    g = {"name": "photo2cartoon", "ngf": 4, "img_size": 32, "light": True}
    m = Photo2CartoonModel(g, {"name": "ugatit", "ndf": 4, "n_layers": 5}, n_layers_local=4, **kw)
    m.setup_training({"lr": 1e-4, "weight_decay": 1e-4}, {"policy": "linear", "n_epochs": 1, "n_epochs_decay": 1})
    m.set_input({"A": rand(1, 3, 32, 32, seed=1).numpy(), "B": rand(1, 3, 32, 32, seed=2).numpy()})
    return m


@pytest.fixture
def facenet_file(tmp_path):
    paddle.seed(4)
    path = str(tmp_path / "mobilefacenet.pdparams")
    paddle.save(MobileFaceNet().state_dict(), path)
    return path


def test_faceid_needs_weights_or_zero_weight(tmp_path, caplog):
    with pytest.raises(ValueError, match="faceid_model is not set.*faceid_weight: 0"):
        _model()
    with pytest.raises(FileNotFoundError, match="nowhere.pth not found"):
        _model(faceid_model=str(tmp_path / "nowhere.pth"))
    with caplog.at_level(logging.INFO, logger="ppimg2img"):
        m = _model(faceid_weight=0)
    assert "face-ID loss off" in caplog.text and m.facenet is None
    assert m.extra_generator_losses(m.real_A, m.real_B, "A") == {}


def test_train_step_with_face_id_loss(facenet_file):
    paddle.seed(2)
    m = _model(faceid_model=facenet_file)
    frozen = {k: v.numpy().copy() for k, v in m.facenet.state_dict().items()}
    g_before = [p.numpy().copy() for p in m.nets["genA2B"].parameters()]
    m.nets["genB2A"].DecodeBlock2.norm2.w_gamma.set_value(paddle.full([1, 16], -1.0))
    m.train()
    assert not m.facenet.training
    losses = m.train_step()
    assert {"faceid_A", "faceid_B", "cycle_A", "cam_B", "D_A"} <= set(losses)
    assert all(np.isfinite(v) for v in losses.values()) and 0 < losses["faceid_A"] <= 2
    for k, v in m.facenet.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), frozen[k], err_msg=k)  # frozen: weights and BN statistics
    params = dict(m.nets["genA2B"].named_parameters())
    unchanged = {n for (n, p), b in zip(params.items(), g_before) if np.array_equal(p.numpy(), b)}
    unused = {n for n in params if ".ConvBlock4." in n}  # the unused projections
    assert len(unused) == 4 * 14 and unused <= unchanged
    # anything else unchanged is a rho that the clipper held at its bound: Adam's first step moves it by
    # lr either way, and the sign of its gradient on this tiny model flips with float rounding
    for n in unchanged - unused:
        assert n.endswith(".rho") and set(np.unique(params[n].numpy())) <= {0.0, 1.0}, n
    assert float(m.nets["genB2A"].DecodeBlock2.norm2.w_gamma.min()) == 0.0  # WClipper ran
    # the face-ID loss reaches the generators: it changes the gradient of genA2B
    for n in ("disGA", "disGB", "disLA", "disLB"):
        for p in m.nets[n].parameters():
            p.stop_gradient = True
    grads = []
    for facenet in (m.facenet, None):
        m.facenet = facenet
        m.nets["genA2B"].clear_gradients()
        assert ("faceid_A" in m.backward_generators()) is (facenet is not None)
        grads.append(m.nets["genA2B"].ConvBlock1[1].weight.grad.numpy().copy())
    assert np.abs(grads[0] - grads[1]).max() > 0


def test_shipped_config_is_valid_and_original():
    cfg = load_config(os.path.join(ROOT, "configs", "photo2cartoon.yaml"))
    model = cfg["model"]
    assert model["name"] == "Photo2CartoonModel"
    assert model["generator"] == {"name": "photo2cartoon", "ngf": 32, "img_size": 256, "light": True}
    assert (model["discriminator"]["ndf"], model["discriminator"]["n_layers"], model["n_layers_local"]) == (32, 7, 5)
    weights = (model["adv_weight"], model["cycle_weight"], model["identity_weight"], model["cam_weight"])
    assert weights == (1, 50, 10, 1000)
    assert model["faceid_weight"] == 0 and model["faceid_model"] is None
    assert cfg["dataset"]["train"]["dataroot"].endswith("photo2cartoon")
    assert cfg["optimizer"]["lr"] == 1e-4 and cfg["optimizer"]["weight_decay"] == 1e-4


def test_trainer_runs_photo2cartoon(tmp_path, facenet_file):
    gen = {"name": "photo2cartoon", "ngf": 4, "img_size": 32, "light": True}
    t = Trainer(load_config(tiny_ugatit_config(tmp_path, "Photo2CartoonModel", gen, faceid_model=facenet_file),
                            ["train.max_iters=1"]))
    losses = t.train(progress=False)
    assert "faceid_B" in losses and np.isfinite(losses["faceid_B"])
    assert t.evaluate(progress=False)["BtoA"]["images"] == 2
    assert MODELS["Photo2CartoonModel"] is Photo2CartoonModel


# --- PaddleGAN's predictor output paths (issue 19) ------------------------------------------------
@pytest.fixture(scope="module")
def tiny_cartoon_weights(tmp_path_factory):
    """A photo2cartoon generator with random weights (ngf 4), saved as ppimg2img .pdparams."""
    from ppimg2img.weights import save_converted

    paddle.seed(19)
    kwargs = {"ngf": 4, "img_size": 256, "light": True}
    net = build_generator("photo2cartoon", **kwargs)
    return save_converted(net, str(tmp_path_factory.mktemp("p2c") / "p2c_random_ngf4.pdparams"), "photo2cartoon",
                          kwargs)


def test_predictor_writes_paddlegans_p2c_files_for_one_photo(tmp_path, monkeypatch, tiny_cartoon_weights):
    """``Photo2CartoonPredictor().run(path)`` writes output/p2c_photo.png (the aligned crop, not masked)
    and output/p2c_cartoon.png (the cartoon on white it returns), as ppgan.apps.Photo2CartoonPredictor,
    beside ppimg2img's own files in output_dir."""
    from ppimg2img.faces import FacePipeline
    from ppimg2img.predictors import Photo2CartoonPredictor
    from ppimg2img.utils.image_io import load_image

    portrait = os.path.join(DATA, "portrait_photo2cartoon.jpg")
    monkeypatch.chdir(tmp_path)
    p = Photo2CartoonPredictor(weights=tiny_cartoon_weights, backend="eager", output_dir="mine", progress=False)
    cartoon = p.run(portrait)
    face = FacePipeline(max_faces=1).process(portrait)[0]
    photo_png, cartoon_png = load_image("output/p2c_photo.png"), load_image("output/p2c_cartoon.png")
    assert photo_png.shape == cartoon_png.shape == cartoon.shape == (256, 256, 3)
    assert np.array_equal(photo_png, face.image)  # RGB as PaddleGAN's file (it converts to BGR for cv2)
    assert (photo_png[:8, :8] != 255).any() and (face.mask[:8, :8] < 0.5).all()  # the crop, not masked
    assert np.array_equal(cartoon_png, cartoon)
    assert (cartoon_png[face.mask == 0] == 255).all()  # put back on white through the mask
    # ppimg2img's own outputs are still there, and the summary lists every file
    stem = "portrait_photo2cartoon"
    assert np.array_equal(load_image(f"mine/{stem}_aligned.png"), face.on_white())
    assert np.array_equal(load_image(f"mine/{stem}_cartoon.png"), cartoon)
    assert sorted(map(os.path.basename, p.summary.written)) == sorted(
        [f"{stem}_aligned.png", f"{stem}_cartoon.png", "p2c_photo.png", "p2c_cartoon.png"])

    # an array input too; each run overwrites them (PaddleGAN's fixed names)
    flipped = load_image(portrait)[:, ::-1].copy()
    again = Photo2CartoonPredictor(weights=tiny_cartoon_weights, backend="eager", progress=False).run(flipped)
    assert np.array_equal(load_image("output/p2c_cartoon.png"), again)
    assert not np.array_equal(again, cartoon)


def test_predictor_p2c_files_only_for_single_photos_and_output_path(tmp_path, monkeypatch, tiny_cartoon_weights):
    from ppimg2img.predictors import Photo2CartoonPredictor
    from ppimg2img.utils.image_io import load_image

    portrait = os.path.join(DATA, "portrait_photo2cartoon.jpg")
    monkeypatch.chdir(tmp_path)
    p = Photo2CartoonPredictor(weights=tiny_cartoon_weights, backend="eager", progress=False)
    assert len(p.run([portrait])) == 1  # a list: a batch, whose photos cannot share one file name
    assert not os.path.exists("output")
    off = Photo2CartoonPredictor(weights=tiny_cartoon_weights, backend="eager", output_path=None, progress=False)
    off.run(portrait)
    assert not os.path.exists("output") and off.summary.written == []
    there = Photo2CartoonPredictor(weights=tiny_cartoon_weights, backend="eager", output_path=tmp_path / "course",
                                   progress=False)
    result = there.run(portrait)
    assert sorted(os.listdir(tmp_path / "course")) == ["p2c_cartoon.png", "p2c_photo.png"]
    assert np.array_equal(load_image(str(tmp_path / "course" / "p2c_cartoon.png")), result)
