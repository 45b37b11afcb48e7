"""Turn a report file's bytes into text lines and, for PDF and DOCX, where each line sits in the original.

``read_text(path, data)`` returns ``(text, locators)``: the text every extractor reads (lines joined by
``\\n``) and, for PDF/DOCX, one locator per line that a reader can find in the original file —
``'p.3 l.12'`` (PDF page 3, line 12 of that page), ``'¶57'`` or ``'¶57 l.2'`` (DOCX paragraph 57, its second
line) and ``'table 2 row 5'`` (DOCX table 2, row 5). Plain text has no locators (``line`` is the citation).

Every table becomes one line per row with its cells separated by tabs, the layout the annex-table reader
already knows. Extraction is deterministic: the same bytes always give the same text, so a value's
provenance (the SHA-256 of the original bytes, plus a line of the extracted text) can be re-checked by
extracting again.

Parsers of PDF and ZIP are large third-party code fed with untrusted bytes: any exception they raise is
turned into one VqrError naming the file, so a broken document never ends in a traceback.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

from vqr_analysis.core.errors import VqrError
from vqr_analysis.sources.decoding import decode_text
from vqr_analysis.sources.textnorm import PAGE_NUMBER_RE

__all__ = ["read_text", "SUPPORTED_SUFFIXES", "MAX_UNPACKED_BYTES", "sniff_format", "reader_versions"]

SUPPORTED_SUFFIXES = (".txt", ".pdf", ".docx")

# A DOCX is a ZIP: refuse archives that would unpack to more than this (a "zip bomb" would exhaust memory).
MAX_UNPACKED_BYTES = 512 * 1024 * 1024

Progress = Callable[[str], None] | None

# Leading bytes of formats people save under the wrong name; named in the error so the fix is obvious.
_MAGIC = (
    (b"%PDF-", "pdf", "a PDF"),
    (b"PK\x03\x04", "zip", "a ZIP archive (DOCX, XLSX …)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole", "a legacy Office file (.doc/.xls); save it as .docx"),
    (b"{\\rtf", "rtf", "an RTF document; save it as .docx"),
    (b"\x89PNG", "image", "a PNG image"),
    (b"\xff\xd8\xff", "image", "a JPEG image"),
    (b"GIF8", "image", "a GIF image"),
    (b"\x1f\x8b", "gzip", "a gzip archive"),
)


def reader_versions() -> dict[str, str]:
    """Versions of the PDF/DOCX libraries: the text (and so every cited line) of a PDF or DOCX depends on
    them, so they belong in the key of any cached extraction of such a file."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("pdfplumber", "pdfminer.six", "python-docx"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    return found


def sniff_format(data: bytes) -> tuple[str, str] | None:
    """(kind, description) of a known binary format by its leading bytes, else None."""
    head = data[:16].lstrip(b"\xef\xbb\xbf")
    for magic, kind, description in _MAGIC:
        if head.startswith(magic):
            return kind, description
    return None


