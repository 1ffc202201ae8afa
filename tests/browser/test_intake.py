"""A report from a real browser reaches the desk, and only as ciphertext (DESIGN.md 2.1, 2.2).

With JavaScript, the page encrypts before anything is sent: no byte the browser sends holds
the words, and yet the desk decrypts them exactly. Without JavaScript, the server seals the
report at once. Either way nothing the reporter wrote, and no receipt, is left at rest.
"""

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, Route
from sqlalchemy import select

from hrd_reports.crypto.receipts import derive_receipt_keys, lookup_hash
from hrd_reports.crypto.submission import WIRE_FIELDS
from hrd_reports.models import Report
from hrd_reports.settings import Settings
from hrd_reports.wiring import Runtime
from tests.browser.conftest import LiveServer
from tests.browser.support import (
    Recorder,
    canary,
    capture_server_log,
    fill_report,
    receipt_secrets,
    report_ids,
    send_and_read_receipt,
    show_report,
)
from tests.helpers import Desk, Person

pytestmark = pytest.mark.browser


def _stored_reports(desk: Desk) -> list[Report]:
    with desk.session() as session:
        reports = list(session.execute(select(Report)).scalars())
        session.expunge_all()
    return reports


def test_browser_encrypts_and_only_ciphertext_leaves(
    page: Page,
    recorder: Recorder,
    live_server: LiveServer,
    desk: Desk,
    runtime: Runtime,
    admin: Person,
    cli_env: dict[str, str],
    search_at_rest: Callable[[dict[str, str]], list[str]],
) -> None:
    narrative = canary("browser")
    token = narrative.split()[0]  # the ASCII part alone, in case the Arabic word were mangled
    with capture_server_log() as log:
        page.goto(live_server.url("/report"))
        assert page.locator("[data-js-only]").is_visible()  # the encrypting path is on
        fill_report(page, narrative)
        receipt = send_and_read_receipt(page)
        live_server.stop()

    # What left the browser: no form post, one JSON envelope, and never the words, in any
    # encoding (raw UTF-8, JSON escapes, base64, hex...) in any URL, header or body.
    posts = recorder.posts()
    assert [post.url for post in posts] == [live_server.url("/api/v1/reports")]
    sent = json.loads(posts[0].post_data_buffer or b"")
    assert set(sent) == {"proof_of_work", "envelope"}
    assert set(sent["envelope"]) == WIRE_FIELDS
    assert recorder.leaks({"narrative": narrative, "token": token}) == []

    # The receipt on the screen is the one the envelope was built with.
    keys = derive_receipt_keys(receipt)
    assert base64.b64decode(sent["envelope"]["lookup_token"]) == keys.lookup_token
    (stored,) = _stored_reports(desk)
    assert str(stored.public_id) == sent["envelope"]["report_id"]
    assert stored.lookup_hash == lookup_hash(
        keys.lookup_token, lookup_secret=runtime.secrets.lookup
    )
    assert not stored.server_sealed

    # The desk reads exactly what was typed.
    assert report_ids(cli_env, admin) == [sent["envelope"]["report_id"]]
    report = show_report(cli_env, admin, sent["envelope"]["report_id"])
    assert report["server_sealed"] is False
    assert report["content"]["narrative"] == narrative
    assert report["content"]["incident_types"] == ["death_threat"]

    # Nothing at rest, and nothing in the server's log, holds the words or the receipt.
    assert "Application shutdown complete" in log.text  # the log was captured
    # No line at all for the reporter's requests: the log's writer would time them.
    assert "/api/v1" not in log.text
    assert "/report" not in log.text
    for secret in (narrative, token, receipt, keys.lookup_token.hex()):
        assert secret not in log.text
    runtime.close()
    secrets = {"narrative": narrative, "token": token, "admin password": admin.password}
    assert search_at_rest(secrets | receipt_secrets(receipt)) == []


