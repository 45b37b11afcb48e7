"""The dashboard site: stage a project like the site, render it with Quarto or the embedded renderer, swap in.

``_quarto.yml`` at the project root is the one definition of the site's pages, navigation, titles and footer.
A build has three steps:

1. **Stage** a project folder laid out like the site: ``pages/*.qmd`` at its root, the data fragments made from
   the database (``_fragments/*.md``, see :mod:`vqr_analysis.site_pages`), one ``sources/<region>.qmd`` per
   report, the executed notebooks as ``regions/<region>.ipynb`` and ``compare.ipynb`` (charts turned into
   markup for the vendored vega-embed, each region's values-and-sources table appended, every piece of HTML a
   raw cell: a ``text/html`` output would make Quarto inject require.js and jQuery from a CDN), the assets (site CSS
   and JS, the Vega bundle once for the whole site, ``build-info.js``) and the CSV files. Its ``_quarto.yml``
   is the root one with the globs in navbar menus expanded into items.
2. **Render** it: ``quarto render`` where ``quarto`` is on PATH, else the embedded renderer — nbconvert (basic
   template, body only) for notebooks, mistune for page markdown and Jinja2 for the page shell, which it
   draws from the staged ``_quarto.yml`` — same pages, same URLs, same navigation.
3. **Check** that nothing in the output would load from outside the machine (:mod:`vqr_analysis.publish.offline`,
   whichever renderer made it), then **swap** the rendered folder in place of the output folder; a failed render
   or check leaves the last good site.

Pages hold no timestamp: the snapshot id and build date reach every footer through ``assets/build-info.js``,
so a page whose content did not change stays byte-identical.
"""

from __future__ import annotations

import copy
import datetime as dt
import fnmatch
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import nbformat
import polars as pl
import yaml
from markupsafe import Markup

from vqr_analysis.analysis.api import connect
from vqr_analysis.analysis.charts import chart_title
from vqr_analysis.core.errors import VqrError
from vqr_analysis.core.paths import build_dir, default_db_path, project_root, site_dir
from vqr_analysis.store.staging import replace_dir
from vqr_analysis.publish.offline import check_offline
from vqr_analysis.publish.search import SEARCH_INDEX_FILE, indicator_entries, page_entries, search_index_js
from vqr_analysis.publish.site_pages import (
    CHART_FONT, SiteData, chart_figure, csv_with_codebook, data_fragments, load_site_data,
    region_values_fragment, template_env,
)

__all__ = [
    "build_site", "SiteResult", "RENDERERS", "load_site_config", "pick_renderer", "notebook_body",
    "extract_chart_spec", "vega_bundle", "stage_site",
]

RENDERERS = ("auto", "quarto", "embedded")
STATIC_DIR = Path(__file__).resolve().parent / "static"
_VEGALITE_MIME = re.compile(r"^application/vnd\.vegalite\.v\d+[.+]json$")  # Altair writes ".json"
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)
_INCLUDE = re.compile(r"\{\{<\s*include\s+(\S+?)\s*>\}\}")


@dataclass
class SiteResult:
    out_dir: Path
    renderer: str
    reason: str
    pages: list[str]
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.renderer} renderer ({self.reason}), {len(self.pages)} pages"


# ------------------------------------------------------------------------------------------ configuration


def load_site_config(path: Path | None = None) -> dict:
    """Read ``_quarto.yml``; a missing or malformed file is a VqrError naming it."""
    path = path or project_root() / "_quarto.yml"
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VqrError("site definition not found", path=path) from None
    except yaml.YAMLError as exc:
        raise VqrError(f"site definition is not valid YAML: {str(exc).splitlines()[0]}", path=path) from None
    if not isinstance(config, dict) or not (config.get("project") or {}).get("render"):
        raise VqrError("site definition needs project.render (the list of pages)", path=path)
    if not (config.get("website") or {}).get("navbar"):
        raise VqrError("site definition needs website.navbar", path=path)
    return config


