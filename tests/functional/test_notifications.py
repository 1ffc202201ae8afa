"""E-mail notifications end to end, against a real SMTP server on 127.0.0.1 (aiosmtpd).

A reporter's report and message arrive over HTTP as their browser sends them; the desk's
sender counts them and mails a coordinator who chose notifications in the dashboard's form.
The mail carries counts and the dashboard's address, and none of the report's words (a
canary), its incident type, its governorate or its script. A mail server that is down delays
the mail without losing it, and never a report.
"""

import logging
import re
import socket
import time
from uuid import UUID

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from hrd_reports.content import GOVERNORATES, INCIDENT_TYPES
from hrd_reports.models import (
    NotificationState,
    NotifyChoice,
    PendingNotification,
    Report,
    Role,
)
from hrd_reports.notifier import Notifier, Round
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.dashboard_support import Clock, StaffBrowser, enrol, install_clock
from tests.helpers import Desk, Person, post_report, post_reporter_message
from tests.mail_server import MailServer, free_port, running
from tests.server import StartServer
from tests.unit.services.notification_support import choose
from tests.unit.services.reading_support import content

CANARY = "CANARY-notify كناري-الإشعار"
MESSAGE_CANARY = "CANARY-notify-message رسالة-كناري"
ADDRESS = "cora.desk@example.org"
# The real server's first round runs as it starts; this bounds a broken one's wait.
MAIL_WAIT_SECONDS = 60.0


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


@pytest.fixture
def mail_port() -> int:
    return free_port()


@pytest.fixture
def settings(settings: Settings, mail_port: int) -> Settings:
    """This test's desk, sending through the test's mail server (started or not)."""
    return settings.model_copy(
        update={
            "smtp_url": f"smtp://127.0.0.1:{mail_port}",
            "smtp_from": "desk@example.org",
        }
    )


@pytest.fixture
def cli_env(cli_env: dict[str, str], mail_port: int) -> dict[str, str]:
    """The environment of ``hrd-reports serve`` for this desk, with its mail server."""
    return {
        **cli_env,
        "HRD_SMTP_URL": f"smtp://127.0.0.1:{mail_port}",
        "HRD_SMTP_FROM": "desk@example.org",
    }


@pytest.fixture
def app(settings: Settings, runtime: Runtime, desk: Desk) -> FastAPI:
    # Not started as a context: the sender runs only when a test says so.
    return create_app(settings, runtime=runtime)


@pytest.fixture
def notifier(app: FastAPI) -> Notifier:
    built: Notifier | None = app.state.notifier
    assert built is not None
    return built


@pytest.fixture
def coordinator(app: FastAPI, desk: Desk, admin: Person, fake_clock: Clock) -> StaffBrowser:
    staff = enrol(desk, desk.add_vetted("cora", Role.COORDINATOR, by=admin), Role.COORDINATOR)
    return StaffBrowser(app, staff, fake_clock)


@pytest.fixture
def administrator(app: FastAPI, desk: Desk, admin: Person, fake_clock: Clock) -> StaffBrowser:
    return StaffBrowser(app, enrol(desk, admin, Role.ADMIN), fake_clock)


@pytest.fixture
def reporter(app: FastAPI) -> TestClient:
    return TestClient(app)


