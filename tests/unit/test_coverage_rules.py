"""The coverage ledger's context rules (data/ledger_rules.toml) on a table of cases, and the rules loader.

Each case is a short text (sentences cut from the five reports, or shaped like them) and one number in it:
the reason the ledger must give it, or None when the number states a quantity and must stay unread."""

from __future__ import annotations

import pytest

from support.paths import DATA
from vqr_analysis.core.errors import VqrError
from vqr_analysis.extract.model import Observation
from vqr_analysis.quality.coverage import ledger_rows, load_ledger_rules, number_spans
from vqr_analysis.sources.textnorm import logical_text

RULES = load_ledger_rules(DATA / "ledger_rules.toml")

# (text, the number as printed, which occurrence of it (0 = first), expected reason or None = unread)
CASES = [
    # dates and years
    ("2023年，高职毕业生有883人走上创业之路。", "2023", 0, "date"),
    ("2022—2023 学年，学院生师比 17.7。", "2022", 0, "date"),
    ("2022—2023 学年，学院生师比 17.7。", "2023", 0, "date"),
    ("截止 2023 年 8 月底，全区 29 所高等职业学校。", "8", 0, "date"),
    ("以2022年9月1日至2023年8月31日期间的数据。", "1", 0, "date"),
    ("以2022年9月1日至2023年8月31日期间的数据。", "31", 0, "date"),
    ("其他创业培训 2023-05 130 人。", "2023", 0, "date"),
    ("其他创业培训 2023-05 130 人。", "05", 0, "date"),
    ("职业教育质量报告（2023 年度）编制。", "2023", 0, "date"),
    ("组织学生开展为期3个月的顶岗实习。", "3", 0, None),  # a duration, not a month
    # document numbers and codes
    ("（教职成司函〔2023〕28 号）和兵团教育局有关要求", "2023", 0, "document_number"),
    ("（教职成司函〔2023〕28 号）和兵团教育局有关要求", "28", 0, "document_number"),
    ("《实施意见》（塔地教[2017]38号）文件要求", "38", 0, "document_number"),
    ("新疆生产建设兵团第十师北屯市代码 659005", "659005", 0, "code"),
    # sections, lists, captions, tables of contents
    ("前言\n1.基本情况\t1\n1.1 院校概况\t1", "1.1", 0, "section"),
    ("前言\n1.基本情况\t1\n1.1 院校概况\t1", "1", 0, "section"),
    ("前言\n1.基本情况\t1\n1.1 院校概况\t1", "1", 1, "page"),
    ("图 2-23 调研金风科技和东方电气", "2", 0, "section"),
    ("图 2-23 调研金风科技和东方电气", "23", 0, "section"),
    ("【案例8】聚力品牌建设", "8", 0, "section"),
    ("一是（1）强化管理；（2）完善制度。", "2", 0, "section"),
    ("序号\t指标\t单位\t2023 年\n4\t专业数量\t个\t27", "4", 0, "section"),
    ("序号\t指标\t单位\t2023 年\n4\t专业数量\t个\t27", "27", 0, None),  # the cell value itself
    ("13 个专业通过验收，覆盖全部县市。", "13", 0, None),
    ("学校组织学生代表 89 名同学参观。", "89", 0, None),  # '代表' ends in 表 but is no table
    ("详见表 3 教学资源表。", "3", 0, "section"),  # a wrapped line opening with a count
    # ranks and ordinals
    ("在全国比赛中获得第3名，", "3", 0, "rank"),
    ("在线精品课程数量排名前 10 院校", "10", 0, "rank"),
    ("获自治区特等奖 1 项，1 等奖 1 个。", "1", 1, "rank"),
    # changes
    ("教职工满意度 95.47%，较 2022 年增加 3 个百分点。", "3", 0, "change"),
    ("教职工满意度 95.47%，较 2022 年增加 3 个百分点。", "95.47", 0, None),
    ("课证融通课程数 2768 门，较 2022 年增加 731 门，增长 35.89%。", "731", 0, "change"),
    ("课证融通课程数 2768 门，较 2022 年增加 731 门，增长 35.89%。", "35.89", 0, "change"),
    ("课证融通课程数 2768 门，较 2022 年增加 731 门，增长 35.89%。", "2768", 0, None),
    ("就业率提高到 95%。", "95", 0, None),  # the new level, not the change
    ("较2022年的93%上升。", "93", 0, None),  # a previous year's value
    # ranges and buckets
    ("月收入 4000-5000 元的毕业生占 32%。", "4000", 0, "range"),
    ("月收入 4000-5000 元的毕业生占 32%。", "5000", 0, "range"),
    ("月收入 4000-5000 元的毕业生占 32%。", "32", 0, None),
    ("月收入3000元以上的占45%。", "3000", 0, "range"),
    # names and markup
    ("推动“1+X”证书制度试点。", "1", 0, "name"),
    ("建设 5G 智慧校园。", "5", 0, "name"),
    ("[bookmark: _Toc515792976]深化教育教学帮扶。", "515792976", 0, "markup"),
    # quantities stay unread
    ("全日制在校生 3858 人，教职工 599 人。", "599", 0, None),
    ("其中地方生源占比约82.6%，", "82.6", 0, None),
    ("学生机房12间，电脑共计618台。", "618", 0, None),
    ("生师比 16.85: 1", "16.85", 0, None),
]