def pick_renderer(requested: str = "auto") -> tuple[str, str]:
    """(renderer, why): Quarto where it is on PATH, else the embedded renderer."""
    if requested not in RENDERERS:
        raise VqrError(f"unknown renderer {requested!r}; use one of {', '.join(RENDERERS)}")
    quarto = shutil.which("quarto")
    if requested == "quarto" and not quarto:
        raise VqrError("renderer 'quarto' requested but `quarto` is not on PATH; use --renderer embedded")
    if requested == "embedded":
        return "embedded", "requested"
    if quarto:
        return "quarto", f"quarto found at {quarto}"
    return "embedded", "quarto not on PATH"


def _expand(patterns: list[str], root: Path) -> list[str]:
    """Render targets in the order of the patterns; a glob expands to its files in name order."""
    found: list[str] = []
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.is_file() and not any(part.startswith(("_", ".")) for part in p.relative_to(root).parts))
    for pattern in patterns:
        matches = [f for f in files if fnmatch.fnmatchcase(f, pattern) and f.count("/") == pattern.count("/")]
        found.extend(m for m in matches if m not in found)
    return found


def _html_name(target: str) -> str:
    return re.sub(r"\.(qmd|ipynb|md)$", ".html", target)


# -------------------------------------------------------------------------------------------- page titles


