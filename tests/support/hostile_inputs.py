"""Builders of hostile and foreign-format inputs from the real reports (used by tests and benchmarks).

Nothing here is a stored expected output: every builder derives its input from a report in data/ so the
tests compare "the same report, delivered differently" against the text build.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
from pathlib import Path

__all__ = [
    "copy_data", "register", "report_entry", "annex_start", "inflate", "text_blocks", "docx_from_text",
    "pdf_from_text", "MARKUP_FIXTURE", "markup_sections", "markup_report", "wide_table_report", "encrypted_pdf",
    "inflating_docx", "REGISTRY_MARKUP",
]

# Markdown and HTML that would become a javascript: link, an image loaded from outside and autolinked URLs if
# registry text reached a page as markup (issue 17, item 1).
REGISTRY_MARKUP = "厅 ![t](http://127.0.0.1:9/t.png) [click](javascript:alert(1)) <b>粗</b> www.example.com"

MARKUP_FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "hostile" / "markup_lines.txt"


def copy_data(src: Path, dst: Path) -> Path:
    """A private copy of a data folder (without databases or exports), ready to be mutated."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.duckdb*", "observations.*", ".*"))
    return dst


def report_entry(data: Path, report_id: str) -> tuple[str, str]:
    """(file, sha256) of a registry entry."""
    import tomllib

    for entry in tomllib.loads((data / "reports.toml").read_text(encoding="utf-8"))["report"]:
        if entry["id"] == report_id:
            return entry["file"], entry["sha256"]
    raise KeyError(report_id)


def register(data: Path, report_id: str, content: bytes, *, file: str | None = None,
             sha256: str | None = None) -> Path:
    """Write ``content`` as the report's file (optionally under a new name) and register its SHA-256.

    ``sha256`` overrides the registered hash (to test a file that does not match its registration).
    """
    registry = data / "reports.toml"
    text = registry.read_text(encoding="utf-8")
    old_file, old_sha = report_entry(data, report_id)
    new_file = file or old_file
    path = data / new_file
    if new_file != old_file:
        (data / old_file).unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    digest = sha256 or hashlib.sha256(content).hexdigest()
    text = text.replace(f'sha256 = "{old_sha}"', f'sha256 = "{digest}"', 1)
    text = text.replace(f'file = "{old_file}"', f'file = "{new_file}"', 1)
    registry.write_text(text, encoding="utf-8")
    return path


_ANNEX_HEADING = re.compile(r"^附表\s*$")


def annex_start(lines: list[str]) -> int:
    """Index of the heading that opens the annex (the last line that is just '附表')."""
    found = [i for i, line in enumerate(lines) if _ANNEX_HEADING.match(line.strip())]
    if not found:
        raise ValueError("no '附表' heading")
    return found[-1]


def markup_sections(path: Path = MARKUP_FIXTURE) -> dict[str, list[str]]:
    """The fixture's ``[prose]``, ``[rows]`` and ``[cells]`` sections (comment lines dropped)."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.startswith("# ") or not line.strip():
            continue
        header = re.match(r"^\[(\w+)\]", line)
        if header:
            current = sections.setdefault(header.group(1), [])
        elif current is not None:
            current.append(line)
    return sections


def markup_report(text: str, path: Path = MARKUP_FIXTURE) -> str:
    """The report with the fixture's markup in its prose, as extra annex rows and inside value cells."""
    sections = markup_sections(path)
    lines = text.split("\n")
    for label, *cells in (row.split("\t") for row in sections["cells"]):
        at = next(i for i, line in enumerate(lines) if f"\t{label}\t" in line)
        row = lines[at].split("\t")
        first_value = row.index(label) + 2  # after the label and its unit
        row[first_value:first_value + len(cells)] = cells
        lines[at] = "\t".join(row)
    cut = annex_start(lines)
    header = next(i for i in range(cut, len(lines)) if lines[i].startswith("序号\t"))
    lines[header + 1:header + 1] = sections["rows"]
    lines[cut:cut] = sections["prose"]
    return "\n".join(lines)


