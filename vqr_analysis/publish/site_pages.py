"""The site's data pages: database → HTML fragments (Jinja2, autoescaped) and the CSV files behind them.

Every page of the dashboard that is not a notebook is a fragment made here: the home page's regions at a
glance, the comparison dashboard, the indicator explorer, one sources page per report, the data-quality page,
the report list of the about page, and the "values and sources" section appended to each region page. The
page shell (Quarto's or the embedded renderer's) wraps them; see :mod:`vqr_analysis.site`.

Three promises hold for every fragment:

- a value is a button carrying its ``obs_id``; the page's provenance block (JSON in a ``<script>``, escaped so
  report text cannot close it) holds the quote, report, file and line that the popover shows;
- every table and chart links a CSV of exactly the rows it shows, with the codebook's label, unit and
  definition of each indicator, written under ``data/`` at build time (no network, works from file://);
- where a view mixes education levels or data years, a badge says so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import altair as alt
import duckdb
import jinja2
import polars as pl

from vqr_analysis.analysis.charts import FONT, styled
from vqr_analysis.analysis.spreadsheet import neutralise_formulas
from vqr_analysis.analysis.api import compare, indicators, profile, quality_flags, reports, snapshot, values
from vqr_analysis.sources.codebook import ANNEX_TABLES
from vqr_analysis.core.errors import VqrError
from vqr_analysis.quality.coverage import load_ledger_rules
from vqr_analysis.core.numbers import format_value as _format_value
from vqr_analysis.core.vocab import COMPARABILITY, CORRECTED, MISSING, RULE_TEXT, SUSPECT

__all__ = [
    "PageFragment", "SiteData", "load_site_data", "data_fragments", "region_values_fragment", "reading_fragment",
    "chart_figure",
    "json_for_script", "format_value", "csv_with_codebook", "template_env", "CHART_FONT",
]

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

# Chinese glyphs in chart text: the charts' font list names the CJK fonts first so no browser shows boxes.
CHART_FONT = FONT

# Columns each provenance record carries (shown by the popover, in this order).
_PROVENANCE_FIELDS = ["label", "value_text", "region", "report_id", "source_file", "line", "quote", "raw",
                      "status", "method", "year", "pick_reason", "flags", "href"]

def _rule_text(rule: str) -> tuple[str, str]:
    return RULE_TEXT.get(rule, (rule, rule))


COMPARABILITY_TEXT = COMPARABILITY


def _badge_of(row: dict | None) -> dict | None:
    """存疑 / 已更正 for a value row, with the reason in words: the quality flags' message (or the extraction's
    note) for a suspect value, the correction's note for a corrected one; None for a clean value."""
    if not row:
        return None
    reason = row.get("flag_text") or row.get("flags") or row.get("flag") or ""
    if row.get("status") == "suspect":
        return {"text": f"{SUSPECT[0]} {SUSPECT[1]}", "css": "w", "reason": reason}
    if row.get("method") == "correction":
        return {"text": f"{CORRECTED[0]} {CORRECTED[1]}", "css": "ok",
                "reason": reason.removeprefix("corrected: ")}
    return None


@dataclass
class PageFragment:
    """HTML for one page's generated part, the page's provenance records and the CSV files it links."""

    name: str
    html: str
    csv_files: dict[str, bytes] = field(default_factory=dict)


@dataclass
class SiteData:
    """Everything the data pages read, fetched once from the database."""

    snapshot: str
    reports: pl.DataFrame
    codebook: pl.DataFrame
    values: pl.DataFrame          # preferred values, own subject and entities
    observations: pl.DataFrame    # every extracted statement
    flags: pl.DataFrame
    unmapped: pl.DataFrame
    compare: pl.DataFrame         # every indicator with a value, all regions, latest year
    profiles: dict[str, pl.DataFrame]
    ledger: pl.DataFrame = field(default_factory=pl.DataFrame)  # number_ledger: every printed number's class
    lines: pl.DataFrame = field(default_factory=pl.DataFrame)   # report_lines: the text the reading view shows


