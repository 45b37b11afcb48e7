"""The coverage ledger on the five real reports (table ``number_ledger`` of the session database) and
``vqr coverage``."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys

import duckdb
import pytest
from typer.testing import CliRunner

from support.paths import DATA
from vqr_analysis.cli import app
from vqr_analysis.quality.coverage import number_spans

runner = CliRunner()


def test_every_ledger_row_is_printed_at_its_cited_line_and_position(db_con, documents):
    rows = db_con.execute('SELECT report_id, line, position, raw FROM number_ledger').fetchall()
    assert len(rows) > 1000
    for report_id, line, position, raw in rows:
        text = documents[report_id].line(line)
        assert text[position:position + len(raw)] == raw, (report_id, line, position, raw)


def test_every_printed_number_has_exactly_one_row(db_con, documents):
    for report_id, doc in documents.items():
        stored = db_con.execute("SELECT line, position FROM number_ledger WHERE report_id = ? ORDER BY ALL",
                                [report_id]).fetchall()
        printed = [(n, pos) for n, line in enumerate(doc.lines, 1) for pos, _ in number_spans(line)]
        assert stored == printed, report_id


def test_every_observations_number_is_in_the_ledger_as_extracted(db_con):
    missing = db_con.execute(
        """SELECT o.obs_id, o.report_id, o.line, o.raw FROM observations o
           WHERE regexp_matches(o.raw, '\\d')
             AND NOT EXISTS (SELECT 1 FROM number_ledger l
                             WHERE l.report_id = o.report_id AND l.line = o.line AND l."class" = 'extracted'
                               AND list_contains(string_split(l.obs_ids, ' '), o.obs_id::VARCHAR))""").fetchall()
    assert missing == []


def test_an_extracted_number_is_the_number_its_observations_print(db_con):
    rows = db_con.execute(
        """SELECT l.raw, o.raw FROM number_ledger l, unnest(string_split(l.obs_ids, ' ')) AS t(id)
           JOIN observations o ON o.obs_id = t.id::BIGINT WHERE l."class" = 'extracted'""").fetchall()
    assert rows and all(number_spans(obs_raw)[0][1] == raw for raw, obs_raw in rows)


def test_classes_and_reasons_are_consistent(db_con):
    bad = db_con.execute(
        """SELECT * FROM number_ledger WHERE ("class" = 'context') <> (reason IS NOT NULL)
              OR ("class" = 'extracted') <> (obs_ids IS NOT NULL)""").fetchall()
    assert bad == []
    shares = dict(db_con.execute(
        """SELECT report_id, avg(("class" = 'unread')::INT) FROM number_ledger GROUP BY 1""").fetchall())
    assert set(shares) == {"000", "001", "002", "003", "004"}
    assert all(0 < share < 1 for share in shares.values())


# Units of counted things: a number printed before one is a quantity.
_UNIT_AFTER = re.compile(r"[ \u3000]*(?:人|名|所|个|万元|元|台|册|门|项|家|间|套|亩|平方米)")

# ... unless it numbers a caption ('表 1 人才培养质量计分卡', '图 1 名班主任工作室').
_CAPTION_BEFORE = re.compile(r"^\s*附?[表图]\s*$")


def test_a_quantity_with_its_unit_is_never_context_unless_a_rule_names_why(db_con, documents):
    """A number followed by a counting unit is a quantity: context only as a change, a bucket bound, a rank, a
    date (年/月 are units too), or inside converter markup; a section, code or name rule must never take it."""
    rows = db_con.execute(
        """SELECT report_id, line, position, raw, reason FROM number_ledger
           WHERE "class" = 'context' AND reason NOT IN ('change', 'range', 'rank', 'date', 'markup')""").fetchall()
    hidden = [r for r in rows if _UNIT_AFTER.match(documents[r[0]].line(r[1]), r[2] + len(r[3]))
              and not _CAPTION_BEFORE.search(documents[r[0]].line(r[1])[:r[2]])]
    assert hidden == []


def _vqr(*args: str, db) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vqr_analysis.cli", *args, "--db", str(db)],
                          capture_output=True, text=True, encoding="utf-8")


def _invoke(*args, db):
    return runner.invoke(app, ["coverage", *args, "--db", str(db)])


def test_cli_counts_per_report(built_db, db_con):
    result = _invoke(db=built_db)
    assert result.exit_code == 0, result.output
    assert "unread_share" in result.output and "tenth_division" in result.output
    assert "context numbers by reason" in result.output


def test_cli_csv_counts_match_the_table(built_db, db_con):
    result = _invoke("--format", "csv", db=built_db)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    expected = dict(db_con.execute(
        """SELECT report_id, count(*) FILTER (WHERE "class" = 'unread') FROM number_ledger GROUP BY 1""").fetchall())
    assert {r["report_id"]: int(r["unread"]) for r in rows} == expected
    assert all(int(r["extracted"]) + int(r["context"]) + int(r["unread"]) == int(r["numbers"]) for r in rows)


def test_cli_lists_the_unread_numbers_of_one_report_with_line_and_context(built_db, db_con, documents):
    result = _invoke("--report", "001", "--unread", "--format", "csv", db=built_db)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    n_unread = db_con.execute("""SELECT count(*) FROM number_ledger WHERE report_id = '001' AND "class" = 'unread'""").fetchone()[0]
    assert len(rows) == n_unread and {r["report_id"] for r in rows} == {"001"}
    for r in rows[:50]:
        line = documents["001"].line(int(r["line"]))
        assert line[int(r["position"]):].startswith(r["raw"]) and r["raw"] in r["context"].lstrip("'")
    table = _invoke("--report", "001", "--unread", db=built_db)
    assert table.exit_code == 0 and f"{n_unread} unread numbers" in table.output


@pytest.mark.parametrize("args,message", [
    (("--report", "999"), "unknown report '999'"),
    (("--format", "xml"), "unknown format 'xml'"),
])
def test_cli_bad_arguments_are_one_error_line(built_db, args, message):
    result = _vqr("coverage", *args, db=built_db)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().startswith("error:") and len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr


def test_cli_on_a_database_without_a_ledger_says_to_rebuild(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE reports (id VARCHAR, region VARCHAR)")
    con.close()
    result = _vqr("coverage", db=path)
    assert result.returncode == 2 and "rebuild it with `vqr db`" in result.stderr


def test_the_build_summary_prints_the_unread_share(tmp_path):
    result = runner.invoke(app, ["db", "--db", str(tmp_path / "vqr.duckdb")], env={"VQR_DATA_DIR": str(DATA)})
    assert result.exit_code == 0, result.output
    line = next(l for l in result.output.splitlines() if l.startswith("unread share"))
    assert all(f"{rid} " in line for rid in ("000", "001", "002", "003", "004")) and "%" in line
