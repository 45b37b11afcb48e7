"""Reviewed corrections (``data/corrections.csv``): a human's override of a value the source prints wrongly.

One row per override, each with its reason. A row names the statement it corrects by report, line, ``raw``
(as printed) and the code it was extracted as; it adds a ``method='correction'`` observation that keeps that
statement's ``raw``, line and quote (the source is never edited) and carries the corrected value in the
codebook unit of ``indicator_code`` (empty: the value is withdrawn, i.e. missing). The preferred-value view
``indicator_values`` picks a correction over every source statement of its key.

A correction whose statement no longer exists (the report or the extractor changed) is an error, not a
silent no-op: it must be reviewed again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from vqr_analysis.sources.codebook import Codebook
from vqr_analysis.sources.csvfiles import read_csv_records
from vqr_analysis.core.errors import VqrError
from vqr_analysis.extract.model import Observation

__all__ = ["Correction", "CORRECTION_COLUMNS", "load_corrections", "apply_corrections"]

CORRECTION_COLUMNS = ["report_id", "line", "raw", "extracted_code", "indicator_code", "value", "reason"]
_INTEGER = re.compile(r"[0-9]{1,9}")
_DECIMAL = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,15})?")


@dataclass(frozen=True)
class Correction:
    report_id: str
    line: int
    raw: str
    extracted_code: str
    indicator_code: str
    value: float | None  # None: the statement's value is withdrawn
    reason: str
    row: int  # line in the corrections file, for messages


def load_corrections(path: Path, codebook: Codebook) -> list[Correction]:
    """Read the corrections file (absent: no corrections). Every problem is a VqrError naming the row."""
    try:
        records = read_csv_records(path, CORRECTION_COLUMNS, "corrections")
    except FileNotFoundError:
        return []
    out = []
    for n, row in records:
        where = f"row {n}"
        cells = {k: v.strip() for k, v in row.items()}
        if not cells["reason"]:
            raise VqrError(f"{where}: a correction needs a reason", path=path)
        for key in ("extracted_code", "indicator_code"):
            if cells[key] not in codebook:
                raise VqrError(f"{where}: {key} {cells[key]!r} is not a codebook code", path=path)
        if not _INTEGER.fullmatch(cells["line"]):
            raise VqrError(f"{where}: line must be a line number, not {cells['line']!r}", path=path)
        line = int(cells["line"])
        # A plain decimal only: float() would also take 'inf', 'nan', '1_000' and '1e400' (infinite), and an
        # infinite value breaks every page's JSON. A comma (4651,60) is never read as a decimal point here.
        if cells["value"] and not _DECIMAL.fullmatch(cells["value"]):
            raise VqrError(f"{where}: value must be a plain decimal number such as 4651.60 (or empty to withdraw "
                           f"the value), not {cells['value']!r}", path=path)
        value = float(cells["value"]) if cells["value"] else None
        if not cells["raw"] or not cells["report_id"]:
            raise VqrError(f"{where}: report_id and raw are required", path=path)
        out.append(Correction(cells["report_id"], line, cells["raw"], cells["extracted_code"],
                              cells["indicator_code"], value, cells["reason"], n))
    return out


def apply_corrections(observations: list[Observation], corrections: list[Correction], codebook: Codebook,
                      *, path: Path | None = None) -> list[Observation]:
    """The correction observations, one per row, each built on the source statement it names."""
    index: dict[tuple, list[Observation]] = {}
    for o in observations:
        if o.method != "correction":
            index.setdefault((o.report_id, o.line, o.raw, o.indicator_code), []).append(o)
    added = []
    for c in corrections:
        found = index.get((c.report_id, c.line, c.raw, c.extracted_code), [])
        if not found:
            raise VqrError(f"row {c.row}: no statement {c.raw!r} read as {c.extracted_code} on line {c.line} of "
                           f"report {c.report_id}; review the correction", path=path)
        source = min(found, key=lambda o: o.method != "table")  # a table cell and prose never share a line
        added.append(replace(
            source, obs_id=None, method="correction", indicator_code=c.indicator_code,
            unit=codebook[c.indicator_code].unit, value=c.value,
            status="reported" if c.value is not None else "missing", qualifier="exact",
            flag=f"corrected: {c.reason}",
        ))
    return added
