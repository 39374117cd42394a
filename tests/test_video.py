"""ppimg2img.utils.video.translate_video and applications/translate_video.py on tiny generated videos."""
import os
import subprocess
import sys

import numpy as np
import pytest

imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")

from ppimg2img.utils.video import VideoError, translate_video  # noqa: E402

from conftest import ROOT  # noqa: E402

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
N, W, H, FPS = 12, 64, 48, 8


def synthetic_frames(n=N, w=W, h=H):
    """Smooth frames (codec error stays small): a colour gradient with a square moving right."""
    y, x = np.mgrid[0:h, 0:w]
    frames = []
    for i in range(n):
        f = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), np.full_like(x, 40 + 15 * i)], axis=-1)
        f[8:24, 4 + 3 * i:20 + 3 * i] = (230, 60, 200)
        frames.append(f.astype(np.uint8))
    return frames


def make_video(path, audio=None, n=N, w=W, h=H, fps=FPS):
    """Encode synthetic frames with the bundled ffmpeg; ``audio``: None or an audio encoder for a
    440 Hz sine track (aac, libopus...)."""
    cmd = [FFMPEG, "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps),
           "-i", "-"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={n / fps}", "-c:a", audio]
    cmd += ["-c:v", "libx264", "-crf", "0", "-pix_fmt", "yuv444p", "-shortest", str(path)]
    subprocess.run(cmd, input=b"".join(f.tobytes() for f in synthetic_frames(n, w, h)), check=True)
    return str(path)


def decode(path):
    """(meta, frames) of a video file."""
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    return meta, [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in reader]


@pytest.fixture(scope="module")
def video_with_audio(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("v") / "in.mp4", audio="aac")


@pytest.fixture(scope="module")
def video_silent(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("v") / "silent.mp4")


def invert(frames):
    return [255 - f for f in frames]


def test_inversion_keeps_frames_fps_size_and_audio(tmp_path, video_with_audio, capsys):
    batches = []

    def frame_fn(frames):
        batches.append(len(frames))
        assert all(f.shape == (H, W, 3) and f.dtype == np.uint8 and f.flags.writeable for f in frames)
        return invert(frames)

    dst = tmp_path / "sub" / "out.mp4"
    info = translate_video(video_with_audio, dst, frame_fn, batch_size=5)
    assert info == {"frames": N, "fps": FPS, "audio": True, "size": (W, H)}
    assert batches == [5, 5, 2]
    assert f"{N}/{N}" in capsys.readouterr().err  # the tqdm bar counted every frame
    meta, out = decode(dst)
    assert meta["fps"] == FPS and meta["size"] == (W, H) and meta["codec"] == "h264"
    assert meta["pix_fmt"].startswith("yuv420p") and meta["audio_codec"] == "aac"
    assert len(out) == N
    _, src = decode(video_with_audio)
    expected = np.stack(invert(src)).astype(int)
    err = np.abs(np.stack(out).astype(int) - expected)
    assert err.mean() < 3 and np.percentile(err, 99) < 30, (err.mean(), np.percentile(err, 99))
    assert np.abs(np.stack(out).astype(int) - np.stack(src)).mean() > 50  # really inverted, not copied
    assert sorted(os.listdir(dst.parent)) == ["out.mp4"]  # no temporary files left


def test_silent_video_has_no_audio(tmp_path, video_silent):
    info = translate_video(video_silent, tmp_path / "o.mp4", lambda f: f, progress=False)
    assert info["audio"] is False and info["frames"] == N
    meta, out = decode(tmp_path / "o.mp4")
    assert "audio_codec" not in meta and len(out) == N


def test_audio_that_cannot_be_copied_is_reencoded(tmp_path):
    src = make_video(tmp_path / "opus.mkv", audio="libopus")  # .mov cannot hold Opus: copy fails
    info = translate_video(src, tmp_path / "o.mov", lambda f: f, progress=False)
    assert info["audio"] is True
    meta, out = decode(tmp_path / "o.mov")
    assert meta["audio_codec"] == "aac" and len(out) == N


def test_webm_output_is_vp9_with_reencoded_audio(tmp_path, video_with_audio):
    info = translate_video(video_with_audio, tmp_path / "o.webm", invert, progress=False)
    assert info["audio"] is True and info["frames"] == N
    meta, out = decode(tmp_path / "o.webm")
    assert meta["codec"] == "vp9" and meta["audio_codec"].startswith("opus") and len(out) == N  # AAC not allowed


def test_max_frames_odd_size_and_cut_audio(tmp_path, video_with_audio):
    def crop_odd(frames):
        return [np.ascontiguousarray(f[:23, :37]) for f in frames]

    info = translate_video(video_with_audio, tmp_path / "o.mp4", crop_odd, batch_size=2, progress=False,
                           max_frames=5)
    assert info["frames"] == 5 and info["size"] == (38, 24) and info["audio"] is True
    meta, out = decode(tmp_path / "o.mp4")
    assert len(out) == 5 and out[0].shape == (24, 38, 3)
    assert meta["duration"] < 5 / FPS + 0.1  # the audio was cut to the video's length (1.5 s source)
    _, src = decode(video_with_audio)
    assert np.abs(out[0][:23, :37].astype(int) - src[0][:23, :37]).mean() < 3
    assert np.abs(out[0][23].astype(int) - out[0][22]).mean() < 3  # padded by repeating the edge row


def test_phone_rotation_is_applied(tmp_path, video_silent):
    rotated = tmp_path / "portrait.mp4"  # a phone video: landscape frames plus "display rotated by 90"
    subprocess.run([FFMPEG, "-v", "error", "-display_rotation", "90", "-i", video_silent, "-c", "copy",
                    str(rotated)], check=True)
    info = translate_video(rotated, tmp_path / "o.mp4", lambda f: f, progress=False)
    assert info["size"] == (H, W)  # frames reach frame_fn upright, and are written that way
    _, src = decode(video_silent)
    _, out = decode(tmp_path / "o.mp4")
    assert np.abs(out[0].astype(int) - np.rot90(src[0], 1)).mean() < 3


def test_ntsc_frame_rate_is_exact(tmp_path):
    src = make_video(tmp_path / "ntsc.mp4", n=4, fps="30000/1001")
    info = translate_video(src, tmp_path / "o.mp4", lambda f: f, progress=False)
    assert info["fps"] == pytest.approx(30000 / 1001, abs=1e-9)
    assert decode(tmp_path / "o.mp4")[0]["fps"] == pytest.approx(29.97)


def test_interrupted_run_leaves_destination_untouched(tmp_path, video_with_audio):
    dst = tmp_path / "o.mp4"
    dst.write_bytes(b"previous result")
    calls = []

    def interrupted(frames):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return frames

    with pytest.raises(KeyboardInterrupt):
        translate_video(video_with_audio, dst, interrupted, batch_size=4, progress=False)
    assert dst.read_bytes() == b"previous result"
    assert sorted(os.listdir(tmp_path)) == ["o.mp4"]


def test_bad_inputs_give_clear_errors(tmp_path, video_silent):
    with pytest.raises(FileNotFoundError, match="nothere.mp4' does not exist"):
        translate_video(tmp_path / "nothere.mp4", tmp_path / "o.mp4", invert)
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video")
    with pytest.raises(VideoError, match=r"notes\.mp4': not a video file or corrupt"):
        translate_video(text, tmp_path / "o.mp4", invert)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match=r"empty\.mp4': the file is empty \(0 bytes\)"):
        translate_video(empty, tmp_path / "o.mp4", invert)
    wav = tmp_path / "tone.wav"
    subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i", "sine=duration=0.2", str(wav)], check=True)
    with pytest.raises(VideoError, match=r"tone\.wav': it has no video stream"):
        translate_video(wav, tmp_path / "o.mp4", invert)
    with pytest.raises(ValueError, match="is the input video"):
        translate_video(video_silent, video_silent, invert)
    with pytest.raises(ValueError, match="one frame per input frame: gave it 3, got 2 frames"):
        translate_video(video_silent, tmp_path / "o.mp4", lambda f: f[:2], batch_size=3, progress=False)
    with pytest.raises(ValueError, match=r"frame 0 as float32 array of shape \(48, 64, 3\)"):
        translate_video(video_silent, tmp_path / "o.mp4", lambda f: [x.astype(np.float32) for x in f],
                        progress=False)
    with pytest.raises(ValueError, match=r"unsupported extension '\.gif'; use one of \.mp4"):
        translate_video(video_silent, tmp_path / "o.gif", invert)
    with pytest.raises(VideoError, match=r"cannot write video '.*o\.gif': ffmpeg wrote 0 of 12 frames"):
        translate_video(video_silent, tmp_path / "o.gif", invert, codec="libx264", progress=False)  # GIF takes no H.264
    assert sorted(os.listdir(tmp_path)) == ["empty.mp4", "notes.mp4", "tone.wav"]


