#!/usr/bin/env python3
"""A single-page notes app with a JSON login, as a stand-in for a third-party application of
another shape than the shop: its page is a script that calls a JSON API; the login takes a
JSON body, guarded by a CSRF token the page reads from the API and sends in a header;
signed out, the API answers 401 with JSON (no redirect); its session cookie is `sid`.

Sessions live in this process's memory, so two instances behind round robin lose them (the
session inconsistency problem), and with --sessions DIR in files every instance shares.
With NOTES_PASSWORD in its environment, a login needs that password; any email signs in.

    notes.py --port 18300 [--name app1] [--sessions DIR]

GET  /                 the page (HTML) and /static/app.js, /static/app.css its assets
GET  /api/csrf         JSON {"token": T}, and cookie XSRF (a double-submit token)
POST /api/login        JSON {"email", "password"} and header X-CSRF-Token = T: 200
                       {"user": {"email"}} and cookie `sid`; 401 for a wrong password, 403
                       for a missing or wrong token
GET  /api/me           JSON {"user": {"email"}, "likes": N, "bio": B}; 401 when signed out
POST /api/likes        JSON {"likes": N}: one more like
PUT  /api/profile      JSON {"bio": B}: sets the bio; 204
POST /api/logout       ends the session; 204
POST /analytics/event  204 (what the page reports of itself)
GET  /healthz          200
"""

import argparse
import json
import os
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = b"""<!doctype html>
<html><head><title>Notes</title><link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script></head>
<body>
<form id="login"><input name="email" type="email"><input name="password" type="password">
<button type="submit">Sign in</button></form>
<div id="me" hidden><p>Signed in as <b id="email"></b>, <span id="likes"></span> likes</p>
<p>Bio: <span id="bio"></span></p>
<button id="like">Like</button>
<form id="profile"><input name="bio"><button type="submit">Save</button></form>
<button id="logout">Sign out</button></div>
</body></html>
"""

SCRIPT = b"""
async function api(method, path, body, headers) {
  const r = await fetch(path, {method, headers: {"Content-Type": "application/json", ...headers},
                               body: body === undefined ? undefined : JSON.stringify(body)});
  return r.status === 204 ? {status: 204} : {status: r.status, json: await r.json()};
}
async function show() {
  const me = await api("GET", "/api/me");
  document.getElementById("me").hidden = me.status !== 200;
  document.getElementById("login").hidden = me.status === 200;
  if (me.status === 200) {
    document.getElementById("email").textContent = me.json.user.email;
    document.getElementById("likes").textContent = me.json.likes;
    document.getElementById("bio").textContent = me.json.bio;
  }
}
document.getElementById("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target;
  const csrf = await api("GET", "/api/csrf");
  await api("POST", "/api/login", {email: f.email.value, password: f.password.value},
            {"X-CSRF-Token": csrf.json.token});
  await show();
});
document.getElementById("like").addEventListener("click", async () => {
  const r = await api("POST", "/api/likes");
  document.getElementById("likes").textContent = r.json.likes;
});
document.getElementById("profile").addEventListener("submit", async (e) => {
  e.preventDefault();
  await api("PUT", "/api/profile", {bio: e.target.bio.value});
  await show();
});
document.getElementById("logout").addEventListener("click", async () => {
  await api("POST", "/api/logout");
  await show();
});
navigator.sendBeacon("/analytics/event", JSON.stringify({page: location.pathname}));
show();
"""

STYLE = b"body { font-family: sans-serif; }\n"


