"""Table layouts of exported report text: titled tables → grids of cells that remember their source line.

Two layouts reach us from the publishers' PDF/Word exports:

- ``tab_rows``: one table row per line, cells separated by tabs (``序号\\t指标\\t单位\\t2023 年``). Rows may
  lose their leading tab, tables may be interrupted by a blank line or a page-bottom footnote
  (``² 数据来源…``), and they end at the first line of prose.
- ``cell_lines``: one cell per line, each line a tab followed by the cell text; a blank line ends a row. The
  header is the first group of cell lines after the title, and the table ends at the first non-blank line that
  is not a cell line.

This module knows nothing about indicators: it only finds titles (``表 1 …``, ``附表3教学资源表``,
``表 1-2 …``, ``表3：…``) and turns the lines below them into :class:`RawTable` grids. Reading the grids
(which column is a year, which row is which indicator) is :mod:`vqr_analysis.extract.tables`' job.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from vqr_analysis.sources.textnorm import FOOTNOTE_MARKS, TOC_ENTRY_RE, fold_width

__all__ = ["Cell", "TableRow", "RawTable", "find_tables", "LAYOUTS"]

LAYOUTS = ("tab_rows", "cell_lines")

# '表 1 人才培养质量计分卡', '附表3教学资源表', '表 1-2 全区…', '表3：某地区…', '附表 1.人才培养质量计分卡'.
_TITLE_RE = re.compile(r"^\s*(附)?表\s*(\d+(?:\s*[-—–]\s*\d+)?)\s*[:：.、]?\s*(\S.*?)\s*$")
# Table-of-contents entries: dotted leaders or a trailing page number after a tab.
_MAX_TITLE_CHARS = 60  # longer "表 1 …" lines are prose that happens to start like a title
_FOOTNOTE_LINE_RE = re.compile(f"^\\s*[{re.escape(FOOTNOTE_MARKS)}]|^\\s*[（(]?数据来源")


@dataclass(frozen=True)
class Cell:
    """One cell as printed (``text`` verbatim, without the separating tab) and its 1-based source line."""

    text: str
    line: int

    @property
    def value(self) -> str:
        return self.text.strip()


@dataclass(frozen=True)
class TableRow:
    cells: tuple[Cell, ...]
    quote: str  # the row as a reader sees it: the source line, or the cell lines joined by tabs

    @property
    def line(self) -> int:
        return self.cells[0].line

    def texts(self) -> list[str]:
        return [c.value for c in self.cells]

    def is_empty(self) -> bool:
        return not any(self.texts())


@dataclass(frozen=True)
class RawTable:
    title: str  # as printed, trimmed
    number: str  # '1', '3', '1-2' (the number after 表)
    name: str  # the title text after the number and separator
    title_line: int
    layout: str  # one of LAYOUTS
    header: TableRow
    rows: tuple[TableRow, ...]


def _is_cell_line(line: str) -> bool:
    """A one-cell-per-line cell: a leading tab and no other tab."""
    return line.startswith("\t") and line.count("\t") == 1


def _is_blank(line: str) -> bool:
    """Whitespace only, and not an empty cell (a lone tab is an empty cell in the one-cell-per-line layout)."""
    return not line.strip() and not _is_cell_line(line)


def _title(line: str) -> re.Match | None:
    if not line.lstrip().startswith(("表", "附表")):  # cheap test first: this runs on every line
        return None
    if "\t" in line.strip() or TOC_ENTRY_RE.search(line.rstrip()):
        return None
    m = _TITLE_RE.match(fold_width(line.rstrip()))
    return m if m and len(m.group(3)) <= _MAX_TITLE_CHARS else None


def _tab_row(line: str, number: int) -> TableRow:
    return TableRow(tuple(Cell(text, number) for text in line.split("\t")), line.strip())


def _read_tab_rows(lines: list[str], start: int) -> tuple[list[TableRow], int]:
    """Rows from ``start`` (0-based) on; blank lines and footnotes inside are skipped. Returns (rows, next)."""
    rows: list[TableRow] = []
    i = start
    after_gap = False
    while i < len(lines):
        line = lines[i]
        if _is_blank(line) or _FOOTNOTE_LINE_RE.match(line):
            after_gap = True
            i += 1
            continue
        if "\t" not in line or _title(line):
            break
        row = _tab_row(line, i + 1)
        # After a blank line or a footnote, only a row that fits the header continues the table; a wider one
        # is something else (e.g. chart data exported as one long tab-separated line).
        if after_gap and rows and len([t for t in row.texts() if t]) > len(rows[0].cells):
            break
        rows.append(row)
        after_gap = False
        i += 1
    # Trailing blank/footnote lines belong to what follows, not to the table.
    while i > start and (_is_blank(lines[i - 1]) or _FOOTNOTE_LINE_RE.match(lines[i - 1])):
        i -= 1
    return rows, i


def _cell_group(lines: list[str], start: int) -> tuple[TableRow | None, int]:
    cells: list[Cell] = []
    i = start
    while i < len(lines) and _is_cell_line(lines[i]):
        cells.append(Cell(lines[i][1:], i + 1))
        i += 1
    if not cells:
        return None, start
    return TableRow(tuple(cells), "\t".join(c.value for c in cells)), i


def _read_cell_lines(lines: list[str], start: int) -> tuple[list[TableRow], int]:
    rows: list[TableRow] = []
    i = start
    while i < len(lines):
        if _is_blank(lines[i]):
            i += 1
            continue
        row, nxt = _cell_group(lines, i)
        if row is None:
            break
        rows.append(row)
        i = nxt
    return rows, i


def find_tables(lines: list[str]) -> list[RawTable]:
    """Every titled table in ``lines`` (line 1 is ``lines[0]``), in source order, in either layout.

    A title followed by something that is not a table (a list of annex titles, prose, an image caption) is
    not a table and is skipped.
    """
    found: list[RawTable] = []
    # Only a line with '表' in it can be a title: jump from one such line to the next instead of testing
    # every line (a 50 MB report has half a million).
    maybe_titles = [k for k, line in enumerate(lines) if "表" in line]
    i = 0
    while i < len(lines):
        at = bisect.bisect_left(maybe_titles, i)
        if at == len(maybe_titles):
            break
        i = maybe_titles[at]
        m = _title(lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and _is_blank(lines[j]):
            j += 1
        if j >= len(lines):
            break
        if _is_cell_line(lines[j]):
            layout = "cell_lines"
            rows, end = _read_cell_lines(lines, j)
        elif len([c for c in lines[j].split("\t") if c.strip()]) >= 2:
            layout = "tab_rows"
            rows, end = _read_tab_rows(lines, j)
        else:
            i += 1
            continue
        if len(rows) >= 2:
            number = re.sub(r"\s+", "", m.group(2))
            found.append(RawTable(lines[i].strip(), number, m.group(3), i + 1, layout, rows[0], tuple(rows[1:])))
            i = max(end, i + 1)
        else:
            i += 1
    return found
