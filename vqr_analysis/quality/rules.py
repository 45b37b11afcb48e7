"""Data tests over the built database: rules write ``quality_flags`` and mark the rows they catch ``suspect``.

The database builder calls :func:`run_checks` on every build, after all observations (table, prose and
corrections) are stored. Each rule reads its thresholds from the tables below, never from a document:

- ``extraction``: what extraction already knew (a comma printed as decimal point, …);
- ``bounds``: a value outside the plausible range of its code or unit kind (a percentage above 100, a
  per-student equipment value of 290 million yuan);
- ``parts_le_total``: a '其中' part larger than its total (child code vs ``parent_code``, plus PARTS);
- ``ratio_consistency``: a stated ratio far from the one its own parts give (students ÷ teachers vs 生师比);
- ``conflict``: one (report, entity, code, year) given different values by two statements (table vs prose,
  two sentences, two tables, one school in two per-school tables). A statement another rule already caught carries the conflict alone; when both sides are
  clean, both are marked, since the source does not say which is right.

- ``share_vs_counts`` and ``schools_above_total`` (:mod:`~vqr_analysis.quality.defects`): a rate against the
  counts stated with it, and per-school tables adding up to more than the report's total.

Corrections (method 'correction') are checked by every rule except ``conflict``: differing from the statement
they correct is their purpose.

A report whose body repeats (a 50 MB file; benchmarks/bench_large_input.py) states one key hundreds of times,
so no rule compares every pair of a key's statements: totals and preferred values are looked up once per key,
and the conflict rule compares the key's distinct values (a handful), then names each statement's first
opponent from them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import lru_cache

import duckdb
import polars as pl

from vqr_analysis.core.numbers import format_number as _n, format_value
from vqr_analysis.core.vocab import RULE_TEXT
from vqr_analysis.quality.defects import DEFECT_RULES, source_defects
from vqr_analysis.sources.codebook import UNIT_KINDS, Codebook
from vqr_analysis.extract.values import parse_value

__all__ = ["run_checks", "RULES", "RULE_TEXT_ZH", "BOUNDS", "PARTS", "RATIOS", "Bound", "Ratio"]

_SEVERITY = {"extraction": "warning", "bounds": "error", "parts_le_total": "error", "ratio_consistency": "warning",
             "conflict": "warning", **{rule: severity for rule, (severity, _en, _zh) in DEFECT_RULES.items()}}
# rule → (severity, English description); the words of every rule live in core.vocab.RULE_TEXT.
RULES = {rule: (severity, RULE_TEXT[rule][1]) for rule, severity in _SEVERITY.items()}
RULE_TEXT_ZH = {rule: RULE_TEXT[rule][0] for rule in _SEVERITY}


@dataclass(frozen=True)
class Bound:
    """Plausible range for a code (or every code of a unit kind); ``why`` explains the limits."""

    scope: str
    low: float
    high: float
    why: str
    why_zh: str = ""


# A code's own bound replaces its unit kind's. Limits are deliberately wide: they catch unit slips
# (万元 for 元, 万册 for 册) and impossible shares, not unusual schools.
BOUNDS = [
    Bound("percent", 0, 100, "a percentage lies between 0 and 100", "百分比应在 0 到 100 之间"),
    Bound("ratio", 1, 60, "a student-teacher ratio lies between 1:1 and 60:1", "生师比应在 1:1 到 60:1 之间"),
    Bound("count", 0, 5_000_000, "a count for one region's vocational schools stays below 5 million",
          "一个地区职业学校的数量应低于 500 万"),
    Bound("duration", 0, 100_000_000, "hours for one region stay below 100 million", "一个地区的学时应低于 1 亿"),
    Bound("currency_10k_yuan", 0, 10_000_000, "an amount for one region stays below 100 billion yuan",
          "一个地区的金额应低于 1000 亿元"),
    Bound("currency_yuan", 0, 1_000_000, "a per-person amount in yuan stays below 1 million", "人均金额应低于 100 万元"),
    Bound("area", 0, 100_000_000, "an area for one region stays below 100 km²", "一个地区的面积应低于 100 平方公里"),
    Bound("bandwidth", 0, 10_000_000, "bandwidth stays below 10 Tbps", "带宽应低于 10 Tbps"),
    Bound("per_student", 0, 1_000_000, "a per-student figure stays below a million", "生均数值应低于 100 万"),
    Bound("monthly_income", 500, 50_000, "a graduate's monthly income lies between 500 and 50,000 yuan",
          "毕业生月收入应在 500 到 50,000 元之间"),
    Bound("equipment_value_per_student", 1_000, 100_000,
          "equipment per student lies between 1,000 and 100,000 yuan (national minimums are 2,500-5,000)",
          "生均仪器设备值应在 1,000 到 100,000 元之间（国家最低标准为 2,500–5,000 元）"),
    Bound("books_per_student", 5, 500, "library books per student lie between 5 and 500", "生均图书应在 5 到 500 册之间"),
    Bound("building_area_per_student", 3, 200, "building floor area per student lies between 3 and 200 m²",
          "生均建筑面积应在 3 到 200 平方米之间"),
    Bound("teaching_admin_area_per_student", 3, 100, "teaching/admin floor area per student lies between 3 and 100 m²",
          "生均教学行政用房面积应在 3 到 100 平方米之间"),
    Bound("practice_stations_per_student", 0, 5, "practice work stations per student lie between 0 and 5", "生均实践工位数应在 0 到 5 之间"),
    Bound("per_student_appropriation", 500, 100_000, "government funding per student lies between 500 and 100,000 yuan",
          "生均财政拨款应在 500 到 100,000 元之间"),
    Bound("per_student_public_funding", 100, 20_000, "public operating funds per student lie between 100 and 20,000 yuan",
          "生均公用经费应在 100 到 20,000 元之间"),
]

# Parts the codebook's parent_code does not state: (part, total).
PARTS = [
    ("senior_title_teachers", "full_time_teachers"),
    ("dual_qualified_teachers", "full_time_teachers"),
    ("bachelor_teachers", "full_time_teachers"),
    ("masters_teachers", "full_time_teachers"),
    ("graduates_placed", "graduates"),
    ("graduates_direct_employment", "graduates"),
    ("graduates_to_undergraduate", "graduates_further_study"),
]
# Unit kinds whose parts add up (a satisfaction rate is not part of another).
_ADDITIVE_KINDS = {"count", "duration", "currency_10k_yuan", "area"}
# A part may exceed its total by rounding only.
_PART_TOLERANCE = 0.005


@dataclass(frozen=True)
class Ratio:
    """``result`` ≈ numerator × factor ÷ denominator within ``tolerance`` (relative). The first code of each
    tuple that has a clean value is used."""

    result: str
    numerator: tuple[str, ...]
    denominator: tuple[str, ...]
    factor: float
    tolerance: float
    why: str
    why_zh: str = ""


# Official ratios divide by converted (折合) students and count part-time teachers by half, so a stated
# ratio may differ from the plain one by some per cent; a factor of two or ten is a defect.
RATIOS = [
    Ratio("student_teacher_ratio", ("full_time_students", "students_enrolled"), ("full_time_teachers",), 1, 0.25,
          "students ÷ full-time teachers", "在校生数 ÷ 专任教师数"),
    Ratio("equipment_value_per_student", ("equipment_value",), ("full_time_students", "students_enrolled"), 10_000,
          0.35, "equipment value (万元 × 10,000) ÷ students", "仪器设备总值（万元 × 10,000）÷ 在校生数"),
    Ratio("books_per_student", ("books_paper",), ("full_time_students", "students_enrolled"), 1, 0.5,
          "paper books ÷ students", "纸质图书 ÷ 在校生数"),
    Ratio("computers_per_student", ("computers",), ("full_time_students", "students_enrolled"), 1, 0.25,
          "computers ÷ students", "计算机 ÷ 在校生数"),
    Ratio("building_area_per_student", ("building_area",), ("full_time_students", "students_enrolled"), 1, 0.25,
          "building area ÷ students", "建筑面积 ÷ 在校生数"),
]

# Two exact statements differ when they disagree by more than this share; an approximate one ('约', '余')
# by more than _APPROX_TOLERANCE.
_EXACT_TOLERANCE = 0.005
_APPROX_TOLERANCE = 0.10


@dataclass
class _Obs:
    obs_id: int
    report_id: str
    entity: str | None
    code: str
    year: int | None
    value: float | None
    unit: str
    raw: str
    raw_unit: str | None
    line: int
    status: str
    method: str
    qualifier: str
    flag: str | None

    def key(self) -> tuple:
        return (self.report_id, self.entity or "", self.code, self.year)

    def shown(self, lang: str) -> str:
        """The statement as printed and where: '原文“51”，第 30 行表格' / "printed '51', table line 30"."""
        printed = f"{self.raw}{self.raw_unit or ''}"
        if lang == "zh":
            where = {"table": "表格", "prose": "正文", "correction": "更正"}.get(self.method, self.method)
            return f"原文“{printed}”，第 {self.line} 行{where}"
        where = {"prose": "text"}.get(self.method, self.method)
        return f"printed '{printed}', {where} line {self.line}"


@dataclass
class _Flag:
    """One finding, said in Chinese and in English (labels, not codes; numbers as the formatter writes them)."""

    obs_id: int
    rule: str
    message_zh: str
    message_en: str
    related_obs_id: int | None = None

    @property
    def message(self) -> str:
        return f"{self.message_zh} / {self.message_en}"


def _names(codebook: Codebook | None, code: str) -> tuple[str, str]:
    """The code's display labels (Chinese, English); the code itself only without a codebook (unit tests)."""
    if codebook is not None and code in codebook:
        return codebook[code].label_zh, codebook[code].label_en
    return code, code