class Store:
    """Sessions in memory, or one JSON file each in a directory every instance shares."""

    def __init__(self, directory=None):
        self.dir = directory
        self.sessions = {}
        self.lock = threading.Lock()
        if directory:
            os.makedirs(directory, exist_ok=True)

    def get(self, sid):
        if not self.dir:
            with self.lock:
                s = self.sessions.get(sid)
                return dict(s) if s else None
        try:
            with open(os.path.join(self.dir, sid + ".json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def put(self, sid, session):
        if not self.dir:
            with self.lock:
                self.sessions[sid] = dict(session)
            return
        path = os.path.join(self.dir, sid + ".json")
        tmp = path + "." + secrets.token_hex(4)
        with open(tmp, "w") as f:
            json.dump(session, f)
        os.replace(tmp, path)

    def delete(self, sid):
        with self.lock:
            self.sessions.pop(sid, None)
        if self.dir:
            try:
                os.remove(os.path.join(self.dir, sid + ".json"))
            except OSError:
                pass


class Notes(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    store = None
    name = "app"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", content_type="application/json", headers=()):
        self.send_response(status)
        self.send_header("X-Served-By", self.name)
        if status != 204:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def json(self, status, value, headers=()):
        self.answer(status, json.dumps(value).encode(), headers=headers)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return {}

    def cookie(self, name):
        for part in (self.headers.get("Cookie") or "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == name and v:
                return v
        return None

    def session(self):
        sid = self.cookie("sid")
        s = self.store.get(sid) if sid else None
        return (sid, s) if s is not None else (None, None)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/healthz":
            return self.answer(200, b"ok", "text/plain")
        if path == "/":
            return self.answer(200, PAGE, "text/html")
        if path == "/static/app.js":
            return self.answer(200, SCRIPT, "text/javascript")
        if path == "/static/app.css":
            return self.answer(200, STYLE, "text/css")
        if path == "/api/csrf":
            token = secrets.token_urlsafe(16)
            return self.json(200, {"token": token}, [("Set-Cookie", f"XSRF={token}; Path=/api")])
        if path == "/api/me":
            _, s = self.session()
            if s is None:
                return self.json(401, {"error": "not signed in"})
            return self.json(200, {"user": {"email": s["email"]}, "likes": s["likes"], "bio": s["bio"]})
        self.answer(404, b"not found", "text/plain")

    def do_POST(self):
        path = self.path.split("?")[0]
        body = self.body()
        if path == "/analytics/event":
            return self.answer(204)
        if path == "/api/login":
            token = self.cookie("XSRF")
            if not token or self.headers.get("X-CSRF-Token") != token:
                return self.json(403, {"error": "bad or missing csrf token"})
            password = os.environ.get("NOTES_PASSWORD")
            email = body.get("email") if isinstance(body, dict) else None
            if not email or (password and body.get("password") != password):
                return self.json(401, {"error": "wrong email or password"})
            sid = secrets.token_urlsafe(18)
            self.store.put(sid, {"email": email, "likes": 0, "bio": ""})
            return self.json(200, {"user": {"email": email}},
                             [("Set-Cookie", f"sid={sid}; Path=/; HttpOnly; SameSite=Lax")])
        sid, s = self.session()
        if s is None:
            return self.json(401, {"error": "not signed in"})
        if path == "/api/likes":
            s["likes"] += 1
            self.store.put(sid, s)
            return self.json(200, {"likes": s["likes"]})
        if path == "/api/logout":
            self.store.delete(sid)
            return self.answer(204, headers=[("Set-Cookie", "sid=; Path=/; Max-Age=0")])
        self.answer(404, b"not found", "text/plain")

    def do_PUT(self):
        body = self.body()
        sid, s = self.session()
        if s is None:
            return self.json(401, {"error": "not signed in"})
        if self.path == "/api/profile" and isinstance(body, dict):
            s["bio"] = str(body.get("bio", ""))
            self.store.put(sid, s)
            return self.answer(204)
        self.answer(404, b"not found", "text/plain")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", default="app")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sessions", help="share sessions through files in this directory")
    a = p.parse_args()
    Notes.name = a.name
    Notes.store = Store(a.sessions)
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 256
    ThreadingHTTPServer(("127.0.0.1", a.port), Notes).serve_forever()


if __name__ == "__main__":
    main()
