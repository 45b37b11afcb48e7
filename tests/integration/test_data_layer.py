"""The data layer as researchers use it (issue 18): the materialised preferred values, report_id everywhere,
a file DuckDB 1.1 opens, friendly API misses and the `vqr query` / `vqr export` formats."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

import vqr_analysis as vqr
from support.old_duckdb import OLD_DUCKDB, old_duckdb_python
from support.paths import ROOT
from vqr_analysis.core.errors import VqrError

# --------------------------------------------------------------------------- the preferred_values table


def test_preferred_values_is_the_view_materialised_with_region_and_labels(db_con):
    key = "report_id, coalesce(entity, ''), indicator_code, year"
    view = db_con.execute(f"SELECT {key}, obs_id, value, status, pick_reason FROM indicator_values ORDER BY ALL").fetchall()
    table = db_con.execute(f"SELECT {key}, obs_id, value, status, pick_reason FROM preferred_values ORDER BY ALL").fetchall()
    assert table == view and len(table) > 100
    joined = db_con.sql(
        """SELECT count(*) FILTER (WHERE p.region <> r.region OR p.region_zh <> r.region_zh
                                      OR p.label_zh <> i.label_zh OR p.label_en <> i.label_en OR p.level <> r.level),
                  count(*) FILTER (WHERE p.region IS NULL OR p.label_zh IS NULL OR p.label_en IS NULL)
           FROM preferred_values p JOIN reports r USING (report_id) JOIN indicators i ON i.code = p.indicator_code"""
    ).fetchall()[0]
    assert joined == (0, 0)


def test_preferred_values_are_stored_in_code_then_report_order(db_con):
    rows = db_con.execute("SELECT indicator_code, report_id FROM preferred_values").fetchall()
    assert rows == sorted(rows)


def test_preferred_values_flags_and_latest(db_con):
    for lang in ("zh", "en"):
        flagged = dict(db_con.sql(
            f"""SELECT obs_id, string_agg(message_{lang}, ' ' ORDER BY rule, message_zh) FROM quality_flags
                GROUP BY obs_id""").fetchall())
        rows = db_con.execute(f"SELECT obs_id, flags_{lang} FROM preferred_values").fetchall()
        assert any(flags for _, flags in rows), "the real reports have flagged preferred values"
        assert all(flags == flagged.get(obs_id) for obs_id, flags in rows)
    wrong_latest = db_con.sql(
        """SELECT count(*) FROM preferred_values p
           WHERE latest <> (year = (SELECT max(q.year) FROM preferred_values q WHERE q.report_id = p.report_id
                                    AND q.indicator_code = p.indicator_code
                                    AND q.entity IS NOT DISTINCT FROM p.entity))""").fetchall()[0][0]
    assert wrong_latest == 0


def test_api_reads_the_table_and_an_older_database_says_rebuild(built_db, tmp_path):
    copy = tmp_path / "old.duckdb"
    shutil.copyfile(built_db, copy)
    con = duckdb.connect(str(copy))
    con.execute("UPDATE preferred_values SET value = -1 WHERE region = 'tacheng'")
    con.close()
    assert set(vqr.values("tacheng", db=copy)["value"].drop_nulls()) == {-1}
    con = duckdb.connect(str(copy))
    con.execute("DROP TABLE preferred_values")
    con.close()
    with pytest.raises(VqrError, match="no preferred_values table.*rebuild it with `vqr db`"):
        vqr.values("tacheng", db=copy)


# --------------------------------------------------------------------------- keys and names


def test_report_id_everywhere(db_con):
    columns = db_con.sql(
        """SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal""").fetchall()
    assert ("reports", "report_id") in columns
    assert not [c for c in columns if c[1] == "id"], "a table keys on `id` instead of report_id"
    assert "report_id" in vqr.reports(db=db_con).columns


def test_value_frames_carry_region_and_labels(db_con):
    for frame in (vqr.values("tacheng", db=db_con), vqr.compare(["student_teacher_ratio"], db=db_con),
                  vqr.profile("tacheng", db=db_con), vqr.quality_flags(db=db_con)):
        assert {"region", "report_id", "label", "label_en"} <= set(frame.columns), frame.columns
        assert frame.height and frame["region"].null_count() == 0


# --------------------------------------------------------------------------- the API's friendliness


def test_region_by_slug_or_chinese_or_english_name(db_con, registry):
    tacheng = next(r for r in registry if r.region == "tacheng")
    by_slug = vqr.values("tacheng", db=db_con)
    for name in (tacheng.region_zh, tacheng.region_en, tacheng.subject_en, tacheng.region_en.upper(),
                 f" {tacheng.subject_zh} "):
        assert vqr.values(name, db=db_con).equals(by_slug), name
    assert vqr.profile(tacheng.region_zh, db=db_con).equals(vqr.profile("tacheng", db=db_con))
    assert vqr.region_info(tacheng.region_en, db=db_con)["region"] == "tacheng"
    regions = vqr.compare(["student_teacher_ratio"], [tacheng.region_zh, "tarim"], db=db_con)["region"]
    assert sorted(regions) == ["tacheng", "tarim"]


def test_a_miss_suggests_the_nearest_code_and_region(db_con):
    with pytest.raises(VqrError, match=r"'student_teacher_rati' \(did you mean student_teacher_ratio"):
        vqr.values(codes=["student_teacher_rati"], db=db_con)
    with pytest.raises(VqrError, match=r"unknown indicator code .*did you mean student_teacher_ratio"):
        vqr.compare(["student_teacher_ratios"], db=db_con)
    with pytest.raises(VqrError, match=r"unknown region '塔城' \(did you mean 塔城地区"):
        vqr.values("塔城", db=db_con)
    with pytest.raises(VqrError, match=r"unknown region 'tachen' \(did you mean tacheng"):
        vqr.profile("tachen", db=db_con)


@pytest.mark.parametrize("call", [
    lambda con: vqr.values("tacheng", lang="fr", db=con),
    lambda con: vqr.compare(["student_teacher_ratio"], lang="fr", db=con),
    lambda con: vqr.profile("tacheng", lang="FR", db=con),
    lambda con: vqr.compare_table(lang="", db=con),
])
def test_lang_is_validated(db_con, call):
    with pytest.raises(VqrError, match="unknown lang .*use one of zh, en"):
        call(db_con)


def test_empty_code_list_is_refused(db_con):
    for call in (lambda: vqr.compare([], db=db_con), lambda: vqr.compare_table([], db=db_con)):
        with pytest.raises(VqrError, match=r"compare\(\) needs at least one indicator code"):
            call()
    with pytest.raises(VqrError, match="year must be 'latest' or a year"):
        vqr.compare(["student_teacher_ratio"], year="2023", db=db_con)


# --------------------------------------------------------------------------- DuckDB 1.x reads the file


def test_duckdb_1_1_opens_the_built_database(built_db, tmp_path, db_con):
    python, reason = old_duckdb_python()
    if python is None:
        pytest.skip(reason)
    copy = tmp_path / "for-old-duckdb.duckdb"  # a copy: the old client only reads, but never shares a file
    shutil.copyfile(built_db, copy)
    script = (
        "import duckdb, json, sys\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "q = lambda sql: con.execute(sql).fetchall()[0][0]\n"
        "print(json.dumps({'version': duckdb.__version__, 'observations': q('SELECT count(*) FROM observations'),\n"
        "  'preferred': q('SELECT count(*) FROM preferred_values'), 'view': q('SELECT count(*) FROM indicator_values'),\n"
        "  'reports': q('SELECT count(report_id) FROM reports'), 'runs': q('SELECT count(*) FROM runs')}))\n"
    )
    result = subprocess.run([str(python), "-c", script, str(copy)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout)
    expected = {"version": OLD_DUCKDB}
    for key, sql in (("observations", "observations"), ("preferred", "preferred_values"),
                     ("view", "indicator_values"), ("reports", "reports"), ("runs", "runs")):
        expected[key] = db_con.execute(f"SELECT count(*) FROM {sql}").fetchall()[0][0]
    assert seen == expected


# --------------------------------------------------------------------------- the command line


def _vqr(*args: str, tmp: Path, db: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "VQR_ROOT": str(ROOT), "VQR_DB": str(db), "VQR_BUILD_DIR": str(tmp / "build")}
    return subprocess.run([sys.executable, "-m", "vqr_analysis.cli", *args], capture_output=True, text=True,
                          env=env, cwd=tmp, timeout=300)


def test_query_prints_a_limited_table_by_default(built_db, tmp_path, db_con):
    result = _vqr("query", "SELECT obs_id, region_zh FROM preferred_values ORDER BY obs_id", tmp=tmp_path, db=built_db)
    assert result.returncode == 0, result.stderr
    first_ids = [r[0] for r in db_con.execute("SELECT obs_id FROM preferred_values ORDER BY obs_id").fetchall()]
    shown = [line for line in result.stdout.splitlines() if line.startswith("│")]
    from vqr_analysis.cli import QUERY_TABLE_ROWS

    assert len(shown) == QUERY_TABLE_ROWS  # the first rows (the header is drawn with '┃')
    assert f"│ {first_ids[QUERY_TABLE_ROWS - 1]} " in shown[-1]
    assert "more rows not shown" in result.stderr and "--limit 0" in result.stderr
    few = _vqr("query", "SELECT region FROM reports", "--limit", "2", tmp=tmp_path, db=built_db)
    assert len([x for x in few.stdout.splitlines() if x.startswith("│")]) == 2


def test_query_formats_and_output_file(built_db, tmp_path, db_con):
    sql = "SELECT report_id, region, region_zh FROM reports ORDER BY report_id"
    expected = db_con.sql(sql).pl()
    as_csv = _vqr("query", sql, "--format", "csv", tmp=tmp_path, db=built_db)
    assert as_csv.returncode == 0 and pl.read_csv(io.StringIO(as_csv.stdout), infer_schema=False).equals(expected)
    as_json = _vqr("query", sql, "-f", "json", "--limit", "2", tmp=tmp_path, db=built_db)
    assert json.loads(as_json.stdout) == expected.head(2).to_dicts()
    out = tmp_path / "q.parquet"
    written = _vqr("query", sql, "-o", str(out), tmp=tmp_path, db=built_db)
    assert written.returncode == 0, written.stderr
    assert pl.read_parquet(out).equals(expected)
    out_csv = tmp_path / "q.csv"
    assert _vqr("query", sql, "-o", str(out_csv), tmp=tmp_path, db=built_db).returncode == 0
    assert out_csv.read_bytes().startswith("\ufeff".encode())
    for args, message in ((["-f", "parquet"], "name the output file with -o"), (["-f", "xml"], "unknown format 'xml'"),
                          (["-o", str(tmp_path / "q.txt")], "a table is printed on screen")):
        refused = _vqr("query", sql, *args, tmp=tmp_path, db=built_db)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr


def test_query_stays_sandboxed(built_db, tmp_path):
    target = tmp_path / "leak.csv"
    result = _vqr("query", f"COPY reports TO '{target}'", tmp=tmp_path, db=built_db)
    assert result.returncode == 2 and "query failed" in result.stderr and not target.exists()


def test_export_default_is_outside_data_with_region_labels_and_bom(built_db, tmp_path, db_con):
    result = _vqr("export", tmp=tmp_path, db=built_db)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "build" / "exports" / "observations.csv"
    assert out.is_file() and not list((ROOT / "data").glob("observations.*"))
    raw = out.read_bytes()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == db_con.execute("SELECT count(*) FROM observations").fetchall()[0][0]
    assert {"report_id", "region", "region_zh", "label_zh", "label_en", "quote", "line"} <= set(rows[0])
    tacheng = [r for r in rows if r["region"] == "tacheng"]
    assert tacheng and all(r["region_zh"] == "塔城地区" and r["label_zh"] for r in tacheng)


def test_export_parquet_carries_the_codebook(built_db, tmp_path, db_con):
    import pyarrow.parquet as pq

    out = tmp_path / "values.parquet"
    result = _vqr("export", "--table", "preferred_values", "-o", str(out), tmp=tmp_path, db=built_db)
    assert result.returncode == 0, result.stderr
    frame = pl.read_parquet(out)
    assert frame.height == db_con.execute("SELECT count(*) FROM preferred_values").fetchall()[0][0]
    meta = pq.read_metadata(out).metadata
    codebook = json.loads(meta[b"vqr.codebook"])
    codes = [r[0] for r in db_con.execute("SELECT code FROM indicators ORDER BY code").fetchall()]
    assert [c["code"] for c in codebook] == codes and all(c["name_zh"] for c in codebook)
    columns = json.loads(meta[b"vqr.columns"])
    assert set(columns) == set(frame.columns) and "report_id" in columns
    assert meta[b"vqr.snapshot"].decode() == vqr.snapshot(db=db_con)
    refused = _vqr("export", "--table", "secrets", tmp=tmp_path, db=built_db)
    assert refused.returncode == 2 and "unknown table 'secrets'" in refused.stderr


# --------------------------------------------------------------------------- the API's copy of a database file


def test_a_path_and_a_held_connection_give_the_same_frames(built_db, db_con):
    for region in vqr.reports(db=db_con)["region"]:
        assert vqr.values(region, entities=True, db=built_db).equals(vqr.values(region, entities=True, db=db_con))
        assert vqr.profile(region, lang="en", db=built_db).equals(vqr.profile(region, lang="en", db=db_con))
    codes = vqr.shared_codes(1, db=db_con)
    assert vqr.compare(codes, db=built_db).equals(vqr.compare(codes, db=db_con))


def test_the_copy_is_never_stale_and_holds_no_file_open(built_db, tmp_path):
    path = tmp_path / "vqr.duckdb"
    shutil.copyfile(built_db, path)
    before = vqr.values("tarim", codes=["student_teacher_ratio"], db=path)
    assert before.height and before["value"][0] != 123.0
    # An in-place edit right after a call: no connection is left open to refuse the writer.
    con = duckdb.connect(str(path))
    con.execute("UPDATE preferred_values SET value = 123 WHERE region = 'tarim' "
                "AND indicator_code = 'student_teacher_ratio'")
    con.close()
    assert vqr.values("tarim", codes=["student_teacher_ratio"], db=path)["value"].to_list() == [123.0] * before.height
    # A rebuilt database swapped in under the same name (what `vqr db` does) is read again.
    rebuilt = tmp_path / "rebuilt.duckdb"
    shutil.copyfile(built_db, rebuilt)
    os.replace(rebuilt, path)
    assert vqr.values("tarim", codes=["student_teacher_ratio"], db=path).equals(before)
