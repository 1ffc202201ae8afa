"""axe-core, in Chromium, on every reporter and dashboard page, in English and in Arabic: no
violation of serious or critical impact.

axe-core comes from the pinned ``axe-playwright-python`` (pyproject's test extra; it bundles
axe-core 4.12.1). The pages forbid inline script (script-src names the desk's own files, and
on reporter pages only their own scripts, by hash), and axe is not one of the desk's files:
it is run through ``page.evaluate``, which the page's Content Security Policy does not
govern, so the policy stays on, as deployed, for every check here.
"""

import datetime as dt
import re
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from playwright.sync_api import BrowserContext, Page, Route

from hrd_reports.db import unit_of_work
from hrd_reports.i18n import SUPPORTED_LOCALES
from hrd_reports.models import Role
from hrd_reports.services import (
    accounts,
    clock,
    credentials,
    partners,
    security_keys,
    snapshots,
    statistics,
    users,
)
from hrd_reports.services import desk as desk_service
from hrd_reports.settings import Settings
from hrd_reports.wiring import Runtime, build_runtime
from tests.browser.conftest import LiveServer
from tests.browser.support import PAGE_TIMEOUT_MS, fill_report, send_and_read_receipt
from tests.browser.test_dashboard import sign_in
from tests.dashboard_support import Clock, Staff, enrol, install_clock
from tests.helpers import Desk, Person, report_content
from tests.partner_keys import age_partner, as_bytes, consented_report

pytestmark = pytest.mark.browser

LANGUAGES = SUPPORTED_LOCALES
BLOCKING = ("serious", "critical")
NewContext = Callable[..., BrowserContext]

RUN_AXE = "() => axe.run(document, { resultTypes: ['violations'] })"


def serious_violations(page: Page, where: str) -> list[str]:
    """Each serious or critical violation on the page as it is now: where, rule, impact and
    the elements, for the failure message."""
    page.wait_for_load_state("load")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT)
    results: dict[str, Any] = page.evaluate(RUN_AXE)
    assert results["passes"], f"{where}: axe checked nothing"
    return [
        f"{where}: {violation['id']} ({violation['impact']}) {violation['help']}: "
        + ", ".join(str(node["target"]) for node in violation["nodes"])
        for violation in results["violations"]
        if violation["impact"] in BLOCKING
    ]


class Checked:
    """Collects the violations of every page, so that one run names them all."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.pages: list[str] = []

    def check(self, page: Page, where: str) -> None:
        self.pages.append(where)
        self.found.extend(serious_violations(page, where))

    def open(self, page: Page, url: str, where: str, status: int = 200) -> None:
        response = page.goto(url)
        assert response is not None
        assert response.status == status, f"{where}: {response.status}"
        self.check(page, where)

    def assert_none(self) -> None:
        assert not self.found, "\n".join(self.found)


def test_accessibility_check_finds_a_serious_violation(new_context: NewContext) -> None:
    # The check itself: a field without a label is a critical violation it must report.
    page = _context(new_context)
    page.set_content('<!doctype html><html lang="en"><title>t</title><main><input></main>')

    assert [found.split(" ")[1:3] for found in serious_violations(page, "control")] == [
        ["label", "(critical)"]
    ]


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


@pytest.fixture
def head(desk: Desk, admin: Person, fake_clock: Clock) -> Staff:
    """The desk's first administrator, who holds its keys: every dashboard page opens."""
    return enrol(desk, admin, Role.ADMIN)


def _context(new_context: NewContext) -> Page:
    context = new_context()
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    return context.new_page()


NOSCRIPT = re.compile(r"</?noscript>")
SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL)


def _as_without_javascript(route: Route) -> None:
    """The desk's pages as a browser without JavaScript shows them: no script runs, and what
    is in <noscript> is part of the page."""
    request = route.request
    if request.resource_type == "script":
        route.abort()
    elif request.resource_type == "document":
        response = route.fetch()
        body = NOSCRIPT.sub("", SCRIPT.sub("", response.text()))
        route.fulfill(response=response, body=body)
    else:
        route.continue_()


def _context_without_javascript(new_context: NewContext) -> Page:
    """A page that runs no script of the desk's, but does run axe.

    Chromium with JavaScript switched off does not run axe either (``page.evaluate`` never
    returns), so the pages are shown as such a browser shows them instead.
    """
    page = _context(new_context)
    page.context.route("**/*", _as_without_javascript)
    return page


