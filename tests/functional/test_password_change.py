"""A person changes their own password, in the dashboard or from the command line: the key
opens with the new one only, their reports still open, their other sessions end, and a wrong
current password is counted and changes nothing."""

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hrd_reports.models import AuditEvent, Role, User
from hrd_reports.services import credentials
from hrd_reports.services.errors import AuthenticationFailed
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.cli import invoke
from tests.dashboard_support import Clock, Staff, StaffBrowser, enrol, install_clock
from tests.helpers import Desk, Person, report_content

NEW = "a brand new passphrase for the desk 9034"


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


def _opens_with(desk: Desk, name: str, password: str) -> bool:
    with desk.session() as session:
        try:
            credentials.unlock(
                session, name=name, password=password, passwords=desk.runtime.passwords
            )
        except AuthenticationFailed:
            return False
    return True


def test_password_changed_in_the_dashboard_opens_the_key_and_ends_other_sessions(
    client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    report_id = desk.submit(report_content("CANARY-password change")).report_id
    here = StaffBrowser(client.app, coordinator, fake_clock)  # type: ignore[arg-type]
    elsewhere = StaffBrowser(client.app, coordinator, fake_clock)  # type: ignore[arg-type]

    here.post(
        "/dashboard/password",
        current=coordinator.person.password,
        new=NEW,
        new_again=NEW,
    )
    assert "Your password is changed" in here.page("/dashboard/password?done=password")
    # This session goes on and still opens reports; the other one is over.
    assert "CANARY-password change" in here.report(report_id)
    gone = elsewhere.client.get("/dashboard/reports", follow_redirects=False)
    assert gone.status_code == 303
    assert _opens_with(desk, "cora", NEW)
    assert not _opens_with(desk, "cora", coordinator.person.password)
    with desk.session() as session:
        actions = session.execute(
            select(AuditEvent.action).where(AuditEvent.action == "user.password")
        ).scalars()
        assert list(actions) == ["user.password"]


@pytest.mark.parametrize(
    ("fields", "status", "says"),
    [
        ({"current": "not my password at all"}, 401, "current password is wrong"),
        ({"new_again": "something else entirely 4412"}, 400, "differ"),
        ({"new": "short", "new_again": "short"}, 400, "at least 12 characters"),
    ],
)
def test_password_change_refused_says_why_and_changes_nothing(
    client: TestClient,
    desk: Desk,
    coordinator: Staff,
    fake_clock: Clock,
    fields: dict[str, str],
    status: int,
    says: str,
) -> None:
    here = StaffBrowser(client.app, coordinator, fake_clock)  # type: ignore[arg-type]
    form = {"current": coordinator.person.password, "new": NEW, "new_again": NEW} | fields
    page = here.post("/dashboard/password", expect=status, **form)
    assert says in page
    assert _opens_with(desk, "cora", coordinator.person.password)
    with desk.session() as session:
        user = session.execute(select(User).where(User.name == "cora")).scalar_one()
    # Only a wrong current password counts towards the lock-out.
    assert user.failed_logins == (1 if status == 401 else 0)


def test_password_changed_from_the_command_line(
    cli_env: dict[str, str], desk: Desk, admin: Person
) -> None:
    report_id = desk.submit(report_content("CANARY-password cli")).report_id
    changed = invoke(
        cli_env, "user", "password", admin.name, "--password-stdin",
        stdin=f"{admin.password}\n{NEW}\n",
    )  # fmt: skip
    assert changed.exit_code == 0, changed.stderr
    shown = invoke(
        cli_env, "reports", "show", str(report_id), "--as", admin.name, "--password-stdin",
        "--json", stdin=NEW + "\n",
    )  # fmt: skip
    assert shown.exit_code == 0, shown.stderr
    assert "CANARY-password cli" in json.dumps(shown.json())

    refused = invoke(
        cli_env, "user", "password", admin.name, "--password-stdin",
        stdin=f"{admin.password}\nyet another passphrase 7781\n",
    )  # fmt: skip
    assert refused.exit_code != 0
    assert "current password is wrong" in refused.stderr
    assert _opens_with(desk, admin.name, NEW)
