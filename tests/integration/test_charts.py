"""Chart builders on the real database: theme, languages, missing-as-missing, tooltips, comparability marks."""

from __future__ import annotations

import json

import polars as pl
import pytest

from vqr_analysis.core.numbers import unit_kind

import vqr_analysis as vqr
from vqr_analysis import charts
from vqr_analysis.core.errors import VqrError


def _walk(node):
    """Every dict in a Vega-Lite spec (layers, concats, facets …)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _datasets(spec: dict) -> list[dict]:
    return [row for rows in spec.get("datasets", {}).values() for row in rows]


def _subtitles(spec: dict) -> str:
    return json.dumps([n.get("subtitle") for n in _walk(spec) if isinstance(n, dict) and "subtitle" in n],
                      ensure_ascii=False)


@pytest.fixture(scope="module")
def all_values(built_db):
    return vqr.values(db=built_db)


@pytest.fixture(scope="module")
def mixed_code(all_values):
    """An indicator reported by regions of both education levels (the comparability mark must show)."""
    reported = all_values.filter(pl.col("value").is_not_null())
    mixed = reported.group_by("indicator_code").agg(pl.col("level").n_unique().alias("n"), pl.len().alias("rows")) \
        .filter(pl.col("n") > 1).sort("rows", "indicator_code", descending=[True, False])
    return mixed.item(0, "indicator_code")


@pytest.fixture(scope="module")
def builders(built_db, all_values, mixed_code):
    """Every builder, called on the frame it documents, in both languages."""
    two_years = all_values.group_by("region").agg(pl.col("year").n_unique().alias("n")) \
        .filter(pl.col("n") > 1).sort("region")
    region = two_years.item(0, "region") if two_years.height else all_values.item(0, "region")
    own_codes = all_values.filter(pl.col("region") == region).get_column("indicator_code").unique().to_list()

    def make(lang):
        return {
            "across": charts.indicator_across_regions(vqr.compare([mixed_code], db=built_db), lang=lang),
            "vs": charts.region_vs_others(vqr.compare(own_codes, db=built_db), region, lang=lang),
            "change": charts.two_year_change(vqr.values(region, db=built_db), lang=lang),
            "teacher": charts.teacher_structure(vqr.compare(charts.TEACHER_CODES, db=built_db), lang=lang),
            "dest": charts.graduate_destinations(vqr.compare(charts.DESTINATION_CODES, db=built_db), lang=lang),
            "sat": charts.satisfaction_panel(vqr.compare(charts.SATISFACTION_CODES, db=built_db), lang=lang),
        }

    return {"zh": make("zh"), "en": make("en")}


def test_every_builder_produces_a_valid_spec_with_inline_data_only(builders):
    for lang, made in builders.items():
        for name, chart in made.items():
            spec = charts.to_spec(chart)
            assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v6"), name
            # No outside data: every data reference is inline (datasets/values), never a URL.
            assert not any("url" in node for node in _walk(spec) if isinstance(node, dict)), (lang, name)
            assert "Noto Sans CJK SC" == spec["config"]["font"].split(",")[0], name


def test_import_leaves_altair_alone_and_charts_carry_the_style(built_db):
    """Importing charts changes no Altair setting; a built chart carries the house style itself and turns on
    the vqr renderer (JSON + SVG), unless the user chose another renderer."""
    import subprocess
    import sys

    code = f"""
