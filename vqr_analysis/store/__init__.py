"""Stage 4, store: the DuckDB database, built atomically, read through locked-down read-only connections.

In: the registry, documents and codebook (stage 1), the extractors (stage 2) and the quality rules and
corrections (stage 3). Out: one DuckDB file (in DuckDB 1.1's storage format, so every DuckDB from 1.1 on opens
it) with ``reports``, ``indicators``, ``observations``, ``quality_flags``, ``unmapped_rows``, ``number_ledger``,
``report_lines``, ``runs``, ``preferred_values`` (the preferred value per key with region and labels, written at
build time for the API) and the ``indicator_values`` view, plus the content keys (code fingerprints, snapshot
ids) that the incremental build uses. Beside it, the storage every later stage writes through: ``cache`` (hashing, atomic writes, the verified
content-addressed store), ``staging`` (outputs built aside, published all together or discarded) and
``lock`` (one writer per project).
"""
