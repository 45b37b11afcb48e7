"""Execute the parametrised notebooks with papermill: one region profile per region plus the comparison.

``run_notebooks`` is the one entry point (the ``vqr notebooks`` command is a thin shell over it)::

    <out>/regions/<slug>.ipynb   notebooks/region_profile.ipynb with region=<slug>
    <out>/compare.ipynb          notebooks/regional_comparison.ipynb

Region slugs are checked against the registry before any kernel starts. Notebooks run in parallel worker
processes, each with its own kernel (the venv's python: papermill's ``python3`` kernelspec resolves to the
running interpreter). A notebook is written to a temporary file and moved into place only when it ran without
error, so the last good output is never replaced by a broken one; a failed run is kept beside it as
``<slug>.failed.ipynb`` and reported as a VqrError naming the notebook, the cell and the error. Each run's
parameters and timings are appended to the database's ``runs`` table.

Executed notebooks are reproducible byte for byte: the database path reaches the kernel through ``VQR_DB``
(the notebook's ``db`` parameter stays None), and papermill's timestamps and absolute paths are stripped.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from contextlib import contextmanager
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterator, Sequence

from vqr_analysis.core.errors import VqrError, check_known, check_lang
from vqr_analysis.core.paths import build_dir, default_db_path, mark_output_dir, project_root

__all__ = [
    "NotebookUnit", "NotebookRun", "run_notebooks", "execute_units", "notebook_units", "notebook_dir",
    "notebook_parameters", "REGION_NOTEBOOK", "COMPARISON_NOTEBOOK", "KERNEL_NAME",
]

REGION_NOTEBOOK = "region_profile.ipynb"
COMPARISON_NOTEBOOK = "regional_comparison.ipynb"
# The kernelspec ipykernel installs into the venv; jupyter_client starts it with the running interpreter.
KERNEL_NAME = "python3"
KERNEL_START_TIMEOUT = 300  # seconds a kernel may take to start before the run fails


@dataclass(frozen=True)
class NotebookUnit:
    """One notebook to execute: its source (relative to the notebooks folder) and output (relative to out)."""

    name: str
    slug: str
    source: str
    output: str
    region: str | None = None

    def parameters(self, lang: str = "zh") -> dict:
        """The papermill parameters (the database path is passed separately, see ``execute_units``)."""
        return {"region": self.region, "lang": lang} if self.region is not None else {"lang": lang}


@dataclass
class NotebookRun:
    """One notebook execution: what ran, with which parameters, how long, and how it ended."""

    notebook: str
    slug: str
    output: Path
    parameters: dict
    seconds: float = 0.0
    ok: bool = False
    error: str | None = None
    started: float = 0.0  # epoch seconds, for the runs table

    @property
    def path(self) -> Path:
        return self.output


def notebook_dir() -> Path:
    """The folder holding the source notebooks (``notebooks/`` in the checkout)."""
    return project_root() / "notebooks"


def notebook_parameters(path: str | Path) -> dict[str, dict]:
    """The notebook's papermill parameters: name → {default, inferred_type_name, help} (papermill's inspector)."""
    import papermill

    return papermill.inspect_notebook(str(path))


def notebook_units(source_dir: str | Path | None = None, regions: Sequence[str] | None = None, *,
                   comparison: bool = True) -> list[NotebookUnit]:
    """One region-profile unit per region slug (all registered when None), then the comparison unit."""
    src = Path(source_dir) if source_dir else notebook_dir()
    for name in (REGION_NOTEBOOK, COMPARISON_NOTEBOOK):
        if not (src / name).is_file():
            raise VqrError("source notebook not found", path=src / name)
    slugs = _check_regions(regions)
    units = [NotebookUnit(f"region_profile:{slug}", slug, REGION_NOTEBOOK, f"regions/{slug}.ipynb", slug)
             for slug in slugs]
    if comparison:
        units.append(NotebookUnit("regional_comparison", "compare", COMPARISON_NOTEBOOK, "compare.ipynb"))
    return units


def _known_regions() -> list[str]:
    from vqr_analysis.sources.registry import region_slugs

    return region_slugs()


def _check_regions(regions: Sequence[str] | None) -> list[str]:
    known = _known_regions()
    if regions is None:
        return known
    return check_known("region", regions, known)


def _describe_failure(where: str, exc: BaseException) -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        first_line = next((ln.strip() for ln in exc.source.splitlines() if ln.strip()), "")
        evalue = str(exc.evalue).splitlines()[0] if exc.evalue else ""
        return f"notebook {where} failed in cell {exc.cell_index} [{first_line[:60]}]: {exc.ename}: {evalue}"
    return f"notebook {where} failed: {exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


# Papermill and nbclient write wall-clock times and absolute paths into the notebook; dropping them makes the
# same inputs give a byte-identical executed notebook (the build's caches and the site depend on that).
_VOLATILE_NOTEBOOK_KEYS = ("start_time", "end_time", "duration", "input_path", "output_path", "exception",
                           "environment_variables")
_VOLATILE_CELL_KEYS = ("start_time", "end_time", "duration", "exception")


def _finalise(path: Path) -> list[str]:
    """Strip volatile metadata in place; return the notebook's error outputs (should be none)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for key in _VOLATILE_NOTEBOOK_KEYS:
        nb.metadata.get("papermill", {}).pop(key, None)
    errors = []
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"  # papermill gives it a random id
        for key in _VOLATILE_CELL_KEYS:
            cell.metadata.get("papermill", {}).pop(key, None)
        errors += [f"cell {i}: {o.get('ename')}: {o.get('evalue')}" for o in cell.get("outputs", [])
                   if o.get("output_type") == "error"]
    nbformat.write(nb, path)
    return errors


