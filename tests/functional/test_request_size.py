"""A request body over the bound is the documented 413 on every route, whether it declares its
length or comes in chunks (no Content-Length), and no route runs on any part of it.

A refusal that came from inside the application's body parsing was a 400 ("There was an error
parsing the body") on every route that declares its body, and a route that reads its own form
had already started. The bodies of the first tests begin with a request the route accepts, and
cut where any chunk ends they still are one: a route that ran on the part read so far would
store something.
"""

import base64
import json
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.routing import BaseRoute, Mount, Route

from hrd_reports.crypto.pow import solve
from hrd_reports.crypto.submission import new_submission
from hrd_reports.crypto.xwing import PublicKey
from hrd_reports.models import Base, Role
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.web.middleware import MAX_REQUEST_BYTES
from hrd_reports.wiring import Runtime
from tests.dashboard_support import Clock, StaffBrowser, enrol, install_clock
from tests.helpers import Desk, Person, hidden_value, report_content
from tests.server import StartServer

REFUSAL = {"detail": "the request is too large"}
CHUNK = 64 * 1024
OVER = 2 * MAX_REQUEST_BYTES
UNDER = MAX_REQUEST_BYTES // 4
JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
# More form fields after the ones the route reads: the form is valid wherever a chunk ends.
FORM_FILLER = b"&padding=" + b"a" * (CHUNK - 9)
# JSON may end in white space: the document is valid wherever a chunk ends.
JSON_FILLER = b" " * CHUNK


def chunked(head: bytes, filler: bytes, *, total: int) -> Iterator[bytes]:
    """``head``, then ``filler`` until ``total`` bytes. A generator: the client sends it with
    Transfer-Encoding: chunked, and no Content-Length that could be refused unread."""
    yield head
    sent = len(head)
    while sent < total:
        yield filler
        sent += len(filler)


def rows(desk: Desk) -> dict[str, int]:
    """How many rows each table holds: a refusal changes none."""
    with desk.session() as session:
        return {
            table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables
        }


def assert_refused(response: Any) -> None:
    assert response.status_code == 413, response.text
    if response.request.url.path.startswith("/api/"):
        assert response.json() == REFUSAL
    else:
        # A page for a person's browser, never raw JSON.
        assert response.headers["content-type"].startswith("text/html")
        assert REFUSAL["detail"] in response.text
    # Refused outside the application, still inside the security headers.
    assert "content-security-policy" in response.headers


def report_request(client: TestClient) -> bytes:
    """A report as the reporter's browser posts it: sealed, with a solved proof of work."""
    key = client.get("/api/v1/intake-key").json()
    challenge = client.get("/api/v1/challenge").json()
    _receipt, submission = new_submission(
        report_content("CANARY-size a report sent in chunks"),
        intake_key=PublicKey(base64.b64decode(key["public_key"])),
    )
    proof = {
        "challenge": challenge["challenge"],
        "counter": solve(challenge["challenge"], challenge["difficulty"]),
    }
    return json.dumps({"proof_of_work": proof, "envelope": submission.to_wire()}).encode()


@pytest.fixture
def client(settings: Settings, runtime: Runtime, desk: Desk) -> Iterator[TestClient]:
    with TestClient(create_app(settings, runtime=runtime)) as test_client:
        yield test_client


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


def test_api_report_over_the_bound_in_chunks_is_the_413_and_stores_nothing(
    client: TestClient, desk: Desk
) -> None:
    body = report_request(client)
    before = rows(desk)

    response = client.post(
        "/api/v1/reports", content=chunked(body, JSON_FILLER, total=OVER), headers=JSON
    )

    assert_refused(response)
    assert rows(desk) == before
    # The same report in chunks under the bound is stored: its proof of work was not spent.
    accepted = client.post(
        "/api/v1/reports", content=chunked(body, JSON_FILLER, total=UNDER), headers=JSON
    )
    assert accepted.status_code == 201, accepted.text


def test_report_form_over_the_bound_in_chunks_is_the_413_and_stores_nothing(
    client: TestClient, desk: Desk
) -> None:
    token = hidden_value(client.get("/report").text, "form_token")
    form = {
        "no_script": "yes",
        "form_token": token,
        "incident_type": "death_threat",
        "narrative": "CANARY-size a report without JavaScript",
    }
    head = urlencode(form).encode()
    before = rows(desk)

    response = client.post("/report", content=chunked(head, FORM_FILLER, total=OVER), headers=FORM)

    assert_refused(response)
    assert rows(desk) == before
    accepted = client.post("/report", content=chunked(head, FORM_FILLER, total=UNDER), headers=FORM)
    assert accepted.status_code == 200, accepted.text
    assert 'data-testid="receipt"' in accepted.text


