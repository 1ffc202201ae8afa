"""The retention policy on the dashboard: a key holder sees when a report goes, puts it on
legal hold and releases it through the report page's form, and Today lists what goes in the
next 14 days; a case worker can do none of it."""

import datetime as dt
import re
from collections.abc import Iterator
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hrd_reports.models import Report, ReportStatus, Role
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.dashboard_support import Clock, Staff, StaffBrowser, enrol, install_clock
from tests.helpers import Desk, Person, report_content

DAY = dt.timedelta(days=1)


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test's desk, with a retention policy."""
    return settings.model_copy(update={"retention": "closed=365,duplicate=30"})


@pytest.fixture
def client(settings: Settings, runtime: Runtime, desk: Desk) -> Iterator[TestClient]:
    with TestClient(create_app(settings, runtime=runtime)) as test_client:
        yield test_client


@pytest.fixture
def coordinator(desk: Desk, admin: Person, fake_clock: Clock) -> Staff:
    return enrol(desk, desk.add_vetted("cora", Role.COORDINATOR, by=admin), Role.COORDINATOR)


@pytest.fixture
def cora(client: TestClient, coordinator: Staff, fake_clock: Clock) -> StaffBrowser:
    return StaffBrowser(client.app, coordinator, fake_clock)  # type: ignore[arg-type]


@pytest.fixture
def worker(desk: Desk, admin: Person, fake_clock: Clock) -> Staff:
    return enrol(desk, desk.add_vetted("wafa", Role.CASE_WORKER, by=admin), Role.CASE_WORKER)


def _closed(desk: Desk, cora: StaffBrowser, status: ReportStatus) -> UUID:
    report_id = desk.submit(report_content("CANARY-retention page")).report_id
    cora.post(f"/dashboard/reports/{report_id}/workflow", status=status.value, risk="")
    return report_id


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _held(desk: Desk, report_id: UUID) -> bool:
    with desk.session() as session:
        report = session.execute(select(Report).where(Report.public_id == report_id)).scalar_one()
        return report.legal_hold


def test_key_holder_holds_and_releases_a_report_through_its_page(
    desk: Desk, cora: StaffBrowser, fake_clock: Clock
) -> None:
    report_id = _closed(desk, cora, ReportStatus.DUPLICATE)
    page = _text(cora.report(report_id))
    goes_on = (fake_clock.now + 30 * DAY).date()
    assert f"will be destroyed on {goes_on:%B} {goes_on.day}, {goes_on.year}" in page

    cora.post(f"/dashboard/reports/{report_id}/hold", reason="a lawyer asked")
    landed = cora.client.post(
        f"/dashboard/reports/{report_id}/release",
        data={"reason": "", "csrf_token": cora.csrf},
        follow_redirects=False,
    )
    # A release without a reason is refused, as a page, and changes nothing.
    assert landed.status_code == 400
    assert _held(desk, report_id)
    held_page = cora.client.get(f"/dashboard/reports/{report_id}?done=held")
    assert "the retention policy does not destroy it" in held_page.text
    assert 'data-testid="destroy-on"' not in held_page.text

    released = cora.client.post(
        f"/dashboard/reports/{report_id}/release",
        data={"reason": "the case ended", "csrf_token": cora.csrf},
        follow_redirects=False,
    )
    assert released.status_code == 303
    assert released.headers["location"].endswith("done=released#retention")
    assert not _held(desk, report_id)


def test_today_lists_what_the_policy_destroys_in_the_next_fourteen_days(
    client: TestClient, desk: Desk, cora: StaffBrowser, coordinator: Staff, fake_clock: Clock
) -> None:
    soon = _closed(desk, cora, ReportStatus.DUPLICATE)
    later = _closed(desk, cora, ReportStatus.CLOSED)
    fake_clock.advance((20 * DAY).total_seconds())
    # Twenty days on, in a session of that day.
    today = StaffBrowser(client.app, coordinator, fake_clock).page("/dashboard/today")  # type: ignore[arg-type]
    listed = re.findall(r'data-report-id="([0-9a-f-]+)"', today.split('id="expiring"')[1])
    assert listed == [str(soon)]
    assert str(later) not in today.split('id="expiring"')[1]


def test_case_worker_cannot_hold_a_report_and_sees_no_retention_box(
    client: TestClient, desk: Desk, admin: Person, worker: Staff, fake_clock: Clock
) -> None:
    report_id = desk.submit(report_content("CANARY-retention case worker")).report_id
    desk.assign(report_id, to="wafa", by=admin)
    wafa = StaffBrowser(client.app, worker, fake_clock)  # type: ignore[arg-type]
    assert 'id="retention"' not in wafa.report(report_id)
    refused = wafa.client.post(
        f"/dashboard/reports/{report_id}/hold",
        data={"reason": "mine now", "csrf_token": wafa.csrf},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert not _held(desk, report_id)
