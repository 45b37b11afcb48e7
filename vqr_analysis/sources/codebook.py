"""The indicator codebook (``data/indicators.csv``): the one definition of every indicator.

The loader (DDL column comments, the ``indicators`` table), the extractors (labels and aliases), the docs
and the chart labels all read it from here.

Beside it, ``data/indicator_kinds.csv`` (code, kind, direction) says what each indicator measures (a count
grows with the subject's size; shares, ratios and per-student figures do not) and which way is better; ranks and
"best / worst" words depend on them. A code that file does not list takes the kind of its unit and no direction.

Every indicator also gets a display label unique in each language: a child whose name repeats under other
parents ('国家级数量') carries its parent's label ('虚拟仿真实训基地数·国家级数量').
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from vqr_analysis.core.errors import VqrError
from vqr_analysis.core.paths import data_dir
from vqr_analysis.core.schema import INDICATORS
from vqr_analysis.core.vocab import DIRECTIONS, INDICATOR_KINDS, LABEL_JOIN
from vqr_analysis.sources.csvfiles import read_csv_records
from vqr_analysis.sources.textnorm import normalize_label

__all__ = ["Indicator", "Codebook", "load_codebook", "UNIT_KINDS", "CODEBOOK_COLUMNS", "KINDS_COLUMNS",
           "DERIVED_COLUMNS"]

# Columns of the indicators table that the loader derives (kinds file, unique labels) rather than reads.
DERIVED_COLUMNS = ("kind", "direction", "label_zh", "label_en")
# The CSV's header is the indicators table's other columns (core.schema.INDICATORS), in order.
CODEBOOK_COLUMNS = [name for name in INDICATORS.names if name not in DERIVED_COLUMNS]
KINDS_COLUMNS = ["code", "kind", "direction"]
KINDS_FILE = "indicator_kinds.csv"
# The kind an indicator takes from its unit when the kinds file does not list it.
_KIND_OF_UNIT = {"count": "count", "duration": "count", "bandwidth": "count", "percent": "share", "ratio": "ratio",
                 "per_student": "per_student", "currency_10k_yuan": "money", "currency_yuan": "money",
                 "area": "area"}

# Known unit kinds and the canonical units they allow.
UNIT_KINDS: dict[str, set[str]] = {
    "count": {"人", "个", "人次", "项", "门", "本", "所", "册", "台", "学时", "课时", "人日"},
    "percent": {"%"},
    "currency_10k_yuan": {"万元"},
    "currency_yuan": {"元"},
    "duration": {"学时", "课时", "人日"},
    "per_student": {"个/生", "元/生", "平方米/生", "册/生", "元/生/年", "元", "台/生"},
    "bandwidth": {"Mbps"},
    "area": {"平方米", "亩"},
    "ratio": {"ratio"},
}

# The annex tables of the national template, by codebook ``table`` value.
ANNEX_TABLES = {
    "scorecard": (1, "人才培养质量计分卡", "Talent-training scorecard"),
    "satisfaction": (2, "满意度调查表", "Satisfaction survey"),
    "teaching_resources": (3, "教学资源表", "Teaching resources"),
    "service_contribution": (4, "服务贡献表", "Service contribution"),
    "international_influence": (5, "国际影响表", "International influence"),
    "policy_implementation": (6, "落实政策表", "Policy implementation"),
}


@dataclass(frozen=True)
class Indicator:
    code: str
    table: str
    parent_code: str | None
    name_zh: str
    aliases_zh: tuple[str, ...]
    name_en: str
    unit: str
    unit_kind: str
    description_en: str
    kind: str = "count"
    direction: str = "neither"
    label_zh: str = ""
    label_en: str = ""

    @property
    def labels(self) -> tuple[str, ...]:
        return (self.name_zh, *self.aliases_zh)

    def label(self, lang: str = "zh") -> str:
        """The display label, unique in its language (a repeated child name carries its parent's label)."""
        return (self.label_en or self.name_en) if lang == "en" else (self.label_zh or self.name_zh)


@dataclass
class Codebook:
    indicators: dict[str, Indicator]
    path: Path | None = field(default=None, repr=False)

    def __getitem__(self, code: str) -> Indicator:
        return self.indicators[code]

    def __contains__(self, code: object) -> bool:
        return code in self.indicators

    def __iter__(self):
        return iter(self.indicators.values())

    def __len__(self) -> int:
        return len(self.indicators)

    @cached_property
    def by_label(self) -> dict[str, list[Indicator]]:
        """Normalised label/alias → indicators carrying it (several when a label repeats under parents)."""
        index: dict[str, list[Indicator]] = {}
        for ind in self.indicators.values():
            for label in ind.labels:
                bucket = index.setdefault(normalize_label(label), [])
                if ind not in bucket:
                    bucket.append(ind)
        return index

    def lookup(self, label: str, *, table: str | None = None) -> list[Indicator]:
        """Indicators whose label or alias equals ``label`` after normalisation, optionally within one table."""
        found = self.by_label.get(normalize_label(label), [])
        if table is not None:
            found = [i for i in found if i.table == table]
        return found

    def children(self, code: str) -> list[Indicator]:
        return [i for i in self.indicators.values() if i.parent_code == code]

    def ancestors(self, code: str) -> list[str]:
        chain, seen = [], set()
        parent = self.indicators[code].parent_code
        while parent and parent not in seen:
            chain.append(parent)
            seen.add(parent)
            parent = self.indicators[parent].parent_code
        return chain


def load_codebook(path: Path | None = None) -> Codebook:
    """Read and validate the codebook; a malformed row is a VqrError naming the row."""
    path = path or data_dir() / "indicators.csv"
    try:
        records = read_csv_records(path, CODEBOOK_COLUMNS, "the codebook")
    except FileNotFoundError:
        raise VqrError("codebook not found", path=path) from None
    indicators: dict[str, Indicator] = {}
    for n, row in records:
        code = row["code"].strip()
        if not code:
            raise VqrError(f"line {n}: empty code", path=path)
        if code in indicators:
            raise VqrError(f"line {n}: duplicate code {code!r}", path=path)
        kind = row["unit_kind"]
        if kind not in UNIT_KINDS:
            raise VqrError(f"line {n}: unknown unit_kind {kind!r} for {code}", path=path)
        if row["unit"] not in UNIT_KINDS[kind]:
            raise VqrError(f"line {n}: unit {row['unit']!r} is not a {kind} unit ({code})", path=path)
        indicators[code] = Indicator(
            code=code,
            table=row["table"],
            parent_code=row["parent_code"] or None,
            name_zh=row["name_zh"],
            aliases_zh=tuple(a for a in row["aliases_zh"].split("|") if a),
            name_en=row["name_en"],
            unit=row["unit"],
            unit_kind=kind,
            description_en=row["description_en"],
        )
    for ind in indicators.values():
        if ind.parent_code and ind.parent_code not in indicators:
            raise VqrError(f"{ind.code}: parent {ind.parent_code!r} is not a code", path=path)
    kinds = _load_kinds(path.parent / KINDS_FILE, indicators)
    labels = _unique_labels(indicators, path)
    for code, ind in indicators.items():
        kind, direction = kinds.get(code, (_KIND_OF_UNIT[ind.unit_kind], "neither"))
        indicators[code] = replace(ind, kind=kind, direction=direction, label_zh=labels[code][0],
                                   label_en=labels[code][1])
    return Codebook(indicators, path)


def _load_kinds(path: Path, indicators: dict[str, Indicator]) -> dict[str, tuple[str, str]]:
    """code → (kind, direction) from the kinds file; none when the data folder has no such file."""
    try:
        records = read_csv_records(path, KINDS_COLUMNS, "the indicator kinds file")
    except FileNotFoundError:
        return {}
    kinds: dict[str, tuple[str, str]] = {}
    for n, row in records:
        code, kind, direction = row["code"].strip(), row["kind"].strip(), row["direction"].strip()
        if code not in indicators:
            raise VqrError(f"line {n}: {code!r} is not a code of the codebook", path=path)
        if code in kinds:
            raise VqrError(f"line {n}: duplicate code {code!r}", path=path)
        if kind not in INDICATOR_KINDS:
            raise VqrError(f"line {n}: unknown kind {kind!r} for {code}; use one of {', '.join(INDICATOR_KINDS)}",
                           path=path)
        if direction not in DIRECTIONS:
            raise VqrError(f"line {n}: unknown direction {direction!r} for {code}; use one of "
                           f"{', '.join(DIRECTIONS)}", path=path)
        kinds[code] = (kind, direction)
    return kinds


def _unique_labels(indicators: dict[str, Indicator], path: Path) -> dict[str, tuple[str, str]]:
    """code → (zh, en) display labels: a name that several codes share is prefixed, for each child among them,
    by its parent's label. Labels that still repeat are an error naming them (the codebook must say more)."""
    labels: dict[str, tuple[str, str]] = {}
    for lang, name_of, join in ((0, lambda i: i.name_zh, LABEL_JOIN[0]), (1, lambda i: i.name_en, LABEL_JOIN[1])):
        count: dict[str, int] = {}
        for ind in indicators.values():
            count[name_of(ind)] = count.get(name_of(ind), 0) + 1

        def label(code: str, seen: tuple = ()) -> str:
            ind = indicators[code]
            name = name_of(ind)
            if count[name] == 1 or not ind.parent_code or ind.parent_code in seen:
                return name
            return label(ind.parent_code, (*seen, code)) + join + name

        for code in indicators:
            labels.setdefault(code, ["", ""])[lang] = label(code)
        shown: dict[str, list[str]] = {}
        for code, pair in labels.items():
            shown.setdefault(pair[lang], []).append(code)
        repeated = {text: codes for text, codes in shown.items() if len(codes) > 1}
        if repeated:
            text, codes = next(iter(repeated.items()))
            raise VqrError(f"the label {text!r} stands for several codes ({', '.join(codes)}) even with its parent; "
                           "give them different names", path=path)
    return {code: (zh, en) for code, (zh, en) in labels.items()}
