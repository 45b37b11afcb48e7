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

from vqr_analysis.store.database import connect_readonly
from vqr_analysis.core.errors import VqrError, check_known

__all__ = [
    "connect", "reports", "indicators", "values", "compare", "profile", "quality_flags", "snapshot", "region_info",
    "coverage", "compare_table", "shared_codes", "built_on",
]

# Columns every value frame carries, in this order.
VALUE_COLUMNS = [
    "region", "region_zh", "region_en", "report_id", "level", "data_year", "entity", "indicator_code", "label",
    "label_zh", "label_en", "table", "parent_code", "year", "value", "unit", "status", "qualifier", "method",
    "pick_reason", "n_statements", "raw", "raw_unit", "quote", "line", "locator", "source_file", "obs_id", "flags",
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
    check_known(kind, wanted, [r[0] for r in con.execute(sql).fetchall()])


def reports(db=None) -> pl.DataFrame:
    """The registered reports: region slug, names, level, edition, data period, publisher, file, sha256."""
    with _con(db) as con:
        return con.sql("SELECT * FROM reports ORDER BY id").pl()


def region_info(region: str | None = None, *, db=None) -> dict:
    """One report's registry row as a dict (names, level, data period, file, sha256, publisher).

    ``region=None`` takes the first registered report, so a notebook runs with its default parameters.
    """
    with _con(db) as con:
        if region is not None:
            _check_known(con, "region", [region], "SELECT region FROM reports ORDER BY id")
        frame = con.sql("SELECT * FROM reports WHERE ? IS NULL OR region = ? ORDER BY id LIMIT 1",
                        params=[region, region]).pl()
    if frame.is_empty():
        raise VqrError("the database has no reports; rebuild it with `vqr db`")
    return frame.row(0, named=True)


def coverage(db=None) -> pl.DataFrame:
    """Per region: how many indicators and values it reports, how many statements say 'not reported', years."""
    with _con(db) as con:
        return con.sql(
            """
            SELECT r.region, r.id AS report_id, r.level, r.data_year,
                   count(DISTINCT v.indicator_code) FILTER (WHERE v.value IS NOT NULL) AS indicators_reported,
                   count(*) FILTER (WHERE v.value IS NOT NULL) AS values_reported,
                   count(*) FILTER (WHERE v.obs_id IS NOT NULL AND v.value IS NULL) AS values_missing,
                   coalesce(string_agg(DISTINCT CAST(v.year AS VARCHAR), ', ' ORDER BY CAST(v.year AS VARCHAR)),
                            '') AS years
            FROM reports r
            LEFT JOIN indicator_values v ON v.report_id = r.id AND v.entity IS NULL
            GROUP BY ALL ORDER BY r.id
            """
        ).pl()


def indicators(table: str | None = None, db=None) -> pl.DataFrame:
    """The codebook as stored in the database (one definition: data/indicators.csv)."""
    with _con(db) as con:
        sql = 'SELECT * FROM indicators' + (' WHERE "table" = ?' if table else "") + " ORDER BY code"
        return con.sql(sql, params=[table] if table else []).pl()


def snapshot(db=None) -> str:
    """Snapshot id of the database's build (hash of inputs + code version)."""
    with _con(db) as con:
        # fetchall, not fetchone: DuckDB 2 keeps an unfinished result open, which blocks a shared connection.
        rows = con.execute(
            "SELECT snapshot_id FROM runs WHERE kind = 'db' ORDER BY finished_at DESC LIMIT 1").fetchall()
    return rows[0][0] if rows else "unknown"


def built_on(db=None) -> str:
    """Date (YYYY-MM-DD, UTC) the database's snapshot was built: a publication's issue date that stays the
    same for as long as its data do."""
    with _con(db) as con:
        rows = con.execute("SELECT strftime(finished_at AT TIME ZONE 'UTC', '%Y-%m-%d') FROM runs "
                           "WHERE kind = 'db' ORDER BY finished_at DESC LIMIT 1").fetchall()
    return rows[0][0] if rows else ""


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
                   CASE WHEN ? = 'en' THEN i.name_en ELSE i.name_zh END AS label, i.name_zh AS label_zh,
                   i.name_en AS label_en,
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
            pl.col("name_zh").alias("label_zh"), pl.col("name_en").alias("label_en"), "unit")
    if regions:
        all_regions = all_regions.filter(pl.col("region").is_in(list(regions)))
    if year == "latest" and vals.height:
        vals = vals.filter(pl.col("year") == pl.col("year").max().over(["region", "indicator_code"]))
    grid = labels.filter(pl.col("indicator_code").is_in(code_list)).join(all_regions, how="cross")
    frame = grid.join(
        vals.drop("region_zh", "region_en", "report_id", "level", "data_year", "label", "label_zh", "label_en", "unit"),
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
    (latest per region); ``n_regions`` says how many were compared, and ``comparability`` (with the booleans
    ``mixed_levels`` / ``mixed_years``) marks mixed levels or years.
    """
    with _con(db) as con:
        own = values(region, lang=lang, db=con)
        codes = own.get_column("indicator_code").unique(maintain_order=True).to_list()
        if not codes:
            return own.with_columns(pl.lit(None, pl.Int32).alias("rank"), pl.lit(0).alias("n_regions"),
                                    pl.lit(None, pl.Float64).alias("median_others"),
                                    pl.lit("").alias("comparability"), pl.lit(False).alias("mixed_levels"),
                                    pl.lit(False).alias("mixed_years"))
        cmp = compare(codes, lang=lang, db=con)
    ranked = cmp.filter(pl.col("value").is_not_null()).with_columns(
        pl.col("value").rank("min", descending=True).over("indicator_code").cast(pl.Int32).alias("rank"),
        pl.len().over("indicator_code").alias("n_regions"),
    )
    others = ranked.filter(pl.col("region") != region).group_by("indicator_code", maintain_order=True).agg(
        pl.col("value").median().alias("median_others"))
    mine = ranked.filter(pl.col("region") == region).select("indicator_code", "rank", "n_regions", "comparability",
                                                            "mixed_levels", "mixed_years")
    latest = own.filter(pl.col("year") == pl.col("year").max().over("indicator_code"))
    return latest.join(mine, on="indicator_code", how="left", maintain_order="left") \
        .join(others, on="indicator_code", how="left", maintain_order="left") \
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


def shared_codes(min_regions: int = 2, *, db=None) -> list[str]:
    """Indicator codes with a value in at least ``min_regions`` regions (any year), in codebook order."""
    with _con(db) as con:
        rows = con.execute(
            """
            SELECT v.indicator_code FROM indicator_values v JOIN indicators i ON i.code = v.indicator_code
            WHERE v.entity IS NULL AND v.value IS NOT NULL
            GROUP BY v.indicator_code, i."table" HAVING count(DISTINCT v.report_id) >= ?
            ORDER BY i."table", v.indicator_code
            """,
            [int(min_regions)],
        ).fetchall()
    return [r[0] for r in rows]


def compare_table(codes: str | Sequence[str] | None = None, regions: Sequence[str] | None = None, *,
                  lang: str = "zh", min_regions: int = 2, db=None) -> pl.DataFrame:
    """Wide comparison: one row per indicator, one numeric column per region (latest year), NULL = not reported.

    ``codes=None`` takes every indicator reported by at least ``min_regions`` regions. Region columns are named
    by the region's name in ``lang``; ``years`` lists the years behind the row and ``comparability`` says
    whether they mix levels or years.
    """
    with _con(db) as con:
        code_list = _as_list(codes) if codes is not None else shared_codes(min_regions, db=con)
        frame = compare(code_list, regions, lang=lang, db=con)
    name = "region_en" if lang == "en" else "region_zh"
    if frame.is_empty():
        return pl.DataFrame(schema={"indicator_code": pl.String, "label": pl.String, "unit": pl.String})
    columns = frame.get_column(name).unique(maintain_order=True).to_list()
    wide = frame.pivot(on=name, index="indicator_code", values="value", aggregate_function="first")
    meta = frame.group_by("indicator_code", maintain_order=True).agg(
        pl.col("label").first(), pl.col("unit").first(),
        pl.col("year").drop_nulls().unique().sort().cast(pl.String).str.join(", ").alias("years"),
        pl.col("comparability").first(),
    )
    return meta.join(wide, on="indicator_code", how="left", maintain_order="left").select(
        "indicator_code", "label", "unit", *columns, "years", "comparability")
