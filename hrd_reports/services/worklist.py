"""What needs someone today: the reports that are overdue, those with messages from their
reporters nobody has read, and the reports a case worker holds.

Read from the workflow fields kept in clear (status, priority, urgency, the day received, the
unread flag of messages): nothing is decrypted, so the page that shows it reads no content.

A report is overdue when nobody has acknowledged it (its status is still "received") longer
than its priority allows, or when a message from its reporter has waited unread longer than
``UNREAD_WITHIN``. A reporter in danger cannot wait for the next weekly meeting.
"""

import datetime as dt
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import ColumnElement, Select, and_, false, or_, select
from sqlalchemy.orm import Session

from hrd_reports.models import Priority, Report, ReportMessage, ReportStatus, Role
from hrd_reports.services import conversation, linking, reading
from hrd_reports.services.credentials import UnlockedUser

# Days a report may wait for its first acknowledgement, by priority.
ACKNOWLEDGE_WITHIN = {
    Priority.P1: dt.timedelta(days=1),
    Priority.P2: dt.timedelta(days=2),
    Priority.P3: dt.timedelta(days=5),
    Priority.P4: dt.timedelta(days=10),
}
# Without a priority: an urgent report (in danger now, detained, attacked; or not yet opened,
# so not yet known) as the first priority, any other as the second.
ACKNOWLEDGE_URGENT_WITHIN = ACKNOWLEDGE_WITHIN[Priority.P1]
ACKNOWLEDGE_OTHERS_WITHIN = ACKNOWLEDGE_WITHIN[Priority.P2]
UNREAD_WITHIN = dt.timedelta(days=2)
DONE = frozenset({ReportStatus.CLOSED, ReportStatus.DUPLICATE, ReportStatus.OUT_OF_MANDATE})
SECTION_LIMIT = 50


@dataclass(frozen=True)
class WorkItem:
    id: UUID
    short_id: str
    received_on: dt.date
    status: str
    priority: str | None
    urgent: bool
    assignee: str | None
    unread: int
    overdue: bool


@dataclass(frozen=True)
class Worklist:
    overdue: list[WorkItem]
    unread: list[WorkItem]
    # A case worker's: the reports assigned to them that are not done.
    assigned: list[WorkItem]
    # A key holder's: urgent reports nobody is assigned to.
    unassigned_urgent: list[WorkItem]


def _unacknowledged_too_long(today: dt.date) -> ColumnElement[bool]:
    by_priority = [
        and_(Report.priority == priority, Report.received_on < today - within)
        for priority, within in ACKNOWLEDGE_WITHIN.items()
    ]
    unprioritised = and_(
        Report.priority.is_(None),
        or_(
            and_(
                Report.urgent.is_not(False), Report.received_on < today - ACKNOWLEDGE_URGENT_WITHIN
            ),
            Report.received_on < today - ACKNOWLEDGE_OTHERS_WITHIN,
        ),
    )
    return and_(Report.status == ReportStatus.RECEIVED, or_(*by_priority, unprioritised))


def _unread_since(before: dt.date | None) -> ColumnElement[bool]:
    waiting = select(ReportMessage.report_id).where(ReportMessage.unread.is_(True))
    if before is not None:
        waiting = waiting.where(ReportMessage.sent_on < before)
    return Report.id.in_(waiting)


def overdue_condition(today: dt.date) -> ColumnElement[bool]:
    return or_(_unacknowledged_too_long(today), _unread_since(today - UNREAD_WITHIN))


def _items(session: Session, query: Select[Report], today: dt.date) -> list[WorkItem]:
    reports = list(
        session.execute(
            query.order_by(Report.received_on.asc(), Report.id.asc()).limit(SECTION_LIMIT)
        ).scalars()
    )
    ids = [report.public_id for report in reports]
    unread = conversation.unread_counts(session, ids)
    late = (
        set(
            session.execute(
                select(Report.public_id).where(Report.public_id.in_(ids), overdue_condition(today))
            ).scalars()
        )
        if ids
        else set()
    )
    return [
        WorkItem(
            id=report.public_id,
            short_id=linking.short_id(report.public_id),
            received_on=report.received_on,
            status=report.status.value,
            priority=report.priority.value if report.priority else None,
            urgent=report.urgent is not False,
            assignee=report.assignee.name if report.assignee else None,
            unread=unread.get(report.public_id, 0),
            overdue=report.public_id in late,
        )
        for report in reports
    ]


def worklist(session: Session, *, reader: UnlockedUser, today: dt.date) -> Worklist:
    """The reader's sections, each oldest first (the longest waiting on top), at most
    ``SECTION_LIMIT`` reports each; only reports the reader may open."""
    # The same rule as for opening reports: refused to auditors and to anyone not vetted.
    reading.reader_keys(session, reader)
    visible = reading.visible(reader)
    open_reports = visible.where(Report.status.not_in(DONE))
    key_holder = reader.user.role != Role.CASE_WORKER
    return Worklist(
        overdue=_items(session, open_reports.where(overdue_condition(today)), today),
        unread=_items(session, visible.where(_unread_since(None)), today),
        assigned=_items(
            session,
            open_reports.where(Report.assignee_id == reader.user.id)
            if not key_holder
            else open_reports.where(false()),
            today,
        ),
        unassigned_urgent=_items(
            session,
            open_reports.where(Report.assignee_id.is_(None), Report.urgent.is_not(False))
            if key_holder
            else open_reports.where(false()),
            today,
        ),
    )
