"""One process of the data-parallel tests (tests/test_distributed.py), started by
``python -m paddle.distributed.launch --nproc_per_node 2 tests/distributed_worker.py CONFIG DUMP_DIR``.

It runs the normal ``tools/main.py`` entry point and, for the test only, saves this process's
parameters after training to ``DUMP_DIR/params_rank<N>.npz`` and the names of the file-writing
functions it called to ``DUMP_DIR/writes_rank<N>.json``. With ``PPIMG2IMG_TEST_FAIL_RANK=N``
the training step of process N raises, to check that the job stops instead of hanging.
"""
import os
import sys

import numpy as np

from ppimg2img.cli import train_main
from ppimg2img.engine import distributed
from ppimg2img.engine import trainer as trainer_module


def main():
    config, dump_dir = sys.argv[1], sys.argv[2]
    if distributed.rank() == int(os.environ.get("PPIMG2IMG_TEST_FAIL_RANK", "-1")):
        from ppimg2img.models.cyclegan import CycleGANModel

        def broken_step(self):
            raise RuntimeError("injected failure in the training step")
        CycleGANModel.train_step = broken_step

    # record every file-writing call of this process (the test checks only process 0 writes)
    import json

    import ppimg2img.config as config_module
    writes = []

    def recording(module, name):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            writes.append(name)
            return original(*args, **kwargs)
        setattr(module, name, wrapper)

    import ppimg2img.engine.evaluation.translation as evaluation_module
    for name in ("atomic_save", "save_grid", "write_training_page"):
        recording(trainer_module, name)
    for name in ("save_image", "write_results_page"):  # the evaluation pages
        recording(evaluation_module, name)
    recording(config_module, "save_config")

    train = trainer_module.Trainer.train

    def train_and_dump(self, progress=True):
        losses = train(self, progress)
        params = {f"{name}/{key}": value.numpy() for name, net in self.model.nets.items()
                  for key, value in net.state_dict().items()}
        np.savez(os.path.join(dump_dir, f"params_rank{self.rank}.npz"), **params)
        return losses

    trainer_module.Trainer.train = train_and_dump
    code = train_main(["-c", config, "--no-progress"])
    with open(os.path.join(dump_dir, f"writes_rank{distributed.rank()}.json"), "w") as f:
        json.dump(writes, f)
    sys.exit(code)


if __name__ == "__main__":
    main()
