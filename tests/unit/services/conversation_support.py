"""The reporter's side of the conversation, for the service tests: messages sealed and posted
as the reporter's browser does."""

import uuid

from sqlalchemy import func, select

from hrd_reports.crypto.messages import encrypt_reporter_message
from hrd_reports.crypto.receipts import derive_receipt_keys
from hrd_reports.models import (
    ReportMessage,
)
from hrd_reports.services import conversation
from tests.helpers import Desk, Submitted


def message_count(desk: Desk) -> int:
    with desk.session() as session:
        return session.execute(select(func.count()).select_from(ReportMessage)).scalar_one()


def sealed(
    submitted: Submitted, text: str, message_id: uuid.UUID | None = None
) -> tuple[uuid.UUID, bytes]:
    """A message as the reporter's browser seals it: its id and its ciphertext."""
    message_id = message_id or uuid.uuid4()
    keys = derive_receipt_keys(submitted.receipt)
    blob = encrypt_reporter_message(
        keys.message_key, text, report_id=submitted.report_id, message_id=message_id
    )
    return message_id, blob


def send(desk: Desk, submitted: Submitted, message_id: uuid.UUID, blob: bytes) -> uuid.UUID:
    with desk.session() as session:
        message = conversation.post_reporter_message(
            session,
            lookup_token=derive_receipt_keys(submitted.receipt).lookup_token,
            message_id=message_id,
            ciphertext=blob,
            secrets=desk.secrets,
        )
        session.commit()
        return message.public_id


def post(desk: Desk, submitted: Submitted, text: str) -> None:
    send(desk, submitted, *sealed(submitted, text))
