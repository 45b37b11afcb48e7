"""The dashboard site: built from the real reports' database and executed-notebook stand-ins.

The embedded renderer is always tested; Quarto's staged project is checked against its contract without Quarto,
and rendered only where Quarto is installed. The browser tests drive Debian's headless Chromium (tests/support/
browser.py) over file:// for the embedded site and through `vqr serve` for Quarto's (skipped, with the reason,
where Chromium, Playwright or Quarto is absent).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from support.browser import chromium, needs_browser, vqr_serve
from support.paths import DATA, FIXTURES, ROOT
from support.quarto_schema import unknown_config_keys
from support.site_notebooks import write_notebooks

BUILT = "2026-01-01"
needs_quarto = pytest.mark.skipif(
    shutil.which("quarto") is None,
    reason="quarto is not on PATH (pip's quarto-cli downloads its binary from GitHub, unreachable here); "
           "the staged project is checked against Quarto's contract without it")


# ------------------------------------------------------------------------------------------------ fixtures


def _build(db: Path, notebooks: Path, out: Path, **kw):
    from vqr_analysis.publish.site import build_site

    return build_site(db, notebooks, out, renderer=kw.pop("renderer", "embedded"), built=kw.pop("built", BUILT), **kw)


@pytest.fixture(scope="session")
def site_notebooks(built_db, tmp_path_factory) -> Path:
    return write_notebooks(built_db, tmp_path_factory.mktemp("notebooks"))


@pytest.fixture(scope="session")
def site(built_db, site_notebooks, tmp_path_factory):
    return _build(built_db, site_notebooks, tmp_path_factory.mktemp("site") / "site")


@pytest.fixture(scope="session")
def hostile_site(tmp_path_factory):
    """The site of a copy of the data whose xinjiang report carries script tags in prose, rows and cells."""
    from support.hostile_inputs import copy_data, markup_report, register, report_entry

    from vqr_analysis.store.database import build_database

    tmp = tmp_path_factory.mktemp("hostile-site")
    data = copy_data(DATA, tmp / "data")
    file, _ = report_entry(data, "000")
    register(data, "000", markup_report((data / file).read_text(encoding="utf-8")).encode("utf-8"))
    db = tmp / "vqr.duckdb"
    build_database(db, base=data)
    return _build(db, write_notebooks(db, tmp / "nb"), tmp / "site")


def _pages(site_dir: Path) -> dict[str, str]:
    return {p.relative_to(site_dir).as_posix(): p.read_text(encoding="utf-8") for p in sorted(site_dir.rglob("*.html"))}


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []   # (tag, attribute, value)
        self.nav: list[str] = []
        self._in_nav = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.refs.append((tag, name, value))
        if tag == "nav":
            self._in_nav = True

    def handle_endtag(self, tag):
        if tag == "nav":
            self._in_nav = False

    def handle_data(self, data):
        if self._in_nav and data.strip():
            self.nav.append(data.strip())


def _parse(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def _elements(html: str, tag: str, cls: str) -> list[dict]:
    """Attributes of each <tag> with class ``cls`` (nbconvert reorders attributes, so no regexes)."""
    found: list[dict] = []

    class Finder(HTMLParser):
        def handle_starttag(self, name, attrs):
            attrs = dict(attrs)
            if name == tag and cls in (attrs.get("class") or "").split():
                found.append(attrs)

    Finder().feed(html)
    return found


def _provenance(html: str) -> dict[str, dict]:
    merged: dict[str, dict] = {}
    for block in re.findall(r'<script[^>]*\bclass="vqr-prov"[^>]*>(.*?)</script>', html, re.S):
        merged.update(json.loads(block))
    return merged


# ------------------------------------------------------------------------------------------ structure


def test_site_has_every_configured_page_at_its_url(site, registry):
    from vqr_analysis.publish.site import load_site_config

    config = load_site_config(ROOT / "_quarto.yml")
    pages = _pages(site.out_dir)
    assert site.renderer == "embedded"
    expected = {"index.html", "compare.html", "indicators.html", "quality.html", "sources.html", "about.html"}
    expected |= {f"regions/{r.region}.html" for r in registry} | {f"sources/{r.region}.html" for r in registry}
    expected |= {f"reading/{r.region}.html" for r in registry}
    assert expected == set(pages) == set(site.pages)
    assert len(config["project"]["render"]) == 9  # the patterns these pages come from


def test_navigation_is_read_from_quarto_config_and_same_everywhere(site, registry):
    from vqr_analysis.publish.site import load_site_config

    navbar = load_site_config(ROOT / "_quarto.yml")["website"]["navbar"]["left"]
    top_texts = [item["text"] for item in navbar]
    region_titles = [f"{r.region_zh} / {r.region_en}" for r in registry]
    navs = {name: _parse(html).nav for name, html in _pages(site.out_dir).items()}
    first = next(iter(navs.values()))
    assert all(nav == first for nav in navs.values()), "navigation differs between pages"
    for text in top_texts + region_titles:
        assert text in first
    xinjiang = (site.out_dir / "regions" / "xinjiang.html").read_text(encoding="utf-8")
    assert "<h1 class=\"vqr-title\">新疆 / Xinjiang · xinjiang 概况</h1>" in xinjiang  # region + notebook heading
    home = (site.out_dir / "index.html").read_text(encoding="utf-8")
    assert 'href="regions/xinjiang.html"' in home and 'aria-current="page"' in home


def test_every_local_link_resolves_and_nothing_is_fetched_from_outside(site):
    for name, html in _pages(site.out_dir).items():
        page = site.out_dir / name
        for tag, attr, ref in _parse(html).refs:
            assert not re.match(r"^(https?:)?//", ref), f"{name}: {tag} {attr}={ref} leaves the machine"
            target = ref.split("#")[0]
            if not target or target.startswith(("data:", "mailto:")) or target.startswith("../briefs/") \
                    or target.startswith("briefs/"):
                continue  # briefs are written into the site by `vqr briefs`, after the site
            assert (page.parent / target).resolve().is_file(), f"{name}: broken link {ref}"
        assert "require.js" not in html and "mathjax" not in html.lower() and "cdn.jsdelivr" not in html


def test_vega_is_vendored_once_not_inlined(site):
    bundle = site.out_dir / "assets" / "vega-bundle.js"
    assert bundle.stat().st_size > 500_000 and "window.vegaEmbed" in bundle.read_text(encoding="utf-8")
    for name, html in _pages(site.out_dir).items():
        assert "vegaEmbed=" not in html and "window.vegaEmbed" not in html, f"{name} inlines the Vega libraries"
        has_chart = 'class="vqr-chart"' in html
        assert ("assets/vega-bundle.js" in html) == has_chart, name
    assert 'class="vqr-chart"' in (site.out_dir / "index.html").read_text(encoding="utf-8")


def test_footer_shows_snapshot_and_build_date_through_build_info(site, db_con):
    from vqr_analysis.analysis.api import snapshot

    info = (site.out_dir / "assets" / "build-info.js").read_text(encoding="utf-8")
    assert f'"snapshot": "{snapshot(db=db_con)}"' in info and f'"built": "{BUILT}"' in info
    for name, html in _pages(site.out_dir).items():
        assert "data-vqr-snapshot" in html and "data-vqr-built" in html, name
        assert "assets/build-info.js" in html, name
    assert snapshot(db=db_con) in (site.out_dir / "index.html").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------ provenance


def test_every_value_button_carries_its_source_quote_and_line(site, db_con):
    rows = db_con.execute("SELECT obs_id, quote, line, raw FROM observations").fetchall()
    truth = {str(obs_id): (quote, line, raw) for obs_id, quote, line, raw in rows}
    n_buttons = 0
    for name, html in _pages(site.out_dir).items():
        prov = _provenance(html)
        for obs in (b["data-obs"] for b in _elements(html, "button", "vqr-val")):
            n_buttons += 1
            assert obs in prov, f"{name}: value {obs} has no provenance"
            quote, line, raw = truth[obs]
            assert (prov[obs]["quote"], prov[obs]["line"], prov[obs]["raw"]) == (quote, line, raw)
            assert prov[obs]["source_file"].startswith("reports/")
    assert n_buttons > 300


def test_region_page_lists_every_value_of_the_region_with_a_csv_of_it(site, db_con, registry):
    from vqr_analysis.analysis.api import profile

    for report in registry:
        html = (site.out_dir / "regions" / f"{report.region}.html").read_text(encoding="utf-8")
        section = html[html.index('class="vqr-region-values"'):]
        expected = profile(report.region, db=db_con)
        buttons = re.findall(r'data-obs="(\d+)"', section.split('class="vqr-prov"')[0])
        assert sorted(map(int, buttons)) == sorted(expected.get_column("obs_id").to_list())
        assert f"../briefs/{report.region}.pdf" in html
        if expected.height:
            rows = list(csv.DictReader(io.StringIO(
                (site.out_dir / "data" / f"region-{report.region}.csv").read_text(encoding="utf-8-sig"))))
            assert len(rows) == expected.height
            assert {"codebook_label_zh", "codebook_label_en", "codebook_unit", "codebook_definition"} <= set(rows[0])


def test_every_chart_and_table_links_a_csv_with_codebook_metadata(site):
    n_links = 0
    for name, html in _pages(site.out_dir).items():
        for href in (a["href"] for a in _elements(html, "a", "vqr-csv")):
            n_links += 1
            path = (site.out_dir / name).parent / href
            text = path.read_bytes()
            assert text.startswith("\ufeff".encode()), f"{href}: no BOM for spreadsheet programs"
            header = next(csv.reader(io.StringIO(text.decode("utf-8-sig"))))
            if "indicator_code" in header:
                assert "codebook_definition" in header, href
        n_charts = html.count('class="vqr-chart"')
        assert html.count("data/charts/") + html.count('id="home-coverage"') + html.count('id="compare-chart"') \
            >= n_charts, f"{name}: a chart without its CSV"
    assert n_links >= 10


def test_chart_csv_holds_exactly_the_rows_the_chart_draws(site, site_notebooks):
    import nbformat

    from vqr_analysis.publish.site import extract_chart_spec

    nb = nbformat.read(site_notebooks / "regions" / "tenth_division.ipynb", as_version=4)
    spec = next(s for c in nb.cells for o in c.get("outputs", []) if (s := extract_chart_spec(o)))
    drawn = next(iter(spec["datasets"].values()))
    rows = list(csv.DictReader(io.StringIO(
        (site.out_dir / "data" / "charts" / "regions-tenth_division-chart-1.csv").read_text(encoding="utf-8-sig"))))
    assert [r["quote"] for r in rows] == [d["quote"] for d in drawn]


def test_altair_html_output_is_taken_apart_into_a_spec(site_notebooks):
    import nbformat

    from vqr_analysis.publish.site import extract_chart_spec

    nb = nbformat.read(site_notebooks / "regions" / "xinjiang.ipynb", as_version=4)  # html-renderer form
    html_outputs = [o for c in nb.cells for o in c.get("outputs", []) if "vegaEmbed" in str(o.get("data", {}))]
    assert html_outputs, "fixture lost its Altair html output"
    spec = extract_chart_spec(html_outputs[0])
    assert spec["mark"]["type"] == "bar" and spec["datasets"]


# ---------------------------------------------------------------------------------------- comparability


def test_comparability_badges_mark_mixed_levels_and_years(site, db_con):
    from vqr_analysis.analysis.api import compare

    html = (site.out_dir / "compare.html").read_text(encoding="utf-8")
    rows = re.findall(r'<tr data-search="(\S+) .*?</tr>', html, re.S)
    assert rows, "compare page has no indicator rows"
    frame = compare(rows, db=db_con)
    notes = dict(frame.select("indicator_code", "comparability").unique().iter_rows())
    for code, row in zip(rows, re.findall(r"<tr data-search=.*?</tr>", html, re.S)):
        assert ('class="vqr-badge"' in row) == (notes[code] != "comparable"), code
    assert "高职与中职混合" in html or "层次与年份不同" in html


# ------------------------------------------------------------------------------------------- sources pages


def test_sources_page_keeps_table_cells_apart_and_links_each_line_to_the_report_text(site, db_con, registry):
    """A table row's quote shows one box per cell ("270 217 63" is three numbers), the cell holding the value
    marked; every line number opens the reading view at that line."""
    pages = _pages(site.out_dir)
    n_rows = 0
    for report in registry:
        html = pages[f"sources/{report.region}.html"]
        reading = pages[f"reading/{report.region}.html"]
        rows = db_con.execute("SELECT obs_id, line, quote, raw FROM observations WHERE report_id = ? ORDER BY obs_id",
                              [report.id]).fetchall()
        for obs_id, line, quote, raw in rows:
            row = re.search(rf'<tr [^>]*id="obs-{obs_id}">(.*?)</tr>', html, re.S).group(1)
            assert f'href="../reading/{report.region}.html#L{line}"' in row, obs_id
            assert f'id="L{line}"' in reading, (report.region, line)
            cells = quote.split("\t")
            if len(cells) > 1:
                n_rows += 1
                shown = re.findall(r'<span class="vqr-cell[^"]*">(.*?)</span>', row, re.S)
                assert [_unescape(c) for c in shown] == cells, obs_id
                marked = re.findall(r'<span class="vqr-cell vqr-cell-value">(.*?)</span>', row, re.S)
                assert marked == ([] if cells.count(raw) != 1 else [_escape(raw)]), obs_id
    assert n_rows > 100


def _escape(text: str) -> str:
    import markupsafe

    return str(markupsafe.escape(text))


def _unescape(html: str) -> str:
    import html as html_module

    return html_module.unescape(html)


# --------------------------------------------------------------------------------------------- escaping


def test_script_in_a_report_shows_as_text(hostile_site):
    pages = _pages(hostile_site.out_dir)
    sources = pages["sources/xinjiang.html"]
    assert "&lt;script&gt;alert(&#34;vqr-cell&#34;)&lt;/script&gt;" in sources
    for name, html in pages.items():
        assert "<script>alert(" not in html, f"{name}: report markup reached the page unescaped"
        assert "<img src=x" not in html, name
        for block in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S):
            json.loads(block)  # the block ended where it should, not at a "</script>" in report text
    assert "\\u003cscript\\u003e" in sources
    assert "&lt;script&gt;alert(&#34;vqr-cell&#34;)&lt;/script&gt;" in pages["reading/xinjiang.html"]


# ------------------------------------------------------------------------------------------- reading view


class _Numbers(HTMLParser):
    """Every marked number of a reading view: (kind, line, text, data-obs) in page order."""

    _KINDS = {"vqr-n-extracted": "extracted", "vqr-n-context": "context", "vqr-n-unread": "unread"}

    def __init__(self):
        super().__init__()
        self.numbers: list[tuple[str, int, str, str | None]] = []
        self.links: list[str] = []
        self._line = 0
        self._open: list = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and (attrs.get("id") or "").startswith("L"):
            self._line = int(attrs["id"][1:])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        kind = next((k for c, k in self._KINDS.items() if c in (attrs.get("class") or "").split()), None)
        if kind and self._line:  # the legend's samples sit before the first line
            self._open.append([kind, self._line, "", attrs.get("data-obs")])
        elif self._open:
            self._open.append(None)

    def handle_data(self, data):
        if self._open and self._open[-1] is not None:
            self._open[-1][2] += data

    def handle_endtag(self, tag):
        if self._open:
            item = self._open.pop()
            if item is not None:
                self.numbers.append(tuple(item))


def test_reading_view_marks_every_printed_number_by_its_ledger_class(site, db_con, registry):
    pages = _pages(site.out_dir)
    for report in registry:
        parser = _Numbers()
        parser.feed(pages[f"reading/{report.region}.html"])
        ledger = db_con.execute(
            """SELECT "class", line, raw, split_part(obs_ids, ' ', 1) FROM number_ledger WHERE report_id = ?
               ORDER BY line, position""", [report.id]).fetchall()
        shown = [(kind, line, text.rstrip("⚠"), obs) for kind, line, text, obs in parser.numbers]
        assert shown == [(c, line, raw, obs or None) for c, line, raw, obs in ledger], report.id
        counts = dict(db_con.execute("""SELECT "class", count(*) FROM number_ledger WHERE report_id = ?
                                        GROUP BY 1""", [report.id]).fetchall())
        html = pages[f"reading/{report.region}.html"]
        assert f'<dd class="vqr-count-unread">{counts["unread"]}</dd>' in html
        assert "../sources/" + report.region + ".html" in parser.links


def test_reading_view_is_linked_from_the_sources_and_region_pages(site, registry):
    pages = _pages(site.out_dir)
    for report in registry:
        href = f'href="../reading/{report.region}.html"'
        assert href in pages[f"sources/{report.region}.html"] and href in pages[f"regions/{report.region}.html"]
        assert f'href="reading/{report.region}.html"' in pages["sources.html"]


def test_suspect_values_are_marked_in_the_reading_view(site, db_con):
    obs_id, region = db_con.execute(
        """SELECT o.obs_id, r.region FROM observations o JOIN reports r ON r.report_id = o.report_id
           WHERE o.status = 'suspect' AND o.method <> 'correction' ORDER BY o.obs_id LIMIT 1""").fetchone()
    html = _pages(site.out_dir)[f"reading/{region}.html"]
    assert re.search(rf'class="[^"]*vqr-suspect[^"]*" data-obs="{obs_id}"', html), obs_id


# ---------------------------------------------------------------------------------- atomicity, determinism


def _tree(path: Path) -> dict[str, str]:
    return {p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def test_rebuild_is_byte_identical_except_build_info(site, built_db, site_notebooks, tmp_path):
    again = _build(built_db, site_notebooks, tmp_path / "site", built="2026-02-02")
    a, b = _tree(site.out_dir), _tree(again.out_dir)
    assert set(a) == set(b)
    assert [k for k in a if a[k] != b[k]] == ["assets/build-info.js"]


def test_failed_render_keeps_the_last_good_site(built_db, site_notebooks, tmp_path):
    from vqr_analysis.core.errors import VqrError

    out = tmp_path / "site"
    _build(built_db, site_notebooks, out)
    (out / "briefs").mkdir()
    (out / "briefs" / "xinjiang.pdf").write_bytes(b"%PDF-1.7 stand-in")
    before = _tree(out)
    broken = tmp_path / "broken-notebooks"
    shutil.copytree(site_notebooks, broken)
    (broken / "regions" / "tarim.ipynb").unlink()
    with pytest.raises(VqrError, match=r"regions/tarim\.ipynb.*vqr notebooks"):
        _build(built_db, broken, out)
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken-notebooks", "site"], "temp folders left behind"
    _build(built_db, site_notebooks, out)  # a good rebuild keeps the briefs written after the last site
    assert (out / "briefs" / "xinjiang.pdf").is_file()


def test_cli_site_says_which_renderer_it_used(built_db, site_notebooks, tmp_path):
    vqr = [sys.executable, "-m", "vqr_analysis.cli"]
    ok = subprocess.run([*vqr, "site", "--renderer", "embedded", "--db", str(built_db), "--notebooks",
                         str(site_notebooks), "--out", str(tmp_path / "site")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "embedded renderer" in ok.stdout and (tmp_path / "site" / "index.html").is_file()
    if shutil.which("quarto") is None:
        bad = subprocess.run([*vqr, "site", "--renderer", "quarto", "--db", str(built_db), "--out",
                              str(tmp_path / "q")], capture_output=True, text=True)
        assert bad.returncode == 2 and "quarto" in bad.stderr and "Traceback" not in bad.stderr
        assert not (tmp_path / "q").exists()


# ------------------------------------------------------------------------------- Quarto contract, offline


def _html_mimes(output: dict) -> set[str]:
    return set(output.get("data") or {}) & {"text/html", "application/javascript", "text/javascript",
                                             "application/vnd.jupyter.widget-view+json"}


def test_staged_project_keeps_quarto_contract_without_quarto(built_db, site_notebooks, tmp_path):
    """What `quarto render` is given: no output that makes it inject scripts (quarto-cli's widgets.ts counts any
    text/html or application/javascript output), every page the configuration names, only schema keys."""
    import fnmatch

    import nbformat
    import yaml

    from vqr_analysis.publish.site import load_site_config, stage_site

    notebooks = tmp_path / "notebooks"
    shutil.copytree(site_notebooks, notebooks)
    # One cell in every output shape, in this order: text, a script, HTML, text again.
    path = notebooks / "regions" / "tacheng.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("show()", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="before\n"),
        nbformat.v4.new_output("display_data", {"application/javascript": "require(['x'])", "text/plain": "js"}),
        nbformat.v4.new_output("display_data", {"text/html": "<b class='vqr-probe'>表</b>", "text/plain": "t"}),
        nbformat.v4.new_output("stream", name="stdout", text="after\n")]))
    nbformat.write(nb, path)

    stage = tmp_path / "stage"
    config = stage_site(stage, built_db, notebooks, built=BUILT)
    staged = sorted(stage.rglob("*.ipynb"))
    assert len(staged) == len(list(notebooks.rglob("*.ipynb")))
    n_raw = 0
    for nb_path in staged:
        cells = nbformat.read(nb_path, as_version=4).cells
        for cell in cells:
            for output in cell.get("outputs", []):
                assert not _html_mimes(output), f"{nb_path.name}: {sorted(_html_mimes(output))} output"
        n_raw += sum(c.cell_type == "raw" and c.metadata.get("raw_mimetype") == "text/html" for c in cells)
    assert n_raw >= 2 * len(staged)  # at least the charts / tables and the site's own sections

    cells = nbformat.read(stage / "regions" / "tacheng.ipynb", as_version=4).cells
    probe = next(i for i, c in enumerate(cells) if "vqr-probe" in c.source)
    before, after = cells[probe - 1], cells[probe + 1]
    assert [o.get("text") or o["data"].get("text/plain") for o in before.outputs] == ["before\n", "js"]
    assert after.outputs[0]["text"] == "after\n" and "remove-input" in after.metadata["tags"]

    written = yaml.safe_load((stage / "_quarto.yml").read_text(encoding="utf-8"))
    assert written == config
    for target in written["project"]["render"]:
        assert (stage / target).is_file(), target
    for pattern in load_site_config(ROOT / "_quarto.yml")["project"]["render"]:
        assert any(fnmatch.fnmatchcase(t, pattern) for t in written["project"]["render"]), pattern

    def hrefs(entries):
        for entry in entries:
            if isinstance(entry, dict):
                yield from ([entry["href"]] if "href" in entry else [])
                yield from hrefs(entry.get("menu", []))
    named = list(hrefs(written["website"]["navbar"]["left"]))
    assert len(named) >= 10
    for href in named:
        assert (stage / href).is_file(), href
    assert unknown_config_keys(written) == []


def test_a_page_with_a_cdn_script_fails_the_site_phase_and_the_live_site_stays(site, built_db, site_notebooks,
                                                                               tmp_path, monkeypatch):
    from vqr_analysis.build import BuildOptions, run_build
    from vqr_analysis.core.errors import VqrError

    root = tmp_path / "checkout"  # the site definition and pages of a checkout whose about page adds a CDN script
    shutil.copytree(ROOT / "pages", root / "pages")
    shutil.copyfile(ROOT / "_quarto.yml", root / "_quarto.yml")
    cdn = "https://cdn.jsdelivr.net/npm/jquery@3.7.1/dist/jquery.min.js"
    with (root / "pages" / "about.qmd").open("a", encoding="utf-8") as page:
        page.write(f'\n```{{=html}}\n<script src="{cdn}"></script>\n```\n')
    monkeypatch.setenv("VQR_ROOT", str(root))
    live = tmp_path / "site"
    shutil.copytree(site.out_dir, live)
    build = tmp_path / "build"
    shutil.copytree(site_notebooks, build / "notebooks")
    before = _tree(live)
    with pytest.raises(VqrError) as info:
        run_build(BuildOptions(only="site", db_path=built_db, data=DATA, build=build, site=live,
                               renderer="embedded"))
    message = str(info.value)
    assert "phase 'site'" in message and f"about.html loads {cdn}" in message, message
    assert _tree(live) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "checkout", "site"], "staging left behind"


def test_the_guard_also_checks_what_quarto_renders(site, built_db, site_notebooks, tmp_path, monkeypatch):
    """Whichever renderer: a stand-in `quarto` on PATH that renders pages with the require.js and jQuery tags
    Quarto injects for text/html outputs makes `vqr site --renderer quarto` fail, and the live site stays."""
    from vqr_analysis.core.errors import VqrError

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    head = (FIXTURES / "offline" / "quarto_widget_head.html").read_text(encoding="utf-8")
    fake = bin_dir / "quarto"
    fake.write_text(f"""#!{sys.executable}