def test_dashboard_form_over_the_bound_in_chunks_is_the_413_and_stores_nothing(
    client: TestClient, desk: Desk, admin: Person, fake_clock: Clock
) -> None:
    coordinator = enrol(desk, desk.add_vetted("cora", Role.COORDINATOR, by=admin), Role.COORDINATOR)
    report = desk.submit(report_content("CANARY-size a report")).report_id
    browser = StaffBrowser(client.app, coordinator, fake_clock)  # type: ignore[arg-type]
    path = f"/dashboard/reports/{report}/notes"
    head = urlencode({"csrf_token": browser.csrf, "note": "CANARY-size a note"}).encode()
    before = rows(desk)

    response = browser.client.post(
        path, content=chunked(head, FORM_FILLER, total=OVER), headers=FORM
    )

    assert_refused(response)
    assert rows(desk) == before
    accepted = browser.client.post(
        path,
        content=chunked(head, FORM_FILLER, total=UNDER),
        headers=FORM,
        follow_redirects=False,
    )
    assert accepted.status_code == 303, accepted.text
    assert "CANARY-size a note" in browser.report(report)


def _endpoints(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route of the app, its path parameters filled in."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _endpoints(list(included.routes), prefix)
        elif isinstance(route, Mount):
            yield "POST", f"{prefix}{route.path}/anything"
        elif isinstance(route, Route):
            path = re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", route.path)
            for method in sorted(route.methods or {"GET"}):
                yield method, prefix + path


def test_every_route_answers_a_chunked_body_over_the_bound_with_the_413(
    client: TestClient, desk: Desk
) -> None:
    endpoints = sorted(set(_endpoints(list(client.app.routes))))  # type: ignore[attr-defined]
    # The routes of every part of the site are among them.
    for path in ("/api/v1/reports", "/api/v1/inbox", "/report", "/inbox", "/dashboard/login"):
        assert ("POST", path) in endpoints
    before = rows(desk)
    refused = {}
    for method, path in endpoints:
        response = client.request(
            method,
            path,
            content=chunked(b"", FORM_FILLER, total=OVER),
            headers=FORM,
            follow_redirects=False,
        )
        refused[method, path] = (response.status_code, response.text)
        if response.status_code == 413:
            assert_refused(response)
    # A dashboard route that needs a session is sent to sign in by the session gate before
    # its body is read (no cookie here); every other route answers with the documented 413.
    gated = {
        key: outcome
        for key, outcome in refused.items()
        if key[1].startswith("/dashboard") and outcome == (303, "")
    }
    assert ("POST", "/dashboard/login") not in gated
    assert {key for key, outcome in refused.items() if outcome[0] != 413} == set(gated)
    assert rows(desk) == before


# ---- through the real server ---------------------------------------------------------------


def _raw_chunked_post(url: str, path: str, head: bytes, *, total: int) -> tuple[bytes, bytes]:
    """POST with Transfer-Encoding: chunked over a plain socket, as a client that sends its
    whole body whatever the server answers meanwhile. The status line and the body."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(
            b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" % (path.encode(), host.encode())
        )

        def send_body() -> None:
            try:
                for chunk in chunked(head, JSON_FILLER, total=total):
                    connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                connection.sendall(b"0\r\n\r\n")
            except OSError:
                pass  # the server stopped listening: what it answered is what counts

        sender = threading.Thread(target=send_body)
        sender.start()
        answer = b""
        while b"\r\n\r\n" not in answer:
            received = connection.recv(65536)
            assert received, f"the server closed the connection after {answer!r}"
            answer += received
        header, _, body = answer.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length: *(\d+)", header)
        assert length is not None, header
        while len(body) < int(length.group(1)):
            received = connection.recv(65536)
            assert received, f"the server closed the connection after {answer!r}"
            body += received
        sender.join(timeout=60)
        return header.split(b"\r\n", 1)[0], body


@pytest.mark.slow
def test_server_answers_a_raw_chunked_report_over_the_bound_with_the_413(
    client: TestClient, desk: Desk, start_server: StartServer
) -> None:
    server = start_server(workers=1)
    body = report_request(client)
    before = rows(desk)

    status, answer = _raw_chunked_post(server.url, "/api/v1/reports", body, total=OVER)

    assert status.split(b" ")[1] == b"413", status
    assert answer == b'{"detail":"the request is too large"}'
    assert rows(desk) == before
