"""Publishing statistics: only a coordinator (or an administrator) publishes, a title is one
line of text, and a snapshot that no longer opens is named without hiding the others."""

from uuid import UUID

import pytest
from sqlalchemy import select, update

from hrd_reports.models import AuditEvent, Role, StatisticsSnapshot
from hrd_reports.services import snapshots, statistics
from hrd_reports.services.clock import utc_today
from hrd_reports.services.errors import DataIntegrityError, Forbidden, Invalid
from tests.helpers import Desk, Person, report_content


def publish(desk: Desk, person: Person, title: str = "") -> UUID:
    with desk.session() as session:
        reader = desk._unlock(session, person)
        computed = statistics.compute(
            session,
            reader=reader,
            filters=statistics.StatisticsFilter(),
            today=utc_today(),
            min_cell=5,
        )
        snapshot_id = snapshots.publish(
            session, publisher=reader, computed=computed, title=title, secrets=desk.secrets
        )
        session.commit()
    return snapshot_id


def test_a_published_snapshot_reads_back_as_it_was_shown(desk: Desk, admin: Person) -> None:
    desk.submit(report_content("CANARY-snapshot"))
    snapshot_id = publish(desk, admin, title="  first   quarter ")

    with desk.session() as session:
        snapshot = snapshots.get_snapshot(session, snapshot_id=snapshot_id, secrets=desk.secrets)
        entry = session.execute(
            select(AuditEvent).where(AuditEvent.action == "statistics.publish")
        ).scalar_one()
    assert (snapshot.title, snapshot.published_by) == ("first quarter", admin.name)
    assert snapshot.statistics.reports.mark == "small"
    assert (entry.actor, entry.subject) == (admin.name, str(snapshot_id))


def test_a_case_worker_cannot_publish_even_past_the_web(desk: Desk, admin: Person) -> None:
    worker = desk.add_vetted("wes", Role.CASE_WORKER, by=admin)

    with pytest.raises(Forbidden, match="published by a coordinator"):
        publish(desk, worker)


@pytest.mark.parametrize(
    ("title", "message"),
    [("t" * 121, "at most"), ("a\u202eb", "one line"), ("a\x07b", "one line")],
)
def test_a_title_is_one_short_line_of_plain_text(title: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        snapshots.clean_title(title)


def test_a_damaged_snapshot_is_named_and_hides_no_other(desk: Desk, admin: Person) -> None:
    kept = publish(desk, admin, "kept")
    damaged = publish(desk, admin, "damaged")
    with desk.session() as session:
        session.execute(
            update(StatisticsSnapshot)
            .where(StatisticsSnapshot.public_id == damaged)
            .values(published_by="mallory")
        )
        session.commit()

    with desk.session() as session:
        listed = snapshots.list_snapshots(session, secrets=desk.secrets)
        with pytest.raises(DataIntegrityError):
            snapshots.get_snapshot(session, snapshot_id=damaged, secrets=desk.secrets)
    assert [snapshot.id for snapshot in listed.snapshots] == [kept]
    assert listed.damaged == [damaged]
