"""The offline guard: a built site must not load anything from outside the machine.

Run after every render, whichever renderer made the pages (the embedded one, Quarto, or a future one), over
every HTML, CSS and JavaScript file of the output. It looks for what a browser would *fetch* on its own —
``<script src>``, ``<link href>`` (stylesheets, icons, preloads, fonts), ``<img>``/``srcset``, ``<iframe>``,
media, ``<base href>``, SVG ``<use>``/``<image>``, CSS ``url()`` and ``@import`` (``@font-face`` sources
included), and in scripts ``import``, ``fetch``, workers and script tags written as strings — whose URL is
http(s), ws(s), ftp or protocol-relative (``//host``). Links a reader clicks (``<a href>``) are not fetches
and stay allowed: the about page links the publishers' sites.

The scan is structural for HTML (a parser, not a regex over the page), so report text shown on a page — which
may well contain ``url(https://…)`` or ``<script src=…>`` as escaped text — is never mistaken for a reference,
and JSON data blocks (``<script type="application/json">``) are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from vqr_analysis.core.errors import VqrError

__all__ = ["OutsideReference", "SCANNED_SUFFIXES", "is_outside_url", "scan_html", "scan_css", "scan_js",
           "find_outside_references", "check_offline"]

SCANNED_SUFFIXES = (".html", ".htm", ".css", ".js", ".mjs")

# Browsers drop ASCII tab/newline inside URLs and strip leading spaces/controls, and read "\" as "/" in
# http(s) URLs: "  ht\ttps:\\\\cdn" is https://cdn. A scheme without slashes ("https:cdn.example") still leaves.
_OUTSIDE = re.compile(r"^(?:(?:https?|wss?|ftp):|[/\\]{2})", re.I)
_URL_NOISE = re.compile(r"[\t\n\r]")

# Attributes a browser fetches by itself, per element (names as html.parser gives them: lower case).
_FETCHING_ATTRS: dict[str, tuple[str, ...]] = {
    "script": ("src",), "img": ("src", "srcset"), "iframe": ("src",), "frame": ("src",), "embed": ("src",),
    "source": ("src", "srcset"), "audio": ("src",), "video": ("src", "poster"), "track": ("src",),
    "object": ("data",), "input": ("src",), "base": ("href",), "link": ("href", "imagesrcset"),
    "image": ("href", "xlink:href"), "use": ("href", "xlink:href"), "feimage": ("href", "xlink:href"),
}
_SRCSET_ATTRS = ("srcset", "imagesrcset")
# <link rel=…> values that name a page for readers or crawlers and make the browser fetch nothing.
_NAVIGATIONAL_RELS = {"canonical", "alternate", "author", "license", "bookmark", "next", "prev", "help", "me"}
# <script type=…> values whose content is data, not code.
_JS_TYPES = {"", "text/javascript", "application/javascript", "module", "text/ecmascript", "application/ecmascript"}

_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""", re.I)
_CSS_IMPORT = re.compile(r"""@import\s+(?:"([^"]*)"|'([^']*)')""", re.I)
_Q = r"""(?:"([^"\n]*)"|'([^'\n]*)'|`([^`\n]*)`)"""  # a JS string literal
_JS_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("import", re.compile(r"\b(?:import|export)\s*(?:[\w$*{}\s,]+?\s*from\s*)?" + _Q)),
    ("import()", re.compile(r"\bimport\s*\(\s*" + _Q)),
    ("fetch", re.compile(r"\bfetch\s*\(\s*" + _Q)),
    ("importScripts", re.compile(r"\bimportScripts\s*\(\s*" + _Q)),
    ("worker", re.compile(r"\bnew\s+(?:Shared)?Worker\s*\(\s*" + _Q)),
    ("websocket", re.compile(r"\bnew\s+(?:WebSocket|EventSource)\s*\(\s*" + _Q)),
    ("XMLHttpRequest", re.compile(r"\.open\s*\(\s*" + _Q + r"\s*,\s*" + _Q)),
    ("sendBeacon", re.compile(r"\bsendBeacon\s*\(\s*" + _Q)),
    ("require", re.compile(r"\brequire(?:js)?\s*\(\s*\[?\s*" + _Q)),
    (".src =", re.compile(r"\.src\s*=\s*" + _Q)),
    ("markup in a string", re.compile(
        r"""<(?:script|link|img|iframe|source|embed)\b[^<>]*?\b(?:src|href)\s*=\s*\\?["']?([^"'\\\s<>]+)""", re.I)),
)


@dataclass(frozen=True)
class OutsideReference:
    """One reference that would leave the machine: the page (relative to the site), the URL and how it loads."""

    page: str
    url: str
    how: str

    def __str__(self) -> str:
        return f"{self.page} loads {self.url} ({self.how})"


