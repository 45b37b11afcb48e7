"""Structural checks of a document's annex tables, run before any of its values is stored.

Two defects of a delivered file would otherwise turn into wrong data without any message, so both are
errors (the build stops, names the file, the table and the lines, and the last good database stays):

- **A repeated annex table** — the same annex table (表3 教学资源表 …) found twice with its header and rows:
  a page exported twice, or two versions pasted into one file. Every value would be stored twice, perhaps
  with different numbers, and nothing tells which copy is right. A report of the national template has
  exactly one of each annex table. (Tables outside the annex may repeat a title; they are not checked.)
- **A truncated annex table** — the file ends inside an annex table, in a row that has fewer cells than the
  table's header: the download or export was cut. The last cell may be a cut number (``19849`` for
  ``19849.78``), which no value check can recognise. A file cut exactly between two rows cannot be told
  from a complete one; for a registered file the SHA-256 check catches any later truncation.

A registered file is never edited to get past these errors: the fix is a corrected copy of the report,
registered with its own SHA-256 (see data/reports.toml).
"""

from __future__ import annotations

from vqr_analysis.core.errors import VqrError
from vqr_analysis.sources.documents import SourceDocument
from vqr_analysis.extract.layouts import RawTable, find_tables
from vqr_analysis.extract.tables import annex_table_key

__all__ = ["check_annex_tables"]


def check_annex_tables(doc: SourceDocument, tables: list[RawTable] | None = None) -> None:
    """Raise a VqrError naming the file if an annex table is repeated or truncated (see the module doc)."""
    tables = find_tables(doc.lines) if tables is None else tables
    annex = [(key, table) for table in tables if (key := annex_table_key(table.name))]
    first_seen: dict[str, RawTable] = {}
    for key, table in annex:
        earlier = first_seen.setdefault(key, table)
        if earlier is not table:
            raise VqrError(
                f"annex table '{earlier.title}' (line {earlier.title_line}) appears again as '{table.title}' "
                f"(line {table.title_line}); a report has one of each annex table: remove the repeated copy "
                "and register the corrected file", path=doc.path)
    if annex:
        _check_not_cut(doc, annex[-1][1])


def _check_not_cut(doc: SourceDocument, table: RawTable) -> None:
    if not table.rows:
        return
    last = table.rows[-1]
    last_line = max(cell.line for cell in last.cells)
    ends_inside = not any(line.strip() for line in doc.lines[last_line:])
    if ends_inside and len(last.cells) < len(table.header.cells):
        raise VqrError(
            f"annex table '{table.title}' (line {table.title_line}) is truncated: the file ends inside it, "
            f"in a row with {len(last.cells)} of the header's {len(table.header.cells)} cells (line {last_line}); "
            "obtain the complete file", path=doc.path)