def run_checks(con: duckdb.DuckDBPyConnection, codebook: Codebook) -> None:
    """Run every rule over ``observations``; write ``quality_flags`` and mark flagged rows ``suspect``."""
    rows = con.execute(
        """SELECT obs_id, report_id, entity, indicator_code, year, value, unit, raw, raw_unit, line, status,
                  method, qualifier, flag
           FROM observations ORDER BY obs_id"""
    ).fetchall()
    observations = [_Obs(*row) for row in rows]
    flags: list[_Flag] = []
    flags += _extraction(observations, codebook)
    flags += _bounds(observations, codebook)
    flags += _parts(observations, codebook)
    flags += _ratios(observations, {f.obs_id for f in flags}, codebook)
    flags += _conflicts(observations, {f.obs_id for f in flags}, codebook)
    # Source defects across statements (quality.defects): messages in Chinese and English.
    flags += [_Flag(d.obs_id, d.rule, d.message_zh, d.message_en, d.related_obs_id)
              for d in source_defects(con, codebook)]
    if not flags:
        return
    # One bulk insert from a frame (executemany costs a statement per flag: seconds for thousands of flags).
    flags_df = pl.DataFrame(
        [(f.obs_id, f.rule, RULES[f.rule][0], f.message, f.message_zh, f.message_en, f.related_obs_id)
         for f in flags],
        schema={"obs_id": pl.Int64, "rule": pl.Utf8, "severity": pl.Utf8, "message": pl.Utf8,
                "message_zh": pl.Utf8, "message_en": pl.Utf8, "related_obs_id": pl.Int64},
        orient="row",
    )
    con.execute("INSERT INTO quality_flags (obs_id, rule, severity, message, message_zh, message_en, related_obs_id) "
                "SELECT obs_id, rule, severity, message, message_zh, message_en, related_obs_id FROM flags_df")
    con.execute(
        """UPDATE observations SET status = 'suspect'
           WHERE status = 'reported' AND obs_id IN (SELECT obs_id FROM quality_flags)"""
    )


