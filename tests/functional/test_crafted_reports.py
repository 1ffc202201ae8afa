"""A crafted report through the dashboard and the command line, and its destruction by a key
holder.

An anonymous reporter, with one proof of work, sealed a report of arrays nested 100,000 deep,
or of a 5,000-digit number, or with a lone surrogate: the report list, its search, its second
page, the report's page and ``reports list`` failed (500, or a traceback) until the reporter
withdrew it, and nobody at the desk could remove it.
"""

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from hrd_reports import received
from hrd_reports.models import AuditEvent, Report, Role, WithdrawnReport
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.cli import invoke, table_snapshot
from tests.dashboard_support import Clock, Staff, enrol, install_clock, sign_in
from tests.helpers import Desk, Person, hidden_value, query_inbox, report_content

CRAFTED = {
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "a 5,000-digit integer": b'{"incident_types":["other"],"narrative":"x","v":'
    + b"9" * 5000
    + b"}",
    "a lone surrogate": b'{"incident_types":["other"],"narrative":"<b>threat</b> \\ud800"}',
    "markup, not JSON": b"<script>alert(1)</script> \x1b]0;owned\x07 \xff",
}
AS_RECEIVED = re.compile(r'<pre class="text" data-testid="as-received">(.*?)</pre>', re.DOTALL)
AUDIT_TABLES = frozenset({"audit_events", "audit_head"})


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


@pytest.fixture
def client(settings: Settings, runtime: Runtime, desk: Desk) -> Iterator[TestClient]:
    with TestClient(create_app(settings, runtime=runtime)) as test_client:
        yield test_client


@pytest.fixture
def coordinator(desk: Desk, admin: Person, fake_clock: Clock) -> Staff:
    return enrol(desk, desk.add_vetted("cora", Role.COORDINATOR, by=admin), Role.COORDINATOR)


