"""Bindings that tie key material stored in the database to what it belongs to.

Sealing a desk key to a public key read from the database would hand the desk key to
whoever could write that row: one inserted "recovery key", one swapped user key, one user
row whose role was raised to coordinator with a grant row made up beside it, and the next
rotation or vetting gives every report away. Each such row therefore carries an HMAC, under
a server secret that the database does not hold, of what it is, whose it is (for a user, in
which role) and its bytes; it is checked before anything is sealed to it or relied on.
"""

import hashlib
import hmac
from collections.abc import Sequence
from enum import StrEnum

from hrd_reports.crypto.contexts import Purpose, bind
from hrd_reports.crypto.errors import InvalidKeyMaterial


class Bound(StrEnum):
    USER_KEY = "user key"
    RECOVERY_KEY = "recovery key"
    INTAKE_KEY = "intake key"
    DESK_KEY_GRANT = "desk key grant"
    # A partner organisation's public key, with the partner's name and kind: a row altered
    # in the database would otherwise send the next referral to someone else's key.
    PARTNER_KEY = "partner key"


def record_binding(secret: bytes, *, kind: Bound, owner: Sequence[str], material: bytes) -> bytes:
    """``owner`` names whose it is, in parts (an id, then a role or a holder)."""
    first, *rest = owner
    subject = bind(Purpose.KEY_BINDING, f"{kind.value.replace(' ', '-')}:{first}", *rest)
    mac = hmac.new(secret, subject, hashlib.sha256)
    mac.update(b"\x00" + material)
    return mac.digest()


def check_record_binding(
    secret: bytes, *, kind: Bound, owner: Sequence[str], material: bytes, binding: bytes
) -> None:
    expected = record_binding(secret, kind=kind, owner=owner, material=material)
    if not hmac.compare_digest(expected, binding):
        raise InvalidKeyMaterial(
            f"the {kind.value} of {'/'.join(owner)} is not the one this desk recorded"
        )