def test_reporter_pages_have_no_serious_accessibility_violations(
    new_context: NewContext, live_server: LiveServer
) -> None:
    checked = Checked()
    for lang in LANGUAGES:
        page = _context(new_context)
        url = live_server.url
        checked.open(page, url(f"/?lang={lang}"), f"start ({lang})")
        checked.open(page, url(f"/report?lang={lang}"), f"report form ({lang})")
        # Sent empty: the error summary and the fields marked invalid.
        page.click("#report-form button[type=submit]")
        page.get_by_test_id("error-summary").wait_for()
        checked.check(page, f"report form with errors ({lang})")
        fill_report(page, f"an accessibility check ({lang})")
        receipt = send_and_read_receipt(page)
        checked.check(page, f"receipt ({lang})")
        page.check("[data-testid=receipt-confirm]")
        page.click("#receipt-done")
        page.wait_for_url(re.compile(r"/report/done"))
        checked.check(page, f"after finishing ({lang})")
        checked.open(page, url(f"/inbox?lang={lang}"), f"inbox ({lang})")
        page.fill("#receipt", "1234")
        page.click("[data-testid=inbox-open]")
        page.get_by_test_id("error-summary").wait_for()
        checked.check(page, f"inbox with a mistyped receipt ({lang})")
        page.fill("#receipt", receipt)
        page.click("[data-testid=inbox-open]")
        page.get_by_test_id("inbox-view").wait_for()
        checked.check(page, f"inbox opened ({lang})")
        checked.open(page, url(f"/no-such-page?lang={lang}"), f"not found ({lang})", 404)

        # Without JavaScript: the server's own pages for what the scripts do otherwise.
        no_js = _context_without_javascript(new_context)
        checked.open(no_js, url(f"/report?lang={lang}"), f"report form, no script ({lang})")
        with no_js.expect_navigation():
            no_js.click("#report-form button[type=submit]")
        checked.check(no_js, f"report form with errors, no script ({lang})")
        fill_report(no_js, f"an accessibility check without script ({lang})")
        with no_js.expect_navigation():
            no_js.click("#report-form button[type=submit]")
        no_js.get_by_test_id("receipt").wait_for()
        checked.check(no_js, f"receipt, no script ({lang})")
        checked.open(no_js, url(f"/inbox?lang={lang}"), f"inbox, no script ({lang})")
        no_js.fill("#receipt", "1234")
        with no_js.expect_navigation():
            no_js.click("[data-testid=inbox-open]")
        checked.check(no_js, f"inbox with a mistyped receipt, no script ({lang})")
        no_js.fill("#receipt", receipt)
        with no_js.expect_navigation():
            no_js.click("[data-testid=inbox-open]")
        no_js.get_by_test_id("inbox-view").wait_for()
        checked.check(no_js, f"inbox opened, no script ({lang})")

    assert len(checked.pages) == len(LANGUAGES) * 15
    checked.assert_none()


def _invitation(desk: Desk) -> str:
    with desk.session() as session:
        token = accounts.invite(
            session,
            name="ivy",
            role=Role.CASE_WORKER,
            actor="test",
            valid_for=dt.timedelta(hours=1),
            secrets=desk.secrets,
        )
        session.commit()
    return token


def _published_snapshot(desk: Desk, head: Staff) -> str:
    """Statistics of the desk, published by its first key holder."""
    with desk.session() as session:
        reader = credentials.unlock(
            session,
            name=head.person.name,
            password=head.person.password,
            passwords=desk.runtime.passwords,
        )
        computed = statistics.compute(
            session,
            reader=reader,
            filters=statistics.StatisticsFilter(),
            today=clock.utc_today(),
            min_cell=desk.runtime.settings.stats_min_cell,
        )
        snapshot_id = snapshots.publish(
            session, publisher=reader, computed=computed, title="", secrets=desk.secrets
        )
        session.commit()
    return str(snapshot_id)


def test_dashboard_pages_have_no_serious_accessibility_violations(
    new_context: NewContext, live_server: LiveServer, desk: Desk, head: Staff, fake_clock: Clock
) -> None:
    report_id = desk.submit(report_content("an accessibility check of the dashboard")).report_id
    # A partner, and a report the reporter allowed to share: its referral form and fields.
    with desk.session() as session:
        partners.add_partner(
            session,
            name="Legal Aid",
            key_data=age_partner().public_key.encode(),
            actor="admin",
            secrets=desk.secrets,
        )
        session.commit()
    to_refer = desk.submit(as_bytes(consented_report("to refer", share="anonymised"))).report_id
    for n in range(6):
        desk.submit(report_content(f"counted in the statistics {n}"))
    snapshot_id = _published_snapshot(desk, head)
    invitation = _invitation(desk)
    checked = Checked()
    url = live_server.url
    for lang in LANGUAGES:
        page = _context(new_context)
        checked.open(page, url(f"/dashboard/login?lang={lang}"), f"sign-in ({lang})")
        checked.open(
            page, url(f"/dashboard/invitation/{invitation}?lang={lang}"), f"invitation ({lang})"
        )
        sign_in(page, live_server, head, fake_clock)
        for path, where in [
            ("/dashboard/today", "today"),
            ("/dashboard/welcome", "welcome"),
            ("/dashboard/reports", "reports"),
            (f"/dashboard/reports/{report_id}", "a report"),
            (f"/dashboard/reports/{to_refer}", "a report to refer"),
            ("/dashboard/partners", "partners"),
            ("/dashboard/users", "people"),
            ("/dashboard/audit", "audit log"),
            ("/dashboard/stats", "statistics"),
            ("/dashboard/stats/snapshots", "published statistics"),
            (f"/dashboard/stats/snapshots/{snapshot_id}", "a published snapshot"),
            ("/dashboard/stages", "stages"),
            ("/dashboard/notifications", "notifications"),
            ("/dashboard/password", "password"),
            ("/dashboard/sessions", "sessions"),
            (f"/dashboard/reports/{report_id}/case-file.json", "JSON export, to confirm"),
            ("/dashboard/reports.csv", "CSV export, to confirm"),
            (f"/dashboard/reports/{report_id}/case-file", "case file, to confirm"),
        ]:
            checked.open(page, url(f"{path}?lang={lang}"), f"{where} ({lang})")
        # The case file itself: the answer to the confirmation's form.
        page.get_by_test_id("export-confirm").check()
        with page.expect_navigation():
            page.get_by_test_id("export").click()
        page.get_by_test_id("exported").wait_for()
        checked.check(page, f"case file ({lang})")
        checked.open(
            page,
            url(f"/dashboard/reports/00000000-0000-4000-8000-000000000000?lang={lang}"),
            f"report not found ({lang})",
            404,
        )

    assert len(checked.pages) == len(LANGUAGES) * 22
    checked.assert_none()


