"""Hostile and malformed input through the `vqr` command, as a user would meet it.

Each test copies data/ into a temp folder, breaks one thing, runs the CLI as a subprocess (VQR_DATA_DIR,
--db/VQR_DB, VQR_BUILD_DIR and VQR_SITE_DIR all inside the temp folder) and asserts: exit code 2, exactly one
line `error: …` naming the file and the problem, no traceback, and the last good database — and, for
`vqr build`, the last good site — byte-identical.

What the two structural defects do (decided here, implemented in vqr_analysis/extract/integrity.py): a
repeated annex table and a truncated annex table are both errors, because either would store wrong values
without any other sign. See tests/fixtures/hostile/README.md.
"""

from __future__ import annotations

import os
import random
import re

import pytest

from support.paths import ROOT

from support.cli_project import (
    SAMPLE, SAMPLE_REGION, Project, assert_db_command_refused, assert_refused, make_project,
)
from support.hostile_inputs import inflate, markup_report, markup_sections, pdf_from_text, register, report_entry

SQL_INJECTION = "x'; drop table observations; --"


@pytest.fixture
def project(tmp_path, built_db) -> Project:
    return make_project(tmp_path, built_db)


# --- the report files ----------------------------------------------------------------------------------

def test_empty_file(project):
    path, _ = project.sample()
    register(project.data, SAMPLE, b"")
    assert_db_command_refused(project, path.name, "file is empty")


def test_emptied_file_says_empty_even_before_its_hash_is_updated(project):
    path, _ = project.sample()
    path.write_bytes(b"\n\n")
    assert_db_command_refused(project, path.name, "file is empty", also_build=False)


def test_binary_file(project):
    path, _ = project.sample()
    noise = random.Random(9).randbytes(40_000)
    register(project.data, SAMPLE, noise[:100] + b"\x00" + noise)
    assert_db_command_refused(project, path.name, "file is binary")


def test_named_pipe_instead_of_a_file(project):
    """A FIFO would block the read forever: refused before reading."""
    path, _ = project.sample()
    path.unlink()
    os.mkfifo(path)
    assert_db_command_refused(project, path.name, "not a regular file", also_build=False)


def test_pdf_saved_under_a_txt_name(project):
    path, text = project.sample()
    register(project.data, SAMPLE, pdf_from_text(text[:2000]))
    assert_db_command_refused(project, path.name, "is a PDF, not text", "register it as .pdf", also_build=False)


def test_file_that_is_not_the_registered_sha256(project):
    path, _ = project.sample()
    path.write_bytes(path.read_bytes() + "\n（一行新增）".encode())
    assert_db_command_refused(project, path.name, "does not match the registered")


def test_file_cut_inside_a_utf8_character(project):
    path, text = project.sample()
    data = text.encode("utf-8")
    cut = len(data) // 2
    while data[cut] < 0xC0:  # move onto the lead byte of a multi-byte character, then cut after it
        cut += 1
    register(project.data, SAMPLE, data[: cut + 1])
    assert_db_command_refused(project, path.name, "ends in the middle of a UTF-8 character", also_build=False)


def test_truncated_annex_table(project):
    """The file ends inside 表3, in its last row cut before the last cell: an error, not a missing value."""
    path, text = project.sample()
    lines = text.split("\n")
    title = next(i for i, line in enumerate(lines) if line.startswith("表3 教学资源表"))
    last_row = next(i for i in range(title + 3, len(lines)) if not lines[i + 1].strip())
    cut = lines[last_row][: lines[last_row].rindex("\t")]
    register(project.data, SAMPLE, ("\n".join(lines[:last_row]) + "\n" + cut).encode())
    assert_db_command_refused(project, path.name, "annex table '表3 教学资源表'", "is truncated",
                              f"line {last_row + 1}")


def test_annex_table_repeated_twice(project):
    path, text = project.sample()
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("表3 教学资源表"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("表 4"))
    lines[end:end] = lines[start:end]
    register(project.data, SAMPLE, "\n".join(lines).encode())
    assert_db_command_refused(project, path.name, f"'表3 教学资源表' (line {start + 1}) appears again",
                              f"line {end + 1}")


