"""Prose extraction: headline figures stated in sentences ('全日制在校生 3858 人', '生师比 16.85: 1').

Driven by data, never by document: the codebook's labels and aliases, plus ``data/prose_patterns.toml``
(prose-only phrases, printed units and their factors, qualifiers, connector words, exclusions, share and
per-student follow-ons, how school names end; see :mod:`.patterns`), compiled once into a :class:`ProseReader`.
The subject's other names come from the registry (``aliases_zh``). A label is matched in the report's
logical text (hard-wrapped lines joined, page headers dropped); the number must follow it through connector
words only ('为', '达到', …) and carry a unit the code accepts. Each value cites the original line of its
number: ``raw`` is the number exactly as printed there.

Entity: NULL for the report's own subject. A sentence that names one other school as its subject gives that
school as entity; a sentence naming a school in any other position is left out (precision first).
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from vqr_analysis.sources.codebook import Codebook
from vqr_analysis.extract.model import Observation
from vqr_analysis.extract.patterns import PATTERNS_FILE, ProsePatterns, load_prose_patterns
from vqr_analysis.core.paths import data_dir
from vqr_analysis.sources.documents import SourceDocument
from vqr_analysis.sources.textnorm import FOLD_WIDTH_TABLE, fold_width
from vqr_analysis.extract.values import NUMBER_PATTERN, parse_value

__all__ = ["extract_prose", "read_value", "ValueReading", "ProseReader", "prose_reader", "match_form"]

_CLOSERS = "，,。；;、)）(（\n"
_QUOTE_CHARS = "\"'“”‘’「」『』"
# fold_width and every quote to '"', as one translation table.
_MATCH_FOLD = {**FOLD_WIDTH_TABLE, **{ord(ch): ord('"') for ch in _QUOTE_CHARS}}
_SENTENCE_ENDS = "。！？!?；;\n"
_CLAUSE_ENDS = _SENTENCE_ENDS + "，,、"
_SENTENCE_END_RE = re.compile(f"[{_SENTENCE_ENDS}]")
_QUOTE_MAX = 120
_WINDOW = 48  # characters searched after (or before) a label for its number
_LABEL_GAP_MAX = 8  # words between a number and a label of position after_gap
_YEAR_RE = re.compile(r"(?<![\d.])(20\d{2})\s*(?:[-—–~～至到－]\s*(20\d{2})\s*)?(年度|学年|年)")
# A year that only sets a comparison or a start ('比2022年增加', '与 2022 年相比', '2017 年以来') is not the
# year of the value.
_COMPARED_BEFORE = ("比", "较", "与", "同")
_COMPARED_AFTER = ("相比", "同期", "以来", "起")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# Where a sentence's subject starts: after a date, bracketed marks, '一是' and similar openers.
_SENTENCE_OPENER = re.compile(
    r"(?:\s|\[[^\]]*\]|【[^】]*】|[一二三四五六七八九十]+是|(?:20\d{2}\s*(?:[-—~至]\s*20\d{2}\s*)?(?:年度|学年|年))"
    r"|\d{1,2}\s*月(?:份)?|\d{1,2}\s*日|[，,：:、]|例\s*[：:]|截至|截止|目前|本年度|本学年|同时|此外|另外)*"
)


# The same mapping as a regex over the characters it changes: on a long Chinese text, where few characters
# change, substituting the matches is ~3x faster than str.translate, which looks up every character. Chunks
# bound the substitution's temporary pieces (one per match) to a chunk's worth.
_MATCH_FOLD_RE = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_MATCH_FOLD)) + "]")
_MATCH_FOLD_CHARS = {chr(c): chr(folded) for c, folded in _MATCH_FOLD.items()}
_MATCH_FOLD_CHUNK = 1 << 18


def _fold_match(m: re.Match) -> str:
    return _MATCH_FOLD_CHARS[m.group()]


def match_form(text: str) -> str:
    """The text patterns are matched against: full-width folded and quotes unified; same length as ``text``."""
    return "".join(_MATCH_FOLD_RE.sub(_fold_match, text[i:i + _MATCH_FOLD_CHUNK])
                   for i in range(0, len(text), _MATCH_FOLD_CHUNK))


# --- the compiled matcher ----------------------------------------------------------------------------------


def _alternation(words) -> str:
    """Literal words as one regex alternation, longest first (so '占专任教师' is tried before '占')."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True)) or "(?!)"


