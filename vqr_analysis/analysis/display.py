"""Readable views of API frames for notebooks and the site: clean tables and short data-driven texts.

``display_table(frame)`` turns a frame from the research API into a table a reader can take in at a glance::

    import vqr_analysis as vqr
    vqr.display_table(vqr.profile("tacheng"), ["label", "year", "value", "status", "rank", "comparability"])

* headers in the chosen language — Chinese with the English after it for ``lang="zh"`` ('指标 / Indicator'),
  English for ``lang="en"``;
* numbers with their unit (``charts.value_text``: thousands separators, '%' attached), years and line
  numbers as plain integers;
* a missing value as '未报告 / not reported' — never 0, never ``null``; other empty cells as '—';
* status, comparability, severity and quality flags as short badges; the indicator code as the label's
  tooltip instead of a column of its own;
* every text HTML-escaped (report text is data, not markup).

The object renders as HTML in JupyterLab and nbconvert (``_repr_html_``) and as aligned plain text elsewhere;
``table.data`` is the frame it was made from, unchanged, for ``write_csv``.

``region_summary`` and ``reports_summary`` write the data-dependent sentences of the notebooks (Markdown):
Chinese first and the English after it for ``lang="zh"``, English only for ``lang="en"``.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Sequence

import polars as pl

from vqr_analysis.analysis.charts import value_text
from vqr_analysis.core.errors import VqrError
from vqr_analysis.core.numbers import format_number
from vqr_analysis.core.vocab import (
    ABSENT, COMPARABILITY, CORRECTED, DIRECTIONS, INDICATOR_KINDS, LANGS, LEVELS_SHORT, MISSING, RULE_TEXT,
    SUBJECT_KINDS, SUSPECT, check_lang, say as _say,
)

__all__ = ["display_table", "DisplayTable", "Text", "region_summary", "reports_summary", "COLUMNS", "LANGS"]

# Known columns of the API frames: (Chinese header, English header, kind). The kind picks the cell format:
#   value  number with the row's unit, NULL = not reported     count  number, NULL = '—'
#   int    plain integer (years, line numbers)                 label  indicator name, code as tooltip
#   rank   'rank / n_regions' ('2 / 3') unless n_regions is a column of its own
#   text / raw / quote / code / years   escaped text (raw monospace, quote shortened, code small, years unbroken)
#   level / status / comparability / severity / rule / flags   fixed vocabulary shown as words or badges
COLUMNS: dict[str, tuple[str, str, str]] = {
    "label": ("指标", "Indicator", "label"),
    "label_zh": ("指标", "Indicator (Chinese)", "label"),
    "label_en": ("英文名称", "Indicator", "label"),
    "indicator_code": ("代码", "Code", "code"),
    "region": ("地区代码", "Region slug", "code"),
    "region_zh": ("地区", "Region (Chinese)", "text"),
    "region_en": ("英文名称", "Region", "text"),
    "subject_zh": ("报告主体", "Subject (Chinese)", "text"),
    "subject_en": ("英文名称", "Subject", "text"),
    "report_id": ("报告编号", "Report", "code"),
    "entity": ("学校/单位", "School / unit", "text"),
    "level": ("学段", "Level", "level"),
    "year": ("年份", "Year", "int"),
    "years": ("年份", "Years", "years"),
    "data_year": ("数据年份", "Data year", "int"),
    "edition_year": ("报告年版", "Edition", "int"),
    "data_period_start": ("数据期间起", "Period from", "text"),
    "data_period_end": ("数据期间止", "Period to", "text"),
    "value": ("数值", "Value", "value"),
    "median_others": ("同学段其他地区中位数", "Median of the others (same level)", "value"),
    "unit": ("单位", "Unit", "text"),
    "status": ("状态", "Status", "status"),
    "flags": ("质量标记", "Quality flags", "flags"),
    "badge": ("标记", "Mark", "badge"),
    "flag_text": ("存疑原因或更正说明", "Why suspect, or the correction", "reason"),
    "kind": ("指标类型", "Kind", "indicator_kind"),
    "direction": ("方向", "Direction", "direction"),
    "subject_kind": ("主体类型", "Subject kind", "subject_kind"),
    "rank_note": ("名次说明", "What the rank compares", "text"),
    "rank_order": ("排序", "Order", "text"),
    "n_statements": ("陈述数", "Statements", "count"),
    "rank": ("名次", "Rank", "rank"),
    "n_regions": ("报告地区数", "Regions reporting", "count"),
    "comparability": ("可比性", "Comparability", "comparability"),
    "raw": ("原文数值", "As printed", "raw"),
    "quote": ("原文", "Quote", "quote"),
    "line": ("行号", "Line", "int"),
    "source_file": ("来源文件", "Source file", "code"),
    "rule": ("规则", "Rule", "rule"),
    "severity": ("严重程度", "Severity", "severity"),
    "message": ("说明", "Message", "text"),
    "message_zh": ("说明", "Message (Chinese)", "text"),
    "message_en": ("英文说明", "Message", "text"),
    "method": ("来源方式", "Method", "text"),
    "pick_reason": ("取值依据", "Why this value", "text"),
    "indicators_reported": ("有数值的指标", "Indicators with a value", "count"),
    "values_reported": ("数值个数", "Values", "count"),
    "values_missing": ("未报告的陈述", "Statements 'not reported'", "count"),
}

# Fixed vocabulary: (Chinese, English, badge class); class "w" is drawn amber, "e" red, "na" grey.
_STATUS = {"suspect": (*SUSPECT, "w"), "missing": (*MISSING, "na"), "absent": (*ABSENT, "na")}
_BADGE_CSS = {SUSPECT[0]: "w", SUSPECT[1]: "w", CORRECTED[0]: "ok", CORRECTED[1]: "ok"}
_REPORTED = "✓"  # status 'reported', the common case: a quiet tick (the table's note says what it means)
_SEVERITY = {"error": ("错误", "error", "e"), "warning": ("警告", "warning", "w")}
# The comparability notes of ``analysis.compare``, as short badges.
_COMPARABILITY = {note: words for note, words in COMPARABILITY.items() if note != "comparable"}
_QUALIFIER_MARK = {"lower_bound": "≥ ", "approximate": "≈ "}  # '3300余' is at least 3300; '约3300' about it
_NOT_REPORTED = MISSING
_RANK_OF_N = ("名次", "Rank of n")  # the header of 'rank / n_regions' ('2 / 3')
_EMPTY = "—"
_QUOTE_CHARS = 80
_TEXT_ROWS = 20  # rows in the plain-text form; the HTML shows them all

_NUMBER_CSS = "text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums"
_NUMERIC_KINDS = ("value", "count", "int", "rank")
_STYLE = (
    "<style>"
    ".vqr-dt{overflow-x:auto;margin:.3rem 0 1rem}"
    ".vqr-dt table{border-collapse:collapse;font-size:.85rem;line-height:1.45;margin:0}"
    ".vqr-dt caption{caption-side:top;text-align:left;font-weight:600;padding:.2rem 0}"
    ".vqr-dt th,.vqr-dt td{border:0;border-bottom:1px solid #d9e2ec;padding:.25rem .55rem;text-align:left;"
    "vertical-align:top}"
    ".vqr-dt thead th{background:#f2f5f8;font-weight:600;vertical-align:bottom}"
    ".vqr-dt thead th span{font-weight:400;font-size:.9em;color:#52606d}"
    ".vqr-dt td:first-child{min-width:9em}"
    ".vqr-dt .na{color:#7b8794;font-style:italic;font-size:.85em}"
    ".vqr-dt .nw{white-space:nowrap}"
    ".vqr-dt .ok{color:#3f7d4f}"
    ".vqr-dt .raw{font-family:ui-monospace,monospace}"
    ".vqr-dt .code{font-size:.8em;color:#52606d}"
    ".vqr-dt .b{display:inline-block;border-radius:4px;padding:0 .35rem;font-size:.78em;white-space:nowrap;"
    "background:#eef2f6;color:#52606d;margin:0 .15rem .1rem 0}"
    ".vqr-dt .b.ok{background:none;color:#3f7d4f;padding:0}"
    ".vqr-dt .b.x{white-space:normal}"
    ".vqr-dt .b.w{background:#fff4d6;color:#8a5a00}"
    ".vqr-dt .b.e{background:#fde8e8;color:#a61b1b}"
    ".vqr-dt p{font-size:.8rem;color:#52606d;margin:.3rem 0 0}"
    "</style>"
)


_check_lang = check_lang


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


# ---------------------------------------------------------------------------------------------- cells


@dataclass(frozen=True)
class _Cell:
    """One cell: its plain text, its inner HTML, the class of its ``<td>`` ("na" gaps, "ok" …) and a tooltip."""

    text: str
    html: str
    css: str = ""
    title: str | None = None

    def td(self) -> str:
        attrs = (f' class="{self.css}"' if self.css else "") + (f' title="{_e(self.title)}"' if self.title else "")
        return f"<td{attrs}>{self.html}</td>"


def _plain(text: str, css: str = "", *, title: str | None = None) -> _Cell:
    return _Cell(text, _e(text), css, title)


def _badge(zh: str, en: str, css: str, lang: str, *, title: str | None = None) -> _Cell:
    text = _say(zh, en, lang)
    tip = f' title="{_e(title)}"' if title else ""
    return _Cell(text, f'<span class="b {css}"{tip}>{_e(text)}</span>')


def _missing(lang: str) -> _Cell:
    return _plain(_say(*_NOT_REPORTED, lang), "na")


def _empty() -> _Cell:
    return _plain(_EMPTY, "na")


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _int_text(value) -> str:
    return str(int(value)) if isinstance(value, (int, float)) else str(value)


# ---------------------------------------------------------------------------------------------- table


@dataclass(eq=False)
class DisplayTable:
    """A frame made readable. ``data`` is the frame as given (for CSV export); ``columns`` what is shown."""

    data: pl.DataFrame
    columns: list[str]
    headers: list[str]
    rows: list[list[_Cell]]
    numeric: list[bool]
    lang: str
    caption: str | None = None
    note: str = ""

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{_header_html(h)}</th>" for h in self.headers)
        body = "".join("<tr>" + "".join(c.td() for c in row) + "</tr>\n" for row in self.rows)
        caption = f"<caption>{_e(self.caption)}</caption>" if self.caption else ""
        note = f"<p>{_e(self.note)}</p>" if self.note else ""
        # Numbers are right-aligned by column, not by a class on every cell (a table of 150 rows is lighter).
        # The class names the columns, so two tables on one page never disagree about the same class.
        right = [i + 1 for i, numeric in enumerate(self.numeric) if numeric]
        align, table = "", "<table>"
        if right:
            name = "vqr-r" + "-".join(map(str, right))
            cells = ",".join(f".{name} td:nth-child({i})" for i in right)
            heads = ",".join(f".{name} th:nth-child({i})" for i in right)
            align = f"<style>{cells}{{{_NUMBER_CSS}}}{heads}{{text-align:right}}</style>"
            table = f'<table class="{name}">'
        return (f'<div class="vqr-dt">{_STYLE}{align}{table}{caption}<thead><tr>{head}</tr></thead>\n'
                f"<tbody>\n{body}</tbody></table>{note}</div>")

    def __repr__(self) -> str:
        return self.text()

    def text(self, max_rows: int | None = _TEXT_ROWS) -> str:
        """Aligned plain text (Chinese characters count double); at most ``max_rows`` rows."""
        rows = self.rows if max_rows is None else self.rows[:max_rows]
        grid = [self.headers] + [[_short(c.text, 40) for c in row] for row in rows]
        widths = [max(_width(line[i]) for line in grid) for i in range(len(self.headers))]
        lines = ["  ".join(_pad(cell, widths[i], right=self.numeric[i] and n > 0)
                           for i, cell in enumerate(line)).rstrip() for n, line in enumerate(grid)]
        lines.insert(1, "  ".join("-" * w for w in widths))
        if self.caption:
            lines.insert(0, self.caption)
        if len(rows) < len(self.rows):
            lines.append(f"… {len(self.rows) - len(rows)} " + _say("行未显示", "more rows", self.lang))
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)


def _header_html(header: str) -> str:
    """'指标 / Indicator' on two lines, the English under the Chinese: bilingual headers stay narrow."""
    zh, sep, en = header.partition(" / ")
    return f'{_e(zh)}<br><span lang="en">{_e(en)}</span>' if sep else _e(header)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, *, right: bool) -> str:
    fill = " " * (width - _width(text))
    return fill + text if right else text + fill


def _default_columns(frame: pl.DataFrame) -> list[str]:
    """Every column, except what another one already carries: the code (the label's tooltip), the unit
    (written after each number), the flags (the status badge's tooltip) and row ids."""
    folded = {"obs_id", "related_obs_id"}
    if "label" in frame.columns:
        folded |= {"indicator_code", "label_zh", "label_en"}
    if any(_kind(frame, c) == "value" for c in frame.columns):
        folded.add("unit")
    if "status" in frame.columns:
        folded.add("flags")
    if "value" in frame.columns:
        folded.add("badge")  # drawn beside the value itself
    folded.add("cell_badges")  # drawn beside each region's number in compare_table
    if "rank" in frame.columns:
        folded.add("n_regions")
    return [c for c in frame.columns if c not in folded]


def _kind(frame: pl.DataFrame, column: str) -> str:
    if column in COLUMNS:
        return COLUMNS[column][2]
    # A column the vocabulary does not know: a number is a value in the row's unit when the frame has one (the
    # region columns of ``compare_table``), else a plain count; anything else is text.
    if frame.schema[column].is_numeric():
        return "value" if "unit" in frame.columns else "count"
    return "text"


def _header(column: str, lang: str, shown: Sequence[str], frame: pl.DataFrame) -> str:
    if column == "rank" and _rank_of_n(frame, shown):
        return _say(*_RANK_OF_N, lang)
    if column in COLUMNS:
        zh, en, _ = COLUMNS[column]
        return _say(zh, en, lang)
    return column


def _rank_of_n(frame: pl.DataFrame, shown: Sequence[str]) -> bool:
    return "n_regions" in frame.columns and "n_regions" not in shown


def _column(frame: pl.DataFrame, name: str) -> list:
    return frame.get_column(name).to_list() if name in frame.columns else [None] * frame.height


def _cells(frame: pl.DataFrame, column: str, lang: str, shown: Sequence[str]) -> list[_Cell]:
    kind = _kind(frame, column)
    values = frame.get_column(column).to_list()
    if kind == "rank" and _rank_of_n(frame, shown):
        return [_plain(f"{int(r)} / {int(n)}") if r is not None and n is not None else _empty()
                for r, n in zip(values, _column(frame, "n_regions"))]
    if kind == "value":
        texts = frame.select(value_text(column, "unit" if "unit" in frame.columns else pl.lit(""), lang=lang)
                             ).to_series().to_list()
        qualifiers = _column(frame, "qualifier") if column == "value" else [None] * frame.height
        # median_others is a statistic, not a statement: empty means "no other region", not "not reported".
        gap = _empty if column == "median_others" else (lambda: _missing(lang))
        cells = [_plain(_QUALIFIER_MARK.get(q, "") + text) if text is not None else gap()
                 for text, q in zip(texts, qualifiers)]
        return [_with_badge(cell, badge, reason) for cell, (badge, reason)
                in zip(cells, _value_badges(frame, column, lang))]
    if kind == "label":
        return [_plain(v, title=code) if v is not None else _empty()
                for v, code in zip(values, _column(frame, "indicator_code"))]
    if kind == "status":
        return [_status(v, flag, lang) for v, flag in zip(values, _column(frame, "flags"))]
    return [_cell(kind, v, lang) for v in values]


def _value_badges(frame: pl.DataFrame, column: str, lang: str) -> list[tuple[str | None, str | None]]:
    """(badge, reason) per row for the numbers of ``column``: the frame's own ``badge`` / ``flag_text`` for its
    value, or for a region column of ``compare_table`` the badges it lists per region."""
    if column == "value" and "badge" in frame.columns:
        return list(zip(_column(frame, "badge"), _column(frame, "flag_text")))
    if "cell_badges" in frame.columns and column not in ("value", "median_others"):
        out = []
        for marks in _column(frame, "cell_badges"):
            mark = next((m for m in marks or [] if m["column"] == column), None)
            out.append((mark["badge"], mark["reason"]) if mark else (None, None))
        return out
    return [(None, None)] * frame.height


def _with_badge(cell: _Cell, badge: str | None, reason: str | None) -> _Cell:
    """The value with its 存疑 / 已更正 badge beside it; the reason is the badge's tooltip and the table's note."""
    if not badge:
        return cell
    css = _BADGE_CSS.get(badge, "w")
    tip = f' title="{_e(reason)}"' if reason else ""
    return _Cell(f"{cell.text} [{badge}]", f'{cell.html} <span class="b {css}"{tip}>{_e(badge)}</span>', cell.css,
                 cell.title)


def _status(status: str | None, flags: str | None, lang: str) -> _Cell:
    """The status badge; a flagged value gets a ⚑ whose tooltip is the flag's message."""
    if status is None:
        return _empty()
    if status == "reported":
        cell = _Cell(_REPORTED, _REPORTED, "ok")
    else:
        cell = _badge(*_STATUS.get(status, (status, status, "w")), lang)
    if not flags:
        return cell
    return _Cell(f"{cell.text} ⚑", f'{cell.html}<span class="b w" title="{_e(flags)}">⚑</span>', cell.css)


def _cell(kind: str, value, lang: str) -> _Cell:
    if value is None:
        return _empty()
    if kind in ("count", "rank"):
        return _plain(format_number(value))
    if kind == "int":
        return _plain(_int_text(value))
    if kind == "level":
        return _plain(_say(*LEVELS_SHORT.get(value, (value, value)), lang))
    if kind in ("indicator_kind", "direction", "subject_kind"):
        words = {"indicator_kind": INDICATOR_KINDS, "direction": DIRECTIONS, "subject_kind": SUBJECT_KINDS}[kind]
        return _plain(_say(*words.get(value, (value, value)), lang)) if value else _empty()
    if kind == "badge":
        return _Cell(str(value), f'<span class="b {_BADGE_CSS.get(value, "w")}">{_e(value)}</span>')
    if kind == "reason":
        return _plain(_short(str(value), _QUOTE_CHARS * 2), title=str(value))
    if kind == "severity":
        zh, en, css = _SEVERITY.get(value, (value, value, "w"))
        return _badge(zh, en, css, lang)
    if kind == "comparability":
        if value in _COMPARABILITY:  # the longest badge: it may wrap
            return _badge(*_COMPARABILITY[value], "w x", lang)
        return _badge("可比", "comparable", "ok", lang) if value == "comparable" else _plain(str(value))
    if kind == "rule":
        zh, english = RULE_TEXT.get(value, (value, value))
        return _plain(zh, "nw", title=english) if lang == "zh" else _plain(english)
    if kind == "flags":
        return _badge("⚑ 已标记", "⚑ flagged", "w", lang, title=value)
    if kind == "raw":
        return _plain(str(value), "raw")
    if kind == "quote":
        return _plain(_short(str(value), _QUOTE_CHARS))
    if kind == "code":
        return _plain(str(value), "code")
    if kind == "years":  # '2023, 2024, 2025' on one line
        return _plain(str(value), "nw")
    return _plain(str(value))


def _note(frame: pl.DataFrame, shown: int, lang: str) -> str:
    """One line under the table: how many rows, what the quiet marks mean, and how many rows are suspect,
    not reported, flagged or mixed."""
    counts: list[tuple[str, str, int]] = []
    if "status" in frame.columns:
        status = frame.get_column("status")
        counts += [(zh, en, int((status == key).sum())) for key, (zh, en, _) in _STATUS.items()]
        if (status == "reported").any():
            counts.append((f"{_REPORTED} = 已报告", f"{_REPORTED} = reported", -1))
    if "flags" in frame.columns:
        counts.append(("⚑ 有质量标记", "⚑ with a quality flag", int(frame.get_column("flags").is_not_null().sum())))
    if "comparability" in frame.columns:
        mixed = int(frame.get_column("comparability").is_in(list(_COMPARABILITY)).sum())
        counts.append(("学段或年份不同", "mixed levels or years", mixed))
    counts = [c for c in counts if c[2] != 0]

    def line(zh: bool) -> str:
        head = f"共 {frame.height} 行" if zh else f"{frame.height} rows"
        if shown < frame.height:
            head += f"（显示前 {shown} 行）" if zh else f" (first {shown} shown)"
        parts = [head] + [(z if zh else e) + ("" if n < 0 else (f" {n}" if zh else f": {n}")) for z, e, n in counts]
        return "；".join(parts) + "。" if zh else "; ".join(parts) + "."

    return f"{line(True)} {line(False)}" if lang == "zh" else line(False)


def display_table(frame: pl.DataFrame, columns: Sequence[str] | None = None, *, lang: str = "zh",
                  caption: str | None = None, max_rows: int | None = None) -> DisplayTable:
    """A readable table of ``frame`` (see the module docstring for what it shows and how).

    ``columns`` picks and orders the columns shown (default: every column except the indicator code, the unit,
    the flags, the number of regions and row ids, which the label's tooltip, each number, the status badge and
    the rank ('2 / 3') already carry).
    ``max_rows`` cuts long frames (default: all rows). Headers follow ``lang``; the cells' own text is the
    frame's.
    """
    check_lang(lang)
    if not isinstance(frame, pl.DataFrame):
        raise VqrError(f"display_table needs a polars DataFrame from the vqr API, not {type(frame).__name__}")
    shown = list(columns) if columns is not None else _default_columns(frame)
    unknown = [c for c in shown if c not in frame.columns]
    if unknown:
        raise VqrError(f"column(s) {', '.join(map(repr, unknown))} not in the frame; "
                       f"it has {', '.join(frame.columns)}")
    part = frame if max_rows is None else frame.head(max_rows)
    rows = [list(cells) for cells in zip(*[_cells(part, c, lang, shown) for c in shown])]
    if not rows and shown:
        rows = [[_plain(_say("无", "none", lang), "na")] + [_plain("") for _ in shown[1:]]]
    numeric = [_kind(frame, c) in _NUMERIC_KINDS for c in shown]
    headers = [_header(c, lang, shown, frame) for c in shown]
    return DisplayTable(frame, shown, headers, rows, numeric, lang, caption,
                        _note(frame, part.height, lang) if frame.height else "")


# ------------------------------------------------------------------------------------------------ texts


@dataclass(frozen=True)
class Text:
    """A short Markdown text for a notebook cell's output (shown as Markdown, printed as itself)."""

    markdown: str

    def _repr_markdown_(self) -> str:
        return self.markdown

    def __repr__(self) -> str:
        return self.markdown

    def __str__(self) -> str:
        return self.markdown


# Every ASCII punctuation character may be backslash-escaped in CommonMark, and an escaped one is always a
# literal. Escaping all of them keeps data from opening a link or image (`[`, `!`, `(`), raw HTML (`<`, `&`),
# emphasis or code (`*`, `_`, `` ` ``) — and from being autolinked: renderers that link bare URLs (nbconvert's
# mistune, GFM, pandoc) match `http://` or `www.` in the source, which `http\:\/\/` and `www\.` are not.
_MD_PUNCTUATION = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])""")


def _md(text: object) -> str:
    """Data (registry fields, report text) in Markdown, shown as its own characters and never as markup."""
    return _MD_PUNCTUATION.sub(r"\\\1", " ".join(str(text).split()))


def _both(zh: str, en: str, lang: str) -> Text:
    return Text(f"{zh}\n\n{en}" if lang == "zh" else en)


def region_summary(region: str | None = None, *, lang: str = "zh", db=None) -> Text:
    """What the region's report is and what the database holds for it: subject, level, edition, data period,
    how many indicators have a value, how many statements say 'not reported', how many values are flagged,
    and the source file with its hash."""
    from vqr_analysis.analysis.api import coverage, quality_flags, region_info

    check_lang(lang)
    info = region_info(region, db=db)
    cov = coverage(db=db).filter(pl.col("region") == info["region"]).row(0, named=True)
    n_flags = quality_flags(info["region"], db=db).height
    years = cov["years"] or "—"
    source = f"`{info['file'].replace('`', '')}`（sha256 `{info['sha256'][:12]}…`）"
    zh = (f"**{_md(info['subject_zh'])}** · {_md(info['level_zh'])} · 质量年度报告 {info['edition_year']} 年版 · "
          f"数据期间 {info['data_period_start']} 至 {info['data_period_end']}（数据年份 {info['data_year']}）。\n\n"
          f"数据库中本报告有数值的指标 **{cov['indicators_reported']}** 项（{cov['values_reported']} 个数值，"
          f"年份 {years}）；写明未报告的陈述 **{cov['values_missing']}** 条；质量标记 **{n_flags}** 条。"
          f"来源文件 {source}，发布单位：{_md(info['publisher'])}。")
    en = (f"**{_md(info['subject_en'])}** · {_md(info['level_en'])} education · quality report, edition "
          f"{info['edition_year']} · school year {info['data_period_start']} – {info['data_period_end']} "
          f"(data year {info['data_year']}).\n\n"
          f"The database holds **{cov['indicators_reported']}** indicators with a value for this report "
          f"({cov['values_reported']} values, years {years}), **{cov['values_missing']}** statements marked "
          f"not reported and **{n_flags}** quality flags. Source: {source.replace('（', ' (').replace('）', ')')}.")
    return _both(zh, en, lang)


def reports_summary(*, lang: str = "zh", db=None) -> Text:
    """How many reports there are, of which education levels and data years: the comparability context every
    cross-region view shares."""
    from vqr_analysis.analysis.api import reports

    check_lang(lang)
    reps = reports(db=db)
    by_level = reps.group_by("level", "level_zh", "level_en").len().sort("level")
    years = sorted(set(reps.get_column("data_year").to_list()))
    span = f"{years[0]}–{years[-1]}" if len(years) > 1 else (str(years[0]) if years else "—")
    levels_zh = "、".join(f"{_md(r['level_zh'])} {r['len']} 份" for r in by_level.iter_rows(named=True))
    levels_en = ", ".join(f"{r['len']} {_md(r['level_en']).lower()}" for r in by_level.iter_rows(named=True))
    mixed_zh = mixed_en = ""
    if by_level.height > 1 or len(years) > 1:
        mixed_zh = "学段或数据年份不一致的数值不宜直接比较，图表副标题和表格会标出这种情况。"
        mixed_en = ("Values that mix levels or data years do not compare directly; chart subtitles and table "
                    "badges say where they do.")
    zh = f"共 **{reps.height}** 份报告：{levels_zh}；数据年份 {span}。{mixed_zh}"
    en = f"**{reps.height}** reports: {levels_en}; data years {span}. {mixed_en}".rstrip()
    return _both(zh, en, lang)
