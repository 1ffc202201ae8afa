"""The follow-up conversation between a reporter and the desk, version 1.

Each message is bound to its report and to its own id (``<report_id>/<message_id>``), so it
cannot be moved to another report or passed off as another message. Texts are padded to a
bucket first, like reports, so the stored size does not tell "yes" from a new testimony.

- A reporter's message is AES-256-GCM under the message key derived from the receipt
  (:mod:`hrd_reports.crypto.receipts`), encrypted in the reporter's browser. The desk reads it
  with the same key, which it holds under the report's DEK.
- A reply from the desk is sealed twice: with HPKE to the reporter's public key, which only the
  receipt opens, and under the report's DEK, so that the desk keeps its side of the history.
"""

from uuid import UUID

from hrd_reports.crypto.aead import NONCE_SIZE, TAG_SIZE, aes_gcm_decrypt, aes_gcm_encrypt
from hrd_reports.crypto.contexts import Purpose, bind
from hrd_reports.crypto.envelope import bucket_sizes, pad, unpad
from hrd_reports.crypto.errors import DecryptionFailed, MalformedEnvelope
from hrd_reports.crypto.receipts import MESSAGE_KEY_SIZE
from hrd_reports.crypto.xwing import SUITE, PrivateKey, PublicKey, Sealed, sealed_size

# Long enough for a detailed follow-up (about 8,000 Arabic letters); a longer account is a
# new report.
MAX_MESSAGE_BUCKET = 16 * 1024
MAX_MESSAGE_BYTES = MAX_MESSAGE_BUCKET - 4


def _subject(report_id: UUID, message_id: UUID) -> tuple[UUID, UUID]:
    return report_id, message_id


def message_sizes() -> frozenset[int]:
    """Every length an honest reporter's message can have (nonce, padded text, tag)."""
    return frozenset(NONCE_SIZE + size + TAG_SIZE for size in bucket_sizes(MAX_MESSAGE_BUCKET))


def reply_sizes() -> frozenset[int]:
    """Every length an honest reply's copy for the reporter can have."""
    return frozenset(sealed_size(size) for size in bucket_sizes(MAX_MESSAGE_BUCKET))


def _padded(text: str) -> bytes:
    return pad(text.encode("utf-8"), max_bucket=MAX_MESSAGE_BUCKET)


def _unpadded(padded: bytes) -> bytes:
    # Whoever holds the key can encrypt anything: authentic bytes may still be badly padded.
    try:
        return unpad(padded)
    except MalformedEnvelope as exc:
        raise DecryptionFailed("the message's padding is malformed") from exc


def _text(padded: bytes) -> str:
    try:
        return _unpadded(padded).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecryptionFailed("the message is not UTF-8 text") from exc


def encrypt_reporter_message(
    message_key: bytes,
    text: str,
    *,
    report_id: UUID,
    message_id: UUID,
    nonce: bytes | None = None,
) -> bytes:
    """What the reporter's browser sends: ``nonce || AES-256-GCM(pad(text))``.

    ``nonce`` is for known-answer tests only.
    """
    if len(message_key) != MESSAGE_KEY_SIZE:
        raise MalformedEnvelope(f"a message key is {MESSAGE_KEY_SIZE} bytes long")
    aad = bind(Purpose.REPORTER_MESSAGE, *_subject(report_id, message_id))
    return aes_gcm_encrypt(message_key, _padded(text), aad=aad, nonce=nonce)


def decrypt_reporter_message(
    message_key: bytes, blob: bytes, *, report_id: UUID, message_id: UUID
) -> str:
    aad = bind(Purpose.REPORTER_MESSAGE, *_subject(report_id, message_id))
    return _text(aes_gcm_decrypt(message_key, blob, aad=aad))


def decrypt_reporter_message_bytes(
    message_key: bytes, blob: bytes, *, report_id: UUID, message_id: UUID
) -> bytes:
    """A reporter's message as the bytes their client encrypted, which need not be text."""
    aad = bind(Purpose.REPORTER_MESSAGE, *_subject(report_id, message_id))
    return _unpadded(aes_gcm_decrypt(message_key, blob, aad=aad))


def seal_reply(
    text: str, *, reporter: PublicKey, dek: bytes, report_id: UUID, message_id: UUID
) -> tuple[bytes, bytes]:
    """A reply's two copies: (for the reporter, HPKE; for the desk, under the DEK)."""
    subject = _subject(report_id, message_id)
    padded = _padded(text)
    for_reporter = reporter.seal(padded, info=bind(Purpose.REPLY, *subject)).ciphertext
    for_desk = aes_gcm_encrypt(dek, padded, aad=bind(Purpose.REPLY_DESK_COPY, *subject))
    return for_reporter, for_desk


def open_reply_as_reporter(
    blob: bytes, *, reporter: PrivateKey, report_id: UUID, message_id: UUID
) -> str:
    """What the reporter's browser does with its copy (used by the no-JavaScript inbox)."""
    sealed = Sealed(suite=SUITE, key_id=reporter.key_id, ciphertext=blob)
    info = bind(Purpose.REPLY, *_subject(report_id, message_id))
    return _text(reporter.open(sealed, info=info))


def open_reply_as_desk(dek: bytes, blob: bytes, *, report_id: UUID, message_id: UUID) -> str:
    aad = bind(Purpose.REPLY_DESK_COPY, *_subject(report_id, message_id))
    return _text(aes_gcm_decrypt(dek, blob, aad=aad))
