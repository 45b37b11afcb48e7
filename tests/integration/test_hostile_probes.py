"""The holes found by the second round of hostile probes (issue 17), each closed and kept closed.

Every test breaks one thing in a temp copy of the project (support.cli_project) and asserts the message, the
exit code and that nothing was lost (last good database, site, registry byte-identical; no temp files left)
or injected (no link, image, file or formula that the input smuggled in). See tests/fixtures/hostile/README.md.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
from pathlib import Path

import duckdb
import polars as pl
import pytest

from support.cli_project import (
    SAMPLE, Project, assert_db_command_refused, assert_refused, make_project,
)
from support.hostile_inputs import (
    REGISTRY_MARKUP, encrypted_pdf, inflating_docx, register, report_entry, wide_table_report,
)
from support.paths import DATA


@pytest.fixture
def project(tmp_path, built_db) -> Project:
    return make_project(tmp_path, built_db)


def _leftovers(folder: Path) -> list[Path]:
    """Temp databases, write-ahead logs and spill folders a failed write could leave behind."""
    return sorted(p for p in folder.iterdir() if ".building-" in p.name or p.name.endswith((".wal", ".tmp")))


def _edit_registry(data: Path, field: str, value: str, *, report: str = SAMPLE) -> None:
    """Set one field of one registry entry (TOML-escaped)."""
    import tomllib

    registry = data / "reports.toml"
    text = registry.read_text(encoding="utf-8")
    entry = next(e for e in tomllib.loads(text)["report"] if e["id"] == report)
    old = f"{field} = {json.dumps(entry[field], ensure_ascii=False)}"
    assert old in text, old
    registry.write_text(text.replace(old, f"{field} = {json.dumps(value, ensure_ascii=False)}", 1),
                        encoding="utf-8")


# --- 1. registry text reaches every page as text ---------------------------------------------------------

def test_registry_markup_reaches_every_page_as_text(tmp_path):
    """publisher, subject_zh and subject_en carry a Markdown image, a javascript: link and bare URLs. They reach
    the site through Jinja pages and through notebook Markdown output (display.region_summary, rendered by
    nbconvert): on no page may they become a link, an image or an autolink."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_output

    from support.site_notebooks import write_notebooks

    from vqr_analysis.analysis.display import region_summary
    from vqr_analysis.publish.site import build_site
    from vqr_analysis.store.database import build_database

    data = tmp_path / "data"
    from support.hostile_inputs import copy_data

    copy_data(DATA, data)
    for field in ("publisher", "subject_zh", "subject_en"):
        _edit_registry(data, field, REGISTRY_MARKUP)
    db = tmp_path / "vqr.duckdb"
    build_database(db, base=data)
    notebooks = write_notebooks(db, tmp_path / "notebooks")
    for path in sorted((notebooks / "regions").glob("*.ipynb")):  # the notebook's own summary cell, as executed
        nb = nbformat.read(path, as_version=4)
        for lang in ("zh", "en"):
            summary = region_summary(path.stem, lang=lang, db=db)
            nb.cells.insert(1, new_code_cell("vqr.region_summary(region)", outputs=[new_output(
                "display_data", {"text/markdown": summary.markdown, "text/plain": str(summary)})]))
        nbformat.write(nb, path)
    site = build_site(db, notebooks, tmp_path / "site", renderer="embedded", built="2026-01-01")

    pages = {p.relative_to(site.out_dir).as_posix(): p.read_text(encoding="utf-8")
             for p in site.out_dir.rglob("*.html")}
    xinjiang = pages["regions/xinjiang.html"]
    assert "发布单位：厅 ![t](http://127.0.0.1:9/t.png) [click](javascript:alert(1)) &lt;b&gt;粗&lt;/b&gt;" in xinjiang
    for name, html in pages.items():
        assert not re.search(r"""(href|src)\s*=\s*["']?\s*javascript:""", html, re.I), name
        assert not re.search(r"<img[^>]*127\.0\.0\.1", html), name
        assert not re.search(r"""<a[^>]*href=["'](https?:)?//(127\.0\.0\.1|www\.example\.com)""", html), name
        assert "<b>粗</b>" not in html, name


