"""The ``vqr`` command. Each command is a thin shell over one library function.

Errors a user can fix (VqrError) print one line, ``error: …``, and exit non-zero with no traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from vqr_analysis.core.errors import VqrError

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="vqr-analysis: extract, validate, analyse and publish vocational-education annual quality reports.",
)
# Piped output (CI logs, tests) gets a wide console so tables are not folded mid-word.
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

DbOption = typer.Option(None, "--db", envvar="VQR_DB", help="Database path (default data/vqr.duckdb).")
# Defaults as in publish.notebooks (CELL_TIMEOUT, NOTEBOOK_TIMEOUT), not imported here to keep `vqr --help` fast.
CellTimeoutOption = typer.Option(300.0, "--cell-timeout", help="Seconds a notebook cell may run (default 300).")
NotebookTimeoutOption = typer.Option(900.0, "--notebook-timeout",
                                     help="Seconds a whole notebook may run (default 900).")


def _db(db: Optional[Path]) -> Path:
    from vqr_analysis.core.paths import default_db_path

    return Path(db) if db else default_db_path()


def _project_lock(command: str):
    """The project's write lock (store.lock): every command that writes into the project holds it."""
    from vqr_analysis.store.lock import ProjectLock

    return ProjectLock(command=command)


def _print_frame(frame, title: str | None = None, max_rows: int = 200) -> None:
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for name in frame.columns:
        table.add_column(name, overflow="fold")
    for row in frame.head(max_rows).iter_rows():
        table.add_row(*["" if v is None else str(v) for v in row])
    console.print(table)
    if frame.height > max_rows:
        console.print(f"… {frame.height - max_rows} more rows")


