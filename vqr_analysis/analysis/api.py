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

from vqr_analysis.analysis.preferred import SqlSource, source
from vqr_analysis.store.database import connect_readonly
from vqr_analysis.core.errors import VqrError, check_lang

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


def _regions(src, wanted: list[str] | None) -> list[str] | None:
    """Region slugs for regions named by slug or by a Chinese or English name (of the region or the report's
    subject: 'tacheng', '塔城地区', 'Tacheng Prefecture'); an unknown name is a VqrError with the nearest ones."""
    return src.regions([str(w) for w in wanted]) if wanted else wanted


def reports(db=None) -> pl.DataFrame:
    """The registered reports: region slug, names, level, edition, data period, publisher, file, sha256."""
    with _con(db) as con:
        return con.sql("SELECT * FROM reports ORDER BY report_id").pl()


def region_info(region: str | None = None, *, db=None) -> dict:
    """One report's registry row as a dict (names, level, data period, file, sha256, publisher).

    ``region=None`` takes the first registered report, so a notebook runs with its default parameters; a
    region is named by its slug or its Chinese or English name.
    """
    if region is not None:
        with source(db) as src:
            region = _regions(src, [region])[0]
    with _con(db) as con:
        frame = con.sql("SELECT * FROM reports WHERE ? IS NULL OR region = ? ORDER BY report_id LIMIT 1",
                        params=[region, region]).pl()
    if frame.is_empty():
        raise VqrError("the database has no reports; rebuild it with `vqr db`")
    return frame.row(0, named=True)


def coverage(db=None) -> pl.DataFrame:
    """Per region: how many indicators and values it reports, how many statements say 'not reported', years."""
    with _con(db) as con:
        return con.sql(
            """
            SELECT r.region, r.report_id, r.level, r.data_year,
                   count(DISTINCT v.indicator_code) FILTER (WHERE v.value IS NOT NULL) AS indicators_reported,
                   count(*) FILTER (WHERE v.value IS NOT NULL) AS values_reported,
                   count(*) FILTER (WHERE v.obs_id IS NOT NULL AND v.value IS NULL) AS values_missing,
                   coalesce(string_agg(DISTINCT CAST(v.year AS VARCHAR), ', ' ORDER BY CAST(v.year AS VARCHAR)),
                            '') AS years
            FROM reports r
            LEFT JOIN preferred_values v ON v.report_id = r.report_id AND v.entity IS NULL
            GROUP BY ALL ORDER BY r.report_id
            """).pl()


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


def _values(src, regions: list[str] | None, codes: list[str] | None, year: int | None, *, latest: bool = False,
            entities: bool = False, lang: str = "zh") -> pl.DataFrame:
    """Preferred rows as a value frame (:data:`VALUE_COLUMNS`); names already checked."""
    frame = src.rows(regions, codes, year, latest=latest, entities=entities)
    label = pl.col("label_en" if lang == "en" else "label_zh").alias("label")
    return frame.select([label if c == "label" else pl.col(c) for c in VALUE_COLUMNS])


def values(region: str | Sequence[str] | None = None, codes: str | Sequence[str] | None = None,
           year: int | None = None, *, entities: bool = False, lang: str = "zh", db=None) -> pl.DataFrame:
    """Preferred value per (region, entity, indicator, year), with unit, status, quote and line.

    ``region`` is a slug or a Chinese or English name (or a list of them). ``entities=False`` keeps only values
    about each report's own subject (entity NULL); True adds the per-school rows. ``lang`` (zh or en) picks the
    ``label`` language (``label_zh`` and ``label_en`` are always present).
    """
    check_lang(lang)
    code_list = _as_list(codes)
    with source(db) as src:
        regions = _regions(src, _as_list(region))
        if code_list:
            src.check_codes(code_list)
        return _values(src, regions, code_list, year, entities=entities, lang=lang)


def _comparability(frame: pl.DataFrame) -> pl.DataFrame:
    """The human ``comparability`` note from the ``mixed_levels`` / ``mixed_years`` booleans (NULL stays NULL)."""
    return frame.with_columns(
        pl.when(pl.col("mixed_levels").is_null()).then(pl.lit(None, pl.String))
        .when(pl.col("mixed_levels") & pl.col("mixed_years")).then(pl.lit("mixed levels and years"))
        .when(pl.col("mixed_levels")).then(pl.lit("mixed levels (higher vs secondary)"))
        .when(pl.col("mixed_years")).then(pl.lit("mixed data years"))
        .otherwise(pl.lit("comparable")).alias("comparability")
    )


