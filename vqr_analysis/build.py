"""``vqr build``: registry → extract → validate → database → notebooks → site → briefs, incremental and atomic.

Right first, fast second:
- **Keyed on content.** Every unit of work (one report's extraction, one notebook, one brief, the site) has a
  key: the hash of what it really reads — report bytes, codebook, corrections, code, notebook source,
  parameters, and for the downstream units the *data* they show (a digest of the rows in the database), not
  file timestamps. Outputs are stored content-addressed under ``build/cache/`` by that key
  (``store.cache``), verified before use, so a unit whose key is unchanged is reused, and a unit whose
  inputs changed — or whose cached output is damaged — is re-run, whatever the clock says.
- **In small pieces.** Each phase is one ``Phase`` object with the same shape: it reads its inputs from the
  ``BuildContext``, keys its units, runs the ones without a verified output and stages what it made.
- **Atomic publish.** Everything is produced in a ``Staging`` (a copy of the database, a staging site
  folder) and swapped in only when every phase succeeded, all targets or none. A failure leaves the last
  good database and site byte-identical and names the failing phase; a bug keeps its traceback, with the
  phase added as a note.
- **Locked.** One writer at a time per project (``store.lock``); a second one refuses clearly (or waits
  with ``--wait``). Staging leftovers of killed builds are removed by the next one.
- **One snapshot id** (inputs + code version) in the database ``runs`` table, on every page (through the
  shared ``assets/build-info.js``) and in every PDF.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import polars as pl

from vqr_analysis.core.errors import VqrError
from vqr_analysis.core.paths import build_dir, data_dir, default_db_path, project_root, site_dir
from vqr_analysis.publish.notebooks import CELL_TIMEOUT, NOTEBOOK_TIMEOUT
from vqr_analysis.sources.registry import check_output_dir, check_output_path
from vqr_analysis.store.cache import ContentStore, atomic_write_text, digest, file_digest, is_pdf, tree_digest
from vqr_analysis.store.database import (
    BuildSummary, Inputs, code_fingerprint, connect_readonly, extract_documents, read_inputs, record_run,
    snapshot_id, write_database,
)
from vqr_analysis.store.lock import ProjectLock
from vqr_analysis.store.staging import Staging, check_replaceable, remove_dead_leftovers

__all__ = ["PHASES", "BuildOptions", "BuildResult", "BuildFailed", "run_build", "data_digests"]

PHASES = ("registry", "extract", "validate", "database", "notebooks", "site", "briefs")

# What each downstream unit's code is (its hash is part of the unit's key).
# Whole stage packages are named: a helper moved between modules of a stage still changes the key.
_NOTEBOOK_CODE = ("core", "sources", "quality", "store", "analysis", "publish/notebooks.py", "publish/fonts.py")
_SITE_CODE = ("core", "analysis", "quality", "publish/site.py", "publish/site_pages.py", "publish/offline.py",
              "publish/search.py", "publish/templates", "publish/static")
_BRIEF_CODE = ("core", "analysis", "sources", "extract/sections.py", "publish/briefs.py", "publish/fonts.py",
               "publish/templates/brief.typ")


@dataclass
class BuildOptions:
    db_path: Path | None = None
    data: Path | None = None
    build: Path | None = None
    site: Path | None = None
    notebooks_src: Path | None = None
    only: str | None = None
    start: str | None = None  # --from
    force: bool = False
    wait: float = 0.0
    jobs: int | None = None
    lang: str = "zh"
    renderer: str = "auto"
    cell_timeout: float = CELL_TIMEOUT
    notebook_timeout: float = NOTEBOOK_TIMEOUT
    # Test hook: raise inside this phase (after its work) to prove atomicity.
    fail_in: str | None = None

    def resolved(self) -> "BuildOptions":
        self.db_path = Path(self.db_path or default_db_path())
        self.data = Path(self.data or data_dir())
        self.build = Path(self.build or build_dir())
        self.site = Path(self.site or site_dir())
        self.notebooks_src = Path(self.notebooks_src or project_root() / "notebooks")
        if self.only and self.start:
            raise VqrError("use --only or --from, not both")
        # The lock treats a negative timeout as "wait for ever", and NaN compares false with everything.
        if not (math.isfinite(self.wait) and self.wait >= 0):
            raise VqrError(f"--wait must be a number of seconds, 0 or more; not {self.wait}")
        for name, value in (("--cell-timeout", self.cell_timeout), ("--notebook-timeout", self.notebook_timeout)):
            if not (math.isfinite(value) and value > 0):
                raise VqrError(f"{name} must be a number of seconds above 0; not {value}")
        for name in (self.only, self.start):
            if name and name not in PHASES:
                raise VqrError(f"unknown phase {name!r}; phases: {', '.join(PHASES)}")
        # Outputs are replaced as a whole: refuse any that would overwrite the inputs.
        check_output_path(self.db_path, suffixes=(".duckdb", ".db"), base=self.data, what="database")
        check_output_dir(self.site, base=self.data, what="site")
        check_output_dir(self.build, base=self.data, what="build folder")
        return self

    def selected(self) -> list[str]:
        if self.only:
            return [self.only]
        if self.start:
            return list(PHASES[PHASES.index(self.start):])
        return list(PHASES)


@dataclass
class PhaseResult:
    name: str
    seconds: float = 0.0
    ran: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    note: str = ""


@dataclass
class BuildResult:
    snapshot: str
    phases: dict[str, PhaseResult]
    seconds: float
    published: bool
    db_summary: BuildSummary | None = None
    counts: pl.DataFrame | None = None
    flags: pl.DataFrame | None = None

    @property
    def ran_units(self) -> list[str]:
        return [f"{p.name}:{u}" for p in self.phases.values() for u in p.ran]


class BuildFailed(VqrError):
    """An expected failure (bad input, unwritable target, failed notebook) in one phase: ``phase`` names it
    and ``__cause__`` is the original error (a ``NotebookFailed`` keeps its runs)."""

    def __init__(self, phase: str, error: VqrError) -> None:
        self.phase = phase
        super().__init__(f"build failed in phase '{phase}': {error}")


# --- data digests: what a downstream unit shows -----------------------------------------------------------

def _read_digests(db_path: Path) -> tuple[dict[str, dict[str, str]], list]:
    """The data digests and the last database snapshot id; an unreadable database is a VqrError naming it."""
    con = connect_readonly(db_path)
    try:
        return data_digests(con), con.execute(
            "SELECT snapshot_id FROM runs WHERE kind='db' ORDER BY finished_at DESC LIMIT 1").fetchall()
    except duckdb.Error as exc:  # a damaged block surfaces only when read
        raise VqrError(f"cannot read the database ({str(exc).splitlines()[0]}); rebuild it with `vqr db`",
                       path=db_path) from None
    finally:
        con.close()


def data_digests(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """Per region: ``own`` = its preferred values, provenance and flags; ``peers`` = the other regions'
    values for the indicators it reports (what a profile compares against); ``ledger`` = its text and every
    number's ledger class (the reading view); plus ``all`` for the whole set of values.

    obs_id is left out on purpose: it renumbers when an earlier report gains a row, without any data change.
    """
    own_rows = con.sql(
        """
        SELECT r.region,
               md5(string_agg(concat_ws('|', v.entity, v.indicator_code, v.year, v.value, v.unit, v.status,
                                        v.qualifier, v.method, v.raw, v.raw_unit, v.line, v.quote, v.pick_reason,
                                        v.source_sha256,
                                        (SELECT string_agg(f.rule || ':' || f.message, ';' ORDER BY f.rule, f.message)
                                         FROM quality_flags f WHERE f.obs_id = v.obs_id)),
                              '\n' ORDER BY v.entity NULLS FIRST, v.indicator_code, v.year)) AS digest
        FROM reports r LEFT JOIN indicator_values v ON v.report_id = r.report_id
        GROUP BY r.region
        """
    ).fetchall()
    report_rows = con.sql("SELECT region, md5(CAST(reports AS VARCHAR)) FROM reports").fetchall()
    peers_rows = con.sql(
        """
        WITH mine AS (SELECT DISTINCT r.region, v.indicator_code FROM indicator_values v
                      JOIN reports r ON r.report_id = v.report_id),
             vals AS (SELECT r.region, r.level, v.entity, v.indicator_code, v.year, v.value, v.status
                      FROM indicator_values v JOIN reports r ON r.report_id = v.report_id)
        SELECT m.region,
               md5(coalesce(string_agg(concat_ws('|', x.region, x.level, x.entity, x.indicator_code, x.year,
                                                 x.value, x.status), '\n'
                                       ORDER BY x.region, x.entity NULLS FIRST, x.indicator_code, x.year), ''))
        FROM (SELECT DISTINCT region FROM reports) m
        LEFT JOIN mine c ON c.region = m.region
        LEFT JOIN vals x ON x.indicator_code = c.indicator_code AND x.region <> m.region
        GROUP BY m.region
        """
    ).fetchall()
    # Labels, units and definitions are shown next to every value: a codebook edit reaches every view.
    codebook = con.sql("SELECT md5(string_agg(CAST(indicators AS VARCHAR), '\n' ORDER BY code)) FROM indicators").fetchall()[0][0]
    # The reading view shows each report's text with every number's ledger class: the site reads these too.
    ledger_rows = con.sql(
        """SELECT r.region,
                  md5(coalesce((SELECT string_agg(concat_ws('|', l.line, l.position, l.raw, l."class", l.reason),
                                                  '\n' ORDER BY l.line, l.position)
                                FROM number_ledger l WHERE l.report_id = r.report_id), '')
                      || coalesce((SELECT string_agg(t.line || '|' || t.text, '\n' ORDER BY t.line)
                                   FROM report_lines t WHERE t.report_id = r.report_id), ''))
           FROM reports r"""
    ).fetchall()
    report_digest = dict(report_rows)
    peers = dict(peers_rows)
    ledger = dict(ledger_rows)
    out = {region: {"own": digest(rows, report_digest.get(region), codebook), "peers": peers.get(region) or ""}
           for region, rows in own_rows}
    out["__all__"] = {"all": digest(sorted((k, v) for k, v in out.items()))}
    for region in ledger:  # only the site shows the ledger: notebooks and briefs keep their keys
        out.setdefault(region, {"own": "", "peers": ""})["ledger"] = ledger[region] or ""
    return out


# --- the build's memory: the keys of what was published ---------------------------------------------------

class BuildState:
    """``build/state.json``: per output, the key it was made from and what it looks like on disk.

    An unreadable or malformed file (``[1]``, a hand edit) is only a cache miss: what it no longer
    describes is rebuilt and the file rewritten."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.recorded = self._read(path)
        self.updates: dict[str, str] = {}  # output → key of this build's version

    @staticmethod
    def _read(path: Path) -> dict[str, dict]:
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return {}
        if not isinstance(state, dict):
            return {}
        return {k: v for k, v in state.items() if isinstance(v, dict)}

    def save(self, opts: BuildOptions, snapshot: str) -> None:
        state = dict(self.recorded)
        if "db" in self.updates and opts.db_path.is_file():
            state["db"] = {"key": self.updates["db"], "sha256": file_digest(opts.db_path)}
        if "site" in self.updates and opts.site.is_dir():
            state["site"] = {"key": self.updates["site"], "files": site_manifest(opts.site)}
        state["snapshot"] = snapshot
        atomic_write_text(self.path, json.dumps(state, indent=2))