def _extraction(observations: list[_Obs], codebook: Codebook | None = None) -> list[_Flag]:
    flags = []
    for o in observations:
        if o.status == "suspect" and o.flag and o.method != "correction":
            zh, en = _names(codebook, o.code)
            read = format_value(o.value, o.unit, lang="zh")
            flags.append(_Flag(o.obs_id, "extraction",
                               f"{zh}（{o.shown('zh')}）需要推断才能读出，读作 {read}，请核对原文。",
                               f"{en} ({o.shown('en')}) needed a guess to read: {o.flag}."))
    return flags


def _bound_for(codebook: Codebook, code: str, by_scope: dict[str, Bound]) -> Bound | None:
    return by_scope.get(code) or by_scope.get(codebook[code].unit_kind)


def _bounds(observations: list[_Obs], codebook: Codebook) -> list[_Flag]:
    by_scope = {b.scope: b for b in BOUNDS}
    flags = []
    for o in observations:
        if o.value is None or o.code not in codebook:
            continue
        bound = _bound_for(codebook, o.code, by_scope)
        if bound and not bound.low <= o.value <= bound.high:
            zh, en = _names(codebook, o.code)
            flags.append(_Flag(
                o.obs_id, "bounds",
                f"{zh} {format_value(o.value, o.unit)}（{o.shown('zh')}）超出合理范围 "
                f"{_n(bound.low, o.unit)}–{format_value(bound.high, o.unit)}：{bound.why_zh or bound.why}。",
                f"{en} {format_value(o.value, o.unit, lang='en')} ({o.shown('en')}) lies outside "
                f"{_n(bound.low, o.unit)}–{format_value(bound.high, o.unit, lang='en')}: {bound.why}."))
    return flags


