"""The research API: comparable numbers from the database as polars DataFrames.

Three lines in JupyterLab::

    import vqr_analysis as vqr
    vqr.compare(["student_teacher_ratio", "dual_qualified_teacher_share"])
    vqr.charts.indicator_across_regions(vqr.compare(["student_teacher_ratio"]))

Every value frame carries its provenance (raw, quote, line, source file) and its comparability context
(education level, data year). All SQL takes bound parameters; region slugs and codes are checked against the
database before they are used.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import duckdb
import polars as pl

from .db import connect_readonly
from .errors import VqrError

__all__ = ["connect", "reports", "indicators", "values", "compare", "profile", "quality_flags", "snapshot"]

# Columns every value frame carries, in this order.
VALUE_COLUMNS = [
    "region", "region_zh", "region_en", "report_id", "level", "data_year", "entity", "indicator_code", "label",
    "label_en", "table", "parent_code", "year", "value", "unit", "status", "qualifier", "method", "pick_reason",
    "n_statements", "raw", "raw_unit", "quote", "line", "locator", "source_file", "obs_id", "flags",
]


def connect(db: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to the built database (default ``data/vqr.duckdb`` or ``VQR_DB``)."""
    return connect_readonly(Path(db) if db else None)


@contextmanager
def _con(db) -> Iterator[duckdb.DuckDBPyConnection]:
    if isinstance(db, duckdb.DuckDBPyConnection):
        yield db
        return
    con = connect(db)
    try:
        yield con
    finally:
        con.close()


def _as_list(x: str | Iterable[str] | None) -> list[str] | None:
    if x is None:
        return None
    return [x] if isinstance(x, str) else list(x)


def _check_known(con, kind: str, wanted: list[str] | None, sql: str) -> None:
    if not wanted:
        return
    known = [r[0] for r in con.execute(sql).fetchall()]
    unknown = [w for w in wanted if w not in known]
    if unknown:
        shown = ", ".join(known) if len(known) <= 12 else ", ".join(known[:12]) + ", …"
        raise VqrError(f"unknown {kind} {', '.join(map(repr, unknown))}; known {kind}s: {shown}")


def reports(db=None) -> pl.DataFrame:
    """The registered reports: region slug, names, level, edition, data period, publisher, file, sha256."""
    with _con(db) as con:
        return con.sql("SELECT * FROM reports ORDER BY id").pl()


def indicators(table: str | None = None, db=None) -> pl.DataFrame:
    """The codebook as stored in the database (one definition: data/indicators.csv)."""
    with _con(db) as con:
        sql = 'SELECT * FROM indicators' + (' WHERE "table" = ?' if table else "") + " ORDER BY code"
        return con.sql(sql, params=[table] if table else []).pl()


def snapshot(db=None) -> str:
    """Snapshot id of the database's build (hash of inputs + code version)."""
    with _con(db) as con:
        row = con.execute(
            "SELECT snapshot_id FROM runs WHERE kind = 'db' ORDER BY finished_at DESC LIMIT 1").fetchone()
    return row[0] if row else "unknown"


def values(region: str | Sequence[str] | None = None, codes: str | Sequence[str] | None = None,
           year: int | None = None, *, entities: bool = False, lang: str = "zh", db=None) -> pl.DataFrame:
    """Preferred value per (region, entity, indicator, year), with unit, status, quote and line.

    ``entities=False`` keeps only values about each report's own subject (entity NULL); True adds the
    per-school rows. ``lang`` picks the ``label`` language (``label_en`` is always present).
    """
    regions, code_list = _as_list(region), _as_list(codes)
    with _con(db) as con:
        _check_known(con, "region", regions, "SELECT region FROM reports ORDER BY id")
        _check_known(con, "indicator code", code_list, "SELECT code FROM indicators ORDER BY code")
        where, params = ["TRUE"], []
        if regions:
            where.append("r.region IN (SELECT unnest(?::VARCHAR[]))")
            params.append(regions)
        if code_list:
            where.append("v.indicator_code IN (SELECT unnest(?::VARCHAR[]))")
            params.append(code_list)
        if year is not None:
            where.append("v.year = ?")
            params.append(int(year))
        if not entities:
            where.append("v.entity IS NULL")
        frame = con.sql(
            f"""
            SELECT r.region, r.region_zh, r.region_en, v.report_id, r.level, r.data_year, v.entity,
                   v.indicator_code,
                   CASE WHEN ? = 'en' THEN i.name_en ELSE i.name_zh END AS label, i.name_en AS label_en,
                   i."table", i.parent_code, v.year, v.value, v.unit, v.status, v.qualifier, v.method,
                   v.pick_reason, v.n_statements, v.raw, v.raw_unit, v.quote, v.line, v.locator,
                   r.file AS source_file, v.obs_id,
                   (SELECT string_agg(f.message, '; ') FROM quality_flags f WHERE f.obs_id = v.obs_id) AS flags
            FROM indicator_values v
            JOIN reports r ON r.id = v.report_id
            JOIN indicators i ON i.code = v.indicator_code
            WHERE {' AND '.join(where)}
            ORDER BY r.id, v.entity NULLS FIRST, v.indicator_code, v.year
            """,
            params=[lang, *params],
        ).pl()
    return frame.select(VALUE_COLUMNS)


