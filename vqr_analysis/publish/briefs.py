"""Policy briefs: a two-to-four-page PDF per region, typeset in Chinese with Typst.

A brief has a title block, 4–8 headline numbers compared with the other regions, two or three charts, a short
comparison table, the report's own '面临挑战' section quoted with its lines, a data-quality note and a sources
line. Every number comes from the database through :mod:`vqr_analysis.analysis`, every sentence of prose
from the report itself; the only other words are fixed, neutral phrases filled with computed values
("高于其他地区中位数").

Nothing from a report is turned into Typst markup: the content travels to ``templates/brief.typ`` as one JSON
document (``sys.inputs.data``) and the charts as SVG strings, and Typst prints strings literally, so a report
containing ``#``, ``*``, ``$`` or ``[`` prints them as they are.

The font comes from :func:`vqr_analysis.fonts.find_cjk_font` before anything is rendered: no CJK font means
a VqrError and no PDF. Each PDF is written to a temporary file and renamed into place.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import polars as pl

from vqr_analysis.analysis import api as analysis
from vqr_analysis.core.errors import VqrError, check_known
from vqr_analysis.core.numbers import format_number, format_value as _format_value
from vqr_analysis.core.vocab import COMPARABILITY, MISSING, RULE_TEXT, SUSPECT
from vqr_analysis.core.paths import mark_output_dir
from vqr_analysis.publish.fonts import CjkFont, find_cjk_font, missing_glyphs, register_chart_font
from vqr_analysis.store.cache import ContentStore, atomic_path, digest

__all__ = [
    "HEADLINE_CODES", "HEADLINE_MIN", "HEADLINE_MAX", "MAX_CHARTS", "TEMPLATE", "BriefContent", "brief_content",
    "render_brief", "build_briefs", "format_value", "default_out_dir",
]

TEMPLATE = Path(__file__).resolve().parent / "templates" / "brief.typ"

# Headline indicators in priority order: a brief shows the first HEADLINE_MAX of these that its region reports.
# The one place to change what policy readers see first. Codes are from data/indicators.csv.
HEADLINE_CODES = (
    "full_time_students", "full_time_teachers", "student_teacher_ratio", "dual_qualified_teacher_share",
    "placement_rate", "graduates", "enrolment", "schools", "senior_title_teacher_share", "monthly_income",
    "per_student_appropriation", "sat_students", "sat_employers", "equipment_value_per_student", "specialties",
    "training_participants", "non_degree_training_hours", "vocational_certificates",
)
HEADLINE_MIN, HEADLINE_MAX = 4, 8
MAX_CHARTS = 3
_TWO_YEAR_TOP = 10
_CARD_REASON_CHARS = 80
_PX_TO_PT = 0.75  # vl-convert sizes SVGs in CSS pixels
_HALF_PLOT_PX = 200  # plot width of the small charts, two of which share a row
_CHANGE_PLOT_PX = 140  # the change chart's labels ('144 学时 → 728 学时') run past its bars
_TEXT_WIDTH_PT = 500  # A4 less the template's margins (a little to spare)
_ROW_SHRINK = 1.15  # two charts may share a row if shrinking them to at most 1/1.15 makes them fit
_SVG_WIDTH_RE = re.compile(r'<svg[^>]*\swidth="([\d.]+)"')

_COMPARABILITY = {
    (True, True): f"比较对象{COMPARABILITY['mixed levels and years'][0]}，仅供参考",
    (True, False): f"比较对象{COMPARABILITY['mixed levels (higher vs secondary)'][0]}，层次不同，仅供参考",
    (False, True): f"比较对象{COMPARABILITY['mixed data years'][0]}，仅供参考",
    (False, False): "",
}
_CHART_CAPTIONS = {
    "profile": "本地区（彩色）与其他地区（灰色）在各核心指标上的相对位置；每个指标以报告该项的地区中最高值为 1。",
    "across": "各地区的最新年份数值；未报告的地区标为“未报告”，不按 0 画出。",
    "change": "本报告同时给出两个年份的指标中，变化幅度最大的若干项。",
}


def default_out_dir() -> Path:
    from vqr_analysis.core.paths import site_dir

    return site_dir() / "briefs"


def _format_number(value: float, unit: str | None = None) -> str:
    return format_number(value, unit)  # core.numbers: one number style for every surface


def format_value(value: float | None, unit: str | None, qualifier: str | None = "exact") -> str:
    """A value as a reader expects it: '16.9:1', '79.41%', '288,309 人', '约300 人'; None → '未报告'."""
    return _format_value(value, unit, qualifier)


def _unit_label(unit: str | None) -> str:
    return {"ratio": "N:1", None: "", "": ""}.get(unit, unit or "")


# ------------------------------------------------------------------------------------------------ content


@dataclass
class BriefContent:
    """Everything one brief shows: the JSON for the template, the charts, and the observations it cites."""

    region: str
    data: dict
    charts: list[tuple[str, object]] = field(default_factory=list)  # (caption, Altair chart)
    obs_ids: set[int] = field(default_factory=set)


def _present(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col("value").is_not_null())


def _obs_ids(frame: pl.DataFrame) -> set[int]:
    return set(frame.get_column("obs_id").drop_nulls().to_list()) if "obs_id" in frame.columns else set()


def _pick_headlines(prof: pl.DataFrame) -> list[str]:
    """Priority codes the region reports, topped up to HEADLINE_MIN with its most widely compared others."""
    reported = _present(prof)
    have = set(reported.get_column("indicator_code").to_list())
    chosen = [c for c in HEADLINE_CODES if c in have][:HEADLINE_MAX]
    if len(chosen) < HEADLINE_MIN:
        extra = reported.filter(~pl.col("indicator_code").is_in(chosen) & pl.col("parent_code").is_null()) \
            .sort(["n_regions", "table", "indicator_code"], descending=[True, False, False], nulls_last=True)
        chosen += extra.get_column("indicator_code").head(HEADLINE_MIN - len(chosen)).to_list()
    return chosen


def _comparison_text(row: dict) -> str:
    """How the value stands: its rank among comparable subjects (analysis.profile's rank_note) and, for a
    size-free indicator, the median of the same level's other clean values. Counts are context, never ranked."""
    note = row.get("rank_note") or ""
    median = row.get("median_others")
    if median is None or row.get("badge") == SUSPECT[0]:
        return note
    value = row["value"]
    relation = "高于" if value > median else "低于" if value < median else "等于"
    return (f"{note}；同学段其他地区（不含存疑数值）中位数 {format_value(median, row['unit'])}，"
            f"本地区{relation}该中位数")


def _short(text: str, limit: int) -> str:
    """A card's reason kept to a few lines; the data-quality section prints it whole."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…（全文见“数据质量说明”）"


def _rate_text(rate: dict) -> str:
    """A derived rate in words: '折算：校均在校生 8,479.7（288,309 人 ÷ 34 所）；同类 2 个主体中第 1 位'."""
    text = f"折算：{rate['label_zh']} {rate['how'].rpartition(' = ')[2]}（{rate['how'].rpartition(' = ')[0]}）"
    if rate["badge"]:
        text += f" {rate['badge']}"
    elif rate["rank"] is not None:
        text += f"，同类主体 {rate['n_regions']} 个中第 {rate['rank']} 位（从高到低）"
    return text


def _headline_items(prof: pl.DataFrame, codes: Sequence[str], rates: pl.DataFrame | None = None) -> list[dict]:
    rows = {r["indicator_code"]: r for r in _present(prof).iter_rows(named=True)}
    rate_rows = list(rates.iter_rows(named=True)) if rates is not None else []
    items = []
    for code in codes:
        r = rows[code]
        # A count is context: where the report also states its denominator, the rate says what the count cannot.
        made = [_rate_text(x) for x in rate_rows if x["numerator_code"] == code and x["year"] == r["year"]]
        items.append({
            "code": code, "label": r["label"], "value_text": format_value(r["value"], r["unit"], r["qualifier"]),
            # A suspect value is never a bare headline: its badge and the reason in words stand beside it.
            "badge": r["badge"] or "", "flag": _short(r["flag_text"] or "", _CARD_REASON_CHARS),
            "year": str(r["year"]) if r["year"] is not None else "",
            "source": f"原文“{r['raw']}”，第 {r['line']} 行" + ("（表格）" if r["method"] == "table" else ""),
            "comparison": "；".join([_comparison_text(r), *made]).strip("；"),
            "comparability": _COMPARABILITY[(bool(r.get("mixed_levels")), bool(r.get("mixed_years")))]
            if (r.get("n_regions") or 0) >= 2 else "",
        })
    return items


def _table(cmp: pl.DataFrame, reports: pl.DataFrame, region: str, codes: Sequence[str]) -> dict:
    """Headline indicators (rows) × regions (columns); absent values are '—', never 0."""
    regions = reports.get_column("region").to_list()
    header = ["指标"] + reports.get_column("region_zh").to_list()
    level = ["层次"] + reports.get_column("level_zh").to_list()
    years = ["数据年份"] + [str(y) for y in reports.get_column("data_year").to_list()]
    data_year = dict(zip(regions, reports.get_column("data_year").to_list()))
    cells = {(r["indicator_code"], r["region"]): r for r in cmp.iter_rows(named=True)}
    rows = []
    for code in codes:
        any_row = next(r for (c, _), r in cells.items() if c == code)
        unit = _unit_label(any_row["unit"])
        row = [f"{any_row['label']}（{unit}）" if unit else any_row["label"]]
        for reg in regions:
            cell = cells.get((code, reg))
            if cell is None or cell["value"] is None:
                row.append(MISSING[0])
                continue
            text = _format_number(cell["value"], cell["unit"])
            if cell["year"] is not None and cell["year"] != data_year[reg]:
                text += f"（{cell['year']}）"
            if cell.get("badge"):
                text += f" {cell['badge']}"  # 存疑 / 已更正 beside the number; the reasons are under the table
            row.append(text)
        rows.append(row)
    return {"header": header, "rows": [level, years, *rows], "highlight": regions.index(region) + 1,
            "note": f"“{MISSING[0]}”表示该地区报告未给出此项（不是 0）；括号内为数值所属年份（与报告数据年份不同时）；"
                    f"“{SUSPECT[0]}”表示数据库的质量检查发现该数值有问题（原因见“数据质量说明”），不参与排名与中位数。"
                    "各地区取各自最新年份，层次与年份不同者不宜直接比较；数量类指标随地区规模而变，只作背景。"}


def _svg_width_pt(svg: str) -> float:
    m = _SVG_WIDTH_RE.search(svg)
    return float(m.group(1)) * _PX_TO_PT if m else 400.0


def _charts(region: str, codes: Sequence[str], pool: pl.DataFrame, own_all_years: pl.DataFrame) -> \
        tuple[list[tuple[str, object]], set[int]]:
    """Up to MAX_CHARTS charts from the chart builders: the region against the others over the headline pool,
    single indicators across regions, and the two-year change when the report gives two years."""
    from vqr_analysis.analysis import charts

    present = _present(pool)
    reporting = present.group_by("indicator_code").len().filter(pl.col("len") >= 2)
    mine = set(present.filter(pl.col("region") == region).get_column("indicator_code").to_list())
    comparable = set(reporting.get_column("indicator_code").to_list()) & mine
    # Bars across regions only for size-free indicators: a count of an autonomous region beside one college's
    # measures their size (counts stay context, in the cards and the table).
    size_free = set(present.filter(analysis.size_free(pl.col("kind"), pl.col("unit")))
                    .get_column("indicator_code").to_list())
    twice = own_all_years.group_by("indicator_code").agg(pl.col("year").n_unique().alias("n")) \
        .filter(pl.col("n") >= 2).get_column("indicator_code").to_list()
    planned: list[tuple[str, object, pl.DataFrame]] = []
    if len(comparable) >= 2:
        frame = pool.filter(pl.col("indicator_code").is_in(comparable))
        planned.append((_CHART_CAPTIONS["profile"], charts.region_vs_others(frame, region, width=360), frame))
    room = MAX_CHARTS - len(planned) - (1 if twice else 0)
    for code in [c for c in codes if c in comparable and c in size_free][:max(room, 0)]:
        frame = pool.filter(pl.col("indicator_code") == code)
        planned.append((_CHART_CAPTIONS["across"],
                        charts.indicator_across_regions(frame, code, width=_HALF_PLOT_PX), frame))
    if twice and len(planned) < MAX_CHARTS:
        frame = own_all_years.filter(pl.col("indicator_code").is_in(twice))
        planned.append((_CHART_CAPTIONS["change"],
                        charts.two_year_change(frame, region, top=_TWO_YEAR_TOP, width=_CHANGE_PLOT_PX), frame))
    used = set().union(*(_obs_ids(frame) for _, _, frame in planned)) if planned else set()
    return [(caption, chart) for caption, chart, _ in planned], used


def _challenges(report: dict, base: Path | None) -> dict:
    from vqr_analysis.extract.sections import challenges_section
    from vqr_analysis.sources.registry import load_registry
    from vqr_analysis.sources.documents import load_document

    registered = {r.region: r for r in load_registry(base / "reports.toml" if base else None)}
    entry = registered.get(report["region"])
    if entry is None or entry.sha256 != report["sha256"]:
        raise VqrError(f"the database's report {report['report_id']} ({report['region']}) is not the registered file; "
                       "rebuild the database with `vqr db`")
    section = challenges_section(load_document(entry, base))
    if section is None:
        return {"found": False, "text": f"《{report['title_zh']}》中未找到“面临挑战”或同类章节，本简报不作引述。"}
    return {
        "found": True, "heading": section.heading,
        "citation": f"《{report['title_zh']}》原文第 {section.first_line}–{section.last_line} 行",
        "paragraphs": [{"text": p.text, "heading": p.is_heading,
                        "lines": f"第 {p.first_line} 行" if p.first_line == p.last_line
                        else f"第 {p.first_line}–{p.last_line} 行"} for p in section.paragraphs],
    }


def _quality(flags: pl.DataFrame, reports: pl.DataFrame, region: str, obs_ids: set[int]) -> dict:
    """Flags on the brief's numbers: the region's own in full, the compared regions' as a count per region."""
    names = dict(zip(reports.get_column("region").to_list(), reports.get_column("region_zh").to_list()))
    ids = list(obs_ids)
    touching = flags.filter(pl.col("obs_id").is_in(ids) | pl.col("related_obs_id").is_in(ids)) \
        .unique(["obs_id", "rule", "message"], maintain_order=True)
    own = [{"severity": "错误" if r["severity"] == "error" else "提醒",
            "rule": RULE_TEXT.get(r["rule"], (r["rule"],))[0],
            "what": f"{r['label']} · {r['year']} 年 · 原文“{r['raw']}”（第 {r['line']} 行）{SUSPECT[0]}",
            "message": r["message_zh"] or ""} for r in touching.filter(pl.col("region") == region).iter_rows(named=True)]
    counts = touching.filter(pl.col("region") != region).group_by("region", maintain_order=True).len()
    others = "、".join(f"{names.get(r, r)} {n} 条" for r, n in counts.iter_rows())
    return {"own": own, "others": f"对照数据（其他地区的数值）另有质量标记：{others}，详见各地区简报。" if others else ""}


def _subject_line(report: dict) -> str:
    """'塔城地区', not '塔城地区（塔城地区）': the short name in brackets only when it adds something."""
    short, full = report["region_zh"], report["subject_zh"]
    return full if short in full or full in short else f"{full}（{short}）"


def _report_citation(report: dict) -> str:
    """The source report as a reader cites it: publisher, title, edition, publication date."""
    return f"{report['publisher']}：《{report['title_zh']}》，{report['edition_year']} 年度，{report['published']} 发布"


def _sources(report: dict, others: Iterable[dict], snapshot: str, issued: str, title: str) -> dict:
    return {
        "own": _report_citation(report),
        "others": "；".join(f"{r['region_zh']}：《{r['title_zh']}》（{r['published']}）" for r in others),
        "snapshot": snapshot,
        # One sentence a reader can paste: who made the brief, its title and date, what it rests on.
        "suggested": f"vqr-analysis（{issued or '日期未知'}）。{title}。依据{_report_citation(report)}。"
                     f"数据库快照 {snapshot}。",
        "technical": f"原始文件 {report['file']}（SHA-256 {report['sha256'][:12]}）",
    }


def brief_content(region: str, *, db=None, base: Path | None = None) -> BriefContent:
    """The content of one region's brief, from the database (``db``: path or open connection) and the report.

    ``base`` is the data folder holding the registry and the report files (default ``data/``).
    """
    reports = analysis.reports(db=db)
    check_known("region", [region], reports.get_column("region").to_list())
    report = reports.filter(pl.col("region") == region).row(0, named=True)
    snapshot = analysis.snapshot(db=db)
    issued = analysis.built_on(db=db)
    known_codes = set(analysis.indicators(db=db).get_column("code").to_list())
    prof = analysis.profile(region, db=db)
    codes = _pick_headlines(prof)
    pool_codes = list(dict.fromkeys([*codes, *(c for c in HEADLINE_CODES if c in known_codes)]))
    pool = analysis.compare(pool_codes, db=db)
    own_all_years = analysis.values(region, db=db)
    flags = analysis.quality_flags(db=db)
    table_frame = pool.filter(pl.col("indicator_code").is_in(codes))
    chart_list, chart_obs = _charts(region, codes, pool, own_all_years) if codes else ([], set())
    obs_ids = _obs_ids(table_frame) | chart_obs
    period = f"{report['data_period_start']} 至 {report['data_period_end']}"
    title = f"{report['subject_zh']}职业教育质量政策简报"
    data = {
        "title": title, "author": "vqr-analysis", "issued": issued, "subject_line": _subject_line(report),
        "report_title": report["title_zh"],
        "subtitle": f"依据 {report['edition_year']} 年度{report['level_zh']}质量年度报告",
        "region_zh": report["region_zh"], "region_en": report["region_en"],
        "subject_zh": report["subject_zh"], "subject_en": report["subject_en"],
        "level": f"{report['level_zh']}（{report['level_en']}）",
        "edition": f"{report['edition_year']} 年度（发布 {report['published']}）",
        "period": period, "data_year": str(report["data_year"]), "snapshot": snapshot,
        "headlines": _headline_items(prof, codes, analysis.derived_rates(region, db=db)),
        "headline_empty": "数据库中尚无本地区的数值，本简报不列核心指标、对照表与图表。",
        "table": _table(table_frame, reports, region, codes) if codes else None,
        "challenges": _challenges(report, base),
        "quality": _quality(flags, reports, region, obs_ids),
        "sources": _sources(report, reports.filter(pl.col("region") != region).iter_rows(named=True), snapshot,
                            issued, title),
        "chart_rows": [],
    }
    return BriefContent(region, data, chart_list, obs_ids)


# ---------------------------------------------------------------------------------------------- rendering


def _compiler(font: CjkFont):
    import typst

    # Only the chosen font folder plus Typst's bundled fonts: the output does not depend on what else is
    # installed, and a missing CJK family cannot be silently replaced by a system font without Chinese.
    return typst.Compiler(input=str(TEMPLATE), root=str(TEMPLATE.parent), font_paths=[str(font.folder)],
                          ignore_system_fonts=True)


def _all_text(value) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _all_text(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _all_text(v)


def _chart_rows(figures: list[dict]) -> list[list[dict]]:
    """Figures in rows: two consecutive charts that (slightly shrunk) fit the text width together share a row."""
    rows: list[list[dict]] = []
    for fig in figures:
        together = rows[-1][0]["width_pt"] + fig["width_pt"] if rows and len(rows[-1]) == 1 else None
        if together is not None and together <= _TEXT_WIDTH_PT * _ROW_SHRINK:
            rows[-1].append(fig)
        else:
            rows.append([fig])
    return rows


def _chart_font(spec: dict, family: str) -> dict:
    """The chart spec with the found CJK family first in every font list (the theme lists likely names)."""
    from vqr_analysis.analysis.charts import FONT

    def walk(node):
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return f"{family}, {FONT}" if node == FONT and not FONT.startswith(family) else node

    return walk(spec)


def _chart_svg(spec: dict, font: CjkFont, cache_dir: Path | None) -> str:
    """vl-convert's SVG for ``spec``, reused from ``cache_dir`` when the same spec, font and renderer made it
    before: a rebuild that only re-stamps the snapshot id then skips the costly rendering."""
    from vqr_analysis.analysis import charts

    if cache_dir is None:
        return charts.to_svg(spec)
    import vl_convert

    store = ContentStore(Path(cache_dir))
    key = digest(spec, str(font.path), vl_convert.__version__)
    hit = store.get("chart", key, ".svg")
    if hit is not None:
        return hit.read_text(encoding="utf-8")
    svg = charts.to_svg(spec)
    store.put("chart", key, ".svg", svg.encode("utf-8"), keep_others=True)
    return svg


def render_brief(content: BriefContent, out_path: Path, font: CjkFont, *, compiler=None,
                 svg_cache: Path | None = None) -> Path:
    """Typeset one brief to ``out_path`` (temp file + rename). Charts become SVG via vl-convert."""
    from vqr_analysis.analysis import charts

    register_chart_font(font)
    data = dict(content.data)
    inputs: dict[str, str] = {}
    figures = []
    for i, (caption, chart) in enumerate(content.charts):
        svg = _chart_svg(_chart_font(charts.to_spec(chart), font.family), font, svg_cache)
        key = f"chart-{i}"
        inputs[key] = svg
        figures.append({"key": key, "caption": caption, "width_pt": round(_svg_width_pt(svg), 1)})
    data["chart_rows"] = _chart_rows(figures)
    data["font"] = font.family
    lacking = missing_glyphs(font, "".join(_all_text(data)))
    if lacking:
        raise VqrError(f"font {font.family} ({font.path}) lacks Chinese characters used in the {content.region} "
                       f"brief: {''.join(lacking[:20])}; set VQR_FONT_PATH to a fuller CJK font")
    compiler = compiler or _compiler(font)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_path) as tmp:
        _render_fitted(compiler, tmp, data, inputs, content.region)
    return out_path


# A last page filled less than this (share of the text area) reads as a leftover; charts shrink, at most to the
# smallest scale, until the brief loses that page. Text never shrinks: only charts have room to give.
_LEFTOVER_FILL = 0.3
_CHART_SCALES = (1.0, 0.85, 0.72)


def _render_fitted(compiler, target: Path, data: dict, inputs: dict[str, str], region: str) -> None:
    """Typeset to ``target``; when the last page would be a near-empty leftover, retry with smaller charts and
    keep the first layout that needs fewer pages."""
    pages = None
    for scale in _CHART_SCALES:
        if scale < 1.0 and not data["chart_rows"]:
            break
        attempt = target.with_name(f"{target.name}.{scale}")
        try:
            _compile(compiler, attempt, {**inputs, "data": json.dumps({**data, "chart_scale": scale},
                                                                      ensure_ascii=False)}, region)
            n, fill = _last_page_fill(attempt)
            if pages is None or n < pages:
                os.replace(attempt, target)
                if pages is not None or fill >= _LEFTOVER_FILL or n <= 2:
                    return
                pages = n
        finally:
            attempt.unlink(missing_ok=True)


def _compile(compiler, output: Path, inputs: dict[str, str], region: str) -> None:
    _, warnings = compiler.compile_with_warnings(output=str(output), sys_inputs=inputs)
    font_warnings = [w.message for w in warnings if "font" in w.message]
    if font_warnings:
        raise VqrError(f"Typst could not use the font for the {region} brief: {font_warnings[0]}")


def _last_page_fill(pdf: Path) -> tuple[int, float]:
    """(pages, share of the last page's text area that its text reaches down to), footer excluded."""
    import pdfplumber

    with pdfplumber.open(pdf) as doc:
        page = doc.pages[-1]
        body_bottom = page.height - _FOOTER_PT
        tops = [c["bottom"] for c in page.chars if c["bottom"] < body_bottom]
        return len(doc.pages), (max(tops) / body_bottom if tops else 0.0)


_FOOTER_PT = 52  # the template's bottom margin (1.8 cm), where the footer line sits


def build_briefs(db_path: str | Path | None = None, out_dir: str | Path | None = None,
                 regions: Sequence[str] | None = None, *, font: CjkFont | None = None,
                 base: Path | None = None, svg_cache: Path | None = None) -> list[Path]:
    """Write ``<out_dir>/<region>.pdf`` for each region (default all) and return the paths.

    ``svg_cache``: a folder where chart SVGs are kept by content (the incremental build passes one).

    The font is found first (``font`` overrides discovery) and every brief's content is gathered before any
    PDF is written, so a bad call (no CJK font, unknown region, stale database) writes nothing.
    """
    font = font or find_cjk_font()
    out = Path(out_dir) if out_dir else default_out_dir()
    con = analysis.connect(db_path)
    try:
        known = analysis.reports(db=con).get_column("region").to_list()
        wanted = check_known("region", regions, known) if regions else known
        contents = [brief_content(region, db=con, base=base) for region in wanted]
    finally:
        con.close()
    compiler = _compiler(font)
    mark_output_dir(out)
    return [render_brief(c, out / f"{c.region}.pdf", font, compiler=compiler, svg_cache=svg_cache)
            for c in contents]
