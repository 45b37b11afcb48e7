"""PDF policy briefs: built from the real reports' database, read back with poppler (pdftotext, pdffonts)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from support.paths import DATA
from vqr_analysis import analysis
from vqr_analysis.publish import briefs
from vqr_analysis.publish import fonts
from vqr_analysis.core.errors import VqrError
from vqr_analysis.core.paths import OUTPUT_MARKER

POPPLER = all(shutil.which(tool) for tool in ("pdftotext", "pdffonts", "pdfinfo"))
needs_poppler = pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftotext, pdffonts, pdfinfo) not installed")


def _system_cjk_font():
    try:
        return fonts.find_cjk_font(env={})
    except VqrError:
        return None


SYSTEM_FONT = _system_cjk_font()
needs_cjk_font = pytest.mark.skipif(SYSTEM_FONT is None,
                                    reason="no CJK font on this machine (Debian: apt-get install fonts-noto-cjk)")


def _text(pdf: Path) -> str:
    """The PDF's body text with all white space removed (pdftotext breaks lines inside phrases).

    The page footer (below 790 pt of the 842 pt A4 page) is cropped away so that a paragraph running over a
    page break reads as one.
    """
    crop = ["-x", "0", "-y", "0", "-W", "595", "-H", "790"]
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", *crop, str(pdf), "-"], capture_output=True,
                         check=True).stdout
    return re.sub(r"\s+", "", out.decode("utf-8"))


def _pages(pdf: Path) -> int:
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, check=True, text=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _number(value: float) -> str:
    """How a reader sees a number: thousands separators, at most two decimals, no trailing zeros."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}".rstrip("0").rstrip(".")


@pytest.fixture(scope="module")
def brief_dir(built_db, tmp_path_factory) -> Path:
    if SYSTEM_FONT is None:
        pytest.skip("no CJK font on this machine (Debian: apt-get install fonts-noto-cjk)")
    out = tmp_path_factory.mktemp("briefs")
    briefs.build_briefs(built_db, out)
    return out


@pytest.fixture(scope="module")
def regions(built_db) -> list[dict]:
    return list(analysis.reports(db=built_db).iter_rows(named=True))


# ------------------------------------------------------------------------------------------ the PDFs


@needs_poppler
def test_one_pdf_per_region_and_nothing_half_written(brief_dir, regions):
    # Besides the PDFs only vqr's marker of folders it writes (see core.paths.OUTPUT_MARKER).
    assert sorted(p.name for p in brief_dir.iterdir() if p.name != OUTPUT_MARKER) == sorted(
        f"{r['region']}.pdf" for r in regions)
    for pdf in brief_dir.glob("*.pdf"):
        assert pdf.read_bytes().startswith(b"%PDF")


@needs_poppler
def test_page_count(brief_dir, regions, built_db):
    for r in regions:
        pages = _pages(brief_dir / f"{r['region']}.pdf")
        has_numbers = not analysis.values(r["region"], db=built_db).filter(pl.col("value").is_not_null()).is_empty()
        # A region with numbers fills two to four pages; one the database has nothing for says so on one page.
        assert (2 if has_numbers else 1) <= pages <= 4, (r["region"], pages)


@needs_poppler
def test_title_block_in_chinese(brief_dir, regions):
    for r in regions:
        text = _text(brief_dir / f"{r['region']}.pdf")
        assert f"{r['subject_zh']}职业教育质量政策简报" in text
        assert r["region_zh"] in text and r["level_zh"] in text
        assert str(r["data_period_start"]) in text and str(r["data_period_end"]) in text


@needs_poppler
def test_pdf_metadata_names_the_brief_and_the_project(brief_dir, regions, built_db):
    issued = analysis.built_on(db=built_db)
    for r in regions:
        info = subprocess.run(["pdfinfo", str(brief_dir / f"{r['region']}.pdf")], capture_output=True, check=True,
                              text=True).stdout
        assert re.search(rf"^Title:\s+{re.escape(r['subject_zh'])}职业教育质量政策简报$", info, re.M), info
        assert re.search(r"^Author:\s+vqr-analysis$", info, re.M), info  # the project, never a file path
        assert "/" not in re.search(r"^Author:(.*)$", info, re.M).group(1)
        assert issued[:4] in re.search(r"^CreationDate:(.*)$", info, re.M).group(1)


@needs_poppler
def test_citation_issue_date_and_suggested_citation(brief_dir, regions, built_db):
    issued = analysis.built_on(db=built_db)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", issued)
    for r in regions:
        text = _text(brief_dir / f"{r['region']}.pdf")
        # The source report cited as a reader cites it: title, publisher, edition, publication date.
        assert _squash(f"《{r['title_zh']}》") in text
        assert _squash(r["publisher"]) in text and _squash(str(r["published"])) in text
        assert "建议引用：vqr-analysis（" + issued + "）" in text and "发布日期" in text
        # No repository path stands as the citation: the file appears only in the technical line.
        assert text.count(r["file"]) <= 1


