"""The coverage ledger: every number printed in a report, and what became of it.

In: one :class:`~vqr_analysis.sources.documents.SourceDocument` (its lines and logical text) and the
observations extracted from it. Out: one :class:`LedgerRow` per number printed in the text, classed

- ``extracted``: an observation holds it (``obs_ids`` lists every observation it feeds, corrections included);
- ``context``: a general lexical rule of ``data/ledger_rules.toml`` says it states no quantity (a year, a
  document number, a section number, a rank, a code, a change, a bucket bound …) and names the reason; a
  line dropped from the logical text as a page number or running header is ``page``;
- ``unread``: everything else. A quantity that is not read stays ``unread``: no rule calls a number context
  for lack of a reading.

A number is a run of digits with optional '.'/',' groups ('1,348', '16.85', '4651,60'); full-width digits
count. The '1' of a ratio 'x:1' is part of the ratio's notation, not a number of its own. Chinese numerals
(一、三个) are not counted: the extractors read only digits.

Pure: no database, no files except the rules (loaded once by :func:`load_ledger_rules`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path

from vqr_analysis.core.errors import VqrError, reject_unknown_keys
from vqr_analysis.core.paths import data_dir
from vqr_analysis.core.schema import LEDGER_CLASSES, NUMBER_LEDGER
from vqr_analysis.extract.model import Observation
from vqr_analysis.sources.documents import SourceDocument
from vqr_analysis.sources.textnorm import FOLD_WIDTH_TABLE, LogicalText

__all__ = [
    "LedgerRow", "LedgerRules", "LedgerRule", "Reason", "CLASSES", "load_ledger_rules", "build_ledger",
    "ledger_rows", "number_spans", "ledger_frame",
]

CLASSES = LEDGER_CLASSES

_RULES_FILE = "ledger_rules.toml"
# Full-width forms folded like the extractors fold them, except the full-width comma: it separates clauses
# ('3858，1200'), while an ASCII comma between digits is a thousands or decimal separator.
_FOLD = {k: v for k, v in FOLD_WIDTH_TABLE.items() if k != ord("，")}
# The first digit comes first and the "no digit, '.' or ',' before it" test follows it: a pattern that opens
# with a digit lets the regex engine jump from digit to digit instead of trying a lookbehind at every character
# (eight times faster over a report; the same matches as '(?<![\d.,])\d+…').
_NUMBER = r"\d(?<![\d.,]\d)\d*(?:[.,]\d+)*(?!\d)"
_NUMBER_RE = re.compile(_NUMBER)
_YEAR = r"(?:19|20)(?<![\d.,]..)\d\d(?![\d.,])"
# The '1' closing a ratio ('16.85:1', '20.05 ∶ 1') is notation, not a number.
_RATIO_ONE_RE = re.compile(r"\d\s*[:∶]\s*$")
_CONTEXT_CHARS = 24


@dataclass(frozen=True)
class Reason:
    """A named reason for ``context``, with the legend in Chinese and English."""

    name: str
    zh: str
    en: str


@dataclass(frozen=True)
class LedgerRule:
    """One lexical rule: ``pattern`` (with ``{N}``/``{Y}`` for the number) gives ``reason``; a ``region`` rule
    (no ``{N}``) gives it to every number inside its match."""

    reason: str
    pattern: str
    note: str = ""
    region: bool = False

    @property
    def regex(self) -> re.Pattern:
        return _compile(self.pattern)


@dataclass(frozen=True)
class LedgerRules:
    reasons: dict[str, Reason]
    rules: tuple[LedgerRule, ...]


@lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern:
    expanded = pattern.replace("{N}", f"(?P<n>{_NUMBER})").replace("{Y}", f"(?P<n>{_YEAR})")
    return re.compile(expanded)


def load_ledger_rules(path: Path | None = None) -> LedgerRules:
    """Read and check the rules: unknown keys, unknown reasons, a pattern without exactly one number, or a
    pattern that does not compile are each one VqrError naming the rule."""
    path = path or data_dir() / _RULES_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VqrError("ledger rules not found", path=path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise VqrError(f"ledger rules are not valid TOML: {exc}", path=path) from None
    reject_unknown_keys(data, ("reasons", "rule"), "top level", path)
    reasons = {}
    for name, table in data.get("reasons", {}).items():
        reject_unknown_keys(table, ("zh", "en"), f"reasons.{name}", path)
        reasons[name] = Reason(name, str(table.get("zh", name)), str(table.get("en", name)))
    reasons.setdefault("page", Reason("page", "页码或页眉", "page number or running header"))
    rules = []
    allowed = [f.name for f in fields(LedgerRule)]
    for i, table in enumerate(data.get("rule", []), 1):
        where = f"rule {i}"
        reject_unknown_keys(table, allowed, where, path)
        missing = [k for k in ("reason", "pattern") if not table.get(k)]
        if missing:
            raise VqrError(f"{where}: missing {', '.join(missing)}", path=path)
        if table["reason"] not in reasons:
            raise VqrError(f"{where}: unknown reason {table['reason']!r} (add it under [reasons])", path=path)
        region = table.get("region", False)
        if not isinstance(region, bool):
            raise VqrError(f"{where}: region must be true or false", path=path)
        holes = table["pattern"].count("{N}") + table["pattern"].count("{Y}")
        if holes != (0 if region else 1):
            raise VqrError(f"{where}: the pattern must hold {{N}} or {{Y}} "
                           + ("not at all (a region rule)" if region else "exactly once"), path=path)
        rule = LedgerRule(table["reason"], table["pattern"], table.get("note", ""), region)
        try:
            rule.regex
        except re.error as exc:
            raise VqrError(f"{where}: pattern does not compile ({exc})", path=path) from None
        rules.append(rule)
    return LedgerRules(reasons, tuple(rules))


@dataclass
class LedgerRow:
    report_id: str
    line: int
    position: int
    raw: str
    cls: str
    reason: str | None = None
    obs_ids: list[int] = field(default_factory=list)
    context: str = ""

    def as_row(self) -> dict:
        return {"report_id": self.report_id, "line": self.line, "position": self.position, "raw": self.raw,
                "class": self.cls, "reason": self.reason,
                "obs_ids": " ".join(map(str, self.obs_ids)) or None, "context": self.context}


def ledger_frame(rows: Sequence[LedgerRow]):
    """A typed polars frame with exactly the ``number_ledger`` columns, in order."""
    import polars as pl

    schema = NUMBER_LEDGER.polars_schema()
    return pl.DataFrame([r.as_row() for r in rows], schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def number_spans(line: str) -> list[tuple[int, str]]:
    """(position, raw) of every number printed in one line, in order."""
    folded = line.translate(_FOLD)
    spans = []
    for m in _NUMBER_RE.finditer(folded):
        if m.group() == "1" and _RATIO_ONE_RE.search(folded, 0, m.start()):
            continue
        spans.append((m.start(), line[m.start():m.end()]))
    return spans


def _rule_reasons(text: str, rules: Sequence[LedgerRule]) -> dict[tuple[int, int], str]:
    """(start, end) in ``text`` → reason of the first rule (in file order) whose number is that span."""
    found: dict[tuple[int, int], str] = {}
    for rule in rules:
        for m in rule.regex.finditer(text):
            if not rule.region:
                found.setdefault(m.span("n"), rule.reason)
                continue
            for n in _NUMBER_RE.finditer(text, m.start(), m.end()):
                found.setdefault(n.span(), rule.reason)
    return found


def _printed_number(raw: str) -> str | None:
    """The number an observation's raw prints ('20.05:1' → '20.05', '95.87%' → '95.87')."""
    m = _NUMBER_RE.search(raw.translate(_FOLD))
    return raw[m.start():m.end()] if m else None


