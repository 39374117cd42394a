"""Downloads against a real local HTTP server (Range support, dropped connections)."""
import hashlib
import http.server
import io
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import zipfile

import numpy as np
import pytest
from PIL import Image

from ppimg2img.data.cyclegan_datasets import download_cyclegan_dataset
from ppimg2img.utils.download import ChecksumError, DownloadError, download, extract_zip, get_cache_dir

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAYLOAD = bytes(np.random.RandomState(0).randint(0, 256, 300_000, dtype=np.uint8))


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves files from ``server.root``; honours ``Range: bytes=N-`` unless ``server.ignore_range``;
    when ``server.drops`` > 0 it sends only ``server.drop_after`` bytes and closes the connection;
    answers the status codes queued in ``server.errors`` first."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        srv = self.server
        path = os.path.join(srv.root, self.path.lstrip("/"))
        # log before answering so that the client never sees a response the test cannot see yet
        if not os.path.isfile(path) or srv.errors:
            srv.log.append((self.path, self.headers.get("Range"), 0))
            self.send_error(srv.errors.pop(0) if srv.errors else 404)
            return
        data = open(path, "rb").read()
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and not srv.ignore_range:
            start = int(match.group(1))
            if start >= len(data):
                srv.log.append((self.path, self.headers.get("Range"), 0))
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        if srv.drops > 0:  # announce the full length, then hang up early
            srv.drops -= 1
            body = body[:srv.drop_after]
            self.close_connection = True
        srv.log.append((self.path, self.headers.get("Range"), len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    srv.root, srv.log, srv.errors = str(root), [], []
    srv.ignore_range, srv.drops, srv.drop_after = False, 0, 0
    (root / "blob.bin").write_bytes(PAYLOAD)
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    home = tmp_path / "cache"
    monkeypatch.setenv("PPIMG2IMG_HOME", str(home))
    monkeypatch.delenv("PPIMG2IMG_DATASET_URL", raising=False)
    return home


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/blob.bin"


SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_full_download_with_checksum(server, tmp_path):
    dest = tmp_path / "out" / "blob.bin"
    assert download(server.url + "/blob.bin", dest, sha256=SHA, md5=hashlib.md5(PAYLOAD).hexdigest()) == str(dest)
    assert dest.read_bytes() == PAYLOAD
    assert not os.path.exists(str(dest) + ".part")
    assert server.log == [("/blob.bin", None, len(PAYLOAD))]
    # already there with the right checksum: no request at all
    download(server.url + "/blob.bin", dest, sha256=SHA)
    assert len(server.log) == 1


def test_resume_from_part_uses_range(server, tmp_path):
    dest = tmp_path / "blob.bin"
    (tmp_path / "blob.bin.part").write_bytes(PAYLOAD[:100_000])
    download(server.url + "/blob.bin", dest, sha256=SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.log == [("/blob.bin", "bytes=100000-", len(PAYLOAD) - 100_000)]


def test_complete_part_answered_416(server, tmp_path):
    dest = tmp_path / "blob.bin"
    (tmp_path / "blob.bin.part").write_bytes(PAYLOAD)
    download(server.url + "/blob.bin", dest, sha256=SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.log == [("/blob.bin", f"bytes={len(PAYLOAD)}-", 0)]


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    server.ignore_range = True
    dest = tmp_path / "blob.bin"
    (tmp_path / "blob.bin.part").write_bytes(PAYLOAD[:100_000])
    download(server.url + "/blob.bin", dest, sha256=SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.log == [("/blob.bin", "bytes=100000-", len(PAYLOAD))]


def test_stale_part_with_wrong_bytes_is_redownloaded(server, tmp_path):
    dest = tmp_path / "blob.bin"
    (tmp_path / "blob.bin.part").write_bytes(b"\0" * 1000)  # another version of the file
    download(server.url + "/blob.bin", dest, sha256=SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert [entry[1] for entry in server.log] == ["bytes=1000-", None]


def test_checksum_mismatch_deletes_part(server, tmp_path):
    dest = tmp_path / "blob.bin"
    with pytest.raises(ChecksumError) as info:
        download(server.url + "/blob.bin", dest, sha256="0" * 64, progress=False)
    msg = str(info.value)
    assert server.url + "/blob.bin" in msg and "0" * 64 in msg and SHA in msg
    assert not dest.exists() and not os.path.exists(str(dest) + ".part")


def count_attempts(monkeypatch):
    """Records download()'s attempts and retry pauses (instead of timing them: no idle machine needed)."""
    from ppimg2img.utils import download as download_module
    calls = {"attempts": 0, "pauses": []}
    real_fetch = download_module._fetch

    def fetch(*args, **kwargs):
        calls["attempts"] += 1
        return real_fetch(*args, **kwargs)

    monkeypatch.setattr(download_module, "_fetch", fetch)
    monkeypatch.setattr(download_module.time, "sleep", calls["pauses"].append)
    return calls


def test_connection_refused_fails_fast(tmp_path, monkeypatch):
    dest = tmp_path / "blob.bin"
    url = closed_port_url()
    calls = count_attempts(monkeypatch)
    with pytest.raises(DownloadError) as info:
        download(url, dest, progress=False)
    assert calls == {"attempts": 1, "pauses": []}  # refused is not retried
    assert url in str(info.value) and str(dest) in str(info.value)
    assert "refused" in str(info.value)
    assert not dest.exists()


def test_http_404_fails_fast(server, tmp_path, monkeypatch):
    calls = count_attempts(monkeypatch)
    with pytest.raises(DownloadError, match="404"):
        download(server.url + "/missing.bin", tmp_path / "missing.bin", progress=False)
    assert calls == {"attempts": 1, "pauses": []}
    assert len(server.log) == 1  # client errors are not retried


def test_server_error_is_retried(server, tmp_path, monkeypatch):
    calls = count_attempts(monkeypatch)
    server.errors = [503]
    download(server.url + "/blob.bin", tmp_path / "blob.bin", sha256=SHA, progress=False)
    assert (tmp_path / "blob.bin").read_bytes() == PAYLOAD
    assert [entry[2] for entry in server.log] == [0, len(PAYLOAD)]
    assert calls == {"attempts": 2, "pauses": [0.5]}  # one pause before the retry
    server.errors = [503, 503]
    with pytest.raises(DownloadError, match="503"):
        download(server.url + "/blob.bin", tmp_path / "again.bin", progress=False, retries=1)


def test_interrupted_transfer_is_resumed(server, tmp_path):
    server.drops, server.drop_after = 2, 50_000
    dest = tmp_path / "blob.bin"
    download(server.url + "/blob.bin", dest, sha256=SHA, progress=False, retries=1)
    assert dest.read_bytes() == PAYLOAD
    assert server.log == [("/blob.bin", None, 50_000),
                          ("/blob.bin", "bytes=50000-", 50_000),
                          ("/blob.bin", "bytes=100000-", len(PAYLOAD) - 100_000)]


def test_get_cache_dir(monkeypatch, tmp_path):
    assert get_cache_dir() == str(tmp_path / "cache")
    monkeypatch.delenv("PPIMG2IMG_HOME")
    assert get_cache_dir() == os.path.expanduser("~/.cache/ppimg2img")


def png_bytes(value):
    buf = io.BytesIO()
    Image.fromarray(np.full((4, 4, 3), value, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def make_dataset_zip(path, name, folders=("trainA", "trainB", "testA", "testB")):
    with zipfile.ZipFile(path, "w") as zf:
        for i, folder in enumerate(folders):
            zf.writestr(f"{name}/{folder}/{i}.png", png_bytes(10 * i))


def test_download_cyclegan_dataset(server, tmp_path, cache_home):
    make_dataset_zip(os.path.join(server.root, "horse2zebra.zip"), "horse2zebra")
    root = tmp_path / "datasets"
    path = download_cyclegan_dataset("horse2zebra", root=str(root), base_url=server.url + "/", progress=False)
    assert path == str(root / "horse2zebra")
    for i, folder in enumerate(("trainA", "trainB", "testA", "testB")):
        img = np.asarray(Image.open(root / "horse2zebra" / folder / f"{i}.png"))
        assert img.shape == (4, 4, 3) and (img == 10 * i).all()
    assert sorted(os.listdir(root)) == ["horse2zebra"]  # no temp folders left behind
    assert not os.path.exists(cache_home / "datasets" / "horse2zebra.zip")  # zip removed, like the original
    # second call: already complete, no new request
    assert download_cyclegan_dataset("horse2zebra", root=str(root), base_url=server.url) == path
    assert [entry[0] for entry in server.log] == ["/horse2zebra.zip"]


def test_dataset_url_from_env_and_missing_folders(server, tmp_path, monkeypatch, cache_home):
    make_dataset_zip(os.path.join(server.root, "apple2orange.zip"), "apple2orange", folders=("trainA", "trainB"))
    monkeypatch.setenv("PPIMG2IMG_DATASET_URL", server.url)
    with pytest.raises(DownloadError, match="testA, testB"):
        download_cyclegan_dataset("apple2orange", root=str(tmp_path / "ds"), progress=False)
    assert not os.path.exists(tmp_path / "ds" / "apple2orange")
    assert server.log[0][0] == "/apple2orange.zip"


def test_corrupt_archive_is_reported_and_dropped(server, tmp_path, cache_home):
    with open(os.path.join(server.root, "maps.zip"), "w") as f:
        f.write("<html>not a zip</html>")
    with pytest.raises(DownloadError, match="not a valid zip"):
        download_cyclegan_dataset("maps", root=str(tmp_path / "ds"), base_url=server.url, progress=False)
    assert not (cache_home / "datasets" / "maps.zip").exists()  # a rerun downloads it again
    assert not (tmp_path / "ds" / "maps").exists()


def corrupt_last_member(path, how):
    """Damage the data of the last member of the zip at ``path`` (written by make_dataset_zip)."""
    raw = bytearray(open(path, "rb").read())
    with zipfile.ZipFile(path) as zf:
        info = zf.infolist()[-1]
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len  # first byte of the member's data
    if how == "crc":  # stored member: flip bytes in the middle, the CRC-32 check fails
        middle = start + info.compress_size // 2
        raw[middle:middle + 4] = bytes(b ^ 0xFF for b in raw[middle:middle + 4])
    elif how == "deflate":  # deflated member: reserved block type 11, zlib refuses the stream
        raw[start] |= 0b110
    else:  # "truncated": the central directory promises more bytes than the file holds
        entry = raw.rfind(b"PK\x01\x02")
        raw[entry + 20:entry + 28] = struct.pack("<II", 10 ** 6, 10 ** 6)
    open(path, "wb").write(bytes(raw))


@pytest.mark.parametrize("how, cause", [("crc", "Bad CRC-32"), ("deflate", "invalid block type"),
                                        ("truncated", "file ends inside this member's data")])
def test_corrupt_member_is_reported_and_dropped(server, tmp_path, cache_home, how, cause):
    served = os.path.join(server.root, "facades.zip")
    compression = zipfile.ZIP_DEFLATED if how == "deflate" else zipfile.ZIP_STORED
    with zipfile.ZipFile(served, "w", compression=compression) as zf:
        for i, folder in enumerate(("trainA", "trainB", "testA", "testB")):
            zf.writestr(f"facades/{folder}/{i}.png", png_bytes(10 * i) * 20)
    corrupt_last_member(served, how)
    root = tmp_path / "ds"
    with pytest.raises(DownloadError) as info:
        download_cyclegan_dataset("facades", root=str(root), base_url=server.url, progress=False)
    msg = str(info.value)
    assert "facades/testB/3.png" in msg and re.search(cause, msg) and "facades.zip" in msg
    assert not (cache_home / "datasets" / "facades.zip").exists()  # not kept in the cache
    assert os.listdir(root) == []  # the members extracted before the bad one were removed too
    # the next run downloads the archive again (here a good one) instead of failing on the cached copy
    make_dataset_zip(served, "facades")
    path = download_cyclegan_dataset("facades", root=str(root), base_url=server.url, progress=False)
    assert (root / "facades" / "testB" / "3.png").is_file() and path == str(root / "facades")
    assert [entry[0] for entry in server.log] == ["/facades.zip", "/facades.zip"]


def test_cityscapes_is_not_distributed(tmp_path):
    with pytest.raises(DownloadError, match="cityscapes-dataset.com"):
        download_cyclegan_dataset("cityscapes", root=str(tmp_path))


def test_unknown_dataset_suggests_closest():
    with pytest.raises(ValueError, match="Did you mean 'horse2zebra'") as info:
        download_cyclegan_dataset("hrse2zebra")
    assert "monet2photo" in str(info.value) and "grumpifycat" in str(info.value)


@pytest.mark.parametrize("member", ["../evil.txt", "/abs.txt", "ok/..\\..\\evil.txt"])
def test_unsafe_zip_member_rejected(tmp_path, member):
    zip_path = tmp_path / "bad.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("good/file.txt", "fine")
        zf.writestr(member, "evil")
    out = tmp_path / "sub" / "out"
    with pytest.raises(ValueError, match="unsafe member"):
        extract_zip(zip_path, out)
    assert os.listdir(tmp_path / "sub") == []  # nothing extracted, no temp folder left
    assert not (tmp_path / "evil.txt").exists()


def test_extract_zip_refuses_existing_dest(tmp_path):
    zip_path = tmp_path / "a.zip"
    make_dataset_zip(zip_path, "mini", folders=("trainA",))
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError, match="already exists"):
        extract_zip(zip_path, tmp_path / "out")
    assert extract_zip(zip_path, tmp_path / "new") == str(tmp_path / "new")
    assert (tmp_path / "new" / "mini" / "trainA" / "0.png").is_file()


def run_cli(*args):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # exercise the sys.path fallback
    return subprocess.run([sys.executable, "data/download_cyclegan_dataset.py", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli_downloads_and_reports(server, tmp_path):
    make_dataset_zip(os.path.join(server.root, "mini.zip"), "mini", folders=("trainA", "trainB"))
    root = tmp_path / "ds"
    result = run_cli("mini", "--root", str(root), "--base-url", server.url)
    assert result.returncode == 0, result.stderr
    assert str(root / "mini") in result.stdout
    assert (root / "mini" / "trainB" / "1.png").is_file()


def test_cli_server_down_exits_1_cleanly(tmp_path, cache_home):
    base = closed_port_url().rsplit("/", 1)[0]
    result = run_cli("horse2zebra", "--root", str(tmp_path / "ds"), "--base-url", base)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert base + "/horse2zebra.zip" in result.stderr
    assert str(cache_home / "datasets" / "horse2zebra.zip") in result.stderr  # where to put it by hand


def test_cli_help_lists_datasets():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "summer2winter_yosemite" in result.stdout and "iphone2dslr_flower" in result.stdout