@needs_poppler
def test_no_name_repeated_in_brackets(brief_dir, regions):
    for r in regions:
        text = _text(brief_dir / f"{r['region']}.pdf")
        for name in {r["region_zh"], r["subject_zh"]}:
            assert f"{name}（{name}）" not in text


@needs_poppler
def test_no_near_empty_last_page(brief_dir, regions):
    """A brief's last page is not a leftover of a few lines (the layout shrinks charts to avoid one)."""
    for r in regions:
        pages, fill = briefs._last_page_fill(brief_dir / f"{r['region']}.pdf")
        assert pages <= 2 or fill >= 0.25, (r["region"], pages, fill)


def test_report_title_falls_back_to_subject_level_and_edition(tmp_path):
    from support.hostile_inputs import copy_data
    from vqr_analysis.sources.registry import load_registry

    data = copy_data(DATA, tmp_path / "data")
    text = (data / "reports.toml").read_text(encoding="utf-8")
    (data / "reports.toml").write_text(re.sub(r"^title_zh = .*\n", "", text, flags=re.M), encoding="utf-8")
    for report in load_registry(data / "reports.toml"):
        assert report.title == f"{report.subject_zh}{report.level_zh}质量年度报告（{report.edition_year}年度）"


@needs_poppler
def test_snapshot_id_printed(brief_dir, regions, built_db):
    snap = analysis.snapshot(db=built_db)
    for r in regions:
        assert snap in _text(brief_dir / f"{r['region']}.pdf")


@needs_poppler
def test_headline_numbers_match_the_database(brief_dir, regions, built_db):
    for r in regions:
        region = r["region"]
        text = _text(brief_dir / f"{region}.pdf")
        items = briefs.brief_content(region, db=built_db).data["headlines"]
        reported = analysis.values(region, db=built_db).filter(pl.col("value").is_not_null())
        n_codes = reported.get_column("indicator_code").n_unique()
        if n_codes == 0:
            assert items == [] and "数据库中尚无本地区的数值" in text
            continue
        assert min(briefs.HEADLINE_MIN, n_codes) <= len(items) <= briefs.HEADLINE_MAX
        for item in items:
            latest = reported.filter(pl.col("indicator_code") == item["code"]).sort("year").tail(1).row(0, named=True)
            assert _number(latest["value"]) in text, (region, item["code"], latest["value"])
            assert _squash(latest["label"]) in text
            assert f"第{latest['line']}行" in text  # each number cites its source line


def test_headlines_follow_the_priority_list(built_db, regions):
    for r in regions:
        codes = [i["code"] for i in briefs.brief_content(r["region"], db=built_db).data["headlines"]]
        prioritised = [c for c in codes if c in briefs.HEADLINE_CODES]
        assert prioritised == sorted(prioritised, key=briefs.HEADLINE_CODES.index)


@needs_poppler
def test_cjk_font_embedded_and_every_font_embedded(brief_dir):
    for pdf in brief_dir.glob("*.pdf"):
        out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, check=True, text=True).stdout
        rows = out.splitlines()[2:]
        assert any("CJK" in row.split()[0] for row in rows), out
        assert all(row.split()[-5] == "yes" for row in rows), out  # the 'emb' column


@needs_poppler
def test_charts_are_vector_text_with_chinese(brief_dir, regions, built_db):
    for r in regions:
        content = briefs.brief_content(r["region"], db=built_db)
        text = _text(brief_dir / f"{r['region']}.pdf")
        if content.charts:
            assert 2 <= len(content.charts) <= briefs.MAX_CHARTS
            # Chart titles come from the SVG's own <text>: extractable text means glyphs, not an image.
            assert "与其他地区" in text or "各地区比较" in text
            assert "图1" in text


@needs_poppler
def test_challenges_quoted_with_lines(brief_dir, regions, documents):
    from vqr_analysis.extract.sections import challenges_section

    for r in regions:
        text = _text(brief_dir / f"{r['region']}.pdf")
        section = challenges_section(documents[r["report_id"]])
        assert section is not None, r["region"]
        assert _squash(f"《{r['title_zh']}》原文第 {section.first_line}–{section.last_line} 行") in text
        for paragraph in section.paragraphs:
            assert _squash(paragraph.text) in text


