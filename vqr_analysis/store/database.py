"""The DuckDB database: schema (from the one definition of each field), atomic build, and read access.

The build reads every source first, so a bad input fails before anything is written; it then writes a
staged file beside the target (store.staging) and swaps it in only when complete. The last good
database is never touched by a failed build.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import duckdb
import polars as pl

from vqr_analysis.core.version import __version__
from vqr_analysis.sources.codebook import Codebook, load_codebook
from vqr_analysis.core.errors import VqrError
from vqr_analysis.extract import EXTRACTOR_VERSION, ProseReader, extract_document
from vqr_analysis.extract.patterns import PATTERNS_FILE, ProsePatterns, load_prose_patterns
from vqr_analysis.extract.model import OBSERVATION_COLUMNS, Observation, observations_frame
from vqr_analysis.core.paths import PACKAGE_DIR, data_dir, default_db_path
from vqr_analysis.core.schema import INDICATORS, REPORT_LINES, TABLES
from vqr_analysis.sources.formats import reader_versions
from vqr_analysis.sources.registry import INPUT_FILES, Report, load_registry
from vqr_analysis.sources.documents import SourceDocument, load_document
from vqr_analysis.quality.coverage import build_ledger, ledger_frame, load_ledger_rules
from vqr_analysis.quality.corrections import apply_corrections, load_corrections
from vqr_analysis.quality.rules import run_checks
from vqr_analysis.store.cache import ContentStore, digest, file_digest
from vqr_analysis.store.staging import Staging

__all__ = [
    "build_database", "BuildSummary", "connect_readonly", "create_schema", "snapshot_id", "code_fingerprint", "record_run",
    "read_inputs", "Inputs", "coverage_counts", "ledger_numbers", "extract_documents", "extraction_key",
    "write_database", "temp_db_path", "discard", "SANDBOX_CONFIG", "STORAGE_VERSION",
]

def code_fingerprint(parts: tuple[str, ...] | None = None) -> str:
    """Hash of the package's source (or of some of its modules/folders): code changes change the key."""
    roots = [PACKAGE_DIR / p for p in parts] if parts else [PACKAGE_DIR]
    files = sorted(f for r in roots for f in ([r] if r.is_file() else r.rglob("*")))
    return digest([(f.relative_to(PACKAGE_DIR).as_posix(), file_digest(f)) for f in files
                   if f.is_file() and f.suffix in {".py", ".typ", ".html", ".css", ".js", ".j2"}])


def snapshot_id(input_hashes: dict[str, str]) -> str:
    """Short id of a build: the inputs' hashes plus the code version."""
    return digest(sorted(input_hashes.items()), code_fingerprint(), EXTRACTOR_VERSION)[:12]


@dataclass
class Inputs:
    reports: list[Report]
    codebook: Codebook
    documents: list[SourceDocument]
    hashes: dict[str, str]
    base: Path
    patterns: ProsePatterns | None = None  # the prose patterns, checked against the codebook when read


def read_inputs(base: Path | None = None, *, progress: Callable[[str], None] | None = None) -> Inputs:
    """Load and verify registry, codebook and every report. Raises VqrError before anything is written."""
    base = base or data_dir()
    reports = load_registry(base / "reports.toml")
    codebook = load_codebook(base / "indicators.csv")
    patterns = load_prose_patterns(base / PATTERNS_FILE, codes=codebook.indicators)
    documents = []
    for report in reports:
        # load_document reports its own progress (file size; pages of a long PDF).
        documents.append(load_document(report, base, progress=progress))
    hashes = {f"report:{d.report.id}": d.sha256 for d in documents}
    for name in INPUT_FILES:
        hashes[name] = file_digest(base / name)
    return Inputs(reports, codebook, documents, hashes, base, patterns)


@dataclass
class BuildSummary:
    db_path: Path
    snapshot_id: str
    seconds: float
    counts: pl.DataFrame
    flags: pl.DataFrame
    unmapped: pl.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    # Per report: numbers in the text by ledger class and the unread share (see coverage_counts).
    coverage: pl.DataFrame | None = None


