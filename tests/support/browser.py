"""Headless Chromium for the browser tests: Debian's chromium, driven by Playwright (never a downloaded browser);
the installed JupyterLab and `vqr serve` as servers for it."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def browser_skip_reason() -> str | None:
    if not CHROMIUM.is_file():
        return f"Debian's chromium is not installed at {CHROMIUM}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e .[test])"
    return None


needs_browser = pytest.mark.skipif(browser_skip_reason() is not None, reason=browser_skip_reason() or "")


@contextlib.contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(root: Path, log: Path):
    """The JupyterLab this project installs, serving ``root`` on 127.0.0.1 without a token; yields its URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--ServerApp.root_dir={root}", "--ServerApp.token=", "--ServerApp.password=", "--allow-root",
           "--LabApp.news_url=", "--LabServerApp.extension_manager=readonly"]
    with log.open("w") as out:
        server = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"JupyterLab did not start: {log.read_text()[-2000:]}") from None
                    time.sleep(0.5)
            yield f"http://127.0.0.1:{port}"
        finally:
            _stop(server)


@contextlib.contextmanager
def vqr_serve(site: Path, log: Path):
    """`vqr serve --port 0` on ``site`` as a user runs it; yields the URL it prints (ends with "/")."""
    cmd = [sys.executable, "-m", "vqr_analysis.cli", "serve", "--port", "0", "--site", str(site)]
    with log.open("w") as err:
        server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            line = server.stdout.readline()  # "serving <site> at http://127.0.0.1:<port>/  (Ctrl-C to stop)"
            url = next((word for word in line.split() if word.startswith("http://127.0.0.1:")), None)
            if url is None:
                raise RuntimeError(f"vqr serve did not start: {line!r} {log.read_text()[-2000:]}")
            yield url
        finally:
            _stop(server)
            server.stdout.close()


def _stop(server: subprocess.Popen) -> None:
    """End a server this helper started: politely, then for sure."""
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
