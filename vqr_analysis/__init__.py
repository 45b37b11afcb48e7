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

import importlib

from vqr_analysis.analysis.api import (
    compare, compare_table, connect, coverage, derived_rates, indicators, profile, quality_flags, region_info,
    reports, shared_codes, snapshot, values,
)
from vqr_analysis.core.errors import VqrError
from vqr_analysis.core.version import __version__

# Public short names → the stage module behind them (loaded on first use: Altair, nbformat and papermill are
# heavy, and the command line should not pay for them).
_LAZY_MODULES = {"charts": "vqr_analysis.analysis.charts", "display": "vqr_analysis.analysis.display",
                 "notebooks": "vqr_analysis.publish.notebooks"}
_LAZY_NAMES = {"display_table": "display"}  # name → the lazy module defining it

__all__ = [
    "connect", "reports", "indicators", "values", "compare", "profile", "quality_flags", "snapshot", "region_info",
    "coverage", "compare_table", "shared_codes", "derived_rates", "display_table", "charts", "display", "notebooks", "VqrError",
    "__version__",
]


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        return importlib.import_module(_LAZY_MODULES[name])
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(_LAZY_MODULES[_LAZY_NAMES[name]]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