def _trie_regex(words) -> str:
    """One regex for many literal words, as a character trie: a single pass over the text instead of one
    attempt per word at every position. A quote in a word is optional ('"双师型"教师' also matches 双师型教师);
    at each position the longest word wins."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        parts = [('"?' if ch == '"' else re.escape(ch)) + build(child) for ch, child in node.items() if ch]
        if not parts:
            return ""
        body = parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie) or "(?!)"


def _unit_regex(unit: str) -> str:
    if unit == ":1":
        return r":\s*1(?![\d.])"
    return r"\s*".join(re.escape(ch) for ch in unit)


@dataclass(frozen=True)
class ValueReading:
    """A number read after a label: as printed, and converted to the code's unit."""

    raw: str
    raw_unit: str | None
    value: float
    status: str  # reported | suspect (see values.parse_value)
    qualifier: str
    flag: str | None = None


@dataclass
class _Reading:
    """A number read next to a label: spans in the logical text and what they mean."""

    num: tuple[int, int]
    unit: tuple[int, int] | None
    unit_text: str | None
    qualifier: str
    end: int


class ProseReader:
    """Codebook + prose patterns compiled into lookups and regexes, built once and used for every document
    (building it takes longer than reading a report)."""

    def __init__(self, codebook: Codebook, pats: ProsePatterns) -> None:
        self.codebook, self.pats = codebook, pats
        self.skip_labels = {match_form(t) for t in pats.skip_labels}
        self.units: dict[str, dict[str, float]] = {}  # canonical unit or code → printed → factor
        for u in pats.units:
            self.units.setdefault(u.scope, {})[u.printed] = u.factor
        # Printed units no code takes (factor 0, never accepted): they stop a shorter unit from matching.
        self.units.setdefault("", {}).update({printed: 0.0 for printed in pats.units_no_code})
        self.qualifiers = {place: {match_form(q.marker): q.meaning for q in pats.qualifiers if q.place == place}
                           for place in ("before", "after_number", "after_unit")}
        self.exclude_before = {code: [match_form(w) for w in words] for code, words in pats.exclude_before}
        self.exclude_before["*"] = [match_form(w) for w in pats.exclude_before_any]
        self.exclude_sentence = {code: [match_form(w) for w in words] for code, words in pats.exclude_sentence}
        self.exclude_sentence["*"] = [match_form(w) for w in pats.exclude_sentence_any]
        self.exclude_clause = [match_form(w) for w in pats.exclude_clause]
        self.shares = dict(pats.shares)
        self.per_student = dict(pats.per_student)
        self.entity_stop = set(pats.entity_stop)
        self.school_words = [match_form(w) for w in pats.school_words]
        self.object_verbs = sorted({match_form(w) for w in pats.object_verbs}, key=len, reverse=True)
        # label (match form) → [(code, position)]; pattern rows win over codebook labels; a codebook label
        # that several codes share (国家级数量 …) is ambiguous in prose and left out. A masking phrase gets an
        # empty bucket: it matches (so the labels inside it do not) and reads nothing.
        index: dict[str, list[tuple[str, str]]] = {}
        pinned = {match_form(e.phrase) for e in pats.labels} | {match_form(t) for t in pats.masking_phrases}
        for ind in codebook:
            for label in ind.labels:
                key = match_form(label)
                if key in pinned or key in self.skip_labels or len(key) < 2:
                    continue
                index.setdefault(key, [])
                if (ind.code, "before") not in index[key]:
                    index[key].append((ind.code, "before"))
        for key in [k for k, v in index.items() if len({c for c, _ in v}) > 1]:
            del index[key]
        for phrase in pats.masking_phrases:
            index.setdefault(match_form(phrase), [])
        for e in pats.labels:
            bucket = index.setdefault(match_form(e.phrase), [])
            if (e.code, e.position) not in bucket:
                bucket.append((e.code, e.position))
        self.index = index
        # The leading class of first characters lets the regex engine skip most positions quickly.
        first = {k[0] for k in index} | {k[1] for k in index if k.startswith('"') and len(k) > 1}
        self.label_re = re.compile(f"(?=[{''.join(map(re.escape, sorted(first)))}])(?=({_trie_regex(index)}))")
        # Labels with optional quotes are looked up by their quote-free form.
        self.by_bare = {k.replace('"', ""): k for k in index}
        self.context_re = re.compile(_alternation({match_form(e.phrase) for e in pats.context_labels}))

        printed = {u for table in self.units.values() for u in table}
        unit_alt = "|".join(_unit_regex(u) for u in sorted(printed, key=len, reverse=True))
        self.unit_key = {re.sub(r"\s+", "", fold_width(u)): u for u in printed}
        conn = _alternation(map(match_form, pats.connectors))
        qb = _alternation(self.qualifiers["before"])
        qa = _alternation(self.qualifiers["after_number"])
        qu = _alternation(self.qualifiers["after_unit"])
        num = rf"(?P<num>(?<![\d.])(?<!\d,){NUMBER_PATTERN})(?![\d.])"
        tail = rf"\s*(?P<qa>{qa})?\s*(?P<unit>{unit_alt})?\s*(?P<qu>{qu})?"
        self.after_label = re.compile(rf"(?:{conn}|\s)*?(?P<qb>{qb})?\s*(?:{conn})?\s*{num}{tail}")
        # A previous year's value stated in a comparison right after the value ('，较2022年的93%').
        self.previous_re = re.compile(
            rf"\s*[，,]?\s*(?:{_alternation(map(match_form, pats.previous_year_leads))})\s*"
            rf"(?:(?P<year>(?:19|20)\d{{2}})\s*年(?:同期)?|(?P<last>{_alternation(map(match_form, pats.last_year_words))}))"
            rf"\s*的?\s*(?:{conn})?\s*{num}{tail}")
        self.header_unit = re.compile(rf"\s*\(\s*(?P<unit>{unit_alt})\s*\)\s*(?:{conn}|\s)*{num}(?!\s*%)")
        self.before_label = re.compile(rf"(?P<qb>{qb})?\s*{num}{tail}\s*$")
        # The same with a few Chinese words between the unit and the label (no punctuation, no other number).
        self.before_label_gap = re.compile(rf"(?P<qb>{qb})?\s*{num}{tail}[\u4e00-\u9fff]{{1,{_LABEL_GAP_MAX}}}$")
        self.share_re = re.compile(
            rf"[，,、]?\s*(?:其中)?\s*(?P<lead>{_alternation(map(match_form, pats.share_leads))})(?:{conn}|\s)*{num}\s*(?P<unit>%)")
        self.direct_share_re = re.compile(
            rf"(?:{conn}|\s)*?(?P<lead>{_alternation(map(match_form, pats.share_leads))})(?:{conn}|\s)*{num}\s*(?P<unit>%)")
        # '，23.09 平方米/生' or '，生均0.34台' right after a total: its per-student figure.
        self.companion_re = re.compile(
            rf"[，,、]\s*(?P<lead>{_alternation(map(match_form, pats.per_student_leads))})?\s*{num}\s*(?P<unit>{unit_alt})")
        self.suffix_re = re.compile(_alternation(map(match_form, pats.entity_suffixes)))
        self.generic_lead_re = re.compile("(?:" + _alternation(map(match_form, pats.entity_generic)) + ")+")

    # -- units

    def accepts(self, code: str, printed: str | None) -> float | None:
        """Factor from a printed unit to the code's unit, or None if the code does not take that unit."""
        ind = self.codebook[code]
        if printed is None:
            return 1.0 if ind.unit == "ratio" else None
        key = self.unit_key.get(re.sub(r"\s+", "", printed), printed)
        for scope in (code, ind.unit):
            table = self.units.get(scope, {})
            if key in table:
                return table[key]
        return None

    def value_of(self, code: str, text: str, reading: _Reading) -> ValueReading | None:
        """The reading in the code's unit, or None if the code does not take the printed unit."""
        factor = self.accepts(code, reading.unit_text)
        if factor is None:
            return None
        raw = text[reading.num[0]:reading.num[1]]
        parsed = parse_value(raw, self.codebook[code].unit)
        if parsed.value is None:
            return None
        raw_unit = text[reading.unit[0]:reading.unit[1]] if reading.unit else None
        return ValueReading(raw, raw_unit, round(parsed.value * factor, 6), parsed.status, reading.qualifier,
                            parsed.flag)

    # -- numbers next to a label

    def _qualifier(self, m: re.Match) -> str:
        found = [self.qualifiers["before"].get(m.groupdict().get("qb") or ""),
                 self.qualifiers["after_number"].get(m.groupdict().get("qa") or ""),
                 self.qualifiers["after_unit"].get(m.groupdict().get("qu") or "")]
        for wanted in ("lower_bound", "upper_bound", "approximate"):
            if wanted in found:
                return wanted
        return "exact"

    def reading_of(self, m: re.Match) -> _Reading:
        """The reading held by a match over the whole text of a number pattern (groups num, unit, qa, qu)."""
        unit = m.group("unit")
        return _Reading(m.span("num"), m.span("unit") if unit else None, unit, self._qualifier(m), m.end())

    def read_after(self, mt: str, pos: int, limit: int) -> _Reading | None:
        window = mt[pos:limit]
        m = self.header_unit.match(window)
        if m:
            return _Reading((pos + m.start("num"), pos + m.end("num")), (pos + m.start("unit"), pos + m.end("unit")),
                            m.group("unit"), "exact", pos + m.end())
        m = self.after_label.match(window)
        if not m:
            return None
        unit = m.group("unit")
        if unit is None and not re.match(r"\s*(?:[，,。；;、)）\s]|$)", window[m.end("num"):]):
            return None
        span = (pos + m.start("unit"), pos + m.end("unit")) if unit else None
        return _Reading((pos + m.start("num"), pos + m.end("num")), span, unit, self._qualifier(m), pos + m.end())

    def read_before(self, mt: str, pos: int, floor: int, *, gap: bool = False) -> _Reading | None:
        start = max(floor, pos - _WINDOW)
        m = (self.before_label_gap if gap else self.before_label).search(mt[start:pos])
        if not m or m.group("unit") is None:
            return None
        return _Reading((start + m.start("num"), start + m.end("num")),
                        (start + m.start("unit"), start + m.end("unit")), m.group("unit"), self._qualifier(m),
                        pos)


