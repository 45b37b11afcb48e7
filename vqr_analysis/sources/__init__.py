"""Stage 1, sources: registered report files → verified, decoded text lines; the codebook that names indicators.

In: ``data/reports.toml`` (the registry), the report files it lists (UTF-8/GBK text, PDF, DOCX) and
``data/indicators.csv`` (the codebook). Out: :class:`~vqr_analysis.sources.registry.Report` entries,
:class:`~vqr_analysis.sources.documents.SourceDocument` (the exact lines as published, plus a normalised
logical text for matching) and :class:`~vqr_analysis.sources.codebook.Codebook`. Modules: ``registry``,
``decoding``, ``formats`` (PDF/DOCX readers), ``documents``, ``textnorm``, ``codebook``.
"""
