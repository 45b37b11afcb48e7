"""Report formats: text encodings, DOCX and PDF readers, and a real report delivered as DOCX and as PDF.

The DOCX and PDF are made from real reports (tests/fixtures/hostile/make_inputs.py), registered in a temp
data folder and built through the normal registry → reader → extractors → database path; their values must
equal the text build's, and every locator must point at the page/paragraph/row holding the value.
"""

from __future__ import annotations

import io
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

from support.paths import DATA, FIXTURES

from support.hostile_inputs import copy_data, docx_from_text, pdf_from_text, register, report_entry

from vqr_analysis.core.errors import VqrError
from vqr_analysis.store.database import connect_readonly
from vqr_analysis.sources.formats import read_text
from vqr_analysis.sources.documents import decode_text, split_lines

# 004 (two year columns, merged cells in Word) as DOCX: one paragraph or table row per original line, so even
# the line numbers that data/corrections.csv cites stay the same. 000 as PDF: its lines are re-wrapped, and
# it is the tab-layout report without line-keyed corrections.
DOCX_ID, PDF_ID = "004", "000"


def _original(report_id: str) -> str:
    file, _ = report_entry(DATA, report_id)
    return (DATA / file).read_text(encoding="utf-8")


# --- text encodings -------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8-sig", "utf-16"])
def test_every_report_decodes_from_other_encodings(registry, encoding):
    for report in registry:
        text = (DATA / report.file).read_text(encoding="utf-8")
        try:
            data = text.encode(encoding)
        except UnicodeEncodeError:
            assert encoding == "gbk", "only GBK lacks characters that the reports use"
            data = text.encode("gb18030")
        assert decode_text(data, report.file) == text, (report.id, encoding)


def test_crlf_files_keep_the_same_lines_and_form_feeds_do_not_split_them():
    text = _original(DOCX_ID)
    assert split_lines(text.replace("\n", "\r\n")) == split_lines(text) == text.split("\n")
    assert split_lines("a\fb\u2028c\nd\n") == ["a\fb\u2028c", "d"]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "file is empty"),
        (b" \n\t\r\n", "file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is a PNG image"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "is a PDF, not text, despite its .txt name; register it as .pdf"),
        (b"PK\x03\x04\x14\x00\x06\x00", "is a ZIP archive"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00", "legacy Office file"),
        (b"abc\x00def", "binary (NUL byte at offset 3)"),
        ("在校生 1348 人".encode()[:-1], "ends in the middle of a UTF-8 character"),
        ("在校生 1348 人\n".encode() * 50 + b"\xff\xfe\xfd oops\n", "UTF-8 with 3 invalid byte sequence(s)"),
        (bytes(range(1, 9)) * 200, "binary or in an unknown encoding"),
    ],
)
def test_bad_text_bytes_are_named(data, message):
    with pytest.raises(VqrError, match=re.escape(message)) as err:
        read_text(Path("reports/new.txt"), data)
    assert "reports/new.txt" in str(err.value)


@pytest.mark.parametrize("name, message", [
    ("report.doc", "save .doc files as .docx"), ("report.xlsx", "unsupported report format '.xlsx'"),
    ("report", "unsupported report format '(no suffix)'"),
])
def test_unsupported_formats_list_the_supported_ones(name, message):
    with pytest.raises(VqrError, match=re.escape(message) + ".*supported: .txt, .pdf, .docx"):
        read_text(Path(name), "在校生 1348 人".encode())


# --- DOCX ----------------------------------------------------------------------------------------------

