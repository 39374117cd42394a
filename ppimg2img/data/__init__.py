"""Datasets by name: ``build_dataset('UnalignedDataset', dataroot=..., ...)``."""
import difflib

from .unaligned import UnalignedDataset

__all__ = ["DATASETS", "build_dataset", "UnalignedDataset"]

DATASETS = {
    "UnalignedDataset": UnalignedDataset,
}


def build_dataset(name, **kwargs):
    """Instantiate the dataset class registered as ``name`` with keyword arguments ``kwargs``."""
    if name not in DATASETS:
        close = difflib.get_close_matches(str(name), list(DATASETS), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"unknown dataset '{name}'; available: {', '.join(sorted(DATASETS))}.{hint}")
    return DATASETS[name](**kwargs)
