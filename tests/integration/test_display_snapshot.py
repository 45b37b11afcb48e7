"""Snapshot of one display table: the exact HTML a notebook reader sees for a few of Tacheng's values.

It pins headers, number formatting, units, status badges (a suspect value among them), missing wording and the
source tooltip. When a change to the table is intended, regenerate the file and review its diff:
``VQR_UPDATE_SNAPSHOTS=1 pytest tests/integration/test_display_snapshot.py``.
"""

from __future__ import annotations

import os

import polars as pl

import vqr_analysis as vqr
from support.paths import GOLDEN

SNAPSHOT = GOLDEN / "display" / "tacheng_values.html"
CODES = ["student_teacher_ratio", "dual_qualified_teacher_share", "full_time_teachers", "students_enrolled"]


def test_display_table_matches_its_snapshot(built_db):
    frame = vqr.values(region="tacheng", codes=[c for c in CODES if c in set(
        vqr.indicators(db=built_db).get_column("code"))], db=built_db).sort("indicator_code", "year")
    assert frame.filter(pl.col("status") == "suspect").height, "the snapshot should show a suspect value"
    html = vqr.display_table(frame, ["label", "value", "year", "status"], lang="zh")._repr_html_()
    if os.environ.get("VQR_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(html, encoding="utf-8")
    assert html == SNAPSHOT.read_text(encoding="utf-8"), (
        f"display table differs from {SNAPSHOT}; if intended, regenerate with VQR_UPDATE_SNAPSHOTS=1")