import pathlib, re, sys, yaml
stage = pathlib.Path(sys.argv[2])
config = yaml.safe_load((stage / "_quarto.yml").read_text(encoding="utf-8"))
out = stage / config["project"]["output-dir"]
for target in config["project"]["render"]:
    page = out / re.sub(r"\\.(qmd|ipynb)$", ".html", target)
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text({head!r}, encoding="utf-8")
""", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    live = tmp_path / "site"
    shutil.copytree(site.out_dir, live)
    before = _tree(live)
    with pytest.raises(VqrError) as info:
        _build(built_db, site_notebooks, live, renderer="quarto")
    message = str(info.value)
    assert "rendered by quarto" in message and "cdnjs.cloudflare.com/ajax/libs/require.js" in message, message
    assert _tree(live) == before


def test_vqr_serve_serves_the_built_site(site, tmp_path):
    import urllib.request

    with vqr_serve(site.out_dir, tmp_path / "serve.log") as url:
        assert url.startswith("http://127.0.0.1:")
        for name, mime, marker in [("index.html", "text/html", 'class="vqr-chart"'),
                                   ("regions/xinjiang.html", "text/html", "vqr-region-values"),
                                   ("assets/vega-bundle.js", "text/javascript", "vegaEmbed"),
                                   ("data/region-xinjiang.csv", "text/csv", "codebook_label_zh")]:
            with urllib.request.urlopen(url + name, timeout=30) as response:
                assert response.headers["Content-Type"].split(";")[0] == mime, name
                assert marker in response.read().decode("utf-8-sig"), name


@needs_quarto
@needs_browser
@pytest.mark.slow
def test_quarto_renders_the_same_pages_served_offline_with_charts_drawn(site, built_db, site_notebooks, registry,
                                                                      db_con, tmp_path):
    """Quarto's site, opened as a reader must open it (through `vqr serve`: its pages load ES modules, which
    browsers block over file://), passes the embedded site's browser checks on the same pages."""
    result = _build(built_db, site_notebooks, tmp_path / "site", renderer="quarto")
    assert result.renderer == "quarto"
    assert set(result.pages) == set(site.pages) and set(site.pages) <= set(_pages(result.out_dir))
    with vqr_serve(result.out_dir, tmp_path / "serve.log") as url, chromium() as browser:
        for name in _dashboard_pages(registry):
            _check_page_in_browser(browser, url + name, name, db_con, local=(url, "data:"))


