"""Reporter receipts: the only thing that links an anonymous reporter to their report.

A receipt is 27 random decimal digits and a Damm check digit (about 89.7 bits), shown in
groups of four so any phone keyboard can type it. From it the browser derives, with HKDF and
distinct ``info`` strings, a lookup token (the server keeps only a keyed hash of it), the
reporter's X-Wing key pair (whose public half travels encrypted under the report's key, for
replies) and the key of the reporter's messages (which also travels under the report's key).
The server therefore can never show a receipt again, and a database copy cannot be searched
for one without the lookup secret in ``keys/``.
"""

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hrd_reports.crypto.aead import KEY_SIZE
from hrd_reports.crypto.errors import InvalidReceipt
from hrd_reports.crypto.xwing import PrivateKey

RANDOM_DIGITS = 27
RECEIPT_DIGITS = RANDOM_DIGITS + 1
GROUP_SIZE = 4
LOOKUP_TOKEN_SIZE = 32

_HKDF_SALT = b"hrd-reports/1/receipt"
_LOOKUP_TOKEN_INFO = b"hrd-reports/1/receipt/lookup-token"
_REPORTER_KEY_INFO = b"hrd-reports/1/receipt/reporter-key"
_MESSAGE_KEY_INFO = b"hrd-reports/1/receipt/message-key"
# An AES-256-GCM key (see crypto.aead).
MESSAGE_KEY_SIZE = KEY_SIZE
_LOOKUP_HASH_DOMAIN = b"hrd-reports/1/lookup-hash\x00"

# Damm's totally anti-symmetric quasigroup of order 10: the check digit catches every single
# wrong digit and every swap of two neighbours, the two most common typing mistakes.
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

# Digits people type on Arabic, Persian and Kurdish keyboards, mapped to ASCII.
_DIGITS = {chr(0x0660 + i): str(i) for i in range(10)} | {
    chr(0x06F0 + i): str(i) for i in range(10)
}
# Separators people type or paste between groups: spaces of every width, dashes, and the
# invisible direction marks that right-to-left pages insert around digits.
_SEPARATORS = frozenset(
    " \t\r\n-_.\u00a0\u2007\u202f\u2009\u200a\u3000\u200e\u200f\u061c\u2066\u2067\u2068\u2069"
    "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u0640\ufe63\uff0d"
)


def damm_check_digit(digits: str) -> str:
    interim = 0
    for char in digits:
        interim = _DAMM[interim][int(char)]
    return str(interim)


def generate_receipt() -> str:
    digits = str(secrets.randbelow(10**RANDOM_DIGITS)).zfill(RANDOM_DIGITS)
    return format_receipt(digits + damm_check_digit(digits))


def format_receipt(canonical: str) -> str:
    return " ".join(canonical[i : i + GROUP_SIZE] for i in range(0, len(canonical), GROUP_SIZE))


def normalise_receipt(typed: str) -> str:
    """Canonical form (28 ASCII digits) of a receipt as a person typed or pasted it."""
    digits: list[str] = []
    for char in unicodedata.normalize("NFKC", typed):
        if "0" <= char <= "9":
            digits.append(char)
        elif char in _DIGITS:
            digits.append(_DIGITS[char])
        elif char not in _SEPARATORS:
            raise InvalidReceipt("a receipt has only digits, spaces and dashes")
    canonical = "".join(digits)
    if len(canonical) != RECEIPT_DIGITS:
        raise InvalidReceipt(f"a receipt has {RECEIPT_DIGITS} digits")
    if damm_check_digit(canonical) != "0":
        raise InvalidReceipt("this receipt has a typing mistake")
    return canonical


def _hkdf(canonical: str, info: bytes, length: int) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=_HKDF_SALT, info=info)
    return hkdf.derive(canonical.encode("ascii"))


@dataclass(frozen=True)
class ReceiptKeys:
    lookup_token: bytes = field(repr=False)
    reporter_key: PrivateKey
    # The AES-256-GCM key of the reporter's own messages to the desk. The desk holds it under
    # the report's DEK (sent with the report), so whoever may read the report reads them too.
    message_key: bytes = field(repr=False)


def derive_receipt_keys(typed: str) -> ReceiptKeys:
    canonical = normalise_receipt(typed)
    return ReceiptKeys(
        lookup_token=_hkdf(canonical, _LOOKUP_TOKEN_INFO, LOOKUP_TOKEN_SIZE),
        reporter_key=PrivateKey(_hkdf(canonical, _REPORTER_KEY_INFO, 32)),
        message_key=_hkdf(canonical, _MESSAGE_KEY_INFO, MESSAGE_KEY_SIZE),
    )


def lookup_hash(lookup_token: bytes, *, lookup_secret: bytes) -> bytes:
    """What the server stores: HMAC-SHA256 of the token under a secret from ``keys/``."""
    return hmac.new(lookup_secret, _LOOKUP_HASH_DOMAIN + lookup_token, hashlib.sha256).digest()
