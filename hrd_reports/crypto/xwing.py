"""HPKE (RFC 9180) base mode with the X-Wing hybrid KEM, HKDF-SHA256 and AES-256-GCM.

X-Wing combines ML-KEM-768 with X25519, so a report sealed today stays secret even if a
quantum computer later breaks X25519 ("store now, decrypt later"), and stays as strong as
X25519 if ML-KEM were broken. Private keys are 32-byte seeds, expanded with SHAKE256 to the
ML-KEM-768 seed (64 bytes) and the X25519 private key (32 bytes), as in the X-Wing draft and
``@hpke/hybridkem-x-wing``. Every sealed value carries the suite and the recipient's key id.
"""

import hashlib
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from hrd_reports.crypto.errors import DecryptionFailed, InvalidKeyMaterial

SUITE = "hpke-xwing-hkdfsha256-aes256gcm"
SEED_SIZE = 32
MLKEM_PUBLIC_KEY_SIZE = 1184
PUBLIC_KEY_SIZE = MLKEM_PUBLIC_KEY_SIZE + 32
ENC_SIZE = 1120
AEAD_TAG_SIZE = 16

_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def key_id_of(public_key: bytes) -> str:
    """Short, stable identifier of a public key: the first 128 bits of its SHA-256, in hex."""
    return hashlib.sha256(public_key).hexdigest()[:32]


def fingerprint_of(public_key: bytes) -> str:
    """The full SHA-256 of a public key in groups of four hex digits, for people to compare."""
    digest = hashlib.sha256(public_key).hexdigest()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def sealed_size(plaintext_size: int) -> int:
    return ENC_SIZE + plaintext_size + AEAD_TAG_SIZE


@dataclass(frozen=True)
class Sealed:
    """An HPKE ciphertext (``enc || ct``) with the suite and the key id it was sealed to."""

    suite: str
    key_id: str
    ciphertext: bytes


class PublicKey:
    """An X-Wing public key that values can be sealed to."""

    __slots__ = ("_key", "key_id", "raw")

    def __init__(self, raw: bytes) -> None:
        if len(raw) != PUBLIC_KEY_SIZE:
            raise InvalidKeyMaterial(f"an X-Wing public key is {PUBLIC_KEY_SIZE} bytes long")
        try:
            key = hpke.MLKEM768X25519PublicKey(
                mlkem.MLKEM768PublicKey.from_public_bytes(raw[:MLKEM_PUBLIC_KEY_SIZE]),
                x25519.X25519PublicKey.from_public_bytes(raw[MLKEM_PUBLIC_KEY_SIZE:]),
            )
        except ValueError as exc:
            raise InvalidKeyMaterial("not a valid X-Wing public key") from exc
        self.raw = bytes(raw)
        self.key_id = key_id_of(self.raw)
        self._key = key

    def seal(self, plaintext: bytes, *, info: bytes) -> Sealed:
        try:
            ciphertext = _SUITE.encrypt(plaintext, self._key, info=info)
        except ValueError as exc:
            # A low-order X25519 half parses but cannot be encapsulated to.
            raise InvalidKeyMaterial("not a usable X-Wing public key") from exc
        return Sealed(suite=SUITE, key_id=self.key_id, ciphertext=ciphertext)

    def check_usable(self) -> None:
        """Refuse a key that parses but cannot be sealed to (a low-order X25519 half), before
        anything depends on it."""
        self.seal(b"", info=b"hrd-reports/1/key-check")


class PrivateKey:
    """An X-Wing private key held in memory only, built from its 32-byte seed."""

    __slots__ = ("_key", "_seed", "public")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_SIZE:
            raise InvalidKeyMaterial(f"an X-Wing seed is {SEED_SIZE} bytes long")
        shake = hashes.Hash(hashes.SHAKE256(96))
        shake.update(seed)
        expanded = shake.finalize()
        mlkem_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        x25519_key = x25519.X25519PrivateKey.from_private_bytes(expanded[64:])
        self._seed = bytes(seed)
        self._key = hpke.MLKEM768X25519PrivateKey(mlkem_key, x25519_key)
        self.public = PublicKey(
            mlkem_key.public_key().public_bytes_raw() + x25519_key.public_key().public_bytes_raw()
        )

    @classmethod
    def generate(cls) -> "PrivateKey":
        return cls(secrets.token_bytes(SEED_SIZE))

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def seed(self) -> bytes:
        """The seed, for wrapping under another key. Never store or log it as it is."""
        return self._seed

    def open(self, sealed: Sealed, *, info: bytes) -> bytes:
        if sealed.suite != SUITE:
            raise DecryptionFailed(f"unsupported suite {sealed.suite!r}")
        if sealed.key_id != self.key_id:
            raise DecryptionFailed("sealed to another key")
        try:
            return _SUITE.decrypt(sealed.ciphertext, self._key, info=info)
        except (InvalidTag, ValueError) as exc:
            raise DecryptionFailed("integrity check failed") from exc

    def __repr__(self) -> str:
        # Never let a seed slip into a traceback or a log line through repr().
        return f"PrivateKey(key_id={self.key_id!r})"
