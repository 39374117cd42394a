"""Frame-by-frame video translation with the ffmpeg binary bundled by imageio-ffmpeg.

``translate_video(src, dst, frame_fn)`` decodes ``src`` to RGB uint8 frames, passes them to
``frame_fn`` in batches, encodes the results to ``dst`` (H.264 in yuv420p for .mp4, the format
most players accept) at the source's frame rate, then copies the source's audio stream into the
result (re-encoded, to AAC for .mp4/.mov, when the container cannot hold the original codec).

The result is written to a temporary file next to ``dst`` and renamed at the end, so an
interrupted or failed run never leaves a half-written ``dst``. imageio-ffmpeg is imported on first
use only: ``import ppimg2img`` does not need it.
"""
import logging
import os
import re
import subprocess
import uuid
from fractions import Fraction

import numpy as np

__all__ = ["VideoError", "translate_video", "video_info", "ffmpeg_exe"]

logger = logging.getLogger("ppimg2img")

_INSTALL_HINT = "install it with: pip install imageio-ffmpeg (it bundles an ffmpeg binary)"


class VideoError(RuntimeError):
    """A video cannot be read or written; the message names the file, the cause and a fix."""


def ffmpeg_exe():
    """Path of imageio-ffmpeg's ffmpeg binary; :class:`VideoError` with the install command if missing."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise VideoError(f"video translation needs imageio-ffmpeg, which is not installed; {_INSTALL_HINT}") from None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as err:
        raise VideoError(f"no ffmpeg binary found ({err}); {_INSTALL_HINT}") from None


def _exact_fps(fps):
    """ffmpeg prints NTSC rates rounded (29.97); use the exact 30000/1001 so audio stays in sync."""
    for base in (24, 30, 48, 60, 120):
        ntsc = Fraction(base * 1000, 1001)
        if abs(float(ntsc) - fps) < 0.005:
            return ntsc
    return Fraction(fps).limit_denominator(1001)


def _ffmpeg_reason(err):
    """The last line of an ffmpeg error log that says what went wrong (not the banner)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "rror" in ln or "nvalid" in ln or "not found" in ln or "No such" in ln:
            return ln
    return lines[-1] if lines else "ffmpeg could not read it"


def _open_reader(src):
    """(meta, frame-bytes generator) for ``src``; :class:`VideoError` naming the file if it is no video."""
    ffmpeg_exe()
    import imageio_ffmpeg
    reader = imageio_ffmpeg.read_frames(src)
    try:
        meta = next(reader)
    except Exception as err:  # OSError (no meta), KeyError/ValueError (no video stream in the header)
        reader.close()
        text = str(err)
        if "Stream #" in text and "Video:" not in text:
            raise VideoError(f"cannot read video '{src}': it has no video stream (only audio or data). "
                             f"Fix: pass a video file, not an audio file") from None
        raise VideoError(f"cannot read video '{src}': not a video file or corrupt ({_ffmpeg_reason(err)}). "
                         f"Fix: pass a video file ffmpeg can decode (e.g. .mp4, .mov, .avi, .mkv)") from None
    if not meta.get("size") or not meta.get("fps"):
        reader.close()
        raise VideoError(f"cannot read video '{src}': it has no video stream (frame size/rate unknown). "
                         f"Fix: pass a video file, not an audio file or image")
    return meta, reader


def _check_source(src):
    if not os.path.isfile(src):
        raise FileNotFoundError(f"video '{src}' does not exist" + (" (it is a folder)" if os.path.isdir(src) else ""))
    if os.path.getsize(src) == 0:
        raise VideoError(f"cannot read video '{src}': the file is empty (0 bytes), e.g. an interrupted "
                         f"download or copy. Fix: copy or download it again")


def video_info(src):
    """``dict(frames=, fps=, size=(width, height), audio=bool, duration=seconds)`` of a video
    without decoding it (``frames`` is estimated from the duration). Raises as :func:`translate_video`."""
    src = os.fspath(src)
    _check_source(src)
    meta, reader = _open_reader(src)
    reader.close()
    fps = _exact_fps(float(meta["fps"]))
    duration = float(meta.get("duration") or 0)
    return {"frames": int(round(duration * float(fps))), "fps": float(fps), "size": tuple(meta["size"]),
            "audio": bool(meta.get("audio_codec")), "duration": duration}


