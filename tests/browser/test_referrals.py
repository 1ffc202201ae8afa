"""Referring a case, in a real browser: an administrator adds a partner and reads its
fingerprint; a coordinator refers a report to it and downloads a file that only the
partner's private key opens, to the fields the reporter allowed."""

import json
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page

from hrd_reports.content import IDENTIFYING_FIELDS, REPORT_FIELDS
from hrd_reports.crypto.partners import fingerprint_groups
from hrd_reports.models import Role
from tests.browser.conftest import LiveServer
from tests.browser.support import PAGE_TIMEOUT_MS, Recorder
from tests.browser.test_dashboard import sign_in
from tests.dashboard_support import Clock, enrol, install_clock
from tests.helpers import Desk, Person
from tests.partner_keys import as_bytes, consented_report, openpgp_partner

pytestmark = pytest.mark.browser

NewContext = Callable[..., BrowserContext]


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


def staff_page(new_context: NewContext) -> tuple[Page, Recorder]:
    context = new_context(accept_downloads=True)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    recorder = Recorder()
    recorder.attach(context)
    return context.new_page(), recorder


def test_admin_adds_a_partner_and_a_coordinator_refers_a_case_as_a_download(
    new_context: NewContext,
    live_server: LiveServer,
    desk: Desk,
    admin: Person,
    fake_clock: Clock,
    tmp_path: Path,
) -> None:
    partner = openpgp_partner(post_quantum=True)
    head = enrol(desk, admin, Role.ADMIN)
    cora = enrol(desk, desk.add_vetted("cora", Role.COORDINATOR, by=admin), Role.COORDINATOR)
    report = consented_report("A referral in the browser", share="anonymised")
    report_id = desk.submit(as_bytes(report)).report_id

    # The administrator: the Partners page from the navigation, the key pasted in the form.
    admin_page, admin_log = staff_page(new_context)
    sign_in(admin_page, live_server, head, fake_clock)
    admin_page.get_by_role("link", name="Partners").click()
    admin_page.fill("#partner-name", "Legal Aid Kurdistan")
    admin_page.fill("#partner-key", partner.public_key)
    admin_page.get_by_role("button", name="Check the key and add the partner").click()
    admin_page.get_by_test_id("done").wait_for()
    row = admin_page.locator("tr[data-partner='Legal Aid Kurdistan']")
    fingerprint = partner.secret.extract_certificate().fingerprint
    assert row.get_by_test_id("fingerprint").inner_text() == fingerprint_groups(fingerprint)
    assert "post-quantum" in row.inner_text()

    # The coordinator: the report's referral section, the partner chosen, a note written.
    cora_page, cora_log = staff_page(new_context)
    sign_in(cora_page, live_server, cora, fake_clock)
    cora_page.goto(live_server.url(f"/dashboard/reports/{report_id}"))
    section = cora_page.get_by_test_id("referral")
    going = section.get_by_test_id("referral-fields").locator("li")
    allowed = [path for path, _ in REPORT_FIELDS if path not in IDENTIFYING_FIELDS]
    assert [going.nth(i).get_attribute("data-field") for i in range(going.count())] == allowed
    section.get_by_label("Partner", exact=True).select_option(label="Legal Aid Kurdistan")
    section.get_by_test_id("referral-note").fill("Call the desk before you act.")
    with cora_page.expect_download() as downloading:
        section.get_by_test_id("refer").click()
    downloaded = downloading.value

    assert re.fullmatch(r"referral-[0-9a-f]{8}\.pgp", downloaded.suggested_filename)
    package = Path(downloaded.path()).read_bytes()
    assert b"A referral in the browser" not in package
    opened = json.loads(partner.open(package))
    assert opened["fields"] == allowed
    assert opened["note"] == "Call the desk before you act."
    assert opened["report"]["location"] == {"governorate": "sulaymaniyah", "place_type": "home"}
    assert "narrative" not in opened["report"]
    referrals = f"/dashboard/reports/{report_id}/referrals"
    (answer,) = [r for r in cora_log.responses if urlsplit(r.url).path == referrals]
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["cache-control"] == "no-store"

    # Listed on the report once the page is loaded again.
    cora_page.reload()
    made = cora_page.get_by_test_id("referral-made")
    assert made.count() == 1
    assert "to Legal Aid Kurdistan, by cora" in made.inner_text()
    assert admin_log.page_errors == cora_log.page_errors == []