@app.command()
def db(
    db: Optional[Path] = DbOption,
    report_unmapped: bool = typer.Option(False, "--report-unmapped", help="List annex-table rows that map to no code."),
) -> None:
    """Build the database from the registered reports and print per-report counts."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from vqr_analysis.store.database import build_database
    from vqr_analysis.sources.registry import check_output_path

    target = check_output_path(_db(db), suffixes=(".duckdb", ".db"), what="database")
    with _project_lock("db"):
        if err_console.is_terminal:
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=err_console,
                          transient=True) as prog:
                task = prog.add_task("building database", total=None)
                summary = build_database(target, progress=lambda msg: prog.update(task, description=msg))
        else:  # logs and CI: a spinner would print nothing, so print one line per step
            summary = build_database(target, progress=lambda msg: err_console.print(f"… {msg}", highlight=False))
    print_build_summary(summary, show_unmapped=report_unmapped)


def print_build_summary(summary, *, show_unmapped: bool = False) -> None:
    import polars as pl

    counts = summary.counts
    if counts.height:
        pivot = (
            counts.with_columns(pl.concat_str([pl.col("method").fill_null("-"), pl.col("status").fill_null("-")],
                                              separator="/").alias("kind"))
            .pivot(on="kind", index=["report_id", "region"], values="n", aggregate_function="sum")
            .fill_null(0)
            .sort("report_id")
        )
        pivot = pivot.drop([c for c in pivot.columns if c == "-/-"])
        _print_frame(pivot, title="observations by method/status")
    flags = summary.flags
    if flags.height and "report_id" in flags.columns:  # per report: one column per rule
        flags = (flags.pivot(on="rule", index=["report_id", "region"], values="n", aggregate_function="sum",
                             sort_columns=True)
                 .fill_null(0).sort("report_id"))
    if flags.height:
        _print_frame(flags, title="quality flags by rule")
    console.print(f"unmapped table rows: {summary.unmapped.height}"
                  + ("" if show_unmapped or not summary.unmapped.height else " (list them with --report-unmapped)"))
    if show_unmapped and summary.unmapped.height:
        _print_frame(summary.unmapped, title="unmapped table rows")
    if summary.coverage is not None and summary.coverage.height:
        shares = "  ".join(f"{row['report_id']} {row['unread_share']:.1%}" if row["numbers"] else
                           f"{row['report_id']} -" for row in summary.coverage.iter_rows(named=True))
        console.print(f"unread share of printed numbers: {shares}  (list them with `vqr coverage --unread`)")
    console.print(f"database {summary.db_path}  snapshot {summary.snapshot_id}  {summary.seconds:.2f}s")


@app.command()
def indicators(
    table: Optional[str] = typer.Option(None, help="Only this annex table key (e.g. teaching_resources)."),
    lang: str = typer.Option("zh", help="zh or en labels first."),
) -> None:
    """List the indicator codebook."""
    import polars as pl

    from vqr_analysis.sources.codebook import load_codebook

    cb = load_codebook()
    tables = sorted({i.table for i in cb})
    if table is not None and table not in tables:
        raise VqrError(f"unknown table {table!r}; known tables: {', '.join(tables)}")
    rows = [i for i in cb if table is None or i.table == table]
    frame = pl.DataFrame(
        {"code": [i.code for i in rows], "table": [i.table for i in rows],
         "parent": [i.parent_code or "" for i in rows],
         "label": [i.label(lang) for i in rows], "other": [i.label("zh" if lang == "en" else "en") for i in rows],
         "unit": [i.unit for i in rows]}
    )
    _print_frame(frame, title=f"{len(rows)} indicators", max_rows=10_000)


@app.command()
def export(
    format: Optional[str] = typer.Option(None, "--format", "-f",
                                         help="csv, json or parquet (default: from -o's suffix, else csv)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o",
                                          help="Output file (default build/exports/<table>.<format>)."),
    table: str = typer.Option("observations", "--table",
                              help="observations (every statement) or preferred_values (one value per key)."),
    db: Optional[Path] = DbOption,
) -> None:
    """Write every observation (or preferred value) with region, labels and provenance: CSV with a BOM for
    spreadsheets, JSON, or Parquet carrying the codebook as metadata."""
    import duckdb

    from vqr_analysis.analysis.exports import EXPORT_TABLES, export_frame, parquet_metadata, write_frame
    from vqr_analysis.core.paths import build_dir
    from vqr_analysis.sources.registry import check_output_path
    from vqr_analysis.store.database import connect_readonly

    format = _output_format(format, output, default="csv")
    if table not in EXPORT_TABLES:
        raise VqrError(f"unknown table {table!r}; use one of {', '.join(EXPORT_TABLES)}")
    out = check_output_path(output or build_dir() / "exports" / f"{table}.{format}", suffixes=(f".{format}",),
                            what="export")
    con = connect_readonly(_db(db))
    try:
        frame = export_frame(con, table)
        metadata = parquet_metadata(con, frame) if format == "parquet" else None
    except duckdb.Error as exc:  # a damaged block surfaces only when read
        raise VqrError(f"cannot read {table}: {str(exc).splitlines()[0]}; rebuild it with `vqr db`",
                       path=_db(db)) from None
    finally:
        con.close()
    with _lock_if_inside_project(out, "export"):
        write_frame(frame, format, out, metadata=metadata, what="export")
    console.print(f"wrote {frame.height} rows of {table} to {out}", highlight=False)


def _lock_if_inside_project(path: Path, command: str):
    """The project lock when ``path`` is in the checkout, its data folder or its build folder (what a build
    writes); a file written elsewhere needs none."""
    from contextlib import nullcontext

    from vqr_analysis.core.paths import build_dir, data_dir, project_root

    target = path.resolve()
    inside = any(target.is_relative_to(p.resolve()) for p in (project_root(), data_dir(), build_dir()))
    return _project_lock(command) if inside else nullcontext()


def _output_format(format: Optional[str], output: Optional[Path], *, default: str) -> str:
    """The format asked for, else the one -o's suffix names, else ``default`` ('table' only for queries)."""
    from vqr_analysis.analysis.exports import FORMATS, format_of

    allowed = ("table", *FORMATS) if default == "table" else FORMATS
    chosen = format or (format_of(output) if output else None) or default
    if chosen not in allowed:
        raise VqrError(f"unknown format {chosen!r}; use {', '.join(allowed)}")
    return chosen