# One preferred value per (report, entity, code, year); every statement stays in `observations`.
# Order: a reviewed correction; then reported before suspect before missing; then an annex table before
# prose; then an exact statement before an approximate or bounded one; then source order.
SCHEMA_VIEWS = """
CREATE VIEW indicator_values AS
WITH ranked AS (
  SELECT o.*,
    row_number() OVER k_ordered AS rank_in_key,
    count(*) OVER k AS n_statements,
    count(*) FILTER (WHERE o.status = 'reported' AND o.method <> 'correction') OVER k AS n_reported,
    count(DISTINCT o.value) FILTER (WHERE o.method <> 'correction') OVER k AS n_values
  FROM observations o
  WINDOW k AS (PARTITION BY o.report_id, coalesce(o.entity, ''), o.indicator_code, o.year),
         k_ordered AS (k ORDER BY CASE WHEN o.method = 'correction' THEN 0 ELSE 1 END,
                                  CASE o.status WHEN 'reported' THEN 0 WHEN 'suspect' THEN 1 ELSE 2 END,
                                  CASE o.method WHEN 'table' THEN 0 ELSE 1 END,
                                  CASE o.qualifier WHEN 'exact' THEN 0 ELSE 1 END,
                                  o.obs_id)
)
SELECT * EXCLUDE (rank_in_key, n_reported, n_values),
  CASE
    WHEN n_statements = 1 THEN 'only statement'
    WHEN method = 'correction' THEN 'reviewed correction (data/corrections.csv) overrides the source'
    WHEN status = 'missing' THEN 'no statement gives a value'
    WHEN status = 'suspect' THEN 'every statement is suspect (see quality_flags); ' || method || ' preferred'
    WHEN n_values = 1 AND n_reported = n_statements THEN n_statements || ' statements agree'
    WHEN n_reported = 1 THEN 'the only statement not flagged suspect or missing'
    WHEN method = 'table' THEN 'annex table preferred over prose'
    ELSE 'first reported statement in source order'
  END AS pick_reason
FROM ranked WHERE rank_in_key = 1
"""


# The view's rows with the names a reader needs, written once per build into `preferred_values` (the API's
# source): sorted by code then report, so DuckDB's min/max zone maps skip the blocks a lookup does not need.
FILL_PREFERRED_VALUES = """
INSERT INTO preferred_values BY NAME
SELECT v.report_id, r.region, r.region_zh, r.region_en, r.subject_zh, r.subject_en, r.level, r.data_year,
       r.subject_kind, v.entity, v.indicator_code, i.label_zh, i.label_en, i."table", i.parent_code, i.kind,
       i.direction,
       v.year, v.year = max(v.year) OVER (PARTITION BY v.report_id, v.entity, v.indicator_code) AS latest,
       v.value, v.unit, v.status, v.qualifier, v.method, v.pick_reason, v.n_statements, v.raw, v.raw_unit,
       v.line, v.quote, v.locator, r.file AS source_file, v.obs_id, f.flags_zh, f.flags_en,
       o.flag AS correction_note
FROM indicator_values v
JOIN reports r ON r.report_id = v.report_id
JOIN indicators i ON i.code = v.indicator_code
LEFT JOIN observations o ON o.obs_id = v.obs_id
LEFT JOIN (SELECT obs_id, string_agg(message_zh, ' ' ORDER BY rule, message_zh) AS flags_zh,
                  string_agg(message_en, ' ' ORDER BY rule, message_zh) AS flags_en
           FROM quality_flags GROUP BY obs_id) f ON f.obs_id = v.obs_id
ORDER BY v.indicator_code, v.report_id, v.entity NULLS FIRST, v.year
"""

# DuckDB 1.1 is the oldest release that reads a file written with this setting (the CLI, R and DBeaver of
# many researchers are 1.x); a file keeps the version it was created with when later runs append to it.
STORAGE_VERSION = "v1.1.0"


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Every table from its one definition in core.schema (DDL, CHECKs, comments), then the views."""
    for table in TABLES:
        con.execute(table.create_sql())
        for statement in table.comment_sql():
            con.execute(statement)
    con.execute(SCHEMA_VIEWS)


def _versions() -> dict[str, str]:
    return {
        "vqr_analysis": __version__, "extractor": EXTRACTOR_VERSION, "python": platform.python_version(),
        "duckdb": duckdb.__version__, "polars": pl.__version__,
    }


def record_run(con: duckdb.DuckDBPyConnection, *, kind: str, snapshot: str, started: float, status: str = "ok",
               params: dict | None = None, timings: dict | None = None) -> None:
    """Append one row to ``runs`` (a build, a notebook execution, a site render …)."""
    finished = time.time()
    run_id = digest(kind, snapshot, started, os.getpid())[:12]
    con.execute(
        "INSERT INTO runs VALUES (?, ?, ?, to_timestamp(?), to_timestamp(?), ?, ?, ?, ?, ?)",
        [run_id, kind, snapshot, started, finished, finished - started, status,
         json.dumps(params or {}, ensure_ascii=False), json.dumps(timings or {}), json.dumps(_versions())],
    )


# Modules whose code decides what extraction returns: their hash keys the per-report extraction cache.
_EXTRACTION_CODE = ("extract", "sources", "core")


def extraction_key(doc: SourceDocument, inputs: Inputs) -> str:
    """Content key of one report's extraction: its bytes, the codebook, the patterns and the extractor code."""
    # PDF and DOCX text (and so the cited lines) also depends on the readers' versions; the report's registry
    # entry is read too (data year, the subject's names).
    readers = reader_versions() if doc.path.suffix.lower() in (".pdf", ".docx") else None
    return digest(doc.sha256, inputs.hashes["indicators.csv"], inputs.hashes[PATTERNS_FILE], EXTRACTOR_VERSION,
                  code_fingerprint(_EXTRACTION_CODE), doc.report.as_row(), readers)