def is_outside_url(url: str) -> bool:
    """True for an http(s)/ws(s)/ftp or protocol-relative URL, as a browser would read it."""
    return bool(_OUTSIDE.match(_URL_NOISE.sub("", url).lstrip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c"
                                                                 "\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18"
                                                                 "\x19\x1a\x1b\x1c\x1d\x1e\x1f ")))


def _first(groups: tuple) -> str:
    return next((g for g in groups if g is not None), "")


def scan_css(text: str, page: str = "") -> list[OutsideReference]:
    """``url()`` (fonts, images, imports) and ``@import "…"`` in a stylesheet, a ``<style>`` or a style attribute."""
    found = [OutsideReference(page, _first(m.groups()).strip(), "css url()") for m in _CSS_URL.finditer(text)]
    found += [OutsideReference(page, _first(m.groups()).strip(), "css @import") for m in _CSS_IMPORT.finditer(text)]
    return [ref for ref in found if is_outside_url(ref.url)]


def scan_js(text: str, page: str = "") -> list[OutsideReference]:
    """Literal outside URLs handed to ``import``, ``fetch``, workers, XHR, script loaders, or written as tags."""
    found = []
    for how, pattern in _JS_PATTERNS:
        for match in pattern.finditer(text):
            groups = match.groups()
            if how == "XMLHttpRequest":
                groups = groups[3:]  # the URL, not the method
            url = _first(groups)
            if is_outside_url(url):
                found.append(OutsideReference(page, url, f"script {how}"))
    return found


class _PageScanner(HTMLParser):
    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.page = page
        self.found: list[OutsideReference] = []
        self._content: str | None = None   # "css" or "js" while inside <style> / a code <script>
        self._buffer: list[str] = []

    def _add(self, url: str, how: str) -> None:
        if is_outside_url(url):
            self.found.append(OutsideReference(self.page, url.strip(), how))

    def handle_starttag(self, tag, attrs):
        self._start(tag, attrs)

    def handle_startendtag(self, tag, attrs):
        self._start(tag, attrs, closed=True)

    def _start(self, tag, attrs, closed=False):
        values = {name: value or "" for name, value in attrs}
        for name in _FETCHING_ATTRS.get(tag, ()):
            if name not in values:
                continue
            if tag == "link" and name == "href":
                rels = set(values.get("rel", "").lower().split())
                if rels and rels <= _NAVIGATIONAL_RELS:
                    continue
            if name in _SRCSET_ATTRS:
                for candidate in values[name].split(","):
                    self._add(candidate.strip().split(" ")[0], f"<{tag} {name}>")
            else:
                self._add(values[name], f"<{tag} {name}>")
        if values.get("style"):
            self.found += scan_css(values["style"], self.page)
        if closed:
            return
        if tag == "style":
            self._content, self._buffer = "css", []
        elif tag == "script" and values.get("type", "").strip().lower() in _JS_TYPES and "src" not in values:
            self._content, self._buffer = "js", []

    def handle_data(self, data):
        if self._content:
            self._buffer.append(data)

    def handle_endtag(self, tag):
        if self._content and tag in ("style", "script"):
            text = "".join(self._buffer)
            self.found += scan_css(text, self.page) if self._content == "css" else scan_js(text, self.page)
            self._content, self._buffer = None, []


def scan_html(text: str, page: str = "") -> list[OutsideReference]:
    """Every outside reference a browser would fetch when it opens this page."""
    scanner = _PageScanner(page)
    scanner.feed(text)
    scanner.close()
    return scanner.found


def find_outside_references(site: Path) -> list[OutsideReference]:
    """Scan every HTML, CSS and JS file under ``site`` (in path order)."""
    site = Path(site)
    found: list[OutsideReference] = []
    for path in sorted(p for p in site.rglob("*") if p.is_file() and p.suffix.lower() in SCANNED_SUFFIXES):
        page = path.relative_to(site).as_posix()
        text = path.read_text(encoding="utf-8", errors="replace")
        suffix = path.suffix.lower()
        if suffix in (".html", ".htm"):
            found += scan_html(text, page)
        elif suffix == ".css":
            found += scan_css(text, page)
        else:
            found += scan_js(text, page)
    return found


def check_offline(site: Path, *, renderer: str = "") -> None:
    """Raise a VqrError naming the first page and URL (and how many more) if the site would leave the machine."""
    found = find_outside_references(site)
    if not found:
        return
    more = f" and {len(found) - 1} more reference(s)" if len(found) > 1 else ""
    made_by = f" rendered by {renderer}" if renderer else ""
    raise VqrError(f"the site{made_by} would load from outside the machine: {found[0]}{more}; "
                   "the last good site is kept")
