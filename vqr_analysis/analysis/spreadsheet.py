"""CSV for spreadsheets: text that a spreadsheet program would run as a formula is neutralised.

Report text and registry fields reach CSV files (the site's data downloads, ``vqr export``). A cell such as
``=HYPERLINK("http://…")`` or ``@SUM(…)`` is executed by Excel or LibreOffice when the file is opened. As
OWASP advises, a text cell that starts with ``= + - @``, a tab or a carriage return gets a leading
apostrophe, which spreadsheet programs show as text. Numeric columns are never touched, and a text cell that
is just a signed number (``-12.5``) stays as it is: a spreadsheet reads it as that number, not a formula.
"""

from __future__ import annotations

import polars as pl

__all__ = ["neutralise_formulas", "FORMULA_PREFIX"]

FORMULA_PREFIX = "'"
_FORMULA_START = r"^[=+\-@\t\r]"
_PLAIN_NUMBER = r"^[+-]?[0-9]+(\.[0-9]+)?%?$"


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every text cell that a spreadsheet would read as a formula prefixed with ``'``."""
    text_columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns([
        pl.when(pl.col(name).str.contains(_FORMULA_START) & ~pl.col(name).str.contains(_PLAIN_NUMBER))
        .then(pl.lit(FORMULA_PREFIX) + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in text_columns
    ])
