"""Key rotation, told as the story an operator lives through (DESIGN.md invariant 7)."""

import threading

import pytest
from sqlalchemy import func, select

from hrd_reports.crypto.recovery import decode_recovery_key
from hrd_reports.crypto.submission import new_submission
from hrd_reports.models import AuditEvent, IntakeKey, IntakeKeyGrant, IntakeKeyState, Report, Role
from hrd_reports.services import keyring, reseal, rotation
from hrd_reports.services.errors import Conflict, ServiceError
from hrd_reports.wiring import Runtime
from tests.helpers import Desk, Person, report_content


def _states(desk: Desk) -> dict[str, IntakeKeyState]:
    with desk.session() as session:
        return {key.id: key.state for key in session.execute(select(IntakeKey)).scalars()}


def test_rotation_reseals_every_report_and_retires_the_old_key(desk: Desk, admin: Person) -> None:
    carol = desk.add_vetted("carol", Role.COORDINATOR, by=admin)
    dave = desk.add_vetted("dave", Role.CASE_WORKER, by=admin)
    reports = [desk.submit(report_content(f"before rotation {i}")) for i in range(7)]
    desk.assign(reports[0].report_id, to="dave", by=carol)
    [old_key] = _states(desk)

    end = desk.rotate(by=admin, batch_size=3)

    assert end.left_on_old_keys == 0
    assert _states(desk) == {old_key: IntakeKeyState.RETIRED, end.new_key_id: IntakeKeyState.ACTIVE}
    with desk.session() as session:
        assert set(session.execute(select(Report.dek_key_id)).scalars()) == {end.new_key_id}
    # Every holder of the old key holds the new one, and so does the recovery key.
    for person in (admin, carol):
        assert len(desk.list_reports(person)) == 7
    # A case worker's report key is not the intake key: rotation leaves it working.
    assert [view.id for view in desk.list_reports(dave)] == [reports[0].report_id]


def test_recovery_key_opens_the_new_key_after_rotation(runtime: Runtime, admin: Person) -> None:
    desk = Desk(runtime)
    setup = desk.set_up(admin)
    end = desk.rotate(by=admin)
    with desk.session() as session:
        opened = keyring.unlock_intake_keys_with_recovery(
            session, recovery=decode_recovery_key(setup.recovery_key)
        )
    assert end.new_key_id in opened


def test_new_reports_arriving_after_rotation_use_the_new_key(desk: Desk, admin: Person) -> None:
    desk.submit(report_content("old"))
    end = desk.rotate(by=admin)
    desk.submit(report_content("new"))
    with desk.session() as session:
        assert set(session.execute(select(Report.dek_key_id)).scalars()) == {end.new_key_id}


def test_report_encrypted_to_the_retired_key_is_refused_so_the_browser_sends_it_again(
    desk: Desk, admin: Person
) -> None:
    old_key = desk.intake_key()
    desk.rotate(by=admin)
    _, stale = new_submission(report_content("late"), intake_key=old_key)
    with pytest.raises(Conflict, match="key has changed"):
        desk.store(stale)


def test_retire_old_destroys_old_grants_only_when_no_report_needs_them(
    desk: Desk, admin: Person
) -> None:
    desk.submit(report_content("kept safe"))
    first = desk.rotate(by=admin, retire_old=True)
    assert first.destroyed_keys != []
    with desk.session() as session:
        destroyed = first.destroyed_keys[0]
        grants = session.execute(
            select(func.count())
            .select_from(IntakeKeyGrant)
            .where(IntakeKeyGrant.intake_key_id == destroyed)
        ).scalar_one()
        assert grants == 0
    assert _states(desk)[destroyed] == IntakeKeyState.DESTROYED
    assert len(desk.list_reports(admin)) == 1


def test_retire_old_keeps_a_key_that_a_damaged_report_still_needs(
    desk: Desk, admin: Person
) -> None:
    damaged = desk.submit(report_content("damaged"))
    desk.submit(report_content("fine"))
    with desk.session() as session:
        report = session.execute(
            select(Report).where(Report.public_id == damaged.report_id)
        ).scalar_one()
        report.sealed_dek = report.sealed_dek[:-1] + bytes([report.sealed_dek[-1] ^ 1])
        session.commit()
    [old_key] = _states(desk)
    end = desk.rotate(by=admin, retire_old=True)
    assert end.left_on_old_keys == 1
    assert end.kept_keys == [old_key]
    assert _states(desk)[old_key] == IntakeKeyState.RETIRED


def test_rotation_interrupted_after_some_batches_resumes_without_a_second_new_key(
    desk: Desk, admin: Person
) -> None:
    for i in range(10):
        desk.submit(report_content(f"report {i}"))
    start, intake_keys = desk.start_rotation(by=admin)
    with desk.session() as session:
        batch = reseal.reseal_batch(
            session,
            rotation_id=start.rotation_id,
            intake_keys=intake_keys,
            after_id=0,
            batch_size=4,
            secrets=desk.secrets,
        )
        assert batch.resealed == 4
        session.commit()
    # The process dies here. Running the command again resumes the same rotation.
    end = desk.rotate(by=admin)
    assert end.new_key_id == start.new_key_id
    assert len(_states(desk)) == 2
    assert len(desk.list_reports(admin)) == 10


def test_report_arriving_while_a_rotation_commits_is_told_to_send_again(
    desk: Desk, admin: Person
) -> None:
    _, stale = new_submission(report_content("in flight"), intake_key=desk.intake_key())
    rotating = desk.runtime.sessions()
    try:
        holder = desk._unlock(rotating, admin)
        intake_keys = keyring.unlock_intake_keys(
            rotating, user=holder.user, private_key=holder.private_key
        )
        rotation.start_rotation(
            rotating, holder=holder.user, intake_keys=intake_keys, secrets=desk.secrets
        )
        refusals: list[ServiceError] = []

        def submit() -> None:
            try:
                desk.store(stale)
            except ServiceError as refusal:
                refusals.append(refusal)

        # The intake waits on the rotation's locks, then must see the new key, not none.
        intake = threading.Thread(target=submit)
        intake.start()
        intake.join(timeout=1)
        rotating.commit()
        intake.join(timeout=60)
    finally:
        rotating.close()
    assert [type(refusal) for refusal in refusals] == [Conflict]


def test_resuming_a_rotation_is_audited(desk: Desk, admin: Person) -> None:
    desk.submit(report_content("x"))
    desk.start_rotation(by=admin)
    desk.rotate(by=admin)
    with desk.session() as session:
        actions = list(
            session.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars()
        )
    assert actions[-3:] == ["keys.rotate.start", "keys.rotate.resume", "keys.rotate.finish"]
