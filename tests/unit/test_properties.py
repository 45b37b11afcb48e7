"""Property-based tests (hypothesis): the number and unit parsers, the table readers, the decoders and the
registry on generated input. Zero crashes: every input gives a value, a missing status, or a VqrError.

Generated cells mix what reports print (plain, thousands-separated, full-width, decimal-comma, ratio and
percent numbers, '-' and other not-reported marks, footnote marks) with what hostile files carry (markup,
control characters, any Unicode). The example budget is fixed and the runs derandomised so CI is repeatable.
"""

from __future__ import annotations

import io
import json
import math
import re
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from support.paths import DATA
from vqr_analysis.sources.codebook import ANNEX_TABLES, load_codebook
from vqr_analysis.core.errors import VqrError
from vqr_analysis.extract.model import QUALIFIERS, STATUSES
from vqr_analysis.sources.textnorm import FOOTNOTE_MARKS, normalize_label
from vqr_analysis.extract.values import MISSING_MARKS, parse_value

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
SLOW_PROPERTY = settings(PROPERTY, max_examples=30)


@lru_cache(maxsize=1)
def _codebook():
    return load_codebook(DATA / "indicators.csv")


@lru_cache(maxsize=1)
def _report():
    from vqr_analysis.sources.registry import load_registry

    return next(r for r in load_registry(DATA / "reports.toml") if r.id == "004")


def _to_full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# --- strategies ----------------------------------------------------------------------------------------

amounts = st.one_of(
    st.integers(min_value=0, max_value=10**12),
    st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False),
)


@st.composite
def printed_numbers(draw) -> tuple[str, float]:
    """(as printed, its value): how the reports write a non-negative number."""
    amount = draw(amounts)
    value = float(amount)
    style = draw(st.sampled_from(["plain", "thousands", "full_width", "percent", "ratio", "spaced", "footnote"]))
    text = f"{amount:,}" if style == "thousands" else str(amount)
    if style == "full_width":
        text = _to_full_width(text)
    elif style == "percent":
        text += draw(st.sampled_from(["%", "％"]))
    elif style == "ratio":
        text += draw(st.sampled_from([":1", ": 1", "：1", "∶1"]))
    elif style == "spaced":
        text = f" {text} "
    elif style == "footnote":
        text += draw(st.sampled_from(sorted(FOOTNOTE_MARKS)))
    return text, value


hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(['<script>alert("x")</script>', "**1**", "#read(\"/etc/passwd\")", "$1$", "{{ 1 }}",
                     "1e999", "9" * 400, "1,2,3", "1..2", "٣٤", "𝟙𝟚", "\x00", "\u202e123", "1\u00a0234", "NaN",
                     "inf", "-5", "+5", "0x1F", "１，２３４．５", "3300余", "约12", "—-", "12:1:1"]),
)
cells = st.one_of(printed_numbers().map(lambda p: p[0]), st.sampled_from(sorted(MISSING_MARKS)), hostile_text)
units = st.one_of(st.none(), st.sampled_from(sorted({i.unit for i in _codebook()})), st.text(max_size=6))


# --- number parser -------------------------------------------------------------------------------------

@PROPERTY
@given(raw=cells, unit=units)
def test_parse_value_never_crashes_and_keeps_missing_apart_from_zero(raw, unit):
    parsed = parse_value(raw, unit)
    assert parsed.status in STATUSES
    if parsed.status == "missing":
        assert parsed.value is None and parsed.flag
    else:
        assert parsed.value is not None and math.isfinite(parsed.value) and parsed.value >= 0
        assert parsed.status == "reported" or parsed.flag  # a suspect reading says why


@PROPERTY
@given(printed=printed_numbers(), unit=units)
def test_printed_numbers_read_back_exactly(printed, unit):
    text, value = printed
    parsed = parse_value(text, unit)
    assert parsed.status == "reported", (text, parsed)
    assert parsed.value == pytest.approx(value, rel=1e-12, abs=1e-9)


