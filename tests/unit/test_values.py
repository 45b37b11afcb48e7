"""The value parser on cells as printed in the reports."""

import pytest

from vqr_analysis.extract.values import parse_value


@pytest.mark.parametrize(
    "raw, value, status",
    [
        ("1348", 1348.0, "reported"),
        ("98.38", 98.38, "reported"),
        ("20.05:1", 20.05, "reported"),
        ("16.85: 1", 16.85, "reported"),
        ("4651,60", 4651.6, "suspect"),
        ("1,234,567", 1234567.0, "reported"),
        ("９８．３８", 98.38, "reported"),
        ("96.8%", 96.8, "reported"),
        ("-", None, "missing"),
        ("", None, "missing"),
        ("—", None, "missing"),
        ("0", 0.0, "reported"),
        ("0.00", 0.0, "reported"),
        ("网络问卷", None, "missing"),
    ],
)
def test_parse_value(raw, value, status):
    parsed = parse_value(raw)
    assert parsed.status == status
    assert parsed.value == (pytest.approx(value) if value is not None else None)


def test_comma_decimal_says_why():
    assert "comma used as decimal point" in parse_value("4651,60").flag