def _assign(doc_lines: Sequence[str], spans: dict[int, list[tuple[int, str]]],
            observations: Sequence[Observation]) -> dict[tuple[int, int], list[int]]:
    """(line, position) → obs_ids. Each observation takes a number at its cited line printed as its raw;
    among several, the one nearest its label (an untaken one first), so that two equal cells of one table row
    go to the two observations that read them. A correction joins the number its corrected statement took."""
    taken: dict[tuple[int, int], list[int]] = {}
    code_at: dict[tuple[int, str], set[tuple[int, int]]] = {}
    ordered = sorted(observations, key=lambda o: (o.method == "correction", o.obs_id or 0))
    for o in ordered:
        if o.obs_id is None or not o.raw or not 1 <= o.line <= len(doc_lines):
            continue
        printed = _printed_number(o.raw)
        candidates = [pos for pos, raw in spans.get(o.line, []) if raw == printed]
        if not candidates:
            continue
        if o.method == "correction":
            mine = [pos for pos in candidates if (o.line, pos) in code_at.get((o.line, o.indicator_code), set())]
            if mine:
                taken[o.line, mine[0]].append(o.obs_id)
                continue
        line = doc_lines[o.line - 1]
        label_at = line.find(o.label) if o.label else -1
        label_end = label_at + len(o.label) if label_at >= 0 else 0

        def distance(pos: int) -> tuple[int, int]:
            if label_at < 0:
                return (0, pos)
            return (0, pos - label_end) if pos >= label_end else (1, label_at - pos)

        pos = min(candidates, key=lambda p: ((o.line, p) in taken, distance(p)))
        taken.setdefault((o.line, pos), []).append(o.obs_id)
        code_at.setdefault((o.line, o.indicator_code), set()).add((o.line, pos))
    return taken


