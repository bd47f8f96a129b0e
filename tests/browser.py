"""Open a page in headless Chromium and report what a user would see go wrong, through the
DevTools protocol over a minimal WebSocket client (the standard library only)."""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_browser():
    return next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)


class DevTools:
    """One page target: send commands, collect events."""

    def __init__(self, ws_url):
        host_port, path = ws_url[len("ws://"):].split("/", 1)
        host, port = host_port.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            response += self.sock.recv(1)
        assert b" 101 " in response.split(b"\r\n")[0], response
        self.next_id, self.events = 0, []

    def _send(self, text):
        data, mask = text.encode(), os.urandom(4)
        header = bytes([0x81])
        if len(data) < 126:
            header += bytes([0x80 | len(data)])
        elif len(data) < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(data))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(data))
        self.sock.sendall(header + mask + bytes(b ^ mask[k % 4] for k, b in enumerate(data)))

    def _read(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("the browser closed the connection")
            data += chunk
        return data

    def _receive(self):
        message = b""
        while True:
            first, second = self._read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            message += self._read(length)
            if first & 0x80:
                return json.loads(message)

    def call(self, method, **params):
        self.next_id += 1
        self._send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = self._receive()
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method, timeout=30):
        deadline = time.time() + timeout
        while not any(e.get("method") == method for e in self.events):
            if time.time() > deadline:
                raise TimeoutError(method)
            self.events.append(self._receive())


# What the page shows, read in the page itself once it has loaded.
INSPECT = """JSON.stringify({
  images: Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]),
  curves: Array.from(document.querySelectorAll('svg polyline')).map(p => p.points.numberOfItems),
  text: document.body.innerText
})"""


def open_page(path, screenshot=None, width=1200):
    """Load a local page; return its images, curves and text, the console errors and exceptions,
    and every URL it asked for. Optionally save a full-page PNG screenshot."""
    profile = tempfile.mkdtemp(prefix="gan-browser-")
    browser = subprocess.Popen([find_browser(), "--headless=new", "--no-sandbox", "--disable-gpu",
                                "--remote-debugging-port=0", f"--user-data-dir={profile}", "--no-first-run",
                                f"--window-size={width},900", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.time() + 60
        while not port_file.exists() or len(port_file.read_text().split()) < 2:
            if time.time() > deadline or browser.poll() is not None:
                raise RuntimeError("Chromium did not start")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = DevTools(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.call(f"{domain}.enable")
        page.call("Page.navigate", url=Path(path).resolve().as_uri())
        page.wait_for("Page.loadEventFired")
        shown = json.loads(page.call("Runtime.evaluate", expression=INSPECT, returnByValue=True)["result"]["value"])
        if screenshot:
            size = page.call("Page.getLayoutMetrics")["cssContentSize"]
            shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                             clip=dict(x=0, y=0, width=size["width"], height=size["height"], scale=1))
            Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
        events = page.events
        shown["errors"] = [e["params"] for e in events if e.get("method") == "Runtime.exceptionThrown"
                           or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")
                           or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
        shown["requests"] = [e["params"]["request"]["url"] for e in events
                             if e.get("method") == "Network.requestWillBeSent"]
        return shown
    finally:
        browser.kill()
        browser.wait()
        shutil.rmtree(profile, ignore_errors=True)
