import datetime as dt

import pytest
from sqlalchemy import select

from hrd_reports.crypto.recovery import decode_recovery_key
from hrd_reports.models import IntakeKey, IntakeKeyState, SetupLink
from hrd_reports.services import desk as desk_service
from hrd_reports.services import keyring
from hrd_reports.services.errors import Conflict, NotFound
from hrd_reports.wiring import Runtime
from tests.helpers import Desk, Person


def test_setting_up_makes_the_admin_a_key_holder_and_prints_a_working_recovery_key(
    runtime: Runtime, admin: Person
) -> None:
    desk = Desk(runtime)
    setup = desk.set_up(admin)
    with desk.session() as session:
        [key] = session.execute(select(IntakeKey)).scalars()
        assert (key.id, key.state) == (setup.intake_key_id, IntakeKeyState.ACTIVE)
        holders = [user.name for user in keyring.key_holders(session, secrets=desk.secrets)]
        opened = keyring.unlock_intake_keys_with_recovery(
            session, recovery=decode_recovery_key(setup.recovery_key)
        )
    assert holders == [admin.name]
    assert set(opened) == {setup.intake_key_id}
    assert setup.recovery_key not in repr(setup)


def test_a_desk_is_set_up_once(desk: Desk) -> None:
    with pytest.raises(Conflict):
        desk.set_up(Person("second", "another long passphrase"))


def _issue(runtime: Runtime, hours: float = 1) -> str:
    with Desk(runtime).session() as session:
        token = desk_service.issue_setup_link(session, valid_for=dt.timedelta(hours=hours))
        session.commit()
    return token


def _check(runtime: Runtime, token: str) -> None:
    with Desk(runtime).session() as session:
        desk_service.check_setup_link(session, token=token)


def test_setup_link_is_kept_only_as_a_hash(runtime: Runtime) -> None:
    token = _issue(runtime)
    _check(runtime, token)
    with Desk(runtime).session() as session:
        [link] = session.execute(select(SetupLink)).scalars()
    assert token.encode() not in link.token_hash


def test_setup_link_stops_working_when_replaced_expired_or_used(
    runtime: Runtime, admin: Person
) -> None:
    replaced = _issue(runtime)
    expired = _issue(runtime, hours=-1)
    for token in (replaced, expired, "made-up-token"):
        with pytest.raises(NotFound):
            _check(runtime, token)
    used = _issue(runtime)
    Desk(runtime).set_up(admin)
    with pytest.raises(NotFound):
        _check(runtime, used)


def test_no_setup_link_for_a_desk_that_is_set_up(desk: Desk) -> None:
    with pytest.raises(Conflict):
        _issue(desk.runtime)
