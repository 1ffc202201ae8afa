"""Triage: the filtered, urgent-first report list and the desk's encrypted tags and notes."""

import json
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select, text

from hrd_reports.content import ReportContent
from hrd_reports.models import AuditEvent, Priority, Report, ReportStatus, RiskLevel, Role
from hrd_reports.services import triage, users
from hrd_reports.services.errors import Conflict, Forbidden, Invalid
from hrd_reports.services.triage import ListPage, ReportDetail, ReportFilter
from hrd_reports.services.users import UnlockedUser
from tests.helpers import Desk, Person


def content(
    narrative: str,
    *,
    incident_types: tuple[str, ...] = ("death_threat",),
    governorate: str | None = None,
    district: str = "",
    in_danger_now: str | None = None,
    perpetrator: str = "",
) -> bytes:
    """A report as the reporter's browser builds it, checked against the content schema."""
    return ReportContent.model_validate(
        {
            "incident_types": list(incident_types),
            "narrative": narrative,
            "in_danger_now": in_danger_now,
            "location": {"governorate": governorate, "district": district},
            "perpetrator": {"identifiers": perpetrator},
        }
    ).to_json_bytes()


@pytest.fixture
def staff(desk: Desk, admin: Person) -> dict[str, Person]:
    return {
        "coordinator": desk.add_vetted("carol", Role.COORDINATOR, by=admin),
        "case_worker": desk.add_vetted("dave", Role.CASE_WORKER, by=admin),
        "other_case_worker": desk.add_vetted("frank", Role.CASE_WORKER, by=admin),
    }


def _unlock(desk: Desk, session: Any, person: Person) -> UnlockedUser:
    return users.unlock(
        session, name=person.name, password=person.password, passwords=desk.runtime.passwords
    )


def list_page(
    desk: Desk,
    person: Person,
    filters: ReportFilter | None = None,
    *,
    page: int = 1,
    page_size: int = 2,
) -> ListPage:
    with desk.session() as session:
        listing = triage.list_page(
            session,
            reader=_unlock(desk, session, person),
            filters=filters or ReportFilter(),
            page=page,
            secrets=desk.secrets,
            page_size=page_size,
        )
        session.commit()
    return listing


def every_page(desk: Desk, person: Person, filters: ReportFilter | None = None) -> list[str]:
    """The narratives of every page, in order, two a page; stops at the last page."""
    narratives: list[str] = []
    for page in range(1, 20):
        listing = list_page(desk, person, filters, page=page)
        narratives += [narrative(entry.view.content) for entry in listing.entries]
        if not listing.has_next:
            return narratives
    raise AssertionError("the list never reached its last page")


def narrative(report_content: dict[str, Any] | None) -> str:
    assert report_content is not None
    return str(report_content["narrative"])


def show(desk: Desk, person: Person, report_id: UUID) -> ReportDetail:
    with desk.session() as session:
        detail = triage.show(
            session,
            reader=_unlock(desk, session, person),
            report_id=report_id,
            secrets=desk.secrets,
        )
        session.commit()
    return detail


def add_note(desk: Desk, person: Person, report_id: UUID, note: str) -> UUID:
    with desk.session() as session:
        note_id = triage.add_note(
            session,
            reader=_unlock(desk, session, person),
            report_id=report_id,
            text=note,
            secrets=desk.secrets,
        )
        session.commit()
    return note_id


def set_tags(desk: Desk, person: Person, report_id: UUID, tags: list[str]) -> None:
    with desk.session() as session:
        triage.set_tags(
            session,
            reader=_unlock(desk, session, person),
            report_id=report_id,
            tags=tags,
            secrets=desk.secrets,
        )
        session.commit()


def update_workflow(
    desk: Desk,
    person: Person,
    report_id: UUID,
    *,
    status: ReportStatus | None = None,
    priority: Priority | triage.Keep | None = None,
    risk: RiskLevel | None = None,
) -> None:
    with desk.session() as session:
        triage.update_workflow(
            session,
            reader=_unlock(desk, session, person),
            report_id=report_id,
            status=status,
            priority=priority,
            risk=risk,
            secrets=desk.secrets,
        )
        session.commit()


def link(desk: Desk, person: Person, report_id: UUID, other_id: UUID) -> None:
    with desk.session() as session:
        triage.link_reports(
            session,
            reader=_unlock(desk, session, person),
            report_id=report_id,
            other_id=other_id,
            secrets=desk.secrets,
        )
        session.commit()


def decrypt_entries(desk: Desk) -> list[dict[str, Any]]:
    with desk.session() as session:
        events = session.execute(
            select(AuditEvent).where(AuditEvent.action == "report.decrypt").order_by(AuditEvent.seq)
        ).scalars()
        return [
            {"actor": e.actor, "subject": e.subject, "detail": json.loads(e.detail)} for e in events
        ]


