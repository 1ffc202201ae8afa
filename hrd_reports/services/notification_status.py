"""How the desk's e-mail goes, for administrators: the last success, the failures, the mails
waiting and why. No address, no count of reports: whose mail waits, since when (to the
hour), how often it failed and the class of the last error."""

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hrd_reports.models import (
    NotificationKind,
    NotificationState,
    NotificationSubscription,
    NotifyChoice,
    PendingNotification,
    User,
)
from hrd_reports.services.notifications import STATE_ID


@dataclass(frozen=True)
class Waiting:
    """A mail not yet accepted by the server, as administrators see it: whose, and why."""

    name: str
    kind: NotificationKind
    waiting_since: dt.datetime
    attempts: int
    last_error: str | None
    next_attempt_at: dt.datetime


@dataclass(frozen=True)
class MailStatus:
    subscribers: int
    sent: int
    failures: int
    last_success_at: dt.datetime | None
    last_failure_at: dt.datetime | None
    last_error: str | None
    waiting: list[Waiting]


def status(session: Session) -> MailStatus:
    """How sending goes, for administrators: no address and no count of reports."""
    state = session.get(NotificationState, STATE_ID)
    subscribers = session.execute(
        select(func.count())
        .select_from(NotificationSubscription)
        .where(NotificationSubscription.choice != NotifyChoice.OFF)
    ).scalar_one()
    table = PendingNotification
    waiting = [
        Waiting(name, kind, since, attempts, error, next_at)
        for name, kind, since, attempts, error, next_at in session.execute(
            select(
                User.name,
                table.kind,
                table.waiting_since,
                table.attempts,
                table.last_error,
                table.next_attempt_at,
            )
            .join(User, User.id == table.user_id)
            .order_by(table.attempts.desc(), User.name)
        ).all()
    ]
    return MailStatus(
        subscribers=int(subscribers),
        sent=state.sent if state else 0,
        failures=state.failures if state else 0,
        last_success_at=state.last_success_at if state else None,
        last_failure_at=state.last_failure_at if state else None,
        last_error=state.last_error if state else None,
        waiting=waiting,
    )