@PROPERTY
@given(mark=st.sampled_from(sorted(MISSING_MARKS)), pad=st.sampled_from(["", " ", "\u3000", "  "]))
def test_not_reported_marks_are_missing_never_zero(mark, pad):
    parsed = parse_value(pad + mark + pad)
    assert parsed.status == "missing" and parsed.value is None


@PROPERTY
@given(number=st.from_regex(r"[1-9]\d{0,5},\d{2}", fullmatch=True))
def test_decimal_comma_is_suspect_with_its_reading(number):
    parsed = parse_value(number)
    if re.fullmatch(r"\d{1,3},\d{3}", number):
        return  # a thousands separator: '1,234'
    assert parsed.status == "suspect" and parsed.value == pytest.approx(float(number.replace(",", ".")))
    assert "comma" in parsed.flag


# --- unit parser (prose: the number and unit after a label) ---------------------------------------------

def _codes_with_unit(*unit_values: str) -> list[str]:
    return sorted(i.code for i in _codebook() if i.unit in unit_values)


@PROPERTY
@given(text=st.one_of(st.text(max_size=40), st.builds(lambda p, c, u: p + c + u,
                                                      st.sampled_from(["为", "达", "共", "约", "（元/生）", ""]),
                                                      cells, st.text(max_size=4))),
       code=st.sampled_from(sorted(i.code for i in _codebook())))
def test_read_value_never_crashes_and_raw_is_in_the_text(text, code):
    from vqr_analysis.extract.prose import read_value

    reading = read_value(text, code, _codebook())
    if reading is None:
        return
    assert reading.raw and reading.raw in text
    assert reading.raw_unit is None or reading.raw_unit.strip(": ") == "" or reading.raw_unit in text \
        or reading.raw_unit in _to_plain(text)
    assert math.isfinite(reading.value)
    assert reading.status in ("reported", "suspect") and reading.qualifier in QUALIFIERS


def _to_plain(text: str) -> str:
    from vqr_analysis.extract.prose import match_form

    return match_form(text)


@PROPERTY
@given(code=st.sampled_from(_codes_with_unit("人", "元", "元/生", "个", "门", "项")),
       n=st.integers(min_value=1, max_value=10**7), lead=st.sampled_from(["为", "达", "共", " "]),
       style=st.sampled_from(["plain", "thousands", "full_width"]))
def test_a_number_in_the_codes_own_unit_reads_back(code, n, lead, style):
    from vqr_analysis.extract.prose import read_value

    printed = f"{n:,}" if style == "thousands" else str(n)
    printed = _to_full_width(printed) if style == "full_width" else printed
    unit = _codebook()[code].unit
    reading = read_value(f"{lead}{printed}{unit}。", code, _codebook())
    assert reading is not None, (code, printed, unit)
    assert reading.raw == printed and reading.value == n


@PROPERTY
@given(code=st.sampled_from(_codes_with_unit("元", "元/生")), n=st.decimals(min_value=1, max_value=10**5, places=2))
def test_wan_yuan_converts_to_yuan(code, n):
    from vqr_analysis.extract.prose import read_value

    reading = read_value(f"为{n}万元。", code, _codebook())
    assert reading is not None and reading.raw_unit == "万元"
    assert reading.value == pytest.approx(float(n) * 10_000)


# --- table readers ---------------------------------------------------------------------------------------

def _top_level_labels(table: str) -> list[tuple[str, str]]:
    """(code, label) of rows that cannot be confused: top-level rows whose label no other row of the table
    uses (after normalisation)."""
    rows = [i for i in _codebook() if i.table == table]
    counts: dict[str, int] = {}
    for ind in rows:
        for label in ind.labels:
            counts[normalize_label(label)] = counts.get(normalize_label(label), 0) + 1
    return [(i.code, i.name_zh) for i in rows if i.parent_code is None and counts[normalize_label(i.name_zh)] == 1]