@app.command()
def coverage(
    report: Optional[str] = typer.Option(None, "--report", help="Only this report id (e.g. 003)."),
    unread: bool = typer.Option(False, "--unread", help="List the unread numbers with their line and context."),
    format: str = typer.Option("table", "--format", "-f", help="table or csv (csv goes to standard output)."),
    db: Optional[Path] = DbOption,
) -> None:
    """Every number printed in the reports, by class: extracted, context (with its reason) or unread."""
    import duckdb

    from vqr_analysis.store.database import connect_readonly, coverage_counts, ledger_numbers

    if format not in ("table", "csv"):
        raise VqrError(f"unknown format {format!r}; use table or csv")
    con = connect_readonly(_db(db))
    try:
        known = [r[0] for r in con.execute("SELECT report_id FROM reports ORDER BY report_id").fetchall()]
        if report is not None and report not in known:
            raise VqrError(f"unknown report {report!r}; known reports: {', '.join(known)}")
        counts = coverage_counts(con, report)
        reasons = con.sql(
            """SELECT report_id, reason, count(*) AS n FROM number_ledger
               WHERE "class" = 'context' AND ($report IS NULL OR report_id = $report) GROUP BY ALL ORDER BY ALL""",
            params={"report": report}).pl()
        rows = ledger_numbers(con, report, "unread") if unread else None
    except duckdb.CatalogException:
        raise VqrError("the database has no coverage ledger (built by an older version); rebuild it with `vqr db`",
                       path=_db(db)) from None
    except duckdb.Error as exc:
        raise VqrError(f"cannot read the coverage ledger: {str(exc).splitlines()[0]}; rebuild it with `vqr db`",
                       path=_db(db)) from None
    finally:
        con.close()
    if format == "csv":
        from vqr_analysis.analysis.spreadsheet import neutralise_formulas

        frame = neutralise_formulas(rows.drop("obs_ids", "reason")) if unread else counts
        sys.stdout.write(frame.write_csv())
        return
    _print_frame(counts, title="printed numbers by class (unread share = unread ÷ numbers)")
    if reasons.height:
        _print_frame(reasons.pivot(on="reason", index="report_id", values="n", sort_columns=True).fill_null(0)
                     .sort("report_id"), title="context numbers by reason (data/ledger_rules.toml)")
    if unread:
        shown = rows.select("report_id", "line", "position", "raw",
                            rows["context"].str.replace_all("\n", " ⏎ ", literal=True).alias("context"))
        _print_frame(shown, title=f"{rows.height} unread numbers", max_rows=100_000)


# Rows `vqr query` prints as a table unless --limit says otherwise: a terminal is not a file viewer.
QUERY_TABLE_ROWS = 50


@app.command()
def query(
    sql: str = typer.Argument(..., help="A read-only SQL query."),
    format: Optional[str] = typer.Option(None, "--format", "-f",
                                         help="table, csv, json or parquet (default: from -o's suffix, else table)."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=0,
                                        help=f"At most this many rows (0 = all; default {QUERY_TABLE_ROWS} for a "
                                             "table printed on screen, all otherwise)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the result to this file."),
    db: Optional[Path] = DbOption,
) -> None:
    """Run SQL against the database (read-only, no file or network access) and print or save the result."""
    import duckdb
    import polars as pl

    from vqr_analysis.analysis.exports import write_frame
    from vqr_analysis.sources.registry import check_output_path
    from vqr_analysis.store.database import connect_readonly

    format = _output_format(format, output, default="table")
    if format == "table" and output is not None:
        raise VqrError("a table is printed on screen; write a file with --format csv, json or parquet")
    if output is not None:
        output = check_output_path(output, suffixes=(f".{format}",), what="query output")
    if limit is None:
        limit = QUERY_TABLE_ROWS if format == "table" else 0
    con = connect_readonly(_db(db))
    try:
        result = con.sql(sql)
        # One row past the limit says whether rows were left out, without reading them all.
        frame = pl.DataFrame() if result is None else (result.limit(limit + 1) if limit else result).pl()
    except duckdb.Error as exc:
        raise VqrError(f"query failed: {str(exc).splitlines()[0]}", path=_db(db)) from None
    finally:
        con.close()
    more = bool(limit) and frame.height > limit
    frame = frame.head(limit) if limit else frame
    if format == "table":
        _print_frame(frame, max_rows=max(frame.height, 1))
        if more:
            err_console.print(f"… more rows not shown (first {limit}); --limit 0 shows all, "
                              "--format csv -o FILE saves them", highlight=False)
        return
    write_frame(frame, format, output, what="query output")
    if more:
        err_console.print(f"… stopped at --limit {limit} rows", highlight=False)
    if output is not None:
        err_console.print(f"wrote {frame.height} rows to {output}", highlight=False)


