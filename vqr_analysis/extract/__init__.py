"""Extractors: pure functions from a verified :class:`SourceDocument` to :class:`Observation` records.

``extract_document`` runs every extractor; the database builder numbers and stores what they return.
"""

from __future__ import annotations

from vqr_analysis.sources.codebook import Codebook
from vqr_analysis.extract.model import Observation
from vqr_analysis.sources.documents import SourceDocument
from vqr_analysis.extract.integrity import check_annex_tables
from vqr_analysis.extract.prose import ProseReader, extract_prose, prose_reader
from vqr_analysis.extract.tables import extract_tables

__all__ = ["extract_document", "extract_tables", "extract_prose", "prose_reader", "ProseReader", "EXTRACTOR_VERSION"]

# Bump when extraction logic changes what is stored: it is part of the build's snapshot id.
EXTRACTOR_VERSION = "0.3.0"


def extract_document(doc: SourceDocument, codebook: Codebook, *,
                     reader: ProseReader | None = None) -> tuple[list[Observation], list[dict]]:
    """All observations of one document, plus the table rows that mapped to no code (for the report).
    ``reader``: the prose reader built once for many documents (default: the one for ``codebook``).

    A repeated or truncated annex table is a VqrError (see :mod:`.integrity`): never silently wrong data.
    """
    check_annex_tables(doc)
    reader = reader or prose_reader(codebook)
    table_obs, unmapped = extract_tables(doc, codebook, version=EXTRACTOR_VERSION,
                                         titled_lists=reader.pats.titled_lists)
    prose_obs = extract_prose(doc, codebook, version=EXTRACTOR_VERSION, reader=reader)
    return table_obs + prose_obs, unmapped
