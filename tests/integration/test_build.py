"""`vqr build`: content-keyed invalidation, atomic publish, the lock (database phases).

The full-pipeline versions (notebooks, site, briefs) are in test_build_pipeline.py.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.build_helpers import touch_report
from support.paths import DATA, ROOT
from vqr_analysis.build import BuildOptions, run_build
from vqr_analysis.core.errors import VqrError


def _copy_data(tmp: Path) -> Path:
    data = tmp / "data"
    shutil.copytree(DATA, data, ignore=shutil.ignore_patterns("*.duckdb*", "observations.*"))
    return data


def _opts(tmp: Path, data: Path, **kw) -> BuildOptions:
    return BuildOptions(db_path=tmp / "out" / "vqr.duckdb", data=data, build=tmp / "build", site=tmp / "site",
                        only=kw.pop("only", "database"), **kw)


@pytest.fixture()
def project(tmp_path):
    data = _copy_data(tmp_path)
    first = run_build(_opts(tmp_path, data))
    assert first.published
    return tmp_path, data


def test_noop_rebuild_reuses_everything(project):
    tmp, data = project
    db = tmp / "out" / "vqr.duckdb"
    before = db.read_bytes()
    again = run_build(_opts(tmp, data))
    assert not again.published
    assert again.phases["extract"].ran == [] and len(again.phases["extract"].reused) == 5
    assert again.phases["database"].reused == ["database"]
    assert db.read_bytes() == before


def test_touching_one_report_reextracts_only_it(project):
    tmp, data = project
    touch_report(data, "tarim")
    result = run_build(_opts(tmp, data))
    assert result.phases["extract"].ran == ["002"]
    assert sorted(result.phases["extract"].reused) == ["000", "001", "003", "004"]
    assert result.phases["database"].ran == ["database"]


def test_codebook_change_reextracts_every_report(project):
    tmp, data = project
    codebook = data / "indicators.csv"
    codebook.write_text(codebook.read_text(encoding="utf-8").replace(
        "Number of students who graduated in the reporting year.",
        "Number of students who graduated in the reporting year (edited)."), encoding="utf-8")
    result = run_build(_opts(tmp, data))
    assert sorted(result.phases["extract"].ran) == ["000", "001", "002", "003", "004"]


def test_injected_failure_leaves_database_identical(project):
    tmp, data = project
    db = tmp / "out" / "vqr.duckdb"
    before = db.read_bytes()
    touch_report(data, "tacheng")
    # The hook raises a bug (not a VqrError): it keeps its type and traceback, with the phase as a note.
    with pytest.raises(RuntimeError, match="injected failure") as info:
        run_build(_opts(tmp, data, fail_in="database"))
    assert any("failed in phase 'database'" in note for note in info.value.__notes__)
    assert db.read_bytes() == before
    assert not [p for p in (tmp / "out").iterdir() if p.name != "vqr.duckdb"], "staging files left behind"


def test_bad_input_fails_before_touching_database(project):
    tmp, data = project
    db = tmp / "out" / "vqr.duckdb"
    before = db.read_bytes()
    report = next((data / "reports").glob("changji*"))
    report.write_bytes(b"")
    with pytest.raises(VqrError, match="registry"):
        run_build(_opts(tmp, data))
    assert db.read_bytes() == before


def test_second_build_refuses_while_first_holds_lock(project):
    from vqr_analysis.store.lock import ProjectLock

    tmp, data = project
    with ProjectLock(tmp / "build", command="build"):
        with pytest.raises(VqrError, match="another vqr build is running"):
            run_build(_opts(tmp, data))
        env = dict(os.environ, VQR_DATA_DIR=str(data), VQR_BUILD_DIR=str(tmp / "build"),
                   VQR_SITE_DIR=str(tmp / "site"), VQR_DB=str(tmp / "out" / "vqr.duckdb"))
        cli = subprocess.run([sys.executable, "-m", "vqr_analysis.cli", "build", "--only", "database"],
                             capture_output=True, text=True, cwd=ROOT, env=env)
        assert cli.returncode != 0
        assert "another vqr build is running" in cli.stderr and "Traceback" not in cli.stderr
    # Released: the next build goes through.
    assert run_build(_opts(tmp, data)).phases["database"].reused == ["database"]


def test_unknown_phase_is_a_clear_error(tmp_path):
    with pytest.raises(VqrError, match="unknown phase 'sitee'"):
        run_build(BuildOptions(only="sitee", build=tmp_path))