def _ok(client: TestClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, f"{path}: {response.status_code}"
    assert "Traceback" not in response.text
    return response.text


def as_received_on(page: str) -> str:
    """The "as received" text of a report page, as the browser shows it."""
    shown = AS_RECEIVED.search(page)
    assert shown is not None, "no as-received text on the page"
    # Escaped: nothing of the report is markup.
    assert "<" not in shown.group(1)
    return html.unescape(shown.group(1))


@pytest.mark.parametrize("name", CRAFTED)
def test_dashboard_shows_a_crafted_report_as_received_on_every_page(
    client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock, name: str
) -> None:
    # A page of urgent reports comes first, so the crafted one is on the second page.
    for i in range(50):
        desk.submit(report_content(f"threat {i}", incident_types=("detention",)))
    crafted = desk.submit(CRAFTED[name]).report_id
    assert sign_in(client, coordinator, fake_clock) == 303

    first = _ok(client, "/dashboard/reports")
    second = _ok(client, "/dashboard/reports?page=2")
    for path in (
        "/dashboard/reports?q=threat",
        "/dashboard/reports?q=threat&page=2",
        "/dashboard/reports?incident_type=detention&page=2",
    ):
        _ok(client, path)
    only = _ok(client, "/dashboard/reports?form=off")
    page = _ok(client, f"/dashboard/reports/{crafted}")

    assert 'data-testid="off-form-count"' in first
    assert str(crafted) in second
    assert 'data-testid="off-form"' in second
    assert re.findall(r'data-report-id="([^"]+)"', only) == [str(crafted)]
    assert 'data-testid="unexpected-shape"' in page
    assert as_received_on(page) == received.as_received(CRAFTED[name])[0]
    assert "<b>threat" not in page


def test_dashboard_report_page_cuts_a_long_report_and_says_so(
    client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    crafted = desk.submit(b"x" * (received.AS_RECEIVED_MAX + 10)).report_id
    assert sign_in(client, coordinator, fake_clock) == 303
    page = _ok(client, f"/dashboard/reports/{crafted}")
    assert as_received_on(page) == "x" * received.AS_RECEIVED_MAX
    assert "10 more characters are not shown" in page


# ---- the command line --------------------------------------------------------------------


def _as(env: dict[str, str], person: Person, *args: str) -> tuple[int, str, str]:
    run = invoke(env, *args, "--as", person.name, "--password-stdin", stdin=person.password + "\n")
    assert "Traceback" not in run.stdout + run.stderr
    return run.exit_code, run.stdout, run.stderr


@pytest.mark.parametrize("name", CRAFTED)
def test_reports_list_and_show_print_a_crafted_report_as_received(
    cli_env: dict[str, str], desk: Desk, admin: Person, name: str
) -> None:
    crafted = desk.submit(CRAFTED[name]).report_id
    desk.submit(report_content("an honest report"))

    code, listed, _ = _as(cli_env, admin, "reports", "list")
    assert code == 0
    (line,) = [line for line in listed.splitlines() if line.startswith(str(crafted))]
    assert "[not the form]" in line
    code, as_json, _ = _as(cli_env, admin, "reports", "list", "--json")
    assert code == 0
    code, shown, _ = _as(cli_env, admin, "reports", "show", str(crafted))
    assert code == 0
    assert received.as_received(CRAFTED[name])[0] in shown
    code, shown_json, _ = _as(cli_env, admin, "reports", "show", str(crafted), "--json")
    assert code == 0
    documents = {doc["id"]: doc for doc in json.loads(as_json)["reports"]}
    assert documents[str(crafted)]["follows_form"] is False
    content = json.loads(shown_json)["report"]["content"]
    assert content[received.AS_RECEIVED] == received.as_received(CRAFTED[name])[0]
    for output in (listed, shown, as_json, shown_json):
        # Nothing that acts on a terminal reaches it.
        assert received.visible(output) == output


# ---- destroyed from the report's page ----------------------------------------------------


def _destroy_form(client: TestClient, report_id: UUID) -> dict[str, str]:
    """What the key holder's browser posts: the page's own form token, a reason, the box."""
    page = _ok(client, f"/dashboard/reports/{report_id}")
    form = re.search(r'<form[^>]*data-testid="destroy-form".*?</form>', page, re.DOTALL)
    assert form is not None, "no destroy form on the page"
    return {"csrf_token": hidden_value(form.group(0), "csrf_token")}


def _stored(desk: Desk) -> list[UUID]:
    with desk.session() as session:
        return list(session.execute(select(Report.public_id)).scalars())


def _at_rest(settings: Settings) -> bytes:
    """The SQLite database file and its write-ahead log, as a copy of the disk has them."""
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    wal = database.with_name(database.name + "-wal")
    return database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_key_holder_destroys_a_crafted_report_from_its_page(
    client: TestClient,
    desk: Desk,
    coordinator: Staff,
    fake_clock: Clock,
    settings: Settings,
    cli_env: dict[str, str],
) -> None:
    submitted = desk.submit(CRAFTED["deep nesting"])
    with desk.session() as session:
        body = session.execute(select(Report.body)).scalar_one()
    sqlite = settings.database_url.startswith("sqlite")
    assert sign_in(client, coordinator, fake_clock) == 303
    assert not sqlite or body[100:164] in _at_rest(settings)

    response = client.post(
        f"/dashboard/reports/{submitted.report_id}/destroy",
        data={
            **_destroy_form(client, submitted.report_id),
            "reason": "crafted to break the list",
            "confirm": "yes",
        },
        follow_redirects=False,
    )

    assert response.status_code == 303
    assert response.headers["location"].startswith("/dashboard/reports")
    if sqlite:
        # The write-ahead log was emptied into the file, whose freed pages were overwritten:
        # none of the report's ciphertext is left in either.
        assert body[100:164] not in _at_rest(settings)
    assert client.get(f"/dashboard/reports/{submitted.report_id}").status_code == 404
    assert _stored(desk) == []
    assert query_inbox(client, submitted.receipt).json()["found"] is False
    with desk.session() as session:
        tombstone = session.execute(select(WithdrawnReport)).scalar_one()
        entry = session.execute(
            select(AuditEvent).where(AuditEvent.action == "report.destroy")
        ).scalar_one()
    assert (tombstone.public_id, tombstone.destroyed_by.value) == (submitted.report_id, "desk")
    assert (entry.actor, entry.subject) == ("cora", str(submitted.report_id))
    assert json.loads(entry.detail)["reason"] == "crafted to break the list"
    assert invoke(cli_env, "audit", "verify", "--json").json()["intact"]
    stats = _ok(client, "/dashboard/stats")
    # Counted among the reports no longer held: one, shown as fewer than five.
    assert re.search(r'<tr data-key="destroyed">.*?<td><span class="suppressed">&lt;5<', stats)
    assert re.search(r'<tr data-key="withdrawn">.*?<td>0<', stats)


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"reason": "crafted", "confirm": ""}, 400, "tick the box"),
        ({"reason": "   ", "confirm": "yes"}, 400, "say why the report is destroyed"),
        ({"reason": "crafted", "confirm": "yes", "csrf_token": "forged"}, 403, "form has expired"),
    ],
    ids=["not confirmed", "no reason", "forged form token"],
)
def test_destroy_form_refused_changes_nothing(
    client: TestClient,
    desk: Desk,
    coordinator: Staff,
    fake_clock: Clock,
    settings: Settings,
    fields: dict[str, str],
    status: int,
    message: str,
) -> None:
    submitted = desk.submit(CRAFTED["a lone surrogate"])
    assert sign_in(client, coordinator, fake_clock) == 303
    data = {**_destroy_form(client, submitted.report_id), **fields}
    before = table_snapshot(settings.database_url, skip=AUDIT_TABLES)

    response = client.post(f"/dashboard/reports/{submitted.report_id}/destroy", data=data)

    assert response.status_code == status
    assert message in response.text
    assert response.headers["content-type"].startswith("text/html")
    assert table_snapshot(settings.database_url, skip=AUDIT_TABLES) == before


