"""Invitations and enrolling the second factor (services/accounts.py)."""

import datetime as dt

import pytest

from hrd_reports.crypto import totp
from hrd_reports.models import Role
from hrd_reports.services import accounts, credentials, users
from hrd_reports.services.errors import AuthenticationFailed, Conflict, Invalid, NotFound
from tests.helpers import Desk, Person
from tests.unit.services.accounts_support import (
    NORA,
    ONE_STEP,
    THROTTLE,
    Clock,
    accept,
    audit_entries,
    code_now,
    invitation_is_pending,
    invite,
    sign_in,
    user_named,
    wrong_code,
)

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
