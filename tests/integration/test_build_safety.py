"""Issue 17, build items: all-or-nothing publish (17.3), verified caches (17.4), timeouts and leftovers of
killed builds (17.8), one writer at a time (17.11) and a site state that covers its files (17.12b).

Each test asserts the message, the exit code and that nothing was lost. The quick ones run on a temp copy of
the data with the session's database and a last good site (support.cli_project); the ones that need the
whole pipeline share one cold build made once for the module (marked slow, like test_build_pipeline.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from support.cli_project import Project, assert_refused, make_project
from support.paths import DATA
from vqr_analysis.build import BuildFailed, BuildOptions, run_build
from vqr_analysis.store.cache import file_digest, is_pdf


@pytest.fixture
def project(tmp_path, built_db) -> Project:
    return make_project(tmp_path / "project", built_db)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _gone(pid: int) -> bool:
    """No such process, or only its zombie (a container's init may not reap re-parented children)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "State:\tZ" in status


# --- 17.11: one writer at a time, on a descriptor that deleting a file cannot release ------------------------

_HOLD_LOCK = """
import sys, time
from vqr_analysis.store.lock import ProjectLock
with ProjectLock(command="build"):
    print("locked", flush=True)
    time.sleep(300)
"""


def test_deleting_the_lock_file_does_not_let_a_second_writer_in(project):
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK], env=project.env(), stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        lock_files = list((project.root / "build").glob(".vqr-build.lock*"))
        assert lock_files
        for f in lock_files:  # what a user (or a cleanup script) deleting "the lock" would do
            f.unlink()
        before = project.state()
        for command in (["build"], ["db"], ["site", "--renderer", "embedded"], ["notebooks"], ["briefs"],
                        ["export"]):
            assert_refused(project.run(*command), "another vqr", "wait for it to finish")
        assert project.state() == before
        assert not (project.data / "observations.csv").exists()
    finally:
        holder.kill()
        holder.wait()
    # Released when its holder died (the kernel drops the lock with the descriptor): writers go through.
    result = project.run("build", "--only", "registry")
    assert result.returncode == 0, result.stderr[-2000:]


# --- 17.8: leftovers of killed builds, timeouts ------------------------------------------------------------

def test_next_build_removes_staging_leftovers_of_dead_processes(project):
    dead, alive = _dead_pid(), os.getpid()  # this test's own process is alive (and not the CLI's)
    build = project.root / "build"
    build.mkdir(exist_ok=True)
    leftovers = [project.root / f".vqr.duckdb.building-{dead}", project.root / f".vqr.duckdb.building-{dead}.wal",
                 build / f".staging-{dead}", project.root / f".site.staging-{dead}"]
    for path in leftovers:
        if "staging" in path.name:
            path.mkdir()
            (path / "index.html").write_text("half a site", encoding="utf-8")
        else:
            path.write_bytes(b"half a database")
    in_use = project.root / f".vqr.duckdb.building-{alive}"
    in_use.write_bytes(b"another live writer's file")
    before = project.state()
    result = project.run("build", "--only", "registry")
    assert result.returncode == 0, result.stderr[-2000:]
    assert [p for p in leftovers if p.exists()] == []
    assert in_use.exists(), "a live process's staging file was removed"
    assert project.state() == before