def _by_key(observations: list[_Obs]) -> dict[tuple, list[_Obs]]:
    groups: dict[tuple, list[_Obs]] = {}
    for o in observations:
        groups.setdefault(o.key(), []).append(o)
    return groups


class _FirstBelow:
    """The first statement of a group (in statement order) whose value × (1 + tolerance) is below a given
    value, found by bisection: the running minimum of those limits only falls, so the first statement below
    ``v`` is where the running minimum first drops below ``v``."""

    def __init__(self, group: list[_Obs]) -> None:
        self.group = [t for t in group if t.value is not None and t.qualifier == "exact"]
        running, self.falling = float("inf"), []  # negated running minimum: a rising list for bisect
        for t in self.group:
            running = min(running, t.value * (1 + _PART_TOLERANCE))
            self.falling.append(-running)

    def first_below(self, value: float) -> _Obs | None:
        k = bisect.bisect_right(self.falling, -value)
        return self.group[k] if k < len(self.group) else None


def _parts(observations: list[_Obs], codebook: Codebook) -> list[_Flag]:
    pairs = [(i.code, i.parent_code) for i in codebook if i.parent_code] + PARTS
    groups = _by_key(observations)
    by_code: dict[str, list[_Obs]] = {}
    for o in observations:
        by_code.setdefault(o.code, []).append(o)
    totals: dict[tuple, _FirstBelow] = {}
    flags = []
    for part, total in pairs:
        if part not in codebook or total not in codebook:
            continue
        if codebook[part].unit != codebook[total].unit or codebook[part].unit_kind not in _ADDITIVE_KINDS:
            continue
        for o in by_code.get(part, []):
            if o.value is None:
                continue
            key = (o.report_id, o.entity or "", total, o.year)
            if key not in totals:
                totals[key] = _FirstBelow(groups.get(key, []))
            bigger = totals[key].first_below(o.value)
            if bigger and o.qualifier in ("exact", "lower_bound"):
                (part_zh, part_en), (total_zh, total_en) = _names(codebook, part), _names(codebook, total)
                flags.append(_Flag(
                    o.obs_id, "parts_le_total",
                    f"分项{part_zh} {format_value(o.value, o.unit)}（{o.shown('zh')}）大于其总数{total_zh} "
                    f"{format_value(bigger.value, bigger.unit)}（{bigger.shown('zh')}）。",
                    f"The part {part_en}, {format_value(o.value, o.unit, lang='en')} ({o.shown('en')}), "
                    f"is larger than its total {total_en}, {format_value(bigger.value, bigger.unit, lang='en')} "
                    f"({bigger.shown('en')}).", bigger.obs_id))
    return flags


