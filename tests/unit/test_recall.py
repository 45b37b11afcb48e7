"""What a careful analyst reads beyond the headline sentences, one kind per test, on fixtures cut from the reports
(tests/fixtures/recall/<report-id>_<kind>.txt, read as that report): ranked per-school tables under a title,
a clause whose subject is a named school, a previous year's value in a comparison, units on the next wrapped
line, a paragraph about one school, a table named by column and row together, counts before their label,
qualifiers and scaled units — and what stays unread for precision (an unnamed school, a semester's figure).
"""

from __future__ import annotations

import pytest

from support.paths import FIXTURES
from vqr_analysis.extract import extract_document
from vqr_analysis.extract.prose import extract_prose, prose_reader, read_value
from vqr_analysis.sources.documents import SourceDocument, sha256_bytes, split_lines

RECALL = FIXTURES / "recall"
VERSION = "test"


@pytest.fixture(scope="module")
def reports(registry):
    return {r.id: r for r in registry}


def _doc(name: str, reports) -> SourceDocument:
    path = RECALL / name
    data = path.read_bytes()
    text = data.decode("utf-8")
    return SourceDocument(reports[name.split("_", 1)[0]], path, sha256_bytes(data), text, split_lines(text))


def _values(observations, code: str) -> list[tuple]:
    return [(o.entity, o.year, o.value) for o in observations if o.indicator_code == code]


def test_ranked_school_tables_are_read_by_their_title(reports, codebook):
    """表 2-1 (序号 | 院校名称 | 建设数量, all levels) and 表 2-2 (国家…立项数量): the title names the count."""
    observations, unmapped = extract_document(_doc("000_ranked_school_tables.txt", reports), codebook)
    courses = _values(observations, "quality_online_courses")
    assert len(courses) == 10 and courses[0] == ("新疆农业职业技术学院", 2023, 177)
    assert ("新疆铁道职业技术学院", 2023, 23) in courses  # rows after a footnote line still belong to the table
    national = _values([o for o in observations if o.method == "table"], "quality_online_courses_national")
    assert sorted(v for _, _, v in national) == [1, 1, 3, 3]  # 8 in all, as the prose states
    assert all(o.source_table.startswith("表 2-") for o in observations if o.method == "table")
    for o in observations:  # provenance: the cited line holds the value
        assert o.raw in _doc("000_ranked_school_tables.txt", reports).line(o.line)
    assert not unmapped


def test_a_clause_opening_with_a_school_gives_the_entity(reports, codebook):
    obs = extract_prose(_doc("000_school_clause.txt", reports), codebook, version=VERSION)
    employers = _values(obs, "sat_employers")
    assert (None, 2023, 94.68) in employers  # the region's own figure
    assert ("新疆农业职业技术学院", 2023, 99.25) in employers  # '其中新疆农业职业技术学院用人单位满意度 99.25%'
    assert ("新疆轻工职业技术学院", 2023, 99.75) in employers


def test_a_previous_year_value_in_a_comparison(reports, codebook):
    """'满意度97%，较2022年的93%上升了4%': 97 % for the data year and 93 % for 2022, the rise (4%) unread."""
    obs = extract_prose(_doc("003_previous_year.txt", reports), codebook, version=VERSION)
    assert sorted(_values(obs, "sat_graduates_employment_services")) == [(None, 2022, 93), (None, 2023, 97)]
    assert len(obs) == 2


def test_units_on_the_next_wrapped_line_and_the_sentence_year(reports, codebook):
    """002 is hard-wrapped: '教学改革及科学研究经费 43.65' ends a line and '万元' starts the next; the paragraph
    states 2022, not the report's data year."""
    doc = _doc("002_funding_wrapped.txt", reports)
    obs = {o.indicator_code: o for o in extract_prose(doc, codebook, version=VERSION)}
    research = obs["expenditure_reform_research"]
    assert (research.value, research.raw_unit, research.year) == (43.65, "万元", 2022)
    assert research.raw in doc.line(research.line)
    assert obs["expenditure_party_ideological"].value == 2.2  # the number opens its line, after the label
    assert {code for code in obs if code.startswith(("income_", "expenditure_"))} >= {
        "income_education_business", "income_per_student_appropriation", "income_government_funds",
        "expenditure_infrastructure", "expenditure_equipment", "expenditure_teaching", "expenditure_salaries",
        "expenditure_staff_development", "expenditure_student_aid"}
    assert all(o.year == 2022 for o in obs.values())


