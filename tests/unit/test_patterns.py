"""The prose pattern file (data/prose_patterns.toml): typed, frozen, checked when loaded.

An unknown key, an unknown indicator code, a value outside its list, a GBK save or a file that is no TOML is one
VqrError naming the file and the entry, raised by the loader (not later, while a report is read).
"""

from __future__ import annotations

import dataclasses

import pytest

from support.paths import DATA
from vqr_analysis.core.errors import VqrError
from vqr_analysis.extract.patterns import PATTERNS_FILE, ProsePatterns, load_prose_patterns
from vqr_analysis.extract.prose import ProseReader, prose_reader, read_value

SOURCE = (DATA / PATTERNS_FILE).read_text(encoding="utf-8")


@pytest.fixture
def write(tmp_path):
    def write(text: str):
        path = tmp_path / PATTERNS_FILE
        path.write_text(text, encoding="utf-8")
        return path
    return write


def _load(path, codebook):
    return load_prose_patterns(path, codes=codebook.indicators)


def test_the_project_file_loads_into_frozen_records(codebook):
    patterns = _load(DATA / PATTERNS_FILE, codebook)
    assert isinstance(patterns, ProsePatterns)
    assert patterns.labels and patterns.units and patterns.connectors and patterns.entity_suffixes
    with pytest.raises(dataclasses.FrozenInstanceError):
        patterns.labels = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        patterns.labels[0].code = "x"  # type: ignore[misc]
    assert all(label.position in ("before", "closed", "after", "after_gap") for label in patterns.labels)


def test_unknown_key_in_an_entry_is_refused_with_its_table(write, codebook):
    path = write(SOURCE.replace('{ code = "enrolment", phrase = "招生", position = "closed" }',
                                '{ code = "enrolment", phrase = "招生", positon = "closed" }'))
    with pytest.raises(VqrError, match=r"prose_patterns.toml: \[label\] entry \d+ \(enrolment\): unknown key\(s\) "
                                       r"positon"):
        _load(path, codebook)


def test_unknown_table_is_refused(write, codebook):
    with pytest.raises(VqrError, match=r"top level: unknown key\(s\) labels"):
        _load(write(SOURCE + '\n[labels]\nentries = []\n'), codebook)


def test_unknown_code_is_refused_at_load_time(write, codebook):
    path = write(SOURCE.replace('code = "enrolment", phrase = "招生"', 'code = "enrolmnet", phrase = "招生"'))
    with pytest.raises(VqrError, match=r"\[label\] 招生: unknown indicator code 'enrolmnet'"):
        _load(path, codebook)
    path = write(SOURCE.replace("[per_student.code]\n", '[per_student.code]\nno_such_total = "building_area"\n'))
    with pytest.raises(VqrError, match="unknown indicator code 'no_such_total'"):
        _load(path, codebook)


@pytest.mark.parametrize("old, new, message", [
    ('position = "closed" }', 'position = "later" }', "position must be one of before, closed, after, after_gap"),
    ('printed = "名", factor = 1', 'printed = "名", factor = "one"', "factor must be a positive number"),
    ('meaning = "approximate"', 'meaning = "roughly"', "meaning must be one of approximate, lower_bound"),
    ('place = "after_unit"', 'place = "behind"', "place must be one of before, after_number, after_unit"),
])
def test_values_outside_their_list_are_refused(write, codebook, old, new, message):
    assert old in SOURCE
    with pytest.raises(VqrError, match=message):
        _load(write(SOURCE.replace(old, new, 1)), codebook)


def test_a_bad_file_is_one_error(tmp_path, codebook):
    path = tmp_path / PATTERNS_FILE
    path.write_bytes(SOURCE.encode("gb18030"))
    with pytest.raises(VqrError, match=r"file is not UTF-8 .* save it as UTF-8"):
        _load(path, codebook)
    path.write_text("[label\nentries = ", encoding="utf-8")
    with pytest.raises(VqrError, match="prose patterns are not valid TOML"):
        _load(path, codebook)
    with pytest.raises(VqrError, match="prose pattern file not found"):
        _load(tmp_path / "absent.toml", codebook)


def test_one_reader_per_content(tmp_path, codebook):
    """The reader is compiled once per codebook and file content, and again when the file changes."""
    assert prose_reader(codebook) is prose_reader(codebook)
    copy = tmp_path / PATTERNS_FILE
    copy.write_text(SOURCE, encoding="utf-8")
    first = prose_reader(codebook, copy)
    assert read_value("为 12 人。", "enrolment", codebook, reader=first) is not None
    copy.write_text(SOURCE.replace('{ unit = "人", printed = "人", factor = 1 },', ""), encoding="utf-8")
    second = prose_reader(codebook, copy)
    assert second is not first and isinstance(second, ProseReader)
    assert read_value("为 12 人。", "enrolment", codebook, reader=second) is None
