"""One definition of every database table: each column once, with its DuckDB type, polars type, doc and checks.

The DDL (``CREATE TABLE``), the column comments, the ``CHECK`` constraints and the polars schema of the frames
that load a table are all generated from the :class:`Table` objects here, so a column is named, typed and
documented in exactly one place (as PUDL's field dictionary does). Stages read these definitions: extraction
builds typed frames from :data:`OBSERVATIONS`, the codebook reader checks its CSV header against
:data:`INDICATORS`, and the store creates the database from :data:`TABLES`.

Only names from this module reach DDL text; every doc string is quoted with :func:`sql_string`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = [
    "Column", "Table", "sql_string", "STATUSES", "METHODS", "QUALIFIERS", "SEVERITIES",
    "REPORTS", "INDICATORS", "OBSERVATIONS", "QUALITY_FLAGS", "UNMAPPED_ROWS", "RUNS", "NUMBER_LEDGER", "REPORT_LINES", "PREFERRED_VALUES",
    "TABLES",
    "LEDGER_CLASSES",
]

STATUSES = ("reported", "missing", "suspect")
METHODS = ("table", "prose", "correction")
QUALIFIERS = ("exact", "approximate", "lower_bound", "upper_bound")
SEVERITIES = ("warning", "error")
LEDGER_CLASSES = ("extracted", "context", "unread")


def sql_string(text: str) -> str:
    """A SQL string literal: single quotes doubled, so any text can stand in a comment or CHECK."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Column:
    """One column: its name, DuckDB type, polars dtype name (``pl.<name>``), meaning and allowed values."""

    name: str
    duckdb_type: str
    polars_type: str
    doc: str
    allowed: tuple[str, ...] | None = None  # a CHECK (col IN …); NULL stays allowed
    primary_key: bool = False
    unique: bool = False

    def ddl(self) -> str:
        text = f'"{self.name}" {self.duckdb_type}'
        if self.primary_key:
            text += " PRIMARY KEY"
        if self.unique:
            text += " UNIQUE"
        if self.allowed:
            text += f' CHECK ("{self.name}" IN ({", ".join(sql_string(v) for v in self.allowed)}))'
        return text


@dataclass(frozen=True)
class Table:
    """A table: its name, what one row is, and its columns in order."""

    name: str
    doc: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def create_sql(self) -> str:
        return f"CREATE TABLE {self.name} (\n  " + ",\n  ".join(c.ddl() for c in self.columns) + "\n)"

    def comment_sql(self) -> list[str]:
        """``COMMENT ON`` statements for the table and every column (DuckDB shows them in duckdb_columns())."""
        return [f"COMMENT ON TABLE {self.name} IS {sql_string(self.doc)}"] + [
            f'COMMENT ON COLUMN {self.name}."{c.name}" IS {sql_string(c.doc)}' for c in self.columns
        ]

    def polars_schema(self) -> dict:
        """``{column: polars dtype}`` in table order, for frames that load this table."""
        import polars as pl  # local: extraction and the store import this module; polars is not needed to read it

        return {c.name: getattr(pl, c.polars_type) for c in self.columns}


def _text(name: str, doc: str, **kw) -> Column:
    return Column(name, "VARCHAR", "String", doc, **kw)


REPORTS = Table("reports", "One row per registered report (data/reports.toml).", (
    _text("report_id", "Registry id of the report (the key every other table cites as report_id).", primary_key=True),
    _text("file", "File name under data/reports/."),
    _text("sha256", "SHA-256 of the file as registered."),
    _text("original_name", "The file's name as published."),
    _text("subject_zh", "The report's subject, in Chinese."),
    _text("subject_en", "The report's subject, in English."),
    _text("region", "Region slug (one per report).", unique=True),
    _text("region_zh", "Region name, in Chinese."),
    _text("region_en", "Region name, in English."),
    _text("level", "Education level: higher_vocational | secondary_vocational."),
    _text("level_zh", "Education level, in Chinese."),
    _text("level_en", "Education level, in English."),
    Column("edition_year", "INTEGER", "Int64", "The report's edition (年度)."),
    _text("published", "Publication date or month, as known."),
    Column("data_period_start", "DATE", "Date", "First day of the period the data describe."),
    Column("data_period_end", "DATE", "Date", "Last day of the period the data describe."),
    Column("data_year", "INTEGER", "Int64", "The year a value without its own year describes."),
    _text("publisher", "Who published the report."),
    _text("title_zh", "The report's title for citations (registry title_zh, else subject + level + edition)."),
    _text("subject_kind", "Who the report speaks for: autonomous_region | prefecture | division_city | school "
                          "(ranks compare only one kind and level); empty when the registry does not say."),
    _text("subject_kind_zh", "The subject's kind, in Chinese."),
    _text("subject_kind_en", "The subject's kind, in English."),
    Column("schools", "INTEGER", "Int64", "Schools the subject covers, where the report states it."),
    Column("students", "INTEGER", "Int64", "Students the subject covers, where the report states it."),
    _text("aliases_zh", "Other names of the subject printed in the report, '|'-separated (values about them are "
                        "the subject's: entity NULL)."),
))

