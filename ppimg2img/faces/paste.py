"""Paste processed (e.g. cartoonised) aligned faces back into the original photo."""
import cv2
import numpy as np

from .image import to_rgb_uint8

_STRIP = 512  # rows blended at a time


def _border_taper(shape, width):
    """1 inside, fading smoothly to 0 at the edges of the crop over about ``width`` pixels."""
    h, w = shape
    b = max(1, int(round(width)))
    m = np.zeros((h, w), np.float32)
    m[b:h - b, b:w - b] = 1.0
    return cv2.GaussianBlur(m, (0, 0), b / 2.0)


def paste_back(photo, faces, processed, feather=0.03):
    """The photo with each ``processed[i]`` (an RGB image of aligned face ``faces[i]``, any size:
    it is resized to the aligned size) warped back through ``faces[i].matrix`` and blended through
    the face's mask (all ones if it has none) times a taper ``feather`` x size wide at the crop
    edges, so no seam shows. ``photo`` must be the image the faces were aligned from.

    Only the photo region under each mask is warped and blended (uint8, a strip of rows at a
    time), so huge photos need little memory beyond the returned copy.
    """
    out = to_rgb_uint8(photo, "paste_back photo").copy()
    faces, processed = list(faces), list(processed)
    if len(faces) != len(processed):
        raise ValueError(f"paste_back: {len(faces)} aligned faces but {len(processed)} processed images; "
                         "pass one processed image per face, in the same order")
    h, w = out.shape[:2]
    for i, (face, img) in enumerate(zip(faces, processed)):
        if face.source_shape is not None and tuple(face.source_shape) != (h, w):
            raise ValueError(f"paste_back: face {i} was aligned from a {face.source_shape[1]}x{face.source_shape[0]} "
                             f"image ('{face.source}') but the photo is {w}x{h}; pass the same photo")
        size = face.image.shape[:2]
        img = to_rgb_uint8(img, f"processed image {i}")
        if img.shape[:2] != size:
            smaller = img.shape[0] > size[0]
            img = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_AREA if smaller else cv2.INTER_CUBIC)
        alpha = np.ones(size, np.float32) if face.mask is None else np.asarray(face.mask, np.float32)
        alpha = alpha * _border_taper(size, feather * max(size))
        # the photo region under the part of the crop the mask keeps
        ys, xs = np.nonzero(alpha > 1e-3)
        if len(xs) == 0:
            continue
        box = np.array([[[xs.min() - 1, ys.min() - 1], [xs.max() + 1, ys.min() - 1],
                         [xs.min() - 1, ys.max() + 1], [xs.max() + 1, ys.max() + 1]]], np.float64)
        corners = cv2.transform(box, face.matrix)[0]
        x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - 1, 0)
        x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 2
        x1, y1 = min(x1, w), min(y1, h)
        for top in range(y0, y1, _STRIP):  # strips of rows bound the memory for huge faces
            bottom = min(top + _STRIP, y1)
            m = np.asarray(face.matrix, np.float64).copy()
            m[:, 2] -= (x0, top)
            roi = (x1 - x0, bottom - top)
            fg = cv2.warpAffine(img, m, roi, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
            a = cv2.warpAffine(alpha, m, roi, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                               borderValue=0)
            a = np.clip(a, 0.0, 1.0, out=a)
            region = np.ascontiguousarray(out[top:bottom, x0:x1])
            out[top:bottom, x0:x1] = cv2.blendLinear(fg, region, a, 1.0 - a)  # uint8 in and out
    return out
