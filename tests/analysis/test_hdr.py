from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogWriter

from gwsload.analysis import hdr
from gwsload.errors import ConfigError

PERCENTILES = [0.0, 1.0, 25.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0]


def _reference(values: np.ndarray) -> HdrHistogram:
    histogram = HdrHistogram(1, 3_600_000_000, 3)
    for value in values:
        histogram.record_value(int(value))
    return histogram


def test_counts_and_percentiles_match_the_hdrh_package() -> None:
    rng = np.random.default_rng(7)
    values = np.clip(rng.lognormal(10, 2, 20_000).astype(np.int64), 1, 3_600_000_000)
    reference = _reference(values)
    counts = hdr.counts_from_values_us(values)
    assert np.array_equal(counts[: reference.counts_len], np.ctypeslib.as_array(reference.counts))
    ours = hdr.percentile_us(counts, PERCENTILES)
    expected = [reference.get_value_at_percentile(p) for p in PERCENTILES]
    assert ours.tolist() == expected


def test_percentiles_are_within_three_significant_digits_of_exact() -> None:
    rng = np.random.default_rng(8)
    values = rng.integers(1_000, 5_000_000, 50_000)
    counts = hdr.counts_from_values_us(values)
    for p in (50.0, 90.0, 99.0, 99.9):
        exact = np.quantile(values, p / 100, method="inverted_cdf")
        assert hdr.percentile_us(counts, [p])[0] == pytest.approx(exact, rel=1e-3)


def test_empty_histogram_gives_nan() -> None:
    assert np.isnan(hdr.percentile_us(np.zeros(hdr.COUNTS_LEN, np.int64), [50.0])).all()


def test_round_sig() -> None:
    assert hdr.round_sig(123456.0) == 123000.0
    assert hdr.round_sig(0.0012345) == 0.00123
    assert np.isnan(hdr.round_sig(float("nan")))


def _write_log(path: Path, tagged: dict[str, list[tuple[float, list[int]]]]) -> None:
    with path.open("w") as out:
        writer = HistogramLogWriter(out)
        writer.output_log_format_version()
        out.write("#[StartTime: 1000.000 (seconds since epoch), 1970-01-01 00:16:40]\n")
        writer.output_legend()
        for tag, intervals in tagged.items():
            for start, values in intervals:
                histogram = _reference(np.array(values))
                line = f"{start:.3f},5.000,{histogram.get_max_value() / 1000:.3f},"
                out.write(f"Tag={tag},{line}{histogram.encode().decode()}\n")


def test_hlog_totals_add_intervals_per_tag_and_skip_warmup(tmp_path: Path) -> None:
    log = tmp_path / "latency.hlog"
    _write_log(
        log,
        {
            "notify.Start": [(1000.0, [1000, 2000]), (1010.0, [3000]), (1020.0, [4000, 5000])],
            "response.Start": [(1010.0, [700])],
        },
    )
    totals = {(h.metric, h.operation): h for h in hdr.read_hlog_totals(log, t0=1000.0, from_s=8.0)}
    assert totals[("notify", "Start")].total == 3
    assert hdr.percentile_us(totals[("notify", "Start")].counts, [100.0])[0] == pytest.approx(
        5000, rel=1e-3
    )
    assert totals[("response", "Start")].total == 1


def test_hlog_with_a_broken_line_is_a_config_error(tmp_path: Path) -> None:
    log = tmp_path / "latency.hlog"
    log.write_text("#[StartTime: 1000.0 (seconds since epoch)]\nTag=notify.X,1000,5,1,garbage\n")
    with pytest.raises(ConfigError, match=r"latency.hlog:2: not an HdrHistogram interval line"):
        list(hdr.iter_hlog(log))


def test_the_canonical_fast_decoder_adds_exactly_what_hdrh_decodes() -> None:
    log = Path(__file__).parent / "data" / "faulty-smoke" / "latency.hlog"
    lines = list(hdr._hlog_lines(log))
    assert lines
    for _number, _tag, _start, _length, payload, _written in lines:
        fast = np.zeros(hdr.COUNTS_LEN, np.int64)
        assert hdr._add_canonical(payload, fast, np.full(hdr.COUNTS_LEN, 7, np.int64))
        slow = np.zeros(hdr.COUNTS_LEN, np.int64)
        hdr._add_decoded(payload, slow)
        assert (fast == slow).all() and fast.sum() > 0
