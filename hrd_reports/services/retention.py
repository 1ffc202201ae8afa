"""The retention policy: finished reports destroyed once their period ends, legal holds.

A desk that keeps every report forever keeps, for whoever seizes it next, the names and
places of people it can no longer help. ``HRD_RETENTION`` gives a period per finished status
(closed, duplicate, out of mandate), counted from the day the status last changed; open cases
are never destroyed by a timer, and a report on legal hold is kept until a key holder releases
it. Destruction is the withdrawal's (``withdrawal.destroy``): the report, its files, messages,
notes, tags, links and grants go, a tombstone stays for statistics, and the audit log says why.
"""

import datetime as dt
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.orm import Session

from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import Destroyer, Report, ReportStatus
from hrd_reports.services import audit, keyring, linking, reading, withdrawal
from hrd_reports.services.clock import utc_today
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import Conflict

Policy = dict[ReportStatus, int]

# The dashboard shows what the policy destroys in this many days, while it can still be held.
WARNING_DAYS = 14

# The day a report's period started: its last status change, else the day it arrived.
_SINCE = func.coalesce(Report.status_on, Report.received_on)


@dataclass(frozen=True)
class Due:
    """A report the policy destroys on ``destroy_on`` (unless ``held``)."""

    report_id: UUID
    status: ReportStatus
    since: dt.date
    destroy_on: dt.date
    held: bool

    @property
    def short_id(self) -> str:
        return linking.short_id(self.report_id)


def _expiring(policy: Policy, *, by: dt.date) -> ColumnElement[bool]:
    """Reports whose period ends on ``by`` or earlier; withdrawn ones follow their own grace."""
    return or_(
        *(
            # The column first, as SQL reads it.
            (Report.status == status) & (_SINCE <= by - dt.timedelta(days=days))  # noqa: SIM300
            for status, days in policy.items()
        ),
        false(),
    ) & Report.withdrawn_on.is_(None)


def due(
    session: Session, *, policy: Policy, within_days: int = 0, today: dt.date | None = None
) -> list[Due]:
    """What the policy destroys within ``within_days`` (0: what is due now), soonest first,
    held reports included (they are shown, and skipped by ``purge``)."""
    today = today or utc_today()
    rows = session.execute(
        select(Report.public_id, Report.status, _SINCE, Report.legal_hold)
        .where(_expiring(policy, by=today + dt.timedelta(days=within_days)))
        .order_by(_SINCE, Report.id)
    ).all()
    return sorted(
        (
            Due(
                report_id=public_id,
                status=status,
                since=since,
                destroy_on=since + dt.timedelta(days=policy[status]),
                held=held,
            )
            for public_id, status, since, held in rows
        ),
        key=lambda entry: entry.destroy_on,
    )


@dataclass(frozen=True)
class Outlook:
    """What the policy holds for one report: held, or the day it goes (None: no period applies
    to its status)."""

    held: bool
    destroy_on: dt.date | None


def outlook(session: Session, *, report_id: str | UUID, policy: Policy) -> Outlook:
    report = reading.get_report(session, report_id)
    days = policy.get(report.status) if report.withdrawn_on is None else None
    since = report.status_on or report.received_on
    return Outlook(
        held=report.legal_hold,
        destroy_on=since + dt.timedelta(days=days) if days is not None else None,
    )


def purge(session: Session, *, policy: Policy, actor: str, secrets: ServerSecrets) -> list[str]:
    """Destroy every report whose period has ended and that is not held; one audit entry."""
    if not policy:
        return []
    audit.lock_for_change(session)
    # A withdrawal waiting for the audit log is written before this entry, which comes after.
    audit.record_withdrawals(session, audit_secret=secrets.audit)
    today = utc_today()
    query = select(Report).where(_expiring(policy, by=today), Report.legal_hold.is_(False))
    destroyed = []
    for report in session.execute(query.order_by(Report.id)).scalars():
        destroyed.append(str(report.public_id))
        withdrawal.destroy(session, report, withdrawn_on=today, by=Destroyer.RETENTION)
    if destroyed:
        audit.record(
            session,
            audit_secret=secrets.audit,
            actor=actor,
            action="report.destroy",
            subject=None,
            detail={
                "by": Destroyer.RETENTION.value,
                "reports": destroyed,
                "policy": {status.value: days for status, days in policy.items()},
            },
        )
    return destroyed


def set_hold(
    session: Session,
    *,
    keyholder: UnlockedUser,
    report_id: str | UUID,
    held: bool,
    reason: str,
    secrets: ServerSecrets,
) -> UUID:
    """Put a report on legal hold, or release it; a key holder's act, audited with the reason.

    Like a destruction, decided by those who hold the desk's key, and the reason goes to the
    audit log only (see ``withdrawal.destroy_by_desk`` for why in clear).
    """
    reason = withdrawal.clean_reason(
        reason, missing=N_("say why the legal hold is set or released")
    )
    reading.reader_keys(session, keyholder)
    audit.lock_for_change(session)
    keyring.require_key_holder(session, keyholder.user)
    report = reading.get_report(session, report_id)
    if report.legal_hold == held:
        raise Conflict(
            N_("this report is already on legal hold")
            if held
            else N_("this report is not on legal hold")
        )
    report.legal_hold = held
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=keyholder.name,
        action="report.hold" if held else "report.release",
        subject=str(report.public_id),
        detail={"reason": reason},
    )
    return report.public_id