def load_site_data(con: duckdb.DuckDBPyConnection) -> SiteData:
    """Read the database once for every data page."""
    reps = reports(db=con)
    vals = values(entities=True, db=con)
    codes = sorted(vals.filter(pl.col("entity").is_null()).get_column("indicator_code").unique().to_list())
    observations = con.sql(
        """SELECT o.obs_id, o.report_id, r.region, r.region_zh, r.file AS source_file, o.line, o.entity,
                  o.indicator_code, i.label_zh AS label_zh, i.label_en AS label_en, o.label AS printed_label,
                  o.year, o.value, o.unit, o.raw, o.raw_unit, o.status, o.method, o.qualifier, o.flag,
                  o.source_table, o.quote,
                  (SELECT string_agg(f.message_zh, ' ' ORDER BY f.rule, f.message_zh) FROM quality_flags f
                   WHERE f.obs_id = o.obs_id) AS flag_text
           FROM observations o JOIN reports r ON r.report_id = o.report_id JOIN indicators i ON i.code = o.indicator_code
           ORDER BY o.report_id, o.line, o.obs_id"""
    ).pl()
    unmapped = con.sql("SELECT * FROM unmapped_rows ORDER BY report_id, line").pl()
    return SiteData(
        snapshot=snapshot(db=con), reports=reps, codebook=indicators(db=con), values=vals,
        observations=observations, flags=quality_flags(db=con), unmapped=unmapped,
        compare=compare(codes, db=con) if codes else pl.DataFrame(),
        profiles={region: profile(region, db=con) for region in reps.get_column("region")},
        ledger=con.sql('SELECT * FROM number_ledger ORDER BY report_id, line, position').pl(),
        lines=con.sql("SELECT * FROM report_lines ORDER BY report_id, line").pl(),
    )


# ---------------------------------------------------------------------------------------------- helpers


def json_for_script(obj: Any) -> str:
    """JSON safe inside an HTML ``<script>`` element: no ``</script>``, ``<!--`` or line separators survive."""
    text = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def format_value(value: float | None, unit: str | None = None) -> str:
    """A stored value as a reader sees it (core.numbers: separators, decimals by kind, '16.9:1'); None → '—'."""
    return _format_value(value, unit, missing="—")


def _provenance(rows: Iterable[dict]) -> dict[str, dict]:
    """obs_id → the popover's record, for rows that have a source statement."""
    out: dict[str, dict] = {}
    for row in rows:
        if row.get("obs_id") is None:
            continue
        record = dict(row)
        record["value_text"] = format_value(row.get("value"), row.get("unit"))
        record["label"] = row.get("label_zh") or row.get("label")
        record["flags"] = row.get("flag_text") or row.get("flags") or row.get("flag")
        record["region"] = row.get("region_zh") or row.get("region")
        if record.get("pick_reason") == "only statement":
            record["pick_reason"] = None  # the common case says nothing; keeps pages light
        out[str(row["obs_id"])] = {k: record.get(k) for k in _PROVENANCE_FIELDS if record.get(k) is not None}
    return out


def csv_with_codebook(frame: pl.DataFrame, codebook: pl.DataFrame) -> bytes:
    """CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese) of ``frame`` plus the codebook metadata
    of each row's indicator: Chinese and English label, unit and definition."""
    if "indicator_code" in frame.columns and codebook.height:
        meta = codebook.select(
            pl.col("code").alias("indicator_code"), pl.col("name_zh").alias("codebook_label_zh"),
            pl.col("name_en").alias("codebook_label_en"), pl.col("unit").alias("codebook_unit"),
            pl.col("description_en").alias("codebook_definition"))
        frame = frame.join(meta, on="indicator_code", how="left", maintain_order="left")
    frame = frame.select([c for c in frame.columns if frame.schema[c] != pl.Null] or frame.columns)
    flat = frame.with_columns([pl.col(c).cast(pl.String) for c, t in frame.schema.items()
                               if isinstance(t, (pl.List, pl.Struct))])
    return neutralise_formulas(flat).write_csv(include_bom=True).encode("utf-8")


