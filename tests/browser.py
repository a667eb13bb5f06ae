"""Headless Chromium driven over the DevTools protocol on a pipe: load a page, read its errors, measure it."""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Flags for a quiet, sandbox-free, network-free headless browser.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-pipe",
]
#: The longest a page may take to load and settle (seconds); a safety net, not a measurement.
LOAD_LIMIT = 60.0


def chromium() -> str | None:
    """Return the Chromium executable, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageLoad:
    """What happened while a page loaded."""

    errors: list[str] = field(default_factory=list)
    screenshot: bytes = b""
    #: What the page's `script` returned (JSON-compatible), or None.
    value: Any = None


class _Pipe:
    def __init__(self, write_fd: int, read_fd: int) -> None:
        self.write_fd, self.read_fd = write_fd, read_fd
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        return self.next_id

    def read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer")
            ready, _, _ = select.select([self.read_fd], [], [], left)
            if ready:
                chunk = os.read(self.read_fd, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the pipe")
                self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        deadline = time.monotonic() + LOAD_LIMIT
        wanted = self.send(method, params, session)
        while True:
            message = self.read(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str) -> None:
        deadline = time.monotonic() + LOAD_LIMIT
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self.read(deadline))


def _errors(events: list[dict[str, Any]]) -> list[str]:
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            found.append(f"console.{params['type']}: {args}")
        elif method == "Runtime.exceptionThrown":
            found.append(f"exception: {params.get('exceptionDetails', {}).get('text', '')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            found.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())
    return found


def load(url: str, *, width: int = 1280, height: int = 1600, script: str | None = None) -> PageLoad:
    """Load a page in a fresh headless Chromium profile; return console errors and a PNG screenshot.

    `script`, a JavaScript expression, is evaluated once the page has loaded; its value is returned too.
    """
    exe = chromium()
    if exe is None:
        raise RuntimeError("chromium is not installed (make test installs it)")
    to_browser_read, to_browser_write = os.pipe()
    from_browser_read, from_browser_write = os.pipe()

    def wire() -> None:  # the browser reads commands on fd 3 and writes answers on fd 4
        os.dup2(to_browser_read, 3)
        os.dup2(from_browser_write, 4)

    with tempfile.TemporaryDirectory(prefix="bcsignal-chromium-") as profile:
        process = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire,
            pass_fds=(3, 4),
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        pipe = _Pipe(to_browser_write, from_browser_read)
        try:
            target = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                pipe.call(f"{domain}.enable", session=session)
            pipe.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )
            pipe.call("Page.navigate", {"url": url}, session=session)
            pipe.wait_for("Page.loadEventFired")
            # a last round trip lets late console messages arrive before we read them
            pipe.call("Runtime.evaluate", {"expression": "document.readyState"}, session=session)
            value = None
            if script is not None:
                answer = pipe.call(
                    "Runtime.evaluate", {"expression": script, "returnByValue": True}, session=session
                )
                if "exceptionDetails" in answer:
                    raise RuntimeError(f"the script failed: {answer['exceptionDetails']}")
                value = answer.get("result", {}).get("value")
            shot = pipe.call("Page.captureScreenshot", {"format": "png"}, session=session)
            result = PageLoad(
                errors=_errors(pipe.events), screenshot=base64.b64decode(shot["data"]), value=value
            )
            pipe.send("Browser.close")
        finally:
            os.close(to_browser_write)
            os.close(from_browser_read)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return result


def file_url(path: Path) -> str:
    """Return the file:// URL of a local file."""
    return path.resolve().as_uri()


#: JavaScript measuring a page's drawings: overlapping node boxes in each diagram, and text drawn past
#: the viewport of its SVG (inline diagrams and charts alike). Boxes are compared as rendered.
MEASURE = """(() => {
  const out = {svgs: 0, nodes: 0, texts: 0, overlaps: [], clipped: []};
  const name = (e) => (e.querySelector('title') || {}).textContent || e.textContent || e.tagName;
  for (const svg of document.querySelectorAll('svg')) {
    if (svg.ownerSVGElement) continue;
    out.svgs += 1;
    const frame = svg.getBoundingClientRect();
    const where = svg.id || svg.getAttribute('data-file') || ('svg ' + out.svgs);
    const boxes = [...svg.querySelectorAll('.node')].map((e) => [e, e.getBoundingClientRect()]);
    out.nodes += boxes.length;
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i][1], b = boxes[j][1];
        const apart = a.right - 0.01 <= b.left || b.right - 0.01 <= a.left
          || a.bottom - 0.01 <= b.top || b.bottom - 0.01 <= a.top;
        if (!apart) {
          out.overlaps.push(where + ': ' + name(boxes[i][0]) + ' / ' + name(boxes[j][0]));
        }
      }
    }
    for (const text of svg.querySelectorAll('text')) {
      if (!text.textContent.trim()) continue;
      out.texts += 1;
      const r = text.getBoundingClientRect();
      const inside = r.left >= frame.left - 0.5 && r.right <= frame.right + 0.5
        && r.top >= frame.top - 0.5 && r.bottom <= frame.bottom + 0.5;
      if (!inside) {
        out.clipped.push(where + ': ' + text.textContent.trim().slice(0, 60));
      }
    }
  }
  return out;
})()"""


def measure(url: str, *, width: int = 1280) -> dict[str, Any]:
    """Load a page and return MEASURE's findings: counts, overlapping node boxes, clipped texts."""
    loaded = load(url, width=width, script=MEASURE)
    found: dict[str, Any] = loaded.value
    found["errors"] = loaded.errors
    return found