def inflate(text: str, target_bytes: int) -> str:
    """The report with its body (everything before the annex) repeated until the file reaches
    ``target_bytes``; the annex tables appear once, at the end, as in the original."""
    lines = text.split("\n")
    cut = annex_start(lines)
    body, annex = "\n".join(lines[:cut]) + "\n", "\n".join(lines[cut:])
    copies = max(1, (target_bytes - len(annex.encode())) // len(body.encode()) + 1)
    return body * copies + annex


def text_blocks(lines: list[str]) -> list[dict]:
    """Consecutive tab-separated lines form a table (rows padded to the widest); any other line is a
    paragraph."""
    blocks: list[dict] = []
    for line in lines:
        if "\t" in line:
            if blocks and blocks[-1]["kind"] == "table":
                blocks[-1]["rows"].append(line.split("\t"))
            else:
                blocks.append({"kind": "table", "rows": [line.split("\t")]})
        else:
            blocks.append({"kind": "paragraph", "text": line})
    for block in blocks:
        if block["kind"] == "table":
            width = max(len(row) for row in block["rows"])
            block["width"] = width
            block["rows"] = [row + [""] * (width - len(row)) for row in block["rows"]]
    return blocks


def docx_from_text(text: str, *, merge_columns: tuple[int, ...] = (0, 1)) -> bytes:
    """A Word document of the report: paragraphs per line, real tables for tab-separated rows.

    As a word processor would lay the annex out, an empty cell in ``merge_columns`` (序号, 指标) under a
    filled one is merged into it vertically, so the reader must turn merge continuations back into empty
    cells.
    """
    import docx

    document = docx.Document()
    for block in text_blocks(text.split("\n")):
        if block["kind"] == "paragraph":
            document.add_paragraph(block["text"])
            continue
        rows = block["rows"]
        table = document.add_table(rows=len(rows), cols=block["width"])
        for cells, row in zip(rows, table.rows):
            for value, cell in zip(cells, row.cells):
                cell.text = value
        for column in merge_columns:
            for r in range(1, len(rows)):
                # Merge downwards while the cells stay empty: the cell above is the top or already merged.
                if column < block["width"] and not rows[r][column].strip() and (
                        rows[r - 1][column].strip() or table.cell(r - 1, column)._tc.vMerge == "continue"):
                    table.cell(r - 1, column).merge(table.cell(r, column))
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


_PDF_TEMPLATE = r"""
#set page(paper: "a4", margin: 1.8cm,
  header: align(right, text(size: 8pt, sys.inputs.header)),
  footer: context align(center, text(size: 8pt, "— " + counter(page).display() + " —")))
#set text(font: ("Noto Sans CJK SC", "Noto Serif CJK SC"), size: 9pt, lang: "zh")
#let blocks = json(bytes(sys.inputs.blocks))
#for b in blocks {
  if b.kind == "paragraph" {
    if b.text.trim() == "" { v(0.2em) } else { block(b.text) }
  } else {
    table(columns: b.width, ..b.rows.flatten())
  }
}
"""


def pdf_from_text(text: str, *, header: str = "职业教育质量年度报告") -> bytes:
    """A PDF of the report made by Typst: wrapped paragraphs, ruled tables (which may break across pages),
    a running header and page numbers. The text is passed as data, never as markup."""
    import typst

    blocks = json.dumps(text_blocks(text.split("\n")), ensure_ascii=False)
    return typst.compile(_PDF_TEMPLATE.encode(), sys_inputs={"blocks": blocks, "header": header})


def wide_table_report(text: str, columns: int, *, rows: int = 6) -> str:
    """The report with an extra titled table before its annex: the first ``rows`` rows of its 表3 (labels the
    codebook knows) with one value column per school, ``columns`` schools wide."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("表3 教学资源表"))
    body = [line.split("\t") for line in lines[start + 3: start + 3 + rows]]
    table = ["表9 各校教学资源", "", "\t".join(["序号", "指标", "单位"] + [f"学校{j}" for j in range(columns)])]
    table += ["\t".join(cells[:3] + [str(j % 97 + 1) for j in range(columns)]) for cells in body]
    lines[start:start] = table + [""]
    return "\n".join(lines)


def encrypted_pdf() -> bytes:
    """A one-page PDF encrypted with the standard security handler and a user password that is not empty."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
               b"<< /Filter /Standard /V 1 /R 2 /O <" + b"11" * 32 + b"> /U <" + b"22" * 32 + b"> /P -4 >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    file_id = b"<" + b"ab" * 16 + b">"
    out += (b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 4 0 R /ID [%s %s] >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, file_id, file_id, xref))
    return bytes(out)


def inflating_docx(text: str, unpacked_bytes: int) -> bytes:
    """The report as a DOCX whose document.xml is padded (with an XML comment) to ``unpacked_bytes``: a few
    hundred kB on disk that inflate to far more, as a zip bomb does."""
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(docx_from_text(text)))
    out = io.BytesIO()
    with source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/document.xml":
                pad = max(0, unpacked_bytes - len(data))
                data = data.replace(b"<w:body>", b"<w:body><!--" + b" " * pad + b"-->", 1)
            target.writestr(info.filename, data)
    return out.getvalue()
