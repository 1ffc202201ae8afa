"""The append-only audit log: who read or changed what, and when.

Every decryption, grant, assignment and key operation appends an entry in the same
transaction as the act itself, so an act without its entry never commits. Entries name
reports by public id and users by name; they never hold content.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hrd_reports.crypto.chain import GENESIS, chain_digest, digests_match
from hrd_reports.models import AuditEvent, AuditHead, UnauditedWithdrawal
from hrd_reports.services.clock import utc_now

_HEAD_ID = 1
_ACTOR_LENGTH = 64
_SUBJECT_LENGTH = 64


def lock_for_change(session: Session) -> None:
    """Make audited changes of people and keys run one at a time, by locking the chain's head.

    Vetting, revoking, assigning and rotating each read who holds what and then change it; two
    running side by side could both act on what the other is changing (a revoked holder
    receiving the new key of a concurrent rotation, the last two holders both revoked). Every
    such change calls this first, in the same transaction as its audit entry. SQLite already
    runs one writer at a time (``BEGIN IMMEDIATE``); this gives PostgreSQL the same order.
    """
    session.execute(select(AuditHead.id).where(AuditHead.id == _HEAD_ID).with_for_update()).one()


def _fit(text: str | None, length: int) -> str | None:
    # A subject can be something a person typed (a report id); keep it within the column.
    return text if text is None or len(text) <= length else text[: length - 1] + "\u2026"


def _record_of(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "occurred_at": event.occurred_at,
        "actor": event.actor,
        "action": event.action,
        "subject": event.subject,
        "detail": event.detail,
    }


def record(
    session: Session,
    *,
    audit_secret: bytes,
    actor: str,
    action: str,
    subject: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEvent:
    # Lock the head row: concurrent appends (several workers, CLI beside the server) queue
    # here instead of forking the chain.
    head = session.execute(
        select(AuditHead).where(AuditHead.id == _HEAD_ID).with_for_update()
    ).scalar_one()
    event = AuditEvent(
        seq=head.seq + 1,
        occurred_at=utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        actor=_fit(actor, _ACTOR_LENGTH),
        action=action,
        subject=_fit(subject, _SUBJECT_LENGTH),
        detail=json.dumps(dict(detail or {}), sort_keys=True, separators=(",", ":")),
    )
    event.digest = chain_digest(audit_secret, head.digest, _record_of(event))
    session.add(event)
    head.seq, head.digest = event.seq, event.digest
    session.flush()
    return event


@dataclass(frozen=True)
class ChainVerdict:
    intact: bool
    entries: int
    head_digest: str
    problem: str | None = None
    broken_seq: int | None = None


def verify(session: Session, *, audit_secret: bytes) -> ChainVerdict:
    """Recompute the chain from the first entry; name the first entry that does not fit.

    The head is read first and the walk stops at the entry it names, so entries appended
    while the check runs are left for the next check instead of looking like a broken end.
    """
    head = session.execute(select(AuditHead).where(AuditHead.id == _HEAD_ID)).scalar_one_or_none()
    last = head.seq if head is not None else 0
    # Streamed in chunks (a server-side cursor on PostgreSQL), closed however the loop ends.
    with session.execute(
        select(AuditEvent)
        .where(AuditEvent.seq <= last)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=1000)
    ) as result:
        previous, entries, broken = _walk(result.scalars(), audit_secret)
    if broken is not None:
        return broken
    beyond = _first_entry_beyond_head(session)
    if beyond is not None:
        return ChainVerdict(
            intact=False,
            entries=entries,
            head_digest=previous,
            problem=f"entry #{beyond} lies beyond the chain's head: it was added outside it",
            broken_seq=beyond,
        )
    if head is None or head.seq != entries or not digests_match(head.digest, previous):
        named = head.seq if head is not None else "?"
        return ChainVerdict(
            intact=False,
            entries=entries,
            head_digest=previous,
            problem=f"the log ends at entry #{entries} but its head names entry #{named}",
            broken_seq=entries + 1,
        )
    return ChainVerdict(intact=True, entries=entries, head_digest=previous)


def _first_entry_beyond_head(session: Session) -> int | None:
    # Read the head again: entries appended during the walk moved it, a forged one did not.
    head_seq = session.execute(select(AuditHead.seq).where(AuditHead.id == _HEAD_ID)).scalar()
    return session.execute(
        select(func.min(AuditEvent.seq)).where(AuditEvent.seq > (head_seq or 0))
    ).scalar()


def _walk(
    events: Iterable[AuditEvent], audit_secret: bytes
) -> tuple[str, int, ChainVerdict | None]:
    """The last digest and count of intact entries, and a verdict at the first broken one."""
    previous, seq = GENESIS, 0
    for event in events:
        expected = seq + 1
        if event.seq != expected:
            problem = f"entry #{expected} is missing (the next entry is #{event.seq})"
        elif not digests_match(
            event.digest, chain_digest(audit_secret, previous, _record_of(event))
        ):
            problem = f"entry #{event.seq} was altered, moved or forged"
        else:
            previous, seq = event.digest, expected
            continue
        verdict = ChainVerdict(
            intact=False, entries=seq, head_digest=previous, problem=problem, broken_seq=expected
        )
        return previous, seq, verdict
    return previous, seq, None


def record_withdrawals(session: Session, *, audit_secret: bytes) -> int:
    """Write the withdrawals waiting since the desk's last action to the audit log, at once.

    Called before every reading is audited, and by the purge of withdrawn reports: the entry's
    time is the desk's, and says of each withdrawal only that it came before.
    """
    waiting = list(
        session.execute(select(UnauditedWithdrawal).order_by(UnauditedWithdrawal.id)).scalars()
    )
    if not waiting:
        return 0
    record(
        session,
        audit_secret=audit_secret,
        actor="reporter",
        action="report.withdraw",
        subject=None,
        detail={
            "reports": [
                {
                    "id": str(row.public_id),
                    "withdrawn_on": row.withdrawn_on.isoformat(),
                    "destroyed": row.destroyed,
                }
                for row in waiting
            ]
        },
    )
    session.execute(
        delete(UnauditedWithdrawal).where(UnauditedWithdrawal.id.in_([row.id for row in waiting]))
    )
    session.flush()
    return len(waiting)


@dataclass(frozen=True)
class Page:
    events: list[AuditEvent]
    has_next: bool


def page(session: Session, *, page: int, page_size: int) -> Page:
    """One page of the log, newest first (pages numbered from 1)."""
    rows = list(
        session.execute(
            select(AuditEvent)
            .order_by(AuditEvent.seq.desc())
            .limit(page_size + 1)
            .offset((page - 1) * page_size)
        ).scalars()
    )
    return Page(events=rows[:page_size], has_next=len(rows) > page_size)
