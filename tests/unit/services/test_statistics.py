"""Statistics computed from decrypted content in a reader's session, on a real database: what
each table counts, what the filters keep, content that does not follow the form or does not
open, waiting times from the audit log and the desk's replies, and the audit entry."""

import datetime as dt
import json
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update

from hrd_reports.models import AuditEvent, Priority, Report, ReportStatus, RiskLevel, Role
from hrd_reports.services import audit, conversation, statistics
from hrd_reports.services.errors import Forbidden, Invalid
from hrd_reports.services.report_facts import NOT_OPENED, OFF_FORM, read_facts
from hrd_reports.services.statistics import NOT_GIVEN, Statistics, StatisticsFilter
from tests.helpers import Desk, Person

TODAY = dt.date(2026, 12, 7)


def document(**fields: Any) -> dict[str, Any]:
    return {"incident_types": ["death_threat"], "narrative": "what happened"} | fields


@pytest.fixture(autouse=True)
def fixed_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """The day the audit log and the desk's replies record: the tests' TODAY, whatever the
    machine's date."""
    monkeypatch.setattr(audit, "utc_now", lambda: dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC))
    monkeypatch.setattr(conversation, "utc_today", lambda: TODAY)


def submit(desk: Desk, days_ago: int = 0, **fields: Any) -> UUID:
    return submit_bytes(desk, json.dumps(document(**fields)).encode(), days_ago)


def submit_bytes(desk: Desk, content: bytes, days_ago: int = 0) -> UUID:
    report_id = desk.submit(content).report_id
    with desk.session() as session:
        session.execute(
            update(Report)
            .where(Report.public_id == report_id)
            .values(received_on=TODAY - dt.timedelta(days=days_ago))
        )
        session.commit()
    return report_id


def compute(
    desk: Desk, person: Person, filters: StatisticsFilter | None = None, min_cell: int = 1
) -> statistics.Computed:
    with desk.session() as session:
        reader = desk._unlock(session, person)
        return statistics.compute(
            session,
            reader=reader,
            filters=filters or StatisticsFilter(),
            today=TODAY,
            min_cell=min_cell,
        )


def table(shown: Statistics, name: str) -> dict[str, int | None]:
    (found,) = [t for t in [*shown.tables, *([shown.gone] if shown.gone else [])] if t.name == name]
    return {cell.key: cell.count for cell in [*found.cells, found.total]}


def test_each_table_counts_what_the_form_says_and_the_workflow_keeps(
    desk: Desk, admin: Person
) -> None:
    first = submit(
        desk,
        days_ago=40,
        incident_types=["blackmail", "surveillance"],
        location={"governorate": "erbil"},
        target={"sector": "journalist"},
        perpetrator={"types": ["militia", "online"]},
    )
    submit(desk, days_ago=3, location={"governorate": "basra"})
    with desk.session() as session:
        session.execute(
            update(Report)
            .where(Report.public_id == first)
            .values(priority=Priority.P1, risk=RiskLevel.HIGH)
        )
        session.commit()

    shown = compute(desk, admin).statistics

    assert shown.reports.count == 2
    types = table(shown, "incident_types")
    assert (types["blackmail"], types["surveillance"], types["death_threat"]) == (1, 1, 1)
    assert (types[OFF_FORM], types["total"]) == (0, 2)
    assert {k: v for k, v in table(shown, "governorates").items() if v} == {
        "erbil": 1,
        "basra": 1,
        "total": 2,
    }
    assert {k: v for k, v in table(shown, "perpetrators").items() if v} == {
        "militia": 1,
        "online": 1,
        NOT_GIVEN: 1,
        "total": 2,
    }
    assert {k: v for k, v in table(shown, "sectors").items() if v} == {
        "journalist": 1,
        NOT_GIVEN: 1,
        "total": 2,
    }
    # Every month from the first report's to the last's, the empty one included.
    assert table(shown, "months") == {"2026-10": 1, "2026-11": 0, "2026-12": 1, "total": 2}
    assert (table(shown, "priority")["p1"], table(shown, "priority")["none"]) == (1, 1)
    assert (table(shown, "risk")["high"], table(shown, "status")["received"]) == (1, 2)
    assert table(shown, "gone") == {"withdrawn": 0, "destroyed": 0, "expired": 0, "total": 0}


def test_the_period_and_the_governorate_keep_only_their_reports(desk: Desk, admin: Person) -> None:
    submit(desk, days_ago=40, location={"governorate": "erbil"})
    submit(desk, days_ago=3, location={"governorate": "erbil"})
    submit(desk, days_ago=3, location={"governorate": "duhok"})
    submit_bytes(desk, b"not the form")  # in the period; matches no governorate

    recent = StatisticsFilter(received_from=TODAY - dt.timedelta(days=10), governorate="erbil")
    computed = compute(desk, admin, recent)

    assert computed.statistics.reports.count == 1
    assert table(computed.statistics, "governorates")["erbil"] == 1
    # Every report of the period is decrypted to find those of one governorate.
    assert (computed.decrypted, computed.failed) == (3, 0)
    # A destroyed report's governorate went with its content: not counted by governorate.
    assert computed.statistics.gone is None


