"""The follow-up conversation's cryptography: who can read each message, and what it is bound to."""

import uuid

import pytest

from hrd_reports.crypto.envelope import new_dek
from hrd_reports.crypto.errors import DecryptionFailed, MalformedEnvelope
from hrd_reports.crypto.messages import (
    MAX_MESSAGE_BYTES,
    decrypt_reporter_message,
    encrypt_reporter_message,
    message_sizes,
    open_reply_as_desk,
    open_reply_as_reporter,
    reply_sizes,
    seal_reply,
)
from hrd_reports.crypto.receipts import derive_receipt_keys, generate_receipt

REPORT, MESSAGE = uuid.uuid4(), uuid.uuid4()


def test_reporter_message_reads_back_only_with_its_report_and_message_ids() -> None:
    keys = derive_receipt_keys(generate_receipt())
    blob = encrypt_reporter_message(
        keys.message_key, "أنا بخير", report_id=REPORT, message_id=MESSAGE
    )

    assert (
        decrypt_reporter_message(keys.message_key, blob, report_id=REPORT, message_id=MESSAGE)
        == "أنا بخير"
    )
    for report_id, message_id in ((uuid.uuid4(), MESSAGE), (REPORT, uuid.uuid4())):
        with pytest.raises(DecryptionFailed):
            decrypt_reporter_message(
                keys.message_key, blob, report_id=report_id, message_id=message_id
            )


def test_reporter_message_from_another_receipt_does_not_open() -> None:
    mine, theirs = (derive_receipt_keys(generate_receipt()) for _ in range(2))
    blob = encrypt_reporter_message(
        theirs.message_key, "hello", report_id=REPORT, message_id=MESSAGE
    )
    with pytest.raises(DecryptionFailed):
        decrypt_reporter_message(mine.message_key, blob, report_id=REPORT, message_id=MESSAGE)


def test_reply_opens_for_the_receipt_holder_and_the_desk_and_nobody_else() -> None:
    keys, stranger = (derive_receipt_keys(generate_receipt()) for _ in range(2))
    dek = new_dek()
    for_reporter, for_desk = seal_reply(
        "Are you safe?",
        reporter=keys.reporter_key.public,
        dek=dek,
        report_id=REPORT,
        message_id=MESSAGE,
    )

    ids = {"report_id": REPORT, "message_id": MESSAGE}
    assert (
        open_reply_as_reporter(for_reporter, reporter=keys.reporter_key, **ids) == "Are you safe?"
    )
    assert open_reply_as_desk(dek, for_desk, **ids) == "Are you safe?"
    with pytest.raises(DecryptionFailed):
        open_reply_as_reporter(for_reporter, reporter=stranger.reporter_key, **ids)
    with pytest.raises(DecryptionFailed):
        open_reply_as_desk(new_dek(), for_desk, **ids)
    # Bound to its place: the reporter's copy does not open as another message.
    with pytest.raises(DecryptionFailed):
        open_reply_as_reporter(
            for_reporter, reporter=keys.reporter_key, report_id=REPORT, message_id=uuid.uuid4()
        )


def test_message_sizes_say_nothing_finer_than_a_bucket() -> None:
    keys = derive_receipt_keys(generate_receipt())
    short = encrypt_reporter_message(keys.message_key, "ok", report_id=REPORT, message_id=MESSAGE)
    longer = encrypt_reporter_message(
        keys.message_key, "x" * 900, report_id=REPORT, message_id=MESSAGE
    )
    assert len(short) == len(longer) == 12 + 1024 + 16
    assert len(short) in message_sizes()
    reply, _ = seal_reply(
        "ok", reporter=keys.reporter_key.public, dek=new_dek(), report_id=REPORT, message_id=MESSAGE
    )
    assert len(reply) in reply_sizes()


def test_message_longer_than_the_largest_bucket_is_refused() -> None:
    keys = derive_receipt_keys(generate_receipt())
    assert encrypt_reporter_message(
        keys.message_key, "x" * MAX_MESSAGE_BYTES, report_id=REPORT, message_id=MESSAGE
    )
    with pytest.raises(MalformedEnvelope):
        encrypt_reporter_message(
            keys.message_key, "x" * (MAX_MESSAGE_BYTES + 1), report_id=REPORT, message_id=MESSAGE
        )