def site_manifest(site: Path) -> dict[str, str]:
    """Every file of the site but its briefs (the briefs phase checks those), with its SHA-256: a site whose
    files no longer match (a deleted index.html, an edited page) is not up to date."""
    return {f.relative_to(site).as_posix(): file_digest(f) for f in sorted(site.rglob("*"))
            if f.is_file() and f.relative_to(site).parts[0] != "briefs"}


Progress = Callable[[str, str], None]  # (phase, message)


@dataclass
class BuildContext:
    """What the phases share: options, cache, staging and state, and what earlier phases produced."""

    opts: BuildOptions
    say: Progress
    staging: Staging
    state: BuildState
    snapshot: str = ""
    inputs: Inputs | None = None
    observations: list = field(default_factory=list)
    unmapped: list = field(default_factory=list)
    extract_keys: dict[str, str] = field(default_factory=dict)
    db_summary: BuildSummary | None = None
    digests: dict[str, dict[str, str]] = field(default_factory=dict)
    validate_seconds: float = 0.0

    def store(self, kind: str) -> ContentStore:
        return ContentStore(self.opts.build / "cache" / kind)

    def database(self) -> Path:
        """The database the downstream phases read: this build's staged one, else the live one."""
        return self.staging.staged(self.opts.db_path) or self.opts.db_path

    def writable_database(self) -> Path:
        """Downstream phases record their runs in the database: on a staged copy, never the live file."""
        staged = self.staging.staged(self.opts.db_path)
        if staged is None:
            staged = self.staging.file(self.opts.db_path)  # registered before the copy: a short copy is discarded
            shutil.copyfile(self.opts.db_path, staged)
        return staged

    def site_folder(self, *, copy_live: bool) -> Path:
        return self.staging.folder(self.opts.site, copy_live=copy_live)

    def site_staged(self) -> bool:
        return self.staging.staged(self.opts.site) is not None

    def notebooks_folder(self) -> Path:
        """The executed notebooks the site shows: this build's staged ones, else the published ones."""
        live = self.opts.build / "notebooks"
        return self.staging.staged(live) or live

    def regions(self) -> list[str]:
        con = duckdb.connect(str(self.database()), read_only=True)
        try:
            return [r[0] for r in con.execute("SELECT region FROM reports ORDER BY report_id").fetchall()]
        finally:
            con.close()

    def read_digests(self) -> None:
        self.digests, db_snapshot = _read_digests(self.database())
        if db_snapshot:
            self.snapshot = db_snapshot[0][0]