INDICATORS = Table("indicators", "The codebook: one row per indicator code (data/indicators.csv).", (
    _text("code", "Indicator code (primary key).", primary_key=True),
    _text("table", "Annex table key (scorecard … policy_implementation) or 'basic' for prose-only headline figures."),
    _text("parent_code", "Parent indicator for '其中' child rows."),
    _text("name_zh", "Chinese label as in the national template."),
    _text("aliases_zh", "Other labels seen in reports, '|'-separated."),
    _text("name_en", "English name."),
    _text("unit", "Canonical unit of stored values."),
    _text("unit_kind", "Unit family (count, percent, currency_10k_yuan, …) used by validation bounds."),
    _text("description_en", "Definition."),
    _text("kind", "What it measures: count | share | ratio | per_student | money | area | score "
                  "(data/indicator_kinds.csv; counts grow with size and are never ranked).",
          allowed=("count", "share", "ratio", "per_student", "money", "area", "score")),
    _text("direction", "Which way is better: higher | lower | neither (best/worst words only for the first two).",
          allowed=("higher", "lower", "neither")),
    _text("label_zh", "Display label, unique in Chinese (a repeated child name carries its parent: 虚拟仿真实训基地数·国家级数量)."),
    _text("label_en", "Display label, unique in English."),
))

OBSERVATIONS = Table("observations", "One row per stated value (or stated absence), with its provenance.", (
    Column("obs_id", "BIGINT", "Int64", "Row id, stable within one build (report order, then source order).",
           primary_key=True),
    _text("report_id", "Registry id of the source report."),
    _text("source_sha256", "SHA-256 of the source file the value was read from."),
    _text("entity", "NULL = the report's own subject; otherwise e.g. a school's name as printed."),
    _text("indicator_code", "Codebook code."),
    Column("year", "INTEGER", "Int32", "Year the value describes (column header, sentence, or the report's data year)."),
    Column("value", "DOUBLE", "Float64", "Value in the codebook unit; NULL when missing."),
    _text("unit", "Codebook unit of value."),
    _text("raw", "The value exactly as printed (a substring of the cited line)."),
    _text("raw_unit", "The unit as printed next to the value, if any."),
    Column("line", "INTEGER", "Int32", "1-based line of raw in the source text."),
    _text("quote", "Verbatim context from the cited line (or the joined sentence for wrapped text)."),
    _text("status", "reported | missing | suspect.", allowed=STATUSES),
    _text("method", "table | prose | correction.", allowed=METHODS),
    _text("qualifier", "exact | approximate (余, 近, 约) | lower_bound (以上) | upper_bound (以下).",
          allowed=QUALIFIERS),
    _text("flag", "Why the value is missing or suspect, as found at extraction."),
    _text("label", "Row label or phrase the code was matched from, as printed."),
    _text("source_table", "Title of the table the value came from (NULL for prose)."),
    _text("locator", "Page or paragraph for PDF/DOCX sources (NULL for text)."),
    _text("extractor_version", "Version of the extractor that produced the row."),
))

QUALITY_FLAGS = Table("quality_flags", "One row per data-test finding about an observation.", (
    Column("obs_id", "BIGINT", "Int64", "The observation the flag is about."),
    _text("rule", "Rule name (bounds, parts_le_total, conflict, ratio_consistency, extraction, …)."),
    _text("severity", "warning | error.", allowed=SEVERITIES),
    _text("message", "What is wrong, in plain words: the Chinese sentence, ' / ', the English one."),
    _text("message_zh", "What is wrong, in a Chinese sentence (labels, not codes; numbers as printed)."),
    _text("message_en", "What is wrong, in an English sentence (labels, not codes; numbers as printed)."),
    Column("related_obs_id", "BIGINT", "Int64", "The other observation involved, if any."),
))

UNMAPPED_ROWS = Table("unmapped_rows", "Annex-table rows whose label the codebook does not know yet.", (
    _text("report_id", "Registry id of the report."),
    Column("line", "INTEGER", "Int32", "1-based line of the row."),
    _text("source_table", "Title of the table."),
    _text("label", "The row's label as printed."),
))