def extract_documents(inputs: Inputs, *, cache_dir: Path | None = None,
                      progress: Callable[[str], None] | None = None) -> tuple[list[Observation], list[dict], dict]:
    """Extract every document, reusing cached results whose content key matches (when ``cache_dir`` is set).

    Returns observations numbered in report order, unmapped table rows, and per-report {key, cached}.
    """
    observations: list[Observation] = []
    unmapped: list[dict] = []
    info: dict[str, dict] = {}
    reader: ProseReader | None = None
    for doc in inputs.documents:
        key = extraction_key(doc, inputs)
        cached = _read_extraction_cache(cache_dir, doc.report.id, key) if cache_dir else None
        if cached is None:
            if progress:
                progress(f"extracting {doc.report.id} {doc.report.region}")
            if reader is None:  # compiled once, for the first report the cache does not hold
                reader = ProseReader(inputs.codebook, inputs.patterns or load_prose_patterns(
                    inputs.base / PATTERNS_FILE, codes=inputs.codebook.indicators))
            obs, unm = extract_document(doc, inputs.codebook, reader=reader)
            if cache_dir:
                _write_extraction_cache(cache_dir, doc.report.id, key, obs, unm)
        else:
            obs, unm = cached
        info[doc.report.id] = {"key": key, "cached": cached is not None}
        observations.extend(obs)
        unmapped.extend(unm)
    # Reviewed corrections join the statements they correct (never cached: the file is its own input).
    corrections_path = inputs.base / "corrections.csv"
    observations.extend(apply_corrections(observations, load_corrections(corrections_path, inputs.codebook),
                                          inputs.codebook, path=corrections_path))
    for i, obs in enumerate(observations, 1):
        obs.obs_id = i
    return observations, unmapped, info


def _read_extraction_cache(cache_dir: Path, report_id: str, key: str):
    """A report's cached extraction, verified (see ContentStore); a damaged entry is dropped: a miss."""
    store = ContentStore(cache_dir)
    obs_path, unm_path = store.get(report_id, key, ".parquet"), store.get(report_id, key, ".unmapped.json")
    if obs_path is None or unm_path is None:
        return None
    try:
        frame = pl.read_parquet(obs_path)
        unmapped = json.loads(unm_path.read_text(encoding="utf-8"))
        return [Observation(**row) for row in frame.to_dicts()], unmapped
    except Exception:  # noqa: BLE001 — an entry written by another version: rebuilt like a damaged one
        store.drop(obs_path)
        store.drop(unm_path)
        return None


def _write_extraction_cache(cache_dir: Path, report_id: str, key: str, obs: list[Observation], unm: list[dict]) -> None:
    import io

    store = ContentStore(cache_dir)
    parquet = io.BytesIO()
    observations_frame(obs).write_parquet(parquet)
    store.put(report_id, key, ".parquet", parquet.getvalue())
    store.put(report_id, key, ".unmapped.json", json.dumps(unm, ensure_ascii=False).encode("utf-8"))


