"""HTTP sessions (JSESSIONID), the CSRF mode and the Origin check."""

from __future__ import annotations

import pytest
from simhelpers import StartSim
from yarl import URL

pytestmark = pytest.mark.asyncio


async def test_session_cookie_alone_authenticates_until_the_session_ends(
    start_sim: StartSim,
) -> None:
    sim = await start_sim()
    agent = sim.agent()
    status, _, headers = await agent.request("GET", "/api/v2/me")
    assert status == 200 and "JSESSIONID=" in headers["Set-Cookie"]
    status, body, headers = await agent.request("GET", "/api/v2/me", auth=False)
    assert status == 200 and body["user"]["userName"] == "agent0001"
    assert "Set-Cookie" not in headers  # same session, no new cookie
    await agent.post_ok(
        "/api/v2/me", {"operationName": "StartContactCenterSession", "channels": ["voice"]}
    )
    await agent.post_ok("/api/v2/me", {"operationName": "EndContactCenterSession"})
    status, body, _ = await agent.request("GET", "/api/v2/me", auth=False)
    assert (status, body["statusCode"]) == (401, 20)
    # Basic credentials open a new session
    status, _, headers = await agent.request("GET", "/api/v2/me")
    assert status == 200 and "JSESSIONID=" in headers["Set-Cookie"]


async def test_a_session_of_another_user_is_not_reused(start_sim: StartSim) -> None:
    sim = await start_sim()
    first = sim.agent("agent0001")
    await first.request("GET", "/api/v2/me")
    second = sim.agent("agent0002")
    second.http.cookie_jar.update_cookies(
        {"JSESSIONID": first.http.cookie_jar.filter_cookies(URL(sim.url))["JSESSIONID"].value}
    )
    _, body, headers = await second.request("GET", "/api/v2/me")
    assert body["user"]["userName"] == "agent0002"
    assert "JSESSIONID=" in headers["Set-Cookie"]


async def test_csrf_mode(start_sim: StartSim) -> None:
    sim = await start_sim(csrf=True)
    agent = sim.agent()
    # a POST before any GET has no token to show
    status, body, _ = await agent.request(
        "POST", "/api/v2/me", {"operationName": "StartContactCenterSession", "channels": ["voice"]}
    )
    assert status == 403 and body["statusMessage"] == "Missing or invalid Csrf token"
    status, _, headers = await agent.request("GET", "/api/v2/me")
    assert headers["X-CSRF-HEADER"] == "X-CSRF-TOKEN"
    token = headers["X-CSRF-TOKEN"]
    assert len(token) == 36
    status, body, _ = await agent.request(
        "POST", "/api/v2/me", {"operationName": "StartContactCenterSession", "channels": ["voice"]},
        headers={"X-CSRF-TOKEN": "00000000-0000-0000-0000-000000000000"},
    )  # fmt: skip
    assert (status, body["statusMessage"]) == (403, "Missing or invalid Csrf token")
    agent.csrf_token = token
    await agent.post_ok(
        "/api/v2/me", {"operationName": "StartContactCenterSession", "channels": ["voice"]}
    )
    # the same token for the life of the session
    _, _, headers = await agent.request("GET", "/api/v2/me/devices")
    assert headers["X-CSRF-TOKEN"] == token


async def test_no_csrf_headers_without_csrf_mode(start_sim: StartSim) -> None:
    sim = await start_sim()
    agent = sim.agent()
    _, _, headers = await agent.request("GET", "/api/v2/me")
    assert "X-CSRF-TOKEN" not in headers


async def test_origin_check(start_sim: StartSim) -> None:
    origin = "https://agents.example"
    sim = await start_sim(require_origin=origin)
    agent = sim.agent()
    status, body, _ = await agent.request("GET", "/api/v2/me")
    assert (status, body["statusCode"]) == (403, 3)
    status, body, _ = await agent.request(
        "GET", "/api/v2/me", headers={"Origin": "https://evil.example"}
    )
    assert status == 403 and "evil" in body["statusMessage"]
    status, body, headers = await agent.request("GET", "/api/v2/me", headers={"Origin": origin})
    assert status == 200 and body["statusCode"] == 0
    assert headers["Access-Control-Allow-Origin"] == origin
    assert "X-CSRF-TOKEN" in headers["Access-Control-Expose-Headers"]
    # the version probe stays open
    status, _, _ = await agent.request("GET", "/api/v2/diagnostics/version", auth=False)
    assert status == 200
