import logging
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")


@pytest.fixture(autouse=True)
def _ppimg2img_logger_propagates():
    """The CLI turns propagation off for its own console handler; tests that use caplog need it on."""
    logging.getLogger("ppimg2img").propagate = True
    yield
    logging.getLogger("ppimg2img").propagate = True


def tiny_cyclegan_config(tmp_path, **sections):
    """A CycleGAN config small enough to train a few iterations in a second or two."""
    data = str(tmp_path / "shapes")
    cfg = {
        "name": "tiny",
        "output_dir": str(tmp_path / "run"),
        "seed": 3,
        "threads": 1,
        "model": {"name": "CycleGANModel",
                  "generator": {"name": "resnet_6blocks", "ngf": 4},
                  "discriminator": {"name": "basic", "ndf": 4},
                  "pool_size": 2},
        "dataset": {
            "synthetic": {"n_train": 4, "n_test": 2, "size": 32},
            "train": {"name": "UnalignedDataset", "dataroot": data, "preprocess": "crop",
                      "crop_size": 32},
            "test": {"name": "UnalignedDataset", "dataroot": data, "phase": "test",
                     "preprocess": "none", "flip": False, "serial_batches": True},
        },
        "lr_scheduler": {"policy": "linear", "n_epochs": 1, "n_epochs_decay": 2},
        "train": {"batch_size": 1, "num_workers": 0, "log_interval": 2, "visual_interval": 4},
    }
    for key, value in sections.items():
        cfg[key] = {**cfg.get(key, {}), **value} if isinstance(value, dict) else value
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)