RUNS = Table("runs", "One row per build, notebook execution or publication, with its snapshot id.", (
    _text("run_id", "Id of the run."),
    _text("kind", "What ran (db, notebook, site, brief, build)."),
    _text("snapshot_id", "Hash of the inputs and code the run used."),
    Column("started_at", "TIMESTAMPTZ", "Datetime", "When it started."),
    Column("finished_at", "TIMESTAMPTZ", "Datetime", "When it finished."),
    Column("seconds", "DOUBLE", "Float64", "Wall time."),
    _text("status", "ok, or what failed."),
    Column("params", "JSON", "String", "Parameters of the run."),
    Column("timings", "JSON", "String", "Seconds per step."),
    Column("versions", "JSON", "String", "Versions of the package, extractor, Python and libraries."),
))

NUMBER_LEDGER = Table("number_ledger", "The coverage ledger: one row per number printed in a report's text, "
                      "and what became of it (vqr_analysis/quality/coverage.py, data/ledger_rules.toml).", (
    _text("report_id", "Registry id of the report."),
    Column("line", "INTEGER", "Int32", "1-based line of the number in the source text."),
    Column("position", "INTEGER", "Int32", "0-based character offset of the number in its line."),
    _text("raw", "The number exactly as printed (the substring of the line at position)."),
    _text("class", "extracted (an observation holds it) | context (a general rule says it states no quantity: "
                   "see reason) | unread (neither: a number the database does not hold).", allowed=LEDGER_CLASSES),
    _text("reason", "For context: the rule's reason (date, document_number, section, page, rank, code, change, "
                    "range, markup, name; legend in data/ledger_rules.toml); NULL otherwise."),
    _text("obs_ids", "For extracted: the obs_id of every observation the number feeds (corrections included), "
                     "space-separated; NULL otherwise."),
    _text("context", "Up to 24 characters either side of the number in the logical text, for reading."),
))

REPORT_LINES = Table("report_lines", "Every non-blank line of every report's text, as observations and the ledger "
                    "cite it (the site's reading view shows it; the database needs no report file to show it).", (
    _text("report_id", "Registry id of the report."),
    Column("line", "INTEGER", "Int32", "1-based line number."),
    _text("text", "The line exactly as read (decoded text; for PDF/DOCX the extracted text line)."),
))

def _borrowed(table: Table, *names: str) -> tuple[Column, ...]:
    """Columns of another table, defined there once (keys dropped: here they repeat from row to row)."""
    return tuple(replace(table.column(n), primary_key=False, unique=False) for n in names)


PREFERRED_VALUES = Table(
    "preferred_values",
    "One preferred value per report, entity, indicator and year (the view indicator_values, materialised at build "
    "time with the region and the labels a reader needs); stored in indicator_code, report_id order so a lookup "
    "by code or by region reads a few blocks. Every statement stays in observations.", (
        *_borrowed(OBSERVATIONS, "report_id"),
        *_borrowed(REPORTS, "region", "region_zh", "region_en", "subject_zh", "subject_en", "level", "data_year",
                   "subject_kind"),
        *_borrowed(OBSERVATIONS, "entity", "indicator_code"),
        *_borrowed(INDICATORS, "label_zh", "label_en", "table", "parent_code", "kind", "direction"),
        *_borrowed(OBSERVATIONS, "year"),
        Column("latest", "BOOLEAN", "Boolean", "True when year is the most recent year the report states for this "
                                              "entity and indicator (what compare(year='latest') shows)."),
        *_borrowed(OBSERVATIONS, "value", "unit", "status", "qualifier", "method"),
        _text("pick_reason", "Why this statement was preferred over the others of its key."),
        Column("n_statements", "BIGINT", "Int64", "How many statements the report makes for this key."),
        *_borrowed(OBSERVATIONS, "raw", "raw_unit", "line", "quote", "locator"),
        _text("source_file", "File name of the report under data/ (reports.file)."),
        *_borrowed(OBSERVATIONS, "obs_id"),
        _text("flags_zh", "The quality-flag messages about that observation, in Chinese (NULL when none)."),
        _text("flags_en", "The same messages in English."),
        _text("correction_note", "For a reviewed correction: its note (observations.flag)."),
    ))

TABLES = (REPORTS, INDICATORS, OBSERVATIONS, QUALITY_FLAGS, UNMAPPED_ROWS, RUNS, NUMBER_LEDGER, REPORT_LINES,
          PREFERRED_VALUES)
