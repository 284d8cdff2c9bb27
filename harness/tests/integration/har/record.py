#!/usr/bin/env python3
"""Records a HAR 1.2 file of a real browser visiting an app: headless Chromium, driven over
its DevTools protocol (a WebSocket; this file speaks it with the standard library only),
does what a script of steps says, and every request the browser made is written as a HAR
entry with its headers, cookies, body and answer, as Chromium's own "Save all as HAR (with
content)" would.

    record.py --out FILE.har --steps STEPS.json [--chromium PATH]

STEPS.json is a list of steps, each done and then waited on until the network is quiet:
    {"goto": URL}                      open a page
    {"fill": [CSS_SELECTOR, VALUE]}    type into a field
    {"click": CSS_SELECTOR}            click (a button, a link)
    {"submit": CSS_SELECTOR}           submit a form (its submit event, as a click would)
"""

import argparse
import base64
import datetime
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from urllib.parse import parse_qsl, urlsplit


class WebSocket:
    """A WebSocket client (RFC 6455) for text messages: what the DevTools protocol needs."""

    def __init__(self, url):
        u = urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise RuntimeError("the browser closed the DevTools connection")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError(f"no WebSocket upgrade: {head!r}")
        self.buf = b""

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        header = bytes([0x81])
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(header + mask + masked)

    def read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("the browser closed the DevTools connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self, timeout):
        """The next text message, or None when none came within `timeout` seconds."""
        self.sock.settimeout(timeout)
        message = b""
        try:
            while True:
                b0, b1 = self.read(2)
                n = b1 & 0x7F
                if n == 126:
                    n = struct.unpack(">H", self.read(2))[0]
                elif n == 127:
                    n = struct.unpack(">Q", self.read(8))[0]
                self.sock.settimeout(30)
                message += self.read(n)
                if b0 & 0x80:
                    return message.decode()
        except socket.timeout:
            return None


class Browser:
    def __init__(self, chromium):
        self.profile = tempfile.mkdtemp(prefix="har-chromium-")
        self.proc = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update",
             "--remote-debugging-port=0", f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + 30
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.05)
        port = open(port_file).read().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        self.ws = WebSocket(page["webSocketDebuggerUrl"])
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = self.ws.recv(30)
            if msg is None:
                raise RuntimeError(f"no answer to {method}")
            m = json.loads(msg)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m["result"]
            if "method" in m:
                self.events.append(m)

    def close(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


class Recorder:
    """Turns the Network domain's events into HAR entries. A request and its redirects share
    one requestId: each hop is an entry of its own, and the k-th extra-info event (the
    headers really sent, with cookies; the raw answer, with Set-Cookie) belongs to hop k."""

    def __init__(self, browser):
        self.b = browser
        self.hops = {}  # requestId -> [hop]
        self.sent_extra = {}
        self.got_extra = {}
        self.in_flight = set()
        self.order = []

    def handle(self, m):
        p = m.get("params", {})
        rid = p.get("requestId")
        method = m["method"]
        if method == "Network.requestWillBeSent":
            hops = self.hops.setdefault(rid, [])
            if p.get("redirectResponse") and hops:
                hops[-1]["response"] = p["redirectResponse"]
            hop = {"request": p["request"], "wallTime": p["wallTime"], "ts": p["timestamp"]}
            hops.append(hop)
            self.order.append(hop)
            self.in_flight.add(rid)
        elif method == "Network.requestWillBeSentExtraInfo":
            self.sent_extra.setdefault(rid, []).append(p["headers"])
        elif method == "Network.responseReceivedExtraInfo":
            self.got_extra.setdefault(rid, []).append(p["headers"])
        elif method == "Network.responseReceived" and rid in self.hops:
            self.hops[rid][-1]["response"] = p["response"]
        elif method == "Network.loadingFinished" and rid in self.hops:
            hop = self.hops[rid][-1]
            hop["end"] = p["timestamp"]
            try:
                body = self.b.call("Network.getResponseBody", requestId=rid)
                hop["body"] = body
            except RuntimeError:
                pass
            self.in_flight.discard(rid)
        elif method == "Network.loadingFailed" and rid in self.hops:
            self.hops[rid][-1]["failed"] = p.get("errorText", "failed")
            self.in_flight.discard(rid)

    def quiet(self, settle=0.6, limit=15):
        """Handles events until no request is in flight and none came for `settle` s."""
        deadline = time.monotonic() + limit
        last = time.monotonic()
        while time.monotonic() < deadline:
            while self.b.events:
                self.handle(self.b.events.pop(0))
                last = time.monotonic()
            msg = self.b.ws.recv(0.1)
            if msg is not None:
                m = json.loads(msg)
                if "method" in m:
                    self.b.events.append(m)
                continue
            if not self.in_flight and time.monotonic() - last > settle:
                return
        raise RuntimeError(f"the network did not settle: {len(self.in_flight)} requests in flight")

    def entries(self):
        out = []
        for rid, hops in self.hops.items():
            for k, hop in enumerate(hops):
                sent = self.sent_extra.get(rid, [])
                got = self.got_extra.get(rid, [])
                hop["sent"] = sent[k] if k < len(sent) else None
                hop["got"] = got[k] if k < len(got) else None
        for hop in self.order:
            out.append(entry(hop))
        return out


def pairs(headers):
    out = []
    for name, value in headers.items():
        for v in str(value).split("\n"):
            out.append({"name": name, "value": v})
    return out


def header(headers, name):
    return next((h["value"] for h in headers if h["name"].lower() == name), None)


def entry(hop):
    req = hop["request"]
    req_headers = pairs(hop.get("sent") or req["headers"])
    cookie = header(req_headers, "cookie") or ""
    cookies = [
        {"name": k.strip(), "value": v}
        for k, _, v in (c.partition("=") for c in cookie.split(";") if c.strip())
    ]
    url = urlsplit(req["url"])
    request = {
        "method": req["method"], "url": req["url"], "httpVersion": "HTTP/1.1",
        "headers": req_headers, "cookies": cookies,
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(url.query)],
        "headersSize": -1, "bodySize": len(req.get("postData", "")),
    }
    if "postData" in req:
        mime = header(req_headers, "content-type") or ""
        post = {"mimeType": mime, "text": req["postData"]}
        if mime.startswith("application/x-www-form-urlencoded"):
            post["params"] = [{"name": k, "value": v} for k, v in parse_qsl(req["postData"])]
        request["postData"] = post
    res = hop.get("response")
    if res is None:
        response = {"status": 0, "statusText": "", "httpVersion": "", "headers": [], "cookies": [],
                    "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "",
                    "headersSize": -1, "bodySize": -1, "_error": hop.get("failed", "no answer")}
    else:
        res_headers = pairs(hop.get("got") or res["headers"])
        set_cookies = [h["value"] for h in res_headers if h["name"].lower() == "set-cookie"]
        content = {"size": 0, "mimeType": res.get("mimeType", "")}
        body = hop.get("body")
        if body is not None:
            content["text"] = body["body"]
            if body["base64Encoded"]:
                content["encoding"] = "base64"
            content["size"] = len(body["body"])
        response = {
            "status": res["status"], "statusText": res.get("statusText", ""),
            "httpVersion": "HTTP/1.1", "headers": res_headers,
            "cookies": [set_cookie(c) for c in set_cookies], "content": content,
            "redirectURL": header(res_headers, "location") or "",
            "headersSize": -1, "bodySize": content["size"],
        }
    started = datetime.datetime.fromtimestamp(hop["wallTime"], datetime.timezone.utc)
    elapsed = max(0.0, (hop.get("end", hop["ts"]) - hop["ts"]) * 1000)
    return {
        "startedDateTime": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "time": elapsed, "request": request, "response": response, "cache": {},
        "timings": {"send": 0, "wait": elapsed, "receive": 0},
    }


