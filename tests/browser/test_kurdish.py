"""A reporter who reads Sorani or Kurmanji, on a phone, in a real browser: the first page in
their browser's language, a report sent and its receipt in the page's digits, the desk's reply
read in the inbox, all in that language and at 360 px; and a case worker who chooses Sorani for
the dashboard in their account."""

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page

from hrd_reports.i18n import locale
from hrd_reports.models import ReporterStage
from hrd_reports.services import clock
from hrd_reports.web.labels import STAGE_TEXTS
from hrd_reports.web.pages import day_text
from tests.browser.conftest import LiveServer
from tests.browser.support import PAGE_TIMEOUT_MS, Recorder, fill_report, send_and_read_receipt
from tests.browser.test_dashboard import cora, fake_clock, sign_in  # noqa: F401 - fixtures
from tests.browser.test_inbox import open_inbox, shown_messages, stored_report_ids
from tests.dashboard_support import Clock, Staff
from tests.helpers import Desk, Person, report_content

pytestmark = pytest.mark.browser

NewContext = Callable[..., BrowserContext]
PHONE = {"width": 360, "height": 740}
# The browser's own language setting, as a phone set to each language sends it.
BROWSER_LOCALES = {"ckb": "ckb-IQ", "kmr": "ku"}
DIGITS = {"ckb": "٠١٢٣٤٥٦٧٨٩", "kmr": "0123456789"}
REPLIES = {"ckb": "ڕاپۆرتەکەت گەیشت. ئایا سەلامەتیت؟", "kmr": "Rapora te gihîşt. Tu ewle yî?"}


def _phone(new_context: NewContext, code: str) -> tuple[Page, Recorder]:
    context = new_context(viewport=PHONE, locale=BROWSER_LOCALES[code], has_touch=True)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    recorder = Recorder()
    recorder.attach(context)
    return context.new_page(), recorder


def _language_of(page: Page) -> tuple[str | None, str | None]:
    html = page.locator("html")
    return html.get_attribute("lang"), html.get_attribute("dir")


def _fits_the_screen(page: Page) -> bool:
    """Nothing wider than the phone: no sideways scrolling to read a line."""
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width <= PHONE["width"]


@pytest.mark.parametrize("code", ["ckb", "kmr"])
def test_a_report_and_its_reply_in_kurdish_on_a_phone(
    new_context: NewContext, live_server: LiveServer, desk: Desk, admin: Person, code: str
) -> None:
    page, recorder = _phone(new_context, code)
    gettext = locale(code).translations.gettext
    direction = locale(code).direction

    # The first page follows the phone's language; its links keep it.
    page.goto(live_server.url("/"))
    assert _language_of(page) == (code, direction)
    page.goto(live_server.url(f"/report?lang={code}"))
    assert page.get_by_role("heading", level=1).inner_text() == gettext("Report an incident")
    assert _fits_the_screen(page)

    fill_report(page, f"CANARY-{code} they followed me from the office")
    receipt = send_and_read_receipt(page)
    assert set(receipt) <= set(DIGITS[code] + " ")
    assert _fits_the_screen(page)
    (report_id,) = stored_report_ids(desk)
    desk.reply(report_id, REPLIES[code], by=admin)

    page.check("[data-testid=receipt-confirm]")
    page.click("#receipt-done")
    page.wait_for_url(live_server.url(f"/report/done?lang={code}"))
    page.click("[data-testid=inbox-link]")
    page.wait_for_url(live_server.url(f"/inbox?lang={code}"))
    assert _language_of(page) == (code, direction)

    # The receipt as the page showed it opens the inbox; so would any digits.
    open_inbox(page, receipt)
    assert shown_messages(page) == [("desk", REPLIES[code])]
    stage = page.locator("[data-testid=inbox-stage]").text_content()
    assert stage == gettext(STAGE_TEXTS[ReporterStage.RECEIVED.value])
    assert stage != STAGE_TEXTS[ReporterStage.RECEIVED.value]
    assert _fits_the_screen(page)
    assert page.input_value("#receipt") == ""  # the receipt does not stay on the screen
    assert page.context.cookies() == []
    assert recorder.page_errors == []
    assert recorder.console_errors == []
    elsewhere = [r.url for r in recorder.requests if not r.url.startswith(live_server.origin)]
    assert elsewhere == []


def test_a_case_worker_reads_the_dashboard_in_sorani_after_choosing_it(
    new_context: NewContext,
    live_server: LiveServer,
    desk: Desk,
    cora: Staff,  # noqa: F811 - the fixture
    fake_clock: Clock,  # noqa: F811 - the fixture
) -> None:
    context = new_context(viewport=PHONE)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = context.new_page()
    sign_in(page, live_server, cora, fake_clock)
    page.get_by_role("link", name="Your account").click()
    page.get_by_role("radio", name="کوردی").check()
    page.get_by_role("button", name="Save the language").click()

    gettext = locale("ckb").translations.gettext
    page.wait_for_url(re.compile(r"/dashboard/password\?done=language#language$"))
    assert _language_of(page) == ("ckb", "rtl")
    assert page.locator("[data-testid=done]").inner_text() == gettext(
        "Your dashboard is now in the language you chose."
    )
    assert page.get_by_role("heading", level=1).inner_text() == gettext("Your account")
    # Every page after it, reached through the navigation, is in Sorani.
    page.get_by_role("link", name=gettext("Reports")).first.click()
    assert _language_of(page) == ("ckb", "rtl")
    assert page.get_by_role("heading", level=1).inner_text() == gettext("Reports")
    assert _fits_the_screen(page)


@pytest.mark.parametrize("code", ["ckb", "kmr"])
def test_the_inbox_writes_a_messages_day_as_the_language_does(
    new_context: NewContext, live_server: LiveServer, desk: Desk, admin: Person, code: str
) -> None:
    submitted = desk.submit(report_content("a report whose reply is dated"))
    desk.reply(submitted.report_id, REPLIES[code], by=admin)
    page, _ = _phone(new_context, code)
    page.goto(live_server.url(f"/inbox?lang={code}"))
    open_inbox(page, submitted.receipt)
    day = page.locator("[data-testid=inbox-message] .message-meta bdi").inner_text()
    assert day == day_text(code, clock.utc_today())
    assert re.search(r"\d{4}-\d{2}-\d{2}", day) is None
