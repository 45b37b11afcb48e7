"""The report registry (``data/reports.toml``): which documents exist and what they describe.

A sixth report needs only its file and a new ``[[report]]`` entry; nothing in the code names a report.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import MISSING, asdict, dataclass, fields
from datetime import date
from pathlib import Path

from vqr_analysis.core.errors import VqrError
from vqr_analysis.core.vocab import LEVELS, SUBJECT_KINDS
from vqr_analysis.core.paths import (
    OUTPUT_MARKER, PACKAGE_DIR, PROJECT_SOURCE_FOLDERS, data_dir, is_vqr_output, project_root,
)
from vqr_analysis.sources.formats import SUPPORTED_SUFFIXES

__all__ = [
    "Report", "load_registry", "LEVELS", "region_slugs", "INPUT_FILES", "check_output_path",
    "check_output_dir", "MAX_FIELD_CHARS",
]

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
    # Optional: the report's title as printed on its cover; briefs cite it. Absent → derived (see `title`).
    title_zh: str = ""
    # Optional: who the report speaks for (core.vocab.SUBJECT_KINDS) and its size where the report states it.
    # Ranks compare only subjects of one kind and level; a report without a kind is compared with none.
    subject_kind: str = ""
    schools: int | None = None
    students: int | None = None
    # Optional: other names of the subject printed in the report ('北屯职校'): values about them are the subject's.
    aliases_zh: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """The report's title for citations: as registered, else subject + level + edition."""
        return self.title_zh or f"{self.subject_zh}{self.level_zh}质量年度报告（{self.edition_year}年度）"

    @property
    def level_zh(self) -> str:
        return LEVELS[self.level][0]

    @property
    def level_en(self) -> str:
        return LEVELS[self.level][1]

    def path(self, base: Path | None = None) -> Path:
        return (base or data_dir()) / self.file

    def as_row(self) -> dict:
        """The report's row of the ``reports`` table (keyed ``report_id``, as every table cites it)."""
        row = {"report_id": self.id, **{k: v for k, v in asdict(self).items() if k != "id"}}
        row["level_zh"], row["level_en"] = self.level_zh, self.level_en
        row["title_zh"] = self.title
        kind = SUBJECT_KINDS.get(self.subject_kind, ("", ""))
        row["subject_kind_zh"], row["subject_kind_en"] = kind
        row["aliases_zh"] = "|".join(self.aliases_zh)
        return row


_REQUIRED = [f.name for f in fields(Report) if f.default is MISSING]
_OPTIONAL = [f.name for f in fields(Report) if f.default is not MISSING]
_LISTS = ("aliases_zh",)  # lists of names, checked apart (each name as a one-line text field)
_TYPES = {f.name: int if f.type in ("int", "int | None") else str for f in fields(Report) if f.name not in _LISTS}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
_DATE_FIELDS = ("data_period_start", "data_period_end")
# Line breaks and other control characters have no place in a one-line registry field (they would break
# every page, table and log line that prints it); markup such as '<' is allowed and escaped where shown.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Every registry field is a name, a title or a path: 200 characters hold the longest real one several times
# over, while a multi-megabyte field would be copied onto every page of the site (and into every brief).
MAX_FIELD_CHARS = 200