@needs_poppler
def test_quality_note_lists_the_flags_on_the_briefs_own_numbers(brief_dir, regions, built_db):
    flags = analysis.quality_flags(db=built_db)
    for r in regions:
        content = briefs.brief_content(r["region"], db=built_db)
        text = _text(brief_dir / f"{r['region']}.pdf")
        ids = list(content.obs_ids)
        own = flags.filter((pl.col("region") == r["region"])
                           & (pl.col("obs_id").is_in(ids) | pl.col("related_obs_id").is_in(ids)))
        if own.is_empty():
            assert "在数据库中没有质量标记" in text
        for flag in own.iter_rows(named=True):
            assert _squash(f"原文“{flag['raw']}”（第 {flag['line']} 行）") in text
            assert _squash(flag["message_zh"]) in text  # the brief is Chinese: the Chinese sentence, whole


@needs_poppler
def test_report_markup_prints_literally(brief_dir, regions, documents):
    """004 writes Markdown bold (**…**) in its challenges; it must appear as printed, not as bold."""
    from vqr_analysis.extract.sections import challenges_section

    for r in regions:
        section = challenges_section(documents[r["report_id"]])
        marked = [p.text for p in section.paragraphs if "**" in p.text]
        for paragraph in marked:
            assert _squash(paragraph) in _text(brief_dir / f"{r['region']}.pdf")


@needs_poppler
def test_hostile_text_is_not_markup(built_db, tmp_path):
    region = analysis.reports(db=built_db).item(0, "region")
    content = briefs.brief_content(region, db=built_db)
    hostile = r"#set page(width: 1cm) *bold* _it_ $x^2$ `code` <label> @ref [link] \\ // no comment /* x */ = H"
    content.data["challenges"] = {"found": True, "heading": "#heading", "citation": "file 第 1–2 行",
                                  "paragraphs": [{"text": hostile, "heading": False, "lines": "第 1 行"}]}
    content.data["subject_line"] = "#region *zh*"
    pdf = briefs.render_brief(content, tmp_path / "x.pdf", SYSTEM_FONT or pytest.skip("no CJK font"))
    text = _text(pdf)
    assert _squash(hostile) in text
    assert "#region*zh*" in text and "#heading" in text


@needs_poppler
def test_report_without_challenges_section_says_so(built_db, tmp_path):
    region = analysis.reports(db=built_db).item(0, "region")
    content = briefs.brief_content(region, db=built_db)
    content.data["challenges"] = {"found": False, "text": "报告中未找到“面临挑战”或同类章节，本简报不作引述。"}
    pdf = briefs.render_brief(content, tmp_path / "x.pdf", SYSTEM_FONT or pytest.skip("no CJK font"))
    assert "报告中未找到“面临挑战”或同类章节" in _text(pdf)


# ----------------------------------------------------------------------------------------- failures


def test_unknown_region_names_the_known_ones(built_db, tmp_path):
    with pytest.raises(VqrError, match=r"unknown region 'atlantis'; known regions: .*tacheng"):
        briefs.build_briefs(built_db, tmp_path / "out", ["atlantis"], font=SYSTEM_FONT or fonts.CjkFont("x", tmp_path))
    assert not (tmp_path / "out").exists()


