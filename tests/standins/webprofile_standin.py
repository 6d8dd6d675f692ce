#!/usr/bin/env python3
"""Independent stand-in for the webprofile token service, for tests only.

Written from ../shared/spec/webprofile-api.md alone (not from the project's
sources), Python 3.11 standard library only, so integration tests have a
second oracle. One process serves every --port from ONE shared in-memory
store, like several instances sharing one MongoDB.

    python3 webprofile_standin.py --port 0 --port 0 [--user U] [--password P] [MODE...]

After all listeners are bound it prints one line per listener, in --port
order, to stdout: "listening http://127.0.0.1:PORT". Nothing else goes to
stdout; --verbose logs requests to stderr. SIGTERM/SIGINT exit cleanly.

Tokens are stored as sha256 hex (algorithm "sha256"), not argon2id.

Modes (each changes only what it says):
  --stale-once            the first token ever revoked still introspects active
                          exactly once more (next introspect, any port).
  --partial-token-prefix  accessTokenPartial = the token's own first 8 chars.
  --node-dialect          Node service dialect: create 201 application/json with
                          a bare id; active introspect adds hashPrefix; missing
                          token -> 400 JSON {"message":"token required"};
                          revoke of unknown/other user's id -> 204.
  --echo-secrets          hostile: error bodies echo Authorization, the Basic
                          password and the request body; create answers text
                          with the plaintext token; 302 Location carries the
                          Authorization; X-Echo header on every response.
  --never-answer          hostile: reads requests, never answers.
  --html-redirect         hostile: every /internal/api request -> 302 HTML login.
"""
import argparse, base64, hashlib, hmac, json, re, secrets, signal, sys, threading, time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, urlsplit

HEX = re.compile(r"^[0-9a-fA-F]+$")
OID = re.compile(r"^[0-9a-fA-F]{24}$")
TOKENS = re.compile(r"^/internal/api/users/([^/]+)/git-tokens$")
TOKEN = re.compile(r"^/internal/api/users/([^/]+)/git-tokens/([^/]+)$")
INTROSPECT = "/internal/api/tokens/introspect"
LOGIN_HTML = "<html><head><title>Login</title></head><body>login</body></html>"

OPTS = None
STOP = threading.Event()
LOCK = threading.Lock()
DOCS = {}  # _id hex -> token document (hash = sha256 hex of the plaintext)
STALE = {"id": None, "pending": False}  # --stale-once bookkeeping


