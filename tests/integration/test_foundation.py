"""Registry, sources, codebook and the database's shape and provenance, on the five real reports."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys

import duckdb
import pytest

from support.paths import DATA, ROOT
from vqr_analysis.core.errors import VqrError
from vqr_analysis.extract.model import OBSERVATION_COLUMNS


def test_registry_files_match_their_sha256(registry):
    assert len(registry) == 5
    for report in registry:
        assert hashlib.sha256((DATA / report.file).read_bytes()).hexdigest() == report.sha256, report.file


def test_registry_covers_the_five_regions_and_levels(registry):
    assert {r.region for r in registry} == {"xinjiang", "changji", "tarim", "tacheng", "tenth_division"}
    assert {r.level for r in registry} == {"higher", "secondary"}
    for r in registry:
        assert r.data_period_start < r.data_period_end
        assert r.data_year == int(r.data_period_end[:4])


def test_registry_rejects_unknown_field_and_bad_slug(tmp_path):
    from vqr_analysis.sources.registry import load_registry

    text = (DATA / "reports.toml").read_text(encoding="utf-8")
    bad = tmp_path / "reports.toml"
    bad.write_text(text.replace('region = "tarim"', 'region = "Tarim Region"'), encoding="utf-8")
    with pytest.raises(VqrError, match="region slug"):
        load_registry(bad)
    bad.write_text(text.replace('region = "tarim"', 'region = "tarim"\ncolour = "red"'), encoding="utf-8")
    with pytest.raises(VqrError, match="unknown fields colour"):
        load_registry(bad)


def test_registry_aliases_are_a_list_of_one_line_names(tmp_path):
    """The subject's other names (aliases_zh) live in the registry, checked like every registry field."""
    from vqr_analysis.sources.registry import load_registry

    text = (DATA / "reports.toml").read_text(encoding="utf-8")
    assert {r.region: r for r in load_registry(DATA / "reports.toml")}["tarim"].aliases_zh == ("塔里木职院",)
    bad = tmp_path / "reports.toml"
    for value in ('"塔里木职院"', '["塔里木\\n职院"]', '[""]', "[1]"):
        bad.write_text(text.replace('aliases_zh = ["塔里木职院"]', f"aliases_zh = {value}"), encoding="utf-8")
        with pytest.raises(VqrError, match=r"#3 \(002\): aliases_zh must be a list of names"):
            load_registry(bad)


def test_codebook_is_consistent(codebook):
    from vqr_analysis.sources.codebook import UNIT_KINDS

    assert len(codebook) >= 175
    for ind in codebook:
        assert ind.parent_code is None or ind.parent_code in codebook
        assert ind.unit in UNIT_KINDS[ind.unit_kind]
        assert ind.name_zh and ind.name_en
        assert ind.code not in codebook.ancestors(ind.code), f"{ind.code} is its own ancestor"


def test_codebook_labels_are_unambiguous_within_a_parent(codebook):
    """Repeated labels (国家级数量 …) are fine only under different parents."""
    from vqr_analysis.sources.textnorm import normalize_label

    seen = {}
    for ind in codebook:
        for label in ind.labels:
            key = (ind.table, ind.parent_code, normalize_label(label))
            assert seen.setdefault(key, ind.code) == ind.code, f"{key} maps to {seen[key]} and {ind.code}"


def test_observations_have_exactly_the_documented_columns(db_con):
    cols = [r[0] for r in db_con.execute("DESCRIBE observations").fetchall()]
    assert cols == list(OBSERVATION_COLUMNS)
    for name in ["report_id", "source_sha256", "entity", "indicator_code", "year", "value", "unit", "raw", "line",
                 "quote", "status", "method", "extractor_version"]:
        assert name in cols


def test_every_observation_raw_is_in_its_cited_line(db_con, registry):
    """Provenance: raw occurs in line `line` of the file whose SHA-256 is source_sha256, for every row."""
    from vqr_analysis.sources.documents import load_document

    by_sha = {r.sha256: load_document(r, DATA) for r in registry}
    rows = db_con.execute("SELECT obs_id, source_sha256, line, raw, quote, method FROM observations").fetchall()
    assert rows, "no observations"
    bad = []
    for obs_id, sha, line, raw, quote, method in rows:
        doc = by_sha[sha]
        text = doc.line(line)
        if raw not in text:
            bad.append((obs_id, line, raw, text[:80]))
    assert not bad, f"{len(bad)} rows whose raw is not in the cited line, e.g. {bad[:5]}"


