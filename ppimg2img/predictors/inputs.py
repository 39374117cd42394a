"""What ``Predictor.run`` accepts: a path, a folder, a glob, a list of those, arrays or PIL images."""
import glob
import os
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ..faces.image import to_rgb_uint8
from ..utils.image_io import IMG_EXTENSIONS, is_image_file, list_images, load_image


@dataclass
class InputItem:
    """One image to process: ``source`` names it in messages (its path, or ``<array 3>``),
    ``name`` is the output name (no extension; may contain ``/`` for sub-folders of a folder
    input), ``data`` is the in-memory image (None for files, read when processed)."""
    source: str
    name: str
    data: Optional[Any] = None
    path: Optional[str] = None

    def read(self):
        """The image as HxWx3 RGB uint8 (files through ``load_image``: EXIF, 16-bit, alpha, gray)."""
        if self.path is not None:
            return load_image(self.path)
        return to_rgb_uint8(_pil_to_array(self.data), self.source)


def _is_pil(obj):
    return type(obj).__module__.startswith("PIL.") and hasattr(obj, "getbands")


def _pil_to_array(obj):
    if not _is_pil(obj):
        return obj
    if obj.mode not in ("L", "LA", "RGB", "RGBA", "I;16"):
        obj = obj.convert("RGBA" if "transparency" in obj.info or obj.mode in ("PA", "P") else "RGB")
    return np.asarray(obj)


def _is_image_data(obj):
    return isinstance(obj, np.ndarray) or _is_pil(obj)


def _expand(item):
    """``(path, name)`` pairs of one path-like input: a file, a folder (recursive) or a glob."""
    path = os.fspath(item)
    if os.path.isdir(path):
        found = [(p, os.path.splitext(os.path.relpath(p, path))[0]) for p in list_images(path)]
        if not found:
            raise FileNotFoundError(f"{path}: the folder holds no images ({', '.join(IMG_EXTENSIONS)})")
        return found, True
    if os.path.exists(path):
        return [(path, os.path.splitext(os.path.basename(path))[0])], False
    matches = sorted(p for p in glob.glob(path, recursive=True) if is_image_file(p) and os.path.isfile(p))
    if not matches:
        raise FileNotFoundError(f"{path}: no such file or folder, and no images match it as a pattern")
    return [(p, os.path.splitext(os.path.basename(p))[0]) for p in matches], True


def collect_inputs(inputs):
    """``(items, many)``: the :class:`InputItem` list of ``inputs`` and whether the caller asked
    for several images (a folder, a glob or a list: ``run`` then returns a list).

    Output names are unique: a name already taken (``x/a.png`` and ``y/a.png`` given as files, or
    ``a.png`` and ``a.jpg``) gets a suffix ``_2``, ``_3``...; a file given twice is processed once.
    Raises ``FileNotFoundError`` for a path that is no file, no folder and no matching pattern.
    """
    if _is_image_data(inputs):
        return [InputItem("<array>", "image", data=inputs)], False
    if isinstance(inputs, (str, os.PathLike)):
        pairs, many = _expand(inputs)
        entries = [(p, n, None) for p, n in pairs]
    elif isinstance(inputs, (list, tuple)):
        many, entries = True, []
        for i, item in enumerate(inputs):
            if _is_image_data(item):
                entries.append((None, f"image_{i:04d}", item))
            elif isinstance(item, (str, os.PathLike)):
                entries += [(p, n, None) for p, n in _expand(item)[0]]
            else:
                raise TypeError(f"input {i}: expected a path, an image array or a PIL image, got {type(item).__name__}")
    else:
        raise TypeError(f"expected a path, a folder, a glob pattern, a list, an image array or a PIL image, "
                        f"got {type(inputs).__name__}")
    items, seen, taken = [], set(), set()
    for i, (path, stem, data) in enumerate(entries):
        if path is not None:
            real = os.path.realpath(path)
            if real in seen:
                continue
            seen.add(real)
        name, suffix = stem, 1
        while name.casefold() in taken:
            suffix += 1
            name = f"{stem}_{suffix}"
        taken.add(name.casefold())
        source = path if path is not None else f"<array {i}>"
        items.append(InputItem(source, name, data=data, path=path))
    return items, many
