"""The dashboard's gate: requests without a session this server issued never reach a route."""

import re
import secrets
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hrd_reports.crypto.sessions import SessionToken
from hrd_reports.web.auth import SESSION_COOKIE_NAMES
from hrd_reports.web.middleware import EndedSessions, SessionGate

SECRET = secrets.token_bytes(32)


class Recorded:
    """The application behind the gate: it records each path it is asked for."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"behind the gate"})


@pytest.fixture
def behind() -> Recorded:
    return Recorded()


@pytest.fixture
def ended() -> EndedSessions:
    return EndedSessions(capacity=2)


@pytest.fixture
def client(behind: Recorded, ended: EndedSessions) -> TestClient:
    gate = SessionGate(
        behind,
        secret=SECRET,
        cookie_names=SESSION_COOKIE_NAMES,
        open_paths=[re.compile("/dashboard/login"), re.compile("/dashboard/invitation/[^/]+")],
        sign_in_path="/dashboard/login",
        ended=ended,
    )
    return TestClient(gate)


ISSUED = SessionToken.new().cookie_value(secret=SECRET)
MADE_UP = SessionToken.new().cookie_value(secret=secrets.token_bytes(32))


@pytest.mark.parametrize(
    "cookie", [None, MADE_UP, "x", ISSUED + "x", ".".join([secrets.token_urlsafe(16)] * 3)]
)
def test_dashboard_request_without_an_issued_cookie_is_sent_to_sign_in_unrouted(
    client: TestClient, behind: Recorded, cookie: str | None
) -> None:
    headers = {"Cookie": f"hrd-session={cookie}"} if cookie is not None else {}
    response = client.get("/dashboard/reports", headers=headers, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/dashboard/login")
    assert behind.paths == []


@pytest.mark.parametrize("name", SESSION_COOKIE_NAMES)
def test_dashboard_request_with_an_issued_cookie_reaches_the_routes(
    client: TestClient, behind: Recorded, name: str
) -> None:
    response = client.get("/dashboard/reports", headers={"Cookie": f"other=1; {name}={ISSUED}"})
    assert response.text == "behind the gate"
    assert behind.paths == ["/dashboard/reports"]


@pytest.mark.parametrize(
    "path", ["/dashboard/login", "/dashboard/invitation/abc", "/", "/api/v1/challenge", "/inbox"]
)
def test_open_pages_and_the_reporter_side_pass_the_gate_without_a_cookie(
    client: TestClient, behind: Recorded, path: str
) -> None:
    assert client.get(path).text == "behind the gate"
    assert behind.paths == [path]


def test_open_paths_match_whole_paths_only(client: TestClient, behind: Recorded) -> None:
    assert client.get("/dashboard/loginx", follow_redirects=False).status_code == 303
    assert "/dashboard/loginx" not in behind.paths


def test_cookie_of_a_session_known_to_be_over_is_sent_to_sign_in_unrouted(
    client: TestClient, behind: Recorded, ended: EndedSessions
) -> None:
    ended.add(SessionToken.parse(ISSUED, secret=SECRET))  # type: ignore[arg-type]
    response = client.get(
        "/dashboard/reports", headers={"Cookie": f"hrd-session={ISSUED}"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert behind.paths == []


def test_ended_sessions_remember_a_bounded_number_the_latest() -> None:
    ended = EndedSessions(capacity=2)
    first, second, third = (SessionToken.new() for _ in range(3))
    for token in (first, second, third):
        ended.add(token)
    assert (first in ended, second in ended, third in ended) == (False, True, True)
