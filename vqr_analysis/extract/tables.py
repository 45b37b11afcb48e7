"""Titled tables → observations: the six national annex tables, plus indicator tables in the report body.

:mod:`.layouts` turns the text below each title into a grid of cells (either layout); this module reads the
grids:

- **Annex tables** (表1 人才培养质量计分卡 … 表6 落实政策表, with or without 附, space or colon) are found by
  their title. The header gives the year columns (one or two), and in 表2 the 调查人次 (respondents → the
  ``*_respondents`` code, dated like the latest year column) and 调查方式 (survey method, text: appended to
  ``label`` as '｜调查方式：…', never a value) columns. Every row is mapped
  to a code of that annex table through the codebook's labels and aliases; a row that maps to nothing is
  returned as *unmapped*, never dropped.
- **Other titled tables** are read only when they are indicator tables: rows (or columns) whose labels are
  codebook labels, with year columns (``2022 年``, ``本年度``) or one column/row per entity (a school). The
  unit comes from the label's bracket (``校园面积（亩）``). A table whose labels are mostly not indicators
  (a list of colleges, a list of projects) is not an indicator table and is skipped whole.

Row mapping, after :func:`normalize_label` ('其中：', '*', footnote marks, spaces, bracket widths):

- a repeated label (国家级数量, 接入国家智慧教育平台数量 …) is resolved by the nearest earlier row whose code
  or ancestor is the parent of one candidate, so misplaced row numbers (a '9' printed on a child row) do not
  matter;
- a row with no label but a unit (``\\t\\t学时\\t3165968``) is the previous row in a second unit: it maps to
  the code labelled '<previous label>（<unit>）' (教学计划内课程总数（学时） → ``courses_total_hours``);
- a row that lost a leading tab is re-aligned on its unit cell; missing trailing cells are empty cells.

Values: ``raw`` is the exact cell text from line ``line`` (for one-cell-per-line tables the cell's own line);
``quote`` is the row as a reader sees it (the source line, or the row's cell lines joined by tabs). ``-``,
empty and non-numeric cells ('中职不填报') are ``missing`` with NULL value; a comma decimal is ``suspect``
(see :func:`parse_value`). A value printed in another unit of the same quantity is converted to the codebook
unit (亩 → 平方米) and ``raw_unit`` keeps the printed unit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from vqr_analysis.sources.codebook import ANNEX_TABLES, UNIT_KINDS, Codebook, Indicator
from vqr_analysis.extract.model import Observation
from vqr_analysis.sources.registry import Report
from vqr_analysis.sources.documents import SourceDocument
from vqr_analysis.sources.textnorm import fold_width, normalize_label
from vqr_analysis.extract.values import parse_value
from vqr_analysis.extract.layouts import Cell, RawTable, TableRow, find_tables
from vqr_analysis.extract.patterns import TitledList

__all__ = ["extract_tables", "extract_table_rows", "annex_table_key", "UNIT_FACTORS", "MAX_QUOTE_CHARS"]

# Printed unit → codebook unit: multiply by this. Only exact, definitional factors (1 市亩 = 10000/15 m²).
UNIT_FACTORS: dict[tuple[str, str], float] = {("亩", "平方米"): 10000 / 15}

_ANNEX_BY_NAME = {normalize_label(name): key for key, (_, name, _) in ANNEX_TABLES.items()}
_RATIO_UNITS = {":", "：", "∶"}
_PRINTED_UNITS = {u for units in UNIT_KINDS.values() for u in units} | _RATIO_UNITS

# Header cells (compared after removing spaces).
_SEQ_HEADERS = {"序号"}
_LABEL_HEADERS = {"指标", "名称", "项目", "指标名称"}
_UNIT_HEADERS = {"单位"}
_RESPONDENTS_HEADERS = {"调查人次"}
_METHOD_HEADERS = {"调查方式"}
_CURRENT_YEAR_HEADERS = {"本年度", "本年", "当年"}
_YEAR_HEADER_RE = re.compile(r"^(\d{4})年?度?$")
_SCHOOL_YEAR_RE = re.compile(r"(\d{4})[-—–~至](\d{4})学年")
_TITLE_YEAR_RE = re.compile(r"(\d{4})\s*年")

# A template note ('说明：请逐一列出学校专业群…') ends the numeric part of a table; what follows is a text list.
_NOTE_RE = re.compile(r"^(说明|注)\s*[:：]")
# 'label（unit）' with a short bracketed unit at the very end.
_LABEL_UNIT_RE = re.compile(r"^(.+?)\s*[（(]\s*([^（）()]{1,8}?)\s*[）)]$")
# PDF exports split CJK names at line ends ('某某师范学 校'); the space is not part of the name.
_CJK_GAP_RE = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_TOTAL_LABELS = {"合计", "总计"}
# Share of a non-annex table's labels that must be indicators for it to count as an indicator table.
_MIN_MAPPED_SHARE = 0.5


def annex_table_key(name: str) -> str | None:
    """Codebook table key of an annex table title's name part ('人才培养质量计分卡' → 'scorecard')."""
    norm = normalize_label(name)
    for annex_name, key in _ANNEX_BY_NAME.items():
        if norm == annex_name or (norm.startswith(annex_name) and norm[len(annex_name)] in "(（"):
            return key
    return None