def _reason(text: str, raw: str, occurrence: int) -> str | None:
    lines = text.split("\n")
    rows = ledger_rows("t", lines, logical_text(lines), [], RULES)
    matching = [r for r in rows if r.raw == raw]
    assert len(matching) > occurrence, f"{raw!r} is not printed {occurrence + 1} time(s) in {text!r}: {rows}"
    row = matching[occurrence]
    assert (row.cls == "context") == (row.reason is not None)
    return row.reason


@pytest.mark.parametrize("text,raw,occurrence,expected", CASES, ids=[f"{c[1]}@{c[0][:14]}" for c in CASES])
def test_context_rule(text, raw, occurrence, expected):
    assert _reason(text, raw, occurrence) == expected


def test_every_reason_is_tested_and_has_a_legend():
    tested = {c[3] for c in CASES} - {None}
    assert tested == set(RULES.reasons), set(RULES.reasons) ^ tested
    assert all(r.zh and r.en for r in RULES.reasons.values())


def test_numbers_are_found_as_printed():
    line = "全日制在校生３８５８人，年财政专项经费4651,60万元，生师比20.05:1，共1,348人；3858，1200"
    spans = number_spans(line)
    assert [raw for _, raw in spans] == ["３８５８", "4651,60", "20.05", "1,348", "3858", "1200"]
    assert all(line[pos:pos + len(raw)] == raw for pos, raw in spans)


def test_an_extracted_number_names_its_observations_and_equal_cells_go_to_their_own_observation():
    lines = ["网络教学课程数\t门\t0\t0", "学生机房12间，电脑共计618台。"]

    def obs(obs_id, line, raw, method="table", label="网络教学课程数"):
        return Observation(report_id="t", source_sha256="x", indicator_code="c", year=2023, value=float(raw),
                           unit="门", raw=raw, line=line, quote=lines[line - 1], status="reported", method=method,
                           extractor_version="0", label=label, obs_id=obs_id)

    observations = [obs(1, 1, "0"), obs(2, 1, "0"), obs(3, 2, "618", "prose", "电脑共计"),
                    obs(4, 2, "618", "correction", "电脑共计")]
    rows = ledger_rows("t", lines, logical_text(lines), observations, RULES)
    by_pos = {(r.line, r.position): r for r in rows}
    assert by_pos[1, 10].obs_ids == [1] and by_pos[1, 12].obs_ids == [2]
    assert by_pos[2, 12].obs_ids == [3, 4]  # the correction joins the number it corrects
    assert by_pos[2, 4].cls == "unread"


@pytest.mark.parametrize("toml,message", [
    ('[reasons.date]\nzh="日期"\nen="date"\n[[rule]]\nreason="date"\npattern="{N}年"\nlevel=1\n', "unknown key"),
    ('[reasons.date]\nzh="日期"\nen="date"\ncolour="red"\n', "unknown key"),
    ('[[rule]]\nreason="nope"\npattern="{N}"\n', "unknown reason"),
    ('[reasons.date]\nzh="日期"\nen="date"\n[[rule]]\nreason="date"\npattern="年"\n', "exactly once"),
    ('[reasons.date]\nzh="日期"\nen="date"\n[[rule]]\nreason="date"\npattern="({N}"\n', "does not compile"),
    ('[reasons.date\n', "not valid TOML"),
])
def test_bad_rules_are_one_clear_error(tmp_path, toml, message):
    path = tmp_path / "ledger_rules.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(VqrError, match=message):
        load_ledger_rules(path)
