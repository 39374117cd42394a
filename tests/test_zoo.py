"""The model zoo: the registry's facts, names, cache paths, and fetching against a real HTTP
server on 127.0.0.1 (download + convert + cache hit, resume, checksum, server errors, offline)."""
import dataclasses
import hashlib
import inspect
import json
import os
import re
import shutil

import numpy as np
import paddle
import pytest

from ppimg2img.nets import GENERATORS, build_generator
from ppimg2img.utils import download as download_module
from ppimg2img.utils.download import ChecksumError, DownloadError
from ppimg2img.weights import load_generator, zoo

from conftest import DATA
from http_fixture import closed_port_url, serve_folder

FIXTURE = os.path.join(DATA, "cyclegan_resnet_6blocks_ngf8.pth")  # original CycleGAN state_dict, ngf 8
FIXTURE_BYTES = open(FIXTURE, "rb").read()
FIXTURE_SHA = hashlib.sha256(FIXTURE_BYTES).hexdigest()
TINY_ARCH = {"arch": "resnet_6blocks", "arch_kwargs": {"ngf": 8, "norm": "instance", "use_dropout": False}}

# the model lists of the original download scripts
CYCLEGAN_SCRIPT = ("apple2orange, orange2apple, summer2winter_yosemite, winter2summer_yosemite, horse2zebra, "
                   "zebra2horse, monet2photo, style_monet, style_cezanne, style_ukiyoe, style_vangogh, sat2map, "
                   "map2sat, cityscapes_photo2label, cityscapes_label2photo, facades_photo2label, "
                   "facades_label2photo, iphone2dslr_flower").split(", ")
PIX2PIX_SCRIPT = ["edges2shoes", "sat2map", "map2sat", "facades_label2photo", "day2night"]


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    home = tmp_path / "cache"
    monkeypatch.setenv("PPIMG2IMG_HOME", str(home))
    return home


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    shutil.copy(FIXTURE, root / "horse2zebra.pth")
    with serve_folder(root) as srv:
        yield srv


@pytest.fixture
def tiny_entry(server, monkeypatch):
    """cyclegan/horse2zebra pointing at the local server and at the ngf-8 fixture's architecture."""
    entry = dataclasses.replace(zoo.MODEL_ZOO["cyclegan/horse2zebra"], url=server.url + "/horse2zebra.pth", **TINY_ARCH)
    monkeypatch.setitem(zoo.MODEL_ZOO, entry.name, entry)
    return entry


def _no_sleep(monkeypatch):
    monkeypatch.setattr(download_module.time, "sleep", lambda seconds: None)


# --- the registry ---------------------------------------------------------------------------------

def test_original_releases_are_all_there_with_their_urls():
    cyclegan = [n.split("/")[1] for n in zoo.list_models("cyclegan") if n.startswith("cyclegan/")]
    pix2pix = [n.split("/")[1] for n in zoo.list_models("pix2pix") if n.startswith("pix2pix/")]
    assert sorted(cyclegan) == sorted(CYCLEGAN_SCRIPT) and len(cyclegan) == 18
    assert sorted(pix2pix) == sorted(PIX2PIX_SCRIPT)
    for name in CYCLEGAN_SCRIPT:
        entry = zoo.MODEL_ZOO["cyclegan/" + name]
        assert entry.url == f"http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/{name}.pth"
        assert (entry.arch, entry.arch_kwargs["ngf"], entry.arch_kwargs["norm"]) == ("resnet_9blocks", 64, "instance")
        assert entry.key is None and entry.source == "original" and "BSD" in entry.licence
    for name in PIX2PIX_SCRIPT:
        entry = zoo.MODEL_ZOO["pix2pix/" + name]
        assert entry.url == f"http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch/{name}.pth"
        assert (entry.arch, entry.arch_kwargs["ngf"], entry.arch_kwargs["norm"]) == ("unet_256", 64, "batch")
    assert "non-commercial" in zoo.MODEL_ZOO["cyclegan/cityscapes_label2photo"].licence


