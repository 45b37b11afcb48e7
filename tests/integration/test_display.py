"""Readable tables and data-driven texts (vqr.display) on the database built from the five real reports."""

from __future__ import annotations

import html
import re

import polars as pl
import pytest

import vqr_analysis as vqr
from vqr_analysis import charts, display
from vqr_analysis.core.errors import VqrError

CJK = re.compile(r"[\u4e00-\u9fff]")
NOT_REPORTED = "未报告 / not reported"


def _cells(table_html: str) -> list[list[str]]:
    """The text of every body cell, row by row (tags dropped, entities decoded)."""
    body = table_html.split("<tbody>", 1)[1]
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


@pytest.fixture(scope="module")
def profile(built_db):
    """The profile of the region with the most indicators (suspect and missing values among them)."""
    region = vqr.coverage(db=built_db).sort("indicators_reported", "region", descending=[True, False]).item(0, "region")
    return vqr.profile(region, db=built_db)


def test_exported_from_the_package():
    assert "display_table" in vqr.__all__ and "display" in vqr.__all__
    assert vqr.display_table is display.display_table
    assert set(display.__all__) <= set(dir(display))


def test_headers_follow_lang_chinese_first(profile):
    zh = vqr.display_table(profile, ["label", "value", "status", "comparability"], lang="zh")
    en = vqr.display_table(profile, ["label", "value", "status", "comparability"], lang="en")
    assert zh.headers == ["指标 / Indicator", "数值 / Value", "状态 / Status", "可比性 / Comparability"]
    assert en.headers == ["Indicator", "Value", "Status", "Comparability"]
    assert '指标<br><span lang="en">Indicator</span>' in zh._repr_html_()


def test_numbers_carry_their_unit_and_missing_is_never_zero(profile):
    table = vqr.display_table(profile, ["label", "value"])
    rows = _cells(table._repr_html_())
    assert len(rows) == profile.height
    for (label, shown), row in zip(rows, profile.iter_rows(named=True)):
        assert label == row["label"]
        if row["value"] is None:
            assert shown == NOT_REPORTED
        else:
            number = charts.format_number(row["value"])
            assert number in shown and (row["unit"] in ("ratio", "") or row["unit"] in shown), (row, shown)
    missing = profile.filter(pl.col("value").is_null()).height
    assert missing, "the profile should include a statement marked not reported"
    assert sum(shown == NOT_REPORTED for _, shown in rows) == missing
    text = table._repr_html_()
    assert "null" not in text and "None" not in text


def test_wide_comparison_formats_every_region_column_and_marks_gaps(built_db):
    wide = vqr.compare_table(db=built_db)
    table = vqr.display_table(wide)
    regions = [c for c in wide.columns
               if c not in ("indicator_code", "label", "unit", "years", "comparability", "flags", "cell_badges")]
    # code, unit and the per-cell badges folded away (the badges stand beside each region's number)
    assert table.columns == ["label", *regions, "years", "comparability", "flags"]
    rows = _cells(table._repr_html_())
    gaps = sum(wide.get_column(r).is_null().sum() for r in regions)
    # a withdrawn value reads 'not reported' with its 已更正 badge beside it
    assert sum(cell.startswith(NOT_REPORTED) for row in rows for cell in row) == gaps > 0
    first = wide.row(0, named=True)
    reported = next(r for r in regions if first[r] is not None)
    assert charts.format_number(first[reported], first["unit"]) in rows[0][1 + regions.index(reported)]


def test_status_flags_and_comparability_are_badges(profile):
    html_ = vqr.display_table(profile)._repr_html_()
    if profile.filter(pl.col("status") == "suspect").height:
        assert '<span class="b w">存疑 / suspect</span>' in html_
    flagged = profile.filter(pl.col("flags").is_not_null())
    if flagged.height:
        assert html.escape(flagged.item(0, "flags"), quote=True) in html_  # the ⚑ tooltip says why
    assert '<td class="ok">✓</td>' in html_  # reported: a quiet tick
    assert re.search(r'<span class="b w x">[^<]+ / [^<]+</span>', html_)  # a mixed comparison


def test_rank_reads_as_rank_of_n(profile):
    table = vqr.display_table(profile, ["label", "rank"])
    ranked = profile.filter(pl.col("rank").is_not_null()).row(0, named=True)
    row = next(r for r in _cells(table._repr_html_()) if r[0] == ranked["label"])
    assert row[1] == f"{ranked['rank']} / {ranked['n_regions']}"
    assert table.headers[1] == "名次 / Rank of n"
    separate = vqr.display_table(profile, ["label", "rank", "n_regions"])
    assert separate.headers[1] == "名次 / Rank"


