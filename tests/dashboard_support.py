"""Staff members in the dashboard over HTTP, for tests: a clock the test moves, a second
factor given through an invitation, signing in with password and code, form tokens, a
signed-in browser, a coordinator and a case worker as fixtures, and the cookies a response
sets."""

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import urlsplit
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from hrd_reports.crypto import totp
from hrd_reports.models import Role
from hrd_reports.services import accounts, clock, signin
from hrd_reports.web.auth import SESSION_COOKIE_PLAIN
from tests.helpers import Desk, Person, hidden_value


class Clock:
    """The services' clock, moved by the test: each code of a step works once."""

    def __init__(self) -> None:
        # Today's time, as a browser's clock has it too: only the services' clock is moved.
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def install_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Put a test's clock in the services' place (a test module's ``fake_clock`` fixture)."""
    moved = Clock()
    monkeypatch.setattr(clock, "utc_now", moved)
    return moved


@dataclass(frozen=True)
class Staff:
    person: Person
    secret: bytes

    def code(self, now: dt.datetime) -> str:
        """What the person's authenticator app shows at ``now``."""
        return totp.code_for(self.secret, totp.step_at(now.timestamp()))


def enrol(desk: Desk, person: Person, role: Role) -> Staff:
    """Give an existing account its second factor through an invitation, as a person would."""
    secret = totp.new_secret()
    with desk.session() as session:
        token = accounts.invite(
            session,
            name=person.name,
            role=role,
            actor="test",
            valid_for=dt.timedelta(hours=1),
            secrets=desk.secrets,
        )
        session.commit()
    with desk.session() as session:
        accounts.accept_invitation(
            session,
            token=token,
            password=person.password,
            totp_secret=secret,
            code=totp.code_for(secret, totp.step_at(clock.utc_now().timestamp())),
            passwords=desk.runtime.passwords,
            secrets=desk.secrets,
            throttle=signin.Throttle(max_failures=5, lockout=dt.timedelta(minutes=15)),
        )
        session.commit()
    return Staff(person, secret)


def sign_in(client: TestClient, staff: Staff, fake_clock: Clock, *, code: str | None = None) -> int:
    # A new time step: each code works once.
    fake_clock.advance(totp.STEP_SECONDS)
    response = client.post(
        "/dashboard/login",
        data={
            "name": staff.person.name,
            "password": staff.person.password,
            "code": code or staff.code(fake_clock.now),
            "form_token": hidden_value(client.get("/dashboard/login").text, "form_token"),
        },
        follow_redirects=False,
    )
    return response.status_code


def csrf_of(client: TestClient, path: str) -> str:
    return hidden_value(client.get(path).text, "csrf_token")


class StaffBrowser:
    """One staff member's browser, signed in to the dashboard with password and code."""

    def __init__(self, app: FastAPI, staff: Staff, fake_clock: Clock) -> None:
        self.client = TestClient(app)
        assert sign_in(self.client, staff, fake_clock) == 303
        cookie = self.client.cookies.get(SESSION_COOKIE_PLAIN)
        assert cookie is not None
        self.cookie = cookie
        self.csrf = csrf_of(self.client, "/dashboard")

    def page(self, path: str) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, response.text
        return response.text

    def report(self, report_id: UUID) -> str:
        return self.page(f"/dashboard/reports/{report_id}")

    def post(self, path: str, *, expect: int = 303, **fields: str) -> str:
        response = self.client.post(
            path, data={**fields, "csrf_token": self.csrf}, follow_redirects=False
        )
        assert response.status_code == expect, response.text
        return response.text


# The staff of a dashboard test module, as fixtures: Cora the coordinator and Wafa the case
# worker, enrolled, then each signed in to the app of the folder's ``client`` fixture. A module
# imports the ``fixture_`` functions to have them, under the names given to pytest; the
# functions are named apart so that a test's argument does not redefine an imported name.
# Each asks for ``fake_clock`` so that the test's clock is in place before a code is read.


@pytest.fixture(name="coordinator")
def fixture_coordinator(desk: Desk, admin: Person, fake_clock: Clock) -> Staff:
    return enrol(desk, desk.add_vetted("cora", Role.COORDINATOR, by=admin), Role.COORDINATOR)


@pytest.fixture(name="worker")
def fixture_worker(desk: Desk, admin: Person, fake_clock: Clock) -> Staff:
    return enrol(desk, desk.add_vetted("wafa", Role.CASE_WORKER, by=admin), Role.CASE_WORKER)


@pytest.fixture(name="cora")
def fixture_cora(client: TestClient, coordinator: Staff, fake_clock: Clock) -> StaffBrowser:
    return StaffBrowser(client.app, coordinator, fake_clock)  # type: ignore[arg-type]


@pytest.fixture(name="wafa")
def fixture_wafa(client: TestClient, worker: Staff, fake_clock: Clock) -> StaffBrowser:
    return StaffBrowser(client.app, worker, fake_clock)  # type: ignore[arg-type]


def invited(
    app: FastAPI, head: StaffBrowser, name: str, role: Role, fake_clock: Clock
) -> tuple[Staff, str]:
    """A new account through the dashboard's invitation, as ``head`` (an administrator) and
    the new person do it in their browsers: the password and the second factor pass through
    the web forms. Also the invitation's token (only its hash is kept)."""
    page = head.post("/dashboard/users", expect=200, name=name, role=role.value)
    link = re.search(r'data-testid="invitation-link"[^>]*>([^<]+)<', page)
    assert link is not None
    path = urlsplit(link.group(1)).path
    browser = TestClient(app)
    shown = re.search(r'name="totp_secret" value="([^"]+)"', browser.get(path).text)
    assert shown is not None
    secret = totp.parse_secret_text(shown.group(1))
    assert secret is not None
    person = Person(name, f"a new {role.value.replace('_', ' ')}'s own long passphrase 8841")
    fake_clock.advance(totp.STEP_SECONDS)
    response = browser.post(
        path,
        data={
            "password": person.password,
            "password_again": person.password,
            "totp_secret": shown.group(1),
            "code": Staff(person, secret).code(fake_clock.now),
        },
    )
    assert response.status_code == 200, response.text
    assert "Your account is ready" in response.text
    return Staff(person, secret), path.rsplit("/", 1)[1]


@dataclass(frozen=True)
class SetCookie:
    """A cookie as a response sets it (or deletes it: ``max-age`` 0)."""

    name: str
    value: str
    attributes: dict[str, str]


def set_cookies(response: Response) -> dict[str, SetCookie]:
    found = {}
    for header in response.headers.get_list("set-cookie"):
        pair, *attributes = (part.strip() for part in header.split(";"))
        name, _, value = pair.partition("=")
        found[name] = SetCookie(
            name,
            value.strip('"'),
            {
                key.lower(): setting
                for key, _, setting in (attribute.partition("=") for attribute in attributes)
            },
        )
    return found


def assert_dashboard_cookie(cookie: SetCookie, *, secure: bool) -> None:
    """Out of scripts' reach, never sent with another site's requests, for the whole origin
    and no other; Secure with the __Host- prefix exactly where browsers use https."""
    assert cookie.name.startswith("__Host-") == secure
    assert "httponly" in cookie.attributes
    assert cookie.attributes["samesite"].lower() == "strict"
    assert cookie.attributes["path"] == "/"
    assert ("secure" in cookie.attributes) == secure
    assert "domain" not in cookie.attributes


def enrolled_steps_ago(
    desk: Desk, person: Person, role: Role, monkeypatch: pytest.MonkeyPatch
) -> Staff:
    """``person`` enrolled three time steps ago: the code their app shows now is fresh for a
    server of its own, whose clock is the real one (each code works once)."""
    earlier = clock.utc_now() - dt.timedelta(seconds=3 * totp.STEP_SECONDS)
    with monkeypatch.context() as moved:
        moved.setattr(clock, "utc_now", lambda: earlier)
        return enrol(desk, person, role)


def signed_in_over_http(base_url: str, staff: Staff) -> httpx.Client:
    """A browser of ``staff`` signed in to a real server, with the code their app shows now."""
    browser = httpx.Client(base_url=base_url, timeout=60)
    form = browser.get("/dashboard/login").text
    answer = browser.post(
        "/dashboard/login",
        data={
            "name": staff.person.name,
            "password": staff.person.password,
            "code": staff.code(dt.datetime.now(dt.UTC)),
            "form_token": hidden_value(form, "form_token"),
        },
    )
    assert answer.status_code == 303, answer.text
    return browser