# ---------------------------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _open(browser, where: Path | str, *, local: tuple[str, ...] = ("file:", "data:"), width: int = 1280):
    """Open a page (a file, or a URL under a local server named in ``local``), recording console errors,
    requests that leave the machine and dialogs."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    seen = {"errors": [], "outside": [], "dialogs": []}
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: None if r.url.startswith(local) else seen["outside"].append(r.url))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.goto(where.as_uri() if isinstance(where, Path) else where)
    page.wait_for_load_state("load")
    return page, seen


def _dashboard_pages(registry) -> list[str]:
    """The pages with charts and values that both renderers' browser tests open."""
    return ["index.html"] + [f"regions/{r.region}.html" for r in registry]


def _check_page_in_browser(browser, where, name: str, db_con, **open_kw) -> None:
    """Charts drawn, footer filled, a value's popover shows its quote and line; no error, nothing fetched outside."""
    page, seen = _open(browser, where, **open_kw)
    page.wait_for_selector(".vqr-chart.vqr-drawn", timeout=15_000)
    n_charts = page.locator(".vqr-chart").count()
    assert page.locator(".vqr-chart.vqr-drawn svg, .vqr-chart.vqr-drawn canvas").count() >= n_charts > 0, name
    assert page.locator("[data-vqr-snapshot]").first.inner_text() not in ("", "…"), name
    button = page.locator("button.vqr-val[data-obs]").first
    if button.count():
        obs = button.get_attribute("data-obs")
        button.click()
        popover = page.locator(".vqr-popover")
        popover.wait_for(state="visible")
        quote, line = db_con.execute("SELECT quote, line FROM observations WHERE obs_id = ?", [int(obs)]).fetchone()
        assert popover.locator(".vqr-popover-quote").inner_text() == quote.strip()
        assert str(line) in popover.inner_text()
        page.keyboard.press("Escape")
        popover.wait_for(state="hidden")
    assert seen["errors"] == [], f"{name}: console errors {seen['errors']}"
    assert seen["outside"] == [], f"{name}: requests leaving the machine {seen['outside']}"
    page.close()


