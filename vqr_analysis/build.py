"""``vqr build``: registry → extract → validate → database → notebooks → site → briefs, incremental and atomic.

Right first, fast second:
- **Keyed on content.** Every unit of work (one report's extraction, one notebook, one brief, the site) has a
  key: the hash of what it really reads — report bytes, codebook, corrections, code, notebook source,
  parameters, and for the downstream units the *data* they show (a digest of the rows in the database), not
  file timestamps. Outputs are stored content-addressed under ``build/cache/`` by that key, so a unit whose
  key is unchanged is reused, and a unit whose inputs changed is re-run, whatever the clock says.
- **Atomic publish.** Everything is produced in a staging area (a copy of the database, a staging site
  folder) and swapped in only when every phase succeeded. A failure leaves the last good database and site
  byte-identical and names the failing phase.
- **Locked.** One build at a time per build folder; a second one refuses clearly (or waits with ``--wait``).
- **One snapshot id** (inputs + code version) in the database ``runs`` table, on every page (through the
  shared ``assets/build-info.js``) and in every PDF.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import duckdb
import polars as pl

from vqr_analysis.store.database import (
    BuildSummary, Inputs, code_fingerprint, connect_readonly, discard, extract_documents, read_inputs, record_run,
    snapshot_id, temp_db_path, write_database,
)
from vqr_analysis.core.errors import VqrError
from vqr_analysis.core.paths import build_dir, data_dir, default_db_path, project_root, replace_dir, site_dir
from vqr_analysis.sources.registry import check_output_dir, check_output_path

__all__ = ["PHASES", "BuildOptions", "BuildResult", "run_build", "data_digests"]

PHASES = ("registry", "extract", "validate", "database", "notebooks", "site", "briefs")

# What each downstream unit's code is (its hash is part of the unit's key).
# Whole stage packages are named: a helper moved between modules of a stage still changes the key.
_NOTEBOOK_CODE = ("core", "sources", "quality", "store", "analysis", "publish/notebooks.py", "publish/fonts.py")
_SITE_CODE = ("core", "analysis", "quality", "publish/site.py", "publish/site_pages.py", "publish/templates",
              "publish/static")
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


def _hash(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, ensure_ascii=False, default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()[:16]


def _tree_hash(path: Path) -> str:
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    if not path.is_dir():
        return "absent"
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts):
        h.update(f.relative_to(path).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


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
    out = {region: {"own": _hash(digest, report_digest.get(region), codebook), "peers": peers.get(region) or ""}
           for region, digest in own_rows}
    out["__all__"] = {"all": _hash(sorted((k, v) for k, v in out.items()))}
    for region in ledger:  # only the site shows the ledger: notebooks and briefs keep their keys
        out.setdefault(region, {"own": "", "peers": ""})["ledger"] = ledger[region] or ""
    return out


# --- the lock ------------------------------------------------------------------------------------------------

class _BuildLock:
    """An exclusive lock on the build folder; the holder's pid and start time are written beside it."""

    def __init__(self, folder: Path, wait: float) -> None:
        from filelock import FileLock

        folder.mkdir(parents=True, exist_ok=True)
        self.info = folder / ".vqr-build.lock.json"
        self.lock = FileLock(str(folder / ".vqr-build.lock"))
        self.wait = wait

    def __enter__(self):
        from filelock import Timeout

        try:
            self.lock.acquire(timeout=self.wait)
        except Timeout:
            holder = ""
            try:
                info = json.loads(self.info.read_text())
                holder = f" (pid {info['pid']}, started {info['started']})"
            except (OSError, ValueError, KeyError):
                pass
            raise VqrError(f"another vqr build is running{holder}; wait for it to finish or pass --wait SECONDS",
                           path=self.lock.lock_file) from None
        self.info.write_text(json.dumps({"pid": os.getpid(), "started": datetime.now(timezone.utc).isoformat()}))
        return self

    def __exit__(self, *exc) -> None:
        self.info.unlink(missing_ok=True)
        self.lock.release()


# --- content-addressed output cache -----------------------------------------------------------------------

