"""core.schema: one definition per table generates the DDL, CHECKs, comments and polars schema."""

from __future__ import annotations

from dataclasses import fields

import duckdb
import pytest

from vqr_analysis.core.schema import OBSERVATIONS, QUALITY_FLAGS, TABLES, Column, Table, sql_string
from vqr_analysis.extract.model import Observation
from vqr_analysis.sources.codebook import CODEBOOK_COLUMNS, DERIVED_COLUMNS


@pytest.fixture()
def con():
    con = duckdb.connect(":memory:")
    for table in TABLES:
        con.execute(table.create_sql())
        for statement in table.comment_sql():
            con.execute(statement)
    yield con
    con.close()


def test_every_table_is_created_with_every_column_documented(con):
    for table in TABLES:
        rows = con.execute("SELECT column_name, comment FROM duckdb_columns() WHERE table_name = ? "
                           "ORDER BY column_index", [table.name]).fetchall()
        assert [r[0] for r in rows] == table.names
        assert all(r[1] for r in rows), f"{table.name}: a column without a comment"


def test_allowed_values_become_checks(con):
    con.execute("INSERT INTO quality_flags (obs_id, rule, severity, message, related_obs_id) VALUES (1, 'bounds', 'warning', 'm', NULL)")
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO quality_flags (obs_id, rule, severity, message, related_obs_id) VALUES (1, 'bounds', 'fatal', 'm', NULL)")
    assert "CHECK" in OBSERVATIONS.column("status").ddl() and "CHECK" in OBSERVATIONS.column("method").ddl()
    assert "CHECK" in QUALITY_FLAGS.column("severity").ddl()


def test_docs_with_quotes_stay_text(con):
    table = Table("t", "it's a table", (Column("c", "VARCHAR", "String", "the 'c' column'); DROP TABLE t; --"),))
    con.execute(table.create_sql())
    for statement in table.comment_sql():
        con.execute(statement)
    assert con.execute("SELECT comment FROM duckdb_columns() WHERE table_name = 't'").fetchone()[0] == (
        "the 'c' column'); DROP TABLE t; --")
    assert sql_string("a'b") == "'a''b'"


def test_the_record_and_the_readers_follow_the_schema():
    assert {f.name for f in fields(Observation)} == set(OBSERVATIONS.names)
    assert list(OBSERVATIONS.polars_schema()) == OBSERVATIONS.names
    # The CSV holds every indicators column except those the loader derives (kinds file, unique labels).
    names = next(t for t in TABLES if t.name == "indicators").names
    assert CODEBOOK_COLUMNS == [n for n in names if n not in DERIVED_COLUMNS]
    assert set(DERIVED_COLUMNS) <= set(names)


def test_unknown_names_get_the_nearest_known_ones():
    from vqr_analysis.core.errors import VqrError, check_known

    assert check_known("region", ["tarim", "tarim"], ["tarim", "tacheng"]) == ["tarim"]
    with pytest.raises(VqrError, match=r"unknown region 'tachen' \(did you mean tacheng\?\); known regions: tarim"):
        check_known("region", ["tachen"], ["tarim", "tacheng"])
    with pytest.raises(VqrError, match=r"unknown indicator code 'zzz'; known indicator codes: a, b"):
        check_known("indicator code", ["zzz"], ["a", "b"])
