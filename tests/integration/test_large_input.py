"""The large-input path gives the same answers as the plain definitions it replaced.

``LogicalText`` maps offsets to source lines per line segment (not per character), ``match_form`` substitutes
only the characters it changes, and the conflict and parts rules of validate compare distinct values and
running minima (not every pair of statements), so that a 50 MB report builds in seconds and a few hundred MB. Each is checked here against the straightforward
definition, on the real reports, on their statements repeated as an inflated report repeats them
(tests/fixtures/hostile/make_inputs.py: inflate), and on generated inputs. Speed and memory are measured by
benchmarks/bench_large_input.py, never asserted here.
"""

from __future__ import annotations

import random
from dataclasses import replace
from itertools import combinations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vqr_analysis.extract.prose import _MATCH_FOLD, _MATCH_FOLD_CHUNK, match_form
from vqr_analysis.sources.textnorm import LogicalText, logical_text
from vqr_analysis.quality.rules import (
    _PART_TOLERANCE, _bounds, _by_key, _conflicts, _disagree, _extraction, _Obs, _parts, _ratios,
)

# --- LogicalText ---------------------------------------------------------------------------------------------


def _per_character(joined: LogicalText) -> list[int]:
    """The source line of every character, as the old one-int-per-character list held it."""
    lines = [0] * len(joined.text)
    for start, end, line in joined.segments():
        lines[start:end] = [line] * (end - start)
    return lines


def _line_at(per_char: list[int], offset: int) -> int:
    """The definition: the nearest real character, the later one on a tie, else 1."""
    n = len(per_char)
    for delta in range(n):
        for pos in (offset + delta, offset - delta):
            if 0 <= pos < n and per_char[pos]:
                return per_char[pos]
    return 1


def _assert_lookups_match(joined: LogicalText, lines: list[str], rng: random.Random) -> None:
    text, n = joined.text, len(joined.text)
    segments = list(joined.segments())
    # The segments tile the text; each is a break or characters found verbatim in the line it cites.
    assert [start for start, _, _ in segments] == [0, *(end for _, end, _ in segments)][:len(segments)]
    assert (segments[-1][1] if segments else 0) == n
    for start, end, line in segments:
        assert end > start
        assert text[start:end] == "\n" if line == 0 else text[start:end] in lines[line - 1]
    per_char = _per_character(joined)
    far = [-2 * n - 1, -n - 1, -n, -n + 1, -1, n, n + 1, 2 * n - 2, 2 * n - 1, 2 * n]
    offsets = list(range(n)) if n <= 20_000 else rng.sample(range(n), 20_000)
    for offset in offsets + far:
        assert joined.line_at(offset) == _line_at(per_char, offset), offset
    # Spans around every segment boundary (where a lookup could be off by one), plus random ones.
    edges = [s for s, _, _ in segments]
    spans = [(e + a, e + b) for e in edges[:3000] for a, b in ((-1, 1), (0, 1), (-1, 0), (0, 0), (-2, 5))]
    spans += [(rng.randint(-n - 2, n + 2), rng.randint(-n - 2, n + 2)) for _ in range(500)]
    for start, end in spans:
        assert joined.lines_of_span(start, end) == sorted({ln for ln in per_char[start:end] if ln}), (start, end)


@pytest.mark.parametrize("report_id", ["000", "001", "002", "003", "004"])
def test_logical_text_lookups_match_the_per_character_definition(documents, report_id):
    doc = documents[report_id]
    _assert_lookups_match(doc.logical, doc.lines, random.Random(report_id))


_LINE_PIECES = ["", "  ", "12", "- 3 -", "第 4 页", "质量报告（2024 年度）", "一、总体情况", "在校生 300 人。", "其中：",
                "指标\t单位\t2023 年", "\t6235", "图 3：产业分布", "这是一段没有结束的很长的正文继续写到下一行", "短句；", "x",
                "  前导空格", "尾部空格  ", "1.3技能成长", "！", "生师比 16.85: 1", "\r"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.sampled_from(_LINE_PIECES), min_size=1, max_size=3).map("".join), max_size=40),
       st.randoms(use_true_random=False))
def test_logical_text_lookups_on_generated_lines(lines, rng):
    headers = {rng.choice(lines).strip()} if lines and rng.random() < 0.3 else None
    _assert_lookups_match(logical_text(lines, page_headers=headers), lines, rng)


# --- match_form ----------------------------------------------------------------------------------------------


def test_match_form_is_the_character_translation(documents):
    for doc in documents.values():
        assert match_form(doc.text) == doc.text.translate(_MATCH_FOLD)
    every = "".join(doc.text for doc in documents.values()) * 3
    assert len(every) > 2 * _MATCH_FOLD_CHUNK  # several chunks, cut anywhere
    assert match_form(every) == every.translate(_MATCH_FOLD)


@given(st.text(alphabet=st.sampled_from([chr(c) for c in _MATCH_FOLD] + list("生师比 12.5%\n\t]^-\\") +
                                        [chr(0xFF00), chr(0xFF5F), chr(0x2FFF)])))
def test_match_form_on_generated_text(text):
    assert match_form(text) == text.translate(_MATCH_FOLD)


# --- validate: conflicts and parts --------------------------------------------------------------------------


