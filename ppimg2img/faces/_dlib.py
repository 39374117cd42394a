"""Lazy access to dlib and the models of the ``face-recognition-models`` package.

Nothing here imports dlib at module import time: ``import ppimg2img.faces`` stays cheap and works
without dlib; the first detection imports it and loads each model once per process.
"""
import functools

INSTALL_HINT = "pip install dlib-bin face-recognition-models"


def import_dlib():
    """The ``dlib`` module, or an ImportError that says how to install it."""
    try:
        import dlib
    except ImportError as err:
        raise ImportError(f"face detection needs dlib, which is not installed: {INSTALL_HINT} "
                          f"(dlib-bin is a prebuilt wheel; 'pip install dlib' builds it from source). "
                          f"(original error: {err})") from None
    return dlib


def model_file(name):
    """Path of a model file shipped in ``face_recognition_models`` (nothing is downloaded)."""
    try:
        import face_recognition_models
    except ImportError as err:
        raise ImportError(f"the dlib face models are not installed: {INSTALL_HINT} "
                          f"(original error: {err})") from None
    return getattr(face_recognition_models, name)()


@functools.lru_cache(maxsize=None)
def hog_detector():
    """dlib's HOG + linear SVM frontal face detector (built into dlib)."""
    return import_dlib().get_frontal_face_detector()


@functools.lru_cache(maxsize=None)
def cnn_detector():
    """dlib's CNN face detector (max-margin object detection, ``mmod_human_face_detector.dat``)."""
    return import_dlib().cnn_face_detection_model_v1(model_file("cnn_face_detector_model_location"))


@functools.lru_cache(maxsize=None)
def shape_predictor():
    """dlib's 68-point landmark predictor (``shape_predictor_68_face_landmarks.dat``, iBUG 300-W layout)."""
    return import_dlib().shape_predictor(model_file("pose_predictor_model_location"))
