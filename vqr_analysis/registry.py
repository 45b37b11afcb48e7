"""The report registry (``data/reports.toml``): which documents exist and what they describe.

A sixth report needs only its file and a new ``[[report]]`` entry; nothing in the code names a report.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .errors import VqrError
from .paths import data_dir

__all__ = ["Report", "load_registry", "LEVELS", "region_slugs", "report_for_region"]

LEVELS = {"higher": ("高等职业教育", "Higher vocational"), "secondary": ("中等职业教育", "Secondary vocational")}
_SLUG = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_SHA = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Report:
    id: str
    file: str
    sha256: str
    original_name: str
    subject_zh: str
    subject_en: str
    region: str
    region_zh: str
    region_en: str
    level: str
    edition_year: int
    published: str
    data_period_start: str
    data_period_end: str
    data_year: int
    publisher: str

    @property
    def level_zh(self) -> str:
        return LEVELS[self.level][0]

    @property
    def level_en(self) -> str:
        return LEVELS[self.level][1]

    def path(self, base: Path | None = None) -> Path:
        return (base or data_dir()) / self.file

    def as_row(self) -> dict:
        row = asdict(self)
        row["level_zh"], row["level_en"] = self.level_zh, self.level_en
        return row


_REQUIRED = [f.name for f in fields(Report)]


def load_registry(path: Path | None = None) -> list[Report]:
    """Read and check the registry; every problem is a VqrError naming the entry and field."""
    path = path or data_dir() / "reports.toml"
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VqrError("report registry not found", path=path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise VqrError(f"report registry is not valid TOML: {exc}", path=path) from None
    entries = doc.get("report", [])
    if not entries:
        raise VqrError("report registry has no [[report]] entries", path=path)
    base = path.parent.resolve()
    reports: list[Report] = []
    for i, entry in enumerate(entries, 1):
        where = f"[[report]] #{i} ({entry.get('id', '?')})"
        missing = [k for k in _REQUIRED if k not in entry]
        if missing:
            raise VqrError(f"{where} lacks {', '.join(missing)}", path=path)
        unknown = set(entry) - set(_REQUIRED)
        if unknown:
            raise VqrError(f"{where} has unknown fields {', '.join(sorted(unknown))}", path=path)
        report = Report(**{k: entry[k] for k in _REQUIRED})
        if not _SLUG.match(report.region):
            raise VqrError(f"{where}: region slug {report.region!r} must be lower-case letters, digits, _", path=path)
        if report.level not in LEVELS:
            raise VqrError(f"{where}: level {report.level!r} must be one of {', '.join(LEVELS)}", path=path)
        if not _SHA.match(report.sha256):
            raise VqrError(f"{where}: sha256 must be 64 lower-case hex digits", path=path)
        target = (base / report.file).resolve()
        if not target.is_relative_to(base):
            raise VqrError(f"{where}: file {report.file!r} points outside the data folder {base}", path=path)
        reports.append(report)
    for key in ("id", "region", "file"):
        seen = [getattr(r, key) for r in reports]
        dupes = sorted({v for v in seen if seen.count(v) > 1})
        if dupes:
            raise VqrError(f"duplicate report {key}: {', '.join(dupes)}", path=path)
    return reports


def region_slugs(reports: list[Report] | None = None) -> list[str]:
    return [r.region for r in (reports if reports is not None else load_registry())]


def report_for_region(region: str, reports: list[Report] | None = None) -> Report:
    """The report for a region slug; an unknown slug is a VqrError naming the known ones."""
    reports = reports if reports is not None else load_registry()
    for report in reports:
        if report.region == region:
            return report
    raise VqrError(f"unknown region {region!r}; known regions: {', '.join(r.region for r in reports)}")