def sha(token):
    return hashlib.sha256(token.encode()).hexdigest()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    version_string = lambda self: "webprofile-standin"
    body = b""

    def log_message(self, fmt, *args):
        if OPTS.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def handle_expect_100(self):
        return True if OPTS.never_answer else super().handle_expect_100()

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def send(self, status, body=b"", ctype="text/plain; charset=utf-8", headers=()):
        if OPTS.echo_secrets and status >= 300:  # hostile: leak secrets in every error
            body += "authorization: %s\npassword: %s\nbody: %s\n" % (
                self.headers.get("Authorization", ""), self.password(),
                self.body.decode("utf-8", "replace"))
        body = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        if OPTS.echo_secrets:
            self.send_header("X-Echo", self.headers.get("Authorization", ""))
        for k, v in headers:
            self.send_header(k, v)
        if status != 204:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 204 and self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, text, headers=()):
        """Go http.Error style: text/plain, newline-terminated."""
        self.send(status, text + "\n", headers=headers)

    def json(self, status, obj, node=False):
        """Go: JSON + newline as text/plain; node=True: Express-style application/json."""
        if node:
            self.send(status, json.dumps(obj, separators=(",", ":")), "application/json; charset=utf-8")
        else:
            self.send(status, json.dumps(obj, separators=(",", ":")) + "\n")

    def password(self):
        try:
            scheme, _, cred = self.headers.get("Authorization", "").partition(" ")
            if scheme.lower() == "basic":
                return base64.b64decode(cred.strip(), validate=True).decode().partition(":")[2]
        except Exception:
            pass
        return ""

    def authorized(self):
        scheme, _, cred = self.headers.get("Authorization", "").partition(" ")
        try:
            user, sep, pw = base64.b64decode(cred.strip(), validate=True).decode().partition(":")
        except Exception:
            return False
        return (scheme.lower() == "basic" and sep == ":"
                and hmac.compare_digest(user.encode(), OPTS.user.encode())
                and hmac.compare_digest(pw.encode(), OPTS.password.encode()))

    def dispatch(self):
        self.body = self.read_body()
        if OPTS.never_answer:
            STOP.wait()  # keep the socket open, say nothing, until the process ends
            self.close_connection = True
            return
        path = urlsplit(self.path).path
        if path != "/internal/api" and not path.startswith("/internal/api/"):
            return self.error(404, "404 page not found")
        if OPTS.html_redirect:
            return self.send(302, LOGIN_HTML, "text/html; charset=utf-8", [("Location", "/auth/login")])
        if not self.authorized():
            loc = "/auth/login"
            if OPTS.echo_secrets:
                loc += "?authorization=" + quote(self.headers.get("Authorization", ""), safe="")
            return self.error(302, "redirect", [("Location", loc)])
        m, t = TOKENS.match(path), TOKEN.match(path)
        if m:
            routes = {"GET": self.list_tokens, "POST": self.create}
            args = (unquote(m.group(1)),)
        elif t:
            routes, args = {"DELETE": self.revoke}, (unquote(t.group(1)), unquote(t.group(2)))
        elif path == INTROSPECT:
            routes, args = {"POST": self.introspect}, ()
        else:
            return self.error(404, "404 page not found")
        method = "GET" if self.command == "HEAD" else self.command
        if method not in routes:
            return self.error(405, "Method Not Allowed", [("Allow", ", ".join(routes))])
        routes[method](*args)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = dispatch

    def create(self, user_id):
        try:
            req = json.loads(self.body)
            label, scopes = req.get("label", ""), req.get("scopes")
            assert isinstance(label, str)
            assert scopes is None or (isinstance(scopes, list) and all(isinstance(s, str) for s in scopes))
        except Exception:
            return self.error(400, "invalid body")
        token = secrets.token_hex(32)
        oid = "%08x" % int(time.time()) + secrets.token_hex(8)
        digest = sha(token)
        doc = {"_id": oid, "userId": user_id, "label": label, "hash": digest,
               "hashPrefix": digest[:8], "algorithm": "sha256", "scopes": scopes, "active": True,
               "createdAt": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")}
        with LOCK:
            DOCS[oid] = doc
        partial = token[:8] if OPTS.partial_token_prefix else digest[:8]
        if OPTS.echo_secrets:
            return self.send(200, "created token %s for user %s\n" % (token, user_id))
        if OPTS.node_dialect:
            return self.json(201, {"id": oid, "token": token, "accessTokenPartial": partial}, node=True)
        self.json(200, {"id": 'ObjectID("%s")' % oid, "token": token, "accessTokenPartial": partial})

    def list_tokens(self, user_id):
        with LOCK:
            docs = [dict(d, hash=None) for d in DOCS.values() if d["userId"] == user_id]
        self.json(200, docs)

    def revoke(self, user_id, token_id):
        if not OID.match(token_id):
            return self.error(400, "invalid token id")
        with LOCK:
            doc = DOCS.get(token_id.lower())
            if doc is None or doc["userId"] != user_id:
                found = False
            else:
                found = True
                if doc["active"] and OPTS.stale_once and STALE["id"] is None:
                    STALE.update(id=doc["_id"], pending=True)
                doc["active"] = False
        if not found and not OPTS.node_dialect:
            return self.error(404, "not found")
        self.send(204)

    def introspect(self):
        try:
            token = json.loads(self.body)["token"]
            assert isinstance(token, str) and token
        except Exception:
            if OPTS.node_dialect:
                return self.json(400, {"message": "token required"}, node=True)
            return self.error(400, "token required")
        if not HEX.match(token):
            return self.json(400, {"message": "invalid token format"})
        digest = sha(token)
        with LOCK:
            doc = next((d for d in DOCS.values() if d["hash"] == digest), None)
            active = doc is not None and doc["active"]
            if doc is not None and not active and STALE["pending"] and STALE["id"] == doc["_id"]:
                STALE["pending"], active = False, True  # the one missed invalidation
        if not active:
            return self.json(200, {"active": False})
        out = {"active": True, "userId": doc["userId"], "scopes": doc["scopes"], "expiresAt": None}
        if OPTS.node_dialect:
            out["hashPrefix"] = doc["hashPrefix"]
        self.json(200, out)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if OPTS.verbose:
            super().handle_error(request, client_address)


def main():
    global OPTS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, action="append", help="repeatable; 0 = any free port")
    p.add_argument("--user", default="overleaf")
    p.add_argument("--password", default="overleaf")
    p.add_argument("--verbose", action="store_true")
    for mode in ("stale-once", "partial-token-prefix", "node-dialect",
                 "echo-secrets", "never-answer", "html-redirect"):
        p.add_argument("--" + mode, action="store_true")
    OPTS = p.parse_args()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: STOP.set())
    servers = [Server(("127.0.0.1", port), Handler) for port in OPTS.port or [0]]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    for s in servers:
        sys.stdout.write("listening http://127.0.0.1:%d\n" % s.server_address[1])
    sys.stdout.flush()
    while not STOP.wait(0.5):
        pass
    for s in servers:
        s.shutdown()
        s.server_close()


if __name__ == "__main__":
    main()
