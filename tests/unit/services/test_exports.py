"""Exports: only the desk's key holders, and each one recorded as an export of its kind, naming
the reports it holds, beside the reading it made."""

import json
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from hrd_reports.models import AuditEvent, ReportStatus, Role
from hrd_reports.services import credentials, exports
from hrd_reports.services.clock import utc_today
from hrd_reports.services.errors import Forbidden, NotFound
from hrd_reports.services.exports import CaseFile, ExportKind, ReportTable
from hrd_reports.services.listing import ReportFilter
from tests.helpers import Desk, Person
from tests.unit.services.reading_support import content, narrative


def _case_file(
    desk: Desk, person: Person, report_id: UUID, kind: ExportKind = ExportKind.CASE_FILE
) -> CaseFile:
    with desk.session() as session:
        reader = credentials.unlock(
            session, name=person.name, password=person.password, passwords=desk.runtime.passwords
        )
        case = exports.case_file(
            session, reader=reader, report_id=report_id, kind=kind, secrets=desk.secrets
        )
        session.commit()
    return case


def _table(desk: Desk, person: Person, filters: ReportFilter | None = None) -> ReportTable:
    with desk.session() as session:
        reader = credentials.unlock(
            session, name=person.name, password=person.password, passwords=desk.runtime.passwords
        )
        table = exports.report_table(
            session, reader=reader, filters=filters or ReportFilter(), secrets=desk.secrets
        )
        session.commit()
    return table


def _entries(desk: Desk) -> list[dict[str, Any]]:
    with desk.session() as session:
        events = session.execute(
            select(AuditEvent)
            .where(
                AuditEvent.action.in_(["report.decrypt", "access.refused"])
                | AuditEvent.action.like("export.%")
            )
            .order_by(AuditEvent.seq)
        ).scalars()
        return [
            {"actor": e.actor, "action": e.action, "subject": e.subject, **json.loads(e.detail)}
            for e in events
        ]


def test_a_case_file_holds_the_report_page_and_its_exporter(
    desk: Desk, staff: dict[str, Person]
) -> None:
    report = desk.submit(content("CANARY-the case")).report_id

    case = _case_file(desk, staff["coordinator"], report)

    assert narrative(case.detail.view.content) == "CANARY-the case"
    assert (case.exporter.name, case.exporter.day) == ("carol", utc_today())
    reading, exported = _entries(desk)[-2:]
    assert (reading["action"], reading["subject"]) == ("report.decrypt", str(report))
    assert exported == {
        "actor": "carol",
        "action": "export.case_file",
        "subject": str(report),
        "reports": [str(report)],
        "failed": [],
    }


def test_each_kind_of_export_has_its_own_action(desk: Desk, admin: Person) -> None:
    report = desk.submit(content("CANARY-kinds")).report_id
    _case_file(desk, admin, report, ExportKind.CASE_FILE_JSON)
    _table(desk, admin)
    actions = [entry["action"] for entry in _entries(desk) if entry["action"] != "report.decrypt"]
    assert actions == ["export.case_file_json", "export.reports_csv"]


@pytest.mark.parametrize("who", ["case_worker", "auditor", "unvetted coordinator"])
def test_only_key_holders_export(
    desk: Desk, admin: Person, staff: dict[str, Person], who: str
) -> None:
    report = desk.submit(content("CANARY-refused")).report_id
    people = {
        "case_worker": staff["case_worker"],
        "auditor": desk.add("aziz", Role.AUDITOR),
        "unvetted coordinator": desk.add("nadia", Role.COORDINATOR),
    }
    if who == "case_worker":
        # Even the report assigned to them: they read it, they do not carry it out.
        desk.assign(report, to="dave", by=admin)
    before = _entries(desk)

    with pytest.raises(Forbidden, match="is not a vetted key holder"):
        _case_file(desk, people[who], report)
    with pytest.raises(Forbidden, match="is not a vetted key holder"):
        _table(desk, people[who])

    # Refused before anything was opened: nothing decrypted, nothing exported.
    assert _entries(desk) == before


def test_a_revoked_coordinator_exports_nothing(desk: Desk, staff: dict[str, Person]) -> None:
    report = desk.submit(content("CANARY-revoked")).report_id
    desk.revoke("carol")
    with pytest.raises(Forbidden):
        _case_file(desk, staff["coordinator"], report)


def test_the_confirmation_of_an_unknown_report_is_not_found(desk: Desk, admin: Person) -> None:
    with desk.session() as session:
        reader = credentials.unlock(
            session, name=admin.name, password=admin.password, passwords=desk.runtime.passwords
        )
        with pytest.raises(NotFound):
            exports.check_case_file(
                session, reader=reader, report_id=UUID("00000000-0000-4000-8000-000000000000")
            )


def test_the_list_export_holds_the_filtered_list_in_its_order(
    desk: Desk, admin: Person, staff: dict[str, Person]
) -> None:
    first = desk.submit(content("CANARY-first")).report_id
    desk.submit(content("CANARY-not in triage"))
    second = desk.submit(content("CANARY-second")).report_id
    for report in (first, second):
        desk.set_status(report, ReportStatus.TRIAGE, by=admin)

    table = _table(desk, staff["coordinator"], ReportFilter(status=ReportStatus.TRIAGE))

    listed = [entry.view.id for entry in table.entries]
    assert sorted(listed) == sorted([first, second])
    exported = _entries(desk)[-1]
    assert exported == {
        "actor": "carol",
        "action": "export.reports_csv",
        "subject": None,
        "reports": [str(report) for report in listed],
        "failed": [],
    }
