"""Changes of people and keys that race each other are done one after the other.

Each test holds one change open in a transaction, starts a second in a thread (which must
wait), then commits the first: on SQLite and on PostgreSQL the second must see the first.
"""

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import select

from hrd_reports.models import IntakeKeyGrant, Role, User
from hrd_reports.services import keyring, reseal, users
from hrd_reports.services.errors import Conflict, ServiceError
from tests.helpers import Desk, Person, report_content


def _while_held(
    desk: Desk, first: Callable[[object], object], second: Callable[[], object]
) -> list[object]:
    """Run ``first`` in an open transaction, ``second`` in a thread, then commit ``first``."""
    outcomes: list[object] = []

    def run_second() -> None:
        try:
            outcomes.append(second())
        except ServiceError as refusal:
            outcomes.append(refusal)

    session = desk.runtime.sessions()
    try:
        first(session)
        thread = threading.Thread(target=run_second)
        thread.start()
        thread.join(timeout=1)  # give it time to reach the lock it must wait on
        session.commit()
        thread.join(timeout=60)
    finally:
        session.close()
    return outcomes


def test_user_revoked_while_a_rotation_starts_does_not_receive_the_new_key(
    desk: Desk, admin: Person
) -> None:
    desk.add_vetted("carol", Role.COORDINATOR, by=admin)
    desk.submit(report_content("x"))

    def revoke(session: object) -> None:
        users.revoke_user(session, name="carol", actor="test", secrets=desk.secrets)  # type: ignore[arg-type]

    _while_held(desk, revoke, lambda: desk.rotate(by=admin))
    with desk.session() as session:
        carol = session.execute(select(User).where(User.name == "carol")).scalar_one()
        grants = session.execute(
            select(IntakeKeyGrant).where(IntakeKeyGrant.user_id == carol.id)
        ).all()
    assert grants == []


def test_the_last_two_key_holders_revoked_at_once_leave_one(desk: Desk, admin: Person) -> None:
    desk.add_vetted("carol", Role.COORDINATOR, by=admin)

    def revoke_admin(session: object) -> None:
        users.revoke_user(session, name=admin.name, actor="test", secrets=desk.secrets)  # type: ignore[arg-type]

    outcomes = _while_held(desk, revoke_admin, lambda: desk.revoke("carol"))
    assert [type(outcome) for outcome in outcomes] == [Conflict]
    with desk.session() as session:
        assert [user.name for user in keyring.key_holders(session, secrets=desk.secrets)] == [
            "carol"
        ]


def test_batch_of_a_finished_rotation_writes_nothing(desk: Desk, admin: Person) -> None:
    for i in range(3):
        desk.submit(report_content(f"report {i}"))
    start, intake_keys = desk.start_rotation(by=admin)
    desk.rotate(by=admin)  # resumes and finishes that rotation
    with desk.session() as session, pytest.raises(Conflict, match="already finished"):
        reseal.reseal_batch(
            session,
            rotation_id=start.rotation_id,
            intake_keys=intake_keys,
            after_id=0,
            batch_size=10,
            secrets=desk.secrets,
        )
