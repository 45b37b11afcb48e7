"""Reading a registered report: bytes → verified → decoded → lines.

The text is kept exactly as published (no normalisation here) because every stored value must be found
verbatim in its cited line. Decoding accepts UTF-8, UTF-8 with BOM and GB18030/GBK; other formats (PDF,
DOCX) are turned into text lines by :mod:`vqr_analysis.formats` when that module knows the suffix.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from .errors import VqrError
from .registry import Report
from .textnorm import LogicalText, logical_text

__all__ = ["SourceDocument", "load_document", "sha256_bytes", "decode_text"]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_text(data: bytes, path: Path | str) -> str:
    """Decode report bytes: UTF-8 (BOM dropped), else GB18030; refuse empty and binary input."""
    if not data.strip():
        raise VqrError("file is empty", path=path)
    if b"\x00" in data[:65536]:
        raise VqrError("file is binary (contains NUL bytes), not report text", path=path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise VqrError("file is neither UTF-8 nor GB18030 text", path=path) from None
    # GB18030 decodes nearly any byte soup; insist the result is mostly CJK/ASCII text.
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\n\r\t")
    if printable < 0.95 * len(text):
        raise VqrError("file does not decode to readable text", path=path)
    return text


@dataclass
class SourceDocument:
    """A verified report and its text lines (``lines[0]`` is line 1)."""

    report: Report
    path: Path
    sha256: str
    text: str
    lines: list[str] = field(repr=False)
    # For PDF/DOCX: per line, where it sits in the original ("p.3", "¶12"); None for plain text.
    locators: list[str | None] | None = field(default=None, repr=False)

    def line(self, number: int) -> str:
        return self.lines[number - 1]

    def locator(self, number: int) -> str | None:
        return self.locators[number - 1] if self.locators else None

    @cached_property
    def logical(self) -> LogicalText:
        """The joined text for prose extraction (identity-like for long-line files)."""
        return logical_text(self.lines, page_headers=self.running_headers)

    @cached_property
    def running_headers(self) -> set[str]:
        """Short lines that repeat many times (page headers of a PDF export)."""
        counts: dict[str, int] = {}
        for line in self.lines:
            s = line.strip()
            if 2 <= len(s) <= 30:
                counts[s] = counts.get(s, 0) + 1
        return {s for s, n in counts.items() if n >= 5 and not any(ch.isdigit() for ch in s)}


def load_document(report: Report, base: Path | None = None, *, verify: bool = True) -> SourceDocument:
    """Read a registered report. A missing file, wrong hash or undecodable content is a VqrError."""
    path = report.path(base)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise VqrError(f"report {report.id} ({report.region}) file not found", path=path) from None
    except IsADirectoryError:
        raise VqrError(f"report {report.id} path is a folder, not a file", path=path) from None
    digest = sha256_bytes(data)
    if verify and digest != report.sha256:
        raise VqrError(
            f"SHA-256 {digest[:12]}… does not match the registered {report.sha256[:12]}… "
            "(the file changed; update data/reports.toml only if the change is intended)",
            path=path,
        )
    from . import formats  # local: PDF/DOCX readers import heavy libraries

    text, locators = formats.read_text(path, data)
    lines = text.splitlines()
    return SourceDocument(report, path, digest, text, lines, locators)
