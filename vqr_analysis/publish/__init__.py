"""Stage 6, publish: executed notebooks, the static site and the PDF policy briefs.

In: the database and the analysis API (stage 5), the notebooks in ``notebooks/`` and ``_quarto.yml``.
Out: executed notebooks (:mod:`~vqr_analysis.publish.notebooks`, papermill), the dashboard site
(:mod:`~vqr_analysis.publish.site` renders, :mod:`~vqr_analysis.publish.site_pages` turns frames into page
fragments, :mod:`~vqr_analysis.publish.search` indexes it, :mod:`~vqr_analysis.publish.offline` checks that
nothing in it leaves the machine, :mod:`~vqr_analysis.publish.serve` serves it on 127.0.0.1; templates and static
assets sit beside them) and the briefs (:mod:`~vqr_analysis.publish.briefs`,
Typst, with :mod:`~vqr_analysis.publish.fonts` for CJK font discovery).
"""