def test_report_text_is_escaped_everywhere(profile):
    """A report can contain markup; the table shows it as text and never as HTML."""
    hostile = '<script>alert("x")</script>'
    frame = profile.head(3).with_columns(
        pl.lit(hostile).alias("label"), pl.lit(f'x" onmouseover="alert(1)').alias("indicator_code"),
        pl.lit(hostile).alias("raw"), pl.lit(hostile).alias("quote"), pl.lit(hostile).alias("flags"),
        pl.lit("suspect").alias("status"), pl.lit(hostile).alias(hostile))
    out = vqr.display_table(frame, ["label", "raw", "quote", "status", hostile], caption=hostile)._repr_html_()
    assert "<script" not in out and 'onmouseover="' not in out
    assert out.count("&lt;script&gt;") >= 5
    assert "<script" not in vqr.display_table(frame)._repr_html_()  # the default columns too


def test_plain_text_form_is_not_a_polars_repr(profile):
    text = repr(vqr.display_table(profile, ["label", "year", "value", "status"]))
    assert "shape:" not in text and '"' + profile.item(0, "label") + '"' not in text
    assert not re.search(r"\b(str|i32|f64|i64)\b", text)
    assert text.splitlines()[0].startswith("指标 / Indicator")
    assert f"… {profile.height - 20} 行未显示 / more rows" in text


def test_data_stays_reachable_for_csv(profile, tmp_path):
    table = vqr.display_table(profile, ["label", "value"])
    assert table.data is profile
    table.data.write_csv(tmp_path / "profile.csv")
    assert (tmp_path / "profile.csv").read_text(encoding="utf-8").startswith(",".join(profile.columns[:3]))


def test_same_frame_same_bytes(profile):
    assert vqr.display_table(profile)._repr_html_() == vqr.display_table(profile.clone())._repr_html_()


def test_note_counts_what_needs_care(profile):
    note = vqr.display_table(profile).note
    assert note.startswith(f"共 {profile.height} 行") and f"{profile.height} rows" in note
    suspect = profile.filter(pl.col("status") == "suspect").height
    if suspect:
        assert f"存疑 {suspect}" in note and f"suspect: {suspect}" in note


def test_qualifiers_are_shown_on_the_number(profile):
    row = profile.filter(pl.col("value").is_not_null()).head(2).with_columns(
        pl.Series("qualifier", ["lower_bound", "approximate"]))
    cells = [r[1] for r in _cells(vqr.display_table(row, ["label", "value"])._repr_html_())]
    assert cells[0].startswith("≥ ") and cells[1].startswith("≈ ")


def test_empty_frame_says_none(built_db):
    flags = vqr.quality_flags(db=built_db).head(0)
    table = vqr.display_table(flags, ["label", "year", "rule"])
    assert _cells(table._repr_html_())[0][0] == "无 / none" and table.note == ""


def test_bad_inputs_are_clear_errors(profile):
    with pytest.raises(VqrError, match="unknown lang"):
        vqr.display_table(profile, lang="fr")
    with pytest.raises(VqrError, match="not in the frame"):
        vqr.display_table(profile, ["label", "no_such_column"])
    with pytest.raises(VqrError, match="polars DataFrame"):
        vqr.display_table(profile.to_dicts())


def test_region_summary_is_chinese_first_then_english(built_db, registry):
    report = registry[0]
    zh = str(display.region_summary(report.region, lang="zh", db=built_db))
    en = str(display.region_summary(report.region, lang="en", db=built_db))
    coverage = vqr.coverage(db=built_db).filter(pl.col("region") == report.region).row(0, named=True)
    assert zh.startswith(f"**{report.subject_zh}**") and f"**{report.subject_en}**" in zh
    assert zh.index(report.subject_zh) < zh.index(report.subject_en)
    assert en.startswith(f"**{report.subject_en}**") and not CJK.search(en)
    for text in (zh, en):
        assert f"**{coverage['indicators_reported']}**" in text and report.file in text
    assert display.region_summary(report.region, db=built_db)._repr_markdown_() == zh


def test_reports_summary_names_levels_and_years(built_db, registry):
    zh = str(display.reports_summary(lang="zh", db=built_db))
    en = str(display.reports_summary(lang="en", db=built_db))
    years = sorted({r.data_year for r in registry})
    assert f"共 **{len(registry)}** 份报告" in zh and f"**{len(registry)}** reports" in en
    assert str(years[0]) in en and str(years[-1]) in en and not CJK.search(en)
    if len({r.level for r in registry}) > 1 or len(years) > 1:
        assert "不宜直接比较" in zh and "do not compare directly" in en