@needs_browser
@pytest.mark.slow
def test_home_and_region_pages_work_offline_in_chromium(site, registry, browser, db_con):
    for name in _dashboard_pages(registry):
        _check_page_in_browser(browser, site.out_dir / name, name, db_con)


@needs_browser
@pytest.mark.slow
def test_popover_opens_from_the_keyboard_and_from_a_chart_mark(site, browser):
    page, seen = _open(browser, site.out_dir / "regions" / "tenth_division.html")
    page.wait_for_selector(".vqr-chart.vqr-drawn")
    button = page.locator("button.vqr-val[data-obs]").first
    button.focus()
    page.keyboard.press("Enter")
    popover = page.locator(".vqr-popover")
    popover.wait_for(state="visible")
    assert page.evaluate("document.activeElement.className") == "vqr-popover-close"
    page.keyboard.press("Escape")
    popover.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.getAttribute('data-obs')") == button.get_attribute("data-obs")
    page.locator(".vqr-chart svg path[role='graphics-symbol']").first.click()  # a bar: its datum has obs_id
    popover.wait_for(state="visible")
    assert popover.locator(".vqr-popover-quote").inner_text()
    assert seen["errors"] == [] and seen["outside"] == []
    page.close()


@needs_browser
@pytest.mark.slow
def test_report_scripts_never_run_in_the_browser(hostile_site, browser):
    for name in ("sources/xinjiang.html", "regions/xinjiang.html", "quality.html", "index.html"):
        page, seen = _open(browser, hostile_site.out_dir / name)
        page.wait_for_timeout(300)
        assert seen["dialogs"] == [], f"{name}: report script ran: {seen['dialogs']}"
        assert seen["outside"] == [], f"{name}: {seen['outside']}"
        page.close()
    page, _ = _open(browser, hostile_site.out_dir / "sources" / "xinjiang.html")
    assert '<script>alert("vqr-cell")</script>' in page.locator("body").inner_text()
    page.close()


