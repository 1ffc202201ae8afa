import pytest
from sqlalchemy import delete, func, select

from hrd_reports.crypto.passwords import Argon2Params, PasswordProtection
from hrd_reports.crypto.recovery import decode_recovery_key
from hrd_reports.crypto.xwing import PrivateKey
from hrd_reports.models import IntakeKeyGrant, Role, User
from hrd_reports.services import credentials, keyring, users
from hrd_reports.services.errors import AuthenticationFailed, Conflict, Forbidden, Invalid
from hrd_reports.wiring import Runtime
from tests.helpers import Desk, Person, report_content


@pytest.mark.parametrize("name", ["a", "Alice", "ali ce", "-alice", "x" * 65, "علي", "alice\n"])
def test_user_name_outside_the_pattern_is_refused(desk: Desk, name: str) -> None:
    with pytest.raises(Invalid):
        desk.add(name, Role.CASE_WORKER)


@pytest.mark.parametrize(
    ("name", "password"),
    [
        ("dave", "short pass"),
        ("dave", "my name is dave ok"),
        ("dave", "aaaaaaaaaaaaaa"),
        ("dave", "x" * 1025),
    ],
)
def test_weak_password_is_refused(name: str, password: str) -> None:
    with pytest.raises(Invalid):
        users.check_password(name=name, password=password)


def test_second_user_of_the_same_name_is_refused(desk: Desk) -> None:
    desk.add("dave", Role.CASE_WORKER)
    with pytest.raises(Conflict):
        desk.add("dave", Role.COORDINATOR)


def test_new_user_has_a_key_pair_but_no_vetting(desk: Desk) -> None:
    dave = desk.add("dave", Role.CASE_WORKER)
    with desk.session() as session:
        user = users.get_user(session, "dave")
        assert not user.vetted
        assert len(user.public_key) == 1216
        assert dave.password.encode() not in user.protected_private_key
        assert dave.password not in user.password_hash


def test_unknown_user_and_wrong_password_are_refused_alike(desk: Desk, admin: Person) -> None:
    messages = []
    for name, password in (("nobody", admin.password), (admin.name, "not the password at all")):
        with desk.session() as session, pytest.raises(AuthenticationFailed) as refusal:
            credentials.unlock(
                session, name=name, password=password, passwords=desk.runtime.passwords
            )
        messages.append(refusal.value.message)
    assert messages[0] == messages[1] == credentials.LOGIN_REFUSED


