"""Face alignment: roll correction + photo2cartoon crop, or a similarity warp to a 5-point template.

Every alignment is one affine matrix (source -> aligned) applied with a single ``cv2.warpAffine``
(outside the photo filled white, as photo2cartoon pads its crops); the AlignedFace keeps it and its
inverse (aligned -> source) for pasting back.
"""
from dataclasses import dataclass, field

import cv2
import numpy as np
from skimage.transform import SimilarityTransform

from .mask import composite_on_white

ALIGN_METHODS = ("crop", "template")

#: 5-point template (left eye, right eye, nose tip, left and right mouth corners) as fractions of
#: the output size: the ArcFace/InsightFace 112x112 template divided by 112.
ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                             [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float64) / 112.0

WHITE = (255, 255, 255)


@dataclass
class AlignedFace:
    """A face cut out of a photo.

    ``image`` is the aligned RGB uint8 crop (size x size); ``mask`` its face/head mask (float32 HxW in
    [0, 1], None until computed); ``matrix`` the 2x3 affine map aligned -> source photo and
    ``inverse`` source -> aligned; ``landmarks`` 68x2 in aligned pixels; ``box``, ``score`` and
    ``source_landmarks`` come from the detection; ``source`` names the photo and ``source_shape`` is
    its (height, width).
    """

    image: np.ndarray
    matrix: np.ndarray
    inverse: np.ndarray
    landmarks: np.ndarray
    box: tuple
    score: float = 0.0
    source_landmarks: np.ndarray = None
    source: str = "<array>"
    source_shape: tuple = None
    mask: np.ndarray = field(default=None, repr=False)

    def on_white(self):
        """The face composited onto white through its mask (what photo2cartoon's generator expects)."""
        return self.image.copy() if self.mask is None else composite_on_white(self.image, self.mask)


def _h(m):
    """2x3 -> 3x3 homogeneous."""
    return np.vstack([np.asarray(m, dtype=np.float64)[:2], [0.0, 0.0, 1.0]])


def roll_angle(landmarks):
    """Angle in degrees of the line from the outer eye corners 36 to 45 (0 when the eyes are level)."""
    (xl, yl), (xr, yr) = np.asarray(landmarks, dtype=np.float64)[[36, 45]]
    return float(np.degrees(np.arctan2(yr - yl, xr - xl)))


def crop_matrix(landmarks, size=256, top=0.8, bottom=0.3, side=0.3):
    """2x3 source -> aligned matrix of the photo2cartoon crop (``utils/face_detect.py`` and
    ``data_process.py`` in minivision-ai/photo2cartoon).

    The photo is rotated about the eye centre so the outer eye corners (36, 45) are level; the box
    of the rotated landmarks is extended by ``top`` x its height above, ``bottom`` below and ``side``
    x its width on each side, made square around its centre, and scaled to ``size``.
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    center = tuple(float(c) for c in (pts[36] + pts[45]) / 2.0)
    rot = cv2.getRotationMatrix2D(center, roll_angle(pts), 1.0)
    rotated = cv2.transform(pts[None], rot)[0]
    (x0, y0), (x1, y1) = rotated.min(axis=0), rotated.max(axis=0)
    w, h = x1 - x0, y1 - y0
    left, right = x0 - side * w, x1 + side * w
    upper, lower = y0 - top * h, y1 + bottom * h
    length = max(right - left, lower - upper)
    cx, cy = (left + right) / 2.0, (upper + lower) / 2.0
    scale = size / length
    # pixel-centre convention: the square [cx - length/2, cx + length/2) becomes [0, size)
    to_crop = np.array([[scale, 0.0, (length / 2.0 - cx) * scale + 0.5 * scale - 0.5],
                        [0.0, scale, (length / 2.0 - cy) * scale + 0.5 * scale - 0.5]])
    return (_h(to_crop) @ _h(rot))[:2]


def five_points(landmarks):
    """Eye centres (mean of 36-41 and 42-47), nose tip (30) and mouth corners (48, 54) from 68 landmarks."""
    pts = np.asarray(landmarks, dtype=np.float64)
    return np.stack([pts[36:42].mean(axis=0), pts[42:48].mean(axis=0), pts[30], pts[48], pts[54]])


def template_matrix(landmarks, size=256, template=ARCFACE_TEMPLATE):
    """2x3 source -> aligned similarity (rotation, uniform scale, translation) that best maps the
    face's 5 points onto ``template`` (5x2 fractions of ``size``), least squares (Umeyama)."""
    template = np.asarray(template, dtype=np.float64)
    if template.shape != (5, 2):
        raise ValueError(f"the alignment template must be 5x2 (eyes, nose tip, mouth corners), got {template.shape}")
    tform = SimilarityTransform.from_estimate(five_points(landmarks), template * size)
    if not tform:
        raise ValueError(f"cannot estimate a similarity transform from these landmarks ({tform})")
    return tform.params[:2]