def row_bytes(desk: Desk, table: str) -> bytes:
    """Every stored value of ``table``, as bytes, to search for plaintext."""
    with desk.session() as session:
        rows = session.execute(text(f"SELECT * FROM {table}")).all()  # noqa: S608 - fixed names
    assert rows, f"{table} is empty: the search would prove nothing"
    return b"".join(
        bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
        for row in rows
        for value in row
    )


# ---- the list -------------------------------------------------------------------------------


def test_list_page_urgent_reports_come_first_then_newest(
    desk: Desk, staff: dict[str, Person]
) -> None:
    desk.submit(content("plain old"))
    desk.submit(content("in danger now", in_danger_now="yes"))
    desk.submit(content("plain new", in_danger_now="no"))
    desk.submit(content("detained", incident_types=("threat_to_family", "detention")))
    desk.submit(content("shot at", incident_types=("assassination_attempt",)))

    listing = list_page(desk, staff["coordinator"], page_size=10)

    assert [(narrative(e.view.content), e.urgent) for e in listing.entries] == [
        ("shot at", True),
        ("detained", True),
        ("in danger now", True),
        ("plain new", False),
        ("plain old", False),
    ]
    assert not listing.has_next


def test_list_page_pages_cover_every_report_once(desk: Desk, staff: dict[str, Person]) -> None:
    for i in range(5):
        desk.submit(content(f"report {i}"))

    pages = [list_page(desk, staff["coordinator"], page=page) for page in (1, 2, 3)]

    assert [[narrative(e.view.content) for e in p.entries] for p in pages] == [
        ["report 4", "report 3"],
        ["report 2", "report 1"],
        ["report 0"],
    ]
    assert [p.has_next for p in pages] == [True, True, False]


def test_list_page_urgent_report_comes_first_among_more_new_reports_than_a_scan_batch(
    desk: Desk, staff: dict[str, Person]
) -> None:
    plain = triage.SCAN_BATCH
    desk.submit(content("in danger now", in_danger_now="yes"))
    for i in range(plain):
        desk.submit(content(f"plain {i}"))

    listing = list_page(desk, staff["coordinator"], page_size=3)

    assert [narrative(entry.view.content) for entry in listing.entries] == [
        "in danger now",
        f"plain {plain - 1}",
        f"plain {plain - 2}",
    ]


def test_list_page_before_the_first_is_refused(desk: Desk, staff: dict[str, Person]) -> None:
    with pytest.raises(Invalid):
        list_page(desk, staff["coordinator"], page=0)


@pytest.fixture
def varied(desk: Desk, staff: dict[str, Person]) -> dict[str, UUID]:
    """Five reports that differ in type, place, words and status; one of them tagged."""
    reports = {
        "baghdad threat": desk.submit(
            content("threat by phone", governorate="baghdad", district="Karrada")
        ),
        "basra raid": desk.submit(
            content("office raided at night", incident_types=("raid",), governorate="basra")
        ),
        "basra threat": desk.submit(
            content("threat at a checkpoint", governorate="basra", perpetrator="Officer Jaber")
        ),
        "erbil raid": desk.submit(
            content("home raided", incident_types=("raid",), governorate="erbil")
        ),
        "tagged": desk.submit(content("letter under the door", governorate="najaf")),
    }
    ids = {name: submitted.report_id for name, submitted in reports.items()}
    update_workflow(desk, staff["coordinator"], ids["basra raid"], status=ReportStatus.OPEN)
    update_workflow(desk, staff["coordinator"], ids["erbil raid"], status=ReportStatus.OPEN)
    set_tags(desk, staff["coordinator"], ids["tagged"], ["Follow-up Karbala"])
    return ids


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (ReportFilter(status=ReportStatus.OPEN), ["home raided", "office raided at night"]),
        (ReportFilter(incident_type="raid"), ["home raided", "office raided at night"]),
        (ReportFilter(governorate="basra"), ["threat at a checkpoint", "office raided at night"]),
        (
            ReportFilter(status=ReportStatus.RECEIVED, governorate="basra"),
            ["threat at a checkpoint"],
        ),
        (ReportFilter(text="RAIDED"), ["home raided", "office raided at night"]),
        (ReportFilter(text="karrada"), ["threat by phone"]),
        (ReportFilter(text="jaber"), ["threat at a checkpoint"]),
        (ReportFilter(text="follow-up"), ["letter under the door"]),
        (ReportFilter(text="threat"), ["threat at a checkpoint", "threat by phone"]),
        (ReportFilter(text="nowhere in any report"), []),
    ],
    ids=lambda value: None if isinstance(value, ReportFilter) else "",
)
def test_list_page_filter_keeps_only_matching_reports(
    desk: Desk,
    staff: dict[str, Person],
    varied: dict[str, UUID],
    filters: ReportFilter,
    expected: list[str],
) -> None:
    listing = list_page(desk, staff["coordinator"], filters, page_size=10)
    assert [narrative(entry.view.content) for entry in listing.entries] == expected


