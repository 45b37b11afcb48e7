"""vqr-analysis: China's vocational-education annual quality reports as a trustworthy, comparable dataset.

The public API returns polars DataFrames::

    import vqr_analysis as vqr
    vqr.reports()
    vqr.values(region="tacheng", codes=["student_teacher_ratio"])
    vqr.compare(["dual_qualified_teacher_share", "student_teacher_ratio"])
"""

__version__ = "0.1.0"

from .analysis import compare, connect, indicators, profile, quality_flags, reports, snapshot, values  # noqa: E402
from .errors import VqrError  # noqa: E402

__all__ = [
    "connect", "reports", "indicators", "values", "compare", "profile", "quality_flags", "snapshot", "VqrError",
    "__version__",
]
