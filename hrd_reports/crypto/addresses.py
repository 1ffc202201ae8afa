"""A staff member's e-mail address for notifications, kept encrypted at rest.

The address is personal data of people who work on dangerous cases: a copy of the database
alone must not list who works at the desk. It is encrypted under a key derived from the
pepper (in ``keys/``, like the second factor's secret), bound to its owner so that one
person's address cannot be moved onto another's row to divert their notifications.
"""

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hrd_reports.crypto.aead import aes_gcm_decrypt, aes_gcm_encrypt
from hrd_reports.crypto.contexts import Purpose, bind

_STORAGE_INFO = b"hrd-reports/1/contact-storage-key"
# Every address is padded to this length before encryption: its length alone would narrow
# down whose address it is. RFC 5321 bounds an address to 254 octets.
PADDED_SIZE = 256


def storage_key(pepper: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_STORAGE_INFO).derive(pepper)


def protect_address(address: str, *, key: bytes, owner: str) -> bytes:
    """The address, padded and encrypted; ValueError for one past RFC 5321's bound or holding
    the padding byte."""
    encoded = address.encode("utf-8")
    if len(encoded) > PADDED_SIZE - 2 or b"\0" in encoded:
        raise ValueError("not an e-mail address")
    padded = encoded.ljust(PADDED_SIZE, b"\0")
    return aes_gcm_encrypt(key, padded, aad=bind(Purpose.CONTACT_ADDRESS, owner))


def unprotect_address(blob: bytes, *, key: bytes, owner: str) -> str:
    padded = aes_gcm_decrypt(key, blob, aad=bind(Purpose.CONTACT_ADDRESS, owner))
    return padded.rstrip(b"\0").decode("utf-8")