def test_paddlegan_and_photo2cartoon_entries():
    pg = {n: zoo.MODEL_ZOO[n] for n in zoo.MODEL_ZOO if n.startswith("paddlegan/")}
    assert {e.family for e in pg.values()} == {"cyclegan", "pix2pix", "ugatit", "photo2cartoon", "stylegan2"}
    for entry in pg.values():
        assert re.fullmatch(r"https://paddlegan\.bj\.bcebos\.com/models/[\w-]+\.pdparams", entry.url), entry.url
        assert entry.filename == entry.url.rsplit("/", 1)[1] and "Apache-2.0" in entry.licence
    # both directions of one PaddleGAN CycleGAN file: same download, different nets
    a2b, b2a = pg["paddlegan/cyclegan_horse2zebra"], pg["paddlegan/cyclegan_zebra2horse"]
    assert a2b.url == b2a.url and (a2b.key, b2a.key) == ("netG_A", "netG_B")
    assert zoo.weights_path(a2b.name) == zoo.weights_path(b2a.name)
    assert zoo.converted_path(a2b.name) != zoo.converted_path(b2a.name)
    assert pg["paddlegan/pix2pix_facades_label2photo"].key == "netG"
    assert pg["paddlegan/ugatit_selfie2anime_light"].key == "genA2B"
    assert pg["paddlegan/photo2cartoon"].key is None  # a plain state dict of genA2B
    for name in ("paddlegan/stylegan2_ffhq_config_f", "paddlegan/stylegan2_animeface_512",
                 "rosinality/stylegan2_ffhq_config_f"):  # NVIDIA's weights: non-commercial, said in the entry
        assert "non-commercial" in zoo.MODEL_ZOO[name].licence and zoo.MODEL_ZOO[name].arch == "stylegan2"
    original = zoo.MODEL_ZOO["minivision/photo2cartoon"]
    assert original.url is None and original.key == "genA2B" and original.filename == "photo2cartoon_weights.pt"
    assert "drive.google.com" in original.description and "github.com/minivision-ai/photo2cartoon" in original.page
    assert original.arch_kwargs == {"ngf": 32, "img_size": 256, "light": True}


def test_every_entry_is_complete():
    for name, entry in zoo.MODEL_ZOO.items():
        assert entry.name == name and entry.family in zoo.FAMILIES and entry.source in ("original", "paddlegan")
        assert entry.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", entry.sha256)
        assert entry.direction.count(" -> ") == 1 and entry.licence and entry.description and entry.page
        assert entry.url is not None or entry.page  # manual downloads say where to go
        assert re.fullmatch(r"[a-z0-9]+/[a-z0-9_]+", name), name
        if entry.arch in GENERATORS:  # the keyword arguments are ones the network accepts
            inspect.signature(GENERATORS[entry.arch]).bind(**entry.arch_kwargs)


def _torch_to_paddle_shapes(keys):
    """Published checkpoint keys -> the shapes Paddle stores (BatchNorm stats renamed, Linear
    weights [out, in] -> [in, out]; the 2-D ``.weight`` entries are the Linear layers)."""
    out = {}
    for key, shape in keys:
        if key.endswith("num_batches_tracked"):
            continue
        key = key.replace("running_mean", "_mean").replace("running_var", "_variance")
        out[key] = tuple(shape[::-1]) if key.endswith(".weight") and len(shape) == 2 else tuple(shape)
    return out


@pytest.mark.parametrize("name, published", [("cyclegan/horse2zebra", "cyclegan_resnet_9blocks_ngf64"),
                                             ("pix2pix/facades_label2photo", "pix2pix_unet_256_ngf64_batchnorm"),
                                             ("paddlegan/ugatit_selfie2anime_light", "ugatit_light_ngf64_nblocks4"),
                                             ("minivision/photo2cartoon", "photo2cartoon_ngf32_light")])
def test_registered_architecture_matches_the_published_checkpoint(name, published):
    """The arch and kwargs of an entry build a network with exactly the published file's keys and shapes."""
    keys = json.load(open(os.path.join(DATA, "official_checkpoint_keys.json")))[published]
    entry = zoo.get_entry(name)
    if entry.arch not in GENERATORS:
        pytest.skip(f"generator {entry.arch!r} not registered in ppimg2img.nets yet")
    net = build_generator(entry.arch, **entry.arch_kwargs)
    got = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert got == _torch_to_paddle_shapes(keys)


# --- names ----------------------------------------------------------------------------------------

def test_names_bare_ambiguous_and_typos():
    assert zoo.resolve_name("horse2zebra") == "cyclegan/horse2zebra"
    assert zoo.get_entry("edges2shoes").name == "pix2pix/edges2shoes"
    assert zoo.get_entry("pix2pix/sat2map").arch == "unet_256"
    with pytest.raises(zoo.UnknownModelError, match="ambiguous: write one of cyclegan/sat2map, pix2pix/sat2map"):
        zoo.get_entry("sat2map")
    with pytest.raises(ValueError, match=r"Unknown model 'hrse2zebra'\. Did you mean 'cyclegan/horse2zebra'\?"):
        zoo.get_entry("hrse2zebra")
    with pytest.raises(ValueError, match="Did you mean 'pix2pix/day2night'") as info:
        zoo.get_entry("pix2pix/day2nite")
    assert "ppimg2img models" in str(info.value)
    with pytest.raises(ValueError, match="Unknown model family 'gan'"):
        zoo.list_models("gan")
    assert len(zoo.list_models()) == len(zoo.MODEL_ZOO) and len(zoo.list_models("ugatit")) >= 1


