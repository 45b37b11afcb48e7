"""Shared fixtures: the real registry, codebook and one database built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.paths import DATA


@pytest.fixture(scope="session")
def registry():
    from vqr_analysis.sources.registry import load_registry

    return load_registry(DATA / "reports.toml")


@pytest.fixture(scope="session")
def codebook():
    from vqr_analysis.sources.codebook import load_codebook

    return load_codebook(DATA / "indicators.csv")


@pytest.fixture(scope="session")
def documents(registry):
    from vqr_analysis.sources.documents import load_document

    return {r.id: load_document(r, DATA) for r in registry}


@pytest.fixture(scope="session")
def built_db(tmp_path_factory) -> Path:
    """A database built from the real reports into a temp folder (the checkout's DB is never touched)."""
    from vqr_analysis.store.database import build_database

    path = tmp_path_factory.mktemp("db") / "vqr.duckdb"
    build_database(path, base=DATA)
    return path


@pytest.fixture(scope="session")
def db_con(built_db):
    from vqr_analysis.store.database import connect_readonly

    con = connect_readonly(built_db)
    yield con
    con.close()
