"""The desk's e-mail notifications: what is new for each person, the mails waiting, and how
sending went.

Intake writes nothing here: the sender counts what is new from the reports, reporters'
messages and report grants themselves, since the marks it keeps per person (``collect``).
What it counts waits in ``PendingNotification`` until the mail server accepted it, tried
again with growing pauses while it does not, so a server that is down delays a mail and
never loses it, and never holds up or fails a report. Only counts are kept or sent.

"Urgent" is what the server can know without opening a report: a report nobody has opened
yet may be urgent (its reporter may have said they are in danger now; the server learns it
only when a reader first opens it, see ``Report.urgent``), one opened and found urgent is,
and a reporter's message is urgent when its report is known to be.

Times here are kept to the hour (a mail due at once is due since the hour began), but while a
mail is being sent (its claim) or waits after a failure (its next attempt), to the minute: a
finer time of a notification would time the reports it counted. A mail sent leaves no time.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, case, delete, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import (
    IntakeKey,
    IntakeKeyState,
    MessageSender,
    NotificationKind,
    NotificationState,
    NotificationSubscription,
    NotifyChoice,
    PendingNotification,
    Report,
    ReportGrant,
    ReportMessage,
    Role,
    User,
)
from hrd_reports.services.notification_choice import can_be_notified, open_address

# A claimed mail not settled by then (its process died while sending) is sent again by
# another: at least once, not at most once, since a lost notification is the worse failure.
CLAIM_LEASE = dt.timedelta(minutes=5)
FIRST_RETRY = dt.timedelta(minutes=1)
LONGEST_RETRY = dt.timedelta(hours=1)
# Mails sent per round: a desk has tens of people, not thousands.
BATCH = 50
STATE_ID = 1


def to_the_hour(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def to_the_next_minute(moment: dt.datetime) -> dt.datetime:
    whole = moment.replace(second=0, microsecond=0)
    return whole if whole == moment else whole + dt.timedelta(minutes=1)


def retry_delay(attempts: int) -> dt.timedelta:
    """The pause after the ``attempts``-th failure in a row: doubling from a minute, at most
    an hour (a long outage is retried hourly, for as long as it lasts)."""
    doubled: dt.timedelta = FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 16)
    return min(doubled, LONGEST_RETRY)


@dataclass(frozen=True)
class Horizon:
    """The newest report, reporter's message and grant that may be counted: every one at or
    below is committed, and none that commits later can be numbered below."""

    report_id: int
    message_id: int
    grant_id: int


def report_horizon(session: Session) -> int:
    """The newest report id below which no report is still being stored; its own short unit
    of work, committed before ``collect``.

    Reports are stored side by side (each holds the intake key's row in share mode), so an id
    can commit after a higher one: a mark set past it would skip it. Holding the same row in
    update mode waits for those in flight and keeps new ones out for the one statement after.
    """
    active = select(IntakeKey.id).where(IntakeKey.state == IntakeKeyState.ACTIVE)
    if not session.execute(active.with_for_update()).all():
        # It waited for a rotation that retired that key: on PostgreSQL the same statement
        # cannot see the new one, a new statement can (as in ``keyring.active_intake_key``).
        session.execute(active.with_for_update()).all()
    return int(session.execute(select(func.coalesce(func.max(Report.id), 0))).scalar_one())


def _horizon(session: Session, report_id: int) -> Horizon:
    # Reporters' messages and grants are stored one at a time (each takes the audit chain's
    # lock first), so their highest committed id is a safe mark as it is.
    message_id = session.execute(
        select(func.coalesce(func.max(ReportMessage.id), 0)).where(
            ReportMessage.sender == MessageSender.REPORTER
        )
    ).scalar_one()
    grant_id = session.execute(select(func.coalesce(func.max(ReportGrant.id), 0))).scalar_one()
    return Horizon(report_id, int(message_id), int(grant_id))


@dataclass(frozen=True)
class News:
    reports: int = 0
    messages: int = 0
    urgent: int = 0

    def __bool__(self) -> bool:
        return bool(self.reports or self.messages)


def _count(session: Session, query: Select[Any]) -> int:
    return int(session.execute(query).scalar_one())


def _news(
    session: Session, user: User, subscription: NotificationSubscription, horizon: Horizon
) -> News:
    """What arrived for ``user`` between their marks and ``horizon``: counts only."""
    maybe_urgent = Report.urgent.is_not(False)
    messages = (
        select(func.count())
        .select_from(ReportMessage)
        .join(Report, Report.id == ReportMessage.report_id)
        .where(
            ReportMessage.id > subscription.seen_message_id,
            ReportMessage.id <= horizon.message_id,
            ReportMessage.sender == MessageSender.REPORTER,
            ReportMessage.unread.is_(True),
            Report.withdrawn_on.is_(None),
        )
    )
    if user.role == Role.CASE_WORKER:
        # Their new reports are the ones newly assigned to them; their messages, those on
        # the reports assigned to them.
        reports = (
            select(func.count())
            .select_from(ReportGrant)
            .join(Report, Report.id == ReportGrant.report_id)
            .where(
                ReportGrant.user_id == user.id,
                ReportGrant.id > subscription.seen_grant_id,
                ReportGrant.id <= horizon.grant_id,
                Report.withdrawn_on.is_(None),
            )
        )
        messages = messages.join(ReportGrant, ReportGrant.report_id == Report.id).where(
            ReportGrant.user_id == user.id
        )
    else:
        reports = (
            select(func.count())
            .select_from(Report)
            .where(
                Report.id > subscription.seen_report_id,
                Report.id <= horizon.report_id,
                Report.withdrawn_on.is_(None),
            )
        )
    urgent_messages = messages.where(Report.urgent.is_(True))
    return News(
        reports=_count(session, reports),
        messages=_count(session, messages),
        urgent=_count(session, reports.where(maybe_urgent)) + _count(session, urgent_messages),
    )


def _queue(session: Session, *, user_id: int, news: News, at_once: bool, now: dt.datetime) -> None:
    """Add ``news`` to the person's waiting mail, or start one: at once when ``at_once``,
    else at the top of the next hour (the digest)."""
    table = PendingNotification
    added = session.execute(
        update(table)
        .where(table.user_id == user_id)
        .values(
            reports=table.reports + news.reports,
            messages=table.messages + news.messages,
            urgent=table.urgent + news.urgent,
        )
    )
    if added.rowcount == 0:  # type: ignore[attr-defined]
        session.add(
            PendingNotification(
                user_id=user_id,
                kind=NotificationKind.URGENT if at_once else NotificationKind.DIGEST,
                reports=news.reports,
                messages=news.messages,
                urgent=news.urgent,
                waiting_since=to_the_hour(now),
                next_attempt_at=to_the_hour(now)
                + (dt.timedelta(0) if at_once else dt.timedelta(hours=1)),
                attempts=0,
            )
        )
        return
    if at_once:
        # A digest still waiting goes now, with the urgent news; one already failing keeps
        # its pause (its server is down for the urgent mail too).
        session.execute(
            update(table).where(table.user_id == user_id).values(kind=NotificationKind.URGENT)
        )
        session.execute(
            update(table)
            .where(table.user_id == user_id, table.attempts == 0, table.next_attempt_at > now)
            .values(next_attempt_at=to_the_hour(now))
        )


def collect(session: Session, *, report_horizon: int, now: dt.datetime) -> int:
    """Count what is new for every person who asked to be told, and queue it; the number of
    people with news. ``report_horizon`` comes from ``report_horizon`` (committed before)."""
    horizon = _horizon(session, report_horizon)
    rows = session.execute(
        select(NotificationSubscription, User)
        .join(User, User.id == NotificationSubscription.user_id)
        .where(NotificationSubscription.choice != NotifyChoice.OFF)
        .order_by(NotificationSubscription.user_id)
        # Another process counting at the same time skips whom this one counts: nothing is
        # counted twice (SQLite runs one writer at a time anyway).
        .with_for_update(of=NotificationSubscription, skip_locked=True)
    ).all()
    told = 0
    for subscription, user in rows:
        wanted = can_be_notified(user) and subscription.address is not None
        news = _news(session, user, subscription, horizon) if wanted else News()
        subscription.seen_report_id = max(subscription.seen_report_id, horizon.report_id)
        subscription.seen_message_id = max(subscription.seen_message_id, horizon.message_id)
        subscription.seen_grant_id = max(subscription.seen_grant_id, horizon.grant_id)
        if not wanted:
            # Disabled, revoked or without an address: nothing is kept waiting for them.
            session.execute(
                delete(PendingNotification).where(PendingNotification.user_id == user.id)
            )
        elif news:
            at_once = subscription.choice is NotifyChoice.URGENT_AND_DIGEST and news.urgent > 0
            _queue(session, user_id=user.id, news=news, at_once=at_once, now=now)
            told += 1
    session.flush()
    return told


@dataclass(frozen=True)
class Outgoing:
    """One mail claimed for sending: its counts as claimed, and where it goes."""

    user_id: int
    address: str = field(repr=False)
    locale: str
    kind: NotificationKind
    reports: int
    messages: int
    urgent: int
    attempts: int


def _due(now: dt.datetime) -> list[ColumnElement[bool]]:
    table = PendingNotification
    return [
        table.next_attempt_at <= now,
        or_(table.claimed_until.is_(None), table.claimed_until < now),
    ]


def claim_next(session: Session, *, now: dt.datetime, secrets: ServerSecrets) -> Outgoing | None:
    """The next mail due, claimed by this process until ``now + CLAIM_LEASE``; None if none.

    The claim is a conditional update: of two processes claiming the same mail, one changes
    the row and the other changes nothing and moves on. The caller commits the claim before
    sending, so the mail server is never waited on inside a transaction, and claims one mail
    at a time, so a slow server cannot outlast the claims of the mails after it.
    """
    table = PendingNotification
    due = session.execute(
        select(table.user_id).where(*_due(now)).order_by(table.next_attempt_at).limit(BATCH)
    ).scalars()
    for user_id in list(due):
        taken = session.execute(
            update(table)
            .where(table.user_id == user_id, *_due(now))
            .values(claimed_until=to_the_next_minute(now + CLAIM_LEASE))
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            continue
        pending = session.get(table, user_id, populate_existing=True)
        subscription = session.get(NotificationSubscription, user_id)
        user = session.get(User, user_id)
        address = (
            open_address(subscription, user, secrets)
            if subscription is not None and user is not None and can_be_notified(user)
            else None
        )
        if pending is None or subscription is None or address is None:
            # Nobody to write to any more (the choice collects them too): nothing to keep.
            session.execute(delete(table).where(table.user_id == user_id))
            continue
        session.flush()
        return Outgoing(
            user_id=user_id,
            address=address,
            locale=subscription.locale,
            kind=pending.kind,
            reports=pending.reports,
            messages=pending.messages,
            urgent=pending.urgent,
            attempts=pending.attempts,
        )
    session.flush()
    return None


def _state(session: Session) -> NotificationState:
    state = session.get(NotificationState, STATE_ID, with_for_update=True)
    if state is None:
        state = NotificationState(id=STATE_ID, sent=0, failures=0)
        session.add(state)
    return state


def record_sent(session: Session, outgoing: Outgoing, *, now: dt.datetime) -> None:
    """The server accepted the mail: what it counted is no longer waiting.

    What arrived while it was being sent stays, as a mail of its own kind: the counts sent
    are taken off rather than the row deleted.
    """
    table = PendingNotification
    session.execute(
        update(table)
        .where(table.user_id == outgoing.user_id)
        .values(
            reports=table.reports - outgoing.reports,
            messages=table.messages - outgoing.messages,
            urgent=table.urgent - outgoing.urgent,
            attempts=0,
            last_error=None,
            claimed_until=None,
            waiting_since=to_the_hour(now),
            # What was left is urgent only if urgent news arrived while sending: sent now.
            next_attempt_at=case(
                (table.urgent - outgoing.urgent > 0, to_the_hour(now)),
                else_=to_the_hour(now) + dt.timedelta(hours=1),
            ),
            kind=case(
                (table.urgent - outgoing.urgent > 0, table.kind),
                else_=NotificationKind.DIGEST,
            ),
        )
    )
    session.execute(
        delete(table).where(
            table.user_id == outgoing.user_id, table.reports <= 0, table.messages <= 0
        )
    )
    state = _state(session)
    state.sent += 1
    state.last_success_at = to_the_hour(now)
    session.flush()


def record_failure(
    session: Session, outgoing: Outgoing, *, error: str, now: dt.datetime
) -> dt.datetime:
    """The mail was not accepted: it stays, to be tried again after a growing pause; the
    failure is kept for administrators (its class only). The time of the next attempt."""
    attempts = outgoing.attempts + 1
    next_attempt = to_the_next_minute(now + retry_delay(attempts))
    session.execute(
        update(PendingNotification)
        .where(PendingNotification.user_id == outgoing.user_id)
        .values(
            attempts=attempts,
            last_error=error[:64],
            claimed_until=None,
            next_attempt_at=next_attempt,
        )
    )
    state = _state(session)
    state.failures += 1
    state.last_failure_at = to_the_hour(now)
    state.last_error = error[:64]
    session.flush()
    return next_attempt
