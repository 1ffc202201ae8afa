"""The committed known-answer vectors: the version 1 wire format must never drift.

The browser's encryption is checked against the same file, so a change here that is not
also a new protocol version would break every reporter's browser and every stored report.
"""

import hashlib
import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from hrd_reports.crypto.attachments import (
    attachment_key,
    decrypt_file,
    decrypt_record,
    encrypt_chunk,
    encrypt_record,
    padded_chunks,
)
from hrd_reports.crypto.contexts import Purpose, bind
from hrd_reports.crypto.envelope import (
    bucket_sizes,
    decrypt_message_key,
    decrypt_report_body,
    decrypt_reporter_key,
    open_dek,
)
from hrd_reports.crypto.errors import InvalidReceipt
from hrd_reports.crypto.messages import (
    decrypt_reporter_message,
    encrypt_reporter_message,
    open_reply_as_reporter,
)
from hrd_reports.crypto.receipts import derive_receipt_keys, normalise_receipt
from hrd_reports.crypto.submission import build_submission, decode_b64
from hrd_reports.crypto.xwing import PrivateKey, Sealed, fingerprint_of

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "testdata" / "vectors.json").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("vector", VECTORS["contexts"], ids=lambda v: v["purpose"])
def test_context_strings_match_vectors(vector: dict[str, str]) -> None:
    assert bind(Purpose(vector["purpose"]), vector["subject"]) == vector["ascii"].encode("ascii")


@pytest.mark.parametrize("vector", VECTORS["xwing_keys"], ids=lambda v: v["key_id"])
def test_xwing_key_from_seed_matches_vectors(vector: dict[str, str]) -> None:
    key = PrivateKey(bytes.fromhex(vector["seed_hex"]))
    assert key.public.raw.hex() == vector["public_key_hex"]
    assert key.key_id == vector["key_id"]
    assert fingerprint_of(key.public.raw) == vector["fingerprint"]


@pytest.mark.parametrize("vector", VECTORS["hpke_open"])
def test_hpke_vector_opens_to_its_plaintext(vector: dict[str, str]) -> None:
    key = PrivateKey(bytes.fromhex(vector["recipient_seed_hex"]))
    sealed = Sealed(
        suite="hpke-xwing-hkdfsha256-aes256gcm",
        key_id=key.key_id,
        ciphertext=bytes.fromhex(vector["sealed_hex"]),
    )
    opened = key.open(sealed, info=vector["info_ascii"].encode("ascii"))
    assert opened.hex() == vector["plaintext_hex"]


def test_padding_buckets_match_vectors() -> None:
    assert bucket_sizes() == VECTORS["padding_buckets"]


@pytest.mark.parametrize("vector", VECTORS["receipts"], ids=lambda v: v["canonical"])
def test_receipt_derivation_matches_vectors(vector: dict[str, str]) -> None:
    keys = derive_receipt_keys(vector["typed"])
    assert normalise_receipt(vector["typed"]) == vector["canonical"]
    assert keys.lookup_token.hex() == vector["lookup_token_hex"]
    assert keys.reporter_key.seed().hex() == vector["reporter_seed_hex"]
    assert keys.reporter_key.public.raw.hex() == vector["reporter_public_key_hex"]
    assert keys.message_key.hex() == vector["message_key_hex"]


@pytest.mark.parametrize("vector", VECTORS["receipt_normalisation"], ids=lambda v: repr(v["typed"]))
def test_receipt_normalisation_matches_vectors(vector: dict[str, Any]) -> None:
    if vector["canonical"] is None:
        with pytest.raises(InvalidReceipt):
            normalise_receipt(vector["typed"])
    else:
        assert normalise_receipt(vector["typed"]) == vector["canonical"]


@pytest.mark.parametrize("vector", VECTORS["report_envelopes"], ids=lambda v: v["label"])
def test_reference_client_builds_the_vector_byte_for_byte(vector: dict[str, Any]) -> None:
    intake = PrivateKey(bytes.fromhex(vector["intake_seed_hex"]))
    rebuilt = build_submission(
        vector["content_utf8"].encode("utf-8"),
        intake_key=intake.public,
        receipt=vector["receipt"],
        report_id=UUID(vector["report_id"]),
        dek=bytes.fromhex(vector["dek_hex"]),
        nonces=(
            bytes.fromhex(vector["body_nonce_hex"]),
            bytes.fromhex(vector["reporter_key_nonce_hex"]),
            bytes.fromhex(vector["message_key_nonce_hex"]),
        ),
    ).to_wire()
    wire = vector["wire"]
    # HPKE encapsulation is randomised: every field but the sealed DEK is reproduced exactly.
    assert {k: v for k, v in rebuilt.items() if k != "sealed_dek"} == {
        k: v for k, v in wire.items() if k != "sealed_dek"
    }
    assert len(decode_b64(wire["body"], field="body")) == 12 + vector["padded_length"] + 16


