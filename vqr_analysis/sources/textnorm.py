"""Text normalisation shared by every extractor.

Two different needs:
- *matching* (labels, units): fold full-width forms, drop footnote marks, spaces, '其中：' and quotes, so that
  '其中：“双师型”教师比例¹' and '"双师型"教师比例' compare equal;
- *reading numbers*: fold full-width digits and punctuation, but keep positions so that what we store as
  ``raw`` is the exact substring of the source line.

Hard-wrapped files (a sentence broken every ~25 characters, blank lines between, page headers and numbers
in the middle) are read through :class:`LogicalText`, which joins the pieces and maps every character of the
joined text back to its original (1-based) line (one entry per piece, so 50 MB of text stays small).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "FOOTNOTE_MARKS",
    "PAGE_NUMBER_RE",
    "TOC_ENTRY_RE",
    "running_headers",
    "FOLD_WIDTH_TABLE",
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


# Full-width ASCII to half-width and the ideographic space to a space: one character for one character.
FOLD_WIDTH_TABLE = {**{c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}, 0x3000: ord(" ")}


def fold_width(text: str) -> str:
    """Full-width ASCII (０-９, Ａ, ：, （) to half-width; leaves CJK untouched. Length-preserving."""
    return text.translate(FOLD_WIDTH_TABLE)


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

# A line that is only a page number: "12", "- 12 -", "第 3 页", "3 / 40", "第3页 共40页". (Three digits at most:
# a line holding only "2023" is a year cell of a one-cell-per-line table, not a page.)
PAGE_NUMBER_RE = re.compile(r"^[-—–\s]*(第\s*)?\d{1,3}\s*(页)?\s*((/|共)\s*\d{1,3}\s*页?)?[-—–\s]*$")

# A table-of-contents entry: a dot or ellipsis leader (then perhaps a page number), or text then a page number.
TOC_ENTRY_RE = re.compile(r"(?:\.{3,}|…{2,})\s*\d{0,3}\s*$|\s\d{1,3}\s*$")


@dataclass
class LogicalText:
    """Joined text plus the 1-based source line of every character (0 for an inserted paragraph break).

    The mapping is stored per *segment*, not per character: the joined text is a run of pieces, each either
    one source line's characters or a single inserted '\\n', so ``segment_starts[i]`` (offset of piece i in
    ``text``) and ``segment_lines[i]`` (its source line, 0 for a break) map any offset with one bisection.
    A per-character list of Python ints costs ~36 bytes a character (1.5 GB for a 50 MB report); this costs
    12 bytes a line.
    """

    text: str
    segment_starts: array = field(repr=False)
    segment_lines: array = field(repr=False)
    dropped_lines: list[int] = field(default_factory=list, repr=False)

    def _segment(self, offset: int) -> int:
        """Index of the segment holding ``offset`` (0 <= offset < len(text))."""
        return bisect.bisect_right(self.segment_starts, offset) - 1

    def line_at(self, offset: int) -> int:
        """Source line of the character at ``offset`` (nearest real character if it was a join; the later one
        when two are equally near; 1 when there is none within ``len(text)`` characters)."""
        n = len(self.text)
        if n == 0:
            return 1
        if offset < 0:  # the nearest real character is the first one
            return self.segment_lines[0] if -offset < n else 1
        if offset >= n:  # ... or the last one
            return self.segment_lines[-1] if offset - n + 1 < n else 1
        i = self._segment(offset)
        if self.segment_lines[i]:
            return self.segment_lines[i]
        # A break is one character between two lines' pieces: the next character is as near as the previous
        # one, and the later wins a tie.
        return self.segment_lines[i + 1] if i + 1 < len(self.segment_lines) else self.segment_lines[i - 1]

    def lines_of_span(self, start: int, end: int) -> list[int]:
        """The source lines of the characters ``text[start:end]``, in order (slice semantics)."""
        start, end, _ = slice(start, end).indices(len(self.text))
        if start >= end:
            return []
        first, last = self._segment(start), self._segment(end - 1)
        return sorted({ln for ln in self.segment_lines[first:last + 1] if ln})

    def segments(self) -> Iterator[tuple[int, int, int]]:
        """(start, end, source line) of every piece of ``text`` in order; line 0 is an inserted break."""
        bounds = [*self.segment_starts, len(self.text)]
        for i, line in enumerate(self.segment_lines):
            yield bounds[i], bounds[i + 1], line


# Ends that close a sentence wherever they fall, and weaker ones that close it only at the end of a short
# line (a wrapped line that happens to end in '》' or '：' is usually mid-sentence). A closing bracket ends
# nothing: table rows print 'label（元/生）' on one line and the value on the next.
_STRONG_ENDS = ("。", "！", "？", "!", "?")
_WEAK_ENDS = ("；", ";", "：", ":", "」", "”", "》")
# A line at least this share of the document's typical line length is taken as wrapped ("full").
_FULL_LINE_SHARE = 0.8


def _typical_length(lines: list[str]) -> int:
    lengths = sorted(len(s.strip()) for s in lines if s.strip() and "\t" not in s)
    return lengths[len(lengths) // 2] if lengths else 0


def running_headers(lines: list[str]) -> set[str]:
    """Running page headers of a text export, by two signs (the one detector for text; PDF margins have theirs):

    - a short line without digits repeated at least five times ('新疆职业教育质量年度报告');
    - a short line with digits ('…质量报告（2024 年度）') repeated at least three times, each time followed by a
      page-number line.
    """
    counts: dict[str, int] = {}
    following: dict[str, list[bool]] = {}
    nonblank = [s.strip() for s in lines if s.strip()]
    for here, after in zip(nonblank, nonblank[1:] + [""]):
        if 2 <= len(here) <= 30:
            counts[here] = counts.get(here, 0) + 1
        if 4 <= len(here) <= 60 and not PAGE_NUMBER_RE.match(here):
            following.setdefault(here, []).append(bool(PAGE_NUMBER_RE.match(after)))
    plain = {s for s, n in counts.items() if n >= 5 and not any(ch.isdigit() for ch in s)}
    numbered = {s for s, flags in following.items() if len(flags) >= 3 and all(flags)}
    return plain | numbered


def logical_text(lines: list[str], *, page_headers: set[str] | None = None) -> LogicalText:
    """Join hard-wrapped lines into paragraphs.

    A non-empty line continues the previous one unless the previous one ended a sentence. A line counts as
    wrapped ("full") when it is about as long as the document's typical line; only a full stop ends a full
    line's sentence, while a short line also ends at '；：》）' or when it or the next looks like a heading.
    Table rows (lines with tabs) and captions ('图 3：…', '表 1…', '【案例 2】') stand alone, so prose patterns
    never run from one table cell into the next. Page-number lines and running headers (``page_headers``,
    default :func:`running_headers` of these lines) are dropped and recorded.
    Paragraph breaks become a single newline, so regexes never match across paragraphs.
    """
    headers = running_headers(lines) if page_headers is None else {h.strip() for h in page_headers if h.strip()}
    full = _FULL_LINE_SHARE * _typical_length(lines)
    pieces: list[str] = []
    starts, numbers = array("q"), array("i")  # per piece: its offset in the joined text, its source line
    length = 0
    dropped: list[int] = []
    previous = ""
    previous_alone = previous_opened = False
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped:
            continue
        if PAGE_NUMBER_RE.match(stripped) or stripped in headers:
            dropped.append(number)
            continue
        alone = "\t" in line or _looks_like_caption(stripped)
        # A heading that opened its paragraph is closed after its own line, however long.
        heading_before = previous_opened and _looks_like_heading(previous)
        opens = not pieces or alone or previous_alone or heading_before or _ends_paragraph(previous, stripped, full)
        if pieces and opens:
            pieces.append("\n")
            starts.append(length)
            numbers.append(0)
            length += 1
        # Keep the characters as they are (offsets must map back to the source line verbatim). The body is
        # never empty (the line has a non-space character), so no two pieces start at the same offset.
        start = len(line) - len(line.lstrip())
        body = line[start:].rstrip("\r\n ")
        pieces.append(body)
        starts.append(length)
        numbers.append(number)
        length += len(body)
        previous, previous_alone, previous_opened = body, alone, opens
    return LogicalText("".join(pieces), starts, numbers, dropped)


def _ends_paragraph(previous: str, current: str, full: float) -> bool:
    """Whether a break falls between two consecutive kept lines."""
    previous = previous.rstrip()
    if previous.endswith(_STRONG_ENDS):
        return True
    if len(previous) >= full:  # a wrapped line: the sentence runs on
        return False
    return previous.endswith(_WEAK_ENDS) or _looks_like_heading(current)


# '1 人才培养', '1.3技能成长', '2.1.1 党建引领', '一、', '（二）' — but not a wrapped line that starts with a
# value ('27.88% 大于 15%', '13 个专业').
_HEADING_RE = re.compile(
    r"^(\d{1,2}(\.\d){0,3}\.?(\s+|(?=[\u4e00-\u9fff]))(?![%％万千亿个元年月日项名所台册门次分])"
    r"|[一二三四五六七八九十]+[、.]|（[一二三四五六七八九十]+）|案例|图\s*\d|表\s*\d)"
)
_CAPTION_RE = re.compile(r"^(\[[^\]]*\]\s*)*([图表]\s*[\d一二三四五六七八九十]+(\s*[-—.]\s*\d+)?\s*[：:\s]|【[^】]{0,12}案例|案例\s*\d+\s*$|（数据来源)")


def _looks_like_heading(line: str) -> bool:
    return bool(_HEADING_RE.match(line)) and len(line) < 40


def _looks_like_caption(line: str) -> bool:
    return bool(_CAPTION_RE.match(line)) and len(line) < 80
