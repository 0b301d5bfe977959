"""What a run folder's events say the run did in its measured period (pyarrow, no pandas),
and, when agents did not operate, why their set-up failed (``incidents.jsonl``)."""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gwsload.contract.failed_run import (
    Activity,
    failed_run_reasons,
    min_active_share,
    planned_agents,
)
from gwsload.contract.operations import RECORDING_OPERATIONS
from gwsload.contract.periods import stages_end_seconds, warmup_seconds
from gwsload.contract.segments import segment_paths
from gwsload.errors import ConfigError

__all__ = ["SETUP_FAILURE_LINE", "read_activity", "run_failures", "setup_failures"]

_COLUMNS = ["ts", "agent", "operation"]


def read_activity(run_dir: str | os.PathLike[str], manifest: Mapping[str, Any]) -> Activity:
    """Count the measured period's operations and operating agents in ``events/``.

    Reads three columns segment by segment (memory: the set of agent names). A
    folder without segments is a run that made no operation. Raises ConfigError
    naming an unreadable segment.
    """
    t0 = manifest.get("t0")
    base = float(t0) if isinstance(t0, int | float) else 0.0
    start = base + warmup_seconds(manifest)
    end = base + stages_end_seconds(manifest)
    operations = 0
    agents: set[str] = set()
    for file in segment_paths(run_dir, "events"):
        try:
            table = pq.ParquetFile(file).read(columns=_COLUMNS)
        except (pa.ArrowInvalid, OSError, KeyError) as exc:
            raise ConfigError(f"{file}: unreadable events segment ({exc})") from None
        ts = table["ts"]
        in_period = pc.and_(pc.greater_equal(ts, start), pc.less(ts, end))
        operation, agent = _encoded(table["operation"]), _encoded(table["agent"])
        # on the dictionaries' codes: no string per row
        recording = pc.is_in(
            operation.indices, value_set=_codes_of(operation, RECORDING_OPERATIONS)
        )
        chosen = pc.filter(agent.indices, pc.and_(in_period, recording))
        operations += len(chosen)
        names = agent.dictionary.take(pc.unique(chosen)).to_pylist()
        agents.update(str(n) for n in names if n)
    return Activity(operations, len(agents), planned_agents(manifest))


def _encoded(column: pa.ChunkedArray) -> pa.DictionaryArray:
    """The column as one dictionary array (segments are written dictionary-encoded)."""
    array = column.combine_chunks()
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array)
    return array


def _codes_of(column: pa.DictionaryArray, values: Collection[str]) -> pa.Array:
    """The codes of ``column``'s dictionary whose value is one of ``values``."""
    names = column.dictionary.to_pylist()
    return pa.array([i for i, name in enumerate(names) if name in values], column.indices.type)


def run_failures(run_dir: str | os.PathLike[str], manifest: Mapping[str, Any]) -> list[str]:
    """The failed-run rule applied to a run folder: why it did not test (empty: it did),
    with the agents' most frequent set-up failure when there was one."""
    reasons = failed_run_reasons(read_activity(run_dir, manifest), min_active_share(manifest))
    failures = setup_failures(run_dir) if reasons else []
    if failures:
        reason, agents = failures[0]
        others = f"; {len(failures) - 1} other reasons" if len(failures) > 1 else ""
        noun = "agent" if agents == 1 else "agents"
        reasons.append(f"{SETUP_FAILURE_LINE}: {reason} ({agents} {noun}{others})")
    return reasons


#: the line :func:`run_failures` adds when agents failed to set up
SETUP_FAILURE_LINE = "most frequent set-up failure"
#: incident kinds that say why an agent could not set up (docs/run-folder.md)
_SETUP_KINDS = ("setup_error", "target_unreachable")


def setup_failures(run_dir: str | os.PathLike[str]) -> list[tuple[str, int]]:
    """Why agents failed to set up, from ``incidents.jsonl``: (reason, agents), most
    agents first. Reasons are ``setup_error`` details (``login: HTTP 401 statusCode
    20``) and ``target unreachable: <first error>`` for outage spans. A partial last
    line (a killed run) and lines that are not incidents are skipped."""
    agents: dict[str, set[str]] = {}
    try:
        lines = (Path(run_dir) / "incidents.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or record.get("kind") not in _SETUP_KINDS:
            continue
        detail = str(record.get("detail") or "")
        if record["kind"] == "target_unreachable":
            detail = f"target unreachable: {detail}"
        agents.setdefault(detail, set()).add(str(record.get("agent") or ""))
    ranked = sorted(agents.items(), key=lambda item: (-len(item[1]), item[0]))
    return [(reason, len(names)) for reason, names in ranked]
