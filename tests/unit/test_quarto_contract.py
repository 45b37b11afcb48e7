"""The site definition speaks Quarto 1.7: every key of _quarto.yml is in the vendored allow-list of its schema
(the staged copy the renderers read is checked in tests/integration/test_site.py)."""

from __future__ import annotations

import copy

import yaml

from support.paths import ROOT
from support.quarto_schema import allowed_keys, unknown_config_keys


def _config() -> dict:
    return yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))


def test_site_definition_uses_only_keys_of_quarto_schema():
    assert unknown_config_keys(_config()) == []


def test_full_width_layout_and_one_line_navbar_labels():
    config = _config()
    assert config["format"]["html"]["page-layout"] == "full"
    labels = [item["text"] for item in config["website"]["navbar"]["left"]]
    assert all(len(label) <= 16 and "/" not in label for label in labels), labels


def test_a_misspelt_or_made_up_key_is_reported_with_its_path():
    config = copy.deepcopy(_config())
    config["website"]["navbar"]["colapse"] = False
    config["website"]["navbar"]["left"][1]["menu"].append({"href": "x.qmd", "txt": "x"})
    config["format"]["html"]["page-layuot"] = "full"
    config["projct"] = {}
    assert unknown_config_keys(config) == [
        "projct", "format.html.page-layuot", "website.navbar.colapse", "website.navbar.left[1].menu[1].txt"]


def test_allow_list_covers_each_section_it_names():
    allowed = allowed_keys()
    assert {"top-level", "project", "website", "website.navbar", "navigation-item", "format.html"} <= set(allowed)
    assert "page-layout" in allowed["format.html"] and "navbar" in allowed["website"]
