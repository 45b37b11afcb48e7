"""The offline guard: every way a built page could load something from outside the machine is found, and
nothing a reader merely sees or clicks is mistaken for one."""

from __future__ import annotations

import pytest

from support.paths import FIXTURES
from vqr_analysis.core.errors import VqrError
from vqr_analysis.publish.offline import (
    check_offline, find_outside_references, is_outside_url, scan_css, scan_html, scan_js,
)

OFFLINE = FIXTURES / "offline"


def _urls(found) -> list[str]:
    return [ref.url for ref in found]


def test_the_require_js_and_jquery_tags_quarto_injects_are_found():
    found = scan_html((OFFLINE / "quarto_widget_head.html").read_text(encoding="utf-8"), "regions/tacheng.html")
    assert _urls(found) == ["https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/require.min.js",
                            "https://cdnjs.cloudflare.com/ajax/libs/jquery/3.5.1/jquery.min.js"]
    assert {ref.page for ref in found} == {"regions/tacheng.html"}
    assert all(ref.how == "<script src>" for ref in found)


def test_a_page_that_only_mentions_or_links_outside_urls_passes():
    assert scan_html((OFFLINE / "clean_page.html").read_text(encoding="utf-8"), "index.html") == []


@pytest.mark.parametrize("markup, url", [
    ('<script type="module" src="//cdn.example/m.js"></script>', "//cdn.example/m.js"),
    ('<link rel="stylesheet" href="https://fonts.googleapis.com/css2?family=Noto">',
     "https://fonts.googleapis.com/css2?family=Noto"),
    ('<link rel="icon" href="http://example.org/favicon.ico">', "http://example.org/favicon.ico"),
    ('<link rel="preload" as="font" href="https://cdn.example/f.woff2">', "https://cdn.example/f.woff2"),
    ('<img src="a.png" srcset="a.png 1x, https://cdn.example/a@2x.png 2x">', "https://cdn.example/a@2x.png"),
    ('<iframe src="https://www.youtube.com/embed/x"></iframe>', "https://www.youtube.com/embed/x"),
    ('<video poster="https://cdn.example/p.jpg"></video>', "https://cdn.example/p.jpg"),
    ('<base href="https://cdn.example/">', "https://cdn.example/"),
    ('<svg><use xlink:href="https://cdn.example/icons.svg#i"></use></svg>', "https://cdn.example/icons.svg#i"),
    ('<div style="background:url(\'https://cdn.example/bg.png\')"></div>', "https://cdn.example/bg.png"),
    ('<style>@font-face { font-family: X; src: url(https://cdn.example/x.woff2) format("woff2"); }</style>',
     "https://cdn.example/x.woff2"),
    ('<style>@import "https://cdn.example/theme.css";</style>', "https://cdn.example/theme.css"),
    ('<script>import("https://esm.sh/d3")</script>', "https://esm.sh/d3"),
    ('<script type="module">import * as d3 from "https://cdn.jsdelivr.net/npm/d3@7/+esm";</script>',
     "https://cdn.jsdelivr.net/npm/d3@7/+esm"),
    ("<script>fetch('https://api.example/data.json')</script>", "https://api.example/data.json"),
    ('<SCRIPT SRC="HTTPS://CDN.EXAMPLE/UP.JS"></SCRIPT>', "HTTPS://CDN.EXAMPLE/UP.JS"),
    ('<script src=" \thttps://cdn.example/space.js"></script>', "https://cdn.example/space.js"),
    ('<script src="\\\\cdn.example/backslash.js"></script>', "\\\\cdn.example/backslash.js"),
    ('<script src="https:cdn.example/noslash.js"></script>', "https:cdn.example/noslash.js"),
])
def test_each_kind_of_outside_reference_in_a_page_is_found(markup, url):
    found = scan_html(f"<!DOCTYPE html><html><body>{markup}</body></html>", "p.html")
    assert _urls(found) == [url], markup


