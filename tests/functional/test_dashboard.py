"""The dashboard over HTTP: sign-in with a second factor, sessions, form tokens and roles."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from hrd_reports.crypto import totp
from hrd_reports.models import AuditEvent, DashboardSession, Report, Role
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.web.auth import ACCESS, ANONYMOUS, SESSION_COOKIE_PLAIN
from hrd_reports.wiring import Runtime
from tests.dashboard_support import (
    Clock,
    Staff,
    StaffBrowser,
    csrf_of,
    enrol,
    install_clock,
    sign_in,
)
from tests.helpers import (
    Desk,
    Person,
    post_reporter_message,
    query_body,
    query_inbox,
    report_content,
)


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


def test_sign_in_with_password_and_fresh_code_opens_the_report_list(
    client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    submitted = desk.submit(report_content("CANARY-dash the list shows me"))
    assert sign_in(client, coordinator, fake_clock) == 303
    page = client.get("/dashboard/reports")
    assert page.status_code == 200
    assert str(submitted.report_id) in page.text
    assert "CANARY-dash the list shows me" in page.text


def test_sign_in_code_replayed_is_refused(
    client: TestClient, coordinator: Staff, fake_clock: Clock
) -> None:
    assert sign_in(client, coordinator, fake_clock) == 303
    code = coordinator.code(fake_clock.now)
    client.cookies.clear()
    fake_clock.advance(-totp.STEP_SECONDS)  # sign_in moves one step on: back to the same one
    assert sign_in(client, coordinator, fake_clock, code=code) == 401


def test_sign_in_locks_the_account_after_repeated_failures(
    client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock, settings: Settings
) -> None:
    for _ in range(settings.login_max_failures):
        assert sign_in(client, coordinator, fake_clock, code="000000") == 401
    assert sign_in(client, coordinator, fake_clock) == 401  # right code, but locked
    fake_clock.advance(settings.login_lockout_minutes * 60)
    assert sign_in(client, coordinator, fake_clock) == 303
    with desk.session() as session:
        actions = list(session.execute(select(AuditEvent.action, AuditEvent.detail)).all())
    assert (
        sum(action == "login.failure" for action, _ in actions) == settings.login_max_failures + 1
    )
    assert any("locked_minutes" in detail for _, detail in actions)


def test_session_cookie_is_new_at_sign_in_and_useless_after_logout(
    client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    planted = "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    client.cookies.set(SESSION_COOKIE_PLAIN, planted, domain="testserver.local", path="/")
    assert sign_in(client, coordinator, fake_clock) == 303
    issued = client.cookies.get(SESSION_COOKIE_PLAIN)
    assert issued
    assert issued != planted
    csrf = csrf_of(client, "/dashboard/reports")
    response = client.post("/dashboard/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert "cookies" in response.headers["clear-site-data"]
    with desk.session() as session:
        assert session.execute(select(DashboardSession)).first() is None
    client.cookies.set(SESSION_COOKIE_PLAIN, issued, domain="testserver.local", path="/")
    assert client.get("/dashboard/reports", follow_redirects=False).status_code == 303


def test_cookie_of_an_ended_session_replayed_costs_one_database_read_then_none(
    client: TestClient, runtime: Runtime, coordinator: Staff, fake_clock: Clock, settings: Settings
) -> None:
    # Someone holding an old cookie could loop on it: after the first refusal it is turned
    # away before any routing, like a made-up one.
    assert sign_in(client, coordinator, fake_clock) == 303
    fake_clock.advance(settings.session_idle_minutes * 60 + 1)
    statements: list[str] = []

    def executed(*args: Any) -> None:
        statements.append(args[2])

    event.listen(runtime.engine, "before_cursor_execute", executed)
    try:
        assert client.get("/dashboard/reports", follow_redirects=False).status_code == 303
        looked_up = len(statements)
        for _ in range(5):
            assert client.get("/dashboard/reports", follow_redirects=False).status_code == 303
    finally:
        event.remove(runtime.engine, "before_cursor_execute", executed)
    assert looked_up > 0
    assert len(statements) == looked_up


def test_session_ends_after_idle_timeout(
    client: TestClient, coordinator: Staff, fake_clock: Clock, settings: Settings
) -> None:
    assert sign_in(client, coordinator, fake_clock) == 303
    fake_clock.advance(settings.session_idle_minutes * 60 + 1)
    assert client.get("/dashboard/reports", follow_redirects=False).status_code == 303


def test_state_change_without_form_token_is_refused_and_changes_nothing(
    client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    submitted = desk.submit(report_content("CANARY-csrf"))
    assert sign_in(client, coordinator, fake_clock) == 303
    for data in ({"status": "closed"}, {"status": "closed", "csrf_token": "forged"}):
        response = client.post(f"/dashboard/reports/{submitted.report_id}/workflow", data=data)
        assert response.status_code == 403
    with desk.session() as session:
        report = session.execute(select(Report)).scalar_one()
        assert report.status.value == "received"
    csrf = csrf_of(client, f"/dashboard/reports/{submitted.report_id}")
    client.post(
        f"/dashboard/reports/{submitted.report_id}/workflow",
        data={"status": "closed", "csrf_token": csrf},
    )
    with desk.session() as session:
        assert session.execute(select(Report)).scalar_one().status.value == "closed"


def test_case_worker_opening_an_unassigned_report_is_refused_and_audited(
    client: TestClient, desk: Desk, admin: Person, fake_clock: Clock
) -> None:
    worker = enrol(desk, desk.add_vetted("wafa", Role.CASE_WORKER, by=admin), Role.CASE_WORKER)
    mine = desk.submit(report_content("CANARY-mine"))
    other = desk.submit(report_content("CANARY-not-mine"))
    desk.assign(mine.report_id, to="wafa", by=admin)
    assert sign_in(client, worker, fake_clock) == 303
    listing = client.get("/dashboard/reports").text
    assert "CANARY-mine" in listing
    assert "CANARY-not-mine" not in listing
    response = client.get(f"/dashboard/reports/{other.report_id}")
    assert response.status_code == 403
    assert "CANARY-not-mine" not in response.text
    with desk.session() as session:
        last = session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc())).scalars().first()
    assert last is not None
    assert last.action == "access.refused"
    assert last.actor == "wafa"


def test_refusal_on_an_arabic_page_is_translated_with_its_values_filled_in(
    client: TestClient, desk: Desk, admin: Person, fake_clock: Clock
) -> None:
    worker = enrol(desk, desk.add_vetted("wafa", Role.CASE_WORKER, by=admin), Role.CASE_WORKER)
    other = desk.submit(report_content("CANARY-not-mine"))
    assert sign_in(client, worker, fake_clock) == 303

    response = client.get(f"/dashboard/reports/{other.report_id}?lang=ar")

    assert response.status_code == 403
    assert f"البلاغ {other.report_id} غير مُسنَد إلى wafa" in response.text
    assert "is not assigned" not in response.text
    # The role in the header is named in Arabic too, not as its stored code.
    assert "(مسؤول حالات)" in response.text
    assert "case_worker" not in response.text


def test_case_worker_sees_the_ids_of_linked_reports_assigned_to_them_and_the_rest_counted(
    client: TestClient, desk: Desk, admin: Person, coordinator: Staff, fake_clock: Clock
) -> None:
    worker = enrol(desk, desk.add_vetted("wafa", Role.CASE_WORKER, by=admin), Role.CASE_WORKER)
    desk.add_vetted("farid", Role.CASE_WORKER, by=admin)
    mine, also_mine, theirs, nobodys = (
        desk.submit(report_content(f"report {n}")).report_id for n in range(4)
    )
    for report in (mine, also_mine):
        desk.assign(report, to="wafa", by=admin)
    desk.assign(theirs, to="farid", by=admin)
    head = StaffBrowser(client.app, coordinator, fake_clock)  # type: ignore[arg-type]
    for other in (also_mine, theirs, nobodys):
        head.post(f"/dashboard/reports/{mine}/links", other=str(other))
    keyholders_page = head.report(mine)
    assert all(str(other) in keyholders_page for other in (also_mine, theirs, nobodys))
    assert 'data-testid="hidden-links"' not in keyholders_page

    browser = StaffBrowser(client.app, worker, fake_clock)  # type: ignore[arg-type]
    page = browser.report(mine)
    arabic = browser.page(f"/dashboard/reports/{mine}?lang=ar")

    assert f'href="/dashboard/reports/{also_mine}?lang=en"' in page
    for hidden in (theirs, nobodys):
        assert str(hidden) not in page
        assert str(hidden) not in arabic
    assert "and 2 linked reports not assigned to you" in page
    assert "وبلاغان مرتبطان غير مُسنَدين إليك" in arabic


# Every role's outcome on every dashboard route: the table in web/auth.py is the rule, and a
# route the table does not name fails here.
ROLE_REFUSAL = "your role does not give access to this page"
ROLE_PEOPLE = {
    Role.ADMIN: None,
    Role.COORDINATOR: "cora",
    Role.CASE_WORKER: "wafa",
    Role.AUDITOR: "aziz",
}


def _all_routes(routes: list[Any]) -> Iterator[Any]:
    """Every route of the app, into included routers (FastAPI keeps those as one entry)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _all_routes(list(included.routes))
        else:
            yield route