@needs_browser
@pytest.mark.slow
def test_reading_view_in_chromium_opens_the_record_and_links_the_sources_page(site, browser, db_con, tmp_path):
    """Desktop and phone widths: no console errors, no network, an extracted number opens its record with a
    link to its row on the sources page, and unread numbers are highlighted."""
    for width in (1280, 390):
        page, seen = _open(browser, site.out_dir / "reading" / "tacheng.html")
        page.set_viewport_size({"width": width, "height": 900})
        unread = page.locator("mark.vqr-n-unread").nth(3)
        unread.scroll_into_view_if_needed()
        background = unread.evaluate("e => getComputedStyle(e).backgroundColor")
        assert background not in ("rgba(0, 0, 0, 0)", "transparent")
        button = page.locator(".vqr-reading button.vqr-n-extracted").first
        button.scroll_into_view_if_needed()
        obs = button.get_attribute("data-obs")
        button.click()
        popover = page.locator(".vqr-popover")
        popover.wait_for(state="visible")
        quote = db_con.execute("SELECT quote FROM observations WHERE obs_id = ?", [int(obs)]).fetchone()[0]
        assert popover.locator(".vqr-popover-quote").inner_text() == quote.strip()
        page.screenshot(path=str(tmp_path / f"reading-{width}.png"))
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1  # nothing overflows
        popover.locator("a.vqr-popover-link").click()
        page.wait_for_load_state("load")
        assert page.url.endswith(f"sources/tacheng.html#obs-{obs}")
        assert page.locator(f"tr#obs-{obs}").count() == 1
        assert seen["errors"] == [] and seen["outside"] == []
        page.close()


