"""``gwsload run --metrics-port``: a real Prometheus scrapes a short run on loopback,
and what it stored agrees with the run folder (operations, their rate, latency
quantiles from the histogram buckets, run id and labels)."""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from gwsload.metrics.live import LATENCY_BUCKETS_S

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
pytestmark = [
    pytest.mark.gevent,
    pytest.mark.skipif(
        not Path(PROMETHEUS).exists(),
        reason="prometheus is not installed (apt-get install prometheus)",
    ),
]

SCENARIO = """
name = "live"
description = "live metrics, scraped"
warmup_s = 2
[simulator]
latency_model = "lognormal"
latency_ms = 8
latency_p99_ms = 60
answer_delay_ms = 20
seed = 3
[client]
notification_timeout_s = 2
[workload]
hold_s = { distribution = "uniform", min = 0.05, max = 0.2 }
think_time_s = 0.05
[[stages]]
duration_s = 14
users = 6
spawn_rate = 6
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _query(base: str, expr: str, at: float) -> float:
    query = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"})
    answer = _get(f"{base}/api/v1/query?{query}")
    assert answer["status"] == "success", answer
    result = answer["data"]["result"]
    assert len(result) == 1, (expr, result)
    return float(result[0]["value"][1])


def _bucket_quantile(values_s: np.ndarray, q: float) -> float:
    """What Prometheus' histogram_quantile computes from these values' buckets."""
    bounds = np.array(LATENCY_BUCKETS_S)
    cumulative = np.array([(values_s <= b).sum() for b in bounds], dtype=float)
    rank = q * len(values_s)
    i = int(np.searchsorted(cumulative, rank))
    assert i < len(bounds), "quantile beyond the last bucket"
    lower, below = (0.0, 0.0) if i == 0 else (bounds[i - 1], cumulative[i - 1])
    return float(lower + (bounds[i] - lower) * (rank - below) / (cumulative[i] - below))


@pytest.fixture
def prometheus(tmp_path: Path):  # type: ignore[no-untyped-def]
    metrics_port, web_port = _free_port(), _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
        "scrape_configs:\n  - job_name: gwsload\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{metrics_port}']\n"
    )
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{web_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{web_port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "prometheus did not get ready in 30 s"
                time.sleep(0.3)
        yield base, metrics_port
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.timeout(180)
def test_prometheus_scrapes_a_run_and_agrees_with_its_folder(
    tmp_path: Path, prometheus: tuple[str, int]
) -> None:
    base, metrics_port = prometheus
    scenario = tmp_path / "live.toml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "gwsload", "run", str(scenario), "--out", str(out),
         "--progress-every", "0", "--metrics-port", str(metrics_port),
         "--label", "gws_build=8.5.2.41"],
        capture_output=True, text=True, timeout=150, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    time.sleep(1.5)  # the last scrape lands in the TSDB
    manifest = json.loads((out / "manifest.json").read_text())
    events = pq.read_table(out / "events").to_pandas()
    t0, end = float(manifest["t0"]), time.time()
    window = f"[{math.ceil(end - t0) + 10}s]"

    # the run's identity
    info = f'gwsload_run_info{{run_id="{manifest["run_id"]}",label_gws_build="8.5.2.41"}}'
    assert _query(base, f"max_over_time({info}{window})", end) == 1.0

    # every operation counted: the last scrape may miss the final few seconds' batches
    counted = _query(base, f"sum(max_over_time(gwsload_operations_total{window}))", end)
    per_s = len(events) / 14.0
    assert len(events) - 5 * per_s <= counted <= len(events), (counted, len(events))

    # the rate mid-run is the run's steady rate
    steady = events[(events["ts"] >= t0 + 4) & (events["ts"] < t0 + 14)]
    rate = _query(base, "sum(rate(gwsload_operations_total[6s]))", t0 + 14)
    assert rate == pytest.approx(len(steady) / 10.0, rel=0.35)

    # notification quantiles from the buckets, as the folder's values give them
    # over the ok operations the last scrape had: the first ones to complete (batches
    # ship in completion order), as many as it counted; the rest's tail may differ
    ok = events[events["outcome"] == "ok"]
    ok_counted = _query(
        base, f'sum(max_over_time(gwsload_operations_total{{outcome="ok"}}{window}))', end
    )
    completed = ok["ts"] + np.maximum(ok["response_ms"], ok["notify_ms"]) / 1000.0
    scraped = ok.loc[completed.sort_values(kind="stable").index[: int(ok_counted)]]
    values_s = scraped["notify_ms"].to_numpy() / 1000.0
    for q in (0.5, 0.99):
        expr = (
            f"histogram_quantile({q}, sum by (le) "
            f"(max_over_time(gwsload_notification_latency_seconds_bucket{window})))"
        )
        measured = _query(base, expr, end)
        assert measured == pytest.approx(_bucket_quantile(values_s, q), rel=0.1), q