def _preferred(group: list[_Obs], caught: set[int]) -> _Obs | None:
    """The clean value a ratio is computed from: reported and uncaught, a correction first, then a table."""
    clean = [o for o in group if o.value is not None and o.status == "reported" and o.obs_id not in caught
             and o.qualifier == "exact"]
    order = {"correction": 0, "table": 1, "prose": 2}
    return min(clean, key=lambda o: (order.get(o.method, 3), o.obs_id), default=None)


def _ratios(observations: list[_Obs], caught: set[int], codebook: Codebook | None = None) -> list[_Flag]:
    groups = _by_key(observations)
    preferred: dict[tuple, _Obs | None] = {}  # per key: a key's statements are many when a report repeats
    flags = []
    for rule in RATIOS:
        for o in observations:
            if o.code != rule.result or o.value is None:
                continue

            def first(codes: tuple[str, ...]) -> _Obs | None:
                for code in codes:
                    key = (o.report_id, o.entity or "", code, o.year)
                    if key not in preferred:
                        preferred[key] = _preferred(groups.get(key, []), caught)
                    if preferred[key]:
                        return preferred[key]
                return None

            num, den = first(rule.numerator), first(rule.denominator)
            if not num or not den or not den.value:
                continue
            expected = num.value * rule.factor / den.value
            if expected and abs(o.value - expected) > rule.tolerance * expected:
                zh, en = _names(codebook, rule.result)
                off, allowed = f"{abs(o.value - expected) / expected:.0%}", f"{rule.tolerance:.0%}"
                numbers = f"{_n(num.value, num.unit)} ÷ {_n(den.value, den.unit)}"
                flags.append(_Flag(
                    o.obs_id, "ratio_consistency",
                    f"{zh}印为 {format_value(o.value, o.unit)}（{o.shown('zh')}），但报告自己的数字"
                    f"{rule.why_zh or rule.why} = {numbers} = {format_value(expected, o.unit)}，相差 {off}"
                    f"（允许 {allowed}）。",
                    f"{en} is printed as {format_value(o.value, o.unit, lang='en')} ({o.shown('en')}), but the "
                    f"report's own {rule.why} = {numbers} = {format_value(expected, o.unit, lang='en')}, {off} "
                    f"apart ({allowed} allowed).", den.obs_id))
    return flags


def _rounding(o: _Obs) -> float:
    """Half a unit of the last printed digit, in the stored unit ('0.87万元' stands for 8650-8750 元). A whole
    count printed in its own unit ('国家级专业教学资源库 2 个') is exact: 2 and 3 schools disagree."""
    if o.unit in UNIT_KINDS["count"] and o.raw.strip().isdigit() and o.value == int(o.raw):
        return 0.0
    return _rounding_of(o.raw, o.value)


@lru_cache(maxsize=4096)
def _rounding_of(raw: str, value: float) -> float:
    number = parse_value(raw).value
    if not number:
        return 0.0
    digits = raw.replace(",", ".").rpartition(".")[2] if "." in raw or "," in raw else ""
    return 0.5 * 10 ** -len(digits) * abs(value / number)


