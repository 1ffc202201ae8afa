"""Invitations, the second factor and throttled sign-in (services/accounts.py).

Every sign-in here is committed whether it succeeds or is refused, as the sign-in page does:
a refusal's failure count and audit entry are meant to outlive the refusal.
"""

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select

from hrd_reports.crypto import totp
from hrd_reports.db import unit_of_work
from hrd_reports.models import AuditEvent, DashboardSession, Role, User
from hrd_reports.services import accounts, clock, credentials, sessions, signin, users
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import AuthenticationFailed, Conflict, Invalid, NotFound
from tests.cli import table_snapshot
from tests.helpers import Desk, Person

THROTTLE = signin.Throttle(max_failures=3, lockout=dt.timedelta(minutes=15))
NORA = Person("nora", "correct horse battery staple 42")


class Clock:
    """The services' clock, moved by the test; it starts 10 seconds into a TOTP step."""

    def __init__(self) -> None:
        self.now = dt.datetime(2031, 3, 1, 9, 0, 10, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta

    @property
    def step(self) -> int:
        return totp.step_at(self.now.timestamp())


ONE_STEP = dt.timedelta(seconds=totp.STEP_SECONDS)


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(clock, "utc_now", moved)
    return moved


def code_now(secret: bytes, at: Clock) -> str:
    return totp.code_for(secret, at.step)


def wrong_code(secret: bytes, at: Clock) -> str:
    """Six digits that match none of the steps accepted now (drift included)."""
    valid = {
        totp.code_for(secret, at.step + drift)
        for drift in range(-totp.DRIFT_STEPS, totp.DRIFT_STEPS + 1)
    }
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in valid)


def invite(
    desk: Desk,
    name: str,
    role: Role | None,
    *,
    valid_for: dt.timedelta = dt.timedelta(hours=72),
) -> str:
    with desk.session() as session:
        token = accounts.invite(
            session,
            name=name,
            role=role,
            actor="admin",
            valid_for=valid_for,
            secrets=desk.secrets,
        )
        session.commit()
    return token


def accept(desk: Desk, token: str, *, password: str, secret: bytes, code: str) -> User:
    """Accept as the dashboard does: a refused password is committed, counted and audited."""
    with desk.session() as session:
        try:
            user = accounts.accept_invitation(
                session,
                token=token,
                password=password,
                totp_secret=secret,
                code=code,
                passwords=desk.runtime.passwords,
                secrets=desk.secrets,
                throttle=THROTTLE,
            )
        except AuthenticationFailed:
            session.commit()
            raise
        session.commit()
    return user


def sign_in(
    desk: Desk, name: str, password: str, code: str, *, throttle: signin.Throttle = THROTTLE
) -> UnlockedUser:
    """As the sign-in page does it: committed whether it succeeds or is refused."""
    with desk.session() as session:
        try:
            unlocked = signin.sign_in(
                session,
                name=name,
                password=password,
                code=code,
                passwords=desk.runtime.passwords,
                secrets=desk.secrets,
                throttle=throttle,
            )
        except AuthenticationFailed:
            session.commit()
            raise
        session.commit()
    return unlocked


def refusal_message(desk: Desk, name: str, password: str, code: str) -> str:
    with pytest.raises(AuthenticationFailed) as refusal:
        sign_in(desk, name, password, code)
    return refusal.value.message


def user_named(desk: Desk, name: str) -> User | None:
    with desk.session() as session:
        return session.execute(select(User).where(User.name == name)).scalar_one_or_none()


def audit_entries(desk: Desk, action: str) -> list[dict[str, Any]]:
    with desk.session() as session:
        events = session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        ).scalars()
        return [
            {"actor": e.actor, "subject": e.subject, "detail": json.loads(e.detail)} for e in events
        ]


def invitation_is_pending(desk: Desk, token: str) -> bool:
    with desk.session() as session:
        try:
            accounts.pending_invitation(session, token=token)
        except NotFound:
            return False
    return True