def _split_front_matter(text: str) -> tuple[dict, str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    return yaml.safe_load(match.group(1)) or {}, text[match.end():]


def _notebook_front_matter(nb) -> dict:
    first = nb.cells[0] if nb.cells else None
    if first is not None and first.cell_type == "raw":
        meta, rest = _split_front_matter(first.source)
        if meta and not rest.strip():
            return meta
    return {}


def _nav_text(path: Path) -> str:
    """A page's text in navbar menus: its ``nav-text``, else its title (Quarto's rule), else its name."""
    if path.suffix == ".ipynb":
        meta = _notebook_front_matter(nbformat.read(path, as_version=4))
    else:
        meta = _split_front_matter(path.read_text(encoding="utf-8"))[0]
    return str(meta.get("nav-text") or meta.get("title") or path.stem)


def _expand_navbar(config: dict, stage: Path) -> dict:
    """A copy of the config whose navbar menu globs are items with the target's title as text."""
    config = copy.deepcopy(config)

    def items(entries):
        out = []
        for entry in entries:
            if isinstance(entry, str) and "*" in entry:
                out.extend({"href": t, "text": _nav_text(stage / t)} for t in _expand([entry], stage))
            elif isinstance(entry, dict) and "menu" in entry:
                out.append({**entry, "menu": items(entry["menu"])})
            else:
                out.append(entry)
        return out

    navbar = config["website"]["navbar"]
    for side in ("left", "right"):
        if side in navbar:
            navbar[side] = items(navbar[side])
    return config


# ------------------------------------------------------------------------------------------------ charts


@lru_cache(maxsize=2)
def vega_bundle(vl_version: str | None = None) -> str:
    """Vega, Vega-Lite and vega-embed as one classic script (from vl-convert), setting window.vegaEmbed."""
    import altair as alt
    import vl_convert

    version = vl_version or ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    return vl_convert.javascript_bundle(vl_version=version)


def extract_chart_spec(output: dict) -> dict | None:
    """The Vega-Lite spec of a notebook output: a vegalite mimebundle, or Altair's HTML renderer output
    (which would load Vega from a CDN: the spec is taken out and the rest dropped)."""
    data = output.get("data") or {}
    for mime, spec in data.items():
        if _VEGALITE_MIME.match(mime):
            return json.loads(spec) if isinstance(spec, str) else dict(spec)
    html = data.get("text/html")
    html = "".join(html) if isinstance(html, list) else html
    if html and "vegaEmbed" in html:
        start = html.rfind("})(")
        if start >= 0:
            try:
                spec, _ = json.JSONDecoder().raw_decode(html, start + 3)
            except json.JSONDecodeError:
                return None
            return spec if isinstance(spec, dict) else None
    return None


def _chart_rows(spec: dict) -> pl.DataFrame:
    """The rows a chart draws: its named datasets and inline data values (all layers)."""
    tables: list[list[dict]] = list((spec.get("datasets") or {}).values())

    def walk(node):
        if isinstance(node, dict):
            values = (node.get("data") or {}).get("values") if isinstance(node.get("data"), dict) else None
            if isinstance(values, list):
                tables.append(values)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk({k: v for k, v in spec.items() if k != "datasets"})
    frames = [pl.DataFrame(t, infer_schema_length=None) for t in tables if t]
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


# ----------------------------------------------------------------------------------------------- staging


def _raw_html_block(html: str) -> str:
    """A Pandoc raw-HTML block (Quarto keeps it verbatim); the fence outgrows any backtick run inside."""
    longest = max((len(m) for m in re.findall(r"`+", html)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{{=html}}\n{html.rstrip()}\n{fence}\n"


# Output types that make Quarto inject require.js and jQuery from cdnjs (quarto-cli src/core/jupyter/widgets.ts
# counts any display output carrying text/html or application/javascript as a "JavaScript widget"), or the
# Jupyter widget manager from unpkg. A staged notebook carries none of them: HTML goes in as raw cells.
_INJECTING_MIMES = ("text/html", "application/javascript", "text/javascript",
                    "application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json")


def _raw_html_cell(html: str):
    """A raw cell of HTML: Quarto writes it as a ``{=html}`` raw block, nbconvert's HTML exporter includes it."""
    return nbformat.v4.new_raw_cell(html, metadata={"raw_mimetype": "text/html"})


def _without_html_outputs(cell, chart_html: Callable[[dict], str]) -> list:
    """A code cell as staged cells in output order: charts (via ``chart_html``) and HTML outputs become raw
    HTML cells; other outputs stay on code cells, minus scripts and widget views; stderr is dropped (warnings
    belong in the build log, not on the page). Continuation cells carry no code (``remove-input``)."""
    staged, pending = [], None

    def code_cell(first: bool):
        copy_ = nbformat.from_dict(copy.deepcopy(dict(cell)))
        copy_["outputs"] = []
        if not first:
            copy_["source"] = ""
            copy_.metadata["tags"] = [*copy_.metadata.get("tags", []), "remove-input"]
        return copy_

    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            continue
        rich = output.get("output_type") in ("display_data", "execute_result")
        spec = extract_chart_spec(output) if rich else None
        html = (output.get("data") or {}).get("text/html") if rich else None
        if spec is not None or html:
            if pending is not None and pending["outputs"]:
                staged.append(pending)
            pending = None
            staged.append(_raw_html_cell(chart_html(spec) if spec is not None else
                                         "".join(html) if isinstance(html, list) else html))
            continue
        if rich:
            data = {k: v for k, v in (output.get("data") or {}).items() if k not in _INJECTING_MIMES}
            if not data:
                continue
            output = nbformat.from_dict({**copy.deepcopy(dict(output)), "data": data})
        if pending is None:
            pending = code_cell(first=not staged)
        pending["outputs"].append(output)
    if pending is not None and pending["outputs"]:
        staged.append(pending)
    return staged


def _stage_notebook(src: Path, dst: Path, *, title: str, label: str | None, page: str, depth: int,
                    before: list[str], after: list[str], codebook: pl.DataFrame, csv_files: dict[str, bytes]) -> None:
    """Copy an executed notebook for the site: front matter title, charts as vega-embed markup with a CSV
    each, every HTML output and the site's own sections as raw HTML cells — no ``text/html`` output is left,
    so Quarto injects no script (see ``_INJECTING_MIMES``) and both renderers show the markup verbatim.

    The notebook's leading ``# heading`` becomes the page title (as Quarto does), prefixed by ``label`` (the
    region's name: one notebook serves every region, so its heading alone does not say which); ``label`` is
    also the page's ``nav-text`` in menus. Without a heading the title is ``title``."""
    try:
        nb = nbformat.read(src, as_version=4)
    except Exception as exc:  # nbformat raises several types for unreadable files
        raise VqrError(f"cannot read executed notebook: {exc}", path=src) from None
    # Cells tagged remove-cell (e.g. "How to run") are for JupyterLab only. Quarto honours the tag on code cells
    # alone, so they are dropped here and neither renderer shows them.
    cells = [c for c in nb.cells if "remove-cell" not in c.metadata.get("tags", [])]
    if cells and cells[0].cell_type == "raw" and _split_front_matter(cells[0].source)[0]:
        cells = cells[1:]
    first_md = next((c for c in cells if c.cell_type == "markdown"), None)
    if first_md is not None and first_md.source.lstrip().startswith("# "):
        heading, _, rest = first_md.source.lstrip().partition("\n")
        heading = heading[2:].strip()
        title = f"{label} · {heading}" if label and heading else heading or title
        first_md.source = rest.lstrip("\n")
    root = "../" * depth
    n_chart = 0

    def chart_html(spec: dict) -> str:
        nonlocal n_chart
        n_chart += 1
        chart_id = f"{page.replace('/', '-')}-chart-{n_chart}"
        spec.pop("$schema", None)
        spec.setdefault("config", {}).setdefault("font", CHART_FONT)
        rows = _chart_rows(spec)
        csv_name = f"charts/{chart_id}.csv"
        if rows.height:
            csv_files[csv_name] = csv_with_codebook(rows, codebook)
        return chart_figure(spec, chart_id, csv_href=f"{root}data/{csv_name}" if rows.height else None,
                            caption=chart_title(spec))

    staged_cells = []
    for cell in cells:
        if cell.cell_type == "code":
            staged_cells.extend(_without_html_outputs(cell, chart_html))
        else:
            staged_cells.append(cell)
    has_chart = n_chart > 0 or any('class="vqr-chart"' in html for html in before + after)
    front = {"title": title, **({"nav-text": label} if label else {}), **_quarto_includes(depth, has_chart)}
    nb.cells = [nbformat.v4.new_raw_cell("---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False)
                                         + "---"), *map(_raw_html_cell, before), *staged_cells,
                *map(_raw_html_cell, after)]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i}"  # stable ids: the page must not change when only the ids do
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dst)


def _quarto_includes(depth: int, has_chart: bool) -> dict:
    """Per-page Quarto front matter loading the site CSS/JS at this page's depth (Quarto does not rewrite
    paths inside include text). The embedded renderer ignores these keys: its shell does the same."""
    root = "../" * depth
    scripts = (["vega-bundle.js"] if has_chart else []) + ["build-info.js", "site.js"]
    return {
        "include-in-header": {"text": f'<link rel="stylesheet" href="{root}assets/site.css">'},
        "include-after-body": {"text": "".join(f'<script src="{root}assets/{name}"></script>' for name in scripts)},
    }


def _stage_page(dst: Path, meta: dict, body: str, depth: int) -> None:
    """Write a .qmd page into the stage (its fragments must be staged first: they say if it has a chart)."""
    included = "".join((dst.parent / m).read_text(encoding="utf-8") for m in _INCLUDE.findall(body)
                       if (dst.parent / m).is_file())
    meta = {**meta, **_quarto_includes(depth, 'class="vqr-chart"' in body + included)}
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text("---\n" + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False) + "---\n\n"
                   + body.lstrip("\n"), encoding="utf-8")


