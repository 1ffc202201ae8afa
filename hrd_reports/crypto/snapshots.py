"""A published statistics snapshot, kept encrypted at rest.

A snapshot holds aggregates only, after small-cell suppression; it still says how many
reports of each kind came from each governorate in a period, which a copy of the database
alone must not tell (DESIGN.md, invariant 2). Auditors read snapshots without holding any
report key, so they cannot be sealed to people: they are encrypted under a key derived from
the pepper in ``keys/``, as staff's notification addresses are (``crypto.addresses``).

The ciphertext is bound to the snapshot's id, the name of who published it and the day: a
snapshot's aggregates moved onto another row, or its publisher changed in the database, no
longer open. The document is padded with spaces (JSON reads past them) to a multiple of
``PADDING_STEP``, so its length tells little of how many months or rows it holds.
"""

import datetime as dt
from uuid import UUID

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hrd_reports.crypto.aead import aes_gcm_decrypt, aes_gcm_encrypt
from hrd_reports.crypto.contexts import Purpose, bind
from hrd_reports.crypto.errors import DecryptionFailed

_STORAGE_INFO = b"hrd-reports/1/statistics-storage-key"
PADDING_STEP = 4096
# Far above any snapshot (a few tables of at most a few hundred rows): a bound on what is
# decrypted and parsed whatever the database holds.
MAX_DOCUMENT_SIZE = 1024 * 1024


def storage_key(pepper: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_STORAGE_INFO).derive(pepper)


def _aad(snapshot_id: UUID, published_by: str, published_on: dt.date) -> bytes:
    return bind(Purpose.STATISTICS_SNAPSHOT, snapshot_id, published_by, published_on.isoformat())


def seal_snapshot(
    document: bytes, *, key: bytes, snapshot_id: UUID, published_by: str, published_on: dt.date
) -> bytes:
    """``document`` (JSON) padded and encrypted; ValueError for one past the bound."""
    if len(document) > MAX_DOCUMENT_SIZE:
        raise ValueError("a statistics snapshot is larger than any the desk makes")
    padded = document + b" " * (-len(document) % PADDING_STEP)
    return aes_gcm_encrypt(key, padded, aad=_aad(snapshot_id, published_by, published_on))


def open_snapshot(
    blob: bytes, *, key: bytes, snapshot_id: UUID, published_by: str, published_on: dt.date
) -> bytes:
    """The padded document; ``DecryptionFailed`` for a blob altered, moved or too large."""
    if len(blob) > MAX_DOCUMENT_SIZE + PADDING_STEP + 64:
        raise DecryptionFailed("larger than any snapshot")
    return aes_gcm_decrypt(key, blob, aad=_aad(snapshot_id, published_by, published_on))