@pytest.fixture
def nora(desk: Desk, fake_clock: Clock) -> bytes:
    """A coordinator who accepted her invitation; the clock is one step past her enrolment."""
    secret = totp.new_secret()
    token = invite(desk, NORA.name, Role.COORDINATOR)
    accept(desk, token, password=NORA.password, secret=secret, code=code_now(secret, fake_clock))
    fake_clock.advance(ONE_STEP)
    return secret


# ---- invitations ----------------------------------------------------------------------------


def test_invite_new_person_creates_account_and_key_pair_only_when_accepted(
    desk: Desk, fake_clock: Clock
) -> None:
    secret = totp.new_secret()
    token = invite(desk, NORA.name, Role.COORDINATOR)
    assert user_named(desk, NORA.name) is None

    accept(desk, token, password=NORA.password, secret=secret, code=code_now(secret, fake_clock))

    user = user_named(desk, NORA.name)
    assert user is not None
    assert (user.role, user.vetted, user.totp_last_step) == (
        Role.COORDINATOR,
        False,
        fake_clock.step,
    )
    assert user.totp_secret is not None
    assert secret not in user.totp_secret
    with desk.session() as session:
        unlocked = credentials.unlock(
            session, name=NORA.name, password=NORA.password, passwords=desk.runtime.passwords
        )
    assert unlocked.private_key.public.raw == user.public_key
    assert [entry["subject"] for entry in audit_entries(desk, "user.enrol")] == [NORA.name]


def test_invite_new_person_without_role_is_refused(desk: Desk) -> None:
    with pytest.raises(Invalid, match="role"):
        invite(desk, NORA.name, None)


def test_invite_disabled_account_is_refused(desk: Desk, admin: Person) -> None:
    desk.add_vetted("dave", Role.CASE_WORKER, by=admin)
    with desk.session() as session:
        users.set_disabled(session, name="dave", disabled=True, actor="test", secrets=desk.secrets)
        session.commit()
    with pytest.raises(Conflict, match="disabled"):
        invite(desk, "dave", None)


def test_accept_invitation_used_link_is_refused_the_second_time(
    desk: Desk, fake_clock: Clock
) -> None:
    secret = totp.new_secret()
    token = invite(desk, NORA.name, Role.CASE_WORKER)
    accept(desk, token, password=NORA.password, secret=secret, code=code_now(secret, fake_clock))
    fake_clock.advance(ONE_STEP)

    assert not invitation_is_pending(desk, token)
    with pytest.raises(NotFound) as refusal:
        accept(
            desk, token, password=NORA.password, secret=secret, code=code_now(secret, fake_clock)
        )
    assert refusal.value.message == accounts.INVITATION_INVALID


def test_accept_invitation_expired_link_is_refused(desk: Desk, fake_clock: Clock) -> None:
    secret = totp.new_secret()
    token = invite(desk, NORA.name, Role.CASE_WORKER, valid_for=dt.timedelta(hours=1))
    fake_clock.advance(dt.timedelta(minutes=59))
    assert invitation_is_pending(desk, token)

    fake_clock.advance(dt.timedelta(minutes=1))
    with pytest.raises(NotFound):
        accept(
            desk, token, password=NORA.password, secret=secret, code=code_now(secret, fake_clock)
        )
    assert user_named(desk, NORA.name) is None


def test_invite_same_name_again_replaces_the_earlier_link(desk: Desk, fake_clock: Clock) -> None:
    secret = totp.new_secret()
    first = invite(desk, NORA.name, Role.CASE_WORKER)
    second = invite(desk, NORA.name, Role.COORDINATOR)

    with pytest.raises(NotFound):
        accept(
            desk, first, password=NORA.password, secret=secret, code=code_now(secret, fake_clock)
        )
    assert user_named(desk, NORA.name) is None

    user = accept(
        desk, second, password=NORA.password, secret=secret, code=code_now(secret, fake_clock)
    )
    assert user.role == Role.COORDINATOR


