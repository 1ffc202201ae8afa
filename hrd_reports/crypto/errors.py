"""Refusals raised by the crypto package.

Messages name what failed, never a secret: they end up on a terminal or in an HTTP answer.
"""


class CryptoError(Exception):
    """Base of every refusal raised by :mod:`hrd_reports.crypto`."""


class DecryptionFailed(CryptoError):
    """A ciphertext did not authenticate: altered, moved to another record, or the wrong key."""


class InvalidKeyMaterial(CryptoError):
    """A public key, seed or protected key blob is malformed."""


class MalformedEnvelope(CryptoError):
    """A submission does not have the shape of a version 1 envelope."""


class InvalidReceipt(CryptoError):
    """A typed receipt is not a well-formed receipt (wrong length, character or check digit)."""


class InvalidRecoveryKey(CryptoError):
    """A typed recovery key is not well formed."""