import altair as alt
before = (alt.renderers.active, alt.theme.active)
import vqr_analysis as vqr
from vqr_analysis import charts
assert (alt.renderers.active, alt.theme.active) == before, "import changed Altair"
chart = charts.indicator_across_regions(vqr.compare(["student_teacher_ratio"], db={str(built_db)!r}))
assert chart.to_dict()["config"]["font"].startswith("Noto Sans CJK SC")
assert alt.renderers.active == "vqr" and alt.theme.active == before[1]
alt.renderers.enable("html")
charts.indicator_across_regions(vqr.compare(["student_teacher_ratio"], db={str(built_db)!r}))
assert alt.renderers.active == "html", "a user's renderer was overridden"
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_labels_follow_lang(builders, built_db, mixed_code):
    zh = charts.to_spec(builders["zh"]["across"])
    en = charts.to_spec(builders["en"]["across"])
    labels_zh = {row["indicator_label"] for row in _datasets(zh)}
    labels_en = {row["indicator_label"] for row in _datasets(en)}
    info = vqr.indicators(db=built_db).filter(pl.col("code") == mixed_code).row(0, named=True)
    assert labels_zh == {info["name_zh"]} and labels_en == {info["name_en"]}
    assert "未报告" in json.dumps(zh, ensure_ascii=False) or all(r["present"] for r in _datasets(zh))
    assert "学段" in json.dumps(zh, ensure_ascii=False) and "Level" in json.dumps(en)


def test_mixed_levels_are_marked_in_the_subtitle(builders):
    assert "混合学段" in _subtitles(charts.to_spec(builders["zh"]["across"]))
    assert "Mixed levels" in _subtitles(charts.to_spec(builders["en"]["across"]))


def test_no_mark_when_the_values_are_comparable(built_db, all_values):
    one_region = all_values.filter(pl.col("value").is_not_null()).item(0, "region")
    code = all_values.filter((pl.col("region") == one_region) & pl.col("value").is_not_null()).item(0, "indicator_code")
    frame = vqr.compare([code], [one_region], db=built_db)
    assert charts.comparability_note(frame) == []
    assert "⚠" not in _subtitles(charts.to_spec(charts.indicator_across_regions(frame)))


def test_missing_values_are_drawn_as_missing_not_zero(built_db, mixed_code):
    frame = vqr.compare([mixed_code], db=built_db)
    spec = charts.to_spec(charts.indicator_across_regions(frame))
    rows = _datasets(spec)
    missing = [r for r in rows if not r["present"]]
    assert len(missing) == frame.filter(pl.col("value").is_null()).height
    assert all(r["value"] is None and r["value_text"] == "未报告" for r in missing)
    # Bars only ever draw reported rows; the missing rows get a hollow point and text instead.
    layers = [n for n in _walk(spec) if isinstance(n, dict) and "mark" in n]
    bar_layers = [n for n in layers if (n["mark"] if isinstance(n["mark"], str) else n["mark"]["type"]) == "bar"]
    assert bar_layers and all({"filter": "datum.present"} in n.get("transform", []) for n in bar_layers)
    hollow = [n for n in layers if isinstance(n["mark"], dict) and n["mark"].get("filled") is False]
    assert hollow and all({"filter": "!datum.present"} in n.get("transform", []) for n in hollow)


def test_tooltips_carry_quote_and_source(builders, all_values):
    spec = charts.to_spec(builders["zh"]["across"])
    fields = {t["field"] for n in _walk(spec) if isinstance(n, dict) and "tooltip" in n
              and isinstance(n["tooltip"], list) for t in n["tooltip"]}
    assert {"quote_short", "source", "value_text", "year_text", "level_label"} <= fields
    reported = [r for r in _datasets(spec) if r["present"]]
    for row in reported:
        path, line = row["source"].rsplit(":", 1)
        match = all_values.filter((pl.col("source_file") == path) & (pl.col("line") == int(line)))
        assert match.height >= 1
        assert row["quote_short"].rstrip("…")[:20] in " ".join(match.get_column("quote").str.replace_all(r"\s+", " "))