def test_a_paragraph_follows_the_school_it_turns_to(reports, codebook):
    """A paragraph that opens with one school and turns to another mid-sentence ('数字化教学普遍化，塔城地区额敏县职业
    技术学校共有…'): the figures that follow are the second school's."""
    obs = extract_prose(_doc("003_paragraph_school.txt", reports), codebook, version=VERSION)
    assert ("塔城地区中等职业技术学校", 2023, 618) in _values(obs, "computers")  # '电脑共计618台'
    assert ("塔城地区额敏县职业技术学校", 2023, 27171) in _values(obs, "books_paper")
    assert None not in {o.entity for o in obs}  # nothing here is the prefecture's


def test_an_unnamed_school_and_a_semester_stay_unread(reports, codebook):
    """'学校2023年春季学期为1216名学生免去学费…' in a prefecture's report: some school's figure, and a semester's."""
    obs = extract_prose(_doc("003_unnamed_school.txt", reports), codebook, version=VERSION)
    assert not [o for o in obs if o.entity is None]


def test_a_bracketed_list_of_schools_is_no_subject(reports, codebook):
    """'全地区共有中等职业技术学校6所（塔城地区师范学校、…），…教职工599人、学生数4267人': the prefecture's."""
    obs = extract_prose(_doc("003_bracketed_list.txt", reports), codebook, version=VERSION)
    assert (None, 2023, 6) in _values(obs, "schools")
    assert (None, 2023, 599) in _values(obs, "staff_total")
    assert (None, 2023, 4267) in _values(obs, "students_enrolled")


def test_a_table_named_by_column_and_row(reports, codebook):
    """表6 资助政策情况表: 奖学金 | 助学金 | 免学费 | 免教材 | 免住宿费 across, 人数(人次) | 金额(万元) down."""
    observations, _ = extract_document(_doc("004_subsidy_table.txt", reports), codebook)
    table = {o.indicator_code: o for o in observations if o.method == "table"}
    assert (table["grant_recipients"].value, table["grant_recipients"].raw_unit) == (611, "人次")
    assert (table["grant_amount"].value, table["grant_amount"].raw_unit) == (50.2724, "万元")
    assert table["tuition_waiver_recipients"].value == 2332 and table["lodging_waiver_amount"].value == 43.05
    assert len(table) == 10 and all(o.year == 2024 for o in table.values())
    # the prose above states the grants per semester: not read as the year's figure
    assert not [o for o in observations if o.method == "prose" and o.indicator_code.startswith("grant")]


def test_counts_in_running_text(reports, codebook):
    obs = extract_prose(_doc("001_physical_test.txt", reports), codebook, version=VERSION)
    assert _values(obs, "physical_test_participants") == [(None, 2025, 6348)]  # '参加人数为6348人' after 体质健康
    assert _values(obs, "physical_test_passed") == [(None, 2025, 6226)]
    assert _values(obs, "physical_test_pass_rate") == [(None, 2025, 98)]
    obs = extract_prose(_doc("000_count_before_label.txt", reports), codebook, version=VERSION)
    assert _values(obs, "industry_mentors") == [(None, 2023, 2041)]  # '聘请 2041 名行业导师'
    assert _values(obs, "vocational_education_groups") == [(None, 2023, 32)]


def test_qualifiers_and_scaled_units(reports, codebook):
    obs = extract_prose(_doc("001_approximate.txt", reports), codebook, version=VERSION)
    (partners,) = [o for o in obs if o.indicator_code == "partner_enterprises"]
    assert (partners.value, partners.qualifier, partners.raw_unit) == (210, "approximate", "家")  # '210余家'
    reader = prose_reader(codebook)
    assert read_value(" 1.6 亿元", "funding_income_total", codebook, reader=reader).value == 16000  # 万元
    assert read_value("达 3.98 万人次，", "training_participants", codebook, reader=reader).value == 39800
    assert read_value("为 12 万册；", "books_paper", codebook, reader=reader).value == 120000
    assert read_value(" 96%以上。", "placement_rate", codebook, reader=reader).qualifier == "lower_bound"
    assert read_value(" 约 8798.36 万元", "fixed_assets", codebook, reader=reader).qualifier == "approximate"
