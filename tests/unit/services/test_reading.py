"""Least privilege, enforced by role and by the keys themselves (DESIGN.md invariant 4)."""

import pytest
from sqlalchemy import select, update

from hrd_reports.models import AuditEvent, IntakeKeyGrant, Report, ReportGrant, Role, User
from hrd_reports.services.errors import DataIntegrityError, Forbidden
from tests.helpers import Desk, Person, report_content


@pytest.fixture
def staff(desk: Desk, admin: Person) -> dict[str, Person]:
    return {
        "coordinator": desk.add_vetted("carol", Role.COORDINATOR, by=admin),
        "case_worker": desk.add_vetted("dave", Role.CASE_WORKER, by=admin),
        "other_case_worker": desk.add_vetted("frank", Role.CASE_WORKER, by=admin),
        "auditor": desk.add("erin", Role.AUDITOR),
        "unvetted": desk.add("gina", Role.COORDINATOR),
    }


def test_coordinator_reads_every_report(desk: Desk, staff: dict[str, Person]) -> None:
    submitted = [desk.submit(report_content(f"report {i}")) for i in range(3)]
    views = desk.list_reports(staff["coordinator"])
    assert {view.id for view in views} == {s.report_id for s in submitted}
    assert {view.content["narrative"] for view in views if view.content} == {
        "report 0",
        "report 1",
        "report 2",
    }


def test_case_worker_decrypts_exactly_the_reports_assigned_to_them(
    desk: Desk, staff: dict[str, Person]
) -> None:
    mine, theirs, nobodys = (
        desk.submit(report_content(name)) for name in ("mine", "theirs", "nobody's")
    )
    desk.assign(mine.report_id, to="dave", by=staff["coordinator"])
    desk.assign(theirs.report_id, to="frank", by=staff["coordinator"])

    views = desk.list_reports(staff["case_worker"])
    assert [(view.id, view.content) for view in views] == [
        (mine.report_id, {"incident_types": ["death_threat"], "narrative": "mine"})
    ]
    assert desk.show(staff["case_worker"], mine.report_id).content is not None
    for report_id in (theirs.report_id, nobodys.report_id):
        with pytest.raises(Forbidden, match="not assigned"):
            desk.show(staff["case_worker"], report_id)


def test_case_worker_holds_a_report_key_not_the_desk_key(
    desk: Desk, staff: dict[str, Person]
) -> None:
    report = desk.submit(report_content("assigned"))
    outcome = desk.assign(report.report_id, to="dave", by=staff["coordinator"])
    assert outcome.report_key_granted
    with desk.session() as session:
        grants = session.execute(select(ReportGrant)).scalars().all()
        assert [(grant.user_id is not None, grant.report_id) for grant in grants] == [
            (True, session.execute(select(Report.id)).scalar_one())
        ]


@pytest.mark.parametrize("who", ["auditor", "unvetted"])
def test_auditor_and_unvetted_user_are_refused_not_shown_an_empty_list(
    desk: Desk, staff: dict[str, Person], who: str
) -> None:
    report = desk.submit(report_content("secret"))
    with pytest.raises(Forbidden):
        desk.list_reports(staff[who])
    with pytest.raises(Forbidden):
        desk.show(staff[who], report.report_id)


def test_revoked_users_decrypt_nothing(desk: Desk, staff: dict[str, Person]) -> None:
    report = desk.submit(report_content("secret"))
    desk.assign(report.report_id, to="dave", by=staff["coordinator"])
    assert desk.revoke("dave").report_keys_removed == 1
    assert desk.revoke("carol").desk_keys_removed == 1
    for person in (staff["case_worker"], staff["coordinator"]):
        with pytest.raises(Forbidden):
            desk.list_reports(person)
        with pytest.raises(Forbidden):
            desk.show(person, report.report_id)


def test_revoked_case_worker_vetted_again_gets_no_old_report_back(
    desk: Desk, admin: Person, staff: dict[str, Person]
) -> None:
    report = desk.submit(report_content("secret"))
    desk.assign(report.report_id, to="dave", by=staff["coordinator"])
    desk.revoke("dave")
    desk.vet("dave", by=admin)
    assert desk.list_reports(staff["case_worker"]) == []


def test_reassigning_deletes_the_previous_case_workers_key(
    desk: Desk, staff: dict[str, Person]
) -> None:
    report = desk.submit(report_content("moving"))
    desk.assign(report.report_id, to="dave", by=staff["coordinator"])
    outcome = desk.assign(report.report_id, to="frank", by=staff["coordinator"])
    assert outcome.previous == "dave"
    assert desk.list_reports(staff["case_worker"]) == []
    assert [view.id for view in desk.list_reports(staff["other_case_worker"])] == [report.report_id]


