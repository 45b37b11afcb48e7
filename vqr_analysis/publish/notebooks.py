"""Execute the parametrised notebooks with papermill: one region profile per region plus the comparison.

``run_notebooks`` is the one entry point (the ``vqr notebooks`` command is a thin shell over it)::

    <out>/regions/<slug>.ipynb   notebooks/region_profile.ipynb with region=<slug>
    <out>/compare.ipynb          notebooks/regional_comparison.ipynb

Region slugs are checked against the registry before any kernel starts. Notebooks run in parallel worker
processes, each with its own kernel (the venv's python: papermill's ``python3`` kernelspec resolves to the
running interpreter), within a per-cell and a per-notebook timeout; a worker that times out, or every
worker on an interrupt, is killed with its kernel. A notebook is written to a temporary file and moved into
place only when it ran without error, so the last good output is never replaced by a broken one; a failed
run is kept beside it as ``<slug>.failed.ipynb`` and reported as a ``NotebookFailed`` error naming the
notebook, the cell and the error. Each run's parameters and timings are appended to the database's
``runs`` table.

Executed notebooks are reproducible byte for byte: the database path reaches the kernel through ``VQR_DB``
(the notebook's ``db`` parameter stays None), and papermill's timestamps and absolute paths are stripped.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import wait as wait_for_ready
from pathlib import Path
from typing import Callable, Iterator, Sequence

from vqr_analysis.core.errors import VqrError, check_known
from vqr_analysis.core.vocab import check_lang
from vqr_analysis.core.paths import build_dir, default_db_path, mark_output_dir, project_root
from vqr_analysis.store.cache import atomic_path

__all__ = [
    "NotebookUnit", "NotebookRun", "run_notebooks", "execute_units", "notebook_units", "notebook_dir",
    "notebook_parameters", "REGION_NOTEBOOK", "COMPARISON_NOTEBOOK", "KERNEL_NAME", "NotebookFailed",
    "CELL_TIMEOUT", "NOTEBOOK_TIMEOUT", "check_executed",
]

REGION_NOTEBOOK = "region_profile.ipynb"
COMPARISON_NOTEBOOK = "regional_comparison.ipynb"
# The kernelspec ipykernel installs into the venv; jupyter_client starts it with the running interpreter.
KERNEL_NAME = "python3"
KERNEL_START_TIMEOUT = 300  # seconds a kernel may take to start before the run fails
# Seconds. A cell of these notebooks takes well under ten seconds and a whole notebook under a minute on a
# laptop; the limits only stop a hung kernel (a cell waiting on input, a loop that never ends) from
# holding the build, and its lock, for ever.
CELL_TIMEOUT = 300.0
NOTEBOOK_TIMEOUT = 900.0


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


class NotebookFailed(VqrError):
    """Some notebooks of a batch failed: the message names the first (notebook, cell, error) in one line;
    ``runs`` holds every run of the batch, the failed ones with their error."""

    def __init__(self, runs: Sequence[NotebookRun]) -> None:
        self.runs = tuple(runs)
        failures = [r for r in self.runs if not r.ok]
        more = f" (and {len(failures) - 1} more failed notebook(s))" if len(failures) > 1 else ""
        super().__init__((failures[0].error if failures else "no notebook failed") + more)


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


def _describe_failure(where: str, exc: BaseException, cell_timeout: float | None = None) -> str:
    from nbclient.exceptions import CellTimeoutError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, CellTimeoutError):
        return f"notebook {where} timed out: a cell ran longer than {cell_timeout:g} s (--cell-timeout)"
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


def check_executed(path: Path, unit: NotebookUnit, lang: str = "zh") -> bool:
    """True if ``path`` is a valid notebook (nbformat's schema) that papermill executed with ``unit``'s
    parameters: a cached notebook is published only if it is sound and is the one of its own region."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception:  # noqa: BLE001 — not JSON, not a notebook, not readable: all mean "do not use it"
        return False
    return nb.metadata.get("papermill", {}).get("parameters") == unit.parameters(lang)


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


def _execute(job: tuple[NotebookUnit, Path, Path, Path, dict, float]) -> NotebookRun:
    """Run one notebook (in a worker process). Never raises: the outcome is in the returned record."""
    import papermill

    unit, src, out, db, parameters, cell_timeout = job
    target = out / unit.output
    run = NotebookRun(unit.source, unit.slug, target, {**parameters, "db": str(db)})
    run.started, started = time.time(), time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    failed = target.with_name(f"{target.stem}.failed.ipynb")
    # The database reaches the kernel through VQR_DB rather than a parameter, so the executed notebook holds
    # no machine-specific path (and stays byte-identical across staging folders).
    os.environ["VQR_DB"] = str(db)
    log = target.with_name(f"{target.stem}.kernel.log")
    try:
        with atomic_path(target, suffix=".ipynb") as partial:  # the last good output stays until this one ran
            try:
                with _kernel_stderr_to(log):
                    papermill.execute_notebook(
                        str(src / unit.source), str(partial), parameters=parameters, kernel_name=KERNEL_NAME,
                        cwd=str(src), progress_bar=False, log_output=False, request_save_on_cell_execute=False,
                        execution_timeout=cell_timeout,
                        # A kernel starts in ~2 s, but on a loaded 2-core machine (parallel notebooks beside
                        # other jobs) nbclient's 60 s default was seen to expire; a slow start is not a failure.
                        start_timeout=KERNEL_START_TIMEOUT,
                    )
                errors = _finalise(partial)
                if errors:
                    raise RuntimeError(f"error outputs in {'; '.join(errors)}")
            except Exception:
                if partial.exists():  # kept beside the output for the user to open
                    partial.rename(failed)
                raise
        failed.unlink(missing_ok=True)
        log.unlink(missing_ok=True)
        run.ok = True
    except Exception as exc:  # noqa: BLE001 — any failure becomes the run's error message
        run.error = (_describe_failure(f"{unit.source} ({unit.slug})", exc, cell_timeout)
                     + f" (kernel log: {_keep_log(log)})")
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
                  progress: Callable[[NotebookRun], None] | None = None,
                  cell_timeout: float = CELL_TIMEOUT, notebook_timeout: float = NOTEBOOK_TIMEOUT) -> list[NotebookRun]:
    """Execute ``units`` into ``out_dir`` against ``db_path``, in parallel, and record them in its ``runs``.

    ``jobs`` worker processes at a time (default: one per core, at most one per unit), each notebook in its
    own process group with its own kernel. A cell running longer than ``cell_timeout`` seconds, or a
    notebook longer than ``notebook_timeout``, fails that notebook and its kernel and workers are killed
    (so are all of them on an interrupt). With ``raise_on_error`` a failure raises ``NotebookFailed`` (after
    all units ran and were recorded) naming the notebook, the cell and the error, with every run in ``.runs``.
    """
    check_lang(lang)
    for name, value in (("--cell-timeout", cell_timeout), ("--notebook-timeout", notebook_timeout)):
        if not (isinstance(value, (int, float)) and value > 0 and value == value and value != float("inf")):
            raise VqrError(f"{name} must be a number of seconds above 0; not {value}")
    db = Path(db_path).resolve()
    if not db.is_file():
        raise VqrError("database not found; build it with `vqr db`", path=db)
    src = Path(source_dir).resolve() if source_dir else notebook_dir()
    out = mark_output_dir(Path(out_dir).resolve())
    jobs_list = [(unit, src, out, db, unit.parameters(lang), float(cell_timeout)) for unit in units]
    workers = max(1, min(jobs or os.cpu_count() or 1, len(jobs_list)))
    t0 = time.perf_counter()
    done = _run_isolated(jobs_list, workers, float(notebook_timeout), progress)
    wall = time.perf_counter() - t0
    if record and done:
        _record(done, db, snapshot or _snapshot(db), wall)
    if raise_on_error and any(not r.ok for r in done):
        raise NotebookFailed(done)
    return done


