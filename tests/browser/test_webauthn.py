"""Security keys in a real Chromium, with its virtual authenticator (the DevTools protocol's
WebAuthn domain): the desk's own pages and script register a key, sign in with it, are
refused where the origin is not the desk's or the key is a clone whose counter went back, and
remove it.

The desk is served on ``http://localhost:<port>`` with HRD_PUBLIC_URL naming that very
address: localhost is a secure context, and a valid relying party id (an IP address is not).
"""

import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import CDPSession, Page
from sqlalchemy import select

from hrd_reports.models import AuditEvent, Role, WebAuthnCredential
from hrd_reports.settings import Settings
from hrd_reports.wiring import Runtime, build_runtime
from tests.browser.support import PAGE_TIMEOUT_MS
from tests.browser.test_dashboard import sign_in
from tests.dashboard_support import Clock, Staff, enrol, install_clock
from tests.helpers import Desk, Person
from tests.server import LiveServer

pytestmark = pytest.mark.browser

AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "usb",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


def _bound() -> socket.socket:
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    return listening


def _origin(listening: socket.socket) -> str:
    return f"http://localhost:{listening.getsockname()[1]}"


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    bound = _bound()
    yield bound
    bound.close()


@pytest.fixture
def settings(settings: Settings, listening: socket.socket) -> Settings:
    return Settings(**{**settings.model_dump(), "public_url": _origin(listening)})


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


@pytest.fixture
def server(
    settings: Settings, runtime: Runtime, desk: Desk, listening: socket.socket
) -> Iterator[LiveServer]:
    live = LiveServer(settings, runtime, listening=listening)
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def coordinator(desk: Desk, admin: Person, fake_clock: Clock) -> Staff:
    return enrol(desk, desk.add_vetted("cora", Role.COORDINATOR, by=admin), Role.COORDINATOR)


class Authenticators:
    """Chromium's virtual authenticators, on one page's DevTools session."""

    def __init__(self, page: Page) -> None:
        self.cdp: CDPSession = page.context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable")

    def add(self) -> str:
        added = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
        return str(added["authenticatorId"])

    def remove(self, authenticator: str) -> None:
        self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": authenticator})

    def credentials(self, authenticator: str) -> list[dict[str, Any]]:
        found = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
        return list(found["credentials"])

    def put(self, authenticator: str, credential: dict[str, Any]) -> None:
        self.cdp.send(
            "WebAuthn.addCredential", {"authenticatorId": authenticator, "credential": credential}
        )


def register_in_browser(page: Page, server: LiveServer, name: str) -> None:
    page.goto(server.url("/dashboard/password"))
    page.get_by_role("button", name="Add a security key").click()
    page.wait_for_url(re.compile(r"/dashboard/security-keys/new"))
    page.fill("#key-name", name)
    with page.expect_navigation():
        page.get_by_role("button", name="Register the key").click()
    page.wait_for_url(re.compile(r"/dashboard/password\?.*done=key_added"))


