"""Dashboard sessions: the cookie holds the only key to the person's sealed private key."""

import dataclasses
import datetime as dt
import secrets

import pytest
from sqlalchemy import select, text, update

from hrd_reports.crypto.sessions import SessionToken
from hrd_reports.crypto.xwing import PrivateKey
from hrd_reports.models import DashboardSession, Role, User
from hrd_reports.services import clock, credentials, sessions, users
from hrd_reports.services.credentials import UnlockedUser
from tests.helpers import Desk, Person

LIMITS = sessions.SessionLimits(idle=dt.timedelta(minutes=30), absolute=dt.timedelta(hours=1))


class Clock:
    """The services' clock, moved by the test."""

    def __init__(self) -> None:
        self.now = dt.datetime(2031, 3, 1, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += dt.timedelta(minutes=minutes)


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(clock, "utc_now", moved)
    return moved


@pytest.fixture
def carol(desk: Desk, admin: Person) -> Person:
    return desk.add_vetted("carol", Role.COORDINATOR, by=admin)


def unlock(desk: Desk, person: Person) -> UnlockedUser:
    with desk.session() as session:
        return credentials.unlock(
            session, name=person.name, password=person.password, passwords=desk.runtime.passwords
        )


def open_session(desk: Desk, person: Person) -> SessionToken:
    unlocked = unlock(desk, person)
    with desk.session() as session:
        token = sessions.open_session(session, unlocked=unlocked, limits=LIMITS)
        session.commit()
    return token


def resume(desk: Desk, token: SessionToken) -> UnlockedUser | None:
    with desk.session() as session:
        return sessions.resume(session, token=token, limits=LIMITS)


def touch(desk: Desk, token: SessionToken) -> None:
    with desk.session() as session:
        sessions.touch(session, token=token)
        session.commit()


def test_resume_returns_the_person_with_their_private_key(
    desk: Desk, fake_clock: Clock, carol: Person
) -> None:
    token = open_session(desk, carol)

    # As a request does: the token comes back from the cookie's text.
    secret = desk.secrets.session
    from_cookie = SessionToken.parse(token.cookie_value(secret=secret), secret=secret)
    assert from_cookie is not None
    resumed = resume(desk, from_cookie)

    assert resumed is not None
    assert resumed.name == "carol"
    assert resumed.private_key.public.raw == resumed.user.public_key
    assert resumed.private_key.seed() == unlock(desk, carol).private_key.seed()


def test_resume_right_id_with_another_key_resumes_nothing(
    desk: Desk, fake_clock: Clock, carol: Person
) -> None:
    token = open_session(desk, carol)
    forged = dataclasses.replace(token, key=secrets.token_bytes(len(token.key)))

    assert forged.lookup == token.lookup
    assert resume(desk, forged) is None
    assert resume(desk, token) is not None


def test_resume_of_another_valid_key_sealed_under_the_same_token_resumes_nothing(
    desk: Desk, fake_clock: Clock, carol: Person
) -> None:
    # It opens (right token, right person in the binding), but it is not carol's key: a
    # session must act with the one key the desk bound to the person, or with none.
    token = open_session(desk, carol)
    with desk.session() as session:
        user = users.get_user(session, "carol")
        row = session.get(DashboardSession, token.lookup)
        assert row is not None
        row.sealed_private_key = token.seal(PrivateKey.generate().seed(), owner=str(user.public_id))
        session.commit()

    assert resume(desk, token) is None


def test_resume_unknown_session_id_resumes_nothing(
    desk: Desk, fake_clock: Clock, carol: Person
) -> None:
    token = open_session(desk, carol)
    assert resume(desk, dataclasses.replace(token, session_id=secrets.token_bytes(16))) is None


def test_resume_after_idle_timeout_resumes_nothing(
    desk: Desk, fake_clock: Clock, carol: Person
) -> None:
    token = open_session(desk, carol)
    fake_clock.advance(29)
    assert resume(desk, token) is not None

    fake_clock.advance(1)
    assert resume(desk, token) is None


def test_touch_postpones_the_idle_timeout(desk: Desk, fake_clock: Clock, carol: Person) -> None:
    token = open_session(desk, carol)
    fake_clock.advance(20)
    touch(desk, token)
    fake_clock.advance(20)
    assert resume(desk, token) is not None

    fake_clock.advance(10)
    assert resume(desk, token) is None


def test_resume_after_absolute_timeout_resumes_nothing_however_active(
    desk: Desk, fake_clock: Clock, carol: Person
) -> None:
    token = open_session(desk, carol)
    for _ in range(3):
        fake_clock.advance(19)
        touch(desk, token)
    assert resume(desk, token) is not None  # 57 minutes in, touched just now

    fake_clock.advance(3)
    assert resume(desk, token) is None


def test_close_makes_the_token_useless(desk: Desk, fake_clock: Clock, carol: Person) -> None:
    token = open_session(desk, carol)
    other = open_session(desk, carol)
    with desk.session() as session:
        sessions.close(session, token=token)
        session.commit()

    assert resume(desk, token) is None
    assert resume(desk, other) is not None
    with desk.session() as session:
        assert session.get(DashboardSession, token.lookup) is None


def test_resume_disabled_user_resumes_nothing(desk: Desk, fake_clock: Clock, carol: Person) -> None:
    token = open_session(desk, carol)
    # Flag only, sessions left in place: resume itself must refuse a disabled person.
    with desk.session() as session:
        session.execute(update(User).where(User.name == "carol").values(disabled=True))
        session.commit()

    assert resume(desk, token) is None


def test_revoke_user_deletes_their_sessions(
    desk: Desk, admin: Person, fake_clock: Clock, carol: Person
) -> None:
    tokens = [open_session(desk, carol), open_session(desk, carol)]
    admins = open_session(desk, admin)

    desk.revoke("carol")

    assert [resume(desk, token) for token in tokens] == [None, None]
    with desk.session() as session:
        carol_row = users.get_user(session, "carol")
        assert sessions.sessions_of(session, carol_row) == []
    assert resume(desk, admins) is not None


def test_open_session_stored_row_holds_neither_the_session_id_nor_the_private_seed(
    desk: Desk, fake_clock: Clock, carol: Person
) -> None:
    token = open_session(desk, carol)
    seed = unlock(desk, carol).private_key.seed()

    with desk.session() as session:
        rows = session.execute(text("SELECT * FROM dashboard_sessions")).all()
    stored = b"".join(
        bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
        for row in rows
        for value in row
    )
    assert len(rows) == 1
    assert token.lookup in stored  # the search below looks in the right place
    for secret in (
        token.session_id,
        token.key,
        seed,
        token.cookie_value(secret=desk.secrets.session).encode(),
    ):
        assert secret not in stored
        assert secret.hex().encode() not in stored


def test_purge_expired_deletes_only_expired_sessions(
    desk: Desk, fake_clock: Clock, carol: Person
) -> None:
    idle = open_session(desk, carol)
    active = open_session(desk, carol)
    fake_clock.advance(20)
    touch(desk, active)
    fake_clock.advance(10)

    with desk.session() as session:
        purged = sessions.purge_expired(session, limits=LIMITS)
        session.commit()

    assert purged == 1
    with desk.session() as session:
        left = session.execute(select(DashboardSession.lookup)).scalars().all()
    assert left == [active.lookup]
    assert idle.lookup not in left


def test_open_session_deletes_sessions_that_have_ended(
    desk: Desk, fake_clock: Clock, carol: Person
) -> None:
    ended = open_session(desk, carol)
    fake_clock.advance(31)  # minutes: past the 30-minute idle limit

    fresh = open_session(desk, carol)

    with desk.session() as session:
        left = session.execute(select(DashboardSession.lookup)).scalars().all()
    assert left == [fresh.lookup]
    assert ended.lookup not in left
