"""The research API on the database built from the five real reports."""

from __future__ import annotations

import polars as pl
import pytest

import vqr_analysis as vqr
from vqr_analysis.analysis.api import VALUE_COLUMNS
from vqr_analysis.core.errors import VqrError


def test_public_names_are_declared_and_importable():
    for name in ("connect", "reports", "indicators", "values", "compare", "profile", "quality_flags", "snapshot",
                 "region_info", "coverage", "compare_table", "shared_codes", "display_table", "charts", "display",
                 "notebooks"):
        assert name in vqr.__all__
        assert getattr(vqr, name) is not None


def test_reports_match_the_registry(built_db, registry):
    frame = vqr.reports(db=built_db)
    assert frame.get_column("region").to_list() == [r.region for r in registry]
    assert set(frame.get_column("level")) == {r.level for r in registry}


def test_values_carry_provenance_and_comparability_context(built_db, registry):
    frame = vqr.values(db=built_db)
    assert frame.columns == VALUE_COLUMNS
    assert frame.height > 0
    # Every preferred value names its report's level and data year and points at a line in the source file.
    by_region = {r.region: r for r in registry}
    for row in frame.iter_rows(named=True):
        report = by_region[row["region"]]
        assert (row["level"], row["data_year"], row["source_file"]) == (report.level, report.data_year, report.file)
        assert row["raw"] in row["quote"] and row["line"] >= 1
    # Missing stays missing: NULL value with a non-reported status, never zero.
    missing = frame.filter(pl.col("value").is_null())
    assert missing.filter(pl.col("status") == "reported").is_empty()


def test_values_match_the_source_line(built_db, documents, registry):
    """A value's raw string is on the stated line of the file it names."""
    frame = vqr.values(db=built_db)
    for row in frame.head(50).iter_rows(named=True):
        doc = documents[row["report_id"]]
        assert row["raw"] in doc.lines[row["line"] - 1]


def test_values_filter_by_region_code_and_year(built_db):
    every = vqr.values(db=built_db)
    region, code, year = every.row(0, named=True)["region"], every.item(0, "indicator_code"), every.item(0, "year")
    one = vqr.values(region, code, year, db=built_db)
    assert one.height >= 1
    assert set(one.get_column("region")) == {region} and set(one.get_column("indicator_code")) == {code}
    assert set(one.get_column("year")) == {year}
    # One preferred value per (region, entity, code, year).
    assert every.select("region", "entity", "indicator_code", "year").is_duplicated().sum() == 0


def test_labels_follow_lang(built_db):
    zh = vqr.values(db=built_db).head(5)
    en = vqr.values(lang="en", db=built_db).head(5)
    assert zh.get_column("label").to_list() == zh.get_column("label_zh").to_list()
    assert en.get_column("label").to_list() == en.get_column("label_en").to_list()


@pytest.mark.parametrize("bad", ["nowhere", "x'; DROP TABLE observations; --", "xinjiang OR 1=1"])
def test_unknown_region_is_a_clear_error(built_db, bad):
    with pytest.raises(VqrError, match="unknown region") as info:
        vqr.values(bad, db=built_db)
    assert "known regions" in str(info.value)
    with pytest.raises(VqrError, match="unknown region"):
        vqr.region_info(bad, db=built_db)


def test_unknown_code_is_a_clear_error(built_db):
    with pytest.raises(VqrError, match="unknown indicator code 'no_such_code'"):
        vqr.compare(["no_such_code"], db=built_db)


def test_missing_database_says_how_to_build_it(tmp_path):
    with pytest.raises(VqrError, match="vqr db"):
        vqr.values(db=tmp_path / "absent.duckdb")


def _code_reported_by_both_levels(built_db) -> str:
    frame = vqr.values(db=built_db).filter(pl.col("value").is_not_null())
    levels = frame.group_by("indicator_code").agg(pl.col("level").n_unique().alias("n")).filter(pl.col("n") > 1)
    assert levels.height, "no indicator is reported by a higher and a secondary report"
    return sorted(levels.get_column("indicator_code"))[0]


def test_compare_has_every_region_and_marks_mixed_levels(built_db, registry):
    code = _code_reported_by_both_levels(built_db)
    frame = vqr.compare([code], db=built_db)
    assert frame.get_column("region").to_list() == [r.region for r in registry]
    for column in ("level", "data_year", "year", "mixed_levels", "mixed_years", "comparability"):
        assert column in frame.columns
    assert frame.get_column("mixed_levels").all()
    assert frame.item(0, "comparability").startswith("mixed levels")
    absent = frame.filter(pl.col("value").is_null())
    assert absent.get_column("status").is_in(["absent", "missing", "suspect"]).all()


