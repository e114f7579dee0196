"""A real HTTP server on 127.0.0.1 that records every request, for monitors to talk to."""

import contextlib
import gzip
import http.server
import socket
import threading
import zlib


@contextlib.contextmanager
def recording_server():
    """Yields ``(base_url, requests)``; ``requests`` fills with ``(method, path, body)``,
    bodies decompressed as their Content-Encoding says."""
    requests = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def answer(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            encoding = self.headers.get("Content-Encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            elif encoding == "br":
                import brotli

                body = brotli.decompress(body)
            requests.append((self.command, self.path, body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = answer

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", requests
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def silent_server():
    """Yields the base URL of a port that takes connections (the kernel's backlog does) and
    never answers, as a hung server does."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