@app.command()
def briefs(
    region: Optional[list[str]] = typer.Option(None, "--region", help="Region slug (repeatable; default: all)."),
    db: Optional[Path] = DbOption,
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default site/briefs)."),
) -> None:
    """Typeset a PDF policy brief per region (Typst, Chinese fonts) into <out>/<region>.pdf."""
    import time

    from vqr_analysis.publish.briefs import build_briefs
    from vqr_analysis.sources.registry import check_output_dir

    started = time.perf_counter()
    out = out and check_output_dir(out, what="briefs", require_marker=True)
    with _project_lock("briefs"):
        paths = build_briefs(_db(db), out, region or None)
    for path in paths:
        console.print(f"wrote {path}", highlight=False)
    console.print(f"{len(paths)} briefs in {time.perf_counter() - started:.2f}s")


@app.command()
def notebooks(
    region: Optional[list[str]] = typer.Option(None, "--region", help="Region slug (repeatable; default: all)."),
    db: Optional[Path] = DbOption,
    lang: str = typer.Option("zh", "--lang", help="Label language of the notebooks: zh or en."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="Notebooks executed in parallel (default: cores)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default build/notebooks)."),
    comparison: Optional[bool] = typer.Option(None, "--comparison/--no-comparison",
                                              help="Also run the comparison (default: only without --region)."),
    cell_timeout: float = CellTimeoutOption,
    notebook_timeout: float = NotebookTimeoutOption,
) -> None:
    """Execute the region-profile notebook per region and the comparison notebook with papermill."""
    import polars as pl

    from vqr_analysis.publish.notebooks import run_notebooks
    from vqr_analysis.sources.registry import check_output_dir

    def report(run) -> None:
        err_console.print(f"{'ok    ' if run.ok else 'FAILED'} {run.output.name:<24} {run.seconds:6.1f}s",
                          highlight=False)

    out = out and check_output_dir(out, what="notebooks", require_marker=True)
    with _project_lock("notebooks"):
        runs = run_notebooks(_db(db), out, regions=region or None, lang=lang, jobs=jobs, comparison=comparison,
                             progress=report, cell_timeout=cell_timeout, notebook_timeout=notebook_timeout)
    _print_frame(pl.DataFrame([{"notebook": r.notebook, "output": str(r.output), "seconds": round(r.seconds, 1),
                                "status": "ok" if r.ok else "error"} for r in runs]), title="executed notebooks")


@app.command()
def site(
    renderer: str = typer.Option("auto", "--renderer", help="auto (Quarto if on PATH), quarto or embedded."),
    db: Optional[Path] = DbOption,
    notebooks_dir: Optional[Path] = typer.Option(None, "--notebooks", help="Executed notebooks (default build/notebooks)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default site/)."),
) -> None:
    """Render the static dashboard site from the database and the executed notebooks (swapped in atomically)."""
    from vqr_analysis.sources.registry import check_output_dir
    from vqr_analysis.publish.site import build_site

    out = out and check_output_dir(out, what="site", require_marker=True)  # the site folder is replaced whole
    with _project_lock("site"), err_console.status("building site") as status:
        result = build_site(_db(db), notebooks_dir, out, renderer=renderer,
                            progress=lambda msg: status.update(msg))
    console.print(f"site: {len(result.pages)} pages rendered with the {result.renderer} renderer "
                  f"({result.reason}) → {result.out_dir}  {result.seconds:.1f}s", highlight=False)


