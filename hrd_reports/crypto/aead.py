"""AES-256-GCM with a random nonce: the one symmetric cipher of the project.

Every key that encrypts here is 256 bits, and every use binds what the ciphertext belongs to
in its additional data (``crypto.contexts``): a report's data key, a session key, the key that
protects a user's second factor or private key, a reporter's message key. The output is
``nonce || ciphertext || tag``; a nonce is drawn at random for each encryption, which is safe
for far more messages than any one key here encrypts.
"""

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hrd_reports.crypto.errors import DecryptionFailed

KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16


def aes_gcm_encrypt(
    key: bytes, plaintext: bytes, *, aad: bytes, nonce: bytes | None = None
) -> bytes:
    """``nonce || AES-256-GCM(plaintext)``. ``nonce`` is for known-answer tests only."""
    if nonce is None:
        nonce = secrets.token_bytes(NONCE_SIZE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def aes_gcm_decrypt(key: bytes, blob: bytes, *, aad: bytes) -> bytes:
    if len(blob) < NONCE_SIZE + TAG_SIZE:
        raise DecryptionFailed("ciphertext is too short")
    try:
        return AESGCM(key).decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], aad)
    except InvalidTag as exc:
        raise DecryptionFailed("integrity check failed") from exc
