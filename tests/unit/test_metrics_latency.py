"""HDR recording: shipping, exact merging across workers, and the latency.hlog file."""

from __future__ import annotations

import gc
import json
import weakref
from pathlib import Path

import msgpack
import numpy as np
import pytest
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from gwsload.metrics import (
    HlogWriter,
    Interval,
    IntervalMerger,
    LatencyRecorder,
    make_tag,
    new_histogram,
    read_hlog,
    reset_histogram,
    split_tag,
)

PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
TAG = "notify.StartCallRecording"


def lognormal_ms(seed: int, n: int) -> np.ndarray:
    """Latency-like values in ms: median ~20 ms, long tail up to seconds."""
    return np.random.default_rng(seed).lognormal(mean=3.0, sigma=1.0, size=n)


def worker_intervals(values: np.ndarray, start: float, parts: int) -> list[Interval]:
    """Record ``values`` into a worker recorder, taking ``parts`` intervals of 5 s."""
    recorder = LatencyRecorder(start=start)
    intervals = []
    for index, chunk in enumerate(np.array_split(values, parts)):
        for value in chunk:
            recorder.record("notify", "StartCallRecording", float(value))
        intervals.append(recorder.take_interval(now=start + 5.0 * (index + 1)))
    return intervals


def test_tags_join_metric_and_operation() -> None:
    assert make_tag("notify", "StartCallRecording") == TAG
    assert split_tag(TAG) == ("notify", "StartCallRecording")
    assert split_tag("notify_from_intended.StopCallRecording") == (
        "notify_from_intended",
        "StopCallRecording",
    )


def test_take_interval_returns_what_was_recorded_and_resets() -> None:
    recorder = LatencyRecorder(start=100.0)
    recorder.record("response", "StopCallRecording", 1.2345)  # -> 1235 us
    recorder.record("response", "StopCallRecording", 1.2345)
    recorder.record("notify", "StopCallRecording", 7.0)
    first = recorder.take_interval(now=105.0)
    assert (first.start, first.end) == (100.0, 105.0)
    assert first.total_count() == 3
    histogram = first.histograms["response.StopCallRecording"]
    assert histogram.get_total_count() == 2
    assert histogram.values_are_equivalent(histogram.get_max_value(), 1235)
    second = recorder.take_interval(now=110.0)
    assert (second.start, second.end, second.histograms) == (105.0, 110.0, {})


def test_values_outside_the_range_are_clamped_and_counted() -> None:
    recorder = LatencyRecorder(start=0.0)
    recorder.record("notify", "StartCallRecording", 5_000_000.0)  # 83 minutes
    recorder.record("notify", "StartCallRecording", -1.0)
    assert recorder.clamped == 2
    histogram = recorder.take_interval(now=1.0).histograms[TAG]
    assert histogram.get_total_count() == 2
    assert histogram.get_value_at_percentile(100.0) >= 3_600_000_000 * 0.999


def test_encoded_interval_is_json_and_msgpack_and_decodes_identically() -> None:
    (interval,) = worker_intervals(lognormal_ms(1, 1000), start=10.0, parts=1)
    payload = interval.encode()
    assert json.loads(json.dumps(payload)) == payload
    shipped = msgpack.unpackb(msgpack.packb(payload), raw=False)
    decoded = Interval.decode(shipped)
    assert (decoded.start, decoded.end) == (10.0, 15.0)
    original, copy = interval.histograms[TAG], decoded.histograms[TAG]
    assert copy.get_total_count() == original.get_total_count() == 1000
    for p in PERCENTILES:
        assert copy.get_value_at_percentile(p) == original.get_value_at_percentile(p)