def _docx_bytes(build) -> bytes:
    import docx

    document = docx.Document()
    build(document)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_paragraphs_line_breaks_and_merged_cells():
    def build(document):
        document.add_paragraph("附表")
        para = document.add_paragraph("第一行")
        para.add_run().add_break()
        para.add_run("第二行")
        table = document.add_table(rows=3, cols=5)
        for r, cells in enumerate([["序号", "指标", "单位", "2023 年", "2024 年"],
                                   ["5", "教学计划内课程总数", "门", "221", "274"],
                                   ["", "", "学时", "21726", "27684"]]):
            for c, text in enumerate(cells):
                table.cell(r, c).text = text
        table.cell(1, 0).merge(table.cell(2, 0))  # vertical: 序号 spans both rows
        table.cell(1, 1).merge(table.cell(2, 1))
        wide = document.add_table(rows=1, cols=4)
        wide.cell(0, 0).text = "调查方式"
        wide.cell(0, 0).merge(wide.cell(0, 2))  # horizontal: spans three grid columns
        wide.cell(0, 3).text = "网上\t问卷"  # a tab inside a cell must not make a new cell

    text, locators = read_text(Path("r.docx"), _docx_bytes(build))
    assert text.split("\n") == [
        "附表", "第一行", "第二行",
        "序号\t指标\t单位\t2023 年\t2024 年", "5\t教学计划内课程总数\t门\t221\t274", "\t\t学时\t21726\t27684",
        "调查方式\t\t\t网上 问卷",
    ]
    assert locators == ["¶1", "¶2 l.1", "¶2 l.2", "table 1 row 1", "table 1 row 2", "table 1 row 3",
                        "table 2 row 1"]


