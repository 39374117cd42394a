"""Resumable, checksummed file downloads and safe zip extraction (stdlib only, plus tqdm).

``download`` streams ``url`` into ``<dest>.part``, resumes an existing part with an HTTP
``Range`` request, verifies the checksum and atomically renames the result to ``dest``.
Network problems raise :class:`DownloadError` quickly, with a message that tells the user where
to put the file by hand (useful on machines without internet access).
"""
import errno
import hashlib
import http.client
import os
import re
import shutil
import socket
import ssl
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib

from tqdm import tqdm

__all__ = ["DownloadError", "ChecksumError", "download", "extract_zip", "extract_tar", "get_cache_dir",
           "file_hash"]

_CHUNK = 1 << 16
_USER_AGENT = "ppimg2img-downloader"


class DownloadError(RuntimeError):
    """A file could not be downloaded (offline, server down, HTTP error, bad content...)."""


class ChecksumError(DownloadError):
    """The downloaded file does not have the expected checksum."""


class _Incomplete(Exception):
    """The server closed the connection before sending the whole file (retryable)."""


def get_cache_dir():
    """Cache folder for downloads: ``$PPIMG2IMG_HOME`` or ``~/.cache/ppimg2img``."""
    return os.path.expanduser(os.environ.get("PPIMG2IMG_HOME") or os.path.join("~", ".cache", "ppimg2img"))


