"""The follow-up conversation: the reporter's inbox, replies, the reporter's messages.

A reporter is known only by the receipt, and the server sees only the lookup token derived
from it (or, on the no-JavaScript path, the receipt for the one request). Everything the
reporter reads or writes here is ciphertext to the server (see ``crypto.messages``): replies
are sealed to the reporter's key, and the reporter's messages are under a key the desk holds
under the report's DEK. An unknown receipt and a withdrawn report get the same answer.
"""

import datetime as dt
import uuid
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hrd_reports import received
from hrd_reports.crypto.envelope import decrypt_message_key, decrypt_reporter_key
from hrd_reports.crypto.errors import CryptoError
from hrd_reports.crypto.messages import (
    MAX_MESSAGE_BYTES,
    decrypt_reporter_message,
    decrypt_reporter_message_bytes,
    encrypt_reporter_message,
    message_sizes,
    open_reply_as_desk,
    open_reply_as_reporter,
    seal_reply,
)
from hrd_reports.crypto.receipts import LOOKUP_TOKEN_SIZE, ReceiptKeys, lookup_hash
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import (
    MessageSender,
    Report,
    ReporterStage,
    ReportMessage,
    Role,
    User,
)
from hrd_reports.services import audit, reading, stages
from hrd_reports.services.clock import utc_today
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import Conflict, Invalid, NotFound

# One sentence for every receipt that leads nowhere: never sent, mistyped past its check
# digit, withdrawn or destroyed. Telling them apart would tell someone holding a seized
# receipt that a report existed.
NOTHING_FOUND = N_(
    "No report matches this receipt. Check each digit; a report that was withdrawn cannot be "
    "found either."
)


# A long conversation is a case for a meeting, not for an anonymous inbox; the bound keeps one
# receipt holder from filling the database.
MAX_MESSAGES_PER_REPORT = 200


@dataclass(frozen=True)
class SealedMessage:
    """One message as the reporter's browser receives it: ciphertext only."""

    id: UUID
    sender: MessageSender
    sent_on: dt.date
    # A reply: sealed to the reporter's key. A reporter's own message: under the message key.
    ciphertext: bytes


@dataclass(frozen=True)
class Inbox:
    report_id: UUID
    stage: ReporterStage
    # The desk's own wording of the stage in the reporter's language, or None for the default.
    stage_message: str | None
    messages: list[SealedMessage]
    # False for a report received before the conversation existed: it can be read, not written.
    can_write: bool


def report_of_receipt(session: Session, lookup_token: bytes, secrets: ServerSecrets) -> Report:
    if len(lookup_token) != LOOKUP_TOKEN_SIZE:
        raise NotFound(NOTHING_FOUND)
    token_hash = lookup_hash(lookup_token, lookup_secret=secrets.lookup)
    report = session.execute(
        select(Report).where(Report.lookup_hash == token_hash)
    ).scalar_one_or_none()
    if report is None or report.withdrawn_on is not None:
        raise NotFound(NOTHING_FOUND)
    return report


def open_inbox(
    session: Session, *, lookup_token: bytes, secrets: ServerSecrets, locale: str
) -> Inbox:
    """The report's stage and every message, as ciphertext for the reporter to open."""
    report = report_of_receipt(session, lookup_token, secrets)
    stage = stages.reporter_stage(session, report)
    rows = session.execute(
        select(ReportMessage).where(ReportMessage.report_id == report.id).order_by(ReportMessage.id)
    ).scalars()
    messages = [
        SealedMessage(
            id=row.public_id,
            sender=row.sender,
            sent_on=row.sent_on,
            ciphertext=row.body
            if row.sender == MessageSender.REPORTER
            else row.for_reporter or b"",
        )
        for row in rows
    ]
    return Inbox(
        report_id=report.public_id,
        stage=stage,
        stage_message=stages.stage_message(session, stage, locale),
        messages=messages,
        can_write=report.message_key is not None,
    )


@dataclass(frozen=True)
class OpenedMessage:
    id: UUID
    sender: MessageSender
    sent_on: dt.date
    text: str


