"""Turn a report file into text lines, by suffix. Plain text here; PDF and DOCX readers extend it."""

from __future__ import annotations

from pathlib import Path

from .errors import VqrError
from .sources import decode_text

__all__ = ["read_text", "SUPPORTED_SUFFIXES"]

SUPPORTED_SUFFIXES = (".txt",)


def read_text(path: Path, data: bytes) -> tuple[str, list[str | None] | None]:
    """Return (text, per-line locators or None)."""
    suffix = path.suffix.lower()
    if suffix in (".txt", ".text", ".md", ""):
        return decode_text(data, path), None
    raise VqrError(f"unsupported report format {suffix!r}; supported: {', '.join(SUPPORTED_SUFFIXES)}", path=path)
