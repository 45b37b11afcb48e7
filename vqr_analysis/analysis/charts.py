"""Altair chart builders for the common views, one theme, Chinese labels with English alternatives.

Every builder takes a frame from the research API (``values()`` or ``compare()``) and returns an Altair chart:

    import vqr_analysis as vqr
    vqr.charts.indicator_across_regions(vqr.compare("student_teacher_ratio"))

Conventions shared by all builders:

* ``lang="zh"|"en"`` picks the labels (indicator, region, level, axis titles, notes).
* A missing value (status ``missing``/``absent``, value NULL) is drawn as a hollow grey mark with the text
  "未报告 / not reported" — never as a zero-length bar.
* The tooltip carries the value with its unit, year, education level, status, the source quote and
  ``file:line``.
* When the plotted values mix education levels (higher vs secondary vocational) or data years, the chart's
  subtitle says so.
* Data is embedded inline in the spec; no chart refers to an outside URL. Every output (``to_spec``, the
  notebook renderer, SVG/PNG) carries only the fields the chart encodes or shows in its tooltip, plus the
  indicator code and number that the site's CSV of the chart needs.

Importing this module changes nothing in Altair. Each chart a builder returns carries the house style in its
own ``config`` (fonts with CJK first, sizes, colours), and the first chart made switches Altair's renderer to
``vqr`` (Vega-Lite JSON for pages that ship the Vega runtime, plus a static SVG drawn by vl-convert for
JupyterLab and nbconvert) unless the user has chosen a renderer of their own.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Callable, Sequence

import altair as alt
import polars as pl

from vqr_analysis.core.errors import LANGS, VqrError, check_lang

__all__ = [
    "indicator_across_regions", "region_vs_others", "two_year_change", "teacher_structure",
    "graduate_destinations", "satisfaction_panel", "to_svg", "to_png", "to_spec", "comparability_note",
    "format_number", "value_text", "styled", "chart_title", "VEGALITE_MIMETYPE",
    "HEADLINE_CODES", "TEACHER_SHARE_CODES", "TEACHER_SUBJECT_CODES", "TEACHER_CODES", "DESTINATION_CODES",
    "SATISFACTION_CODES",
    "FONT", "LANGS",
]

# CJK first: the labels are Chinese; vl-convert and browsers take the first family they have.
FONT = "Noto Sans CJK SC, Noto Sans SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, sans-serif"

# Indicator groups for the thematic views (codes from data/indicators.csv).
HEADLINE_CODES = [
    "full_time_students", "enrolment", "graduates", "placement_rate", "student_teacher_ratio",
    "dual_qualified_teacher_share", "per_student_appropriation", "equipment_value_per_student",
]
TEACHER_SHARE_CODES = [
    "dual_qualified_teacher_share", "senior_dual_qualified_teacher_share", "senior_title_teacher_share",
    "masters_teacher_share",
]
TEACHER_SUBJECT_CODES = ["ideological_teachers", "pe_teachers", "arts_teachers"]
TEACHER_CODES = ["student_teacher_ratio", *TEACHER_SHARE_CODES, "full_time_teachers", *TEACHER_SUBJECT_CODES]
DESTINATION_CODES = ["employment_primary", "employment_secondary", "employment_tertiary"]
SATISFACTION_CODES = [
    "sat_students", "sat_students_classroom", "sat_students_extracurricular", "sat_students_ideological",
    "sat_students_general_courses", "sat_students_specialty_courses", "sat_graduates", "sat_graduates_new",
    "sat_graduates_3yr", "sat_staff", "sat_employers", "sat_parents",
]

_LEVEL_COLOURS = {"higher": "#1f5f8b", "secondary": "#d9822b"}
_MISSING_GREY = "#9aa0a6"
_ACCENT = "#c0392b"
# Parts of a whole (sectors, teacher subjects): distinct from the level colours, the remainder in light grey.
_PART_COLOURS = ["#4c9a6a", "#c9a227", "#8e5ea2", "#5b8fd1"]
_REMAINDER_GREY = "#cfcfcf"
_QUOTE_CHARS = 160
_HIGHLIGHT_MARK = "▶ "  # prefixed to the region a profile is about, in every axis that lists regions
# Stored units are the reports' Chinese units; English labels spell them out (counts need no unit word).
_UNITS_EN = {
    "人": "", "个": "", "门": "", "项": "", "本": "", "所": "", "人次": "", "万元": "×10k yuan", "元": "yuan",
    "元/生": "yuan/student", "个/生": "/student", "学时": "hours", "课时": "periods", "人日": "person-days",
    "台": "", "册": "volumes", "册/生": "volumes/student", "平方米": "m²", "平方米/生": "m²/student",
    "元/生/年": "yuan/student/year",
}

_TEXT = {
    "zh": {
        "not_reported": "未报告", "suspect_mark": "（存疑）", "region": "地区/主体", "indicator": "指标", "value": "数值", "year": "年份",
        "level": "学段", "status": "状态", "source": "来源", "quote": "原文", "higher": "高职", "secondary": "中职",
        "mixed_levels": "⚠ 混合学段（高职与中职）：数值不宜直接比较",
        "mixed_years": "⚠ 数据年份不同：{years}",
        "across_title": "{label}：各地区比较",
        "relative_axis": "相对位置（该指标最高值 = 1）",
        "vs_title": "{region}与其他地区",
        "vs_note": "每行一个指标；彩色圆点为{region}，灰色为其他地区",
        "change_axis": "变化率（%）", "change_title": "{region}：两年变化（{y0}→{y1}）",
        "change_note": "显示变化最大的 {n} 个指标（共 {total} 个有两年数据）",
        "no_base": "基数为零，无法计算", "change": "变化率", "change_head": "两年变化",
        "no_two_years": "报告没有给出两个学年的数值",
        "teacher_title": "师资结构", "teacher_shares": "教师队伍结构比例（%）",
        "teacher_ratio": "生师比", "teacher_subjects": "专任教师中思政、体育、美育教师构成",
        "other_teachers": "其他专任教师", "count": "人数", "share": "占比",
        "dest_title": "毕业生就业的三次产业分布", "sector": "产业",
        "sat_title": "满意度", "empty": "没有可显示的数据",
    },
    "en": {
        "not_reported": "not reported", "suspect_mark": " (suspect)", "region": "Region / subject", "indicator": "Indicator", "value": "Value",
        "year": "Year", "level": "Level", "status": "Status", "source": "Source", "quote": "Quote",
        "higher": "Higher voc.", "secondary": "Secondary voc.",
        "mixed_levels": "⚠ Mixed levels (higher vs secondary vocational): not directly comparable",
        "mixed_years": "⚠ Different data years: {years}",
        "across_title": "{label}: across regions",
        "relative_axis": "Relative position (highest value = 1)",
        "vs_title": "{region} against the other regions",
        "vs_note": "One row per indicator; coloured dot = {region}, grey = other regions",
        "change_axis": "Change (%)", "change_title": "{region}: change {y0}→{y1}",
        "change_note": "The {n} largest changes of {total} indicators reported for both years",
        "no_base": "base is zero, change undefined", "change": "Change", "change_head": "Two-year change",
        "no_two_years": "No indicator is stated for two school years",
        "teacher_title": "Teaching staff structure", "teacher_shares": "Teaching-staff shares (%)",
        "teacher_ratio": "Student-teacher ratio",
        "teacher_subjects": "Full-time teachers: ideological, PE and arts teachers",
        "other_teachers": "Other full-time teachers", "count": "Teachers", "share": "Share",
        "dest_title": "Graduate employment by economic sector", "sector": "Sector",
        "sat_title": "Satisfaction", "empty": "No data to show",
    },
}


# --------------------------------------------------------------------------------------------------- theme


# The house style, applied to each chart a builder makes (never as a global Altair theme).
_STYLE: dict = {
    "font": FONT,
    "view": {"continuousWidth": 420, "continuousHeight": 280, "stroke": None},
    "title": {"font": FONT, "fontSize": 15, "fontWeight": "bold", "anchor": "start", "color": "#1b1b1b",
              "subtitleFont": FONT, "subtitleFontSize": 12, "subtitleColor": "#8a4b00", "offset": 10},
    "axis": {"labelFont": FONT, "titleFont": FONT, "labelFontSize": 11, "titleFontSize": 12,
             "labelLimit": 320, "gridColor": "#e6e6e6", "domainColor": "#888", "tickColor": "#888"},
    "legend": {"labelFont": FONT, "titleFont": FONT, "labelFontSize": 11, "titleFontSize": 12,
               "orient": "bottom"},
    "header": {"labelFont": FONT, "titleFont": FONT, "labelFontSize": 12, "labelLimit": 320},
    "text": {"font": FONT, "fontSize": 11},
    "bar": {"cornerRadiusEnd": 2},
    "range": {"category": ["#1f5f8b", "#d9822b", "#4c9a6a", "#8e5ea2", "#c0392b", "#7f7f7f"]},
}


def styled(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """``chart`` with the house style as its own config (a copy; a chart with a config of its own keeps it)."""
    if chart.config is not alt.Undefined:
        return chart
    chart = chart.copy(deep=False)
    chart.config = alt.Config(**_STYLE)
    return chart


_BUILD_DEPTH = [0]  # builders call builders; only the outermost result is styled (Altair refuses nested configs)


def _builder(make: Callable[..., alt.TopLevelMixin]) -> Callable[..., alt.TopLevelMixin]:
    """A public chart builder: its result carries the house style, and the vqr renderer is in use."""

    @functools.wraps(make)
    def build(*args, **kwargs):
        _BUILD_DEPTH[0] += 1
        try:
            chart = make(*args, **kwargs)
        finally:
            _BUILD_DEPTH[0] -= 1
        if _BUILD_DEPTH[0]:
            return chart
        _use_vqr_renderer()
        return styled(chart)

    return build


# ------------------------------------------------------------------------------------------------ renderer


def to_spec(chart: alt.TopLevelMixin | dict) -> dict:
    """The chart's Vega-Lite spec (theme applied, data inline, trimmed to the fields the chart uses)."""
    return _trim_data(chart if isinstance(chart, dict) else chart.to_dict())


