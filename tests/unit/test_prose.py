"""Prose extraction: golden values per report, the sentence forms it must read (on fixtures cut from the
reports), the hard-wrapped 002 (numbers and units on different lines, page headers inside sentences),
entities, years and the pattern file's checks.

The golden files (tests/golden/prose/<report-id>.csv) were written by reading each report: one row per
value a sentence states for a codebook code: cited line, code, entity (empty = the report's subject), year,
value in the codebook unit, raw and raw_unit as printed, qualifier and the label as printed.
"""

from __future__ import annotations

import ast
import csv
import math
from pathlib import Path

import pytest

from support.paths import DATA, FIXTURES, GOLDEN, PACKAGE
from vqr_analysis.extract.prose import extract_prose, read_value
from vqr_analysis.sources.registry import load_registry
from vqr_analysis.sources.documents import SourceDocument, sha256_bytes, split_lines

GOLDEN_PROSE = GOLDEN / "prose"
PROSE_FIXTURES = FIXTURES / "prose"
VERSION = "test"


def _golden(report_id: str) -> dict[tuple, tuple]:
    with (GOLDEN_PROSE / f"{report_id}.csv").open(encoding="utf-8", newline="") as fh:
        return {
            (int(r["line"]), r["indicator_code"], r["entity"] or None, int(r["year"]), r["raw"]):
            (float(r["value"]), r["unit"], r["raw_unit"] or None, r["qualifier"], r["label"])
            for r in csv.DictReader(fh)
        }


def _extracted(observations) -> dict[tuple, tuple]:
    rows = {(o.line, o.indicator_code, o.entity, o.year, o.raw): (o.value, o.unit, o.raw_unit, o.qualifier, o.label)
            for o in observations}
    assert len(rows) == len(observations), "the same statement was extracted twice"
    return rows


def _fixture(name: str, report) -> SourceDocument:
    """A fixture cut from a report, read as that report (its subject, data year, region)."""
    path = PROSE_FIXTURES / name
    data = path.read_bytes()
    text = data.decode("utf-8")
    return SourceDocument(report, path, sha256_bytes(data), text, split_lines(text))


def _by_code(observations) -> dict[str, list]:
    out: dict[str, list] = {}
    for o in observations:
        out.setdefault(o.indicator_code, []).append(o)
    return out


@pytest.fixture(scope="module")
def prose(documents, codebook):
    return {rid: extract_prose(doc, codebook, version=VERSION) for rid, doc in documents.items()}


@pytest.fixture(scope="module")
def reports(registry):
    return {r.id: r for r in registry}


@pytest.mark.parametrize("report_id", ["000", "001", "002", "003", "004"])
def test_golden_prose_values(prose, report_id):
    got, want = _extracted(prose[report_id]), _golden(report_id)
    missing = sorted(set(want) - set(got), key=str)
    extra = sorted(set(got) - set(want), key=str)
    assert not missing, f"{report_id}: {len(missing)} golden values not extracted, e.g. {missing[:5]}"
    assert not extra, f"{report_id}: {len(extra)} values not in the golden file, e.g. {extra[:5]}"
    for key, (value, *rest) in want.items():
        got_value, *got_rest = got[key]
        assert math.isclose(got_value, value, rel_tol=1e-9), f"{report_id} {key}: {got_value} != {value}"
        assert got_rest == rest, f"{report_id} {key}: {got_rest} != {rest}"


@pytest.mark.parametrize("report_id", ["000", "001", "002", "003", "004"])
def test_every_prose_value_cites_its_number_verbatim(prose, documents, report_id):
    doc = documents[report_id]
    for o in prose[report_id]:
        assert o.raw in doc.line(o.line), (o.indicator_code, o.line, o.raw)
        assert o.method == "prose" and o.quote and len(o.quote) <= 120
        assert o.raw in o.quote  # the quote is the context of the number


def test_headline_figures_of_each_report(prose):
    """Students, teachers and the teaching-staff ratios each report states in its text."""
    wanted = {
        "000": {"full_time_students": 288309, "full_time_teachers": 14381, "student_teacher_ratio": 20.05,
                "dual_qualified_teacher_share": 31.07, "senior_title_teacher_share": 21.42,
                "equipment_value_per_student": 8700, "graduates": 77047, "enrolment": 75496},
        "001": {"full_time_students": 6531, "full_time_teachers": 535, "student_teacher_ratio": 12.2,
                "dual_qualified_teacher_share": 61, "senior_title_teacher_share": 40.39, "staff_total": 630,
                "equipment_value": 18967.3836, "enrolment": 3517, "graduates": 1947},
        "002": {"full_time_students": 3858, "full_time_teachers": 208, "student_teacher_ratio": 17.7,
                "senior_title_teachers": 27, "dual_qualified_teachers": 124, "fixed_assets": 7498.2175,
                "funding_income_total": 35220.44},
        "003": {"full_time_students": 4267, "full_time_teachers": 467, "staff_total": 599,
                "dual_qualified_teacher_share": 12.63, "senior_title_teacher_share": 37.7,
                "equipment_value": 6777.83, "enrolment": 1521, "graduates": 1348},
        "004": {"students_enrolled": 1205, "full_time_teachers": 65, "student_teacher_ratio": 16.85,
                "dual_qualified_teacher_share": 41.54, "senior_title_teacher_share": 23.08,
                "equipment_value_per_student": 22640.96, "enrolment": 460, "graduates": 378,
                "training_participants": 1358},
    }
    for report_id, figures in wanted.items():
        subject = _by_code([o for o in prose[report_id] if o.entity is None])
        for code, value in figures.items():
            values = [o.value for o in subject.get(code, [])]
            assert any(math.isclose(v, value) for v in values), f"{report_id} {code}: {values} lacks {value}"


