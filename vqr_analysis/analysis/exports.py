"""Frames to files, for ``vqr export`` and ``vqr query``: CSV that spreadsheet programs open, JSON, and Parquet
that carries the codebook.

- CSV: UTF-8 with a BOM in a file (Excel reads the Chinese instead of garbling it; on standard output there is
  none, for pipes), and text cells that a spreadsheet would run as a formula neutralised (:mod:`spreadsheet`).
- JSON: one array of row objects, UTF-8.
- Parquet: the codebook (one object per indicator), the column meanings (from :mod:`vqr_analysis.core.schema`)
  and the database's snapshot id as key-value metadata, so a file read years later still says what it holds.

The exported tables carry what a reader needs beside the codes: region slug and names, education level and
the indicator's Chinese and English labels.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import polars as pl

from vqr_analysis.analysis.spreadsheet import neutralise_formulas
from vqr_analysis.core.errors import VqrError
from vqr_analysis.core.schema import TABLES

__all__ = ["FORMATS", "EXPORT_TABLES", "export_frame", "parquet_metadata", "write_frame", "format_of"]

FORMATS = ("csv", "json", "parquet")

# What `vqr export --table` writes: every statement with its provenance, or one preferred value per key.
EXPORT_TABLES = {
    "observations": """
        SELECT o.obs_id, o.report_id, r.region, r.region_zh, r.region_en, r.level, o.entity, o.indicator_code,
               i.name_zh AS label_zh, i.name_en AS label_en, o.* EXCLUDE (obs_id, report_id, entity, indicator_code),
               r.file AS source_file
        FROM observations o JOIN reports r ON r.report_id = o.report_id
        LEFT JOIN indicators i ON i.code = o.indicator_code
        ORDER BY o.obs_id""",
    "preferred_values": """
        SELECT * FROM preferred_values ORDER BY report_id, entity NULLS FIRST, indicator_code, year""",
}


def export_frame(con: duckdb.DuckDBPyConnection, table: str = "observations") -> pl.DataFrame:
    """One of :data:`EXPORT_TABLES` as a frame (region and labels beside every code)."""
    if table not in EXPORT_TABLES:
        raise VqrError(f"unknown export table {table!r}; use one of {', '.join(EXPORT_TABLES)}")
    try:
        return con.sql(EXPORT_TABLES[table]).pl()
    except duckdb.CatalogException:
        raise VqrError(f"the database has no {table} table (built by an older version); rebuild it with `vqr db`") \
            from None


def _column_docs() -> dict[str, str]:
    docs: dict[str, str] = {"label_zh": "The indicator's Chinese label (codebook).",
                            "label_en": "The indicator's English name (codebook).",
                            "source_file": "File name of the report under data/."}
    for table in TABLES:
        for column in table.columns:
            docs.setdefault(column.name, column.doc)
    return docs


def parquet_metadata(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> dict[str, str]:
    """Key-value metadata for a Parquet export: ``vqr.codebook`` (JSON list of indicators), ``vqr.columns``
    (JSON {column: meaning}) and ``vqr.snapshot`` (the build's snapshot id)."""
    codebook = con.sql("SELECT * FROM indicators ORDER BY code").pl().to_dicts()
    snapshot = con.execute(
        "SELECT snapshot_id FROM runs WHERE kind = 'db' ORDER BY finished_at DESC LIMIT 1").fetchall()
    docs = _column_docs()
    return {
        "vqr.codebook": json.dumps(codebook, ensure_ascii=False),
        "vqr.columns": json.dumps({c: docs[c] for c in frame.columns if c in docs}, ensure_ascii=False),
        "vqr.snapshot": snapshot[0][0] if snapshot else "unknown",
    }


def format_of(path: Path) -> str | None:
    """The format a file name asks for (``.csv`` → csv …), or None."""
    suffix = Path(path).suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else None


def write_frame(frame: pl.DataFrame, fmt: str, path: Path | None = None, *,
                metadata: dict[str, str] | None = None, what: str = "output") -> None:
    """Write ``frame`` as csv, json or parquet to ``path`` (standard output when None; Parquet needs a file)."""
    if fmt not in FORMATS:
        raise VqrError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "parquet" and path is None:
        raise VqrError("Parquet is binary: name the output file with -o FILE.parquet")
    if fmt == "csv":
        text = neutralise_formulas(_flat(frame)).write_csv(include_bom=path is not None)
    elif fmt == "json":
        text = frame.write_json()
    if path is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    tmp = path.with_name(f".{path.name}.writing")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "parquet":
            frame.write_parquet(tmp, metadata=metadata)
        else:
            tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)  # a failed write never leaves half a file under the name asked for
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # the folder itself is the problem (a file, /proc …): nothing was written there
            pass
        raise VqrError(f"cannot write the {what}: {exc.strerror or str(exc).splitlines()[0]}", path=path) from None


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested columns (lists, structs) as text: CSV has no place for them."""
    return frame.with_columns([pl.col(c).cast(pl.String) for c, t in frame.schema.items()
                               if isinstance(t, (pl.List, pl.Struct, pl.Array))])