@pytest.mark.parametrize("css, url", [
    ("body { background: url( \"//cdn.example/bg.png\" ) }", "//cdn.example/bg.png"),
    ("@import url(https://cdn.example/a.css);", "https://cdn.example/a.css"),
    ("@import 'http://cdn.example/b.css';", "http://cdn.example/b.css"),
])
def test_stylesheets_are_scanned(css, url):
    assert _urls(scan_css(css, "assets/site.css")) == [url]


@pytest.mark.parametrize("js, url", [
    ('import x from "https://cdn.example/x.mjs";', "https://cdn.example/x.mjs"),
    ("export { y } from 'https://cdn.example/y.mjs';", "https://cdn.example/y.mjs"),
    ("const m = await import(`https://cdn.example/m.mjs`);", "https://cdn.example/m.mjs"),
    ('fetch( "https://api.example/q" )', "https://api.example/q"),
    ('xhr.open("GET", "https://api.example/r")', "https://api.example/r"),
    ("new Worker('https://cdn.example/w.js')", "https://cdn.example/w.js"),
    ('s.src = "https://www.googletagmanager.com/gtag/js"', "https://www.googletagmanager.com/gtag/js"),
    ("require(['https://cdn.example/amd.js'], f)", "https://cdn.example/amd.js"),
    ("document.write('<script src=\"https://cdn.example/late.js\"></script>')", "https://cdn.example/late.js"),
])
def test_scripts_are_scanned(js, url):
    assert _urls(scan_js(js, "assets/site.js")) == [url]


def test_scripts_that_stay_local_or_only_name_urls_pass():
    js = """
    fetch("search.json"); fetch(url); import("./chart.mjs"); import x from "../lib/x.js";
    var editor = "https://vega.github.io/editor/";  // a string, not a fetch
    a.href = "https://example.org/"; window.open("https://example.org/");
    """
    assert scan_js(js) == []


@pytest.mark.parametrize("url, outside", [
    ("https://x", True), ("http://x", True), ("//x", True), ("wss://x", True), ("ftp://x", True),
    ("\n https://x", True), ("ht\ttps://x", True), ("HTTP://X", True),
    ("assets/x.js", False), ("../x.js", False), ("/x.js", False), ("data:image/png;base64,AA", False),
    ("#top", False), ("mailto:a@b", False), ("file:///x", False), ("", False),
])
def test_what_counts_as_outside(url, outside):
    assert is_outside_url(url) is outside


def test_a_site_folder_is_scanned_page_by_page_and_the_error_names_page_and_url(tmp_path):
    site = tmp_path / "site"
    (site / "regions").mkdir(parents=True)
    (site / "assets").mkdir()
    (site / "index.html").write_text((OFFLINE / "clean_page.html").read_text(encoding="utf-8"), encoding="utf-8")
    (site / "assets" / "site.css").write_text("body { color: #111 }", encoding="utf-8")
    (site / "assets" / "site.js").write_text("fetch('data/x.csv')", encoding="utf-8")
    (site / "data.csv").write_text("url\nhttps://example.org\n", encoding="utf-8")  # not a page: not scanned
    check_offline(site)  # nothing outside: no error

    (site / "regions" / "tacheng.html").write_text(
        (OFFLINE / "quarto_widget_head.html").read_text(encoding="utf-8"), encoding="utf-8")
    (site / "assets" / "theme.css").write_text("@import url(https://fonts.example/c.css);", encoding="utf-8")
    (site / "assets" / "mod.mjs").write_text("import 'https://esm.example/m.js';", encoding="utf-8")
    found = find_outside_references(site)
    assert [(ref.page, ref.url) for ref in found] == [
        ("assets/mod.mjs", "https://esm.example/m.js"),
        ("assets/theme.css", "https://fonts.example/c.css"),
        ("regions/tacheng.html", "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/require.min.js"),
        ("regions/tacheng.html", "https://cdnjs.cloudflare.com/ajax/libs/jquery/3.5.1/jquery.min.js"),
    ]
    with pytest.raises(VqrError) as info:
        check_offline(site, renderer="quarto")
    message = str(info.value)
    assert "assets/mod.mjs loads https://esm.example/m.js" in message and "3 more" in message
    assert "quarto" in message and "last good site" in message and "\n" not in message
