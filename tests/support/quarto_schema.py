"""The Quarto contract without Quarto: a site definition checked against a vendored allow-list of Quarto 1.7's
configuration keys (tests/fixtures/quarto/schema-1.7-keys.yml)."""

from __future__ import annotations

import yaml

from support.paths import FIXTURES

__all__ = ["QUARTO_KEYS", "allowed_keys", "unknown_config_keys"]

QUARTO_KEYS = FIXTURES / "quarto" / "schema-1.7-keys.yml"


def allowed_keys() -> dict[str, set[str]]:
    return {path: set(keys) for path, keys in yaml.safe_load(QUARTO_KEYS.read_text(encoding="utf-8")).items()}


def unknown_config_keys(config: dict, allowed: dict[str, set[str]] | None = None) -> list[str]:
    """Dotted paths of the keys of ``config`` that the allow-list does not have, in document order."""
    allowed = allowed or allowed_keys()
    unknown: list[str] = []

    def check(mapping: dict, path: str, keys: set[str]) -> None:
        unknown.extend(f"{path}.{key}".lstrip(".") for key in mapping if key not in keys)

    def items(entries, path: str) -> None:
        for i, entry in enumerate(entries or []):
            if isinstance(entry, dict):
                check(entry, f"{path}[{i}]", allowed["navigation-item"])
                items(entry.get("menu"), f"{path}[{i}].menu")

    check(config, "", allowed["top-level"])
    for path in sorted(p for p in allowed if p not in ("top-level", "navigation-item")):
        node = config
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            check(node, path, allowed[path])
    navbar = (config.get("website") or {}).get("navbar")
    if isinstance(navbar, dict):
        for side in ("left", "right"):
            items(navbar.get(side), f"website.navbar.{side}")
    footer = (config.get("website") or {}).get("page-footer")
    if isinstance(footer, dict):
        for region in ("left", "center", "right"):
            if isinstance(footer.get(region), list):
                items(footer[region], f"website.page-footer.{region}")
    return unknown