# --- header ----------------------------------------------------------------------------------------------

@dataclass
class _Columns:
    """What each header column holds (indices into the row's cells)."""

    label: int
    seq: int | None = None
    unit: int | None = None
    years: list[tuple[int, int]] = field(default_factory=list)  # (column, year)
    respondents: int | None = None
    method: int | None = None
    others: list[tuple[int, str]] = field(default_factory=list)  # (column, header text): entities or indicators


def _header_year(text: str, data_year: int) -> int | None:
    if text in _CURRENT_YEAR_HEADERS:
        return data_year
    m = _YEAR_HEADER_RE.match(text) or _SCHOOL_YEAR_RE.fullmatch(text)
    return int(m.group(m.lastindex)) if m else None


def _columns(header: TableRow, data_year: int) -> _Columns:
    texts = [re.sub(r"\s+", "", fold_width(t)) for t in header.texts()]
    cols = _Columns(label=-1)
    for i, text in enumerate(texts):
        year = _header_year(text, data_year)
        if text in _SEQ_HEADERS:
            cols.seq = i
        elif text in _LABEL_HEADERS and cols.label < 0:
            cols.label = i
        elif text in _UNIT_HEADERS:
            cols.unit = i
        elif text in _RESPONDENTS_HEADERS:
            cols.respondents = i
        elif text in _METHOD_HEADERS:
            cols.method = i
        elif year is not None:
            cols.years.append((i, year))
    if cols.label < 0:  # no 指标/名称 header: the first column that is not 序号 holds the labels
        cols.label = next((i for i in range(len(texts)) if i != cols.seq), 0)
    taken = {cols.label, cols.seq, cols.unit, cols.respondents, cols.method} | {i for i, _ in cols.years}
    cols.others = [(i, header.cells[i].value) for i, t in enumerate(texts) if t and i not in taken]
    return cols


def _title_year(table: RawTable, data_year: int) -> int:
    name = fold_width(table.name).replace(" ", "")
    years = [int(m.group(2)) for m in _SCHOOL_YEAR_RE.finditer(name)] or [int(y) for y in _TITLE_YEAR_RE.findall(name)]
    return max(years) if years else data_year


# --- labels ----------------------------------------------------------------------------------------------

def _split_unit(label: str) -> tuple[str, str | None]:
    """'校园面积（亩）' → ('校园面积', '亩'); a label without a trailing short bracket is returned whole."""
    m = _LABEL_UNIT_RE.match(label.strip())
    return (m.group(1), m.group(2)) if m else (label, None)


def _candidates(codebook: Codebook, label: str, scope: str | None) -> tuple[list[Indicator], str | None]:
    """Indicators for a printed label, and the unit its bracket gave if the label had to be split for it."""
    found = codebook.lookup(label, table=scope)
    if found:
        return found, None
    stem, unit = _split_unit(label)
    if unit is not None:
        return codebook.lookup(stem, table=scope), unit
    return [], None


def _resolve(candidates: list[Indicator], history: list[Indicator], codebook: Codebook) -> Indicator | None:
    """One indicator: the only candidate, or the one whose parent is nearest in the rows read so far."""
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    for earlier in reversed(history):
        for code in (earlier.code, *codebook.ancestors(earlier.code)):
            hits = [c for c in candidates if c.parent_code == code]
            if len(hits) == 1:
                return hits[0]
    top_level = [c for c in candidates if c.parent_code is None]
    return top_level[0] if len(top_level) == 1 else None


