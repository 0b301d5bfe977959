"""Numbers as people write them: the one format for every number a person reads.

Console lines, ``gwsload check``, the report, summary.md and every sentence use
these functions, so a latency reads ``1,170 ms``, ``0.8 ms`` or ``12.5 s``, a share
``0.4 %``, a count ``1,234,567``: thousands separators, at most a few significant
digits, never e-notation (``1e+03``), whatever the magnitude. Machine-read files
(summary.json, CSV, JUnit values) keep full-precision numbers, not these strings.

Pure: stdlib only.
"""

from __future__ import annotations

import math

__all__ = [
    "MISSING",
    "bytes_",
    "count",
    "duration_s",
    "latency_ms",
    "p_value",
    "percent",
    "quantity",
    "rate",
    "signed",
    "significant",
]

#: What a missing value (NaN, None) reads as.
MISSING = "n/a"

#: Latencies from this many milliseconds up are written in seconds (12.5 s, not 12,500 ms);
#: below it, in milliseconds (1,170 ms), as latency SLOs are written.
SECONDS_FROM_MS = 10_000.0


def significant(value: float | None, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits, in plain decimal notation.

    The integer part is never rounded away (1,170 stays 1,170 with 3 digits) and
    carries thousands separators; trailing zeros after the point are dropped
    (0.80 -> 0.8, 12.0 -> 12).
    """
    if value is None or math.isnan(value):
        return MISSING
    if math.isinf(value):
        return "\u221e" if value > 0 else "-\u221e"
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    decimals = max(digits - 1 - exponent, 0)
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def latency_ms(value_ms: float | None, digits: int = 3) -> str:
    """A latency given in milliseconds: ``0.8 ms``, ``54.5 ms``, ``1,170 ms``, ``12.5 s``."""
    if value_ms is None or math.isnan(value_ms):
        return MISSING
    if abs(value_ms) >= SECONDS_FROM_MS and not math.isinf(value_ms):
        return f"{significant(value_ms / 1000.0, digits)} s"
    return f"{significant(value_ms, digits)} ms"


def duration_s(value_s: float | None, digits: int = 3) -> str:
    """A duration given in seconds: ``0.5 s``, ``12.5 s``, ``3,600 s``."""
    if value_s is None or math.isnan(value_s):
        return MISSING
    if 0 < abs(value_s) < 1.0:
        return latency_ms(value_s * 1000.0, digits)
    return f"{significant(value_s, digits)} s"


def percent(share: float | None, digits: int = 3) -> str:
    """A share given as a fraction (0.004 -> ``0.4 %``).

    A share that is not exactly 0 or 1 never reads as ``0 %`` or ``100 %``: digits
    are added until it does not (0.99996 -> ``99.996 %``).
    """
    if share is None or math.isnan(share):
        return MISSING
    value = share * 100.0
    text = significant(value, digits)
    while (text in ("100", "-100") and abs(share) != 1.0) and digits < 12:
        digits += 1
        text = significant(value, digits)
    return f"{text} %"


def rate(value: float | None, unit: str = "ops/s", digits: int = 4) -> str:
    """A rate: ``519.5 ops/s``, ``1,235 ops/s``, ``0.05 ops/s``."""
    return quantity(value, unit, digits)


def count(value: float | None) -> str:
    """A count with thousands separators (``1,234,567``); non-integers keep 3 digits."""
    if value is None or math.isnan(value):
        return MISSING
    if math.isinf(value) or value != int(value):
        return significant(value)
    return f"{int(value):,}"


def quantity(value: float | None, unit: str, digits: int = 3) -> str:
    """Any other measured amount with its unit: ``23.3 MB``, ``81 % of a core``."""
    text = significant(value, digits)
    return text if text == MISSING or not unit else f"{text} {unit}"


def signed(value: float | None, unit: str = "", digits: int = 3) -> str:
    """A change with its sign: ``+23.3 MB``, ``-0.4 ms``, ``0 ms``."""
    text = significant(value, digits)
    if text != MISSING and value is not None and value > 0 and text != "0":
        text = "+" + text
    return text if text == MISSING or not unit else f"{text} {unit}"


def bytes_(value: float | None, digits: int = 3) -> str:
    """A size in bytes, in decimal units: ``512 B``, ``23.3 MB``, ``1.2 GB``."""
    if value is None or math.isnan(value):
        return MISSING
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(value) >= scale:
            return f"{significant(value / scale, digits)} {unit}"
    return f"{significant(value, digits)} B"


def p_value(p: float | None) -> str:
    """A test's p-value, ``p = 0.034`` or ``p < 0.001`` (never ``2.4e-29``)."""
    if p is None or math.isnan(p):
        return f"p = {MISSING}"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {significant(p, 2)}"