def test_accept_invitation_wrong_code_raises_invalid_and_creates_nothing(
    desk: Desk, fake_clock: Clock
) -> None:
    secret = totp.new_secret()
    token = invite(desk, NORA.name, Role.CASE_WORKER)
    with desk.session() as session:
        with pytest.raises(Invalid, match="code"):
            accounts.accept_invitation(
                session,
                token=token,
                password=NORA.password,
                totp_secret=secret,
                code=wrong_code(secret, fake_clock),
                passwords=desk.runtime.passwords,
                secrets=desk.secrets,
                throttle=THROTTLE,
            )
        # Even a caller that commits after the refusal keeps nothing of it.
        session.commit()
    assert user_named(desk, NORA.name) is None
    assert invitation_is_pending(desk, token)


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("eleven char", id="shorter-than-12"),
        pytest.param("my name is Nora and I am here", id="contains-the-name"),
    ],
)
def test_accept_invitation_weak_password_is_refused_and_creates_nothing(
    desk: Desk, fake_clock: Clock, password: str
) -> None:
    secret = totp.new_secret()
    token = invite(desk, NORA.name, Role.CASE_WORKER)
    with desk.session() as session:
        with pytest.raises(Invalid, match="password"):
            accounts.accept_invitation(
                session,
                token=token,
                password=password,
                totp_secret=secret,
                code=code_now(secret, fake_clock),
                passwords=desk.runtime.passwords,
                secrets=desk.secrets,
                throttle=THROTTLE,
            )
        session.commit()
    assert user_named(desk, NORA.name) is None
    assert invitation_is_pending(desk, token)


def test_accept_invitation_existing_account_enrols_totp_after_checking_its_password(
    desk: Desk, fake_clock: Clock
) -> None:
    dave = desk.add("dave", Role.CASE_WORKER)
    before = user_named(desk, "dave")
    assert before is not None
    assert before.totp_secret is None
    secret = totp.new_secret()
    token = invite(desk, "dave", None)

    accept(desk, token, password=dave.password, secret=secret, code=code_now(secret, fake_clock))

    after = user_named(desk, "dave")
    assert after is not None
    # The same account and key pair, now with a second factor.
    assert (after.id, after.public_key, after.role) == (
        before.id,
        before.public_key,
        Role.CASE_WORKER,
    )
    assert after.totp_secret is not None
    assert [entry["subject"] for entry in audit_entries(desk, "user.enrol_link")] == ["dave"]
    fake_clock.advance(ONE_STEP)
    assert sign_in(desk, "dave", dave.password, code_now(secret, fake_clock)).name == "dave"


def test_accept_invitation_existing_account_wrong_password_is_refused(
    desk: Desk, fake_clock: Clock
) -> None:
    desk.add("dave", Role.CASE_WORKER)
    secret = totp.new_secret()
    token = invite(desk, "dave", None)

    with pytest.raises(AuthenticationFailed):
        accept(
            desk,
            token,
            password="not dave's password at all",
            secret=secret,
            code=code_now(secret, fake_clock),
        )
    user = user_named(desk, "dave")
    assert user is not None
    assert user.totp_secret is None
    assert invitation_is_pending(desk, token)


