"""Report bytes → text: UTF-8 (BOM dropped), UTF-16 with BOM, else GB18030/GBK; refuse what is not text.

In: raw bytes and the path they came from (for messages). Out: a ``str``, or a :class:`VqrError` that says
whether the input is empty, binary, truncated or damaged. No knowledge of reports or formats: both the plain
text reader and the PDF/DOCX readers call it.
"""

from __future__ import annotations

import re
from pathlib import Path

from vqr_analysis.core.errors import VqrError

__all__ = ["decode_text"]

# Characters that never occur in a report's text: C0/C1 controls (tab, line breaks and form feed are fine),
# private-use code points and U+FFFD. More than a trace of them means the bytes are not text in that encoding.
_UNREADABLE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ue000-\uf8ff\ufffd]")
_MAX_UNREADABLE_SHARE = 0.01


def decode_text(data: bytes, path: Path | str) -> str:
    """Decode report bytes: UTF-8 (BOM dropped), UTF-16 with BOM, else GB18030 (a superset of GBK/GB2312).

    Empty, binary, truncated and damaged input is a VqrError that says which of these it is.
    """
    if not data.strip():
        raise VqrError("file is empty", path=path)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return _readable(data.decode("utf-16"), path, "UTF-16")
        except UnicodeDecodeError:
            raise VqrError("file starts with a UTF-16 byte-order mark but is not UTF-16 text", path=path) from None
    nul = data.find(b"\x00")
    if nul >= 0:
        raise VqrError(f"file is binary (NUL byte at offset {nul}), not report text", path=path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return _readable(data.decode("utf-8"), path, "UTF-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":
            raise VqrError(f"file ends in the middle of a UTF-8 character at byte {exc.start} "
                           "(truncated?)", path=path) from None
        utf8_error = exc
    # Text that is mostly valid UTF-8 with a few bad bytes is damaged UTF-8, not GBK: reading it as GB18030
    # would turn every Chinese character into a different one without any error.
    lenient = data.decode("utf-8", errors="replace")
    damaged = lenient.count("\ufffd")
    multibyte = len(lenient) - len(lenient.encode("ascii", errors="ignore")) - damaged
    if multibyte > 10 * damaged:
        line = data[: utf8_error.start].count(b"\n") + 1
        raise VqrError(f"file is UTF-8 with {damaged} invalid byte sequence(s), the first at byte "
                       f"{utf8_error.start} (line {line}); repair or re-export it", path=path)
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise VqrError(f"file is neither UTF-8 nor GB18030/GBK text (undecodable byte at {exc.start})",
                       path=path) from None
    return _readable(text, path, "GB18030")


def _readable(text: str, path: Path | str, encoding: str) -> str:
    """Refuse a decoding that is empty (only a byte-order mark) or mostly control or private-use characters."""
    if not text.strip():
        raise VqrError(f"file is empty (no text after decoding it as {encoding})", path=path)
    unreadable = len(_UNREADABLE.findall(text))
    if unreadable > _MAX_UNREADABLE_SHARE * len(text):
        raise VqrError(f"file is binary or in an unknown encoding ({unreadable} of {len(text)} characters "
                       f"are control or private-use characters when read as {encoding})", path=path)
    return text
