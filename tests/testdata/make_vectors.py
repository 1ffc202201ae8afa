"""Writes ``vectors.json``: known-answer vectors of the version 1 wire format.

Run from the repository root: ``python tests/testdata/make_vectors.py``. Rerunning changes
only the HPKE ciphertexts (HPKE encapsulation is randomised, so those vectors are checked by
opening them); every other value is deterministic and must never change for version 1,
since browsers and older reports depend on it. The browser's code is checked against the
same file.
"""

import hashlib
import json
from pathlib import Path
from uuid import UUID

from hrd_reports.crypto.attachments import (
    MetadataChoice,
    Record,
    attachment_key,
    encrypt_chunk,
    encrypt_record,
    padded_chunks,
)
from hrd_reports.crypto.contexts import Purpose, bind
from hrd_reports.crypto.envelope import bucket_sizes, pad
from hrd_reports.crypto.messages import encrypt_reporter_message, seal_reply
from hrd_reports.crypto.receipts import derive_receipt_keys, normalise_receipt
from hrd_reports.crypto.submission import build_submission
from hrd_reports.crypto.xwing import PrivateKey, fingerprint_of

HERE = Path(__file__).parent
INTAKE_SEED = bytes(range(32))
REPORTER_SEED = bytes(range(32, 64))


def _envelope(
    label: str,
    content: str,
    report_id: str,
    receipt: str,
    dek: bytes,
    nonces: tuple[bytes, bytes, bytes],
) -> dict[str, object]:
    intake = PrivateKey(INTAKE_SEED)
    submission = build_submission(
        content.encode("utf-8"),
        intake_key=intake.public,
        receipt=receipt,
        report_id=UUID(report_id),
        dek=dek,
        nonces=nonces,
    )
    return {
        "label": label,
        "content_utf8": content,
        "report_id": report_id,
        "receipt": receipt,
        "dek_hex": dek.hex(),
        "body_nonce_hex": nonces[0].hex(),
        "reporter_key_nonce_hex": nonces[1].hex(),
        "message_key_nonce_hex": nonces[2].hex(),
        "intake_seed_hex": INTAKE_SEED.hex(),
        "padded_length": len(pad(content.encode("utf-8"))),
        "wire": submission.to_wire(),
    }


MESSAGES = ["Are you safe now? Please answer.", "نعم، أنا بخير الآن. شكراً لكم."]


def _message(receipt: str, text: str) -> dict[str, object]:
    """A reporter's message (deterministic) and a reply sealed to the reporter (randomised)."""
    keys = derive_receipt_keys(receipt)
    report_id = UUID("0b5e7f0e-3f1a-4d38-a2b6-6a8f3c1d2e4f")
    message_id = UUID("5d1f3a2c-7b9e-4c6d-8a0f-1e2d3c4b5a69")
    nonce = bytes(range(40, 52))
    reply, _ = seal_reply(
        text,
        reporter=keys.reporter_key.public,
        dek=bytes(32),
        report_id=report_id,
        message_id=message_id,
    )
    return {
        "receipt": receipt,
        "report_id": str(report_id),
        "message_id": str(message_id),
        "text_utf8": text,
        "nonce_hex": nonce.hex(),
        "reporter_message_hex": encrypt_reporter_message(
            keys.message_key, text, report_id=report_id, message_id=message_id, nonce=nonce
        ).hex(),
        "reply_for_reporter_hex": reply.hex(),
    }


def _attachment(
    label: str, content: bytes, *, message_id: str | None, name: str, media_type: str
) -> dict[str, object]:
    """A file sealed with fixed nonces (deterministic): chunks and record, byte for byte."""
    source_key = bytes(range(64, 96))
    ids = {
        "report_id": UUID("0b5e7f0e-3f1a-4d38-a2b6-6a8f3c1d2e4f"),
        "message_id": None if message_id is None else UUID(message_id),
        "attachment_id": UUID("c3d2e1f0-a9b8-4c7d-8e6f-5a4b3c2d1e0f"),
    }
    key = attachment_key(source_key, **ids)
    plaintexts = list(padded_chunks([content], size=len(content)))
    nonces = [bytes((i * 13 + j + 1) & 0xFF for j in range(12)) for i in range(len(plaintexts))]
    digest = hashlib.sha256(content).hexdigest()
    record = Record(name, media_type, len(content), digest, digest, MetadataChoice.NOT_CHECKED)
    record_nonce = bytes([0xEE] * 12)
    return {
        "label": label,
        "source_key_hex": source_key.hex(),
        "report_id": str(ids["report_id"]),
        "message_id": message_id,
        "attachment_id": str(ids["attachment_id"]),
        "content_hex": content.hex(),
        "name": name,
        "type": media_type,
        "metadata": record.metadata.value,
        "sha256": None,
        "chunk_nonces_hex": [nonce.hex() for nonce in nonces],
        "record_nonce_hex": record_nonce.hex(),
        "chunks_hex": [
            encrypt_chunk(
                key, plaintext, index=i, last=i == len(plaintexts) - 1, nonce=nonces[i], **ids
            ).hex()
            for i, plaintext in enumerate(plaintexts)
        ],
        "record_hex": encrypt_record(key, record, nonce=record_nonce, **ids).hex(),
    }


