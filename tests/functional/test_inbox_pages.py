"""The inbox page without a browser: what the no-JavaScript form gets back, and what it changes.

Without JavaScript the receipt reaches the server for one request; a refusal must then show
the reason and nothing else (no inbox, not the receipt), change nothing, and set no cookie.
"""

import re
from collections.abc import Iterator
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hrd_reports.crypto.receipts import normalise_receipt
from hrd_reports.i18n import locale
from hrd_reports.models import Report, WithdrawnReport
from hrd_reports.services import conversation
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.helpers import Desk, Person, Submitted, pinned_reporter_policy, report_content

MISTYPED = (
    "This is not a receipt: it has 28 digits, and one of them may be mistyped. Check it and "
    "try again."
)
CONFIRM = "Tick the box to confirm that you want to withdraw your report."


@pytest.fixture
def client(settings: Settings, runtime: Runtime, desk: Desk) -> Iterator[TestClient]:
    with TestClient(create_app(settings, runtime=runtime)) as test_client:
        yield test_client


@pytest.fixture
def submitted(desk: Desk, admin: Person) -> Submitted:
    report = desk.submit(report_content("CANARY-inbox-pages a report with a reply"))
    desk.reply(report.report_id, "CANARY-inbox-pages-reply", by=admin)
    return report


def _mistyped(receipt: str) -> str:
    digits = normalise_receipt(receipt)
    return digits[:-1] + str((int(digits[-1]) + 1) % 10)


def _problems(html: str) -> list[str]:
    return [
        unescape(text)
        for text in re.findall(
            r'<li data-testid="inbox-problem">(?:<a href="#[a-z-]+">)?([^<]*)<',
            html,
        )
    ]


def _reports(desk: Desk) -> tuple[list[str], list[str]]:
    with desk.session() as session:
        stored = [str(i) for i in session.execute(select(Report.public_id)).scalars()]
        withdrawn = [str(i) for i in session.execute(select(WithdrawnReport.public_id)).scalars()]
    return stored, withdrawn


def test_inbox_page_sets_no_cookie_and_runs_no_inline_or_foreign_code(
    client: TestClient, settings: Settings
) -> None:
    response = client.get("/inbox")

    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert response.headers["content-security-policy"] == pinned_reporter_policy()
    assert response.headers["clear-site-data"] == '"cache", "storage"'
    html = response.text
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.DOTALL)
    assert [src for src, _ in scripts if "/static/js/inbox.js" in src]
    for attributes, code in scripts:
        assert code.strip() == "", "inline script"
        assert re.search(r'\bsrc="/static/[^"]+"', attributes), attributes
        assert re.search(r'\bintegrity="sha384-[^"]+"', attributes), attributes
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)
    # Everything the page loads or sends to is on this origin; the quick exit leaves it.
    references = re.findall(r'(?<![\w-])(?:src|href|action|data-worker)="([^"]*)"', html)
    assert references
    assert [url for url in references if not url.startswith(("/", "data:", "#"))] == [
        settings.quick_exit_url
    ]


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_inbox_page_nothing_found_text_is_the_services_sentence_translated(
    client: TestClient, lang: str
) -> None:
    # The in-browser path shows this attribute where the API's answer has its English sentence.
    html = client.get(f"/inbox?lang={lang}").text
    shown = re.search(r'data-msg-nothing-found="([^"]*)"', html)

    assert shown is not None
    assert unescape(shown.group(1)) == locale(lang).translations.gettext(conversation.NOTHING_FOUND)


def test_inbox_form_mistyped_receipt_gets_400_with_the_message_and_nothing_else(
    client: TestClient, submitted: Submitted
) -> None:
    typed = _mistyped(submitted.receipt)
    response = client.post(
        "/inbox?lang=en", data={"action": "read", "receipt": typed, "no_script": "yes"}
    )

    assert response.status_code == 400
    assert "set-cookie" not in response.headers
    assert _problems(response.text) == [MISTYPED]
    # The summary takes the focus and leads to the receipt field, which says it is wrong.
    assert re.search(r'<div class="error-summary"[^>]*\bautofocus\b', response.text)
    assert '<li data-testid="inbox-problem"><a href="#receipt">' in response.text
    assert re.search(
        r'<input type="text" id="receipt"[^>]*'
        r'aria-invalid="true" aria-describedby="receipt-problem"',
        response.text,
    )
    assert 'id="receipt-problem"' in response.text
    # No inbox is shown, and the receipt is not written back into the page.
    assert re.search(r'<section id="inbox-view"[^>]*\bhidden\b', response.text)
    assert 'data-testid="inbox-message"' not in response.text
    assert "CANARY" not in response.text
    assert typed not in response.text
    assert normalise_receipt(submitted.receipt) not in response.text


def test_inbox_form_withdrawal_without_the_tick_gets_400_and_changes_nothing(
    client: TestClient, desk: Desk, submitted: Submitted
) -> None:
    before = _reports(desk)
    response = client.post(
        "/inbox?lang=en",
        data={"action": "withdraw", "receipt": submitted.receipt, "no_script": "yes"},
    )

    assert response.status_code == 400
    assert "set-cookie" not in response.headers
    assert _problems(response.text) == [CONFIRM]
    assert 'data-testid="inbox-message"' not in response.text
    assert _reports(desk) == before == ([str(submitted.report_id)], [])
    # The receipt still opens the inbox.
    opened = client.post(
        "/inbox?lang=en", data={"action": "read", "receipt": submitted.receipt, "no_script": "yes"}
    )
    assert opened.status_code == 200
    assert "CANARY-inbox-pages-reply" in opened.text


def test_inbox_form_right_receipt_opens_the_inbox_and_sets_no_cookie(
    client: TestClient, submitted: Submitted
) -> None:
    response = client.post(
        "/inbox?lang=en", data={"action": "read", "receipt": submitted.receipt, "no_script": "yes"}
    )

    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert _problems(response.text) == []
    assert response.text.count('data-testid="inbox-message"') == 1
    assert "CANARY-inbox-pages-reply" in response.text
    assert submitted.receipt not in response.text


def test_inbox_form_posted_without_the_no_script_marker_is_not_read(
    client: TestClient, desk: Desk, submitted: Submitted
) -> None:
    # What a browser with JavaScript on sends when the page script failed: the page never
    # warned that the server would see the receipt, so the server does not use it.
    response = client.post(
        "/inbox?lang=en",
        data={"action": "withdraw", "receipt": submitted.receipt, "confirm_withdraw": "yes"},
    )

    assert response.status_code == 400
    assert "did not read or keep" in response.text
    assert 'data-testid="inbox-message"' not in response.text
    assert _reports(desk) == ([str(submitted.report_id)], [])
