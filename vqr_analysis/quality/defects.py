"""Source defects that only a look across statements shows: a report contradicting its own counts.

:mod:`~vqr_analysis.quality.rules` already compares the statements of one key (``conflict``: prose against a
table, two tables, one school in two per-school tables), parts against their totals (``parts_le_total``, also
across tables, e.g. a school's bachelor-degree teachers against its full-time teachers) and stated ratios and
per-student values against the report's own total ÷ students (``ratio_consistency``). This module adds what
those rules cannot see, each explained in plain Chinese and English (labels, not codes; numbers as printed):

- ``share_vs_counts``: a rate or share that disagrees with the counts stated with it ('毕业生 378 人，已就业
  370 人，就业率 90%'): the part must be stated in the same sentence (prose) or the same table; the total is
  taken from there too, else from the report's own statement of it;
- ``schools_above_total``: per-school tables whose schools together hold more than the report's total for the
  same indicator and year (six schools' teachers adding up to more than the region's teachers).

Pure over rows read from ``observations``; :func:`source_defects` returns the findings for ``run_checks`` to
store, and :data:`DEFECT_RULES` their severity and description.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from vqr_analysis.core.numbers import format_number
from vqr_analysis.core.vocab import RULE_TEXT
from vqr_analysis.sources.codebook import Codebook

__all__ = ["DefectFlag", "Share", "SHARES", "PartSum", "PART_SUMS", "DEFECT_RULES", "source_defects"]

# rule → (severity, English description, Chinese description)
DEFECT_RULES = {
    "share_vs_counts": ("warning", *reversed(RULE_TEXT["share_vs_counts"])),
    "schools_above_total": ("error", *reversed(RULE_TEXT["schools_above_total"])),
    "parts_above_total": ("error", *reversed(RULE_TEXT["parts_above_total"])),
}


@dataclass(frozen=True)
class Share:
    """``result`` (per cent) ≈ ``part`` ÷ ``total`` × 100."""

    result: str
    part: str
    total: str


SHARES = (
    Share("placement_rate", "graduates_placed", "graduates"),
    Share("further_study_share", "graduates_further_study", "graduates"),
    Share("dual_qualified_teacher_share", "dual_qualified_teachers", "full_time_teachers"),
    Share("senior_title_teacher_share", "senior_title_teachers", "full_time_teachers"),
    Share("masters_teacher_share", "masters_teachers", "full_time_teachers"),
    Share("bachelor_teacher_share", "bachelor_teachers", "full_time_teachers"),
    Share("physical_test_pass_rate", "physical_test_passed", "physical_test_participants"),
)


@dataclass(frozen=True)
class PartSum:
    """``parts`` never overlap, so together they are at most ``total`` (income by source, expenditure by use,
    graduates by industry, resources by level). Parts that may overlap (courses online and school-enterprise,
    employment categories A–D) are not listed."""

    total: str
    parts: tuple[str, ...]


PART_SUMS = (
    PartSum("funding_income_total", ("income_education_business", "income_per_student_appropriation",
                                     "special_appropriation", "income_government_funds")),
    PartSum("funding_expenditure_total", (
        "expenditure_infrastructure", "expenditure_equipment", "expenditure_teaching", "expenditure_reform_research",
        "expenditure_staff_development", "expenditure_salaries", "expenditure_student_aid",
        "expenditure_party_ideological")),
    PartSum("employment_three_industries", ("employment_primary", "employment_secondary", "employment_tertiary")),
    PartSum("resource_libraries", ("resource_libraries_national", "resource_libraries_provincial",
                                   "resource_libraries_school")),
    PartSum("quality_online_courses", ("quality_online_courses_national", "quality_online_courses_provincial",
                                       "quality_online_courses_school")),
    PartSum("virtual_sim_bases", ("virtual_sim_bases_national", "virtual_sim_bases_provincial",
                                  "virtual_sim_bases_school")),
)
# A share may differ from its counts by its own printed rounding, and by at least half a percentage point:
# reports round shares to whole per cent ('落实率为 99%' for 375 ÷ 378).
_SHARE_POINTS = 0.5
# Schools may add up to a little more than a total printed with rounding; more is a defect.
_SUM_TOLERANCE = 0.005
_ADDITIVE_KINDS = {"count", "duration", "currency_10k_yuan", "area"}


@dataclass(frozen=True)
class DefectFlag:
    obs_id: int
    rule: str
    message_zh: str
    message_en: str
    related_obs_id: int | None = None


@dataclass(frozen=True)
class _Row:
    obs_id: int
    report_id: str
    entity: str | None
    code: str
    year: int | None
    value: float
    raw: str
    raw_unit: str | None
    line: int
    method: str
    quote: str
    source_table: str | None

    @property
    def scope(self) -> tuple:
        """Where the statement was made: its table, or its sentence (the quote) in prose."""
        return (self.report_id, self.entity or "", self.year, self.source_table or self.quote)

    @property
    def key(self) -> tuple:
        return (self.report_id, self.entity or "", self.code, self.year)


def _number(value: float) -> str:
    """A value as a reader writes it (core.numbers): thousands separators, at most two decimals."""
    return format_number(value, decimals=2)


def _printed(row: _Row) -> str:
    return f"{row.raw}{row.raw_unit or ''}"


def _where(row: _Row) -> tuple[str, str]:
    kind = ("表格", "table") if row.method == "table" else ("正文", "text")
    return f"第 {row.line} 行{kind[0]}", f"{kind[1]}, line {row.line}"


def _label(codebook: Codebook, code: str) -> tuple[str, str]:
    item = codebook[code]
    return item.name_zh, item.name_en


def _rounding(row: _Row) -> float:
    """Half a unit of the last printed digit ('97.9' stands for 97.85-97.95)."""
    decimals = row.raw.rpartition(".")[2] if "." in row.raw else ""
    return 0.5 * 10 ** -len(decimals)


def _read(con: duckdb.DuckDBPyConnection) -> list[_Row]:
    rows = con.execute(
        """SELECT obs_id, report_id, entity, indicator_code, year, value, raw, raw_unit, line, method, quote,
                  source_table
           FROM observations
           WHERE value IS NOT NULL AND status = 'reported' AND qualifier = 'exact' AND method <> 'correction'
           ORDER BY obs_id"""
    ).fetchall()
    return [_Row(*row) for row in rows]


def source_defects(con: duckdb.DuckDBPyConnection, codebook: Codebook) -> list[DefectFlag]:
    """Every finding of the rules above over the clean, exact statements in ``observations``."""
    rows = [r for r in _read(con) if r.code in codebook]
    return _shares(rows, codebook) + _schools_above_total(rows, codebook) + _parts_above_total(rows, codebook)


def _first_by(rows: list[_Row], key) -> dict:
    """key(row) → the first row (tables before prose, then source order)."""
    out: dict = {}
    for row in sorted(rows, key=lambda r: (r.method != "table", r.obs_id)):
        out.setdefault(key(row), row)
    return out


def _shares(rows: list[_Row], codebook: Codebook) -> list[DefectFlag]:
    in_scope = _first_by(rows, lambda r: (r.scope, r.code))
    in_report = _first_by(rows, lambda r: r.key)
    flags = []
    for share in SHARES:
        if not all(code in codebook for code in (share.result, share.part, share.total)):
            continue
        for stated in (r for r in rows if r.code == share.result):
            part = in_scope.get((stated.scope, share.part))
            total = in_scope.get((stated.scope, share.total)) or \
                in_report.get((stated.report_id, stated.entity or "", share.total, stated.year))
            if part is None or total is None or not total.value:
                continue
            computed = part.value / total.value * 100
            if abs(stated.value - computed) <= max(_SHARE_POINTS, _rounding(stated)):
                continue
            (share_zh, share_en), (part_zh, part_en), (total_zh, total_en) = (
                _label(codebook, c) for c in (share.result, share.part, share.total))
            flags.append(DefectFlag(
                stated.obs_id, "share_vs_counts",
                f"{share_zh}印为 {_printed(stated)}（{_where(stated)[0]}），但{part_zh} {_number(part.value)}"
                f"（{_where(part)[0]}）÷ {total_zh} {_number(total.value)}（{_where(total)[0]}）= "
                f"{_number(computed)}%，相差 {_number(abs(stated.value - computed))} 个百分点。",
                f"{share_en} is printed as {_printed(stated)} ({_where(stated)[1]}), but {part_en} "
                f"{_number(part.value)} ({_where(part)[1]}) ÷ {total_en} {_number(total.value)} "
                f"({_where(total)[1]}) = {_number(computed)}%, {_number(abs(stated.value - computed))} "
                "percentage points apart.",
                part.obs_id))
    return flags


def _schools_above_total(rows: list[_Row], codebook: Codebook) -> list[DefectFlag]:
    totals = _first_by([r for r in rows if r.entity is None], lambda r: r.key)
    per_school = _first_by([r for r in rows if r.entity and r.source_table], lambda r: r.key)
    groups: dict[tuple, list[_Row]] = {}
    for row in per_school.values():
        groups.setdefault((row.report_id, row.code, row.year), []).append(row)
    flags = []
    for (report_id, code, year), schools in sorted(groups.items(), key=lambda kv: kv[1][0].obs_id):
        total = totals.get((report_id, "", code, year))
        if total is None or len(schools) < 2 or codebook[code].unit_kind not in _ADDITIVE_KINDS:
            continue
        added = sum(s.value for s in schools)
        if added <= total.value * (1 + _SUM_TOLERANCE):
            continue
        name_zh, name_en = _label(codebook, code)
        tables = sorted({s.source_table for s in schools})
        flags.append(DefectFlag(
            total.obs_id, "schools_above_total",
            f"{year} 年{name_zh}总数为 {_printed(total)}（{_where(total)[0]}），但分校表格中 {len(schools)} 所学校"
            f"合计 {_number(added)}（{'、'.join(tables)}），超过总数 {_number(added - total.value)}。",
            f"The {year} total of {name_en} is {_printed(total)} ({_where(total)[1]}), but the "
            f"{len(schools)} schools of the per-school tables add up to {_number(added)} ({'; '.join(tables)}), "
            f"{_number(added - total.value)} more than the total.",
            schools[0].obs_id))
    return flags


def _parts_above_total(rows: list[_Row], codebook: Codebook) -> list[DefectFlag]:
    """Each statement of a part is taken once per report, entity and year (a table before prose), across
    tables and text; the total is the first statement of it."""
    first = _first_by(rows, lambda r: r.key)
    flags = []
    for rule in PART_SUMS:
        if not all(code in codebook for code in (rule.total, *rule.parts)):
            continue
        for (report_id, entity, code, year), total in first.items():
            if code != rule.total:
                continue
            parts = [first[k] for k in ((report_id, entity, p, year) for p in rule.parts) if k in first]
            added = sum(p.value for p in parts)
            if len(parts) < 2 or added <= total.value * (1 + _SUM_TOLERANCE) + sum(map(_rounding, parts)):
                continue
            total_zh, total_en = _label(codebook, rule.total)
            shown_zh = "、".join(f"{_label(codebook, p.code)[0]} {_printed(p)}" for p in parts)
            shown_en = "; ".join(f"{_label(codebook, p.code)[1]} {_printed(p)}" for p in parts)
            flags.append(DefectFlag(
                total.obs_id, "parts_above_total",
                f"{year} 年{total_zh}为 {_printed(total)}（{_where(total)[0]}），但其中互不重叠的各部分（{shown_zh}）"
                f"合计 {_number(added)}，超过总数 {_number(added - total.value)}。",
                f"The {year} {total_en} is {_printed(total)} ({_where(total)[1]}), but its parts, which do not "
                f"overlap ({shown_en}), add up to {_number(added)}, {_number(added - total.value)} more.",
                max(parts, key=lambda p: p.value).obs_id))
    return flags