def test_no_javascript_report_is_sealed_on_the_server(
    no_js_page: Page,
    live_server: LiveServer,
    desk: Desk,
    admin: Person,
    runtime: Runtime,
    cli_env: dict[str, str],
    search_at_rest: Callable[[dict[str, str]], list[str]],
) -> None:
    page = no_js_page
    narrative = canary("nojs")
    with capture_server_log() as log:
        page.goto(live_server.url("/report"))
        # The reporter is told, before sending, that the server will see the words. (Playwright's
        # text search skips <noscript>, so the warning is found by its markup.)
        warning = page.locator("noscript .notice")
        assert warning.is_visible()
        assert "JavaScript is off in your browser." in warning.inner_text()
        assert page.locator("[data-js-only]").is_hidden()
        fill_report(page, narrative)
        with page.expect_response(live_server.url("/report?lang=en")) as answer:
            receipt = send_and_read_receipt(page)
        live_server.stop()

    response = answer.value
    assert (response.request.method, response.status) == ("POST", 200)
    assert "set-cookie" not in response.all_headers()
    assert page.get_by_text("Your report was encrypted on our server").is_visible()

    (stored,) = _stored_reports(desk)
    assert stored.server_sealed
    keys = derive_receipt_keys(receipt)
    assert stored.lookup_hash == lookup_hash(
        keys.lookup_token, lookup_secret=runtime.secrets.lookup
    )
    report = show_report(cli_env, admin, str(stored.public_id))
    assert report["server_sealed"] is True
    assert report["content"]["narrative"] == narrative
    assert report["content"]["incident_types"] == ["death_threat"]

    # The server held the words in memory only: not in its log, not at rest.
    assert "Application shutdown complete" in log.text  # the log was captured
    assert "/report" not in log.text  # no line for a reporter's request
    assert narrative.split()[0] not in log.text
    assert receipt not in log.text
    runtime.close()
    secrets = {
        "narrative": narrative,
        "token": narrative.split()[0],
        "admin password": admin.password,
    }
    assert search_at_rest(secrets | receipt_secrets(receipt)) == []


def _flip_challenge(route: Route) -> None:
    """Forge the proof of work: one character of the signed challenge, changed in flight."""
    body: dict[str, Any] = json.loads(route.request.post_data_buffer or b"")
    challenge = body["proof_of_work"]["challenge"]
    body["proof_of_work"]["challenge"] = challenge[:-1] + ("A" if challenge[-1] != "A" else "B")
    route.continue_(post_data=json.dumps(body).encode())


def test_server_refuses_tampered_submission_from_the_page(
    page: Page, recorder: Recorder, live_server: LiveServer, desk: Desk
) -> None:
    page.goto(live_server.url("/report"))
    narrative = canary("tampered")
    fill_report(page, narrative)

    # A forged request is refused; the page says so, keeps the words, and stores nothing.
    page.route(live_server.url("/api/v1/reports"), _flip_challenge)
    with page.expect_response(live_server.url("/api/v1/reports")) as refused:
        page.click("button[type=submit]")
    assert refused.value.status == 400
    error = page.locator("#send-error")
    error.wait_for(state="visible")
    assert error.text_content() == page.get_attribute("#report-form", "data-msg-failed")
    assert page.locator("[data-testid=receipt]").is_hidden()
    assert page.input_value("textarea[name=narrative]") == narrative
    assert _stored_reports(desk) == []

    # Sending again, untouched, works: the refusal left nothing half done.
    page.unroute(live_server.url("/api/v1/reports"))
    send_and_read_receipt(page)
    assert len(_stored_reports(desk)) == 1

    # The accepted request, replayed byte for byte, is refused and stores nothing more.
    accepted = recorder.posts()[-1]
    replayed = page.request.post(
        accepted.url,
        data=accepted.post_data_buffer,
        headers={"content-type": "application/json"},
    )
    # (Refused as a spent proof of work, or else as a report already received.)
    assert replayed.status in {400, 409}, replayed.text()
    assert len(_stored_reports(desk)) == 1


# --- The receipt ---------------------------------------------------------------------------

# Records, when the form is cleared, whether the receipt was on the screen by then.
WATCH_THE_FORM_CLEARED = """() => {
  window.atFormReset = null;
  document.getElementById("report-form").addEventListener("reset", () => {
    const view = document.getElementById("receipt-view");
    window.atFormReset = {
      receiptShown: !view.hidden,
      receipt: view.querySelector("[data-testid=receipt]").textContent,
      narrative: document.querySelector("textarea[name=narrative]").value,
    };
  });
}"""


