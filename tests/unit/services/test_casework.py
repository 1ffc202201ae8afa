"""Casework on one report: its page, the desk's encrypted notes and tags, workflow and links."""

import json

import pytest
from sqlalchemy import select

from hrd_reports.models import AuditEvent, Priority, Report, ReportStatus, RiskLevel
from hrd_reports.services import casework
from hrd_reports.services.errors import Conflict, Forbidden, Invalid
from tests.helpers import Desk, Person
from tests.unit.services.reading_support import (
    add_note,
    content,
    link,
    narrative,
    row_bytes,
    set_tags,
    show,
    update_workflow,
)

# ---- one report -----------------------------------------------------------------------------


def test_show_returns_notes_and_tags(desk: Desk, staff: dict[str, Person]) -> None:
    report = desk.submit(content("threat by phone")).report_id
    desk.assign(report, to="dave", by=staff["coordinator"])
    first = add_note(desk, staff["coordinator"], report, "called the reporter back")
    second = add_note(desk, staff["case_worker"], report, "lawyer contacted")
    set_tags(desk, staff["case_worker"], report, ["needs lawyer", "Baghdad"])

    detail = show(desk, staff["case_worker"], report)

    assert narrative(detail.view.content) == "threat by phone"
    assert detail.tags == ["needs lawyer", "Baghdad"]
    assert [(n.id, n.author, n.text) for n in detail.notes] == [
        (first, "carol", "called the reporter back"),
        (second, "dave", "lawyer contacted"),
    ]


def test_show_case_worker_is_refused_a_report_not_assigned_to_them(
    desk: Desk, staff: dict[str, Person]
) -> None:
    report = desk.submit(content("someone else's")).report_id
    desk.assign(report, to="frank", by=staff["coordinator"])
    with pytest.raises(Forbidden, match="not assigned"):
        show(desk, staff["case_worker"], report)


def test_add_note_stores_only_ciphertext(desk: Desk, staff: dict[str, Person]) -> None:
    report = desk.submit(content("threat by phone")).report_id
    note = "the reporter's brother is hiding at the Karrada safe house"

    add_note(desk, staff["coordinator"], report, note)

    stored = row_bytes(desk, "report_notes")
    for fragment in (note, "Karrada", "safe house"):
        assert fragment.encode("utf-8") not in stored
        assert fragment.encode("utf-16-le") not in stored


def test_set_tags_stores_only_ciphertext(desk: Desk, staff: dict[str, Person]) -> None:
    report = desk.submit(content("threat by phone")).report_id

    set_tags(desk, staff["coordinator"], report, ["Karrada informant"])

    with desk.session() as session:
        stored = session.execute(select(Report.tags)).scalar_one()
    assert stored is not None
    assert b"Karrada" not in stored
    assert b"Karrada" not in row_bytes(desk, "audit_events")
    assert show(desk, staff["coordinator"], report).tags == ["Karrada informant"]


@pytest.mark.parametrize("note", ["", "   \n "])
def test_add_note_empty_is_refused(desk: Desk, staff: dict[str, Person], note: str) -> None:
    report = desk.submit(content("threat by phone")).report_id
    with pytest.raises(Invalid):
        add_note(desk, staff["coordinator"], report, note)


def test_add_note_case_worker_on_a_report_not_assigned_to_them_is_refused(
    desk: Desk, staff: dict[str, Person]
) -> None:
    report = desk.submit(content("threat by phone")).report_id
    with pytest.raises(Forbidden):
        add_note(desk, staff["case_worker"], report, "not mine to write on")


# ---- workflow -------------------------------------------------------------------------------


def test_update_workflow_case_worker_changing_priority_is_refused(
    desk: Desk, staff: dict[str, Person]
) -> None:
    report = desk.submit(content("threat by phone")).report_id
    desk.assign(report, to="dave", by=staff["coordinator"])

    with pytest.raises(Forbidden, match="priority"):
        update_workflow(desk, staff["case_worker"], report, priority=Priority.P1)

    with desk.session() as session:
        assert session.execute(select(Report.priority)).scalar_one() is None


def test_update_workflow_case_worker_changes_status_and_risk_of_their_report(
    desk: Desk, staff: dict[str, Person]
) -> None:
    report = desk.submit(content("threat by phone")).report_id
    desk.assign(report, to="dave", by=staff["coordinator"])
    update_workflow(desk, staff["coordinator"], report, priority=Priority.P2)

    update_workflow(
        desk,
        staff["case_worker"],
        report,
        status=ReportStatus.ACTION,
        priority=Priority.P2,
        risk=RiskLevel.HIGH,
    )

    with desk.session() as session:
        stored = session.execute(select(Report.status, Report.priority, Report.risk)).one()
        updates = session.execute(
            select(AuditEvent.actor, AuditEvent.detail)
            .where(AuditEvent.action == "report.update")
            .order_by(AuditEvent.seq)
        ).all()
    assert tuple(stored) == (ReportStatus.ACTION, Priority.P2, RiskLevel.HIGH)
    assert [(actor, json.loads(detail)) for actor, detail in updates] == [
        ("carol", {"priority": [None, "p2"]}),
        ("dave", {"status": ["received", "action"], "risk": [None, "high"]}),
    ]