@app.command()
def serve(
    port: int = typer.Option(8000, "--port", help="Port on 127.0.0.1 (0 picks a free one)."),
    site_dir: Optional[Path] = typer.Option(None, "--site", help="Built site to serve (default site/)."),
) -> None:
    """Serve the built site on http://127.0.0.1 (needed for Quarto's pages, which browsers block over file://)."""
    from vqr_analysis.core.paths import site_dir as default_site_dir
    from vqr_analysis.publish.serve import serve_site

    def ready(url: str) -> None:
        console.print(f"serving {root} at {url}  (Ctrl-C to stop)", highlight=False)
        sys.stdout.flush()  # the URL is the one line a script or test waits for

    root = (site_dir or default_site_dir()).resolve()
    serve_site(root, port, on_ready=ready)


@app.command()
def build(
    only: Optional[str] = typer.Option(None, "--only", help="Run just this phase (registry, extract, validate, database, notebooks, site, briefs)."),
    start: Optional[str] = typer.Option(None, "--from", help="Run this phase and the ones after it."),
    force: bool = typer.Option(False, "--force", help="Ignore every cache and rebuild everything."),
    wait: float = typer.Option(0.0, "--wait", help="Seconds to wait for another running build (default: refuse at once)."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="Parallel notebook executions (default: cores)."),
    lang: str = typer.Option("zh", "--lang", help="Notebook language: zh or en."),
    renderer: str = typer.Option("auto", "--renderer", help="Site renderer: auto, quarto or embedded."),
    cell_timeout: float = CellTimeoutOption,
    notebook_timeout: float = NotebookTimeoutOption,
    db: Optional[Path] = DbOption,
) -> None:
    """Rebuild everything that changed: registry → extract → validate → database → notebooks → site → briefs."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from vqr_analysis.build import PHASES, BuildOptions, run_build
    from vqr_analysis.sources.registry import check_output_path

    db = check_output_path(db, suffixes=(".duckdb", ".db"), what="database") if db else None
    opts = BuildOptions(db_path=db, only=only, start=start, force=force, wait=wait, jobs=jobs, lang=lang,
                        renderer=renderer, cell_timeout=cell_timeout, notebook_timeout=notebook_timeout)
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.fields[phase]:<10}[/] {task.description}"),
                  TimeElapsedColumn(), console=err_console, transient=False) as prog:
        tasks: dict[str, int] = {}

        def on_progress(phase: str, message: str) -> None:
            if phase not in tasks:
                tasks[phase] = prog.add_task(message, phase=phase, total=1)
            if message == "done":
                prog.update(tasks[phase], completed=1, description="done")
            else:
                prog.update(tasks[phase], description=message)

        result = run_build(opts, progress=on_progress)
    print_build_result(result)


def print_build_result(result) -> None:
    import polars as pl

    rows = [
        {"phase": p.name, "seconds": round(p.seconds, 2), "ran": len(p.ran), "reused": len(p.reused),
         "what ran": ", ".join(p.ran)[:80], "note": p.note}
        for p in result.phases.values()
    ]
    _print_frame(pl.DataFrame(rows), title="build phases")
    if result.db_summary is not None:
        print_build_summary(result.db_summary)
    state = "published" if result.published else "nothing changed: outputs are up to date"
    console.print(f"snapshot {result.snapshot}  {result.seconds:.2f}s  {state}")


def main() -> None:
    """Console entry point: user errors become one line and exit code 2."""
    import signal

    def terminate(signum, _frame):  # `kill PID`: clean up as on Ctrl-C (staging removed, kernels killed)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    try:
        app()
    except VqrError as exc:
        # Escaped: messages quote registry fields and report text ('[[report]] #3', '[/]'), not Rich markup.
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("error: interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
