"""Driving the desk's notifications in the service tests: a person's choice, a round of
counting, the mail waiting, claims and their outcomes, each one committed unit of work."""

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from hrd_reports.models import NotifyChoice, PendingNotification, User
from hrd_reports.services import notification_choice, notifications
from hrd_reports.services.notifications import Outgoing
from tests.helpers import Desk

# The services are given their time, in UTC without a zone as stored: the next hour is 10:00.
NOW = dt.datetime(2031, 3, 1, 9, 20, 10, tzinfo=dt.UTC).replace(tzinfo=None)
THIS_HOUR = dt.datetime(2031, 3, 1, 9, 0, 0, tzinfo=dt.UTC).replace(tzinfo=None)
NEXT_HOUR = dt.datetime(2031, 3, 1, 10, 0, 0, tzinfo=dt.UTC).replace(tzinfo=None)


def choose(
    desk: Desk,
    name: str,
    choice: NotifyChoice,
    address: str = "desk.member@example.org",
    locale: str = "en",
) -> None:
    with desk.session() as session:
        user = session.execute(select(User).where(User.name == name)).scalar_one()
        notification_choice.set_choice(
            session,
            user=user,
            choice=choice,
            address=address,
            locale=locale,
            secrets=desk.secrets,
        )
        session.commit()


def collect(desk: Desk, now: dt.datetime = NOW) -> int:
    """One round of counting, as the sender runs it: the reports' mark, then the count."""
    with desk.session() as session:
        horizon = notifications.report_horizon(session)
        session.commit()
    with desk.session() as session:
        told = notifications.collect(session, report_horizon=horizon, now=now)
        session.commit()
    return told


@dataclass(frozen=True)
class Waiting:
    kind: str
    reports: int
    messages: int
    urgent: int
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None


def waiting(desk: Desk, name: str) -> Waiting | None:
    with desk.session() as session:
        row = session.execute(
            select(PendingNotification)
            .join(User, User.id == PendingNotification.user_id)
            .where(User.name == name)
        ).scalar_one_or_none()
        if row is None:
            return None
        return Waiting(
            row.kind.value,
            row.reports,
            row.messages,
            row.urgent,
            row.attempts,
            row.next_attempt_at,
            row.last_error,
        )


def claim(desk: Desk, now: dt.datetime = NOW) -> Outgoing | None:
    with desk.session() as session:
        outgoing = notifications.claim_next(session, now=now, secrets=desk.secrets)
        session.commit()
    return outgoing


def sent(desk: Desk, outgoing: Outgoing, now: dt.datetime = NOW) -> None:
    with desk.session() as session:
        notifications.record_sent(session, outgoing, now=now)
        session.commit()


def failed(desk: Desk, outgoing: Outgoing, now: dt.datetime = NOW) -> dt.datetime:
    with desk.session() as session:
        retry_at = notifications.record_failure(
            session, outgoing, error="ConnectionRefusedError", now=now
        )
        session.commit()
    return retry_at
