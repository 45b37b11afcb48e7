"""Data tests over the built database: rules write ``quality_flags`` and mark rows ``suspect``.

Filled in by the validation work; the database builder calls :func:`run_checks` on every build.
"""

from __future__ import annotations

import duckdb

from .codebook import Codebook

__all__ = ["run_checks", "QUALITY_FLAG_COLUMNS"]

QUALITY_FLAG_COLUMNS = {
    "obs_id": ("BIGINT", "The observation the flag is about."),
    "rule": ("VARCHAR", "Rule name (bounds, parts_le_total, conflict, ratio_consistency, extraction, …)."),
    "severity": ("VARCHAR", "warning | error."),
    "message": ("VARCHAR", "What is wrong, in plain words."),
    "related_obs_id": ("BIGINT", "The other observation involved, if any."),
}


def run_checks(con: duckdb.DuckDBPyConnection, codebook: Codebook) -> None:
    """Flag what extraction already knew (comma decimals, unreadable cells) as rule 'extraction'."""
    con.execute(
        """
        INSERT INTO quality_flags (obs_id, rule, severity, message, related_obs_id)
        SELECT obs_id, 'extraction', 'warning', flag, NULL FROM observations
        WHERE status = 'suspect' AND flag IS NOT NULL
        """
    )