def write_database(path: Path, inputs: Inputs, observations: list[Observation], unmapped: list[dict], *,
                   snapshot: str, started: float, timings: dict[str, float],
                   progress: Callable[[str], None] | None = None,
                   ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Create a complete database at ``path`` (which must not exist).

    Returns (counts, flags, unmapped, coverage): observations by report/method/status, flags by report/rule,
    the unmapped table rows, and the coverage ledger's counts per report (:func:`coverage_counts`).
    On any failure ``path`` (and its .wal) is removed; a failed write — a full disk, a read-only folder — is
    a VqrError naming the folder."""
    try:
        return _write_database(path, inputs, observations, unmapped, snapshot=snapshot, started=started,
                               timings=timings, progress=progress)
    except _WRITE_ERRORS as exc:
        discard(path)
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise VqrError(f"cannot write the database in this folder (disk full or not writable?): {first}",
                       path=path.parent) from None
    except BaseException:
        discard(path)
        raise


# What DuckDB raises when a write fails at the file level: IOException for a failed write or open,
# FatalException when a checkpoint cannot be written (e.g. "No space left on device"), and
# TransactionException when a commit cannot write its .wal. We are the only writer of a fresh temp file,
# so a failed commit here is always a failed write, never a conflict.
_WRITE_ERRORS = (duckdb.IOException, duckdb.FatalException, duckdb.TransactionException, OSError)


def _write_database(path: Path, inputs: Inputs, observations: list[Observation], unmapped: list[dict], *,
                    snapshot: str, started: float, timings: dict[str, float],
                    progress: Callable[[str], None] | None = None,
                    ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    say = progress or (lambda _msg: None)
    say(f"loading {len(observations)} observations")
    t = time.perf_counter()
    con = duckdb.connect(str(path), config={"storage_compatibility_version": STORAGE_VERSION})
    try:
        con.begin()  # one transaction for the schema: its ~200 DDL and COMMENT statements, not one commit each
        create_schema(con)
        con.commit()
        reports_df = pl.DataFrame([r.as_row() for r in inputs.reports])
        con.execute("INSERT INTO reports BY NAME SELECT * FROM reports_df")
        codebook_df = pl.DataFrame(
            [{c: ("|".join(getattr(i, c)) if c == "aliases_zh" else getattr(i, c)) for c in INDICATORS.names}
             for i in inputs.codebook]
        )
        con.execute("INSERT INTO indicators BY NAME SELECT * FROM codebook_df")
        obs_df = observations_frame(observations)
        con.execute(f"INSERT INTO observations SELECT {', '.join(OBSERVATION_COLUMNS)} FROM obs_df")
        if unmapped:
            unmapped_df = pl.DataFrame(unmapped).select("report_id", "line", "table", "label")
            con.execute("INSERT INTO unmapped_rows SELECT * FROM unmapped_df")
        timings["load"] = time.perf_counter() - t
        say("accounting for every printed number")
        t = time.perf_counter()
        rules = load_ledger_rules(inputs.base / "ledger_rules.toml")
        by_report: dict[str, list[Observation]] = {}
        for obs in observations:  # grouped once: each report's ledger sees its own rows (linear in reports)
            by_report.setdefault(obs.report_id, []).append(obs)
        ledger_df = ledger_frame([row for doc in inputs.documents
                                  for row in build_ledger(doc, by_report.get(doc.report.id, []), rules)])
        con.execute("INSERT INTO number_ledger BY NAME SELECT * FROM ledger_df")
        kept = [(d.report.id, n, line) for d in inputs.documents for n, line in enumerate(d.lines, 1)
                if line and not line.isspace()]
        lines_df = pl.DataFrame(kept, schema=REPORT_LINES.polars_schema(), orient="row")
        con.execute("INSERT INTO report_lines SELECT report_id, line, text FROM lines_df")
        timings["ledger"] = time.perf_counter() - t
        say("validating")
        t = time.perf_counter()
        run_checks(con, inputs.codebook)
        timings["validate"] = time.perf_counter() - t
        t = time.perf_counter()
        con.execute(FILL_PREFERRED_VALUES)  # after the checks: they decide which statements are suspect
        timings["preferred"] = time.perf_counter() - t
        record_run(con, kind="db", snapshot=snapshot, started=started,
                   params={"db": str(path), "inputs": inputs.hashes}, timings=timings)
        counts = con.sql(
            """SELECT r.report_id, r.region, o.method, o.status, count(o.obs_id) AS n
               FROM reports r LEFT JOIN observations o USING (report_id)
               GROUP BY ALL ORDER BY ALL"""
        ).pl()
        flags = con.sql(
            """SELECT o.report_id, r.region, f.rule, count(*) AS n
               FROM quality_flags f JOIN observations o USING (obs_id) JOIN reports r ON r.report_id = o.report_id
               GROUP BY ALL ORDER BY ALL"""
        ).pl()
        unmapped_out = con.sql("SELECT * FROM unmapped_rows ORDER BY report_id, line").pl()
        coverage = coverage_counts(con)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return counts, flags, unmapped_out, coverage


def coverage_counts(con: duckdb.DuckDBPyConnection, report_id: str | None = None) -> pl.DataFrame:
    """Per report: numbers printed, by ledger class, and the unread share (unread ÷ all numbers)."""
    return con.sql(
        """SELECT r.report_id, r.region,
                  count(l.raw) AS numbers,
                  count(l.raw) FILTER (WHERE l."class" = 'extracted') AS extracted,
                  count(l.raw) FILTER (WHERE l."class" = 'context') AS context,
                  count(l.raw) FILTER (WHERE l."class" = 'unread') AS unread,
                  round(count(l.raw) FILTER (WHERE l."class" = 'unread') / nullif(count(l.raw), 0), 3)
                    AS unread_share
           FROM reports r LEFT JOIN number_ledger l ON l.report_id = r.report_id
           WHERE $report IS NULL OR r.report_id = $report
           GROUP BY ALL ORDER BY r.report_id""", params={"report": report_id}).pl()


def ledger_numbers(con: duckdb.DuckDBPyConnection, report_id: str | None = None,
                   number_class: str | None = None) -> pl.DataFrame:
    """Rows of ``number_ledger`` (optionally one report's, one class's), in report, line and position order."""
    return con.sql(
        """SELECT l.* FROM number_ledger l
           WHERE ($report IS NULL OR l.report_id = $report) AND ($class IS NULL OR l."class" = $class)
           ORDER BY l.report_id, l.line, l.position""",
        params={"report": report_id, "class": number_class}).pl()


def temp_db_path(target: Path) -> Path:
    """A sibling path for building ``target`` aside (same filesystem, so os.replace is atomic)."""
    return target.with_name(f".{target.name}.building-{os.getpid()}")


def discard(path: Path) -> None:
    """Remove a database file with its write-ahead log and DuckDB's spill folder (``<path>.tmp``)."""
    for p in (path, Path(str(path) + ".wal")):
        p.unlink(missing_ok=True)
    shutil.rmtree(Path(str(path) + ".tmp"), ignore_errors=True)


def build_database(db_path: Path | None = None, *, base: Path | None = None,
                   progress: Callable[[str], None] | None = None, cache_dir: Path | None = None) -> BuildSummary:
    """Extract every registered report and write the database atomically (staged beside it, then swapped in)."""
    started = time.time()
    timings: dict[str, float] = {}
    db_path = Path(db_path or default_db_path())
    t = time.perf_counter()
    inputs = read_inputs(base, progress=progress)
    timings["read"] = time.perf_counter() - t
    t = time.perf_counter()
    observations, unmapped, _ = extract_documents(inputs, cache_dir=cache_dir, progress=progress)
    timings["extract"] = time.perf_counter() - t
    snap = snapshot_id(inputs.hashes)
    staging = Staging()
    tmp = staging.file(db_path)  # registered before the first byte: a failure discards it
    try:
        counts, flags, unmapped_df, coverage = write_database(tmp, inputs, observations, unmapped, snapshot=snap,
                                                              started=started, timings=timings, progress=progress)
        staging.publish()
    except BaseException:
        staging.discard()
        raise
    return BuildSummary(db_path, snap, time.time() - started, counts, flags, unmapped_df, timings, coverage)


# A read-only connection runs SQL typed by users (`vqr query`) and notebooks: read_only alone still lets
# COPY … TO, EXPORT DATABASE, read_text/glob over the machine, ATTACH and INSTALL/LOAD reach files and the
# network. These settings close all of that, and the lock keeps a query from switching them back on.
SANDBOX_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}


def connect_readonly(db_path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """Open the database read-only and sandboxed (no file or network access beyond the database itself);
    a missing or corrupt file is a VqrError that says how to rebuild."""
    path = Path(db_path or default_db_path())
    if not path.is_file():
        raise VqrError("database not found; build it with `vqr db`", path=path)
    try:
        return duckdb.connect(str(path), read_only=True, config=dict(SANDBOX_CONFIG))
    except duckdb.Error as exc:
        raise VqrError(f"cannot open the database ({exc.__class__.__name__}: {str(exc).splitlines()[0]}); "
                       "rebuild it with `vqr db`", path=path) from None
