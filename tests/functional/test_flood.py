"""A flood through the real server: the proof of work grows harder, a reporter who comes
during the flood still gets through, and so do a case worker's pages; nothing acknowledged is
lost. The full run:

    HRD_TEST_FLOOD_SUBMISSIONS=5000 python -m pytest tests/functional/test_flood.py -s
"""

import os
import threading
import time

import httpx
import pytest

from hrd_reports.models import Role
from tests.dashboard_support import enrolled_steps_ago, signed_in_over_http
from tests.helpers import Desk, Person, post_report, report_content
from tests.load import differences, prepare, read_back, run_load
from tests.server import StartServer

SUBMISSIONS = int(os.environ.get("HRD_TEST_FLOOD_SUBMISSIONS", "600"))
CONCURRENCY = 32
# What this desk calls a normal hour: far below the flood.
NORMAL_PER_HOUR = 30
# The server measures every 15 s; a rise is looked for at most this long after the flood.
RISE_WAIT_SECONDS = 40


@pytest.mark.slow
def test_flood_raises_the_work_and_a_reporter_and_a_case_worker_still_get_through(
    desk: Desk,
    admin: Person,
    cli_env: dict[str, str],
    start_server: StartServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    staff = enrolled_steps_ago(
        desk, desk.add_vetted("wafa", Role.CASE_WORKER, by=admin), Role.CASE_WORKER, monkeypatch
    )
    cli_env["HRD_POW_FLOOD_PER_HOUR"] = str(NORMAL_PER_HOUR)
    flood = prepare(desk.intake_key(), SUBMISSIONS, label="flood")
    server = start_server(workers=2)
    base = httpx.get(f"{server.url}/api/v1/challenge", timeout=30).json()["difficulty"]

    # The case worker keeps working through the flood.
    pages: list[int] = []
    flooding = threading.Event()
    flooding.set()
    browser = signed_in_over_http(server.url, staff)

    def work() -> None:
        while flooding.is_set():
            pages.append(browser.get("/dashboard/reports").status_code)

    working = threading.Thread(target=work)
    working.start()
    try:
        result = run_load(server.url, flood, concurrency=CONCURRENCY)
    finally:
        flooding.clear()
        working.join(timeout=120)
        browser.close()
    print(
        f"\nflood: {result.sent} sent, {len(result.acknowledged)} acknowledged in "
        f"{result.elapsed:.1f} s; the case worker's list answered {len(pages)} times"
    )
    assert result.failures() == [], server.log_tail()
    assert pages
    assert set(pages) == {200}

    # The proofs of the flood raise the work asked of the next reporter.
    deadline = time.monotonic() + RISE_WAIT_SECONDS
    raised = base
    while raised == base and time.monotonic() < deadline:
        time.sleep(1)
        raised = httpx.get(f"{server.url}/api/v1/challenge", timeout=30).json()["difficulty"]
    assert raised > base, server.log_tail()

    # A reporter who comes now does that work, and is heard.
    with httpx.Client(base_url=server.url, timeout=60) as reporter:
        _receipt, answer = post_report(reporter, report_content("CANARY-flood legitimate"))
    assert answer.status_code == 201, answer.text

    # Nothing acknowledged is lost: every report of the flood is stored, whole.
    stored = read_back(desk, admin)
    assert {item.report_id for item in flood} <= set(stored)
    assert (
        differences(
            {key: value for key, value in stored.items() if key in {i.report_id for i in flood}},
            {item.report_id: item for item in flood},
            lookup_secret=desk.secrets.lookup,
        )
        == []
    )