def _worker(job: tuple, conn) -> None:
    """A notebook's worker process: leads its own process group, so its kernel (and anything the kernel
    starts) can be killed with it; sends the run record back."""
    os.setsid()
    conn.send(_execute(job))
    conn.close()


def _kill_group(proc) -> None:
    """Kill a worker with its kernel and everything they started. The kernel is the worker's child but
    leads a session of its own (jupyter_client starts it so), so the tree is walked, children first
    collected (a killed worker's children would be re-parented out of reach)."""
    import psutil

    try:
        tree = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        tree = []
    for kill in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill):
        try:
            kill()
        except (ProcessLookupError, PermissionError, ValueError):
            pass
    for child in tree:
        try:
            child.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(tree, timeout=10)
    proc.join()


def _run_isolated(jobs_list: list[tuple], workers: int, notebook_timeout: float,
                  progress: Callable[[NotebookRun], None] | None) -> list[NotebookRun]:
    """Run every job in its own spawned process, ``workers`` at a time, each within ``notebook_timeout``.

    'spawn' avoids forking a parent that may hold DuckDB/polars thread pools. Whatever happens — a timeout,
    a worker that dies, an interrupt — no worker or kernel outlives this call."""
    ctx = get_context("spawn")
    pending = list(enumerate(jobs_list))
    running: dict[int, tuple] = {}  # index → (process, receiving end, deadline)
    results: dict[int, NotebookRun] = {}
    try:
        while pending or running:
            while pending and len(running) < workers:
                index, job = pending.pop(0)
                receive, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_worker, args=(job, send), name=f"vqr-notebook-{job[0].slug}")
                proc.start()
                send.close()  # the child holds the only sending end: its death reads as end-of-file
                running[index] = (proc, receive, time.monotonic() + notebook_timeout)
            next_deadline = min(deadline for _, _, deadline in running.values())
            ready = wait_for_ready([r for _, r, _ in running.values()],
                                   timeout=max(0.0, next_deadline - time.monotonic()))
            for index, (proc, receive, deadline) in list(running.items()):
                unit = jobs_list[index][0]
                if receive in ready:
                    try:
                        run = receive.recv()
                    except (EOFError, OSError):
                        run = None
                    _kill_group(proc)  # anything the notebook left running
                    if run is None:
                        run = _failed_run(jobs_list[index], f"notebook {unit.source} ({unit.slug}) failed: its "
                                                            f"worker process died (exit code {proc.exitcode})")
                elif time.monotonic() >= deadline:
                    _kill_group(proc)
                    run = _failed_run(jobs_list[index], f"notebook {unit.source} ({unit.slug}) timed out: it "
                                                        f"ran longer than {notebook_timeout:g} s (--notebook-timeout)")
                else:
                    continue
                receive.close()
                del running[index]
                results[index] = run
                if progress:
                    progress(run)
    finally:
        for proc, receive, _ in running.values():  # an interrupt or an error here: stop every notebook
            _kill_group(proc)
            receive.close()
    return [results[i] for i in sorted(results)]