def test_sentence_forms_of_the_issue(codebook, reports):
    """全日制在校生 3858 人; 专任教师 208 人（其中 27 人具有高级职称）; 7498.2175 万元 split across lines."""
    obs = _by_code(extract_prose(_fixture("002_intro_wrapped.txt", reports["002"]), codebook, version=VERSION))
    (students,) = obs["full_time_students"]
    assert (students.value, students.raw, students.raw_unit, students.line) == (3858, "3858", "人", 60)
    (teachers,) = obs["full_time_teachers"]
    assert (teachers.value, teachers.line) == (208, 60)
    (senior,) = obs["senior_title_teachers"]
    assert (senior.value, senior.line, senior.label) == (27, 62, "具有高级职称")  # number before its label
    (assets,) = obs["fixed_assets"]
    # number on line 66, '万' at its end and '元' at the start of line 68 (after a blank line)
    assert (assets.value, assets.raw, assets.raw_unit, assets.line, assets.unit) == \
        (7498.2175, "7498.2175", "万元", 66, "万元")
    assert "7498.2175 万元" in assets.quote
    assert all(o.year == 2023 for group in obs.values() for o in group)  # '2022 至 2023 学年' → 2023


def test_ratio_and_share_forms(codebook, reports):
    """生师比 16.85: 1; 高级职称教师 15 人，占比 23.08%; 在校生 without 全日制 is its own code."""
    obs = _by_code(extract_prose(_fixture("004_scale_teachers.txt", reports["004"]), codebook, version=VERSION))
    ratio, previous = obs["student_teacher_ratio"]
    assert (ratio.value, ratio.raw, ratio.raw_unit, ratio.unit, ratio.year) == (16.85, "16.85", ": 1", "ratio", 2024)
    assert (previous.value, previous.year) == (18, 2023)  # '较上一年度 18: 1': the year before, stated in passing
    (share,) = obs["senior_title_teacher_share"]
    assert (share.value, share.raw_unit, share.label) == (23.08, "%", "高级职称教师")
    assert [o.value for o in obs["senior_title_teachers"]] == [15]
    assert [o.value for o in obs["dual_qualified_teacher_share"]] == [41.54]  # '占专任教师 41.54%'
    # '中职在校生 1205 人，相比上一年度 1152 人': this year's value, and the previous year's
    assert [(o.value, o.year) for o in obs["students_enrolled"]] == [(1205, 2024), (1152, 2023)]  # '2023~2024 学年'
    assert "full_time_students" not in obs
    # the new campus is a plan ('新建职校园区占地面积 12.7 万平方米，拟 2025 年搬迁'), not this year's area
    assert [o.value for o in obs["campus_area"]] == [74297.47]
    (per_student,) = obs["building_area_per_student"]  # '总建筑面积 27827.79 平方米，23.09 平方米/生'
    assert (per_student.value, per_student.raw_unit) == (23.09, "平方米/生")


def test_qualifiers_and_units(codebook):
    """3300 余名 (approximate), 96%以上 (lower bound), 约 (approximate); 万元, 万册 and 亩 converted."""
    approx = read_value("学生 3300 余名，企业订单培养达 60%以上"[2:], "students_enrolled", codebook)
    assert (approx.raw, approx.raw_unit, approx.value, approx.qualifier) == ("3300", "名", 3300, "approximate")
    bound = read_value("达 96%以上。", "placement_rate", codebook)
    assert (bound.value, bound.qualifier) == (96, "lower_bound")
    assert read_value("约 8798.36 万元", "fixed_assets", codebook).qualifier == "approximate"
    per_student = read_value("达29042万元；", "equipment_value_per_student", codebook)
    assert (per_student.raw, per_student.raw_unit, per_student.value) == ("29042", "万元", 290_420_000)
    assert read_value("0.87 万元，", "equipment_value_per_student", codebook).value == 8700
    assert read_value("达34.41万册；", "books_digital", codebook).value == 344_100
    assert read_value("65亩）", "campus_area", codebook).value == pytest.approx(65 * 10000 / 15, rel=1e-6)
    assert read_value("（元/生）13782.66 大于 4000", "equipment_value_per_student", codebook).value == 13782.66
    # a unit the code does not take, a change in points, a year: no value
    assert read_value(" 15 人", "fixed_assets", codebook) is None
    assert read_value(" 3 个百分点", "specialties", codebook) is None
    assert read_value("2023 年", "enrolment", codebook) is None


