"""Every account made outside the dashboard enrols its second factor through the real form.

An account made by ``init``, by the setup page or by ``user add`` has a password but no
authenticator. The setup page leads straight on to enrolling one; ``user invite NAME`` sends
the others a link. That form once sent an empty hidden "password again" that the server
refused with raw JSON: the first administrator could never sign in to the dashboard, while
every test that enrolled through the service passed. Here a real Chromium fills the very form
a person fills, lands signed in, and later signs in again.
"""

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from hrd_reports.crypto import totp
from hrd_reports.db import unit_of_work
from hrd_reports.services import desk as desk_service
from hrd_reports.settings import Settings
from hrd_reports.wiring import Runtime
from tests.browser.support import PAGE_TIMEOUT_MS
from tests.cli import invoke
from tests.dashboard_support import Clock, install_clock
from tests.helpers import Person
from tests.server import LiveServer

pytestmark = pytest.mark.browser

FIRST_ADMIN = Person("first-admin", "the first administrator's own passphrase 5521")
LATER = Person("later-coordinator", "a coordinator added from the command line 7730")


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


@pytest.fixture
def server(settings: Settings, runtime: Runtime) -> Iterator[LiveServer]:
    """The server on a desk that is not set up yet: each test sets it up its own way."""
    live = LiveServer(settings, runtime)
    live.start()
    try:
        yield live
    finally:
        live.stop()


def set_up_with_init(cli_env: dict[str, str], _page: Page, _server: LiveServer) -> None:
    done = invoke(
        cli_env, "init", "--admin", FIRST_ADMIN.name, "--password-stdin",
        stdin=FIRST_ADMIN.password + "\n",
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr


def set_up_with_the_setup_page(
    runtime: Runtime, page: Page, server: LiveServer, workdir: Path
) -> None:
    """The setup page, then the recovery key confirmed saved: on to the enrolment form."""
    # As ``serve`` does on a fresh desk: a one-time link, printed on its console.
    with unit_of_work(runtime.sessions) as session:
        token = desk_service.issue_setup_link(session, valid_for=dt.timedelta(hours=1))
        session.commit()
    page.goto(server.url(f"/setup/{token}"))
    page.fill("#admin_name", FIRST_ADMIN.name)
    page.fill("#password", FIRST_ADMIN.password)
    page.fill("#password_again", FIRST_ADMIN.password)
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("recovery-key").is_visible(), page.content()[:2000]
    page.get_by_role("checkbox").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/dashboard/invitation/"))


def open_enrolment_link(cli_env: dict[str, str], page: Page, server: LiveServer, name: str) -> None:
    invited = invoke(cli_env, "user", "invite", name)
    assert invited.exit_code == 0, invited.stderr
    link = re.search(r"/dashboard/invitation/(\S+)", invited.stdout)
    assert link is not None, invited.stdout
    page.goto(server.url(f"/dashboard/invitation/{link.group(1)}"))


def enrol_in_the_browser(page: Page, server: LiveServer, person: Person, fake_clock: Clock) -> str:
    """The enrolment form filled as a person does, on the page that is open, then a sign-out
    and a sign-in with the app's next code; what the page they landed on after enrolling said
    of their account, for the test to check."""
    # The account has a password already: the form asks for it once, not for a new one.
    assert page.locator("#password_again").count() == 0
    secret = totp.parse_secret_text(page.get_by_test_id("totp-secret").inner_text())
    assert secret is not None
    page.fill("#password", person.password)
    page.fill("#code", totp.code_for(secret, totp.step_at(fake_clock.now.timestamp())))
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.locator("form button[type=submit]").click()
    assert answer.value.status == 303, page.content()[:2000]
    # Signed in at once, on a page that says what the account can do now.
    page.wait_for_url(re.compile(r"/dashboard/welcome\b"))
    welcome = page.get_by_test_id("welcome").inner_text()
    assert person.name in page.locator("header").inner_text()

    # Signed out, then signed in again with the next code of the app.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/dashboard/login\b"))
    fake_clock.advance(totp.STEP_SECONDS)
    page.goto(server.url("/dashboard/login"))
    page.fill("#name", person.name)
    page.fill("#password", person.password)
    page.fill("#code", totp.code_for(secret, totp.step_at(fake_clock.now.timestamp())))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/dashboard/(reports|users)\b"))
    assert page.get_by_role("button", name="Sign out").is_visible()
    return welcome


@pytest.mark.parametrize("made_by", ["init", "the setup page"])
def test_first_administrator_enrols_through_the_form_and_signs_in(
    made_by: str,
    page: Page,
    server: LiveServer,
    runtime: Runtime,
    cli_env: dict[str, str],
    workdir: Path,
    fake_clock: Clock,
) -> None:
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    if made_by == "init":
        set_up_with_init(cli_env, page, server)
        open_enrolment_link(cli_env, page, server, FIRST_ADMIN.name)
    else:
        set_up_with_the_setup_page(runtime, page, server, workdir)
    welcome = enrol_in_the_browser(page, server, FIRST_ADMIN, fake_clock)
    # The first administrator is vetted by the setup itself: nobody is waiting to vet them.
    assert "account is vetted" in welcome


def test_account_made_by_user_add_enrols_through_the_form_and_signs_in(
    page: Page, server: LiveServer, cli_env: dict[str, str], fake_clock: Clock
) -> None:
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    set_up_with_init(cli_env, page, server)
    added = invoke(
        cli_env, "user", "add", LATER.name, "--role", "coordinator", "--password-stdin",
        stdin=LATER.password + "\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.stderr
    open_enrolment_link(cli_env, page, server, LATER.name)
    assert "A coordinator will vet" in enrol_in_the_browser(page, server, LATER, fake_clock)


def test_enrolment_wrong_code_keeps_the_same_key_and_says_what_to_do(
    page: Page, server: LiveServer, runtime: Runtime, workdir: Path, fake_clock: Clock
) -> None:
    """A mistyped code must not make the person scan a new QR code: the app holds the first."""
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    set_up_with_the_setup_page(runtime, page, server, workdir)
    shown = page.get_by_test_id("totp-secret").inner_text()
    secret = totp.parse_secret_text(shown)
    assert secret is not None
    right = totp.code_for(secret, totp.step_at(fake_clock.now.timestamp()))
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    page.fill("#password", FIRST_ADMIN.password)
    page.fill("#code", wrong)
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()
    assert "do not need to scan again" in page.get_by_role("alert").inner_text()
    assert page.get_by_test_id("totp-secret").inner_text() == shown

    assert "account is vetted" in enrol_in_the_browser(page, server, FIRST_ADMIN, fake_clock)
