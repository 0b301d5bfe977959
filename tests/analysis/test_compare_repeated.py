"""Compare on generated run folders: inconclusive when the generator differed, the
server-side part judged apart, verdicts from the variation between repeated runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gwsload.analysis.compare import compare_runs
from gwsload.analysis.compare_across import t_quantile_975
from gwsload.analysis.compare_health import exit_code
from gwsload.analysis.compare_text import operation_sentences
from gwsload.analysis.load import RunFolder, load_run
from gwsload.analysis.synthetic import Stage, SyntheticRun, write_run
from gwsload.cli import main

SHORT = (Stage(users=10, duration_s=60.0),)


def _spec(seed: int, **changes: object) -> SyntheticRun:
    values: dict[str, object] = {
        "seed": seed,
        "stages": SHORT,
        "ops_per_user_s": 5.0,
        "server_fraction": 0.8,
        "labels": (("gws_build", "8.5.2.40"),),
    }
    values.update(changes)
    return SyntheticRun(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("repeated")
    candidate = (("gws_build", "8.5.2.41"),)
    specs = {
        "quiet": _spec(1),
        "quiet_again": _spec(2),
        "noisy_generator": _spec(3, loop_lag_ms=45.0),
        "slower_noisy": _spec(4, loop_lag_ms=45.0, latency_factor=1.5, labels=candidate),
        "slower_external": _spec(
            5, loop_lag_ms=45.0, latency_factor=1.5, target_kind="external", labels=candidate
        ),
        "quiet_external": _spec(6, target_kind="external"),
        "sim_quiet": _spec(7, simulator_stage_loop_lag_ms=(2.0,)),
        "sim_lagging": _spec(8, simulator_stage_loop_lag_ms=(60.0,)),
        # under the materiality floor, but a gap of several ms all the same
        "lag_8ms_slower": _spec(9, loop_lag_ms=8.0, latency_factor=1.15, labels=candidate),
        "lag_8ms_much_slower": _spec(40, loop_lag_ms=8.0, latency_factor=3.0, labels=candidate),
    }
    # repeated runs: each run of a build lands a few percent off (the machine's state)
    for i, factor in enumerate((1.0, 1.06, 0.95)):
        specs[f"a{i}"] = _spec(10 + i, latency_factor=factor)
        specs[f"same{i}"] = _spec(20 + i, latency_factor=factor * 1.02)
        specs[f"b{i}"] = _spec(30 + i, latency_factor=factor * 1.3, labels=candidate)
    return {name: write_run(root / name, spec) for name, spec in specs.items()}


def _load(folders: dict[str, Path], *names: str) -> list[RunFolder]:
    return [load_run(folders[name]) for name in names]


def _row(table: object, metric: str, stat: str, operation: str = "*") -> dict[str, object]:
    frame = table  # a DataFrame
    rows = frame[  # type: ignore[index]
        (frame["operation"] == operation) & (frame["metric"] == metric) & (frame["stat"] == stat)  # type: ignore[index]
    ]
    assert len(rows) == 1
    return dict(rows.iloc[0])


def test_a_generator_that_lagged_makes_tail_verdicts_inconclusive(
    folders: dict[str, Path],
) -> None:
    table = compare_runs(*(_load(folders, "quiet", "noisy_generator")))
    reason = "the baseline's generator lag p99 was 1 ms, the candidate's 45 ms"
    assert table.attrs["health_differences"] == [reason]
    tails = table[table["metric"].isin(["notify_ms", "response_ms"]) & (table["stat"] != "p50")]
    assert set(tails["verdict"]) <= {"inconclusive", "too few"}
    assert "inconclusive" in set(tails["verdict"])
    assert all(reason in r for r in tails[tails["verdict"] == "inconclusive"]["reason"])
    # the embedded simulator shares the machine and its own health was not recorded
    assert _row(table, "server_notify_ms", "p95")["verdict"] == "inconclusive"
    assert not set(table["verdict"]) & {"worse", "better"}
    assert exit_code(table) == 3


def test_a_move_within_a_lag_gap_under_the_floor_is_inconclusive(
    folders: dict[str, Path],
) -> None:
    table = compare_runs(*(_load(folders, "quiet", "lag_8ms_slower")))
    assert table.attrs["health_differences"] == []  # 8 ms is under the 10 ms floor
    moved = table[
        table["metric"].isin(["notify_ms", "response_ms"])
        & ((table["candidate"] - table["baseline"]).abs() <= 7.0)
    ]
    assert not set(moved["verdict"]) & {"worse", "better"}
    assert "inconclusive" in set(moved["verdict"])
    reasons = set(moved[moved["verdict"] == "inconclusive"]["reason"])
    assert reasons == {
        "moved by no more than the 7 ms gap in event-loop lag: the baseline's generator "
        "lag p99 was 1 ms, the candidate's 8 ms"
    }
    # a move well beyond the gap is still the target's
    much = compare_runs(*(_load(folders, "quiet", "lag_8ms_much_slower")))
    assert _row(much, "notify_ms", "p50")["verdict"] == "worse"
    assert exit_code(much) == 1


def test_the_server_side_part_is_judged_even_when_the_generator_lagged(
    folders: dict[str, Path],
) -> None:
    table = compare_runs(*(_load(folders, "quiet_external", "slower_external")))
    assert table.attrs["health_differences"]  # the generator did differ
    server = _row(table, "server_notify_ms", "p50")
    assert server["verdict"] == "worse"
    assert server["change"] == pytest.approx(0.5, abs=0.1)
    # the end-to-end median moved by about 25 ms, less than the 44 ms gap in generator lag
    median = _row(table, "notify_ms", "p50")
    assert median["verdict"] == "inconclusive"
    assert str(median["reason"]).startswith("moved by no more than the 44 ms gap")
    assert _row(table, "notify_ms", "p95")["verdict"] == "inconclusive"
    assert exit_code(table) == 1


def test_a_lagging_simulator_makes_its_server_side_part_inconclusive(
    folders: dict[str, Path],
) -> None:
    table = compare_runs(*(_load(folders, "sim_quiet", "sim_lagging")))
    assert table.attrs["health_differences"] == [
        "the baseline's simulator lag p99 was 2 ms, the candidate's 60 ms"
    ]
    server = _row(table, "server_notify_ms", "p50")
    assert server["verdict"] == "inconclusive"
    assert "simulator lag p99" in str(server["reason"])
    assert _row(table, "lost_ratio", "ratio")["verdict"] == "same"  # still judged


def test_repeated_runs_judge_on_run_to_run_variation(folders: dict[str, Path]) -> None:
    base = _load(folders, "a0", "a1", "a2")
    table = compare_runs(base, _load(folders, "b0", "b1", "b2"))
    assert table.attrs["method"] == "t test across runs"
    p50 = _row(table, "notify_ms", "p50")
    assert p50["verdict"] == "worse"
    assert p50["change"] == pytest.approx(0.3, abs=0.06)
    # the planted spread between runs (about 5 %) is what the test sees
    assert 0.02 < float(p50["run_sd"]) < 0.12  # type: ignore[arg-type]
    assert 0.10 < float(p50["detectable"]) < 0.30  # type: ignore[arg-type]
    same = compare_runs(base, _load(folders, "same0", "same1", "same2"))
    assert not set(same["verdict"]) & {"worse", "better"}
    # one run per side sees only the windows of one run: a narrower, overconfident interval
    single = compare_runs(*(_load(folders, "a0", "b0")))
    single_p50 = _row(single, "notify_ms", "p50")
    assert float(single_p50["ci_high"]) - float(single_p50["ci_low"]) < (  # type: ignore[arg-type]
        float(p50["ci_high"]) - float(p50["ci_low"])  # type: ignore[arg-type]
    )


def test_t_quantiles() -> None:
    assert t_quantile_975(1) == 12.706
    assert t_quantile_975(4) == 2.776
    assert t_quantile_975(21) == 2.086  # between table rows: the smaller df, conservative
    assert t_quantile_975(60) == pytest.approx(2.000, abs=0.001)
    assert t_quantile_975(10_000) == pytest.approx(1.960, abs=0.001)


def test_compare_command_with_several_runs_per_side(
    folders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = [str(folders[f"a{i}"]) for i in range(3)]
    b = [str(folders[f"b{i}"]) for i in range(3)]
    out = tmp_path / "cmp"
    assert main(["compare", "--baseline", *a, "--candidate", *b, "--out", str(out)]) == 1
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert (
        lines[0] == "baseline gws_build=8.5.2.40 (3 runs) vs candidate gws_build=8.5.2.41 (3 runs)"
    )
    assert "method: t test across runs (3 + 3 runs" in text
    assert "detectable" in text
    sentence = next(
        x for x in lines if x.startswith("All operations: WORSE: notification latency p50")
    )
    assert sentence.endswith(".")
    document = json.loads((out / "compare.json").read_text())
    assert document["exit_code"] == 1 and document["baseline_runs"][2].endswith("synthetic")
    assert main(["compare", a[0], b[0], "--out", str(out)]) == 1
    assert "one run per side" in capsys.readouterr().out
    quiet, noisy = str(folders["quiet"]), str(folders["noisy_generator"])
    assert main(["compare", quiet, noisy, "--out", str(out)]) == 3
    assert "INCONCLUSIVE" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--baseline", "A"], "expected BASELINE_DIR CANDIDATE_DIR, or --baseline and --candidate"),
        (["A"], "expected two run folders"),
        (["A", "B", "--baseline", "C"], "give either"),
        (["A", "A"], "the same run folder is given twice"),
    ],
)
def test_compare_bad_sides_are_one_line(
    args: list[str], message: str, folders: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    real = [str(folders["a0"]) if a == "A" else a for a in args]
    assert main(["compare", *real]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"server_extra_ms": 15.0}, "on the server side"),
        ({"delivery_extra_ms": 15.0}, "in delivery"),
        ({"server_extra_ms": 15.0, "delivery_extra_ms": 15.0}, "both"),
    ],
)
def test_compare_says_where_a_slower_notification_lost_its_time(
    tmp_path: Path, change: dict[str, float], where: str
) -> None:
    # one clock for both sides (the bounds hold 0): the parts are judged as stamped
    base = write_run(tmp_path / "base", _spec(50))
    cand = write_run(tmp_path / "cand", _spec(51, **change))
    table = compare_runs(load_run(base), load_run(cand))
    server, delivery = _row(table, "server_notify_ms", "p50"), _row(table, "delivery_ms", "p50")
    assert _row(table, "notify_ms", "p50")["verdict"] == "worse"
    assert server["verdict"] == ("worse" if "server_extra_ms" in change else "same")
    assert delivery["verdict"] == ("worse" if "delivery_extra_ms" in change else "same")
    moved = float(delivery["candidate"]) - float(delivery["baseline"])
    assert moved == pytest.approx(change.get("delivery_extra_ms", 0.0), abs=3.0)
    sentence = next(s for s in operation_sentences(table) if s.startswith("All operations"))
    assert f"notification latency p50 worse {where}" in sentence
    assert "server-side p50 " in sentence and "delivery p50 " in sentence


def test_without_server_timestamps_compare_names_no_side(tmp_path: Path) -> None:
    base = write_run(tmp_path / "base", _spec(52, server_fraction=None))
    cand = write_run(tmp_path / "cand", _spec(53, server_fraction=None, latency_factor=1.5))
    table = compare_runs(load_run(base), load_run(cand))
    assert not table["metric"].isin(["server_notify_ms", "delivery_ms"]).any()
    sentence = operation_sentences(table)[0]
    assert "notification latency p50" in sentence and "server side" not in sentence
