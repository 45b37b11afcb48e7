"""The prose patterns (``data/prose_patterns.toml``) as typed, frozen records, checked when they are loaded.

In: the TOML file and the codebook. Out: one :class:`ProsePatterns` (labels, units, qualifiers, connectors,
exclusions, share and per-student follow-ons, how school names are found), or one VqrError naming the file, the
table and the entry: an unknown key, an unknown indicator code, a value outside its list, a file that is not
UTF-8 or not TOML. The prose reader (:mod:`.prose`) compiles these records once; nothing here names a document
(a report's other names are ``aliases_zh`` in the registry).
"""

from __future__ import annotations

import tomllib
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Collection

from vqr_analysis.core.errors import VqrError, reject_unknown_keys
from vqr_analysis.core.paths import data_dir
from vqr_analysis.core.schema import QUALIFIERS
from vqr_analysis.sources.csvfiles import read_project_text

__all__ = [
    "PATTERNS_FILE", "POSITIONS", "QUALIFIER_PLACES", "Label", "ContextLabel", "UnitFactor", "Qualifier",
    "ProsePatterns", "TitledList", "load_prose_patterns",
]

PATTERNS_FILE = "prose_patterns.toml"
# Where a label stands: before its number, before it with the number closing the clause, after it, or after it
# with a few words between ('共有 1087 名高职学校骨干教师参加培训').
POSITIONS = ("before", "closed", "after", "after_gap")
QUALIFIER_PLACES = ("before", "after_number", "after_unit")


@dataclass(frozen=True)
class Label:
    code: str
    phrase: str
    position: str = "before"


@dataclass(frozen=True)
class ContextLabel:
    code: str
    phrase: str
    context: str


@dataclass(frozen=True)
class UnitFactor:
    """A printed unit converted to a canonical ``unit`` (every code of that unit) or for one ``code``."""

    printed: str
    factor: float
    unit: str | None = None
    code: str | None = None

    @property
    def scope(self) -> str:
        return self.code or self.unit or ""


@dataclass(frozen=True)
class Qualifier:
    marker: str
    place: str
    meaning: str


@dataclass(frozen=True)
class TitledList:
    """A body table listing schools with one count, whose meaning only its title gives ('表 2-2 新疆高职学校入围
    国家在线精品课程数量统计表': 序号, 院校名称, 立项数量): a title holding ``phrase`` reads the count as ``code``,
    with the school as entity. ``unless``: words that, in the title, make it about something else."""

    code: str
    phrase: str
    unless: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProsePatterns:
    """Every pattern of the file, by kind (the file's comments say what each kind means)."""

    labels: tuple[Label, ...]
    masking_phrases: tuple[str, ...]
    context_labels: tuple[ContextLabel, ...]
    skip_labels: tuple[str, ...]
    units: tuple[UnitFactor, ...]
    units_no_code: tuple[str, ...]
    qualifiers: tuple[Qualifier, ...]
    connectors: tuple[str, ...]
    exclude_before_any: tuple[str, ...]
    exclude_before: tuple[tuple[str, tuple[str, ...]], ...]  # (code, words)
    exclude_sentence_any: tuple[str, ...]
    exclude_sentence: tuple[tuple[str, tuple[str, ...]], ...]
    exclude_clause: tuple[str, ...]
    share_leads: tuple[str, ...]
    shares: tuple[tuple[str, str], ...]  # (count code, share code)
    per_student: tuple[tuple[str, str], ...]  # (total code, per-student code)
    entity_suffixes: tuple[str, ...]
    entity_generic: tuple[str, ...]
    entity_stop: str
    school_words: tuple[str, ...] = ()
    object_verbs: tuple[str, ...] = ()
    previous_year_leads: tuple[str, ...] = ()
    last_year_words: tuple[str, ...] = ()
    per_student_leads: tuple[str, ...] = ()
    titled_lists: tuple["TitledList", ...] = ()
    path: Path | None = None

    def codes(self) -> list[tuple[str, str]]:
        """(where, code) of every indicator code the patterns name."""
        named = [(f"[label] {e.phrase}", e.code) for e in self.labels]
        named += [(f"[context_label] {e.phrase}", e.code) for e in self.context_labels]
        named += [(f"[unit] {e.printed}", e.code) for e in self.units if e.code]
        named += [(f"[titled_list] {e.phrase}", e.code) for e in self.titled_lists]
        named += [(f"[{kind}.code]", code) for kind, pairs in (("exclude_before", self.exclude_before),
                                                                ("exclude_sentence", self.exclude_sentence))
                  for code, _ in pairs]
        named += [(f"[{kind}.code] {a}", code) for kind, pairs in (("share", self.shares),
                                                                   ("per_student", self.per_student))
                  for a, b in pairs for code in (a, b)]
        return named


