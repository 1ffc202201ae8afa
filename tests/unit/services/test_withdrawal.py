"""Destroying reports: withdrawal by the reporter, destruction by a key holder, the tombstones."""

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from typing import Any

import pytest
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hrd_reports.crypto.receipts import derive_receipt_keys
from hrd_reports.models import (
    AuditEvent,
    Base,
    Destroyer,
    Report,
    ReportGrant,
    Role,
    WithdrawnReport,
)
from hrd_reports.services import (
    audit,
    casework,
    clock,
    conversation,
    credentials,
    withdrawal,
)
from hrd_reports.services.clock import utc_today
from hrd_reports.services.errors import Forbidden, Invalid, NotFound
from tests.helpers import Desk, Person, Submitted, report_content
from tests.unit.services.conversation_support import message_count, post

# ---- withdrawal ---------------------------------------------------------------------------


def _everything_of_a_report(desk: Desk, admin: Person) -> tuple[Submitted, Submitted]:
    """A report with all that can hang on it (a grant, a note, tags, a link, messages both
    ways), and another report linked to it."""
    desk.add_vetted("wafa", Role.CASE_WORKER, by=admin)
    submitted = desk.submit(report_content("CANARY-withdrawn-report"))
    other = desk.submit(report_content("CANARY-other-report"))
    desk.assign(submitted.report_id, to="wafa", by=admin)
    desk.reply(submitted.report_id, "CANARY-desk-reply", by=admin)
    post(desk, submitted, "CANARY-reporter-message")
    with desk.session() as session:
        reader = credentials.unlock(
            session, name=admin.name, password=admin.password, passwords=desk.runtime.passwords
        )
        report_id, secrets = submitted.report_id, desk.secrets
        casework.add_note(session, reader=reader, report_id=report_id, text="n", secrets=secrets)
        casework.set_tags(session, reader=reader, report_id=report_id, tags=["t"], secrets=secrets)
        casework.link_reports(
            session, reader=reader, report_id=report_id, other_id=other.report_id, secrets=secrets
        )
        session.commit()
    return submitted, other


def _rows_of(session: Session, report_pk: int) -> dict[str, list[Any]]:
    """The report's row and every row that refers to it, by table. The tables are read from
    the schema (foreign keys to ``reports``), so a table added later is searched too."""
    found: dict[str, list[Any]] = {}
    for table in Base.metadata.sorted_tables:
        refers = [
            key.parent == report_pk
            for key in table.foreign_keys
            if key.column.table.name == "reports"
        ]
        if table.name == Report.__tablename__:
            refers.append(table.c.id == report_pk)
        if refers:
            found[table.name] = list(session.execute(select(table).where(or_(*refers))))
    return found


def _binary_values(rows: Iterable[Any]) -> list[bytes]:
    return [bytes(value) for row in rows for value in row if isinstance(value, bytes | memoryview)]


def _everything_stored(session: Session) -> list[bytes]:
    return _binary_values(
        row for table in Base.metadata.sorted_tables for row in session.execute(select(table))
    )


@pytest.mark.parametrize("grace_days", [0, 7], ids=["at-once", "after-a-grace-period"])
def test_withdrawn_report_is_destroyed_with_all_it_holds_and_leaves_a_tombstone(
    desk: Desk, admin: Person, monkeypatch: pytest.MonkeyPatch, grace_days: int
) -> None:
    submitted, other = _everything_of_a_report(desk, admin)
    grace = dt.timedelta(days=grace_days)
    with desk.session() as session:
        report_pk = session.execute(
            select(Report.id).where(Report.public_id == submitted.report_id)
        ).scalar_one()
        held = _rows_of(session, report_pk)
    assert {table for table, rows in held.items() if rows} == {
        "reports",
        "report_grants",
        "report_notes",
        "report_messages",
        "report_links",
    }
    # Body, sealed DEK, reporter and message keys, lookup hash, tags, the grant's sealed DEK,
    # the note, the reply (the desk's copy and the reporter's), the reporter's message.
    secrets_held = _binary_values(row for rows in held.values() for row in rows)
    assert len(secrets_held) == 11

    with desk.session() as session:
        destroyed = withdrawal.withdraw(
            session,
            lookup_token=derive_receipt_keys(submitted.receipt).lookup_token,
            grace=grace,
            secrets=desk.secrets,
        )
        session.commit()
    assert destroyed == (grace_days == 0)
    if grace_days:
        # Kept for its grace period (the receipt already leads nowhere), then purged.
        with desk.session() as session:
            assert (
                withdrawal.purge_withdrawn(session, grace=grace, actor="test", secrets=desk.secrets)
                == []
            )
            session.commit()
        later = clock.utc_now() + grace
        monkeypatch.setattr(clock, "utc_now", lambda: later)
        with desk.session() as session:
            assert withdrawal.purge_withdrawn(
                session, grace=grace, actor="test", secrets=desk.secrets
            ) == [str(submitted.report_id)]
            session.commit()

    with desk.session() as session:
        assert {table: rows for table, rows in _rows_of(session, report_pk).items() if rows} == {}
        stored = _everything_stored(session)
        tombstone = session.execute(select(WithdrawnReport)).scalar_one()
        survivor = session.execute(select(Report)).scalar_one()
    # Not deleted in name only: no byte string the report held is anywhere in the database.
    assert [held[:16].hex() for held in secrets_held if any(held in s for s in stored)] == []
    assert tombstone.public_id == submitted.report_id
    assert survivor.public_id == other.report_id


# ---- destroyed by the desk --------------------------------------------------------------


