"""The web side of this version: health, the one-time setup link, and the header discipline."""

import datetime as dt
import re
import threading

import pytest
from fastapi.testclient import TestClient

from hrd_reports.services import desk as desk_service
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.helpers import Desk, pinned_reporter_policy


@pytest.fixture
def client(settings: Settings, runtime: Runtime) -> TestClient:
    return TestClient(create_app(settings, runtime=runtime))


@pytest.fixture
def setup_token(runtime: Runtime) -> str:
    with Desk(runtime).session() as session:
        token = desk_service.issue_setup_link(session, valid_for=dt.timedelta(hours=1))
        session.commit()
    return token


def _form(**fields: str) -> dict[str, str]:
    return {
        "admin_name": "amira",
        "password": "a long setup passphrase",
        "password_again": "a long setup passphrase",
    } | fields


def test_health_route_answers(client: TestClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_setup_link_creates_the_first_administrator_and_shows_the_recovery_key_once(
    client: TestClient, setup_token: str, runtime: Runtime
) -> None:
    form = client.get(f"/setup/{setup_token}")
    assert form.status_code == 200
    assert 'name="admin_name"' in form.text

    done = client.post(f"/setup/{setup_token}", data=_form())
    assert done.status_code == 200
    recovery_key = re.search(r'data-testid="recovery-key">([^<]+)<', done.text)
    assert recovery_key is not None
    assert recovery_key.group(1).startswith("HRDRK1-")
    with Desk(runtime).session() as session:
        assert desk_service.is_set_up(session)

    # The link is spent: neither the form nor a second submission works again.
    assert client.get(f"/setup/{setup_token}").status_code == 404
    again = client.post(f"/setup/{setup_token}", data=_form(admin_name="mallory"))
    assert again.status_code == 404
    assert recovery_key.group(1) not in again.text


def _continue_token(page: str) -> str:
    found = re.search(r'name="invitation" value="([^"]+)"', page)
    assert found is not None, page[:2000]
    return found.group(1)


def test_setup_leads_on_to_enrolment_only_once_the_recovery_key_is_confirmed_saved(
    client: TestClient, setup_token: str
) -> None:
    done = client.post(f"/setup/{setup_token}", data=_form())
    invitation = _continue_token(done.text)

    # Not ticked: asked again, with the same way on; the key is not shown again.
    unticked = client.post("/setup/continue", data={"invitation": invitation})
    assert unticked.status_code == 400
    assert _continue_token(unticked.text) == invitation
    assert 'data-testid="recovery-key"' not in unticked.text

    ticked = client.post(
        "/setup/continue?lang=ar",
        data={"invitation": invitation, "saved": "yes"},
        follow_redirects=False,
    )
    assert ticked.status_code == 303
    assert ticked.headers["location"] == f"/dashboard/invitation/{invitation}?lang=ar"
    enrolment = client.get(ticked.headers["location"])
    assert enrolment.status_code == 200
    assert 'data-testid="totp-secret"' in enrolment.text


def test_setup_continue_with_a_made_up_invitation_is_not_found(client: TestClient) -> None:
    answer = client.post(
        "/setup/continue", data={"invitation": "made-up", "saved": "yes"}, follow_redirects=False
    )
    assert answer.status_code == 404
    assert "location" not in answer.headers


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"password_again": "a different passphrase"}, "differ"),
        ({"password": "short", "password_again": "short"}, "12 characters"),
        ({"admin_name": "Not A Name"}, "user name"),
    ],
)
def test_bad_setup_form_is_refused_with_a_message_and_sets_nothing_up(
    client: TestClient, setup_token: str, runtime: Runtime, fields: dict[str, str], message: str
) -> None:
    response = client.post(f"/setup/{setup_token}", data=_form(**fields))
    assert response.status_code == 400
    assert message in response.text
    with Desk(runtime).session() as session:
        assert not desk_service.is_set_up(session)
    assert client.get(f"/setup/{setup_token}").status_code == 200