def open_in_memory(inbox: Inbox, keys: ReceiptKeys) -> list[OpenedMessage]:
    """What the reporter's browser does with an inbox, done here for a browser without
    JavaScript: the keys come from the receipt posted with this one request and are dropped
    with it. A message that does not open is left out rather than shown damaged."""
    opened = []
    for message in inbox.messages:
        ids = {"report_id": inbox.report_id, "message_id": message.id}
        try:
            if message.sender == MessageSender.DESK:
                text = open_reply_as_reporter(message.ciphertext, reporter=keys.reporter_key, **ids)
            else:
                text = decrypt_reporter_message(keys.message_key, message.ciphertext, **ids)
        except CryptoError:
            continue
        opened.append(OpenedMessage(message.id, message.sender, message.sent_on, text))
    return opened


def post_message_in_memory(
    session: Session,
    *,
    keys: ReceiptKeys,
    text: str,
    secrets: ServerSecrets,
    message_id: uuid.UUID | None = None,
) -> ReportMessage:
    """The reporter's message encrypted here, for a browser without JavaScript (its id drawn
    beforehand when files were encrypted for it)."""
    text = text.strip()
    if not text:
        raise Invalid(N_("the message is empty"))
    if len(text.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise Invalid(N_("a message has at most %(limit)d bytes"), limit=MAX_MESSAGE_BYTES)
    report = report_of_receipt(session, keys.lookup_token, secrets)
    message_id = message_id or uuid.uuid4()
    ciphertext = encrypt_reporter_message(
        keys.message_key, text, report_id=report.public_id, message_id=message_id
    )
    return post_reporter_message(
        session,
        lookup_token=keys.lookup_token,
        message_id=message_id,
        ciphertext=ciphertext,
        secrets=secrets,
    )


def _check_room(session: Session, report: Report) -> None:
    count = session.execute(
        select(func.count()).select_from(ReportMessage).where(ReportMessage.report_id == report.id)
    ).scalar_one()
    if count >= MAX_MESSAGES_PER_REPORT:
        raise Conflict(
            N_("this conversation has reached %(limit)d messages; please send a new report"),
            limit=MAX_MESSAGES_PER_REPORT,
        )


def post_reporter_message(
    session: Session,
    *,
    lookup_token: bytes,
    message_id: UUID,
    ciphertext: bytes,
    secrets: ServerSecrets,
) -> ReportMessage:
    """Store a message the reporter's browser encrypted; the desk sees it as unread.

    The same message sent again (its id, its report and its very ciphertext) is the message
    already stored, not a second one: when the answer to a send is lost on a bad connection,
    the browser sends it again as it was, and the reporter gets the answer they missed.
    """
    if message_id.version != 4:
        raise Invalid(N_("a message id is a random UUID"))
    if len(ciphertext) not in message_sizes():
        raise Invalid(N_("the message is not padded to a known size"))
    audit.lock_for_change(session)
    report = report_of_receipt(session, lookup_token, secrets)
    if report.message_key is None:
        raise Conflict(N_("this report was received before messages existed; send a new report"))
    stored = session.execute(
        select(ReportMessage).where(ReportMessage.public_id == message_id)
    ).scalar_one_or_none()
    if stored is not None:
        if (
            stored.report_id == report.id
            and stored.sender == MessageSender.REPORTER
            and stored.body == ciphertext
        ):
            return stored
        raise Conflict(N_("this message was already received"))
    _check_room(session, report)
    message = ReportMessage(
        public_id=message_id,
        report_id=report.id,
        sender=MessageSender.REPORTER,
        author=None,
        sent_on=utc_today(),
        body=ciphertext,
        for_reporter=None,
        unread=True,
    )
    session.add(message)
    # No audit entry: nothing is decrypted, and an entry's time to the second would time the
    # reporter. The message keeps its day; reading it is audited with the report.
    session.flush()
    return message


def reply(
    session: Session,
    *,
    reader: UnlockedUser,
    report_id: str | UUID,
    text: str,
    secrets: ServerSecrets,
) -> UUID:
    """A reply from the desk, sealed to the reporter (and a copy under the DEK); audited."""
    text = text.strip()
    if not text:
        raise Invalid(N_("the reply is empty"))
    if len(text.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise Invalid(N_("a reply has at most %(limit)d bytes"), limit=MAX_MESSAGE_BYTES)
    report, dek = reading.writable(session, reader, report_id)
    if report.withdrawn_on is not None:
        raise Conflict(N_("the reporter withdrew this report; nobody would read a reply"))
    _check_room(session, report)
    try:
        reporter = decrypt_reporter_key(dek, report.reporter_key, report_id=report.public_id)
    except CryptoError as exc:
        # Sent by the reporter's client and unchecked until now: no reply can reach them.
        raise Conflict(
            N_("this report's key for replies does not open: the reporter cannot be reached here")
        ) from exc
    message_id = uuid.uuid4()
    for_reporter, for_desk = seal_reply(
        text, reporter=reporter, dek=dek, report_id=report.public_id, message_id=message_id
    )
    session.add(
        ReportMessage(
            public_id=message_id,
            report_id=report.id,
            sender=MessageSender.DESK,
            author=reader.name,
            sent_on=utc_today(),
            body=for_desk,
            for_reporter=for_reporter,
            unread=False,
        )
    )
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=reader.name,
        action="report.reply",
        subject=str(report.public_id),
        detail={"message": str(message_id)},
    )
    return message_id


@dataclass(frozen=True)
class ThreadMessage:
    id: UUID
    sender: MessageSender
    author: str | None
    sent_on: dt.date
    # None for a message that does not open: a reporter's client can send bytes the server
    # cannot check, and one such message must not hide the rest of the report.
    text: str | None
    # The message opened but is not UTF-8 text: ``text`` is its bytes as escaped text.
    as_received: bool = False


def _message_key(report: Report, dek: bytes) -> bytes | None:
    if report.message_key is None:
        return None
    try:
        return decrypt_message_key(dek, report.message_key, report_id=report.public_id)
    except CryptoError:
        # Sent by the reporter's client under the DEK, unchecked until now: the reporter's
        # messages cannot be read, the rest of the report can.
        return None


def _open_for_desk(
    row: ReportMessage, report: Report, dek: bytes, key: bytes | None
) -> tuple[str | None, bool]:
    """The message's text (None if it does not open), and whether it is not text but shown as
    received: the reporter's client writes their messages, and any bytes can be sent."""
    ids = {"report_id": report.public_id, "message_id": row.public_id}
    try:
        if row.sender == MessageSender.DESK:
            return open_reply_as_desk(dek, row.body, **ids), False
        if key is not None:
            text, is_text = received.text_of(decrypt_reporter_message_bytes(key, row.body, **ids))
            return text, not is_text
    except CryptoError:
        pass
    return None, False


def thread(session: Session, report: Report, dek: bytes) -> list[ThreadMessage]:
    """The conversation as the desk reads it (the caller audits the reading); marks it read."""
    key = _message_key(report, dek)
    messages = [
        ThreadMessage(
            row.public_id,
            row.sender,
            row.author,
            row.sent_on,
            *_open_for_desk(row, report, dek, key),
        )
        for row in session.execute(
            select(ReportMessage)
            .where(ReportMessage.report_id == report.id)
            .order_by(ReportMessage.id)
        ).scalars()
    ]
    session.execute(
        update(ReportMessage)
        .where(ReportMessage.report_id == report.id, ReportMessage.unread.is_(True))
        .values(unread=False)
    )
    return messages


def unread_counts(session: Session, report_ids: list[UUID]) -> dict[UUID, int]:
    """How many of each report's messages from the reporter nobody has read yet."""
    if not report_ids:
        return {}
    rows = session.execute(
        select(Report.public_id, func.count())
        .join(ReportMessage, ReportMessage.report_id == Report.id)
        .where(Report.public_id.in_(report_ids), ReportMessage.unread.is_(True))
        .group_by(Report.public_id)
    ).all()
    return {report_id: int(count) for report_id, count in rows}


def unread_total(session: Session, user: User) -> int | None:
    """How many reporters' messages nobody has read yet on the reports ``user`` may read, in
    one count (it runs for every page of the dashboard); None for someone who reads none."""
    readable = reading.readable_report_ids(user)
    if readable is None:
        return None
    query = select(func.count()).select_from(ReportMessage).where(ReportMessage.unread.is_(True))
    if user.role == Role.CASE_WORKER:
        query = query.where(ReportMessage.report_id.in_(readable))
    return int(session.execute(query).scalar_one())
