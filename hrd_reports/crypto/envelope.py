"""The version 1 report envelope.

A report is encrypted under a fresh 256-bit data key (DEK) with AES-256-GCM; the DEK is
HPKE-sealed to the desk's intake key. Both layers are bound to the report id and purpose
(:mod:`hrd_reports.crypto.contexts`), so neither can be moved to another report. The
plaintext is padded to a power-of-two bucket first, so the stored size does not tell a
two-line report from a long testimony.
"""

import secrets
from uuid import UUID

from hrd_reports.crypto.aead import KEY_SIZE, NONCE_SIZE, TAG_SIZE, aes_gcm_decrypt, aes_gcm_encrypt
from hrd_reports.crypto.contexts import Purpose, bind
from hrd_reports.crypto.errors import DecryptionFailed, MalformedEnvelope
from hrd_reports.crypto.receipts import MESSAGE_KEY_SIZE
from hrd_reports.crypto.xwing import PUBLIC_KEY_SIZE, PrivateKey, PublicKey, Sealed, sealed_size

ENVELOPE_VERSION = 1
DEK_SIZE = KEY_SIZE
LENGTH_PREFIX_SIZE = 4
MIN_BUCKET = 1024
MAX_REPORT_BUCKET = 256 * 1024
SEALED_DEK_SIZE = sealed_size(DEK_SIZE)
REPORTER_KEY_BOX_SIZE = NONCE_SIZE + PUBLIC_KEY_SIZE + TAG_SIZE
MESSAGE_KEY_BOX_SIZE = NONCE_SIZE + MESSAGE_KEY_SIZE + TAG_SIZE


def new_dek() -> bytes:
    return secrets.token_bytes(DEK_SIZE)


def bucket_sizes(max_bucket: int = MAX_REPORT_BUCKET) -> list[int]:
    sizes = [MIN_BUCKET]
    while sizes[-1] < max_bucket:
        sizes.append(sizes[-1] * 2)
    return sizes


def pad(plaintext: bytes, *, max_bucket: int = MAX_REPORT_BUCKET) -> bytes:
    """Length-prefix the plaintext and fill with zeros to the smallest bucket that holds it."""
    needed = LENGTH_PREFIX_SIZE + len(plaintext)
    for size in bucket_sizes(max_bucket):
        if needed <= size:
            return len(plaintext).to_bytes(4, "big") + plaintext + bytes(size - needed)
    raise MalformedEnvelope(f"the report is larger than {max_bucket - LENGTH_PREFIX_SIZE} bytes")


def unpad(padded: bytes) -> bytes:
    if len(padded) < LENGTH_PREFIX_SIZE:
        raise MalformedEnvelope("padded plaintext is too short")
    length = int.from_bytes(padded[:LENGTH_PREFIX_SIZE], "big")
    end = LENGTH_PREFIX_SIZE + length
    if end > len(padded) or any(padded[end:]):
        raise MalformedEnvelope("padding is malformed")
    return padded[LENGTH_PREFIX_SIZE:end]


def body_sizes() -> frozenset[int]:
    """Every length an honest version 1 report body can have."""
    return frozenset(NONCE_SIZE + size + TAG_SIZE for size in bucket_sizes())


def encrypt_report_body(
    dek: bytes, content: bytes, *, report_id: UUID, nonce: bytes | None = None
) -> bytes:
    return aes_gcm_encrypt(dek, pad(content), aad=bind(Purpose.REPORT_BODY, report_id), nonce=nonce)


def decrypt_report_body(dek: bytes, body: bytes, *, report_id: UUID) -> bytes:
    return unpad(aes_gcm_decrypt(dek, body, aad=bind(Purpose.REPORT_BODY, report_id)))


def encrypt_reporter_key(
    dek: bytes, public_key: bytes, *, report_id: UUID, nonce: bytes | None = None
) -> bytes:
    """The reporter's public key, readable only by those who can open the report itself."""
    return aes_gcm_encrypt(dek, public_key, aad=bind(Purpose.REPORTER_KEY, report_id), nonce=nonce)


def decrypt_reporter_key(dek: bytes, box: bytes, *, report_id: UUID) -> PublicKey:
    """The reporter's public key, refused unless replies can be sealed to it.

    It is the one public key the desk takes from outside: the reporter's client made it, and
    the server first sees it here, long after the report was stored. A key that parses but
    cannot be sealed to (a low-order X25519 half) is refused now, as a key that does not open
    is, instead of failing later in the middle of sealing a reply.
    """
    key = PublicKey(aes_gcm_decrypt(dek, box, aad=bind(Purpose.REPORTER_KEY, report_id)))
    key.check_usable()
    return key


def encrypt_message_key(
    dek: bytes, message_key: bytes, *, report_id: UUID, nonce: bytes | None = None
) -> bytes:
    """The key of the reporter's messages, for whoever can open the report itself."""
    if len(message_key) != MESSAGE_KEY_SIZE:
        raise MalformedEnvelope(f"a message key is {MESSAGE_KEY_SIZE} bytes long")
    return aes_gcm_encrypt(dek, message_key, aad=bind(Purpose.MESSAGE_KEY, report_id), nonce=nonce)


def decrypt_message_key(dek: bytes, box: bytes, *, report_id: UUID) -> bytes:
    key = aes_gcm_decrypt(dek, box, aad=bind(Purpose.MESSAGE_KEY, report_id))
    if len(key) != MESSAGE_KEY_SIZE:
        raise DecryptionFailed("the message key has the wrong size")
    return key


def seal_dek(dek: bytes, *, report_id: UUID, recipient: PublicKey) -> Sealed:
    return recipient.seal(dek, info=bind(Purpose.REPORT_DEK, report_id))


def open_dek(sealed: Sealed, *, report_id: UUID, holder: PrivateKey) -> bytes:
    dek = holder.open(sealed, info=bind(Purpose.REPORT_DEK, report_id))
    if len(dek) != DEK_SIZE:
        raise DecryptionFailed("sealed data key has the wrong size")
    return dek