# --- the phases: inputs → key → run → outputs ---------------------------------------------------------------

class Phase:
    """One step of the build. ``run`` reads its inputs from the context, keys each unit of work by content,
    reuses the units whose key has a verified output, runs the others and stages what it made (or, for the
    first phases, leaves it in the context for the next)."""

    name = ""

    def run(self, ctx: BuildContext, result: PhaseResult) -> None:
        raise NotImplementedError


class RegistryPhase(Phase):
    """Registry, codebook and every report, verified against their registered hashes."""

    name = "registry"

    def run(self, ctx: BuildContext, result: PhaseResult) -> None:
        ctx.inputs = read_inputs(ctx.opts.data, progress=lambda m: ctx.say(self.name, m))
        ctx.snapshot = snapshot_id(ctx.inputs.hashes)
        result.note = f"{len(ctx.inputs.reports)} reports verified"


class ExtractPhase(Phase):
    """One unit per report, keyed by its bytes, the codebook, the patterns and the extractor code."""

    name = "extract"

    def run(self, ctx: BuildContext, result: PhaseResult) -> None:
        store = ctx.store("extract")
        if ctx.opts.force:  # start from an empty cache; this run refills it
            store.clear()
        ctx.observations, ctx.unmapped, info = extract_documents(
            ctx.inputs, cache_dir=store.folder, progress=lambda m: ctx.say(self.name, m))
        for report_id, meta in info.items():
            (result.reused if meta["cached"] else result.ran).append(report_id)
        ctx.extract_keys = {k: v["key"] for k, v in info.items()}
        result.note = f"{len(ctx.observations)} observations"


