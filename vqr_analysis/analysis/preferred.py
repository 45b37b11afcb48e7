"""Where the API's value frames come from: the ``preferred_values`` table, the report registry and the codebook.

Two sources answer the same few questions (which regions do these names mean, are these codes known, which
preferred rows match, which values do the regions state for these codes):

- :class:`SqlSource` asks a connection the caller holds (``db=con``), with bound parameters;
- :class:`FrameSource` answers from an in-memory copy of the three tables, read once per database file and
  kept while the file is unchanged (same device, inode, size and modification time: a rebuilt database is
  swapped in as a new file, an edited one changes its time), so a notebook or a page builder that calls the
  API hundreds of times opens the file once. No connection stays open between calls: nothing blocks a later
  writer and nothing is read from a replaced file.

:func:`source` picks one for the API's ``db`` argument. Both return the same columns in the same order.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import duckdb
import polars as pl

from vqr_analysis.core.errors import VqrError, check_known
from vqr_analysis.core.paths import default_db_path
from vqr_analysis.store.database import connect_readonly

__all__ = ["source", "SqlSource", "FrameSource", "REPORT_COLUMNS"]

REPORT_COLUMNS = ["region", "region_zh", "region_en", "report_id", "level", "data_year", "subject_kind"]
_NAME_COLUMNS = ("region", "region_zh", "region_en", "subject_zh", "subject_en")
_ROW_ORDER = ["report_id", "entity", "indicator_code", "year"]  # entity NULL (the report's subject) first


def _name_key(name: object) -> str:
    """A name as compared: trimmed, inner spaces collapsed, lower-case ('Tacheng  prefecture ')."""
    return " ".join(str(name).split()).lower()


def _resolve(names: list[str], found: dict[int, list[str]], known: list[tuple]) -> list[str]:
    """Slugs in the order asked (each once), from ``found`` (index → slugs); unknown or ambiguous names refused."""
    if len(found) < len(names):
        check_known("region", [n for i, n in enumerate(names) if i not in found], [r[0] for r in known],
                    also=[n for r in known for n in r[1:] if n])
    out = []
    for i, name in enumerate(names):
        slugs = list(dict.fromkeys(found[i]))
        if len(slugs) > 1:
            raise VqrError(f"region name {name!r} names several reports ({', '.join(slugs)}); use the slug")
        out.append(slugs[0])
    return list(dict.fromkeys(out))


def _in(column: str, items: list) -> tuple[str, list]:
    """``column IN (?, ?, …)``: constants the scan can test against each block's min/max."""
    return f'"{column}" IN ({", ".join("?" for _ in items)})', list(items)


def _read(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict) -> pl.DataFrame:
    """A query over ``preferred_values``; a database built before that table existed says to rebuild."""
    try:
        return con.sql(sql, params=params).pl()
    except duckdb.CatalogException as exc:
        if "preferred_values" not in str(exc):
            raise
        raise VqrError("the database has no preferred_values table (built by an older version); "
                       "rebuild it with `vqr db`") from None