def _even(frame):
    """Pad one edge row/column so both sides are even (yuv420p stores colour per 2x2 block)."""
    h, w = frame.shape[:2]
    if h % 2 or w % 2:
        frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return np.ascontiguousarray(frame)


def _check_outputs(outputs, batch, first_index):
    if outputs is None or len(outputs) != len(batch):
        got = "None" if outputs is None else f"{len(outputs)} frames"
        raise ValueError(f"frame_fn must return one frame per input frame: gave it {len(batch)}, got {got}")
    checked = []
    for i, out in enumerate(outputs):
        out = np.asarray(out)
        if out.dtype != np.uint8 or out.ndim != 3 or out.shape[2] != 3:
            raise ValueError(f"frame_fn returned frame {first_index + i} as {out.dtype} array of shape "
                             f"{out.shape}; expected HxWx3 uint8 RGB")
        checked.append(out)
    return checked


def _run_ffmpeg(args):
    proc = subprocess.run([ffmpeg_exe(), "-y", "-v", "error", *args], capture_output=True, text=True)
    return proc.returncode, proc.stderr.strip()


def _mux_audio(video, src, out, duration):
    """Copy ``src``'s first audio stream next to ``video``'s frames into ``out``: stream copy
    first; when the container cannot hold the codec (e.g. Opus in .mov), re-encode to the
    container's default (AAC for .mp4/.mov). Returns True when audio was added."""
    base = ["-i", video, "-i", src, "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-t", f"{duration:.6f}"]
    err = ""
    for audio in (["-c:a", "copy"], ["-b:a", "192k"]):
        code, err = _run_ffmpeg([*base, *audio, out])
        if code == 0:
            return True
    logger.warning("could not copy the audio of '%s' into the result (%s); the video is written without sound",
                   src, err.splitlines()[-1] if err else "ffmpeg failed")
    return False


# Video encoder per output extension: H.264 where the container takes it (what most players read),
# VP9 for WebM, which allows only VP8/VP9/AV1.
_ENCODERS = {".mp4": "libx264", ".m4v": "libx264", ".mov": "libx264", ".mkv": "libx264", ".avi": "libx264",
             ".webm": "libvpx-vp9"}


def _encoder(dst, codec):
    ext = os.path.splitext(dst)[1].lower()
    if codec is None and ext not in _ENCODERS:
        raise ValueError(f"cannot write video '{dst}': unsupported extension '{ext}'; use one of "
                         f"{', '.join(_ENCODERS)} (.mp4: H.264, .webm: VP9), or pass codec=")
    return codec or _ENCODERS[ext]


def _open_writer(path, size, fps, codec, quality):
    import imageio_ffmpeg

    params = {"quality": quality}
    if codec == "libvpx-vp9":  # constant quality (VP9 ignores imageio's -qscale): CRF 63 (worst) .. 13
        params = {"quality": None, "output_params": ["-crf", str(int(round(63 - 5 * quality))), "-b:v", "0"]}
    writer = imageio_ffmpeg.write_frames(path, size, fps=fps, codec=codec, macro_block_size=2,
                                         ffmpeg_log_level="error", **params)
    writer.send(None)
    return writer


def _frames_in(path):
    """Number of video frames in ``path`` (stream copy, no decoding); None if ffmpeg cannot read it."""
    code, err = _run_ffmpeg(["-nostdin", "-stats", "-i", path, "-map", "0:v:0", "-c", "copy", "-f", "null", "-"])
    counts = re.findall(r"frame=\s*(\d+)", err)
    return int(counts[-1]) if code == 0 and counts else None


def _remove(path):
    if path and os.path.exists(path):
        os.remove(path)