def test_numbers_preceded_by_change_words_are_not_values(codebook, reports):
    doc = _fixture("001_preface_basic.txt", reports["001"])
    obs = _by_code(extract_prose(doc, codebook, version=VERSION))
    # '高级职称教师比例40.39%，同比增长0.59%': the growth is no second value
    assert [o.value for o in obs["senior_title_teacher_share"]] == [40.39]
    # '全州高中阶段招生13089人，接收中职教育3517人': all upper-secondary intake is not vocational enrolment
    assert [o.value for o in obs["enrolment"]] == [3517]
    # a sentence about the 准东 industry college (another institution, not the subject) is left out
    assert not any(o.raw == "3300" for group in obs.values() for o in group)


def test_wrapped_002_page_header_inside_a_sentence(documents):
    """A page header and page number between two halves of a sentence are dropped from the logical text."""
    logical = documents["002"].logical
    paragraph = next(p for p in logical.text.split("\n") if "屡获佳绩" in p)
    assert "学院组织师生积极参加各级各类竞赛，在兵团、自治区和国家级的技能大赛上屡获佳绩" in paragraph
    assert "质量报告（2024 年度）" not in paragraph
    assert {96, 98} <= set(logical.dropped_lines)
    # '2023 年' ends one line and '10 月，…' starts the next: one sentence, not a heading
    assert "2023 年10 月，组织相关人员" in logical.text


def test_wrapped_002_values_after_a_page_break_cite_their_lines(prose):
    awards = {(o.indicator_code, o.line): o.value for o in prose["002"] if o.indicator_code.startswith("skills")}
    assert awards[("skills_competition_provincial_first_prizes", 110)] == 2
    assert awards[("skills_competition_provincial_third_prizes", 112)] == 12


def test_wrapped_002_table_row_with_unit_in_the_label(codebook, reports):
    """Table 12 prints '生均（折合）教学科研仪器设备值（元/生）' on two lines and the value on the next:
    the figure the prose states in 万元 is printed here in 元/生."""
    obs = _by_code(extract_prose(_fixture("002_conditions_table.txt", reports["002"]), codebook, version=VERSION))
    per_student = {o.raw_unit: o for o in obs["equipment_value_per_student"]}
    assert per_student["元/生"].value == 13782.66 and per_student["元/生"].line == 35
    assert per_student["万元"].value == 137_826_600 and per_student["万元"].line == 12  # the source's slip, kept


def test_entities_are_schools_that_open_their_sentence(prose):
    by_entity = {(o.entity, o.indicator_code): o.value for o in prose["003"] if o.entity}
    assert by_entity[("塔城地区额敏县职业技术学校", "full_time_teachers")] == 60
    assert by_entity[("塔城地区卫生学校", "books_digital")] == 18000
    # region-level figures stay with the subject
    subject = {o.indicator_code: o.value for o in prose["003"] if o.entity is None}
    assert subject["full_time_teachers"] == 467
    # 004's only school, under its short name, is the report's subject
    assert all(o.entity is None for o in prose["004"])
    # 001: '2025年昌吉州中等职业学校教职工总数630人' is the prefecture's schools as a whole
    assert {o.entity for o in prose["001"]} == {None}


def test_sentence_year_wins_over_the_data_year(prose):
    years = {(o.indicator_code, o.line): o.year for o in prose["002"]}
    assert years[("funding_income_total", 2088)] == 2022  # '2022 年，学院办学经费总收入 …'
    assert years[("funding_expenditure_total", 2094)] == 2022  # next sentence of the same paragraph
    income = {o.year: o.value for o in prose["000"] if o.indicator_code == "monthly_income"}
    assert income == {2023: 3674.10, 2022: 3359.50}  # '2023年，…3674.10元，2022年…3359.50元'


def _code_strings(path: Path) -> list[str]:
    """String constants a module's code uses (docstrings and comments, which cite examples, left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_patterns_are_data_not_code():
    """No report, region or school is named in the extractor's code; subject aliases live in the registry."""
    package = PACKAGE
    strings = [s for module in ("extract/prose.py", "extract/patterns.py", "extract/tables.py", "quality/rules.py",
                                "quality/defects.py")
               for s in _code_strings(package / module)]
    for name in ("塔里木", "昌吉", "塔城", "北屯", "新疆", "tarim", "changji", "tacheng", "tenth_division"):
        assert not [s for s in strings if name in s], name
    assert not [s for s in strings if s in ("000", "001", "002", "003", "004")]
    registry = {r.region: r for r in load_registry(DATA / "reports.toml")}
    assert registry["tenth_division"].aliases_zh  # the subject's other names live in the registry
