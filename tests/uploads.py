"""Evidence files as the reporter's browser sends them, for the tests: a report whose data key
the test knows (the browser draws it), files encrypted by the reference client, and uploads
over the reporter API."""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from hrd_reports.crypto.attachments import EncryptedFile, encrypt_file
from hrd_reports.crypto.envelope import new_dek
from hrd_reports.crypto.receipts import derive_receipt_keys, generate_receipt
from hrd_reports.crypto.submission import Submission, build_submission, encode_b64
from hrd_reports.crypto.xwing import PublicKey
from tests.helpers import report_content, solved_pow

# A photo's worth of bytes that pads to more than one chunk (Padmé: 1,572,864 bytes, two chunks).
TWO_CHUNKS = 1_500_000


@dataclass(frozen=True)
class Reporter:
    """A report before it is sent, as its browser holds it: receipt, data key, envelope."""

    receipt: str
    dek: bytes
    submission: Submission

    @property
    def report_id(self) -> UUID:
        return self.submission.report_id

    @property
    def message_key(self) -> bytes:
        return derive_receipt_keys(self.receipt).message_key

    @property
    def lookup_token(self) -> str:
        return encode_b64(derive_receipt_keys(self.receipt).lookup_token)

    def file(
        self, content: bytes, *, message_id: UUID | None = None, name: str = "evidence.jpg"
    ) -> EncryptedFile:
        """A file for the report itself (under its data key) or for one of the reporter's
        messages (under the message key)."""
        return encrypt_file(
            self.dek if message_id is None else self.message_key,
            content,
            name=name,
            media_type="image/jpeg",
            report_id=self.report_id,
            message_id=message_id,
        )


def new_reporter(intake_key: PublicKey, narrative: str = "with evidence") -> Reporter:
    receipt, dek = generate_receipt(), new_dek()
    submission = build_submission(
        report_content(narrative), intake_key=intake_key, receipt=receipt, dek=dek
    )
    return Reporter(receipt, dek, submission)


def declaration(
    encrypted: EncryptedFile, *, report_id: UUID, message_id: UUID | None = None
) -> dict[str, Any]:
    """What ``POST /api/v1/uploads`` declares of a file, but its proof of work."""
    return {
        "report_id": str(report_id),
        "message_id": None if message_id is None else str(message_id),
        "attachment_id": str(encrypted.attachment_id),
        "chunks": len(encrypted.chunks),
        "size": encrypted.stored_size,
    }


def named(encrypted: EncryptedFile) -> dict[str, str]:
    """How a report or a message names one of its files."""
    return {"id": str(encrypted.attachment_id), "record": encode_b64(encrypted.record)}


def chunk_path(encrypted: EncryptedFile | UUID, index: int | str) -> str:
    attachment_id = encrypted if isinstance(encrypted, UUID) else encrypted.attachment_id
    return f"/api/v1/uploads/{attachment_id}/chunks/{index}"


def start(
    client: Any, encrypted: EncryptedFile, *, report_id: UUID, message_id: UUID | None = None
) -> Any:
    body = declaration(encrypted, report_id=report_id, message_id=message_id)
    return client.post("/api/v1/uploads", json={"proof_of_work": solved_pow(client), **body})


def put_chunk(client: Any, encrypted: EncryptedFile | UUID, index: int | str, data: bytes) -> Any:
    return client.put(
        chunk_path(encrypted, index),
        content=data,
        headers={"content-type": "application/octet-stream"},
    )


def upload(
    client: Any, encrypted: EncryptedFile, *, report_id: UUID, message_id: UUID | None = None
) -> None:
    """The whole upload, as the browser makes it: declared, then each chunk in turn."""
    started = start(client, encrypted, report_id=report_id, message_id=message_id)
    assert started.status_code == 201, started.text
    for index, data in enumerate(encrypted.chunks):
        answer = put_chunk(client, encrypted, index, data)
        assert answer.status_code == 200, answer.text
