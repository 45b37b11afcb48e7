"""An older DuckDB than the project's, in a throwaway venv cached under build/, to open built databases with.

Researchers' DuckDB (CLI, R, DBeaver) is often a 1.x release; the database is written so that DuckDB 1.1 reads
it. The venv is made once (``pip install duckdb==<version>`` from the package registry) and reused; where it
cannot be made (no registry, no wheel for this Python) the caller skips with the reason returned.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

from support.paths import ROOT

__all__ = ["OLD_DUCKDB", "old_duckdb_python"]

OLD_DUCKDB = "1.1.3"


def old_duckdb_python(version: str = OLD_DUCKDB) -> tuple[Path | None, str]:
    """(python of a venv with ``duckdb==version``, "") or (None, why it could not be made)."""
    folder = ROOT / "build" / f"duckdb-{version}-venv"
    python = folder / "bin" / "python"
    check = [str(python), "-c", f"import duckdb, sys; sys.exit(duckdb.__version__ != {version!r})"]
    if python.is_file() and subprocess.run(check, capture_output=True).returncode == 0:
        return python, ""
    try:
        venv.EnvBuilder(clear=True, with_pip=True).create(folder)
        pip = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                              f"duckdb=={version}"], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"cannot make a venv with duckdb=={version} ({exc.__class__.__name__}: {exc})"
    if pip.returncode != 0 or subprocess.run(check, capture_output=True).returncode != 0:
        last = (pip.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"duckdb=={version} cannot be installed for Python {sys.version_info[0]}.{sys.version_info[1]} " \
                     f"here: {last}"
    return python, ""