def load_registry(path: Path | None = None) -> list[Report]:
    """Read and check the registry; every problem is a VqrError naming the entry and field."""
    path = path or data_dir() / "reports.toml"
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VqrError("report registry not found", path=path) from None
    except IsADirectoryError:
        raise VqrError("report registry path is a folder, not a file", path=path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise VqrError(f"report registry is not valid TOML: {str(exc).splitlines()[0]}", path=path) from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise VqrError("report registry is nested too deeply to be a registry", path=path) from None
    entries = doc.get("report", [])
    if not entries or not isinstance(entries, list):
        raise VqrError("report registry has no [[report]] entries", path=path)
    base = path.parent.resolve()
    reports = [_check_entry(entry, i, base, path) for i, entry in enumerate(entries, 1)]
    for key in ("id", "region", "file"):
        seen = [getattr(r, key) for r in reports]
        dupes = sorted({v for v in seen if seen.count(v) > 1})
        if dupes:
            raise VqrError(f"duplicate report {key}: {', '.join(dupes)}", path=path)
    return reports


def _check_entry(entry: object, index: int, base: Path, path: Path) -> Report:
    if not isinstance(entry, dict):
        raise VqrError(f"[[report]] #{index} is not a table of fields", path=path)
    where = f"[[report]] #{index} ({str(entry.get('id', '?'))[:40]})"
    missing = [k for k in _REQUIRED if k not in entry]
    if missing:
        raise VqrError(f"{where} lacks {', '.join(missing)}", path=path)
    unknown = set(entry) - set(_REQUIRED) - set(_OPTIONAL)
    if unknown:
        raise VqrError(f"{where} has unknown fields {', '.join(sorted(map(str, unknown)))}", path=path)
    for key, kind in _TYPES.items():
        if key not in entry:
            continue  # an optional field left out
        value = entry[key]
        # bool is an int subclass in Python; `data_year = true` is still wrong.
        if not isinstance(value, kind) or isinstance(value, bool):
            raise VqrError(f"{where}: {key} must be {'an integer' if kind is int else 'a string'}, "
                           f"not {type(value).__name__} {value!r:.40}", path=path)
        if kind is str and (not value.strip() or _CONTROL.search(value)):
            raise VqrError(f"{where}: {key} must be non-empty text on one line", path=path)
        if kind is str and len(value) > MAX_FIELD_CHARS:
            raise VqrError(f"{where}: {key} is {len(value)} characters long; at most {MAX_FIELD_CHARS}", path=path)
    if entry.get("subject_kind", "") not in ("", *SUBJECT_KINDS):
        raise VqrError(f"{where}: subject_kind {str(entry['subject_kind'])!r:.40} must be one of "
                       f"{', '.join(SUBJECT_KINDS)}", path=path)
    for key in ("schools", "students"):
        if key in entry and not 0 < entry[key] < 100_000_000:
            raise VqrError(f"{where}: {key} must be a positive count", path=path)
    aliases = entry.get("aliases_zh", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() and not _CONTROL.search(a)
                                                and len(a) <= MAX_FIELD_CHARS for a in aliases):
        raise VqrError(f"{where}: aliases_zh must be a list of names, each non-empty text on one line of at most "
                       f"{MAX_FIELD_CHARS} characters", path=path)
    report = Report(**{k: entry[k] for k in (*_REQUIRED, *_OPTIONAL) if k in entry and k not in _LISTS},
                    aliases_zh=tuple(a.strip() for a in aliases))
    if not _ID.match(report.id):
        raise VqrError(f"{where}: id {report.id!r:.60} must be letters, digits, _ or - (at most 40)", path=path)
    if not _SLUG.match(report.region):
        raise VqrError(f"{where}: region slug {report.region!r:.60} must be lower-case letters, digits, _",
                       path=path)
    if report.level not in LEVELS:
        raise VqrError(f"{where}: level {report.level!r:.40} must be one of {', '.join(LEVELS)}", path=path)
    if not _SHA.match(report.sha256):
        raise VqrError(f"{where}: sha256 must be 64 lower-case hex digits", path=path)
    for key in _DATE_FIELDS:
        try:
            date.fromisoformat(getattr(report, key))
        except ValueError:
            raise VqrError(f"{where}: {key} {getattr(report, key)!r:.40} is not a date (YYYY-MM-DD)",
                           path=path) from None
    if report.data_period_start > report.data_period_end:
        raise VqrError(f"{where}: data_period_start is after data_period_end", path=path)
    if not 1990 <= report.data_year <= 2100 or not 1990 <= report.edition_year <= 2100:
        raise VqrError(f"{where}: data_year/edition_year must be a year between 1990 and 2100", path=path)
    period_years = range(int(report.data_period_start[:4]), int(report.data_period_end[:4]) + 1)
    if report.data_year not in period_years:
        raise VqrError(f"{where}: data_year {report.data_year} lies outside the data period "
                       f"{report.data_period_start} – {report.data_period_end}", path=path)
    if Path(report.file).is_absolute() or "\\" in report.file:
        raise VqrError(f"{where}: file {report.file!r:.80} must be a relative path inside the data folder "
                       f"{base} (forward slashes)", path=path)
    target = (base / report.file).resolve()  # resolves '..' and symbolic links
    if not target.is_relative_to(base):
        raise VqrError(f"{where}: file {report.file!r:.80} points outside the data folder {base}", path=path)
    if Path(report.file).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise VqrError(f"{where}: file {report.file!r:.80} has an unsupported format; "
                       f"supported: {', '.join(SUPPORTED_SUFFIXES)}", path=path)
    return report


def region_slugs(reports: list[Report] | None = None) -> list[str]:
    return [r.region for r in (reports if reports is not None else load_registry())]


# Files of the data folder that the build reads besides the reports themselves.
INPUT_FILES = ("reports.toml", "indicators.csv", "indicator_kinds.csv", "corrections.csv", "prose_patterns.toml",
               "ledger_rules.toml")


def _protected_inputs(base: Path) -> tuple[set[Path], set[Path]]:
    """(input files, report folders) of the data folder ``base``; a broken registry protects its fixed names."""
    files = {base / name for name in INPUT_FILES}
    folders: set[Path] = set()
    try:
        for report in load_registry(base / "reports.toml"):
            files.add(report.path(base).resolve())
            folders.add(report.path(base).resolve().parent)
    except VqrError:
        pass  # the build reports a broken registry itself
    folders.discard(base)
    return files, folders


def check_output_path(path: Path, *, suffixes: tuple[str, ...] = (), base: Path | None = None,
                      what: str = "output") -> Path:
    """Refuse an output file that would overwrite an input; return it resolved.

    Outputs may go anywhere the user names (a temp folder, another disk), except onto the registry, the
    codebook and other data-folder inputs, a registered report or anything in a report folder, or a folder.
    ``suffixes`` (e.g. ``('.duckdb', '.db')``) keeps a mistyped path from replacing an unrelated file.
    """
    base = (base or data_dir()).resolve()
    target = Path(path).expanduser().resolve()
    if target.is_dir():
        raise VqrError(f"{what} path is a folder; name a file", path=target)
    if suffixes and target.suffix.lower() not in suffixes:
        raise VqrError(f"{what} file must end in {' or '.join(suffixes)}", path=target)
    files, folders = _protected_inputs(base)
    if target in files or any(target.is_relative_to(folder) for folder in folders):
        raise VqrError(f"refusing to write the {what} over a project input; choose another path", path=target)
    return target


def check_output_dir(path: Path, *, base: Path | None = None, what: str = "output",
                     require_marker: bool = False) -> Path:
    """Refuse an output folder that is, or contains, project inputs or sources; return it resolved.

    Site and notebook outputs are replaced as a whole (a new folder is swapped in and the old one deleted),
    so ``--out .`` or ``--out data`` would delete the reports, ``--out .git`` the history. The folder may be
    anywhere else; with ``require_marker`` (a folder the user names on the command line) it must also be new,
    empty, or one that vqr wrote (it carries OUTPUT_MARKER).
    """
    base = (base or data_dir()).resolve()
    target = Path(path).expanduser().resolve()
    if target.is_file():
        raise VqrError(f"{what} path is a file; name a folder", path=target)
    files, folders = _protected_inputs(base)
    for inside in (base, *folders, *files, PACKAGE_DIR):
        if inside.is_relative_to(target):
            raise VqrError(f"refusing to use it as the {what} folder: it is or holds {inside}, which would "
                           "be replaced; choose an empty or dedicated folder", path=target)
    if any(target.is_relative_to(folder) for folder in folders):
        raise VqrError(f"refusing to write the {what} inside a report folder", path=target)
    root = project_root()
    for name in PROJECT_SOURCE_FOLDERS:
        if target.is_relative_to(root / name):
            raise VqrError(f"refusing to use it as the {what} folder: it is inside the project's source folder "
                           f"{name}/; choose a new or dedicated folder", path=target)
    if require_marker and not is_vqr_output(target):
        raise VqrError(f"refusing to use it as the {what} folder: it holds files vqr did not write (no "
                       f"{OUTPUT_MARKER} marker) and would be replaced; choose a new or empty folder", path=target)
    return target
