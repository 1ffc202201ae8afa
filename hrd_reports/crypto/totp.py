"""Time-based one-time codes (RFC 6238) for the dashboard's second factor.

The codes come from ``cryptography``'s HOTP; this module only decides which time steps a code
may match and keeps each code usable once: a code seen over a shoulder, or replayed by a
phishing proxy, is refused after its first use.
The shared secret is stored encrypted under a key derived from the pepper, so a copy of the
database alone cannot mint codes.
"""

import base64
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.hotp import HOTP
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from hrd_reports.crypto.aead import aes_gcm_decrypt, aes_gcm_encrypt
from hrd_reports.crypto.contexts import Purpose, bind

SECRET_SIZE = 20  # 160 bits, RFC 4226's recommendation
DIGITS = 6
STEP_SECONDS = 30
# One step either side: a phone's clock a little off, or a code typed as it rolls over.
DRIFT_STEPS = 1
_STORAGE_INFO = b"hrd-reports/1/totp-storage-key"


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_SIZE)


def secret_text(secret: bytes) -> str:
    """The secret as authenticator apps take it when typed: base32, in groups of four."""
    text = base64.b32encode(secret).decode("ascii").rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def parse_secret_text(text: str) -> bytes | None:
    cleaned = "".join(text.split()).upper()
    try:
        secret = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except ValueError:
        return None
    return secret if len(secret) == SECRET_SIZE else None


def provisioning_uri(secret: bytes, *, account: str, issuer: str) -> str:
    totp = TOTP(secret, DIGITS, hashes.SHA1(), STEP_SECONDS, enforce_key_length=True)  # noqa: S303 - RFC 6238's default, the one every authenticator app supports
    return totp.get_provisioning_uri(account, issuer)


def step_at(unix_seconds: float) -> int:
    return int(unix_seconds) // STEP_SECONDS


def code_for(secret: bytes, step: int) -> str:
    """The code of one time step (for tests, and for nothing else)."""
    return HOTP(secret, DIGITS, hashes.SHA1()).generate(step).decode("ascii")  # noqa: S303 - as above


def matching_step(
    secret: bytes, code: str, *, now: float, last_used_step: int | None
) -> int | None:
    """The time step ``code`` belongs to, if it is valid now and newer than the last one used."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    hotp = HOTP(secret, DIGITS, hashes.SHA1())  # noqa: S303 - as above
    current = step_at(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if last_used_step is not None and step <= last_used_step:
            continue
        try:
            hotp.verify(code.encode("ascii"), step)
        except InvalidToken:
            continue
        return step
    return None


def storage_key(pepper: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_STORAGE_INFO).derive(pepper)


def protect_secret(secret: bytes, *, key: bytes, owner: str) -> bytes:
    return aes_gcm_encrypt(key, secret, aad=bind(Purpose.TOTP_SECRET, owner))


def unprotect_secret(blob: bytes, *, key: bytes, owner: str) -> bytes:
    return aes_gcm_decrypt(key, blob, aad=bind(Purpose.TOTP_SECRET, owner))