class _Cache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, kind: str, unit: str, key: str, suffix: str) -> Path:
        return self.root / kind / f"{unit}-{key}{suffix}"

    def get(self, kind: str, unit: str, key: str, suffix: str) -> Path | None:
        p = self.path(kind, unit, key, suffix)
        return p if p.exists() else None

    def put(self, kind: str, unit: str, key: str, suffix: str, src: Path) -> Path:
        dest = self.path(kind, unit, key, suffix)
        dest.parent.mkdir(parents=True, exist_ok=True)
        for stale in dest.parent.glob(f"{unit}-*{suffix}"):
            if stale != dest:
                stale.unlink(missing_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
        return dest


# --- the build -------------------------------------------------------------------------------------------

def _read_state(path: Path) -> dict[str, dict]:
    """The content keys of the last build ({output: {"key": …}}); an unreadable or malformed file (``[1]``,
    a hand edit) is only a cache miss: what it no longer describes is rebuilt and the file rewritten."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(state, dict):
        return {}
    return {k: v for k, v in state.items() if isinstance(v, dict)}


Progress = Callable[[str, str], None]  # (phase, message)


def run_build(options: BuildOptions | None = None, *, progress: Progress | None = None) -> BuildResult:
    """Run the selected phases; publish the database and site only if every phase succeeded."""
    opts = (options or BuildOptions()).resolved()
    say = progress or (lambda phase, msg: None)
    with _BuildLock(opts.build, opts.wait):
        return _Build(opts, say).run()


class _Build:
    def __init__(self, opts: BuildOptions, say: Progress) -> None:
        self.opts = opts
        self.say = say
        self.cache = _Cache(opts.build / "cache")
        self.phases: dict[str, PhaseResult] = {}
        self.staging = opts.build / f".staging-{os.getpid()}"
        self.stage_db: Path | None = None  # set once anything downstream of the DB must write to it
        self.db_summary: BuildSummary | None = None
        self.snapshot = ""
        self.state_path = opts.build / "state.json"
        self.state = _read_state(self.state_path)
        self.state_updates: dict[str, str] = {}

    # The phases ---------------------------------------------------------------------------------------

    def run(self) -> BuildResult:
        started = time.time()
        selected = self.opts.selected()
        self.current = "registry"
        try:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging.mkdir(parents=True)
            inputs = self._timed("registry", lambda r: self._registry(r))
            self.snapshot = snapshot_id(inputs.hashes)
            if any(p in selected for p in ("extract", "validate", "database")):
                observations, unmapped = self._timed("extract", lambda r: self._extract(r, inputs))
                self._timed("database", lambda r: self._database(r, inputs, observations, unmapped))
            elif not self.opts.db_path.is_file():
                raise VqrError("no database to build from; run `vqr build` without --only/--from first",
                               path=self.opts.db_path)
            # Reading the database is the first step of the phases after it: a damaged file is their failure,
            # and the message names the file.
            self.current = next((p for p in ("notebooks", "site", "briefs") if p in selected), self.current)
            digests, db_snapshot = _read_digests(self.stage_db or self.opts.db_path)
            if db_snapshot:
                self.snapshot = db_snapshot[0][0]
            for phase, fn in (("notebooks", self._notebooks), ("site", self._site), ("briefs", self._briefs)):
                if phase in selected:
                    self._timed(phase, lambda r, fn=fn: fn(r, digests))
            published = self._publish(started)
        except VqrError as exc:
            self._discard()
            raise VqrError(f"build failed in phase '{self.current}': {exc}") from None
        except Exception as exc:
            self._discard()
            raise VqrError(f"build failed in phase '{self.current}': {exc.__class__.__name__}: {exc}") from exc
        counts = flags = None
        if self.db_summary is not None:
            counts, flags = self.db_summary.counts, self.db_summary.flags
        return BuildResult(self.snapshot, self.phases, time.time() - started, published, self.db_summary,
                           counts, flags)

    def _timed(self, name: str, fn):
        result = self.phases.setdefault(name, PhaseResult(name))
        self.current = name
        self.say(name, "started")
        t = time.perf_counter()
        value = fn(result)
        result.seconds += time.perf_counter() - t
        if self.opts.fail_in == name:
            raise RuntimeError(f"injected failure in {name} (test hook)")
        self.say(name, "done")
        return value

    def _registry(self, result: PhaseResult) -> Inputs:
        inputs = read_inputs(self.opts.data, progress=lambda m: self.say("registry", m))
        result.note = f"{len(inputs.reports)} reports verified"
        return inputs

    def _extract(self, result: PhaseResult, inputs: Inputs):
        cache_dir = self.cache.root / "extract"
        if self.opts.force:  # start from an empty cache; this run refills it
            shutil.rmtree(cache_dir, ignore_errors=True)
        observations, unmapped, info = extract_documents(
            inputs, cache_dir=cache_dir, progress=lambda m: self.say("extract", m))
        for report_id, meta in info.items():
            (result.reused if meta["cached"] else result.ran).append(report_id)
        self._extract_keys = {k: v["key"] for k, v in info.items()}
        result.note = f"{len(observations)} observations"
        return observations, unmapped

    def _database(self, result: PhaseResult, inputs: Inputs, observations, unmapped) -> None:
        key = _hash(self._extract_keys, inputs.hashes, code_fingerprint(("store", "quality")))
        self.state_updates["db_key"] = key
        recorded = self.state.get("db", {})
        if not self.opts.force and recorded.get("key") == key and self.opts.db_path.is_file() \
                and recorded.get("sha256") == _tree_hash(self.opts.db_path):
            result.reused.append("database")
            return
        started = time.time()
        timings: dict[str, float] = {}
        tmp = temp_db_path(self.opts.db_path)
        discard(tmp)
        self.opts.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.stage_db = tmp  # registered before the first byte is written: a failure discards it
        counts, flags, unmapped_df, coverage = write_database(tmp, inputs, observations, unmapped,
                                                    snapshot=snapshot_id(inputs.hashes), started=started,
                                                    timings=timings, progress=lambda m: self.say("database", m))
        self.db_summary = BuildSummary(self.opts.db_path, snapshot_id(inputs.hashes), time.time() - started,
                                       counts, flags, unmapped_df, timings, coverage)
        self.phases.setdefault("validate", PhaseResult("validate", seconds=timings.get("validate", 0.0),
                                                       ran=["checks"]))
        result.ran.append("database")
        result.note = f"{int(counts['n'].sum())} observations, {int(flags['n'].sum()) if flags.height else 0} flags"

    def _writable_db(self) -> Path:
        """Downstream phases record their runs in the database: do it on a staging copy, never the live file."""
        if self.stage_db is None:
            tmp = temp_db_path(self.opts.db_path)
            discard(tmp)
            self.stage_db = tmp  # registered before the copy: a copy cut short by a full disk is discarded
            shutil.copyfile(self.opts.db_path, tmp)
        return self.stage_db

    def _notebooks(self, result: PhaseResult, digests: dict) -> None:
        from vqr_analysis.publish import notebooks as nb

        src = self.opts.notebooks_src
        code = code_fingerprint(_NOTEBOOK_CODE)
        live = self.opts.build / "notebooks"
        units = nb.notebook_units(src, self._regions())
        todo, keys, hits = [], {}, {}
        for unit in units:
            # A region notebook shows its own rows and compares them with the other regions' values for the
            # same indicators; the comparison notebook shows everything.
            data_key = digests["__all__"]["all"] if unit.region is None else \
                _hash(digests[unit.region]["own"], digests[unit.region]["peers"])
            keys[unit.name] = _hash(_tree_hash(src / unit.source), unit.parameters(self.opts.lang), code, data_key)
            hit = None if self.opts.force else self.cache.get("notebooks", unit.slug, keys[unit.name], ".ipynb")
            if hit:
                hits[unit.name] = hit
                result.reused.append(unit.name)
            else:
                todo.append(unit)
        up_to_date = not todo and all(
            (live / u.output).is_file() and _tree_hash(live / u.output) == _tree_hash(hits[u.name]) for u in units)
        if up_to_date:
            return
        out = self.staging / "notebooks"
        for unit in units:
            if unit.name in hits:
                (out / unit.output).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(hits[unit.name], out / unit.output)
        if todo:
            self.say("notebooks", f"executing {len(todo)} notebook(s)")
            nb.execute_units(todo, db_path=self._writable_db(), out_dir=out, lang=self.opts.lang,
                             jobs=self.opts.jobs, snapshot=self.snapshot, source_dir=src)
            for unit in todo:
                self.cache.put("notebooks", unit.slug, keys[unit.name], ".ipynb", out / unit.output)
                result.ran.append(unit.name)
        self._notebooks_dir = out

    def _site(self, result: PhaseResult, digests: dict) -> None:
        notebooks_dir = getattr(self, "_notebooks_dir", None) or self.opts.build / "notebooks"
        # The snapshot is in the key because every page shows it (via assets/build-info.js).
        key = _hash(digests, self.snapshot, _tree_hash(notebooks_dir), code_fingerprint(_SITE_CODE),
                    _tree_hash(project_root() / "_quarto.yml"), _tree_hash(project_root() / "pages"),
                    self.opts.renderer)
        self.state_updates["site_key"] = key
        if not self.opts.force and self.state.get("site", {}).get("key") == key and self.opts.site.is_dir():
            result.reused.append("site")
            return
        from vqr_analysis.publish import site as site_mod  # imported only when rendering: nbformat's import alone costs ~1 s

        out = self._stage_site(copy_live=False)
        renderer = site_mod.build_site(db_path=self.stage_db or self.opts.db_path, notebooks_dir=notebooks_dir,
                                       out_dir=out, renderer=self.opts.renderer)
        result.ran.append("site")
        result.note = f"rendered with {renderer}"
        # Briefs live inside the site; carry the current ones over until the briefs phase refreshes them.
        old_briefs = self.opts.site / "briefs"
        if old_briefs.is_dir() and not (out / "briefs").exists():
            shutil.copytree(old_briefs, out / "briefs")

    def _stage_site(self, *, copy_live: bool) -> Path:
        """The staging folder for the site, beside the live one (same filesystem, so the swap is a rename)."""
        if getattr(self, "_site_dir", None) is None:
            out = self.opts.site.with_name(f".{self.opts.site.name}.staging-{os.getpid()}")
            shutil.rmtree(out, ignore_errors=True)
            if copy_live and self.opts.site.is_dir():
                shutil.copytree(self.opts.site, out, symlinks=True)
            else:
                out.mkdir(parents=True)
            self._site_dir = out
        return self._site_dir

    def _briefs(self, result: PhaseResult, digests: dict) -> None:
        code = code_fingerprint(_BRIEF_CODE)
        todo, keys = [], {}
        for region in self._regions():
            # The PDF prints the snapshot id, so the snapshot is part of its key.
            key = _hash(digests[region]["own"], digests[region]["peers"], code, self.snapshot)
            keys[region] = key
            hit = None if self.opts.force else self.cache.get("briefs", region, key, ".pdf")
            live = self.opts.site / "briefs" / f"{region}.pdf"
            if hit and live.is_file() and _tree_hash(live) == _tree_hash(hit) and getattr(self, "_site_dir", None) is None:
                result.reused.append(region)  # nothing to stage: the live PDF is the cached one
            elif hit:
                out = self._stage_site(copy_live=True) / "briefs"
                out.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(hit, out / f"{region}.pdf")
                result.reused.append(region)
            else:
                todo.append(region)
        if todo:
            from vqr_analysis.publish import briefs as briefs_mod  # imported only when typesetting

            out = self._stage_site(copy_live=True) / "briefs"
            out.mkdir(parents=True, exist_ok=True)
            svg_cache = self.cache.root / "svg"
            written = briefs_mod.build_briefs(db_path=self.stage_db or self.opts.db_path, out_dir=out, regions=todo,
                                              base=self.opts.data, svg_cache=svg_cache)
            _prune(svg_cache, days=7)
            for path in written:
                region = Path(path).stem
                self.cache.put("briefs", region, keys[region], ".pdf", Path(path))
                result.ran.append(region)

    # Helpers --------------------------------------------------------------------------------------------

    def _regions(self) -> list[str]:
        con = duckdb.connect(str(self.stage_db or self.opts.db_path), read_only=True)
        try:
            return [r[0] for r in con.execute("SELECT region FROM reports ORDER BY report_id").fetchall()]
        finally:
            con.close()

    def _publish(self, started: float) -> bool:
        """Swap staged outputs in: database first (os.replace), then site (rename dance), then notebooks."""
        if self.stage_db is None and not getattr(self, "_site_dir", None) and not getattr(self, "_notebooks_dir", None):
            shutil.rmtree(self.staging, ignore_errors=True)
            if self.state_updates:
                self._save_state()
            return False
        if self.stage_db is not None:
            con = duckdb.connect(str(self.stage_db))
            try:
                record_run(con, kind="build", snapshot=self.snapshot, started=started,
                           params={"only": self.opts.only, "from": self.opts.start, "force": self.opts.force},
                           timings={name: {"seconds": round(p.seconds, 4), "ran": p.ran, "reused": p.reused}
                                    for name, p in self.phases.items()})
                con.execute("CHECKPOINT")
            finally:
                con.close()
            os.replace(self.stage_db, self.opts.db_path)
            self.stage_db = None
        site_out = getattr(self, "_site_dir", None)
        if site_out is not None:
            replace_dir(site_out, self.opts.site)
        nb_out = getattr(self, "_notebooks_dir", None)
        if nb_out is not None:
            replace_dir(nb_out, self.opts.build / "notebooks")
        shutil.rmtree(self.staging, ignore_errors=True)
        self._save_state()
        return True

    def _save_state(self) -> None:
        state = dict(self.state)
        if "db_key" in self.state_updates and self.opts.db_path.is_file():
            state["db"] = {"key": self.state_updates["db_key"], "sha256": _tree_hash(self.opts.db_path)}
        if "site_key" in self.state_updates and self.opts.site.is_dir():
            state["site"] = {"key": self.state_updates["site_key"]}
        state["snapshot"] = self.snapshot
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
        os.replace(tmp, self.state_path)

    def _discard(self) -> None:
        if self.stage_db is not None:
            discard(self.stage_db)
        shutil.rmtree(self.staging, ignore_errors=True)
        if getattr(self, "_site_dir", None) is not None:
            shutil.rmtree(self._site_dir, ignore_errors=True)


def _prune(folder: Path, *, days: float) -> None:
    """Drop cache files unused for ``days`` (users touch what they read), so caches do not grow forever."""
    cutoff = time.time() - days * 86400
    for f in folder.glob("*"):
        if f.is_file() and f.stat().st_mtime < cutoff:
            f.unlink(missing_ok=True)
