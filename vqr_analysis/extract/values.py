"""Reading one printed value: '1348', '20.05:1', '16.85: 1', '4651,60', '-', '９８．３８', '3300余'.

Pure functions, no document knowledge. A value is never invented: what cannot be read is ``missing`` with a
reason, and a reading that needed a guess is ``suspect`` with a flag.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from vqr_analysis.sources.textnorm import fold_width, strip_footnotes

__all__ = ["ParsedValue", "parse_value", "MISSING_MARKS", "NUMBER_PATTERN"]

# Cells that say "not reported". Never read as zero.
MISSING_MARKS = {"", "-", "—", "–", "--", "——", "/", "／", "无", "暂无", "未统计", "N/A", "n/a", "NA", "—-"}

# A printed number: digits with optional thousands commas or a decimal point/comma.
NUMBER_PATTERN = r"\d+(?:[.,]\d+)*"
_NUMBER_RE = re.compile(rf"^({NUMBER_PATTERN})$")
_RATIO_RE = re.compile(rf"^({NUMBER_PATTERN})\s*[:：∶]\s*1$")
_THOUSANDS_RE = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")
_DECIMAL_COMMA_RE = re.compile(r"^\d+,\d{1,2}$|^\d+,\d{4,}$")


@dataclass(frozen=True)
class ParsedValue:
    value: float | None
    status: str  # reported | missing | suspect
    flag: str | None = None  # why it is suspect or missing


def _to_float(number: str) -> ParsedValue:
    parsed = _read_number(number)
    if parsed.value is not None and not math.isfinite(parsed.value):
        # A run of hundreds of digits overflows to inf: never store it as a reported value.
        return ParsedValue(None, "missing", f"number too large to read ({len(number)} characters)")
    return parsed


def _read_number(number: str) -> ParsedValue:
    if "," in number:
        if _THOUSANDS_RE.match(number):
            return ParsedValue(float(number.replace(",", "")), "reported")
        if _DECIMAL_COMMA_RE.match(number):
            return ParsedValue(
                float(number.replace(",", ".")), "suspect",
                f"comma used as decimal point in {number!r}; read as {number.replace(',', '.')}",
            )
        return ParsedValue(None, "missing", f"unreadable number {number!r}")
    if number.count(".") > 1:
        return ParsedValue(None, "missing", f"unreadable number {number!r}")
    return ParsedValue(float(number), "reported")


def parse_value(raw: str, unit: str | None = None) -> ParsedValue:
    """Read a table cell or a number captured from prose.

    ``unit='ratio'`` (or a cell shaped 'x:1') reads the left side of 'x:1'. Percent signs and footnote marks
    are ignored. Anything else non-numeric is ``missing`` with the reason.
    """
    text = fold_width(strip_footnotes(raw)).strip().replace(" ", "")
    if text in MISSING_MARKS:
        return ParsedValue(None, "missing", "not reported" if text else "empty cell")
    if text.endswith("%"):
        text = text[:-1]
    ratio = _RATIO_RE.match(text)
    if ratio:
        return _to_float(ratio.group(1))
    if _NUMBER_RE.match(text):
        return _to_float(text)
    return ParsedValue(None, "missing", f"not a number: {raw.strip()!r}")
