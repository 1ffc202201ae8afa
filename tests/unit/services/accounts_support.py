"""People with a second factor, for the service tests of invitations, sign-in and sessions:
a clock the test moves, invitations accepted and sign-ins made as the dashboard makes them
(committed whether they succeed or are refused, as the sign-in page does: a refusal's failure
count and audit entry are meant to outlive the refusal)."""

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select

from hrd_reports.crypto import totp
from hrd_reports.models import AuditEvent, Role, User
from hrd_reports.services import accounts, signin
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import AuthenticationFailed, NotFound
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
            ).user
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
