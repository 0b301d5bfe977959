"""The GWS HTTP session against the real simulator: auth, cookies, CSRF, Origin, errors."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from gwsload.gws.errors import GwsApiError, GwsTransportError
from gwsload.gws.protocol import ME_PATH, VOICE_CHANNEL_PATH, operation_body
from gwsload.gws.session import GwsSession
from gwsload.simulator.process import SimulatorProcess

pytestmark = pytest.mark.gevent

LAB_ORIGIN = "http://agent-desktop.example:8080"


@pytest.fixture(scope="module")
def csrf_sim() -> Iterator[str]:
    with SimulatorProcess(["--agents", "3", "--csrf", "--require-origin", LAB_ORIGIN]) as sim:
        yield sim.url


def _session(url: str, user: str = "agent0001", password: str = "gwsload") -> GwsSession:
    return GwsSession(url, user, password, origin=LAB_ORIGIN, network_timeout=10)


def test_get_me_learns_session_cookie_and_csrf_token(csrf_sim: str) -> None:
    with _session(csrf_sim) as session:
        response = session.get(ME_PATH).raise_for_status()
        assert response.body["user"]["userName"] == "agent0001"
        assert session.cookies.get("JSESSIONID")
        assert session.csrf is not None and session.csrf.header == "X-CSRF-TOKEN"
        assert response.t_sent < response.t_response
        assert response.response_ms > 0


def test_csrf_token_is_sent_on_posts(csrf_sim: str) -> None:
    with _session(csrf_sim, "agent0002") as session:
        session.get(ME_PATH).raise_for_status()
        body = operation_body("StartContactCenterSession", channels=["voice"])
        assert session.post(ME_PATH, body).ok
        assert session.post(VOICE_CHANNEL_PATH, operation_body("Ready")).ok
        session.csrf = None  # forget the token: GWS must refuse the POST
        refused = session.post(VOICE_CHANNEL_PATH, operation_body("NotReady"))
        assert refused.http_status == 403
        with pytest.raises(GwsApiError) as info:
            refused.raise_for_status()
        assert info.value.http_status == 403
        assert info.value.operation == "POST " + VOICE_CHANNEL_PATH


def test_wrong_password_is_status_code_20(csrf_sim: str) -> None:
    with _session(csrf_sim, password="wrong") as session:
        response = session.get(ME_PATH)
        with pytest.raises(GwsApiError) as info:
            response.raise_for_status()
    assert info.value.status_code == 20
    assert info.value.meaning == "user not authenticated"
    assert info.value.http_status == 401


def test_origin_is_sent_on_every_request(csrf_sim: str) -> None:
    with GwsSession(csrf_sim, "agent0003", "gwsload", network_timeout=10) as session:
        refused = session.get(ME_PATH)  # default Origin is the server's own, not allowed here
    assert refused.http_status == 403 and refused.status_code == 3
    assert refused.error_text().startswith("HTTP 403 statusCode 3 (operation forbidden): Origin")


def test_no_server_is_a_transport_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        GwsSession(f"http://127.0.0.1:{port}", "a", "b", connect_timeout=2) as session,
        pytest.raises(GwsTransportError, match="GET /api/v2/me: no response"),
    ):
        session.get(ME_PATH)
    with pytest.raises(GwsTransportError, match="session closed"):
        session.get(ME_PATH)
