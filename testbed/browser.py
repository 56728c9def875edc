"""Debian's chromium, headless: a page's rendered DOM and text, its console, a screenshot.

Driven by its command line (`--dump-dom`, `--screenshot`) rather than the
DevTools protocol: the status page has no script, so the console lines that
`--enable-logging=stderr` prints (page errors, console messages) are all the
errors a page can log, and no extra dependency is needed. Name resolution is
mapped to nothing except loopback, so a page that reaches for anything off
the host fails here as it would on an offline registry host.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    "--enable-logging=stderr",
    "--v=0",
)
# `[pid:tid:time:INFO:CONSOLE:1] "Uncaught ReferenceError: ...", source: http://... (1)`
CONSOLE = re.compile(r":CONSOLE[^\]]*\] (.*)")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chromium() -> str | None:
    return shutil.which("chromium")


class _Text(HTMLParser):
    """The text a reader sees: body text, one line per block, without style or script."""

    BLOCKS = frozenset({"p", "li", "h1", "h2", "h3", "section", "header", "footer", "div", "tr"})
    HIDDEN = frozenset({"style", "script", "head", "title"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(re.sub(r"\s+", " ", data))  # as HTML lays out white space

    def lines(self) -> list[str]:
        text = "".join(self.parts)
        return [line.strip() for line in text.splitlines() if line.strip()]


def visible_lines(dom: str) -> list[str]:
    parser = _Text()
    parser.feed(dom)
    parser.close()
    return parser.lines()


@dataclass(frozen=True)
class Rendered:
    dom: str
    lines: list[str]  # the visible text, one line per block, whitespace collapsed
    console: list[str]  # console messages and page errors, in order
    screenshot: Path
    screenshot_size: tuple[int, int]  # width, height in pixels


class Browser:
    def __init__(self, binary: str, workdir: Path, window: tuple[int, int] = (1280, 1400)) -> None:
        self.binary = binary
        self.workdir = workdir
        self.window = window
        workdir.mkdir(parents=True, exist_ok=True)

    def _run(self, url: str, action: str, name: str) -> subprocess.CompletedProcess[str]:
        profile = self.workdir / f"profile-{name}"  # fresh per run: no cache, no state between
        done = subprocess.run(
            [
                self.binary,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={self.window[0]},{self.window[1]}",
                action,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        (self.workdir / f"{name}.stderr").write_text(done.stderr)
        if done.returncode != 0:
            raise AssertionError(
                f"chromium {action} {url} exited {done.returncode}:\n{done.stderr}"
            )
        return done

    def load(self, url: str, name: str) -> Rendered:
        """The page at url as chromium renders it; the screenshot goes to <workdir>/<name>.png."""
        dumped = self._run(url, "--dump-dom", f"{name}-dom")
        shot = self.workdir / f"{name}.png"
        pictured = self._run(url, f"--screenshot={shot}", f"{name}-shot")
        console = [m[1] for err in (dumped.stderr, pictured.stderr) for m in CONSOLE.finditer(err)]
        return Rendered(dumped.stdout, visible_lines(dumped.stdout), console, shot, png_size(shot))


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR; AssertionError if the file is not a PNG."""
    head = path.read_bytes()[:24] if path.exists() else b""
    if len(head) < 24 or not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
        raise AssertionError(f"{path} is not a PNG screenshot")
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)