class DatabasePhase(Phase):
    """One unit: the database, keyed by every extraction key, the inputs and the store/quality code; the
    validation rules run inside it (reported as the 'validate' phase)."""

    name = "database"

    def run(self, ctx: BuildContext, result: PhaseResult) -> None:
        opts = ctx.opts
        key = digest(ctx.extract_keys, ctx.inputs.hashes, code_fingerprint(("store", "quality")))
        ctx.state.updates["db"] = key
        recorded = ctx.state.recorded.get("db", {})
        if not opts.force and recorded.get("key") == key and recorded.get("sha256") == file_digest(opts.db_path):
            result.reused.append("database")
            return
        started = time.time()
        timings: dict[str, float] = {}
        staged = ctx.staging.file(opts.db_path)  # registered before the first byte: a failure discards it
        snapshot = snapshot_id(ctx.inputs.hashes)
        counts, flags, unmapped_df, coverage = write_database(
            staged, ctx.inputs, ctx.observations, ctx.unmapped, snapshot=snapshot, started=started,
            timings=timings, progress=lambda m: ctx.say(self.name, m))
        ctx.db_summary = BuildSummary(opts.db_path, snapshot, time.time() - started, counts, flags, unmapped_df,
                                      timings, coverage)
        ctx.validate_seconds = timings.get("validate", 0.0)
        result.ran.append("database")
        result.note = f"{int(counts['n'].sum())} observations, {int(flags['n'].sum()) if flags.height else 0} flags"