def _pairwise_conflicts(observations: list[_Obs], caught: set[int]) -> list[tuple]:
    """The definition: every pair of a key's statements, in order; a statement is flagged at its first pair."""
    flags: dict[int, tuple] = {}
    for group in _by_key(observations).values():
        stated = [o for o in group if o.value is not None and o.method != "correction"]
        for a, b in combinations(stated, 2):
            if not _disagree(a, b):
                continue
            for x in [x for x in (a, b) if x.obs_id in caught] or [a, b]:
                other = b if x is a else a
                flags.setdefault(x.obs_id, (x.obs_id, other.obs_id))
    return list(flags.values())


def _pairwise_parts(observations: list[_Obs], codebook) -> list[tuple]:
    """The definition: each part against every exact total of its key, the first bigger one named."""
    from vqr_analysis.quality.rules import _ADDITIVE_KINDS, PARTS

    groups = _by_key(observations)
    found = []
    for part, total in [(i.code, i.parent_code) for i in codebook if i.parent_code] + PARTS:
        if part not in codebook or total not in codebook or codebook[part].unit != codebook[total].unit \
                or codebook[part].unit_kind not in _ADDITIVE_KINDS:
            continue
        for o in observations:
            if o.code != part or o.value is None:
                continue
            totals = [t for t in groups.get((o.report_id, o.entity or "", total, o.year), [])
                      if t.value is not None and t.qualifier == "exact"]
            bigger = next((t for t in totals if o.value > t.value * (1 + _PART_TOLERANCE)), None)
            if bigger and o.qualifier in ("exact", "lower_bound"):
                found.append((o.obs_id, bigger.obs_id))
    return found


def _real_statements(db_con) -> list[_Obs]:
    rows = db_con.execute(
        """SELECT obs_id, report_id, entity, indicator_code, year, value, unit, raw, raw_unit, line, status,
                  method, qualifier, flag
           FROM observations ORDER BY obs_id""").fetchall()
    return [_Obs(*row) for row in rows]


def _repeated(observations: list[_Obs], copies: int, rng: random.Random) -> list[_Obs]:
    """The statements as a report with its body repeated states them: each again, on later lines, with new
    ids; some copies print a value slightly differently (as a typo in one copy would)."""
    out = []
    for k in range(copies):
        for o in observations:
            value = o.value
            if value is not None and k and rng.random() < 0.05:
                value = value * rng.choice([1.002, 1.2, 0.5])
            out.append(replace(o, obs_id=k * 100_000 + o.obs_id, line=o.line + k * 10_000, value=value))
    return out


def _caught(observations: list[_Obs], codebook) -> set[int]:
    flags = _extraction(observations) + _bounds(observations, codebook) + _parts(observations, codebook)
    flags += _ratios(observations, {f.obs_id for f in flags})
    return {f.obs_id for f in flags}


def _linear(observations: list[_Obs], caught: set[int]) -> list[tuple]:
    """validate's rule, as (flagged, named other) in the order the flags are written (the message is made
    from the two)."""
    return [(f.obs_id, f.related_obs_id) for f in _conflicts(observations, caught)]


def test_conflicts_match_the_pairwise_definition_on_real_and_repeated_statements(db_con, codebook):
    rng = random.Random(9)
    real = _real_statements(db_con)
    for observations in (real, _repeated(real, 6, rng)):
        caught = _caught(observations, codebook)
        expected = _pairwise_conflicts(observations, caught)
        assert expected, "the real reports have conflicts; the comparison must cover some"
        assert _linear(observations, caught) == expected
        # Also with other statements caught: blame moves, the order of flags must still match.
        some = set(rng.sample(sorted(o.obs_id for o in observations), len(observations) // 5))
        assert _linear(observations, some) == _pairwise_conflicts(observations, some)


def test_parts_match_the_pairwise_definition_on_real_and_repeated_statements(db_con, codebook):
    real = _real_statements(db_con)
    for observations in (real, _repeated(real, 6, random.Random(3))):
        found = [(f.obs_id, f.related_obs_id) for f in _parts(observations, codebook)]
        assert found == _pairwise_parts(observations, codebook)
    assert _pairwise_parts(real, codebook), "the real reports have a part above its total"


_statement = st.tuples(
    st.sampled_from(["full_time_teachers", "graduates", "equipment_value_per_student"]),
    st.sampled_from([None, 0.0, 12.0, 12.04, 12.5, 13.0, 300.0, 8700.0, 8740.5]),
    st.sampled_from(["exact", "exact", "approximate", "lower_bound", "upper_bound"]),
    st.sampled_from(["12", "12.0", "0.87", "8740.5", "1,2"]),
    st.sampled_from(["prose", "table", "correction"]),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_statement, max_size=30))
def test_conflicts_match_the_pairwise_definition_on_generated_statements(statements):
    observations = [_Obs(i, "T", None, code, 2023, value, "人", raw, None, i, "reported", method, qualifier, None)
                    for i, (code, value, qualifier, raw, method, _) in enumerate(statements, 1)]
    caught = {i for i, (*_, is_caught) in enumerate(statements, 1) if is_caught}
    assert _linear(observations, caught) == _pairwise_conflicts(observations, caught)