def _stage(stage: Path, *, data: SiteData, config: dict, pages_dir: Path, notebooks_dir: Path, built: str,
           progress: Callable[[str], None]) -> dict:
    """Lay out the project to render; returns the staged config (navbar globs expanded)."""
    fragments = data_fragments(data)
    csv_files: dict[str, bytes] = {}
    for fragment in fragments:
        csv_files.update(fragment.csv_files)
        target = stage / "_fragments" / f"{fragment.name}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_raw_html_block(fragment.html), encoding="utf-8")
    for src in sorted(pages_dir.glob("*.qmd")):
        _stage_page(stage / src.name, *_split_front_matter(src.read_text(encoding="utf-8")), depth=0)
    for report in data.reports.iter_rows(named=True):
        _stage_page(stage / "sources" / f"{report['region']}.qmd",
                    {"title": f"{report['subject_zh']} / {report['subject_en']}"},
                    f"{{{{< include ../_fragments/sources-{report['region']}.md >}}}}\n", depth=1)
        _stage_page(stage / "reading" / f"{report['region']}.qmd",
                    {"title": f"原文阅读 / Reading view: {report['subject_zh']}"},
                    f"{{{{< include ../_fragments/reading-{report['region']}.md >}}}}\n", depth=1)

    missing = [f"regions/{r}.ipynb" for r in data.reports.get_column("region")
               if not (notebooks_dir / "regions" / f"{r}.ipynb").is_file()]
    if "compare.ipynb" in config["project"]["render"] and not (notebooks_dir / "compare.ipynb").is_file():
        missing.append("compare.ipynb")
    if missing:
        raise VqrError(f"executed notebooks missing in {notebooks_dir}: {', '.join(missing)}; "
                       "run `vqr notebooks` first")
    for report in data.reports.iter_rows(named=True):
        region = report["region"]
        progress(f"staging region page {region}")
        region_fragment = region_values_fragment(data, region)
        csv_files.update(region_fragment.csv_files)
        _stage_notebook(notebooks_dir / "regions" / f"{region}.ipynb", stage / "regions" / f"{region}.ipynb",
                        title=f"{report['region_zh']} / {report['region_en']}",
                        label=f"{report['region_zh']} / {report['region_en']}", page=f"regions/{region}",
                        depth=1, before=[_brief_link(region)], after=[region_fragment.html], codebook=data.codebook,
                        csv_files=csv_files)
    compare_fragment = next(f for f in fragments if f.name == "compare")
    if (notebooks_dir / "compare.ipynb").is_file():
        _stage_notebook(notebooks_dir / "compare.ipynb", stage / "compare.ipynb",
                        title="地区比较 / Compare regions", label=None, page="compare", depth=0,
                        before=[], after=[compare_fragment.html], codebook=data.codebook, csv_files=csv_files)

    assets = stage / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    for src in sorted(STATIC_DIR.iterdir()):
        if src.suffix in (".css", ".js"):
            shutil.copyfile(src, assets / src.name)
    progress("bundling vega")
    (assets / "vega-bundle.js").write_text(vega_bundle(), encoding="utf-8")
    (assets / "build-info.js").write_text(_build_info(data.snapshot, built), encoding="utf-8")
    for name, content in sorted(csv_files.items()):
        target = stage / "data" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    # The codebook for the embedded renderer's search index (Quarto ignores folders starting with "_").
    (stage / "_search").mkdir(exist_ok=True)
    (stage / "_search" / "indicators.json").write_text(
        json.dumps(data.codebook.to_dicts(), ensure_ascii=False, sort_keys=True), encoding="utf-8")
    staged = _expand_navbar(config, stage)
    staged["project"]["render"] = _expand(config["project"]["render"], stage)
    (stage / "_quarto.yml").write_text(yaml.safe_dump(staged, allow_unicode=True, sort_keys=False),
                                       encoding="utf-8")
    return staged


