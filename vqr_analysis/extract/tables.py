"""Annex tables of the national template (表1 … 表6), found by their titles.

First layout supported: tab-separated rows (序号 \t 指标 \t 单位 \t 2023年 [\t 2024年] …).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..codebook import ANNEX_TABLES, Codebook, Indicator
from ..model import Observation
from ..sources import SourceDocument
from ..textnorm import fold_width, normalize_label
from ..values import parse_value

__all__ = ["extract_tables", "find_annex_tables", "AnnexTable"]

_TITLE_RE = re.compile(
    r"^\s*(?:附)?表\s*([1-6１-６])\s*[:：.]?\s*(" + "|".join(t[1] for t in ANNEX_TABLES.values()) + r")\s*$"
)
_YEAR_RE = re.compile(r"(\d{4})\s*年?")


@dataclass
class AnnexTable:
    table: str  # codebook table key
    title: str
    title_line: int
    header_line: int
    years: list[int]
    rows: list[tuple[int, list[str]]]  # (line number, cells)


def find_annex_tables(doc: SourceDocument) -> list[AnnexTable]:
    by_name = {name: key for key, (_, name, _) in ANNEX_TABLES.items()}
    found: list[AnnexTable] = []
    lines = doc.lines
    i = 0
    while i < len(lines):
        m = _TITLE_RE.match(fold_width(lines[i]).replace("\t", " "))
        if not m:
            i += 1
            continue
        key = by_name[m.group(2)]
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        header = lines[j].split("\t") if j < len(lines) else []
        if "指标" not in "".join(header):
            i += 1
            continue
        years = [int(y) for cell in header for y in _YEAR_RE.findall(cell.replace(" ", "")) if cell.strip()]
        rows = []
        k = j + 1
        while k < len(lines) and lines[k].strip() and "\t" in lines[k]:
            rows.append((k + 1, lines[k].split("\t")))
            k += 1
        found.append(AnnexTable(key, lines[i].strip(), i + 1, j + 1, years, rows))
        i = k
    return found


def _resolve(codebook: Codebook, label: str, table: str, parents: list[Indicator]) -> Indicator | None:
    candidates = codebook.lookup(label, table=table)
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    for parent in reversed(parents):
        for cand in candidates:
            if cand.parent_code == parent.code:
                return cand
    return None


def extract_tables(doc: SourceDocument, codebook: Codebook, *, version: str) -> tuple[list[Observation], list[dict]]:
    observations: list[Observation] = []
    unmapped: list[dict] = []
    for table in find_annex_tables(doc):
        parents: list[Indicator] = []
        for line_no, cells in table.rows:
            cells = [c for c in cells]
            while cells and not cells[-1].strip():
                cells.pop()
            if len(cells) < 3 + len(table.years):
                cells = cells + [""] * (3 + len(table.years) - len(cells))
            seq, label, unit = cells[0].strip(), cells[1].strip(), cells[2].strip()
            values = cells[3 : 3 + len(table.years)]
            if not label:
                continue
            ind = _resolve(codebook, label, table.table, parents)
            if ind is None:
                unmapped.append({"report_id": doc.report.id, "line": line_no, "table": table.title, "label": label})
                continue
            if seq:
                parents = [ind]
            elif ind.parent_code and all(p.code != ind.parent_code for p in parents):
                parents.append(ind)
            else:
                parents.append(ind)
            source_line = doc.line(line_no)
            for year, raw in zip(table.years, values):
                parsed = parse_value(raw, ind.unit)
                observations.append(
                    Observation(
                        report_id=doc.report.id, source_sha256=doc.sha256, indicator_code=ind.code, year=year,
                        value=parsed.value, unit=ind.unit, raw=raw.strip(), raw_unit=unit or None, line=line_no,
                        quote=source_line.strip(), status=parsed.status, method="table", flag=parsed.flag,
                        label=label, source_table=table.title, locator=doc.locator(line_no),
                        extractor_version=version,
                    )
                )
    return observations, unmapped
