"""Helpers for tests of the incremental build."""

from __future__ import annotations

import hashlib
from pathlib import Path


def touch_report(data: Path, region_prefix: str, extra: bytes = "\n（本行为测试追加）\n".encode()) -> str:
    """Append text to one report and re-register its hash, as a publisher's corrected edition would."""
    report = next((data / "reports").glob(f"{region_prefix}*"))
    old = hashlib.sha256(report.read_bytes()).hexdigest()
    report.write_bytes(report.read_bytes() + extra)
    new = hashlib.sha256(report.read_bytes()).hexdigest()
    registry = data / "reports.toml"
    registry.write_text(registry.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    return new