def compare(codes: str | Sequence[str], regions: Sequence[str] | None = None, *, year: int | str = "latest",
            lang: str = "zh", db=None) -> pl.DataFrame:
    """Regions side by side for some indicators, one row per (indicator, region), comparability explicit.

    ``year='latest'`` takes each region's most recent year for the indicator (reports cover different years);
    an int takes that year only. Regions with no statement for an indicator appear with ``value`` NULL and
    ``status='absent'`` — shown as missing, never as zero. The frame carries ``level`` and ``year`` per row and,
    per indicator, ``mixed_levels`` / ``mixed_years`` flags plus a human ``comparability`` note.
    """
    code_list = _as_list(codes)
    with _con(db) as con:
        all_regions = con.sql(
            "SELECT region, region_zh, region_en, id AS report_id, level, data_year FROM reports ORDER BY id").pl()
        vals = values(regions, code_list, None if year == "latest" else year, lang=lang, db=con)
        labels = indicators(db=con).select(
            pl.col("code").alias("indicator_code"),
            (pl.col("name_en") if lang == "en" else pl.col("name_zh")).alias("label"),
            pl.col("name_en").alias("label_en"), "unit")
    if regions:
        all_regions = all_regions.filter(pl.col("region").is_in(list(regions)))
    if year == "latest" and vals.height:
        vals = vals.filter(pl.col("year") == pl.col("year").max().over(["region", "indicator_code"]))
    grid = labels.filter(pl.col("indicator_code").is_in(code_list)).join(all_regions, how="cross")
    frame = grid.join(
        vals.drop("region_zh", "region_en", "report_id", "level", "data_year", "label", "label_en", "unit"),
        on=["region", "indicator_code"], how="left",
    ).with_columns(pl.col("status").fill_null("absent"))
    present = pl.col("value").is_not_null()
    frame = frame.with_columns(
        (pl.col("level").filter(present).n_unique().over("indicator_code") > 1).alias("mixed_levels"),
        (pl.col("year").filter(present).n_unique().over("indicator_code") > 1).alias("mixed_years"),
    ).with_columns(
        pl.when(pl.col("mixed_levels") & pl.col("mixed_years")).then(pl.lit("mixed levels and years"))
        .when(pl.col("mixed_levels")).then(pl.lit("mixed levels (higher vs secondary)"))
        .when(pl.col("mixed_years")).then(pl.lit("mixed data years"))
        .otherwise(pl.lit("comparable")).alias("comparability")
    )
    order = {c: i for i, c in enumerate(code_list)}
    return frame.with_columns(pl.col("indicator_code").replace_strict(order, return_dtype=pl.Int32).alias("_o")) \
        .sort(["_o", "report_id"]).drop("_o")


def profile(region: str, *, lang: str = "zh", db=None) -> pl.DataFrame:
    """Every indicator a region reports (latest year), with how it ranks among the regions reporting it.

    ``rank`` is 1 for the largest value among regions with a value for that indicator and year-agnostic
    (latest per region); ``n_regions`` says how many were compared, and ``comparability`` marks mixed levels
    or years.
    """
    with _con(db) as con:
        own = values(region, lang=lang, db=con)
        codes = own.get_column("indicator_code").unique().to_list()
        if not codes:
            return own.with_columns(pl.lit(None, pl.Int32).alias("rank"), pl.lit(0).alias("n_regions"),
                                    pl.lit(None, pl.Float64).alias("median_others"),
                                    pl.lit("").alias("comparability"))
        cmp = compare(codes, lang=lang, db=con)
    ranked = cmp.filter(pl.col("value").is_not_null()).with_columns(
        pl.col("value").rank("min", descending=True).over("indicator_code").cast(pl.Int32).alias("rank"),
        pl.len().over("indicator_code").alias("n_regions"),
    )
    others = ranked.filter(pl.col("region") != region).group_by("indicator_code").agg(
        pl.col("value").median().alias("median_others"))
    mine = ranked.filter(pl.col("region") == region).select("indicator_code", "rank", "n_regions", "comparability")
    latest = own.filter(pl.col("year") == pl.col("year").max().over("indicator_code"))
    return latest.join(mine, on="indicator_code", how="left").join(others, on="indicator_code", how="left") \
        .sort(["table", "indicator_code"])


def quality_flags(region: str | None = None, *, db=None) -> pl.DataFrame:
    """Quality flags with the flagged value's region, code, year, raw string, quote and line."""
    with _con(db) as con:
        if region:
            _check_known(con, "region", [region], "SELECT region FROM reports ORDER BY id")
        return con.sql(
            """
            SELECT r.region, o.report_id, o.entity, o.indicator_code, i.name_zh AS label, i.name_en AS label_en,
                   o.year, o.value, o.unit, o.raw, o.raw_unit, o.line, o.quote, o.status, o.method,
                   f.rule, f.severity, f.message, f.obs_id, f.related_obs_id
            FROM quality_flags f
            JOIN observations o ON o.obs_id = f.obs_id
            JOIN reports r ON r.id = o.report_id
            JOIN indicators i ON i.code = o.indicator_code
            WHERE (? IS NULL OR r.region = ?)
            ORDER BY o.report_id, o.line, f.rule
            """,
            params=[region, region],
        ).pl()
