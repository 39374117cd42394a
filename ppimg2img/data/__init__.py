"""Datasets by name: ``build_dataset('UnalignedDataset', dataroot=..., ...)``."""
import difflib
import signal

import paddle

from .aligned import AlignedDataset
from .cifar import CIFAR10Dataset
from .colorization import ColorizationDataset
from .image_folder import ImageFolderDataset
from .mnist import MNISTDataset, SyntheticDigitsDataset
from .unaligned import UnalignedDataset

__all__ = ["DATASETS", "build_dataset", "build_loader", "UnalignedDataset", "AlignedDataset", "ColorizationDataset",
           "MNISTDataset", "SyntheticDigitsDataset", "CIFAR10Dataset", "ImageFolderDataset"]

DATASETS = {
    "UnalignedDataset": UnalignedDataset,
    "AlignedDataset": AlignedDataset,
    "ColorizationDataset": ColorizationDataset,
    # generation models (z -> image); their classes say kind = "generation"
    "MNISTDataset": MNISTDataset,
    "SyntheticDigitsDataset": SyntheticDigitsDataset,
    "CIFAR10Dataset": CIFAR10Dataset,
    "ImageFolderDataset": ImageFolderDataset,
}


def build_dataset(name, **kwargs):
    """Instantiate the dataset class registered as ``name`` with keyword arguments ``kwargs``."""
    if name not in DATASETS:
        close = difflib.get_close_matches(str(name), list(DATASETS), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"unknown dataset '{name}'; available: {', '.join(sorted(DATASETS))}.{hint}")
    return DATASETS[name](**kwargs)


def _worker_init(_worker_id):
    """Loader workers: one OpenCV thread each, and Ctrl-C is the main process's business."""
    import cv2
    cv2.setNumThreads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def build_loader(dataset, batch_sampler=None, batch_size=1, num_workers=0):
    """``paddle.io.DataLoader`` as ppimg2img runs it.

    Worker processes send batches as NumPy (``use_shared_memory=False``) and the main process
    converts them without a background reader thread (``use_buffer_reader=False``). With Paddle's
    defaults a worker, forked while a reader thread of the parent held Paddle's host-memory lock,
    allocates its shared-memory tensor under that copied lock and hangs for ever (seen in about
    1 of 6 test runs, Paddle 3.3.1); the workers still prefetch, so data loading overlaps training.
    """
    kwargs = dict(batch_sampler=batch_sampler) if batch_sampler is not None else dict(batch_size=batch_size)
    if num_workers:
        # The forked workers set OpenCV to one thread (_worker_init); if the main process had run a
        # multi-threaded OpenCV call before, that deadlocks in the worker (OpenCV 5.0's pthreads pool
        # is copied without its threads). One OpenCV thread in the main process as well leaves no
        # pool to inherit; while training it only uses OpenCV for visuals and result pages.
        import cv2
        cv2.setNumThreads(1)
    return paddle.io.DataLoader(dataset, num_workers=num_workers, use_shared_memory=False,
                                use_buffer_reader=False, worker_init_fn=_worker_init if num_workers else None,
                                **kwargs)