@contextmanager
def _kernel_stderr_to(path: Path) -> Iterator[None]:
    """Send this process's stderr (inherited by the kernel it starts) to ``path`` for the duration.

    ipykernel writes start-up warnings and shutdown noise to stderr; in a parallel run they would interleave
    on the terminal. Kept in a file, they are there when a run fails and deleted when it succeeds.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "wb") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _execute(job: tuple[NotebookUnit, Path, Path, Path, dict]) -> NotebookRun:
    """Run one notebook (in a worker process). Never raises: the outcome is in the returned record."""
    import papermill

    unit, src, out, db, parameters = job
    target = out / unit.output
    run = NotebookRun(unit.source, unit.slug, target, {**parameters, "db": str(db)})
    run.started, started = time.time(), time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.stem}.partial.ipynb")
    failed = target.with_name(f"{target.stem}.failed.ipynb")
    # The database reaches the kernel through VQR_DB rather than a parameter, so the executed notebook holds
    # no machine-specific path (and stays byte-identical across staging folders).
    os.environ["VQR_DB"] = str(db)
    log = target.with_name(f"{target.stem}.kernel.log")
    try:
        with _kernel_stderr_to(log):
            papermill.execute_notebook(
                str(src / unit.source), str(partial), parameters=parameters, kernel_name=KERNEL_NAME,
                cwd=str(src), progress_bar=False, log_output=False, request_save_on_cell_execute=False,
                # A kernel starts in ~2 s, but on a loaded 2-core machine (parallel notebooks beside other
                # jobs) nbclient's 60 s default was seen to expire; a slow start is not a failure.
                start_timeout=KERNEL_START_TIMEOUT,
            )
        errors = _finalise(partial)
        if errors:
            raise RuntimeError(f"error outputs in {'; '.join(errors)}")
        os.replace(partial, target)
        failed.unlink(missing_ok=True)
        log.unlink(missing_ok=True)
        run.ok = True
    except Exception as exc:  # noqa: BLE001 — any failure becomes the run's error message
        run.error = _describe_failure(f"{unit.source} ({unit.slug})", exc) + f" (kernel log: {_keep_log(log)})"
        if partial.exists():
            os.replace(partial, failed)
    run.seconds = time.perf_counter() - started
    return run


def _keep_log(log: Path) -> Path:
    """A copy of a failed run's kernel log in ``build/logs``: the output folder may be a staging folder that
    the failed build deletes, and the message must not point to a file that is gone."""
    kept = build_dir() / "logs" / log.name
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, kept)
    except OSError:
        return log  # nothing better to point to
    return kept


def _record(runs: list[NotebookRun], db_path: Path, snapshot: str, wall: float) -> None:
    import duckdb

    from vqr_analysis.store.database import record_run

    # Kernels opened the database read-only; by now they have exited, but another reader may still hold it.
    for attempt in range(20):
        try:
            con = duckdb.connect(str(db_path))
            break
        except duckdb.IOException:
            if attempt == 19:
                raise VqrError("notebooks executed, but the database stayed locked so the runs were not "
                               "recorded", path=db_path) from None
            time.sleep(0.5)
    try:
        for run in runs:
            record_run(con, kind="notebook", snapshot=snapshot, started=run.started, status="ok" if run.ok else "error",
                       params={"notebook": run.notebook, "slug": run.slug, "output": str(run.output),
                               "parameters": run.parameters, **({"error": run.error} if run.error else {})},
                       timings={"execute": round(run.seconds, 3), "batch_wall": round(wall, 3)})
    finally:
        con.close()


def execute_units(units: Sequence[NotebookUnit], *, db_path: str | Path, out_dir: str | Path, lang: str = "zh",
                  jobs: int | None = None, snapshot: str | None = None, source_dir: str | Path | None = None,
                  record: bool = True, raise_on_error: bool = True,
                  progress: Callable[[NotebookRun], None] | None = None) -> list[NotebookRun]:
    """Execute ``units`` into ``out_dir`` against ``db_path``, in parallel, and record them in its ``runs``.

    ``jobs`` worker processes (default: one per core, at most one per unit), each papermill call with its
    own kernel. With ``raise_on_error`` a failure raises a VqrError (after all units ran and were recorded)
    naming the notebook, the cell and the error; the error carries the runs as ``.runs``.
    """
    check_lang(lang)
    db = Path(db_path).resolve()
    if not db.is_file():
        raise VqrError("database not found; build it with `vqr db`", path=db)
    src = Path(source_dir).resolve() if source_dir else notebook_dir()
    out = mark_output_dir(Path(out_dir).resolve())
    jobs_list = [(unit, src, out, db, unit.parameters(lang)) for unit in units]
    workers = max(1, min(jobs or os.cpu_count() or 1, len(jobs_list)))
    t0 = time.perf_counter()
    done: list[NotebookRun] = []
    if workers == 1:
        saved = os.environ.get("VQR_DB")
        try:
            for job in jobs_list:
                done.append(_execute(job))
                if progress:
                    progress(done[-1])
        finally:
            os.environ.pop("VQR_DB", None) if saved is None else os.environ.__setitem__("VQR_DB", saved)
    elif jobs_list:
        # Separate processes: each papermill call starts and talks to its own kernel without sharing an
        # event loop. 'spawn' avoids forking a parent that may hold DuckDB/polars thread pools.
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            for result in pool.map(_execute, jobs_list):
                done.append(result)
                if progress:
                    progress(result)
    wall = time.perf_counter() - t0
    if record and done:
        _record(done, db, snapshot or _snapshot(db), wall)
    failures = [r for r in done if not r.ok]
    if failures and raise_on_error:
        more = f" (and {len(failures) - 1} more failed notebook(s))" if len(failures) > 1 else ""
        err = VqrError(failures[0].error + more)
        err.runs = done
        raise err
    return done


def _snapshot(db_path: Path) -> str:
    from vqr_analysis.analysis.api import snapshot

    return snapshot(db=db_path)


def run_notebooks(db_path: str | Path | None = None, out_dir: str | Path | None = None,
                  regions: Sequence[str] | None = None, lang: str = "zh", jobs: int | None = None, *,
                  comparison: bool | None = None, record: bool = True, raise_on_error: bool = True,
                  progress: Callable[[NotebookRun], None] | None = None) -> list[NotebookRun]:
    """Execute the region profiles (every registered region, or ``regions``) and the comparison notebook.

    Outputs: ``<out>/regions/<slug>.ipynb`` and ``<out>/compare.ipynb`` (default out: build/notebooks).
    Region slugs are validated against the registry before anything runs. ``comparison=None`` runs the
    comparison when no region subset is asked for. Returns one ``NotebookRun`` per notebook (path,
    parameters, seconds, ok, error); see ``execute_units`` for parallelism, recording and failures.
    """
    check_lang(lang)
    units = notebook_units(None, regions, comparison=comparison if comparison is not None else regions is None)
    return execute_units(units, db_path=db_path or default_db_path(), out_dir=out_dir or build_dir() / "notebooks",
                         lang=lang, jobs=jobs, record=record, raise_on_error=raise_on_error, progress=progress)