class SqlSource:
    """Answers with SQL over a connection the caller holds (bound parameters only)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def regions(self, names: list[str]) -> list[str]:
        clause, params = _in("region", names)
        slugs = {r[0] for r in self.con.execute(f"SELECT region FROM reports WHERE {clause}", params).fetchall()}
        found = {i: [n] for i, n in enumerate(names) if n in slugs}  # the common case: slugs
        if len(found) < len(names):
            known = self.con.execute(
                f"SELECT {', '.join(_NAME_COLUMNS)} FROM reports ORDER BY report_id").fetchall()
            keys = {i: _name_key(n) for i, n in enumerate(names) if i not in found}
            for row in known:
                for i, key in keys.items():
                    if any(name and _name_key(name) == key for name in row):
                        found.setdefault(i, []).append(row[0])
            return _resolve(names, found, known)
        return list(dict.fromkeys(names))

    def check_codes(self, codes: list[str]) -> None:
        clause, params = _in("code", list(dict.fromkeys(codes)))
        if self.con.execute(f"SELECT count(*) FROM indicators WHERE {clause}", params).fetchall()[0][0] < len(params):
            check_known("indicator code", codes,
                        [r[0] for r in self.con.execute("SELECT code FROM indicators ORDER BY code").fetchall()])

    def reports(self, regions: list[str] | None) -> pl.DataFrame:
        clause, params = _in("region", regions) if regions else ("TRUE", [])
        return self.con.sql(f"SELECT {', '.join(REPORT_COLUMNS)} FROM reports WHERE {clause} ORDER BY report_id",
                            params=params).pl()

    def labels(self, codes: list[str]) -> pl.DataFrame:
        clause, params = _in("code", codes)
        return self.con.sql(f"SELECT code, name_zh, name_en, label_zh, label_en, unit, kind, direction FROM indicators WHERE {clause}", params=params).pl()

    def rows(self, regions: list[str] | None, codes: list[str] | None, year: int | None, *, latest: bool,
             entities: bool) -> pl.DataFrame:
        where, params = ["TRUE"], []
        for column, items in (("region", regions), ("indicator_code", codes)):
            if items:
                clause, more = _in(column, items)
                where.append(clause)
                params += more
        if year is not None:
            where.append("year = ?")
            params.append(int(year))
        if latest:
            where.append("latest")
        if not entities:
            where.append("entity IS NULL")
        return _read(self.con, f"SELECT * FROM preferred_values WHERE {' AND '.join(where)} "
                               "ORDER BY report_id, entity NULLS FIRST, indicator_code, year", params)


@dataclass
class FrameSource:
    """Answers from in-memory copies of ``reports``, ``indicators`` and ``preferred_values``."""

    reports_frame: pl.DataFrame
    indicators_frame: pl.DataFrame
    preferred: pl.DataFrame
    _by: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection) -> "FrameSource":
        return cls(con.sql("SELECT * FROM reports ORDER BY report_id").pl(),
                   con.sql("SELECT code, name_zh, name_en, label_zh, label_en, unit, kind, direction FROM indicators ORDER BY code").pl(),
                   _read(con, "SELECT * FROM preferred_values", []))

    def _partitions(self, column: str) -> dict[str, pl.DataFrame]:
        """The preferred rows split by region or by code (made on first use, then kept)."""
        with self._lock:
            if column not in self._by:
                self._by[column] = {key[0]: part for key, part in
                                    self.preferred.partition_by(column, as_dict=True, maintain_order=True).items()}
            return self._by[column]

    def _names(self) -> dict[str, list[str]]:
        with self._lock:
            if "names" not in self._by:
                names: dict[str, list[str]] = {}
                for row in self.reports_frame.select(_NAME_COLUMNS).iter_rows():
                    for name in row:
                        if name:
                            names.setdefault(_name_key(name), []).append(row[0])
                self._by["names"] = names
            return self._by["names"]

    def regions(self, names: list[str]) -> list[str]:
        by_name = self._names()
        slugs = self._by.get("slugs") or self._by.setdefault("slugs", set(self.reports_frame["region"].to_list()))
        found = {i: [n] if n in slugs else by_name[_name_key(n)]  # a slug names its own report, whatever else
                 for i, n in enumerate(names) if n in slugs or _name_key(n) in by_name}
        return _resolve(names, found, self.reports_frame.select(_NAME_COLUMNS).rows())

    def check_codes(self, codes: list[str]) -> None:
        known = self._by.get("codes") or self._by.setdefault("codes", set(self.indicators_frame["code"].to_list()))
        if not set(codes) <= known:
            check_known("indicator code", codes, self.indicators_frame["code"].to_list())

    def reports(self, regions: list[str] | None) -> pl.DataFrame:
        frame = self.reports_frame.select(REPORT_COLUMNS)
        return frame.filter(pl.col("region").is_in(regions)) if regions else frame

    def labels(self, codes: list[str]) -> pl.DataFrame:
        return self.indicators_frame.filter(pl.col("code").is_in(codes))

    def _subset(self, column: str, keys: list[str]) -> pl.DataFrame:
        parts = self._partitions(column)
        found = [parts[k] for k in dict.fromkeys(keys) if k in parts]
        return pl.concat(found) if found else self.preferred.clear()

    def rows(self, regions: list[str] | None, codes: list[str] | None, year: int | None, *, latest: bool,
             entities: bool) -> pl.DataFrame:
        frame = self._subset("region", regions) if regions else (
            self._subset("indicator_code", codes) if codes else self.preferred)
        conditions = []
        if regions and codes:
            conditions.append(pl.col("indicator_code").is_in(codes))
        if year is not None:
            conditions.append(pl.col("year") == int(year))
        if latest:
            conditions.append(pl.col("latest"))
        if not entities:
            conditions.append(pl.col("entity").is_null())
        if conditions:
            frame = frame.filter(*conditions)
        return frame.sort(_ROW_ORDER, nulls_last=False)


# Copies kept per database file, most recent last; a few, so that tests and notebooks juggling copies stay small.
_CACHE: OrderedDict[Path, tuple[tuple, FrameSource]] = OrderedDict()
_CACHE_SIZE = 4
_CACHE_LOCK = threading.Lock()


def _identity(path: Path) -> tuple:
    stat = path.stat()
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def _cached(db: str | Path | None) -> FrameSource:
    path = Path(db) if db else default_db_path()
    try:
        key, identity = path.resolve(), _identity(path)
    except OSError:
        identity = None
    if identity is not None:
        with _CACHE_LOCK:
            entry = _CACHE.get(key)
            if entry and entry[0] == identity:
                _CACHE.move_to_end(key)
                return entry[1]
    con = connect_readonly(path)  # a missing or damaged file is its VqrError
    try:
        frames = FrameSource.read(con)
    finally:
        con.close()
    if identity is not None and _identity(path) == identity:  # not rewritten while it was read
        with _CACHE_LOCK:
            _CACHE[key] = (identity, frames)
            _CACHE.move_to_end(key)
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    return frames


@contextmanager
def source(db) -> Iterator[SqlSource | FrameSource]:
    """The source for the API's ``db``: a held connection is asked directly; a path (or None, the default
    database) is answered from the cached copy of that file."""
    if isinstance(db, duckdb.DuckDBPyConnection):
        yield SqlSource(db)
    else:
        yield _cached(db)
