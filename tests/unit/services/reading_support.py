"""Reading and working on reports as the dashboard does, for the service tests: a report's
content, list pages, a report's page, notes, tags, workflow and links, each in a committed
unit of work of its own."""

import json
from typing import Any
from uuid import UUID

from sqlalchemy import select, text

from hrd_reports.content import ReportContent
from hrd_reports.models import AuditEvent, Priority, ReportStatus, RiskLevel
from hrd_reports.services import casework, credentials, listing
from hrd_reports.services.casework import ReportDetail
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.listing import ListPage, ReportFilter
from tests.helpers import Desk, Person


def content(
    narrative: str,
    *,
    incident_types: tuple[str, ...] = ("death_threat",),
    governorate: str | None = None,
    district: str = "",
    in_danger_now: str | None = None,
    perpetrator: str = "",
) -> bytes:
    """A report as the reporter's browser builds it, checked against the content schema."""
    return ReportContent.model_validate(
        {
            "incident_types": list(incident_types),
            "narrative": narrative,
            "in_danger_now": in_danger_now,
            "location": {"governorate": governorate, "district": district},
            "perpetrator": {"identifiers": perpetrator},
        }
    ).to_json_bytes()


def _unlock(desk: Desk, session: Any, person: Person) -> UnlockedUser:
    return credentials.unlock(
        session, name=person.name, password=person.password, passwords=desk.runtime.passwords
    )


def list_page(
    desk: Desk,
    person: Person,
    filters: ReportFilter | None = None,
    *,
    page: int = 1,
    page_size: int = 2,
) -> ListPage:
    with desk.session() as session:
        listed = listing.list_page(
            session,
            reader=_unlock(desk, session, person),
            filters=filters or ReportFilter(),
            page=page,
            secrets=desk.secrets,
            page_size=page_size,
        )
        session.commit()
    return listed


def every_page(desk: Desk, person: Person, filters: ReportFilter | None = None) -> list[str]:
    """The narratives of every page, in order, two a page; stops at the last page."""
    narratives: list[str] = []
    for page in range(1, 20):
        listed = list_page(desk, person, filters, page=page)
        narratives += [narrative(entry.view.content) for entry in listed.entries]
        if not listed.has_next:
            return narratives
    raise AssertionError("the list never reached its last page")


def narrative(report_content: dict[str, Any] | None) -> str:
    assert report_content is not None
    return str(report_content["narrative"])


def show(desk: Desk, person: Person, report_id: UUID) -> ReportDetail:
    with desk.session() as session:
        detail = casework.show(
            session,
            reader=_unlock(desk, session, person),
            report_id=report_id,
            secrets=desk.secrets,
        )
        session.commit()
    return detail


def add_note(desk: Desk, person: Person, report_id: UUID, note: str) -> UUID:
    with desk.session() as session:
        note_id = casework.add_note(
            session,
            reader=_unlock(desk, session, person),
            report_id=report_id,
            text=note,
            secrets=desk.secrets,
        )
        session.commit()
    return note_id


def set_tags(desk: Desk, person: Person, report_id: UUID, tags: list[str]) -> None:
    with desk.session() as session:
        casework.set_tags(
            session,
            reader=_unlock(desk, session, person),
            report_id=report_id,
            tags=tags,
            secrets=desk.secrets,
        )
        session.commit()


def update_workflow(
    desk: Desk,
    person: Person,
    report_id: UUID,
    *,
    status: ReportStatus | None = None,
    priority: Priority | casework.Keep | None = None,
    risk: RiskLevel | None = None,
) -> None:
    with desk.session() as session:
        casework.update_workflow(
            session,
            reader=_unlock(desk, session, person),
            report_id=report_id,
            status=status,
            priority=priority,
            risk=risk,
            secrets=desk.secrets,
        )
        session.commit()


def link(desk: Desk, person: Person, report_id: UUID, other_id: UUID) -> None:
    with desk.session() as session:
        casework.link_reports(
            session,
            reader=_unlock(desk, session, person),
            report_id=report_id,
            other_id=other_id,
            secrets=desk.secrets,
        )
        session.commit()


def decrypt_entries(desk: Desk) -> list[dict[str, Any]]:
    with desk.session() as session:
        events = session.execute(
            select(AuditEvent).where(AuditEvent.action == "report.decrypt").order_by(AuditEvent.seq)
        ).scalars()
        return [
            {"actor": e.actor, "subject": e.subject, "detail": json.loads(e.detail)} for e in events
        ]


def row_bytes(desk: Desk, table: str) -> bytes:
    """Every stored value of ``table``, as bytes, to search for plaintext."""
    with desk.session() as session:
        rows = session.execute(text(f"SELECT * FROM {table}")).all()  # noqa: S608 - fixed names
    assert rows, f"{table} is empty: the search would prove nothing"
    return b"".join(
        bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
        for row in rows
        for value in row
    )
