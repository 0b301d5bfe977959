"""Locust's own statistics stay bounded over a long run: per-second counters are
trimmed and failures carrying ids are filed under one row."""

from __future__ import annotations

import pytest
from locust.stats import RequestStats, StatsError

from gwsload.harness.locust_rows import PER_SECOND_KEPT_S, row_error, trim_per_second

pytestmark = pytest.mark.gevent


def test_per_second_counters_keep_only_the_last_seconds() -> None:
    stats = RequestStats()
    entry = stats.get("StartCallRecording", "POST")
    for second in range(1000, 1000 + 3600):
        entry.num_reqs_per_sec[second] += 2
        entry.num_fail_per_sec[second] += 1
        stats.total.num_reqs_per_sec[second] += 2
    now = 1000 + 3600
    trim_per_second(stats, now)
    for counts in (entry.num_reqs_per_sec, entry.num_fail_per_sec, stats.total.num_reqs_per_sec):
        assert min(counts) == now - PER_SECOND_KEPT_S
        assert len(counts) == PER_SECOND_KEPT_S


def test_failures_that_differ_only_by_ids_are_one_row() -> None:
    texts = [
        f"HTTP 400 statusCode 2 (bad request): Call {call:016X} not found"
        for call in range(0xE102B3A4C5D6F700, 0xE102B3A4C5D6F700 + 50)
    ]
    keys = {StatsError.create_key("POST", "StopCallRecording", row_error(t)) for t in texts}
    assert len(keys) == 1
    assert str(row_error(texts[0])) == "HTTP 400 statusCode 2 (bad request): Call … not found"
    # words and small numbers stay as they are
    kept = "lost: no notification within 10 s (HTTP 503 statusCode 4)"
    assert str(row_error(kept)) == kept
