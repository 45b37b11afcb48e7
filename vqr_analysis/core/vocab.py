"""Every fixed Chinese/English term the surfaces show, in one place, and the one language check.

In: nothing (constants). Out: ``(zh, en)`` pairs for education levels, value statuses, badges, subject kinds,
indicator kinds, directions, comparability notes and quality rules, plus :data:`LANGS`, :func:`check_lang` and
:func:`say`. The API frames, the display tables, the charts, the site pages and the briefs all read their words
from here, so a term is spelled the same way on every surface (and changed in one place).
"""

from __future__ import annotations

from vqr_analysis.core.errors import VqrError

__all__ = [
    "LANGS", "check_lang", "say", "pick", "LEVELS", "LEVELS_SHORT", "STATUSES", "MISSING", "ABSENT", "SUSPECT",
    "CORRECTED", "REPORTED", "SUBJECT_KINDS", "INDICATOR_KINDS", "DIRECTIONS", "COMPARABILITY", "RULE_TEXT",
    "COUNTS_NOT_RANKED", "SUSPECT_NOT_RANKED", "NO_PEERS", "LABEL_JOIN",
]

LANGS = ("zh", "en")


def check_lang(lang: str) -> str:
    """``lang`` if it is one of :data:`LANGS`, else a VqrError saying which ones exist."""
    if lang not in LANGS:
        raise VqrError(f"unknown lang {lang!r}; use one of {', '.join(LANGS)} (zh = Chinese with English beside "
                       "it, en = English)")
    return lang


def pick(term: tuple[str, str], lang: str) -> str:
    """One language of a ``(zh, en)`` term."""
    return term[1] if check_lang(lang) == "en" else term[0]


def say(zh: str, en: str, lang: str) -> str:
    """Fixed wording: 'Chinese / English' for zh (Chinese first, English beside it), English for en."""
    return f"{zh} / {en}" if check_lang(lang) == "zh" else en


# Education levels: the registry's long names, and the short ones tables and charts use.
LEVELS = {"higher": ("高等职业教育", "Higher vocational"), "secondary": ("中等职业教育", "Secondary vocational")}
LEVELS_SHORT = {"higher": ("高职", "higher voc."), "secondary": ("中职", "secondary voc.")}

# What a value's status means to a reader. One wording for a value the report does not give (MISSING).
MISSING = ("未报告", "not reported")
ABSENT = ("未提及", "not stated")
SUSPECT = ("存疑", "suspect")
CORRECTED = ("已更正", "corrected")
REPORTED = ("已报告", "reported")
STATUSES = {"reported": REPORTED, "missing": MISSING, "absent": ABSENT, "suspect": SUSPECT,
            "corrected": CORRECTED}

# Who a report speaks for (registry field ``subject_kind``): ranks compare only subjects of one kind.
SUBJECT_KINDS = {
    "autonomous_region": ("自治区", "autonomous region"),
    "prefecture": ("地州", "prefecture"),
    "division_city": ("师市", "division-city"),
    "school": ("单所学校", "single school"),
}

# What an indicator measures (data/indicator_kinds.csv): counts grow with the subject's size, the rest do not.
INDICATOR_KINDS = {
    "count": ("数量", "count"),
    "share": ("比例", "share"),
    "ratio": ("比值", "ratio"),
    "per_student": ("生均", "per student"),
    "money": ("金额", "amount of money"),
    "area": ("面积", "area"),
    "score": ("评分", "score"),
}

# Which way is better (data/indicator_kinds.csv): "best / worst" words appear only for higher or lower.
DIRECTIONS = {
    "higher": ("越高越好", "higher is better"),
    "lower": ("越低越好", "lower is better"),
    "neither": ("无好坏之分", "neither higher nor lower is better"),
}

# The comparability notes of ``analysis.compare`` as short words.
COMPARABILITY = {
    "comparable": ("可比", "comparable"),
    "mixed levels and years": ("学段、年份均不同", "levels and years differ"),
    "mixed levels (higher vs secondary)": ("高职与中职混合", "levels differ"),
    "mixed data years": ("数据年份不同", "data years differ"),
}

# Why a value has no rank (``analysis.profile``'s ``rank_note``).
COUNTS_NOT_RANKED = ("数量随规模而变，不排名", "a count grows with size; not ranked")
SUSPECT_NOT_RANKED = ("存疑数值不参与排名", "a suspect value is not ranked")
NO_PEERS = ("无同类可比主体", "no comparable subject of the same kind and level")

# A child indicator's label carries its parent's: 虚拟仿真实训基地·国家级.
LABEL_JOIN = ("·", " · ")

# Quality rules in a reader's words.
RULE_TEXT = {
    "extraction": ("读取数值时需要推断（如逗号当作小数点）",
                   "The value needed a guess to read (e.g. a comma used as decimal point)."),
    "bounds": ("数值超出合理范围", "The value lies outside the plausible range of its code or unit kind."),
    "parts_le_total": ("分项（其中）大于总数", "A part ('其中') is larger than its total."),
    "ratio_consistency": ("比例与其分子分母不一致", "A stated ratio disagrees with the ratio of its stated parts."),
    "conflict": ("同一指标在报告中有不同数值", "Two statements give different values for the same code, year and entity."),
    "share_vs_counts": ("比率与同一句（同一表）中的人数不一致",
                        "A stated rate or share disagrees with the counts stated with it."),
    "schools_above_total": ("各校分表数字之和超过报告的总数",
                            "The schools of per-school tables together exceed the report's own total."),
    "parts_above_total": ("互不重叠的各部分之和超过所报总数",
                          "Parts that do not overlap add up to more than their stated total."),
}
