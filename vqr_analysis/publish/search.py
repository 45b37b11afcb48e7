"""Full-text search for the embedded site: an index of every page's text and of the codebook, searched in the
browser by ``static/site.js`` — no server, no network, works from ``file://``.

The index is a classic script (``assets/search-index.js`` setting ``window.VQR_SEARCH``), not JSON, because a
page opened from disk may not ``fetch`` a file; the search box loads it on first use. Each entry is one section
of a page — split at its ``h2``/``h3`` headings and, in the reading views, at each report line (``#L<n>``) so a
hit opens at the line — or one indicator of the codebook, which opens the indicator explorer filtered to it.
(Quarto's site has Quarto's own search; this one is for the embedded renderer.)

Report text is data here: the index escapes ``< > & ' ` (`` so that nothing in it can read as markup or as a
script call (the offline guard scans every JS file), and site.js shows results as text only.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from typing import Iterable

__all__ = ["SearchEntry", "SEARCH_INDEX_FILE", "page_entries", "indicator_entries", "search_index_js"]

SEARCH_INDEX_FILE = "assets/search-index.js"
_SKIPPED = {"script", "style", "template", "noscript", "svg"}
_SECTION_HEADINGS = {"h2", "h3"}
# Elements whose edges separate words: table cells must not run together ("2025132 人" for 2025 | 132 人).
_BREAKS = {"p", "div", "li", "td", "th", "tr", "dt", "dd", "br", "h1", "h4", "h5", "h6", "figcaption", "caption",
           "blockquote", "section", "article", "ul", "ol", "table", "q", "button", "small"}
_SPACE = re.compile(r"\s+")
# Characters written as \uXXXX in the index: no "<script", "fetch('…')" or "import(`…`)" can form in it.
_DATA_ONLY = {c: f"\\u{ord(c):04x}" for c in "<>&'`("}


@dataclass(frozen=True)
class SearchEntry:
    """One searchable unit: where it opens (relative to the site root), the page, the section and its text."""

    href: str
    title: str
    section: str
    text: str
    kind: str = "page"  # "page" or "indicator"


class _Sections(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.sections: list[list] = [["", "", []]]  # [anchor id, heading, text parts]
        self._skip = 0
        self._heading: list[str] | None = None
        self._heading_depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in _SKIPPED:
            self._skip += 1
            return
        if tag in _BREAKS:
            self.handle_data(" ")
        values = dict(attrs)
        classes = (values.get("class") or "").split()
        if tag in _SECTION_HEADINGS:
            self.sections.append([values.get("id") or "", "", []])
            self._heading, self._heading_depth = [], 1
        elif self._heading is not None:
            self._heading_depth += 1
        elif "vqr-line" in classes and (values.get("id") or "").startswith("L"):
            line = values["id"][1:]
            self.sections.append([values["id"], f"原文第 {line} 行 / line {line}", []])

    def handle_endtag(self, tag):
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
            return
        if tag in _BREAKS:
            self.handle_data(" ")
        if self._heading is not None:
            self._heading_depth -= 1
            if tag in _SECTION_HEADINGS or self._heading_depth <= 0:
                self.sections[-1][1] = _SPACE.sub(" ", "".join(self._heading)).strip()
                self._heading = None

    def handle_data(self, data):
        if self._skip:
            return
        if self._heading is not None:
            self._heading.append(data)
        else:
            self.sections[-1][2].append(data)


def page_entries(page: str, title: str, body_html: str) -> list[SearchEntry]:
    """The sections of one rendered page body (``page`` is its path from the site root)."""
    parser = _Sections()
    parser.feed(body_html)
    parser.close()
    entries = []
    for anchor, heading, parts in parser.sections:
        text = _SPACE.sub(" ", "".join(parts)).strip()
        if text or heading:
            entries.append(SearchEntry(f"{page}#{anchor}" if anchor else page, title, heading, text))
    return entries


def indicator_entries(codebook: Iterable[dict], page: str = "indicators.html") -> list[SearchEntry]:
    """One entry per codebook indicator: its names, aliases, unit and definition; opens the explorer filtered."""
    entries = []
    for row in codebook:
        aliases = " ".join(a for a in str(row.get("aliases_zh") or "").split("|") if a)
        text = " ".join(str(v) for v in (row["code"], aliases, row.get("unit") or "", row.get("description_en") or "")
                        if v)
        entries.append(SearchEntry(f"{page}?filter={row['code']}", f"{row['name_zh']} / {row['name_en']}",
                                   "指标 Indicator", text, kind="indicator"))
    return entries


def search_index_js(entries: Iterable[SearchEntry]) -> str:
    """The index as a script: ``window.VQR_SEARCH = [...]``, report text escaped to data only."""
    data = json.dumps([asdict(e) for e in entries], ensure_ascii=False, separators=(",", ":"))
    data = data.translate(str.maketrans(_DATA_ONLY)).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return ("// Search index of the embedded site (vqr_analysis/publish/search.py); loaded by site.js on first use.\n"
            f"window.VQR_SEARCH = {data};\n")
