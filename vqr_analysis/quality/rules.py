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

from vqr_analysis.quality.defects import DEFECT_RULES, source_defects
from vqr_analysis.sources.codebook import UNIT_KINDS, Codebook
from vqr_analysis.extract.values import parse_value

__all__ = ["run_checks", "RULES", "RULE_TEXT_ZH", "BOUNDS", "PARTS", "RATIOS", "Bound", "Ratio"]

RULES = {
    "extraction": ("warning", "The value needed a guess to read (e.g. a comma used as decimal point)."),
    "bounds": ("error", "The value lies outside the plausible range of its code or unit kind."),
    "parts_le_total": ("error", "A part ('其中') is larger than its total."),
    "ratio_consistency": ("warning", "A stated ratio disagrees with the ratio of its stated parts."),
    "conflict": ("warning", "Two statements give different values for the same code, year and entity."),
    **{rule: (severity, en) for rule, (severity, en, _zh) in DEFECT_RULES.items()},
}

# Chinese words for each validation rule; the English ones are the rule's own description (RULES above).
RULE_TEXT_ZH = {
    "extraction": "读取数值时需要推断（如逗号当作小数点）",
    "bounds": "数值超出合理范围",
    "parts_le_total": "分项（其中）大于总数",
    "ratio_consistency": "比例与其分子分母不一致",
    "conflict": "同一指标在报告中有不同数值",
    **{rule: zh for rule, (_severity, _en, zh) in DEFECT_RULES.items()},
}


@dataclass(frozen=True)
class Bound:
    """Plausible range for a code (or every code of a unit kind); ``why`` explains the limits."""

    scope: str
    low: float
    high: float
    why: str


