"""The one number format: plain decimals people write, never e-notation."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gwsload.contract import numbers

E_NOTATION = re.compile(r"\d[eE][+-]?\d")


@pytest.mark.parametrize(
    ("value_ms", "text"),
    [
        (1170.4, "1,170 ms"),
        (1000.0, "1,000 ms"),
        (0.8, "0.8 ms"),
        (0.001, "0.001 ms"),
        (54.53, "54.5 ms"),
        (12_500.0, "12.5 s"),
        (1e6, "1,000 s"),
        (0.0, "0 ms"),
        (math.nan, "n/a"),
    ],
)
def test_latency_as_people_write_it(value_ms: float, text: str) -> None:
    assert numbers.latency_ms(value_ms) == text


@pytest.mark.parametrize(
    ("share", "text"),
    [
        (0.004, "0.4 %"),
        (0.61, "61 %"),
        (0.24371, "24.4 %"),
        (1e-5, "0.001 %"),
        (1.0, "100 %"),
        (0.0, "0 %"),
        (0.99996, "99.996 %"),
    ],
)
def test_percent(share: float, text: str) -> None:
    assert numbers.percent(share) == text


def test_counts_rates_and_sizes() -> None:
    assert numbers.count(1_234_567) == "1,234,567"
    assert numbers.count(12.0) == "12"
    assert numbers.rate(519.54) == "519.5 ops/s"
    assert numbers.rate(1234.56) == "1,235 ops/s"
    assert numbers.rate(0.05) == "0.05 ops/s"
    assert numbers.bytes_(23_300_000) == "23.3 MB"
    assert numbers.signed(23.3, "MB") == "+23.3 MB"
    assert numbers.signed(-0.4, "ms") == "-0.4 ms"
    assert numbers.p_value(2.4e-29) == "p < 0.001"
    assert numbers.p_value(0.0342) == "p = 0.034"
    assert numbers.duration_s(3600) == "3,600 s"
    assert numbers.duration_s(0.5) == "500 ms"
    assert numbers.significant(1e6) == "1,000,000"
    assert numbers.significant(1e12) == "1,000,000,000,000"


@given(st.floats(min_value=-1e15, max_value=1e15, allow_nan=False))
def test_never_e_notation(value: float) -> None:
    for text in (
        numbers.significant(value),
        numbers.latency_ms(value),
        numbers.percent(value),
        numbers.rate(value),
        numbers.count(value),
        numbers.bytes_(value),
    ):
        assert not E_NOTATION.search(text), text


@given(st.floats(min_value=1e-3, max_value=1e9, allow_nan=False))
def test_three_digits_read_back_close(value: float) -> None:
    back = float(numbers.significant(value).replace(",", ""))
    assert math.isclose(back, value, rel_tol=0.006)
