#!/usr/bin/env python3
"""Independent stand-in for the webprofile token service, for tests only.

Written from docs/spec/webprofile-api.md alone (not from the project's
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
  --node-dialect          the Node dialect table of the spec: create 201
                          application/json with a bare id (a user id that is not
                          24 hex -> 500); list [{id,label,scopes,active,hashPrefix,
                          createdAt,expiresAt}]; scopes [] by default; active
                          introspect adds hashPrefix; missing token -> 400 JSON
                          {"message":"token required"}; a body that is not JSON ->
                          400 HTML; revoke of an unknown, malformed or other user's
                          id -> 204; wrong credentials -> 401 Unauthorized; none ->
                          401 on introspect, 302 /login on git-tokens (401 when the
                          request accepts JSON); unknown route or method -> 404 HTML.
                          (The spec does not say what Node answers to an owner that
                          is not an ObjectId on list or revoke: here [] and 204.)
  --echo-secrets          hostile: error bodies echo Authorization, the Basic
                          password and the request body; create answers text
                          with the plaintext token; 302 Location carries the
                          Authorization; X-Echo header on every response.
  --echo-encoded          hostile: every answer carries the configured password in
                          every encoding (JSON short and \\u escapes, Go's \\u003c,
                          XML named and numeric, percent, base64): error bodies
                          and an "echo" field of JSON objects hold them all,
                          X-Echo-Encoded headers the ASCII ones.
  --never-answer          hostile: reads requests, never answers.
  --html-redirect         hostile: every /internal/api request -> 302 HTML login.
  --trust-dev-header      hostile, one door: a non-empty X-Dev-User-Id header is let
                          in without credentials (a development identity left on).
  --drop-unparsable-owner hostile, one door: a revoke whose owner segment is not a
                          24-hex id drops the owner from its query (revokes any
                          user's token by id).
  --rate-limit N          introspect and list share one token bucket of N a second,
                          across every port (the spec: one bucket counted across all
                          instances); an empty bucket answers 429 "Too Many Requests"
                          with GitHub-style X-RateLimit-Limit / -Remaining / -Reset
                          (seconds until a token is back) and no Retry-After.
"""
import argparse, base64, hashlib, hmac, html, json, re, secrets, signal, sys, threading, time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, quote_plus, unquote, urlsplit

HEX = re.compile(r"^[0-9a-fA-F]+$")
OID = re.compile(r"^[0-9a-fA-F]{24}$")
TOKENS = re.compile(r"^/internal/api/users/([^/]+)/git-tokens$")
TOKEN = re.compile(r"^/internal/api/users/([^/]+)/git-tokens/([^/]+)$")
INTROSPECT = "/internal/api/tokens/introspect"
LOGIN_HTML = "<html><head><title>Login</title></head><body>login</body></html>"
NOT_FOUND_HTML = "<!DOCTYPE html><html><head><title>Page Not Found</title></head><body>404</body></html>"
BAD_REQUEST_HTML = "<!DOCTYPE html><html><head><title>Bad Request</title></head><body>400</body></html>"

