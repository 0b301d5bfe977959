"""No request body, however odd, gets anything but a GWS answer (never a 500)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gwsload.simulator.process import SimulatorProcess

AUTH = "Basic " + base64.b64encode(b"agent0001:gwsload").decode()
OPERATIONS = [
    "StartContactCenterSession", "EndContactCenterSession", "Ready", "NotReady", "Dial",
    "Answer", "Hold", "Retrieve", "Hangup", "StartCallRecording", "StopCallRecording",
    "PauseCallRecording", "ResumeCallRecording", "AttachUserData", "UpdateUserData",
    "DeleteUserDataPair", "DeleteUserData", "SendDtmf", "SingleStepTransfer",
]  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
bodies = st.one_of(
    st.fixed_dictionaries(
        {"operationName": st.sampled_from(OPERATIONS) | json_values},
        optional={
            "channels": json_values | st.just(["voice"]),
            "destination": json_values | st.fixed_dictionaries({"phoneNumber": json_values}),
            "userData": json_values,
            "key": json_values,
            "dtmfDigits": json_values,
        },
    ).map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=30),
)


class Client:
    def __init__(self, url: str) -> None:
        self.url = url
        self.cookie = ""

    def send(self, method: str, path: str, raw: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": AUTH, "Content-Type": "application/json"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        data = raw.encode() if raw is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, text = response.status, response.read()
                cookie = response.headers.get("Set-Cookie")
        except urllib.error.HTTPError as exc:
            status, text, cookie = exc.code, exc.read(), exc.headers.get("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return status, json.loads(text)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with SimulatorProcess(["--agents", "2", "--answer-delay-ms", "1"]) as sim:
        yield Client(sim.url)


def _paths(client: Client) -> list[str]:
    status, devices = client.send("GET", "/api/v2/me/devices?fields=*")
    assert status == 200
    _, calls = client.send("GET", "/api/v2/me/calls")
    call_paths = [uri.split("/api/v2", 1)[1] for uri in calls["uris"]]
    return [
        "/api/v2/me",
        "/api/v2/me/channels/voice",
        f"/api/v2/me/devices/{devices['devices'][0]['id']}/calls",
        *call_paths,
        "/api/v2/me/calls/NOPE",
    ]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies, which=st.integers(min_value=0, max_value=10))
def test_any_body_gets_a_gws_answer(client: Client, body: str, which: int) -> None:
    client.send(
        "POST",
        "/api/v2/me",
        json.dumps({"operationName": "StartContactCenterSession", "channels": ["voice"]}),
    )
    paths = _paths(client)
    status, reply = client.send("POST", paths[which % len(paths)], body)
    assert status in (200, 400, 404, 501, 503), (status, reply)
    assert isinstance(reply["statusCode"], int)
    assert (status == 200) == (reply == {"statusCode": 0}), (status, reply)
