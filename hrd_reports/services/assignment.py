"""Assigning a report, and taking it back: a case worker receives that one report's key
(sealed to their own public key), and loses it with the assignment.
"""

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import delete
from sqlalchemy.orm import Session

from hrd_reports.crypto.envelope import seal_dek
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import Report, ReportGrant, Role, User
from hrd_reports.services import audit, keyring, reading, users
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import Conflict, Forbidden

ASSIGNABLE_ROLES = frozenset({Role.CASE_WORKER, Role.COORDINATOR})


@dataclass(frozen=True)
class AssignOutcome:
    report_id: UUID
    assignee: str
    previous: str | None
    report_key_granted: bool


def _remove_assignment(session: Session, report: Report) -> str | None:
    """Take the report from its assignee, and their key to it with it; their name, if any."""
    previous = report.assignee
    if previous is None:
        return None
    session.execute(
        delete(ReportGrant).where(
            ReportGrant.report_id == report.id, ReportGrant.user_id == previous.id
        )
    )
    report.assignee = None
    return previous.name


def assign_report(
    session: Session,
    *,
    keyholder: UnlockedUser,
    report_id: str | UUID,
    assignee_name: str,
    secrets: ServerSecrets,
) -> AssignOutcome:
    """Assign a report; a case worker gets its data key sealed to their own public key."""
    keys = reading.reader_keys(session, keyholder)
    audit.lock_for_change(session)
    keyring.require_key_holder(session, keyholder.user)
    report = reading.get_report(session, report_id)
    assignee: User = users.get_user(session, assignee_name)
    if assignee.disabled or not assignee.vetted or assignee.role not in ASSIGNABLE_ROLES:
        raise Forbidden(
            N_("%(name)s cannot take reports: only vetted case workers and coordinators can"),
            name=assignee_name,
        )
    previous = _remove_assignment(session, report)
    granted = False
    if assignee.role == Role.CASE_WORKER:
        dek = keys.data_key(session, report)
        sealed = seal_dek(
            dek,
            report_id=report.public_id,
            recipient=keyring.user_public_key(assignee, secrets=secrets),
        )
        session.add(
            ReportGrant(
                report_id=report.id,
                user_id=assignee.id,
                holder_key_id=sealed.key_id,
                suite=sealed.suite,
                sealed_dek=sealed.ciphertext,
            )
        )
        granted = True
    report.assignee = assignee
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=keyholder.name,
        action="report.assign",
        subject=str(report.public_id),
        detail={"to": assignee.name, "from": previous, "report_key_granted": granted},
    )
    return AssignOutcome(
        report_id=report.public_id,
        assignee=assignee.name,
        previous=previous,
        report_key_granted=granted,
    )


def unassign(
    session: Session, *, keyholder: UnlockedUser, report_id: str | UUID, secrets: ServerSecrets
) -> str | None:
    """Take a report back from its assignee; a case worker's key to it is deleted."""
    reading.reader_keys(session, keyholder)
    audit.lock_for_change(session)
    keyring.require_key_holder(session, keyholder.user)
    report = reading.get_report(session, report_id)
    previous = _remove_assignment(session, report)
    if previous is None:
        raise Conflict(N_("this report is not assigned"))
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=keyholder.name,
        action="report.unassign",
        subject=str(report.public_id),
        detail={"from": previous},
    )
    return previous
