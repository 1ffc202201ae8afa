"""Throttled sign-in with password and one-time code (services/signin.py)."""

import datetime as dt

import pytest
from sqlalchemy import select

from hrd_reports.crypto import totp
from hrd_reports.db import unit_of_work
from hrd_reports.models import AuditEvent, DashboardSession, Role, User
from hrd_reports.services import credentials, sessions, signin, users
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import AuthenticationFailed
from tests.cli import table_snapshot
from tests.helpers import Desk, Person
from tests.unit.services.accounts_support import (
    NORA,
    ONE_STEP,
    THROTTLE,
    Clock,
    audit_entries,
    code_now,
    refusal_message,
    sign_in,
    wrong_code,
)

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


def test_end_all_sessions_of_a_person_signs_out_only_that_person(
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