def _dashboard_routes(client: TestClient) -> list[APIRoute]:
    app = client.app
    return [
        route
        for route in _all_routes(list(app.routes))  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and route.path.startswith("/dashboard")
    ]


def test_every_dashboard_route_has_an_access_rule(client: TestClient) -> None:
    names = {route.name for route in _dashboard_routes(client)}
    assert names, "the dashboard router has no routes"
    assert names == set(ACCESS), (
        f"without a rule: {names - set(ACCESS)}; stale: {set(ACCESS) - names}"
    )


def _concrete(path: str, report_id: str) -> str:
    return (
        path.replace("{report_id}", report_id)
        .replace("{name}", "cora")
        .replace("{token}", "x" * 43)
        # Keys and sessions that are nobody's: the role check comes first, then "not found".
        .replace("{key_id}", "00000000-0000-4000-8000-000000000001")
        .replace("{session_id}", "00000000-0000-4000-8000-000000000002")
        .replace("{snapshot_id}", "00000000-0000-4000-8000-000000000000")
    )


@pytest.mark.parametrize("role", [None, *ROLE_PEOPLE])
def test_role_route_matrix(
    client: TestClient, desk: Desk, admin: Person, fake_clock: Clock, role: Role | None
) -> None:
    people = {
        Role.ADMIN: enrol(desk, admin, Role.ADMIN),
        Role.COORDINATOR: enrol(
            desk, desk.add_vetted("cora", Role.COORDINATOR, by=admin), Role.COORDINATOR
        ),
        Role.CASE_WORKER: enrol(
            desk, desk.add_vetted("wafa", Role.CASE_WORKER, by=admin), Role.CASE_WORKER
        ),
        Role.AUDITOR: enrol(desk, desk.add("aziz", Role.AUDITOR), Role.AUDITOR),
    }
    report_id = str(desk.submit(report_content("CANARY-matrix")).report_id)
    csrf = ""
    if role is not None:
        assert sign_in(client, people[role], fake_clock) == 303
        csrf = csrf_of(
            client,
            "/dashboard/stats/snapshots"
            if role == Role.AUDITOR
            else "/dashboard/users"
            if role == Role.ADMIN
            else "/dashboard/reports",
        )
    # Signing out last, or it would end the session the other requests are made in.
    routes = sorted(_dashboard_routes(client), key=lambda route: route.name == "dashboard_logout")
    for route in routes:
        allowed = ACCESS[route.name]
        for method in route.methods:
            path = _concrete(route.path, report_id)
            response = client.request(
                method,
                path,
                data={"csrf_token": csrf} if method == "POST" else None,
                follow_redirects=False,
            )
            label = f"{role} {method} {route.path} -> {response.status_code}"
            assert response.status_code < 500, label
            # A page, even for a form with its fields missing: never raw JSON for a person.
            assert "json" not in response.headers.get("content-type", ""), label
            if allowed is ANONYMOUS:
                continue
            if role is None:
                assert response.status_code == 303, label
                assert response.headers["location"].startswith("/dashboard/login"), label
            elif role in allowed:
                # The service may still refuse (nobody vets themselves), but not for the role.
                assert ROLE_REFUSAL not in response.text, label
            else:
                assert response.status_code == 403, label
                assert ROLE_REFUSAL in response.text, label
                assert "CANARY-matrix" not in response.text, label
                # Audited as the signed-in person who tried, not as "unauthenticated".
                assert _last_refusal(desk) == (people[role].person.name, path[:64]), label


