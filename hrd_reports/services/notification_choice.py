"""Each person's choice of e-mail notifications: whether, to which address, in which language.

Only people who read reports can be told of new ones, and only counts of what they may read.
The address is staff's personal data and is kept encrypted (``crypto.addresses``); it is
never written to the audit log or any log.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hrd_reports.crypto import addresses
from hrd_reports.crypto.errors import CryptoError
from hrd_reports.i18n import DEFAULT_LOCALE, N_, SUPPORTED_LOCALES
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import (
    MessageSender,
    NotificationSubscription,
    NotifyChoice,
    PendingNotification,
    Report,
    ReportGrant,
    ReportMessage,
    User,
)
from hrd_reports.services import audit, reading
from hrd_reports.services.errors import Invalid

# One address, as a mail header carries it: a local part, @, a domain with a dot; no spaces,
# no line breaks (a header injection), no second address.
_ADDRESS = re.compile(r"[^\s@<>,;\"()\[\]\\]{1,64}@[A-Za-z0-9.-]{1,187}\.[A-Za-z0-9-]{2,63}")
MAX_ADDRESS_LENGTH = 254


@dataclass(frozen=True)
class ChoicePublic:
    choice: NotifyChoice
    address: str | None = field(repr=False)
    locale: str
    # Whether this person reads any report, and so can be told of new ones.
    eligible: bool


def can_be_notified(user: User) -> bool:
    return reading.readable_report_ids(user) is not None


def _storage_key(secrets: ServerSecrets) -> bytes:
    return addresses.storage_key(secrets.pepper)


def open_address(
    subscription: NotificationSubscription, user: User, secrets: ServerSecrets
) -> str | None:
    """The person's address, or None when there is none or it does not open (a row copied
    from another person's, or damaged): then nobody is written to."""
    if subscription.address is None:
        return None
    try:
        return addresses.unprotect_address(
            subscription.address, key=_storage_key(secrets), owner=str(user.public_id)
        )
    except (CryptoError, UnicodeDecodeError):
        return None


def get_choice(session: Session, *, user: User, secrets: ServerSecrets) -> ChoicePublic:
    subscription = session.get(NotificationSubscription, user.id)
    if subscription is None:
        return ChoicePublic(NotifyChoice.OFF, None, DEFAULT_LOCALE, can_be_notified(user))
    return ChoicePublic(
        choice=subscription.choice,
        address=open_address(subscription, user, secrets),
        locale=subscription.locale,
        eligible=can_be_notified(user),
    )


def _checked_address(text: str) -> str | None:
    address = text.strip()
    if not address:
        return None
    if len(address) > MAX_ADDRESS_LENGTH or not _ADDRESS.fullmatch(address):
        raise Invalid(N_("this is not an e-mail address; write it as name@example.org"))
    return address


def _newest(session: Session, column: Any, *conditions: Any) -> int:
    newest = session.execute(select(func.coalesce(func.max(column), 0)).where(*conditions))
    return int(newest.scalar_one())


def set_choice(
    session: Session,
    *,
    user: User,
    choice: NotifyChoice,
    address: str,
    locale: str,
    secrets: ServerSecrets,
) -> None:
    """Record what ``user`` wants to be told, and where; audited without the address.

    Counting starts now: a person who turns notifications on is not mailed about everything
    that came before. Turned off, whatever was waiting for them is dropped.
    """
    checked = _checked_address(address)
    if choice is not NotifyChoice.OFF:
        if not can_be_notified(user):
            raise Invalid(N_("your role reads no reports, so there is nothing to notify you of"))
        if checked is None:
            raise Invalid(N_("write the e-mail address the notifications should go to"))
    if locale not in SUPPORTED_LOCALES:
        locale = DEFAULT_LOCALE
    subscription = session.get(NotificationSubscription, user.id, with_for_update=True)
    was_off = subscription is None or subscription.choice is NotifyChoice.OFF
    # Counting starts from what is there now (read before the row is added: no autoflush of
    # a half-made row).
    marks = (
        {
            "seen_report_id": _newest(session, Report.id),
            "seen_message_id": _newest(
                session, ReportMessage.id, ReportMessage.sender == MessageSender.REPORTER
            ),
            "seen_grant_id": _newest(session, ReportGrant.id, ReportGrant.user_id == user.id),
        }
        if was_off
        else {}
    )
    if subscription is None:
        subscription = NotificationSubscription(user_id=user.id, choice=choice, locale=locale)
        session.add(subscription)
    for name, value in marks.items():
        setattr(subscription, name, value)
    subscription.choice = choice
    subscription.locale = locale
    subscription.address = (
        None
        if checked is None
        else addresses.protect_address(
            checked, key=_storage_key(secrets), owner=str(user.public_id)
        )
    )
    if choice is NotifyChoice.OFF:
        session.execute(delete(PendingNotification).where(PendingNotification.user_id == user.id))
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=user.name,
        action="notifications.choice",
        subject=user.name,
        detail={"choice": choice.value, "address": checked is not None},
    )
