"""Validation rules, corrections and the preferred-value view, on the database built from the five reports
(the known source defects must be caught) and on small hand-made cases for the rules' edge cases."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import sys

import duckdb
import pytest

from support.paths import DATA, ROOT
from vqr_analysis.core.errors import VqrError
from vqr_analysis.extract.model import Observation
from vqr_analysis.quality.rules import RULES, run_checks


def _flags(con, report_id: str, line: int, raw: str, method: str | None = None) -> dict[str, tuple]:
    """rule → (severity, message, related obs line) for the statement printed as ``raw`` on ``line``."""
    rows = con.execute(
        """SELECT f.rule, f.severity, f.message, r.line, o.status
           FROM quality_flags f JOIN observations o USING (obs_id)
           LEFT JOIN observations r ON r.obs_id = f.related_obs_id
           WHERE o.report_id = ? AND o.line = ? AND o.raw = ? AND (? IS NULL OR o.method = ?)""",
        [report_id, line, raw, method, method],
    ).fetchall()
    assert all(status == "suspect" for *_, status in rows), rows
    return {rule: (severity, message, related) for rule, severity, message, related, _ in rows}


def test_001_per_student_equipment_in_wan_yuan_is_flagged(db_con):
    flags = _flags(db_con, "001", 33, "29042", "prose")
    assert flags["bounds"][0] == "error" and "生均教学科研仪器设备值" in flags["bounds"][1]
    # and it disagrees with its own total ÷ students (18967.3836万元 / 6531)
    assert "ratio_consistency" in flags and "18,967.38 ÷ 6,531" in flags["ratio_consistency"][1]


def test_001_books_per_student_in_wan_ce_is_flagged(db_con):
    flags = _flags(db_con, "001", 33, "29.78", "prose")
    assert "bounds" in flags and "生均图书" in flags["bounds"][1]


def test_002_wan_yuan_against_its_table_in_yuan_per_student(db_con):
    flags = _flags(db_con, "002", 1994, "13782.66", "prose")
    assert "bounds" in flags
    assert flags["conflict"][2] == 2017  # table 12's '13782.66 元/生'
    # the table row is clean: the conflict is explained by the slip, not blamed on both
    assert _flags(db_con, "002", 2017, "13782.66") == {}


def test_004_comma_decimal_is_flagged(db_con):
    flags = _flags(db_con, "004", 675, "4651,60", "table")
    assert flags["extraction"][0] == "warning" and "comma used as decimal point" in flags["extraction"][1]


def test_table_and_prose_disagreeing_are_both_marked(db_con):
    """004: annex table 3 gives a 双师型 share of 79.41%, the prose 41.54% of full-time teachers; nothing says
    which is right, so both statements carry the conflict, each pointing at the other."""
    table = _flags(db_con, "004", 584, "79.41", "table")
    prose = _flags(db_con, "004", 129, "41.54", "prose")
    assert table["conflict"][2] == 129 and prose["conflict"][2] == 584


def test_003_per_student_figures_disagree_with_their_totals(db_con):
    flags = _flags(db_con, "003", 154, "181754.64", "prose")
    assert "ratio_consistency" in flags and "6,777.83 ÷ 4,267" in flags["ratio_consistency"][1]


def test_flags_are_well_formed(db_con):
    rows = db_con.execute(
        """SELECT f.rule, f.severity, o.status, f.related_obs_id IS NULL OR r.obs_id IS NOT NULL
           FROM quality_flags f JOIN observations o USING (obs_id)
           LEFT JOIN observations r ON r.obs_id = f.related_obs_id"""
    ).fetchall()
    assert rows
    for rule, severity, status, related_exists in rows:
        assert rule in RULES and severity == RULES[rule][0]
        assert status in ("suspect", "missing") and related_exists
    # no flagged statement stays 'reported', and every rule fired on the real reports but two: no report here
    # states a rate its own sentence's counts contradict, or parts that do not overlap above their total
    # (share_vs_counts and parts_above_total are tested on hand-made statements)
    assert {r[0] for r in rows} == set(RULES) - {"share_vs_counts", "parts_above_total"}


def test_corrections_win_and_never_edit_raw(db_con):
    picked = {
        (r[0], r[1]): r[2:]
        for r in db_con.execute(
            """SELECT report_id, indicator_code, value, status, method, raw, line, pick_reason
               FROM indicator_values WHERE method = 'correction' ORDER BY report_id"""
        ).fetchall()
    }
    assert picked[("001", "equipment_value_per_student")][:5] == (29042, "reported", "correction", "29042", 33)
    assert picked[("001", "books_per_student")][:3] == (None, "missing", "correction")  # withdrawn, not guessed
    assert picked[("002", "equipment_value_per_student")][:2] == (13782.66, "reported")
    assert picked[("004", "special_appropriation")][:4] == (4651.6, "reported", "correction", "4651,60")
    assert all("correction" in r[-1] for r in picked.values())
    # the corrected statements are still there, as printed, and still flagged
    original = db_con.execute(
        "SELECT value, status FROM observations WHERE report_id='001' AND raw='29042' AND method='prose'").fetchone()
    assert original == (290_420_000, "suspect")


def test_preferred_values_say_why(db_con):
    reasons = dict(db_con.execute("SELECT pick_reason, count(*) FROM indicator_values GROUP BY 1").fetchall())
    assert reasons["only statement"] > 0 and any(r.endswith("statements agree") for r in reasons)
    n_keys = db_con.execute(
        """SELECT count(*) FROM (SELECT DISTINCT report_id, coalesce(entity, ''), indicator_code, year
           FROM observations)""").fetchone()[0]
    assert db_con.execute("SELECT count(*) FROM indicator_values").fetchone()[0] == n_keys
    # 002's per-student equipment: the correction, over the slip and over table 12's statement
    row = db_con.execute(
        """SELECT value, method, n_statements FROM indicator_values
           WHERE report_id = '002' AND indicator_code = 'equipment_value_per_student'""").fetchone()
    assert row == (13782.66, "correction", 3)


# --- rules on hand-made statements -------------------------------------------------------------------------


@pytest.fixture()
def scratch(codebook):
    """An empty database with the real schema; ``add`` stores statements, ``check`` runs the rules."""
    from vqr_analysis.store.database import create_schema
    from vqr_analysis.extract.model import OBSERVATION_COLUMNS, observations_frame

    con = duckdb.connect()
    create_schema(con)
    made: list[Observation] = []

    def add(code, value, *, raw=None, method="prose", qualifier="exact", year=2023, unit=None, entity=None,
            quote="q", table=None):
        o = Observation(report_id="T", source_sha256="x", indicator_code=code, year=year, value=value,
                        unit=unit or codebook[code].unit, raw=raw or f"{value:g}", line=len(made) + 1, quote=quote,
                        status="reported", method=method, extractor_version="t", qualifier=qualifier,
                        entity=entity, obs_id=len(made) + 1, source_table=table)
        made.append(o)
        return o.obs_id

    def check(*, messages: bool = False):
        frame = observations_frame(made)  # noqa: F841 (read by DuckDB below)
        con.execute(f"INSERT INTO observations SELECT {', '.join(OBSERVATION_COLUMNS)} FROM frame")
        run_checks(con, codebook)
        if messages:
            return {(obs_id, rule): message for obs_id, rule, message
                    in con.execute("SELECT obs_id, rule, message FROM quality_flags").fetchall()}
        return {(obs_id, rule) for obs_id, rule in con.execute("SELECT obs_id, rule FROM quality_flags").fetchall()}

    yield add, check
    con.close()


def test_conflict_respects_qualifiers_and_printed_precision(scratch):
    add, check = scratch
    exact = add("full_time_teachers", 535)
    same = add("full_time_teachers", 535, method="table")
    approx = add("graduates", 3300, qualifier="approximate")
    near = add("graduates", 3312)
    bound = add("placement_rate", 96, qualifier="lower_bound")
    above = add("placement_rate", 98)
    below_bound = add("dual_qualified_teacher_share", 61, qualifier="lower_bound")
    below = add("dual_qualified_teacher_share", 55)
    rounded = add("equipment_value_per_student", 8700, raw="0.87")  # '0.87 万元': 8650-8750
    precise = add("equipment_value_per_student", 8740.5, raw="8740.5")
    other_entity = add("full_time_teachers", 60, entity="某校")
    flags = check()
    for quiet in (exact, same, approx, near, bound, above, rounded, precise, other_entity):
        assert not {r for o, r in flags if o == quiet}, quiet
    assert (below, "conflict") in flags and (below_bound, "conflict") in flags


def test_bounds_parts_and_ratio(scratch):
    add, check = scratch
    share = add("senior_title_teacher_share", 123.4)
    teachers = add("full_time_teachers", 200)
    part = add("senior_title_teachers", 250)
    students = add("full_time_students", 4000)
    ratio_ok = add("student_teacher_ratio", 19.0, unit="ratio")
    ratio_bad = add("student_teacher_ratio", 51, unit="ratio", year=2022)
    add("full_time_students", 4000, year=2022)
    add("full_time_teachers", 200, year=2022)
    correction = add("full_time_teachers", 150, method="correction", year=2021)
    flags = check()
    assert (share, "bounds") in flags
    assert (part, "parts_le_total") in flags and (teachers, "parts_le_total") not in flags
    assert (ratio_bad, "ratio_consistency") in flags and not {r for o, r in flags if o == ratio_ok}
    assert not {r for o, r in flags if o in (students, correction)}  # a correction is no conflict


# --- the corrections file ----------------------------------------------------------------------------------


def _data_copy(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA, data, ignore=shutil.ignore_patterns("*.duckdb*"))
    return data


def test_stale_or_unexplained_correction_fails_the_build(tmp_path):
    from vqr_analysis.store.database import build_database

    data = _data_copy(tmp_path)
    path = data / "corrections.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("001,33,29042,", "001,34,29042,"), encoding="utf-8")
    with pytest.raises(VqrError, match="no statement '29042' read as equipment_value_per_student on line 34"):
        build_database(tmp_path / "a.duckdb", base=data)
    rows = list(csv.reader(io.StringIO(text)))
    rows[1][-1] = " "
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    with pytest.raises(VqrError, match="row 2: a correction needs a reason"):
        build_database(tmp_path / "b.duckdb", base=data)
    assert not list(tmp_path.glob("*.duckdb"))


def test_cli_summary_shows_values_and_flags_per_report(tmp_path):
    out = subprocess.run([sys.executable, "-m", "vqr_analysis.cli", "db", "--db", str(tmp_path / "c.duckdb")],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "observations by method/status" in out.stdout and "prose/reported" in out.stdout
    assert "quality flags by rule" in out.stdout
    for rule in ("bounds", "conflict", "ratio_consistency", "parts_le_total", "extraction"):
        assert rule in out.stdout


# --- source defects across statements (quality.defects) ------------------------------------------------------


def _plain(message: str) -> None:
    """A message a reader understands: Chinese, then English; no snake_case codes, no scientific notation."""
    zh, _, en = message.partition(" / ")
    assert re.search(r"[\u4e00-\u9fff]", zh) and re.search(r"[A-Za-z]{3,}", en), message
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", message), message
    assert not re.search(r"\d[eE][+-]?\d", message), message


def test_a_rate_against_the_counts_in_its_own_sentence(scratch):
    add, check = scratch
    sentence = "2024 年毕业生 378 人，已就业 300 人，就业率 99%。"
    graduates = add("graduates", 378, quote=sentence)
    placed = add("graduates_placed", 300, quote=sentence)
    rate = add("placement_rate", 99, quote=sentence)
    fine = "毕业生 378 人，毕业去向落实数 375 人，落实率为 99%。"  # 375 ÷ 378 = 99.2 %, printed rounded
    add("graduates", 378, quote=fine, year=2022)
    add("graduates_placed", 375, quote=fine, year=2022)
    fine_rate = add("placement_rate", 99, quote=fine, year=2022)
    elsewhere = add("graduates_placed", 100, quote="另一句。", year=2021)  # not in the rate's sentence
    add("graduates", 378, quote="又一句。", year=2021)
    lonely_rate = add("placement_rate", 99, quote="就业率 99%。", year=2021)
    flags = check(messages=True)
    assert (rate, "share_vs_counts") in flags
    assert (fine_rate, "share_vs_counts") not in flags and (lonely_rate, "share_vs_counts") not in flags
    assert not {o for o, r in flags if r == "share_vs_counts"} - {rate}
    message = flags[rate, "share_vs_counts"]
    _plain(message)
    assert "79.37%" in message and "毕业去向落实率" in message and "graduates" not in message.split(" / ")[0]
    assert graduates and placed and elsewhere


def test_a_share_uses_the_reports_total_when_its_sentence_has_none(scratch):
    add, check = scratch
    add("full_time_teachers", 65, quote="其中专任教师 65 人。", year=2024)
    add("dual_qualified_teachers", 27, quote="双师型教师 27 人，占专任教师 61.54%；", year=2024)
    share = add("dual_qualified_teacher_share", 61.54, quote="双师型教师 27 人，占专任教师 61.54%；", year=2024)
    add("senior_title_teachers", 15, quote="高级职称教师 15 人，占比 23.08%；", year=2024)
    right = add("senior_title_teacher_share", 23.08, quote="高级职称教师 15 人，占比 23.08%；", year=2024)
    flags = check()
    assert (share, "share_vs_counts") in flags and (right, "share_vs_counts") not in flags


def test_schools_of_per_school_tables_above_the_reports_total(scratch):
    add, check = scratch
    total = add("bachelor_teachers", 378, method="table", table="表3")
    for school, n in (("甲校", 154), ("乙校", 88), ("丙校", 184)):
        add("bachelor_teachers", n, method="table", table="表3", entity=school)
    add("full_time_teachers", 467, method="table", table="表3")
    for school, n in (("甲校", 123), ("乙校", 94), ("丙校", 250)):
        add("full_time_teachers", n, method="table", table="表3", entity=school)
    flags = check(messages=True)
    assert {o for o, r in flags if r == "schools_above_total"} == {total}
    message = flags[total, "schools_above_total"]
    _plain(message)
    assert "426" in message and "3 所学校" in message and "48" in message


def test_003_schools_bachelor_teachers_exceed_the_prefectures_total(db_con):
    """Table 3 of 003: the six schools' bachelor-degree teachers add up to 426, the prefecture row says 378
    (one school prints 154 against 123 full-time teachers, flagged too)."""
    rows = db_con.execute(
        """SELECT o.line, o.raw, f.severity, f.message FROM quality_flags f JOIN observations o USING (obs_id)
           WHERE o.report_id = '003' AND f.rule = 'schools_above_total'""").fetchall()
    assert [(line, raw, severity) for line, raw, severity, _ in rows] == [(148, "378", "error")]
    _plain(rows[0][3])
    assert _flags(db_con, "003", 108, "154")["parts_le_total"]


def test_every_flag_message_is_plain_words_in_both_languages(db_con):
    """Issue 14: flag messages are Chinese and English sentences, with labels instead of codes and numbers as the
    one formatter writes them (never 2.9042e+08)."""
    rows = db_con.execute("SELECT message, message_zh, message_en FROM quality_flags").fetchall()
    assert rows
    for message, zh, en in rows:
        _plain(message)
        assert message == f"{zh} / {en}"


def test_000_prose_restating_an_annex_value_differently_is_flagged(db_con):
    """000 line 718 states 国家级 5 and 自治区级 12 virtual-simulation bases, annex 表3 4 and 15; line 720 two
    national resource libraries, 表3 three. Both statements are kept and each carries the conflict."""
    for prose_raw, table_line, table_raw in (("5", 1340, "4"), ("12", 1342, "15")):
        assert _flags(db_con, "000", 718, prose_raw, "prose")["conflict"][2] == table_line
        assert _flags(db_con, "000", table_line, table_raw, "table")["conflict"][2] == 718
    assert _flags(db_con, "000", 720, "2", "prose")["conflict"][2] == 1323


def test_whole_counts_compare_exactly(scratch):
    """'2 个' and '3 个' are two different counts, whatever the printed precision of a decimal would allow;
    '0.87 万元' still stands for a range."""
    add, check = scratch
    two = add("resource_libraries_national", 2)
    three = add("resource_libraries_national", 3, method="table")
    add("equipment_value_per_student", 8700, raw="0.87")
    close = add("equipment_value_per_student", 8740.5, raw="8740.5")
    flags = check()
    assert (two, "conflict") in flags and (three, "conflict") in flags
    assert (close, "conflict") not in flags


def test_parts_that_do_not_overlap_above_their_total(scratch):
    add, check = scratch
    total = add("funding_expenditure_total", 1000, method="table", table="表")
    add("expenditure_infrastructure", 700)
    add("expenditure_salaries", 400)
    fine_total = add("funding_income_total", 1000, year=2022)
    add("income_education_business", 600, year=2022)
    add("income_government_funds", 400, year=2022)
    # employment categories A-D overlap: never summed
    add("graduates_first_employment", 100)
    add("employed_local", 90)
    add("employed_west_northeast", 90)
    flags = check(messages=True)
    assert {o for o, r in flags if r == "parts_above_total"} == {total}
    message = flags[total, "parts_above_total"]
    _plain(message)
    assert "1,100" in message and "办学经费总支出" in message and "100 more" in message
    assert fine_total


def test_a_pass_rate_against_its_counts(scratch):
    add, check = scratch
    sentence = "参加人数为6348人，合格人数5226人，合格率为98%。"
    add("physical_test_participants", 6348, quote=sentence)
    add("physical_test_passed", 5226, quote=sentence)
    rate = add("physical_test_pass_rate", 98, quote=sentence)
    assert (rate, "share_vs_counts") in check()
