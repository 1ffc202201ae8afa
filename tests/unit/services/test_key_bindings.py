"""Someone who can write to the database, but not read keys/, never receives a desk key.

Every stored public key is bound to its owner (a user's also to their role), and every desk
key grant to its holder, with an HMAC under keys/binding.key; nothing is sealed to a key, nor
anyone counted as a key holder, whose binding does not hold.
"""

import pytest
from sqlalchemy import select

from hrd_reports.crypto.xwing import PrivateKey
from hrd_reports.models import IntakeKey, IntakeKeyGrant, RecoveryKey, Role, User
from hrd_reports.services import keyring
from hrd_reports.services.errors import DataIntegrityError
from tests.helpers import Desk, Person, report_content

ATTACKER = PrivateKey.generate()


def _swap_user_key(desk: Desk, name: str) -> None:
    with desk.session() as session:
        user = session.execute(select(User).where(User.name == name)).scalar_one()
        user.public_key, user.key_id = ATTACKER.public.raw, ATTACKER.key_id
        session.commit()


def _grants_sealed_to_attacker(desk: Desk) -> int:
    with desk.session() as session:
        return len(
            session.execute(
                select(IntakeKeyGrant).where(IntakeKeyGrant.holder_key_id == ATTACKER.key_id)
            ).all()
        )


def test_vetting_a_user_whose_key_was_swapped_is_refused(desk: Desk, admin: Person) -> None:
    desk.add("gina", Role.COORDINATOR)
    _swap_user_key(desk, "gina")
    with pytest.raises(DataIntegrityError, match="user key"):
        desk.vet("gina", by=admin)
    assert _grants_sealed_to_attacker(desk) == 0


def test_assigning_to_a_case_worker_whose_key_was_swapped_is_refused(
    desk: Desk, admin: Person
) -> None:
    desk.add_vetted("dave", Role.CASE_WORKER, by=admin)
    report = desk.submit(report_content("for dave only"))
    _swap_user_key(desk, "dave")
    with pytest.raises(DataIntegrityError, match="user key"):
        desk.assign(report.report_id, to="dave", by=admin)


def test_recovery_key_inserted_into_the_database_gets_nothing_at_rotation(
    desk: Desk, admin: Person
) -> None:
    desk.submit(report_content("old report"))
    with desk.session() as session:
        session.add(
            RecoveryKey(
                id=ATTACKER.key_id,
                public_key=ATTACKER.public.raw,
                key_binding=bytes(32),
                created_on=keyring.active_intake_key(session).created_on,
            )
        )
        session.commit()
    desk.rotate(by=admin, retire_old=True)
    assert _grants_sealed_to_attacker(desk) == 0


def test_inserted_recovery_key_with_a_copied_grant_stops_the_rotation(
    desk: Desk, admin: Person
) -> None:
    with desk.session() as session:
        active = keyring.active_intake_key(session)
        real = session.execute(
            select(IntakeKeyGrant).where(IntakeKeyGrant.recovery_key_id.is_not(None))
        ).scalar_one()
        session.add(
            RecoveryKey(
                id=ATTACKER.key_id,
                public_key=ATTACKER.public.raw,
                key_binding=bytes(32),
                created_on=active.created_on,
            )
        )
        session.flush()
        session.add(
            IntakeKeyGrant(
                intake_key_id=active.id,
                recovery_key_id=ATTACKER.key_id,
                holder_key_id=real.holder_key_id,
                suite=real.suite,
                sealed_private_key=real.sealed_private_key,
                grant_binding=real.grant_binding,
            )
        )
        session.commit()
    with pytest.raises(DataIntegrityError, match="desk key grant"):
        desk.rotate(by=admin)
    assert _grants_sealed_to_attacker(desk) == 0


def test_replaced_intake_public_key_stops_intake(desk: Desk) -> None:
    honest_key = desk.intake_key()
    with desk.session() as session:
        active = session.execute(select(IntakeKey)).scalar_one()
        active.public_key = ATTACKER.public.raw
        session.commit()
    with pytest.raises(DataIntegrityError, match="intake key"):
        desk.submit(report_content("would be readable by whoever replaced the key"))
    assert honest_key.raw != ATTACKER.public.raw


def _promote_in_the_database(desk: Desk, name: str) -> None:
    """What a database writer with a case worker's account of their own can do."""
    with desk.session() as session:
        user = session.execute(select(User).where(User.name == name)).scalar_one()
        user.role = Role.COORDINATOR
        user.vetted = True
        real = (
            session.execute(select(IntakeKeyGrant).where(IntakeKeyGrant.user_id.is_not(None)))
            .scalars()
            .first()
        )
        assert real is not None
        session.add(
            IntakeKeyGrant(
                intake_key_id=keyring.active_intake_key(session).id,
                user_id=user.id,
                holder_key_id=user.key_id,
                suite=real.suite,
                sealed_private_key=real.sealed_private_key,
                grant_binding=real.grant_binding,
            )
        )
        session.commit()


def test_case_worker_promoted_in_the_database_gets_no_desk_key_at_rotation(
    desk: Desk, admin: Person
) -> None:
    mallory = desk.add_vetted("mallory", Role.CASE_WORKER, by=admin)
    desk.submit(report_content("x"))
    _promote_in_the_database(desk, "mallory")
    with pytest.raises(DataIntegrityError, match="desk key grant"):
        desk.rotate(by=admin)
    with pytest.raises(DataIntegrityError):
        desk.list_reports(mallory)


def test_role_changed_in_the_database_is_refused_when_vetting(desk: Desk, admin: Person) -> None:
    desk.add("mallory", Role.CASE_WORKER)
    with desk.session() as session:
        session.execute(
            select(User).where(User.name == "mallory")
        ).scalar_one().role = Role.COORDINATOR
        session.commit()
    with pytest.raises(DataIntegrityError, match="user key"):
        desk.vet("mallory", by=admin)
