"""FacePipeline: detect -> align -> mask for every face of a photo, and paste-back."""
from .align import ALIGN_METHODS, ARCFACE_TEMPLATE, align_face
from .detect import DETECTORS, NoFaceFoundError, detect_faces
from .image import read_photo
from .mask import get_mask_fn
from .paste import paste_back


class FacePipeline:
    """Faces of photos, ready for a face-to-face model such as photo2cartoon.

    Args:
        size: side of the aligned square faces (photo2cartoon: 256).
        detector: ``'hog'`` (default, fast) or ``'cnn'`` (dlib MMOD: smaller / rotated faces, slower).
        max_faces: process only the largest N faces (None: all).
        mask: ``'grabcut'`` (default), ``'ellipse'``, ``'none'``, ``'model'`` (with ``mask_weights``)
            or a callable ``(aligned image, landmarks) -> float HxW mask in [0, 1]``.
        align: ``'crop'`` (roll correction + photo2cartoon crop) or ``'template'`` (similarity warp
            to the 5-point ``template``, fractions of ``size``; ArcFace's by default).
        max_side: detection runs on a copy downscaled to this longer side.
        upsample: dlib upsampling for detection (None: 1 for HOG, 0 for CNN).
        mask_weights: segmentation model file for ``mask='model'``.
        min_score: drop detections scoring below this (0 as dlib; ~0.5 drops most false positives).
    """

    def __init__(self, size=256, detector="hog", max_faces=None, mask="grabcut", align="crop",
                 max_side=1024, upsample=None, mask_weights=None, template=ARCFACE_TEMPLATE, min_score=0.0):
        if detector not in DETECTORS:
            raise ValueError(f"unknown face detector '{detector}'; use one of {DETECTORS}")
        if align not in ALIGN_METHODS:
            raise ValueError(f"unknown alignment method '{align}'; use one of {ALIGN_METHODS}")
        if int(size) < 16:
            raise ValueError(f"aligned face size must be at least 16 pixels, got {size}")
        if max_faces is not None and int(max_faces) < 1:
            raise ValueError(f"max_faces must be a positive number or None (all faces), got {max_faces}")
        self.size, self.detector, self.max_faces = int(size), detector, max_faces
        self.align, self.template = align, template
        self.max_side, self.upsample, self.min_score = max_side, upsample, float(min_score)
        self.mask_fn = get_mask_fn(mask, mask_weights)

    def detect(self, image):
        """:class:`~ppimg2img.faces.detect.Face` list of an RGB array, largest first (may be empty)."""
        return detect_faces(image, self.detector, self.max_side, self.upsample, self.max_faces, self.min_score)

    def process(self, image, source=None):
        """Aligned, masked faces of a photo (file path or array), largest first.

        Raises :class:`NoFaceFoundError` naming ``source`` (or the path) when there is no face.
        """
        rgb, source = read_photo(image, source)
        faces = self.detect(rgb)
        if not faces:
            raise NoFaceFoundError(source, f" (detector '{self.detector}', {rgb.shape[1]}x{rgb.shape[0]} image)")
        aligned = []
        for face in faces:
            a = align_face(rgb, face, self.size, self.align, self.template, source)
            a.mask = self.mask_fn(a.image, a.landmarks)
            aligned.append(a)
        return aligned

    @staticmethod
    def paste_back(photo, aligned_faces, processed_images, feather=0.03):
        """See :func:`ppimg2img.faces.paste.paste_back` (``photo`` may be a path)."""
        rgb, _ = read_photo(photo)
        return paste_back(rgb, aligned_faces, processed_images, feather)