def test_case_worker_sees_no_destroy_form_and_is_refused(
    client: TestClient, desk: Desk, admin: Person, coordinator: Staff, fake_clock: Clock
) -> None:
    worker = enrol(desk, desk.add_vetted("wafa", Role.CASE_WORKER, by=admin), Role.CASE_WORKER)
    submitted = desk.submit(CRAFTED["a 5,000-digit integer"])
    desk.assign(submitted.report_id, to="wafa", by=admin)
    assert sign_in(client, worker, fake_clock) == 303
    page = _ok(client, f"/dashboard/reports/{submitted.report_id}")
    assert 'data-testid="destroy-form"' not in page
    response = client.post(
        f"/dashboard/reports/{submitted.report_id}/destroy",
        data={
            "csrf_token": hidden_value(page, "csrf_token"),
            "reason": "mine",
            "confirm": "yes",
        },
    )
    assert response.status_code == 403
    assert _stored(desk) == [submitted.report_id]


# ---- destroyed on the command line -------------------------------------------------------


@pytest.fixture
def worker(desk: Desk, admin: Person) -> Person:
    return desk.add_vetted("dave", Role.CASE_WORKER, by=admin)


def test_reports_destroy_by_a_key_holder_is_audited_and_checkpointed(
    cli_env: dict[str, str], desk: Desk, admin: Person, settings: Settings
) -> None:
    submitted = desk.submit(CRAFTED["deep nesting"])
    with desk.session() as session:
        body = session.execute(select(Report.body)).scalar_one()
    code, out, err = _as(
        cli_env, admin, "reports", "destroy", str(submitted.report_id), "--reason", "crafted"
    )
    assert (code, out.strip()) == (0, f"report {submitted.report_id} destroyed."), err
    assert not settings.database_url.startswith("sqlite") or body[100:164] not in _at_rest(settings)
    assert _stored(desk) == []
    with desk.session() as session:
        destroyed_by = session.execute(select(WithdrawnReport.destroyed_by)).scalar_one()
        entries = session.execute(
            select(func.count()).where(AuditEvent.action == "report.destroy")
        ).scalar_one()
    assert (destroyed_by.value, entries) == ("desk", 1)
    assert invoke(cli_env, "audit", "verify", "--json").json()["intact"]


@pytest.mark.parametrize(
    ("who", "reason", "message"),
    [("dave", "mine", "key holder"), ("admin", " ", "say why the report is destroyed")],
    ids=["case worker", "no reason"],
)
def test_reports_destroy_refused_is_one_line_and_changes_nothing(
    cli_env: dict[str, str],
    desk: Desk,
    admin: Person,
    worker: Person,
    settings: Settings,
    who: str,
    reason: str,
    message: str,
) -> None:
    submitted = desk.submit(CRAFTED["a lone surrogate"])
    desk.assign(submitted.report_id, to="dave", by=admin)
    person = admin if who == "admin" else worker
    before = table_snapshot(settings.database_url, skip=AUDIT_TABLES)
    code, _, err = _as(
        cli_env, person, "reports", "destroy", str(submitted.report_id), "--reason", reason
    )
    assert code != 0
    assert err.startswith("error: ")
    assert message in err
    assert table_snapshot(settings.database_url, skip=AUDIT_TABLES) == before
