"""The report list page by page through its own links: every report the reader may read once,
in the list's order, forwards and back; a link's cursor that was altered, made up or made for
someone else is refused; and the first listing after many arrivals classifies them in chunks,
each committed and audited on its own."""

import datetime as dt
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import pytest
from sqlalchemy import select, update

from hrd_reports import db
from hrd_reports.crypto.list_cursor import (
    MAX_ROW_ID,
    Direction,
    ListCursor,
    cursor_key,
    seal_cursor,
)
from hrd_reports.models import AuditEvent, Report, User
from hrd_reports.services import classification, listing
from hrd_reports.wiring import Runtime
from tests.dashboard_support import (  # noqa: F401 - fixture_*: fixtures
    StaffBrowser,
    fixture_coordinator,
    fixture_cora,
    fixture_wafa,
    fixture_worker,
)
from tests.helpers import Desk, Person, report_content

PAGE = 3


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listing, "PAGE_SIZE", PAGE)


@pytest.fixture
def reports(desk: Desk) -> list[UUID]:
    """Eleven reports: some urgent, over three days (several on one day, so the row id
    decides between them)."""
    ids = []
    for i in range(11):
        kinds = ("detention",) if i % 4 == 1 else ("death_threat",)
        ids.append(desk.submit(report_content(f"report {i}", incident_types=kinds)).report_id)
    today = dt.date(2026, 3, 20)
    with desk.session() as session:
        for i, report_id in enumerate(ids):
            day = today - dt.timedelta(days=(7 * i) % 3)
            session.execute(
                update(Report).where(Report.public_id == report_id).values(received_on=day)
            )
        session.commit()
    return ids


def _listed(page: str) -> list[str]:
    return re.findall(r'data-report-id="([^"]+)"', page)


def _link(page: str, testid: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)"[^>]*data-testid="{testid}"', page)
    return found.group(1).replace("&amp;", "&") if found else None


def _list_order(desk: Desk, only: set[UUID] | None = None) -> list[str]:
    """The reports in the list's order, read from the database: urgent or unknown first,
    then newest day, then newest row."""
    with desk.session() as session:
        rows = session.execute(
            select(Report.public_id, Report.urgent, Report.received_on, Report.id)
        ).all()
    rows = [row for row in rows if only is None or row[0] in only]
    rows.sort(key=lambda row: (row[1] is not False, row[2], row[3]), reverse=True)
    return [str(row[0]) for row in rows]


def _walk(browser: StaffBrowser, start: str, testid: str) -> tuple[list[list[str]], str]:
    pages, path, page = [], start, ""
    for _ in range(20):
        page = browser.page(path)
        pages.append(_listed(page))
        following = _link(page, testid)
        if following is None:
            return pages, path
        assert "page=" not in following  # the links go on from a place, not by counting
        path = following
    raise AssertionError("the list never reached its last page")


def _cursor(path: str) -> str:
    return parse_qs(urlsplit(path).query)["cursor"][0]


@pytest.mark.usefixtures("small_pages")
def test_report_list_links_walk_every_report_once_in_order_forwards_and_back(
    desk: Desk, cora: StaffBrowser, reports: list[UUID]
) -> None:
    pages, last = _walk(cora, "/dashboard/reports", "next-page")
    expected = _list_order(desk)

    assert [report for page in pages for report in page] == expected
    assert [len(page) for page in pages] == [3, 3, 3, 2]
    back, first = _walk(cora, last, "previous-page")
    assert back == pages[::-1]
    assert "previous-page" not in cora.page(first)


@pytest.mark.usefixtures("small_pages")
def test_report_list_numbered_page_of_an_older_link_still_answers_and_links_on_by_cursor(
    desk: Desk, cora: StaffBrowser, reports: list[UUID]
) -> None:
    second = cora.page("/dashboard/reports?page=2")
    following, _ = _walk(cora, "/dashboard/reports?page=2", "next-page")
    expected = _list_order(desk)

    assert _listed(second) == expected[3:6]
    assert [report for page in following for report in page] == expected[3:]
    assert _listed(cora.page(_link(second, "previous-page") or "")) == expected[:3]


@pytest.mark.usefixtures("small_pages")
def test_report_list_search_goes_on_from_the_last_report_shown(
    desk: Desk, cora: StaffBrowser, reports: list[UUID]
) -> None:
    pages, _ = _walk(cora, "/dashboard/reports?q=report", "next-page")

    assert [report for page in pages for report in page] == _list_order(desk)
    # The second page's search decrypted none of the first page's reports again.
    with desk.session() as session:
        details = [
            json.loads(detail)
            for detail in session.execute(
                select(AuditEvent.detail)
                .where(AuditEvent.action == "report.decrypt")
                .order_by(AuditEvent.seq)
            ).scalars()
        ]
    searches = [detail for detail in details if detail.get("search")]
    assert set(pages[0]).isdisjoint(searches[1]["reports"])