@pytest.mark.parametrize("vector", VECTORS["report_envelopes"], ids=lambda v: v["label"])
def test_vector_envelope_opens_with_the_intake_key(vector: dict[str, Any]) -> None:
    intake = PrivateKey(bytes.fromhex(vector["intake_seed_hex"]))
    wire = vector["wire"]
    report_id = UUID(wire["report_id"])
    sealed = Sealed(
        wire["suite"], wire["intake_key_id"], decode_b64(wire["sealed_dek"], field="sealed_dek")
    )
    dek = open_dek(sealed, report_id=report_id, holder=intake)
    assert dek.hex() == vector["dek_hex"]
    body = decode_b64(wire["body"], field="body")
    assert (
        decrypt_report_body(dek, body, report_id=report_id).decode("utf-8")
        == vector["content_utf8"]
    )
    box = decode_b64(wire["reporter_key"], field="reporter_key")
    reporter_key = decrypt_reporter_key(dek, box, report_id=report_id)
    assert reporter_key.raw == derive_receipt_keys(vector["receipt"]).reporter_key.public.raw
    message_key = decrypt_message_key(
        dek, decode_b64(wire["message_key"], field="message_key"), report_id=report_id
    )
    assert message_key == derive_receipt_keys(vector["receipt"]).message_key


@pytest.mark.parametrize("vector", VECTORS["messages"], ids=lambda v: v["text_utf8"][:10])
def test_message_vectors_encrypt_and_open_as_the_browser_does(vector: dict[str, Any]) -> None:
    keys = derive_receipt_keys(vector["receipt"])
    ids = {"report_id": UUID(vector["report_id"]), "message_id": UUID(vector["message_id"])}
    written = encrypt_reporter_message(
        keys.message_key, vector["text_utf8"], nonce=bytes.fromhex(vector["nonce_hex"]), **ids
    )
    assert written.hex() == vector["reporter_message_hex"]
    assert decrypt_reporter_message(keys.message_key, written, **ids) == vector["text_utf8"]
    reply = bytes.fromhex(vector["reply_for_reporter_hex"])
    assert open_reply_as_reporter(reply, reporter=keys.reporter_key, **ids) == vector["text_utf8"]


@pytest.mark.parametrize("vector", VECTORS["attachments"], ids=lambda v: v["label"])
def test_attachment_vector_is_rebuilt_byte_for_byte_and_opens(vector: dict[str, Any]) -> None:
    ids = {
        "report_id": UUID(vector["report_id"]),
        "message_id": None if vector["message_id"] is None else UUID(vector["message_id"]),
        "attachment_id": UUID(vector["attachment_id"]),
    }
    key = attachment_key(bytes.fromhex(vector["source_key_hex"]), **ids)
    content = bytes.fromhex(vector["content_hex"])
    plaintexts = list(padded_chunks([content], size=len(content)))
    nonces = [bytes.fromhex(nonce) for nonce in vector["chunk_nonces_hex"]]
    rebuilt = [
        encrypt_chunk(
            key, plaintext, index=i, last=i == len(plaintexts) - 1, nonce=nonces[i], **ids
        ).hex()
        for i, plaintext in enumerate(plaintexts)
    ]
    assert rebuilt == vector["chunks_hex"]
    record = decrypt_record(key, bytes.fromhex(vector["record_hex"]), **ids)
    assert (record.name, record.media_type, record.metadata.value) == (
        vector["name"],
        vector["type"],
        vector["metadata"],
    )
    assert record.sha256_original == record.sha256_sent == hashlib.sha256(content).hexdigest()
    again = encrypt_record(key, record, nonce=bytes.fromhex(vector["record_nonce_hex"]), **ids)
    assert again.hex() == vector["record_hex"]
    chunks = [bytes.fromhex(chunk) for chunk in vector["chunks_hex"]]
    opened = decrypt_file(key, chunks, record=record, chunk_total=len(chunks), **ids)
    assert b"".join(opened) == content