def _brief_link(region: str) -> str:
    return (f'<p class="vqr-brief"><a href="../briefs/{region}.pdf">PDF 简报 / PDF brief</a> '
            '<small>（由 <code>vqr briefs</code> 生成 / made by <code>vqr briefs</code>）</small></p>')


def _build_info(snapshot: str, built: str) -> str:
    info = json.dumps({"snapshot": snapshot, "built": built}, ensure_ascii=False)
    return (
        "// The one file that changes on every build: snapshot id and build date for every page footer.\n"
        f"window.VQR_BUILD = {info};\n"
        "(function (b) {\n"
        "  document.querySelectorAll('[data-vqr-snapshot]').forEach(function (e) { e.textContent = b.snapshot; });\n"
        "  document.querySelectorAll('[data-vqr-built]').forEach(function (e) { e.textContent = b.built; });\n"
        "})(window.VQR_BUILD);\n"
    )


# --------------------------------------------------------------------------------------- embedded renderer


def notebook_body(path: Path, *, echo: bool = False) -> tuple[dict, str]:
    """(front matter, HTML body) of an executed notebook, via nbconvert's body-only basic template: no
    require.js, no MathJax, nothing loaded from a CDN."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    nb = nbformat.read(path, as_version=4)
    meta = _notebook_front_matter(nb)
    if meta:
        nb.cells = nb.cells[1:]
    tags = TagRemovePreprocessor(remove_cell_tags={"remove-cell"}, remove_input_tags={"remove-input"},
                                 remove_all_outputs_tags={"remove-output"}, enabled=True)
    nb, _ = tags.preprocess(nb, {})
    # nbconvert's templates pass raw cells through an HTML sanitiser (it would drop the charts' and the
    # provenance's <script type="application/json">); an HTML output is written verbatim. nbconvert injects
    # nothing for it, so here the staged raw HTML goes back to being an output.
    nb.cells = [nbformat.v4.new_code_cell("", id=c.get("id"), outputs=[nbformat.v4.new_output(
                    "display_data", {"text/html": c.source, "text/plain": "[html]"})])
                if c.cell_type == "raw" and c.metadata.get("raw_mimetype") == "text/html" else c for c in nb.cells]
    exporter = HTMLExporter(template_name="basic", exclude_input=not echo, exclude_input_prompt=True,
                            exclude_output_prompt=True, anchor_link_text="")
    body, _ = exporter.from_notebook_node(nb)
    return meta, body


def _markdown_body(path: Path, stage: Path) -> tuple[dict, str]:
    """(front matter, HTML) of a .qmd page: Quarto includes inlined, raw-HTML blocks kept verbatim."""
    import mistune

    meta, body = _split_front_matter(path.read_text(encoding="utf-8"))

    def include(match: re.Match) -> str:
        target = (path.parent / match.group(1)).resolve()
        if not target.is_relative_to(stage.resolve()) or not target.is_file():
            raise VqrError(f"page includes a file that is not in the staged site: {match.group(1)}", path=path)
        return target.read_text(encoding="utf-8")

    body = _INCLUDE.sub(include, body)
    raw_blocks: list[str] = []

    def keep(match: re.Match) -> str:
        raw_blocks.append(match.group(2))
        return f"\n\nVQRRAWBLOCK{len(raw_blocks) - 1}\n\n"

    body = re.sub(r"^(`{3,})\{=html\}\n(.*?)\n\1\s*$", keep, body, flags=re.S | re.M)
    html = mistune.html(body)
    return meta, re.sub(r"<p>VQRRAWBLOCK(\d+)</p>", lambda m: raw_blocks[int(m.group(1))], html)


def _nav_items(config: dict, current: str, root: str) -> list[dict]:
    def item(entry) -> dict:
        if isinstance(entry, str):
            entry = {"href": entry}
        out = {"text": entry.get("text") or entry.get("href", "")}
        if "menu" in entry:
            out["menu"] = [item(e) for e in entry["menu"]]
            out["active"] = any(m.get("active") for m in out["menu"])
        else:
            href = _html_name(entry["href"])
            out["href"] = root + href
            out["active"] = href == current
        return out

    navbar = config["website"]["navbar"]
    return [item(e) for e in navbar.get("left", []) + navbar.get("right", [])]


def _render_embedded(stage: Path, out: Path, config: dict, progress: Callable[[str], None]) -> list[str]:
    shell = template_env().get_template("site_shell.html.j2")
    echo = bool((config.get("execute") or {}).get("echo", False))
    website = config["website"]
    footer = website.get("page-footer") or ""
    footer = footer if isinstance(footer, str) else " ".join(str(v) for v in footer.values())
    pages, search = [], []
    for target in config["project"]["render"]:
        source = stage / target
        progress(f"rendering {target}")
        if source.suffix == ".ipynb":
            meta, body = notebook_body(source, echo=echo)
        else:
            meta, body = _markdown_body(source, stage)
        page = _html_name(target)
        root = "../" * page.count("/")
        title = meta.get("title", Path(target).stem)
        html = shell.render(
            lang=config.get("lang", "zh"), site_title=website.get("title", ""),
            title=title, body=Markup(body), root=root,
            nav=_nav_items(config, page, root), footer=Markup(footer),
            has_chart='class="vqr-chart"' in body, kind=source.suffix.lstrip("."),
        )
        dest = out / page
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(html, encoding="utf-8")
        pages.append(page)
        search.extend(page_entries(page, str(title), body))
    for pattern in (config["project"].get("resources") or []):
        base = pattern.split("*")[0].rstrip("/")
        if (stage / base).is_dir():
            shutil.copytree(stage / base, out / base, dirs_exist_ok=True)
    codebook = stage / "_search" / "indicators.json"
    if codebook.is_file():
        search = indicator_entries(json.loads(codebook.read_text(encoding="utf-8"))) + search
    (out / SEARCH_INDEX_FILE).parent.mkdir(parents=True, exist_ok=True)
    (out / SEARCH_INDEX_FILE).write_text(search_index_js(search), encoding="utf-8")
    return pages


def _render_quarto(stage: Path, out: Path, config: dict, progress: Callable[[str], None]) -> list[str]:
    progress("rendering with quarto")
    staged_out = "_rendered"
    config = copy.deepcopy(config)
    config["project"]["output-dir"] = staged_out
    (stage / "_quarto.yml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
                                       encoding="utf-8")
    proc = subprocess.run(["quarto", "render", str(stage), "--no-execute"], capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise VqrError(f"quarto render failed (exit {proc.returncode}): {tail[0]}")
    shutil.copytree(stage / staged_out, out, dirs_exist_ok=True)
    return [_html_name(t) for t in config["project"]["render"]]


# ------------------------------------------------------------------------------------------------- build


def _site_inputs(config_path: Path | None, pages_dir: Path | None, notebooks_dir: Path | None,
                 built: str | None) -> tuple[dict, Path, Path, str]:
    """The site definition, the pages folder, the executed notebooks and the footer's build date."""
    config = load_site_config(config_path)
    pages_dir = pages_dir or (config_path.parent if config_path else project_root()) / "pages"
    notebooks_dir = Path(notebooks_dir or build_dir() / "notebooks")
    built = built or dt.datetime.now(dt.timezone.utc).date().isoformat()
    return config, pages_dir, notebooks_dir, built


