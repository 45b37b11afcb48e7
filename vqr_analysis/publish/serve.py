"""``vqr serve``: the built site over http://127.0.0.1, for pages a browser will not run from ``file://``.

The embedded renderer's pages work opened straight from disk. Quarto's pages load ES modules (and its search
fetches ``search.json``), which browsers block over ``file://``: that site needs a server. This one is the
standard library's static file handler bound to the loopback interface only, with the MIME types the site's
files need stated explicitly (a module served as ``text/plain`` is refused by the browser, and the system's
``mimetypes`` table differs between machines).
"""

from __future__ import annotations

import functools
import http.server
from pathlib import Path
from typing import Callable

from vqr_analysis.core.errors import VqrError

__all__ = ["HOST", "DEFAULT_PORT", "MIME_TYPES", "make_server", "serve_site"]

HOST = "127.0.0.1"  # never a public interface: the site is for the person at this machine
DEFAULT_PORT = 8000

MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".wasm": "application/wasm",
    ".csv": "text/csv; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".pdf": "application/pdf",
    ".ipynb": "application/x-ipynb+json",
}


class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}
    log: Callable[[str], None] | None = None

    def end_headers(self) -> None:
        # Always the current build: a rebuilt page must not be served from the browser's cache.
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        if self.log is not None:
            self.log(format % args)


def make_server(root: Path, port: int = DEFAULT_PORT, *,
                log: Callable[[str], None] | None = None) -> http.server.ThreadingHTTPServer:
    """A server for ``root`` on 127.0.0.1:``port`` (0 picks a free port; read it from ``server_address``)."""
    root = Path(root).resolve()
    if not (root / "index.html").is_file():
        raise VqrError("no built site here (index.html missing); run `vqr site` or `vqr build` first", path=root)
    if not 0 <= port <= 65535:
        raise VqrError(f"--port must be between 0 and 65535, not {port}")
    handler = type("SiteHandler", (_SiteHandler,), {"log": staticmethod(log) if log else None})
    try:
        return http.server.ThreadingHTTPServer((HOST, port), functools.partial(handler, directory=str(root)))
    except OSError as exc:
        raise VqrError(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}; choose another --port") from None


def serve_site(root: Path, port: int = DEFAULT_PORT, *, on_ready: Callable[[str], None] | None = None,
               log: Callable[[str], None] | None = None) -> None:
    """Serve ``root`` until interrupted; ``on_ready`` receives the site's URL once the port is bound."""
    server = make_server(root, port, log=log)
    try:
        if on_ready is not None:
            on_ready(f"http://{HOST}:{server.server_address[1]}/")
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
