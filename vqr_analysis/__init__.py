"""vqr-analysis: China's vocational-education annual quality reports as a trustworthy, comparable dataset.

The public API returns polars DataFrames::

    import vqr_analysis as vqr
    vqr.reports()
    vqr.values(region="tacheng", codes=["student_teacher_ratio"])
    vqr.compare(["dual_qualified_teacher_share", "student_teacher_ratio"])
    vqr.charts.indicator_across_regions(vqr.compare("student_teacher_ratio"))

``vqr.display_table(frame)`` shows any of these frames as a readable table (bilingual headers, numbers with
their unit, missing as "未报告 / not reported"). ``vqr.charts`` (Altair chart builders), ``vqr.display`` (tables
and data-driven texts for notebooks) and ``vqr.notebooks`` (the papermill runner) load on first use, so
``import vqr_analysis`` stays light for the command line.
"""

__version__ = "0.1.0"

import importlib  # noqa: E402

from .analysis import (  # noqa: E402
    compare, compare_table, connect, coverage, indicators, profile, quality_flags, region_info, reports,
    shared_codes, snapshot, values,
)
from .errors import VqrError  # noqa: E402

_LAZY_MODULES = ("charts", "display", "notebooks")
_LAZY_NAMES = {"display_table": "display"}  # name → the lazy module defining it

__all__ = [
    "connect", "reports", "indicators", "values", "compare", "profile", "quality_flags", "snapshot", "region_info",
    "coverage", "compare_table", "shared_codes", "display_table", "charts", "display", "notebooks", "VqrError",
    "__version__",
]


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
