"""Dashboard sessions that hold a person's unlocked key, and only with their cookie.

At sign-in the person's private key is sealed under a random key that only their cookie
carries; the server keeps the sealed key and a hash of the session id. Each request opens it
for the length of the request. A session ends after a spell without use (idle timeout), at
its absolute limit, at sign-out, or when its person is revoked or disabled.
"""

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hrd_reports.crypto.errors import DecryptionFailed
from hrd_reports.crypto.sessions import SessionToken
from hrd_reports.crypto.xwing import PrivateKey
from hrd_reports.models import DashboardSession, User
from hrd_reports.services import clock
from hrd_reports.services.credentials import UnlockedUser

# last_seen_at is written at most this often: not a database write on every page.
TOUCH_EVERY = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class SessionLimits:
    idle: dt.timedelta
    absolute: dt.timedelta


def open_session(
    session: Session, *, unlocked: UnlockedUser, limits: SessionLimits
) -> SessionToken:
    """A new session (a new id, whatever cookie came with the request: no fixation).

    Sessions that have ended are deleted first, so their rows (sealed keys of people who
    never signed out) do not pile up.
    """
    purge_expired(session, limits=limits)
    token = SessionToken.new()
    now = clock.naive_utc_now()
    session.add(
        DashboardSession(
            lookup=token.lookup,
            user_id=unlocked.user.id,
            sealed_private_key=token.seal(
                unlocked.private_key.seed(), owner=str(unlocked.user.public_id)
            ),
            created_at=now,
            last_seen_at=now,
        )
    )
    session.flush()
    return token


def _expired(row: DashboardSession, limits: SessionLimits, now: dt.datetime) -> bool:
    return row.last_seen_at + limits.idle <= now or row.created_at + limits.absolute <= now


def needs_touch(session: Session, *, token: SessionToken) -> bool:
    row = session.get(DashboardSession, token.lookup)
    return row is not None and row.last_seen_at + TOUCH_EVERY <= clock.naive_utc_now()


def resume(session: Session, *, token: SessionToken, limits: SessionLimits) -> UnlockedUser | None:
    """The signed-in person, with their key open, or None (unknown, expired, disabled)."""
    row = session.get(DashboardSession, token.lookup)
    if row is None:
        return None
    now = clock.naive_utc_now()
    if _expired(row, limits, now):
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    try:
        seed = token.open(row.sealed_private_key, owner=str(user.public_id))
    except DecryptionFailed:
        return None
    private = PrivateKey(seed)
    if private.public.raw != user.public_key:
        return None
    return UnlockedUser(user=user, private_key=private)


def touch(session: Session, *, token: SessionToken) -> None:
    row = session.get(DashboardSession, token.lookup)
    if row is not None:
        row.last_seen_at = clock.naive_utc_now()
        session.flush()


def close(session: Session, *, token: SessionToken) -> None:
    session.execute(delete(DashboardSession).where(DashboardSession.lookup == token.lookup))


def purge_expired(session: Session, *, limits: SessionLimits) -> int:
    now = clock.naive_utc_now()
    result = session.execute(
        delete(DashboardSession).where(
            (DashboardSession.last_seen_at <= now - limits.idle)
            | (DashboardSession.created_at <= now - limits.absolute)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def sessions_of(session: Session, user: User) -> list[DashboardSession]:
    return list(
        session.execute(
            select(DashboardSession).where(DashboardSession.user_id == user.id)
        ).scalars()
    )


def end_all(session: Session, user: User) -> int:
    """Sign a person out everywhere (revoked, disabled, role changed); how many sessions."""
    result = session.execute(delete(DashboardSession).where(DashboardSession.user_id == user.id))
    return int(getattr(result, "rowcount", 0) or 0)
