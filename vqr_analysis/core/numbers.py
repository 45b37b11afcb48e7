"""The one number formatter of every surface (API display, notebooks, charts, site, briefs, flag messages).

In: a stored value, its codebook unit and qualifier. Out: the text a reader sees —

* thousands separators, never scientific notation, no float noise (亩 → 平方米 gives 123,333, not 123333.333333);
* decimals by the unit's kind (:func:`unit_kind`): whole numbers for counts and areas, up to two decimals for
  shares, money and per-student figures, one decimal for ratios, written '16.9:1';
* '%' attached to the number, any other unit after a space (English spells units out);
* one wording for a value that is not there (:data:`vocab.MISSING`);
* changes: percentage points for shares and ratios, per cent *and* the absolute difference for the rest
  (:func:`change`) — a share going from 1 % to 0 % is '−1 个百分点', never '−100%'.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vqr_analysis.core.vocab import MISSING, check_lang, pick

__all__ = ["unit_kind", "format_number", "format_value", "unit_text", "change", "Change", "UNITS_EN"]

# Stored units are the reports' Chinese units; English text spells them out (counts need no unit word).
UNITS_EN = {
    "人": "", "个": "", "门": "", "项": "", "本": "", "所": "", "人次": "", "万元": "×10k yuan", "元": "yuan",
    "元/生": "yuan/student", "个/生": "/student", "学时": "hours", "课时": "periods", "人日": "person-days",
    "台": "", "台/生": "computers/student", "册": "volumes", "册/生": "volumes/student", "平方米": "m²",
    "平方米/生": "m²/student",
    "元/生/年": "yuan/student/year", "亩": "mu", "Mbps": "Mbps",
}
# Most decimals shown per kind; trailing zeros are dropped ('79.4%', not '79.40%').
_DECIMALS = {"count": 0, "area": 0, "share": 2, "ratio": 1, "per_student": 2, "money": 2, "score": 2}
_QUALIFIER = {"approximate": (("约", ""), ("about ", "")), "lower_bound": (("", "以上"), ("at least ", "")),
              "upper_bound": (("", "以下"), ("at most ", ""))}


def unit_kind(unit: str | None) -> str:
    """The kind of figure a stored unit denotes: share, ratio, per_student, money, area or count."""
    unit = unit or ""
    if unit == "%":
        return "share"
    if unit == "ratio":
        return "ratio"
    if "/生" in unit:
        return "per_student"
    if unit in ("万元", "元"):
        return "money"
    if unit in ("平方米", "亩"):
        return "area"
    return "count"


def format_number(value: float | None, unit: str | None = None, *, decimals: int | None = None) -> str | None:
    """The number alone ('123,333', '16.9', '79.41'); None stays None. Decimals follow ``unit``'s kind unless
    ``decimals`` is given; a count that is not whole (an average) keeps up to two decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    value = float(value)
    places = decimals if decimals is not None else _DECIMALS[unit_kind(unit)] if unit is not None else 2
    if places == 0 and abs(value) < 100 and not value.is_integer():
        places = 2  # 0.5 个/校 must not read as 0 or 1
    text = f"{value:,.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def unit_text(unit: str | None, lang: str = "zh") -> str:
    """The unit as printed after a number: nothing for a ratio; in English, spelled out."""
    if not unit or unit == "ratio":
        return ""
    return UNITS_EN.get(unit, unit) if check_lang(lang) == "en" else unit


def format_value(value: float | None, unit: str | None = None, qualifier: str | None = None, *,
                 lang: str = "zh", missing: str | None = None) -> str:
    """A value as a reader expects it: '16.9:1', '79.41%', '288,309 人', '约300 人'; None → '未报告'."""
    number = format_number(value, unit)
    if number is None:
        return missing if missing is not None else pick(MISSING, lang)
    if unit == "ratio":
        text = f"{number}:1"
    elif unit == "%":
        text = f"{number}%"
    else:
        text = f"{number} {unit_text(unit, lang)}".strip()
    words = _QUALIFIER.get(qualifier or "exact")
    if words:
        before, after = words[1] if lang == "en" else words[0]
        text = f"{before}{text}{after}"
    return text


@dataclass(frozen=True)
class Change:
    """A change between two values: ``value`` in percentage points (``in_points``) or per cent, the absolute
    difference in the unit, and the text ('+2.5 个百分点', '+1,200 人（+5.3%）')."""

    value: float | None
    absolute: float | None
    in_points: bool
    text: str


def change(before: float | None, after: float | None, unit: str | None, *, lang: str = "zh") -> Change:
    """How ``after`` differs from ``before``: shares and ratios in percentage points (points of the ratio),
    counts and amounts in per cent and in absolute terms. A zero base has no per cent, only the difference."""
    check_lang(lang)
    if before is None or after is None:
        return Change(None, None, False, pick(MISSING, lang))
    diff = after - before
    sign = "+" if diff > 0 else "−" if diff < 0 else "±"
    kind = unit_kind(unit)
    if kind in ("share", "ratio"):
        points = format_number(abs(diff), unit, decimals=2)
        word = (" 个百分点" if lang == "zh" else " pp") if kind == "share" else ""
        return Change(diff, diff, True, f"{sign}{points}{word}")
    amount = f"{sign}{format_value(abs(diff), unit, lang=lang)}"
    if before == 0:
        return Change(None, diff, False, amount)
    pct = diff / abs(before) * 100
    pct_text = f"{sign}{format_number(abs(pct), '%', decimals=1)}%"
    return Change(pct, diff, False, f"{amount}（{pct_text}）" if lang == "zh" else f"{amount} ({pct_text})")