@needs_browser
@pytest.mark.slow
def test_at_phone_width_nothing_is_cut_and_the_page_never_scrolls_sideways(site, browser, tmp_path):
    """390 px: the document is no wider than the viewport; every chart fits its column (drawn narrower, or
    scaled down whole); a table wider than its column scrolls in its own box under a visible hint."""
    hints = 0
    for name in ["index.html", "regions/tacheng.html", "compare.html", "sources/tacheng.html", "indicators.html"]:
        page, seen = _open(browser, site.out_dir / name, width=390)
        if page.locator(".vqr-chart").count():
            page.wait_for_selector(".vqr-chart.vqr-drawn", timeout=15_000)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
        cut = page.evaluate("""() => [...document.querySelectorAll('.vqr-chart')].filter(f => {
            const svg = f.querySelector('svg'); if (!svg) return true;
            return svg.getBoundingClientRect().right > f.querySelector('.vqr-vega').getBoundingClientRect().right + 1;
        }).map(f => f.id)""")
        assert cut == [], f"{name}: charts cut off {cut}"
        boxes = page.evaluate("""() => [...document.querySelectorAll('.vqr-table-wrap, .vqr-dt')].map(b =>
            [b.scrollWidth > b.clientWidth + 1, b.classList.contains('vqr-scrolls'),
             !!(b.previousElementSibling && b.previousElementSibling.classList.contains('vqr-scroll-hint')
                && b.previousElementSibling.getBoundingClientRect().height > 0)])""")
        for wide, marked, hinted in boxes:
            assert wide == marked == hinted, (name, boxes)
            hints += hinted
        page.screenshot(path=str(tmp_path / f"{name.replace('/', '-')}-390.png"))
        assert seen["errors"] == [] and seen["outside"] == [], (name, seen)
        page.close()
    assert hints >= 2  # the sources and region values tables are wider than a phone


