"""A real HTTP server on 127.0.0.1 for download tests: serves the files of a folder, honours
``Range: bytes=N-``, and can be told to fail (queued error statuses) or to hang up mid-transfer.

    with serve_folder(tmp_path / "served") as server:
        download(server.url + "/file.pth", dest)
        server.log  # [(path, Range header or None, bytes sent), ...]
"""
import contextlib
import http.server
import os
import re
import socket
import threading


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass

    def _answer(self, status, body=b"", headers=(), cut=None):
        """Send ``body``; with ``cut``, announce its full length but hang up after ``cut`` bytes."""
        sent = body if cut is None else body[:cut]
        # logged before the answer goes out, so a test never sees a response missing from the log
        self.server.log.append((self.path, self.headers.get("Range"), len(sent)))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(sent)
        if cut is not None:
            self.close_connection = True

    def do_GET(self):
        srv = self.server
        path = os.path.join(srv.root, self.path.lstrip("/"))
        if srv.errors:
            self._answer(srv.errors.pop(0))
            return
        if not os.path.isfile(path):
            self._answer(404)
            return
        with open(path, "rb") as f:
            data = f.read()
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if not match:
            cut, srv.cut_after = srv.cut_after, None
            self._answer(200, data, cut=cut)
            return
        start = int(match.group(1))
        if start >= len(data):
            self._answer(416, headers=[("Content-Range", f"bytes */{len(data)}")])
            return
        cut, srv.cut_after = srv.cut_after, None
        self._answer(206, data[start:], [("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")], cut)


@contextlib.contextmanager
def serve_folder(root):
    """Serve the files under ``root`` at ``server.url`` until the block exits.

    ``server.errors``: status codes answered (in order) before serving files again;
    ``server.cut_after``: the next file answer stops after that many bytes (once);
    ``server.log``: one ``(path, range_header, bytes_sent)`` per request.
    """
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.root, server.log, server.errors, server.cut_after = os.fspath(root), [], [], None
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port_url(path="/file"):
    """A URL on 127.0.0.1 where nothing listens: connections are refused, as when offline."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
