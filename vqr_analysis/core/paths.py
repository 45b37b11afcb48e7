"""Where the project's inputs and outputs live.

Everything resolves from the project root (the folder holding ``data/reports.toml``) so that the CLI, the
notebooks and the tests agree. ``VQR_DB`` overrides the database path, ``VQR_DATA_DIR`` the data folder.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "PACKAGE_DIR", "project_root", "data_dir", "default_db_path", "build_dir", "site_dir",
    "OUTPUT_MARKER", "mark_output_dir", "is_vqr_output", "PROJECT_SOURCE_FOLDERS",
]

# The installed package folder (vqr_analysis/): this file sits in vqr_analysis/core/.
PACKAGE_DIR = Path(__file__).resolve().parent.parent


def project_root() -> Path:
    """The checkout root: ``VQR_ROOT``, else the first parent of the cwd or the package holding data/reports.toml."""
    env = os.environ.get("VQR_ROOT")
    if env:
        return Path(env).resolve()
    for start in (Path.cwd().resolve(), PACKAGE_DIR):
        for candidate in (start, *start.parents):
            if (candidate / "data" / "reports.toml").is_file():
                return candidate
    return PACKAGE_DIR.parent


def _from_env(name: str, default: Path) -> Path:
    """``$name`` when set (resolved), else ``default``: every location can be moved for tests and jobs."""
    env = os.environ.get(name)
    return Path(env).resolve() if env else default


def data_dir() -> Path:
    return _from_env("VQR_DATA_DIR", project_root() / "data")


def default_db_path() -> Path:
    return _from_env("VQR_DB", data_dir() / "vqr.duckdb")


def build_dir() -> Path:
    """Intermediate outputs (executed notebooks, caches, build state); never committed."""
    return _from_env("VQR_BUILD_DIR", project_root() / "build")


def site_dir() -> Path:
    return _from_env("VQR_SITE_DIR", project_root() / "site")


# Folders of the checkout that hold sources: no output may be written into or over them.
PROJECT_SOURCE_FOLDERS = (
    ".git", ".github", ".ci", ".venv", "data", "pages", "notebooks", "vqr_analysis", "tests", "benchmarks",
    "deploy", "scripts",
)
# Written into every folder vqr creates for its outputs. An output folder that is replaced or filled must be
# empty or carry it: `--out` pointed at a folder of someone else's files would otherwise delete them.
OUTPUT_MARKER = ".vqr-output"


def mark_output_dir(folder: Path) -> Path:
    """Create ``folder`` if needed and mark it as written by vqr (see OUTPUT_MARKER)."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / OUTPUT_MARKER
    if not marker.is_file():
        marker.write_text("This folder is written by vqr-analysis and may be replaced whole.\n", encoding="utf-8")
    return folder


def is_vqr_output(folder: Path) -> bool:
    """True if ``folder`` is absent, empty, or carries vqr's output marker."""
    if not folder.exists():
        return True
    return (folder / OUTPUT_MARKER).is_file() or not any(folder.iterdir())