def test_accept_invitation_existing_account_password_guesses_lock_it_and_are_audited(
    desk: Desk, fake_clock: Clock
) -> None:
    dave = desk.add("dave", Role.CASE_WORKER)
    secret = totp.new_secret()
    token = invite(desk, "dave", None)

    for _ in range(THROTTLE.max_failures + 1):
        with pytest.raises(AuthenticationFailed):
            accept(
                desk,
                token,
                password="a guess at the password",
                secret=secret,
                code=code_now(secret, fake_clock),
            )
    # Locked: the right password no longer enrols, until the lock-out passes.
    with pytest.raises(AuthenticationFailed):
        accept(
            desk, token, password=dave.password, secret=secret, code=code_now(secret, fake_clock)
        )
    failures = audit_entries(desk, "login.failure")
    assert [entry["detail"] for entry in failures] == [
        {"reason": "password", "via": "enrolment link"},
        {"reason": "password", "via": "enrolment link"},
        {"reason": "password", "via": "enrolment link", "locked_minutes": 15},
        {"reason": "locked", "via": "enrolment link"},
        {"reason": "locked", "via": "enrolment link"},
    ]
    assert {entry["subject"] for entry in failures} == {"dave"}

    fake_clock.advance(THROTTLE.lockout)
    accept(desk, token, password=dave.password, secret=secret, code=code_now(secret, fake_clock))
    user = user_named(desk, "dave")
    assert user is not None
    assert user.totp_secret is not None


# ---- signing in -----------------------------------------------------------------------------


def test_sign_in_right_password_and_fresh_code_opens_the_key(
    desk: Desk, fake_clock: Clock, nora: bytes
) -> None:
    unlocked = sign_in(desk, NORA.name, NORA.password, code_now(nora, fake_clock))

    assert unlocked.name == NORA.name
    assert unlocked.private_key.public.raw == unlocked.user.public_key
    assert [entry["actor"] for entry in audit_entries(desk, "login.success")] == [NORA.name]


def check(desk: Desk, name: str, password: str, code: str) -> signin.SignInCheck:
    """The first half of a sign-in, as the dashboard runs it: in a read-only unit of work."""
    with unit_of_work(desk.runtime.read_sessions) as session:
        return signin.check_sign_in(
            session,
            name=name,
            password=password,
            code=code,
            passwords=desk.runtime.passwords,
            secrets=desk.secrets,
        )


def record(desk: Desk, checked: signin.SignInCheck) -> UnlockedUser:
    with desk.session() as session:
        try:
            unlocked = signin.record_sign_in(
                session, check=checked, throttle=THROTTLE, secrets=desk.secrets
            )
        except AuthenticationFailed:
            session.commit()
            raise
        session.commit()
    return unlocked


def test_sign_in_check_writes_nothing_so_it_needs_no_lock(
    desk: Desk, database_url: str, fake_clock: Clock, nora: bytes
) -> None:
    # Argon2 runs in the check: a sign-in attempt (anyone can make one) must not hold the
    # writer lock, which every report waits for, through it. A write would fail here on
    # PostgreSQL's read-only transaction, and shows in the snapshot on both.
    before = table_snapshot(database_url)
    for password, code in [
        (NORA.password, code_now(nora, fake_clock)),
        ("not the password at all", code_now(nora, fake_clock)),
        (NORA.password, wrong_code(nora, fake_clock)),
    ]:
        check(desk, NORA.name, password, code)
    check(desk, "nobody", NORA.password, code_now(nora, fake_clock))
    assert table_snapshot(database_url) == before


def test_sign_in_code_spent_between_check_and_record_is_refused(
    desk: Desk, fake_clock: Clock, nora: bytes
) -> None:
    code = code_now(nora, fake_clock)
    first, second = (check(desk, NORA.name, NORA.password, code) for _ in range(2))
    assert record(desk, first).name == NORA.name
    with pytest.raises(AuthenticationFailed):
        record(desk, second)
    assert audit_entries(desk, "login.failure")[-1]["detail"]["reason"] == "code"


def test_sign_in_account_locked_between_check_and_record_is_refused(
    desk: Desk, fake_clock: Clock, nora: bytes
) -> None:
    checked = check(desk, NORA.name, NORA.password, code_now(nora, fake_clock))
    for _ in range(THROTTLE.max_failures):
        with pytest.raises(AuthenticationFailed):
            sign_in(desk, NORA.name, "not the password at all", code_now(nora, fake_clock))
    with pytest.raises(AuthenticationFailed):
        record(desk, checked)
    assert audit_entries(desk, "login.failure")[-1]["detail"]["reason"] == "locked"
    assert audit_entries(desk, "login.success") == []


