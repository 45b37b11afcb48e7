"""Prose extraction (headline figures in sentences). Filled in by the prose-extraction work."""

from __future__ import annotations

from ..codebook import Codebook
from ..model import Observation
from ..sources import SourceDocument

__all__ = ["extract_prose"]


def extract_prose(doc: SourceDocument, codebook: Codebook, *, version: str) -> list[Observation]:
    return []
