"""The conversation's rules in the service: who may reply, what is refused, and what is kept."""

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select

from hrd_reports.crypto.envelope import encrypt_reporter_key, new_dek
from hrd_reports.crypto.messages import MAX_MESSAGE_BYTES
from hrd_reports.crypto.receipts import derive_receipt_keys, generate_receipt
from hrd_reports.crypto.submission import build_submission
from hrd_reports.models import (
    Report,
    Role,
)
from hrd_reports.services import conversation, withdrawal
from hrd_reports.services.errors import Conflict, Forbidden, Invalid
from tests.helpers import Desk, Person, report_content
from tests.unit.services.conversation_support import message_count, post, sealed, send


def test_reply_by_a_case_worker_to_a_report_not_assigned_to_them_is_refused(
    desk: Desk, admin: Person
) -> None:
    worker = desk.add_vetted("wafa", Role.CASE_WORKER, by=admin)
    submitted = desk.submit(report_content("CANARY-not-hers"))
    with pytest.raises(Forbidden):
        desk.reply(submitted.report_id, "hello", by=worker)
    assert message_count(desk) == 0


def test_reply_by_the_assigned_case_worker_is_kept_for_the_desk(desk: Desk, admin: Person) -> None:
    worker = desk.add_vetted("wafa", Role.CASE_WORKER, by=admin)
    submitted = desk.submit(report_content("CANARY-hers"))
    desk.assign(submitted.report_id, to="wafa", by=admin)
    desk.reply(submitted.report_id, "we are here", by=worker)
    # The coordinator reads the case worker's reply through the desk's copy.
    (reply,) = desk.thread(submitted.report_id, by=admin)
    assert (reply.author, reply.text) == ("wafa", "we are here")


@pytest.mark.parametrize("text", ["   ", "x" * (MAX_MESSAGE_BYTES + 1)], ids=["blank", "too-long"])
def test_reply_empty_or_too_long_is_refused(desk: Desk, admin: Person, text: str) -> None:
    submitted = desk.submit(report_content("CANARY-reply-size"))
    with pytest.raises(Invalid):
        desk.reply(submitted.report_id, text, by=admin)
    assert message_count(desk) == 0


def test_reply_to_a_withdrawn_report_is_refused(desk: Desk, admin: Person) -> None:
    submitted = desk.submit(report_content("CANARY-withdrawn"))
    with desk.session() as session:
        withdrawal.withdraw(
            session,
            lookup_token=derive_receipt_keys(submitted.receipt).lookup_token,
            grace=dt.timedelta(days=3),
            secrets=desk.secrets,
        )
        session.commit()
    with pytest.raises(Conflict):
        desk.reply(submitted.report_id, "hello?", by=admin)


def test_reporter_message_to_a_report_without_a_message_key_is_refused(desk: Desk) -> None:
    submitted = desk.submit(report_content("CANARY-old-report"))
    with desk.session() as session:
        session.execute(select(Report)).scalar_one().message_key = None
        session.commit()
    with pytest.raises(Conflict):
        post(desk, submitted, "anyone there?")
    assert message_count(desk) == 0


def test_conversation_stops_at_its_bound(
    desk: Desk, admin: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conversation, "MAX_MESSAGES_PER_REPORT", 2)
    submitted = desk.submit(report_content("CANARY-bound"))
    post(desk, submitted, "one")
    desk.reply(submitted.report_id, "two", by=admin)
    with pytest.raises(Conflict):
        post(desk, submitted, "three")
    with pytest.raises(Conflict):
        desk.reply(submitted.report_id, "four", by=admin)
    assert message_count(desk) == 2


def test_reporter_message_sent_again_unchanged_is_stored_once(desk: Desk) -> None:
    # The answer to a send lost on a bad connection: the browser sends the same message again.
    submitted = desk.submit(report_content("CANARY-resend"))
    message_id, blob = sealed(submitted, "are you there?")
    assert send(desk, submitted, message_id, blob) == message_id
    assert send(desk, submitted, message_id, blob) == message_id
    assert message_count(desk) == 1


def test_reporter_message_id_reused_for_other_words_or_another_report_is_refused(
    desk: Desk,
) -> None:
    submitted = desk.submit(report_content("CANARY-reuse"))
    other = desk.submit(report_content("CANARY-reuse-other"))
    message_id, blob = sealed(submitted, "first words")
    send(desk, submitted, message_id, blob)
    with pytest.raises(Conflict):
        send(desk, submitted, *sealed(submitted, "other words", message_id))
    with pytest.raises(Conflict):
        send(desk, other, message_id, blob)  # the very same message, with another receipt
    assert message_count(desk) == 1


def test_reply_to_a_reporter_key_that_cannot_be_sealed_to_is_refused_and_stores_nothing(
    desk: Desk, admin: Person
) -> None:
    # The reporter's client chose the key, and the server first sees it when the desk replies:
    # one whose X25519 half is a low-order point parses, but nothing can be sealed to it.
    receipt = generate_receipt()
    dek = new_dek()
    submission = build_submission(
        report_content("CANARY-weak-key"), intake_key=desk.intake_key(), receipt=receipt, dek=dek
    )
    weak = derive_receipt_keys(receipt).reporter_key.public.raw[:-32] + bytes(32)
    desk.store(
        dataclasses.replace(
            submission,
            reporter_key=encrypt_reporter_key(dek, weak, report_id=submission.report_id),
        )
    )
    with pytest.raises(Conflict, match="reporter cannot be reached"):
        desk.reply(submission.report_id, "we read your report", by=admin)
    assert message_count(desk) == 0
