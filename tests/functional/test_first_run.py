"""The staff side's first steps: what the invitation form proposes, and what the page a person
lands on after enrolling says of their account."""

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hrd_reports.crypto import totp
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


def test_enrolment_in_arabic_lands_on_the_welcome_page_in_arabic(
    app: FastAPI, admin_browser: StaffBrowser, fake_clock: Clock
) -> None:
    page = admin_browser.post("/dashboard/users", expect=200, name="layla", role="case_worker")
    link = re.search(r'data-testid="invitation-link"[^>]*>([^<]+)<', page)
    assert link is not None
    path = urlsplit(link.group(1)).path
    browser = TestClient(app)
    shown = re.search(r'name="totp_secret" value="([^"]+)"', browser.get(path).text)
    assert shown is not None
    secret = totp.parse_secret_text(shown.group(1))
    assert secret is not None
    fake_clock.advance(totp.STEP_SECONDS)
    password = "a case worker's own long passphrase 5521"
    answer = browser.post(
        f"{path}?lang=ar",
        data={
            "password": password,
            "password_again": password,
            "totp_secret": shown.group(1),
            "code": totp.code_for(secret, totp.step_at(fake_clock.now.timestamp())),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/welcome?lang=ar"
    welcome = browser.get(answer.headers["location"])
    assert 'lang="ar"' in welcome.text
    assert 'dir="rtl"' in welcome.text
