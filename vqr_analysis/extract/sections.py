"""A report's own sections by heading: the text under '面临挑战' (or an equivalent heading), with its lines.

Reports follow the national template, whose last chapter is '挑战与展望' with a sub-section '面临挑战'; some
name it differently ('7 面临挑战', '9.1面临挑战及应对措施'). The section is found by heading keywords, not by
report: the first keyword in :data:`CHALLENGE_HEADINGS` that some heading line contains wins. Table-of-contents
entries (a heading followed by dot leaders or a page number) are skipped, and when a matching heading has a
matching sub-heading ('7 面临挑战' → '7.1 面临挑战：…') the narrower one is taken, so that a sibling such as
'7.2 未来展望' is not quoted as a challenge.

The section ends at the next numbered heading that is not inside it. Its text is returned as paragraphs, each
with the source lines it spans; hard-wrapped text is joined through :func:`~vqr_analysis.textnorm.logical_text`
(which also drops page numbers and running headers). Paragraph text is the report's own characters, minus the
``[bookmark: …]`` / ``[image: …]`` markers that the publishers' DOCX export inserted (they are not words of the
report).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from vqr_analysis.sources.documents import SourceDocument
from vqr_analysis.sources.textnorm import TOC_ENTRY_RE, fold_width, logical_text

__all__ = ["CHALLENGE_HEADINGS", "Paragraph", "Section", "find_section", "challenges_section", "clean_line"]

# Heading keywords in order of preference; the first that matches a heading line decides the section.
CHALLENGE_HEADINGS = ("面临挑战", "问题与挑战", "挑战与问题", "存在问题", "存在的问题", "挑战与展望")

# Export artefacts that carry no words of the report.
_ARTEFACT_RE = re.compile(r"\[(?:bookmark|image):[^\]]*\]")
# '9.1 面临挑战', '9.1面临挑战', '7 面临挑战', '9. 挑战与展望'; the number is group 1.
_NUMBERED_RE = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)\.?\s*(?=\D)")
# A table-of-contents entry ends with dot leaders and/or a page number after a tab or spaces.
_SENTENCE_END = ("。", "！", "？", "；", ".", "!", "?", ";")
_MAX_HEADING_CHARS = 40
# Above this typical line length a file is not hard-wrapped: every line is a paragraph of its own.
_HARD_WRAP_MAX = 60


@dataclass(frozen=True)
class Paragraph:
    """One paragraph (or sub-heading) of a section, as printed, with the 1-based source lines it spans."""

    text: str
    first_line: int
    last_line: int
    is_heading: bool = False


@dataclass(frozen=True)
class Section:
    heading: str
    heading_line: int
    number: str | None
    paragraphs: list[Paragraph] = field(default_factory=list)

    @property
    def first_line(self) -> int:
        return self.heading_line

    @property
    def last_line(self) -> int:
        return max([self.heading_line] + [p.last_line for p in self.paragraphs])

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.paragraphs)


def clean_line(line: str) -> str:
    """A line without export markers and surrounding white space (what a reader sees)."""
    return _ARTEFACT_RE.sub("", line).strip()


def _heading_number(text: str) -> str | None:
    m = _NUMBERED_RE.match(fold_width(text))
    return m.group(1) if m else None


def _is_toc_entry(text: str) -> bool:
    return bool(TOC_ENTRY_RE.search(text))


def _is_heading(text: str, wrap_width: int) -> bool:
    """A short line that does not end a sentence: numbered, or clearly shorter than the document's wrap width."""
    if not text or len(text) > _MAX_HEADING_CHARS or text.endswith(_SENTENCE_END) or _is_toc_entry(text):
        return False
    return _heading_number(text) is not None or len(text) < 0.8 * wrap_width


def _wrap_width(lines: Sequence[str]) -> int:
    """Typical length of a full line (90th percentile): ~25 for hard-wrapped exports, hundreds for prose."""
    lengths = sorted(len(s) for s in (clean_line(x) for x in lines) if s)
    return lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0


def _is_inside(number: str | None, section_number: str) -> bool:
    return number is not None and number.startswith(section_number + ".")


def _pick_heading(lines: Sequence[str], keywords: Iterable[str], wrap_width: int) -> tuple[int, str] | None:
    """(0-based index, cleaned text) of the section heading, or None."""
    headings = [(i, text) for i, text in ((i, clean_line(line)) for i, line in enumerate(lines))
                if _is_heading(text, wrap_width)]
    for keyword in keywords:
        matches = [(i, text) for i, text in headings if keyword in text]
        if not matches:
            continue
        chosen = matches[0]
        # Narrow down to a matching sub-heading directly inside the chosen one ('7 面临挑战' → '7.1 面临挑战：…').
        for candidate in matches[1:]:
            number, inner = _heading_number(chosen[1]), _heading_number(candidate[1])
            if number and _is_inside(inner, number):
                chosen = candidate
        return chosen
    return None


def _section_end(lines: Sequence[str], start: int, number: str | None, wrap_width: int) -> int:
    """0-based index one past the section's last line."""
    for i in range(start + 1, len(lines)):
        text = clean_line(lines[i])
        if not _is_heading(text, wrap_width):
            continue
        inner = _heading_number(text)
        if inner is not None and not (number and _is_inside(inner, number)):
            return i
    return len(lines)


def _paragraphs(lines: Sequence[str], first: int, page_headers: set[str], wrap_width: int) -> list[Paragraph]:
    """Paragraphs of ``lines`` (source line ``first`` is lines[0]); sub-heading lines stand alone.

    Hard-wrapped text is joined into paragraphs; in other files each line is a paragraph (a line there may end
    without punctuation and still close its paragraph).
    """
    hard_wrapped = wrap_width <= _HARD_WRAP_MAX
    joined = logical_text(list(lines), page_headers=page_headers)
    out: list[Paragraph] = []
    buffer: list[tuple[int, str]] = []  # (source line, characters) runs of the current paragraph

    def flush() -> None:
        text = _ARTEFACT_RE.sub("", "".join(chars for _, chars in buffer)).strip()
        if text:
            out.append(Paragraph(text, buffer[0][0], buffer[-1][0]))
        buffer.clear()

    # The characters of each source line (one run per line); line 0 is a paragraph break.
    runs = [(rel + first - 1, joined.text[start:end]) if rel else (0, "") for start, end, rel in joined.segments()]
    for number, chars in runs:
        if number == 0 or (buffer and not hard_wrapped):
            flush()
        if number == 0:
            continue
        if _is_heading(clean_line(chars), wrap_width):
            flush()
            out.append(Paragraph(clean_line(chars), number, number, is_heading=True))
        else:
            buffer.append((number, chars))
    flush()
    return [p for p in out if p.text]



def find_section(lines: Sequence[str], keywords: Iterable[str], *,
                 page_headers: Iterable[str] = ()) -> Section | None:
    """The section under the first heading that contains one of ``keywords`` (in order), or None."""
    wrap_width = _wrap_width(lines)
    picked = _pick_heading(lines, keywords, wrap_width)
    if picked is None:
        return None
    index, heading = picked
    number = _heading_number(heading)
    end = _section_end(lines, index, number, wrap_width)
    body = _paragraphs(lines[index + 1:end], index + 2, set(page_headers), wrap_width)
    return Section(heading, index + 1, number, body)


def challenges_section(doc: SourceDocument) -> Section | None:
    """The report's own '面临挑战' section (or equivalent), or None when it has none."""
    return find_section(doc.lines, CHALLENGE_HEADINGS, page_headers=doc.running_headers)