def _search_index(site_dir: Path) -> list[dict]:
    js = (site_dir / "assets" / "search-index.js").read_text(encoding="utf-8")
    return json.loads(js[js.index("=") + 1:js.rindex(";")])


def test_search_index_covers_every_page_and_every_indicator(site, db_con):
    index = _search_index(site.out_dir)
    pages = {entry["href"].split("#")[0] for entry in index if entry["kind"] == "page"}
    assert pages == set(site.pages)
    codes = {code for (code,) in db_con.execute("SELECT code FROM indicators").fetchall()}
    assert {entry["href"] for entry in index if entry["kind"] == "indicator"} == {
        f"indicators.html?filter={code}" for code in codes}
    assert any("双师型" in entry["text"] for entry in index if entry["href"].startswith("reading/"))


@needs_browser
@pytest.mark.slow
def test_search_finds_shuangshixing_offline_and_opens_the_indicator(site, browser):
    for width in (1280, 390):
        page, seen = _open(browser, site.out_dir / "regions" / "tacheng.html", width=width)
        page.fill("#vqr-search-input", "双师型")
        page.wait_for_selector("a.vqr-search-hit", timeout=10_000)
        hits = page.locator("a.vqr-search-hit")
        texts = [hits.nth(i).inner_text() for i in range(hits.count())]
        assert texts and all("双师型" in t for t in texts), texts
        assert "指标 Indicator" in texts[0]  # the codebook first: its name or alias holds the word
        hrefs = [hits.nth(i).get_attribute("href") for i in range(hits.count())]
        assert any(h.startswith("../") and h.split("../")[1].split("/")[0] in ("regions", "reading", "sources")
                   for h in hrefs), hrefs  # and the pages that use it, relative to this page
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        href = hits.first.get_attribute("href")
        hits.first.click()
        page.wait_for_load_state("load")
        code = href.split("filter=")[1]
        assert page.url.endswith(f"indicators.html?filter={code}")
        rows = page.locator("#indicator-table tbody tr[data-search]:not([hidden])")
        assert rows.count() >= 1 and all(code in rows.nth(i).get_attribute("data-search") for i in range(rows.count()))
        assert seen["errors"] == [] and seen["outside"] == [], seen
        page.close()


