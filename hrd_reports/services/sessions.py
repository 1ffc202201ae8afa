"""Dashboard sessions that hold a person's unlocked key, and only with their cookie.

At sign-in the person's private key is sealed under a random key that only their cookie
carries; the server keeps the sealed key and a hash of the session id. Each request opens it
for the length of the request. A session ends after a spell without use (idle timeout), at
its absolute limit, at sign-out, or when its person is revoked or disabled.
"""

import datetime as dt
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hrd_reports.crypto.errors import DecryptionFailed
from hrd_reports.crypto.sessions import SessionToken
from hrd_reports.crypto.xwing import PrivateKey
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import DashboardSession, DeviceKind, User
from hrd_reports.services import audit, clock
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import NotFound

# last_seen_at is written at most this often: not a database write on every page.
TOUCH_EVERY = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class SessionLimits:
    idle: dt.timedelta
    absolute: dt.timedelta


def open_session(
    session: Session,
    *,
    unlocked: UnlockedUser,
    limits: SessionLimits,
    device: DeviceKind = DeviceKind.UNKNOWN,
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
            device=device,
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


@dataclass(frozen=True)
class OpenSession:
    """One of a person's sessions as their list shows it: coarse, and nothing of the cookie."""

    public_id: UUID
    device: DeviceKind
    started_on: dt.date
    # Minutes since it was last used, rounded down to the minute its use is written at.
    idle_minutes: int
    current: bool


def open_sessions(
    session: Session, *, user: User, limits: SessionLimits, current: SessionToken
) -> list[OpenSession]:
    """The person's sessions that are still open, the newest first."""
    now = clock.naive_utc_now()
    rows = sorted(
        (row for row in sessions_of(session, user) if not _expired(row, limits, now)),
        key=lambda row: row.created_at,
        reverse=True,
    )
    return [
        OpenSession(
            public_id=row.public_id,
            device=row.device,
            started_on=row.created_at.date(),
            idle_minutes=max(0, int((now - row.last_seen_at).total_seconds() // 60)),
            current=row.lookup == current.lookup,
        )
        for row in rows
    ]


def end(
    session: Session,
    *,
    user: User,
    session_id: UUID,
    current: SessionToken,
    secrets: ServerSecrets,
) -> bool:
    """End one of the person's own sessions (a phone left somewhere, a shared computer);
    whether it was the one this request came in. Another person's session is not found."""
    row = session.execute(
        select(DashboardSession).where(
            DashboardSession.public_id == session_id, DashboardSession.user_id == user.id
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(N_("this session has ended already"))
    was_current = row.lookup == current.lookup
    session.delete(row)
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=user.name,
        action="session.end",
        subject=user.name,
        detail={"device": row.device.value, "current": was_current},
    )
    return was_current