@st.composite
def annex_tables(draw) -> tuple[list[str], list[tuple[int, str, str, list[str]]]]:
    """Lines of a document holding one annex table in either layout, and the rows put in it as
    (0-based line of the row's first value, code or '', label, value cells)."""
    table = draw(st.sampled_from(sorted(ANNEX_TABLES)))
    number, name, _ = ANNEX_TABLES[table]
    title = draw(st.sampled_from([f"表 {number} {name}", f"表{number} {name}", f"附表{number}{name}",
                                  f"附表 {number}.{name}", f"表{number}：{name}"]))
    years = draw(st.sampled_from([[2024], [2023, 2024]]))
    layout = draw(st.sampled_from(["tab_rows", "cell_lines"]))
    known = _top_level_labels(table)
    rows = []
    for seq in range(1, draw(st.integers(min_value=1, max_value=8)) + 1):
        code, label = draw(st.one_of(st.sampled_from(known), st.tuples(st.just(""), hostile_text)))
        label = re.sub(r"[\t\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]", " ", label)
        values = [re.sub(r"[\t\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]", " ", draw(cells)) for _ in years]
        unit = _codebook()[code].unit if code else draw(st.sampled_from(["人", "%", "个", ""]))
        rows.append((str(seq), code, label, unit.replace("ratio", ":"), values))
    header = ["序号", "指标", "单位", *[f"{y} 年" for y in years]]
    lines = ["前言：本报告的附件如下。", "", title, ""]
    placed = []
    if layout == "tab_rows":
        lines.append("\t".join(header))
        for seq, code, label, unit, values in rows:
            placed.append((len(lines), code, label, values))
            lines.append("\t".join([seq, label, unit, *values]))
    else:
        lines.extend("\t" + h for h in header)
        for seq, code, label, unit, values in rows:
            lines.append("")
            placed.append((len(lines) + 3, code, label, values))
            lines.extend("\t" + c for c in [seq, label, unit, *values])
    lines += ["", "以上数据由学校填报。"]
    return lines, placed


def _document(lines: list[str]):
    from vqr_analysis.sources.documents import SourceDocument, sha256_bytes

    text = "\n".join(lines)
    return SourceDocument(_report(), Path("generated.txt"), sha256_bytes(text.encode()), text, lines, None)


@SLOW_PROPERTY
@given(generated=annex_tables())
def test_table_reader_stores_only_what_is_in_its_cited_line(generated):
    from vqr_analysis.extract import extract_document

    lines, placed = generated
    doc = _document(lines)
    try:
        observations, unmapped = extract_document(doc, _codebook())
    except VqrError:
        return  # a reported problem is an allowed outcome
    for obs in observations:
        assert obs.raw in doc.line(obs.line), (obs.raw, obs.line, doc.line(obs.line))
        assert obs.status in STATUSES and (obs.value is None) == (obs.status == "missing")
        assert obs.value is None or math.isfinite(obs.value)
    for row in unmapped:
        assert 1 <= row["line"] <= len(lines)


@SLOW_PROPERTY
@given(generated=annex_tables())
def test_table_reader_reads_every_number_under_a_known_label(generated):
    from vqr_analysis.extract.tables import extract_tables

    lines, placed = generated
    doc = _document(lines)
    observations, _ = extract_tables(doc, _codebook(), version="test")
    by_code: dict[str, set] = {}
    for obs in observations:
        by_code.setdefault(obs.indicator_code, set()).add((obs.raw, obs.value))
    for _, code, _, values in placed:
        if not code or sum(1 for _, c, _, _ in placed if c == code) > 1:
            continue  # a free-text row, or a code placed twice (either row may win)
        for raw in values:
            parsed = parse_value(raw, _codebook()[code].unit)
            if parsed.status == "reported" and raw.strip() == raw and raw:
                stored = {v for r, v in by_code.get(code, set()) if r == raw.strip()}
                assert stored, (code, raw, lines)
                assert any(v == pytest.approx(parsed.value) for v in stored if v is not None), (code, raw, stored)