OPTS = None
STOP = threading.Event()
LOCK = threading.Lock()
DOCS = {}  # _id hex -> token document (hash = sha256 hex of the plaintext)
STALE = {"id": None, "pending": False}  # --stale-once bookkeeping
BUCKET = {"tokens": None, "at": 0.0}  # --rate-limit: a token bucket refilled continuously


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
        if OPTS.echo_encoded and status >= 300:
            body = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            body += "".join("echo %s: %s\n" % form for form in encoded_forms(OPTS.password))
        body = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        if OPTS.echo_encoded:
            for name, form in encoded_forms(OPTS.password):
                if form.isascii():
                    self.send_header("X-Echo-Encoded", "%s=%s" % (name, form))
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
        if OPTS.echo_encoded and isinstance(obj, dict):
            obj = dict(obj, echo=dict(encoded_forms(OPTS.password)))
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
            return self.not_found()
        if OPTS.html_redirect:
            return self.send(302, LOGIN_HTML, "text/html; charset=utf-8", [("Location", "/auth/login")])
        let_in = OPTS.trust_dev_header and self.headers.get("X-Dev-User-Id", "") != ""
        limited = (self.command == "POST" and path == INTROSPECT) or (self.command == "GET" and TOKENS.match(path))
        if OPTS.rate_limit and limited and not self.take_token():
            reset = max(1, round(1 / OPTS.rate_limit))
            return self.send(429, "Too Many Requests", headers=[
                ("X-RateLimit-Limit", str(OPTS.rate_limit)), ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", str(reset))])
        if not let_in and not self.authorized():
            return self.refuse(path)
        m, t = TOKENS.match(path), TOKEN.match(path)
        if m:
            routes = {"GET": self.list_tokens, "POST": self.create}
            args = (unquote(m.group(1)),)
        elif t:
            routes, args = {"DELETE": self.revoke}, (unquote(t.group(1)), unquote(t.group(2)))
        elif path == INTROSPECT:
            routes, args = {"POST": self.introspect}, ()
        else:
            return self.not_found()
        method = "GET" if self.command == "HEAD" else self.command
        if method not in routes:
            if OPTS.node_dialect:
                return self.not_found()
            return self.error(405, "Method Not Allowed", [("Allow", ", ".join(routes))])
        routes[method](*args)

    def take_token(self):
        with LOCK:
            now = time.monotonic()
            tokens = OPTS.rate_limit if BUCKET["tokens"] is None else BUCKET["tokens"]
            tokens = min(OPTS.rate_limit, tokens + (now - BUCKET["at"]) * OPTS.rate_limit)
            BUCKET["at"] = now
            if tokens < 1:
                BUCKET["tokens"] = tokens
                return False
            BUCKET["tokens"] = tokens - 1
            return True

    def not_found(self):
        if OPTS.node_dialect:
            return self.send(404, NOT_FOUND_HTML, "text/html; charset=utf-8")
        return self.error(404, "404 page not found")

    def refuse(self, path):
        """No valid credentials: Go redirects to /auth/login; Node says 401, or 302 to /login."""
        if OPTS.node_dialect:
            wrong = "Authorization" in self.headers
            wants_json = "application/json" in self.headers.get("Accept", "")
            if wrong or path == INTROSPECT or wants_json:
                return self.send(401, "Unauthorized", headers=[("WWW-Authenticate", "OverleafLogin")])
            return self.send(302, "Found. Redirecting to /login", headers=[("Location", "/login")])
        loc = "/auth/login"
        if OPTS.echo_secrets:
            loc += "?authorization=" + quote(self.headers.get("Authorization", ""), safe="")
        return self.error(302, "redirect", [("Location", loc)])

    def not_json(self, text):
        if OPTS.node_dialect:
            return self.send(400, BAD_REQUEST_HTML, "text/html; charset=utf-8")
        return self.error(400, text)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = dispatch

    def create(self, user_id):
        if OPTS.node_dialect and not OID.match(user_id):
            return self.error(500, "Internal Server Error")
        try:
            req = json.loads(self.body)
        except Exception:
            return self.not_json("invalid body")
        try:
            label, scopes = req.get("label", ""), req.get("scopes")
            assert isinstance(label, str)
            assert scopes is None or (isinstance(scopes, list) and all(isinstance(s, str) for s in scopes))
        except Exception:
            return self.error(400, "invalid body")
        if OPTS.node_dialect:
            user_id = user_id.lower()  # the model stores an ObjectId
            scopes = scopes or []
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
        if OPTS.node_dialect:
            owner = user_id.lower() if OID.match(user_id) else None
            with LOCK:
                docs = [{"id": d["_id"], "label": d["label"], "scopes": d["scopes"], "active": d["active"],
                         "hashPrefix": d["hashPrefix"], "createdAt": d["createdAt"], "expiresAt": None}
                        for d in DOCS.values() if owner is not None and d["userId"] == owner]
            return self.json(200, docs, node=True)
        with LOCK:
            docs = [dict(d, hash=None) for d in DOCS.values() if d["userId"] == user_id]
        self.json(200, docs)

    def revoke(self, user_id, token_id):
        if not OID.match(token_id):
            if OPTS.node_dialect:
                return self.send(204)
            return self.error(400, "invalid token id")
        if OPTS.node_dialect and OID.match(user_id):
            user_id = user_id.lower()
        drop_owner = OPTS.drop_unparsable_owner and not OID.match(user_id)
        with LOCK:
            doc = DOCS.get(token_id.lower())
            if doc is None or (doc["userId"] != user_id and not drop_owner):
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
            parsed = json.loads(self.body)
        except Exception:
            return self.not_json("token required")
        try:
            token = parsed["token"]
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


def encoded_forms(secret):
    """The secret as services echo it: each escaping a sink might apply."""
    go_json = json.dumps(secret)[1:-1].replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    numeric = "".join("&#%d;" % ord(c) if not c.isalnum() else c for c in secret)
    return [
        ("raw", secret),
        ("json", json.dumps(secret, ensure_ascii=False)[1:-1]),
        ("json-ascii", json.dumps(secret)[1:-1]),
        ("go-json", go_json),
        ("xml", html.escape(secret, quote=True)),
        ("xml-numeric", numeric),
        ("percent", quote(secret, safe="")),
        ("form", quote_plus(secret)),
        ("base64", base64.b64encode(secret.encode()).decode()),
        ("base64url", base64.urlsafe_b64encode(secret.encode()).decode()),
    ]


def main():
    global OPTS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, action="append", help="repeatable; 0 = any free port")
    p.add_argument("--user", default="overleaf")
    p.add_argument("--password", default="overleaf")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--rate-limit", type=int, default=0, metavar="N")
    for mode in ("stale-once", "partial-token-prefix", "node-dialect", "echo-secrets", "echo-encoded", "never-answer",
                 "html-redirect", "trust-dev-header", "drop-unparsable-owner"):
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