def _read_site_data(db_path: Path | None) -> SiteData:
    con = connect(db_path or default_db_path())
    try:
        return load_site_data(con)
    finally:
        con.close()


def stage_site(stage: Path, db_path: Path | None = None, notebooks_dir: Path | None = None, *,
               built: str | None = None, config_path: Path | None = None, pages_dir: Path | None = None,
               progress: Callable[[str], None] | None = None) -> dict:
    """Lay out in ``stage`` the project folder that either renderer reads (``quarto render stage`` works on
    it); returns its configuration, as written to ``stage/_quarto.yml``."""
    config, pages_dir, notebooks_dir, built = _site_inputs(config_path, pages_dir, notebooks_dir, built)
    return _stage(Path(stage), data=_read_site_data(db_path), config=config, pages_dir=pages_dir,
                  notebooks_dir=notebooks_dir, built=built, progress=progress or (lambda _msg: None))


def build_site(db_path: Path | None = None, notebooks_dir: Path | None = None, out_dir: Path | None = None,
               *, renderer: str = "auto", built: str | None = None, config_path: Path | None = None,
               pages_dir: Path | None = None, progress: Callable[[str], None] | None = None) -> SiteResult:
    """Render the whole site from the database and executed notebooks into ``out_dir`` (atomic swap).

    ``built`` is the date shown in footers (default today, UTC). ``briefs/`` of the previous site is kept:
    the briefs are made by their own step after the site.
    """
    started = time.perf_counter()
    progress = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    name, reason = pick_renderer(renderer)
    config, pages_dir, notebooks_dir, built = _site_inputs(config_path, pages_dir, notebooks_dir, built)
    out_dir = Path(out_dir or site_dir()).resolve()

    t = time.perf_counter()
    data = _read_site_data(db_path)
    timings["data"] = time.perf_counter() - t

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # The pid in the name lets the next build remove it if this process is killed (store.staging).
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.building-{os.getpid()}-", dir=out_dir.parent))
    try:
        stage, rendered = work / "stage", work / "site"
        t = time.perf_counter()
        staged = _stage(stage, data=data, config=config, pages_dir=pages_dir, notebooks_dir=notebooks_dir,
                        built=built, progress=progress)
        timings["stage"] = time.perf_counter() - t
        t = time.perf_counter()
        render = _render_quarto if name == "quarto" else _render_embedded
        pages = render(stage, rendered, staged, progress)
        timings["render"] = time.perf_counter() - t
        absent = [p for p in pages if not (rendered / p).is_file()]
        if absent:
            raise VqrError(f"{name} renderer did not produce {', '.join(absent)}")
        t = time.perf_counter()
        check_offline(rendered, renderer=name)  # before the briefs join it: PDFs are not pages
        timings["offline check"] = time.perf_counter() - t
        if (out_dir / "briefs").is_dir():
            shutil.copytree(out_dir / "briefs", rendered / "briefs")
        replace_dir(rendered, out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return SiteResult(out_dir, name, reason, pages, time.perf_counter() - started, timings)


