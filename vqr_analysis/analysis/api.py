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
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import duckdb
import polars as pl

from vqr_analysis.analysis.preferred import SqlSource, source
from vqr_analysis.store.database import connect_readonly
from vqr_analysis.core.errors import VqrError
from vqr_analysis.core.vocab import (
    CORRECTED, COUNTS_NOT_RANKED, DIRECTIONS, NO_PEERS, SUBJECT_KINDS, SUSPECT, SUSPECT_NOT_RANKED, LEVELS_SHORT,
    check_lang, pick,
)

__all__ = [
    "connect", "reports", "indicators", "values", "compare", "profile", "quality_flags", "snapshot", "region_info",
    "coverage", "compare_table", "shared_codes", "built_on", "with_badges", "rank_comparable", "size_free",
    "derived_rates", "DERIVED_RATES", "DerivedRate",
]

# Columns every value frame carries, in this order.
VALUE_COLUMNS = [
    "region", "region_zh", "region_en", "report_id", "level", "data_year", "entity", "indicator_code", "label",
    "label_zh", "label_en", "table", "parent_code", "year", "value", "unit", "status", "qualifier", "method",
    "pick_reason", "n_statements", "raw", "raw_unit", "quote", "line", "locator", "source_file", "obs_id", "flags",
    "badge", "flag_text", "kind", "direction", "subject_kind",
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
    """Preferred rows as a value frame (:data:`VALUE_COLUMNS`) with badges; names already checked."""
    frame = src.rows(regions, codes, year, latest=latest, entities=entities)
    en = lang == "en"
    frame = frame.with_columns(pl.col("label_en" if en else "label_zh").alias("label"),
                               pl.col("flags_en" if en else "flags_zh").alias("flags"))
    return with_badges(frame, lang).select(VALUE_COLUMNS)


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


def with_badges(frame: pl.DataFrame, lang: str = "zh") -> pl.DataFrame:
    """``badge`` and ``flag_text`` for a value frame: 存疑 / suspect with the quality flags' reason in plain words,
    已更正 / corrected with the correction's note, NULL for a clean value. Every surface shows these two."""
    check_lang(lang)
    corrected = pl.col("method") == "correction"
    note = pl.col("correction_note").str.strip_prefix("corrected: ") if "correction_note" in frame.columns \
        else pl.lit(None, pl.String)
    return frame.with_columns(
        pl.when(pl.col("status") == "suspect").then(pl.lit(pick(SUSPECT, lang)))
        .when(corrected).then(pl.lit(pick(CORRECTED, lang))).otherwise(None).alias("badge"),
        pl.when(pl.col("status") == "suspect").then(pl.col("flags"))
        .when(corrected).then(note).otherwise(None).alias("flag_text"),
    )


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
            pl.col("code").alias("indicator_code"), pl.col("label_en" if lang == "en" else "label_zh").alias("label"),
            "label_zh", "label_en", "unit", "kind", "direction")
    grid = labels.join(all_regions, how="cross")
    frame = grid.join(
        vals.drop("region_zh", "region_en", "report_id", "level", "data_year", "label", "label_zh", "label_en", "unit",
                  "kind", "direction", "subject_kind"),
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


def size_free(kind: pl.Expr, unit: pl.Expr) -> pl.Expr:
    """Whether an indicator's values can be set side by side across subjects of different size: shares, ratios,
    per-student figures and scores can; counts, areas and money totals (万元) mostly measure size."""
    return kind.is_in(["share", "ratio", "per_student", "score"]) | ((kind == "money") & (unit != "万元"))


def profile(region: str, *, lang: str = "zh", db=None) -> pl.DataFrame:
    """Every indicator a region reports (latest year), with how it stands among comparable subjects.

    Ranks are honest by construction:

    * only subjects of the same kind (``subject_kind``: prefecture, school …) and education level are ranked
      together (``n_regions`` says how many);
    * counts, areas and money totals are never ranked (they measure size); a suspect value is never ranked and
      never enters a median;
    * rank 1 is the best value where the indicator's ``direction`` is known (higher or lower is better), else
      the highest (``rank_order`` says which);
    * ``median_others`` is the median of the other clean values of the same education level, for size-free
      indicators only;
    * ``rank_note`` says in words (``lang``) what the rank compares, or why there is none.
    """
    check_lang(lang)
    with source(db) as src:
        region = _regions(src, [region])[0]
    with _con(db) as con:
        own = values(region, lang=lang, db=con)
        codes = own.get_column("indicator_code").unique(maintain_order=True).to_list()
        if not codes:
            return own.with_columns(pl.lit(None, pl.Int32).alias("rank"), pl.lit(0).alias("n_regions"),
                                    pl.lit(None, pl.Float64).alias("median_others"),
                                    pl.lit("").alias("comparability"), pl.lit(False).alias("mixed_levels"),
                                    pl.lit(False).alias("mixed_years"), pl.lit(None, pl.String).alias("rank_order"),
                                    pl.lit(None, pl.String).alias("rank_note"))
        cmp = compare(codes, lang=lang, db=con)
    ranked = rank_comparable(cmp)
    me = ranked.filter(pl.col("region") == region)
    level = me.get_column("level").first() if me.height else None
    others = ranked.filter((pl.col("region") != region) & (pl.col("level") == level) & pl.col("clean")
                           & pl.col("size_free")) \
        .group_by("indicator_code", maintain_order=True).agg(pl.col("value").median().alias("median_others"))
    mine = me.select("indicator_code", "rank", "n_regions", "comparability", "mixed_levels", "mixed_years",
                     "rank_order", "clean", "size_free")
    latest = own.filter(pl.col("year") == pl.col("year").max().over("indicator_code"))
    out = latest.join(mine, on="indicator_code", how="left", maintain_order="left") \
        .join(others, on="indicator_code", how="left", maintain_order="left")
    notes = [_rank_note(row, lang) for row in out.select(
        "rank", "n_regions", "rank_order", "clean", "size_free", "value", "direction", "subject_kind", "level"
    ).iter_rows(named=True)]
    return out.with_columns(pl.Series("rank_note", notes, dtype=pl.String)).drop("clean", "size_free") \
        .sort(["table", "indicator_code"])


def rank_comparable(frame: pl.DataFrame) -> pl.DataFrame:
    """``rank`` / ``n_regions`` / ``rank_order`` on a :func:`compare` frame, among comparable clean values only:
    same ``subject_kind`` and ``level``, size-free indicators, status not suspect, at least two of them. Other
    rows get rank NULL;
    ``clean`` and ``size_free`` say why."""
    clean = pl.col("value").is_not_null() & (pl.col("status") != "suspect")
    free = size_free(pl.col("kind"), pl.col("unit"))
    group = ["indicator_code", "subject_kind", "level"]
    frame = frame.with_columns(clean.alias("clean"), free.alias("size_free"),
                               pl.col("subject_kind").fill_null(""))
    comparable = pl.col("clean") & pl.col("size_free") & (pl.col("subject_kind") != "")
    # A rank of one says nothing: a subject without a clean peer of its kind and level has no rank.
    rankable = comparable & (comparable.sum().over(group) >= 2)
    key = pl.when(pl.col("direction") == "lower").then(pl.col("value")).otherwise(-pl.col("value"))
    return frame.with_columns(
        pl.when(rankable).then(pl.when(rankable).then(key).rank("min").over(group)).cast(pl.Int32).alias("rank"),
        pl.when(rankable).then(rankable.sum().over(group)).cast(pl.Int32).alias("n_regions"),
        pl.when(rankable).then(pl.when(pl.col("direction") == "lower").then(pl.lit("lowest_first"))
                               .otherwise(pl.lit("highest_first"))).alias("rank_order"),
    )


def _rank_note(row: dict, lang: str) -> str | None:
    """What a rank compares ('同类（地州·中职）2 个主体中第 1 位（越高越好）'), or why a value has none."""
    if row["value"] is None:
        return None
    if not row["size_free"]:
        return pick(COUNTS_NOT_RANKED, lang)
    if not row["clean"]:
        return pick(SUSPECT_NOT_RANKED, lang)
    if row["rank"] is None or (row["n_regions"] or 0) < 2:
        return pick(NO_PEERS, lang)
    kind = pick(SUBJECT_KINDS.get(row["subject_kind"], ("", "")), lang)
    level = pick(LEVELS_SHORT.get(row["level"], (row["level"], row["level"])), lang)
    direction = row["direction"] if row["direction"] in ("higher", "lower") else None
    if lang == "en":
        order = pick(DIRECTIONS[direction], lang) if direction else "from highest to lowest; neither is better"
        return f"{row['rank']} of {row['n_regions']} {kind}s ({level}); {order}"
    order = pick(DIRECTIONS[direction], lang) if direction else "从高到低排列，无好坏之分"
    return f"同类（{kind}·{level}）{row['n_regions']} 个主体中第 {row['rank']} 位（{order}）"


@dataclass(frozen=True)
class DerivedRate:
    """A size-free rate made from two stated numbers: ``numerator`` ÷ ``denominator`` × ``factor``."""

    code: str
    numerator: str
    denominator: str
    factor: float
    label_zh: str
    label_en: str
    unit: str


# Counts compare across subjects of different size only as rates; these are the ones the data can give.
DERIVED_RATES = (
    DerivedRate("students_per_school", "full_time_students", "schools", 1, "校均在校生", "Students per school", "人/校"),
    DerivedRate("teachers_per_school", "full_time_teachers", "schools", 1, "校均专任教师", "Full-time teachers per school",
                "人/校"),
    DerivedRate("specialties_per_school", "specialties", "schools", 1, "校均专业数", "Specialties per school", "个/校"),
    DerivedRate("graduates_per_100_students", "graduates", "full_time_students", 100, "每百名在校生的毕业生数",
                "Graduates per 100 students", "人/百生"),
    DerivedRate("certificates_per_100_students", "vocational_certificates", "full_time_students", 100,
                "每百名在校生获职业技能等级证书人数", "Skill certificates per 100 students", "人/百生"),
    DerivedRate("training_per_student", "training_participants", "full_time_students", 1,
                "每名在校生对应的社会培训人次", "Social training participants per student", "人次/生"),
)


def derived_rates(region: str | Sequence[str] | None = None, *, lang: str = "zh", db=None) -> pl.DataFrame:
    """Per-school and per-student rates derived from two numbers the same report states for the same year
    (``DERIVED_RATES``), with ``how`` saying the sum ('288,309 人 ÷ 34 所 = 8,480 人/校'). A rate made from a
    suspect number is suspect too (``badge``, ``flag_text``). Ranks (``rank`` / ``n_regions``) compare subjects of
    one kind and level, clean rates only."""
    from vqr_analysis.core.numbers import format_number, format_value

    check_lang(lang)
    codes = sorted({c for d in DERIVED_RATES for c in (d.numerator, d.denominator)})
    with _con(db) as con:
        known = set(indicators(db=con).get_column("code").to_list())
        vals = values(region, [c for c in codes if c in known], lang=lang, db=con)
    rows = []
    by_key = {(r["region"], r["indicator_code"], r["year"]): r for r in vals.iter_rows(named=True)
              if r["value"] is not None}
    for (reg, code, year), num in by_key.items():
        for d in DERIVED_RATES:
            den = by_key.get((reg, d.denominator, year))
            if d.numerator != code or den is None or not den["value"]:
                continue
            value = num["value"] / den["value"] * d.factor
            times = f" × {format_number(d.factor)}" if d.factor != 1 else ""
            how = (f"{format_value(num['value'], num['unit'], lang=lang)} ÷ "
                   f"{format_value(den['value'], den['unit'], lang=lang)}{times} = {format_number(value, decimals=1)}")
            suspect = [r for r in (num, den) if r["status"] == "suspect"]
            rows.append({
                "region": reg, "region_zh": num["region_zh"], "region_en": num["region_en"], "level": num["level"],
                "subject_kind": num["subject_kind"], "indicator_code": d.code, "numerator_code": d.numerator,
                "label": d.label_en if lang == "en" else d.label_zh, "label_zh": d.label_zh, "label_en": d.label_en,
                "year": year, "value": value, "unit": d.unit, "how": how,
                "status": "suspect" if suspect else "reported",
                "badge": pick(SUSPECT, lang) if suspect else None,
                "flag_text": " ".join(r["flag_text"] or "" for r in suspect) or None,
                "obs_ids": [num["obs_id"], den["obs_id"]],
            })
    schema = {"region": pl.String, "region_zh": pl.String, "region_en": pl.String, "level": pl.String,
              "subject_kind": pl.String, "indicator_code": pl.String, "numerator_code": pl.String,
              "label": pl.String, "label_zh": pl.String, "label_en": pl.String, "year": pl.Int32,
              "value": pl.Float64, "unit": pl.String, "how": pl.String, "status": pl.String, "badge": pl.String,
              "flag_text": pl.String, "obs_ids": pl.List(pl.Int64)}
    frame = pl.DataFrame(rows, schema=schema)
    latest = frame.filter(pl.col("year") == pl.col("year").max().over(["region", "indicator_code"]))
    ranked = rank_comparable(latest.with_columns(pl.lit("per_student").alias("kind"),
                                                 pl.lit("neither").alias("direction")))
    return ranked.drop("clean", "size_free", "kind", "direction").sort("region", "indicator_code")


def quality_flags(region: str | None = None, *, db=None) -> pl.DataFrame:
    """Quality flags with the flagged value's region, code, year, raw string, quote and line."""
    with _con(db) as con:
        if region:
            region = _regions(SqlSource(con), [region])[0]
        return con.sql(
            """
            SELECT r.region, o.report_id, o.entity, o.indicator_code, i.label_zh AS label, i.label_en AS label_en,
                   o.year, o.value, o.unit, o.raw, o.raw_unit, o.line, o.quote, o.status, o.method,
                   f.rule, f.severity, f.message, f.obs_id, f.related_obs_id, f.message_zh, f.message_en
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
    # A suspect or corrected cell keeps its badge and reason: ``cell_badges`` lists them per region column, and
    # ``flags`` says them in words ('塔城：…'), so no surface shows the number bare.
    marked = frame.filter(pl.col("badge").is_not_null())
    meta = frame.group_by("indicator_code", maintain_order=True).agg(
        pl.col("label").first(), pl.col("unit").first(),
        pl.col("year").drop_nulls().unique().sort().cast(pl.String).str.join(", ").alias("years"),
        pl.col("comparability").first(),
    )
    badges = marked.group_by("indicator_code", maintain_order=True).agg(
        pl.struct(pl.col(name).alias("column"), "badge", pl.col("flag_text").alias("reason")).alias("cell_badges"),
        pl.format("{}（{}）：{}" if lang == "zh" else "{} ({}): {}", pl.col(name), "badge",
                  pl.col("flag_text").fill_null("")).str.join(" " if lang == "en" else "；").alias("flags"),
    )
    out = meta.join(wide, on="indicator_code", how="left", maintain_order="left") \
        .join(badges, on="indicator_code", how="left", maintain_order="left")
    return out.select("indicator_code", "label", "unit", *columns, "years", "comparability", "flags", "cell_badges")

