"""Face/head masks of aligned faces (background removal) and compositing onto white.

A mask backend is any callable ``fn(image, landmarks) -> float32 HxW in [0, 1]`` (image: aligned RGB
uint8, landmarks: 68x2 in its pixels). Built in:

- ``'grabcut'`` (default, no weights): OpenCV GrabCut seeded with the landmark hull as sure
  foreground, the crop border as sure background and a head/neck-shaped probable foreground, then
  cleaned (parts touching the face, holes filled) and feathered.
- ``'ellipse'``: a feathered ellipse around the face and hair (instant, crude).
- ``'none'``: everything foreground.
- :class:`SegmentationModelMask`: a user-supplied portrait segmentation network run with OpenCV's
  DNN module (ONNX; frozen TensorFlow .pb such as photo2cartoon's ``seg_model_384.pb`` as far as
  OpenCV's importer supports its layers).
"""
import os
import re

import cv2
import numpy as np

MASKS = ("grabcut", "ellipse", "none", "model")


def _feather(mask, size):
    """Blur a {0, 1} mask's edges over about 1% of the crop size."""
    sigma = max(0.5, 0.01 * size)
    return np.clip(cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma), 0.0, 1.0)


def _head_ellipse(landmarks, grow=1.0):
    """``(center, axes)`` of an ellipse over the face and the hair above it (cv2.ellipse units)."""
    pts = np.asarray(landmarks, dtype=np.float64)
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    w, h = x1 - x0, y1 - y0
    top, bottom = y0 - 0.65 * h, y1 + 0.05 * h  # forehead and hair above the brows, down to the chin
    center = (int(round((x0 + x1) / 2)), int(round((top + bottom) / 2)))
    axes = (int(round(0.5 * w * 1.35 * grow)), int(round((bottom - top) / 2 * grow)))
    return center, axes


def _hull(landmarks, shape):
    out = np.zeros(shape, np.uint8)
    hull = cv2.convexHull(np.round(np.asarray(landmarks)).astype(np.int32))
    cv2.fillConvexPoly(out, hull, 1)
    return out


def ellipse_mask(image, landmarks):
    """A feathered ellipse over the face and hair: no segmentation at all, just geometry."""
    h, w = image.shape[:2]
    m = np.zeros((h, w), np.uint8)
    center, axes = _head_ellipse(landmarks)
    cv2.ellipse(m, center, axes, 0, 0, 360, 1, -1)
    return _feather(np.maximum(m, _hull(landmarks, (h, w))), max(h, w))


def full_mask(image, landmarks=None):
    """Everything is foreground."""
    return np.ones(image.shape[:2], np.float32)