def test_cache_paths_follow_ppimg2img_home(cache_home, monkeypatch):
    assert zoo.weights_path("horse2zebra") == str(cache_home / "models" / "cyclegan" / "horse2zebra.pth")
    assert zoo.weights_path("pix2pix/sat2map") == str(cache_home / "models" / "pix2pix" / "sat2map.pth")
    assert zoo.converted_path("horse2zebra") == str(cache_home / "models" / "cyclegan" / "horse2zebra.pth"
                                                    ".converted.pdparams")
    assert zoo.converted_path("paddlegan/cyclegan_zebra2horse").endswith(
        os.path.join("paddlegan", "CycleGAN_horse2zebra.pdparams.netG_B.converted.pdparams"))
    monkeypatch.delenv("PPIMG2IMG_HOME")
    assert zoo.weights_path("horse2zebra") == os.path.expanduser("~/.cache/ppimg2img/models/cyclegan/horse2zebra.pth")
    assert not zoo.weights_path("horse2zebra").startswith(os.path.dirname(zoo.__file__))  # never in the package


# --- fetching -------------------------------------------------------------------------------------

def test_download_convert_and_cache_hit(tiny_entry, server, monkeypatch):
    """load_generator('horse2zebra') downloads once, converts once, and then reads only the
    converted cache; the network reproduces the original PyTorch output."""
    original, converted = zoo.weights_path("horse2zebra"), zoo.converted_path("horse2zebra")
    x = paddle.to_tensor(np.load(os.path.join(DATA, "cyclegan_resnet_6blocks_ngf8_in.npy")))
    expected = np.load(os.path.join(DATA, "cyclegan_resnet_6blocks_ngf8_out.npy"))

    net = load_generator("horse2zebra")
    assert open(original, "rb").read() == FIXTURE_BYTES and os.path.isfile(converted)
    assert server.log == [("/horse2zebra.pth", None, len(FIXTURE_BYTES))]
    np.testing.assert_allclose(net(x).numpy(), expected, atol=1e-4)

    from ppimg2img.weights import load as load_module
    read = []
    real_read = load_module.read_checkpoint
    monkeypatch.setattr(load_module, "read_checkpoint", lambda path: read.append(path) or real_read(path))
    again = load_generator("horse2zebra")
    assert read == [converted]  # cache hit: the original is not read again...
    assert len(server.log) == 1  # ...nor downloaded again
    np.testing.assert_allclose(again(x).numpy(), expected, atol=1e-4)


def test_two_nets_of_one_file_are_cached_apart(server, monkeypatch):
    """Both directions of a PaddleGAN CycleGAN file share the download but not the converted cache."""
    net = build_generator("resnet_6blocks", ngf=8)
    state_a = {k: v.numpy() for k, v in net.state_dict().items()}
    state_b = {k: -2 * v for k, v in state_a.items()}
    paddle.save({"netG_A": state_a, "netG_B": state_b}, os.path.join(server.root, "CycleGAN_tiny.pdparams"))
    for name in ("paddlegan/cyclegan_horse2zebra", "paddlegan/cyclegan_zebra2horse"):
        entry = dataclasses.replace(zoo.MODEL_ZOO[name], url=server.url + "/CycleGAN_tiny.pdparams", **TINY_ARCH)
        monkeypatch.setitem(zoo.MODEL_ZOO, name, entry)
    for _ in range(2):  # the second round reads the converted caches
        a = load_generator("paddlegan/cyclegan_horse2zebra").state_dict()
        b = load_generator("paddlegan/cyclegan_zebra2horse").state_dict()
        for key in ("model.1.weight", "model.10.conv_block.1.bias"):
            np.testing.assert_array_equal(a[key].numpy(), state_a[key])
            np.testing.assert_array_equal(b[key].numpy(), state_b[key])
    assert len(server.log) == 1


def test_fetch_resumes_an_interrupted_transfer(tiny_entry, server):
    server.cut_after = 10_000  # the connection drops after 10 kB: the next attempt asks for the rest
    path = zoo.fetch("horse2zebra", progress=False)
    assert open(path, "rb").read() == FIXTURE_BYTES
    assert server.log == [("/horse2zebra.pth", None, 10_000),
                          ("/horse2zebra.pth", "bytes=10000-", len(FIXTURE_BYTES) - 10_000)]


