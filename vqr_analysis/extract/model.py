"""The observation record: one value (or one reported absence) with its provenance.

``OBSERVATION_COLUMNS`` is the single definition of the ``observations`` table: the DuckDB DDL, the polars
schema and the docs all read it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["Observation", "OBSERVATION_COLUMNS", "STATUSES", "METHODS", "QUALIFIERS", "observations_frame"]

STATUSES = ("reported", "missing", "suspect")
METHODS = ("table", "prose", "correction")
QUALIFIERS = ("exact", "approximate", "lower_bound", "upper_bound")

# name → (DuckDB type, polars dtype name, description). Order is the table's column order.
OBSERVATION_COLUMNS: dict[str, tuple[str, str, str]] = {
    "obs_id": ("BIGINT", "Int64", "Row id, stable within one build (report order, then source order)."),
    "report_id": ("VARCHAR", "String", "Registry id of the source report."),
    "source_sha256": ("VARCHAR", "String", "SHA-256 of the source file the value was read from."),
    "entity": ("VARCHAR", "String", "NULL = the report's own subject; otherwise e.g. a school's name as printed."),
    "indicator_code": ("VARCHAR", "String", "Codebook code."),
    "year": ("INTEGER", "Int32", "Year the value describes (column header, sentence, or the report's data year)."),
    "value": ("DOUBLE", "Float64", "Value in the codebook unit; NULL when missing."),
    "unit": ("VARCHAR", "String", "Codebook unit of value."),
    "raw": ("VARCHAR", "String", "The value exactly as printed (a substring of the cited line)."),
    "raw_unit": ("VARCHAR", "String", "The unit as printed next to the value, if any."),
    "line": ("INTEGER", "Int32", "1-based line of raw in the source text."),
    "quote": ("VARCHAR", "String", "Verbatim context from the cited line (or the joined sentence for wrapped text)."),
    "status": ("VARCHAR", "String", "reported | missing | suspect."),
    "method": ("VARCHAR", "String", "table | prose | correction."),
    "qualifier": ("VARCHAR", "String", "exact | approximate (余, 近, 约) | lower_bound (以上) | upper_bound (以下)."),
    "flag": ("VARCHAR", "String", "Why the value is missing or suspect, as found at extraction."),
    "label": ("VARCHAR", "String", "Row label or phrase the code was matched from, as printed."),
    "source_table": ("VARCHAR", "String", "Title of the table the value came from (NULL for prose)."),
    "locator": ("VARCHAR", "String", "Page or paragraph for PDF/DOCX sources (NULL for text)."),
    "extractor_version": ("VARCHAR", "String", "Version of the extractor that produced the row."),
}

STATUS_CHECK = f"status IN {STATUSES}"


@dataclass
class Observation:
    report_id: str
    source_sha256: str
    indicator_code: str
    year: int | None
    value: float | None
    unit: str
    raw: str
    line: int
    quote: str
    status: str
    method: str
    extractor_version: str
    entity: str | None = None
    raw_unit: str | None = None
    qualifier: str = "exact"
    flag: str | None = None
    label: str | None = None
    source_table: str | None = None
    locator: str | None = None
    obs_id: int | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"bad status {self.status!r}")
        if self.method not in METHODS:
            raise ValueError(f"bad method {self.method!r}")
        if self.status == "missing" and self.value is not None:
            raise ValueError("a missing observation carries no value")

    def key(self) -> tuple:
        return (self.report_id, self.entity, self.indicator_code, self.year)


_FIELD_NAMES = [f.name for f in fields(Observation)]
assert set(_FIELD_NAMES) == set(OBSERVATION_COLUMNS), "Observation and OBSERVATION_COLUMNS disagree"


def observations_frame(observations: list[Observation]):
    """A typed polars frame with exactly the OBSERVATION_COLUMNS, in order."""
    import polars as pl

    schema = {name: getattr(pl, dtype) for name, (_, dtype, _) in OBSERVATION_COLUMNS.items()}
    # Column by column with getattr: dataclasses.asdict deep-copies every field (5x slower at 30,000 rows).
    return pl.DataFrame({name: [getattr(o, name) for o in observations] for name in schema}, schema=schema)