def test_merged_percentiles_are_exact_and_match_numpy_on_all_raw_values() -> None:
    # three workers, 10,000 values each, shipped as four intervals per worker
    workers = [lognormal_ms(seed, 10_000) for seed in (1, 2, 3)]
    merger = IntervalMerger()
    for index, values in enumerate(workers):
        for interval in worker_intervals(values, start=1000.0 + index * 0.3, parts=4):
            merger.add(Interval.decode(interval.encode()))
    merged_interval = merger.take()
    assert merged_interval is not None
    assert merged_interval.start == 1000.0 and merged_interval.end == pytest.approx(1020.6)
    merged = merged_interval.histograms[TAG]

    everything_us = np.rint(np.concatenate(workers) * 1000.0).astype(np.int64)
    single = new_histogram()
    for value in everything_us:
        single.record_value(int(value))
    assert merged.get_total_count() == single.get_total_count() == 30_000
    assert merged.get_min_value() == single.get_min_value()
    assert merged.get_max_value() == single.get_max_value()

    ordered = np.sort(everything_us)
    for p in PERCENTILES:
        hdr_value = merged.get_value_at_percentile(p)
        # adding histograms is exact: same answer as one histogram fed every value
        assert hdr_value == single.get_value_at_percentile(p)
        # and it is the raw value of the same rank (HDR's rank rule: nearest rank,
        # rounded half up) to HDR precision (3 significant digits)
        rank = max(1, int(p * len(ordered) / 100.0 + 0.5))
        raw = ordered[rank - 1]
        assert merged.values_are_equivalent(hdr_value, int(raw))
        assert abs(hdr_value - raw) <= raw * 1e-3


def test_merger_take_is_none_when_empty_and_resets() -> None:
    merger = IntervalMerger()
    assert merger.take() is None
    (interval,) = worker_intervals(lognormal_ms(4, 10), start=0.0, parts=1)
    merger.add(interval)
    merger.add(Interval(0.0, 5.0, {TAG: new_histogram()}))  # an empty histogram is skipped
    taken = merger.take(now=9.0)
    assert taken is not None and taken.end == 9.0
    assert taken.histograms[TAG].get_total_count() == 10
    assert taken.histograms[TAG].get_min_value() > 0
    assert merger.take() is None


def write_log(path: Path) -> dict[str, list[HdrHistogram]]:
    """Two intervals, two tags each; returns the histograms written per tag."""
    recorder = LatencyRecorder(start=1795952117.8)
    rng = np.random.default_rng(7)
    written: dict[str, list[HdrHistogram]] = {}
    with HlogWriter(path, base_time=1795952117.8) as writer:
        for index in range(2):
            for value in rng.lognormal(2.0, 0.5, 500):
                recorder.record("notify", "StartCallRecording", float(value))
                recorder.record("response", "StartCallRecording", float(value) / 4.0)
            interval = recorder.take_interval(now=1795952117.8 + 5.0 * (index + 1))
            assert writer.write(interval) == 2
            for tag, histogram in interval.histograms.items():
                written.setdefault(tag, []).append(histogram)
    return written


def test_hlog_has_the_standard_header_and_tagged_lines(tmp_path: Path) -> None:
    path = tmp_path / "latency.hlog"
    written = write_log(path)
    lines = path.read_text().splitlines()
    assert lines[0] == "#[Histogram log format version 1.3]"
    assert lines[1] == "#[StartTime: 1795952117.800 (seconds since epoch), 2026-11-29 11:35:17]"
    assert lines[2] == "#[BaseTime: 1795952117.800 (seconds since epoch)]"
    assert lines[3] == (
        '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"'
    )
    tag, start, length, max_ms, _blob = lines[4].split(",", 4)
    assert (tag, start, length) == ("Tag=notify.StartCallRecording", "0.000", "5.000")
    assert float(max_ms) == written["notify.StartCallRecording"][0].get_max_value() / 1000.0
    assert lines[6].startswith("Tag=notify.StartCallRecording,5.000,5.000,")


def test_hlog_round_trips_through_hdrh_log_reader(tmp_path: Path) -> None:
    path = tmp_path / "latency.hlog"
    written = write_log(path)
    reader = HistogramLogReader(str(path), new_histogram())
    read: dict[str, list[HdrHistogram]] = {}
    while (histogram := reader.get_next_interval_histogram()) is not None:
        read.setdefault(histogram.get_tag(), []).append(histogram)
    reader.close()
    assert sorted(read) == sorted(written)
    for tag, histograms in written.items():
        assert len(read[tag]) == 2
        for original, copy in zip(histograms, read[tag], strict=True):
            assert copy.get_total_count() == original.get_total_count()
            for p in PERCENTILES:
                assert copy.get_value_at_percentile(p) == original.get_value_at_percentile(p)
    # absolute interval start, in ms, as hdrh computes it from BaseTime
    assert read[TAG][1].get_start_time_stamp() == pytest.approx(1795952122.8 * 1000.0)