def _entity(name: str, report: Report) -> str | None:
    """The entity a row/column is about: None for the report's own subject or a total row."""
    clean = _CJK_GAP_RE.sub("", name.strip())
    own = {normalize_label(report.subject_zh), normalize_label(report.region_zh)} | _TOTAL_LABELS
    return None if normalize_label(clean) in own else clean


# --- reading ---------------------------------------------------------------------------------------------

@dataclass
class _Reader:
    """Turns cells of one table into observations and unmapped rows."""

    doc: SourceDocument
    codebook: Codebook
    table: RawTable
    version: str
    observations: list[Observation] = field(default_factory=list)
    unmapped: list[dict] = field(default_factory=list)

    def emit(self, ind: Indicator, cells: list[Cell], col: int, row: TableRow, *, year: int,
             entity: str | None = None, raw_unit: str | None = None, label: str) -> None:
        cell = cells[col]
        raw = cell.value
        parsed = parse_value(raw, ind.unit)
        value = parsed.value
        factor = UNIT_FACTORS.get((raw_unit or "", ind.unit))
        if value is not None and factor:
            value = value * factor
        self.observations.append(
            Observation(
                report_id=self.doc.report.id, source_sha256=self.doc.sha256, indicator_code=ind.code, year=year,
                value=value, unit=ind.unit, raw=raw, raw_unit=raw_unit or None, line=cell.line, quote=_cell_quote(row, cells, col),
                status=parsed.status, method="table", flag=parsed.flag, label=label, entity=entity,
                source_table=self.table.title, locator=self.doc.locator(cell.line), extractor_version=self.version,
            )
        )

    def miss(self, line: int, label: str) -> None:
        self.unmapped.append({"report_id": self.doc.report.id, "line": line, "table": self.table.title,
                              "label": label})


# A row's quote is stored with every value read from it: a wide row (thousands of columns) quoted whole for
# each of its cells would make the database grow with the square of the width. Past this length a cell's
# quote is the row's leading cells (number, label, unit) and the cells around it, each verbatim, with '…'
# where cells are left out.
MAX_QUOTE_CHARS = 160
_QUOTE_HEAD_CELLS = 3
_QUOTE_NEIGHBOURS = 1
_QUOTE_CELL_CHARS = 40


def _cell_quote(row: TableRow, cells: list[Cell], col: int) -> str:
    """The quote for the value in ``cells[col]``: the whole row when it is short, else a window around it."""
    if len(row.quote) <= MAX_QUOTE_CHARS:
        return row.quote
    head = min(col, _QUOTE_HEAD_CELLS)
    start, end = max(head, col - _QUOTE_NEIGHBOURS), min(len(cells), col + _QUOTE_NEIGHBOURS + 1)

    def shown(cell: Cell) -> str:
        text = cell.value
        return text if len(text) <= _QUOTE_CELL_CHARS else text[:_QUOTE_CELL_CHARS] + "…"

    parts = [shown(c) for c in cells[:head]]
    if start > head:
        parts.append("…")
    parts += [shown(c) if i != col else c.value for i, c in enumerate(cells[start:end], start)]
    if end < len(cells):
        parts.append("…")
    return "\t".join(parts)


def _cells(row: TableRow, width: int, unit_col: int | None) -> list[Cell]:
    """The row's cells aligned to the header: re-seat a row that lost (or gained) a leading tab on its unit
    cell, and pad missing trailing cells with empty ones."""
    cells = list(row.cells)
    if unit_col is not None and (len(cells) <= unit_col or cells[unit_col].value not in _PRINTED_UNITS):
        for shift in (1, 2, -1):
            j = unit_col - shift
            if 0 <= j < len(cells) and cells[j].value in _PRINTED_UNITS:
                pad = Cell("", cells[0].line)
                cells = [pad] * shift + cells if shift > 0 else cells[-shift:]
                break
    last = cells[-1].line
    return cells + [Cell("", last)] * (width - len(cells))


def _data_rows(table: RawTable):
    """Rows up to a template note, without empty rows and repeated headers (page breaks)."""
    header = [normalize_label(t) for t in table.header.texts()]
    for row in table.rows:
        texts = row.texts()
        first = next((t for t in texts if t), "")
        if _NOTE_RE.match(first):
            return
        if row.is_empty() or [normalize_label(t) for t in texts] == header:
            continue
        yield row