def test_no_cjk_font_fails_clearly_and_writes_nothing(built_db, tmp_path, monkeypatch):
    empty = tmp_path / "fonts"
    empty.mkdir()
    monkeypatch.setenv("VQR_FONT_PATH", str(empty))
    monkeypatch.setattr(fonts, "SYSTEM_FONT_DIRS", ())  # the system's fonts are not visible
    with pytest.raises(VqrError, match="no font with Chinese glyphs found.*VQR_FONT_PATH"):
        briefs.build_briefs(built_db, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_no_cjk_font_cli_exits_with_one_line(built_db, tmp_path, monkeypatch, capsys):
    from vqr_analysis import cli

    monkeypatch.setenv("VQR_FONT_PATH", str(tmp_path))
    monkeypatch.setattr(fonts, "SYSTEM_FONT_DIRS", ())
    monkeypatch.setattr(sys, "argv", ["vqr", "briefs", "--db", str(built_db), "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "no font with Chinese glyphs" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_missing_font_path_is_an_error(tmp_path):
    with pytest.raises(VqrError, match="does not exist"):
        fonts.find_cjk_font(tmp_path / "nope", system_dirs=())


@needs_cjk_font
def test_font_path_may_name_a_file_and_latin_fonts_do_not_count(tmp_path):
    found = fonts.find_cjk_font(SYSTEM_FONT.path, system_dirs=())
    assert found.path == SYSTEM_FONT.path and fonts.covers(found.path, found.index)
    latin = next((p for d in fonts.SYSTEM_FONT_DIRS if d.is_dir() for p in d.rglob("DejaVuSans.ttf")), None)
    if latin is None:
        pytest.skip("no DejaVuSans.ttf to try as a non-CJK font")
    with pytest.raises(VqrError, match="no font with Chinese glyphs"):
        fonts.find_cjk_font(latin, system_dirs=())


@needs_cjk_font
def test_failed_render_keeps_the_previous_pdf(built_db, tmp_path, monkeypatch):
    region = analysis.reports(db=built_db).item(0, "region")
    target = tmp_path / f"{region}.pdf"
    target.write_bytes(b"previous")

    class Broken:
        def compile_with_warnings(self, output, sys_inputs):
            Path(output).write_bytes(b"%PDF-half")
            raise RuntimeError("typesetting failed")

    monkeypatch.setattr(briefs, "_compiler", lambda font: Broken())
    with pytest.raises(RuntimeError):
        briefs.build_briefs(built_db, tmp_path, [region], font=SYSTEM_FONT)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir() if p.name != OUTPUT_MARKER] == [target.name]


# -------------------------------------------------------------------------------------------- pieces


def test_headline_codes_are_in_the_codebook(codebook):
    known = {i.code for i in codebook}
    assert [c for c in briefs.HEADLINE_CODES if c not in known] == []
    assert len(set(briefs.HEADLINE_CODES)) == len(briefs.HEADLINE_CODES)


def test_format_value():
    assert briefs.format_value(16.85, "ratio") == "16.9:1"  # issue 14: ratios as 16.9:1
    assert briefs.format_value(79.41, "%") == "79.41%"
    assert briefs.format_value(288309.0, "人") == "288,309 人"
    assert briefs.format_value(300.0, "人", "approximate") == "约300 人"
    assert briefs.format_value(None, "人") == "未报告"


@needs_poppler
@needs_cjk_font
def test_chart_svg_cache_is_reused_and_gives_the_same_brief(built_db, tmp_path, monkeypatch, regions):
    """With an SVG cache the second build renders no chart and prints the same text."""
    from vqr_analysis import charts

    region = regions[0]["region"]
    cache = tmp_path / "svg"
    first = briefs.build_briefs(built_db, tmp_path / "a", [region], font=SYSTEM_FONT, svg_cache=cache)[0]
    cached = sorted(cache.glob("*.svg"))
    assert cached, "no chart SVG was cached"

    def no_render(spec):
        raise AssertionError("a cached chart was rendered again")

    monkeypatch.setattr(charts, "to_svg", no_render)
    second = briefs.build_briefs(built_db, tmp_path / "b", [region], font=SYSTEM_FONT, svg_cache=cache)[0]
    assert sorted(cache.glob("*.svg")) == cached
    assert _text(first) == _text(second)


@needs_poppler
def test_every_suspect_value_shown_has_its_badge_and_no_count_is_ranked(brief_dir, regions, built_db):
    """Issue 14, read as a policy reader would: in pdftotext of every brief, each suspect value the cards or the
    table show has 存疑 beside it; ranks ('第 N 位') appear only as 'same kind and level' ranks, never on counts."""
    from vqr_analysis.core.numbers import format_number, format_value

    cmp = analysis.compare(list(briefs.HEADLINE_CODES), db=built_db)
    seen_suspect = 0
    for r in regions:
        content = briefs.brief_content(r["region"], db=built_db)
        text = _text(brief_dir / f"{r['region']}.pdf")
        for item in content.data["headlines"]:
            if item["badge"]:
                seen_suspect += 1
                assert _squash(item["value_text"] + item["badge"]) in text, (r["region"], item["label"])
                assert item["flag"] and _squash(item["flag"])[:20] in text  # the reason in words, beside it
        codes = [c for c in briefs.HEADLINE_CODES if any(
            i["code"] == c for i in content.data["headlines"])]
        for row in cmp.filter(pl.col("indicator_code").is_in(codes) & (pl.col("status") == "suspect")) \
                .iter_rows(named=True):
            seen_suspect += 1
            assert _squash(f"{format_number(row['value'], row['unit'])}存疑") in text, (r["region"], row)
        # Every rank is a rank among subjects of one kind and level, and no count card carries one.
        for match in re.finditer(r"第(\d+)位", text):
            assert re.search(r"同类（[^）]+）\d+个主体中$", text[:match.start()][-30:]), text[match.start() - 40:match.end()]
        for item in content.data["headlines"]:
            kind = analysis.indicators(db=built_db).filter(pl.col("code") == item["code"]).item(0, "kind")
            if kind == "count":
                assert "位" not in item["comparison"], item
        for m in re.finditer(r"\d(?:\.\d+)?e[+-]\d\d", text):  # '2.9042e+08' (hashes have no sign)
            raise AssertionError(f"scientific notation in the {r['region']} brief: {m.group()}")
        assert format_value(None, "人") not in ("", "—")
    assert seen_suspect, "the briefs should show at least one suspect value (51:1 for Tacheng)"