@pytest.mark.slow
def test_fifty_megabyte_report_finishes_and_shows_progress(project):
    """A 50 MB report (the body repeated, the annex once) builds; progress names the file and its size.
    Time and memory are measured by benchmarks/bench_large_input.py, not asserted here (minutes, not
    seconds, on this machine: see the benchmark's docstring)."""
    path, text = project.sample()
    big = inflate(text, 50 * 2**20).encode()
    register(project.data, SAMPLE, big)
    result = project.run("db", "--db", str(project.db), timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(rf"… reading {SAMPLE} {SAMPLE_REGION} \({re.escape(path.name)}, 50\.\d MB\)", result.stderr)
    assert f"extracting {SAMPLE} {SAMPLE_REGION}" in result.stderr
    import duckdb

    con = duckdb.connect(str(project.db), read_only=True)
    try:
        annex = con.execute("SELECT count(*) FROM observations WHERE report_id = ? AND source_table LIKE '表%计分卡'",
                            [SAMPLE]).fetchone()[0]
    finally:
        con.close()
    assert annex > 0


def test_report_with_script_markdown_and_typst_markup_is_stored_verbatim(project):
    """Markup must not crash anything and is kept as evidence; escaping it is the job of every output
    (tests/test_site.py::test_script_in_a_report_shows_as_text uses the same fixture)."""
    _, text = project.sample()
    register(project.data, SAMPLE, markup_report(text).encode())
    result = project.run("db", "--db", str(project.db))
    assert result.returncode == 0, result.stderr[-3000:]
    import duckdb

    con = duckdb.connect(str(project.db), read_only=True)
    try:
        raws = {r[0] for r in con.execute("SELECT raw FROM observations WHERE report_id = ?", [SAMPLE]).fetchall()}
        unmapped = {r[0] for r in con.execute("SELECT label FROM unmapped_rows WHERE report_id = ?",
                                              [SAMPLE]).fetchall()}
    finally:
        con.close()
    (label, first_cell, *_), = (row.split("\t") for row in markup_sections()["cells"])
    assert first_cell in raws  # '0<script>…' stored exactly as printed (a missing value with its reason)
    assert '<script>alert("vqr-row")</script>' in unmapped


# --- the registry: paths outside the project -----------------------------------------------------------

@pytest.mark.parametrize("file, message", [
    ("../../../../etc/passwd.txt", "points outside the data folder"),
    ("/etc/passwd", "must be a relative path inside the data folder"),
    ("reports/report.doc", "unsupported format"),
])
def test_registry_file_outside_the_data_folder(project, file, message):
    registry = project.data / "reports.toml"
    old_file, _ = report_entry(project.data, SAMPLE)
    registry.write_text(registry.read_text(encoding="utf-8").replace(f'"{old_file}"', f'"{file}"'), encoding="utf-8")
    assert_db_command_refused(project, "reports.toml", f"[[report]] #1 ({SAMPLE})", message)


def test_registry_symlink_out_of_the_data_folder(project, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "secret.txt"
    outside.write_text("不是报告", encoding="utf-8")
    path, _ = project.sample()
    path.unlink()
    path.symlink_to(outside)
    assert_db_command_refused(project, "reports.toml", "points outside the data folder", also_build=False)


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("data_year = 2024", 'data_year = "2024"'), "data_year must be an integer"),
    (lambda t: t.replace('region = "tenth_division"', 'region = "x\'; drop table reports; --"'), "region slug"),
    (lambda t: t.replace('id = "004"', 'id = "../004"'), "must be letters, digits"),
    (lambda t: t.replace('data_period_end = "2024-08-31"', 'data_period_end = "2024-13-45"'), "is not a date"),
    (lambda t: t + "\n[[report]\n", "not valid TOML"),
])
def test_registry_values_are_checked(project, edit, message):
    registry = project.data / "reports.toml"
    registry.write_text(edit(registry.read_text(encoding="utf-8")), encoding="utf-8")
    assert_db_command_refused(project, "reports.toml", message, also_build=False)


# --- output paths --------------------------------------------------------------------------------------

def test_database_path_onto_a_project_input(project):
    registry = project.data / "reports.toml"
    before = registry.read_bytes()
    assert_refused(project.run("db", "--db", str(registry)), "reports.toml", "must end in .duckdb or .db")
    sample, _ = project.sample()
    renamed = sample.with_suffix(".duckdb")
    assert_refused(project.run("db", "--db", str(renamed)), "over a project input")
    assert_refused(project.run("db", "--db", str(project.data)), "is a folder")
    assert_refused(project.run("build", "--db", str(registry)), "reports.toml", "must end in .duckdb or .db")
    assert registry.read_bytes() == before and not renamed.exists()


@pytest.mark.parametrize("target, message", [
    ("indicators.csv", "over a project input"),
    ("reports/observations.csv", "over a project input"),
    ("observations.txt", "must end in .csv"),
])
def test_export_onto_a_project_input(project, target, message):
    path = project.data / target
    before = path.read_bytes() if path.exists() else None
    assert_refused(project.run("export", "-o", str(path), "--db", str(project.db)), message)
    assert (path.read_bytes() if path.exists() else None) == before


@pytest.mark.parametrize("command", [["site", "--renderer", "embedded"], ["notebooks"], ["briefs"]])
def test_output_folder_that_holds_the_data(project, command):
    """Outputs replaced as a whole must never be the data folder or one of its parents."""
    before = {p: p.read_bytes() for p in project.data.rglob("*") if p.is_file()}
    for out in (project.data, project.root):
        assert_refused(project.run(*command, "--out", str(out), "--db", str(project.db)),
                       "refusing to use it as the", str(project.data))
    assert {p: p.read_bytes() for p in project.data.rglob("*") if p.is_file()} == before


