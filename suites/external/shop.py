#!/usr/bin/env python3
"""A small web shop with form login, as a stand-in for a third-party application.

It does not speak sessionbench's node protocol: it signs users in with a form, answers HTML
pages and JSON, and redirects to /login when nobody is signed in. shop.toml describes it with
request templates. Sessions live in this process's memory, or with --sessions DIR in files
that every instance shares (an external session store). --cache SECONDS adds what a
performance fix often adds: each instance keeps the sessions it read for that long, so an
instance that served a user earlier may show them an old cart (stale reads). --csrf protects
the login form with a token, as most frameworks do (a double-submit cookie, so any instance
can check a form another one served); --secure marks cookies Secure (behind HTTPS).
--logout-local is a bug some session stores have: an instance ends only the sessions it
created itself, and answers the others 200 {"logout": false}, leaving them alive.
--request-log FILE appends a line per cart change, `SESSION-ID items N`, as it answers: the
stack's own record of what it acknowledged, for checking a harness's counts against. With
SHOP_PASSWORD in its environment, a login needs form field `password` to match it.

    shop.py --name app1 --port 18081 [--sessions DIR [--cache SECONDS]] [--csrf] [--secure]
            [--logout-local] [--request-log FILE]

GET  /login          the login form (with --csrf: a `csrf` field and the SHOPCSRF cookie)
POST /login          form `user` (and `csrf`, `password`): signs in, sets SHOPSESSION,
                     redirects (303) to /account; with --csrf a missing or wrong token is
                     403; with SHOP_PASSWORD a wrong password redirects to /login?error=1
GET  /account        HTML: the user, the cart's item count and the note; or 302 to /login
POST /cart/add       JSON {"cart": {"items": N}}: one more item; or 302 to /login
POST /note           form `note`: sets the note, redirects (303) to /account
POST /logout         ends the session, clears the cookie, redirects (303) to /login; with
                     --logout-local: JSON {"logout": true}, or {"logout": false} when another
                     instance created the session (which then stays)
GET  /static/shop.css the stylesheet every page links (pages also show an image of another host)
GET  /healthz        200
Every answer names the instance in X-Served-By.
"""

import argparse
import html
import json
import os
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

COOKIE = "SHOPSESSION"
CSRF_COOKIE = "SHOPCSRF"


# What a browser needs besides the pages' data: the forms, a stylesheet, and a counter of
# visits kept by a third party (on another host, which answers or not: a browser records it).
HEAD = (
    '<link rel="stylesheet" href="/static/shop.css">'
    '<img src="http://127.0.0.2:9/pixel.gif" alt="">'
)
ACCOUNT_FORMS = (
    '<form method="post" action="/note"><input name="note"><button>Save</button></form>'
    '<button id="add" onclick="fetch(\'/cart/add\', {method: \'POST\'}).then(r => r.json())'
    ".then(j => document.getElementById('items').textContent = j.cart.items)\">Add</button>"
    '<form method="post" action="/logout"><button id="logout">Sign out</button></form>'
)


def login_page(fields):
    return f'{HEAD}<form method="post" action="/login">Please sign in{fields}<button>Sign in</button></form>'


class MemoryStore:
    def __init__(self):
        self.sessions = {}
        self.lock = threading.Lock()

    def get(self, sid):
        with self.lock:
            s = self.sessions.get(sid)
            return dict(s) if s else None

    def put(self, sid, session):
        with self.lock:
            self.sessions[sid] = dict(session)

    def delete(self, sid):
        with self.lock:
            self.sessions.pop(sid, None)


class FileStore:
    """One JSON file per session in a directory every instance shares; written whole and
    renamed into place, so a reader never sees half a session."""

    def __init__(self, directory, cache_seconds=0.0):
        self.dir = directory
        self.cache_seconds = cache_seconds
        self.cache = {}
        os.makedirs(directory, exist_ok=True)

    def path(self, sid):
        return os.path.join(self.dir, sid + ".json")

    def get(self, sid):
        cached = self.cache.get(sid)
        if cached and time.monotonic() - cached[0] < self.cache_seconds:
            return dict(cached[1])
        try:
            with open(self.path(sid)) as f:
                session = json.load(f)
        except (OSError, ValueError):
            return None
        if self.cache_seconds > 0:
            self.cache[sid] = (time.monotonic(), session)
        return dict(session)

    def put(self, sid, session):
        if self.cache_seconds > 0:
            self.cache[sid] = (time.monotonic(), dict(session))
        tmp = self.path(sid) + "." + secrets.token_hex(4)
        with open(tmp, "w") as f:
            json.dump(session, f)
        os.replace(tmp, self.path(sid))

    def delete(self, sid):
        self.cache.pop(sid, None)
        try:
            os.remove(self.path(sid))
        except OSError:
            pass


