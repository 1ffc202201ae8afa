import json
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hrd_reports.crypto.envelope import decrypt_report_body, decrypt_reporter_key, open_dek
from hrd_reports.crypto.errors import MalformedEnvelope
from hrd_reports.crypto.receipts import derive_receipt_keys
from hrd_reports.crypto.submission import WIRE_FIELDS, new_submission, parse_wire
from hrd_reports.crypto.xwing import PrivateKey, Sealed

INTAKE = PrivateKey(bytes(range(32)))


def _wire() -> dict[str, Any]:
    return new_submission(b'{"narrative": "x"}', intake_key=INTAKE.public)[1].to_wire()


def test_new_submission_opens_with_the_intake_key_and_matches_its_receipt() -> None:
    receipt, submission = new_submission("تهديد".encode(), intake_key=INTAKE.public)
    dek = open_dek(
        Sealed(submission.suite, submission.intake_key_id, submission.sealed_dek),
        report_id=submission.report_id,
        holder=INTAKE,
    )
    assert (
        decrypt_report_body(dek, submission.body, report_id=submission.report_id)
        == "تهديد".encode()
    )
    keys = derive_receipt_keys(receipt)
    assert submission.lookup_token == keys.lookup_token
    reporter_key = decrypt_reporter_key(
        dek, submission.reporter_key, report_id=submission.report_id
    )
    assert reporter_key.raw == keys.reporter_key.public.raw
    assert keys.reporter_key.public.raw not in submission.reporter_key
    assert receipt.replace(" ", "") not in json.dumps(submission.to_wire())
    assert keys.lookup_token.hex() not in repr(submission)


def test_wire_format_round_trips() -> None:
    wire = _wire()
    assert parse_wire(wire).to_wire() == wire


@pytest.mark.parametrize(
    "change",
    [
        {"version": "1"},
        {"version": True},
        {"report_id": "not-a-uuid"},
        {"report_id": str(uuid.uuid1())},
        {"report_id": str(uuid.uuid4()).upper()},
        {"body": "not base64!"},
        {"sealed_dek": 12},
        {"lookup_token": None},
        {"extra": "field"},
    ],
)
def test_malformed_wire_document_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(MalformedEnvelope):
        parse_wire({**_wire(), **change})


@pytest.mark.parametrize("missing", sorted(WIRE_FIELDS))
def test_wire_document_missing_a_field_is_refused(missing: str) -> None:
    wire = _wire()
    del wire[missing]
    with pytest.raises(MalformedEnvelope):
        parse_wire(wire)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


@given(st.dictionaries(st.sampled_from([*sorted(WIRE_FIELDS), "x"]), json_values))
def test_any_json_document_is_refused_cleanly_unless_exactly_well_formed(
    document: dict[str, Any],
) -> None:
    try:
        parsed = parse_wire(document)
    except MalformedEnvelope:
        return
    assert parsed.to_wire() == document