def warp_face(image, matrix, size, border_value=WHITE):
    """``cv2.warpAffine`` of ``image`` by the source -> aligned ``matrix`` into a size x size crop.

    Only the part of the photo under the crop is touched (huge photos are never copied whole), and
    strong downscaling first shrinks that part with INTER_AREA so the result does not alias.
    """
    m = _h(matrix)
    inv = np.linalg.inv(m)
    corners = cv2.transform(np.array([[[0, 0], [size, 0], [0, size], [size, size]]], np.float64), inv[:2])[0]
    h, w = image.shape[:2]
    x0, y0 = np.floor(corners.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:  # the crop lies entirely outside the photo
        shape = (size, size) + image.shape[2:]
        return np.full(shape, border_value[0] if image.ndim == 2 else border_value, image.dtype)
    roi = image[y0:y1, x0:x1]
    m = m @ _h([[1, 0, x0], [0, 1, y0]])  # roi pixels -> aligned
    scale = np.sqrt(abs(np.linalg.det(m[:2, :2])))
    if scale < 0.5:  # shrink the roi to about twice the output resolution first
        f = 2.0 * scale
        small = (max(1, round(roi.shape[1] * f)), max(1, round(roi.shape[0] * f)))
        fx, fy = small[0] / roi.shape[1], small[1] / roi.shape[0]
        roi = cv2.resize(roi, small, interpolation=cv2.INTER_AREA)
        # resized pixel q = (p + 0.5) * f - 0.5  ->  p = (q + 0.5) / f - 0.5
        m = m @ _h([[1 / fx, 0, 0.5 / fx - 0.5], [0, 1 / fy, 0.5 / fy - 0.5]])
    return cv2.warpAffine(np.ascontiguousarray(roi), m[:2], (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=border_value)


def align_face(rgb, face, size=256, method="crop", template=ARCFACE_TEMPLATE, source="<array>"):
    """Cut ``face`` (a :class:`~ppimg2img.faces.detect.Face`) out of the RGB photo ``rgb``.

    ``method='crop'``: roll correction + the photo2cartoon crop (:func:`crop_matrix`);
    ``method='template'``: similarity warp to the 5-point ``template`` (:func:`template_matrix`).
    """
    if method == "crop":
        to_aligned = crop_matrix(face.landmarks, size)
    elif method == "template":
        to_aligned = template_matrix(face.landmarks, size, template)
    else:
        raise ValueError(f"unknown alignment method '{method}'; use one of {ALIGN_METHODS}")
    return AlignedFace(
        image=warp_face(rgb, to_aligned, size),
        matrix=cv2.invertAffineTransform(to_aligned),
        inverse=np.asarray(to_aligned, dtype=np.float64),
        landmarks=cv2.transform(np.asarray(face.landmarks, np.float64)[None], to_aligned)[0].astype(np.float32),
        box=tuple(face.box), score=float(face.score),
        source_landmarks=np.asarray(face.landmarks, np.float32), source=source, source_shape=rgb.shape[:2])