def _failed_run(job: tuple, error: str) -> NotebookRun:
    """The record of a notebook whose worker was killed or died (it could not send its own)."""
    unit, _src, out, db, parameters, _cell_timeout = job
    target = out / unit.output
    for partial in target.parent.glob(f".{target.name}.building-*.ipynb"):
        partial.unlink(missing_ok=True)
    return NotebookRun(unit.source, unit.slug, target, {**parameters, "db": str(db)}, ok=False, error=error,
                       started=time.time())


def _snapshot(db_path: Path) -> str:
    from vqr_analysis.analysis.api import snapshot

    return snapshot(db=db_path)


def run_notebooks(db_path: str | Path | None = None, out_dir: str | Path | None = None,
                  regions: Sequence[str] | None = None, lang: str = "zh", jobs: int | None = None, *,
                  comparison: bool | None = None, record: bool = True, raise_on_error: bool = True,
                  progress: Callable[[NotebookRun], None] | None = None, cell_timeout: float = CELL_TIMEOUT,
                  notebook_timeout: float = NOTEBOOK_TIMEOUT) -> list[NotebookRun]:
    """Execute the region profiles (every registered region, or ``regions``) and the comparison notebook.

    Outputs: ``<out>/regions/<slug>.ipynb`` and ``<out>/compare.ipynb`` (default out: build/notebooks).
    Region slugs are validated against the registry before anything runs. ``comparison=None`` runs the
    comparison when no region subset is asked for. Returns one ``NotebookRun`` per notebook (path,
    parameters, seconds, ok, error); see ``execute_units`` for parallelism, recording and failures.
    """
    check_lang(lang)
    units = notebook_units(None, regions, comparison=comparison if comparison is not None else regions is None)
    return execute_units(units, db_path=db_path or default_db_path(), out_dir=out_dir or build_dir() / "notebooks",
                         lang=lang, jobs=jobs, record=record, raise_on_error=raise_on_error, progress=progress,
                         cell_timeout=cell_timeout, notebook_timeout=notebook_timeout)

