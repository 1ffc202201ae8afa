"""A new desk from ``hrd-reports serve`` to a case worker reading a report, all in browsers.

What a new desk does on its first day, as it would do it: the server started as the README
says, the setup link it prints opened, a name and password chosen, the recovery key saved, the
authenticator enrolled from the key the page shows, a case worker invited and enrolled in a
second browser, vetted, a report sent through ``/report`` in a third, triaged and assigned,
and the case worker reading it. No command but ``serve``; codes come from the shown secret
at the real time, since the server is a process of its own.
"""

import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from hrd_reports.crypto import totp
from tests.browser.support import PAGE_TIMEOUT_MS, canary, fill_report, send_and_read_receipt
from tests.server import free_port

pytestmark = pytest.mark.browser

ADMIN = ("desk-admin", "a long passphrase for the first day 4471")
CASE_WORKER = ("wafa", "olive groves along the tigris river 1987")


class Served:
    """``hrd-reports serve`` in a fresh directory, and the setup link it printed."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        command = shutil.which("hrd-reports", path=str(Path(sys.executable).parent))
        argv = [command] if command else [sys.executable, "-m", "hrd_reports"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("HRD_")}
        # A few milliseconds of proof of work instead of a phone's second; the rest as shipped.
        env["HRD_POW_DIFFICULTY_BITS"] = "8"
        self.process = subprocess.Popen(
            [*argv, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=directory,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.printed: list[str] = []
        self.setup_link = self._read_setup_link()
        # The rest of what it prints is read as it comes, so a full pipe never blocks it.
        self._reader = threading.Thread(target=self._keep_reading, daemon=True)
        self._reader.start()
        self._wait_until_ready()

    def _keep_reading(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.printed.append(line)

    def _read_setup_link(self) -> str:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.printed.append(line)
            found = re.search(r"http://\S+/setup/\S+", line)
            if found:
                return found.group(0)
        pytest.fail("serve printed no setup link:\n" + "".join(self.printed))

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url("/healthz"), timeout=2):  # noqa: S310 - localhost
                    return
            except OSError:
                time.sleep(0.1)
        pytest.fail("serve did not answer within 30 s")

    def url(self, path: str) -> str:
        # localhost, not 127.0.0.1: the reporter's page needs a secure context for WebCrypto.
        return f"http://localhost:{self.port}{path}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    server = Served(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def now_code(secret: bytes) -> str:
    return totp.code_for(secret, totp.step_at(time.time()))


def shown_secret(page: Page) -> bytes:
    secret = totp.parse_secret_text(page.get_by_test_id("totp-secret").inner_text())
    assert secret is not None
    return secret


def follow(page: Page, click: Callable[[], Any]) -> None:
    with page.expect_navigation():
        click()


def test_new_desk_reaches_a_triaged_report_read_by_its_case_worker_without_the_cli(
    served: Served, new_context: Callable[..., Any]
) -> None:
    admin_context = new_context()
    admin_context.set_default_timeout(PAGE_TIMEOUT_MS)
    admin = admin_context.new_page()

    # The link serve printed; a name, a password, twice.
    admin.goto(served.setup_link.replace("127.0.0.1", "localhost"))
    admin.get_by_label("Administrator's user name").fill(ADMIN[0])
    admin.get_by_label("Password", exact=True).fill(ADMIN[1])
    admin.get_by_label("Password again").fill(ADMIN[1])
    follow(admin, admin.get_by_role("button", name="Set up the desk").click)

    # The recovery key, shown once, confirmed saved before going on.
    assert admin.get_by_test_id("recovery-key").inner_text().strip()
    setup_page = admin.url
    admin.get_by_role("button", name="Continue").click()
    # Not ticked: the browser itself holds the form back, and the key stays on screen.
    saved = admin.get_by_label(re.compile("I have written down"))
    assert saved.evaluate("box => box.validity.valueMissing") is True
    assert admin.url == setup_page
    assert admin.get_by_test_id("recovery-key").is_visible()
    saved.check()
    follow(admin, admin.get_by_role("button", name="Continue").click)

    # The authenticator, from the key the page shows; then the dashboard, signed in.
    secret = shown_secret(admin)
    admin.get_by_label("Your password").fill(ADMIN[1])
    admin.get_by_label("The code the app shows now").fill(now_code(secret))
    follow(admin, admin.get_by_role("button", name="Enrol the second factor").click)
    assert "account is vetted" in admin.get_by_test_id("welcome").inner_text()

    # A case worker invited from the people page (the role proposed is already case worker).
    follow(admin, admin.get_by_role("link", name="Invite the people of your desk").click)
    assert admin.locator("#role").input_value() == "case_worker"
    admin.locator("#name").fill(CASE_WORKER[0])
    follow(admin, admin.get_by_role("button", name="Create the invitation").click)
    link = admin.get_by_test_id("invitation-link").inner_text().strip()

    # ...who enrols in a browser of her own and lands signed in, waiting to be vetted.
    worker_context = new_context()
    worker_context.set_default_timeout(PAGE_TIMEOUT_MS)
    worker = worker_context.new_page()
    worker.goto(link.replace("127.0.0.1", "localhost"))
    worker_secret = shown_secret(worker)
    worker.get_by_label("Choose a password").fill(CASE_WORKER[1])
    worker.get_by_label("Password again").fill(CASE_WORKER[1])
    worker.get_by_label("The code the app shows now").fill(now_code(worker_secret))
    follow(worker, worker.get_by_role("button", name="Create my account").click)
    assert "will vet your account" in worker.get_by_test_id("welcome").inner_text()

    # The administrator vets her.
    admin.goto(served.url("/dashboard/users"))
    row = admin.locator(f"[data-user={CASE_WORKER[0]}]")
    follow(admin, row.get_by_role("button", name="Vet").click)

    # A reporter, in a third browser that shares nothing with the desk's, sends a report.
    narrative = canary("first-day")
    reporter_context = new_context()
    reporter_context.set_default_timeout(PAGE_TIMEOUT_MS)
    reporter = reporter_context.new_page()
    reporter.goto(served.url("/report"))
    fill_report(reporter, narrative)
    send_and_read_receipt(reporter)

    # The administrator (the desk's key holder) finds it, triages it and assigns it.
    admin.goto(served.url("/dashboard/reports"))
    entry = admin.locator("[data-report-id]", has_text=narrative)
    report_id = entry.get_attribute("data-report-id")
    assert report_id
    follow(admin, entry.get_by_role("link").first.click)
    admin.select_option("#status", "triage")
    admin.select_option("#priority", "p1")
    follow(admin, admin.get_by_role("button", name="Save", exact=True).click)
    admin.select_option("#assignee", CASE_WORKER[0])
    follow(admin, admin.get_by_role("button", name="Assign", exact=True).click)
    assert admin.get_by_test_id("assignee").inner_text().strip() == CASE_WORKER[0]

    # The case worker, still signed in from her enrolment, sees it and reads it.
    worker.goto(served.url("/dashboard"))
    mine = worker.locator(f"[data-report-id='{report_id}']").first
    assert mine.is_visible(), worker.locator("main").inner_text()
    follow(worker, mine.get_by_role("link").first.click)
    assert narrative in worker.locator("main").inner_text()
