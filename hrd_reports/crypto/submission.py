"""The reference reporter client: builds, byte for byte, the submission a browser sends.

The reporter's browser and this module produce the same version 1 wire format, both
checked against the committed known-answer vectors in ``tests/testdata/vectors.json``. The
server uses it too, to seal a report in memory when the reporter's browser runs no
JavaScript, and tests, benchmarks and load tests submit through it.

Wire format (JSON, binary fields in standard base64)::

    {"version": 1, "report_id": "<uuid4>", "suite": "<suite>", "intake_key_id": "<hex>",
     "sealed_dek": HPKE(DEK, info="hrd-reports/1/report-dek/<report_id>"),
     "body": nonce || AES-256-GCM(DEK, pad(content), aad="hrd-reports/1/report-body/<report_id>"),
     "reporter_key": nonce || AES-256-GCM(DEK, the reporter's X-Wing public key derived from
                     the receipt, aad="hrd-reports/1/reporter-key/<report_id>"),
     "message_key": nonce || AES-256-GCM(DEK, HKDF(receipt, info="hrd-reports/1/receipt/
                    message-key"), aad="hrd-reports/1/message-key/<report_id>"),
     "lookup_token": HKDF(receipt, info="hrd-reports/1/receipt/lookup-token")}

The three AES-GCM nonces are random and distinct. The desk later encrypts its tags, notes and
its copies of replies under the same DEK, each with a random nonce and its own context.
"""

import base64
import binascii
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from hrd_reports.crypto.envelope import (
    ENVELOPE_VERSION,
    encrypt_message_key,
    encrypt_report_body,
    encrypt_reporter_key,
    new_dek,
    seal_dek,
)
from hrd_reports.crypto.errors import MalformedEnvelope
from hrd_reports.crypto.receipts import derive_receipt_keys, generate_receipt
from hrd_reports.crypto.xwing import PublicKey


@dataclass(frozen=True)
class Submission:
    report_id: UUID
    suite: str
    intake_key_id: str
    sealed_dek: bytes
    body: bytes = field(repr=False)
    reporter_key: bytes = field(repr=False)
    message_key: bytes = field(repr=False)
    lookup_token: bytes = field(repr=False)
    version: int = ENVELOPE_VERSION

    def to_wire(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "report_id": str(self.report_id),
            "suite": self.suite,
            "intake_key_id": self.intake_key_id,
            "sealed_dek": encode_b64(self.sealed_dek),
            "body": encode_b64(self.body),
            "reporter_key": encode_b64(self.reporter_key),
            "message_key": encode_b64(self.message_key),
            "lookup_token": encode_b64(self.lookup_token),
        }


WIRE_FIELDS = frozenset(
    {
        "version",
        "report_id",
        "suite",
        "intake_key_id",
        "sealed_dek",
        "body",
        "reporter_key",
        "message_key",
        "lookup_token",
    }
)


def parse_wire(document: Mapping[str, Any]) -> Submission:
    """The inverse of ``Submission.to_wire``; refuses anything that is not exactly that shape.

    Sizes and keys are checked by the intake service, which knows the desk's key.
    """
    if not isinstance(document, Mapping) or set(document) != WIRE_FIELDS:
        raise MalformedEnvelope(
            f"a submission has exactly the fields {', '.join(sorted(WIRE_FIELDS))}"
        )
    version = document["version"]
    if type(version) is not int:
        raise MalformedEnvelope("version is not an integer")
    texts = {name: document[name] for name in WIRE_FIELDS - {"version"}}
    for name, value in texts.items():
        if not isinstance(value, str):
            raise MalformedEnvelope(f"{name} is not a string")
    try:
        report_id = UUID(texts["report_id"])
    except ValueError as exc:
        raise MalformedEnvelope("report_id is not a UUID") from exc
    if report_id.version != 4 or str(report_id) != texts["report_id"]:
        raise MalformedEnvelope("report_id is not a random UUID in canonical form")
    return Submission(
        version=version,
        report_id=report_id,
        suite=texts["suite"],
        intake_key_id=texts["intake_key_id"],
        sealed_dek=decode_b64(texts["sealed_dek"], field="sealed_dek"),
        body=decode_b64(texts["body"], field="body"),
        reporter_key=decode_b64(texts["reporter_key"], field="reporter_key"),
        message_key=decode_b64(texts["message_key"], field="message_key"),
        lookup_token=decode_b64(texts["lookup_token"], field="lookup_token"),
    )


def encode_b64(data: bytes) -> str:
    """Standard base64, as the wire format and the reporter API carry bytes."""
    return base64.b64encode(data).decode("ascii")


def decode_b64(text: str, *, field: str) -> bytes:
    """Standard base64, in the one spelling an encoder writes: a value with padding bits set
    or other slack has no second meaning, and so cannot pass as another request's value."""
    try:
        encoded = text.encode("ascii")
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise MalformedEnvelope(f"{field} is not valid base64") from exc
    if base64.b64encode(raw) != encoded:
        raise MalformedEnvelope(f"{field} is not valid base64")
    return raw


def build_submission(
    content: bytes,
    *,
    intake_key: PublicKey,
    receipt: str,
    report_id: UUID | None = None,
    dek: bytes | None = None,
    nonces: tuple[bytes, bytes, bytes] | None = None,
) -> Submission:
    """Encrypt ``content`` (the report's JSON, UTF-8) as the reporter's browser does.

    ``report_id``, ``dek`` and the three AES-GCM ``nonces`` (body, reporter key, message key)
    are drawn at random unless given, for known-answer tests only.
    """
    body_nonce, reporter_key_nonce, message_key_nonce = nonces or (None, None, None)
    if nonces is not None and len(set(nonces)) != len(nonces):
        raise ValueError("two encryptions under one DEK must never share a nonce")
    report_id = report_id or uuid.uuid4()
    dek = dek or new_dek()
    receipt_keys = derive_receipt_keys(receipt)
    sealed = seal_dek(dek, report_id=report_id, recipient=intake_key)
    return Submission(
        report_id=report_id,
        suite=sealed.suite,
        intake_key_id=sealed.key_id,
        sealed_dek=sealed.ciphertext,
        body=encrypt_report_body(dek, content, report_id=report_id, nonce=body_nonce),
        reporter_key=encrypt_reporter_key(
            dek, receipt_keys.reporter_key.public.raw, report_id=report_id, nonce=reporter_key_nonce
        ),
        message_key=encrypt_message_key(
            dek, receipt_keys.message_key, report_id=report_id, nonce=message_key_nonce
        ),
        lookup_token=receipt_keys.lookup_token,
    )


def new_submission(
    content: bytes,
    *,
    intake_key: PublicKey,
    report_id: UUID | None = None,
    dek: bytes | None = None,
) -> tuple[str, Submission]:
    """A fresh receipt and the submission built with it: what a reporter's browser does.

    ``report_id`` and ``dek`` drawn beforehand are for a report whose files were encrypted
    under its key before its words were.
    """
    receipt = generate_receipt()
    submission = build_submission(
        content, intake_key=intake_key, receipt=receipt, report_id=report_id, dek=dek
    )
    return receipt, submission