# Each table of the file and the keys it may hold.
_TABLES = {
    "label": ("entries",), "masking_phrase": ("words",), "context_label": ("entries",), "skip_label": ("words",),
    "unit": ("entries",), "unit_no_code": ("printed",), "qualifier": ("entries",), "connector": ("words",),
    "exclude_before": ("any_code", "code"), "exclude_sentence": ("any_code", "code"), "exclude_clause": ("words",),
    "share": ("leads", "code"), "per_student": ("leads", "code"),
    "entity": ("suffixes", "generic_words", "stop_characters", "school_words", "object_verbs"),
    "previous_year": ("leads", "last_year"), "titled_list": ("entries",),
}


class _File:
    """Typed access to the parsed TOML, every problem one VqrError naming the table and entry."""

    def __init__(self, data: dict, path: Path) -> None:
        self.data, self.path = data, path
        reject_unknown_keys(data, _TABLES, "top level", path)
        for name, keys in _TABLES.items():
            table = data.get(name, {})
            if not isinstance(table, dict):
                raise VqrError(f"[{name}] must be a table", path=path)
            reject_unknown_keys(table, keys, f"[{name}]", path)

    def fail(self, where: str, message: str) -> VqrError:
        return VqrError(f"{where}: {message}", path=self.path)

    def text(self, value: object, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"must be non-empty text, not {value!r:.40}")
        return value

    def words(self, table: str, key: str) -> tuple[str, ...]:
        value = self.data.get(table, {}).get(key, [])
        if not isinstance(value, list):
            raise self.fail(f"[{table}] {key}", "must be a list of words")
        return tuple(self.text(w, f"[{table}] {key}[{i}]").strip() for i, w in enumerate(value, 1))

    def entries(self, table: str, record: type) -> list:
        value = self.data.get(table, {}).get("entries", [])
        if not isinstance(value, list):
            raise self.fail(f"[{table}] entries", "must be a list of {…} entries")
        allowed = [f.name for f in fields(record)]
        required = [f.name for f in fields(record) if f.default is MISSING]
        out = []
        for i, entry in enumerate(value, 1):
            if not isinstance(entry, dict):
                raise self.fail(f"[{table}] entry {i}", "must be a {key = value, …} table")
            where = f"[{table}] entry {i} ({str(next(iter(entry.values()), ''))[:30]})"
            reject_unknown_keys(entry, allowed, where, self.path)
            missing = [k for k in required if k not in entry]
            if missing:
                raise self.fail(where, f"lacks {', '.join(missing)}")
            out.append((where, entry))
        return out

    def code_map(self, table: str, key: str, *, many: bool) -> tuple:
        value = self.data.get(table, {}).get(key, {})
        if not isinstance(value, dict):
            raise self.fail(f"[{table}.{key}]", "must be a table of code = …")
        if many:
            return tuple((code, self.words_of(words, f"[{table}.{key}] {code}")) for code, words in value.items())
        return tuple((code, self.text(other, f"[{table}.{key}] {code}").strip()) for code, other in value.items())

    def words_of(self, value: object, where: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(where, "must be a list of words")
        return tuple(self.text(w, where).strip() for w in value)


def _labels(f: _File) -> tuple[Label, ...]:
    out = []
    for where, e in f.entries("label", Label):
        position = e.get("position", "before")
        if position not in POSITIONS:
            raise f.fail(where, f"position must be one of {', '.join(POSITIONS)}, not {position!r:.40}")
        out.append(Label(f.text(e["code"], where), f.text(e["phrase"], where), position))
    return tuple(out)


def _units(f: _File) -> tuple[UnitFactor, ...]:
    out = []
    for where, e in f.entries("unit", UnitFactor):
        if ("unit" in e) == ("code" in e):
            raise f.fail(where, "name exactly one of unit (a canonical unit) or code (one indicator)")
        factor = e["factor"]
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 0:
            raise f.fail(where, f"factor must be a positive number, not {factor!r:.40}")
        out.append(UnitFactor(f.text(e["printed"], where), float(factor),
                              unit=e.get("unit") and f.text(e["unit"], where),
                              code=e.get("code") and f.text(e["code"], where)))
    return tuple(out)


def _qualifiers(f: _File) -> tuple[Qualifier, ...]:
    out = []
    for where, e in f.entries("qualifier", Qualifier):
        if e["place"] not in QUALIFIER_PLACES:
            raise f.fail(where, f"place must be one of {', '.join(QUALIFIER_PLACES)}, not {e['place']!r:.40}")
        if e["meaning"] not in QUALIFIERS or e["meaning"] == "exact":
            raise f.fail(where, f"meaning must be one of {', '.join(QUALIFIERS[1:])}, not {e['meaning']!r:.40}")
        out.append(Qualifier(f.text(e["marker"], where).strip(), e["place"], e["meaning"]))
    return tuple(out)


def load_prose_patterns(path: Path | None = None, *, codes: Collection[str]) -> ProsePatterns:
    """Read and check the pattern file against the codebook's ``codes``; any problem is one VqrError."""
    path = path or data_dir() / PATTERNS_FILE
    try:
        text = read_project_text(path)
    except FileNotFoundError:
        raise VqrError("prose pattern file not found", path=path) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise VqrError(f"prose patterns are not valid TOML: {str(exc).splitlines()[0]}", path=path) from None
    except RecursionError:
        raise VqrError("prose patterns are nested too deeply", path=path) from None
    f = _File(data, path)
    context = tuple(ContextLabel(f.text(e["code"], w), f.text(e["phrase"], w), f.text(e["context"], w))
                    for w, e in f.entries("context_label", ContextLabel))
    entity = data.get("entity", {})
    stop = entity.get("stop_characters", "")
    if not isinstance(stop, str):
        raise f.fail("[entity] stop_characters", "must be text (each character is one stop)")
    patterns = ProsePatterns(
        labels=_labels(f), masking_phrases=f.words("masking_phrase", "words"), context_labels=context,
        skip_labels=f.words("skip_label", "words"), units=_units(f), units_no_code=f.words("unit_no_code", "printed"),
        qualifiers=_qualifiers(f), connectors=f.words("connector", "words"),
        exclude_before_any=f.words("exclude_before", "any_code"),
        exclude_before=f.code_map("exclude_before", "code", many=True),
        exclude_sentence_any=f.words("exclude_sentence", "any_code"),
        exclude_sentence=f.code_map("exclude_sentence", "code", many=True),
        exclude_clause=f.words("exclude_clause", "words"), share_leads=f.words("share", "leads"),
        shares=f.code_map("share", "code", many=False), per_student=f.code_map("per_student", "code", many=False),
        entity_suffixes=f.words("entity", "suffixes"), entity_generic=f.words("entity", "generic_words"),
        school_words=f.words("entity", "school_words"), object_verbs=f.words("entity", "object_verbs"),
        entity_stop="".join(stop.split()), previous_year_leads=f.words("previous_year", "leads"),
        last_year_words=f.words("previous_year", "last_year"), per_student_leads=f.words("per_student", "leads"),
        titled_lists=tuple(TitledList(f.text(e["code"], w), f.text(e["phrase"], w),
                                      f.words_of(e.get("unless", []), w))
                           for w, e in f.entries("titled_list", TitledList)), path=path,
    )
    known = set(codes)
    for where, code in patterns.codes():
        if code not in known:
            raise VqrError(f"{where}: unknown indicator code {code!r} (not in the codebook)", path=path)
    return patterns