def compare(codes: str | Sequence[str], regions: Sequence[str] | None = None, *, year: int | str = "latest",
            lang: str = "zh", db=None) -> pl.DataFrame:
    """Regions side by side for some indicators, one row per (indicator, region), comparability explicit.

    ``year='latest'`` takes each region's most recent year for the indicator (reports cover different years);
    an int takes that year only. Regions with no statement for an indicator appear with ``value`` NULL and
    ``status='absent'`` — shown as missing, never as zero. The frame carries ``level`` and ``year`` per row and,
    per indicator, ``mixed_levels`` / ``mixed_years`` flags plus a human ``comparability`` note. Regions are
    slugs or Chinese or English names; an empty ``codes`` is refused.
    """
    code_list = _as_list(codes)
    if not code_list:
        raise VqrError("compare() needs at least one indicator code, e.g. compare(['student_teacher_ratio']); "
                       "vqr.indicators() lists them")
    if year != "latest" and not isinstance(year, int):
        raise VqrError(f"year must be 'latest' or a year such as 2023, not {year!r}")
    check_lang(lang)
    with source(db) as src:
        region_list = _regions(src, _as_list(regions))
        src.check_codes(code_list)
        all_regions = src.reports(region_list)
        vals = _values(src, region_list, code_list, None if year == "latest" else year, latest=year == "latest",
                       lang=lang)
        labels = src.labels(code_list).select(
            pl.col("code").alias("indicator_code"), pl.col("name_en" if lang == "en" else "name_zh").alias("label"),
            pl.col("name_zh").alias("label_zh"), pl.col("name_en").alias("label_en"), "unit")
    grid = labels.join(all_regions, how="cross")
    frame = grid.join(
        vals.drop("region_zh", "region_en", "report_id", "level", "data_year", "label", "label_zh", "label_en", "unit"),
        on=["region", "indicator_code"], how="left",
    ).with_columns(pl.col("status").fill_null("absent"))
    present = pl.col("value").is_not_null()
    frame = _comparability(frame.with_columns(
        (pl.col("level").filter(present).n_unique().over("indicator_code") > 1).alias("mixed_levels"),
        (pl.col("year").filter(present).n_unique().over("indicator_code") > 1).alias("mixed_years"),
    ))
    order = {c: i for i, c in enumerate(code_list)}
    return frame.with_columns(pl.col("indicator_code").replace_strict(order, return_dtype=pl.Int32).alias("_o")) \
        .sort(["_o", "report_id"]).drop("_o")


def profile(region: str, *, lang: str = "zh", db=None) -> pl.DataFrame:
    """Every indicator a region reports (latest year), with how it ranks among the regions reporting it.

    ``rank`` is 1 for the largest value among regions with a value for that indicator and year-agnostic
    (latest per region); ``n_regions`` says how many were compared, and ``comparability`` (with the booleans
    ``mixed_levels`` / ``mixed_years``) marks mixed levels or years. ``region`` is a slug or a Chinese or
    English name.
    """
    check_lang(lang)
    with source(db) as src:
        slug = _regions(src, [region])[0]
        latest = _values(src, [slug], None, None, latest=True, lang=lang)
        codes = latest.get_column("indicator_code").to_list()
        peers = src.peers(codes) if codes else None
    if peers is None:
        return latest.with_columns(pl.lit(None, pl.Int32).alias("rank"), pl.lit(0).alias("n_regions"),
                                   pl.lit(None, pl.Float64).alias("median_others"),
                                   pl.lit("").alias("comparability"), pl.lit(False).alias("mixed_levels"),
                                   pl.lit(False).alias("mixed_years"))
    own = latest.select("indicator_code", pl.col("value").alias("own"))
    # Rank, peers and the mixed-level/year booleans of the region's own values: only where it states a value.
    stats = peers.join(own, on="indicator_code").group_by("indicator_code").agg(
        (pl.col("value") > pl.col("own")).sum().cast(pl.Int32).alias("above"),
        pl.len().alias("n_regions"),
        (pl.col("level").n_unique() > 1).alias("mixed_levels"),
        (pl.col("year").n_unique() > 1).alias("mixed_years"),
        pl.col("value").filter(pl.col("region") != slug).median().alias("median_others"),
        pl.col("own").first(),
    )
    stated = pl.col("own").is_not_null()
    mine = _comparability(stats.with_columns(
        pl.when(stated).then(pl.col("above") + 1).alias("rank"),
        pl.when(stated).then(pl.col("n_regions")).alias("n_regions"),
        pl.when(stated).then(pl.col("mixed_levels")).alias("mixed_levels"),
        pl.when(stated).then(pl.col("mixed_years")).alias("mixed_years"),
    )).select("indicator_code", "rank", "n_regions", "comparability", "mixed_levels", "mixed_years",
              "median_others")
    return latest.join(mine, on="indicator_code", how="left", maintain_order="left") \
        .sort(["table", "indicator_code"])


def quality_flags(region: str | None = None, *, db=None) -> pl.DataFrame:
    """Quality flags with the flagged value's region, code, year, raw string, quote and line."""
    with _con(db) as con:
        if region:
            region = _regions(SqlSource(con), [region])[0]
        return con.sql(
            """
            SELECT r.region, o.report_id, o.entity, o.indicator_code, i.name_zh AS label, i.name_en AS label_en,
                   o.year, o.value, o.unit, o.raw, o.raw_unit, o.line, o.quote, o.status, o.method,
                   f.rule, f.severity, f.message, f.obs_id, f.related_obs_id
            FROM quality_flags f
            JOIN observations o ON o.obs_id = f.obs_id
            JOIN reports r ON r.report_id = o.report_id
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
            SELECT indicator_code FROM preferred_values WHERE entity IS NULL AND value IS NOT NULL
            GROUP BY indicator_code, "table" HAVING count(DISTINCT report_id) >= ?
            ORDER BY "table", indicator_code
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
        if codes is not None and not code_list:
            compare(code_list, db=con)  # refuses an explicitly empty list, with its message
        # No shared indicator (a one-report database) is an empty table, not an error.
        frame = compare(code_list, regions, lang=lang, db=con) if code_list else pl.DataFrame()
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
