"""Text normalisation shared by every extractor.

Two different needs:
- *matching* (labels, units): fold full-width forms, drop footnote marks, spaces, '其中：' and quotes, so that
  '其中：“双师型”教师比例¹' and '"双师型"教师比例' compare equal;
- *reading numbers*: fold full-width digits and punctuation, but keep positions so that what we store as
  ``raw`` is the exact substring of the source line.

Hard-wrapped files (a sentence broken every ~25 characters, blank lines between, page headers and numbers
in the middle) are read through :class:`LogicalText`, which joins the pieces and maps every character of the
joined text back to its original (1-based) line.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

__all__ = [
    "FOOTNOTE_MARKS",
    "fold_width",
    "strip_footnotes",
    "normalize_label",
    "LogicalText",
    "logical_text",
]

# Superscript digits and the marks publishers glue to labels and values (¹²³, *, ※, †).
FOOTNOTE_MARKS = "¹²³⁴⁵⁶⁷⁸⁹⁰*＊※†‡"
_FOOTNOTE_RE = re.compile(f"[{re.escape(FOOTNOTE_MARKS)}]")
_QUOTES_RE = re.compile("[\"'“”‘’「」『』]")
_SPACE_RE = re.compile(r"\s+")
_QIZHONG_RE = re.compile(r"^(其中|含)[:：]?")


def strip_footnotes(text: str) -> str:
    return _FOOTNOTE_RE.sub("", text)


def fold_width(text: str) -> str:
    """Full-width ASCII (０-９, Ａ, ：, （) to half-width; leaves CJK untouched. Length-preserving."""
    out = []
    for ch in text:
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:
            out.append(chr(code - 0xFEE0))
        elif ch == "\u3000":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def normalize_label(label: str) -> str:
    """The key under which a row label or alias is matched. Idempotent."""
    text = strip_footnotes(label)  # before NFKC, which would turn ¹ into 1
    text = unicodedata.normalize("NFKC", text)
    text = _SPACE_RE.sub("", text)
    text = _QUOTES_RE.sub("", text)
    text = _QIZHONG_RE.sub("", text)
    text = text.replace("﹙", "(").replace("﹚", ")")
    return text.strip(":：、.。")


# --- hard-wrapped text -------------------------------------------------------------------------------------

# A line that is only a page number ("12", "- 12 -", "第 3 页") or a running page header.
_PAGE_NUMBER_RE = re.compile(r"^\s*[-—–]?\s*(第\s*)?\d{1,3}\s*(页)?\s*[-—–]?\s*$")


@dataclass
class LogicalText:
    """Joined text plus, for each character, the 1-based source line it came from (0 for inserted joins)."""

    text: str
    line_of: list[int] = field(repr=False)
    dropped_lines: list[int] = field(default_factory=list, repr=False)

    def line_at(self, offset: int) -> int:
        """Source line of the character at ``offset`` (nearest real character if it was a join)."""
        n = len(self.line_of)
        for delta in range(n):
            for pos in (offset + delta, offset - delta):
                if 0 <= pos < n and self.line_of[pos]:
                    return self.line_of[pos]
        return 1

    def lines_of_span(self, start: int, end: int) -> list[int]:
        return sorted({ln for ln in self.line_of[start:end] if ln})


def _is_sentence_end(text: str) -> bool:
    return text.rstrip().endswith(("。", "！", "？", "；", "：", ":", "」", "”", "》")) or not text.strip()


def logical_text(lines: list[str], *, page_headers: set[str] | None = None) -> LogicalText:
    """Join hard-wrapped lines into paragraphs.

    A non-empty line continues the previous one unless the previous one ended a sentence or this one looks
    like a heading. Page-number lines and lines equal to a known running header are dropped (and recorded).
    Paragraph breaks become a single newline, so regexes never match across paragraphs.
    """
    headers = {h.strip() for h in (page_headers or set()) if h.strip()}
    chars: list[str] = []
    line_of: list[int] = []
    dropped: list[int] = []
    previous = ""
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped:
            continue
        if _PAGE_NUMBER_RE.match(stripped) or stripped in headers:
            dropped.append(number)
            continue
        if chars:
            if _is_sentence_end(previous) or _looks_like_heading(stripped):
                chars.append("\n")
                line_of.append(0)
        # Keep the characters as they are (offsets must map back to the source line verbatim).
        start = len(line) - len(line.lstrip())
        body = line[start:].rstrip("\r\n ")
        chars.extend(body)
        line_of.extend([number] * len(body))
        previous = body
    return LogicalText("".join(chars), line_of, dropped)


_HEADING_RE = re.compile(r"^(\d+(\.\d+)*\s|[一二三四五六七八九十]+[、.]|（[一二三四五六七八九十]+）|案例|图\s*\d|表\s*\d)")


def _looks_like_heading(line: str) -> bool:
    return bool(_HEADING_RE.match(line)) and len(line) < 40
