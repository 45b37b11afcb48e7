"""The whole `vqr build` on the real reports: invalidation by content, atomic publish, one snapshot id.

One cold build (about half a minute) is made once; every test starts from its own copy of that built project,
so the tests run alone or in any order.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from support.paths import DATA
from support.build_helpers import touch_report
from vqr_analysis.build import BuildOptions, run_build

pytestmark = pytest.mark.slow


def _digest_tree(*roots: Path) -> dict[str, str]:
    out = {}
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


class Project:
    def __init__(self, tmp: Path, *, copy_data: bool = True) -> None:
        self.tmp = tmp
        self.data = tmp / "data"
        if copy_data:
            shutil.copytree(DATA, self.data, ignore=shutil.ignore_patterns("*.duckdb*", "observations.*"))
        self.db = tmp / "out" / "vqr.duckdb"
        self.site = tmp / "site"
        self.build_dir = tmp / "build"

    def opts(self, **kw) -> BuildOptions:
        return BuildOptions(db_path=self.db, data=self.data, build=self.build_dir, site=self.site, **kw)

    def outputs(self) -> dict[str, str]:
        return _digest_tree(self.db, self.site, self.build_dir / "notebooks")

    def rel(self, path: str) -> str:
        return str(Path(path).relative_to(self.tmp))


@pytest.fixture(scope="module")
def cold_project(tmp_path_factory):
    """The project after one cold build: built once, never changed (tests get copies)."""
    project = Project(tmp_path_factory.mktemp("pipeline") / "project")
    result = run_build(project.opts())
    assert result.published
    project.cold = result
    return project


@pytest.fixture()
def project(cold_project, tmp_path):
    """A fresh copy of the cold-built project (data, database, build state, site) for one test."""
    shutil.copytree(cold_project.tmp, tmp_path / "project", symlinks=True)
    copy = Project(tmp_path / "project", copy_data=False)
    copy.cold = cold_project.cold
    return copy


def test_cold_build_runs_every_phase_and_every_unit(project):
    ran = project.cold.ran_units
    for unit in ["extract:000", "extract:004", "database:database", "notebooks:region_profile:tarim",
                 "notebooks:regional_comparison", "site:site", "briefs:tacheng"]:
        assert unit in ran
    assert (project.site / "index.html").is_file()
    assert sorted(p.name for p in (project.site / "briefs").glob("*.pdf")) == sorted(
        f"{r}.pdf" for r in ["xinjiang", "changji", "tarim", "tacheng", "tenth_division"])


def test_one_snapshot_id_in_runs_pages_and_pdfs(project):
    con = duckdb.connect(str(project.db), read_only=True)
    try:
        snaps = {r[0] for r in con.execute("SELECT DISTINCT snapshot_id FROM runs").fetchall()}
        kinds = {r[0] for r in con.execute("SELECT DISTINCT kind FROM runs").fetchall()}
    finally:
        con.close()
    assert snaps == {project.cold.snapshot}
    assert {"db", "notebook", "build"} <= kinds
    assert project.cold.snapshot in (project.site / "assets" / "build-info.js").read_text(encoding="utf-8")
    for page in project.site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "build-info.js" in html and "data-vqr-snapshot" in html, page
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed: cannot read the PDFs' text")
    for pdf in (project.site / "briefs").glob("*.pdf"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
        assert project.cold.snapshot in text, pdf


def test_noop_rebuild_does_nothing_and_changes_nothing(project):
    before = project.outputs()
    result = run_build(project.opts())
    assert not result.published
    assert result.ran_units == []
    assert project.outputs() == before


def test_one_report_changed_reruns_only_what_shows_it(project):
    before = project.outputs()
    touch_report(project.data, "tarim")
    result = run_build(project.opts())
    ran = result.ran_units
    assert [u for u in ran if u.startswith("extract:")] == ["extract:002"]
    assert sorted(u for u in ran if u.startswith("notebooks:")) == [
        "notebooks:region_profile:tarim", "notebooks:regional_comparison"]
    after = project.outputs()
    changed = {project.rel(p) for p in after if before.get(p) != after[p]}
    # Executed notebooks of the other regions, and their pages, are byte-identical.
    for other in ["xinjiang", "changji", "tacheng", "tenth_division"]:
        assert f"build/notebooks/regions/{other}.ipynb" not in changed
        assert f"site/regions/{other}.html" not in changed
    assert "out/vqr.duckdb" in changed
    assert "site/assets/build-info.js" in changed  # the new snapshot id, shown on every page


def test_codebook_change_reruns_what_uses_it(project):
    codebook = project.data / "indicators.csv"
    text = codebook.read_text(encoding="utf-8")
    assert ",生师比," in text
    codebook.write_text(text.replace(",生师比,", ",生师比（学生数:教师数）,", 1), encoding="utf-8")
    result = run_build(project.opts())
    ran = result.ran_units
    assert sorted(u for u in ran if u.startswith("extract:")) == [f"extract:00{i}" for i in range(5)]
    assert len([u for u in ran if u.startswith("notebooks:")]) == 6  # labels are shown in every notebook


def test_failure_in_a_late_phase_leaves_database_and_site_identical(project):
    before = project.outputs()
    new_sha = touch_report(project.data, "changji")
    with pytest.raises(RuntimeError, match="injected failure") as info:
        run_build(project.opts(fail_in="briefs"))
    assert any("failed in phase 'briefs'" in note for note in info.value.__notes__)
    assert project.outputs() == before
    leftovers = [p.name for p in project.tmp.rglob(".*") if "staging" in p.name or "building" in p.name]
    assert not leftovers
    # The next build publishes the change (reusing the content-keyed work the failed build had finished).
    assert run_build(project.opts()).published
    con = duckdb.connect(str(project.db), read_only=True)
    try:
        assert con.execute("SELECT sha256 FROM reports WHERE report_id = '001'").fetchall() == [(new_sha,)]
    finally:
        con.close()
