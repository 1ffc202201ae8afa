"""The staff side's first steps: what the invitation form proposes, and what the page a person
lands on after enrolling says of their account."""

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hrd_reports.models import Role
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.dashboard_support import (
    Clock,
    StaffBrowser,
    enrol,
    install_clock,
    invited,
    sign_in,
)
from tests.helpers import Desk, Person


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


@pytest.fixture
def app(settings: Settings, runtime: Runtime, desk: Desk) -> Iterator[FastAPI]:
    application = create_app(settings, runtime=runtime)
    with TestClient(application):
        yield application


@pytest.fixture
def admin_browser(app: FastAPI, desk: Desk, admin: Person, fake_clock: Clock) -> StaffBrowser:
    return StaffBrowser(app, enrol(desk, admin, Role.ADMIN), fake_clock)


def test_invitation_form_proposes_the_least_privileged_role(admin_browser: StaffBrowser) -> None:
    page = admin_browser.page("/dashboard/users")
    form = page[page.index('id="invite"') :]
    assert '<option value="case_worker" selected>' in form
    assert '<option value="admin" selected>' not in form


@pytest.mark.parametrize(
    ("role", "says", "never"),
    [
        (Role.CASE_WORKER, "A coordinator will vet your account", "account is vetted"),
        (Role.AUDITOR, "never see what reporters wrote", "will vet"),
    ],
)
def test_enrolment_lands_signed_in_on_a_welcome_that_fits_the_account(
    app: FastAPI,
    admin_browser: StaffBrowser,
    fake_clock: Clock,
    role: Role,
    says: str,
    never: str,
) -> None:
    name = f"new-{role.value}".replace("_", "-")
    staff, _token = invited(app, admin_browser, name, role, fake_clock)
    # The welcome page again, in a browser of this person's signed in later.
    browser = TestClient(app)
    assert sign_in(browser, staff, fake_clock) == 303
    page = browser.get("/dashboard/welcome")
    assert page.status_code == 200
    assert says in page.text
    assert never not in page.text