def test_setup_form_with_missing_or_oversized_fields_is_a_4xx(
    client: TestClient, setup_token: str
) -> None:
    assert client.post(f"/setup/{setup_token}", data={"admin_name": "amira"}).status_code == 422
    assert client.post(f"/setup/{setup_token}", data=_form(password="x" * 5000)).status_code == 422


def test_unknown_setup_link_is_not_found(client: TestClient) -> None:
    response = client.get("/setup/guessed-token")
    assert response.status_code == 404
    assert "not valid" in response.text


@pytest.mark.parametrize(
    "path",
    ["/healthz", "/setup/whatever", "/static/css/base.css", "/no-such-page", "/api/v1/challenge"],
)
def test_every_response_carries_the_security_headers_and_no_cookie(
    client: TestClient, path: str
) -> None:
    response = client.get(path)
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    # The page that says a page does not exist is a reporter's page: its own scripts only.
    assert (
        csp == pinned_reporter_policy() if path == "/no-such-page" else "script-src 'self'" in csp
    )
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in response.headers


def test_pages_load_nothing_from_another_origin(client: TestClient, setup_token: str) -> None:
    page = client.get(f"/setup/{setup_token}").text
    references = re.findall(r'(?:src|href|action)="([^"]+)"', page)
    assert references
    for reference in references:
        # Paths only: no other origin, and no scheme that breaks behind a TLS proxy or on
        # .onion. (A data: URI is no origin at all: the empty icon that saves a request.)
        if reference.startswith("data:"):
            continue
        assert reference.startswith("/"), reference
        assert not reference.startswith("//"), reference


def test_dashboard_api_description_is_not_public(client: TestClient) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code == 404


def test_setup_page_is_marked_for_translation_and_direction(
    client: TestClient, setup_token: str
) -> None:
    page = client.get(f"/setup/{setup_token}").text
    assert '<html lang="en" dir="ltr"' in page


def test_setup_submitted_twice_at_once_sets_up_once_and_never_fails(
    client: TestClient, setup_token: str
) -> None:
    statuses: list[int] = []

    def submit(name: str) -> None:
        statuses.append(
            client.post(f"/setup/{setup_token}", data=_form(admin_name=name)).status_code
        )

    threads = [threading.Thread(target=submit, args=(name,)) for name in ("amira", "bashir")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [200, 404]


@pytest.mark.parametrize(
    ("method", "path", "data", "status"),
    [
        ("GET", "/no/such/page", None, 404),
        ("GET", "/static/no-such-file.css", None, 404),
        ("DELETE", "/report", None, 405),
        ("POST", "/setup/{token}", {"admin_name": "amira"}, 422),
        ("POST", "/dashboard/login", {"name": "amira"}, 422),
        ("POST", "/dashboard/invitation/unknown", {"password": "x"}, 422),
    ],
)
def test_refusals_of_pages_are_pages_never_raw_json(
    client: TestClient,
    setup_token: str,
    method: str,
    path: str,
    data: dict[str, str] | None,
    status: int,
) -> None:
    response = client.request(method, path.replace("{token}", setup_token), data=data)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert "<main " in response.text
    # Whatever was sent is not echoed back in the refusal.
    assert "amira" not in response.text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/api/v1/no-such-thing", 404), ("GET", "/api/v1/reports", 405)],
)
def test_refusals_of_the_api_stay_json(
    client: TestClient, method: str, path: str, status: int
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert "detail" in response.json()


def test_an_unexpected_error_is_a_500_with_the_security_headers_and_no_detail(
    settings: Settings, runtime: Runtime
) -> None:
    app = create_app(settings, runtime=runtime)

    @app.get("/broken")
    def broken() -> None:
        raise RuntimeError("CANARY-internal detail")

    response = TestClient(app, raise_server_exceptions=False).get("/broken")
    assert response.status_code == 500
    assert "content-security-policy" in response.headers
    assert response.headers["cache-control"] == "no-store"
    assert "CANARY" not in response.text