def test_fetch_resumes_a_part_left_by_an_earlier_run(tiny_entry, server):
    part = zoo.weights_path("horse2zebra") + ".part"
    os.makedirs(os.path.dirname(part))
    open(part, "wb").write(FIXTURE_BYTES[:4096])  # e.g. Ctrl-C during a previous download
    assert zoo.fetch("horse2zebra", progress=False) == zoo.weights_path("horse2zebra")
    assert open(zoo.weights_path("horse2zebra"), "rb").read() == FIXTURE_BYTES and not os.path.exists(part)
    assert server.log == [("/horse2zebra.pth", "bytes=4096-", len(FIXTURE_BYTES) - 4096)]


def test_checksum_known_good_and_mismatch(tiny_entry, server, monkeypatch, cache_home):
    bad = dataclasses.replace(tiny_entry, sha256="0" * 64)
    monkeypatch.setitem(zoo.MODEL_ZOO, bad.name, bad)
    with pytest.raises(ChecksumError) as info:
        zoo.fetch("horse2zebra", progress=False)
    msg = str(info.value)
    assert "cyclegan/horse2zebra" in msg and bad.url in msg and "0" * 64 in msg and FIXTURE_SHA in msg
    assert zoo.weights_path("horse2zebra") in msg  # where a good copy would be picked up
    folder = cache_home / "models" / "cyclegan"
    assert os.listdir(folder) == []  # rejected: neither the file nor a .part stays in the cache

    good = dataclasses.replace(tiny_entry, sha256=FIXTURE_SHA)
    monkeypatch.setitem(zoo.MODEL_ZOO, good.name, good)
    assert zoo.fetch("horse2zebra", progress=False) == str(folder / "horse2zebra.pth")
    assert zoo.is_cached("horse2zebra")


def test_server_errors(tiny_entry, server, monkeypatch):
    _no_sleep(monkeypatch)
    server.errors = [503]  # transient: retried
    assert open(zoo.fetch("horse2zebra", progress=False), "rb").read() == FIXTURE_BYTES
    os.remove(zoo.weights_path("horse2zebra"))
    server.errors = [500] * 10  # persistent: a clear error, nothing in the cache
    with pytest.raises(DownloadError, match=r"Model cyclegan/horse2zebra: Failed to download .*HTTP error 500"):
        zoo.fetch("horse2zebra", progress=False)
    assert not zoo.is_cached("horse2zebra")
    moved = dataclasses.replace(tiny_entry, url=server.url + "/gone.pth")
    monkeypatch.setitem(zoo.MODEL_ZOO, moved.name, moved)
    server.errors = []
    with pytest.raises(DownloadError, match="404"):
        zoo.fetch("horse2zebra", progress=False)


def test_offline_error_names_url_and_path_and_picks_up_a_manual_copy(tiny_entry, monkeypatch):
    offline = dataclasses.replace(tiny_entry, url=closed_port_url("/horse2zebra.pth"))
    monkeypatch.setitem(zoo.MODEL_ZOO, offline.name, offline)
    attempts, pauses = [], []
    real_fetch = download_module._fetch
    monkeypatch.setattr(download_module, "_fetch", lambda *a, **k: attempts.append(a) or real_fetch(*a, **k))
    monkeypatch.setattr(download_module.time, "sleep", pauses.append)
    with pytest.raises(DownloadError) as info:
        zoo.fetch("horse2zebra", progress=False)
    assert len(attempts) == 1 and pauses == []  # fails fast: one attempt, no retries (counted, not timed)
    monkeypatch.setattr(download_module, "_fetch", real_fetch)
    msg, path = str(info.value), zoo.weights_path("horse2zebra")
    assert offline.url in msg and f"put it at {path}" in msg
    assert not zoo.is_cached("horse2zebra")
    shutil.copy(FIXTURE, path)  # the manual download, where the message said
    assert zoo.fetch("horse2zebra") == path
    assert load_generator("horse2zebra").state_dict()["model.1.weight"].shape == [8, 3, 7, 7]


def test_manual_only_model(cache_home):
    path = str(cache_home / "models" / "minivision" / "photo2cartoon_weights.pt")
    with pytest.raises(DownloadError) as info:
        zoo.fetch("minivision/photo2cartoon")
    msg = str(info.value)
    assert "no direct download link" in msg and path in msg
    assert "https://github.com/minivision-ai/photo2cartoon#download" in msg and "drive.google.com" in msg
    os.makedirs(os.path.dirname(path))
    open(path, "wb").write(b"placed by hand")
    assert zoo.fetch("minivision/photo2cartoon") == path and zoo.is_cached("minivision/photo2cartoon")
