"""The retention policy: a finished report is destroyed once its period ends, an open one or
one on legal hold never is, and each destruction and hold is audited."""

import datetime as dt
import json
from uuid import UUID

import pytest
from sqlalchemy import select

from hrd_reports.models import AuditEvent, Destroyer, Report, ReportStatus, Role, WithdrawnReport
from hrd_reports.services import credentials, retention
from hrd_reports.services.errors import Conflict, Forbidden, Invalid
from hrd_reports.settings import retention_policy
from tests.helpers import Desk, Person, report_content
from tests.unit.services.accounts_support import Clock

POLICY = {ReportStatus.CLOSED: 365, ReportStatus.DUPLICATE: 30}
DAY = dt.timedelta(days=1)


def _purge(desk: Desk, policy: dict[ReportStatus, int] = POLICY) -> list[str]:
    with desk.session() as session:
        destroyed = retention.purge(session, policy=policy, actor="test", secrets=desk.secrets)
        session.commit()
    return destroyed


def _hold(
    desk: Desk, person: Person, report_id: UUID, *, held: bool, reason: str = "court"
) -> None:
    with desk.session() as session:
        keyholder = credentials.unlock(
            session, name=person.name, password=person.password, passwords=desk.runtime.passwords
        )
        retention.set_hold(
            session,
            keyholder=keyholder,
            report_id=report_id,
            held=held,
            reason=reason,
            secrets=desk.secrets,
        )
        session.commit()


def _audit(desk: Desk, action: str) -> list[dict[str, object]]:
    with desk.session() as session:
        rows = session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        ).scalars()
        return [json.loads(detail) for detail in rows]


def _exists(desk: Desk, report_id: UUID) -> bool:
    with desk.session() as session:
        found = session.execute(select(Report.id).where(Report.public_id == report_id))
        return found.first() is not None


def test_purge_destroys_a_closed_report_on_the_day_its_period_ends_and_keeps_a_tombstone(
    desk: Desk, admin: Person, fake_clock: Clock
) -> None:
    report_id = desk.submit(report_content("CANARY-retention closed")).report_id
    fake_clock.advance(40 * DAY)
    desk.set_status(report_id, ReportStatus.CLOSED, by=admin)

    fake_clock.advance(364 * DAY)
    assert _purge(desk) == []
    assert _exists(desk, report_id)

    fake_clock.advance(DAY)
    assert _purge(desk) == [str(report_id)]
    assert not _exists(desk, report_id)
    with desk.session() as session:
        tombstone = session.execute(select(WithdrawnReport)).scalar_one()
    assert (tombstone.public_id, tombstone.destroyed_by) == (report_id, Destroyer.RETENTION)
    assert tombstone.status == ReportStatus.CLOSED
    assert _audit(desk, "report.destroy") == [
        {"by": "retention", "reports": [str(report_id)], "policy": {"closed": 365, "duplicate": 30}}
    ]


def test_purge_keeps_open_reports_however_old(desk: Desk, admin: Person, fake_clock: Clock) -> None:
    untouched = desk.submit(report_content("CANARY-retention received")).report_id
    worked_on = desk.submit(report_content("CANARY-retention open")).report_id
    desk.set_status(worked_on, ReportStatus.OPEN, by=admin)
    fake_clock.advance(20 * 365 * DAY)
    assert _purge(desk) == []
    assert _exists(desk, untouched)
    assert _exists(desk, worked_on)


def test_report_that_never_changed_status_counts_from_the_day_it_arrived(
    desk: Desk, admin: Person, fake_clock: Clock
) -> None:
    report_id = desk.submit(report_content("CANARY-retention before the upgrade")).report_id
    desk.set_status(report_id, ReportStatus.DUPLICATE, by=admin)
    # As a report closed before the column existed: no day of its last change.
    with desk.session() as session:
        report = session.execute(select(Report).where(Report.public_id == report_id)).scalar_one()
        report.status_on = None
        session.commit()
    fake_clock.advance(30 * DAY)
    assert _purge(desk) == [str(report_id)]