def _read_indicator_rows(reader: _Reader, cols: _Columns, value_cols: list[tuple[int, int, str | None]],
                         scope: str | None, respondents_year: int | None) -> None:
    """Rows are indicators; ``value_cols`` are (column, year, entity) triples."""
    codebook, table = reader.codebook, reader.table
    width = max([len(table.header.cells)] + [c + 1 for c, _, _ in value_cols])
    history: list[Indicator] = []
    previous_label = ""
    for row in _data_rows(table):
        cells = _cells(row, width, cols.unit)
        label = cells[cols.label].value
        unit = cells[cols.unit].value if cols.unit is not None else None
        label_line = cells[cols.label].line
        if label:
            candidates, bracket_unit = _candidates(codebook, label, scope)
            unit = unit or bracket_unit
            shown = label
        elif unit and previous_label:  # a second unit of the previous row (门 then 学时)
            candidates, _ = _candidates(codebook, f"{normalize_label(previous_label)}（{unit}）", scope)
            shown = f"{previous_label}（{unit}）"
            label_line = cells[cols.unit].line
        else:
            reader.miss(row.line, row.quote)
            continue
        ind = _resolve(candidates, history, codebook)
        if label:
            previous_label = label
        if ind is None:
            reader.miss(label_line, shown)
            continue
        history.append(ind)
        method = cells[cols.method].value if cols.method is not None else ""
        shown_with_method = f"{shown}｜调查方式：{method}" if method else shown
        for col, year, entity in value_cols:
            reader.emit(ind, cells, col, row, year=year, entity=entity, raw_unit=unit, label=shown_with_method)
        if cols.respondents is not None and respondents_year is not None:
            counted = _resolve(_candidates(codebook, f"{normalize_label(shown)}（调查人次）", scope)[0],
                               history, codebook)
            if counted is None:
                reader.miss(cells[cols.respondents].line, f"{shown}（调查人次）")
            else:
                counted_label = f"{shown}（调查人次）" + (f"｜调查方式：{method}" if method else "")
                reader.emit(counted, cells, cols.respondents, row, year=respondents_year, label=counted_label)


def _read_indicator_columns(reader: _Reader, cols: _Columns, year: int) -> None:
    """Header cells are indicators, rows are entities (one row per school)."""
    codebook, table = reader.codebook, reader.table
    history: list[Indicator] = []
    columns: list[tuple[int, Indicator, str | None, str]] = []
    for col, text in cols.others:
        candidates, unit = _candidates(codebook, text, None)
        ind = _resolve(candidates, history, codebook)
        if ind is None:
            reader.miss(table.header.cells[col].line, text)
            continue
        history.append(ind)
        columns.append((col, ind, unit, text))
    width = len(table.header.cells)
    for row in _data_rows(table):
        cells = _cells(row, width, None)
        entity = _entity(cells[cols.label].value, reader.doc.report)
        for col, ind, unit, text in columns:
            reader.emit(ind, cells, col, row, year=year, entity=entity, raw_unit=unit, label=text)


def _mapped_share(codebook: Codebook, labels: list[str]) -> float:
    labels = [t for t in labels if t]
    if not labels:
        return 0.0
    return sum(1 for t in labels if _candidates(codebook, t, None)[0]) / len(labels)


def _compound(codebook: Codebook, column: str, row: str) -> tuple[Indicator | None, str | None]:
    """The one indicator whose label is a column head and a row's label together ('助学金' + '人数(人次)' →
    助学金人数), and the unit the row's bracket gives."""
    stem, unit = _split_unit(row)
    found = codebook.lookup(normalize_label(column) + normalize_label(stem))
    return (found[0] if len(found) == 1 else None), unit