def test_reports_off_the_form_or_that_do_not_open_break_nothing(desk: Desk, admin: Person) -> None:
    submit(desk)
    desk.submit(b'{"incident_types": ["no_such_type"], "narrative": "x"}')
    damaged = submit(desk)
    with desk.session() as session:
        body = session.execute(select(Report.body).where(Report.public_id == damaged)).scalar()
        assert body is not None
        session.execute(
            update(Report)
            .where(Report.public_id == damaged)
            .values(body=body[:-1] + bytes([body[-1] ^ 1]))
        )
        session.commit()

    computed = compute(desk, admin)

    shown = computed.statistics
    assert (shown.reports.count, shown.off_form.count) == (3, 1)
    types = table(shown, "incident_types")
    assert (types["death_threat"], types[OFF_FORM], types[NOT_OPENED]) == (1, 1, 1)
    assert (computed.decrypted, computed.failed) == (3, 1)


def test_waiting_times_come_from_the_first_change_of_status_and_the_first_reply(
    desk: Desk, admin: Person
) -> None:
    reports = [submit(desk, days_ago=days) for days in (9, 5, 1)]
    desk.set_status(reports[0], ReportStatus.ACKNOWLEDGED, by=admin)
    # A later change of status is not the first triage.
    desk.set_status(reports[0], ReportStatus.OPEN, by=admin)
    desk.set_status(reports[1], ReportStatus.TRIAGE, by=admin)
    desk.reply(reports[2], "we read it", by=admin)

    shown = compute(desk, admin).statistics

    assert (shown.first_triage.reports.count, shown.first_triage.median_days) == (2, 5)
    assert shown.first_triage.p90_days == 9
    assert (shown.first_reply.reports.count, shown.first_reply.median_days) == (1, 1)


def test_fewer_waits_than_the_threshold_show_no_median(desk: Desk, admin: Person) -> None:
    report_id = submit(desk, days_ago=4)
    desk.set_status(report_id, ReportStatus.TRIAGE, by=admin)

    waiting = compute(desk, admin, min_cell=5).statistics.first_triage

    assert (waiting.reports.count, waiting.reports.mark) == (None, "small")
    assert (waiting.median_days, waiting.p90_days) == (None, None)


def test_overdue_is_the_worklists_overdue(desk: Desk, admin: Person) -> None:
    submit(desk, days_ago=30)
    submit(desk)

    assert compute(desk, admin).statistics.overdue.count == 1


def test_auditors_and_the_unvetted_compute_nothing(desk: Desk) -> None:
    auditor = desk.add("aziz", Role.AUDITOR)
    newcomer = desk.add("nell", Role.COORDINATOR)
    submit(desk)

    for person in (auditor, newcomer):
        with pytest.raises(Forbidden):
            compute(desk, person)


def test_one_audit_entry_names_how_many_reports_and_the_filters(desk: Desk, admin: Person) -> None:
    submit(desk)
    submit(desk)
    computed = compute(desk, admin, StatisticsFilter(governorate="erbil"))

    with desk.session() as session:
        statistics.audit_computation(
            session, reader=admin.name, computed=computed, secrets=desk.secrets
        )
        session.commit()
        entry = session.execute(
            select(AuditEvent).where(AuditEvent.action == "statistics.compute")
        ).scalar_one()
    assert entry.actor == admin.name
    assert json.loads(entry.detail) == {
        "decrypted": 2,
        "failed": 0,
        "governorate": "erbil",
        "received_from": None,
        "received_to": None,
    }


@pytest.mark.parametrize(
    "filters",
    [
        {"governorate": "atlantis"},
        {"received_from": dt.date(2026, 5, 2), "received_to": dt.date(2026, 5, 1)},
    ],
)
def test_filters_that_name_nothing_are_refused(filters: dict[str, Any]) -> None:
    with pytest.raises(Invalid):
        StatisticsFilter(**filters)


@pytest.mark.parametrize(
    "crafted",
    [
        [],
        {"incident_types": []},
        {"incident_types": ["death_threat", "death_threat"]},
        {"incident_types": ["death_threat", ["nested"]]},
        {"incident_types": "death_threat"},
        {"v": 2, "incident_types": ["death_threat"]},
        {"v": True, "incident_types": ["death_threat"]},
        {"incident_types": ["death_threat"], "location": None},
        {"incident_types": ["death_threat"], "location": {"governorate": "atlantis"}},
        {"incident_types": ["death_threat"], "location": {"governorate": 7}},
        {"incident_types": ["death_threat"], "target": {"sector": {"a": 1}}},
        {"incident_types": ["death_threat"], "perpetrator": {"types": ["army", "army"]}},
        {"incident_types": ["death_threat"], "perpetrator": {"types": "army"}},
        {"incident_types": ["death_threat"], "perpetrator": []},
    ],
)
def test_fields_not_as_the_form_makes_them_give_no_facts(crafted: Any) -> None:
    assert read_facts(crafted) is None


def test_the_form_gives_its_facts() -> None:
    facts = read_facts(
        document(
            v=1,
            location={"governorate": "kirkuk", "district": "centre"},
            target={"sector": "lawyer", "who": "me"},
            perpetrator={"types": ["army"], "identification": "suspected"},
        )
    )

    assert facts == (("death_threat",), "kirkuk", ("army",), "lawyer")


def test_statistics_survive_their_document_and_nothing_else_does(desk: Desk, admin: Person) -> None:
    submit(desk, location={"governorate": "erbil"})
    shown = compute(desk, admin, min_cell=5).statistics

    assert statistics.load(json.loads(json.dumps(statistics.dump(shown)))) == shown
    with pytest.raises(ValidationError):
        statistics.load({"tables": "not statistics"})