def _disagree(a: _Obs, b: _Obs) -> bool:
    """Whether two statements of the same key contradict each other, given their qualifiers and the
    precision they are printed with."""
    if a.qualifier == "exact" and b.qualifier == "exact":
        allowed = max(_EXACT_TOLERANCE * max(abs(a.value), abs(b.value)), _rounding(a) + _rounding(b))
        return abs(a.value - b.value) > allowed
    for x, y in ((a, b), (b, a)):
        if y.qualifier != "exact":
            continue
        if x.qualifier == "lower_bound":
            return y.value < x.value
        if x.qualifier == "upper_bound":
            return y.value > x.value
        if x.qualifier == "approximate":
            return abs(y.value - x.value) > _APPROX_TOLERANCE * abs(x.value)
    return False  # two bounds or estimates: nothing to compare


def _conflicts(observations: list[_Obs], caught: set[int], codebook: Codebook | None = None) -> list[_Flag]:
    """Each statement that disagrees with another of its key is flagged once, against the first statement (in
    statement order) it disagrees with and is blamed for. A statement another rule caught explains the
    conflict, so a clean statement is blamed only next to another clean one.

    Same result as comparing every pair in order, but statements with the same value, qualifier and print
    compare alike, so only distinct ones are compared: linear in the statements, quadratic only in the
    distinct values of a key."""
    flags: list[_Flag] = []
    for group in _by_key(observations).values():
        stated = [o for o in group if o.value is not None and o.method != "correction"]
        flags += _group_conflicts(stated, caught, codebook)
    return flags


def _group_conflicts(stated: list[_Obs], caught: set[int], codebook: Codebook | None = None) -> list[_Flag]:
    # Statements that _disagree cannot tell apart: (value, qualifier, raw) is all it reads.
    kinds: dict[tuple, list[int]] = {}
    for i, o in enumerate(stated):
        kinds.setdefault((o.value, o.qualifier, o.raw), []).append(i)
    # Per kind, its first two positions (a statement never conflicts with itself), overall and among clean ones.
    first_two = {k: pos[:2] for k, pos in kinds.items()}
    first_two_clean = {k: [i for i in pos if stated[i].obs_id not in caught][:2] for k, pos in kinds.items()}
    opponents = {a: [b for b in kinds if _disagree(stated[kinds[a][0]], stated[kinds[b][0]])] for a in kinds}
    earliest: dict[tuple, list[int]] = {}  # (kind, caught?) → the two earliest statements it may be blamed against
    found: list[tuple[tuple[int, int, bool], _Flag]] = []
    for kind, positions in kinds.items():
        for i in positions:
            x = stated[i]
            x_caught = x.obs_id in caught
            # Blamed: x when it is caught, else only next to a clean statement (a caught one explains it).
            if (kind, x_caught) not in earliest:
                pool = first_two if x_caught else first_two_clean
                earliest[kind, x_caught] = sorted(j for b in opponents[kind] for j in pool[b])[:2]
            j = next((j for j in earliest[kind, x_caught] if j != i), None)
            if j is None:
                continue
            other = stated[j]
            # Ordered as the pairs (a, b), a before b, in which each flag would first be raised.
            zh, en = _names(codebook, x.code)
            year_zh, year_en = (f"{x.year} 年", f" ({x.year})") if x.year is not None else ("", "")
            found.append(((min(i, j), max(i, j), i > j), _Flag(
                x.obs_id, "conflict",
                f"{year_zh}{zh}有两个不同的数值：{format_value(x.value, x.unit)}（{x.shown('zh')}）与 "
                f"{format_value(other.value, other.unit)}（{other.shown('zh')}）。",
                f"{en}{year_en} is stated twice with different values: {format_value(x.value, x.unit, lang='en')} "
                f"({x.shown('en')}) and {format_value(other.value, other.unit, lang='en')} ({other.shown('en')}).",
                other.obs_id)))
    return [flag for _, flag in sorted(found, key=lambda item: item[0])]
