"""The notifications page in a real browser: a coordinator chooses e-mail notifications
through the form, with and without JavaScript, in English and in Arabic on a phone's width,
and the navigation counts the reporters' messages nobody has read."""

import re
from typing import Any

import pytest
from playwright.sync_api import Page

from hrd_reports.crypto import totp
from hrd_reports.models import Role
from tests.browser.conftest import LiveServer
from tests.browser.support import PAGE_TIMEOUT_MS
from tests.dashboard_support import Clock, Staff, enrol, install_clock
from tests.helpers import Desk, Person
from tests.unit.services.conversation_support import post
from tests.unit.services.reading_support import content

pytestmark = pytest.mark.browser

ADDRESS = "cora.desk@example.org"


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


@pytest.fixture
def cora(desk: Desk, admin: Person, fake_clock: Clock) -> Staff:
    return enrol(desk, desk.add_vetted("cora", Role.COORDINATOR, by=admin), Role.COORDINATOR)


def sign_in(page: Page, server: LiveServer, staff: Staff, fake_clock: Clock, lang: str) -> None:
    fake_clock.advance(totp.STEP_SECONDS)
    page.goto(server.url(f"/dashboard/login?lang={lang}"))
    page.fill("#name", staff.person.name)
    page.fill("#password", staff.person.password)
    page.fill("#code", staff.code(fake_clock.now))
    page.locator("form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/dashboard/reports\b"))


def choose_at_once(page: Page) -> None:
    page.locator("nav a[href*='/dashboard/notifications']").click()
    page.wait_for_url(re.compile(r"/dashboard/notifications\b"))
    page.check("input[name=choice][value=urgent_and_digest]")
    page.fill("#address", ADDRESS)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"saved=true"))


def test_notifications_form_in_a_browser_saves_and_confirms(
    live_server: LiveServer, desk: Desk, cora: Staff, fake_clock: Clock, page: Page
) -> None:
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text))
    submitted = desk.submit(content("a report with a message"))
    post(desk, submitted, "a message nobody has read")

    sign_in(page, live_server, cora, fake_clock, "en")
    assert page.get_by_test_id("nav-unread").inner_text() == "1"
    choose_at_once(page)

    assert page.get_by_test_id("notifications-saved").is_visible()
    assert page.is_checked("input[name=choice][value=urgent_and_digest]")
    assert page.input_value("#address") == ADDRESS
    assert errors == []  # no script or style refused by the page's policy


def test_notifications_form_without_javascript_in_arabic_fits_a_phone(
    live_server: LiveServer, cora: Staff, fake_clock: Clock, new_context: Any
) -> None:
    context = new_context(
        java_script_enabled=False, locale="ar-IQ", viewport={"width": 360, "height": 740}
    )
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = context.new_page()

    sign_in(page, live_server, cora, fake_clock, "ar")
    choose_at_once(page)

    assert page.get_attribute("html", "dir") == "rtl"
    assert page.get_by_test_id("notifications-saved").is_visible()
    assert page.is_checked("input[name=choice][value=urgent_and_digest]")
    # Nothing wider than the phone: no sideways scrolling to reach the form.
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1]
    # The address field reads left to right in the right-to-left page.
    assert page.get_attribute("#address", "dir") == "ltr"
