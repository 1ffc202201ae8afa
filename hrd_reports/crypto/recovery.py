"""The desk's offline recovery key as text a person can print, store and type back.

It is an X-Wing seed (32 bytes) with a 2-byte SHA-256 checksum, in base32 groups of four.
Whoever holds it can open every intake key, so it is shown once and never stored.
"""

import base64
import hashlib

from hrd_reports.crypto.errors import InvalidRecoveryKey
from hrd_reports.crypto.xwing import SEED_SIZE, PrivateKey

PREFIX = "HRDRK1"
_CHECKSUM_SIZE = 2


def encode_recovery_key(key: PrivateKey) -> str:
    seed = key.seed()
    raw = seed + hashlib.sha256(seed).digest()[:_CHECKSUM_SIZE]
    text = base64.b32encode(raw).decode("ascii").rstrip("=")
    return "-".join([PREFIX, *(text[i : i + 4] for i in range(0, len(text), 4))])


def decode_recovery_key(typed: str) -> PrivateKey:
    compact = "".join(typed.split()).replace("-", "").upper()
    if not compact.startswith(PREFIX):
        raise InvalidRecoveryKey(f"a recovery key starts with {PREFIX}")
    text = compact[len(PREFIX) :]
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except ValueError as exc:
        raise InvalidRecoveryKey("a recovery key has only the letters A-Z and digits 2-7") from exc
    seed, checksum = raw[:SEED_SIZE], raw[SEED_SIZE:]
    if len(seed) != SEED_SIZE or checksum != hashlib.sha256(seed).digest()[:_CHECKSUM_SIZE]:
        raise InvalidRecoveryKey("this recovery key has a typing mistake")
    return PrivateKey(seed)
