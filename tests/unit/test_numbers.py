"""The one number formatter (core.numbers) and the one vocabulary (core.vocab): a table of cases."""

from __future__ import annotations

import pytest

from vqr_analysis.core.errors import VqrError
from vqr_analysis.core.numbers import change, format_number, format_value, unit_kind
from vqr_analysis.core.vocab import LANGS, MISSING, check_lang, say


@pytest.mark.parametrize("value,unit,qualifier,lang,expected", [
    (288309, "人", None, "zh", "288,309 人"),
    (288309.0, "人", None, "en", "288,309"),                 # counts need no unit word in English
    (123333.333333, "平方米", None, "zh", "123,333 平方米"),   # 亩 → 平方米: no float noise
    (16.85, "ratio", None, "zh", "16.9:1"),                    # ratios as N:1, one decimal
    (51, "ratio", None, "zh", "51:1"),
    (79.41, "%", None, "zh", "79.41%"),
    (79.4, "%", None, "en", "79.4%"),                          # no trailing zero
    (0.1 + 0.2, "%", None, "zh", "0.3%"),                      # float noise
    (181754.5, "元/生", None, "zh", "181,754.5 元/生"),
    (18967.3836, "万元", None, "zh", "18,967.38 万元"),
    (18967.3836, "万元", None, "en", "18,967.38 ×10k yuan"),
    (290420000.0, "元/生", None, "zh", "290,420,000 元/生"),    # never 2.9042e+08
    (300, "人", "approximate", "zh", "约300 人"),
    (3300, "人", "lower_bound", "zh", "3,300 人以上"),
    (0.5, "个", None, "zh", "0.5 个"),                          # a small non-whole count keeps its decimals
    (None, "人", None, "zh", "未报告"),                         # one wording for missing
    (None, "%", None, "en", "not reported"),
    (-0.0, "%", None, "zh", "0%"),
])
def test_format_value_cases(value, unit, qualifier, lang, expected):
    assert format_value(value, unit, qualifier, lang=lang) == expected


@pytest.mark.parametrize("unit,kind", [("%", "share"), ("ratio", "ratio"), ("元/生", "per_student"),
                                       ("册/生", "per_student"), ("万元", "money"), ("平方米", "area"),
                                       ("人", "count"), ("学时", "count"), (None, "count")])
def test_unit_kinds(unit, kind):
    assert unit_kind(unit) == kind


@pytest.mark.parametrize("before,after,unit,lang,value,points,text", [
    (1, 0, "%", "zh", -1, True, "−1 个百分点"),               # never −100 %
    (79.41, 81.91, "%", "en", 2.5, True, "+2.5 pp"),
    (16.5, 17.7, "ratio", "zh", 1.2, True, "+1.2"),
    (1000, 1100, "人", "zh", 10, False, "+100 人（+10%）"),     # counts: per cent and absolute
    (1200, 900, "人", "en", -25, False, "−300 (−25%)"),
    (0, 5, "项", "zh", None, False, "+5 项"),                  # zero base: the difference only
    (5, 5, "%", "zh", 0, True, "±0 个百分点"),
    (None, 5, "%", "zh", None, False, "未报告"),
])
def test_changes_are_points_for_shares_and_percent_plus_absolute_for_counts(before, after, unit, lang, value,
                                                                           points, text):
    got = change(before, after, unit, lang=lang)
    assert got.text == text and got.in_points is points
    assert (got.value is None and value is None) or got.value == pytest.approx(value)


def test_format_number_keeps_none_and_never_uses_exponents():
    assert format_number(None) is None
    assert "e" not in format_number(1e15, "人")


def test_one_language_check():
    assert LANGS == ("zh", "en") and check_lang("en") == "en"
    with pytest.raises(VqrError, match="unknown lang 'fr'; use one of zh, en"):
        check_lang("fr")
    assert say(*MISSING, "zh") == "未报告 / not reported" and say(*MISSING, "en") == "not reported"
