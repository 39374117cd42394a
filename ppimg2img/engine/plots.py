"""Training loss curves: ``losses.csv`` of a run folder plotted to a PNG.

The trainer appends one row per ``train.log_interval`` iterations to ``<run>/losses.csv``
(columns ``epoch, iter, <loss names>..., lr_<optimizer>...``). matplotlib is imported only here,
when a plot is made, and drawn without pyplot (no display, no global state).
"""
import csv
import math
import os

from ..utils.env import logger

LOSS_CSV = "losses.csv"
LOSS_PNG = "losses.png"


class LossLogError(ValueError):
    """The loss log is missing, empty or not the trainer's format."""


def read_losses(log_source):
    """``(iterations, {loss name: values})`` from a run folder or a ``losses.csv`` path.

    Columns ``epoch`` and ``lr_*`` are not losses and are left out.
    """
    path = os.path.join(log_source, LOSS_CSV) if os.path.isdir(log_source) else log_source
    if not os.path.isfile(path):
        raise LossLogError(f"{path}: no loss log found (the trainer writes {LOSS_CSV} into the run folder "
                           f"every train.log_interval iterations; pass a run folder or a {LOSS_CSV} file)")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows or "iter" not in rows[0]:
        raise LossLogError(f"{path}: expected a header with an 'iter' column, as the trainer writes")
    header, body = rows[0], [r for r in rows[1:] if r]
    if not body:
        raise LossLogError(f"{path}: no loss records yet (the first is written after train.log_interval "
                           f"iterations)")
    names = [h for h in header if h not in ("epoch", "iter") and not h.startswith("lr_")]
    col = {h: i for i, h in enumerate(header)}
    try:
        iters = [int(r[col["iter"]]) for r in body]
        losses = {n: [float(r[col[n]]) for r in body] for n in names}
    except (ValueError, IndexError) as err:
        raise LossLogError(f"{path}: unreadable row ({err})") from None
    return iters, losses


def moving_average(values, window):
    """Trailing mean over ``window`` records (the first ``window - 1`` are dropped)."""
    import numpy as np
    return np.convolve(np.asarray(values, float), np.ones(window) / window, mode="valid")


def plot_losses(log_source, png_path, title=None):
    """Plot every loss of a training run against the iteration, one panel per loss, to ``png_path``.

    ``log_source``: the run folder or its ``losses.csv``. Each record is the loss of one iteration
    (every ``train.log_interval``), so GAN losses jump from record to record; from 10 records on, a
    trailing mean over about an eighth of them is drawn over the records to show the trend.
    Returns ``png_path``. Raises LossLogError when there is nothing to plot and ImportError (saying
    what to install) without matplotlib.
    """
    iters, losses = read_losses(log_source)
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plotting loss curves needs matplotlib: pip install matplotlib") from None
    cols = min(3, len(losses))
    rows = math.ceil(len(losses) / cols)
    fig = Figure(figsize=(4 * cols, 2.6 * rows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    for i, (name, values) in enumerate(losses.items()):
        ax = fig.add_subplot(rows, cols, i + 1)
        window = max(3, len(values) // 8)
        smooth = len(values) >= 10
        ax.plot(iters, values, lw=1, marker="." if len(values) < 30 else None, color="C0",
                alpha=0.45 if smooth else 1.0, label="logged")
        if smooth:
            ax.plot(iters[window - 1:], moving_average(values, window), lw=2, color="C1",
                    label=f"mean of {window}")
            if i == 0:
                ax.legend(fontsize=7, loc="upper right")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("iteration", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(title or f"training losses ({len(iters)} records, iteration {iters[-1]})", fontsize=11)
    os.makedirs(os.path.dirname(os.path.abspath(png_path)), exist_ok=True)
    tmp = png_path + ".tmp"
    fig.savefig(tmp, format="png")
    os.replace(tmp, png_path)
    return png_path


def plot_run_losses(run_dir):
    """``<run_dir>/losses.png`` from ``<run_dir>/losses.csv``, for the trainer: returns the path, or
    None (with a warning, never an exception) when matplotlib is missing or nothing is logged yet."""
    try:
        return plot_losses(run_dir, os.path.join(run_dir, LOSS_PNG))
    except ImportError as err:
        logger.warning("no loss plot: %s", err)
    except LossLogError as err:
        logger.info("no loss plot: %s", err)
    return None
