"""The desk's offline recovery key as text a person can print, store and type back.

It is an X-Wing seed (32 bytes) with a 3-byte SHA-256 checksum: 35 bytes are exactly 56
base32 characters, so every character carries data and any typing mistake changes the value.
They are shown in groups of four.
Whoever holds it can open every intake key, so it is shown once and never stored.
"""

import base64
import hashlib

from hrd_reports.crypto.errors import InvalidRecoveryKey
from hrd_reports.crypto.xwing import SEED_SIZE, PrivateKey

PREFIX = "HRDRK1"
_CHECKSUM_SIZE = 3


def encode_recovery_key(key: PrivateKey) -> str:
    seed = key.seed()
    raw = seed + hashlib.sha256(seed).digest()[:_CHECKSUM_SIZE]
    text = base64.b32encode(raw).decode("ascii")
    return "-".join([PREFIX, *(text[i : i + 4] for i in range(0, len(text), 4))])


def decode_recovery_key(typed: str) -> PrivateKey:
    compact = "".join(typed.split()).replace("-", "").upper()
    if not compact.startswith(PREFIX):
        raise InvalidRecoveryKey(f"a recovery key starts with {PREFIX}")
    text = compact[len(PREFIX) :]
    if len(text) != 56:
        raise InvalidRecoveryKey("a recovery key has 56 characters after its prefix")
    try:
        raw = base64.b32decode(text)
    except ValueError as exc:
        raise InvalidRecoveryKey("a recovery key has only the letters A-Z and digits 2-7") from exc
    seed, checksum = raw[:SEED_SIZE], raw[SEED_SIZE:]
    if len(seed) != SEED_SIZE or checksum != hashlib.sha256(seed).digest()[:_CHECKSUM_SIZE]:
        raise InvalidRecoveryKey("this recovery key has a typing mistake")
    return PrivateKey(seed)