class Shop(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes: with Nagle's algorithm the body waits for
    # the peer's delayed ACK, 40 ms on every answer.
    disable_nagle_algorithm = True
    store = None
    name = "app"
    csrf = False
    secure = ""
    logout_local = False
    created = set()
    request_log = None
    log_lock = threading.Lock()

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", content_type="text/html", headers=()):
        self.send_response(status)
        self.send_header("X-Served-By", self.name)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, to, headers=()):
        self.answer(303 if self.command == "POST" else 302, headers=[("Location", to), *headers])

    def form(self):
        length = int(self.headers.get("Content-Length") or 0)
        return {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}

    def cookie(self, name):
        for part in (self.headers.get("Cookie") or "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == name and v:
                return v
        return None

    def session(self):
        sid = self.cookie(COOKIE)
        s = self.store.get(sid) if sid else None
        return (sid, s) if s is not None else (None, None)

    def do_GET(self):
        if self.path == "/healthz":
            return self.answer(200, b"ok", "text/plain")
        if self.path.startswith("/login"):
            fields = '<input name="user"><input name="password" type="password">'
            if not self.csrf:
                return self.answer(200, login_page(fields).encode())
            token = secrets.token_urlsafe(16)
            fields += f'<input type="hidden" name="csrf" value="{token}">'
            cookie = f"{CSRF_COOKIE}={token}; Path=/login; HttpOnly{self.secure}"
            return self.answer(200, login_page(fields).encode(), headers=[("Set-Cookie", cookie)])
        if self.path == "/static/shop.css":
            return self.answer(200, b"body { font-family: sans-serif; }\n", "text/css")
        if self.path == "/account":
            sid, s = self.session()
            if s is None:
                return self.redirect("/login?next=/account")
            page = (
                HEAD
                + f"<p>Signed in as <b>{html.escape(s['user'])}</b></p>"
                f"<p>Cart: <span id=\"items\">{s['items']}</span> items</p>"
                f"<p>Note: <span id=\"note\">{html.escape(s.get('note', ''))}</span></p>"
                + ACCOUNT_FORMS
            )
            return self.answer(200, page.encode())
        self.answer(404, b"not found", "text/plain")

    def do_POST(self):
        if self.path == "/login":
            form = self.form()
            user = form.get("user", "")
            password = os.environ.get("SHOP_PASSWORD")
            if not user or (password and form.get("password") != password):
                return self.redirect("/login?error=1")
            extra = []
            if self.csrf:
                token = self.cookie(CSRF_COOKIE)
                if not token or form.get("csrf") != token:
                    return self.answer(403, b"bad or missing csrf token", "text/plain")
                # The token is used up: the browser deletes its cookie.
                extra.append(("Set-Cookie", f"{CSRF_COOKIE}=; Path=/login; Max-Age=0"))
            sid = secrets.token_urlsafe(18)
            self.store.put(sid, {"user": user, "items": 0})
            self.created.add(sid)
            cookie = f"{COOKIE}={sid}; Path=/; HttpOnly{self.secure}"
            return self.redirect("/account", [("Set-Cookie", cookie), *extra])
        sid, s = self.session()
        if s is None:
            self.form()
            return self.redirect("/login")
        if self.path == "/cart/add":
            s["items"] += 1
            self.store.put(sid, s)
            body = json.dumps({"cart": {"items": s["items"], "user": s["user"]}}).encode()
            if self.request_log:
                with self.log_lock:
                    self.request_log.write(f"{sid} items {s['items']}\n")
                    self.request_log.flush()
            return self.answer(200, body, "application/json")
        if self.path == "/note":
            s["note"] = self.form().get("note", "")
            self.store.put(sid, s)
            return self.redirect("/account")
        if self.path == "/logout" and self.logout_local:
            mine = sid in self.created
            if mine:
                self.store.delete(sid)
                self.created.discard(sid)
            body = json.dumps({"logout": mine}).encode()
            return self.answer(200, body, "application/json")
        if self.path == "/logout":
            self.store.delete(sid)
            return self.redirect("/login", [("Set-Cookie", f"{COOKIE}=; Path=/; Max-Age=0")])
        self.answer(404, b"not found", "text/plain")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", default="app")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sessions", help="share sessions through files in this directory")
    p.add_argument("--cache", type=float, default=0.0, metavar="SECONDS",
                   help="with --sessions: keep sessions read for this long (stale reads)")
    p.add_argument("--csrf", action="store_true", help="protect the login form with a token")
    p.add_argument("--secure", action="store_true", help="mark cookies Secure (behind HTTPS)")
    p.add_argument("--logout-local", action="store_true",
                   help="end only sessions this instance created (a bug, for the checks)")
    p.add_argument("--request-log", metavar="FILE",
                   help="append `SESSION-ID items N` for each cart change answered")
    a = p.parse_args()
    Shop.name = a.name
    Shop.csrf = a.csrf
    Shop.secure = "; Secure" if a.secure else ""
    Shop.logout_local = a.logout_local
    if a.request_log:
        Shop.request_log = open(a.request_log, "a")
    Shop.store = FileStore(a.sessions, a.cache) if a.sessions else MemoryStore()
    ThreadingHTTPServer.daemon_threads = True
    # The default backlog of 5 drops connections under a dozen users: waits of a second.
    ThreadingHTTPServer.request_queue_size = 256
    ThreadingHTTPServer(("127.0.0.1", a.port), Shop).serve_forever()


if __name__ == "__main__":
    main()