def _last_refusal(desk: Desk) -> tuple[str, str | None]:
    with desk.session() as session:
        refusal = (
            session.execute(
                select(AuditEvent)
                .where(AuditEvent.action == "access.refused")
                .order_by(AuditEvent.seq.desc())
            )
            .scalars()
            .first()
        )
    assert refusal is not None
    return refusal.actor, refusal.subject


def test_stale_form_token_of_a_signed_in_person_is_refused_and_audited_as_theirs(
    client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    report_id = desk.submit(report_content("CANARY-stale-form")).report_id
    assert sign_in(client, coordinator, fake_clock) == 303
    path = f"/dashboard/reports/{report_id}/notes"
    response = client.post(path, data={"note": "x", "csrf_token": "from another session"})
    assert response.status_code == 403
    assert "this form has expired" in response.text
    assert _last_refusal(desk) == ("cora", path)


# ---- the conversation with the reporter -------------------------------------------------


def test_reply_from_the_dashboard_reaches_the_inbox_only_as_ciphertext(
    client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    submitted = desk.submit(report_content("CANARY-conversation"))
    post_reporter_message(client, submitted.receipt, submitted.report_id, "CANARY-from-reporter")
    assert sign_in(client, coordinator, fake_clock) == 303
    listing = client.get("/dashboard/reports").text
    assert "1 new message" in listing

    page = client.get(f"/dashboard/reports/{submitted.report_id}").text
    assert "CANARY-from-reporter" in page
    assert "1 new message" not in client.get("/dashboard/reports").text  # read now
    response = client.post(
        f"/dashboard/reports/{submitted.report_id}/reply",
        data={
            "reply": "CANARY-reply <b>are you safe?</b>",
            "csrf_token": csrf_of(client, "/dashboard"),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303

    thread = client.get(f"/dashboard/reports/{submitted.report_id}").text
    assert "CANARY-reply &lt;b&gt;are you safe?&lt;/b&gt;" in thread
    inbox = query_inbox(client, submitted.receipt)
    assert [m["sender"] for m in inbox.json()["messages"]] == ["reporter", "desk"]
    assert "CANARY-reply" not in inbox.text
    with desk.session() as session:
        replies = (
            session.execute(select(AuditEvent.actor).where(AuditEvent.action == "report.reply"))
            .scalars()
            .all()
        )
    assert replies == ["cora"]


def test_reply_without_form_token_is_refused_and_sends_nothing(
    client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    submitted = desk.submit(report_content("CANARY-reply-csrf"))
    assert sign_in(client, coordinator, fake_clock) == 303
    response = client.post(
        f"/dashboard/reports/{submitted.report_id}/reply", data={"reply": "hello"}
    )
    assert response.status_code == 403
    assert query_inbox(client, submitted.receipt).json()["messages"] == []


def test_stage_message_written_by_a_coordinator_is_what_the_reporter_reads(
    client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    submitted = desk.submit(report_content("CANARY-stage-words"))
    assert sign_in(client, coordinator, fake_clock) == 303
    words = "استلمنا بلاغك وسنتواصل معك خلال يومين"
    response = client.post(
        "/dashboard/stages",
        data={
            "stage": "received",
            "locale": "ar",
            "text": words,
            "csrf_token": csrf_of(client, "/dashboard/stages"),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303

    arabic = client.post(
        "/api/v1/inbox?lang=ar",
        json=query_body(client, submitted.receipt),
    ).json()
    english = query_inbox(client, submitted.receipt).json()
    assert (arabic["stage"], arabic["stage_message"]) == ("received", words)
    assert english["stage_message"] is None