# A code's own bound replaces its unit kind's. Limits are deliberately wide: they catch unit slips
# (万元 for 元, 万册 for 册) and impossible shares, not unusual schools.
BOUNDS = [
    Bound("percent", 0, 100, "a percentage lies between 0 and 100"),
    Bound("ratio", 1, 60, "a student-teacher ratio lies between 1:1 and 60:1"),
    Bound("count", 0, 5_000_000, "a count for one region's vocational schools stays below 5 million"),
    Bound("duration", 0, 100_000_000, "hours for one region stay below 100 million"),
    Bound("currency_10k_yuan", 0, 10_000_000, "an amount for one region stays below 100 billion yuan"),
    Bound("currency_yuan", 0, 1_000_000, "a per-person amount in yuan stays below 1 million"),
    Bound("area", 0, 100_000_000, "an area for one region stays below 100 km²"),
    Bound("bandwidth", 0, 10_000_000, "bandwidth stays below 10 Tbps"),
    Bound("per_student", 0, 1_000_000, "a per-student figure stays below a million"),
    Bound("monthly_income", 500, 50_000, "a graduate's monthly income lies between 500 and 50,000 yuan"),
    Bound("equipment_value_per_student", 1_000, 100_000,
          "equipment per student lies between 1,000 and 100,000 yuan (national minimums are 2,500-5,000)"),
    Bound("books_per_student", 5, 500, "library books per student lie between 5 and 500"),
    Bound("building_area_per_student", 3, 200, "building floor area per student lies between 3 and 200 m²"),
    Bound("teaching_admin_area_per_student", 3, 100, "teaching/admin floor area per student lies between 3 and 100 m²"),
    Bound("practice_stations_per_student", 0, 5, "practice work stations per student lie between 0 and 5"),
    Bound("per_student_appropriation", 500, 100_000, "government funding per student lies between 500 and 100,000 yuan"),
    Bound("per_student_public_funding", 100, 20_000, "public operating funds per student lie between 100 and 20,000 yuan"),
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


# Official ratios divide by converted (折合) students and count part-time teachers by half, so a stated
# ratio may differ from the plain one by some per cent; a factor of two or ten is a defect.
RATIOS = [
    Ratio("student_teacher_ratio", ("full_time_students", "students_enrolled"), ("full_time_teachers",), 1, 0.25,
          "students ÷ full-time teachers"),
    Ratio("equipment_value_per_student", ("equipment_value",), ("full_time_students", "students_enrolled"), 10_000,
          0.35, "equipment value (万元 × 10,000) ÷ students"),
    Ratio("books_per_student", ("books_paper",), ("full_time_students", "students_enrolled"), 1, 0.5,
          "paper books ÷ students"),
    Ratio("computers_per_student", ("computers",), ("full_time_students", "students_enrolled"), 1, 0.25,
          "computers ÷ students"),
    Ratio("building_area_per_student", ("building_area",), ("full_time_students", "students_enrolled"), 1, 0.25,
          "building area ÷ students"),
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

    def shown(self) -> str:
        unit = self.raw_unit or ""
        return f"{self.raw}{unit} ({self.method}, line {self.line})"


@dataclass
class _Flag:
    obs_id: int
    rule: str
    message: str
    related_obs_id: int | None = None


def run_checks(con: duckdb.DuckDBPyConnection, codebook: Codebook) -> None:
    """Run every rule over ``observations``; write ``quality_flags`` and mark flagged rows ``suspect``."""
    rows = con.execute(
        """SELECT obs_id, report_id, entity, indicator_code, year, value, unit, raw, raw_unit, line, status,
                  method, qualifier, flag
           FROM observations ORDER BY obs_id"""
    ).fetchall()
    observations = [_Obs(*row) for row in rows]
    flags: list[_Flag] = []
    flags += _extraction(observations)
    flags += _bounds(observations, codebook)
    flags += _parts(observations, codebook)
    flags += _ratios(observations, {f.obs_id for f in flags})
    flags += _conflicts(observations, {f.obs_id for f in flags})
    # Source defects across statements (quality.defects): messages in Chinese, then English.
    flags += [_Flag(d.obs_id, d.rule, f"{d.message_zh} / {d.message_en}", d.related_obs_id)
              for d in source_defects(con, codebook)]
    if not flags:
        return
    # One bulk insert from a frame (executemany costs a statement per flag: seconds for thousands of flags).
    flags_df = pl.DataFrame(
        [(f.obs_id, f.rule, RULES[f.rule][0], f.message, f.related_obs_id) for f in flags],
        schema={"obs_id": pl.Int64, "rule": pl.Utf8, "severity": pl.Utf8, "message": pl.Utf8,
                "related_obs_id": pl.Int64},
        orient="row",
    )
    con.execute("INSERT INTO quality_flags (obs_id, rule, severity, message, related_obs_id) "
                "SELECT obs_id, rule, severity, message, related_obs_id FROM flags_df")
    con.execute(
        """UPDATE observations SET status = 'suspect'
           WHERE status = 'reported' AND obs_id IN (SELECT obs_id FROM quality_flags)"""
    )


def _extraction(observations: list[_Obs]) -> list[_Flag]:
    return [_Flag(o.obs_id, "extraction", o.flag) for o in observations
            if o.status == "suspect" and o.flag and o.method != "correction"]


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
            flags.append(_Flag(o.obs_id, "bounds",
                               f"{o.code} = {o.value:g} {o.unit} from {o.shown()} is outside {bound.low:g}–"
                               f"{bound.high:g} {o.unit}: {bound.why}"))
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
                flags.append(_Flag(o.obs_id, "parts_le_total",
                                   f"{part} {o.value:g} from {o.shown()} exceeds its total {total} "
                                   f"{bigger.value:g} from {bigger.shown()}", bigger.obs_id))
    return flags


def _preferred(group: list[_Obs], caught: set[int]) -> _Obs | None:
    """The clean value a ratio is computed from: reported and uncaught, a correction first, then a table."""
    clean = [o for o in group if o.value is not None and o.status == "reported" and o.obs_id not in caught
             and o.qualifier == "exact"]
    order = {"correction": 0, "table": 1, "prose": 2}
    return min(clean, key=lambda o: (order.get(o.method, 3), o.obs_id), default=None)


def _ratios(observations: list[_Obs], caught: set[int]) -> list[_Flag]:
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
                flags.append(_Flag(o.obs_id, "ratio_consistency",
                                   f"{rule.result} = {o.value:g} from {o.shown()} but {rule.why} = "
                                   f"{num.value:g} ÷ {den.value:g} gives {expected:.4g} "
                                   f"({abs(o.value - expected) / expected:.0%} off; {rule.tolerance:.0%} allowed)",
                                   den.obs_id))
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


def _conflicts(observations: list[_Obs], caught: set[int]) -> list[_Flag]:
    """Each statement that disagrees with another of its key is flagged once, against the first statement (in
    statement order) it disagrees with and is blamed for. A statement another rule caught explains the
    conflict, so a clean statement is blamed only next to another clean one.

    Same result as comparing every pair in order, but statements with the same value, qualifier and print
    compare alike, so only distinct ones are compared: linear in the statements, quadratic only in the
    distinct values of a key."""
    flags: list[_Flag] = []
    for group in _by_key(observations).values():
        stated = [o for o in group if o.value is not None and o.method != "correction"]
        flags += _group_conflicts(stated, caught)
    return flags


def _group_conflicts(stated: list[_Obs], caught: set[int]) -> list[_Flag]:
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
            found.append(((min(i, j), max(i, j), i > j), _Flag(
                x.obs_id, "conflict",
                f"{x.code} {x.year}: {x.value:g} from {x.shown()} but {other.value:g} from {other.shown()}",
                other.obs_id)))
    return [flag for _, flag in sorted(found, key=lambda item: item[0])]
