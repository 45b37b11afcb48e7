"""Annex and indicator tables: golden rows per report, each layout on fixtures cut from the reports, and the
same tables re-laid into the other layout.

The golden files (tests/golden/tables/<report-id>.csv) were written by reading the report text, one row per
printed numeric cell: source_table (title as printed), code, year, entity (empty = the report's subject), raw
(the cell as printed), value (in the codebook unit) and status.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import re
import shutil
from pathlib import Path

import pytest

from support.paths import FIXTURES, GOLDEN, ROOT
from vqr_analysis.extract.layouts import find_tables
from vqr_analysis.extract.tables import annex_table_key, extract_tables
from vqr_analysis.extract.prose import prose_reader

GOLDEN_TABLES = GOLDEN / "tables"
TABLE_FIXTURES = FIXTURES / "tables"
VERSION = "test"


def _golden(report_id: str) -> list[tuple]:
    with (GOLDEN_TABLES / f"{report_id}.csv").open(encoding="utf-8", newline="") as fh:
        return [
            (r["source_table"], r["code"], int(r["year"]), r["entity"] or None, r["raw"],
             float(r["value"]) if r["value"] else None, r["status"])
            for r in csv.DictReader(fh)
        ]


def _key(row: tuple) -> tuple:
    """Everything but the value, which is compared with a tolerance (亩 → 平方米 has a repeating decimal)."""
    return row[:5] + row[6:]


def _assert_same_rows(got: list[tuple], expected: list[tuple], what: str) -> None:
    got_keys = {_key(r): r[5] for r in got}
    expected_keys = {_key(r): r[5] for r in expected}
    assert len(got_keys) == len(got), f"{what}: duplicate extracted rows"
    missing = sorted(set(expected_keys) - set(got_keys), key=str)
    extra = sorted(set(got_keys) - set(expected_keys), key=str)
    assert not missing, f"{what}: {len(missing)} golden rows not extracted, e.g. {missing[:5]}"
    assert not extra, f"{what}: {len(extra)} extracted rows not in the golden file, e.g. {extra[:5]}"
    for k, value in got_keys.items():
        want = expected_keys[k]
        assert (value is None) == (want is None), f"{what}: {k} value {value} != {want}"
        if value is not None:
            assert math.isclose(value, want, rel_tol=1e-9), f"{what}: {k} value {value} != {want}"


def _rows(observations) -> list[tuple]:
    return [(o.source_table, o.indicator_code, o.year, o.entity, o.raw, o.value, o.status) for o in observations]


def _doc_with_text(doc, text: str):
    """The same report, with other text (a fixture cut from it, or its tables re-laid)."""
    return dataclasses.replace(doc, text=text, lines=text.splitlines(), locators=None)


def _fixture_doc(documents, name: str):
    report_id = name.split("_", 1)[0]
    text = (TABLE_FIXTURES / name).read_text(encoding="utf-8")
    return _doc_with_text(documents[report_id], text), report_id


# --- the real reports ------------------------------------------------------------------------------------

@pytest.mark.parametrize("report_id", ["000", "001", "002", "003", "004"])
def test_table_observations_match_the_golden_rows_both_ways(documents, codebook, report_id):
    """Status as extracted: validation may later mark a row suspect (see test_validate), not the reader."""
    titled_lists = prose_reader(codebook).pats.titled_lists  # the pattern file's titled lists of schools
    observations, _ = extract_tables(documents[report_id], codebook, version=VERSION, titled_lists=titled_lists)
    _assert_same_rows(_rows(observations), _golden(report_id), f"report {report_id}")


@pytest.mark.parametrize("report_id", ["000", "003", "004"])
def test_every_golden_table_row_reaches_the_database(db_con, report_id):
    got = db_con.execute(
        "SELECT source_table, indicator_code, year, entity, raw FROM observations "
        "WHERE report_id = ? AND method = 'table'", [report_id]).fetchall()
    assert {tuple(r) for r in got} == {g[:5] for g in _golden(report_id)}


def test_golden_files_cover_every_annex_table_and_both_year_columns():
    """The golden files themselves: six annex tables per tabled report, 004 in 2023 and 2024."""
    for report_id in ("000", "003", "004"):
        rows = _golden(report_id)
        annex = {annex_table_key(re.sub(r"^附?表\s*\d+\s*[:：.]?\s*", "", t)) for t, *_ in rows} - {None}
        assert len(annex) == 6, (report_id, annex)
    assert {r[2] for r in _golden("004")} == {2023, 2024}
    assert {r[2] for r in _golden("000") if r[0].startswith("表 1-")} == {2022, 2023}
    assert {r[3] for r in _golden("003")} >= {"塔城地区师范学校", "额敏县职业高级中学", None}


def test_no_unmapped_rows_on_the_real_reports(db_con):
    rows = db_con.execute("SELECT report_id, line, source_table, label FROM unmapped_rows").fetchall()
    assert rows == []


def test_table_values_have_provenance_and_missing_is_never_zero(db_con, documents):
    rows = db_con.execute(
        "SELECT report_id, line, raw, value, status, flag FROM observations WHERE method = 'table'").fetchall()
    assert len(rows) > 600
    for report_id, line, raw, value, status, flag in rows:
        assert raw in documents[report_id].line(line)
        if status == "missing":
            assert value is None and flag
    dashes = [r for r in rows if r[2] == "-"]
    assert dashes and all(r[4] == "missing" for r in dashes)


def test_code_names_no_report_or_region(registry):
    """Document quirks live in data (codebook aliases), never in the table code."""
    sources = "".join(p.read_text(encoding="utf-8")
                      for p in (ROOT / "vqr_analysis" / "extract").glob("*.py") if p.stem in {"tables", "layouts"})
    for r in registry:
        for name in (r.region, r.region_zh, r.subject_zh, r.region_en, f'"{r.id}"'):
            assert name not in sources, name


# --- layouts on fixtures ---------------------------------------------------------------------------------

def test_tab_rows_layout_reads_through_a_blank_line_and_keeps_shifted_rows():
    lines = (TABLE_FIXTURES / "000_teaching_resources_tab_rows.txt").read_text(encoding="utf-8").split("\n")
    (table,) = find_tables(lines)
    assert table.layout == "tab_rows" and table.number == "3" and annex_table_key(table.name) == "teaching_resources"
    assert table.header.texts() == ["序号", "指标", "单位", "2023年"]
    assert len(table.rows) == 43  # 44 printed rows minus the header; the blank line inside is skipped
    assert table.rows[-1].texts() == ["13", "生均教学科研仪器设备值*", "元/生", "9194.51"]


def test_tab_rows_layout_skips_a_page_footnote_inside_a_table():
    lines = (TABLE_FIXTURES / "000_year_tables_tab_rows.txt").read_text(encoding="utf-8").split("\n")
    first, second = find_tables(lines)
    assert (first.number, second.number) == ("1-2", "1-3")
    assert [r.texts()[0] for r in second.rows] == ["1", "2", "3", "4", "5", "6", "7"]


def test_cell_lines_layout_reads_empty_cells_and_rows():
    lines = (TABLE_FIXTURES / "003_per_school_cell_lines.txt").read_text(encoding="utf-8").split("\n")
    schools, teachers = find_tables(lines)
    assert schools.layout == teachers.layout == "cell_lines"
    assert schools.header.texts()[0] == "" and schools.header.texts()[1] == "塔城地区师范学 校"
    assert [r.texts()[0] for r in schools.rows] == ["校园面积（亩）", "教职工人数（人）", "学生人数（人）"]
    assert schools.rows[0].cells[1].line == 11 and schools.rows[0].cells[1].value == "185"
    assert teachers.rows[-1].texts() == ["塔城地区", "529", "467", "59", "378", "46", "124"]


def test_titles_without_a_table_and_table_of_contents_entries_are_not_tables():
    lines = ["表 1 人才培养质量计分卡\t87", "表 2 满意度调查表\t88", "", "附表 1.人才培养质量计分卡", "",
             "附表 2.满意度调查表", "", "正文。"]
    assert find_tables(lines) == []


@pytest.mark.parametrize("fixture", sorted(p.name for p in TABLE_FIXTURES.glob("*.txt")))
def test_fixture_tables_give_the_golden_rows(documents, codebook, fixture):
    doc, report_id = _fixture_doc(documents, fixture)
    obs, unmapped = extract_tables(doc, codebook, version=VERSION)
    assert unmapped == []
    titles = {t.title for t in find_tables(doc.lines)}
    expected = [r for r in _golden(report_id) if r[0] in titles]
    assert expected, fixture
    _assert_same_rows(_rows(obs), expected, fixture)
    for o in obs:
        assert o.raw in doc.line(o.line), (o.indicator_code, o.line, o.raw)


def test_row_mapping_details(documents, codebook):
    """Second units, repeated labels under a shifted row number, a row missing its leading tab, 表2 columns."""
    doc, _ = _fixture_doc(documents, "000_teaching_resources_tab_rows.txt")
    by_line = {}
    for o in extract_tables(doc, codebook, version=VERSION)[0]:
        by_line.setdefault(o.line, []).append(o)
    assert [o.indicator_code for o in by_line[10]] == ["courses_total_hours"]  # '\t\t学时\t3165968'
    assert by_line[10][0].label == "教学计划内课程总数*（学时）"
    assert [o.indicator_code for o in by_line[37]] == ["virtual_sim_bases_school"]  # '9\t校级数量' (row 9 misplaced)
    assert [o.indicator_code for o in by_line[39]] == ["textbooks"]
    assert [o.indicator_code for o in by_line[43]] == ["textbooks_platform"]

    doc, _ = _fixture_doc(documents, "004_satisfaction_teaching_resources_tab_rows.txt")
    obs = extract_tables(doc, codebook, version=VERSION)[0]
    school_enterprise = [o for o in obs if o.indicator_code.startswith("courses_school_enterprise")]
    assert {(o.indicator_code, o.year, o.raw) for o in school_enterprise} == {
        ("courses_school_enterprise", 2023, "0"), ("courses_school_enterprise", 2024, "0"),
        ("courses_school_enterprise_hours", 2023, "0"), ("courses_school_enterprise_hours", 2024, "0")}
    respondents = [o for o in obs if o.indicator_code == "sat_graduates_new_respondents"]
    assert [(o.year, o.value) for o in respondents] == [(2024, 315.0)]  # the latest year column
    assert respondents[0].label.endswith("调查方式：纸质版问 卷调查")
    staff = [o for o in obs if o.indicator_code.startswith("sat_staff")]
    assert len(staff) == 3 and all(o.status == "missing" and o.value is None for o in staff)


def test_missing_cells_are_missing_not_zero(documents, codebook):
    """A row cut short (its last cell lost) gives an empty, missing cell, in either layout."""
    doc = documents["004"]
    lines = list(doc.lines)
    assert lines[550] == "1\t毕业生人数\t人\t283\t378"
    lines[550] = "1\t毕业生人数\t人\t283"
    short = _doc_with_text(doc, "\n".join(lines))
    for variant in (short, _doc_with_text(doc, _relaid(short, "cell_lines"))):
        graduates = {o.year: o for o in extract_tables(variant, codebook, version=VERSION)[0]
                     if o.indicator_code == "graduates"}
        assert graduates[2023].value == 283
        assert (graduates[2024].raw, graduates[2024].value, graduates[2024].status) == ("", None, "missing")
        assert graduates[2024].flag == "empty cell"


def test_cell_values_ratio_comma_decimal_and_not_applicable(documents, codebook):
    obs = extract_tables(documents["004"], codebook, version=VERSION)[0]
    ratio = {o.year: o.value for o in obs if o.indicator_code == "student_teacher_ratio"}
    assert ratio == {2023: 18.0, 2024: 16.85}
    (comma,) = [o for o in obs if o.raw == "4651,60"]
    assert comma.value == pytest.approx(4651.6) and comma.status == "suspect" and "comma" in comma.flag
    obs = extract_tables(documents["000"], codebook, version=VERSION)[0]
    assert [o.value for o in obs if o.raw == "20.05:1"] == [20.05]
    obs = extract_tables(documents["003"], codebook, version=VERSION)[0]
    not_filled = [o for o in obs if o.raw in {"中职不填报", "高职填报"}]
    assert len(not_filled) == 4 and all(o.status == "missing" and o.value is None for o in not_filled)


def test_per_school_tables_carry_entities_units_and_conversions(documents, codebook):
    doc, _ = _fixture_doc(documents, "003_per_school_cell_lines.txt")
    obs = extract_tables(doc, codebook, version=VERSION)[0]
    area = {o.entity: o for o in obs if o.indicator_code == "campus_area"}
    school = area["塔城地区师范学校"]  # printed '塔城地区师范学 校'
    assert (school.raw, school.raw_unit, school.unit) == ("185", "亩", "平方米")
    assert school.value == pytest.approx(185 * 10000 / 15)
    assert doc.line(school.line) == "\t185"
    totals = [o for o in obs if o.source_table.startswith("表3") and o.entity is None]
    assert {o.indicator_code: o.value for o in totals}["staff_establishment"] == 529
    assert {o.year for o in obs} == {2023}


# --- the same tables in the other layout -----------------------------------------------------------------

def _relaid(doc, to_layout: str) -> str:
    """The document's text with every titled table rewritten in ``to_layout`` (cells kept verbatim)."""
    lines = list(doc.lines)
    for table in reversed(find_tables(doc.lines)):
        rows = [table.header, *table.rows]
        if to_layout == "cell_lines":
            block = [line for row in rows for line in [*("\t" + c.text for c in row.cells), ""]]
        else:
            block = ["\t".join(c.text for c in row.cells) for row in rows] + [""]
        end = max(c.line for c in table.rows[-1].cells)
        lines[table.title_line:end] = ["", *block]
    return "\n".join(lines)


