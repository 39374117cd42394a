"""Config loading, ``-o`` overrides and validation: every shipped config is valid, and every kind
of mistake gives an error naming the file, the key path and the fix."""
import glob
import os

import pytest
import yaml

from ppimg2img.config import ConfigError, load_config, parse_overrides, save_config

from conftest import ROOT, tiny_cyclegan_config

CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", "*.yaml")))


def _write(tmp_path, cfg, name="c.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def _tiny(tmp_path):
    """The tiny CycleGAN config as a dict, to be edited by a test."""
    return yaml.safe_load(open(tiny_cyclegan_config(tmp_path)))


def _error(path, overrides=None):
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    return str(info.value)


def test_configs_folder_is_not_empty():
    names = [os.path.basename(p) for p in CONFIGS]
    assert "quickstart_cyclegan.yaml" in names and "cyclegan_horse2zebra.yaml" in names


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_shipped_config_loads_with_defaults_filled(path, tmp_path):
    cfg = load_config(path)
    raw = yaml.safe_load(open(path))
    # defaults of keys the file does not set come from the schema / the code's signatures
    if "num_workers" not in raw.get("train", {}):
        assert cfg["train"]["num_workers"] == 2
    assert isinstance(cfg["train"]["num_workers"], int)
    assert cfg["train"]["save_latest_interval"] == raw.get("train", {}).get("save_latest_interval", 5000)
    if raw["model"]["name"] == "CycleGANModel":
        assert cfg["model"]["generator"]["use_dropout"] is False  # CycleGAN: no dropout (original --no_dropout)
        assert cfg["model"]["generator"]["padding_type"] == "reflect"
    if raw["model"]["name"] in ("Pix2PixModel", "ColorizationModel"):  # pix2pix: BatchNorm, dropout, vanilla, L1 100
        assert cfg["model"]["generator"]["norm"] == "batch" and cfg["model"]["generator"]["use_dropout"] is True
        assert cfg["model"]["discriminator"]["norm"] == "batch"
        assert cfg["model"]["gan_mode"] == "vanilla" and cfg["model"]["lambda_L1"] == 100.0
    assert cfg["lr_scheduler"]["lr_decay_iters"] == 50
    assert cfg["lr_scheduler"]["epoch_count"] == 1
    assert cfg["optimizer"]["name"] == raw["optimizer"].get("name", "adam")  # Adam, RMSprop for WGAN
    assert cfg["optimizer"]["beta1"] == raw["optimizer"].get("beta1", 0.5)
    assert cfg["eval"]["max_images"] is None and cfg["eval"]["inference_mode"] == "eval"
    assert cfg["eval"]["directions"] == raw.get("eval", {}).get("directions", ["AtoB", "BtoA"])
    # an image folder has no phases (ImageFolderDataset: phase None); every other dataset reads its train split
    assert cfg["dataset"]["train"]["phase"] == (None if raw["dataset"]["train"]["name"] == "ImageFolderDataset"
                                                else "train")
    assert cfg["dataset"]["train"]["max_dataset_size"] is None
    assert cfg["device"] == "auto"
    # what the file sets is kept as written
    assert cfg["model"]["generator"]["name"] == raw["model"]["generator"]["name"]
    assert cfg["dataset"]["train"]["dataroot"] == raw["dataset"]["train"]["dataroot"]
    # save_config round trip: the resolved file loads again to the same dict
    out = str(tmp_path / "resolved.yaml")
    save_config(cfg, out)
    assert load_config(out) == cfg
    assert not os.path.exists(out + ".tmp")


def test_unknown_top_level_key(tmp_path):
    cfg = _tiny(tmp_path)
    cfg["trian"] = {"max_iters": 3}
    path = _write(tmp_path, cfg)
    msg = _error(path)
    assert path in msg and "config.trian: unknown key" in msg and "Did you mean 'train'" in msg


def test_unknown_nested_key_names_file_path_and_suggestion(tmp_path):
    cfg = _tiny(tmp_path)
    cfg["model"]["lamda_A"] = 5.0
    path = _write(tmp_path, cfg)
    msg = _error(path)
    assert msg.startswith(path + ": ")
    assert "config.model.lamda_A" in msg and "unknown key" in msg
    assert "Did you mean 'lambda_A'?" in msg
    assert "lambda_identity" in msg  # the list of valid keys


def test_component_name_typo_suggests_valid_name(tmp_path):
    cfg = _tiny(tmp_path)
    cfg["model"]["generator"]["name"] = "resnet_9block"
    msg = _error(_write(tmp_path, cfg))
    assert "config.model.generator.name" in msg and "unknown value 'resnet_9block'" in msg
    assert "Did you mean 'resnet_9blocks'?" in msg and "resnet_6blocks" in msg


def test_argument_of_another_choice_is_unknown(tmp_path):
    """n_layers is an argument of the 'n_layers' discriminator, not of 'basic' (fixed 3 layers)."""
    cfg = _tiny(tmp_path)
    cfg["model"]["discriminator"] = {"name": "basic", "n_layers": 4}
    msg = _error(_write(tmp_path, cfg))
    assert "config.model.discriminator.n_layers: unknown key" in msg and "ndf" in msg
    cfg["model"]["discriminator"] = {"name": "n_layers", "n_layers": 4}
    assert load_config(_write(tmp_path, cfg))["model"]["discriminator"]["n_layers"] == 4


def test_component_missing_name(tmp_path):
    cfg = _tiny(tmp_path)
    del cfg["model"]["generator"]["name"]
    msg = _error(_write(tmp_path, cfg))
    assert "config.model.generator.name: missing required key" in msg and "resnet_9blocks" in msg


@pytest.mark.parametrize("override, key, expected", [
    ("train.batch_size=two", "config.train.batch_size", "expected int, got str ('two')"),
    ("train.batch_size=true", "config.train.batch_size", "expected int, got bool (True)"),
    ("model.generator.ngf=yes", "config.model.generator.ngf", "expected int, got bool"),
    ("model.generator.ngf=4.0", "config.model.generator.ngf", "expected int, got float"),
    ("lr_scheduler.n_epochs=[1]", "config.lr_scheduler.n_epochs", "expected int, got list"),
    ("model.lambda_A=high", "config.model.lambda_A", "expected float or int, got str"),
    ("model.generator.use_dropout=1", "config.model.generator.use_dropout", "expected bool, got int"),
    ("train.batch_size=null", "config.train.batch_size", "expected int, got NoneType"),
    ("eval.directions=AtoB", "config.eval.directions", "expected list, got str"),
    ("model=5", "config.model", "expected a mapping of keys, got int"),
    ("device=tpu", "config.device", "'tpu' is not one of"),
])
def test_wrong_types(tmp_path, override, key, expected):
    path = tiny_cyclegan_config(tmp_path)
    msg = _error(path, [override])
    assert msg.startswith(path + ": " + key + ": ")
    assert expected in msg


def test_accepted_types(tmp_path):
    path = tiny_cyclegan_config(tmp_path)
    cfg = load_config(path, ["model.lambda_A=5",            # int where a float is expected
                             "optimizer.lr=1",              # float schema Field
                             "train.max_iters=null",        # null where the default is None
                             "threads=null", "name=null", "eval.max_images=null",
                             "dataset.test=null",            # optional section switched off
                             "dataset.train.max_dataset_size=3"])
    assert cfg["model"]["lambda_A"] == 5 and cfg["optimizer"]["lr"] == 1
    assert cfg["train"]["max_iters"] is None and cfg["threads"] is None and cfg["name"] is None
    assert cfg["eval"]["max_images"] is None
    assert cfg["dataset"]["test"] is None
    assert cfg["dataset"]["train"]["max_dataset_size"] == 3


def test_missing_required_key(tmp_path):
    cfg = _tiny(tmp_path)
    del cfg["dataset"]["train"]["dataroot"]
    path = _write(tmp_path, cfg)
    msg = _error(path)
    assert path in msg and "config.dataset.train.dataroot: missing required key" in msg


def test_parse_overrides_values_are_yaml():
    out = parse_overrides(["train.max_iters=10", "optimizer.lr=2e-4", "model.lambda_A=5.5",
                           "eval.directions=[AtoB]", "eval.max_images=null", "name=my run",
                           "output_dir=", "model.generator.use_dropout=true", "a.b.c.d=x=y",
                           "seed=007"])
    assert out == {"train": {"max_iters": 10}, "optimizer": {"lr": 2e-4}, "model": {
        "lambda_A": 5.5, "generator": {"use_dropout": True}}, "eval": {"directions": ["AtoB"],
        "max_images": None}, "name": "my run", "output_dir": None, "a": {"b": {"c": {"d": "x=y"}}},
        "seed": 7}
    assert isinstance(out["optimizer"]["lr"], float) and isinstance(out["train"]["max_iters"], int)
    # PyYAML alone (YAML 1.1) would keep these as strings
    assert parse_overrides(["a=1e-3", "b=1.0e4", "c=-3E2", "d=1e"]) == {"a": 1e-3, "b": 1e4, "c": -300.0,
                                                                      "d": "1e"}
    assert parse_overrides(None) == {} and parse_overrides([]) == {}


@pytest.mark.parametrize("bad, expected", [
    ("train.max_iters", "expected key.sub=value"),
    ("train..max_iters=3", "empty key name"),
    ("=3", "empty key name"),
    ("eval.directions=[AtoB", "not valid YAML"),
])
def test_malformed_override(bad, expected):
    with pytest.raises(ConfigError) as info:
        parse_overrides([bad])
    assert f"override '{bad}'" in str(info.value) and expected in str(info.value)


def test_override_value_and_subkey_conflict():
    with pytest.raises(ConfigError, match="'train' is set to a value and a sub-key at once"):
        parse_overrides(["train=3", "train.max_iters=1"])


def test_overrides_merge_and_add_keys_absent_from_file(tmp_path):
    path = tiny_cyclegan_config(tmp_path)
    raw = yaml.safe_load(open(path))
    assert "lambda_identity" not in raw["model"] and "eval" not in raw and "epochs" not in raw["train"]
    cfg = load_config(path, ["model.lambda_identity=0", "eval.max_images=1", "train.epochs=2",
                             "model.generator.name=resnet_9blocks", "optimizer.beta2=0.99"])
    assert cfg["model"]["lambda_identity"] == 0
    assert cfg["eval"]["max_images"] == 1 and cfg["train"]["epochs"] == 2
    # a dict override merges into the file's section instead of replacing it
    assert cfg["model"]["generator"] == {"name": "resnet_9blocks", "ngf": 4, "input_nc": 3, "output_nc": 3,
                                         "norm": "instance", "use_dropout": False, "padding_type": "reflect",
                                         "eval_stats": "running"}
    assert cfg["train"]["num_workers"] == 0 and cfg["optimizer"]["beta2"] == 0.99
    # dict overrides work the same way
    assert load_config(path, {"train": {"epochs": 2}})["train"]["epochs"] == 2
    # an override is validated like the file
    msg = _error(path, ["model.generator.ngff=8"])
    assert "config.model.generator.ngff: unknown key" in msg and "Did you mean 'ngf'" in msg


def test_exponent_floats_in_files(tmp_path):
    path = tiny_cyclegan_config(tmp_path, optimizer={"lr": 0.5})
    path_text = open(path).read().replace("lr: 0.5", "lr: 2e-4")
    assert "lr: 2e-4" in path_text
    open(path, "w").write(path_text)
    assert load_config(path)["optimizer"]["lr"] == pytest.approx(2e-4)


def test_invalid_yaml_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("model:\n  name: CycleGANModel\n   generator: [\n")
    msg = _error(str(path))
    assert msg.startswith(str(path)) and "not valid YAML" in msg and "line" in msg


def test_top_level_must_be_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- model\n- dataset\n")
    msg = _error(str(path), ["train.max_iters=1"])
    assert msg.startswith(str(path)) and "expected a mapping" in msg and "list" in msg


def test_binary_file_is_a_config_error(tmp_path):
    path = tmp_path / "image.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    assert _error(str(path)).startswith(str(path))


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope.yaml")
    msg = _error(path)
    assert path in msg and "not found" in msg and "configs/quickstart_cyclegan.yaml" in msg


def test_save_config_round_trip_with_overrides(tmp_path):
    path = tiny_cyclegan_config(tmp_path)
    cfg = load_config(path, ["train.max_iters=3", "eval.directions=[BtoA]", "dataset.test=null"])
    out = str(tmp_path / "saved.yaml")
    save_config(cfg, out)
    again = load_config(out)
    assert again == cfg
    assert again["train"]["max_iters"] == 3 and again["dataset"]["test"] is None
    assert yaml.safe_load(open(out))["model"]["generator"]["ngf"] == 4


def test_list_items_are_checked_against_choices(tmp_path):
    path = tiny_cyclegan_config(tmp_path)
    with pytest.raises(ConfigError, match=r"config\.eval\.directions: 'AtoC' is not one of \['AtoB', 'BtoA'\]\. "
                                          r"Did you mean 'AtoB'\?"):
        load_config(path, ["eval.directions=[AtoB, AtoC]"])
    assert load_config(path, ["eval.directions=[BtoA]"])["eval"]["directions"] == ["BtoA"]


def test_named_choices_are_checked_where_they_appear(tmp_path):
    """Arguments that take one of a few names (norm, gan_mode, policy, preprocess, ...) are checked
    at load time with a did-you-mean, not when the run builds them."""
    path = tiny_cyclegan_config(tmp_path)
    cases = {"model.generator.norm=batchnorm": r"config\.model\.generator\.norm: 'batchnorm' is not one of "
                                               r"\['instance', 'batch', 'none'\]\. Did you mean 'batch'\?",
             "model.gan_mode=lsgann": r"config\.model\.gan_mode: 'lsgann'.*Did you mean 'lsgan'\?",
             "lr_scheduler.policy=linaer": r"config\.lr_scheduler\.policy: 'linaer'.*Did you mean 'linear'\?",
             "dataset.train.preprocess=resize_crop": r"config\.dataset\.train\.preprocess: 'resize_crop'.*"
                                                    r"Did you mean 'resize_and_crop'\?",
             "dataset.test.direction=AtoC": r"config\.dataset\.test\.direction: 'AtoC'",
             "model.init_type=gaussian": r"config\.model\.init_type: 'gaussian' is not one of"}
    for override, message in cases.items():
        with pytest.raises(ConfigError, match=message):
            load_config(path, [override])
    assert load_config(path, ["model.generator.norm=batch"])["model"]["generator"]["norm"] == "batch"


def test_counts_and_intervals_have_minimums(tmp_path):
    path = tiny_cyclegan_config(tmp_path)
    for override, message in {"train.visual_interval=0": r"config\.train\.visual_interval: must be at least 1, got 0",
                              "train.batch_size=0": r"config\.train\.batch_size: must be at least 1",
                              "train.num_workers=-1": r"config\.train\.num_workers: must be at least 0"}.items():
        with pytest.raises(ConfigError, match=message):
            load_config(path, [override])
