"""Face pipeline for face-to-face models (photo2cartoon): detect, align, mask, paste back.

    from ppimg2img.faces import FacePipeline
    pipe = FacePipeline(size=256, detector="hog", max_faces=None, mask="grabcut")
    faces = pipe.process("photo.jpg")             # list[AlignedFace], largest first
    x = faces[0].on_white()                       # 256x256 RGB uint8, background white
    y = my_model(x)                               # e.g. a cartoonised face, any size
    out = pipe.paste_back("photo.jpg", faces[:1], [y])  # the photo with the face replaced

Steps (each usable on its own):

- :func:`detect_faces(image, detector='hog', max_side=1024, upsample=None, max_faces=None)
  <ppimg2img.faces.detect.detect_faces>` -> ``list[Face]`` (``box`` (x0, y0, x1, y1), ``landmarks``
  68x2, ``score``; input-image pixels; largest first). dlib's HOG frontal detector (default) or its
  CNN (MMOD) detector run on a copy downscaled to ``max_side``; 68 landmarks by dlib's shape
  predictor. The models ship in ``face-recognition-models`` and load once per process. dlib is
  imported only when first needed (``pip install dlib-bin face-recognition-models``).
- :func:`align_face(rgb, face, size=256, method='crop') <ppimg2img.faces.align.align_face>` ->
  :class:`AlignedFace`: ``'crop'`` levels the outer eye corners (landmarks 36, 45), then takes
  photo2cartoon's crop (landmark box + 0.8 x height above, 0.3 x height below, 0.3 x width each
  side, made square, white outside the photo); ``'template'`` is a similarity warp to a 5-point
  template (:data:`ARCFACE_TEMPLATE`). ``AlignedFace.matrix`` (2x3) maps aligned -> photo,
  ``.inverse`` photo -> aligned; ``.landmarks`` are in aligned pixels.
- masks (:mod:`ppimg2img.faces.mask`): ``'grabcut'`` (default, no weights), ``'ellipse'``,
  ``'none'``, :class:`SegmentationModelMask` (user weights through OpenCV DNN) or any callable
  ``(aligned image, landmarks) -> float32 HxW in [0, 1]``; :func:`composite_on_white`.
- :func:`paste_back(photo, aligned_faces, processed_images) <ppimg2img.faces.paste.paste_back>`:
  processed faces warped back through the inverse alignment and blended with the feathered mask.

Photos may be file paths (read by ``load_image``: EXIF orientation, 16-bit, alpha, grayscale) or
arrays (grayscale, RGBA composited on white, uint16, float in [0, 1]). A photo without a face
raises :class:`NoFaceFoundError` naming it.
"""
from .align import ARCFACE_TEMPLATE, AlignedFace, align_face, crop_matrix, roll_angle, template_matrix
from .detect import Face, NoFaceFoundError, detect_faces
from .image import read_photo, to_rgb_uint8
from .mask import SegmentationModelMask, composite_on_white, ellipse_mask, get_mask_fn, grabcut_mask
from .paste import paste_back
from .pipeline import FacePipeline

__all__ = [
    "ARCFACE_TEMPLATE", "AlignedFace", "Face", "FacePipeline", "NoFaceFoundError", "SegmentationModelMask",
    "align_face", "composite_on_white", "crop_matrix", "detect_faces", "ellipse_mask", "get_mask_fn",
    "grabcut_mask", "paste_back", "read_photo", "roll_angle", "template_matrix", "to_rgb_uint8",
]
