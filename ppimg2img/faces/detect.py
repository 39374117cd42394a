"""Face detection (dlib HOG or CNN) and 68-point landmarks (dlib shape predictor).

Detection runs on a copy downscaled so its longer side is at most ``max_side`` (huge photos
never reach dlib at full size); boxes are mapped back to the input. Landmarks are predicted on
a crop around each box, at most ``_LANDMARK_FACE_SIZE`` pixels wide, and mapped back too.
"""
from dataclasses import dataclass

import cv2
import numpy as np

from . import _dlib
from .image import to_rgb_uint8

DETECTORS = ("hog", "cnn")
_LANDMARK_FACE_SIZE = 320  # face width (px) the landmarks are predicted at (dlib's model: ~200-300 px faces)


class NoFaceFoundError(ValueError):
    """No face was found in a photo; ``source`` names it."""

    def __init__(self, source, detail=""):
        self.source = str(source)
        self.detail = detail
        super().__init__(
            f"no face found in '{self.source}'{detail}. Fix: use a photo with a frontal, upright face "
            f"(at least ~40 px wide after downscaling to max_side), or try the CNN detector "
            f"(detector='cnn', --detector cnn: small, turned and tilted faces) or a larger max_side")

    def __reduce__(self):
        return (type(self), (self.source, self.detail))


@dataclass
class Face:
    """One detected face. ``box`` is (x0, y0, x1, y1) and ``landmarks`` 68x2 (x, y) float32, both in
    input-image pixels; ``score`` is the detector's confidence (SVM margin for HOG, MMOD for CNN)."""

    box: tuple
    landmarks: np.ndarray
    score: float

    @property
    def area(self):
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


def _downscaled(rgb, max_side):
    """``(image, scale)``: ``rgb`` resized (INTER_AREA) so its longer side is at most ``max_side``."""
    scale = min(1.0, max_side / max(rgb.shape[:2])) if max_side else 1.0
    if scale >= 1.0:
        return rgb, 1.0
    h, w = rgb.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), scale


def _run_detector(img, detector, upsample):
    """dlib boxes ``[(x0, y0, x1, y1, score)]`` in ``img`` pixels."""
    if detector == "hog":
        rects, scores, _ = _dlib.hog_detector().run(img, upsample, 0.0)
        return [(r.left(), r.top(), r.right() + 1, r.bottom() + 1, float(s)) for r, s in zip(rects, scores)]
    found = _dlib.cnn_detector()(img, upsample)
    return [(d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1, float(d.confidence))
            for d in found]


def _landmarks(rgb, box):
    """68x2 landmarks of the face in ``box`` (input pixels), predicted on a crop around it."""
    dlib = _dlib.import_dlib()
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    h_img, w_img = rgb.shape[:2]
    cx0, cy0 = max(0, int(x0 - w)), max(0, int(y0 - h))  # crop: the box plus one box size around it
    cx1, cy1 = min(w_img, int(np.ceil(x1 + w))), min(h_img, int(np.ceil(y1 + h)))
    crop = rgb[cy0:cy1, cx0:cx1]
    s = min(1.0, _LANDMARK_FACE_SIZE / max(w, 1.0))
    if s < 1.0:
        crop = cv2.resize(crop, (max(1, round(crop.shape[1] * s)), max(1, round(crop.shape[0] * s))),
                          interpolation=cv2.INTER_AREA)
    rect = dlib.rectangle(round((x0 - cx0) * s), round((y0 - cy0) * s),
                          round((x1 - cx0) * s) - 1, round((y1 - cy0) * s) - 1)
    shape = _dlib.shape_predictor()(np.ascontiguousarray(crop), rect)
    pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
    return pts / np.float32(s) + np.array([cx0, cy0], dtype=np.float32)


def detect_faces(image, detector="hog", max_side=1024, upsample=None, max_faces=None, min_score=0.0):
    """All faces in an image, largest first (``[]`` when there is none).

    Args:
        image: RGB uint8 array (grayscale, RGBA, 16-bit and float arrays are converted, see
            :func:`~ppimg2img.faces.image.to_rgb_uint8`).
        detector: ``'hog'`` (dlib's HOG frontal detector: fast, upright frontal faces) or ``'cnn'``
            (dlib's MMOD CNN: slower, finds smaller, turned and rotated faces).
        max_side: detection runs on a copy whose longer side is at most this (None: full size).
        upsample: how many times dlib upsamples the detection image (each finds faces half as
            small, at 4x the cost); default 1 for HOG (faces down to ~40 px), 0 for CNN.
        max_faces: keep only the largest N faces (None: all).
        min_score: drop detections scoring below this (dlib's own threshold is 0). Real faces
            usually score above 1 with HOG; ~0.5 removes most false positives (badges, patterns)
            but also some tiny or blurred faces.
    """
    if detector not in DETECTORS:
        raise ValueError(f"unknown face detector '{detector}'; use one of {DETECTORS}")
    rgb = to_rgb_uint8(image)
    small, scale = _downscaled(rgb, max_side)
    if upsample is None:
        upsample = 1 if detector == "hog" else 0
    h, w = rgb.shape[:2]
    faces = []
    for x0, y0, x1, y1, score in _run_detector(small, detector, int(upsample)):
        box = (max(0, round(x0 / scale)), max(0, round(y0 / scale)),
               min(w, round(x1 / scale)), min(h, round(y1 / scale)))
        if score < min_score or box[2] - box[0] < 2 or box[3] - box[1] < 2:
            continue
        faces.append(Face(box=box, landmarks=_landmarks(rgb, box), score=score))
    faces.sort(key=lambda f: f.area, reverse=True)
    return faces[:max_faces] if max_faces else faces