def build_ledger(doc: SourceDocument, observations: Sequence[Observation],
                 rules: LedgerRules | None = None) -> list[LedgerRow]:
    """One row per number printed in ``doc``, in line and position order (see the module docstring)."""
    mine = [o for o in observations if o.report_id == doc.report.id]
    return ledger_rows(doc.report.id, doc.lines, doc.logical, mine, rules or load_ledger_rules())


def ledger_rows(report_id: str, lines: Sequence[str], logical: LogicalText, observations: Sequence[Observation],
                rules: LedgerRules) -> list[LedgerRow]:
    """The ledger of one text: its lines (``lines[0]`` is line 1), their logical text, and the observations
    read from them."""
    reasons = _rule_reasons(logical.text.translate(_FOLD), rules.rules)
    # Where each kept line's text starts in the logical text (its leading spaces are not copied there).
    line_start: dict[int, int] = {}
    for start, _end, number in logical.segments():
        if number:
            line_start[number] = start
    dropped = set(logical.dropped_lines)
    spans = {number: found for number, line in enumerate(lines, 1) if (found := number_spans(line))}
    extracted = _assign(lines, spans, observations)
    rows: list[LedgerRow] = []
    for number, line_spans in spans.items():
        line = lines[number - 1]
        indent = len(line) - len(line.lstrip())
        for pos, raw in line_spans:
            row = LedgerRow(report_id, number, pos, raw, "unread")
            at = line_start[number] + pos - indent if number in line_start else None
            if (number, pos) in extracted:
                row.cls, row.obs_ids = "extracted", extracted[number, pos]
            elif number in dropped:
                row.cls, row.reason = "context", "page"
            elif at is not None and (at, at + len(raw)) in reasons:
                row.cls, row.reason = "context", reasons[at, at + len(raw)]
            if at is not None:
                row.context = logical.text[max(0, at - _CONTEXT_CHARS):at + len(raw) + _CONTEXT_CHARS]
            else:
                row.context = line.strip()[:2 * _CONTEXT_CHARS]
            rows.append(row)
    return rows