# --- decoders and readers of whole files --------------------------------------------------------------------

@PROPERTY
@given(data=st.binary(max_size=4000))
def test_any_bytes_decode_to_text_or_a_named_error(data):
    from vqr_analysis.sources.documents import decode_text

    try:
        text = decode_text(data, "generated.txt")
    except VqrError as err:
        assert "generated.txt" in str(err)
    else:
        assert isinstance(text, str) and text.strip()


@lru_cache(maxsize=1)
def _report_texts() -> list[str]:
    from vqr_analysis.sources.registry import load_registry

    return [(DATA / r.file).read_text(encoding="utf-8") for r in load_registry(DATA / "reports.toml")]


@PROPERTY
@given(which=st.integers(min_value=0, max_value=4), start=st.integers(min_value=0, max_value=10**6),
       length=st.integers(min_value=300, max_value=3000),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]))
def test_report_text_round_trips_through_every_accepted_encoding(which, start, length, encoding):
    from vqr_analysis.sources.documents import decode_text

    text = _report_texts()[which]
    start %= max(1, len(text) - length)
    piece = text[start:start + length]
    assume(piece.strip())
    assert decode_text(piece.encode(encoding), "r.txt") == piece


@lru_cache(maxsize=1)
def _sample_files() -> dict[str, bytes]:
    from support.hostile_inputs import docx_from_text, pdf_from_text

    lines = _report_texts()[4].split("\n")
    sample = "\n".join(lines[540:600])  # prose and the first annex tables of 004
    return {".docx": docx_from_text(sample), ".pdf": pdf_from_text(sample)}


@SLOW_PROPERTY
@given(suffix=st.sampled_from([".docx", ".pdf"]), flips=st.lists(
    st.tuples(st.floats(min_value=0, max_value=1, exclude_max=True), st.integers(min_value=1, max_value=255)),
    min_size=1, max_size=8), cut=st.one_of(st.none(), st.floats(min_value=0, max_value=1)))
def test_damaged_documents_give_text_or_a_named_error(suffix, flips, cut):
    from vqr_analysis.sources.formats import read_text

    data = bytearray(_sample_files()[suffix])
    for where, mask in flips:
        data[int(where * len(data))] ^= mask
    if cut is not None:
        data = data[: int(cut * len(data))]
    try:
        text, locators = read_text(Path("damaged" + suffix), bytes(data))
    except VqrError as err:
        assert "damaged" + suffix in str(err)
    else:
        assert len(locators) == len(text.split("\n"))


# --- registry -----------------------------------------------------------------------------------------------

toml_values = st.one_of(
    st.text(max_size=30), st.integers(min_value=-10**6, max_value=10**6), st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False), st.lists(st.integers(), max_size=3),
)


@PROPERTY
@given(field=st.sampled_from(["id", "file", "sha256", "region", "level", "data_year", "edition_year",
                              "data_period_start", "data_period_end", "subject_zh", "published"]),
       value=toml_values)
def test_registry_rejects_any_bad_field_with_a_named_error(tmp_path_factory, field, value):
    from vqr_analysis.sources.registry import load_registry

    registry = tmp_path_factory.mktemp("registry") / "reports.toml"
    text = (DATA / "reports.toml").read_text(encoding="utf-8")
    literal = json.dumps(value, ensure_ascii=False) if not isinstance(value, bool) else str(value).lower()
    text = re.sub(rf"(?m)^{field} = .*$", lambda _: f"{field} = {literal}", text, count=1)
    registry.write_text(text, encoding="utf-8")
    try:
        reports = load_registry(registry)
    except VqrError as err:
        assert "reports.toml" in str(err)
    else:
        assert getattr(reports[0], field) == value
