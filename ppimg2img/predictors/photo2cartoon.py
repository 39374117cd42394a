"""Photo2CartoonPredictor: faces of a photo -> cartoon faces (minivision photo2cartoon)."""
import os

import numpy as np

from .base import BasePredictor, logger

#: the files PaddleGAN's ``ppgan.apps.Photo2CartoonPredictor.run`` writes into its ``output_path``
PADDLEGAN_FILES = ("p2c_photo.png", "p2c_cartoon.png")


class Photo2CartoonPredictor(BasePredictor):
    """Cartoonise the faces of photos with photo2cartoon (Soft-AdaLIN U-GAT-IT, minivision).

    Each photo goes through :class:`~ppimg2img.faces.FacePipeline`: dlib detection, 68
    landmarks, the photo2cartoon crop (256x256) and a head mask. As the original ``test.py``:
    the face is composited onto white through the mask, translated, and the cartoon is put
    back onto white through the same mask.

    Args:
        faces: ``'largest'`` (default) or ``'all'``.
        paste_back: also return/write the photo with the cartoon faces blended back in.
        detector, mask: passed to ``FacePipeline`` (``'hog'``/``'cnn'``; ``'grabcut'``, ``'ellipse'``...).
        output_path: PaddleGAN's output folder (default ``'output'`` as PaddleGAN) for ``p2c_photo.png``
            and ``p2c_cartoon.png`` (below); None: not written.
        Other arguments as :class:`BasePredictor`. ``model`` defaults to PaddleGAN's release,
        which downloads directly (``'minivision/photo2cartoon'`` is the authors' own file).

    :meth:`run` returns, per photo, the cartoon of the largest face (256x256 RGB uint8), or the
    photo with the cartoons pasted back when ``paste_back``. With ``output_dir`` it writes
    ``<name>_aligned.png`` (the aligned face on white: what the network sees), ``<name>_cartoon.png``
    (``_aligned_2``/``_cartoon_2``... for further faces with ``faces='all'``) and
    ``<name>_pasted.png`` with ``paste_back``.

    As PaddleGAN's ``ppgan.apps.Photo2CartoonPredictor`` (whose ``output_path`` defaults to
    ``'output'``), a run on one photo (a path, an array or a PIL image) also writes
    ``<output_path>/p2c_photo.png``, the aligned face crop (photo2cartoon's crop of the largest face,
    not masked, ``size`` x ``size`` RGB), and ``<output_path>/p2c_cartoon.png``, its cartoon on white
    (the array :meth:`run` returns without ``paste_back``). Each such run overwrites them, as
    PaddleGAN's did, so notebook cells that read those paths work. Runs on several photos (a folder,
    a glob, a list) do not write them (one fixed name cannot hold a batch): give ``output_dir``.
    ``output_path=None`` turns them off.
    """

    default_model = "paddlegan/photo2cartoon"

    def __init__(self, model=None, weights=None, faces="largest", paste_back=False, detector="hog",
                 mask="grabcut", output_path="output", **kwargs):
        from ..faces import FacePipeline

        if faces not in ("largest", "all"):
            raise ValueError(f"faces must be 'largest' or 'all', got {faces!r}")
        if kwargs.get("native_size"):
            raise ValueError("Photo2CartoonPredictor works on aligned 256x256 faces: native_size does not apply")
        self.faces, self.paste_back = faces, bool(paste_back)
        self.output_path = None if output_path is None else os.fspath(output_path)
        self._first_face = None  # (aligned crop, cartoon) of the largest face of the last photo finished
        super().__init__(model=model, weights=weights, **kwargs)
        self.pipeline = FacePipeline(size=self.size, detector=detector, mask=mask,
                                     max_faces=1 if faces == "largest" else None)

    def _default_side(self):
        return 256  # the face crop size of the original (also the generator's img_size)

    @property
    def result_index(self):
        return 2 if self.paste_back else 1  # _pasted or _cartoon

    def output_suffixes(self):
        return ("_aligned", "_cartoon") + (("_pasted",) if self.paste_back else ())

    def prepare(self, image, source):
        aligned = self.pipeline.process(image, source=source)
        return [face.on_white() for face in aligned], aligned

    def finish(self, image, outputs, aligned):
        files, cartoons = {}, []
        for i, (face, out) in enumerate(zip(aligned, outputs)):
            mask = face.mask[..., None] if face.mask is not None else 1.0
            cartoon = np.clip(np.rint(out * mask + 255.0 * (1.0 - mask)), 0, 255).astype(np.uint8)
            cartoons.append(cartoon)
            tag = "" if i == 0 else f"_{i + 1}"
            files[f"_aligned{tag}"], files[f"_cartoon{tag}"] = face.on_white(), cartoon
        self._first_face = (aligned[0].image, cartoons[0])
        if self.paste_back:
            from ..faces import paste_back

            files["_pasted"] = paste_back(image, aligned, cartoons)
            return files["_pasted"], files
        return cartoons[0], files

    def run(self, inputs):
        """As :meth:`BasePredictor.run`; a single photo also gets PaddleGAN's ``p2c_photo.png`` and
        ``p2c_cartoon.png`` in ``output_path`` (see the class)."""
        self._first_face = None
        result = super().run(inputs)
        if self.output_path and self._first_face is not None and not isinstance(result, list):
            self._write_paddlegan_files(*self._first_face)
        self._first_face = None
        return result

    def _write_paddlegan_files(self, photo, cartoon):
        from ..utils.image_io import save_image

        paths = [os.path.join(self.output_path, name) for name in PADDLEGAN_FILES]
        for path, image in zip(paths, (photo, cartoon)):
            save_image(path, image)  # atomic; RGB on disk, as PaddleGAN's cv2.imwrite of the BGR-converted array
        self.summary.written += paths
        logger.info("Cartoon image has been saved at '%s'.", paths[1])  # PaddleGAN's message