def prose_reader(codebook: Codebook, path: Path | None = None) -> ProseReader:
    """The reader for ``codebook`` and the pattern file beside it (or ``path``). Keyed on content (the
    codebook's indicators and the file's text), so an edited file is read again and an unchanged one is not
    compiled twice."""
    path = path or (codebook.path.parent if codebook.path else data_dir()) / PATTERNS_FILE
    try:
        text = path.read_bytes()
    except OSError:
        text = b""  # the loader reports the missing or unreadable file
    return _reader_for(tuple(codebook), path, text)


@functools.lru_cache(maxsize=2)
def _reader_for(indicators: tuple, path: Path, _content: bytes) -> ProseReader:
    codebook = Codebook({i.code: i for i in indicators})
    return ProseReader(codebook, load_prose_patterns(path, codes=codebook.indicators))


# --- one document ------------------------------------------------------------------------------------------


@dataclass
class _Doc:
    """A document's logical text with the lookups every match needs."""

    doc: SourceDocument
    text: str  # logical text as printed
    mt: str  # its match form
    sentence_starts: list[int]
    paragraph_starts: list[int]
    subjects: set[str]
    names: list[tuple[int, str]] = field(default_factory=list)  # every institution-like name, by position
    opener_counts: dict[str, int] = field(default_factory=dict)  # names that open sentences, and how often
    names_cache: dict[int, tuple[int, list[tuple[int, str]]]] = field(default_factory=dict)
    reader: "ProseReader | None" = None
    subject_is_region: bool = False  # no name of the subject is a school's (then '学校' is never the subject)

    @classmethod
    def of(cls, doc: SourceDocument, m: ProseReader) -> "_Doc":
        text = doc.logical.text
        mt = match_form(text)
        sentence_starts = [0] + [x.end() for x in _SENTENCE_END_RE.finditer(mt)]
        paragraph_starts = [0] + [x.end() for x in re.finditer("\n", mt)]
        r = doc.report
        subjects = {match_form(s) for s in [r.subject_zh, r.region_zh, *r.aliases_zh]}
        d = cls(doc, text, mt, sentence_starts, paragraph_starts, subjects, reader=m,
                subject_is_region=not any(m.suffix_re.search(name) for name in subjects))
        # Names never run across a sentence end (punctuation stops them), so one pass over the text finds all.
        d.names = _raw_names(m, mt)
        for k, name in d.names:
            if k == d.opener_end(d.sentence_start(k)):
                d.opener_counts[name] = d.opener_counts.get(name, 0) + 1
        return d

    def opener_end(self, s_start: int) -> int:
        """Where the subject of the sentence at ``s_start`` begins (after dates, '一是', brackets …)."""
        return _SENTENCE_OPENER.match(self.mt, s_start, self.sentence_end(s_start)).end()

    def sentence_start(self, pos: int) -> int:
        return self.sentence_starts[bisect.bisect_right(self.sentence_starts, pos) - 1]

    def sentence_end(self, pos: int) -> int:
        i = bisect.bisect_right(self.sentence_starts, pos)
        return self.sentence_starts[i] - 1 if i < len(self.sentence_starts) else len(self.mt)

    def paragraph_start(self, pos: int) -> int:
        return self.paragraph_starts[bisect.bisect_right(self.paragraph_starts, pos) - 1]

    def clause(self, start: int, end: int) -> tuple[str, str]:
        """The text of the clause around ``start:end``: the part before it and the part after it."""
        a = start
        while a > 0 and self.mt[a - 1] not in _CLAUSE_ENDS:
            a -= 1
        b = end
        while b < len(self.mt) and self.mt[b] not in _CLAUSE_ENDS:
            b += 1
        return self.mt[a:start], self.mt[end:b]


