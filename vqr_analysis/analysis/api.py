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
from vqr_analysis.core.errors import VqrError, check_known, check_lang

__all__ = [
    "connect", "reports", "indicators", "values", "compare", "profile", "quality_flags", "snapshot", "region_info",
    "coverage", "compare_table", "shared_codes",
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


def _check_codes(con, codes: list[str] | None) -> None:
    """Every code is in the codebook, or a VqrError naming the nearest codes (the whole list read only then)."""
    if not codes:
        return
    clause, params = _in("code", list(dict.fromkeys(codes)))
    if con.execute(f"SELECT count(*) FROM indicators WHERE {clause}", params).fetchall()[0][0] < len(params):
        check_known("indicator code", codes, [r[0] for r in con.execute(
            "SELECT code FROM indicators ORDER BY code").fetchall()])


# A name as compared: trimmed, inner spaces collapsed, lower-case ('Tacheng  prefecture ' = 'Tacheng Prefecture').
_NAME_KEY = "lower(regexp_replace(trim({}), '\\s+', ' ', 'g'))"
_NAME_COLUMNS = ("region", "region_zh", "region_en", "subject_zh", "subject_en")
_REGIONS_BY_NAME = f"""
SELECT w.i, r.region
FROM (SELECT unnest(?::VARCHAR[]) AS name, generate_subscripts(?::VARCHAR[], 1) AS i) w
JOIN reports r ON {_NAME_KEY.format('w.name')} IN ({', '.join(_NAME_KEY.format('r.' + c) for c in _NAME_COLUMNS)})
ORDER BY w.i, r.report_id
"""


def _regions(con, wanted: list[str] | None) -> list[str] | None:
    """Region slugs for regions named by slug or by a Chinese or English name (of the region or the report's
    subject: 'tacheng', '塔城地区', 'Tacheng Prefecture'); an unknown name is a VqrError with the nearest ones.
    The lookup runs in the database: its cost does not grow with a Python loop over every report."""
    if not wanted:
        return wanted
    names = [str(w) for w in wanted]
    clause, params = _in("region", names)
    slugs = {r[0] for r in con.execute(f"SELECT region FROM reports WHERE {clause}", params).fetchall()}
    found: dict[int, list[str]] = {i: [n] for i, n in enumerate(names) if n in slugs}  # the common case
    others = [i for i in range(len(names)) if i not in found]
    if others:
        by_name = [names[i] for i in others]
        for j, slug in con.execute(_REGIONS_BY_NAME, [by_name, by_name]).fetchall():
            found.setdefault(others[j - 1], []).append(slug)
    if len(found) < len(names):
        rows = con.execute(f"SELECT {', '.join(_NAME_COLUMNS)} FROM reports ORDER BY report_id").fetchall()
        check_known("region", [n for i, n in enumerate(names) if i not in found], [r[0] for r in rows],
                    also=[n for r in rows for n in r[1:] if n])
    out = []
    for i, name in enumerate(names):
        slugs = list(dict.fromkeys(found[i]))
        if len(slugs) > 1:
            raise VqrError(f"region name {name!r} names several reports ({', '.join(slugs)}); use the slug")
        out.append(slugs[0])
    return list(dict.fromkeys(out))


def reports(db=None) -> pl.DataFrame:
    """The registered reports: region slug, names, level, edition, data period, publisher, file, sha256."""
    with _con(db) as con:
        return con.sql("SELECT * FROM reports ORDER BY report_id").pl()


def region_info(region: str | None = None, *, db=None) -> dict:
    """One report's registry row as a dict (names, level, data period, file, sha256, publisher).

    ``region=None`` takes the first registered report, so a notebook runs with its default parameters; a
    region is named by its slug or its Chinese or English name.
    """
    with _con(db) as con:
        if region is not None:
            region = _regions(con, [region])[0]
        frame = con.sql("SELECT * FROM reports WHERE ? IS NULL OR region = ? ORDER BY report_id LIMIT 1",
                        params=[region, region]).pl()
    if frame.is_empty():
        raise VqrError("the database has no reports; rebuild it with `vqr db`")
    return frame.row(0, named=True)


def coverage(db=None) -> pl.DataFrame:
    """Per region: how many indicators and values it reports, how many statements say 'not reported', years."""
    with _con(db) as con:
        return _read(con,
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
            """, [])


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


def _read(con, sql: str, params: list) -> pl.DataFrame:
    """A query over ``preferred_values``; a database built before that table existed says to rebuild."""
    try:
        return con.sql(sql, params=params).pl()
    except duckdb.CatalogException as exc:
        if "preferred_values" not in str(exc):
            raise
        raise VqrError("the database has no preferred_values table (built by an older version); "
                       "rebuild it with `vqr db`") from None


def _in(column: str, items: list) -> tuple[str, list]:
    """``column IN (?, ?, …)``: constants the scan can test against each block's min/max."""
    return f"{column} IN ({', '.join('?' for _ in items)})", list(items)


def _values(con, regions: list[str] | None, codes: list[str] | None, year: int | None, *, latest: bool = False,
            entities: bool = False, lang: str = "zh") -> pl.DataFrame:
    """Rows of ``preferred_values`` as a value frame (:data:`VALUE_COLUMNS`); names already checked."""
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
    label = "label_en" if lang == "en" else "label_zh"
    columns = ", ".join(f'{label} AS label' if c == "label" else f'"{c}"' for c in VALUE_COLUMNS)
    return _read(con, f"SELECT {columns} FROM preferred_values WHERE {' AND '.join(where)} "
                      "ORDER BY report_id, entity NULLS FIRST, indicator_code, year", params)


def values(region: str | Sequence[str] | None = None, codes: str | Sequence[str] | None = None,
           year: int | None = None, *, entities: bool = False, lang: str = "zh", db=None) -> pl.DataFrame:
    """Preferred value per (region, entity, indicator, year), with unit, status, quote and line.

    ``region`` is a slug or a Chinese or English name (or a list of them). ``entities=False`` keeps only values
    about each report's own subject (entity NULL); True adds the per-school rows. ``lang`` (zh or en) picks the
    ``label`` language (``label_zh`` and ``label_en`` are always present).
    """
    check_lang(lang)
    code_list = _as_list(codes)
    with _con(db) as con:
        regions = _regions(con, _as_list(region))
        _check_codes(con, code_list)
        return _values(con, regions, code_list, year, entities=entities, lang=lang)


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
    with _con(db) as con:
        region_list = _regions(con, _as_list(regions))
        _check_codes(con, code_list)
        region_where, region_params = _in("region", region_list) if region_list else ("TRUE", [])
        all_regions = con.sql(
            f"SELECT region, region_zh, region_en, report_id, level, data_year FROM reports WHERE {region_where} "
            "ORDER BY report_id", params=region_params).pl()
        vals = _values(con, region_list, code_list, None if year == "latest" else year, latest=year == "latest",
                       lang=lang)
        code_where, code_params = _in("code", code_list)
        labels = con.sql(
            f"SELECT code AS indicator_code, {'name_en' if lang == 'en' else 'name_zh'} AS label, "
            f"name_zh AS label_zh, name_en AS label_en, unit FROM indicators WHERE {code_where}",
            params=code_params).pl()
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


# Rank, peers and the mixed-level/year booleans of a region's latest values, computed in one pass over the
# latest values of every region (no per-indicator frame of all regions is built in Python).
_PROFILE_RANKS = """
WITH own AS (SELECT indicator_code, value FROM preferred_values WHERE region = $region AND entity IS NULL AND latest)
SELECT own.indicator_code,
       CAST(CASE WHEN own.value IS NOT NULL THEN 1 + count(*) FILTER (WHERE p.value > own.value) END AS INTEGER)
         AS rank,
       CAST(CASE WHEN own.value IS NOT NULL THEN count(*) END AS UINTEGER) AS n_regions,
       CASE WHEN own.value IS NOT NULL THEN count(DISTINCT p.level) > 1 END AS mixed_levels,
       CASE WHEN own.value IS NOT NULL THEN count(DISTINCT p.year) > 1 END AS mixed_years,
       median(p.value) FILTER (WHERE p.region <> $region) AS median_others
FROM own JOIN preferred_values p ON p.indicator_code = own.indicator_code
WHERE p.entity IS NULL AND p.latest AND p.value IS NOT NULL
GROUP BY own.indicator_code, own.value
"""


def profile(region: str, *, lang: str = "zh", db=None) -> pl.DataFrame:
    """Every indicator a region reports (latest year), with how it ranks among the regions reporting it.

    ``rank`` is 1 for the largest value among regions with a value for that indicator and year-agnostic
    (latest per region); ``n_regions`` says how many were compared, and ``comparability`` (with the booleans
    ``mixed_levels`` / ``mixed_years``) marks mixed levels or years. ``region`` is a slug or a Chinese or
    English name.
    """
    check_lang(lang)
    with _con(db) as con:
        slug = _regions(con, [region])[0]
        latest = _values(con, [slug], None, None, latest=True, lang=lang)
        ranks = _read(con, _PROFILE_RANKS, {"region": slug}) if latest.height else None
    if ranks is None:
        return latest.with_columns(pl.lit(None, pl.Int32).alias("rank"), pl.lit(0).alias("n_regions"),
                                   pl.lit(None, pl.Float64).alias("median_others"),
                                   pl.lit("").alias("comparability"), pl.lit(False).alias("mixed_levels"),
                                   pl.lit(False).alias("mixed_years"))
    mine = _comparability(ranks).select("indicator_code", "rank", "n_regions", "comparability", "mixed_levels",
                                        "mixed_years", "median_others")
    return latest.join(mine, on="indicator_code", how="left", maintain_order="left") \
        .sort(["table", "indicator_code"])


def quality_flags(region: str | None = None, *, db=None) -> pl.DataFrame:
    """Quality flags with the flagged value's region, code, year, raw string, quote and line."""
    with _con(db) as con:
        if region:
            region = _regions(con, [region])[0]
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
