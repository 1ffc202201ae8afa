"""The reporter pages by keyboard and screen reader: an error summary that takes the focus and
leads to each field, a receipt that takes the focus, a skip link, a visible focus ring, and a
quick exit that leaves nothing of the desk behind the Back button.
"""

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.browser.conftest import QUICK_EXIT_URL, LiveServer
from tests.browser.support import PAGE_TIMEOUT_MS, fill_report, send_and_read_receipt

pytestmark = pytest.mark.browser

NEUTRAL_PAGE = "<!doctype html><title>Neutral</title><p>A neutral page.</p>"
# Where the reporter was before opening the desk; intercepted, like the quick exit.
BEFORE_URL = "https://before-the-desk.invalid/"

ACTIVE_ID = "() => document.activeElement && document.activeElement.id"
SUMMARY_LINKS = """() => Array.from(document.querySelectorAll("[data-error-summary] a"),
  (a) => a.getAttribute("href"))"""


def _neutral(route: Route) -> None:
    route.fulfill(status=200, content_type="text/html", body=NEUTRAL_PAGE)


def _invalid(page: Page, field_id: str) -> tuple[str | None, str]:
    """The field's aria-invalid, and the text of the message it is described by."""
    field = page.locator(f"#{field_id}")
    described = field.get_attribute("aria-describedby") or ""
    message = page.locator(f"#{described}").text_content() if described else ""
    return field.get_attribute("aria-invalid"), (message or "").strip()


def test_report_form_with_missing_answers_focuses_a_summary_linked_to_each_field(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(live_server.url("/report"))
    form = page.locator("#report-form")

    page.click("#report-form button[type=submit]")

    summary = page.get_by_test_id("error-summary")
    expect(summary).to_be_focused()
    assert page.evaluate(SUMMARY_LINKS) == ["#incident_type", "#narrative"]
    assert _invalid(page, "incident_type") == ("true", form.get_attribute("data-msg-incident-type"))
    assert _invalid(page, "narrative") == ("true", form.get_attribute("data-msg-narrative"))

    # A link of the summary leads to its field, without adding an entry to the history.
    history = page.evaluate("() => history.length")
    summary.get_by_role("link", name=form.get_attribute("data-msg-narrative") or "").click()
    assert page.evaluate(ACTIVE_ID) == "narrative"
    assert page.evaluate("() => history.length") == history
    assert page.url == live_server.url("/report")

    # Answered, the field is no longer marked; what is still missing still is.
    page.fill("#narrative", "they followed me")
    page.click("#report-form button[type=submit]")
    expect(summary).to_be_focused()
    assert page.evaluate(SUMMARY_LINKS) == ["#incident_type"]
    assert page.locator("#narrative").get_attribute("aria-invalid") is None


def test_report_form_without_javascript_focuses_the_summary_the_server_sent(
    no_js_page: Page, live_server: LiveServer
) -> None:
    no_js_page.goto(live_server.url("/report"))
    no_js_page.fill("#district", "kept as typed")

    with no_js_page.expect_navigation():
        no_js_page.click("#report-form button[type=submit]")

    expect(no_js_page.get_by_test_id("error-summary")).to_be_focused()
    links = no_js_page.locator("[data-error-summary] a")
    assert [links.nth(n).get_attribute("href") for n in range(links.count())] == [
        "#incident_type",
        "#narrative",
    ]
    for field in ("incident_type", "narrative"):
        invalid, message = _invalid(no_js_page, field)
        assert invalid == "true"
        assert message
    assert no_js_page.input_value("#district") == "kept as typed"


def test_receipt_takes_the_focus_and_the_copy_button_says_it_copied(
    new_context: Callable[..., BrowserContext], live_server: LiveServer
) -> None:
    context = new_context()
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.origin)
    page = context.new_page()
    page.goto(live_server.url("/report"))
    fill_report(page, "a report whose receipt is copied")

    receipt = send_and_read_receipt(page)

    expect(page.get_by_test_id("receipt")).to_be_focused()
    status = page.get_by_test_id("copy-status")
    assert status.text_content() == ""
    page.click("#copy-receipt")
    expect(status).to_have_text(page.get_attribute("#copy-receipt", "data-msg-copied") or "")
    assert status.get_attribute("role") == "status"
    assert page.evaluate("() => navigator.clipboard.readText()") == receipt


def test_skip_link_comes_first_and_moves_the_focus_to_the_content(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(live_server.url("/report?lang=ar"))

    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    expect(skip).to_be_focused()
    assert skip.is_visible()  # shown once focused, not only to screen readers
    page.keyboard.press("Enter")

    assert page.evaluate("() => document.activeElement.localName") == "main"
    # The next Tab goes on from the content, past the bar at the top.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('main') !== null")


OUTLINE = """(el) => { const style = getComputedStyle(el);
  return [el.matches(":focus-visible"), style.outlineStyle, parseFloat(style.outlineWidth)]; }"""


@pytest.mark.parametrize("selector", [".quick-exit", "#report-form button[type=submit]"])
def test_keyboard_focus_shows_a_ring(page: Page, live_server: LiveServer, selector: str) -> None:
    page.goto(live_server.url("/report"))
    target = page.locator(selector)
    # Tab until the control has the focus, as a keyboard user gets there.
    for _ in range(200):
        page.keyboard.press("Tab")
        if target.evaluate("(el) => el === document.activeElement"):
            break
    visible, style, width = target.evaluate(OUTLINE)
    assert visible
    assert style != "none"
    assert width >= 2


def test_quick_exit_by_keyboard_leaves_nothing_of_the_desk_behind_back(
    page: Page, live_server: LiveServer
) -> None:
    page.route(QUICK_EXIT_URL, _neutral)
    page.route(BEFORE_URL, _neutral)
    page.goto(BEFORE_URL)
    page.goto(live_server.url("/"))
    # Through the desk by keyboard: its links replace the history entry.
    page.get_by_role("link", name="Start a report").press("Enter")
    page.wait_for_url(live_server.url("/report?lang=en"))
    page.get_by_test_id("inbox-link").press("Enter")
    page.wait_for_url(live_server.url("/inbox?lang=en"))

    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")
    expect(page.locator("[data-quick-exit]")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(QUICK_EXIT_URL)

    page.go_back()
    assert page.url == BEFORE_URL
    back_again: Any = page.go_back()
    assert back_again is None or not back_again.url.startswith(live_server.origin)
    assert not page.url.startswith(live_server.origin)


def test_inbox_refusal_focuses_the_summary_linked_to_the_receipt_field(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(live_server.url("/inbox"))
    page.fill("#receipt", "1234")

    page.click("[data-testid=inbox-open]")

    expect(page.get_by_test_id("error-summary")).to_be_focused()
    mistyped = page.get_attribute("#inbox-form", "data-msg-mistyped")
    assert page.evaluate(SUMMARY_LINKS) == ["#receipt"]
    assert page.get_by_test_id("inbox-error").text_content() == mistyped
    assert _invalid(page, "receipt") == ("true", mistyped)