@pytest.mark.usefixtures("small_pages")
@pytest.mark.parametrize(
    "altered",
    [
        lambda cursor: cursor[:-1] + ("A" if cursor[-1] != "A" else "B"),
        lambda cursor: ("A" if cursor[0] != "A" else "B") + cursor[1:],
        lambda cursor: cursor[:-2],
        lambda cursor: cursor + "A",
        lambda cursor: cursor.replace(cursor[5], "=", 1),
        lambda cursor: "x" * 128,
        lambda cursor: "x" * 500,
        lambda cursor: "%00" + cursor,
    ],
    ids=["last", "first", "short", "long", "padding", "made up", "oversized", "nul"],
)
def test_report_list_altered_cursor_is_refused_with_a_4xx(
    cora: StaffBrowser, reports: list[UUID], altered: object
) -> None:
    following = _link(cora.page("/dashboard/reports"), "next-page")
    assert following is not None
    cursor = _cursor(following)

    response = cora.client.get("/dashboard/reports", params={"cursor": altered(cursor)})  # type: ignore[operator]

    assert 400 <= response.status_code < 500
    assert "data-report-id" not in response.text


@pytest.mark.usefixtures("small_pages")
def test_report_list_cursor_of_another_reader_is_refused(
    desk: Desk, admin: Person, cora: StaffBrowser, wafa: StaffBrowser, reports: list[UUID]
) -> None:
    for report_id in reports[:5]:
        desk.assign(report_id, to="wafa", by=admin)
    coordinators = _link(cora.page("/dashboard/reports"), "next-page")
    workers = _link(wafa.page("/dashboard/reports"), "next-page")
    assert coordinators is not None
    assert workers is not None

    assert wafa.client.get(coordinators).status_code == 400
    assert cora.client.get(workers).status_code == 400


@pytest.mark.usefixtures("small_pages")
def test_report_list_case_worker_cursor_reveals_only_their_own_reports(
    desk: Desk, admin: Person, runtime: Runtime, wafa: StaffBrowser, reports: list[UUID]
) -> None:
    mine = set(reports[2:7])
    for report_id in mine:
        desk.assign(report_id, to="wafa", by=admin)
    pages, _ = _walk(wafa, "/dashboard/reports", "next-page")
    # A cursor sealed as the server would for her, placed before every report there is: the
    # query still reads only what is hers.
    with desk.session() as session:
        wafa_id = session.execute(select(User.id).where(User.name == "wafa")).scalar_one()
    forged = seal_cursor(
        ListCursor(Direction.AFTER, True, dt.date.max, MAX_ROW_ID),
        key=cursor_key(runtime.secrets.session),
        reader=str(wafa_id),
    )
    beyond, _ = _walk(wafa, f"/dashboard/reports?cursor={forged}", "next-page")

    assert [report for page in pages for report in page] == _list_order(desk, mine)
    assert {report for page in beyond for report in page} == {str(r) for r in mine}


def test_first_listing_classifies_in_chunks_each_committed_and_every_decryption_audited(
    desk: Desk,
    runtime: Runtime,
    cora: StaffBrowser,
    reports: list[UUID],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(classification, "CLASSIFY_CHUNK", 4)
    with desk.session() as session:
        before = session.execute(select(AuditEvent.seq).order_by(AuditEvent.seq.desc())).first()
    # What another connection sees left to classify as each chunk starts: what the chunks
    # before it learned was committed by then.
    unclassified_seen: list[int] = []
    open_chunk = classification._open_chunk  # observed, not replaced

    def observed(*args: Any, **kwargs: Any) -> Any:
        with db.snapshot(runtime.engine) as connection:
            left = connection.execute(select(Report.id).where(Report.follows_form.is_(None)))
            unclassified_seen.append(len(left.all()))
        return open_chunk(*args, **kwargs)

    monkeypatch.setattr(classification, "_open_chunk", observed)
    page = cora.page("/dashboard/reports")

    with desk.session() as session:
        entries = session.execute(
            select(AuditEvent.detail)
            .where(AuditEvent.action == "report.decrypt")
            .where(AuditEvent.seq > (before[0] if before else 0))
            .order_by(AuditEvent.seq)
        ).scalars()
        details = [json.loads(detail) for detail in entries]
        left = session.execute(select(Report.id).where(Report.follows_form.is_(None))).all()
    classified = [detail for detail in details if "classified" in detail]
    # 11 new reports, 4 a chunk: three chunks, each its own commit with its own audit entry.
    assert [detail["classified"] for detail in classified] == [4, 4, 3]
    assert unclassified_seen[:4] == [11, 7, 3, 0]
    assert sorted(r for detail in classified for r in detail["reports"]) == sorted(
        str(report) for report in reports
    )
    assert left == []
    assert _listed(page) == _list_order(desk)
