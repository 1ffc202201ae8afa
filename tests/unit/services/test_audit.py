"""The audit log: append-only and hash-chained; tampering is found and named (invariant 5)."""

import pytest
from sqlalchemy import delete, select, update

from hrd_reports.crypto.chain import chain_digest
from hrd_reports.models import AuditEvent, AuditHead, Role
from hrd_reports.services import audit
from hrd_reports.services.audit import ChainVerdict
from tests.helpers import Desk, Person, report_content


@pytest.fixture
def busy_desk(desk: Desk, admin: Person) -> Desk:
    carol = desk.add_vetted("carol", Role.COORDINATOR, by=admin)
    desk.add_vetted("dave", Role.CASE_WORKER, by=admin)
    report = desk.submit(report_content("audited"))
    desk.assign(report.report_id, to="dave", by=carol)
    desk.list_reports(carol)
    return desk


def _verify(desk: Desk) -> ChainVerdict:
    with desk.session() as session:
        return audit.verify(session, audit_secret=desk.audit_secret)


def test_untouched_log_verifies(busy_desk: Desk) -> None:
    verdict = _verify(busy_desk)
    assert verdict.intact
    assert verdict.entries >= 8
    with busy_desk.session() as session:
        actions = list(
            session.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars()
        )
    assert actions[:2] == ["user.add", "desk.set_up"]
    assert {"user.vet", "report.assign", "report.decrypt"} <= set(actions)


@pytest.mark.parametrize("field", ["actor", "action", "subject", "detail", "occurred_at"])
def test_edited_entry_is_named(busy_desk: Desk, field: str) -> None:
    with busy_desk.session() as session:
        session.execute(
            update(AuditEvent).where(AuditEvent.seq == 4).values({field: "2020-01-01T00:00:00Z"})
        )
        session.commit()
    verdict = _verify(busy_desk)
    assert not verdict.intact
    assert verdict.broken_seq == 4
    assert "#4" in (verdict.problem or "")


def test_deleted_entry_is_named(busy_desk: Desk) -> None:
    with busy_desk.session() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.seq == 3))
        session.commit()
    verdict = _verify(busy_desk)
    assert (verdict.intact, verdict.broken_seq) == (False, 3)
    assert "missing" in (verdict.problem or "")


def test_reordered_entries_are_named(busy_desk: Desk) -> None:
    with busy_desk.session() as session:
        # Swap entries 5 and 6, renumbering them so the sequence has no gap.
        session.execute(update(AuditEvent).where(AuditEvent.seq == 5).values(seq=-5))
        session.execute(update(AuditEvent).where(AuditEvent.seq == 6).values(seq=5))
        session.execute(update(AuditEvent).where(AuditEvent.seq == -5).values(seq=6))
        session.commit()
    verdict = _verify(busy_desk)
    assert (verdict.intact, verdict.broken_seq) == (False, 5)


def test_deleted_newest_entry_is_found_through_the_head(busy_desk: Desk) -> None:
    with busy_desk.session() as session:
        last = session.execute(select(AuditHead.seq)).scalar_one()
        session.execute(delete(AuditEvent).where(AuditEvent.seq == last))
        session.commit()
    verdict = _verify(busy_desk)
    assert not verdict.intact
    assert verdict.broken_seq == verdict.entries + 1


def test_entry_forged_without_the_audit_secret_is_named(busy_desk: Desk) -> None:
    with busy_desk.session() as session:
        event = session.execute(select(AuditEvent).where(AuditEvent.seq == 2)).scalar_one()
        previous = session.execute(
            select(AuditEvent.digest).where(AuditEvent.seq == 1)
        ).scalar_one()
        event.actor = "someone else"
        # A forger recomputes the digest, but cannot without the secret in keys/.
        event.digest = chain_digest(
            b"guessed secret".ljust(32),
            previous,
            {
                "seq": 2,
                "occurred_at": event.occurred_at,
                "actor": event.actor,
                "action": event.action,
                "subject": event.subject,
                "detail": event.detail,
            },
        )
        session.commit()
    assert _verify(busy_desk).broken_seq == 2


def test_entries_hold_no_report_content(busy_desk: Desk) -> None:
    with busy_desk.session() as session:
        texts = [
            f"{e.actor} {e.action} {e.subject} {e.detail}"
            for e in session.execute(select(AuditEvent)).scalars()
        ]
    assert not any("audited" in text for text in texts)


def test_entry_appended_beyond_the_head_is_named(busy_desk: Desk) -> None:
    with busy_desk.session() as session:
        head = session.execute(select(AuditHead)).scalar_one()
        session.add(
            AuditEvent(
                seq=head.seq + 1,
                occurred_at="2026-01-01T00:00:00Z",
                actor="someone",
                action="report.decrypt",
                subject=None,
                detail="{}",
                digest="0" * 64,
            )
        )
        session.commit()
        beyond = head.seq + 1
    verdict = _verify(busy_desk)
    assert (verdict.intact, verdict.broken_seq) == (False, beyond)
