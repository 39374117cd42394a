"""Loss curves of a training run (ppimg2img/engine/plots.py)."""
import logging
import os

import numpy as np
import pytest

from ppimg2img.config import load_config
from ppimg2img.engine.plots import LossLogError, plot_losses, plot_run_losses, read_losses
from ppimg2img.engine.trainer import Trainer
from ppimg2img.utils.image_io import load_image

from conftest import tiny_cyclegan_config

if os.environ.get("CI", "").lower() not in ("1", "true", "yes"):  # on CI a missing matplotlib fails
    pytest.importorskip("matplotlib")


def test_plots_the_losses_a_real_run_logged(tmp_path):
    cfg = load_config(tiny_cyclegan_config(tmp_path), ["train.max_iters=4", "train.log_interval=2",
                                                       "train.eval_at_end=false"])
    trainer = Trainer(cfg)
    trainer.train(progress=False)
    iters, losses = read_losses(trainer.run_dir)
    assert iters == [2, 4]
    assert {"G_A", "D_A", "cycle_A"} <= set(losses)  # the CycleGAN loss names the trainer logged
    assert not any(name.startswith("lr_") or name == "epoch" for name in losses)
    png = plot_losses(trainer.run_dir, str(tmp_path / "plot" / "losses.png"))
    img = load_image(png)
    assert img.shape[0] > 200 and img.shape[1] > 600  # several panels, 3 per row
    assert img.std() > 10  # something was drawn
    assert not (tmp_path / "plot" / "losses.png.tmp").exists()


def test_csv_path_works_and_values_are_plotted(tmp_path):
    csv = tmp_path / "losses.csv"
    csv.write_text("epoch,iter,G,D,lr_G\n1,10,2.0,0.5,0.0002\n1,20,1.5,0.25,0.0002\n2,30,1.0,0.125,0.0001\n")
    iters, losses = read_losses(str(csv))
    assert iters == [10, 20, 30]
    assert losses == {"G": [2.0, 1.5, 1.0], "D": [0.5, 0.25, 0.125]}
    img = load_image(plot_losses(str(csv), str(tmp_path / "l.png")))
    assert img.shape[1] == 800  # two panels of 4 inches at 100 dpi
    assert np.any(img[..., 2] > img[..., 0] + 50)  # matplotlib's blue curves


def test_missing_or_empty_log_is_reported(tmp_path, caplog):
    with pytest.raises(LossLogError, match="no loss log found"):
        plot_losses(str(tmp_path), str(tmp_path / "x.png"))
    (tmp_path / "losses.csv").write_text("epoch,iter,G\n")
    with pytest.raises(LossLogError, match="no loss records yet"):
        read_losses(str(tmp_path))
    (tmp_path / "losses.csv").write_text("a,b\n1,2\n")
    with pytest.raises(LossLogError, match="'iter' column"):
        read_losses(str(tmp_path))
    with caplog.at_level(logging.INFO, logger="ppimg2img"):
        assert plot_run_losses(str(tmp_path)) is None  # the trainer's hook never raises
    assert "no loss plot" in caplog.text
    assert not (tmp_path / "losses.png").exists()


def test_trend_line_from_ten_records(tmp_path):
    from ppimg2img.engine.plots import moving_average

    assert np.allclose(moving_average([1, 2, 3, 4, 5], 3), [2, 3, 4])
    rows = "".join(f"1,{10 * i},{(-1) ** i + 2}\n" for i in range(1, 17))   # 16 records, jumping 1 <-> 3
    (tmp_path / "losses.csv").write_text("epoch,iter,G\n" + rows)
    img = load_image(plot_losses(str(tmp_path), str(tmp_path / "l.png"))).astype(int)
    orange = (img[..., 0] > 200) & (img[..., 1] > 100) & (img[..., 1] < 160) & (img[..., 2] < 60)
    assert orange.sum() > 100  # the trailing mean (matplotlib's C1 orange) is drawn
    (tmp_path / "losses.csv").write_text("epoch,iter,G\n" + "".join(rows.splitlines(True)[:5]))
    img = load_image(plot_losses(str(tmp_path), str(tmp_path / "l.png"))).astype(int)
    orange = (img[..., 0] > 200) & (img[..., 1] > 100) & (img[..., 1] < 160) & (img[..., 2] < 60)
    assert orange.sum() == 0  # too few records for a trend