def _keep_face_part(fg, hull):
    """The connected parts of ``fg`` that touch the landmark hull, with their holes filled."""
    _, labels = cv2.connectedComponents(fg, connectivity=8)
    keep = np.unique(labels[(hull > 0) & (fg > 0)])
    out = np.isin(labels, keep[keep > 0]).astype(np.uint8)
    # holes: background parts that do not touch the border
    _, labels = cv2.connectedComponents(1 - out, connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    holes = (labels > 0) & ~np.isin(labels, border)
    out[holes] = 1
    return out


def _head_and_neck(landmarks, shape, grow=1.0, neck=0.3):
    """{0, 1} map of the head ellipse (scaled by ``grow``) and a neck strip ``neck`` x the jaw width
    to each side of the chin, from the mouth down to the bottom of the crop."""
    pts = np.asarray(landmarks, dtype=np.float64)
    out = np.zeros(shape, np.uint8)
    center, axes = _head_ellipse(pts, grow)
    cv2.ellipse(out, center, axes, 0, 0, 360, 1, -1)
    jaw_w = pts[:17, 0].max() - pts[:17, 0].min()
    x0, x1 = int(round(pts[8, 0] - neck * jaw_w)), int(round(pts[8, 0] + neck * jaw_w))
    out[int(round(pts[57, 1])):, max(x0, 0):max(x1, 0)] = 1
    return out


def grabcut_mask(image, landmarks, iterations=4, border=0.03, work_size=320):
    """Head mask by GrabCut (Rother et al. 2004) seeded from the landmarks.

    Seeds: the landmark hull is sure foreground; the head ellipse and a neck strip are probable
    foreground; a band ``border`` x size wide along the top and the sides above the chin is sure
    background (where the head does not reach it); the rest is probable background. The result is
    limited to a generous head-and-neck region (shoulders and body are left out), keeps the parts
    connected to the face, fills holes and is feathered. Crops larger than ``work_size`` are
    segmented at that size (GrabCut's cost grows with the pixel count) and the mask scaled up.
    """
    rgb = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
    full_h, full_w = rgb.shape[:2]
    pts = np.asarray(landmarks, dtype=np.float64)
    scale = min(1.0, work_size / max(full_h, full_w))
    if scale < 1.0:
        rgb = cv2.resize(rgb, (round(full_w * scale), round(full_h * scale)), interpolation=cv2.INTER_AREA)
        pts = (pts + 0.5) * scale - 0.5
    h, w = rgb.shape[:2]
    hull = _hull(pts, (h, w))
    head = _head_and_neck(pts, (h, w))
    seeds = np.where(head > 0, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    b = max(2, int(round(border * max(h, w))))
    band = np.zeros((h, w), bool)
    chin = min(h, int(round(pts[:17, 1].max())))
    band[:b], band[:chin, :b], band[:chin, -b:] = True, True, True
    seeds[band & (head == 0)] = cv2.GC_BGD
    seeds[hull > 0] = cv2.GC_FGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut's GMM initialisation draws from OpenCV's global RNG: same photo, same mask
    cv2.grabCut(rgb, seeds, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    fg = ((seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)).astype(np.uint8)
    fg &= _head_and_neck(pts, (h, w), grow=1.3, neck=0.4)
    k = max(3, (max(h, w) // 64) | 1)  # ~5 px at 256: removes specks and thin bridges to the background
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, kernel)
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, kernel)
    fg = _keep_face_part(np.maximum(fg, hull), hull)
    if scale < 1.0:
        fg = (cv2.resize(fg.astype(np.float32), (full_w, full_h), interpolation=cv2.INTER_LINEAR) > 0.5)
    return _feather(fg, max(full_h, full_w))


class SegmentationModelMask:
    """A portrait/face segmentation network with user-supplied weights, run by OpenCV's DNN module.

    The defaults follow photo2cartoon's ``FaceSeg`` (``seg_model_384.pb``: RGB input resized to
    384x384 with INTER_AREA, scaled to [0, 1], one sigmoid output channel). ``channel`` picks the
    foreground channel of a multi-channel output (``softmax=True`` first normalises the channels).
    """

    def __init__(self, weights, input_size=384, scale=1 / 255.0, mean=(0.0, 0.0, 0.0), channel=-1,
                 softmax=False, config=None):
        weights = os.fspath(weights)
        if not os.path.isfile(weights):
            raise FileNotFoundError(f"segmentation weights '{weights}' not found. Fix: pass the path of an "
                                    f"ONNX or TensorFlow .pb model (e.g. photo2cartoon's seg_model_384.pb), "
                                    f"or use mask='grabcut' which needs no weights")
        try:
            self.net = cv2.dnn.readNet(weights, os.fspath(config) if config else "")
        except cv2.error as err:
            lines = str(err).strip().splitlines() or [""]
            cause = re.sub(r"^.*error: \([^)]*\)\s*|\s*in function .*$", "", lines[-1])
            raise ValueError(f"OpenCV cannot load the segmentation model '{weights}': {cause}. Fix: pass an "
                             f"ONNX model (or a frozen TensorFlow graph .pb); other formats are not read "
                             f"by this OpenCV") from None
        self.weights = weights
        self.input_size, self.scale, self.mean = int(input_size), float(scale), tuple(mean)
        self.channel, self.softmax = channel, softmax

    def __call__(self, image, landmarks=None):
        h, w = image.shape[:2]
        x = cv2.resize(image[..., :3], (self.input_size, self.input_size), interpolation=cv2.INTER_AREA)
        blob = cv2.dnn.blobFromImage(x, self.scale, mean=self.mean, swapRB=False)
        self.net.setInput(blob)
        out = np.asarray(self.net.forward(), dtype=np.float32)
        out = out.reshape(out.shape[-3:] if out.ndim >= 3 else (1,) + out.shape)
        if out.shape[-1] <= 4 < out.shape[0]:  # NHWC output (TensorFlow): channels last
            out = out.transpose(2, 0, 1)
        if self.softmax:
            e = np.exp(out - out.max(axis=0, keepdims=True))
            out = e / e.sum(axis=0, keepdims=True)
        prob = cv2.resize(out[self.channel], (w, h), interpolation=cv2.INTER_LINEAR)
        return np.clip(prob, 0.0, 1.0).astype(np.float32)


def get_mask_fn(mask, weights=None):
    """A mask backend from a name in :data:`MASKS` (``'model'`` needs ``weights``) or a callable."""
    if callable(mask):
        return mask
    if mask == "model":
        if not weights:
            raise ValueError("mask='model' needs mask_weights=<path of the segmentation model>")
        return SegmentationModelMask(weights)
    fns = {"grabcut": grabcut_mask, "ellipse": ellipse_mask, "none": full_mask}
    if mask not in fns:
        raise ValueError(f"unknown mask backend '{mask}'; use one of {MASKS} or a callable(image, landmarks)")
    return fns[mask]


def composite_on_white(image, mask):
    """``image * mask + 255 * (1 - mask)`` as uint8 (photo2cartoon's input: the face on white)."""
    m = np.asarray(mask, dtype=np.float32)[..., None]
    out = image[..., :3].astype(np.float32) * m + 255.0 * (1.0 - m)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