def test_legal_hold_keeps_a_due_report_until_it_is_released(
    desk: Desk, admin: Person, fake_clock: Clock
) -> None:
    report_id = desk.submit(report_content("CANARY-retention held")).report_id
    desk.set_status(report_id, ReportStatus.DUPLICATE, by=admin)
    _hold(desk, admin, report_id, held=True, reason="a lawyer asked us to keep it")
    fake_clock.advance(400 * DAY)
    assert _purge(desk) == []
    assert _exists(desk, report_id)
    with desk.session() as session:
        (listed,) = retention.due(session, policy=POLICY)
    assert (listed.report_id, listed.held) == (report_id, True)

    _hold(desk, admin, report_id, held=False, reason="the case ended")
    assert _purge(desk) == [str(report_id)]
    assert _audit(desk, "report.hold") == [{"reason": "a lawyer asked us to keep it"}]
    assert _audit(desk, "report.release") == [{"reason": "the case ended"}]


def test_legal_hold_twice_is_a_conflict_and_needs_a_reason(desk: Desk, admin: Person) -> None:
    report_id = desk.submit(report_content("CANARY-retention twice")).report_id
    _hold(desk, admin, report_id, held=True)
    with pytest.raises(Conflict):
        _hold(desk, admin, report_id, held=True)
    with pytest.raises(Invalid):
        _hold(desk, admin, report_id, held=False, reason="  ")
    _hold(desk, admin, report_id, held=False, reason="released")
    with pytest.raises(Conflict):
        _hold(desk, admin, report_id, held=False, reason="released twice")


def test_legal_hold_by_a_case_worker_is_refused_and_changes_nothing(
    desk: Desk, admin: Person
) -> None:
    worker = desk.add_vetted("wafa", Role.CASE_WORKER, by=admin)
    report_id = desk.submit(report_content("CANARY-retention case worker")).report_id
    desk.assign(report_id, to="wafa", by=admin)
    with pytest.raises(Forbidden):
        _hold(desk, worker, report_id, held=True)
    with desk.session() as session:
        report = session.execute(select(Report).where(Report.public_id == report_id)).scalar_one()
        assert report.legal_hold is False
    assert _audit(desk, "report.hold") == []


def test_due_lists_what_the_policy_destroys_within_the_warning_days_soonest_first(
    desk: Desk, admin: Person, fake_clock: Clock
) -> None:
    later = desk.submit(report_content("CANARY-retention later")).report_id
    desk.set_status(later, ReportStatus.CLOSED, by=admin)
    fake_clock.advance(340 * DAY)
    sooner = desk.submit(report_content("CANARY-retention sooner")).report_id
    desk.set_status(sooner, ReportStatus.DUPLICATE, by=admin)
    fake_clock.advance(20 * DAY)
    with desk.session() as session:
        now = retention.due(session, policy=POLICY)
        coming = retention.due(session, policy=POLICY, within_days=retention.WARNING_DAYS)
    assert now == []
    assert [entry.report_id for entry in coming] == [later, sooner]
    assert [entry.destroy_on - entry.since for entry in coming] == [365 * DAY, 30 * DAY]


def test_purge_without_a_policy_destroys_nothing(
    desk: Desk, admin: Person, fake_clock: Clock
) -> None:
    report_id = desk.submit(report_content("CANARY-retention no policy")).report_id
    desk.set_status(report_id, ReportStatus.CLOSED, by=admin)
    fake_clock.advance(50 * 365 * DAY)
    assert _purge(desk, policy={}) == []
    assert _exists(desk, report_id)


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("open=30", "only these statuses can expire"),
        ("received=30", "only these statuses can expire"),
        ("closed", "number of days"),
        ("closed=0", "number of days"),
        ("closed=-5", "number of days"),
        ("closed=1,closed=2", "named twice"),
    ],
)
def test_retention_policy_refuses_what_would_destroy_open_cases_or_is_unclear(
    text: str, refusal: str
) -> None:
    with pytest.raises(ValueError, match=refusal):
        retention_policy(text)


def test_retention_policy_reads_days_per_finished_status() -> None:
    assert retention_policy(" closed=365, out_of_mandate=30 ,") == {
        ReportStatus.CLOSED: 365,
        ReportStatus.OUT_OF_MANDATE: 30,
    }
    assert retention_policy("") == {}
