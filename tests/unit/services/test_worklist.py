"""What is overdue: a report nobody acknowledged within its priority's time, or a reporter's
message left unread too long; and whose worklist shows which reports."""

import datetime as dt
from uuid import UUID

import pytest
from sqlalchemy import select, update

from hrd_reports.models import MessageSender, Priority, Report, ReportMessage, ReportStatus, Role
from hrd_reports.services import worklist
from hrd_reports.services.errors import Forbidden
from tests.helpers import Desk, Person
from tests.unit.services.reading_support import _unlock, content

TODAY = dt.date(2026, 12, 7)


def _aged(desk: Desk, report_id: UUID, days: int, **values: object) -> None:
    with desk.session() as session:
        session.execute(
            update(Report)
            .where(Report.public_id == report_id)
            .values(received_on=TODAY - dt.timedelta(days=days), **values)
        )
        session.commit()


def _overdue(desk: Desk, person: Person) -> list[UUID]:
    with desk.session() as session:
        work = worklist.worklist(session, reader=_unlock(desk, session, person), today=TODAY)
    return [item.id for item in work.overdue]


@pytest.mark.parametrize(
    ("priority", "urgent", "days", "overdue"),
    [
        (Priority.P1, False, 1, False),
        (Priority.P1, False, 2, True),
        (Priority.P2, False, 2, False),
        (Priority.P2, False, 3, True),
        (Priority.P3, True, 5, False),
        (Priority.P3, True, 6, True),
        (Priority.P4, True, 10, False),
        (Priority.P4, False, 11, True),
        (None, True, 2, True),
        (None, None, 2, True),
        (None, False, 2, False),
        (None, False, 3, True),
    ],
)
def test_unacknowledged_report_is_overdue_past_its_prioritys_time(
    desk: Desk,
    staff: dict[str, Person],
    priority: Priority | None,
    urgent: bool | None,
    days: int,
    overdue: bool,
) -> None:
    report_id = desk.submit(content("waiting")).report_id
    _aged(desk, report_id, days, priority=priority, urgent=urgent, follows_form=urgent is not None)
    assert _overdue(desk, staff["coordinator"]) == ([report_id] if overdue else [])


def test_acknowledged_or_closed_report_is_not_overdue_however_old(
    desk: Desk, staff: dict[str, Person]
) -> None:
    for status in (ReportStatus.ACKNOWLEDGED, ReportStatus.CLOSED):
        report_id = desk.submit(content("seen")).report_id
        _aged(desk, report_id, 60, priority=Priority.P1, status=status)
    assert _overdue(desk, staff["coordinator"]) == []


def test_reporter_message_unread_past_two_days_makes_the_report_overdue(
    desk: Desk, staff: dict[str, Person], admin: Person
) -> None:
    submitted = desk.submit(content("talking"))
    _aged(desk, submitted.report_id, 30, status=ReportStatus.OPEN)
    with desk.session() as session:
        report = session.execute(select(Report)).scalar_one()
        for days, public_id in ((2, UUID(int=1)), (3, UUID(int=2))):
            session.add(
                ReportMessage(
                    public_id=public_id,
                    report_id=report.id,
                    sender=MessageSender.REPORTER,
                    sent_on=TODAY - dt.timedelta(days=days),
                    body=b"",
                    unread=days == 2,
                )
            )
        session.commit()
    # Read three days ago, unread for two days: not yet.
    assert _overdue(desk, staff["coordinator"]) == []
    with desk.session() as session:
        session.execute(update(ReportMessage).values(unread=True))
        session.commit()
    assert _overdue(desk, staff["coordinator"]) == [submitted.report_id]


def test_case_worker_worklist_holds_only_the_reports_assigned_to_them(
    desk: Desk, staff: dict[str, Person], admin: Person
) -> None:
    theirs = desk.submit(content("dave's")).report_id
    others = desk.submit(content("frank's")).report_id
    nobodys = desk.submit(content("nobody's")).report_id
    desk.assign(theirs, to="dave", by=admin)
    desk.assign(others, to="frank", by=admin)
    for report_id in (theirs, others, nobodys):
        _aged(desk, report_id, 30)
    with desk.session() as session:
        work = worklist.worklist(
            session, reader=_unlock(desk, session, staff["case_worker"]), today=TODAY
        )
    assert [item.id for item in work.overdue] == [theirs]
    assert [item.id for item in work.assigned] == [theirs]
    assert work.unassigned_urgent == []


def test_auditor_has_no_worklist(desk: Desk, admin: Person) -> None:
    auditor = desk.add("aziz", Role.AUDITOR)
    with desk.session() as session, pytest.raises(Forbidden):
        worklist.worklist(session, reader=_unlock(desk, session, auditor), today=TODAY)
