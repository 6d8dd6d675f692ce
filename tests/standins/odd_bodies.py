#!/usr/bin/env python3
"""A hostile stand-in for `parity diff` tests: answers every request with an
odd body, written without the project's code. Python standard library only.

    python3 odd_bodies.py SEED    # prints "listening http://127.0.0.1:PORT"

GET / answers 200 "up". Every other request answers 200 with, by path:
/internal/api/tokens/introspect: 2 MiB of bytes derived from SEED (huge);
anything else: 64 bytes that are not UTF-8 (binary), derived from SEED.
"""
import hashlib, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SEED = sys.argv[1].encode()


def derived(n):
    blocks, block = [], SEED
    for _ in range(n // 32 + 1):
        block = hashlib.sha256(block).digest()
        blocks.append(block)
    return b"".join(blocks)[:n]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path == "/":
            body = b"up"
        elif self.path == "/internal/api/tokens/introspect":
            body = derived(2 * 1024 * 1024)
        else:
            body = b"\xff\xfe\x00" + derived(61)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = do_PUT = answer


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