# Fields kept in every chart's data although no mark encodes them: the site writes each chart's rows to a CSV
# that joins the codebook on the indicator code, and a reader of that CSV wants the number, not only its text.
_DATA_KEYS = frozenset({"indicator_code", "value"})
_FIELD_KEYS = ("field", "lookup", "key", "pivot")  # a field name as a string
_FIELD_LIST_KEYS = ("groupby", "fields", "fold")  # field names as a list
_DATUM_REF = re.compile(r"""datum(?:\.([A-Za-z_$][\w$]*)|\[\s*["']([^"']+)["']\s*\])""")


def _used_fields(spec: dict) -> set[str]:
    """Every data field a spec refers to: encodings and tooltips, sorts, aggregates, and ``datum.x`` in the
    expressions of filters, calculations and conditions."""
    used: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "datasets":
                    continue
                if key in _FIELD_KEYS and isinstance(value, str):
                    used.add(value)
                elif key in _FIELD_LIST_KEYS and isinstance(value, list):
                    used.update(v for v in value if isinstance(v, str))
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str) and "datum" in node:
            used.update(dot or bracket for dot, bracket in _DATUM_REF.findall(node))

    walk(spec)
    return used


def _trim_data(spec: dict) -> dict:
    """The spec with each inline dataset cut to the fields the chart uses (plus ``_DATA_KEYS``).

    Builders hand Altair whole display frames; without this every page would carry each row's every column
    (a region page embedded ~17 fields per row where a chart draws ~9). Idempotent; the input is not changed.
    """
    datasets = spec.get("datasets")
    if not datasets:
        return spec
    keep = _used_fields(spec) | _DATA_KEYS
    return {**spec, "datasets": {name: [{k: v for k, v in row.items() if k in keep} for row in rows]
                                 for name, rows in datasets.items()}}