def test_kill_9_during_a_build_leaves_nothing_the_next_build_keeps(project):
    before = project.state()
    proc = subprocess.Popen([sys.executable, "-m", "vqr_analysis.cli", "build", "--only", "database", "--force"],
                            cwd=project.root, env=project.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staged = project.root / f".vqr.duckdb.building-{proc.pid}"
    deadline = time.monotonic() + 600
    while not staged.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    if not staged.exists():
        pytest.skip("the build finished before it could be killed while writing (nothing to clean up)")
    assert project.state() == before  # the kill itself damaged nothing
    result = project.run("build", "--only", "registry")
    assert result.returncode == 0, result.stderr[-2000:]
    assert not list(project.root.glob(".vqr.duckdb.building-*")) and not list(
        (project.root / "build").glob(".staging-*"))
    assert project.state() == before


def _sleepy_checkout(root: Path, seconds: float) -> Path:
    """A checkout whose region notebook writes its kernel's pid, then sleeps (a hung cell)."""
    notebooks = root / "notebooks"
    notebooks.mkdir(parents=True)
    params = new_code_cell('region = None\nlang = "zh"', metadata={"tags": ["parameters"]})
    sleepy = new_code_cell(f"import os, time\nopen({str(root / 'kernel.pid')!r}, 'w').write(str(os.getpid()))\n"
                           f"time.sleep({seconds})")
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"}}
    nbformat.write(new_notebook(cells=[params, sleepy], metadata=meta), notebooks / "region_profile.ipynb")
    nbformat.write(new_notebook(cells=[params], metadata=meta), notebooks / "regional_comparison.ipynb")
    return root


@pytest.mark.parametrize("options, message", [
    (["--cell-timeout", "3"], "a cell ran longer than 3 s (--cell-timeout)"),
    (["--notebook-timeout", "8", "--cell-timeout", "600"], "ran longer than 8 s (--notebook-timeout)"),
])
def test_hung_notebook_times_out_and_its_kernel_is_killed(project, tmp_path, options, message):
    root = _sleepy_checkout(tmp_path / "checkout", seconds=600)
    last_good = project.root / "build" / "notebooks" / "regions" / "xinjiang.ipynb"
    last_good.parent.mkdir(parents=True)
    last_good.write_text("last good notebook", encoding="utf-8")
    started = time.monotonic()
    result = project.run("notebooks", "--region", "xinjiang", "--no-comparison", *options, VQR_ROOT=str(root))
    line = assert_refused(result, "notebook region_profile.ipynb (xinjiang) timed out", message)
    assert time.monotonic() - started < 300, "the timeout did not stop the notebook"
    assert line
    kernel = int((root / "kernel.pid").read_text())
    deadline = time.monotonic() + 30
    while not _gone(kernel) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _gone(kernel), f"kernel {kernel} still running after the timeout"
    assert last_good.read_text(encoding="utf-8") == "last good notebook"
    assert not list(last_good.parent.glob(".*building*"))


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_interrupted_notebooks_kill_their_kernels(project, tmp_path, signal_name):
    import signal

    root = _sleepy_checkout(tmp_path / "checkout", seconds=600)
    proc = subprocess.Popen([sys.executable, "-m", "vqr_analysis.cli", "notebooks", "--region", "xinjiang",
                             "--no-comparison"], cwd=project.root, env=project.env(VQR_ROOT=str(root)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid_file = root / "kernel.pid"
    deadline = time.monotonic() + 300
    while not pid_file.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pid_file.exists(), proc.communicate()[1][-2000:]
    time.sleep(0.2)  # the pid is written before the sleep starts
    proc.send_signal(getattr(signal, signal_name))
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err[-2000:]  # typer: exit 130 on an interrupt
    kernel = int(pid_file.read_text())
    deadline = time.monotonic() + 30
    while not _gone(kernel) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _gone(kernel), f"kernel {kernel} still running after the interrupt"


@pytest.mark.parametrize("option, value", [("--cell-timeout", "0"), ("--notebook-timeout", "nan"),
                                           ("--cell-timeout", "-5")])
def test_timeouts_must_be_positive_seconds(project, option, value):
    before = project.state()
    assert_refused(project.run("build", option, value), option, "must be a number of seconds above 0")
    assert project.state() == before


# --- the whole pipeline: publish, caches, site state ------------------------------------------------------

@pytest.fixture(scope="module")
def cold(tmp_path_factory):
    """A project (data copy, database, executed notebooks, site with briefs) built once for the module."""
    root = tmp_path_factory.mktemp("safety") / "project"
    shutil.copytree(DATA, root / "data", ignore=shutil.ignore_patterns("*.duckdb*", "observations.*"))
    project = Project(root, root / "data", root / "vqr.duckdb", root / "site")
    result = project.run("build", "--renderer", "embedded", timeout=3600)
    assert result.returncode == 0, result.stderr[-3000:]
    return project


@pytest.fixture
def built(cold, tmp_path) -> Project:
    shutil.copytree(cold.root, tmp_path / "project", symlinks=True)
    root = tmp_path / "project"
    return Project(root, root / "data", root / "vqr.duckdb", root / "site")


def _outputs(project: Project) -> dict[str, str]:
    """The database, every site file and every executed notebook, by hash."""
    files = [project.db, *sorted(p for p in (*project.site.rglob("*"), *(project.root / "build" / "notebooks")
                                             .rglob("*")) if p.is_file())]
    return {str(p.relative_to(project.root)): file_digest(p) for p in files}


def _new_snapshot(project: Project) -> None:
    """An input change that moves the snapshot id (so the database, every page and every brief change) but
    none of the data a notebook shows: publishing then has a database, a site and briefs to swap in."""
    registry = project.data / "reports.toml"
    registry.write_text(registry.read_text(encoding="utf-8") + "\n# reviewed again\n", encoding="utf-8")


def _build(project: Project, *args: str):
    return project.run("build", "--renderer", "embedded", *args, timeout=3600)


def _chattr(path: Path, flag: str) -> bool:
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


@pytest.mark.slow
def test_unwritable_site_publishes_nothing_and_names_the_publish_phase(built):
    before = _outputs(built)
    _new_snapshot(built)
    if os.geteuid() == 0:
        if not _chattr(built.site, "+i"):
            pytest.skip("root without chattr +i (no CAP_LINUX_IMMUTABLE here): cannot make site/ unwritable")
        undo = lambda: _chattr(built.site, "-i")  # noqa: E731
    else:
        built.site.chmod(0o555)
        built.root.chmod(0o555)
        undo = lambda: (built.root.chmod(0o755), built.site.chmod(0o755))  # noqa: E731
    try:
        for _attempt in range(2):  # a retry fails the same way, and swaps nothing in either
            line = assert_refused(_build(built), "build failed in phase 'publish'", "not writable",
                                  "nothing was published")
            assert str(built.site) in line or str(built.root) in line
            assert _outputs(built) == before
    finally:
        undo()
    assert not [p for p in built.root.rglob(".*") if ".staging-" in p.name or ".building-" in p.name
                or ".old-" in p.name]
    result = _build(built)
    assert result.returncode == 0, result.stderr[-2000:]
    assert _outputs(built) != before


@pytest.mark.slow
def test_failed_site_swap_undoes_the_database_swap(built, monkeypatch):
    from vqr_analysis.store import staging

    before = _outputs(built)
    _new_snapshot(built)
    real = staging._swap_in

    def site_fails(staged, target):
        if Path(target) == built.site:
            raise OSError(28, "No space left on device")
        real(staged, target)

    monkeypatch.setattr(staging, "_swap_in", site_fails)
    opts = BuildOptions(db_path=built.db, data=built.data, build=built.root / "build", site=built.site,
                        renderer="embedded")
    monkeypatch.setenv("VQR_BUILD_DIR", str(built.root / "build"))
    with pytest.raises(BuildFailed, match="phase 'publish'.*No space left on device.*nothing was published") as info:
        run_build(opts)
    assert info.value.phase == "publish"
    assert _outputs(built) == before


@pytest.mark.slow
def test_damaged_cached_brief_is_rebuilt_not_published(built):
    before = _outputs(built)
    cached = sorted((built.root / "build" / "cache" / "briefs").glob("tarim-*.pdf"))
    assert len(cached) == 1
    cached[0].write_bytes(b"0123456789abcdef")  # 16 bytes of garbage
    (built.site / "briefs" / "tarim.pdf").unlink()  # so the build must take the brief from somewhere
    result = _build(built)
    assert result.returncode == 0, result.stderr[-2000:]
    live = built.site / "briefs" / "tarim.pdf"
    assert is_pdf(live) and live.stat().st_size > 10_000
    assert "tarim" in result.stdout  # the briefs phase lists what it ran (typeset again)
    after = _outputs(built)
    assert {k: v for k, v in after.items() if k != "site/briefs/tarim.pdf"} == {
        k: v for k, v in before.items() if k != "site/briefs/tarim.pdf"}
    assert is_pdf(next((built.root / "build" / "cache" / "briefs").glob("tarim-*.pdf")))


@pytest.mark.slow
def test_cached_notebook_of_another_region_or_invalid_is_rebuilt(built):
    before = _outputs(built)
    store = built.root / "build" / "cache" / "notebooks"
    tarim = sorted(store.glob("tarim-*.ipynb"))[0]
    xinjiang = sorted(store.glob("xinjiang-*.ipynb"))[0]
    # Another region's notebook put in tarim's place, its record rewritten to match: only the check of the
    # notebook's own parameters can tell.
    tarim.write_bytes(xinjiang.read_bytes())
    meta = tarim.with_name(tarim.name + ".meta.json")
    record = json.loads(meta.read_text())
    meta.write_text(json.dumps({**record, "sha256": file_digest(tarim)}))
    # And an invalid notebook (valid JSON, not a notebook) for tacheng, also with a matching record.
    tacheng = sorted(store.glob("tacheng-*.ipynb"))[0]
    tacheng.write_text('{"cells": "not a list"}', encoding="utf-8")
    tmeta = tacheng.with_name(tacheng.name + ".meta.json")
    tmeta.write_text(json.dumps({**json.loads(tmeta.read_text()), "sha256": file_digest(tacheng)}))
    for region in ("tarim", "tacheng"):  # the live copies gone too, so the cache would be published
        (built.root / "build" / "notebooks" / "regions" / f"{region}.ipynb").unlink()
    result = _build(built)
    assert result.returncode == 0, result.stderr[-2000:]
    for region in ("tarim", "tacheng"):
        live = built.root / "build" / "notebooks" / "regions" / f"{region}.ipynb"
        assert nbformat.read(live, as_version=4).metadata.papermill.parameters["region"] == region
        assert file_digest(live) == before[f"build/notebooks/regions/{region}.ipynb"]
    assert "region_profile:tarim" in result.stdout and "region_profile:tacheng" in result.stdout


@pytest.mark.slow
def test_deleted_index_html_is_rebuilt_not_up_to_date(built):
    before = _outputs(built)
    (built.site / "index.html").unlink()
    result = _build(built)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "published" in result.stdout and "up to date" not in result.stdout
    assert _outputs(built) == before  # the same site again, byte for byte
    again = _build(built)
    assert "nothing changed: outputs are up to date" in again.stdout
