"""Soak: generator memory and file descriptors stay flat over a long run.

Runs ``gwsload run`` against the embedded simulator with a steady closed workload
(200 agents, short holds, pauses) and a little of every fault the simulator has, so
that every path of the harness keeps running: re-dials after a refused operation
(HTTP 503 / ``ErrorMessage``), re-handshakes after the simulator expires the CometD
sessions, lost, late and duplicate notifications. Then reads ``generator.csv``
after the warm-up and a settling period, in windows (mean per window), and tests
RSS, open fds and greenlets for a trend with the report's own drift functions
(Mann-Kendall significance, Theil-Sen slope). Also runs ``gwsload report`` on the
folder and prints its drift sentences (the report tests runs measured >= 10 min).

Verdict (exit 1 when it fails; ``gwsload run`` itself exits 1, as the injected faults
give lost operations and errors):

- the goal: from minute 2 to the end, every RSS sample of each load process stays
  within +-5 MB (10^6 bytes) of its level in minute 2 (judged in runs measured for
  10 minutes or more, like the trend below);

- RSS fails when its trend is significant (p < 0.05) and steeper than 5 % of the
  settled RSS per hour. At that rate the 4-hour soak scenario would end 20 % above
  where it settled: harmless, while a real per-operation leak is far steeper (at
  ~300 ops/s, 5 %/hour of ~100 MB is ~5 bytes per operation; any object kept per
  operation is tens to hundreds of bytes). Slower slopes are allocator settling.
  RSS climbs for the first minutes (see PLATEAU_S), so it is judged only after 20 %
  of the measured period, at least 5 minutes, in runs measured for 10 minutes or more
  (``--quick`` reports it without judging).
- fds fail on any significant growth of at least one descriptor over the period:
  descriptors do not settle, every one that grows is a socket nobody closed.

    python bench/bench_soak.py [--quick] [--minutes M] [--keep DIR | --from-run DIR]

Writes bench/out/soak.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gwsload.analysis.drift import ALPHA, MIN_DURATION_S, mann_kendall, theil_sen_slope
from gwsload.analysis.load import load_run

MIB = 1024.0 * 1024.0
MB = 1e6
#: the goal: from BAND_FROM_S after the start to the end, every RSS sample within
#: +-BAND_MB of the level of the minute after BAND_FROM_S
BAND_FROM_S = 120.0
BAND_MB = 5.0
RSS_LIMIT_PER_HOUR = 0.05  # of the settled RSS; see the module docstring
FD_LIMIT = 1.0  # descriptors gained over the analysed period
#: RSS climbs for its first minutes (interpreter, Locust and allocator caches); its
#: trend is judged only after this much, and only in runs measured for MIN_DURATION_S
#: or more (the +-5 MB band from minute 2 is judged over the whole rest of the run)
PLATEAU_S = 300.0

SCENARIO = """
name = "bench-soak"
description = "steady closed load with every fault, for generator leaks"
warmup_s = {warmup}

[simulator]
latency_model = "lognormal"
latency_ms = 5
latency_p99_ms = 30
answer_delay_ms = 50
expire_sessions_every_s = {expire}
http_error_share = 0.004
async_error_share = 0.002
drop_share = 0.001
duplicate_share = 0.001
delay_share = 0.001
delay_ms = 6000
seed = 11

[client]
transport = "{transport}"
notification_timeout_s = 5

[workload]
model = "closed"
hold_s = {{ distribution = "uniform", min = 0.5, max = 1.5 }}
think_time_s = {{ distribution = "exponential", mean = 0.5 }}
pause_share = 0.2