def key_sign_in_answer(page: Page, server: LiveServer, staff: Staff) -> int:
    """Name and password, no code, then the key: the status of the key step's answer."""
    page.goto(server.url("/dashboard/login"))
    page.fill("#name", staff.person.name)
    page.fill("#password", staff.person.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Use my security key").wait_for()
    with page.expect_response(
        lambda response: (
            response.request.method == "POST" and "/dashboard/login/security-key" in response.url
        )
    ) as answer:
        page.get_by_role("button", name="Use my security key").click()
    page.wait_for_load_state()
    return answer.value.status


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/dashboard/login\b"))


def refusals(desk: Desk) -> list[str]:
    with desk.session() as session:
        return [
            str(event.detail)
            for event in session.execute(
                select(AuditEvent)
                .where(AuditEvent.action == "user.webauthn.refused")
                .order_by(AuditEvent.seq)
            ).scalars()
        ]


def stored_count(desk: Desk) -> list[int]:
    with desk.session() as session:
        return [key.sign_count for key in session.execute(select(WebAuthnCredential)).scalars()]


def test_a_key_registers_signs_in_and_is_removed_in_chromium(
    page: Page, server: LiveServer, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    authenticators = Authenticators(page)
    authenticator = authenticators.add()
    sign_in(page, server, coordinator, fake_clock)
    register_in_browser(page, server, "virtual key")
    assert "virtual key" in page.get_by_test_id("security-keys").inner_text()
    (credential,) = authenticators.credentials(authenticator)
    assert credential["rpId"] == "localhost"
    assert credential["isResidentCredential"]
    sign_out(page)

    assert key_sign_in_answer(page, server, coordinator) == 303
    page.wait_for_url(re.compile(r"/dashboard(/reports)?(\?|$)"))
    assert page.get_by_role("button", name="Sign out").is_visible()
    assert stored_count(desk) == [authenticators.credentials(authenticator)[0]["signCount"]]

    # Removed from the account page: the key opens nothing any more, the code does again.
    page.goto(server.url("/dashboard/password"))
    page.get_by_role("button", name="Remove the key virtual key").click()
    page.wait_for_url(re.compile(r"done=key_removed"))
    assert page.get_by_test_id("security-keys").count() == 0
    sign_out(page)
    assert key_sign_in_answer(page, server, coordinator) == 401
    assert "security key is wrong" in page.get_by_role("alert").inner_text()
    sign_in(page, server, coordinator, fake_clock)


def test_a_cloned_authenticator_whose_counter_is_behind_is_refused_in_chromium(
    page: Page, server: LiveServer, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    authenticators = Authenticators(page)
    original = authenticators.add()
    sign_in(page, server, coordinator, fake_clock)
    register_in_browser(page, server, "original")
    sign_out(page)
    assert key_sign_in_answer(page, server, coordinator) == 303
    sign_out(page)

    # The same credential, private key and all, on another authenticator whose counter is
    # behind the one the desk last saw: what a cloned key looks like.
    (credential,) = authenticators.credentials(original)
    assert credential["signCount"] >= 2
    authenticators.remove(original)
    clone = authenticators.add()
    authenticators.put(clone, {**credential, "signCount": 0})
    assert key_sign_in_answer(page, server, coordinator) == 401
    assert refusals(desk)[-1] == (
        '{"reason":"sign counter went back (cloned key?)","via":"sign-in"}'
    )
    assert page.get_by_role("button", name="Sign out").count() == 0


def test_a_key_answering_for_another_origin_is_refused_by_the_desk(
    page: Page,
    server: LiveServer,
    settings: Settings,
    desk: Desk,
    coordinator: Staff,
    fake_clock: Clock,
) -> None:
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    authenticators = Authenticators(page)
    authenticators.add()
    sign_in(page, server, coordinator, fake_clock)
    register_in_browser(page, server, "office key")
    sign_out(page)

    # The same desk reached at another address (a relaying look-alike, here another port of
    # localhost: the relying party id matches, so the browser lets the key answer) while its
    # HRD_PUBLIC_URL names the real one: the answer carries the page's origin and is refused.
    elsewhere = _bound()
    relaying_settings = Settings(**{**settings.model_dump(), "public_url": server.origin})
    relaying_runtime = build_runtime(relaying_settings, migrate=False)
    relay = LiveServer(relaying_settings, relaying_runtime, listening=elsewhere)
    relay.start()
    try:
        assert relay.origin != server.origin
        assert key_sign_in_answer(page, relay, coordinator) == 401
    finally:
        relay.stop()
        relaying_runtime.close()
    assert refusals(desk)[-1] == '{"reason":"origin","via":"sign-in"}'


def test_a_page_on_an_address_that_is_no_relying_party_cannot_use_the_key(
    page: Page, server: LiveServer, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    # 127.0.0.1 instead of localhost: the browser itself refuses to ask the key for the
    # relying party "localhost", so nothing reaches the desk and nobody is signed in.
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    authenticators = Authenticators(page)
    authenticators.add()
    sign_in(page, server, coordinator, fake_clock)
    register_in_browser(page, server, "office key")
    sign_out(page)
    page.goto(server.url("/dashboard/login").replace("localhost", "127.0.0.1"))
    page.fill("#name", coordinator.person.name)
    page.fill("#password", coordinator.person.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Use my security key").click()
    status = page.locator("[data-key-status]")
    status.filter(has_text="did not answer").wait_for()
    assert page.get_by_role("button", name="Sign out").count() == 0