def _year(d: _Doc, sentence_start: int, pos: int) -> int:
    """The year stated last before the value in its paragraph ('2022 年，学院办学经费总收入 … 。办学经费总支出
    …'), else the report's data year. Comparison years ('比2022年') and the report's edition ('2024 年度') are
    not the value's year."""
    report = d.doc.report
    year = report.data_year
    segment = d.mt[d.paragraph_start(sentence_start):pos]
    for m in _YEAR_RE.finditer(segment):
        before = segment[max(0, m.start() - 3):m.start()].rstrip()
        after = segment[m.end():m.end() + 3].lstrip()
        if any(before.endswith(w) for w in _COMPARED_BEFORE) or after.startswith(_COMPARED_AFTER):
            continue
        stated = int(m.group(2) or m.group(1))
        if m.group(3) == "年度" and stated == report.edition_year != report.data_year:
            continue  # '2024 年度' names the report's edition, not the data year
        year = stated
    return year


def _raw_names(m: ProseReader, segment: str) -> list[tuple[int, str]]:
    """Institution-like names in ``segment``: (start, name in match form). A name runs back from its suffix
    ('职业技术学校') over Chinese characters up to a stop character ('的', '在', …); leading generic words are
    dropped ('新设阜康职业技术学院' → 阜康职业技术学院) and wholly generic names ('各中职学校') left out.
    A verb glued in front ('支持昌吉职业技术学院') is resolved later against the document's known names."""
    found = []
    for sm in m.suffix_re.finditer(segment):
        k = sm.start()
        while k > 0 and _CJK.match(segment[k - 1]) and segment[k - 1] not in m.entity_stop \
                and sm.start() - k < _NAME_PREFIX_MAX:
            k -= 1
        lead = m.generic_lead_re.match(segment, k, sm.start())
        k = lead.end() if lead else k
        if k < sm.start():
            found.append((k, segment[k:sm.end()]))
    return found