def test_read_hlog_gives_absolute_times_and_skips_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "latency.hlog"
    written = write_log(path)
    text = path.read_text()
    path.write_text(text + text.splitlines()[-1][:40])  # a writer killed mid-line
    entries = list(read_hlog(path))
    assert [e.tag for e in entries] == [
        "notify.StartCallRecording",
        "response.StartCallRecording",
    ] * 2
    assert entries[2].start == pytest.approx(1795952122.8)
    assert entries[2].length == 5.0
    total = sum(e.histogram.get_total_count() for e in entries if e.tag == TAG)
    assert total == sum(h.get_total_count() for h in written[TAG]) == 1000


def test_read_hlog_refuses_a_broken_line_in_the_middle(tmp_path: Path) -> None:
    path = tmp_path / "latency.hlog"
    write_log(path)
    lines = path.read_text().splitlines(keepends=True)
    lines[4] = "Tag=notify.StartCallRecording,0.000,5.000,1.0,NOTBASE64\n"
    path.write_text("".join(lines))
    with pytest.raises(ValueError, match=r"latency.hlog: line 5: not an hlog interval"):
        list(read_hlog(path))


def test_a_recycled_interval_serves_the_next_ones_empty() -> None:
    recorder = LatencyRecorder(start=0.0)
    recorder.record("notify", "StartCallRecording", 5.0)
    first = recorder.take_interval(now=2.0)
    payload = first.encode()
    used = first.histograms[TAG]
    recorder.recycle(first)
    assert first.histograms == {}
    recorder.record("notify", "StartCallRecording", 9.0)
    second = recorder.take_interval(now=4.0)
    assert second.histograms[TAG] is used  # no new histogram after the first interval
    assert second.histograms[TAG].get_total_count() == 1
    assert second.histograms[TAG].get_max_value() == pytest.approx(9000, rel=1e-3)
    decoded = Interval.decode(payload).histograms[TAG]
    assert decoded.get_total_count() == 1 and decoded.get_max_value() == pytest.approx(
        5000, rel=1e-3
    )


def test_reset_histogram_empties_as_the_library_reset_does() -> None:
    def used() -> HdrHistogram:
        histogram = new_histogram()
        for value_us in (1, 7, 1_000, 250_000, 3_600_000_000, 3_600_000_000):
            histogram.record_value(value_us)
        histogram.set_start_time_stamp(1_000)
        histogram.set_end_time_stamp(2_000)
        return histogram

    ours, theirs, fresh = used(), used(), new_histogram()
    reset_histogram(ours)
    theirs.reset()
    assert list(ours.counts) == list(theirs.counts) == list(fresh.counts)
    for name in (
        "total_count", "min_value", "max_value", "start_time_stamp_msec", "end_time_stamp_msec",
    ):  # fmt: skip
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.encode() == theirs.encode()
    for histogram in (ours, theirs, fresh):  # and it records as a new one does
        histogram.record_value(42_000)
    assert ours.encode() == theirs.encode()
    assert ours.get_value_at_percentile(50) == fresh.get_value_at_percentile(50)
    assert ours.get_total_count() == fresh.get_total_count() == 1


def test_histograms_the_merger_is_done_with_are_freed_without_the_cyclic_collector() -> None:

    def interval(value_ms: float) -> Interval:
        recorder = LatencyRecorder(start=0.0)
        recorder.record("notify", "StartCallRecording", value_ms)
        return Interval.decode(recorder.take_interval(now=2.0).encode())

    merger = IntervalMerger()
    first, second = interval(1.0), interval(2.0)
    added = weakref.ref(second.histograms[TAG])
    gc.disable()
    try:
        merger.add(first)
        merger.add(second)
        del second
        assert added() is None  # freed by reference counting, not waiting for gc
    finally:
        gc.enable()
    merged = merger.take()
    assert merged is not None and merged.histograms[TAG].get_total_count() == 2
