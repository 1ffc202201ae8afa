import base64
import json
import uuid
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hrd_reports.crypto.envelope import (
    decrypt_message_key,
    decrypt_report_body,
    decrypt_reporter_key,
    open_dek,
)
from hrd_reports.crypto.errors import DecryptionFailed, MalformedEnvelope
from hrd_reports.crypto.receipts import derive_receipt_keys
from hrd_reports.crypto.submission import WIRE_FIELDS, Submission, new_submission, parse_wire
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


@given(st.binary())
def test_any_bytes_are_refused_as_a_submission_whether_or_not_they_read_as_json(
    raw: bytes,
) -> None:
    with pytest.raises(MalformedEnvelope):
        parse_wire(raw)  # type: ignore[arg-type]
    try:
        document = json.loads(raw)
    except ValueError:
        return
    with pytest.raises(MalformedEnvelope):
        parse_wire(document)


@given(json_values.filter(lambda value: not isinstance(value, dict)))
def test_any_json_value_that_is_not_an_object_is_refused_as_a_submission(value: Any) -> None:
    with pytest.raises(MalformedEnvelope):
        parse_wire(value)


BASE64_FIELDS = frozenset({"sealed_dek", "body", "reporter_key", "message_key", "lookup_token"})
SUBMISSION = new_submission(b'{"narrative": "x"}', intake_key=INTAKE.public)[1]
WIRE = SUBMISSION.to_wire()
b64_values = st.binary(max_size=64).map(lambda data: base64.b64encode(data).decode("ascii"))
uuid_spellings = st.uuids().flatmap(
    lambda value: st.sampled_from(
        [str(value), str(value).upper(), value.hex, f"{{{value}}}", value.urn, f" {value}"]
    )
)


@st.composite
def wire_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A real wire document in which any fields are replaced: by any JSON value, base64 of
    other bytes, or another UUID in any spelling; or that lost or gained a field."""
    document = dict(WIRE)
    for name in draw(st.sets(st.sampled_from(sorted(WIRE_FIELDS)))):
        document[name] = draw(json_values | b64_values | uuid_spellings)
    for name in draw(st.sets(st.sampled_from(sorted(WIRE_FIELDS)), max_size=1)):
        del document[name]
    document.update(draw(st.dictionaries(st.text(max_size=12), json_values, max_size=1)))
    return document


@given(
    wire_documents() | st.dictionaries(st.sampled_from([*sorted(WIRE_FIELDS), "x"]), json_values)
)
def test_wire_document_is_refused_cleanly_or_parses_to_what_it_says(
    document: dict[str, Any],
) -> None:
    # MalformedEnvelope (a 400 with its sentence) or exactly what the document says, never
    # another exception: what the server stores is what the client sent.
    try:
        parsed = parse_wire(document)
    except MalformedEnvelope:
        return
    wire = parsed.to_wire()
    assert parse_wire(wire) == parsed
    # Base64 is read in its one canonical spelling only, so the document read back is the
    # document sent, field for field.
    assert wire == document


def _open(submission: Submission) -> tuple[bytes, bytes, bytes]:
    """Everything in a submission that the intake key opens: content, reporter key, message
    key."""
    sealed = Sealed(submission.suite, submission.intake_key_id, submission.sealed_dek)
    report_id = submission.report_id
    dek = open_dek(sealed, report_id=report_id, holder=INTAKE)
    return (
        decrypt_report_body(dek, submission.body, report_id=report_id),
        decrypt_reporter_key(dek, submission.reporter_key, report_id=report_id).raw,
        decrypt_message_key(dek, submission.message_key, report_id=report_id),
    )


@given(st.binary(max_size=4 * 1024))
def test_valid_envelope_round_trips_through_json_and_opens_to_its_content(content: bytes) -> None:
    receipt, submission = new_submission(content, intake_key=INTAKE.public)

    parsed = parse_wire(json.loads(json.dumps(submission.to_wire())))

    assert parsed == submission
    keys = derive_receipt_keys(receipt)
    assert _open(parsed) == (content, keys.reporter_key.public.raw, keys.message_key)


# The binary fields, flipped in their bytes; the text fields the ciphertext is bound to, in
# their characters. Not the lookup token, which is no ciphertext (a changed token leads to no
# report), nor the version, which the intake service refuses unless it is 1.
BINARY_FIELDS = sorted(BASE64_FIELDS - {"lookup_token"})
BOUND_TEXT_FIELDS = ["report_id", "suite", "intake_key_id"]


@given(
    st.sampled_from(BINARY_FIELDS + BOUND_TEXT_FIELDS),
    st.integers(min_value=0),
    st.integers(1, 0xFF),
)
def test_envelope_with_any_single_byte_flipped_is_refused(
    name: str, position: int, mask: int
) -> None:
    if name in BINARY_FIELDS:
        data = bytearray(getattr(SUBMISSION, name))
        data[position % len(data)] ^= mask
        tampered = replace(SUBMISSION, **{name: bytes(data)})
        with pytest.raises(DecryptionFailed):
            _open(tampered)
        return
    text = WIRE[name]
    at = position % len(text)
    flipped = text[:at] + chr(ord(text[at]) ^ mask) + text[at + 1 :]
    with pytest.raises((MalformedEnvelope, DecryptionFailed)):
        _open(parse_wire(WIRE | {name: flipped}))


# The fields whose length leaves unused bits (all but the 48-byte message key).
@pytest.mark.parametrize("field", ["body", "lookup_token", "reporter_key", "sealed_dek"])
def test_base64_with_its_unused_bits_set_is_refused(field: str) -> None:
    # The last character before "=" carries bits no decoder reads: setting them spells the
    # same bytes another way, which a strict reader refuses rather than take as the same.
    value = WIRE[field]
    assert value.endswith("=")
    last = value.rstrip("=")[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    other = alphabet[alphabet.index(last) ^ 1]  # a canonical value leaves this bit 0
    assert other != last
    respelled = value.rstrip("=")[:-1] + other + "=" * (len(value) - len(value.rstrip("=")))
    assert base64.b64decode(respelled) == base64.b64decode(value)
    with pytest.raises(MalformedEnvelope):
        parse_wire(WIRE | {field: respelled})