def to_svg(chart: alt.TopLevelMixin | dict) -> str:
    """Render to an SVG string with vl-convert (no network: outside data URLs are refused)."""
    import vl_convert as vlc

    spec = to_spec(chart)
    return vlc.vegalite_to_svg(spec, vl_version=_vl_version(), allowed_base_urls=[])


def to_png(chart: alt.TopLevelMixin | dict, path: str | Path, *, scale: float = 2.0) -> Path:
    """Render to a PNG file with vl-convert (system fonts, so Chinese labels use Noto Sans CJK)."""
    import vl_convert as vlc

    spec = to_spec(chart)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(vlc.vegalite_to_png(spec, vl_version=_vl_version(), scale=scale, allowed_base_urls=[]))
    return path


def _vl_version() -> str | None:
    """Altair's Vega-Lite version if vl-convert bundles it, else vl-convert's latest (None)."""
    import vl_convert as vlc

    major, minor = alt.SCHEMA_VERSION.lstrip("v").split(".")[:2]
    return f"{major}.{minor}" if f"{major}.{minor}" in vlc.get_vegalite_versions() else None


# The mimetype JupyterLab 4 renders (its Vega extension stops at Vega-Lite 5). Altair 6 writes Vega-Lite 6
# specs; the charts here use nothing that Vega-Lite 5 lacks, and the schema URL is set to match the mimetype
# (a test opens executed notebooks in the installed JupyterLab and finds the charts drawn).
VEGALITE_MIMETYPE = "application/vnd.vegalite.v5+json"
_VEGALITE_5_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"


def _vqr_renderer(spec: dict, **_: object) -> dict:
    """What a notebook stores for a chart: the Vega-Lite spec (drawn, with tooltips, by JupyterLab's Vega
    extension — trusted or not), a PNG for viewers without Vega (nbconvert, GitHub) and a one-line text."""
    import base64

    import vl_convert as vlc

    spec = _trim_data(spec)
    png = vlc.vegalite_to_png(spec, vl_version=_vl_version(), scale=1, allowed_base_urls=[])
    return {VEGALITE_MIMETYPE: {**spec, "$schema": _VEGALITE_5_SCHEMA},
            "image/png": base64.b64encode(png).decode("ascii"),
            "text/plain": f"<图表 / chart: {chart_title(spec) or 'Vega-Lite'}>"}


def chart_title(spec: dict) -> str:
    """A spec's title as plain text ('' when it has none): a string, a TitleParams' text, or lines joined."""
    title = spec.get("title")
    if isinstance(title, dict):
        title = title.get("text")
    if isinstance(title, list):
        title = " ".join(map(str, title))
    return str(title or "")


def _use_vqr_renderer() -> None:
    """Register the vqr renderer and make it active, unless the user picked a renderer other than Altair's default."""
    if "vqr" not in alt.renderers.names():
        alt.renderers.register("vqr", _vqr_renderer)
    if alt.renderers.active == "default":
        alt.renderers.enable("vqr")


# ------------------------------------------------------------------------------------------- frame helpers


def _t(lang: str) -> dict[str, str]:
    return _TEXT[check_lang(lang)]