def set_cookie(line):
    parts = [p.strip() for p in line.split(";")]
    name, _, value = parts[0].partition("=")
    cookie = {"name": name, "value": value}
    for attr in parts[1:]:
        k, _, v = attr.partition("=")
        k = k.lower()
        if k == "path":
            cookie["path"] = v
        elif k == "httponly":
            cookie["httpOnly"] = True
        elif k == "secure":
            cookie["secure"] = True
    return cookie


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--steps", required=True)
    p.add_argument("--chromium", default="chromium")
    a = p.parse_args()
    steps = json.load(open(a.steps))
    browser = Browser(a.chromium)
    try:
        browser.call("Network.enable")
        browser.call("Page.enable")
        rec = Recorder(browser)
        for step in steps:
            if "goto" in step:
                browser.call("Page.navigate", url=step["goto"])
            else:
                if "fill" in step:
                    sel, value = step["fill"]
                    js = f"document.querySelector({json.dumps(sel)}).value = {json.dumps(value)}"
                elif "click" in step:
                    js = f"document.querySelector({json.dumps(step['click'])}).click()"
                elif "submit" in step:
                    js = f"document.querySelector({json.dumps(step['submit'])}).requestSubmit()"
                else:
                    raise SystemExit(f"unknown step {step}")
                result = browser.call("Runtime.evaluate", expression=js)
                if "exceptionDetails" in result:
                    raise SystemExit(f"step {step}: {result['exceptionDetails']}")
            rec.quiet()
        har = {"log": {"version": "1.2", "creator": {"name": "record.py", "version": "1"},
                       "pages": [], "entries": rec.entries()}}
    finally:
        browser.close()
    with open(a.out, "w") as f:
        json.dump(har, f, indent=1)
        f.write("\n")
    print(f"{a.out}: {len(har['log']['entries'])} entries", file=sys.stderr)


if __name__ == "__main__":
    main()
