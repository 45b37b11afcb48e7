"""Where the checkout, its data and the test fixtures are."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent
DATA = ROOT / "data"
FIXTURES = TESTS / "fixtures"
GOLDEN = TESTS / "golden"
PACKAGE = ROOT / "vqr_analysis"