def test_two_year_change_compares_the_two_latest_years(built_db, all_values):
    pairs = all_values.filter(pl.col("value").is_not_null()).group_by("region", "indicator_code") \
        .agg(pl.col("year").n_unique().alias("n")).filter(pl.col("n") == 2).sort("region", "indicator_code")
    if pairs.is_empty():
        pytest.skip("no report states an indicator for two years")
    region = pairs.item(0, "region")
    spec = charts.to_spec(charts.two_year_change(vqr.values(region, db=built_db), top=None))
    rows = {r["indicator_code"]: r for r in _datasets(spec) if "change" in r}
    mine = all_values.filter(pl.col("region") == region)
    for code in pairs.filter(pl.col("region") == region).get_column("indicator_code").to_list()[:10]:
        pair = mine.filter(pl.col("indicator_code") == code).sort("year")
        vals, unit = pair.get_column("value").to_list(), pair.item(0, "unit")
        if unit_kind(unit) in ("share", "ratio"):  # shares and ratios change in points, not per cent
            assert rows[code]["change"] == pytest.approx(vals[1] - vals[0])
        elif vals[0]:
            assert rows[code]["change"] == pytest.approx((vals[1] - vals[0]) / abs(vals[0]) * 100)


def test_two_year_change_without_two_years_says_so(built_db, all_values):
    single = all_values.group_by("region").agg(pl.col("year").n_unique().alias("n")).filter(pl.col("n") == 1)
    if single.is_empty():
        pytest.skip("every report states two years")
    spec = charts.to_spec(charts.two_year_change(vqr.values(single.item(0, "region"), db=built_db)))
    assert _datasets(spec) == [] and "报告没有给出两个学年的数值" in json.dumps(spec, ensure_ascii=False)
    assert "（→）" not in json.dumps(spec, ensure_ascii=False)  # no title with empty years


def test_graduate_destinations_shares_add_up(built_db):
    frame = vqr.compare(charts.DESTINATION_CODES, db=built_db)
    spec = charts.to_spec(charts.graduate_destinations(frame))
    # The chart stacks the counts normalised; the tooltip's share text is what a reader sees (one decimal).
    parts = [r for r in _datasets(spec) if "share_text" in r]
    if not parts:
        pytest.skip("no report states the three-sector breakdown")
    for region in {r["region_label"] for r in parts}:
        shares = [float(r["share_text"].rstrip("%")) for r in parts if r["region_label"] == region]
        assert sum(shares) == pytest.approx(100, abs=0.15)


def test_bad_inputs_are_clear_errors(built_db, mixed_code):
    frame = vqr.compare([mixed_code], db=built_db)
    with pytest.raises(VqrError, match="unknown lang"):
        charts.indicator_across_regions(frame, lang="fr")
    with pytest.raises(VqrError, match="not in the frame"):
        charts.indicator_across_regions(frame, code="graduates_nonexistent")
    with pytest.raises(VqrError, match="lacks column"):
        charts.indicator_across_regions(pl.DataFrame({"x": [1]}))


