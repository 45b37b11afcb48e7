"""vqr-analysis: China's vocational-education annual quality reports as a trustworthy, comparable dataset.

The public API returns polars DataFrames::

    import vqr_analysis as vqr
    vqr.reports()
    vqr.values(region="tacheng", codes=["student_teacher_ratio"])
    vqr.compare(["dual_qualified_teacher_share", "student_teacher_ratio"])
    vqr.charts.indicator_across_regions(vqr.compare("student_teacher_ratio"))

``vqr.charts`` (Altair chart builders) and ``vqr.notebooks`` (the papermill runner) load on first use, so
``import vqr_analysis`` stays light for the command line.
"""

__version__ = "0.1.0"

import importlib  # noqa: E402

from .analysis import (  # noqa: E402
    compare, compare_table, connect, coverage, indicators, profile, quality_flags, region_info, reports,
    shared_codes, snapshot, values,
)
from .errors import VqrError  # noqa: E402

_LAZY_MODULES = ("charts", "notebooks")

__all__ = [
    "connect", "reports", "indicators", "values", "compare", "profile", "quality_flags", "snapshot", "region_info",
    "coverage", "compare_table", "shared_codes", "charts", "notebooks", "VqrError", "__version__",
]


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
