"""Reports by their short id, and the reports offered for linking to another.

A report's id is a UUID: too long to read out or type. The desk names a report by its first
eight hexadecimal digits, and a typed short id is resolved only among the reports the reader
may open, so that a case worker cannot probe for the existence of reports assigned to others
(an unknown id and someone else's report get the same answer).
"""

import datetime as dt
import re
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import case, or_, select
from sqlalchemy.orm import Session

from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import Report, ReportLink
from hrd_reports.services import reading
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import Conflict, Invalid, NotFound

SHORT_ID_LENGTH = 8
# How many recent reports the link form offers to pick from.
CANDIDATES = 15
_HEX_PREFIX = re.compile(rf"[0-9a-f]{{{SHORT_ID_LENGTH},32}}")


def short_id(report_id: UUID) -> str:
    return report_id.hex[:SHORT_ID_LENGTH]


@dataclass(frozen=True)
class Candidate:
    """A report offered for linking: what the reader may read of it, nothing more."""

    id: UUID
    short_id: str
    received_on: dt.date
    incident_types: list[str]


def resolve(session: Session, *, reader: UnlockedUser, text: str) -> UUID:
    """The report whose id starts with ``text`` (a short id, a longer prefix or the whole
    id), among those ``reader`` may open."""
    cleaned = text.strip().lower().lstrip("#").replace("-", "")
    if not _HEX_PREFIX.fullmatch(cleaned):
        raise Invalid(
            N_("a report's short id is its first %(length)d characters, 0 to 9 and a to f"),
            length=SHORT_ID_LENGTH,
        )
    # The ids sharing the prefix lie between these two, in the order of their digits: one
    # index range on either database, instead of a string match on every row.
    low, high = UUID(cleaned.ljust(32, "0")), UUID(cleaned.ljust(32, "f"))
    found = list(
        session.execute(
            reading.visible(reader)
            .with_only_columns(Report.public_id)
            .where(Report.public_id.between(low, high))
            .limit(2)
        ).scalars()
    )
    if not found:
        raise NotFound(N_("no report you can open has the short id %(short)s"), short=cleaned)
    if len(found) > 1:
        raise Conflict(
            N_("several reports start with %(short)s; type more of the id"), short=cleaned
        )
    return found[0]


def candidates(
    session: Session,
    *,
    reader: UnlockedUser,
    report_id: UUID,
    secrets: ServerSecrets,
    limit: int = CANDIDATES,
) -> list[Candidate]:
    """The reader's most recent reports that are not yet linked to ``report_id``, each with
    its incident types (codes, which a page translates); their reading is audited."""
    this = reading.get_report(session, report_id)
    other = case(
        (ReportLink.report_id == this.id, ReportLink.linked_id), else_=ReportLink.report_id
    )
    linked = select(other).where(
        or_(ReportLink.report_id == this.id, ReportLink.linked_id == this.id)
    )
    reports = list(
        session.execute(
            reading.visible(reader)
            .where(Report.id != this.id, Report.id.not_in(linked))
            .order_by(Report.received_on.desc(), Report.id.desc())
            .limit(limit)
        ).scalars()
    )
    if not reports:
        return []
    keys = reading.reader_keys(session, reader)
    views = [reading.open_view(session, report, keys) for report in reports]
    reading.audit_reading(
        session,
        reader=reader.name,
        opened=reading.opened_views(views),
        secrets=secrets,
        subject=str(report_id),
        detail={"for": "link choices"},
    )
    return [
        Candidate(
            id=view.id,
            short_id=short_id(view.id),
            received_on=view.received_on,
            incident_types=[
                kind
                for kind in (view.content or {}).get("incident_types", [])
                if isinstance(kind, str)
            ],
        )
        for view in views
    ]
