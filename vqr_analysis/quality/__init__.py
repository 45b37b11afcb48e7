"""Stage 3, quality: data tests and reviewed corrections over extracted observations.

In: :class:`~vqr_analysis.extract.model.Observation` rows (as a DuckDB table) and ``data/corrections.csv``.
Out: ``quality_flags`` rows (rule, severity, message) that turn observations ``suspect``
(:mod:`~vqr_analysis.quality.rules`), and ``method='correction'`` rows that cite the corrected line
(:mod:`~vqr_analysis.quality.corrections`). Nothing is dropped or silently fixed here.
"""
