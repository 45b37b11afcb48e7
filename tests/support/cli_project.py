"""A temp copy of the project driven through the `vqr` command, as a user would meet it.

Used by the hostile-input tests: the data folder is copied, a last good database and a last good site are in
place, and every command runs as a subprocess with VQR_DATA_DIR, VQR_DB, VQR_BUILD_DIR and VQR_SITE_DIR inside
the temp folder (the checkout is never touched).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from support.hostile_inputs import copy_data, report_entry
from support.paths import DATA, ROOT

__all__ = ["Project", "make_project", "assert_refused", "assert_db_command_refused", "SAMPLE", "SAMPLE_REGION"]

# xinjiang: annex tables in tab layout at the end of the file, and no reviewed corrections tied to its lines
# (data/corrections.csv cites line numbers, which a mutated copy would shift).
SAMPLE, SAMPLE_REGION = "000", "xinjiang"


@dataclass
class Project:
    """A temp copy of the project's data with a last good database and a last good site."""

    root: Path
    data: Path
    db: Path
    site: Path

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "VQR_ROOT": str(ROOT), "VQR_DATA_DIR": str(self.data), "VQR_DB": str(self.db),
                "VQR_BUILD_DIR": str(self.root / "build"), "VQR_SITE_DIR": str(self.site), **extra}

    def run(self, *args: str, timeout: float = 900, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "vqr_analysis.cli", *args], capture_output=True, text=True,
                              cwd=self.root, env=self.env(**env), timeout=timeout)

    def state(self) -> dict[str, str]:
        """Hash of every file of the database and the site: what must not change when an input is bad."""
        files = [self.db, *sorted(p for p in self.site.rglob("*") if p.is_file())]
        return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}

    def sample(self) -> tuple[Path, str]:
        file, _ = report_entry(self.data, SAMPLE)
        return self.data / file, (self.data / file).read_text(encoding="utf-8")


def make_project(root: Path, built_db: Path) -> Project:
    data = copy_data(DATA, root / "data")
    db = root / "vqr.duckdb"
    db.write_bytes(built_db.read_bytes())
    site = root / "site"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>last good site</title>", encoding="utf-8")
    return Project(root, data, db, site)


def assert_refused(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 2 and one `error:` line holding every fragment; progress lines (`… `) may precede it."""
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


def assert_db_command_refused(project: Project, *fragments: str, also_build: bool = True) -> None:
    """`vqr db` (and `vqr build`) refuse with one line; database and site are byte-identical afterwards."""
    before = project.state()
    result = project.run("db", "--db", str(project.db))
    line = assert_refused(result, *fragments)
    others = [x for x in result.stderr.splitlines() if x.strip() and not x.startswith(("… ", "error:"))]
    assert not others, f"more than the error line: {others}"
    assert project.state() == before
    if also_build:
        assert_refused(project.run("build"), *fragments)
        assert project.state() == before
    assert not list(project.root.glob(".*.building-*")), "temporary files left behind"
    assert line
