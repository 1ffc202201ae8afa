"""The dashboard's statistics on a real database (SQLite, and PostgreSQL when
HRD_TEST_DATABASE_URL names one): small counts and their complements hidden, auditors reading
only published snapshots, a case worker counting only their own reports, decryption in a worker
thread with one audit entry, and every bad request answered with a clear 4xx."""

import asyncio
import csv
import datetime as dt
import html
import io
import json
import re
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from hrd_reports.crypto import snapshots as sealing
from hrd_reports.models import AuditEvent, Report, ReportStatus, Role, StatisticsSnapshot
from hrd_reports.services import reading
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.dashboard_support import Clock, Staff, StaffBrowser, enrol, install_clock
from tests.helpers import Desk, Person

CANARY = "CANARY-statistics"


def described(
    narrative: str,
    *,
    types: tuple[str, ...] = ("death_threat",),
    governorate: str | None = None,
    sector: str | None = None,
    perpetrators: tuple[str, ...] = (),
) -> bytes:
    """A report as the form makes it, with the fields the statistics count."""
    document: dict[str, Any] = {"incident_types": list(types), "narrative": narrative}
    if governorate:
        document["location"] = {"governorate": governorate}
    if sector:
        document["target"] = {"sector": sector}
    if perpetrators:
        document["perpetrator"] = {"types": list(perpetrators)}
    return json.dumps(document).encode("utf-8")


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


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
def aziz(client: TestClient, desk: Desk, fake_clock: Clock) -> StaffBrowser:
    auditor = enrol(desk, desk.add("aziz", Role.AUDITOR), Role.AUDITOR)
    return StaffBrowser(client.app, auditor, fake_clock)  # type: ignore[arg-type]


def submit_many(desk: Desk, count: int, **fields: Any) -> list[UUID]:
    return [
        desk.submit(described(f"{CANARY} {fields} {n}", **fields)).report_id for n in range(count)
    ]


def rows_of(page: str, table: str) -> dict[str, str]:
    """A table of the page: each row's key and the count it shows, as text."""
    section = page.split(f'data-testid="figure-{table}"', 1)[1].split("</section>", 1)[0]
    table_html = section.split("<table", 1)[1]
    return {
        key: html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
        for key, cell in re.findall(
            r'<tr[^>]* data-key="([^"]+)">.*?<td>(.*?)</td></tr>', table_html
        )
    }


def shown(page: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}">([^<]*)<', page)
    assert found is not None, testid
    return html.unescape(found.group(1))


def audit_entries(desk: Desk, action: str) -> list[AuditEvent]:
    with desk.session() as session:
        return list(
            session.execute(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            ).scalars()
        )