def test_png_and_svg_render_with_chinese_labels(builders, tmp_path):
    svg = charts.to_svg(builders["zh"]["teacher"])
    assert svg.startswith("<svg") and "师资结构" in svg
    png = charts.to_png(builders["zh"]["across"], tmp_path / "across.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_notebook_mimebundle_has_vegalite_json_and_png(builders):
    """JupyterLab 4 draws Vega-Lite 5 (trusted or not); viewers without Vega show the PNG (an SVG would be
    blocked in an untrusted notebook)."""
    import base64

    bundle = builders["zh"]["dest"]._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    assert charts.VEGALITE_MIMETYPE == "application/vnd.vegalite.v5+json" and "image/svg+xml" not in bundle
    assert bundle[charts.VEGALITE_MIMETYPE]["$schema"].endswith("/v5.json")
    assert base64.b64decode(bundle["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert bundle["text/plain"].startswith("<图表 / chart:")


def test_highlight_marks_one_region(built_db, registry):
    frame = vqr.compare(charts.TEACHER_CODES, db=built_db)
    spec = charts.to_spec(charts.teacher_structure(frame, highlight=registry[1].region))
    labels = {r["region_label"] for r in _datasets(spec)}
    assert f"▶ {registry[1].region_zh}" in labels
    assert not any(label.startswith("▶") for label in labels - {f"▶ {registry[1].region_zh}"})


# ------------------------------------------------------------------------------------------- page weight


def _field_refs(spec: dict) -> set[str]:
    """Fields named by encodings and tooltips (test-side reading of the spec, independent of charts.py)."""
    return {n["field"] for n in _walk(spec) if isinstance(n, dict) and isinstance(n.get("field"), str)}


def _normalised_svg(spec: dict) -> str:
    import re

    import vl_convert as vlc

    # vl-convert numbers clip paths and gradients per process, not per chart.
    svg = vlc.vegalite_to_svg(spec, vl_version=charts._vl_version(), allowed_base_urls=[])
    return re.sub(r"(clip|gradient_)\d+", r"\1", svg)


def test_trimmed_charts_draw_exactly_what_the_full_data_draws(builders):
    """Cutting the inline data to the used fields changes nothing a reader sees (SVG incl. aria labels)."""
    for name, chart in builders["zh"].items():
        full, trimmed = chart.to_dict(), charts.to_spec(chart)
        assert _normalised_svg(trimmed) == _normalised_svg(full), name
        assert len(json.dumps(trimmed)) <= len(json.dumps(full)), name


def test_trimmed_data_keeps_encoded_and_tooltip_fields_only(builders):
    derived = {"zero", "label_x", "part_order"}  # made by calculate transforms inside the spec
    for lang, made in builders.items():
        for name, chart in made.items():
            spec = charts.to_spec(chart)
            rows = _datasets(spec)
            if not rows:
                continue
            columns = set().union(*rows)
            used = _field_refs(spec) - derived
            assert used <= columns, (lang, name, used - columns)
            # Only what is drawn, shown on hover or filtered on, plus the code and number the site's CSV needs.
            assert columns - used <= {"indicator_code", "value", "present", "focal"}, (lang, name, columns - used)
            assert not columns & {"report_id", "region", "level", "unit", "label", "quote"}, (lang, name)


def test_provenance_tooltip_survives_trimming(builders):
    for name, chart in builders["zh"].items():
        spec = charts.to_spec(chart)
        tips = {t["field"] for n in _walk(spec) if isinstance(n, dict) and isinstance(n.get("tooltip"), list)
                for t in n["tooltip"]}
        reported = [r for r in _datasets(spec) if r.get("present", True) and "source" in r]
        if reported:
            assert {"quote_short", "source"} <= tips, name
            assert all(":" in r["source"] and r["quote_short"] for r in reported), name


def test_region_vs_others_embeds_only_reported_values(builders):
    rows = _datasets(charts.to_spec(builders["zh"]["vs"]))
    assert rows and all(r["value"] is not None for r in rows)


def test_renderer_output_is_trimmed_too(builders):
    bundle = builders["zh"]["vs"]._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    assert bundle[charts.VEGALITE_MIMETYPE]["datasets"] == charts.to_spec(builders["zh"]["vs"])["datasets"]


def test_every_codebook_unit_reads_in_english(codebook):
    """lang='en' never leaves a Chinese unit after a number."""
    import re

    units = sorted({indicator.unit for indicator in codebook})
    assert units
    frame = pl.DataFrame({"value": [1.5] * len(units), "unit": units})
    texts = frame.select(charts.value_text(lang="en")).to_series().to_list()
    assert not [t for t in texts if re.search(r"[\u4e00-\u9fff]", t)]


def test_suspect_values_are_marked_not_drawn_as_plain_values(built_db):
    """A value a quality rule flagged keeps its bar but says so in its label (and is drawn pale)."""
    frame = vqr.compare(["student_teacher_ratio"], db=built_db)
    suspect = frame.filter(pl.col("status") == "suspect").get_column("region").to_list()
    assert suspect, "the real reports hold at least one flagged student-teacher ratio"
    spec = charts.to_spec(charts.indicator_across_regions(frame))
    rows = [r for r in _datasets(spec) if r.get("indicator_code") == "student_teacher_ratio"]
    assert rows
    for row in rows:
        assert ("存疑" in row["value_text"]) == (row["status"] == "suspect"), row
    assert "datum.status === 'suspect'" in json.dumps(spec)