def file_hash(path, algorithm="sha256"):
    """Hex digest of the file at ``path``."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _checksum_problem(path, sha256, md5):
    """None if ``path`` matches the given checksums, else ``(algorithm, expected, actual)``."""
    for algorithm, expected in (("sha256", sha256), ("md5", md5)):
        if expected:
            actual = file_hash(path, algorithm)
            if actual.lower() != expected.strip().lower():
                return algorithm, expected, actual
    return None


def _manual_hint(url, dest_path):
    return (f"If this machine is offline, download {url} on another machine and put it at "
            f"{os.path.abspath(dest_path)}")


def _is_retryable(err):
    """Transient problems (timeouts, resets, 5xx) are retried; offline/refused/4xx are not."""
    if isinstance(err, (_Incomplete, http.client.HTTPException)):
        return True
    if isinstance(err, urllib.error.HTTPError):
        return err.code >= 500 or err.code in (408, 429)
    reason = err.reason if isinstance(err, urllib.error.URLError) else err
    if isinstance(reason, (socket.gaierror, ConnectionRefusedError, ssl.SSLCertVerificationError)):
        return False
    if isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return False
    return isinstance(reason, (OSError, TimeoutError))


def _describe(err):
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP error {err.code} ({err.reason})"
    if isinstance(err, urllib.error.URLError):
        reason = err.reason
        if isinstance(reason, socket.gaierror):
            return f"cannot resolve the host name, are you offline? ({reason})"
        if isinstance(reason, ConnectionRefusedError):
            return f"connection refused, is the server down? ({reason})"
        return str(reason)
    return str(err) or type(err).__name__


def _parse_content_range(value):
    """``'bytes 100-199/200'`` -> (100, 200), ``'bytes */200'`` -> (None, 200); unknown parts are None."""
    m = re.match(r"bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", value or "")
    if not m:
        return None, None
    start, total = m.groups()
    return (int(start) if start else None), (int(total) if total != "*" else None)


def _fetch(url, part, timeout, progress):
    """One attempt: append the missing bytes to ``part``. Raises on network errors."""
    have = os.path.getsize(part) if os.path.exists(part) else 0
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # Range not satisfiable: the part is complete or stale
            _, total = _parse_content_range(err.headers.get("Content-Range"))
            err.close()
            if total == have:
                return
            os.remove(part)
            raise _Incomplete("partial file did not match the server's file, restarting") from None
        raise
    with response:
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if have and response.status == 206:
            start, total = _parse_content_range(response.headers.get("Content-Range"))
            if start != have:  # the server resumed somewhere else: start over
                os.remove(part)
                raise _Incomplete(f"server resumed at byte {start} instead of {have}, restarting")
            if total is None and length is not None:
                total = have + length
            mode = "ab"
        else:  # 200: the server ignored Range (or there was nothing to resume), start from zero
            have, total, mode = 0, length, "wb"
        with open(part, mode) as f, tqdm(total=total, initial=have, unit="B", unit_scale=True,
                                         unit_divisor=1024, disable=not progress,
                                         desc=os.path.basename(part[:-len(".part")])) as bar:
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                f.write(chunk)
                bar.update(len(chunk))
    size = os.path.getsize(part)
    if total is not None and size != total:
        raise _Incomplete(f"connection closed after {size} of {total} bytes")


def download(url, dest_path, sha256=None, md5=None, progress=True, timeout=30, retries=3):
    """Download ``url`` to ``dest_path`` (resumable, verified, atomic) and return ``dest_path``.

    Data goes to ``dest_path + '.part'``; an existing part is resumed with an HTTP Range request.
    ``retries`` counts the extra attempts after transient failures (timeouts, dropped
    connections, 5xx); attempts that made progress are free. Offline, refused connections and
    4xx answers fail at once. Raises :class:`DownloadError` (or :class:`ChecksumError`).
    """
    dest_path = os.fspath(dest_path)
    if os.path.isfile(dest_path):
        if _checksum_problem(dest_path, sha256, md5) is None:
            return dest_path
        print(f"{dest_path} exists but its checksum is wrong; downloading it again.")
    os.makedirs(os.path.dirname(os.path.abspath(dest_path)), exist_ok=True)
    part = dest_path + ".part"
    resumed = os.path.exists(part)
    failures = 0
    while True:
        size_before = os.path.getsize(part) if os.path.exists(part) else 0
        try:
            _fetch(url, part, timeout, progress)
            break
        except (urllib.error.URLError, OSError, http.client.HTTPException, _Incomplete, ValueError) as err:
            if isinstance(err, ValueError) and not isinstance(err, OSError):  # e.g. bad URL scheme
                raise DownloadError(f"Cannot download {url!r}: {err}. {_manual_hint(url, dest_path)}") from None
            progressed = os.path.exists(part) and os.path.getsize(part) > size_before
            if not progressed:
                failures += 1
            if not _is_retryable(err) or failures > retries:
                raise DownloadError(f"Failed to download {url}: {_describe(err)}. "
                                    f"{_manual_hint(url, dest_path)}") from None
            if not progressed:
                time.sleep(min(0.5 * 2 ** (failures - 1), 4.0))
    problem = _checksum_problem(part, sha256, md5)
    if problem is not None:
        os.remove(part)
        if resumed:  # the old part may belong to another version of the file: retry from zero
            return download(url, dest_path, sha256, md5, progress, timeout, retries)
        algorithm, expected, actual = problem
        raise ChecksumError(f"Checksum mismatch for {url}: expected {algorithm} {expected}, got {actual}. "
                            "The partial file was deleted; run again to retry, or check the expected "
                            f"checksum. {_manual_hint(url, dest_path)}")
    os.replace(part, dest_path)
    return dest_path


def _check_member(name, zip_path):
    parts = re.split(r"[/\\]", name)
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        raise ValueError(f"Refusing to extract {zip_path}: unsafe member path {name!r} "
                         "(absolute or containing '..'). The archive may be corrupt or malicious.")


def _prepare_destination(archive_path, dest_dir):
    """Absolute ``dest_dir`` (which must not exist yet) and its parent folder, created."""
    dest_dir = os.path.abspath(os.fspath(dest_dir))
    if os.path.exists(dest_dir):
        raise FileExistsError(f"Cannot extract {archive_path}: {dest_dir} already exists. "
                              "Delete it or pick another folder.")
    parent = os.path.dirname(dest_dir)
    os.makedirs(parent, exist_ok=True)
    return dest_dir, parent


def _move_into_place(tmp, dest_dir, strip_top_dir):
    """Rename the extracted folder (or its single top folder, with ``strip_top_dir``) to ``dest_dir``."""
    source = tmp
    if strip_top_dir:
        entries = os.listdir(tmp)
        if len(entries) == 1 and os.path.isdir(os.path.join(tmp, entries[0])):
            source = os.path.join(tmp, entries[0])
    os.rename(source, dest_dir)


def extract_zip(zip_path, dest_dir, strip_top_dir=False):
    """Safely and atomically extract ``zip_path`` so that its contents end up in ``dest_dir``.

    Members with absolute paths or '..' are rejected before anything is written. Files are
    extracted into a temporary folder next to ``dest_dir`` that is then renamed, so ``dest_dir``
    never holds a half-extracted archive. With ``strip_top_dir`` an archive whose members all
    live under one top-level folder (e.g. ``horse2zebra/trainA/...``) has that folder become
    ``dest_dir``. macOS ``__MACOSX/`` metadata is skipped. Returns ``dest_dir``.

    Raises ValueError for an unusable archive: not a zip, unsafe member paths, or a corrupt
    member (bad CRC, bad compressed data, truncated file); nothing is left behind then.
    """
    dest_dir, parent = _prepare_destination(zip_path, dest_dir)
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as err:
        raise ValueError(f"{zip_path} is not a valid zip file ({err}); delete it and download it again.") from None
    with archive:
        members = [m for m in archive.infolist() if not m.filename.startswith("__MACOSX/")]
        for member in members:
            _check_member(member.filename, zip_path)
        tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(dest_dir)}.extract-", dir=parent)
        try:
            for member in members:  # one by one, to name the member that is corrupt
                try:
                    archive.extract(member, tmp)
                except (zipfile.BadZipFile, zlib.error, EOFError) as err:  # bad CRC / deflate data, truncated
                    cause = str(err) or "the file ends inside this member's data, a truncated download?"
                    raise ValueError(f"{zip_path} is corrupt: member {member.filename!r} cannot be extracted "
                                     f"({cause}); delete it and download it again.") from None
            _move_into_place(tmp, dest_dir, strip_top_dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest_dir


def extract_tar(tar_path, dest_dir, strip_top_dir=False):
    """Safely and atomically extract a (gzip/bz2/xz-compressed) tar archive into ``dest_dir``.

    Same contract as :func:`extract_zip`: members with absolute paths or '..' are rejected
    before anything is written, and so are links pointing outside the archive and device or
    FIFO entries; extraction goes to a temporary folder renamed into place. Returns ``dest_dir``;
    raises ValueError for an unusable archive (not a tar, unsafe member, truncated data).
    """
    dest_dir, parent = _prepare_destination(tar_path, dest_dir)
    try:
        archive = tarfile.open(tar_path)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise ValueError(f"{tar_path} is not a valid tar archive ({err}); delete it and download it again.") from None
    with archive:
        try:
            members = [m for m in archive.getmembers() if not m.name.startswith(("__MACOSX/", "./__MACOSX/"))]
        except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
            raise ValueError(f"{tar_path} is corrupt or truncated ({err}); delete it and download it again.") from None
        for member in members:
            _check_member(member.name, tar_path)
            if member.isdev() or member.isfifo():
                raise ValueError(f"Refusing to extract {tar_path}: member {member.name!r} is a device or FIFO.")
            if member.issym() or member.islnk():
                target = member.linkname if member.islnk() else os.path.join(os.path.dirname(member.name),
                                                                             member.linkname)
                if os.path.isabs(member.linkname) or ".." in re.split(r"[/\\]", os.path.normpath(target)):
                    raise ValueError(f"Refusing to extract {tar_path}: link {member.name!r} points outside the "
                                     f"archive ({member.linkname!r}).")
        tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(dest_dir)}.extract-", dir=parent)
        try:
            for member in members:
                try:
                    if hasattr(tarfile, "data_filter"):
                        archive.extract(member, tmp, filter="data")
                    else:  # pragma: no cover - Python < 3.11.4; members were checked above
                        archive.extract(member, tmp)
                except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
                    raise ValueError(f"{tar_path} is corrupt: member {member.name!r} cannot be extracted "
                                     f"({err or 'truncated file'}); delete it and download it again.") from None
            _move_into_place(tmp, dest_dir, strip_top_dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest_dir