# --- parameters -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["notebooks", "briefs"])
def test_unknown_region_names_the_known_ones(project, command):
    before = project.state()
    line = assert_refused(project.run(command, "--region", "atlantis", "--db", str(project.db)),
                          "unknown region 'atlantis'")
    assert "known regions: xinjiang, changji, tarim, tacheng, tenth_division" in line
    assert project.state() == before


@pytest.mark.parametrize("command", ["notebooks", "briefs"])
def test_sql_looking_region_is_just_an_unknown_region(project, command):
    before = project.state()
    assert_refused(project.run(command, "--region", SQL_INJECTION, "--db", str(project.db)),
                   "unknown region", SQL_INJECTION)
    assert project.state() == before


def test_query_command_cannot_write(project):
    before = project.state()
    for sql in ("DROP TABLE observations", "DELETE FROM observations", f"SELECT '{SQL_INJECTION}'; DROP TABLE runs"):
        result = project.run("query", sql, "--db", str(project.db))
        if result.returncode == 0:  # the quoted string is read as a value; the DROP after it must fail
            pytest.fail(f"{sql!r} ran: {result.stdout[-500:]}")
        assert_refused(result, "query failed", str(project.db))
    assert project.state() == before


def test_unknown_codebook_table_is_named(project):
    line = assert_refused(project.run("indicators", "--table", SQL_INJECTION), "unknown table")
    assert "scorecard" in line


def test_no_sql_is_built_from_values():
    """Every SQL string with a {placeholder} in the package is built from code constants only: values are
    bound with `?`. A new f-string SQL must be reviewed and listed here (file, the text before the first {)."""
    import ast

    reviewed = [
        ("core/schema.py", "CREATE TABLE "),  # table and column names from the Table definitions
        ("core/schema.py", "COMMENT ON "),  # docs quoted by sql_string
        ("store/database.py", "INSERT INTO observations SELECT "),  # column names from OBSERVATION_COLUMNS
        # Column lists are module constants; `col IN (?, ?, …)` clauses (preferred._in) bind every value.
        ("analysis/preferred.py", "SELECT "),
        ("analysis/preferred.py", "SELECT * FROM preferred_values WHERE "),
        ("analysis/preferred.py", "SELECT code, name_zh, name_en, unit FROM indicators WHERE "),
        ("analysis/preferred.py", "SELECT count(*) FROM indicators WHERE "),
        ("analysis/preferred.py", "SELECT region FROM reports WHERE "),
    ]
    sql_start = ("SELECT", "WITH", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "COMMENT", "COPY",
                 "ATTACH", "PRAGMA", "SET ")
    found = set()
    for path in sorted((ROOT / "vqr_analysis").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
                head = str(node.values[0].value).lstrip()
                if head.upper().startswith(sql_start) and any(isinstance(v, ast.FormattedValue) for v in node.values):
                    found.add((path.relative_to(ROOT / "vqr_analysis").as_posix(), head))
    unreviewed = sorted(f for f in found if not any(f[0] == file and f[1].startswith(head) for file, head in reviewed))
    assert not unreviewed, f"SQL built with f-strings (bind values with ?): {unreviewed}"


# --- a corrupt database ----------------------------------------------------------------------------------

def _corrupt(good: bytes, kind: str) -> bytes:
    if kind == "garbage":
        return random.Random(1).randbytes(len(good) // 4)
    if kind == "truncated":
        return good[: len(good) // 3]
    if kind == "text":
        return "这不是数据库\n".encode() * 1000
    damaged = bytearray(good)  # checksummed blocks with flipped bytes, from the catalog to the data
    for offset in range(8192, len(damaged), 65536):
        damaged[offset + 100: offset + 164] = bytes(b ^ 0xFF for b in damaged[offset + 100: offset + 164])
    return bytes(damaged)


@pytest.mark.parametrize("kind", ["garbage", "truncated", "text", "flipped"])
def test_corrupt_database(project, kind):
    bad = project.root / "bad.duckdb"
    bad.write_bytes(_corrupt(project.db.read_bytes(), kind))
    before = bad.read_bytes()
    out = project.root / "out.csv"
    every_row = "SELECT sum(length(quote)), count(DISTINCT raw) FROM observations"  # reads every data block
    assert_refused(project.run("query", every_row, "--db", str(bad)), str(bad))
    assert_refused(project.run("export", "-o", str(out), "--db", str(bad)), str(bad))
    assert bad.read_bytes() == before and not out.exists()
    rebuilt = project.run("db", "--db", str(bad))  # the advice in the message works
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
