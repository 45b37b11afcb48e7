"""The report's own '面临挑战' section, found by heading in the five real reports and in small cut-down texts."""

from __future__ import annotations

import re

import pytest

from vqr_analysis.extract.sections import CHALLENGE_HEADINGS, challenges_section, clean_line, find_section


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def sections(registry, documents):
    return {r.region: (documents[r.id], challenges_section(documents[r.id])) for r in registry}


def test_every_report_has_its_challenges_section(sections):
    for region, (doc, section) in sections.items():
        assert section is not None, region
        assert "面临挑战" in section.heading
        assert section.paragraphs, region
        assert 1 <= section.first_line < section.last_line <= len(doc.lines)


def test_paragraphs_are_the_reports_own_words_on_the_cited_lines(sections):
    for region, (doc, section) in sections.items():
        for p in section.paragraphs:
            source = _squash("".join(clean_line(line) for line in doc.lines[p.first_line - 1:p.last_line]))
            assert _squash(p.text) in source, (region, p)
            assert section.first_line < p.first_line <= p.last_line <= section.last_line


def test_outlook_is_not_quoted_as_a_challenge(sections):
    for region, (doc, section) in sections.items():
        assert not any("展望" in p.text for p in section.paragraphs if p.is_heading), region
        # The line after the section is the next heading (or the end): nothing of the section is cut off.
        after = [clean_line(x) for x in doc.lines[section.last_line:] if clean_line(x)]
        assert not after or "展望" in after[0] or re.match(r"^\d", after[0]), (region, after[:1])


def test_table_of_contents_entries_are_skipped(sections):
    doc, section = sections["tenth_division"]  # its contents list '8.1 面临挑战.....\t32' near the top
    toc = next(i for i, line in enumerate(doc.lines, 1) if "面临挑战" in line)
    assert section.heading_line > toc


def test_narrowest_matching_heading_is_taken(sections):
    doc, section = sections["tarim"]  # ' 7 面临挑战' then '7.1 面临挑战：…', then '7.2 未来展望：…'
    assert section.number == "7.1"
    headings = [p.text for p in section.paragraphs if p.is_heading]
    assert headings == ["挑战 1：师资队伍相对薄弱", "挑战 2：产教融合有待深入", "挑战 3：专业建设亟待加强"]


def test_hard_wrapped_lines_are_joined_into_paragraphs(sections):
    doc, section = sections["tarim"]
    first = next(p for p in section.paragraphs if not p.is_heading)
    assert first.last_line > first.first_line and first.text.startswith("学院青年教师多")
    assert first.text.endswith("后劲足。")


def test_export_markers_are_dropped_but_words_kept(sections):
    doc, section = sections["tacheng"]  # '[bookmark: _Toc8039_WPSOffice_Level2]    9.1面临挑战及应对措施'
    assert section.heading == "9.1面临挑战及应对措施"
    assert not any("[bookmark" in p.text for p in section.paragraphs)
    assert [p.text for p in section.paragraphs if p.is_heading][0] == "9.1.1校企深度合作的挑战及应对措施"


def test_long_numbered_list_items_do_not_end_the_section(sections):
    doc, section = sections["changji"]  # '1. 职业教育协同育人机制…' are long paragraphs, not headings
    assert [p.text[:2] for p in section.paragraphs] == ["1.", "2.", "3."]


def test_no_matching_heading_gives_none():
    lines = ["1 基本情况", "", "本年度学校发展良好。", "2 服务贡献", "", "开展培训。"]
    assert find_section(lines, CHALLENGE_HEADINGS) is None


def test_contents_list_alone_gives_none():
    lines = ["目录", "9. 挑战与展望\t84", "9.1 面临挑战\t84", "1 基本情况", "本年度学校发展良好。"]
    assert find_section(lines, ["面临挑战"]) is None


def test_section_ends_at_next_sibling_and_keeps_children():
    lines = ["3 面临挑战", "3.1 师资", "教师不足。", "3.2 经费", "经费紧张。", "4 未来展望", "继续努力。"]
    section = find_section(lines, ["面临挑战"])
    assert (section.heading_line, section.last_line) == (1, 5)
    assert [(p.text, p.is_heading) for p in section.paragraphs] == [
        ("3.1 师资", True), ("教师不足。", False), ("3.2 经费", True), ("经费紧张。", False)]