class NotebooksPhase(Phase):
    """One unit per executed notebook, keyed by its source, parameters, code and the data it shows."""

    name = "notebooks"

    def run(self, ctx: BuildContext, result: PhaseResult) -> None:
        from vqr_analysis.publish import notebooks as nb

        opts = ctx.opts
        src = opts.notebooks_src
        code = code_fingerprint(_NOTEBOOK_CODE)
        store = ctx.store("notebooks")
        live = opts.build / "notebooks"
        units = nb.notebook_units(src, ctx.regions())
        todo, keys, hits = [], {}, {}
        for unit in units:
            # A region notebook shows its own rows and compares them with the other regions' values for the
            # same indicators; the comparison notebook shows everything.
            data_key = ctx.digests["__all__"]["all"] if unit.region is None else \
                digest(ctx.digests[unit.region]["own"], ctx.digests[unit.region]["peers"])
            keys[unit.name] = digest(tree_digest(src / unit.source), unit.parameters(opts.lang), code, data_key)
            hit = None if opts.force else store.get(unit.slug, keys[unit.name], ".ipynb")
            if hit:
                hits[unit.name] = hit
            else:
                todo.append(unit)
        if not todo and all(file_digest(live / u.output) == file_digest(hits[u.name]) for u in units):
            result.reused.extend(u.name for u in units)
            return
        # About to publish cached notebooks: each must be a valid notebook executed for its own unit.
        for unit in units:
            if unit.name in hits and not nb.check_executed(hits[unit.name], unit, opts.lang):
                store.drop(hits.pop(unit.name))
                todo.append(unit)
        out = ctx.staging.scratch / "notebooks"
        out.mkdir(parents=True, exist_ok=True)
        ctx.staging.adopt(out, live)
        for unit in units:
            if unit.name in hits:
                (out / unit.output).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(hits[unit.name], out / unit.output)
                result.reused.append(unit.name)
        if todo:
            ctx.say(self.name, f"executing {len(todo)} notebook(s)")
            nb.execute_units(todo, db_path=ctx.writable_database(), out_dir=out, lang=opts.lang, jobs=opts.jobs,
                             snapshot=ctx.snapshot, source_dir=src, cell_timeout=opts.cell_timeout,
                             notebook_timeout=opts.notebook_timeout)
            for unit in todo:
                store.put(unit.slug, keys[unit.name], ".ipynb", out / unit.output)
                result.ran.append(unit.name)