def chart_figure(spec: dict, chart_id: str, *, csv_href: str | None, caption: str = "",
                 badges: Iterable[str] = ()) -> str:
    """The markup of one chart: a target div, its Vega-Lite spec as script-safe JSON, and its CSV link.

    The site script draws it with the vendored vega-embed (assets/vega-bundle.js); nothing is fetched.
    """
    return _env().get_template("site_macros.html.j2").module.chart(
        spec_json=json_for_script(spec), chart_id=chart_id, csv_href=csv_href, caption=caption, badges=list(badges))


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return template_env()


def template_env() -> jinja2.Environment:
    """The Jinja2 environment of the site templates: autoescape on for every template."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    env.filters["value"] = lambda row: format_value(row.get("value"), row.get("unit"))
    env.filters["fmt"] = format_value
    env.filters["prov_json"] = lambda rows: json_for_script(_provenance(rows))
    env.filters["badge"] = _badge_of
    env.globals["missing_text"] = f"{MISSING[0]} {MISSING[1]}"
    env.filters["comparability_zh"] = lambda note: COMPARABILITY_TEXT.get(note, (note, note))[0]
    env.filters["comparability_en"] = lambda note: COMPARABILITY_TEXT.get(note, (note, note))[1]
    env.globals["annex_tables"] = ANNEX_TABLES
    env.globals["rule_text"] = _rule_text
    return env


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-") or "x"


def _table_name(table: str | None) -> tuple[str, str]:
    if table in ANNEX_TABLES:
        _, zh, en = ANNEX_TABLES[table]
        return zh, en
    return ("正文中的主要数字", "Headline figures in the text") if table == "basic" else (table or "", table or "")


def _sort_by_table(frame: pl.DataFrame, column: str = "table") -> pl.DataFrame:
    order = {key: i for i, key in enumerate(["basic", *ANNEX_TABLES])}  # headline figures first
    return frame.with_columns(pl.col(column).replace_strict(order, default=len(order), return_dtype=pl.Int32)
                              .alias("_table_order")).sort(["_table_order", "indicator_code"]).drop("_table_order")


# ------------------------------------------------------------------------------------------------ charts


def _coverage_chart(data: SiteData) -> tuple[dict, pl.DataFrame]:
    """How many indicators each region reports, by annex table (regions at a glance)."""
    own = data.values.filter(pl.col("entity").is_null() & pl.col("value").is_not_null())
    counts = (own.group_by(["region", "region_zh", "level", "data_year", "table"])
              .agg(pl.col("indicator_code").n_unique().alias("indicators_reported"))
              .with_columns(pl.col("table").map_elements(lambda t: _table_name(t)[0], return_dtype=pl.String)
                            .alias("table_zh"))
              .sort(["region", "table"]))
    chart = alt.Chart(counts).mark_bar().encode(
        y=alt.Y("region_zh:N", title="地区 / Region", sort=data.reports.get_column("region_zh").to_list()),
        x=alt.X("sum(indicators_reported):Q", title="已报告指标数 / Indicators reported"),
        color=alt.Color("table_zh:N", title="附表 / Annex table"),
        tooltip=[alt.Tooltip("region_zh:N", title="地区"), alt.Tooltip("table_zh:N", title="附表"),
                 alt.Tooltip("indicators_reported:Q", title="指标数"), alt.Tooltip("level:N", title="层次 level"),
                 alt.Tooltip("data_year:Q", title="数据年份 year")],
    ).properties(width="container", height=max(120, 36 * data.reports.height))
    return _finish(chart), counts


def _compare_chart(frame: pl.DataFrame) -> dict:
    """One bar chart across regions, with a drop-down to pick the indicator (one chart, not one per code)."""
    present = frame.filter(pl.col("value").is_not_null()).with_columns(
        pl.concat_str([pl.col("label"), pl.lit("（"), pl.col("unit").replace({"ratio": "N:1"}), pl.lit("）")])
        .alias("indicator"))
    options = present.get_column("indicator").unique(maintain_order=True).to_list()
    pick = alt.param(name="indicator_pick", value=options[0] if options else None,
                     bind=alt.binding_select(options=options, name="指标 / Indicator: "))
    present = present.with_columns(
        pl.struct("value", "unit").map_elements(lambda r: format_value(r["value"], r["unit"]), return_dtype=pl.String)
        .alias("value_text"), pl.col("badge").fill_null("").alias("badge"), pl.col("flag_text").fill_null(""))
    chart = alt.Chart(present.select(
        "indicator", "indicator_code", "region_zh", "level", "year", "value", "value_text", "unit", "obs_id",
        "comparability", "status", "badge", "flag_text",
    )).mark_bar().encode(
        x=alt.X("region_zh:N", title="地区 / Region", sort=None),
        y=alt.Y("value:Q", title="数值 / Value"),
        color=alt.Color("level:N", title="层次 / Level"),
        # A suspect value is drawn pale, and its tooltip carries the badge and the reason.
        opacity=alt.condition("datum.status === 'suspect'", alt.value(0.35), alt.value(1.0)),
        tooltip=[alt.Tooltip("region_zh:N", title="地区"), alt.Tooltip("value_text:N", title="数值"),
                 alt.Tooltip("badge:N", title="标记"), alt.Tooltip("flag_text:N", title="原因"),
                 alt.Tooltip("year:Q", title="年份 year"),
                 alt.Tooltip("level:N", title="层次 level"), alt.Tooltip("comparability:N", title="可比性")],
    ).add_params(pick).transform_filter(alt.datum.indicator == pick).properties(width="container", height=260)
    return _finish(chart)


def _finish(chart: alt.Chart) -> dict:
    spec = styled(chart).to_dict()  # the same house style as the library's charts
    spec.pop("$schema", None)  # a URL the page never needs; keeps "no network" obvious to a reader
    return spec


# --------------------------------------------------------------------------------------------- fragments


def _render(template: str, **context) -> str:
    return _env().get_template(template).render(**context)


def data_fragments(data: SiteData) -> list[PageFragment]:
    """The generated part of every data page. ``root`` links are resolved by the shell, so fragments use
    ``{root}``-free links relative to the page they sit on (each fragment knows its page's depth)."""
    return [_home(data), _compare(data), _indicators(data), _quality(data), _sources_index(data),
            *[_sources(data, report) for report in data.reports.iter_rows(named=True)],
            *[reading_fragment(data, report) for report in data.reports.iter_rows(named=True)], _about(data)]


def _home(data: SiteData) -> PageFragment:
    spec, counts = _coverage_chart(data)
    own = data.values.filter(pl.col("entity").is_null())
    per_region = {r: own.filter(pl.col("region") == r) for r in data.reports.get_column("region")}
    cards = []
    for report in data.reports.iter_rows(named=True):
        mine = per_region[report["region"]]
        cards.append({
            **report,
            "n_values": mine.filter(pl.col("value").is_not_null()).height,
            "n_missing": mine.filter(pl.col("value").is_null()).height,
            "n_flags": data.flags.filter(pl.col("region") == report["region"]).height,
            "n_entities": data.values.filter(pl.col("region") == report["region"])
                                     .get_column("entity").drop_nulls().n_unique(),
            "n_statements": data.observations.filter(pl.col("report_id") == report["report_id"]).height,
        })
    mixed = counts.get_column("level").n_unique() > 1, counts.get_column("data_year").n_unique() > 1
    badges = [note for note, on in zip(["mixed levels (higher vs secondary)", "mixed data years"], mixed) if on]
    chart = chart_figure(spec, "home-coverage", csv_href="data/home-coverage.csv",
                         caption="各地区已报告的指标数（按附表） / Indicators each region reports, by annex table",
                         badges=[_badge_text(b) for b in badges])
    html = _render("site_home.html.j2", cards=cards, snapshot=data.snapshot, chart=chart,
                   n_observations=data.observations.height, n_codes=data.codebook.height)
    return PageFragment("home", html, {"home-coverage.csv": csv_with_codebook(counts, data.codebook)})


def _badge_text(note: str) -> str:
    zh, en = COMPARABILITY_TEXT.get(note, (note, note))
    return f"{zh} / {en}"


def _compare(data: SiteData) -> PageFragment:
    frame = data.compare
    if frame.height:
        shared = frame.filter(pl.col("value").is_not_null()).group_by("indicator_code").agg(pl.len().alias("n"))
        frame = frame.join(shared.filter(pl.col("n") >= 2).select("indicator_code"), on="indicator_code",
                           maintain_order="left")
    rows = _matrix(frame, data)
    shown = frame.select("indicator_code", "label", "label_en", "unit", "region", "region_zh", "level", "year",
                         "value", "status", "badge", "flag_text", "raw", "line", "quote", "source_file",
                         "comparability") \
        if frame.height else pl.DataFrame()
    chart = chart_figure(_compare_chart(frame), "compare-chart", csv_href="data/compare.csv",
                         caption="选择指标，比较各地区 / Pick an indicator to compare regions",
                         badges=["可比性见各行标记 / comparability is marked per row"]) if frame.height else ""
    marked = frame.filter(pl.col("badge").is_not_null()).to_dicts() if frame.height else []
    html = _render("site_compare.html.j2", rows=rows, regions=data.reports.to_dicts(), chart=chart,
                   prov=frame.to_dicts() if frame.height else [], marked=marked)
    csv = csv_with_codebook(shown, data.codebook) if frame.height else b""
    return PageFragment("compare", html, {"compare.csv": csv} if frame.height else {})


def _matrix(frame: pl.DataFrame, data: SiteData) -> list[dict]:
    """Rows of indicator × region cells, grouped in annex-table order."""
    if not frame.height:
        return []
    cells = {(r["indicator_code"], r["region"]): r for r in frame.iter_rows(named=True)}
    meta = _sort_by_table(data.codebook.rename({"code": "indicator_code"})
                          .filter(pl.col("indicator_code").is_in(frame.get_column("indicator_code").unique().implode())))
    notes = dict(frame.select("indicator_code", "comparability").unique().iter_rows())
    regions = data.reports.get_column("region").to_list()
    return [{**m, "table_zh": _table_name(m["table"])[0], "table_en": _table_name(m["table"])[1],
             "comparability": notes.get(m["indicator_code"], "comparable"),
             "cells": [cells.get((m["indicator_code"], region)) for region in regions]}
            for m in meta.iter_rows(named=True)]


def _indicators(data: SiteData) -> PageFragment:
    codes = data.codebook.get_column("code").to_list()
    own = data.values.filter(pl.col("entity").is_null())
    latest = own.filter(pl.col("year") == pl.col("year").max().over(["region", "indicator_code"]))
    grid = data.compare if data.compare.height else pl.DataFrame()
    # The explorer lists every code, reported or not; compare() covers the reported ones.
    rows = _matrix(grid, data) if grid.height else []
    reported = {r["indicator_code"] for r in rows}
    n_regions = data.reports.height
    for m in _sort_by_table(data.codebook.rename({"code": "indicator_code"})).iter_rows(named=True):
        if m["indicator_code"] not in reported:
            rows.append({**m, "table_zh": _table_name(m["table"])[0], "table_en": _table_name(m["table"])[1],
                         "comparability": "comparable", "cells": [None] * n_regions})
    order = {c: i for i, c in enumerate(_sort_by_table(data.codebook.rename({"code": "indicator_code"}))
                                        .get_column("indicator_code"))}
    rows.sort(key=lambda r: order[r["indicator_code"]])
    shown = data.codebook.rename({"code": "indicator_code"}).join(
        latest.select("indicator_code", "region", "year", "value", "status", "raw", "line", "quote"),
        on="indicator_code", how="left").sort(["indicator_code", "region"], nulls_last=True)
    html = _render("site_indicators.html.j2", rows=rows, regions=data.reports.to_dicts(), n_codes=len(codes),
                   prov=latest.to_dicts())
    return PageFragment("indicators", html, {"indicators.csv": csv_with_codebook(shown, data.codebook)})


def _quality(data: SiteData) -> PageFragment:
    flags = data.flags.join(data.reports.select("region", "region_zh", pl.col("file").alias("source_file")),
                            on="region", how="left")
    by_rule = flags.group_by("rule").agg(pl.len().alias("n")).sort("rule").to_dicts()
    missing = data.values.filter(pl.col("entity").is_null() & pl.col("value").is_null())
    shown = flags.select("region", "report_id", "indicator_code", "label", "year", "value", "unit", "raw", "line",
                         "quote", "rule", "severity", "message")
    html = _render("site_quality.html.j2", flags=flags.to_dicts(), by_rule=by_rule, missing=missing.to_dicts(),
                   unmapped=data.unmapped.join(data.reports.select("report_id", "region_zh"),
                                               on="report_id", how="left").to_dicts(),
                   prov=flags.to_dicts() + missing.to_dicts())
    files = {"quality-flags.csv": csv_with_codebook(shown, data.codebook),
             "missing-values.csv": csv_with_codebook(
                 missing.select("region", "report_id", "indicator_code", "label", "year", "status", "raw", "line",
                                "quote"), data.codebook)}
    return PageFragment("quality", html, files)


def _sources_index(data: SiteData) -> PageFragment:
    counts = dict(data.observations.group_by("report_id").agg(pl.len()).iter_rows())
    reps = [{**r, "n_observations": counts.get(r["report_id"], 0)} for r in data.reports.iter_rows(named=True)]
    return PageFragment("sources", _render("site_sources_index.html.j2", reports=reps))


def _sources(data: SiteData, report: dict) -> PageFragment:
    obs = data.observations.filter(pl.col("report_id") == report["report_id"])
    unmapped = data.unmapped.filter(pl.col("report_id") == report["report_id"])
    name = f"sources-{_slug(report['region'])}"
    n_values = data.values.filter((pl.col("report_id") == report["report_id"]) & pl.col("entity").is_null()
                                  & pl.col("value").is_not_null()).height
    html = _render("site_sources.html.j2", report=report, obs=obs.to_dicts(), unmapped=unmapped.to_dicts(),
                   n_values=n_values,
                   csv_href=f"../data/{name}.csv", prov=obs.to_dicts())
    return PageFragment(name, html, {f"{name}.csv": csv_with_codebook(obs, data.codebook)})


def _about(data: SiteData) -> PageFragment:
    return PageFragment("about", _render("site_about.html.j2", reports=data.reports.to_dicts(),
                                         snapshot=data.snapshot, n_codes=data.codebook.height))


def region_values_fragment(data: SiteData, region: str) -> PageFragment:
    """The section under each region notebook: every value the region reports, its rank among the regions
    reporting it, and a click to the source line. Page sits at regions/<slug>.html."""
    frame = _sort_by_table(data.profiles[region])
    report = data.reports.filter(pl.col("region") == region).row(0, named=True)
    name = f"region-{_slug(region)}"
    shown = frame.select("indicator_code", "label", "label_en", "table", "year", "value", "unit", "status",
                         "badge", "flag_text", "kind", "direction", "rank", "n_regions", "rank_note", "median_others",
                         "comparability", "raw", "line", "quote", "source_file")
    html = _render("site_region_values.html.j2", report=report, rows=frame.to_dicts(),
                   csv_href=f"../data/{name}.csv", prov=frame.to_dicts(),
                   table_name=lambda t: _table_name(t))
    return PageFragment(name, html, {f"{name}.csv": csv_with_codebook(shown, data.codebook)})


# ------------------------------------------------------------------------------------------- reading view

_CLASS_TEXT = {
    "extracted": ("已提取", "extracted: in the database, click for its source record"),
    "context": ("背景数字", "context: a date, number or reference, not a quantity"),
    "unread": ("未读取", "unread: a number the database does not hold"),
}


def _reason_legend() -> dict[str, tuple[str, str]]:
    """reason → (zh, en) from data/ledger_rules.toml; a reason the file does not describe shows its name."""
    try:
        return {name: (r.zh, r.en) for name, r in load_ledger_rules().reasons.items()}
    except VqrError:
        return {}


def _line_pieces(text: str, numbers: list[dict]) -> list[tuple[str, dict | None]]:
    """The line cut into (text, None) and (number as printed, its ledger row), in order."""
    pieces, at = [], 0
    for row in numbers:
        start = row["position"]
        if start < at or text[start:start + len(row["raw"])] != row["raw"]:
            continue  # a ledger row that does not fit the text is left unmarked, never misplaced
        if start > at:
            pieces.append((text[at:start], None))
        pieces.append((row["raw"], row))
        at = start + len(row["raw"])
    if at < len(text):
        pieces.append((text[at:], None))
    return pieces


def reading_fragment(data: SiteData, report: dict) -> PageFragment:
    """The report's text with every printed number marked by its ledger class. Page sits at
    reading/<slug>.html; an extracted number opens the same record as on the sources page (and links there)."""
    region = report["region"]
    ledger = data.ledger.filter(pl.col("report_id") == report["report_id"]) if data.ledger.height else data.ledger
    text = data.lines.filter(pl.col("report_id") == report["report_id"]) if data.lines.height else data.lines
    obs = data.observations.filter(pl.col("report_id") == report["report_id"])
    status = dict(obs.select("obs_id", "status").iter_rows())
    legend = _reason_legend()
    by_line: dict[int, list[dict]] = {}
    for row in ledger.iter_rows(named=True):
        ids = [int(i) for i in (row["obs_ids"] or "").split()]
        row["obs_id"] = ids[0] if ids else None
        row["suspect"] = any(status.get(i) == "suspect" for i in ids)
        zh, en = legend.get(row["reason"], (row["reason"], row["reason"])) if row["reason"] else _CLASS_TEXT[row["class"]]
        row["title"] = f"{zh} / {en}"
        by_line.setdefault(row["line"], []).append(row)
    lines = [{"number": r["line"], "pieces": _line_pieces(r["text"], by_line.get(r["line"], []))}
             for r in text.iter_rows(named=True)]
    counts = {c: ledger.filter(pl.col("class") == c).height for c in _CLASS_TEXT} if ledger.height else \
        dict.fromkeys(_CLASS_TEXT, 0)
    total = sum(counts.values())
    # Ties broken by name: group_by's order varies from run to run, and a rebuild must be byte-identical.
    reasons = (ledger.filter(pl.col("class") == "context").group_by("reason").agg(pl.len().alias("n"))
               .sort(["n", "reason"], descending=[True, False]).iter_rows() if ledger.height else [])
    prov = [{**o, "href": f"../sources/{region}.html#obs-{o['obs_id']}"} for o in obs.to_dicts()]
    html = _render("site_reading.html.j2", report=report, lines=lines, counts=counts, total=total,
                   share=counts["unread"] / total if total else 0.0, class_text=_CLASS_TEXT,
                   reasons=[(r, *legend.get(r, (r, r)), n) for r, n in reasons], prov=prov)
    return PageFragment(f"reading-{_slug(region)}", html)
