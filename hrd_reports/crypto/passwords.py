"""Passwords: login verification and the protection of each user's private key.

Two separate uses of one password, each mixed with the pepper from ``keys/`` so that a copy of
the database alone cannot be attacked offline:

- login: argon2-cffi's ``PasswordHasher`` (PHC string, its own salt) over an HMAC of the
  password under the pepper;
- key protection: Argon2id (RFC 9106) of the password, then HKDF with the pepper, gives the
  key that AES-256-GCM-encrypts the user's X-Wing seed. Parameters travel in the blob's
  header (which is authenticated), so they can be raised later and old blobs still open.
"""

import base64
import hashlib
import hmac
import secrets
import struct
import unicodedata
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import hash_secret_raw
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hrd_reports.crypto.aead import aes_gcm_decrypt, aes_gcm_encrypt
from hrd_reports.crypto.contexts import Purpose, bind
from hrd_reports.crypto.errors import DecryptionFailed, InvalidKeyMaterial
from hrd_reports.crypto.xwing import SEED_SIZE

PEPPER_SIZE = 32
SALT_SIZE = 16
KEY_BLOB_VERSION = 1
# version, time cost, memory (KiB), parallelism, salt
_HEADER = struct.Struct(">BIIB16s")
# Bounds on parameters read back from a blob, so that a tampered header cannot make an
# unlock run far longer or take far more memory than any sound setting would before the
# AES-GCM tag refuses it. 2 GiB admits RFC 9106's first recommendation (t=1, m=2 GiB, p=4);
# a desk configured higher raises the bound with its setting.
_MAX_MEMORY_KIB = 2 * 1024 * 1024
_MAX_TIME_COST = 16
_MAX_PARALLELISM = 16
_NOBODY = UUID(int=0)


@dataclass(frozen=True)
class Argon2Params:
    time_cost: int
    memory_kib: int
    parallelism: int

    def at_least(self, other: "Argon2Params") -> bool:
        return (
            self.time_cost >= other.time_cost
            and self.memory_kib >= other.memory_kib
            and self.parallelism >= other.parallelism
        )


# RFC 9106 section 4, second recommended option ("low memory"): t=3, m=64 MiB, p=4.
RFC9106_LOW_MEMORY: Final = Argon2Params(time_cost=3, memory_kib=64 * 1024, parallelism=4)


def _normalise(password: str) -> bytes:
    # The same password typed on another keyboard or phone can arrive in another Unicode
    # form; NFKC makes them one (NIST SP 800-63B, 5.1.1.2).
    return unicodedata.normalize("NFKC", password).encode("utf-8")


class PasswordProtection:
    """Everything the server does with a password, under one pepper and one cost setting."""

    def __init__(self, *, pepper: bytes, params: Argon2Params) -> None:
        if len(pepper) != PEPPER_SIZE:
            raise InvalidKeyMaterial(f"the pepper is {PEPPER_SIZE} bytes long")
        self._pepper = pepper
        self.params = params
        self._hasher = PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            hash_len=32,
            salt_len=SALT_SIZE,
            type=Type.ID,
        )
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(32))

    def _login_secret(self, password: str) -> bytes:
        mac = hmac.new(self._pepper, bind(Purpose.LOGIN, "password"), hashlib.sha256)
        mac.update(_normalise(password))
        return base64.b64encode(mac.digest())

    # -- login -----------------------------------------------------------------------------

    def hash_password(self, password: str) -> str:
        return self._hasher.hash(self._login_secret(password))

    def verify_password(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, self._login_secret(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def verify_dummy(self, password: str) -> None:
        """Spend what a real verification costs, so an unknown user name takes as long."""
        self.verify_password(self._dummy_hash, password)

    def password_hash_outdated(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    # -- private key protection ------------------------------------------------------------

    def _wrapping_key(
        self, password: str, *, params: Argon2Params, salt: bytes, owner: UUID
    ) -> bytes:
        stretched = hash_secret_raw(
            secret=_normalise(password),
            salt=salt,
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            hash_len=32,
            type=Type.ID,
        )
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=self._pepper,
            info=bind(Purpose.USER_PRIVATE_KEY, owner),
        )
        return hkdf.derive(stretched)

    def protect_seed(self, seed: bytes, *, password: str, owner: UUID) -> bytes:
        if len(seed) != SEED_SIZE:
            raise InvalidKeyMaterial(f"an X-Wing seed is {SEED_SIZE} bytes long")
        salt = secrets.token_bytes(SALT_SIZE)
        header = _HEADER.pack(
            KEY_BLOB_VERSION,
            self.params.time_cost,
            self.params.memory_kib,
            self.params.parallelism,
            salt,
        )
        key = self._wrapping_key(password, params=self.params, salt=salt, owner=owner)
        return header + aes_gcm_encrypt(
            key, seed, aad=bind(Purpose.USER_PRIVATE_KEY, owner) + header
        )

    def unprotect_seed(self, blob: bytes, *, password: str, owner: UUID) -> bytes:
        params, salt = _read_header(blob, ceiling=self.params)
        header = blob[: _HEADER.size]
        key = self._wrapping_key(password, params=params, salt=salt, owner=owner)
        seed = aes_gcm_decrypt(
            key, blob[_HEADER.size :], aad=bind(Purpose.USER_PRIVATE_KEY, owner) + header
        )
        if len(seed) != SEED_SIZE:
            raise DecryptionFailed("protected key has the wrong size")
        return seed

    def spend_key_opening(self, password: str) -> None:
        """Spend what opening a protected key costs, where no key is opened: a sign-in that
        stops at a wrong password takes as long as one that goes on to open the key."""
        self._wrapping_key(
            password, params=self.params, salt=secrets.token_bytes(SALT_SIZE), owner=_NOBODY
        )

    def protection_outdated(self, blob: bytes) -> bool:
        params, _ = _read_header(blob, ceiling=self.params)
        return not params.at_least(self.params)


def _read_header(blob: bytes, *, ceiling: Argon2Params) -> tuple[Argon2Params, bytes]:
    if len(blob) < _HEADER.size:
        raise DecryptionFailed("protected key is truncated")
    version, time_cost, memory_kib, parallelism, salt = _HEADER.unpack_from(blob)
    params = Argon2Params(time_cost=time_cost, memory_kib=memory_kib, parallelism=parallelism)
    if (
        version != KEY_BLOB_VERSION
        or not 1 <= time_cost <= max(_MAX_TIME_COST, ceiling.time_cost)
        or not 1 <= parallelism <= max(_MAX_PARALLELISM, ceiling.parallelism)
        or not 8 * parallelism <= memory_kib <= max(_MAX_MEMORY_KIB, ceiling.memory_kib)
    ):
        raise DecryptionFailed("protected key has an unknown version or parameters")
    return params, salt
