"""`vqr serve`'s server: loopback only, the site's files with the MIME types browsers insist on."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request

import pytest

from vqr_analysis.core.errors import VqrError
from vqr_analysis.publish.serve import HOST, make_server


@pytest.fixture()
def served(tmp_path):
    site = tmp_path / "site"
    (site / "assets").mkdir(parents=True)
    (site / "index.html").write_text("<!DOCTYPE html><title>首页</title><p>双师型</p>", encoding="utf-8")
    for name, text in {"m.mjs": "export const a = 1;", "s.js": "var a;", "d.json": "{}", "x.wasm": "\0asm",
                       "site.css": "body{}", "v.csv": "a\n1\n"}.items():
        (site / "assets" / name).write_text(text, encoding="utf-8")
    server = make_server(site, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _get(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers.get("Content-Type"), response.read()


def test_pages_and_modules_are_served_with_their_mime_types(served):
    kind, body = _get(served)
    assert kind == "text/html; charset=utf-8" and "双师型" in body.decode("utf-8")
    expected = {"m.mjs": "text/javascript", "s.js": "text/javascript", "d.json": "application/json",
                "x.wasm": "application/wasm", "site.css": "text/css", "v.csv": "text/csv"}
    for name, mime in expected.items():
        assert _get(served + "assets/" + name)[0].split(";")[0] == mime, name


def test_nothing_outside_the_site_folder_is_served(served):
    with pytest.raises(urllib.error.HTTPError) as info:
        _get(served + "../../etc/passwd")
    assert info.value.code == 404


def test_listens_on_loopback_only(tmp_path):
    (tmp_path / "index.html").write_text("<p>x</p>", encoding="utf-8")
    server = make_server(tmp_path, 0)
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()


def test_no_site_or_a_taken_port_is_one_clear_error(tmp_path):
    with pytest.raises(VqrError, match="run `vqr site` or `vqr build` first"):
        make_server(tmp_path / "nothing", 0)
    (tmp_path / "index.html").write_text("<p>x</p>", encoding="utf-8")
    first = make_server(tmp_path, 0)
    try:
        with pytest.raises(VqrError, match=r"cannot listen on 127\.0\.0\.1:\d+.*--port"):
            make_server(tmp_path, first.server_address[1])
    finally:
        first.server_close()
