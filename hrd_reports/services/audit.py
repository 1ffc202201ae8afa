"""The append-only audit log: who read or changed what, and when.

Every decryption, grant, assignment and key operation appends an entry in the same
transaction as the act itself, so an act without its entry never commits. Entries name
reports by public id and users by name; they never hold content.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hrd_reports.crypto.chain import GENESIS, chain_digest, digests_match
from hrd_reports.models import AuditEvent, AuditHead
from hrd_reports.services.clock import utc_now

_HEAD_ID = 1


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
        actor=actor,
        action=action,
        subject=subject,
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
    """Recompute the chain from the first entry; name the first entry that does not fit."""
    # Streamed in chunks (a server-side cursor on PostgreSQL), closed however the loop ends.
    with session.execute(
        select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=1000)
    ) as result:
        previous, entries, broken = _walk(result.scalars(), audit_secret)
    if broken is not None:
        return broken
    head = session.get(AuditHead, _HEAD_ID)
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