def test_security_key_pages_have_no_serious_accessibility_violations(
    new_context: NewContext,
    settings: Settings,
    runtime: Runtime,
    desk: Desk,
    head: Staff,
    fake_clock: Clock,
) -> None:
    """Registering a required key at sign-in, the account page with a key, the sessions
    page, adding a key, and the key step of a sign-in, with Chromium's virtual authenticator
    answering, on a desk whose HRD_PUBLIC_URL is its own address and which requires keys."""
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    origin = f"http://localhost:{listening.getsockname()[1]}"
    keyed = Settings(
        **{**settings.model_dump(), "public_url": origin, "require_webauthn_for": "all"}
    )
    keyed_runtime = build_runtime(keyed, migrate=False)
    server = LiveServer(keyed, keyed_runtime, listening=listening)
    server.start()
    checked = Checked()
    try:
        page = _context(new_context)
        cdp = page.context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR})
        for lang in LANGUAGES:
            fake_clock.advance(30)
            page.goto(server.url(f"/dashboard/login?lang={lang}"))
            page.fill("#name", head.person.name)
            page.fill("#password", head.person.password)
            page.fill("#code", head.code(fake_clock.now))
            with page.expect_navigation():
                page.locator("form button[type=submit]").click()
            checked.check(page, f"registering a required key ({lang})")
            page.fill("#key-name", "key")
            with page.expect_navigation():
                page.locator("[data-key-start]").click()
            page.wait_for_url(re.compile(r"done=key_added"))
            checked.check(page, f"account with a key ({lang})")
            checked.open(page, server.url(f"/dashboard/sessions?lang={lang}"), f"sessions ({lang})")
            page.goto(server.url(f"/dashboard/password?lang={lang}"))
            with page.expect_navigation():
                page.locator("#security-keys form button[type=submit]").last.click()
            checked.check(page, f"adding a key ({lang})")
            page.goto(server.url(f"/dashboard/password?lang={lang}"))
            with page.expect_navigation():
                page.locator("header form button[type=submit]").click()
            page.fill("#name", head.person.name)
            page.fill("#password", head.person.password)
            with page.expect_navigation():
                page.locator("form button[type=submit]").click()
            checked.check(page, f"the key step of a sign-in ({lang})")
            with page.expect_navigation():
                page.locator("[data-key-start]").click()
            # Signed in with the key: the header's sign-out form is there.
            page.locator("header form button[type=submit]").wait_for()
            with desk.session() as session:
                security_keys.remove_all(
                    session,
                    user=users.get_user(session, head.person.name),
                    actor="test",
                    secrets=desk.secrets,
                )
                session.commit()
    finally:
        server.stop()
        keyed_runtime.close()
    assert len(checked.pages) == len(LANGUAGES) * 5
    checked.assert_none()


VIRTUAL_AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "usb",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


@pytest.fixture
def fresh_server(settings: Settings, runtime: Runtime) -> Iterator[LiveServer]:
    """A desk that is not set up yet: its setup page is the one way in."""
    live = LiveServer(settings, runtime)
    live.start()
    try:
        yield live
    finally:
        live.stop()


def test_setup_page_of_a_fresh_desk_has_no_serious_accessibility_violations(
    new_context: NewContext, fresh_server: LiveServer, runtime: Runtime
) -> None:
    with unit_of_work(runtime.sessions) as session:
        token = desk_service.issue_setup_link(session, valid_for=dt.timedelta(hours=1))
        session.commit()
    checked = Checked()
    for lang in LANGUAGES:
        page = _context(new_context)
        checked.open(page, fresh_server.url(f"/setup/{token}?lang={lang}"), f"setup ({lang})")
    checked.assert_none()