def attachments() -> list[dict[str, object]]:
    return [
        _attachment(
            "empty file of a report", b"", message_id=None, name="empty.txt", media_type=""
        ),
        _attachment(
            "file of a message, one byte past the smallest padded length",
            bytes(i * 7 & 0xFF for i in range(4097)),
            message_id="5d1f3a2c-7b9e-4c6d-8a0f-1e2d3c4b5a69",
            name="شهادة.pdf",
            media_type="application/pdf",
        ),
    ]


def main() -> None:
    intake = PrivateKey(INTAKE_SEED)
    reporter = PrivateKey(REPORTER_SEED)
    subject = "6f1c2b1e-8d5a-4c3e-9b7a-2f4d6e8a0c1b"
    info = bind(Purpose.REPORT_DEK, subject)
    receipts = ["3141 5926 5358 9793 2384 6264 3382", "0000 0000 0000 0000 0000 0000 0000"]
    for receipt in receipts:
        normalise_receipt(receipt)  # refuse to write a vector that is not a valid receipt
    vectors = {
        "about": "hrd-reports wire format version 1; see tests/testdata/make_vectors.py",
        "suite": "HPKE base mode; KEM X-Wing (0x647a), HKDF-SHA256 (0x0001), AES-256-GCM (0x0002)",
        "contexts": [
            {"purpose": purpose.value, "subject": subject, "ascii": bind(purpose, subject).decode()}
            for purpose in (
                Purpose.REPORT_BODY,
                Purpose.REPORT_DEK,
                Purpose.REPORTER_KEY,
                Purpose.INTAKE_PRIVATE_KEY,
                Purpose.MESSAGE_KEY,
                Purpose.REPORTER_MESSAGE,
                Purpose.REPLY,
            )
        ],
        "xwing_keys": [
            {
                "seed_hex": key.seed().hex(),
                "public_key_hex": key.public.raw.hex(),
                "key_id": key.key_id,
                "fingerprint": fingerprint_of(key.public.raw),
            }
            for key in (intake, reporter)
        ],
        "hpke_open": [
            {
                "recipient_seed_hex": INTAKE_SEED.hex(),
                "info_ascii": info.decode(),
                "plaintext_hex": bytes(range(100, 132)).hex(),
                "sealed_hex": intake.public.seal(
                    bytes(range(100, 132)), info=info
                ).ciphertext.hex(),
            }
        ],
        "padding_buckets": bucket_sizes(),
        "receipts": [
            {
                "typed": receipt,
                "canonical": normalise_receipt(receipt),
                "lookup_token_hex": (keys := derive_receipt_keys(receipt)).lookup_token.hex(),
                "reporter_seed_hex": keys.reporter_key.seed().hex(),
                "reporter_public_key_hex": keys.reporter_key.public.raw.hex(),
                "message_key_hex": keys.message_key.hex(),
            }
            for receipt in receipts
        ],
        "receipt_normalisation": [
            {
                "typed": "3141-5926-5358-9793-2384-6264-3382",
                "canonical": "3141592653589793238462643382",
            },
            {
                "typed": "٣١٤١ ٥٩٢٦ ٥٣٥٨ ٩٧٩٣ ٢٣٨٤ ٦٢٦٤ ٣٣٨٢",
                "canonical": "3141592653589793238462643382",
            },
            {
                "typed": "۳۱۴۱ ۵۹۲۶ ۵۳۵۸ ۹۷۹۳ ۲۳۸۴ ۶۲۶۴ ۳۳۸۲",
                "canonical": "3141592653589793238462643382",
            },
            {
                "typed": "\u200f3141\u00a05926 \u2013 5358\u200e9793 2384 6264 3382 ",
                "canonical": "3141592653589793238462643382",
            },
            {"typed": "3141 5926 5358 9793 2384 6264 3381", "canonical": None},
            {"typed": "3141 5926 5358 9793 2384 6264 3328", "canonical": None},
            {"typed": "1415 9265 3589 7932 3846 2643 383", "canonical": None},
            {"typed": "3141 5926 5358 9793 2384 6264 338O", "canonical": None},
        ],
        "report_envelopes": [
            _envelope(
                "short English report",
                json.dumps(
                    {"incident_types": ["death_threat"], "narrative": "A car followed me home."}
                ),
                "0b5e7f0e-3f1a-4d38-a2b6-6a8f3c1d2e4f",
                receipts[0],
                bytes(range(200, 232)),
                (bytes(range(12)), bytes(range(12, 24)), bytes(range(24, 36))),
            ),
            _envelope(
                "Arabic report longer than one bucket",
                json.dumps(
                    {
                        "incident_types": ["blackmail", "surveillance"],
                        "narrative": "تلقيت رسائل تهديد. " * 60,
                    },
                    ensure_ascii=False,
                ),
                "9a0c1e2d-4b6f-4a8e-8c1d-3e5f7a9b0c2d",
                receipts[1],
                bytes(32),
                (bytes([255] * 12), bytes([254] * 12), bytes([253] * 12)),
            ),
        ],
        "messages": [_message(r, text) for r, text in zip(receipts, MESSAGES, strict=True)],
        "attachments": attachments(),
    }
    (HERE / "vectors.json").write_text(
        json.dumps(vectors, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