def read_text(path: Path, data: bytes, *, progress: Progress = None) -> tuple[str, list[str] | None]:
    """Return (text, per-line locators or None) for a report file's bytes, chosen by the file's suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not data.strip():
        raise VqrError("file is empty", path=path)
    sniffed = sniff_format(data)
    if suffix == ".txt":
        if sniffed:
            hint = f"; register it as {'.' + sniffed[0]}" if sniffed[0] == "pdf" else ""
            raise VqrError(f"file is {sniffed[1]}, not text, despite its .txt name{hint}", path=path)
        return decode_text(data, path), None
    if suffix == ".pdf":
        if not data.lstrip()[:5] == b"%PDF-":
            what = sniffed[1] if sniffed else "not a PDF"
            raise VqrError(f"file is {what}: no %PDF- header", path=path)
        if b"%%EOF" not in data[-2048:]:
            # pdfminer would quietly recover the pages before the cut and lose the rest.
            raise VqrError("PDF is truncated (no %%EOF marker at its end)", path=path)
        lines, locators = _read_pdf(path, data, progress)
    elif suffix == ".docx":
        if not sniffed or sniffed[0] != "zip":
            what = sniffed[1] if sniffed else "not a ZIP archive"
            raise VqrError(f"file is {what}, not a DOCX document", path=path)
        lines, locators = _read_docx(path, data)
    else:
        legacy = " (save .doc files as .docx)" if suffix == ".doc" else ""
        raise VqrError(f"unsupported report format {suffix or '(no suffix)'!r}{legacy}; "
                       f"supported: {', '.join(SUPPORTED_SUFFIXES)}", path=path)
    # A stray CR inside a PDF string or DOCX run must not split a line: locators are one per line.
    lines = [_STRAY_BREAK.sub(" ", line) for line in lines]
    if not any(line.strip() for line in lines):
        kind = "PDF has no text layer (scanned pages? run OCR first)" if suffix == ".pdf" else "document has no text"
        raise VqrError(kind, path=path)
    return "\n".join(lines), locators


# --- shared ------------------------------------------------------------------------------------------------

_ASCII_WORD = re.compile(r"[A-Za-z0-9]")
_STRAY_BREAK = re.compile(r"[\r\n]")


def _join_wrapped(parts: list[str]) -> str:
    """Join the visual lines of one cell: no space between CJK pieces, one space between Latin words."""
    out = ""
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if out and _ASCII_WORD.match(out[-1]) and _ASCII_WORD.match(part[0]):
            out += " "
        out += part
    return out


def _row_line(cells: list[str | None]) -> str:
    """A table row as one tab-separated line: a tab inside a cell becomes a space (it must not make a new
    cell), a line break inside a cell is undone as wrapping."""
    return "\t".join(_join_wrapped(re.split(r"[\r\n]+", (cell or "").replace("\t", " "))) for cell in cells)


# --- PDF -----------------------------------------------------------------------------------------------------

def _read_pdf(path: Path, data: bytes, progress: Progress) -> tuple[list[str], list[str]]:
    import pdfplumber

    try:
        pdf = pdfplumber.open(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - pdfminer raises many types on hostile bytes
        raise VqrError(f"cannot read the PDF ({_why(exc)})", path=path) from None
    pages: list[list[_PdfLine]] = []
    with pdf:
        try:
            page_list = pdf.pages
        except Exception as exc:  # noqa: BLE001
            raise VqrError(f"cannot read the PDF's pages ({_why(exc)})", path=path) from None
        for number, page in enumerate(page_list, 1):
            if progress and (number == 1 or number % 10 == 0 or number == len(page_list)):
                progress(f"reading {path.name}: page {number}/{len(page_list)}")
            try:
                pages.append(list(_pdf_page_lines(page)))
            except Exception as exc:  # noqa: BLE001
                raise VqrError(f"cannot read page {number} of the PDF ({_why(exc)})", path=path) from None
            finally:
                page.close()  # frees the page's parsed objects: memory stays flat on long documents
    furniture = _running_furniture(pages)
    lines: list[str] = []
    locators: list[str] = []
    for number, page_lines in enumerate(pages, 1):
        kept = [line.text for line in page_lines if not (line.in_margin and _furniture_key(line.text) in furniture)]
        for k, text in enumerate(kept, 1):
            lines.append(text)
            locators.append(f"p.{number} l.{k}")
    unmapped = sum(line.count("(cid:") for line in lines)
    if unmapped and unmapped * 20 > sum(len(line) for line in lines):
        raise VqrError("PDF fonts carry no Unicode mapping (text reads as '(cid:…)'); re-export or OCR it",
                       path=path)
    return lines, locators


class _PdfLine(NamedTuple):
    text: str
    in_margin: bool  # in the top or bottom band of the page, where running headers and page numbers sit


_MARGIN_BAND = 0.1  # share of the page height at top and bottom


def _furniture_key(text: str) -> str:
    """Running headers differ only in their page number: compare them with digits blanked."""
    return "#page" if PAGE_NUMBER_RE.match(text) else re.sub(r"\d+", "#", text.strip())


def _running_furniture(pages: list[list[_PdfLine]]) -> set[str]:
    """Keys of margin lines that are page numbers or repeat on at least 2 pages (and a third of them).

    They are dropped from the text: a page footer in the middle of a table that continues on the next page
    would otherwise cut the table in two.
    """
    counts: dict[str, int] = {}
    for page_lines in pages:
        for key in {_furniture_key(line.text) for line in page_lines if line.in_margin}:
            counts[key] = counts.get(key, 0) + 1
    needed = max(2, len(pages) // 3)
    return {key for key, n in counts.items() if key == "#page" or n >= needed}


def _pdf_page_lines(page) -> Iterator[_PdfLine]:
    """A page's text lines top to bottom; each ruled table is replaced by one tab-separated line per row."""
    page = page.dedupe_chars()  # fake-bold overprinting would double every character
    tables = [t for t in page.find_tables() if t.bbox[3] > t.bbox[1]]
    outside = page
    for table in tables:
        outside = outside.outside_bbox(table.bbox)
    band = _MARGIN_BAND * float(page.height)
    blocks: list[tuple[float, list[_PdfLine]]] = []
    for line in outside.extract_text_lines(strip=True):
        in_margin = line["top"] < band or line["bottom"] > float(page.height) - band
        blocks.append((line["top"], [_PdfLine(line["text"], in_margin)]))
    for table in tables:
        blocks.append((table.bbox[1], [_PdfLine(_row_line(row), False) for row in table.extract()]))
    for _, block in sorted(blocks, key=lambda b: b[0]):
        yield from block