class SitePhase(Phase):
    """One unit: the site, keyed by the data digests, the snapshot, the executed notebooks, the site code,
    pages and renderer; reused only while its published files are the ones recorded."""

    name = "site"

    def run(self, ctx: BuildContext, result: PhaseResult) -> None:
        opts = ctx.opts
        notebooks_dir = ctx.notebooks_folder()
        # The snapshot is in the key because every page shows it (via assets/build-info.js).
        key = digest(ctx.digests, ctx.snapshot, tree_digest(notebooks_dir), code_fingerprint(_SITE_CODE),
                     tree_digest(project_root() / "_quarto.yml"), tree_digest(project_root() / "pages"),
                     opts.renderer)
        ctx.state.updates["site"] = key
        recorded = ctx.state.recorded.get("site", {})
        if not opts.force and recorded.get("key") == key and opts.site.is_dir() \
                and recorded.get("files") == site_manifest(opts.site):
            result.reused.append("site")
            return
        from vqr_analysis.publish import site as site_mod  # imported only when rendering: nbformat's import alone costs ~1 s

        out = ctx.site_folder(copy_live=False)
        rendered = site_mod.build_site(db_path=ctx.database(), notebooks_dir=notebooks_dir, out_dir=out,
                                       renderer=opts.renderer)
        result.ran.append("site")
        result.note = f"rendered with {rendered.renderer}"
        # Briefs live inside the site; carry the current ones over until the briefs phase refreshes them.
        old_briefs = opts.site / "briefs"
        if old_briefs.is_dir() and not (out / "briefs").exists():
            shutil.copytree(old_briefs, out / "briefs")


class BriefsPhase(Phase):
    """One unit per region's PDF, keyed by the data it shows, the code and the snapshot it prints."""

    name = "briefs"

    def run(self, ctx: BuildContext, result: PhaseResult) -> None:
        opts = ctx.opts
        code = code_fingerprint(_BRIEF_CODE)
        store = ctx.store("briefs")
        todo, keys = [], {}
        for region in ctx.regions():
            keys[region] = digest(ctx.digests[region]["own"], ctx.digests[region]["peers"], code, ctx.snapshot)
            hit = None if opts.force else store.get(region, keys[region], ".pdf", check=is_pdf)
            live = opts.site / "briefs" / f"{region}.pdf"
            if hit and not ctx.site_staged() and file_digest(live) == file_digest(hit):
                result.reused.append(region)  # nothing to stage: the live PDF is the cached one
            elif hit:
                out = ctx.site_folder(copy_live=True) / "briefs"
                out.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(hit, out / f"{region}.pdf")
                result.reused.append(region)
            else:
                todo.append(region)
        if not todo:
            return
        from vqr_analysis.publish import briefs as briefs_mod  # imported only when typesetting

        out = ctx.site_folder(copy_live=True) / "briefs"
        out.mkdir(parents=True, exist_ok=True)
        svg_cache = opts.build / "cache" / "svg"
        written = briefs_mod.build_briefs(db_path=ctx.database(), out_dir=out, regions=todo, base=opts.data,
                                          svg_cache=svg_cache)
        _prune(svg_cache, days=7)
        for path in written:
            region = Path(path).stem
            store.put(region, keys[region], ".pdf", Path(path))
            result.ran.append(region)


# --- the build -------------------------------------------------------------------------------------------

def run_build(options: BuildOptions | None = None, *, progress: Progress | None = None) -> BuildResult:
    """Run the selected phases; publish the database and site only if every phase succeeded."""
    opts = (options or BuildOptions()).resolved()
    say = progress or (lambda phase, msg: None)
    with ProjectLock(opts.build, wait=opts.wait, command="build"):
        # Under the lock no other writer runs: leftovers of processes that are gone are garbage.
        remove_dead_leftovers([opts.db_path.parent, opts.build, opts.site.parent, opts.build / "notebooks",
                               opts.build / "notebooks" / "regions",
                               *(p for p in (opts.build / "cache").glob("*") if p.is_dir())])
        return _Build(opts, say).run()


