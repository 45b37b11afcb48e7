"""Reading a registered report: bytes → verified → decoded → lines.

The text is kept exactly as published (no normalisation here) because every stored value must be found
verbatim in its cited line. Decoding accepts UTF-8, UTF-8 with BOM, UTF-16 with BOM and GB18030/GBK; PDF and
DOCX are turned into text lines (with a page/paragraph locator per line) by :mod:`vqr_analysis.formats`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable

from vqr_analysis.core.errors import VqrError
from vqr_analysis.sources import formats
from vqr_analysis.sources.decoding import decode_text
from vqr_analysis.sources.registry import Report
from vqr_analysis.sources.textnorm import LogicalText, logical_text, running_headers

__all__ = [
    "SourceDocument", "load_document", "sha256_bytes", "decode_text", "split_lines", "MAX_REPORT_BYTES",
]

# Real reports are 60-180 KB of text (a few MB as PDF). Far larger files are refused before they are read,
# so a wrong file cannot exhaust memory; 50 MB of text still builds (see benchmarks/bench_large_input.py).
MAX_REPORT_BYTES = 256 * 1024 * 1024

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split_lines(text: str) -> list[str]:
    """Lines as an editor numbers them: split on CRLF, CR or LF only.

    (``str.splitlines`` also splits on form feeds and U+2028, which would shift every later line number
    away from what ``sed -n Np`` or an editor shows for the same file.)
    """
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()  # the final line break ends the last line; it does not start a new one
    return lines


@dataclass
class SourceDocument:
    """A verified report and its text lines (``lines[0]`` is line 1)."""

    report: Report
    path: Path
    sha256: str
    text: str
    lines: list[str] = field(repr=False)
    # For PDF/DOCX: per line, where it sits in the original ('p.3 l.12', '¶57', 'table 2 row 5'); None for text.
    locators: list[str | None] | None = field(default=None, repr=False)

    @cached_property
    def text_sha256(self) -> str:
        """Hash of the extracted text (equals ``sha256`` for a UTF-8 text file without BOM)."""
        return sha256_bytes(self.text.encode("utf-8"))

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
        """The running page headers of the whole document (see :func:`textnorm.running_headers`)."""
        return running_headers(self.lines)


def load_document(report: Report, base: Path | None = None, *, verify: bool = True,
                  progress: Callable[[str], None] | None = None) -> SourceDocument:
    """Read a registered report: size, emptiness, SHA-256, then format and encoding; each problem is one VqrError.

    ``sha256`` is always the hash of the file's bytes as registered. For PDF/DOCX the text is extracted from
    those bytes deterministically, so re-running this function re-creates exactly the lines cited by
    ``observations.line`` (``text_sha256`` identifies that extracted text).
    """
    path = report.path(base)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise IsADirectoryError
        if not path.is_file():  # a FIFO or device would block the read forever or never end
            raise VqrError(f"report {report.id} path is not a regular file", path=path)
        if size > MAX_REPORT_BYTES:
            raise VqrError(f"file is {size / 2**20:.0f} MB; reports over {MAX_REPORT_BYTES // 2**20} MB are "
                           "refused (is this the right file?)", path=path)
        if progress:
            progress(f"reading {report.id} {report.region} ({path.name}, {size / 2**20:.1f} MB)")
        data = path.read_bytes()
    except FileNotFoundError:
        raise VqrError(f"report {report.id} ({report.region}) file not found", path=path) from None
    except IsADirectoryError:
        raise VqrError(f"report {report.id} path is a folder, not a file", path=path) from None
    except PermissionError:
        raise VqrError(f"report {report.id} file is not readable (permission denied)", path=path) from None
    if not data.strip():
        raise VqrError(f"file is empty ({len(data)} bytes)", path=path)
    digest = sha256_bytes(data)
    if verify and digest != report.sha256:
        raise VqrError(
            f"SHA-256 {digest[:12]}… does not match the registered {report.sha256[:12]}… "
            "(the file changed; update data/reports.toml only if the change is intended)",
            path=path,
        )
    text, locators = formats.read_text(path, data, progress=progress)
    lines = split_lines(text)
    if locators is not None and len(locators) != len(lines):
        raise AssertionError(f"{path}: {len(locators)} locators for {len(lines)} lines")  # a reader bug
    return SourceDocument(report, path, digest, text, lines, locators)