_NAME_PREFIX_MAX = 14
# A school is attributed a value only under a name the document opens sentences with at least this often:
# one-off names are more likely a verb glued to a name ('指导职校') than a school.
_KNOWN_NAME_MIN = 2
_NOT_ATTRIBUTABLE = object()


def _bracket_depth(mt: str, start: int, pos: int) -> int:
    """How many brackets opened between ``start`` and ``pos`` are still open at ``pos``."""
    segment = mt[start:pos]
    return segment.count("(") + segment.count("（") - segment.count(")") - segment.count("）")


def _sentence_names(d: _Doc, s_start: int) -> tuple[int, list[tuple[int, str]]]:
    """Where the sentence's subject starts, and the names in it, each resolved to the longest known name it
    ends with ('支持昌吉职业技术学院' → 昌吉职业技术学院)."""
    if s_start not in d.names_cache:
        first = bisect.bisect_left(d.names, (s_start, ""))
        last = bisect.bisect_left(d.names, (d.sentence_end(s_start), ""))
        names = []
        for k, candidate in d.names[first:last]:
            if _bracket_depth(d.mt, s_start, k) > 0:
                continue  # a list in brackets ('共有中等职业技术学校6所（塔城地区师范学校、…）') names no subject
            cut = next((j for j in range(len(candidate)) if d.opener_counts.get(candidate[j:], 0) >= _KNOWN_NAME_MIN),
                       0)
            if not cut:  # '推动准东现代产业学院合作育人': a verb glued in front makes the school an object
                verb = next((v for v in d.reader.object_verbs if candidate.startswith(v) and len(candidate) > len(v)),
                            "")
                cut = len(verb)
            names.append((k - s_start + cut, candidate[cut:]))
        d.names_cache[s_start] = (d.opener_end(s_start) - s_start, names)
    return d.names_cache[s_start]


