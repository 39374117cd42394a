"""The docs cannot drift from the code: the config reference is regenerated and compared with
the committed docs/config.md, and every ```bash block of docs/*.md that can run offline is run."""
import importlib.util
import os

import pytest

from conftest import ROOT


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_config_reference",
                                                  os.path.join(ROOT, "tools", "make_config_reference.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen():
    return _load_generator()


def test_config_reference_is_up_to_date(gen):
    with open(os.path.join(ROOT, "docs", "config.md"), encoding="utf-8") as f:
        committed = f.read()
    assert gen.render() == committed, (
        "docs/config.md differs from the config schema: run `python tools/make_config_reference.py` "
        "and commit docs/config.md")


def test_config_reference_lists_every_key_with_its_default(gen):
    text = gen.render()
    assert "| `lambda_identity` | float or int | `0.5` |" in text
    assert "| `max_iters` | int or null | `null` | >= 1 |" in text
    assert "| `inference_mode` | str | `eval` | `eval`, `train_norm` |" in text
    for heading in ("## `model` with `name: CycleGANModel`", "## `model.generator` with `name: unet_256`",
                    "## `dataset.train` with `name: AlignedDataset`", "## `lr_scheduler`", "## `eval`"):
        assert heading in text
    assert "| **required** |" in text  # dataroot, name
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert all(not line.rstrip(" |").endswith("|") for line in rows), "a key without a meaning"


def test_undocumented_key_stops_the_generator(gen, monkeypatch):
    descriptions = dict(gen.DESCRIPTIONS)
    del descriptions["model[CycleGANModel].pool_size"]
    monkeypatch.setattr(gen, "DESCRIPTIONS", descriptions)
    with pytest.raises(gen.MissingDescription, match=r"no description[\s\S]*model\[CycleGANModel\]\.pool_size"):
        gen.render()


def test_description_of_a_removed_key_stops_the_generator(gen, monkeypatch):
    monkeypatch.setattr(gen, "DESCRIPTIONS", {**gen.DESCRIPTIONS, "train.lamda": "typo"})
    with pytest.raises(gen.MissingDescription, match=r"match no config key[\s\S]*train\.lamda"):
        gen.render()


def test_docstring_args_parser(gen):
    def fn(a, b, c, d):
        """Title.

        Args:
            a: first ``thing``; b: second.
            c, d: shared text
                continued. None = all.
        """
    single, shared = gen._docstring_args(fn)
    assert single == {"a": "first `thing`", "b": "second"}
    assert shared == {"c": "shared text continued. null = all", "d": "shared text continued. null = all"}
