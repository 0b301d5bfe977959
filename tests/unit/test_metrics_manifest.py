"""manifest.json, run ids and run folders, secrets removed from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import gwsload
from gwsload.contract.manifest import RunManifest
from gwsload.errors import ConfigError
from gwsload.metrics.manifest import (
    build_manifest,
    create_run_folder,
    finish_manifest,
    make_run_id,
    prepare_out_folder,
    read_manifest,
    redact_command_line,
    write_manifest,
)
from gwsload.scenario import load_scenario

REPO = Path(__file__).resolve().parents[2]
T0 = 1795952117.8  # 2026-11-29T11:35:17Z

#: the top-level keys of docs/run-folder.md, in its order
DOCUMENTED_KEYS = [
    "format",
    "run_id",
    "status",
    "exit_code",
    "t0",
    "started_utc",
    "ended_utc",
    "duration_s",
    "scenario_file",
    "scenario",
    "target",
    "transport",
    "workload",
    "stages",
    "warmup_s",
    "min_active_share",
    "notification_timeout_s",
    "slo",
    "workers",
    "labels",
    "host",
    "versions",
    "git_revision",
    "command_line",
    "generator",
]


def test_run_id_is_utc_start_and_scenario_name() -> None:
    assert make_run_id(T0, "smoke") == "20261129T113517Z-smoke"


def test_run_folders_get_a_suffix_when_taken(tmp_path: Path) -> None:
    first = create_run_folder(tmp_path / "results", "smoke", T0)
    second = create_run_folder(tmp_path / "results", "smoke", T0)
    third = create_run_folder(tmp_path / "results", "smoke", T0)
    assert [run_id for run_id, _ in (first, second, third)] == [
        "20261129T113517Z-smoke",
        "20261129T113517Z-smoke-2",
        "20261129T113517Z-smoke-3",
    ]
    assert all(path.is_dir() for _, path in (first, second, third))


def test_out_folder_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "smoke-latest"
    assert prepare_out_folder(out) == out and out.is_dir()
    prepare_out_folder(out)  # empty: fine
    (out / "manifest.json").write_text("{}")
    (out / "events").mkdir()
    with pytest.raises(ConfigError) as caught:
        prepare_out_folder(out)
    assert str(caught.value) == (
        f"{out}: the output folder is not empty; choose another or add --force"
    )
    prepare_out_folder(out, force=True)
    assert out.is_dir() and not any(out.iterdir())


def test_force_never_clears_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not a run folder"):
        prepare_out_folder(precious, force=True)
    assert (precious / "notes.txt").read_text() == "keep me"
    with pytest.raises(ConfigError, match="must be a folder"):
        prepare_out_folder(precious / "notes.txt")


#: The head of a run's command line as the manifest records it: the program's name
#: (the package's), then the subcommand. Data for the redaction checks below, compared
#: as strings and never executed (tests start gwsload as ``sys.executable -m``).
ARGV_SEEN_BY_THE_MANIFEST = (gwsload.__name__, "run")


def _argv(*args: str) -> list[str]:
    """A recorded command line: the head above, then ``args``."""
    return [*ARGV_SEEN_BY_THE_MANIFEST, *args]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            _argv("s.toml", "--password", "hunter2"),
            _argv("s.toml", "--password", "***"),
        ),
        (
            _argv("--api-token=abc", "--client-secret", "x"),
            _argv("--api-token=***", "--client-secret", "***"),
        ),
        (
            _argv("--target", "https://bob:pw@gws.example:8443/api"),
            _argv("--target", "https://***@gws.example:8443/api"),
        ),
        (
            _argv("--target=http://u:p@127.0.0.1:8080"),
            _argv("--target=http://***@127.0.0.1:8080"),
        ),
        (
            _argv("--agents-file", "/secure/agents.csv", "--users", "10"),
            _argv("--agents-file", "/secure/agents.csv", "--users", "10"),
        ),
    ],
)
def test_secrets_are_removed_from_the_command_line(argv: list[str], expected: list[str]) -> None:
    assert redact_command_line(argv) == expected


def test_manifest_has_the_documented_keys_and_round_trips(tmp_path: Path) -> None:
    scenario = load_scenario(REPO / "scenarios" / "smoke.toml")
    manifest = build_manifest(
        run_id="20261129T113517Z-smoke",
        t0=T0,
        scenario=scenario,
        scenario_file="scenarios/smoke.toml",
        target={
            "kind": "embedded-simulator",
            "url": "http://127.0.0.1:40111",
            "simulator": {"agents": 10},
        },
        workers=0,
        command_line=_argv("scenarios/smoke.toml", "--password", "x"),
    )
    assert list(manifest) == DOCUMENTED_KEYS
    assert manifest["format"] == 2
    assert manifest["status"] == "running"
    assert manifest["started_utc"] == "2026-11-29T11:35:17Z"
    assert manifest["stages"] == [
        {
            "index": 0,
            "start_s": 0.0,
            "end_s": 60.0,
            "users": 10,
            "spawn_rate": 5.0,
            "rate_per_s": None,
        }
    ]
    assert manifest["warmup_s"] == 5.0
    assert manifest["transport"] == "long-polling"
    assert manifest["workload"] == {"model": "closed"}
    assert manifest["notification_timeout_s"] == 5.0
    assert manifest["command_line"][-1] == "***"  # type: ignore[index]
    versions = manifest["versions"]
    assert isinstance(versions, dict) and versions["gwsload"] == "0.1.0"
    assert set(manifest["host"]) == {"hostname", "cpu_count", "platform", "python"}  # type: ignore[arg-type]

    write_manifest(tmp_path, manifest)
    assert read_manifest(tmp_path) == json.loads(json.dumps(manifest))

    closed = finish_manifest(
        manifest,
        status="completed",
        exit_code=0,
        ended=T0 + 61.25,
        generator={"saturated": True, "findings": ["worker w1 ..."]},
    )
    write_manifest(tmp_path, closed)
    again = read_manifest(tmp_path)
    assert again["status"] == "completed" and again["exit_code"] == 0
    assert again["ended_utc"] == "2026-11-29T11:36:19Z"
    assert again["duration_s"] == 61.25
    assert again["generator"] == {"saturated": True, "findings": ["worker w1 ..."]}
    assert manifest["status"] == "running"  # finish_manifest returns a copy
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temporary left


def test_external_target_url_loses_its_credentials(tmp_path: Path) -> None:
    scenario = load_scenario(REPO / "scenarios" / "regression.toml")
    manifest = build_manifest(
        run_id="r",
        t0=T0,
        scenario=scenario,
        scenario_file="x.toml",
        target={"kind": "external", "url": "https://u:p@gws:8443", "verify_tls": True},
        workers=2,
        command_line=[],
    )
    assert manifest["target"] == {
        "kind": "external",
        "url": "https://***@gws:8443",
        "verify_tls": True,
    }


def test_finish_checks_the_status() -> None:
    with pytest.raises(ValueError, match="status must be one of"):
        finish_manifest({"t0": T0}, status="done", exit_code=0, ended=T0)


def test_read_manifest_refuses_other_formats_and_non_runs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"manifest.json: missing \(not a run folder\)"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text('{"format": 3}')
    with pytest.raises(ConfigError, match="run-folder format 3 is not supported"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{broken")
    with pytest.raises(ConfigError, match="unreadable manifest"):
        read_manifest(tmp_path)


def test_a_run_manifest_is_created_restamped_closed_and_reclosed(tmp_path: Path) -> None:
    manifest = RunManifest.create(tmp_path, {"format": 2, "t0": T0, "status": "running"})
    assert read_manifest(tmp_path)["status"] == "running"
    with pytest.raises(ValueError, match="not closed"):
        manifest.change_exit_code(1)
    manifest.restamp(T0 + 1.5)
    assert read_manifest(tmp_path)["t0"] == T0  # written when closed, not before
    manifest.close(status="completed", exit_code=0, ended=T0 + 11.5, generator={"saturated": False})
    closed = read_manifest(tmp_path)
    assert (closed["status"], closed["exit_code"], closed["t0"]) == ("completed", 0, T0 + 1.5)
    assert closed["duration_s"] == 10.0 and closed["generator"] == {"saturated": False}
    manifest.change_exit_code(1)
    assert read_manifest(tmp_path)["exit_code"] == 1 == manifest.data["exit_code"]
