"""The reporter's pages, without a browser: what the server sends and what it keeps."""

import logging
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from hrd_reports.crypto.receipts import derive_receipt_keys, lookup_hash
from hrd_reports.i18n import locale
from hrd_reports.models import Report
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.helpers import Desk, Person, hidden_value, pinned_reporter_policy

REPORTER_ROUTES = ["/", "/report", "/report/done"]
FORM = {
    "incident_type": ["death_threat", "surveillance"],
    "narrative": ["CANARY-nojs they waited outside"],
}


@pytest.fixture
def client(settings: Settings, runtime: Runtime, desk: Desk) -> TestClient:
    return TestClient(create_app(settings, runtime=runtime))


def _post_form(client: TestClient, fields: dict[str, list[str]], lang: str = "en") -> object:
    """Post the form as a browser without JavaScript does, with the token of a fresh form."""
    fields = {"no_script": ["yes"], **fields}
    if "form_token" not in fields:
        page = client.get(f"/report?lang={lang}").text
        fields = {**fields, "form_token": [hidden_value(page, "form_token")]}
    return client.post(f"/report?lang={lang}", data=fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", REPORTER_ROUTES)
def test_reporter_pages_send_the_strict_headers_and_no_cookie(
    client: TestClient, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == pinned_reporter_policy()
    for name, value in {
        "cache-control": "no-store",
        "referrer-policy": "no-referrer",
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-resource-policy": "same-origin",
        "x-frame-options": "DENY",
    }.items():
        assert response.headers[name] == value
    assert "set-cookie" not in response.headers
    assert "onion-location" not in response.headers


def test_pages_link_to_this_origin_only_except_the_quick_exit(
    client: TestClient, settings: Settings
) -> None:
    page = client.get("/report").text
    references = re.findall(r'(?:src|href|action)="([^"]+)"', page)
    outside = [ref for ref in references if not ref.startswith(("/", "data:", "#"))]
    assert outside == [settings.quick_exit_url]
    for script in re.findall(r"<script[^>]*>", page):
        assert 'integrity="sha384-' in script
        assert "src=" in script  # no inline script: the CSP would refuse it anyway


def test_report_without_javascript_is_sealed_on_the_server_and_shows_its_receipt(
    client: TestClient, desk: Desk, admin: Person
) -> None:
    response = _post_form(client, FORM)
    assert response.status_code == 200  # type: ignore[attr-defined]
    receipt = re.search(r'data-testid="receipt"[^>]*>([\d ]+)<', response.text)  # type: ignore[attr-defined]
    assert receipt is not None
    assert response.headers["clear-site-data"] == '"cache", "storage"'  # type: ignore[attr-defined]
    with desk.session() as session:
        report = session.execute(select(Report)).scalar_one()
    assert report.server_sealed
    token = derive_receipt_keys(receipt.group(1)).lookup_token
    assert report.lookup_hash == lookup_hash(token, lookup_secret=desk.secrets.lookup)
    view = desk.show(admin, report.public_id)
    assert view.content is not None
    assert view.content["narrative"] == FORM["narrative"][0]
    assert view.content["incident_types"] == FORM["incident_type"]


def test_incomplete_form_comes_back_with_the_reporters_words_and_stores_nothing(
    client: TestClient, desk: Desk
) -> None:
    response = _post_form(client, {"narrative": ["keep these words"]})
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "keep these words" in response.text  # type: ignore[attr-defined]
    assert "Choose at least one kind of incident." in response.text  # type: ignore[attr-defined]
    with desk.session() as session:
        assert session.execute(select(Report)).first() is None


def test_reports_without_javascript_are_bounded_globally(
    settings: Settings, runtime: Runtime, desk: Desk
) -> None:
    client = TestClient(
        create_app(settings.model_copy(update={"server_sealed_per_minute": 2}), runtime=runtime)
    )
    statuses = [_post_form(client, FORM).status_code for _ in range(3)]  # type: ignore[attr-defined]
    assert statuses == [200, 200, 429]
    with desk.session() as session:
        assert len(session.execute(select(Report)).all()) == 2


def test_arabic_pages_are_right_to_left_and_keep_their_language(client: TestClient) -> None:
    page = client.get("/report?lang=ar").text
    assert '<html lang="ar" dir="rtl"' in page
    assert 'action="/report?lang=ar"' in page
    assert locale("ar").translations.gettext("Report an incident") in page


def test_language_follows_the_browser_when_not_asked(client: TestClient) -> None:
    page = client.get("/", headers={"accept-language": "ar-IQ,ar;q=0.9,en;q=0.5"}).text
    assert '<html lang="ar" dir="rtl"' in page
    assert (
        '<html lang="en" dir="ltr"'
        in client.get("/?lang=en", headers={"accept-language": "ar"}).text
    )


def test_onion_location_is_sent_when_configured(settings: Settings, runtime: Runtime) -> None:
    onion = "http://" + "a" * 56 + ".onion"
    client = TestClient(
        create_app(settings.model_copy(update={"onion_location": onion}), runtime=runtime)
    )
    assert client.get("/report").headers["onion-location"] == onion + "/report"
    # A path that decodes to a line break travels on percent-encoded again: a header with
    # one in it would be refused once the answer began (connection dropped, error logged).
    hostile = client.get("/nowhere%0d%0aSet-Cookie:%20x=1")
    assert hostile.headers["onion-location"] == onion + "/nowhere%0D%0ASet-Cookie%3A%20x%3D1"
    assert "set-cookie" not in hostile.headers


def test_access_log_names_staff_routes_never_addresses_agents_or_tokens(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    agent = "Mozilla/5.0 (CANARY-agent)"
    with caplog.at_level(logging.INFO, logger="hrd_reports.access"):
        client.get("/setup/secret-token-CANARY", headers={"user-agent": agent})
        client.get("/dashboard/login?next=CANARY", headers={"user-agent": agent})
    lines = [
        record.getMessage() for record in caplog.records if record.name == "hrd_reports.access"
    ]
    assert len(lines) == 2
    assert lines[0].startswith("GET /setup/{token} 404")
    assert lines[1].startswith("GET /dashboard/login 200")
    joined = "\n".join(lines)
    for secret in ("testclient", "CANARY", "next=", agent):
        assert secret not in joined


def test_access_log_writes_nothing_when_a_reporter_reads_sends_or_asks(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    # A log line carries the time its writer stamps on it, to the microsecond: one per
    # reporter request would date each report far more finely than the database does.
    with caplog.at_level(logging.DEBUG):
        client.get("/")
        client.get("/report?lang=ar")
        client.get("/static/css/base.css")
        client.get("/api/v1/challenge")
        _post_form(client, FORM)
        client.get("/inbox")
        client.get("/dashboard/login")  # a staff page: the one line, proving the log is heard
    lines = [r.getMessage() for r in caplog.records if r.name == "hrd_reports.access"]
    assert len(lines) == 1
    assert lines[0].startswith("GET /dashboard/login 200")


def test_a_form_sent_again_by_back_and_reload_is_not_stored_twice(
    client: TestClient, desk: Desk
) -> None:
    fields = {**FORM, "form_token": [hidden_value(client.get("/report").text, "form_token")]}
    assert _post_form(client, fields).status_code == 200  # type: ignore[attr-defined]
    again = _post_form(client, fields)
    assert again.status_code == 409  # type: ignore[attr-defined]
    assert "already sent" in again.text  # type: ignore[attr-defined]
    with desk.session() as session:
        assert len(session.execute(select(Report)).all()) == 1


@pytest.mark.parametrize(
    "token",
    [
        "1.0.0.old.token",
        # Digits str.isdigit() takes and int() cannot read: these crashed the request, and
        # the report was lost.
        "1.\u00b2.0.old.token",
        "1." + "9" * 5000 + ".0.old.token",
    ],
)
def test_a_form_whose_token_cannot_be_read_is_still_accepted(
    client: TestClient, desk: Desk, token: str
) -> None:
    # A lost report is worse than a duplicate: an old or damaged token never blocks a report.
    response = _post_form(client, {**FORM, "form_token": [token]})
    assert response.status_code == 200  # type: ignore[attr-defined]
    with desk.session() as session:
        assert len(session.execute(select(Report)).all()) == 1


def test_finish_is_not_marked_disabled_for_a_browser_without_javascript(client: TestClient) -> None:
    page = _post_form(client, FORM).text  # type: ignore[attr-defined]
    finish = re.search(r'<a[^>]*id="receipt-done"[^>]*>', page)
    assert finish is not None
    assert "aria-disabled" not in finish.group(0)


def test_report_form_posted_without_the_no_script_marker_is_not_read_or_kept(
    client: TestClient, desk: Desk
) -> None:
    # JavaScript was on but the page script failed: the page never warned that the server
    # would see the report, so the server neither seals it nor gives the words back.
    token = hidden_value(client.get("/report").text, "form_token")
    response = client.post(
        "/report",
        data={
            "incident_type": "death_threat",
            "narrative": "CANARY-script-failed words",
            "form_token": token,
        },
    )

    assert response.status_code == 400
    assert "did not read or keep" in response.text
    assert "CANARY-script-failed" not in response.text
    with desk.session() as session:
        assert session.execute(select(func.count()).select_from(Report)).scalar_one() == 0
