"""Signing in to the dashboard over HTTP: the cookies it sets, and the same Argon2 work for
every refusal, so that the answer's timing tells a guesser nothing."""

from collections.abc import Callable, Iterator
from typing import Any

import argon2
import pytest
from fastapi.testclient import TestClient

from hrd_reports.crypto import passwords
from hrd_reports.models import Role
from hrd_reports.services import users
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.dashboard_support import (
    Clock,
    Staff,
    assert_dashboard_cookie,
    enrol,
    install_clock,
    set_cookies,
)
from tests.helpers import Desk, Person, hidden_value

PUBLIC_HTTPS = "https://desk.example.org"
ONION = f"http://{'a' * 56}.onion"


@pytest.fixture
def public_url() -> str | None:
    return None


@pytest.fixture
def settings(settings: Settings, public_url: str | None) -> Settings:
    return Settings(**{**settings.model_dump(), "public_url": public_url})


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


@pytest.fixture
def coordinator(desk: Desk, admin: Person, fake_clock: Clock) -> Staff:
    return enrol(desk, desk.add_vetted("cora", Role.COORDINATOR, by=admin), Role.COORDINATOR)


# ---- the cookies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "public_url", "secure"),
    [
        pytest.param("http", None, False, id="http"),
        pytest.param("https", None, True, id="https"),
        # TLS ends at a proxy in front; the desk itself sees plain http.
        pytest.param("http", PUBLIC_HTTPS, True, id="http-behind-https-public-url"),
        pytest.param("http", ONION, False, id="http-onion-public-url"),
        pytest.param("https", ONION, True, id="https-onion-public-url"),
    ],
)
def test_sign_in_cookies_are_httponly_strict_and_secure_with_host_prefix_where_https(
    settings: Settings,
    runtime: Runtime,
    coordinator: Staff,
    fake_clock: Clock,
    scheme: str,
    secure: bool,
) -> None:
    # The cookies go back by hand: a client does not return a Secure cookie over plain http,
    # which is what the desk sees behind a proxy.
    client = TestClient(create_app(settings, runtime=runtime), base_url=f"{scheme}://testserver")
    form = client.get("/dashboard/login")
    (login_cookie,) = set_cookies(form).values()
    assert_dashboard_cookie(login_cookie, secure=secure)
    assert login_cookie.name.removeprefix("__Host-") == "hrd-sign-in"

    fake_clock.advance(30)
    signed_in = client.post(
        "/dashboard/login",
        data={
            "name": coordinator.person.name,
            "password": coordinator.person.password,
            "code": coordinator.code(fake_clock.now),
            "form_token": hidden_value(form.text, "form_token"),
        },
        headers={"cookie": f"{login_cookie.name}={login_cookie.value}"},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    cookies = set_cookies(signed_in)
    session_name = "__Host-hrd-session" if secure else "hrd-session"
    assert_dashboard_cookie(cookies[session_name], secure=secure)
    # The form's cookie is deleted with the attributes it was set with, or the browser would
    # ignore the deletion of a __Host- cookie.
    assert_dashboard_cookie(cookies[login_cookie.name], secure=secure)
    assert cookies[login_cookie.name].attributes["max-age"] == "0"

    session_cookie = {"cookie": f"{session_name}={cookies[session_name].value}"}
    page = client.get("/dashboard/reports", headers=session_cookie)
    assert page.status_code == 200
    signed_out = client.post(
        "/dashboard/logout",
        data={"csrf_token": hidden_value(page.text, "csrf_token")},
        headers=session_cookie,
        follow_redirects=False,
    )
    assert signed_out.status_code == 303
    deleted = set_cookies(signed_out)[session_name]
    assert_dashboard_cookie(deleted, secure=secure)
    assert deleted.attributes["max-age"] == "0"


@pytest.mark.parametrize("public_url", [None, ONION])
def test_forwarded_proto_https_does_not_make_cookies_secure(settings: Settings) -> None:
    # Only the connection and HRD_PUBLIC_URL count: any client can send these headers.
    forged = {"x-forwarded-proto": "https", "forwarded": "proto=https", "x-forwarded-ssl": "on"}
    with TestClient(create_app(settings)) as client:
        form = client.get("/dashboard/login", headers=forged)
    (login_cookie,) = set_cookies(form).values()
    assert_dashboard_cookie(login_cookie, secure=False)


# ---- the same work for every refusal --------------------------------------------------------


class Argon2Spy:
    """Counts the Argon2 computations of the password protection, whoever calls them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        for owner, name in (
            (argon2.PasswordHasher, "verify"),
            (argon2.PasswordHasher, "hash"),
            (passwords, "hash_secret_raw"),
        ):
            monkeypatch.setattr(owner, name, self._counting(name, getattr(owner, name)))

    def _counting(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return original(*args, **kwargs)

        return counted

    def take(self) -> list[str]:
        spent, self.calls = self.calls, []
        return spent


@pytest.fixture
def client(settings: Settings, runtime: Runtime, desk: Desk) -> Iterator[TestClient]:
    with TestClient(create_app(settings, runtime=runtime)) as test_client:
        yield test_client


def _attempt(client: TestClient, name: str, password: str, code: str) -> int:
    form_token = hidden_value(client.get("/dashboard/login").text, "form_token")
    response = client.post(
        "/dashboard/login",
        data={"name": name, "password": password, "code": code, "form_token": form_token},
        follow_redirects=False,
    )
    return response.status_code


def test_web_sign_in_refusals_each_cost_one_argon2_verification(
    client: TestClient,
    desk: Desk,
    coordinator: Staff,
    fake_clock: Clock,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Timing is not measured (tests never assert on wall-clock time): what is checked is that
    # an unknown name, a disabled account and a locked one run the very Argon2 work of a
    # known name with a wrong password. Without the dummy verification they would answer
    # sooner, and the time would tell a guesser which names exist and which are locked.
    staff = coordinator.person
    desk.add("dora", Role.CASE_WORKER)
    with desk.session() as session:
        users.get_user(session, "dora").disabled = True
        session.commit()
    code = coordinator.code(fake_clock.now)
    spy = Argon2Spy(monkeypatch)
    spent = {}

    assert _attempt(client, staff.name, "not the password at all", code) == 401
    spent["wrong password"] = spy.take()
    assert _attempt(client, "nobody-here", staff.password, code) == 401
    spent["unknown name"] = spy.take()
    assert _attempt(client, "dora", "not the password at all", code) == 401
    spent["disabled account"] = spy.take()
    for _ in range(settings.login_max_failures - 1):
        assert _attempt(client, staff.name, "still not the password", code) == 401
    spy.take()
    # Locked now: even the right password and a fresh code are refused.
    fake_clock.advance(30)
    assert _attempt(client, staff.name, staff.password, coordinator.code(fake_clock.now)) == 401
    spent["locked account"] = spy.take()

    assert spent == {refusal: ["verify"] for refusal in spent}
