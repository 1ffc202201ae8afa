"""Bindings that tie each stored public key to its owner, under a secret from ``keys/``.

Sealing a desk key to a public key read from the database would hand the desk key to
whoever could write that row: one inserted "recovery key" or one swapped user key, and the
next rotation or vetting gives every report away. Each public key row therefore carries an
HMAC of (kind, owner, key) under a server secret that the database does not hold, and it is
checked before anything is sealed to the key.
"""

import hashlib
import hmac
from enum import StrEnum

from hrd_reports.crypto.contexts import Purpose, bind
from hrd_reports.crypto.errors import InvalidKeyMaterial


class KeyKind(StrEnum):
    USER = "user"
    RECOVERY = "recovery"
    INTAKE = "intake"


def key_binding(secret: bytes, *, kind: KeyKind, owner: str, public_key: bytes) -> bytes:
    mac = hmac.new(secret, bind(Purpose.KEY_BINDING, f"{kind.value}:{owner}"), hashlib.sha256)
    mac.update(b"\x00" + public_key)
    return mac.digest()


def check_key_binding(
    secret: bytes, *, kind: KeyKind, owner: str, public_key: bytes, binding: bytes
) -> None:
    expected = key_binding(secret, kind=kind, owner=owner, public_key=public_key)
    if not hmac.compare_digest(expected, binding):
        raise InvalidKeyMaterial(
            f"the {kind.value} key of {owner} is not the one this desk recorded"
        )