class _Build:
    """Runs the phases in order on one context and publishes, or discards everything and names the phase."""

    def __init__(self, opts: BuildOptions, say: Progress) -> None:
        self.opts = opts
        self.ctx = BuildContext(opts, say, Staging(opts.build / f".staging-{os.getpid()}"),
                                BuildState(opts.build / "state.json"))
        self.phases: dict[str, PhaseResult] = {}
        self.current = "registry"

    def run(self) -> BuildResult:
        started = time.time()
        ctx = self.ctx
        try:
            ctx.staging.open()
            published = self._run_phases(started)
        except VqrError as exc:
            ctx.staging.discard()
            raise BuildFailed(self.current, exc) from exc
        except BaseException as exc:
            ctx.staging.discard()
            if isinstance(exc, Exception):  # a bug: keep its traceback, say where it happened
                exc.add_note(f"vqr build failed in phase '{self.current}'; nothing was published, the last "
                             "good database and site are unchanged")
            raise
        summary = ctx.db_summary
        return BuildResult(ctx.snapshot, self.phases, time.time() - started, published, summary,
                           summary.counts if summary else None, summary.flags if summary else None)

    def _run_phases(self, started: float) -> bool:
        ctx, selected = self.ctx, self.opts.selected()
        # What the selected phases would publish must be replaceable: checked before any work (and again
        # when publishing), so a read-only site fails now, not after the notebooks ran.
        self.current = "publish"
        check_replaceable([target for target, phases in (
            (self.opts.db_path, ("extract", "validate", "database", "notebooks")),
            (self.opts.build / "notebooks", ("notebooks",)),
            (self.opts.site, ("site", "briefs"))) if set(phases) & set(selected)])
        self._step(RegistryPhase())
        if any(p in selected for p in ("extract", "validate", "database")):
            self._step(ExtractPhase())
            self._step(DatabasePhase())
            if ctx.db_summary is not None:
                self.phases.setdefault("validate", PhaseResult(
                    "validate", seconds=ctx.validate_seconds, ran=["checks"]))
        elif not self.opts.db_path.is_file():
            raise VqrError("no database to build from; run `vqr build` without --only/--from first",
                           path=self.opts.db_path)
        downstream = [p for p in (NotebooksPhase(), SitePhase(), BriefsPhase()) if p.name in selected]
        # Reading the database is the first step of the phases after it: a damaged file is their failure,
        # and the message names the file.
        if downstream:
            self.current = downstream[0].name
        ctx.read_digests()
        for phase in downstream:
            self._step(phase)
        self.current = "publish"
        return self._publish(started)

    def _step(self, phase: Phase) -> None:
        result = self.phases.setdefault(phase.name, PhaseResult(phase.name))
        self.current = phase.name
        self.ctx.say(phase.name, "started")
        t = time.perf_counter()
        phase.run(self.ctx, result)
        result.seconds += time.perf_counter() - t
        if self.opts.fail_in == phase.name:
            raise RuntimeError(f"injected failure in {phase.name} (test hook)")
        self.ctx.say(phase.name, "done")

    def _publish(self, started: float) -> bool:
        """Swap every staged output in (all or none), then record the keys of what is now live."""
        ctx = self.ctx
        if not ctx.staging:
            ctx.staging.discard()
            if ctx.state.updates:
                ctx.state.save(self.opts, ctx.snapshot)
            return False
        staged_db = ctx.staging.staged(self.opts.db_path)
        if staged_db is not None:
            con = duckdb.connect(str(staged_db))
            try:
                record_run(con, kind="build", snapshot=ctx.snapshot, started=started,
                           params={"only": self.opts.only, "from": self.opts.start, "force": self.opts.force},
                           timings={name: {"seconds": round(p.seconds, 4), "ran": p.ran, "reused": p.reused}
                                    for name, p in self.phases.items()})
                con.execute("CHECKPOINT")
            finally:
                con.close()
        ctx.staging.publish()
        ctx.state.save(self.opts, ctx.snapshot)
        return True


def _prune(folder: Path, *, days: float) -> None:
    """Drop cache files unused for ``days`` (users touch what they read), so caches do not grow forever."""
    cutoff = time.time() - days * 86400
    for f in folder.glob("*"):
        if f.is_file() and f.stat().st_mtime < cutoff:
            f.unlink(missing_ok=True)