def test_missing_is_null_never_zero(db_con):
    n_bad = db_con.execute("SELECT count(*) FROM observations WHERE status='missing' AND value IS NOT NULL").fetchone()
    assert n_bad == (0,)
    dash = db_con.execute("SELECT count(*) FROM observations WHERE trim(raw) = '-'").fetchone()[0]
    dash_missing = db_con.execute("SELECT count(*) FROM observations WHERE trim(raw)='-' AND status='missing'").fetchone()[0]
    assert dash > 0 and dash == dash_missing


def test_every_report_has_a_run_and_stock_duckdb_can_read_it(built_db, registry, tmp_path):
    # A copy: a plain connection may not share a file with the session's sandboxed one (DuckDB refuses two
    # configurations on one file in a process), and "stock" means exactly no project settings.
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(built_db, copy)
    con = duckdb.connect(str(copy), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM observations").fetchone()[0] > 0
        snap = con.execute("SELECT snapshot_id FROM runs WHERE kind='db'").fetchall()
        assert len(snap) == 1 and len(snap[0][0]) == 12
        assert con.execute("SELECT count(*) FROM reports").fetchone()[0] == len(registry)
    finally:
        con.close()


def test_failed_build_keeps_last_good_database(tmp_path, built_db):
    """A bad input aborts before writing: the existing database stays byte-identical."""
    import shutil

    from vqr_analysis.store.database import build_database

    data = tmp_path / "data"
    shutil.copytree(DATA, data, ignore=shutil.ignore_patterns("*.duckdb*"))
    target = tmp_path / "vqr.duckdb"
    shutil.copy(built_db, target)
    before = target.read_bytes()
    report = next((data / "reports").glob("tarim*.txt"))
    report.write_bytes(report.read_bytes() + b"tampered")
    with pytest.raises(VqrError, match="SHA-256"):
        build_database(target, base=data)
    assert target.read_bytes() == before
    assert not list(tmp_path.glob(".vqr.duckdb.building-*"))


def test_cli_db_query_and_error_line(tmp_path):
    db = tmp_path / "cli.duckdb"
    env_cmd = [sys.executable, "-m", "vqr_analysis.cli"]
    out = subprocess.run(env_cmd + ["db", "--db", str(db)], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "tenth_division" in out.stdout and "snapshot" in out.stdout
    q = subprocess.run(env_cmd + ["query", "select count(*) as n from observations", "--db", str(db)],
                       capture_output=True, text=True, cwd=ROOT)
    assert q.returncode == 0 and "n" in q.stdout
    bad = subprocess.run(env_cmd + ["query", "select 1", "--db", str(tmp_path / "none.duckdb")],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2
    assert "database not found" in bad.stderr and "Traceback" not in bad.stderr
    exp = subprocess.run(env_cmd + ["export", "--format", "parquet", "-o", str(tmp_path / "o.parquet"), "--db", str(db)],
                         capture_output=True, text=True, cwd=ROOT)
    assert exp.returncode == 0 and (tmp_path / "o.parquet").stat().st_size > 0


def test_every_code_is_used_or_deliberately_unused(db_con, codebook):
    """A code no report fills must be listed, with a reason, in data/codebook_unused.csv — and only then."""
    import csv

    with (DATA / "codebook_unused.csv").open(encoding="utf-8", newline="") as fh:
        unused = {row["code"]: row["reason"] for row in csv.DictReader(fh)}
    used = {r[0] for r in db_con.execute("SELECT DISTINCT indicator_code FROM observations").fetchall()}
    assert all(reason.strip() for reason in unused.values())
    assert set(unused) <= {i.code for i in codebook}, "unknown code in codebook_unused.csv"
    assert not (set(unused) & used), f"listed as unused but extracted: {sorted(set(unused) & used)}"
    never = {i.code for i in codebook} - used - set(unused)
    assert not never, f"codes no report fills and not listed as deliberately unused: {sorted(never)}"