def test_compare_page_marks_every_suspect_value_it_shows(site, db_con):
    """Issue 14: every suspect preferred value the compare page's main table shows carries the 存疑 badge with a
    reason, taken from the database, not from a list."""
    html = (site.out_dir / "compare.html").read_text(encoding="utf-8")
    shown = set(re.findall(r'data-obs="(\d+)"', html))
    suspect = db_con.execute(
        """SELECT v.obs_id, string_agg(f.message_zh, ' ') FROM indicator_values v
           JOIN quality_flags f ON f.obs_id = v.obs_id
           WHERE v.entity IS NULL AND v.status = 'suspect' GROUP BY v.obs_id""").fetchall()
    on_page = [(str(obs), reason) for obs, reason in suspect if str(obs) in shown]
    assert on_page, "the compare page should show some of the database's suspect values"
    for obs_id, _reason in on_page:
        marks = re.findall(rf'data-obs="{obs_id}"[^>]*>[^<]*</button><span class="vqr-flag-badge vqr-flag-w" '
                           r'title="([^"]+)">存疑 suspect</span>', html)
        assert marks, f"suspect value {obs_id} shown without its badge"
        assert all("，" in m or "。" in m for m in marks), marks  # a reason in words, not empty
    # ... and a clean value never carries it
    clean = db_con.execute("SELECT obs_id FROM indicator_values WHERE entity IS NULL AND status = 'reported' "
                           "AND method <> 'correction'").fetchall()
    for (obs_id,) in clean:
        assert not re.search(rf'data-obs="{obs_id}"[^>]*>[^<]*</button><span class="vqr-flag-badge', html)


def test_home_region_and_sources_pages_say_what_they_count(site, db_con, registry):
    pages = _pages(site.out_dir)
    for r in registry:
        values = db_con.execute("SELECT count(*) FROM indicator_values WHERE report_id = ? AND entity IS NULL "
                                "AND value IS NOT NULL", [r.id]).fetchone()[0]
        statements = db_con.execute("SELECT count(*) FROM observations WHERE report_id = ?", [r.id]).fetchone()[0]
        sources = pages[f"sources/{r.region}.html"]
        assert f"提取记录 / Extracted statements ({statements})" in sources
        assert f"每个指标每年取一个（{values} 个）" in sources
        assert f"<dd>{values}</dd>" in pages["index.html"] and f"<dd>{statements}</dd>" in pages["index.html"]
    assert "这里数的是提取记录" in pages["sources.html"]