def test_update_workflow_keep_leaves_a_priority_set_meanwhile_by_a_coordinator(
    desk: Desk, staff: dict[str, Person]
) -> None:
    report = desk.submit(content("threat by phone")).report_id
    desk.assign(report, to="dave", by=staff["coordinator"])
    update_workflow(desk, staff["coordinator"], report, priority=Priority.P1)

    # A case worker's form has no priority field: it keeps whatever is set.
    update_workflow(
        desk, staff["case_worker"], report, status=ReportStatus.OPEN, priority=casework.KEEP
    )

    with desk.session() as session:
        stored = session.execute(select(Report.status, Report.priority)).one()
    assert tuple(stored) == (ReportStatus.OPEN, Priority.P1)


def test_update_workflow_case_worker_on_a_report_not_assigned_to_them_is_refused(
    desk: Desk, staff: dict[str, Person]
) -> None:
    report = desk.submit(content("threat by phone")).report_id
    with pytest.raises(Forbidden):
        update_workflow(desk, staff["case_worker"], report, status=ReportStatus.CLOSED)


# ---- links ----------------------------------------------------------------------------------


def test_link_reports_shows_the_link_from_both_sides(desk: Desk, staff: dict[str, Person]) -> None:
    first, second, third = (desk.submit(content(f"report {i}")).report_id for i in range(3))

    link(desk, staff["coordinator"], second, first)
    link(desk, staff["coordinator"], second, third)

    assert show(desk, staff["coordinator"], first).links == [second]
    assert show(desk, staff["coordinator"], second).links == [first, third]
    assert show(desk, staff["coordinator"], third).links == [second]


def test_show_case_worker_sees_ids_of_linked_reports_assigned_to_them_and_counts_the_rest(
    desk: Desk, staff: dict[str, Person]
) -> None:
    mine, also_mine, theirs, nobodys = (
        desk.submit(content(f"report {i}")).report_id for i in range(4)
    )
    for report in (mine, also_mine):
        desk.assign(report, to="dave", by=staff["coordinator"])
    desk.assign(theirs, to="frank", by=staff["coordinator"])
    for other in (also_mine, theirs, nobodys):
        link(desk, staff["coordinator"], mine, other)

    worker = show(desk, staff["case_worker"], mine)
    keyholder = show(desk, staff["coordinator"], mine)

    assert worker.links == [also_mine]
    assert worker.hidden_links == 2
    assert str(theirs) not in repr(worker)
    assert str(nobodys) not in repr(worker)
    assert (keyholder.links, keyholder.hidden_links) == ([also_mine, theirs, nobodys], 0)


def test_show_case_worker_whose_report_is_linked_only_to_others_gets_a_count(
    desk: Desk, staff: dict[str, Person]
) -> None:
    mine, theirs = (desk.submit(content(f"report {i}")).report_id for i in range(2))
    desk.assign(mine, to="dave", by=staff["coordinator"])
    desk.assign(theirs, to="frank", by=staff["coordinator"])
    link(desk, staff["coordinator"], mine, theirs)

    mine_shown = show(desk, staff["case_worker"], mine)
    theirs_shown = show(desk, staff["other_case_worker"], theirs)

    assert mine_shown.links == theirs_shown.links == []
    assert mine_shown.hidden_links == theirs_shown.hidden_links == 1


def test_link_reports_same_pair_twice_is_a_conflict_in_either_order(
    desk: Desk, staff: dict[str, Person]
) -> None:
    first, second = (desk.submit(content(f"report {i}")).report_id for i in range(2))
    link(desk, staff["coordinator"], first, second)

    for pair in ((first, second), (second, first)):
        with pytest.raises(Conflict):
            link(desk, staff["coordinator"], *pair)


def test_link_reports_to_itself_is_refused(desk: Desk, staff: dict[str, Person]) -> None:
    report = desk.submit(content("report")).report_id
    with pytest.raises(Invalid):
        link(desk, staff["coordinator"], report, report)


def test_link_reports_case_worker_needs_both_reports_assigned(
    desk: Desk, staff: dict[str, Person]
) -> None:
    mine, theirs = (desk.submit(content(f"report {i}")).report_id for i in range(2))
    desk.assign(mine, to="dave", by=staff["coordinator"])
    desk.assign(theirs, to="frank", by=staff["coordinator"])

    with pytest.raises(Forbidden):
        link(desk, staff["case_worker"], mine, theirs)
    assert show(desk, staff["coordinator"], mine).links == []
