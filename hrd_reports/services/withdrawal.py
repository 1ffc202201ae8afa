"""Destroying reports: withdrawn by their reporter (at once, or after the desk's grace
period), or destroyed by a key holder. A tombstone is kept of each, with workflow fields only.
The retention policy (services.retention) destroys with the same ``destroy``.
"""

import datetime as dt
from uuid import UUID

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hrd_reports import received
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import (
    Destroyer,
    Report,
    UnauditedWithdrawal,
    WithdrawnReport,
)
from hrd_reports.services import attachments, audit, keyring, reading
from hrd_reports.services.clock import utc_today
from hrd_reports.services.conversation import report_of_receipt
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import Invalid

MAX_DESTRUCTION_REASON_LENGTH = 500


def destroy(
    session: Session,
    report: Report,
    *,
    withdrawn_on: dt.date,
    by: Destroyer = Destroyer.REPORTER,
) -> None:
    """Delete the report and everything that holds its content; keep a tombstone.

    Messages, notes, grants, links and files go with the row (ON DELETE CASCADE); uploads
    for it still running are deleted with it. On SQLite the freed pages are overwritten
    (``secure_delete``), so the ciphertext does not linger there; the caller then empties the
    write-ahead log (``db.checkpoint_deleted``) once committed.
    """
    session.add(
        WithdrawnReport(
            public_id=report.public_id,
            received_on=report.received_on,
            withdrawn_on=withdrawn_on,
            destroyed_by=by,
            status=report.status,
            priority=report.priority,
            risk=report.risk,
            urgent=report.urgent,
            server_sealed=report.server_sealed,
        )
    )
    attachments.delete_files_of(session, report)
    session.execute(delete(Report).where(Report.id == report.id))
    session.flush()


def withdraw(
    session: Session, *, lookup_token: bytes, grace: dt.timedelta, secrets: ServerSecrets
) -> bool:
    """The reporter takes the report back: destroyed now, or after the desk's grace period.

    During a grace period the receipt already leads nowhere and the desk sees the report as
    withdrawn; ``purge_withdrawn`` destroys it when the period ends. True when destroyed now.
    """
    report = report_of_receipt(session, lookup_token, secrets)
    today = utc_today()
    destroyed = grace <= dt.timedelta(0)
    # Audited at the desk's next action (audit.record_withdrawals), never timed to the second now.
    session.add(
        UnauditedWithdrawal(public_id=report.public_id, withdrawn_on=today, destroyed=destroyed)
    )
    if destroyed:
        destroy(session, report, withdrawn_on=today)
    else:
        report.withdrawn_on = today
        session.flush()
    return destroyed


def purge_withdrawn(
    session: Session, *, grace: dt.timedelta, actor: str, secrets: ServerSecrets
) -> list[str]:
    """Destroy every withdrawn report whose grace period has ended; audited."""
    audit.lock_for_change(session)
    audit.record_withdrawals(session, audit_secret=secrets.audit)
    due = utc_today() - grace
    destroyed = []
    for report in session.execute(select(Report).where(Report.withdrawn_on <= due)).scalars():
        withdrawn_on = report.withdrawn_on or due
        destroyed.append(str(report.public_id))
        destroy(session, report, withdrawn_on=withdrawn_on)
    if destroyed:
        audit.record(
            session,
            audit_secret=secrets.audit,
            actor=actor,
            action="report.destroy",
            subject=None,
            detail={"reports": destroyed},
        )
    return destroyed


def tombstone_count(session: Session) -> int:
    """How many reports were ever destroyed (withdrawn, by the desk, by retention)."""
    return session.execute(select(func.count()).select_from(WithdrawnReport)).scalar_one()


def clean_reason(text: str, *, missing: str = N_("say why the report is destroyed")) -> str:
    """A reason for an act on a report (destroying it, a legal hold): required, one line,
    plain text, bounded; ``missing`` says what to write when there is none."""
    reason = " ".join(text.split())
    if not reason:
        raise Invalid(missing)
    if len(reason) > MAX_DESTRUCTION_REASON_LENGTH:
        raise Invalid(
            N_("a reason has at most %(limit)d characters"), limit=MAX_DESTRUCTION_REASON_LENGTH
        )
    if received.visible(reason) != reason:
        raise Invalid(N_("a reason is plain text, without control characters"))
    return reason


def destroy_by_desk(
    session: Session,
    *,
    keyholder: UnlockedUser,
    report_id: str | UUID,
    reason: str,
    secrets: ServerSecrets,
) -> UUID:
    """A key holder destroys a report without its reporter: one that is abusive, or crafted
    to break the desk's pages. Audited with the reason; a tombstone is kept.

    The very destruction of a withdrawal (``destroy``), and then the same answer to the
    receipt as for a withdrawn report. The tombstone says that the desk destroyed it, and the
    day. The reason goes to the audit log, and only there, in clear: the people who read the
    log are those who oversee the key holders (auditors hold no report key). Sealed to the
    desk's key, it would be readable only by the very people whose destruction it explains.
    The form and the command therefore ask why the report is destroyed, not what it says.
    Nothing is decrypted: the caller's keys prove only who is acting.
    """
    reason = clean_reason(reason)
    reading.reader_keys(session, keyholder)
    audit.lock_for_change(session)
    keyring.require_key_holder(session, keyholder.user)
    report = reading.get_report(session, report_id)
    public_id, withdrawn = report.public_id, report.withdrawn_on is not None
    # A withdrawal waiting for the audit log is written before this entry, which comes after.
    audit.record_withdrawals(session, audit_secret=secrets.audit)
    destroy(session, report, withdrawn_on=utc_today(), by=Destroyer.DESK)
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=keyholder.name,
        action="report.destroy",
        subject=str(public_id),
        detail={"by": Destroyer.DESK.value, "reason": reason, "was_withdrawn": withdrawn},
    )
    return public_id
