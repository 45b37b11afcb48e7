"""The observation record: one value (or one reported absence) with its provenance.

Its fields are the columns of :data:`vqr_analysis.core.schema.OBSERVATIONS` (checked at import), so the record
the extractors build and the table the store loads cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from vqr_analysis.core.schema import METHODS, OBSERVATIONS, QUALIFIERS, STATUSES

__all__ = ["Observation", "OBSERVATION_COLUMNS", "STATUSES", "METHODS", "QUALIFIERS", "observations_frame"]

# The observations table's columns, in order (defined once, with types and docs, in core.schema).
OBSERVATION_COLUMNS: tuple[str, ...] = tuple(OBSERVATIONS.names)


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


if {f.name for f in fields(Observation)} != set(OBSERVATION_COLUMNS):  # a programming error, caught at import
    raise AssertionError("Observation's fields and the observations table's columns disagree")


def observations_frame(observations: list[Observation]):
    """A typed polars frame with exactly the OBSERVATION_COLUMNS, in order."""
    import polars as pl  # local: extraction itself needs no polars

    schema = OBSERVATIONS.polars_schema()
    # Column by column with getattr: dataclasses.asdict deep-copies every field (5x slower at 30,000 rows).
    return pl.DataFrame({name: [getattr(o, name) for o in observations] for name in schema}, schema=schema)