def test_markdown_escape_survives_the_renderers():
    """Every renderer that reads notebook Markdown shows the escaped text as the text itself."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    from vqr_analysis.analysis.display import _md

    html = markdown2html_mistune(_md(REGISTRY_MARKUP + " a_b *c* `d` &lt; 1.5-2"))
    assert "<a" not in html and "<img" not in html and "<b>" not in html and "<em>" not in html
    assert "![t](http://127.0.0.1:9/t.png) [click](javascript:alert(1))" in html
    assert "a_b *c* `d` &amp;lt; 1.5-2" in html


# --- 2. read-only means no file or network access --------------------------------------------------------

@pytest.mark.parametrize("sql", [
    "COPY (SELECT 1 AS x) TO '{data}/reports.toml'",
    "SELECT * FROM read_text('{data}/reports.toml')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM read_csv('/etc/passwd')",
    "EXPORT DATABASE '{root}/exported'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "ATTACH '{root}/other.duckdb' AS other",
    "SET enable_external_access = true",
])
def test_query_cannot_reach_files_or_the_network(project, sql):
    sql = sql.format(data=project.data, root=project.root)
    registry = (project.data / "reports.toml").read_bytes()
    before = project.state()
    assert_refused(project.run("query", sql, "--db", str(project.db)), "query failed", str(project.db))
    assert (project.data / "reports.toml").read_bytes() == registry
    assert project.state() == before
    assert not (project.root / "exported").exists() and not (project.root / "other.duckdb").exists()


def test_api_connections_are_sandboxed_too(built_db, tmp_path):
    import vqr_analysis as vqr

    con = vqr.connect(built_db)
    try:
        assert con.execute("SELECT count(*) FROM observations").fetchall()[0][0] > 0
        for sql in (f"COPY (SELECT 1) TO '{tmp_path}/x.csv'", "SELECT * FROM read_text('/etc/hostname')",
                    "SET lock_configuration = false"):
            with pytest.raises(duckdb.Error):
                con.execute(sql)
    finally:
        con.close()
    assert not (tmp_path / "x.csv").exists()


# --- 5. corrections are checked cell by cell ----------------------------------------------------------------

_REASON = '"reviewed: test"'


@pytest.mark.parametrize("value, message", [
    ("4651,6", "row 6: 8 fields where the header has 7"),  # the case: an unquoted decimal comma
    ("inf", "not 'inf'"),
    ("nan", "not 'nan'"),
    ("1e400", "not '1e400'"),
    ("4_651.6", "not '4_651.6'"),
    ("约4651", "not '约4651'"),
])
def test_corrections_refuse_bad_values(project, value, message):
    path = project.data / "corrections.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    row = next(csv.reader([lines[4]]))  # row 5: the 4651,60 correction of report 004
    quoted = io.StringIO()
    csv.writer(quoted, lineterminator="").writerow(row[:5])
    lines.insert(5, f"{quoted.getvalue()},{value},{_REASON}")  # the value as typed, unquoted
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_db_command_refused(project, "corrections.csv", message, also_build=False)


def test_corrections_refuse_a_row_with_a_field_too_many(project):
    path = project.data / "corrections.csv"
    with path.open("a", encoding="utf-8") as fh:
        fh.write('004,675,"4651,60",special_appropriation,special_appropriation,4651.6,ok,extra\n')
    assert_db_command_refused(project, "corrections.csv", "fields where the header has 7", also_build=False)


# --- 6. output folders -------------------------------------------------------------------------------------

def _fake_checkout(project: Project) -> dict[Path, bytes]:
    """Source folders in the temp project root (VQR_ROOT points there): what `--out` must never replace."""
    files = {}
    for folder in (".git", "pages", "notebooks", "vqr_analysis", "tests"):
        path = project.root / folder / "keep.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"{folder} 源文件", encoding="utf-8")
        files[path] = path.read_bytes()
    return files


@pytest.mark.parametrize("command", ["site", "notebooks", "briefs"])
def test_out_refuses_project_source_folders(project, command):
    files = _fake_checkout(project)
    for folder in (".git", "pages", "notebooks", "vqr_analysis", "tests", "pages/sub"):
        result = project.run(command, "--out", str(project.root / folder), "--db", str(project.db),
                             VQR_ROOT=str(project.root))
        assert_refused(result, "refusing to use it as the", f"source folder {folder.split('/')[0]}/")
    assert {p: p.read_bytes() for p in files} == files


@pytest.mark.parametrize("command", ["site", "notebooks", "briefs"])
def test_out_refuses_a_folder_vqr_did_not_write(project, command):
    foreign = project.root / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"\xff\xd8\xff not ours")
    assert_refused(project.run(command, "--out", str(foreign), "--db", str(project.db)),
                   "holds files vqr did not write", ".vqr-output")
    assert (foreign / "holiday.jpg").read_bytes() == b"\xff\xd8\xff not ours"


def test_out_accepts_a_new_folder_and_then_its_own(project, tmp_path):
    from support.site_notebooks import write_notebooks

    notebooks = write_notebooks(project.db, tmp_path / "nb")
    out = project.root / "my-site"
    for _ in range(2):  # new, then marked by the first run
        result = project.run("site", "--renderer", "embedded", "--notebooks", str(notebooks), "--out", str(out),
                             "--db", str(project.db))
        assert result.returncode == 0, result.stderr[-2000:]
        assert (out / ".vqr-output").is_file() and (out / "index.html").is_file()


# --- 7. wide tables and inflating DOCX ------------------------------------------------------------------

def test_wide_table_quotes_are_windows_around_the_cell(tmp_path):
    """A table 3,000 schools wide: every value keeps a verbatim window of its row (label, unit, neighbours),
    so the stored quotes grow with the number of cells, not with cells × row width."""
    from support.hostile_inputs import copy_data

    from vqr_analysis.extract.tables import MAX_QUOTE_CHARS
    from vqr_analysis.store.database import build_database

    data = copy_data(DATA, tmp_path / "data")
    file, _ = report_entry(data, SAMPLE)
    register(data, SAMPLE, wide_table_report((data / file).read_text(encoding="utf-8"), 3000).encode())
    build_database(tmp_path / "vqr.duckdb", base=data)
    con = duckdb.connect(str(tmp_path / "vqr.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT raw, quote, entity FROM observations WHERE source_table = '表9 各校教学资源'"
                           ).fetchall()
    finally:
        con.close()
    assert len(rows) >= 3 * 3000
    assert all(raw in quote.split("\t") for raw, quote, _ in rows)
    assert all(len(quote) <= 2 * MAX_QUOTE_CHARS for _, quote, _ in rows)
    assert sum(len(q) for _, q, _ in rows) <= 2 * MAX_QUOTE_CHARS * len(rows)
    _, quote, _ = next(r for r in rows if r[2] == "学校1500")
    assert quote.startswith("1\t生师比") and "\t…\t" in quote and quote.endswith("\t…")


def test_inflating_docx_is_refused_before_it_is_parsed(project):
    path, text = project.sample()
    register(project.data, SAMPLE, inflating_docx(text[:5000], 80 * 2**20), file=path.with_suffix(".docx").name)
    assert (project.data / path.with_suffix(".docx").name).stat().st_size < 2 * 2**20
    assert_db_command_refused(project, "would unpack to", "zip bomb", also_build=False)


def test_any_failure_inside_the_docx_read_is_one_error(monkeypatch, tmp_path):
    """MemoryError and RecursionError from lxml on a hostile document: a VqrError, not a traceback."""
    from support.hostile_inputs import docx_from_text

    from vqr_analysis.core.errors import VqrError
    from vqr_analysis.sources import formats

    data = docx_from_text("一、概况\n\n学校共有学生 100 人。")
    for exc in (MemoryError(), RecursionError("maximum recursion depth exceeded")):
        def explode(*_args, exc=exc):
            raise exc
        monkeypatch.setattr(formats, "_docx_lines", explode)
        with pytest.raises(VqrError, match=rf"cannot read the DOCX \({type(exc).__name__}"):
            formats.read_text(tmp_path / "r.docx", data)


# --- 9. disk full ----------------------------------------------------------------------------------------------

def _mount_tmpfs(folder: Path, size: int) -> bool:
    folder.mkdir()
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True).returncode == 0


@pytest.fixture
def full_disk(project):
    """A tmpfs just big enough for the last good database and a third of another one (needs root)."""
    folder = project.root / "small-disk"
    if not _mount_tmpfs(folder, project.db.stat().st_size + project.db.stat().st_size // 3):
        pytest.skip("cannot mount a tmpfs (not root); test_database_write_error_is_one_line covers the path")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_disk_full_is_one_line_and_leaves_nothing(project, full_disk):
    """Simulated with a real full filesystem (tmpfs): `vqr db` and `vqr build` fail with one line, the last
    good database stays byte-identical and no partial database, .wal or spill folder is left, at every retry."""
    live = full_disk / "vqr.duckdb"
    live.write_bytes(project.db.read_bytes())
    good = live.read_bytes()
    for _ in range(2):
        assert_refused(project.run("db", "--db", str(live)), "cannot write the database", "No space left")
        assert live.read_bytes() == good and not _leftovers(full_disk)
        assert_refused(project.run("build", "--force", "--only", "database", VQR_DB=str(live)),
                       "phase 'database'", "cannot write the database")
        assert live.read_bytes() == good and not _leftovers(full_disk)


def test_database_write_error_is_one_line(monkeypatch, tmp_path, capsys):
    """Simulated by monkeypatching: DuckDB raises IOException while the schema is written. Runs without root."""
    from vqr_analysis import cli
    from vqr_analysis.store import database

    def no_space(*_args, **_kw):
        raise duckdb.IOException('IO Error: Could not write file "x": No space left on device')

    monkeypatch.setattr(database, "create_schema", no_space)
    target = tmp_path / "vqr.duckdb"
    target.write_bytes(b"last good")
    monkeypatch.setattr("sys.argv", ["vqr", "db", "--db", str(target)])
    with pytest.raises(SystemExit) as stop:
        cli.main()
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        f"error: {tmp_path}: cannot write the database in this folder (disk full or not writable?): IO Error: "
        'Could not write file "x": No space left on device']
    assert target.read_bytes() == b"last good" and not _leftovers(tmp_path)


# --- 10. one line instead of a traceback ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["indicators.csv", "corrections.csv", "prose_patterns.toml"])
def test_project_data_file_saved_as_gbk(project, name):
    path = project.data / name
    path.write_bytes(path.read_text(encoding="utf-8").encode("gb18030"))
    assert_db_command_refused(project, name, "file is not UTF-8", "save it as UTF-8", also_build=False)


def test_registry_nested_very_deep(project):
    registry = project.data / "reports.toml"
    registry.write_text(registry.read_text(encoding="utf-8") + "\nnest = " + "[" * 100_000 + "]" * 100_000 + "\n",
                        encoding="utf-8")
    assert_db_command_refused(project, "reports.toml", "nested too deeply", also_build=False)


def test_export_to_an_unwritable_place(project):
    blocker = project.root / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    for target in (blocker / "out.csv", Path("/proc/vqr-export.csv")):
        assert_refused(project.run("export", "-o", str(target), "--db", str(project.db)),
                       "cannot write the export", str(target))
    assert blocker.read_text(encoding="utf-8") == "not a folder"


@pytest.mark.parametrize("wait", ["nan", "-1", "inf"])
def test_wait_must_be_a_finite_number_of_seconds(project, wait):
    before = project.state()
    assert_refused(project.run("build", "--wait", wait), "--wait must be a number of seconds")
    assert project.state() == before


def test_malformed_state_file_is_a_cache_miss(project):
    """state.json is the build's own cache: `[1]` (or any non-object) means 'nothing known', and the build
    rebuilds and rewrites it instead of failing."""
    state = project.root / "build" / "state.json"
    state.parent.mkdir()
    state.write_text("[1]", encoding="utf-8")
    result = project.run("build", "--only", "database")
    assert result.returncode == 0, result.stderr[-2000:]
    assert isinstance(json.loads(state.read_text(encoding="utf-8")), dict)


# --- 12. spreadsheet formulas ---------------------------------------------------------------------------------

_FORMULAS = ['=HYPERLINK("http://127.0.0.1:9/x","点")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def test_site_csv_cells_cannot_be_formulas():
    from vqr_analysis.publish.site_pages import csv_with_codebook

    frame = pl.DataFrame({"quote": [*_FORMULAS, "-12.5", "普通文字"],
                          "value": [-1.5, 2.0, -3.0, 4.0, 5.0, 6.0, -12.5, 7.0]})
    rows = list(csv.DictReader(io.StringIO(csv_with_codebook(frame, pl.DataFrame()).decode("utf-8-sig"))))
    assert [r["quote"] for r in rows] == [f"'{f}" for f in _FORMULAS] + ["-12.5", "普通文字"]
    assert [r["value"] for r in rows][:3] == ["-1.5", "2.0", "-3.0"]  # numbers stay numbers


def test_export_csv_cells_cannot_be_formulas(project):
    """A report row whose label and value cells are formulas: stored verbatim (evidence), exported inert."""
    path, text = project.sample()
    lines = text.split("\n")
    row = next(i for i, line in enumerate(lines) if line.startswith("2\t双师素质专任教师比例"))
    lines[row] = lines[row].replace("31.07", '=HYPERLINK("http://127.0.0.1:9/x","31.07")')
    lines[row + 1] = lines[row + 1].replace("21.42", "-5")  # 高级专业技术职务专任教师比例: a signed number
    register(project.data, SAMPLE, "\n".join(lines).encode())
    assert project.run("db", "--db", str(project.db)).returncode == 0
    out = project.root / "obs.csv"
    result = project.run("export", "-o", str(out), "--db", str(project.db))
    assert result.returncode == 0, result.stderr[-2000:]
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    cells = [v for r in rows for v in r.values() if v]
    assert not [v for v in cells if v[0] in "=+@\t\r"], "a formula reached the CSV"
    assert not [v for v in cells if v[0] == "-" and not re.fullmatch(r"-[0-9.]+", v)]
    assert any(v.startswith("'=HYPERLINK(") for v in cells)
    assert any(r["raw"] == "-5" for r in rows)  # a signed number is no formula: kept as printed


# --- minor ------------------------------------------------------------------------------------------------

def test_encrypted_pdf_is_named(project):
    path, _ = project.sample()
    register(project.data, SAMPLE, encrypted_pdf(), file=path.with_suffix(".pdf").name)
    assert_db_command_refused(project, "PDF is encrypted", "password", also_build=False)


def test_corrupt_database_with_from_notebooks_names_phase_and_file(project):
    project.db.write_bytes(b"\x00" * 4096 + "不是数据库".encode() * 1000)
    before = project.state()
    line = assert_refused(project.run("build", "--from", "notebooks"), "phase 'notebooks'", str(project.db),
                          "vqr db")
    assert "phase 'registry'" not in line
    assert project.state() == before


@pytest.mark.parametrize("edit, message", [
    (lambda d: _edit_registry(d, "data_year", 2019), "data_year 2019 lies outside the data period"),
    (lambda d: _edit_registry(d, "publisher", "厅" * (5 * 2**20)), "publisher is 5242880 characters long"),
])
def test_registry_fields_are_bounded(project, edit, message):
    edit(project.data)
    assert_db_command_refused(project, "reports.toml", message, also_build=False)


def test_kernel_log_of_a_failed_run_survives_its_staging_folder(monkeypatch, tmp_path, built_db):
    """The failure message points to a log that still exists after the (staging) output folder is deleted."""
    import shutil

    import papermill

    from vqr_analysis.publish import notebooks as nb

    def crash(*_args, **_kw):
        os.write(2, b"kernel: segmentation fault\n")
        raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(papermill, "execute_notebook", crash)
    monkeypatch.setenv("VQR_BUILD_DIR", str(tmp_path / "build"))
    staging = tmp_path / "build" / ".staging-1"
    unit = next(u for u in nb.notebook_units(regions=["xinjiang"], comparison=False))
    run = nb._execute((unit, nb.notebook_dir(), staging, built_db, unit.parameters("zh"), nb.CELL_TIMEOUT))
    shutil.rmtree(staging)
    assert not run.ok and "Kernel died" in run.error
    log = Path(re.search(r"kernel log: (\S+)\)", run.error).group(1))
    assert log.is_file() and not log.is_relative_to(staging)
    assert "segmentation fault" in log.read_text(encoding="utf-8")