def _require(frame: pl.DataFrame, *columns: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise VqrError(f"chart input lacks column(s) {', '.join(missing)}; pass a frame from vqr.values() or "
                       "vqr.compare()")


def format_number(value: float | None) -> str | None:
    """The one number style of charts and briefs: thousands separators, at most two decimals, no trailing 0."""
    if value is None:
        return None
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


_format_number = format_number  # older private name, still imported by the briefs


def _unit_shown(unit: pl.Expr, lang: str) -> pl.Expr:
    """The unit as a reader sees it: nothing for a bare ratio; in English, spelled out (counts need no word)."""
    return unit.fill_null("").replace({"ratio": "", **(_UNITS_EN if lang == "en" else {})})


def value_text(value: str | pl.Expr = "value", unit: str | pl.Expr = "unit", *, lang: str = "zh") -> pl.Expr:
    """A value with its unit as text ('98.76%', '1,521 人', '20.05' for a ratio); NULL where the value is NULL.

    The one rule for charts and tables (``display_table``): ``format_number``, '%' attached to the number in both
    languages, any other unit after a space.
    """
    _t(lang)
    value = pl.col(value) if isinstance(value, str) else value
    unit = _unit_shown(pl.col(unit) if isinstance(unit, str) else unit, lang)
    number = value.map_elements(format_number, return_dtype=pl.String)
    return pl.when(value.is_not_null()).then(
        pl.when(unit == "%").then(number + unit).otherwise((number + pl.lit(" ") + unit).str.strip_chars()))


def _prepare(frame: pl.DataFrame, lang: str, highlight: str | None = None) -> pl.DataFrame:
    """Add display columns (labels in ``lang``, value text, tooltip source); mark the ``highlight`` region."""
    _require(frame, "region", "indicator_code", "value")
    t = _t(lang)
    f = frame
    defaults = {"region_zh": pl.col("region"), "region_en": pl.col("region"), "label_zh": pl.col("indicator_code"),
                "label_en": pl.col("indicator_code"), "unit": pl.lit(""), "level": pl.lit(None, pl.String),
                "year": pl.lit(None, pl.Int32), "data_year": pl.lit(None, pl.Int32), "status": pl.lit("absent"),
                "quote": pl.lit(None, pl.String), "source_file": pl.lit(None, pl.String),
                "line": pl.lit(None, pl.Int32), "report_id": pl.col("region")}
    f = f.with_columns([expr.alias(name) for name, expr in defaults.items() if name not in f.columns])
    present = pl.col("value").is_not_null()
    return f.with_columns(
        present.alias("present"),
        pl.when((pl.col("region") == highlight) if highlight else pl.lit(False)).then(pl.lit(_HIGHLIGHT_MARK))
        .otherwise(pl.lit(""))
        .add(pl.col("region_en" if lang == "en" else "region_zh")).alias("region_label"),
        pl.col("label_en" if lang == "en" else "label_zh").alias("indicator_label"),
        pl.col("level").replace_strict({"higher": t["higher"], "secondary": t["secondary"]}, default=pl.col("level"),
                                       return_dtype=pl.String).fill_null("").alias("level_label"),
        # A value a quality rule flagged is drawn, but never silently: its label says so and its bar is pale.
        pl.when(pl.col("status") == "suspect").then(value_text(lang=lang) + pl.lit(t["suspect_mark"]))
        .otherwise(value_text(lang=lang)).fill_null(t["not_reported"]).alias("value_text"),
        pl.coalesce(pl.col("year"), pl.col("data_year")).cast(pl.String).fill_null("").alias("year_text"),
        pl.when(pl.col("quote").str.len_chars() > _QUOTE_CHARS)
        .then(pl.col("quote").str.slice(0, _QUOTE_CHARS) + "…").otherwise(pl.col("quote"))
        .str.replace_all(r"\s+", " ").fill_null("").alias("quote_short"),
        pl.when(pl.col("source_file").is_not_null())
        .then(pl.concat_str([pl.col("source_file"), pl.col("line").cast(pl.String)], separator=":"))
        .otherwise(pl.lit("")).alias("source"),
        pl.col("status").fill_null("absent"),
        _unit_shown(pl.col("unit"), lang).alias("unit_shown"),
    )


_CHART_COLUMNS = ["region", "region_label", "report_id", "indicator_code", "indicator_label", "level",
                  "level_label", "value", "value_text", "unit", "year_text", "status", "quote_short", "source",
                  "present"]


def _slim(frame: pl.DataFrame, *extra: str) -> pl.DataFrame:
    """Only the columns a chart uses, so the embedded data stays small."""
    return frame.select([c for c in [*_CHART_COLUMNS, *extra] if c in frame.columns])


def _tooltip(lang: str, *extra: alt.Tooltip) -> list[alt.Tooltip]:
    t = _t(lang)
    return [
        alt.Tooltip("region_label:N", title=t["region"]),
        alt.Tooltip("indicator_label:N", title=t["indicator"]),
        alt.Tooltip("value_text:N", title=t["value"]),
        *extra,
        alt.Tooltip("year_text:N", title=t["year"]),
        alt.Tooltip("level_label:N", title=t["level"]),
        alt.Tooltip("status:N", title=t["status"]),
        alt.Tooltip("quote_short:N", title=t["quote"]),
        alt.Tooltip("source:N", title=t["source"]),
    ]


def comparability_note(frame: pl.DataFrame, *, lang: str = "zh") -> list[str]:
    """Subtitle lines naming mixed education levels or data years among the frame's reported values."""
    t = _t(lang)
    shown = frame.filter(pl.col("value").is_not_null()) if "value" in frame.columns else frame
    notes = []
    if "mixed_levels" in shown.columns:
        mixed_levels = bool(shown.get_column("mixed_levels").any())
    else:
        mixed_levels = "level" in shown.columns and shown.get_column("level").drop_nulls().n_unique() > 1
    if mixed_levels:
        notes.append(t["mixed_levels"])
    year_col = "year" if "year" in shown.columns else "data_year"
    years = sorted(shown.get_column(year_col).drop_nulls().unique().to_list()) if year_col in shown.columns else []
    if len(years) > 1:
        notes.append(t["mixed_years"].format(years="、".join(map(str, years)) if lang == "zh"
                                             else ", ".join(map(str, years))))
    return notes


def _title(text: str, notes: Sequence[str] = ()) -> alt.TitleParams:
    return alt.TitleParams(text=text, subtitle=list(notes)) if notes else alt.TitleParams(text=text)


def _region_order(frame: pl.DataFrame) -> list[str]:
    return frame.sort("report_id").get_column("region_label").unique(maintain_order=True).to_list()


def _empty(message: str, title: str) -> alt.Chart:
    return alt.Chart(alt.Data(values=[{"message": message}]), title=_title(title)).mark_text(
        color=_MISSING_GREY, fontSize=13).encode(text="message:N").properties(width=320, height=60)


def _level_colour(lang: str) -> alt.Color:
    t = _t(lang)
    return alt.Color("level_label:N", title=t["level"],
                     scale=alt.Scale(domain=[t["higher"], t["secondary"]],
                                     range=[_LEVEL_COLOURS["higher"], _LEVEL_COLOURS["secondary"]]))


def _missing_marks(base: alt.Chart, y: alt.Y, lang: str, *, text: str = "value_text",
                   tooltip: list[alt.Tooltip] | None = None) -> alt.LayerChart:
    """Hollow grey circle at the axis origin plus 'not reported' (or ``text``) for rows without a value."""
    missing = base.transform_filter("!datum.present").transform_calculate(zero="0")
    encode = {"x": alt.X("zero:Q"), "y": y, "tooltip": tooltip or _tooltip(lang)}
    return alt.layer(
        missing.mark_point(shape="circle", filled=False, color=_MISSING_GREY, size=60).encode(**encode),
        missing.mark_text(align="left", dx=8, color=_MISSING_GREY, fontStyle="italic").encode(
            text=f"{text}:N", **encode),
    )


# --------------------------------------------------------------------------------------------- builders


def _is_rate(unit: pl.Expr) -> pl.Expr:
    """Units of size-independent figures: percentages, ratios, amounts per student."""
    return unit.is_in(["%", "ratio"]) | unit.str.ends_with("/生")


def _bar_panel(data: pl.DataFrame, lang: str, *, x_title: str, width: int) -> alt.LayerChart:
    order = _region_order(data)
    base = alt.Chart(data)
    y = alt.Y("region_label:N", title=None, sort=order)
    x = alt.X("value:Q", title=x_title, scale=alt.Scale(zero=True, nice=True))
    reported = base.transform_filter("datum.present")
    bars = reported.mark_bar(height={"band": 0.7}).encode(
        x=x, y=y, color=_level_colour(lang), tooltip=_tooltip(lang),
        opacity=alt.condition("datum.status === 'suspect'", alt.value(0.4), alt.value(1.0)))
    labels = reported.mark_text(align="left", dx=4, color="#333").encode(x="value:Q", y=y, text="value_text:N")
    return alt.layer(bars, labels, _missing_marks(base, y, lang)).properties(
        width=width, height=alt.Step(24))


@_builder
def indicator_across_regions(frame: pl.DataFrame, code: str | None = None, *, lang: str = "zh",
                             title: str | None = None, highlight: str | None = None,
                             width: int = 420) -> alt.TopLevelMixin:
    """One indicator across regions: a bar per region coloured by education level, missing shown as missing.

    ``frame`` comes from ``vqr.compare(codes)``. With several codes and ``code=None`` the indicators are
    stacked vertically, each on its own scale. ``highlight`` marks one region's label with ▶.
    """
    data = _prepare(frame, lang, highlight)
    codes = data.get_column("indicator_code").unique(maintain_order=True).to_list()
    if code is not None:
        if code not in codes:
            raise VqrError(f"indicator {code!r} is not in the frame (it has {', '.join(codes) or 'none'})")
        codes = [code]
    t = _t(lang)
    if not codes:
        return _empty(t["empty"], title or t["empty"])
    charts = []
    for c in codes:
        part = data.filter(pl.col("indicator_code") == c)
        label, unit = part.item(0, "indicator_label"), part.item(0, "unit_shown")
        notes = comparability_note(part, lang=lang)
        if part.filter(pl.col("present")).get_column("year_text").n_unique() > 1:
            # Years differ between the bars: each label says its year.
            part = part.with_columns(pl.when(pl.col("present")).then(
                pl.format("{}（{}）" if lang == "zh" else "{} ({})", "value_text", "year_text"))
                .otherwise(pl.col("value_text")).alias("value_text"))
        x_title = (f"{t['value']}（{unit}）" if lang == "zh" else f"{t['value']} ({unit})") if unit else t["value"]
        chart = _bar_panel(_slim(part), lang, x_title=x_title, width=width)
        head = title if (title and len(codes) == 1) else t["across_title"].format(label=label)
        charts.append(chart.properties(title=_title(head, notes)))
    if len(charts) == 1:
        return charts[0]
    combined = alt.vconcat(*charts, spacing=28).resolve_scale(x="independent")
    return combined.properties(title=_title(title)) if title else combined


@_builder
def region_vs_others(frame: pl.DataFrame, region: str, *, lang: str = "zh", title: str | None = None,
                     min_regions: int = 2, rates_only: bool = True, width: int = 420) -> alt.TopLevelMixin:
    """A region's profile against the others: per indicator, every region's value relative to the highest.

    ``frame`` comes from ``vqr.compare(codes)`` over all regions. Units differ between indicators, so each
    row is scaled to its own maximum (1 = highest reporting region); the tooltip gives the real value.
    Only indicators the region reports and at least ``min_regions`` regions report are drawn. With
    ``rates_only`` (default) only size-independent figures are kept — shares, ratios, per-student values —
    because head counts of a province and of one college mostly measure their size.
    """
    data = _prepare(frame, lang)
    if rates_only:
        data = data.filter(_is_rate(pl.col("unit")))
    t = _t(lang)
    if data.is_empty():  # e.g. a region whose report states no indicator yet
        return _empty(t["empty"], title or t["vs_title"].format(region=region))
    if region not in data.get_column("region").to_list():
        known = ", ".join(data.get_column("region").unique(maintain_order=True).to_list())
        raise VqrError(f"region {region!r} is not in the frame (it has {known})")
    region_label = data.filter(pl.col("region") == region).item(0, "region_label")
    n_present = pl.col("present").sum().over("indicator_code")
    focal_present = (pl.col("present") & (pl.col("region") == region)).any().over("indicator_code")
    # Only reported values are drawn here (a missing one has no position on a relative scale), so only they
    # are embedded.
    data = data.filter((n_present >= min_regions) & focal_present & pl.col("present")).with_columns(
        (pl.col("value") / pl.col("value").abs().max().over("indicator_code")).alias("relative"),
        (pl.col("region") == region).alias("focal"),
    )
    head = title or t["vs_title"].format(region=region_label)
    if data.is_empty():
        return _empty(t["empty"], head)
    notes = [t["vs_note"].format(region=region_label), *comparability_note(data, lang=lang)]
    order = data.filter(pl.col("focal")).sort(["relative", "indicator_code"], descending=[True, False],
                                              nulls_last=True).get_column("indicator_label").to_list()
    base = alt.Chart(_slim(data, "relative", "focal"))
    y = alt.Y("indicator_label:N", title=None, sort=order)
    x = alt.X("relative:Q", title=t["relative_axis"], scale=alt.Scale(domain=[0, 1.05], nice=False))
    rule = base.mark_rule(color="#d0d0d0").encode(x=alt.X("min(relative):Q"), x2="max(relative):Q", y=y)
    others = base.transform_filter("!datum.focal").mark_circle(size=70, color="#b7b7b7", opacity=0.9) \
        .encode(x=x, y=y, tooltip=_tooltip(lang))
    focal = base.transform_filter("datum.focal").mark_circle(size=150, opacity=1).encode(
        x=x, y=y, color=_level_colour(lang), tooltip=_tooltip(lang))
    focal_text = base.transform_filter("datum.focal").mark_text(align="left", dx=10, color="#333").encode(
        x=x, y=y, text="value_text:N")
    return alt.layer(rule, others, focal, focal_text).properties(
        width=width, height=alt.Step(22), title=_title(head, notes))


@_builder
def two_year_change(frame: pl.DataFrame, region: str | None = None, *, lang: str = "zh",
                    title: str | None = None, top: int | None = 30, width: int = 420) -> alt.TopLevelMixin:
    """Change between the two latest years of each indicator a report states for two years.

    ``frame`` comes from ``vqr.values(region)`` (all years). Bars show the relative change in percent; a
    zero base or a year without a value is drawn as missing with the reason. ``top`` keeps the largest
    absolute changes (None = all).
    """
    data = _prepare(frame, lang)
    t = _t(lang)
    if region is not None:
        data = data.filter(pl.col("region") == region)
    if "year" not in frame.columns:
        raise VqrError("two_year_change needs a frame with a year column (vqr.values())")
    keyed = data.filter(pl.col("year").is_not_null())
    years = keyed.group_by("region", "indicator_code", maintain_order=True).agg(
        pl.col("year").unique().sort().tail(2).alias("ys"))
    years = years.filter(pl.col("ys").list.len() == 2)
    charts = []
    for reg in keyed.filter(pl.col("region").is_in(years.get_column("region").to_list())) \
            .get_column("region").unique(maintain_order=True).to_list():
        mine = keyed.join(years.filter(pl.col("region") == reg), on=["region", "indicator_code"],
                          maintain_order="left")
        mine = mine.filter((pl.col("year") == pl.col("ys").list.first()) | (pl.col("year") == pl.col("ys").list.last()))
        charts.append(_change_panel(mine, reg, lang, title=title, top=top, width=width))
    if not charts:
        return _empty(t["no_two_years"], title or t["change_head"])
    return charts[0] if len(charts) == 1 else alt.vconcat(*charts, spacing=28)


def _change_panel(mine: pl.DataFrame, region: str, lang: str, *, title: str | None, top: int | None,
                  width: int) -> alt.LayerChart:
    t = _t(lang)
    y0, y1 = mine.get_column("year").min(), mine.get_column("year").max()
    first = mine.filter(pl.col("year") == pl.col("ys").list.first())
    last = mine.filter(pl.col("year") == pl.col("ys").list.last())
    pair = last.join(first.select("indicator_code", pl.col("value").alias("value0"),
                                  pl.col("value_text").alias("value_text0"), pl.col("year_text").alias("year0")),
                     on="indicator_code", how="left", maintain_order="left")
    base_ok = pl.col("value0").is_not_null() & (pl.col("value0") != 0) & pl.col("value").is_not_null()
    pair = pair.with_columns(
        pl.when(base_ok).then((pl.col("value") - pl.col("value0")) / pl.col("value0").abs() * 100)
        .otherwise(None).alias("change"),
    ).with_columns(
        pl.col("change").is_not_null().alias("present"),
        pl.when(pl.col("change").is_not_null())
        .then(pl.format("{} → {}", pl.col("value_text0"), pl.col("value_text")))
        .when(pl.col("value0").is_not_null() & pl.col("value").is_not_null()).then(pl.lit(t["no_base"]))
        .otherwise(pl.format("{} → {}", pl.col("value_text0"), pl.col("value_text"))).alias("change_text"),
    )
    total = pair.height
    # Ties (many indicators do not change) are broken by code so the chart is the same on every run.
    pair = pair.sort(pl.col("change").abs(), pl.col("indicator_code"), descending=[True, False], nulls_last=True)
    if top is not None and pair.height > top:
        pair = pair.head(top)
    region_label = pair.item(0, "region_label")
    notes = [t["change_note"].format(n=pair.height, total=total)] if pair.height < total else []
    head = title or t["change_title"].format(region=region_label, y0=y0, y1=y1)
    order = pair.get_column("indicator_label").to_list()
    base = alt.Chart(_slim(pair, "change", "change_text"))
    y = alt.Y("indicator_label:N", title=None, sort=order)
    change_tip = alt.Tooltip("change_text:N", title=f"{y0}→{y1}")
    pct = alt.Tooltip("change:Q", title=t["change"], format="+.1f")
    reported = base.transform_filter("datum.present")
    bars = reported.mark_bar(height={"band": 0.7}).encode(
        x=alt.X("change:Q", title=t["change_axis"]), y=y,
        color=alt.condition("datum.change >= 0", alt.value(_LEVEL_COLOURS["higher"]), alt.value(_ACCENT)),
        tooltip=_tooltip(lang, change_tip, pct))
    # Labels start right of the bar end or of zero, so a falling bar's label never covers the axis labels.
    labels = reported.transform_calculate(label_x="max(datum.change, 0)").mark_text(
        align="left", dx=4, color="#333").encode(x="label_x:Q", y=y, text="change_text:N")
    gaps = _missing_marks(base, y, lang, text="change_text", tooltip=_tooltip(lang, change_tip))
    zero = alt.Chart(alt.Data(values=[{"zero": 0}])).mark_rule(color="#888").encode(x="zero:Q")
    return alt.layer(zero, bars, labels, gaps).properties(width=width, height=alt.Step(20),
                                                          title=_title(head, notes))


@_builder
def teacher_structure(frame: pl.DataFrame, *, lang: str = "zh", title: str | None = None,
                      highlight: str | None = None, width: int = 360) -> alt.TopLevelMixin:
    """Teaching staff: quality shares (%), the student-teacher ratio, and the subject mix of full-time teachers.

    ``frame`` comes from ``vqr.compare(charts.TEACHER_CODES)``; panels whose indicators are absent from the
    frame are left out, regions without a value are drawn as missing. ``highlight`` marks one region with ▶.
    """
    t = _t(lang)
    data = _prepare(frame, lang, highlight)
    panels = []
    shares = data.filter(pl.col("indicator_code").is_in(TEACHER_SHARE_CODES))
    if not shares.is_empty():
        layer = _bar_panel(_slim(shares), lang, x_title="%", width=width)
        panels.append(layer.facet(row=alt.Row("indicator_label:N", title=None, sort=TEACHER_SHARE_CODES,
                                              header=alt.Header(labelAngle=0, labelAlign="left",
                                                                labelAnchor="start", labelOrient="top")))
                      .properties(title=_title(t["teacher_shares"], comparability_note(shares, lang=lang))))
    ratio = data.filter(pl.col("indicator_code") == "student_teacher_ratio")
    if not ratio.is_empty():
        panels.append(_bar_panel(_slim(ratio), lang, x_title=t["teacher_ratio"], width=width).properties(
            title=_title(t["teacher_ratio"], comparability_note(ratio, lang=lang))))
    subjects = _teacher_subjects(data, lang, width)
    if subjects is not None:
        panels.append(subjects)
    head = title or t["teacher_title"]
    if not panels:
        return _empty(t["empty"], head)
    return alt.vconcat(*panels, spacing=30).resolve_scale(x="independent", y="independent",
                                                          color="independent").properties(
        title=_title(head))


def _composition(parts: pl.DataFrame, totals: pl.DataFrame, lang: str, *, title: str, part_title: str,
                 domain: list[str], width: int, remainder: bool = False) -> alt.LayerChart:
    """Normalised stacked bars of ``parts`` (one row per region × part) with missing regions marked.

    ``remainder`` draws the last part of ``domain`` (e.g. "other teachers") in neutral grey.
    """
    t = _t(lang)
    colours = [*_PART_COLOURS[:len(domain) - 1], _REMAINDER_GREY] if remainder else _PART_COLOURS[:len(domain)]
    parts = parts.with_columns(
        (pl.col("value") / pl.col("value").sum().over("region") * 100).alias("share"),
    ).with_columns(pl.col("share").map_elements(lambda s: f"{s:.1f}%", return_dtype=pl.String).alias("share_text"))
    order = _region_order(totals)
    y = alt.Y("region_label:N", title=None, sort=order)
    stacked = alt.Chart(_slim(parts, "part", "share", "share_text")).mark_bar(height={"band": 0.7}).encode(
        x=alt.X("sum(value):Q", stack="normalize", title=t["share"], axis=alt.Axis(format="%")),
        y=y, color=alt.Color("part:N", title=part_title, sort=domain,
                             scale=alt.Scale(domain=domain, range=colours)),
        order=alt.Order("part_order:Q"),
        tooltip=[alt.Tooltip("region_label:N", title=t["region"]), alt.Tooltip("part:N", title=part_title),
                 alt.Tooltip("value_text:N", title=t["count"]), alt.Tooltip("share_text:N", title=t["share"]),
                 alt.Tooltip("year_text:N", title=t["year"]), alt.Tooltip("level_label:N", title=t["level"]),
                 alt.Tooltip("quote_short:N", title=t["quote"]), alt.Tooltip("source:N", title=t["source"])],
    ).transform_calculate(part_order=f"indexof({domain!r}, datum.part)")
    gaps = totals.filter(~pl.col("present"))
    layers = [stacked]
    if not gaps.is_empty():
        layers.append(_missing_marks(alt.Chart(_slim(gaps)), y, lang))
    return alt.layer(*layers).properties(width=width, height=alt.Step(26),
                                         title=_title(title, comparability_note(parts, lang=lang)))


def _teacher_subjects(data: pl.DataFrame, lang: str, width: int) -> alt.LayerChart | None:
    t = _t(lang)
    totals = data.filter(pl.col("indicator_code") == "full_time_teachers")
    subjects = data.filter(pl.col("indicator_code").is_in(TEACHER_SUBJECT_CODES) & pl.col("present"))
    if totals.is_empty() or subjects.is_empty():
        return None
    # "Other" is the rest of the full-time teachers, only where the total and the subjects are both reported.
    subject_sums = subjects.group_by("region", maintain_order=True).agg(pl.col("value").sum().alias("subject_sum"))
    other = totals.filter(pl.col("present")).join(subject_sums, on="region", maintain_order="left") \
        .with_columns((pl.col("value") - pl.col("subject_sum")).alias("value")).filter(pl.col("value") >= 0) \
        .with_columns(pl.lit(t["other_teachers"]).alias("indicator_label"),
                      pl.col("value").map_elements(format_number, return_dtype=pl.String).alias("value_text")) \
        .drop("subject_sum")
    parts = pl.concat([subjects, other.select(subjects.columns)]).with_columns(
        pl.col("indicator_label").alias("part"))
    domain = [*data.filter(pl.col("indicator_code").is_in(TEACHER_SUBJECT_CODES))
              .get_column("indicator_label").unique(maintain_order=True).to_list(), t["other_teachers"]]
    reported = parts.get_column("region").unique(maintain_order=True).to_list()
    totals = totals.with_columns(pl.col("region").is_in(reported).alias("present")).with_columns(
        pl.when(pl.col("present")).then(pl.col("value_text")).otherwise(pl.lit(t["not_reported"])).alias(
            "value_text"))
    return _composition(parts, totals, lang, title=t["teacher_subjects"], part_title=t["indicator"],
                        domain=domain, width=width, remainder=True)


@_builder
def graduate_destinations(frame: pl.DataFrame, *, lang: str = "zh", title: str | None = None,
                          highlight: str | None = None, width: int = 420) -> alt.TopLevelMixin:
    """Graduates employed in the primary, secondary and tertiary sectors (三次产业), as shares per region.

    ``frame`` comes from ``vqr.compare(charts.DESTINATION_CODES)``; regions without the breakdown are shown
    as not reported. ``highlight`` marks one region's label with ▶.
    """
    t = _t(lang)
    data = _prepare(frame, lang, highlight).filter(pl.col("indicator_code").is_in(DESTINATION_CODES))
    head = title or t["dest_title"]
    if data.is_empty():
        return _empty(t["empty"], head)
    parts = data.filter(pl.col("present")).with_columns(pl.col("indicator_label").alias("part"))
    domain = data.sort(pl.col("indicator_code").replace_strict(
        {c: i for i, c in enumerate(DESTINATION_CODES)}, return_dtype=pl.Int32)) \
        .get_column("indicator_label").unique(maintain_order=True).to_list()
    reported = parts.get_column("region").unique(maintain_order=True).to_list()
    totals = data.unique("region", keep="first", maintain_order=True).with_columns(
        pl.col("region").is_in(reported).alias("present"),
        pl.lit(t["not_reported"]).alias("value_text"))
    return _composition(parts, totals, lang, title=head, part_title=t["sector"], domain=domain, width=width)


@_builder
def satisfaction_panel(frame: pl.DataFrame, *, lang: str = "zh", title: str | None = None,
                       highlight: str | None = None) -> alt.TopLevelMixin:
    """Satisfaction survey results (%) as a grid: indicators × regions, missing cells hollow with 'not reported'.

    ``frame`` comes from ``vqr.compare(charts.SATISFACTION_CODES)``. ``highlight`` marks one region with ▶.
    """
    t = _t(lang)
    data = _prepare(frame, lang, highlight).filter(pl.col("unit") == "%")
    head = title or t["sat_title"]
    if data.is_empty():
        return _empty(t["empty"], head)
    order_codes = [c for c in SATISFACTION_CODES if c in data.get_column("indicator_code").to_list()]
    rest = [c for c in data.get_column("indicator_code").unique(maintain_order=True).to_list() if c not in order_codes]
    label_of = dict(data.select("indicator_code", "indicator_label").unique().iter_rows())
    rows = [label_of[c] for c in [*order_codes, *rest]]
    base = alt.Chart(_slim(data))
    x = alt.X("region_label:N", title=None, sort=_region_order(data), axis=alt.Axis(labelAngle=0, orient="top"))
    y = alt.Y("indicator_label:N", title=None, sort=rows)
    reported = base.transform_filter("datum.present")
    low = data.filter(pl.col("present")).get_column("value").min()
    cells = reported.mark_rect(stroke="white", strokeWidth=2).encode(
        x=x, y=y, tooltip=_tooltip(lang),
        color=alt.Color("value:Q", title="%", scale=alt.Scale(scheme="blues", domain=[min(low or 80, 80), 100])))
    text = reported.mark_text(fontSize=11).encode(
        x=x, y=y, text="value_text:N",
        color=alt.condition("datum.value > 93", alt.value("white"), alt.value("#1b1b1b")))
    gaps = base.transform_filter("!datum.present")
    hollow = gaps.mark_rect(fill="white", stroke=_MISSING_GREY, strokeDash=[3, 2], strokeWidth=1).encode(
        x=x, y=y, tooltip=_tooltip(lang))
    gap_text = gaps.mark_text(color=_MISSING_GREY, fontStyle="italic", fontSize=10).encode(
        x=x, y=y, text="value_text:N")
    return alt.layer(cells, text, hollow, gap_text).properties(
        width=alt.Step(92), height=alt.Step(26), title=_title(head, comparability_note(data, lang=lang)))