@pytest.mark.parametrize(("report_id", "to_layout"), [("004", "cell_lines"), ("000", "cell_lines"),
                                                      ("003", "tab_rows")])
def test_relaid_tables_give_the_same_values(documents, codebook, report_id, to_layout):
    doc = documents[report_id]
    original, unmapped = extract_tables(doc, codebook, version=VERSION)
    relaid_doc = _doc_with_text(doc, _relaid(doc, to_layout))
    assert {t.layout for t in find_tables(relaid_doc.lines)} == {to_layout}
    relaid, relaid_unmapped = extract_tables(relaid_doc, codebook, version=VERSION)
    assert unmapped == relaid_unmapped == []
    _assert_same_rows(_rows(relaid), _rows(original), f"{report_id} as {to_layout}")
    for o in relaid:
        assert o.raw in relaid_doc.line(o.line)


# --- unknown rows are reported -----------------------------------------------------------------------------

def test_unknown_rows_are_reported_not_dropped(documents, codebook, tmp_path, capsys):
    from vqr_analysis.cli import print_build_summary
    from vqr_analysis.sources.codebook import load_codebook
    from vqr_analysis.store.database import build_database, connect_readonly

    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data, ignore=shutil.ignore_patterns("*.duckdb*"))
    text = (data / "indicators.csv").read_text(encoding="utf-8")
    # Forget the label of one annex row: it must come back as an unmapped row, with nothing else lost.
    text = re.sub(r"^(internet_bandwidth,teaching_resources,,)互联网出口带宽,", r"\1互联网出口总带宽,", text,
                  flags=re.M)
    (data / "indicators.csv").write_text(text, encoding="utf-8")

    obs, unmapped = extract_tables(documents["004"], load_codebook(data / "indicators.csv"), version=VERSION)
    assert [(u["line"], u["label"]) for u in unmapped] == [(625, "互联网出口带宽")]
    assert len(obs) == len(extract_tables(documents["004"], codebook, version=VERSION)[0]) - 2

    summary = build_database(tmp_path / "vqr.duckdb", base=data)
    assert summary.unmapped.height == 3  # one row in each of 000, 003 and 004
    con = connect_readonly(tmp_path / "vqr.duckdb")
    try:
        stored = con.execute("SELECT report_id, line, label FROM unmapped_rows ORDER BY report_id").fetchall()
    finally:
        con.close()
    assert stored == [("000", 1351, "互联网出口带宽*"), ("003", 929, "互联网出口带宽*"), ("004", 625, "互联网出口带宽")]
    print_build_summary(summary, show_unmapped=True)
    out = capsys.readouterr().out
    assert "unmapped table rows: 3" in out and "互联网出口带宽" in out