def test_report_form_keeps_the_words_until_the_receipt_is_on_the_screen(
    page: Page, live_server: LiveServer, desk: Desk
) -> None:
    narrative = canary("receipt-first")
    page.goto(live_server.url("/report"))
    page.evaluate(WATCH_THE_FORM_CLEARED)
    fill_report(page, narrative)

    # What the form holds while the report is on its way.
    in_flight: list[str] = []

    def read_the_form_then_send(route: Route) -> None:
        in_flight.append(page.input_value("textarea[name=narrative]"))
        route.continue_()

    page.route(live_server.url("/api/v1/reports"), read_the_form_then_send)
    receipt = send_and_read_receipt(page)

    assert in_flight == [narrative]
    # The form was cleared once the receipt was shown, not before.
    assert page.evaluate("window.atFormReset") == {
        "receiptShown": True,
        "receipt": receipt,
        "narrative": narrative,
    }
    assert page.input_value("textarea[name=narrative]") == ""
    assert len(_stored_reports(desk)) == 1


def test_report_page_whose_receipt_script_did_not_load_sends_nothing_and_keeps_the_words(
    page: Page, recorder: Recorder, live_server: LiveServer, desk: Desk
) -> None:
    # reporter.js shows the receipt. Blocked (or refused by its integrity check), a report sent
    # from the page would be stored with its receipt shown nowhere: the page must refuse first.
    page.route(live_server.url("/static/js/reporter.js"), lambda route: route.abort())
    narrative = canary("no-receipt-script")
    page.goto(live_server.url("/report"))
    fill_report(page, narrative)

    page.click("button[type=submit]")

    error = page.locator("#send-error")
    error.wait_for(state="visible")
    assert _stored_reports(desk) == []
    assert recorder.posts() == []
    assert not any("/api/" in request.url for request in recorder.requests)
    assert page.url == live_server.url("/report")  # the form was not posted
    assert page.input_value("textarea[name=narrative]") == narrative
    assert error.text_content() == page.get_attribute("#report-form", "data-msg-unsupported")


BREAK_THE_RECEIPT_VIEW = """() => {
  window.HrdReceipt = Object.freeze({
    canShow: () => true,
    show: () => { throw new Error("the receipt view failed"); },
  });
}"""


def test_report_stored_whose_receipt_view_fails_shows_the_receipt_in_its_message(
    page: Page, recorder: Recorder, live_server: LiveServer, desk: Desk, runtime: Runtime
) -> None:
    narrative = canary("receipt-fallback")
    page.goto(live_server.url("/report?lang=ar"))
    # Past the support check, showing the receipt throws: a fault of the page's own code.
    page.evaluate(BREAK_THE_RECEIPT_VIEW)
    fill_report(page, narrative)

    page.click("button[type=submit]")

    shown = page.locator("#send-error [data-testid=receipt-fallback]")
    shown.wait_for(state="visible")
    receipt = shown.text_content() or ""
    # Digit groups, left to right even on an Arabic page.
    assert shown.get_attribute("dir") == "ltr"
    (stored,) = _stored_reports(desk)
    assert stored.lookup_hash == lookup_hash(
        derive_receipt_keys(receipt).lookup_token, lookup_secret=runtime.secrets.lookup
    )
    message = page.get_attribute("#report-form", "data-msg-receipt-fallback") or ""
    assert message
    assert (page.locator("#send-error").text_content() or "").startswith(message)
    # Nothing more is sent from this page: the same report twice, each receipt lost.
    assert page.locator("#report-form button[type=submit]").is_disabled()
    assert len(recorder.posts()) == 1


def test_report_page_says_when_the_desk_cannot_take_reports_and_keeps_the_words(
    page: Page, settings: Settings, runtime: Runtime, desk: Desk
) -> None:
    # More free space asked for than any disk has: the desk's disk guard refuses every
    # reporter's write with 503 (on PostgreSQL the server's disk is not the desk's to see).
    if not settings.database_url.startswith("sqlite"):
        low = settings
    else:
        low = settings.model_copy(update={"min_free_disk_mb": 2**40})
    server = LiveServer(low, runtime)
    server.start()
    try:
        page.goto(server.url("/report"))
        narrative = canary("disk-low")
        fill_report(page, narrative)
        if low is settings:
            send_and_read_receipt(page)
            return
        with page.expect_response(server.url("/api/v1/reports")) as refused:
            page.click("button[type=submit]")
        assert refused.value.status == 503
        error = page.locator("#send-error")
        error.wait_for(state="visible")
        assert error.text_content() == page.get_attribute("#report-form", "data-msg-unavailable")
        assert page.locator("[data-testid=receipt]").is_hidden()
        assert page.input_value("textarea[name=narrative]") == narrative
        assert _stored_reports(desk) == []
    finally:
        server.stop()