def test_missing_imageio_ffmpeg_says_how_to_install(tmp_path, video_silent, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # makes `import imageio_ffmpeg` fail
    with pytest.raises(VideoError, match="pip install imageio-ffmpeg"):
        translate_video(video_silent, tmp_path / "o.mp4", invert)


def test_importing_the_module_does_not_import_imageio_ffmpeg():
    code = ("import sys, ppimg2img, ppimg2img.utils.video; "
            "assert 'imageio_ffmpeg' not in sys.modules, 'imported'; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": ROOT}, timeout=120)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr


# --- applications/translate_video.py ---------------------------------------------------------------
def _load_app():
    import importlib.util

    spec = importlib.util.spec_from_file_location("translate_video_app",
                                                  os.path.join(ROOT, "applications", "translate_video.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    import paddle

    from ppimg2img.nets import build_generator
    from ppimg2img.weights.load import save_converted

    paddle.seed(7)
    net = build_generator("resnet_6blocks", ngf=4)
    return save_converted(net, str(tmp_path_factory.mktemp("w") / "g.pdparams"), "resnet_6blocks", {"ngf": 4})


def test_app_translates_every_frame_with_the_predictor(tmp_path, video_with_audio, tiny_weights, capsys):
    from ppimg2img import CycleGANPredictor

    app = _load_app()
    out = tmp_path / "zebra.mp4"
    code = app.main(["--weights", tiny_weights, video_with_audio, "-o", str(out), "--size", "32",
                     "--backend", "eager", "--batch-size", "4", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"wrote {out}: {N} frames, {W}x{H} at {FPS} fps, with the source's audio" in captured.out
    meta, frames = decode(out)
    assert len(frames) == N and meta["size"] == (W, H) and meta["fps"] == FPS and meta["audio_codec"] == "aac"
    _, src = decode(video_with_audio)
    expected = CycleGANPredictor(weights=tiny_weights, size=32, backend="eager", batch_size=4,
                                 progress=False).run(list(src))
    assert all(e.shape == (H, W, 3) for e in expected)
    # The random net's output is high-frequency colour noise that yuv420p blurs: compare with the
    # predictor's frames (same batches) sent through the same encoder (x264 is deterministic).
    remaining = iter(expected)
    translate_video(video_with_audio, tmp_path / "ref.mp4", lambda fs: [next(remaining) for _ in fs], progress=False)
    _, reference = decode(tmp_path / "ref.mp4")
    err = np.abs(np.stack(frames).astype(int) - np.stack(reference))
    assert err.mean() < 0.2 and (err > 2).mean() < 0.005, (err.mean(), (err > 2).mean())  # same up to rounding
    assert np.abs(np.stack(frames).astype(int) - np.stack(src)).mean() > 20  # not the input copied


def test_app_errors_and_exit_codes(tmp_path, video_silent, tiny_weights, capsys):
    app = _load_app()
    out = str(tmp_path / "o.mp4")
    assert app.main([video_silent, "-o", out]) == 2  # neither --model nor --weights
    assert "give exactly one of --model NAME or --weights FILE" in capsys.readouterr().err
    assert app.main(["--weights", tiny_weights, video_silent]) == 2  # no -o
    assert app.main(["--weights", tiny_weights, video_silent, "-o", out, "--batch-size", "0"]) == 2
    assert app.main(["--model", "horse2zebrra", video_silent, "-o", out]) == 2
    assert "Unknown model 'horse2zebrra'" in capsys.readouterr().err
    assert app.main(["--weights", tiny_weights, video_silent, "-o", out, "--size", "30"]) == 2
    assert "size=30 does not fit resnet_6blocks: use a multiple of 4" in capsys.readouterr().err
    assert app.main(["--weights", str(tmp_path / "none.pdparams"), video_silent, "-o", out]) == 1
    assert "none.pdparams" in capsys.readouterr().err
    assert app.main(["--weights", tiny_weights, str(tmp_path / "missing.mp4"), "-o", out]) == 1
    assert "video" in capsys.readouterr().err
    text = tmp_path / "clip.mp4"
    text.write_text("not a video")
    assert app.main(["--weights", tiny_weights, str(text), "-o", out]) == 1
    err = capsys.readouterr().err
    assert "clip.mp4': not a video file" in err and err.count("\n") == 1 and "Traceback" not in err
    assert not os.path.exists(out)