def test_compare_latest_year_takes_each_regions_latest(built_db):
    every = vqr.values(db=built_db)
    two_years = every.group_by("region", "indicator_code").agg(pl.col("year").n_unique().alias("n")) \
        .filter(pl.col("n") > 1)
    if two_years.is_empty():
        pytest.skip("no report states an indicator for two years")
    region, code, _ = two_years.sort("region", "indicator_code").row(0)
    latest = every.filter((pl.col("region") == region) & (pl.col("indicator_code") == code)) \
        .get_column("year").max()
    row = vqr.compare([code], [region], db=built_db).row(0, named=True)
    assert row["year"] == latest
    earlier = vqr.compare([code], [region], year=latest - 1, db=built_db).row(0, named=True)
    assert earlier["year"] in (latest - 1, None)


def test_profile_ranks_among_reporting_regions(built_db):
    cov = vqr.coverage(db=built_db).sort("indicators_reported", descending=True)
    region = cov.item(0, "region")
    prof = vqr.profile(region, db=built_db)
    assert prof.height == vqr.values(region, db=built_db).get_column("indicator_code").n_unique()
    ranked = prof.filter(pl.col("rank").is_not_null())
    assert ranked.height > 0
    assert (ranked.get_column("rank") >= 1).all()
    assert (ranked.get_column("rank") <= ranked.get_column("n_regions")).all()


def test_profile_of_a_region_without_values_is_empty_not_an_error(built_db, tmp_path):
    """A registered report with no extracted value (a new layout the extractors do not read yet)."""
    import shutil

    import duckdb

    db = tmp_path / "one_empty.duckdb"
    shutil.copy(built_db, db)
    con = duckdb.connect(str(db))
    con.execute("DELETE FROM quality_flags")
    con.execute("DELETE FROM observations WHERE report_id = (SELECT report_id FROM reports WHERE region = 'tarim')")
    con.execute("DELETE FROM preferred_values WHERE region = 'tarim'")  # the build derives it from observations
    con.close()
    cov = vqr.coverage(db=db)
    assert cov.filter(pl.col("region") == "tarim").item(0, "values_reported") == 0
    prof = vqr.profile("tarim", db=db)
    assert prof.is_empty() and "rank" in prof.columns
    assert vqr.compare(["student_teacher_ratio"], db=db).filter(pl.col("region") == "tarim") \
        .item(0, "status") == "absent"


def test_region_info_defaults_to_first_registered(built_db, registry):
    assert vqr.region_info(db=built_db)["region"] == registry[0].region
    info = vqr.region_info(registry[-1].region, db=built_db)
    assert info["file"] == registry[-1].file and info["level"] == registry[-1].level


def test_coverage_counts_agree_with_values(built_db):
    cov = vqr.coverage(db=built_db)
    vals = vqr.values(db=built_db)
    for row in cov.iter_rows(named=True):
        mine = vals.filter(pl.col("region") == row["region"])
        assert row["values_reported"] == mine.filter(pl.col("value").is_not_null()).height
        assert row["values_missing"] == mine.filter(pl.col("value").is_null()).height


def test_compare_table_is_wide_with_one_column_per_region(built_db, registry):
    table = vqr.compare_table(db=built_db)
    names = [r.region_zh for r in registry]
    assert table.columns == ["indicator_code", "label", "unit", *names, "years", "comparability"]
    shared = vqr.shared_codes(db=built_db)
    assert sorted(table.get_column("indicator_code")) == sorted(shared)
    # Each shared code really has values in two or more regions.
    for row in table.iter_rows(named=True):
        assert sum(row[n] is not None for n in names) >= 2
    en = vqr.compare_table(shared[:1], lang="en", db=built_db)
    assert [r.region_en for r in registry][0] in en.columns


def test_quality_flags_point_at_values(built_db):
    flags = vqr.quality_flags(db=built_db)
    for column in ("region", "indicator_code", "rule", "severity", "message", "line", "quote"):
        assert column in flags.columns


def test_snapshot_is_the_build_id(built_db):
    assert len(vqr.snapshot(db=built_db)) == 12