def test_unknown_user_costs_a_password_verification_too(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Timing is not asserted (tests never measure wall-clock time); what is checked is that
    # the unknown-name path runs the same Argon2 verification as a known name would.
    spent: list[str] = []
    monkeypatch.setattr(desk.runtime.passwords, "verify_dummy", spent.append)
    with desk.session() as session, pytest.raises(AuthenticationFailed):
        credentials.unlock(
            session, name="nobody", password="a guess of twelve", passwords=desk.runtime.passwords
        )
    assert spent == ["a guess of twelve"]


def test_disabled_user_cannot_unlock(desk: Desk, admin: Person) -> None:
    with desk.session() as session:
        users.get_user(session, admin.name).disabled = True
        session.commit()
    with desk.session() as session, pytest.raises(AuthenticationFailed):
        credentials.unlock(
            session, name=admin.name, password=admin.password, passwords=desk.runtime.passwords
        )


def test_raised_argon2_costs_rewrap_the_key_at_the_next_unlock(desk: Desk, admin: Person) -> None:
    stronger = PasswordProtection(
        pepper=desk.runtime.secrets.pepper, params=Argon2Params(2, 128, 1)
    )
    with desk.session() as session:
        before = users.get_user(session, admin.name)
        old_hash, old_blob = before.password_hash, before.protected_private_key
        unlocked = credentials.unlock(
            session, name=admin.name, password=admin.password, passwords=stronger
        )
        session.commit()
    assert unlocked.user.password_hash != old_hash
    assert unlocked.user.protected_private_key != old_blob
    assert not stronger.password_hash_outdated(unlocked.user.password_hash)
    assert not stronger.protection_outdated(unlocked.user.protected_private_key)


def _desk_grants(desk: Desk, name: str) -> int:
    with desk.session() as session:
        user = users.get_user(session, name)
        query = (
            select(func.count())
            .select_from(IntakeKeyGrant)
            .where(IntakeKeyGrant.user_id == user.id)
        )
        return session.execute(query).scalar_one()


def test_vetting_gives_coordinators_the_desk_keys_and_case_workers_none(
    desk: Desk, admin: Person
) -> None:
    desk.add("carol", Role.COORDINATOR)
    desk.add("dave", Role.CASE_WORKER)
    assert desk.vet("carol", by=admin).keys_granted != []
    assert desk.vet("dave", by=admin).keys_granted == []
    assert (_desk_grants(desk, "carol"), _desk_grants(desk, "dave")) == (1, 0)
    assert desk.vet("carol", by=admin).already_vetted


def test_auditor_cannot_be_vetted_for_report_content(desk: Desk, admin: Person) -> None:
    desk.add("erin", Role.AUDITOR)
    with pytest.raises(Forbidden):
        desk.vet("erin", by=admin)
    assert _desk_grants(desk, "erin") == 0


def test_only_a_vetted_key_holder_can_vet(desk: Desk, admin: Person) -> None:
    dave = desk.add_vetted("dave", Role.CASE_WORKER, by=admin)
    gina = desk.add("gina", Role.COORDINATOR)
    desk.add("carol", Role.COORDINATOR)
    for vetter in (dave, gina):
        with pytest.raises(Forbidden, match="not a vetted key holder"):
            desk.vet("carol", by=vetter)
    assert _desk_grants(desk, "carol") == 0


def test_nobody_vets_themselves(desk: Desk, admin: Person) -> None:
    with pytest.raises(Forbidden, match="themselves"):
        desk.vet(admin.name, by=admin)


def test_a_key_holder_missing_a_live_key_cannot_vet(desk: Desk, admin: Person) -> None:
    carol = desk.add_vetted("carol", Role.COORDINATOR, by=admin)
    desk.rotate(by=admin)  # two live keys now: the retired one still protects nothing, but lives
    with desk.session() as session:
        user = users.get_user(session, "carol")
        session.execute(
            delete(IntakeKeyGrant).where(
                IntakeKeyGrant.user_id == user.id,
                IntakeKeyGrant.intake_key_id == keyring.active_intake_key(session).id,
            )
        )
        session.commit()
    desk.add("gina", Role.COORDINATOR)
    with pytest.raises(Forbidden, match="does not hold every desk key"):
        desk.vet("gina", by=carol)


def test_recovery_key_vets_a_new_key_holder_when_nobody_else_can(
    runtime: Runtime, admin: Person
) -> None:
    desk = Desk(runtime)
    setup = desk.set_up(admin)
    carol = desk.add("carol", Role.COORDINATOR)
    report = desk.submit(report_content("still readable"))
    with desk.session() as session:
        recovery = decode_recovery_key(setup.recovery_key)
        users.vet_user(
            session,
            name="carol",
            vetter=None,
            intake_keys=keyring.unlock_intake_keys_with_recovery(session, recovery=recovery),
            vetted_by=f"recovery-key:{recovery.key_id}",
            secrets=desk.secrets,
        )
        session.commit()
    assert [view.id for view in desk.list_reports(carol)] == [report.report_id]


def test_a_recovery_key_of_another_desk_is_refused(desk: Desk) -> None:
    with desk.session() as session, pytest.raises(Forbidden):
        keyring.unlock_intake_keys_with_recovery(session, recovery=PrivateKey.generate())


def test_last_key_holder_cannot_be_revoked(desk: Desk, admin: Person) -> None:
    with pytest.raises(Conflict, match="last key holder"):
        desk.revoke(admin.name)
    desk.add_vetted("carol", Role.COORDINATOR, by=admin)
    outcome = desk.revoke(admin.name)
    assert outcome.rotation_advised
    assert _desk_grants(desk, admin.name) == 0
    with desk.session() as session:
        assert not session.execute(select(User.vetted).where(User.name == admin.name)).scalar_one()


def test_revoking_unassigns_their_reports(desk: Desk, admin: Person) -> None:
    desk.add_vetted("dave", Role.CASE_WORKER, by=admin)
    report = desk.submit(report_content("assigned"))
    desk.assign(report.report_id, to="dave", by=admin)
    outcome = desk.revoke("dave")
    assert (outcome.report_keys_removed, outcome.reports_unassigned) == (1, 1)
    assert desk.show(admin, report.report_id).assignee is None