def _tombstones(desk: Desk) -> list[tuple[uuid.UUID, Destroyer, dt.date]]:
    with desk.session() as session:
        rows = session.execute(
            select(
                WithdrawnReport.public_id,
                WithdrawnReport.destroyed_by,
                WithdrawnReport.withdrawn_on,
            )
        ).all()
    return [tuple(row) for row in rows]


def _inbox(desk: Desk, submitted: Submitted) -> conversation.Inbox:
    with desk.session() as session:
        return conversation.open_inbox(
            session,
            lookup_token=derive_receipt_keys(submitted.receipt).lookup_token,
            secrets=desk.secrets,
            locale="en",
        )


def _audit(desk: Desk, action: str) -> list[tuple[str, str | None, dict[str, object]]]:
    with desk.session() as session:
        rows = session.execute(
            select(AuditEvent.actor, AuditEvent.subject, AuditEvent.detail)
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.seq)
        ).all()
    return [(actor, subject, json.loads(detail)) for actor, subject, detail in rows]


def test_destroy_by_desk_deletes_the_report_and_keeps_a_tombstone_of_the_desk(
    desk: Desk, admin: Person
) -> None:
    coordinator = desk.add_vetted("carol", Role.COORDINATOR, by=admin)
    desk.add_vetted("wafa", Role.CASE_WORKER, by=admin)
    submitted = desk.submit(b"[" * 100_000 + b"]" * 100_000)
    kept = desk.submit(report_content("CANARY-kept"))
    desk.assign(submitted.report_id, to="wafa", by=coordinator)
    post(desk, submitted, "a message that goes with it")

    destroyed = desk.destroy(submitted.report_id, reason="crafted to break the list", by=admin)

    assert destroyed == submitted.report_id
    with desk.session() as session:
        assert session.execute(select(Report.public_id)).scalars().all() == [kept.report_id]
        assert session.execute(select(func.count()).select_from(ReportGrant)).scalar_one() == 0
    assert message_count(desk) == 0
    assert _tombstones(desk) == [(submitted.report_id, Destroyer.DESK, utc_today())]
    assert _audit(desk, "report.destroy") == [
        (
            "admin",
            str(submitted.report_id),
            {"by": "desk", "reason": "crafted to break the list", "was_withdrawn": False},
        )
    ]
    with desk.session() as session:
        assert audit.verify(session, audit_secret=desk.audit_secret).intact


def test_destroy_by_desk_leaves_the_receipt_leading_nowhere_as_a_withdrawal_does(
    desk: Desk, admin: Person
) -> None:
    submitted = desk.submit(report_content("CANARY-gone"))
    desk.destroy(submitted.report_id, reason="abusive", by=admin)
    with pytest.raises(NotFound) as refused:
        _inbox(desk, submitted)
    assert refused.value.template == conversation.NOTHING_FOUND


def test_destroy_by_desk_of_a_report_withdrawn_in_its_grace_period_audits_the_withdrawal_first(
    desk: Desk, admin: Person
) -> None:
    submitted = desk.submit(report_content("CANARY-withdrawn-then-destroyed"))
    with desk.session() as session:
        withdrawal.withdraw(
            session,
            lookup_token=derive_receipt_keys(submitted.receipt).lookup_token,
            grace=dt.timedelta(days=3),
            secrets=desk.secrets,
        )
        session.commit()

    desk.destroy(submitted.report_id, reason="no need to keep it", by=admin)

    with desk.session() as session:
        actions = session.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars()
        order = [action for action in actions if action.startswith("report.")]
    assert order[-2:] == ["report.withdraw", "report.destroy"]
    assert _audit(desk, "report.destroy")[0][2]["was_withdrawn"] is True
    assert _tombstones(desk)[0][1] == Destroyer.DESK


@pytest.mark.parametrize(
    "reason",
    [
        "",
        "   \n ",
        "x" * (withdrawal.MAX_DESTRUCTION_REASON_LENGTH + 1),
        "why\x1b[2J",
        "\u202eevil",
    ],
    ids=["empty", "blank", "too long", "escape sequence", "bidi override"],
)
def test_destroy_by_desk_without_a_plain_reason_is_refused_and_changes_nothing(
    desk: Desk, admin: Person, reason: str
) -> None:
    submitted = desk.submit(report_content("CANARY-no-reason"))
    with pytest.raises(Invalid):
        desk.destroy(submitted.report_id, reason=reason, by=admin)
    assert _inbox(desk, submitted).report_id == submitted.report_id
    assert (_tombstones(desk), _audit(desk, "report.destroy")) == ([], [])


def test_destroy_by_desk_reason_is_kept_on_one_line() -> None:
    assert withdrawal.clean_reason("  spam,\n sent\ttwice ") == "spam, sent twice"


@pytest.mark.parametrize("role", [Role.CASE_WORKER, Role.AUDITOR], ids=["case worker", "auditor"])
def test_destroy_by_desk_by_someone_who_holds_no_desk_key_is_refused(
    desk: Desk, admin: Person, role: Role
) -> None:
    # A case worker vetted and holding this very report's key; an auditor holds none.
    submitted = desk.submit(report_content("CANARY-not-theirs-to-destroy"))
    if role == Role.CASE_WORKER:
        person = desk.add_vetted("someone", role, by=admin)
        desk.assign(submitted.report_id, to="someone", by=admin)
    else:
        person = desk.add("someone", role)
    with pytest.raises(Forbidden):
        desk.destroy(submitted.report_id, reason="mine now", by=person)
    assert _inbox(desk, submitted).report_id == submitted.report_id
    assert _tombstones(desk) == []


def test_destroy_by_desk_of_an_unknown_report_is_refused(desk: Desk, admin: Person) -> None:
    with pytest.raises(NotFound):
        desk.destroy(uuid.uuid4(), reason="gone", by=admin)
