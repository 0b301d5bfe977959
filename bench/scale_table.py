"""The scale benchmark's records as a table in the form of docs/scaling.md's.

    python bench/scale_table.py bench/out/scale-10000.json [...]

prints one Markdown row per record under the table's header. ``bench_scale.py`` writes
the same table beside each record (``bench/out/<record>.md``) and, with ``--cases``,
one table for all the cases it ran.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

COLUMNS = (
    "agents",
    "worker processes",
    "ramp (login rate used)",
    "steady ops/s",
    "operated",
    "lost (ramp / steady / sign-off)",
    "exit",
    "generator CPU median per process",
    "loop lag median / p90 / p99 / worst",
    "generator RSS per agent",
    "generator fds per agent",
    "simulator CPU median",
    "simulator loop lag p99",
    "load average before / after",
)

#: the figures of the steady window (absent when it was empty)
STEADY_KEYS = ("steady_ops", "generator_", "simulator_")


def _number(value: float | None, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.{digits}f}"
    return text + unit


def _lag(lag: dict[str, float] | None, p99: float | None) -> str:
    if not lag:  # records from before the distribution was kept
        return f"- / - / {_number(p99, ' ms')} / -"
    return " / ".join(_number(lag[k], " ms") for k in ("median", "p90", "p99", "max"))


def _per_process(cpu: dict[str, float] | float | None) -> str:
    """CPU per process (older records: one figure)."""
    if cpu is None or cpu == {}:
        return "-"
    values = cpu.values() if isinstance(cpu, dict) else [cpu]
    return ", ".join(f"{v:.1f} %" for v in values)


def row(record: dict[str, Any]) -> str:
    """One record as a row of the table (``-`` where the run had no steady window)."""
    # the first records had no transport (long-polling) nor losses by phase
    agents = f"{record['agents']:,} {record.get('transport', 'long-polling')}"
    if record.get("nodes", 1) > 1:
        agents += f", {record['nodes']} nodes behind {record['balancers']} HAProxy"
    if record.get("steady_s", 0) <= 0:  # the ramp took the whole stage: no steady figures
        record = {k: v for k, v in record.items() if not k.startswith(STEADY_KEYS)}
    logins = record["logins"]
    by_phase = record.get("lost_by_phase")
    lost = f"{record['lost']:,}"
    if by_phase:
        lost += f" ({by_phase['ramp']} / {by_phase['steady']} / {by_phase['sign_off']})"
    wait = record.get("generator_cpu_wait_median_percent")
    cells = [
        agents,
        str(record["workers"] or 1),
        f"{record['ramp_s']:.0f} s ({logins['used_per_s']:.0f}/s of {logins['asked_per_s']:g})",
        _number(record.get("steady_ops_per_s")),
        f"{record['agents_operating']:,}",
        lost,
        str(record["exit_code"]),
        _per_process(record.get("generator_cpu_median_percent")),
        _lag(record.get("generator_loop_lag_ms"), record.get("generator_loop_lag_p99_ms")),
        _number(record.get("generator_rss_kib_per_agent"), " KiB"),
        _number(record.get("generator_fds_per_agent"), digits=2),
        _per_process(record.get("simulator_cpu_median_percent")),
        _number(record.get("simulator_loop_lag_p99_ms"), " ms"),
        " / ".join(f"{record[k][0]:.2f}" for k in ("loadavg_before", "loadavg_after")),
    ]
    if wait is not None and cells[7] != "-":
        cells[7] += f" (waiting for a core {wait:.1f} %)"
    return "| " + " | ".join(cells) + " |"


def table(records: list[dict[str, Any]]) -> str:
    header = "| " + " | ".join(COLUMNS) + " |"
    rule = "|" + "---|" * len(COLUMNS)
    return "\n".join([header, rule, *(row(r) for r in records)]) + "\n"


def main(paths: list[str]) -> int:
    if not paths:
        print("usage: python bench/scale_table.py RECORD.json [...]", file=sys.stderr)
        return 2
    rows = []
    for path in paths:
        try:
            rows.append(row(json.loads(Path(path).read_text())))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"{path}: not a bench_scale.py record ({exc!r})", file=sys.stderr)
            return 2
    print(table([]) + "\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