def test_list_page_search_pages_cover_every_match_once(
    desk: Desk, staff: dict[str, Person]
) -> None:
    for i in range(5):
        desk.submit(content(f"threat {i}"))
        desk.submit(content(f"unrelated {i}"))

    assert every_page(desk, staff["coordinator"], ReportFilter(text="threat")) == [
        f"threat {i}" for i in reversed(range(5))
    ]


def test_list_page_case_worker_sees_only_reports_assigned_to_them(
    desk: Desk, staff: dict[str, Person]
) -> None:
    submitted = [desk.submit(content(f"report {i}")) for i in range(4)]
    for i in (0, 2):
        desk.assign(submitted[i].report_id, to="dave", by=staff["coordinator"])
    desk.assign(submitted[3].report_id, to="frank", by=staff["coordinator"])

    listing = list_page(desk, staff["case_worker"], page_size=10)

    assert [narrative(entry.view.content) for entry in listing.entries] == [
        "report 2",
        "report 0",
    ]
    opened = {report for entry in decrypt_entries(desk) for report in entry["detail"]["reports"]}
    assert opened == {str(submitted[i].report_id) for i in (0, 2)}
    others = list_page(desk, staff["other_case_worker"]).entries
    assert [narrative(entry.view.content) for entry in others] == ["report 3"]


def test_list_page_case_worker_search_reads_only_reports_assigned_to_them(
    desk: Desk, staff: dict[str, Person]
) -> None:
    submitted = [desk.submit(content(f"threat {i}")) for i in range(4)]
    desk.assign(submitted[1].report_id, to="dave", by=staff["coordinator"])
    desk.assign(submitted[2].report_id, to="frank", by=staff["coordinator"])

    listing = list_page(desk, staff["case_worker"], ReportFilter(text="threat"), page_size=10)

    assert [narrative(entry.view.content) for entry in listing.entries] == ["threat 1"]
    search = decrypt_entries(desk)[-1]["detail"]
    assert (search["search"], search["reports"]) == (True, [str(submitted[1].report_id)])


def test_list_page_search_finds_a_report_that_does_not_follow_the_form_and_shows_it_as_text(
    desk: Desk, staff: dict[str, Person]
) -> None:
    odd = {"incident_types": "not a list: raid", "narrative": "threat <b>by</b> phone", "x": 1}
    odd_id = desk.submit(json.dumps(odd).encode()).report_id
    desk.submit(content("office raided", incident_types=("raid",)))

    found = list_page(desk, staff["coordinator"], ReportFilter(text="<b>BY</b>")).entries
    by_type = list_page(desk, staff["coordinator"], ReportFilter(incident_type="raid")).entries

    assert [entry.view.id for entry in found] == [odd_id]
    shown = found[0].view.content
    assert shown is not None
    assert (shown["unexpected_shape"], shown["incident_types"]) == (True, [])
    assert json.loads(shown["as_received"]) == odd
    # A string where the form has a list of codes is not searched as if it were one.
    assert [narrative(entry.view.content) for entry in by_type] == ["office raided"]


def test_list_page_and_show_each_write_a_decrypt_audit_entry(
    desk: Desk, staff: dict[str, Person]
) -> None:
    first, second = (desk.submit(content(f"report {i}")).report_id for i in range(2))

    # The first listing classifies both new reports and shows them: each is opened once.
    assert list_page(desk, staff["coordinator"], page_size=10).decrypted == 2
    list_page(desk, staff["coordinator"], ReportFilter(text="report 1"), page_size=10)
    show(desk, staff["coordinator"], first)

    entries = decrypt_entries(desk)
    assert [(e["actor"], e["subject"]) for e in entries] == [
        ("carol", None),
        ("carol", None),
        ("carol", str(first)),
    ]
    assert sorted(entries[0]["detail"]["reports"]) == sorted([str(first), str(second)])
    assert entries[0]["detail"]["shown"] == [str(second), str(first)]
    # A search opens every report it looks through, and says so.
    assert (entries[1]["detail"]["search"], entries[1]["detail"]["shown"]) == (True, [str(second)])
    assert sorted(entries[1]["detail"]["reports"]) == sorted([str(first), str(second)])
    assert entries[2]["detail"]["reports"] == [str(first)]


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
        desk, staff["case_worker"], report, status=ReportStatus.OPEN, priority=triage.KEEP
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