def _why(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{exc.__class__.__name__}: {text[:120]}" if text else exc.__class__.__name__


# --- DOCX ----------------------------------------------------------------------------------------------------

def _read_docx(path: Path, data: bytes) -> tuple[list[str], list[str]]:
    _check_docx_archive(path, data)
    import docx
    from docx.oxml.ns import qn
    from docx.text.paragraph import Paragraph

    try:
        body = docx.Document(io.BytesIO(data)).element.body
    except Exception as exc:  # noqa: BLE001 - python-docx/lxml on a broken package
        raise VqrError(f"cannot read the DOCX ({_why(exc)})", path=path) from None

    lines: list[str] = []
    locators: list[str] = []
    paragraphs = tables = 0
    for block in _docx_blocks(body, qn):
        if block.tag == qn("w:p"):
            paragraphs += 1
            parts = Paragraph(block, None).text.split("\n")
            for k, part in enumerate(parts, 1):
                lines.append(part)
                locators.append(f"¶{paragraphs}" if len(parts) == 1 else f"¶{paragraphs} l.{k}")
        else:
            tables += 1
            for row_number, cells in enumerate(_docx_rows(block, qn, Paragraph), 1):
                lines.append(_row_line(cells))
                locators.append(f"table {tables} row {row_number}")
    return lines, locators


def _check_docx_archive(path: Path, data: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise VqrError(f"DOCX is not a readable ZIP archive ({_why(exc)})", path=path) from None
    with archive:
        names = set(archive.namelist())
        if "word/document.xml" not in names:
            raise VqrError("ZIP archive is not a Word document (no word/document.xml)", path=path)
        unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_UNPACKED_BYTES:
            raise VqrError(f"DOCX would unpack to {unpacked / 2**20:.0f} MB (limit "
                           f"{MAX_UNPACKED_BYTES / 2**20:.0f} MB); refusing a possible zip bomb", path=path)


def _docx_blocks(container, qn) -> Iterator:
    """Paragraphs and tables in reading order, looking inside content controls (w:sdt) too."""
    for child in container.iterchildren():
        if child.tag in (qn("w:p"), qn("w:tbl")):
            yield child
        elif child.tag == qn("w:sdt"):
            content = child.find(qn("w:sdtContent"))
            if content is not None:
                yield from _docx_blocks(content, qn)


def _docx_rows(tbl, qn, paragraph_cls) -> Iterator[list[str]]:
    """Cells per grid column: a merged cell's text once, empty strings where the merge continues."""
    for tr in tbl.iterchildren(qn("w:tr")):
        cells: list[str] = [""] * tr.grid_before
        for tc in tr.iterchildren(qn("w:tc")):
            continued = tc.vMerge == "continue"
            # Paragraphs of nested tables are included (flattened) so no text is dropped.
            text = "" if continued else _join_wrapped([paragraph_cls(p, None).text for p in tc.iter(qn("w:p"))])
            cells.append(text)
            cells.extend([""] * (tc.grid_span - 1))
        yield cells