def publish(browser: StaffBrowser, **fields: str) -> UUID:
    response = browser.client.post(
        "/dashboard/stats/snapshots",
        data={**fields, "csrf_token": browser.csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    found = re.search(r"/dashboard/stats/snapshots/([0-9a-f-]{36})\?", response.headers["location"])
    assert found is not None
    return UUID(found.group(1))


# ---- small counts --------------------------------------------------------------------------


def test_a_cell_of_three_and_its_complement_are_hidden_on_the_page_and_in_what_is_published(
    desk: Desk, cora: StaffBrowser, aziz: StaffBrowser
) -> None:
    submit_many(desk, 3, governorate="halabja")
    submit_many(desk, 6, governorate="erbil")
    submit_many(desk, 8, governorate="baghdad")

    page = cora.page("/dashboard/stats")
    governorates = rows_of(page, "governorates")
    assert governorates["halabja"] == "<5"
    # The smallest count still shown goes with it: 17 - 8 would otherwise give 3 away.
    assert governorates["erbil"] == "—"
    assert (governorates["baghdad"], governorates["basra"], governorates["total"]) == (
        "8",
        "0",
        "17",
    )
    assert shown(page, "reports-count") == "17"
    assert CANARY not in page

    snapshot_id = publish(cora, title='=HYPERLINK("https://example.org") first quarter')
    with desk.session() as session:
        row = session.execute(
            select(StatisticsSnapshot).where(StatisticsSnapshot.public_id == snapshot_id)
        ).scalar_one()
        document = json.loads(
            sealing.open_snapshot(
                row.sealed,
                key=sealing.storage_key(desk.secrets.pepper),
                snapshot_id=row.public_id,
                published_by=row.published_by,
                published_on=row.published_on,
            )
        )
    # What is kept is what was shown: neither hidden count is anywhere in it.
    kept = {
        cell["key"]: cell
        for table in document["statistics"]["tables"]
        if table["name"] == "governorates"
        for cell in table["cells"]
    }
    assert kept["halabja"] == {"key": "halabja", "count": None, "mark": "small"}
    assert kept["erbil"] == {"key": "erbil", "count": None, "mark": "hidden"}
    assert b"HYPERLINK" not in row.sealed

    exported = aziz.client.get(f"/dashboard/stats/snapshots/{snapshot_id}/csv?lang=en")
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert exported.content.startswith("\ufeff".encode())
    cells = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    by_key = {(row[0], row[1]): row[3] for row in cells[1:]}
    assert by_key[("governorates", "halabja")] == "<5"
    assert by_key[("governorates", "erbil")] == "hidden"
    assert by_key[("governorates", "baghdad")] == "8"
    # A typed title that a spreadsheet would run as a formula is text.
    assert by_key[("snapshot", "title")].startswith("'=HYPERLINK")


def test_waiting_times_and_overdue_reports_are_counted_from_the_workflow(
    desk: Desk, admin: Person, cora: StaffBrowser, fake_clock: Clock
) -> None:
    reports = submit_many(desk, 6, governorate="basra")
    today = fake_clock.now.date()
    with desk.session() as session:
        for days, report_id in zip((10, 8, 6, 4, 2, 30), reports, strict=True):
            session.execute(
                update(Report)
                .where(Report.public_id == report_id)
                .values(received_on=today - dt.timedelta(days=days))
            )
        session.commit()
    for report_id in reports[:5]:
        desk.set_status(report_id, ReportStatus.TRIAGE, by=admin)
    for report_id in reports[:5]:
        desk.reply(report_id, "we read your report", by=admin)

    page = cora.page("/dashboard/stats")

    triage = page.split('data-testid="waiting-first_triage"', 1)[1].split("</tr>", 1)[0]
    cells = [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", triage)]
    # Nearest rank over 2, 4, 6, 8 and 10 days: the 3rd for the median, the 5th for the 90th.
    assert cells == ["5", "6", "10"]
    assert "waiting-first_reply" in page
    # The one report still "received" after 30 days is overdue.
    assert shown(page, "overdue-count") == "<5"


# ---- who sees what -------------------------------------------------------------------------


def test_auditors_see_published_snapshots_and_never_the_live_statistics(
    desk: Desk, cora: StaffBrowser, aziz: StaffBrowser
) -> None:
    submit_many(desk, 7, types=("blackmail",), governorate="duhok")
    readings = len(audit_entries(desk, "report.decrypt"))
    assert aziz.client.get("/dashboard/stats").status_code == 403
    assert aziz.page("/dashboard/stats/snapshots").count('data-snapshot-id="') == 0

    snapshot_id = publish(cora, title="Duhok, for donors")
    refused = aziz.client.post(
        "/dashboard/stats/snapshots", data={"csrf_token": aziz.csrf}, follow_redirects=False
    )
    assert refused.status_code == 403

    listed = aziz.page("/dashboard/stats/snapshots")
    page = aziz.page(f"/dashboard/stats/snapshots/{snapshot_id}")
    assert f'data-snapshot-id="{snapshot_id}"' in listed
    assert "Duhok, for donors" in page
    assert rows_of(page, "incident_types")["blackmail"] == "7"
    assert rows_of(page, "governorates")["duhok"] == "7"
    # Aggregates only: no report's words, and no report's id.
    with desk.session() as session:
        ids = [str(r) for r in session.execute(select(Report.public_id)).scalars()]
    for text in (
        listed,
        page,
        aziz.client.get(f"/dashboard/stats/snapshots/{snapshot_id}/csv").text,
    ):
        assert CANARY not in text
        assert not any(report_id in text for report_id in ids)
    # Reading a snapshot decrypts no report: nothing is audited as a reading of one.
    assert len(audit_entries(desk, "report.decrypt")) == readings
    assert [entry.actor for entry in audit_entries(desk, "statistics.publish")] == ["cora"]


def test_a_case_worker_counts_only_the_reports_assigned_to_them(
    client: TestClient, desk: Desk, admin: Person, fake_clock: Clock
) -> None:
    worker = enrol(desk, desk.add_vetted("wafa", Role.CASE_WORKER, by=admin), Role.CASE_WORKER)
    theirs = submit_many(desk, 6, types=("surveillance",), governorate="kirkuk")
    submit_many(desk, 9, types=("killing",), governorate="najaf")
    for report_id in theirs:
        desk.assign(report_id, to="wafa", by=admin)
    wafa = StaffBrowser(client.app, worker, fake_clock)  # type: ignore[arg-type]

    page = wafa.page("/dashboard/stats")

    assert shown(page, "reports-count") == "6"
    types = rows_of(page, "incident_types")
    assert (types["surveillance"], types["killing"]) == ("6", "0")
    assert rows_of(page, "governorates")["najaf"] == "0"
    # Nothing of the desk's own: neither the destroyed reports nor a way to publish.
    assert 'data-testid="figure-gone"' not in page
    assert 'data-testid="publish"' not in page
    (entry,) = audit_entries(desk, "statistics.compute")
    assert entry.actor == "wafa"
    assert (json.loads(entry.detail)["decrypted"], json.loads(entry.detail)["failed"]) == (6, 0)
    refused = wafa.client.post(
        "/dashboard/stats/snapshots", data={"csrf_token": wafa.csrf}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert wafa.client.get("/dashboard/stats/snapshots").status_code == 403


def test_one_audit_entry_per_computation_and_decryption_in_a_worker_thread(
    desk: Desk, cora: StaffBrowser, monkeypatch: pytest.MonkeyPatch
) -> None:
    submit_many(desk, 5)
    threads: list[bool] = []
    original = reading.decrypt

    def watched(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            threads.append(False)
        except RuntimeError:
            threads.append(True)  # no event loop runs in this thread
        return original(*args, **kwargs)

    monkeypatch.setattr(reading, "decrypt", watched)
    readings = len(audit_entries(desk, "report.decrypt"))

    cora.page("/dashboard/stats?governorate=erbil")

    assert threads == [True] * 5
    (entry,) = audit_entries(desk, "statistics.compute")
    detail = json.loads(entry.detail)
    assert (entry.actor, detail["decrypted"], detail["governorate"]) == ("cora", 5, "erbil")
    assert len(audit_entries(desk, "report.decrypt")) == readings


# ---- content that does not follow the form -------------------------------------------------


@pytest.mark.parametrize(
    "crafted",
    [
        b'{"incident_types": ["death_threat", {"a": 1}], "narrative": "x"}',
        b'{"incident_types": ["blackmail"], "narrative": "x", "location": {"governorate": []}}',
        b'{"incident_types": ["blackmail"], "narrative": "x", "location": "erbil"}',
        b'{"v": true, "incident_types": ["blackmail"], "narrative": "x"}',
        b"\xff\xfe not even text",
        b"[" * 5000 + b"]" * 5000,
        b'{"incident_types": ["blackmail"], "narrative": "x", "narrative": "y"}',
        b"null",
    ],
)
def test_a_report_that_does_not_follow_the_form_is_counted_as_such(
    desk: Desk, cora: StaffBrowser, crafted: bytes
) -> None:
    submit_many(desk, 5, types=("blackmail",), governorate="erbil")
    desk.submit(crafted)

    page = cora.page("/dashboard/stats")

    assert shown(page, "reports-count") == "6"
    for table in ("incident_types", "governorates", "perpetrators", "sectors"):
        assert rows_of(page, table)["off_form"] == "<5", table
    assert rows_of(page, "incident_types")["blackmail"] == "—"


# ---- bad requests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/dashboard/stats?received_from=2026-02-30", 400, "is not a date"),
        ("/dashboard/stats?received_from=yesterday", 400, "is not a date"),
        ("/dashboard/stats?received_from=2026-05-01&received_to=2026-04-01", 400, "ends before"),
        ("/dashboard/stats?governorate=atlantis", 400, "is not a governorate"),
        ("/dashboard/stats?governorate=" + "x" * 65, 422, "not complete or not valid"),
        ("/dashboard/stats?received_to=" + "9" * 11, 422, "not complete or not valid"),
        ("/dashboard/stats/snapshots/not-a-snapshot", 422, "not complete or not valid"),
        ("/dashboard/stats/snapshots/1%20OR%201=1/csv", 422, "not complete or not valid"),
        (f"/dashboard/stats/snapshots/{uuid4()}", 404, "there is no statistics snapshot"),
        (f"/dashboard/stats/snapshots/{uuid4()}/csv", 404, "there is no statistics snapshot"),
    ],
)
def test_bad_filters_and_forged_snapshot_ids_are_refused_clearly(
    desk: Desk, cora: StaffBrowser, path: str, status: int, message: str
) -> None:
    response = cora.client.get(path)
    assert response.status_code == status
    assert message in response.text
    assert audit_entries(desk, "statistics.compute") == []


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"title": "line one\nline two"}, 303, ""),
        ({"title": "a title \u202e that reads backwards"}, 400, "one line of plain text"),
        ({"title": "t" * 121}, 400, "at most 120 characters"),
        ({"title": "t" * 481}, 422, "not complete or not valid"),
        ({"governorate": "atlantis"}, 400, "is not a governorate"),
        ({"received_from": "2026-13-01"}, 400, "is not a date"),
        ({"csrf_token": "forged"}, 403, "this form has expired"),
    ],
)
def test_bad_publications_are_refused_and_publish_nothing(
    desk: Desk, cora: StaffBrowser, fields: dict[str, str], status: int, message: str
) -> None:
    submit_many(desk, 2)
    response = cora.client.post(
        "/dashboard/stats/snapshots",
        data={"csrf_token": cora.csrf, **fields},
        follow_redirects=False,
    )
    assert response.status_code == status, response.text
    assert message in response.text
    with desk.session() as session:
        published = session.execute(select(StatisticsSnapshot)).scalars().all()
    assert len(published) == (1 if status == 303 else 0)


def test_a_snapshot_altered_at_rest_does_not_open_and_hides_no_other(
    desk: Desk, cora: StaffBrowser, aziz: StaffBrowser
) -> None:
    submit_many(desk, 5)
    first = publish(cora, title="first")
    second = publish(cora, title="second")
    with desk.session() as session:
        sealed = session.execute(
            select(StatisticsSnapshot.sealed).where(StatisticsSnapshot.public_id == first)
        ).scalar_one()
        # The first's aggregates moved onto the second's row: bound to its id, they do not open.
        session.execute(
            update(StatisticsSnapshot)
            .where(StatisticsSnapshot.public_id == second)
            .values(sealed=sealed)
        )
        session.commit()

    listed = aziz.page("/dashboard/stats/snapshots")

    assert f'data-snapshot-id="{first}"' in listed
    assert f'data-snapshot-id="{second}"' not in listed
    assert 'data-testid="damaged-snapshots"' in listed
    assert aziz.client.get(f"/dashboard/stats/snapshots/{first}").status_code == 200
