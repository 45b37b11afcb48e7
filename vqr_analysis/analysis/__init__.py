"""Stage 5, analysis: the researcher's API over the database — polars frames, Altair charts, readable tables.

In: a built database (stage 4). Out: :mod:`~vqr_analysis.analysis.api` (``values``, ``compare``, ``profile``
… as polars DataFrames), :mod:`~vqr_analysis.analysis.charts` (Altair charts, ``lang="zh" | "en"``) and
:mod:`~vqr_analysis.analysis.display` (bilingual HTML tables and data-driven sentences for notebooks), with
:mod:`~vqr_analysis.analysis.preferred` (where the value frames are read from: a held connection, or a copy of
the database file kept while it is unchanged) and :mod:`~vqr_analysis.analysis.exports` (CSV, JSON and Parquet
files for ``vqr export`` and ``vqr query``).
The API functions are re-exported here and at the package top (``vqr.values(...)``).
"""

from vqr_analysis.analysis.api import *  # noqa: F401,F403  (the public API, re-exported)
from vqr_analysis.analysis.api import __all__  # noqa: F401