def translate_video(src, dst, frame_fn, batch_size=1, progress=True, max_frames=None, codec=None, quality=7):
    """Translate the video ``src`` frame by frame into ``dst``, keeping its frame rate and audio.

    ``frame_fn(frames) -> frames`` gets a list of up to ``batch_size`` HxWx3 uint8 RGB frames and
    returns as many HxWx3 uint8 RGB frames (of any one size). ``max_frames`` stops after that many
    frames (audio is cut to match). ``codec`` is ffmpeg's video encoder (default: H.264 for
    .mp4/.mov/.mkv/.avi, VP9 for .webm), ``quality`` imageio-ffmpeg's 1-10 scale (7: x264 CRF 15,
    visually lossless). Odd output sizes get one edge row/column repeated, as yuv420p needs even sizes.

    Returns ``dict(frames=N, fps=float, audio=bool, size=(width, height))`` of the written video.
    Raises ``FileNotFoundError`` for a missing ``src`` and :class:`VideoError` for a file that is
    not a video or a missing ffmpeg.
    """
    src, dst = os.fspath(src), os.fspath(dst)
    _check_source(src)
    if os.path.abspath(src) == os.path.abspath(dst):
        raise ValueError(f"the output '{dst}' is the input video; choose another output path")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    codec = _encoder(dst, codec)
    batch_size = int(batch_size)
    meta, reader = _open_reader(src)
    from tqdm import tqdm

    width, height = meta["size"]
    fps = _exact_fps(float(meta["fps"]))
    estimate = int(round(float(meta.get("duration") or 0) * float(fps))) or None
    if max_frames is not None:
        estimate = min(estimate or max_frames, max_frames)
    folder = os.path.dirname(os.path.abspath(dst))
    os.makedirs(folder, exist_ok=True)
    stem, ext = os.path.splitext(os.path.basename(dst))
    tag = uuid.uuid4().hex[:8]
    video_tmp = os.path.join(folder, f".{stem}.{tag}.video{ext}")
    final_tmp = os.path.join(folder, f".{stem}.{tag}.tmp{ext}")
    writer, size, count, batch = None, None, 0, []
    bar = tqdm(total=estimate, unit="frame", desc=os.path.basename(src), disable=not progress)

    def flush():
        nonlocal writer, size, count
        outputs = _check_outputs(frame_fn(list(batch)), batch, count)
        for out in outputs:
            out = _even(out)
            if writer is None:
                size = (out.shape[1], out.shape[0])
                writer = _open_writer(video_tmp, size, fps, codec, quality)
            elif (out.shape[1], out.shape[0]) != size:
                raise ValueError(f"frame_fn returned frame {count} of size {out.shape[1]}x{out.shape[0]}, "
                                 f"but the earlier frames are {size[0]}x{size[1]}; all frames must have one size")
            try:
                writer.send(out)
            except OSError as err:  # ffmpeg quit: its own message is on stderr above
                raise VideoError(f"cannot write video '{dst}': ffmpeg stopped ({str(err).splitlines()[0]}; "
                                 f"codec {codec}). Fix: use an .mp4 output") from None
            count += 1
        bar.update(len(batch))
        batch.clear()

    try:
        for raw in reader:
            if max_frames is not None and count + len(batch) >= max_frames:
                break
            batch.append(np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3).copy())  # writable
            if len(batch) == batch_size:
                flush()
        if batch:
            flush()
        reader.close()
        if writer is None:
            raise VideoError(f"cannot read video '{src}': it holds no frames")
        writer.close()
        writer = None
        written = _frames_in(video_tmp)
        if written != count:
            raise VideoError(f"cannot write video '{dst}': ffmpeg wrote {written or 0} of {count} frames "
                             f"(codec {codec}; its message is above). Fix: use an .mp4 output")
        bar.total = count
        bar.refresh()
        audio = bool(meta.get("audio_codec")) and _mux_audio(video_tmp, src, final_tmp, count / float(fps))
        os.replace(final_tmp if audio else video_tmp, dst)
    except BaseException:
        reader.close()
        if writer is not None:
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - the original error matters, not ffmpeg's reaction to it
                pass
        raise
    finally:
        bar.close()
        _remove(video_tmp)
        _remove(final_tmp)
    return {"frames": count, "fps": float(fps), "audio": audio, "size": size}


def write_video(dst, frames, fps=24, codec=None, quality=7):
    """Write HxWx3 uint8 ``frames`` (an iterable of same-sized images) as a video (.mp4: H.264);
    atomic: a failed write leaves no ``dst``. Returns ``dst``."""
    codec = _encoder(dst, codec)
    tmp = dst + ".part" + os.path.splitext(dst)[1]
    writer, count = None, 0
    try:
        for frame in frames:
            frame = _even(np.ascontiguousarray(frame, dtype=np.uint8))
            if writer is None:
                writer = _open_writer(tmp, (frame.shape[1], frame.shape[0]), fps, codec, quality)
            writer.send(frame)
            count += 1
        if writer is None:
            raise ValueError(f"no frames to write to {dst}")
        writer.close()
        writer = None
        os.replace(tmp, dst)
    finally:
        if writer is not None:
            writer.close()
        _remove(tmp)
    return dst