def _read_compound_cells(reader: _Reader, cols: _Columns, year: int) -> bool:
    """A table whose cells are named by their column head and their row's label together (表6 资助政策情况表:
    奖学金 | 助学金 | 免学费 across, 人数(人次) | 金额(万元) down). Read only when most cells map to a code;
    a cell that maps to none is left unread. Returns whether the table was read."""
    codebook = reader.codebook
    rows = [(row, _cells(row, len(reader.table.header.cells), None)) for row in _data_rows(reader.table)]
    cells = [(row, cells, col, *_compound(codebook, head, cells[cols.label].value))
             for row, cells in rows for col, head in cols.others if cells[cols.label].value]
    mapped = [c for c in cells if c[3] is not None]
    if not cells or len(mapped) / len(cells) < _MIN_MAPPED_SHARE:
        return False
    for row, row_cells, col, ind, unit in mapped:
        head = reader.table.header.cells[col].value
        reader.emit(ind, row_cells, col, row, year=year, raw_unit=unit, label=f"{head}｜{row_cells[cols.label].value}")
    return True


def _read_titled_list(reader: _Reader, cols: _Columns, titled_lists: tuple[TitledList, ...], year: int) -> None:
    """A list of schools with one count that only the title names (see patterns.TitledList): every row with a
    school and a number is read as the title's code, the school as entity. A list with any other shape (more
    than one value column, a row that is not a number) is left unread whole."""
    title = normalize_label(reader.table.name)
    rule = next((t for t in titled_lists if normalize_label(t.phrase) in title
                 and not any(normalize_label(w) in title for w in t.unless)), None)
    if rule is None or len(cols.others) != 1 or cols.years:
        return
    col = cols.others[0][0]
    ind = reader.codebook[rule.code]
    rows = [_cells(row, len(reader.table.header.cells), None) for row in _data_rows(reader.table)]
    if not rows or any(parse_value(cells[col].value, ind.unit).value is None or not cells[cols.label].value
                       for cells in rows):
        return
    for row, cells in zip(_data_rows(reader.table), rows):
        entity = _entity(cells[cols.label].value, reader.doc.report)
        reader.emit(ind, cells, col, row, year=year, entity=entity, label=cols.others[0][1])


def extract_table_rows(table: RawTable, doc: SourceDocument, codebook: Codebook, *, version: str,
                       titled_lists: tuple[TitledList, ...] = ()) -> tuple[list[Observation], list[dict]]:
    """Observations and unmapped rows of one titled table (nothing for a table that holds no indicators)."""
    reader = _Reader(doc, codebook, table, version)
    data_year = doc.report.data_year
    cols = _columns(table.header, data_year)
    annex = annex_table_key(table.name)
    if annex is not None:
        years = [(c, y, None) for c, y in cols.years]
        if not years and cols.unit is not None:  # a header without a year: the column after 单位
            years = [(cols.unit + 1, data_year, None)]
        latest = max((y for _, y, _ in years), default=data_year)
        _read_indicator_rows(reader, cols, years, annex, latest)
        return reader.observations, reader.unmapped

    row_labels = [r.cells[cols.label].value for r in _data_rows(table) if len(r.cells) > cols.label]
    by_rows = _mapped_share(codebook, row_labels)
    if cols.years:
        if by_rows >= _MIN_MAPPED_SHARE:
            _read_indicator_rows(reader, cols, [(c, y, None) for c, y in cols.years], None, None)
        return reader.observations, reader.unmapped
    if not cols.others:
        return [], []
    year = _title_year(table, data_year)
    by_columns = _mapped_share(codebook, [t for _, t in cols.others])
    if max(by_rows, by_columns) < _MIN_MAPPED_SHARE:
        if not _read_compound_cells(reader, cols, year):
            _read_titled_list(reader, cols, titled_lists, year)
        return reader.observations, []
    if by_rows >= by_columns:  # one column per entity
        entities = [(c, year, _entity(t, doc.report)) for c, t in cols.others]
        _read_indicator_rows(reader, cols, entities, None, None)
    else:  # one row per entity
        _read_indicator_columns(reader, cols, year)
    return reader.observations, reader.unmapped


def extract_tables(doc: SourceDocument, codebook: Codebook, *, version: str,
                   titled_lists: tuple[TitledList, ...] = ()) -> tuple[list[Observation], list[dict]]:
    """Observations from every titled table of the document, and the table rows that mapped to no code.
    ``titled_lists``: the pattern file's lists of schools whose count the title names."""
    observations: list[Observation] = []
    unmapped: list[dict] = []
    for table in find_tables(doc.lines):
        obs, unm = extract_table_rows(table, doc, codebook, version=version, titled_lists=titled_lists)
        observations.extend(obs)
        unmapped.extend(unm)
    return observations, unmapped
