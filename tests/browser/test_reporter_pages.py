"""What a reporter's browser does on the reporter pages, beyond the encryption (DESIGN.md 2.3).

No cookie, nothing from another origin, the strict headers on everything the page loads; a
quick exit that leaves no way back to the words; a receipt that cannot be lost by a hasty
click; and the Arabic pages right to left, with Arabic reports arriving intact.
"""

import base64
import hashlib
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, Route

from hrd_reports.i18n import locale
from hrd_reports.resources import resource_dir
from tests.browser.conftest import QUICK_EXIT_URL, LiveServer
from tests.browser.support import (
    Recorder,
    fill_report,
    record_dialogs,
    report_ids,
    send_and_read_receipt,
    show_report,
)
from tests.helpers import Person, pinned_reporter_policy

pytestmark = pytest.mark.browser

# Written out, not imported: weakening hrd_reports.web.headers must fail this test.
STRICT_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; worker-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
EVERY_RESPONSE_HEADERS = {
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
NEUTRAL_PAGE = "<!doctype html><title>Neutral</title><p>A neutral page.</p>"
# Where the reporter was before opening the desk (intercepted like the quick exit).
BEFORE_URL = "https://before-the-desk.invalid/"


# Every URL a document names for the browser to fetch or go to, resolved; the quick-exit link
# aside. A resource hint (preconnect, dns-prefetch) reaches the network without a request
# Playwright would see, so the markup is checked as well as the traffic.
REFERENCES = """() => Array.from(
  document.querySelectorAll("[src], [href], [action], [srcset], [poster], [data]"),
  (el) => el.matches("[data-quick-exit]") ? null : (el.src || el.href || el.action ||
          el.getAttribute("srcset") || el.getAttribute("poster") || el.getAttribute("data")))
  .filter((url) => url !== null)"""


def _references_elsewhere(page: Page, origin: str) -> list[str]:
    references: list[str] = page.evaluate(REFERENCES)
    assert references  # stylesheets and scripts at least: the search is not vacuous
    return [url for url in references if not url.startswith((origin + "/", "data:"))]


def _neutral(route: Route) -> None:
    route.fulfill(status=200, content_type="text/html", body=NEUTRAL_PAGE)


def test_reporter_routes_send_no_cookie_and_load_nothing_from_elsewhere(
    page: Page, context: BrowserContext, recorder: Recorder, live_server: LiveServer
) -> None:
    origin = live_server.origin
    # Nothing may reach the network beyond this server; whatever tried would still be recorded.
    context.route(lambda url: not url.startswith(origin + "/"), lambda route: route.abort())

    # The whole way through: the notice, the form, an encrypted submission, the receipt, done.
    page.goto(live_server.url("/"))
    assert _references_elsewhere(page, origin) == []
    page.click("a[href='/report?lang=en']")
    page.wait_for_url(live_server.url("/report?lang=en"))
    assert _references_elsewhere(page, origin) == []
    fill_report(page, "a report to exercise every route")
    send_and_read_receipt(page)
    assert page.evaluate("() => [document.cookie, localStorage.length, sessionStorage.length]") == [
        "",
        0,
        0,
    ]
    page.check("[data-testid=receipt-confirm]")
    page.click("#receipt-done")
    page.wait_for_url(live_server.url("/report/done?lang=en"))
    page.wait_for_load_state("networkidle")  # late loads (fonts) are checked too
    assert _references_elsewhere(page, origin) == []

    requested = [(request.method, request.url) for request in recorder.requests]
    kinds = {request.resource_type for request in recorder.requests}
    # The flow did load what it should have (so the checks below are not vacuous) ...
    assert {"document", "stylesheet", "script", "fetch"} <= kinds, requested
    assert ("POST", live_server.url("/api/v1/reports")) in requested
    assert live_server.url("/static/js/pow-worker.js") in {url for _, url in requested}
    # ... and only from this origin: never the quick-exit site, which was not clicked.
    elsewhere = [url for _, url in requested if urlsplit(url)[:2] != urlsplit(origin)[:2]]
    assert elsewhere == []
    assert not any(url.startswith(QUICK_EXIT_URL) for _, url in requested)

    assert len(recorder.responses) == len(recorder.requests)
    pinned = pinned_reporter_policy()
    for response in recorder.responses:
        headers = response.all_headers()
        assert "set-cookie" not in headers, response.url
        for name, value in EVERY_RESPONSE_HEADERS.items():
            assert headers.get(name) == value, (response.url, name)
        # A page runs only the scripts named by their hashes; everything else has the
        # strict policy of the whole desk.
        document = response.request.resource_type == "document"
        assert headers["content-security-policy"] == (pinned if document else STRICT_CSP)
        assert response.status < 400, response.url
    assert context.cookies() == []
    assert recorder.console_errors == []
    assert recorder.page_errors == []


def _with_a_staff_script(route: Route, *, policy: str | None = None) -> None:
    """The reporter's page as the desk sends it, with a tag for a staff page's script added
    (same origin, right integrity): what a template slip or an injected tag would do. The
    script (print.js) shows every hidden ``data-print`` button: the probe shows that it ran."""
    response = route.fetch()
    staff = "js/print.js"
    added = (
        '<button type="button" id="probe" data-print hidden>probe</button>'
        f'<script src="/static/{staff}" integrity="{_sri(staff)}"></script>'
    )
    headers = dict(response.headers)
    if policy is not None:
        headers["content-security-policy"] = policy
    body = response.text().replace("</body>", added + "</body>")
    route.fulfill(response=response, body=body, headers=headers)


def _sri(path: str) -> str:
    digest = hashlib.sha384((resource_dir("static") / path).read_bytes()).digest()
    return "sha384-" + base64.b64encode(digest).decode()


@pytest.mark.parametrize(("policy", "runs"), [("pinned", False), ("self", True)])
def test_a_script_the_policy_does_not_name_does_not_run_on_a_reporter_page(
    page: Page, recorder: Recorder, live_server: LiveServer, policy: str, runs: bool
) -> None:
    # "self": the policy of every other response, as a control that the added tag works.
    replaced = STRICT_CSP if policy == "self" else None
    page.route(
        live_server.url("/report?lang=en"),
        lambda route: _with_a_staff_script(route, policy=replaced),
    )
    page.goto(live_server.url("/report?lang=en"))
    page.wait_for_load_state("networkidle")
    assert page.evaluate("() => document.getElementById('probe').hidden") is not runs
    # The page's own scripts ran either way: the notice of the encrypted path shows.
    assert page.locator("[data-js-only]").first.is_visible()
    refused = [error for error in recorder.console_errors if "Content Security Policy" in error]
    assert bool(refused) is not runs, recorder.console_errors


def _watch_what_is_left_behind(page: Page) -> list[list[str]]:
    """The form's words and the receipt as they are the moment the page starts to leave.

    A ``beforeunload`` listener of the test's own reports them through a binding (the
    navigation that follows cannot be held: Playwright waits for it to finish first).
    """
    left: list[list[str]] = []

    def report(values: list[str]) -> None:
        left.append(values)

    page.expose_function("hrdTestLeftBehind", report)
    page.evaluate(
        """() => window.addEventListener("beforeunload", () => window.hrdTestLeftBehind([
            document.getElementById("narrative").value,
            document.querySelector("[data-testid=receipt]").textContent]))"""
    )
    return left


def test_quick_exit_leaves_and_clears(page: Page, live_server: LiveServer) -> None:
    page.route(QUICK_EXIT_URL, _neutral)
    page.route(BEFORE_URL, _neutral)
    page.goto(BEFORE_URL)
    page.goto(live_server.url("/"))
    page.click("a[href='/report?lang=en']")
    page.wait_for_url(live_server.url("/report?lang=en"))
    left_behind = _watch_what_is_left_behind(page)
    words = "they know where I live"
    page.fill("textarea[name=narrative]", words)

    page.click("[data-quick-exit]")
    page.wait_for_url(QUICK_EXIT_URL)
    assert page.title() == "Neutral"
    assert left_behind == [["", ""]]  # the form was emptied before leaving

    # The desk held one entry in the history (its links replace it), and the quick exit
    # replaced that: Back goes to the page before the desk.
    page.go_back()
    assert page.url == BEFORE_URL
    assert words not in page.content()


def test_quick_exit_after_sending_clears_the_receipt_without_asking(
    page: Page, live_server: LiveServer
) -> None:
    # In a hurry, the "have you written down your receipt?" question must not hold anyone.
    page.route(QUICK_EXIT_URL, _neutral)
    page.goto(live_server.url("/report"))
    dialogs = record_dialogs(page)
    fill_report(page, "sent, and then someone came in")
    send_and_read_receipt(page)
    left_behind = _watch_what_is_left_behind(page)

    page.click("[data-quick-exit]")
    page.wait_for_url(QUICK_EXIT_URL)
    assert dialogs == []
    assert left_behind == [["", ""]]


def test_escape_twice_quickly_leaves(page: Page, live_server: LiveServer) -> None:
    page.route(QUICK_EXIT_URL, _neutral)
    page.goto(live_server.url("/report"))
    page.fill("textarea[name=narrative]", "they know where I live")

    # Once is not enough (people press Escape to close things), nor twice far apart.
    page.keyboard.press("Escape")
    page.wait_for_timeout(1_700)
    page.keyboard.press("Escape")
    page.wait_for_timeout(300)
    assert page.url == live_server.url("/report")

    page.keyboard.press("Escape")
    page.wait_for_url(QUICK_EXIT_URL)
    assert page.title() == "Neutral"


def test_receipt_must_be_confirmed_before_leaving(
    page: Page, recorder: Recorder, live_server: LiveServer
) -> None:
    page.goto(live_server.url("/report"))
    dialogs = record_dialogs(page)
    fill_report(page, "a report whose receipt is nearly lost")
    receipt = send_and_read_receipt(page)

    # "Finish" does nothing until the receipt is confirmed as written down.
    finish = page.locator("#receipt-done")
    assert finish.get_attribute("aria-disabled") == "true"
    # A real click at the link (Playwright would otherwise refuse an aria-disabled element).
    finish.click(force=True)
    page.wait_for_timeout(500)
    assert page.url == live_server.url("/report")
    assert not any("/report/done" in request.url for request in recorder.requests)
    assert page.locator("[data-testid=receipt-confirm]").evaluate(
        "el => el === document.activeElement"
    )

    # Leaving any other way asks first; declining keeps the receipt on the screen.
    page.click("a[hreflang=en]")
    page.wait_for_timeout(500)
    assert dialogs == ["beforeunload"]
    assert page.url == live_server.url("/report")
    assert page.locator("[data-testid=receipt]").text_content() == receipt

    # Once confirmed, "Finish" leaves at once, without asking.
    page.check("[data-testid=receipt-confirm]")
    assert finish.get_attribute("aria-disabled") == "false"
    finish.click()
    page.wait_for_url(live_server.url("/report/done?lang=en"))
    assert dialogs == ["beforeunload"]

    # And Back does not bring the receipt back: "Finish" replaced the form page in the history.
    page.go_back()
    assert not page.url.startswith(live_server.origin)
    assert receipt not in page.content()


def test_arabic_page_is_right_to_left(
    page: Page, live_server: LiveServer, admin: Person, cli_env: dict[str, str]
) -> None:
    page.goto(live_server.url("/report?lang=ar"))
    html = page.locator("html")
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("ar", "rtl")
    expected = locale("ar").translations.gettext("Report an incident")
    assert page.locator("h1").first.text_content() == expected
    # The language travels with the form, and the Arabic link says it is the current one.
    assert page.get_attribute("#report-form", "action") == "/report?lang=ar"
    assert page.get_attribute("a[hreflang=ar]", "aria-current") == "true"
    assert page.get_attribute("a[hreflang=en]", "href") == "/report?lang=en"

    # Arabic only, Arabic-Indic digits and two lines: the desk reads exactly this.
    narrative = "\n".join(["هددوني بالقتل عند نقطة التفتيش ٤٧", "وأخذوا هاتفي"])
    fill_report(page, narrative)
    send_and_read_receipt(page)
    # The receipt's digit groups read left to right, or they would be copied in the wrong order.
    receipt = page.locator("[data-testid=receipt]")
    assert receipt.evaluate("el => getComputedStyle(el).direction") == "ltr"
    (report_id,) = report_ids(cli_env, admin)
    assert show_report(cli_env, admin, report_id)["content"]["narrative"] == narrative