def test_sign_in_same_code_twice_is_refused(desk: Desk, fake_clock: Clock, nora: bytes) -> None:
    code = code_now(nora, fake_clock)
    sign_in(desk, NORA.name, NORA.password, code)

    assert refusal_message(desk, NORA.name, NORA.password, code) == signin.SIGN_IN_REFUSED
    fake_clock.advance(ONE_STEP)
    # Still within the drift window a step later, and still spent.
    assert refusal_message(desk, NORA.name, NORA.password, code) == signin.SIGN_IN_REFUSED


@pytest.mark.parametrize(("drift", "accepted"), [(-2, False), (-1, True), (1, True), (2, False)])
def test_sign_in_code_of_another_step_is_accepted_only_within_one_step(
    desk: Desk, fake_clock: Clock, nora: bytes, drift: int, accepted: bool
) -> None:
    # Three steps past the enrolment: no step within reach has been spent, so only age counts.
    fake_clock.advance(2 * ONE_STEP)
    code = totp.code_for(nora, fake_clock.step + drift)
    if accepted:
        assert sign_in(desk, NORA.name, NORA.password, code).name == NORA.name
    else:
        with pytest.raises(AuthenticationFailed):
            sign_in(desk, NORA.name, NORA.password, code)


def test_sign_in_every_refusal_says_the_same_sentence(
    desk: Desk, fake_clock: Clock, nora: bytes
) -> None:
    messages = {
        "unknown user": refusal_message(desk, "nobody", NORA.password, code_now(nora, fake_clock)),
        "wrong password": refusal_message(
            desk, NORA.name, "not the password at all", code_now(nora, fake_clock)
        ),
        "wrong code": refusal_message(desk, NORA.name, NORA.password, wrong_code(nora, fake_clock)),
    }
    with pytest.raises(AuthenticationFailed):
        sign_in(desk, NORA.name, "not the password at all", code_now(nora, fake_clock))
    # That was the third failure of the account: it is locked now.
    messages["locked"] = refusal_message(desk, NORA.name, NORA.password, code_now(nora, fake_clock))
    assert set(messages.values()) == {signin.SIGN_IN_REFUSED}
    assert [entry["detail"]["reason"] for entry in audit_entries(desk, "login.failure")] == [
        "unknown or disabled",
        "password",
        "code",
        "password",
        "locked",
    ]


def test_sign_in_disabled_account_is_refused_with_the_same_sentence(
    desk: Desk, fake_clock: Clock, nora: bytes
) -> None:
    with desk.session() as session:
        users.set_disabled(
            session, name=NORA.name, disabled=True, actor="test", secrets=desk.secrets
        )
        session.commit()
    message = refusal_message(desk, NORA.name, NORA.password, code_now(nora, fake_clock))
    assert message == signin.SIGN_IN_REFUSED


def test_sign_in_after_max_failures_locks_account_until_lockout_passes(
    desk: Desk, fake_clock: Clock, nora: bytes
) -> None:
    for _ in range(THROTTLE.max_failures):
        with pytest.raises(AuthenticationFailed):
            sign_in(desk, NORA.name, "not the password at all", code_now(nora, fake_clock))

    with pytest.raises(AuthenticationFailed):
        sign_in(desk, NORA.name, NORA.password, code_now(nora, fake_clock))
    fake_clock.advance(THROTTLE.lockout - dt.timedelta(seconds=40))
    with pytest.raises(AuthenticationFailed):
        sign_in(desk, NORA.name, NORA.password, code_now(nora, fake_clock))

    fake_clock.advance(dt.timedelta(seconds=40))
    assert sign_in(desk, NORA.name, NORA.password, code_now(nora, fake_clock)).name == NORA.name
    failures = audit_entries(desk, "login.failure")
    assert [entry["detail"] for entry in failures] == [
        {"reason": "password"},
        {"reason": "password"},
        {"reason": "password", "locked_minutes": 15},
        {"reason": "locked"},
        {"reason": "locked"},
    ]
    # Attempts during the lock-out name the account too: an auditor sees who was targeted.
    assert [(entry["actor"], entry["subject"]) for entry in failures] == [
        (NORA.name, NORA.name)
    ] * 5
    assert [entry["actor"] for entry in audit_entries(desk, "login.success")] == [NORA.name]