def test_only_key_holders_assign_and_only_to_vetted_case_workers_or_coordinators(
    desk: Desk, staff: dict[str, Person]
) -> None:
    report = desk.submit(report_content("x"))
    with pytest.raises(Forbidden):
        desk.assign(report.report_id, to="frank", by=staff["case_worker"])
    for target in ("erin", "gina"):
        with pytest.raises(Forbidden, match="cannot take reports"):
            desk.assign(report.report_id, to=target, by=staff["coordinator"])


def _tamper(desk: Desk, column: str, report_id: object, position: int) -> None:
    with desk.session() as session:
        if column == "grant":
            grant = session.execute(select(ReportGrant)).scalar_one()
            value = bytearray(grant.sealed_dek)
            value[position % len(value)] ^= 0x01
            grant.sealed_dek = bytes(value)
        else:
            report = session.execute(
                select(Report).where(Report.public_id == report_id)
            ).scalar_one()
            value = bytearray(getattr(report, column))
            value[position % len(value)] ^= 0x01
            setattr(report, column, bytes(value))
        session.commit()


@pytest.mark.parametrize("position", [0, 11, 12, 500, 1100, 1167, -1])
@pytest.mark.parametrize("column", ["body", "sealed_dek", "grant"])
def test_flipped_byte_of_stored_ciphertext_is_refused_never_misread(
    desk: Desk, staff: dict[str, Person], column: str, position: int
) -> None:
    report = desk.submit(report_content("tamper me"))
    desk.assign(report.report_id, to="dave", by=staff["coordinator"])
    _tamper(desk, column, report.report_id, position)
    reader = staff["case_worker"] if column == "grant" else staff["coordinator"]
    with pytest.raises(DataIntegrityError, match="integrity check"):
        desk.show(reader, report.report_id)
    [view] = [view for view in desk.list_reports(reader) if view.id == report.report_id]
    assert view.content is None
    assert view.problem is not None


@pytest.mark.parametrize("moved", [("body",), ("sealed_dek",), ("body", "sealed_dek")])
def test_ciphertext_moved_to_another_report_is_refused(
    desk: Desk, staff: dict[str, Person], moved: tuple[str, ...]
) -> None:
    first = desk.submit(report_content("first"))
    second = desk.submit(report_content("second"))
    with desk.session() as session:
        source = session.execute(
            select(Report).where(Report.public_id == first.report_id)
        ).scalar_one()
        session.execute(
            update(Report)
            .where(Report.public_id == second.report_id)
            .values({column: getattr(source, column) for column in moved})
        )
        session.commit()
    with pytest.raises(DataIntegrityError):
        desk.show(staff["coordinator"], second.report_id)
    assert desk.show(staff["coordinator"], first.report_id).content is not None


def _flip_last_byte(value: bytes) -> bytes:
    return value[:-1] + bytes([value[-1] ^ 0x01])


def test_flipped_byte_of_a_protected_private_key_is_refused(
    desk: Desk, staff: dict[str, Person]
) -> None:
    with desk.session() as session:
        user = session.execute(select(User).where(User.name == "carol")).scalar_one()
        user.protected_private_key = _flip_last_byte(user.protected_private_key)
        session.commit()
    with pytest.raises(DataIntegrityError, match="private key of 'carol'"):
        desk.list_reports(staff["coordinator"])


def test_flipped_byte_of_a_desk_key_grant_is_refused(desk: Desk, staff: dict[str, Person]) -> None:
    desk.submit(report_content("x"))
    with desk.session() as session:
        carol = session.execute(select(User).where(User.name == "carol")).scalar_one()
        grant = session.execute(
            select(IntakeKeyGrant).where(IntakeKeyGrant.user_id == carol.id)
        ).scalar_one()
        grant.sealed_private_key = _flip_last_byte(grant.sealed_private_key)
        session.commit()
    with pytest.raises(DataIntegrityError, match="grant of intake key"):
        desk.list_reports(staff["coordinator"])


def test_desk_key_grant_swapped_for_another_users_is_refused(
    desk: Desk, admin: Person, staff: dict[str, Person]
) -> None:
    # Carol's grant row replaced by the admin's: sealed to another key, it cannot open.
    with desk.session() as session:
        grants = {
            grant.user.name: grant
            for grant in session.execute(select(IntakeKeyGrant)).scalars()
            if grant.user is not None
        }
        grants["carol"].sealed_private_key = grants[admin.name].sealed_private_key
        grants["carol"].holder_key_id = grants[admin.name].holder_key_id
        session.commit()
    with pytest.raises(DataIntegrityError):
        desk.list_reports(staff["coordinator"])


def test_showing_a_damaged_report_is_audited_and_then_refused(
    desk: Desk, staff: dict[str, Person]
) -> None:
    report = desk.submit(report_content("damaged"))
    _tamper(desk, "body", report.report_id, 20)
    with pytest.raises(DataIntegrityError):
        desk.show(staff["coordinator"], report.report_id)
    with desk.session() as session:
        last = session.execute(
            select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)
        ).scalar_one()
    assert (last.action, last.subject) == ("report.decrypt", str(report.report_id))
    assert str(report.report_id) in last.detail
