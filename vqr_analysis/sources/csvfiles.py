"""The project's own CSV files (codebook, prose patterns, corrections): strict UTF-8, checked shape.

In: a path and the columns the file must have. Out: one dict per row with its line number, or one VqrError
that names the file and what is wrong (not UTF-8 — a GBK save from a spreadsheet —, not CSV, wrong header,
a row with more or fewer fields than the header). Reports are decoded elsewhere (decoding.py): they may
legitimately be GBK; these files are ours and must be UTF-8.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from vqr_analysis.core.errors import VqrError

__all__ = ["read_csv_rows", "read_csv_records", "read_project_text"]


def read_project_text(path: Path) -> str:
    """The text of one of the project's own data files (CSV or TOML): strict UTF-8, a byte-order mark dropped.
    FileNotFoundError is left to the caller; anything else unreadable is one VqrError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise VqrError("is a folder, not a file", path=path) from None
    except OSError as exc:
        raise VqrError(f"cannot read the file ({exc.strerror or exc.__class__.__name__})", path=path) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise VqrError(f"file is not UTF-8 (undecodable byte at offset {exc.start}, line {line}); "
                       "save it as UTF-8 (a GBK/GB18030 save is not read)", path=path) from None


def read_csv_rows(path: Path) -> list[list[str]]:
    """Every row of a UTF-8 CSV file (a byte-order mark is dropped). FileNotFoundError is left to the caller."""
    text = read_project_text(path)
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise VqrError(f"not a valid CSV file: {exc}", path=path) from None


def read_csv_records(path: Path, columns: list[str], what: str) -> list[tuple[int, dict[str, str]]]:
    """(line number, {column: cell}) per data row; the header must be exactly ``columns`` and every row must
    have exactly as many fields (an unquoted comma in a value would otherwise shift it into the next column)."""
    rows = read_csv_rows(path)
    if not rows or rows[0] != columns:
        raise VqrError(f"{what} must have the columns {','.join(columns)}; got {','.join(rows[0]) if rows else 'nothing'}",
                       path=path)
    records = []
    for n, row in enumerate(rows[1:], 2):
        if not row:
            continue
        if len(row) != len(columns):
            raise VqrError(f"row {n}: {len(row)} fields where the header has {len(columns)} "
                           "(quote a value that holds a comma)", path=path)
        records.append((n, dict(zip(columns, row))))
    return records
