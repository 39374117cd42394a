"""ppimg2img.faces on a real portrait: detection, alignment, masks, paste-back, awkward inputs."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from ppimg2img.faces import (ARCFACE_TEMPLATE, FacePipeline, NoFaceFoundError, SegmentationModelMask,
                             composite_on_white, detect_faces, paste_back, roll_angle)
from ppimg2img.faces import _dlib
from ppimg2img.faces.align import five_points
from ppimg2img.utils.image_io import load_image, save_image

from conftest import DATA, ROOT

PORTRAIT = os.path.join(DATA, "portrait_photo2cartoon.jpg")


def hull_mask(points, shape):
    out = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(out, cv2.convexHull(np.round(points).astype(np.int32)), 1)
    return out.astype(bool)


@pytest.fixture(scope="module")
def photo():
    return load_image(PORTRAIT)


@pytest.fixture(scope="module")
def aligned(photo):
    faces = FacePipeline().process(photo, source="portrait.jpg")
    assert len(faces) == 1
    return faces[0]


@pytest.fixture(scope="module")
def two_faces_rgba(photo):
    """The portrait rotated by 20 degrees, grayscale, with an alpha channel, twice side by side:
    at a third and at half of its size (so "largest first" has an answer)."""
    h, w = photo.shape[:2]
    rot = cv2.warpAffine(photo, cv2.getRotationMatrix2D((w / 2, h / 2), 20, 1.0), (w, h),
                         borderValue=(255, 255, 255))
    gray = cv2.cvtColor(rot, cv2.COLOR_RGB2GRAY)
    third = cv2.resize(gray, (w // 3, h // 3), interpolation=cv2.INTER_AREA)
    half = cv2.resize(gray, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    canvas = np.full((half.shape[0], third.shape[1] + half.shape[1]), 255, np.uint8)
    canvas[:third.shape[0], :third.shape[1]] = third
    canvas[:, third.shape[1]:] = half
    alpha = np.full_like(canvas, 255)
    alpha[:, :4] = 0  # a transparent strip: composited onto white
    return np.dstack([canvas, canvas, canvas, alpha]), third.shape[1]


def test_import_does_not_load_dlib():
    code = "import sys, ppimg2img, ppimg2img.faces; print('dlib' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_missing_dlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # makes `import dlib` fail
    with pytest.raises(ImportError, match="pip install dlib-bin face-recognition-models"):
        _dlib.import_dlib()


def test_models_load_once_per_process():
    assert _dlib.shape_predictor() is _dlib.shape_predictor()
    assert _dlib.hog_detector() is _dlib.hog_detector()


def test_portrait_has_exactly_one_face(photo):
    faces = detect_faces(photo)
    assert len(faces) == 1
    face = faces[0]
    x0, y0, x1, y1 = face.box
    assert 0 <= x0 < x1 <= photo.shape[1] and 0 <= y0 < y1 <= photo.shape[0]
    assert 150 < x1 - x0 < 350  # the face is about 220 px wide in the 594x600 photo
    assert face.landmarks.shape == (68, 2) and face.score > 0
    # the eyes and the nose tip lie inside the detection box
    for i in (36, 45, 30):
        assert x0 <= face.landmarks[i, 0] <= x1 and y0 <= face.landmarks[i, 1] <= y1
    assert abs(roll_angle(face.landmarks) + 5.5) < 2  # the subject's head is tilted ~5.5 degrees


def test_alignment_levels_eyes_and_keeps_landmarks(aligned):
    assert aligned.image.shape == (256, 256, 3) and aligned.image.dtype == np.uint8
    # landmarks found afresh on the aligned crop: the outer eye corners are level
    redetected = detect_faces(aligned.image)
    assert len(redetected) == 1
    assert abs(roll_angle(redetected[0].landmarks)) < 1.0
    assert np.abs(redetected[0].landmarks - aligned.landmarks).mean() < 4  # and agree with the mapped ones
    # the whole landmark set is inside the crop
    assert aligned.landmarks.min() >= 0 and aligned.landmarks.max() < 256
    assert aligned.source == "portrait.jpg" and aligned.source_shape == (600, 594)


def test_alignment_follows_photo2cartoon_crop(aligned):
    """Landmark box + 0.8 h above, 0.3 h below, 0.3 w each side, made square around its centre."""
    (x0, y0), (x1, y1) = aligned.landmarks.min(axis=0), aligned.landmarks.max(axis=0)
    w, h = x1 - x0, y1 - y0
    side = max(1.6 * w, 2.1 * h)
    assert side == pytest.approx(256, abs=1.0)
    assert y0 == pytest.approx((256 - 2.1 * h) / 2 + 0.8 * h - 0.5, abs=1.0)
    assert x0 == pytest.approx((256 - 1.6 * w) / 2 + 0.3 * w - 0.5, abs=1.0)


def test_matrix_maps_aligned_face_back_to_photo(aligned):
    back = cv2.transform(aligned.landmarks[None].astype(np.float64), aligned.matrix)[0]
    np.testing.assert_allclose(back, aligned.source_landmarks, atol=1e-3)
    np.testing.assert_allclose(np.vstack([aligned.matrix, [0, 0, 1]]) @ np.vstack([aligned.inverse, [0, 0, 1]]),
                               np.eye(3), atol=1e-9)


def test_mask_covers_face_and_leaves_corners_background(aligned):
    m = aligned.mask
    assert m.shape == (256, 256) and m.dtype == np.float32 and 0 <= m.min() and m.max() <= 1
    hull = hull_mask(aligned.landmarks, m.shape)
    assert m[hull].mean() > 0.97
    inner = cv2.erode(hull.astype(np.uint8), np.ones((17, 17), np.uint8)).astype(bool)  # past the feather
    assert m[inner].min() > 0.99
    for y, x in [(0, 0), (0, -1), (-1, 0), (-1, -1), (10, 10), (10, -11)]:
        assert m[y, x] < 0.02
    assert 0.25 < m.mean() < 0.7  # a head, not the whole crop nor a sliver
    # the composite is white where the mask is 0 and the photo where it is 1
    white = aligned.on_white()
    assert (white[:5, :5] == 255).all()
    np.testing.assert_array_equal(white[inner], aligned.image[inner])
    np.testing.assert_array_equal(composite_on_white(aligned.image, np.zeros((256, 256))), 255)


def test_paste_back_of_the_unmodified_face_reproduces_the_photo(photo, aligned):
    out = paste_back(photo, [aligned], [aligned.image])
    assert out.shape == photo.shape and out.dtype == np.uint8
    face = hull_mask(aligned.source_landmarks, photo.shape[:2])
    diff = np.abs(out.astype(np.int16) - photo.astype(np.int16))
    assert diff[face].mean() < 8
    x0, y0, x1, y1 = aligned.box
    assert diff[y0:y1, x0:x1].mean() < 8
    # far outside the crop nothing changes at all
    assert (diff[:, :30] == 0).all() and (diff[-30:] == 0).all()


def test_paste_back_replaces_the_face_only_inside_the_mask(photo, aligned):
    black = np.zeros((128, 128, 3), np.uint8)  # a "processed" face at another size
    out = FacePipeline.paste_back(PORTRAIT, [aligned], [black])
    face = hull_mask(aligned.source_landmarks, photo.shape[:2])
    face = cv2.erode(face.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    assert out[face].max() < 40  # the face is replaced...
    assert (out[:20, :20] == photo[:20, :20]).all()  # ...the rest of the photo is not
    no_mask = [type(aligned)(**{**aligned.__dict__, "mask": np.zeros((256, 256), np.float32)})]
    np.testing.assert_array_equal(paste_back(photo, no_mask, [black]), photo)


def test_paste_back_in_strips_is_seamless(photo, aligned, monkeypatch):
    from ppimg2img.faces import paste
    processed = [255 - aligned.image]
    whole = paste_back(photo, [aligned], processed)
    monkeypatch.setattr(paste, "_STRIP", 37)  # huge faces are blended a strip of rows at a time
    strips = paste_back(photo, [aligned], processed)
    diff = np.abs(strips.astype(np.int16) - whole)
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-4  # warpAffine's fixed-point rounding only


def test_paste_back_rejects_mismatches(photo, aligned):
    with pytest.raises(ValueError, match="1 aligned faces but 2 processed images"):
        paste_back(photo, [aligned], [aligned.image, aligned.image])
    with pytest.raises(ValueError, match=r"aligned from a 594x600 image \('portrait.jpg'\).*pass the same photo"):
        paste_back(photo[:300], [aligned], [aligned.image])


def test_rotated_small_gray_rgba_photo_twice(two_faces_rgba):
    rgba, split = two_faces_rgba
    faces = FacePipeline().process(rgba, source="two.png")
    assert len(faces) == 2
    first, second = faces
    assert first.box[0] >= split > second.box[2]  # the larger copy (right) comes first
    assert (first.box[2] - first.box[0]) > (second.box[2] - second.box[0])
    for f in faces:
        assert roll_angle(f.source_landmarks) == pytest.approx(-25.5, abs=3)  # 20 degrees + the head's tilt
        assert abs(roll_angle(f.landmarks)) < 1e-6
        assert f.image.shape == (256, 256, 3)
        assert np.ptp(f.image.astype(int), axis=2).max() <= 1  # still gray
    only = FacePipeline(max_faces=1).process(rgba)
    assert len(only) == 1 and only[0].box == first.box


def test_cnn_detector_finds_the_rotated_faces(two_faces_rgba):
    rgba, _ = two_faces_rgba
    faces = detect_faces(rgba, detector="cnn")
    assert len(faces) == 2
    assert faces[0].area >= faces[1].area
    assert all(abs(roll_angle(f.landmarks) + 25.5) < 4 for f in faces)


def test_min_score_drops_weak_detections():
    astronaut = skdata.astronaut()  # one face, and a mission patch that HOG scores just above 0
    faces = detect_faces(astronaut)
    assert len(faces) == 2 and faces[1].score < 0.5 < faces[0].score
    strict = detect_faces(astronaut, min_score=0.5)
    assert len(strict) == 1 and strict[0].box == faces[0].box


def test_photo_without_face_raises_naming_it(tmp_path):
    path = str(tmp_path / "coffee.png")
    save_image(path, skdata.coffee())
    with pytest.raises(NoFaceFoundError, match=r"no face found in '.*coffee.png'.*detector='cnn'") as info:
        FacePipeline(mask="none").process(path)
    assert info.value.source == path
    assert detect_faces(skdata.coffee()) == []


def test_exif_rotated_16bit_and_huge_photos(tmp_path, photo, aligned, monkeypatch):
    # stored lying on its side, with an EXIF tag saying "rotate 90 degrees clockwise to view"
    path = str(tmp_path / "exif.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.rot90(photo)).save(path, quality=92, exif=exif)
    faces = FacePipeline(mask="none").process(path)
    assert len(faces) == 1 and abs(roll_angle(faces[0].source_landmarks) + 5.5) < 2
    # 16-bit RGB array
    faces16 = detect_faces(photo.astype(np.uint16) * 257)
    assert len(faces16) == 1
    # a photo four times larger: dlib only ever sees a copy downscaled to max_side
    seen = []
    real = _dlib.hog_detector()

    class Spy:
        def run(self, img, *args):
            seen.append(img.shape)
            return real.run(img, *args)

    monkeypatch.setattr(_dlib, "hog_detector", lambda: Spy())
    big = cv2.resize(photo, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    faces_big = detect_faces(big, max_side=800)
    assert seen and max(seen[0][:2]) == 800
    assert len(faces_big) == 1
    small_landmarks = detect_faces(photo)[0].landmarks
    assert np.abs(faces_big[0].landmarks / 4 - small_landmarks).mean() < 2.5


def test_template_alignment_puts_eyes_nose_mouth_on_the_template(photo):
    faces = FacePipeline(size=112, align="template", mask="ellipse").process(photo)
    pts = five_points(faces[0].landmarks)
    assert np.abs(pts - ARCFACE_TEMPLATE * 112).max() < 6
    assert faces[0].image.shape == (112, 112, 3) and faces[0].mask.shape == (112, 112)
    back = cv2.transform(faces[0].landmarks[None].astype(np.float64), faces[0].matrix)[0]
    np.testing.assert_allclose(back, faces[0].source_landmarks, atol=1e-3)


def test_custom_mask_backend_is_called(photo):
    calls = []

    def half(image, landmarks):
        calls.append((image.shape, landmarks.shape))
        m = np.zeros(image.shape[:2], np.float32)
        m[:, : image.shape[1] // 2] = 1
        return m

    faces = FacePipeline(size=64, mask=half).process(photo)
    assert calls == [((64, 64, 3), (68, 2))]
    assert faces[0].mask[:, :32].min() == 1 and faces[0].mask[:, 32:].max() == 0


def test_segmentation_model_backend(tmp_path, monkeypatch):
    weights = tmp_path / "seg.onnx"
    weights.write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"cannot load the segmentation model '.*seg.onnx'.*ONNX"):
        SegmentationModelMask(weights)
    with pytest.raises(FileNotFoundError, match="mask='grabcut' which needs no weights"):
        FacePipeline(mask="model", mask_weights=str(tmp_path / "missing.onnx"))
    with pytest.raises(ValueError, match="needs mask_weights"):
        FacePipeline(mask="model")

    class FakeNet:  # a "network" whose NHWC output is the input's red channel, at 8x8
        def setInput(self, blob):
            self.blob = blob

        def forward(self):
            return self.blob[:, :1].transpose(0, 2, 3, 1)

    monkeypatch.setattr(cv2.dnn, "readNet", lambda *a: FakeNet())
    seg = SegmentationModelMask(weights, input_size=8)
    image = np.zeros((40, 40, 3), np.uint8)
    image[:20, :, 0] = 255
    m = seg(image)
    assert m.shape == (40, 40) and m.dtype == np.float32
    assert m[:15].min() > 0.99 and m[25:].max() < 0.01


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown face detector 'sfd'"):
        FacePipeline(detector="sfd")
    with pytest.raises(ValueError, match="unknown mask backend 'magic'"):
        FacePipeline(mask="magic")
    with pytest.raises(ValueError, match="unknown alignment method"):
        FacePipeline(align="affine")
    with pytest.raises(ValueError, match="max_faces must be a positive number"):
        FacePipeline(max_faces=0)
    with pytest.raises(ValueError, match="expected an HxW, HxWx1, HxWx2, HxWx3 or HxWx4 image"):
        detect_faces(np.zeros((4, 4, 5), np.uint8))