def choose_by_form(browser: StaffBrowser, choice: str, address: str = ADDRESS) -> str:
    """The person's choice through the dashboard's form; the page it redirects to."""
    response = browser.client.post(
        "/dashboard/notifications",
        data={"choice": choice, "address": address, "csrf_token": browser.csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert "saved=true" in response.headers["location"]
    return browser.page(response.headers["location"])


def report_with_canary(reporter: TestClient) -> tuple[str, UUID]:
    """A report as the reporter's browser sends it, in danger now, with a canary narrative."""
    document = content(
        CANARY, incident_types=("arbitrary_arrest",), governorate="nineveh", in_danger_now="yes"
    )
    receipt, response = post_report(reporter, document)
    assert response.status_code == 201, response.text
    return receipt, UUID(response.json()["report_id"])


def waiting_rows(desk: Desk) -> list[tuple[int, str | None]]:
    with desk.session() as session:
        return [
            (row.attempts, row.last_error)
            for row in session.execute(select(PendingNotification)).scalars()
        ]


def _words_of_the_report() -> list[str]:
    return [
        CANARY,
        MESSAGE_CANARY,
        "CANARY",
        "arbitrary_arrest",
        dict(INCIDENT_TYPES)["arbitrary_arrest"],
        "nineveh",
        dict(GOVERNORATES)["nineveh"],
    ]


def test_notification_arrives_with_counts_and_without_a_word_of_the_report(
    coordinator: StaffBrowser, reporter: TestClient, notifier: Notifier, mail_port: int
) -> None:
    choose_by_form(coordinator, "urgent_and_digest")
    receipt, report_id = report_with_canary(reporter)
    answer = post_reporter_message(reporter, receipt, report_id, MESSAGE_CANARY)
    assert answer.status_code == 201, answer.text

    with running(MailServer(mail_port)) as server:
        assert notifier.run_once() == Round(sent=1, failed=0)

    [mail] = server.received
    assert mail.recipients == [ADDRESS]
    body = mail.body
    assert "1 new report is waiting." in body
    assert "1 new message from a reporter is waiting." in body
    # The report, which nobody has opened yet; not the message on it, which is urgent only
    # once its report is known to be.
    assert "1 of them may be urgent" in body
    assert "Sign in to the dashboard to read them: /dashboard" in body.splitlines()
    readable = f"{mail.message['Subject']}\n{body}".casefold()
    for word in _words_of_the_report():
        assert word.casefold() not in readable, word
        assert word.encode("utf-8") not in mail.raw, word
    # Nothing in the reporter's script, and the server's own host name nowhere.
    assert not re.search(r"[\u0600-\u06ff]", readable)
    assert socket.gethostname().encode() not in mail.raw


def test_notification_with_the_mail_server_down_is_kept_and_delivered_once_it_is_up(
    coordinator: StaffBrowser,
    administrator: StaffBrowser,
    reporter: TestClient,
    notifier: Notifier,
    desk: Desk,
    fake_clock: Clock,
    mail_port: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    choose_by_form(coordinator, "urgent_and_digest")
    report_with_canary(reporter)  # intake answers while the mail server is down

    with caplog.at_level(logging.WARNING, logger="hrd_reports.notifications"):
        assert notifier.run_once() == Round(sent=0, failed=1)
    assert waiting_rows(desk) == [(1, "ConnectionRefusedError")]
    assert "ConnectionRefusedError" in caplog.text
    assert ADDRESS not in caplog.text
    status = administrator.page("/dashboard/notifications/status")
    assert re.search(r'data-testid="failures">1<', status)
    assert "ConnectionRefusedError" in status
    assert re.search(r'data-testid="last-success">never<', status)

    # Within its pause the mail is not tried again; after it, it is.
    assert notifier.run_once() == Round(sent=0, failed=0)
    fake_clock.advance(120)  # a minute, to the next whole minute
    assert notifier.run_once() == Round(sent=0, failed=1)
    assert waiting_rows(desk) == [(2, "ConnectionRefusedError")]

    with running(MailServer(mail_port)) as server:
        assert notifier.run_once() == Round(sent=0, failed=0)  # its pause is two minutes now
        fake_clock.advance(180)
        assert notifier.run_once() == Round(sent=1, failed=0)
        assert notifier.run_once() == Round(sent=0, failed=0)

    [mail] = server.received
    assert "1 new report is waiting." in mail.body
    assert waiting_rows(desk) == []
    status = administrator.page("/dashboard/notifications/status")
    assert re.search(r'data-testid="sent">1<', status)
    assert re.search(r'data-testid="failures">2<', status)
    assert 'data-testid="nothing-waiting"' in status


def test_intake_answers_while_the_mail_server_is_down_and_the_sender_runs(
    app: FastAPI, coordinator: StaffBrowser, notifier: Notifier, desk: Desk
) -> None:
    choose_by_form(coordinator, "urgent_and_digest")
    with TestClient(app) as served:  # the lifespan starts the sender's rounds
        receipt, report_id = report_with_canary(served)
        answer = post_reporter_message(served, receipt, report_id, MESSAGE_CANARY)
        assert answer.status_code == 201, answer.text

    with desk.session() as session:
        assert session.execute(select(func.count()).select_from(Report)).scalar_one() == 1
    # What the sender could not send is still waiting.
    assert notifier.run_once().sent == 0
    assert len(waiting_rows(desk)) == 1


# ---- the dashboard's form -------------------------------------------------------------------


def test_notifications_form_saves_the_choice_and_confirms_it(
    coordinator: StaffBrowser,
) -> None:
    before = coordinator.page("/dashboard/notifications")
    assert 'data-testid="notifications-saved"' not in before
    assert 'value="off" checked' in before

    page = choose_by_form(coordinator, "digest", "  cora.desk@example.org ")

    assert 'data-testid="notifications-saved"' in page
    assert 'value="digest" checked' in page
    assert f'value="{ADDRESS}"' in page
    assert 'data-testid="mail-off"' not in page  # this desk has a mail server


def test_notifications_form_without_the_form_token_changes_nothing(
    coordinator: StaffBrowser,
) -> None:
    response = coordinator.client.post(
        "/dashboard/notifications", data={"choice": "digest", "address": ADDRESS}
    )
    assert response.status_code == 403
    assert 'value="off" checked' in coordinator.page("/dashboard/notifications")


@pytest.mark.parametrize(
    ("choice", "address", "status"),
    [
        ("digest", "not an address", 400),
        ("digest", "", 400),
        ("digest", "cora@example.org\r\nBcc: x@example.net", 400),
        ("hourly", ADDRESS, 400),
        ("digest", "c" * 600 + "@example.org", 422),
    ],
)
def test_notifications_form_refuses_a_bad_choice_and_changes_nothing(
    coordinator: StaffBrowser, choice: str, address: str, status: int
) -> None:
    response = coordinator.client.post(
        "/dashboard/notifications",
        data={"choice": choice, "address": address, "csrf_token": coordinator.csrf},
    )
    assert response.status_code == status
    assert 'value="off" checked' in coordinator.page("/dashboard/notifications")


def test_notification_pages_follow_roles(
    app: FastAPI,
    coordinator: StaffBrowser,
    desk: Desk,
    fake_clock: Clock,
) -> None:
    auditor = StaffBrowser(
        app, enrol(desk, desk.add("aziz", Role.AUDITOR), Role.AUDITOR), fake_clock
    )
    assert auditor.client.get("/dashboard/notifications").status_code == 403
    assert coordinator.client.get("/dashboard/notifications/status").status_code == 403
    assert "/dashboard/notifications" in coordinator.page("/dashboard/reports")
    assert "/dashboard/notifications" not in auditor.page("/dashboard/stats/snapshots")


# ---- the navigation's unread count ----------------------------------------------------------


def _nav_unread(page: str) -> int | None:
    found = re.search(r'data-testid="nav-unread"[^>]*>(\d+)<', page)
    return int(found.group(1)) if found else None


def test_navigation_shows_unread_reporters_messages_until_they_are_read(
    app: FastAPI,
    coordinator: StaffBrowser,
    reporter: TestClient,
    desk: Desk,
    admin: Person,
    fake_clock: Clock,
) -> None:
    case_worker = StaffBrowser(
        app,
        enrol(desk, desk.add_vetted("wafa", Role.CASE_WORKER, by=admin), Role.CASE_WORKER),
        fake_clock,
    )
    assert _nav_unread(coordinator.page("/dashboard/reports")) is None
    receipt, report_id = report_with_canary(reporter)
    for text in ("one", "two"):
        answer = post_reporter_message(reporter, receipt, report_id, text)
        assert answer.status_code == 201, answer.text

    assert _nav_unread(coordinator.page("/dashboard/notifications")) == 2
    # Not assigned to the case worker: not theirs to read, not theirs to count.
    assert _nav_unread(case_worker.page("/dashboard/reports")) is None

    coordinator.report(report_id)
    assert _nav_unread(coordinator.page("/dashboard/reports")) is None


# ---- the real server ------------------------------------------------------------------------


@pytest.mark.slow
def test_real_server_with_two_workers_sends_one_mail_for_what_arrived(
    desk: Desk, admin: Person, start_server: StartServer, mail_port: int
) -> None:
    desk.add_vetted("cora", Role.COORDINATOR, by=admin)
    choose(desk, "cora", NotifyChoice.URGENT_AND_DIGEST, address=ADDRESS)
    desk.submit(content(CANARY, in_danger_now="yes"))

    with running(MailServer(mail_port)) as mail_server:
        # Both workers count and send when they start: the database lets one of them send.
        server = start_server(workers=2)
        deadline = time.monotonic() + MAIL_WAIT_SECONDS
        while not mail_server.received and time.monotonic() < deadline:
            time.sleep(0.2)
        server.stop()

    assert [mail.recipients for mail in mail_server.received] == [[ADDRESS]]
    assert "1 new report is waiting." in mail_server.received[0].body
    assert waiting_rows(desk) == []
    with desk.session() as session:
        assert session.execute(select(NotificationState.sent)).scalar_one() == 1