[[stages]]
duration_s = {duration}
users = {agents}
spawn_rate = {spawn_rate}
"""


def run_soak(folder: Path, args: argparse.Namespace, warmup: float) -> tuple[Path, int]:
    """One ``gwsload run`` into ``folder/run``; returns the run folder and its exit code."""
    scenario = folder / "soak.toml"
    scenario.write_text(SCENARIO.format(
        warmup=warmup, expire=args.expire_s, transport=args.transport,
        duration=args.minutes * 60, agents=args.agents, spawn_rate=max(args.agents / 10, 1),
    ))  # fmt: skip
    out = folder / "run"
    command = [
        sys.executable,
        "-m",
        "gwsload.cli",
        "run",
        str(scenario),
        "--out",
        str(out),
        "--progress-every",
        "60",
        "--no-check",
        "--workers",
        str(args.workers),
    ]
    done = subprocess.run(command, timeout=args.minutes * 60 + 600, check=False)
    if not (out / "manifest.json").exists():
        raise SystemExit(f"gwsload run wrote no run folder (exit {done.returncode})")
    return out, done.returncode


def windows(gen: pd.DataFrame, start_s: float, window_s: float) -> pd.DataFrame:
    """Per window from ``start_s``: mean per worker, summed over workers (as the report's
    drift test does)."""
    window = np.floor((gen["t_s"].to_numpy() - start_s) / window_s)
    per_worker = (
        gen.assign(window=window)
        .groupby(["window", "worker"])[["rss_bytes", "open_fds", "greenlets", "users"]]
        .mean()
    )
    totals = per_worker.groupby("window").sum()
    totals.insert(
        0, "t_s", start_s + totals.index.to_numpy(dtype=np.float64) * window_s + window_s / 2
    )
    return totals.reset_index(drop=True)


def trend(t_s: np.ndarray, values: np.ndarray) -> dict[str, float]:
    _, p = mann_kendall(values)
    slope_s = theil_sen_slope(t_s, values)
    return {
        "start": float(values[0]),
        "end": float(values[-1]),
        "median": float(np.median(values)),
        "slope_per_hour": slope_s * 3600.0,
        "change": slope_s * float(t_s[-1] - t_s[0]),
        "p_value": p,
    }


def report_drift(run: Path) -> list[str]:
    """Drift sentences of ``gwsload report`` (empty when it tests nothing)."""
    subprocess.run(
        [sys.executable, "-m", "gwsload.cli", "report", str(run)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    summary = run / "summary.json"
    if not summary.exists():
        return ["gwsload report wrote no summary.json"]
    return [str(d["sentence"]) for d in json.loads(summary.read_text()).get("drift") or []]


def analyse(run: Path, settle_share: float) -> dict[str, Any]:
    folder = load_run(run, keep_events=True)
    measured_s = folder.measure_end_s - folder.warmup_s
    judge_rss = measured_s >= MIN_DURATION_S
    ev = folder.events
    measured = ev[(ev["t_s"] >= folder.warmup_s) & (ev["t_s"] < folder.measure_end_s)]
    incidents = folder.incidents["kind"].value_counts().to_dict()
    anomalies = folder.anomalies["kind"].value_counts().to_dict()
    # the analysed period: after warm-up and a start-up plateau, before sign-off
    settle_s = settle_share * measured_s
    start = folder.warmup_s + (max(settle_s, PLATEAU_S) if judge_rss else settle_s)
    gen = folder.generator
    gen = gen[(gen["t_s"] >= start) & (gen["t_s"] < folder.measure_end_s)]
    span = folder.measure_end_s - start
    window_s = float(min(max(span / 20.0, 10.0), 60.0))
    totals = windows(gen, start, window_s).iloc[:-1]  # the last window may be partial
    if len(totals) < 8:
        raise SystemExit(f"only {len(totals)} generator windows after settling: run longer")
    t = totals["t_s"].to_numpy(dtype=np.float64)
    rss = trend(t, totals["rss_bytes"].to_numpy(np.float64) / MIB)
    fds = trend(t, totals["open_fds"].to_numpy(np.float64))
    greenlets = trend(t, totals["greenlets"].to_numpy(np.float64))
    # throughput per window: a closed load that slows down would hide a leak per op
    sent = np.floor((measured["t_s"].to_numpy() - start) / window_s)
    per_window = np.bincount(sent[sent >= 0].astype(int), minlength=len(totals))
    throughput = trend(t, per_window[: len(totals)] / window_s)
    ops_per_s = len(measured) / max(folder.measure_end_s - folder.warmup_s, 1e-9)
    band = rss_band(folder.generator, folder.measure_end_s)
    rss_relative = rss["slope_per_hour"] / rss["median"]
    rss_fail = judge_rss and (
        (rss["p_value"] < ALPHA and rss_relative > RSS_LIMIT_PER_HOUR) or not band["within"]
    )
    fds_fail = fds["p_value"] < ALPHA and fds["change"] >= FD_LIMIT
    bytes_per_op = rss["slope_per_hour"] * MIB / 3600.0 / ops_per_s if ops_per_s else None
    return {
        "analysed_from_s": start,
        "analysed_to_s": folder.measure_end_s,
        "window_s": window_s,
        "windows": len(totals),
        "rss_mib": rss,
        "rss_percent_per_hour": 100 * rss_relative,
        "rss_band": band,
        "rss_bytes_per_operation": bytes_per_op,
        "open_fds": fds,
        "greenlets": greenlets,
        "ops_per_s_trend": throughput,
        "operations": len(measured),
        "ops_per_s": ops_per_s,
        "outcomes": measured["outcome"].value_counts().to_dict(),
        "lost": int((measured["outcome"] == "lost").sum()),
        "anomalies": anomalies,
        "incidents": incidents,
        "cpu_percent_mean": float(gen["cpu_percent"].mean()),
        "loop_lag_ms_p99": float(gen["loop_lag_ms"].quantile(0.99)),
        "rss_judged": judge_rss,
        "rss_fail": bool(rss_fail),
        "fds_fail": bool(fds_fail),
        "series": totals.to_dict(orient="list"),
    }


def rss_band(gen: pd.DataFrame, end_s: float) -> dict[str, Any]:
    """RSS from minute 2 to the end against its level in minute 2, per load process
    (MB = 10^6 bytes): the lowest and highest sample, relative to that level."""
    per_worker = {}
    for worker, group in gen.groupby("worker"):
        t = group["t_s"].to_numpy(np.float64)
        rss = group["rss_bytes"].to_numpy(np.float64) / MB
        keep = (t >= BAND_FROM_S) & (t < end_s)
        first = keep & (t < BAND_FROM_S + 60.0)
        if not first.any():
            continue
        level = float(np.median(rss[first]))
        per_worker[str(worker)] = {
            "level_mb": level,
            "low_mb": float(rss[keep].min() - level),
            "high_mb": float(rss[keep].max() - level),
        }
    within = bool(per_worker) and all(
        w["low_mb"] >= -BAND_MB and w["high_mb"] <= BAND_MB for w in per_worker.values()
    )
    return {"from_s": BAND_FROM_S, "limit_mb": BAND_MB, "workers": per_worker, "within": within}


def print_result(r: dict[str, Any], drift: list[str]) -> None:
    rss, fds, gl, ops = r["rss_mib"], r["open_fds"], r["greenlets"], r["ops_per_s_trend"]
    print(
        f"analysed {r['analysed_from_s']:.0f}-{r['analysed_to_s']:.0f} s, "
        f"{r['windows']} windows of {r['window_s']:.0f} s"
    )
    print(
        f"operations {r['operations']} ({r['ops_per_s']:.0f} ops/s), outcomes {r['outcomes']}, "
        f"lost {r['lost']}"
    )
    print(f"anomalies {r['anomalies']}, incidents {r['incidents']}")
    print(
        f"generator CPU {r['cpu_percent_mean']:.0f}% mean, loop lag p99 "
        f"{r['loop_lag_ms_p99']:.1f} ms"
    )
    print(
        f"RSS {rss['start']:.1f} -> {rss['end']:.1f} MiB, slope {rss['slope_per_hour']:+.2f} "
        f"MiB/hour ({r['rss_percent_per_hour']:+.2f} %/hour, limit "
        f"{100 * RSS_LIMIT_PER_HOUR:.0f}), Mann-Kendall p = {rss['p_value']:.2g}; "
        f"{r['rss_bytes_per_operation']:+.2f} bytes per operation"
    )
    for worker, w in r["rss_band"]["workers"].items():
        print(
            f"RSS of {worker} from minute {BAND_FROM_S / 60:.0f} to the end: "
            f"{w['low_mb']:+.1f} .. {w['high_mb']:+.1f} MB around {w['level_mb']:.1f} MB "
            f"(goal within +-{BAND_MB:g} MB: {'met' if r['rss_band']['within'] else 'NOT met'})"
        )
    if not r["rss_judged"]:
        print(
            f"RSS not judged: runs measured under {MIN_DURATION_S / 60:.0f} minutes end inside "
            "the start-up plateau, where growth is expected"
        )
    print(
        f"open fds {fds['start']:.1f} -> {fds['end']:.1f}, slope {fds['slope_per_hour']:+.2f}"
        f"/hour, Mann-Kendall p = {fds['p_value']:.2g}"
    )
    print(
        f"greenlets {gl['start']:.1f} -> {gl['end']:.1f}, slope {gl['slope_per_hour']:+.2f}"
        f"/hour, Mann-Kendall p = {gl['p_value']:.2g}"
    )
    print(
        f"ops/s per window {ops['start']:.0f} -> {ops['end']:.0f}, slope "
        f"{ops['slope_per_hour']:+.1f}/hour, Mann-Kendall p = {ops['p_value']:.2g}"
    )
    print(
        "gwsload report drift:"
        if drift
        else "gwsload report drift: none (it tests runs measured for at least 10 minutes)"
    )
    for sentence in drift:
        print(f"  {sentence}")
    verdict = (
        "FAIL: "
        + ", ".join(
            (["RSS grows"] if r["rss_fail"] else []) + (["fds grow"] if r["fds_fail"] else [])
        )
        if r["rss_fail"] or r["fds_fail"]
        else "PASS: memory and fds flat"
        if r["rss_judged"]
        else "PASS: fds flat (RSS not judged)"
    )
    print(verdict)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 minutes instead of 30")
    parser.add_argument("--minutes", type=float, help="run length (default 30, quick 4)")
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument(
        "--transport", choices=["websocket", "long-polling"], default="long-polling"
    )
    parser.add_argument(
        "--expire-s",
        type=float,
        default=2.0,
        help="the simulator expires every CometD session this often",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=0.2,
        help="share of the measured period left out as start-up plateau",
    )
    parser.add_argument("--keep", type=Path, help="copy the run folder here")
    parser.add_argument(
        "--from-run", type=Path, help="analyse this run folder (of an earlier --keep) instead"
    )
    args = parser.parse_args()
    if args.minutes is None:
        args.minutes = 4.0 if args.quick else 30.0
    warmup = 30.0 if args.minutes < 10 else 60.0
    if args.from_run:
        manifest = json.loads((args.from_run / "manifest.json").read_text())
        args.minutes = float(manifest["stages"][-1]["end_s"]) / 60.0
        run, code = args.from_run, manifest.get("exit_code")
        result, drift = analyse(run, args.settle), report_drift(run)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            run, code = run_soak(Path(tmp), args, warmup)
            result = analyse(run, args.settle)
            drift = report_drift(run)
            if args.keep:
                shutil.copytree(run, args.keep, dirs_exist_ok=True)
    print(
        f"agents {args.agents}, {args.minutes:g} min, {args.transport}, workers {args.workers}, "
        f"gwsload run exit {code}"
    )
    print_result(result, drift)
    record = {
        "agents": args.agents,
        "minutes": args.minutes,
        "transport": args.transport,
        "workers": args.workers,
        "run_exit_code": code,
        "report_drift": drift,
        "rss_limit_per_hour": RSS_LIMIT_PER_HOUR,
        "machine": platform.platform(),
        **result,
        "goal_met": not (result["rss_fail"] or result["fds_fail"]),
    }
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "soak.json").write_text(json.dumps(record, indent=2, default=float))
    return 0 if record["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
