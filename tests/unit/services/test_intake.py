"""Receiving reports: ciphertext only, and every malformed or replayed one refused unstored."""

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import func, select

from hrd_reports.crypto.receipts import derive_receipt_keys
from hrd_reports.crypto.submission import Submission, new_submission
from hrd_reports.crypto.xwing import PrivateKey
from hrd_reports.models import Report
from hrd_reports.services.errors import Conflict, Invalid, ServiceError
from tests.helpers import Desk, report_content


def _count(desk: Desk) -> int:
    with desk.session() as session:
        return session.execute(select(func.count()).select_from(Report)).scalar_one()


def test_stored_report_keeps_ciphertext_a_token_hash_and_the_day_only(desk: Desk) -> None:
    submitted = desk.submit(report_content("they came to my office"))
    with desk.session() as session:
        report = session.execute(select(Report)).scalar_one()
    assert report.public_id == submitted.report_id
    assert report.body == submitted.submission.body
    assert report.lookup_hash != submitted.submission.lookup_token
    assert type(report.received_on) is dt.date
    assert b"office" not in report.body
    # The reporter's public key is not stored in clear: with it, a seized receipt and a copy
    # of the database would find the report.
    reporter_public_key = derive_receipt_keys(submitted.receipt).reporter_key.public.raw
    assert reporter_public_key not in report.reporter_key


def _variant(desk: Desk, **changes: object) -> Submission:
    _, submission = new_submission(report_content("x"), intake_key=desk.intake_key())
    return dataclasses.replace(submission, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"version": 2},
        {"suite": "hpke-x25519-hkdfsha256-aes128gcm"},
        {"sealed_dek": b"\x00" * 100},
        {"body": b"\x00" * 1000},
        {"body": b"\x00" * (12 + 1536 + 16)},
        {"lookup_token": b"\x00" * 16},
        {"reporter_key": b"\x01" * 1000},
        {"reporter_key": b"\x01" * (12 + 1216)},
        {"intake_key_id": "0" * 32},
    ],
    ids=lambda changes: next(iter(changes)),
)
def test_malformed_submission_is_refused_and_nothing_is_stored(
    desk: Desk, changes: dict[str, object]
) -> None:
    with pytest.raises(Invalid):
        desk.store(_variant(desk, **changes))
    assert _count(desk) == 0


def test_submission_sent_again_is_stored_once_and_a_copied_token_is_refused(desk: Desk) -> None:
    submitted = desk.submit(report_content("once"))
    # Its reporter sending again (the answer was lost): received, nothing stored again.
    desk.store(submitted.submission)
    assert _count(desk) == 1
    # Another report id with a token already used, or the id with another token: refused.
    other_token = dataclasses.replace(_variant(desk), report_id=submitted.report_id)
    with pytest.raises(Conflict):
        desk.store(other_token)
    fresh_id_same_token = dataclasses.replace(
        _variant(desk), lookup_token=submitted.submission.lookup_token
    )
    with pytest.raises(Conflict):
        desk.store(fresh_id_same_token)
    assert _count(desk) == 1


def test_report_encrypted_to_a_stranger_key_is_refused(desk: Desk) -> None:
    _, submission = new_submission(report_content("x"), intake_key=PrivateKey.generate().public)
    with pytest.raises(ServiceError):
        desk.store(submission)
    assert _count(desk) == 0
