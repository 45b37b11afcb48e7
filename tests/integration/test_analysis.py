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
    assert table.columns == ["indicator_code", "label", "unit", *names, "years", "comparability", "flags", "cell_badges"]
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


# ------------------------------------------------------------------------------------- honest comparisons


def test_display_labels_are_unique_in_both_languages_and_children_carry_their_parent(built_db):
    codebook = vqr.indicators(db=built_db)
    for column in ("label_zh", "label_en"):
        labels = codebook.get_column(column)
        assert labels.n_unique() == codebook.height, labels.filter(labels.is_duplicated()).to_list()
    row = codebook.filter(pl.col("code") == "virtual_sim_bases_national").row(0, named=True)
    assert row["label_zh"] == "虚拟仿真实训基地数·国家级数量" and row["name_zh"] == "国家级数量"
    assert codebook.filter(pl.col("code") == "students_enrolled").item(0, "label_zh") == "在校生数"


def test_ranks_leave_out_suspect_values_counts_and_other_kinds_of_subject(built_db):
    regions = vqr.reports(db=built_db).select("region", "subject_kind", "level")
    kind_of = {r["region"]: (r["subject_kind"], r["level"]) for r in regions.iter_rows(named=True)}
    for region in kind_of:
        prof = vqr.profile(region, db=built_db)
        ranked = prof.filter(pl.col("rank").is_not_null())
        # never a suspect value, never a count, area or money total
        assert ranked.filter(pl.col("status") == "suspect").is_empty()
        assert ranked.filter(pl.col("kind").is_in(["count", "area"])).is_empty()
        suspect = prof.filter((pl.col("status") == "suspect") & pl.col("value").is_not_null())
        assert all(note in ("存疑数值不参与排名", "数量随规模而变，不排名") for note in suspect.get_column("rank_note"))
        for row in ranked.iter_rows(named=True):
            cmp = vqr.compare(row["indicator_code"], db=built_db)
            peers = cmp.filter(pl.col("value").is_not_null() & (pl.col("status") != "suspect")
                               & pl.struct("region").map_elements(lambda s: kind_of[s["region"]] == kind_of[region],
                                                                  return_dtype=pl.Boolean))
            assert row["n_regions"] == peers.height >= 2  # compared only with its own kind and level
    # Tacheng's suspect 51:1 is not ranked and says why; Changji and Tacheng (prefectures, secondary) are peers.
    tacheng = vqr.profile("tacheng", db=built_db).filter(pl.col("indicator_code") == "student_teacher_ratio")
    assert tacheng.item(0, "status") == "suspect" and tacheng.item(0, "rank") is None
    assert tacheng.item(0, "rank_note") == "存疑数值不参与排名" and tacheng.item(0, "badge") == "存疑"
    assert "生师比印为 51:1" in tacheng.item(0, "flag_text")
    xinjiang = vqr.profile("xinjiang", db=built_db).filter(pl.col("indicator_code") == "full_time_students")
    assert xinjiang.item(0, "rank") is None and "不排名" in xinjiang.item(0, "rank_note")


def test_medians_leave_out_suspect_values(built_db):
    prof = vqr.profile("changji", db=built_db).filter(pl.col("indicator_code") == "student_teacher_ratio")
    cmp = vqr.compare("student_teacher_ratio", db=built_db)
    level = prof.item(0, "level")
    clean = cmp.filter((pl.col("region") != "changji") & (pl.col("level") == level)
                       & (pl.col("status") != "suspect") & pl.col("value").is_not_null())
    assert 51 not in clean.get_column("value").to_list()
    assert prof.item(0, "median_others") == pytest.approx(clean.get_column("value").median())


def test_a_share_changes_in_points_and_a_count_in_percent_and_absolute():
    """Issue 14: a share going from 1 % to 0 % is −1 point in the two-year chart, not −100 %."""
    from vqr_analysis import charts

    frame = pl.DataFrame({
        "region": ["r"] * 4, "region_zh": ["甲"] * 4, "indicator_code": ["a", "a", "b", "b"],
        "label_zh": ["比例", "比例", "人数", "人数"], "label_en": ["Share", "Share", "Count", "Count"],
        "year": [2022, 2023, 2022, 2023], "value": [1.0, 0.0, 1000.0, 1100.0], "unit": ["%", "%", "人", "人"],
        "status": ["reported"] * 4,
    })
    spec = charts.to_spec(charts.two_year_change(frame, "r"))
    rows = {row["indicator_code"]: row for rows in spec["datasets"].values() for row in rows
            if "change_text" in row}
    assert rows["a"]["change"] == pytest.approx(-1) and "−1 个百分点" in rows["a"]["change_text"]
    assert rows["b"]["change"] == pytest.approx(10) and "+100 人（+10%）" in rows["b"]["change_text"]
