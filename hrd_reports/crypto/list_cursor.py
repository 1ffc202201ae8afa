"""Where a page of the dashboard's report list goes on from: an opaque, sealed cursor.

The "next" and "previous" links carry the list key (urgent or unknown, day, row id) of the
page's last or first report, so the next page is read from the index after it instead of
counting past every report before it. The key holds the database's row id, which is never
shown (public ids only), so it is encrypted, not merely signed; AES-GCM under a key derived
from the session secret refuses any cursor that was altered or made up, and the additional
data binds it to the reader it was made for, so a link passed on to a colleague is refused
rather than read as theirs. The query keeps its own visibility filter all the same: a cursor
says where to go on from, never what may be read.
"""

import base64
import datetime as dt
import struct
from dataclasses import dataclass
from enum import Enum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hrd_reports.crypto.aead import NONCE_SIZE, TAG_SIZE, aes_gcm_decrypt, aes_gcm_encrypt
from hrd_reports.crypto.contexts import Purpose, bind
from hrd_reports.crypto.errors import DecryptionFailed

_KEY_INFO = b"hrd-reports/1/list-cursor-key"
_VERSION = 1
# version, direction, urgent or unknown, day (proleptic ordinal), row id.
_LAYOUT = struct.Struct(">BBBIQ")
# Row ids are the database's INTEGER: a cursor past it would fail in PostgreSQL, not refuse.
MAX_ROW_ID = 2**31 - 1
TOKEN_LENGTH = len(
    base64.urlsafe_b64encode(b"\0" * (NONCE_SIZE + _LAYOUT.size + TAG_SIZE)).rstrip(b"=")
)


class Direction(Enum):
    AFTER = 1  # the next page: the reports after this key
    BEFORE = 2  # the previous page: the reports before it


class CursorInvalid(ValueError):
    """Not a cursor this server made for this reader."""


@dataclass(frozen=True)
class ListCursor:
    direction: Direction
    urgent_or_unknown: bool
    received_on: dt.date
    row_id: int


def cursor_key(session_secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO).derive(
        session_secret
    )


def seal_cursor(cursor: ListCursor, *, key: bytes, reader: str) -> str:
    if not 1 <= cursor.row_id <= MAX_ROW_ID:
        raise ValueError("not a row id")
    packed = _LAYOUT.pack(
        _VERSION,
        cursor.direction.value,
        int(cursor.urgent_or_unknown),
        cursor.received_on.toordinal(),
        cursor.row_id,
    )
    sealed = aes_gcm_encrypt(key, packed, aad=bind(Purpose.LIST_CURSOR, reader))
    return base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")


def open_cursor(token: str, *, key: bytes, reader: str) -> ListCursor:
    """The cursor ``token`` holds; ``CursorInvalid`` for anything this server did not seal
    for ``reader``, whatever its shape."""
    # Only the alphabet and length the server writes: base64's decoder skips other characters.
    if (
        len(token) != TOKEN_LENGTH
        or not token.isascii()
        or not token.replace("-", "").replace("_", "").isalnum()
    ):
        raise CursorInvalid("not a cursor")
    sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    # One spelling per cursor: the last character's spare bits would otherwise let a changed
    # link open as the same cursor.
    if base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=") != token:
        raise CursorInvalid("not a cursor")
    try:
        packed = aes_gcm_decrypt(key, sealed, aad=bind(Purpose.LIST_CURSOR, reader))
    except DecryptionFailed as exc:
        raise CursorInvalid("not a cursor of this reader") from exc
    version, direction, urgent, day, row_id = _LAYOUT.unpack(packed)
    # Sealed by this server, so well formed; checked all the same, as any input is.
    if (
        version != _VERSION
        or direction not in {d.value for d in Direction}
        or urgent not in {0, 1}
        or not 1 <= day <= dt.date.max.toordinal()
        or not 1 <= row_id <= MAX_ROW_ID
    ):
        raise CursorInvalid("not a cursor of this version")
    return ListCursor(Direction(direction), bool(urgent), dt.date.fromordinal(day), row_id)