# Between a clause's opening school name and the label of its value: a few characters ('在职在编'), no more.
_NAME_TO_LABEL_MAX = 8
# What may stand before a clause's subject: what may stand before a sentence's, and '其中' / '另外'.
_CLAUSE_OPENER = re.compile(r"(?:\s|其中|另外|此外|同时|[，,：:、])*")


def _clause_entity(d: _Doc, sentence_start: int, label_start: int) -> str | None:
    """The school a clause opens with when the value's label follows it closely ('其中新疆农业职业技术学院用人
    单位满意度 99.25%'): its name as printed, else None (the sentence-level rule decides)."""
    a = label_start
    while a > sentence_start and d.mt[a - 1] not in _CLAUSE_ENDS:
        a -= 1
    opener = _CLAUSE_OPENER.match(d.mt, a, label_start).end()
    _, names = _sentence_names(d, sentence_start)
    for k, name in names:
        start = sentence_start + k
        end = start + len(name)
        if start == opener and end <= label_start and label_start - end <= _NAME_TO_LABEL_MAX \
                and not any(sentence_start + k2 > start and sentence_start + k2 < label_start for k2, _ in names):
            return None if name in d.subjects else d.text[start:end]
    return None


def _opens_with_school_word(d: _Doc, sentence_start: int) -> bool:
    """Whether a sentence of a region's report has an unnamed school as its subject ('学校…', '该校…')."""
    return d.subject_is_region and d.mt.startswith(tuple(d.reader.school_words), d.opener_end(sentence_start))


def _entity(d: _Doc, sentence_start: int, label_start: int | None = None):
    """The entity of a value in the sentence at ``sentence_start``: None (the report's subject), the name of
    the school its clause opens with right before the label, the known name of the one other school the
    sentence opens with, or _NOT_ATTRIBUTABLE (another school named, but not as the sentence's subject, or
    under a name the document does not use as a subject)."""
    if label_start is not None:
        named = _clause_entity(d, sentence_start, label_start)
        if named is not None:
            return named
    opener, names = _sentence_names(d, sentence_start)
    names = [(k, name) for k, name in names if name not in d.subjects]
    if names and not _opens_with_school_word(d, sentence_start):
        k, name = names[0]
        if len({n for _, n in names}) == 1 and k == opener and d.opener_counts.get(name, 0) >= _KNOWN_NAME_MIN:
            return d.text[sentence_start + k:sentence_start + k + len(name)]
    # The paragraph's school: a paragraph that opens with a known school and names no other up to here is about
    # that school ('塔城地区卫生学校…。学校共有计算机教室3间').
    school = _paragraph_school(d, sentence_start)
    if school is not None:
        return school
    if names or _opens_with_school_word(d, sentence_start):
        return _NOT_ATTRIBUTABLE  # another school, or '学校…' in a region's report: some school, unnamed here
    # No name in the sentence, in a paragraph where an earlier sentence opened with another school (or with
    # '学校'): too uncertain to attribute either way.
    para = d.paragraph_start(sentence_start)
    for s_start in d.sentence_starts[bisect.bisect_left(d.sentence_starts, para):
                                     bisect.bisect_left(d.sentence_starts, sentence_start)]:
        opener, names = _sentence_names(d, s_start)
        if any(k == opener and name not in d.subjects for k, name in names) or _opens_with_school_word(d, s_start):
            return _NOT_ATTRIBUTABLE
    return None


def _opens_clause(d: _Doc, pos: int) -> bool:
    """Whether ``pos`` is where a clause's subject starts (after '，', '其中' and the like)."""
    a = pos
    while a > 0 and d.mt[a - 1] not in _CLAUSE_ENDS:
        a -= 1
    return _CLAUSE_OPENER.match(d.mt, a, pos).end() == pos