def test_sign_in_success_resets_the_failure_count(
    desk: Desk, fake_clock: Clock, nora: bytes
) -> None:
    for _ in range(THROTTLE.max_failures - 1):
        with pytest.raises(AuthenticationFailed):
            sign_in(desk, NORA.name, "not the password at all", code_now(nora, fake_clock))
    sign_in(desk, NORA.name, NORA.password, code_now(nora, fake_clock))
    fake_clock.advance(ONE_STEP)

    with pytest.raises(AuthenticationFailed):
        sign_in(desk, NORA.name, "not the password at all", code_now(nora, fake_clock))
    assert sign_in(desk, NORA.name, NORA.password, code_now(nora, fake_clock)).name == NORA.name


def test_sign_in_refusal_is_kept_by_a_commit_after_the_exception(
    desk: Desk, fake_clock: Clock, nora: bytes
) -> None:
    with desk.session() as session:
        with pytest.raises(AuthenticationFailed):
            signin.sign_in(
                session,
                name=NORA.name,
                password="not the password at all",
                code=code_now(nora, fake_clock),
                passwords=desk.runtime.passwords,
                secrets=desk.secrets,
                throttle=THROTTLE,
            )
        session.commit()

    with desk.session() as session:
        failed = session.execute(
            select(User.failed_logins).where(User.name == NORA.name)
        ).scalar_one()
        entries = session.execute(
            select(AuditEvent.actor, AuditEvent.subject).where(AuditEvent.action == "login.failure")
        ).all()
    assert failed == 1
    assert [tuple(entry) for entry in entries] == [(NORA.name, NORA.name)]


def test_sign_in_account_without_totp_is_told_so_only_with_the_right_password(
    desk: Desk, fake_clock: Clock
) -> None:
    dave = desk.add("dave", Role.CASE_WORKER)

    wrong = refusal_message(desk, "dave", "not the password at all", "123456")
    right = refusal_message(desk, "dave", dave.password, "123456")

    assert wrong == signin.SIGN_IN_REFUSED
    assert right != signin.SIGN_IN_REFUSED
    assert "second factor" in right
    assert "hrd-reports user invite dave" in right


# ---- signing out everywhere -------------------------------------------------------------------


def test_end_sessions_of_signs_out_only_that_person(
    desk: Desk, admin: Person, fake_clock: Clock, nora: bytes
) -> None:
    unlocked_nora = sign_in(desk, NORA.name, NORA.password, code_now(nora, fake_clock))
    with desk.session() as session:
        unlocked_admin = credentials.unlock(
            session, name=admin.name, password=admin.password, passwords=desk.runtime.passwords
        )
        for unlocked in (unlocked_nora, unlocked_nora, unlocked_admin):
            sessions.open_session(
                session,
                unlocked=unlocked,
                limits=sessions.SessionLimits(
                    idle=dt.timedelta(minutes=30), absolute=dt.timedelta(hours=12)
                ),
            )
        session.commit()

    with desk.session() as session:
        ended = sessions.end_all(session, unlocked_nora.user)
        session.commit()

    assert ended == 2
    with desk.session() as session:
        left = session.execute(select(DashboardSession.user_id)).scalars().all()
    assert left == [unlocked_admin.user.id]
