"""Datasets go on past unusable files: an unreadable image is replaced by the next usable one,
logged once, and reported by the trainer at the end of the run."""
import os

from ..utils.env import logger
from ..utils.image_io import ImageReadError


def load_first_usable(paths, start, load, bad_files, skipped, hint=""):
    """``(path, load(path))`` for ``paths[start]`` or, if it is unusable, the next usable file
    (start+1, ...). Unusable files are remembered in ``bad_files`` (path -> reason) and appended
    to ``skipped`` as 'path: reason'. Raises RuntimeError when no file can be used."""
    for k in range(len(paths)):
        path = paths[(start + k) % len(paths)]
        if path in bad_files:
            continue
        try:
            return path, load(path)
        except (ImageReadError, ValueError) as e:
            reason = e.reason if isinstance(e, ImageReadError) else str(e)
            bad_files[path] = reason
            skipped.append(f"{path}: {reason}")
            logger.warning("skipping unusable image '%s': %s (using the next image instead)", path, reason)
    sample = "; ".join(f"{p}: {r}" for p, r in list(bad_files.items())[:3])
    raise RuntimeError(f"none of the {len(paths)} images in '{os.path.dirname(paths[0])}' can be used "
                       f"(e.g. {sample}). Check the dataset files. {hint}".rstrip())