def _paragraph_school(d: _Doc, sentence_start: int) -> str | None:
    """The school (as printed) the paragraph is about at ``sentence_start``: the known school that opened the
    last sentence naming a subject, up to and including this one, when no sentence since named another school;
    else None (the report's subject, or nothing certain)."""
    para = d.paragraph_start(sentence_start)
    current: tuple[int, str] | None = None
    for s_start in d.sentence_starts[bisect.bisect_left(d.sentence_starts, para):
                                     bisect.bisect_right(d.sentence_starts, sentence_start)]:
        opener, names = _sentence_names(d, s_start)
        for k, name in names:
            if k != opener and not _opens_clause(d, s_start + k):
                if current is None or name not in (current[1], *d.subjects):
                    return None  # a school named in passing: no longer certain whose the figures are
                continue
            if name in d.subjects:
                current = None  # the paragraph turns back to the report's subject
            elif d.opener_counts.get(name, 0) >= _KNOWN_NAME_MIN:
                current = (s_start + k, name)
            else:
                return None
    return d.text[current[0]:current[0] + len(current[1])] if current else None


def _quote(d: _Doc, sentence_start: int, num_start: int, num_end: int) -> str:
    end = d.sentence_end(num_start)
    end = min(len(d.text), end + 1) if end < len(d.text) and d.text[end] != "\n" else end
    a, b = sentence_start, end
    if b - a > _QUOTE_MAX:  # a window of the sentence centred on the number
        a = max(a, min(num_start - (_QUOTE_MAX - (num_end - num_start)) // 2, b - _QUOTE_MAX))
        b = a + _QUOTE_MAX
    return d.text[a:b].strip()


def extract_prose(doc: SourceDocument, codebook: Codebook, *, version: str,
                  reader: ProseReader | None = None) -> list[Observation]:
    """Every headline value the document's sentences state, with provenance."""
    m = reader or prose_reader(codebook)
    d = _Doc.of(doc, m)
    out: list[Observation] = []
    claimed: set[int] = set()  # number starts already read for some label

    def emit(code: str, label_span: tuple[int, int], reading: _Reading, *, year: int | None = None) -> bool:
        a, b = reading.num
        if a in claimed:
            return False
        read = m.value_of(code, d.text, reading)
        if read is None:
            return False
        lines = d.doc.logical.lines_of_span(a, b)
        if len(lines) != 1:
            return False  # a number broken across lines cannot be cited verbatim
        if any("\t" in d.doc.line(n) for n in {lines[0], *d.doc.logical.lines_of_span(*label_span)}):
            return False  # a table row: the table extractor reads it with its column's year
        first, last = min(a, label_span[0]), max(b, label_span[1], reading.end)
        s_start = d.sentence_start(first)
        if _excluded(m, code, d, first, last, s_start):
            return False
        entity = _entity(d, s_start, first)
        if entity is _NOT_ATTRIBUTABLE:
            return False
        claimed.add(a)
        line = lines[0]
        out.append(Observation(
            report_id=doc.report.id, source_sha256=doc.sha256, indicator_code=code,
            year=year or _year(d, s_start, a), value=read.value, unit=codebook[code].unit, raw=read.raw,
            raw_unit=read.raw_unit, line=line, quote=_quote(d, s_start, a, b), status=read.status,
            method="prose", qualifier=read.qualifier, flag=read.flag, label=d.text[label_span[0]:label_span[1]],
            entity=entity, locator=doc.locator(line), extractor_version=version,
        ))
        if year is None:  # '满意度97%，较2022年的93%上升' also states the 2022 value
            previous = m.previous_re.match(d.mt, reading.end, d.sentence_end(reading.end))
            if previous:
                stated = int(previous.group("year")) if previous.group("year") else _year(d, s_start, a) - 1
                emit(code, label_span, m.reading_of(previous), year=stated)
        return True

    def follow_ons(code: str, label_span: tuple[int, int], after: int, limit: int) -> None:
        share = m.shares.get(code)
        if share:
            sm = m.share_re.match(d.mt, after, limit)
            if sm:
                emit(share, label_span, _share_reading(sm))
        per = m.per_student.get(code)
        if per:
            pm = m.companion_re.match(d.mt, after, limit)
            # without a lead word, only a unit the total does not take marks a per-student figure
            if pm and (pm.group("lead") or m.accepts(code, pm.group("unit")) is None):
                emit(per, label_span, _Reading((pm.start("num"), pm.end("num")),
                                               (pm.start("unit"), pm.end("unit")), pm.group("unit"), "exact",
                                               pm.end()))

    for start, end, key in _label_matches(m, d.mt):
        limit = min(d.sentence_end(end), end + _WINDOW)
        for code, position in m.index[key]:
            if not position.startswith("after"):
                reading = m.read_after(d.mt, end, limit)
                if reading and position == "closed" and not _closes(d.mt, reading.end):
                    reading = None
                if reading and emit(code, (start, end), reading):
                    follow_ons(code, (start, end), reading.end, d.sentence_end(reading.end))
                    break
                share = m.shares.get(code)
                sm = m.direct_share_re.match(d.mt, end, limit) if share else None
                if sm and emit(share, (start, end), _share_reading(sm)):
                    break
            else:
                reading = m.read_before(d.mt, start, d.sentence_start(start), gap=position == "after_gap")
                if reading and emit(code, (start, end), reading):
                    break
    _context_values(m, d, emit)
    return out


def _share_reading(sm: re.Match) -> _Reading:
    return _Reading(sm.span("num"), sm.span("unit"), "%", "exact", sm.end())


def read_value(text: str, code: str, codebook: Codebook, *,
               reader: ProseReader | None = None) -> ValueReading | None:
    """Read the number that follows a label of ``code`` in ``text`` ('为 3300 余名', '16.85: 1',
    '（元/生）13782.66'), converted to the code's unit; None when no number with a unit the code takes follows."""
    m = reader or prose_reader(codebook)
    mt = match_form(text)
    reading = m.read_after(mt, 0, len(mt))
    return m.value_of(code, text, reading) if reading else None


def _closes(mt: str, pos: int) -> bool:
    rest = mt[pos:pos + 3].lstrip(" ")
    return not rest or rest[0] in _CLOSERS


def _excluded(m: ProseReader, code: str, d: _Doc, first: int, last: int, s_start: int) -> bool:
    """Words that make a match about something else: in the clause before the label ('高中阶段招生'), in the
    clause around it ('拟', '新建'), or anywhere in the sentence before it (per code: '综合高中 … 招生')."""
    clause_before, clause_after = d.clause(first, last)
    before = [*m.exclude_before["*"], *m.exclude_before.get(code, [])]
    if any(w in clause_before for w in before):
        return True
    if any(w in clause_before + clause_after for w in m.exclude_clause):
        return True
    sentence = [*m.exclude_sentence["*"], *m.exclude_sentence.get(code, [])]
    return any(w in d.mt[s_start:first] for w in sentence)


def _label_matches(m: ProseReader, mt: str):
    """(start, end, index key) of every label occurrence, longest at each start, nested ones dropped."""
    found = []
    for lm in m.label_re.finditer(mt):
        text = lm.group(1)
        key = m.by_bare.get(text.replace('"', ""))
        if key is None or key not in m.index:
            key = text if text in m.index else None
        if key is None:
            continue
        found.append((lm.start(), lm.start() + len(text), key))
    kept, reach = [], -1
    for start, end, key in found:
        if end <= reach:
            continue  # inside a longer label ('"双师型"教师比例' within '高级"双师型"教师比例')
        kept.append((start, end, key))
        reach = max(reach, end)
    return kept


def _context_values(m: ProseReader, d: _Doc, emit) -> None:
    """Short labels ('二等奖') read as a code only after their context ('自治区职业院校技能大赛') in the sentence,
    with no other contest of the kind (same last character, '赛') named in between."""
    wanted: dict[str, list[tuple[str, str]]] = {}
    for e in m.pats.context_labels:
        wanted.setdefault(match_form(e.phrase), []).append((e.code, match_form(e.context)))
    for cm in m.context_re.finditer(d.mt):
        start, end = cm.span()
        s_start = d.sentence_start(start)
        before = d.mt[s_start:start]
        for code, context in wanted.get(cm.group(), []):
            k = before.rfind(context)
            if k < 0 or context[-1] in before[k + len(context):]:
                continue
            reading = m.read_after(d.mt, end, min(d.sentence_end(end), end + _WINDOW))
            if reading and emit(code, (start, end), reading):
                break