def test_broken_docx_packages_are_named(monkeypatch):
    import zipfile

    import vqr_analysis.sources.formats as formats

    good = _docx_bytes(lambda d: d.add_paragraph("在校生 1348 人"))
    with pytest.raises(VqrError, match="not a readable ZIP archive"):
        read_text(Path("r.docx"), good[: len(good) // 2])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(VqrError, match=r"not a Word document \(no word/document.xml\)"):
        read_text(Path("r.docx"), buffer.getvalue())
    with pytest.raises(VqrError, match="is not a ZIP archive, not a DOCX"):
        read_text(Path("r.docx"), "在校生 1348 人".encode())
    monkeypatch.setattr(formats, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(VqrError, match="zip bomb"):
        read_text(Path("r.docx"), good)


def test_docx_without_text_is_refused():
    with pytest.raises(VqrError, match="document has no text"):
        read_text(Path("r.docx"), _docx_bytes(lambda d: d.add_paragraph("  ")))


# --- PDF -----------------------------------------------------------------------------------------------

def test_pdf_tables_become_tab_rows_and_page_furniture_is_dropped():
    lines = ["附表", "", "表 1 人才培养质量计分卡", "", "序号\t指标\t单位\t2023 年\t2024 年",
             "1\t毕业生人数\t人\t283\t378", "\t其中：升学人数\t人\t256\t332", "", "说明：数据截至 2024 年 8 月。"]
    pdf = pdf_from_text("\n".join(lines * 12))  # long enough for the tables to break across pages
    text, locators = read_text(Path("r.pdf"), pdf)
    out = text.split("\n")
    assert out == [line for line in lines * 12 if line.strip()]  # no header, no page numbers, no blank lines
    assert all(re.fullmatch(r"p\.\d+ l\.\d+", loc) for loc in locators)
    assert locators[0] == "p.1 l.1" and int(locators[-1].split()[0][2:]) > 1
    pages = [int(loc.split()[0][2:]) for loc in locators]
    assert pages == sorted(pages)


@pytest.mark.parametrize("mutate, message", [
    (lambda pdf: pdf[: len(pdf) // 2], "PDF is truncated"),
    (lambda pdf: b"%PDF-1.7\n" + b"garbage " * 100 + b"\n%%EOF\n", "cannot read the PDF"),
    (lambda pdf: b"GIF89a" + pdf, "is a GIF image: no %PDF- header"),
])
def test_broken_pdfs_are_named(mutate, message):
    pdf = pdf_from_text("在校生 1348 人")
    with pytest.raises(VqrError, match=re.escape(message)):
        read_text(Path("r.pdf"), mutate(pdf))


def test_pdf_without_text_layer_is_refused():
    import typst

    scanned = typst.compile(b'#set page(width: 10cm, height: 10cm)\n#rect(width: 5cm, height: 5cm, fill: gray)')
    with pytest.raises(VqrError, match="no text layer"):
        read_text(Path("r.pdf"), scanned)


# --- a real report as DOCX and as PDF, through the registry ----------------------------------------------

def _build_as(tmp_path: Path, report_id: str, suffix: str, content: bytes):
    from vqr_analysis.store.database import build_database
    from vqr_analysis.sources.registry import load_registry
    from vqr_analysis.sources.documents import load_document

    data = copy_data(DATA, tmp_path / "data")
    file, _ = report_entry(data, report_id)
    register(data, report_id, content, file=str(Path(file).with_suffix(suffix)))
    db = tmp_path / "vqr.duckdb"
    build_database(db, base=data)
    report = next(r for r in load_registry(data / "reports.toml") if r.id == report_id)
    return db, load_document(report, data), content


def _rows(db: Path, report_id: str, where: str = "") -> list[tuple]:
    # The project's own read-only connection: the session's shared one to the same file has its settings.
    con = connect_readonly(db)
    try:
        return con.execute(
            f"""SELECT obs_id, indicator_code, entity, year, value, status, method, raw, line, locator, source_sha256
                FROM observations WHERE report_id = ? {where} ORDER BY obs_id""", [report_id]).fetchall()
    finally:
        con.close()


def _values(rows: list[tuple]) -> Counter:
    return Counter((code, entity, year, value, status, method, raw) for _, code, entity, year, value, status,
                   method, raw, *_ in rows)


def _assert_provenance(rows, doc) -> None:
    """raw is in line `line` of the text re-extracted from the file whose SHA-256 is source_sha256."""
    assert rows
    for obs_id, *_, raw, line, locator, sha in rows:
        assert sha == doc.sha256
        assert raw in doc.line(line), (obs_id, line, raw)
        assert locator == doc.locator(line) and locator, (obs_id, locator)


@pytest.fixture(scope="module")
def docx_build(tmp_path_factory):
    return _build_as(tmp_path_factory.mktemp("docx"), DOCX_ID, ".docx", docx_from_text(_original(DOCX_ID)))


@pytest.fixture(scope="module")
def pdf_build(tmp_path_factory):
    return _build_as(tmp_path_factory.mktemp("pdf"), PDF_ID, ".pdf", pdf_from_text(_original(PDF_ID)))


def test_docx_of_a_report_gives_the_same_values_as_its_text(docx_build, built_db):
    db, doc, _ = docx_build
    rows = _rows(db, DOCX_ID)
    assert _values(rows) == _values(_rows(built_db, DOCX_ID))
    _assert_provenance(rows, doc)


def test_docx_locators_point_at_the_paragraph_or_table_row(docx_build):
    import docx

    db, doc, content = docx_build
    document = docx.Document(io.BytesIO(content))
    tables = document.tables
    paragraphs = [p.text for p in document.paragraphs]
    for *_, raw, line, locator, _ in _rows(db, DOCX_ID):
        row = re.fullmatch(r"table (\d+) row (\d+)", locator)
        if row:
            cells = [c.text for c in tables[int(row[1]) - 1].rows[int(row[2]) - 1].cells]
            assert any(raw in cell for cell in cells), (locator, raw)
        else:
            number = re.fullmatch(r"¶(\d+)(?: l\.\d+)?", locator)
            assert number and raw in paragraphs[int(number[1]) - 1], (locator, raw)


def test_pdf_of_a_report_gives_the_same_table_values_as_its_text(pdf_build, built_db):
    db, doc, _ = pdf_build
    table_rows = _rows(db, PDF_ID, "AND method = 'table'")
    assert _values(table_rows) == _values(_rows(built_db, PDF_ID, "AND method = 'table'"))
    _assert_provenance(_rows(db, PDF_ID), doc)


def test_pdf_locators_point_at_the_page(pdf_build):
    import pdfplumber

    db, _, content = pdf_build
    with pdfplumber.open(io.BytesIO(content)) as pdf:
        pages = [re.sub(r"\s+", "", page.extract_text() or "") for page in pdf.pages]
    for *_, raw, line, locator, _ in _rows(db, PDF_ID):
        page = int(re.fullmatch(r"p\.(\d+) l\.\d+", locator)[1])
        assert re.sub(r"\s+", "", raw) in pages[page - 1], (locator, raw)


def test_document_extraction_is_deterministic(pdf_build, docx_build):
    for _, doc, content in (pdf_build, docx_build):
        text, locators = read_text(doc.path, content)
        assert text == doc.text and locators == doc.locators
