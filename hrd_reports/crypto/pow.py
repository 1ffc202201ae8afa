"""Proof of work: a stateless, HMAC-signed challenge that costs a browser about a second.

It guards submission and receipt look-up without knowing anything about who asks (no IP
address, no cookie). A challenge is ``1.<window>.<difficulty>.<nonce>.<mac>``: the window is
a coarse period (``WINDOW_SECONDS``), never a precise time; the MAC, under ``keys/pow.key``,
proves the server issued it. A solution is a counter such that SHA-256 of the challenge's
ASCII bytes followed by the counter (8 bytes, big-endian) starts with ``difficulty`` zero bits.
"""

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from hrd_reports.crypto.errors import CryptoError

ALGORITHM = "sha256-leading-zero-bits"
WINDOW_SECONDS = 600
NONCE_SIZE = 16
_MAC_SIZE = 16
_MAX_COUNTER = 2**64 - 1
_DOMAIN = b"hrd-reports/1/proof-of-work"


class InvalidChallenge(CryptoError):
    """The challenge was not issued by this server, is malformed, or is not solved."""


@dataclass(frozen=True)
class Challenge:
    token: str
    window: int
    difficulty: int
    nonce: bytes


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _mac(secret: bytes, window: int, difficulty: int, nonce: str) -> str:
    message = b"|".join([_DOMAIN, str(window).encode(), str(difficulty).encode(), nonce.encode()])
    return _b64(hmac.new(secret, message, hashlib.sha256).digest()[:_MAC_SIZE])


def window_of(unix_seconds: float) -> int:
    return int(unix_seconds // WINDOW_SECONDS)


def issue_challenge(secret: bytes, *, window: int, difficulty: int) -> Challenge:
    nonce = secrets.token_bytes(NONCE_SIZE)
    encoded = _b64(nonce)
    token = f"1.{window}.{difficulty}.{encoded}.{_mac(secret, window, difficulty, encoded)}"
    return Challenge(token=token, window=window, difficulty=difficulty, nonce=nonce)


# The shape of every token ``issue_challenge`` writes, numbers in canonical ASCII digits.
# ``str.isdigit`` was not the test: it passes "²", which ``int`` refuses, and ``int`` refuses
# numbers of over 4,300 digits; a forged token then crashed the request (a 500, and on the
# form without JavaScript a lost report) instead of being refused.
_TOKEN = re.compile(
    r"1\.(0|[1-9][0-9]{0,19})\.(0|[1-9][0-9]{0,2})\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)"
)


def read_challenge(secret: bytes, token: str) -> Challenge:
    """The challenge a token carries, if this server issued it."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise InvalidChallenge("this is not a challenge of this server")
    window, difficulty, encoded, mac = int(match[1]), int(match[2]), match[3], match[4]
    if not hmac.compare_digest(mac.encode(), _mac(secret, window, difficulty, encoded).encode()):
        raise InvalidChallenge("this is not a challenge of this server")
    try:
        nonce = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except ValueError as exc:
        raise InvalidChallenge("this is not a challenge of this server") from exc
    return Challenge(token=token, window=window, difficulty=difficulty, nonce=nonce)


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte:
            return bits + 8 - byte.bit_length()
        bits += 8
    return bits


def _digest(token: str, counter: int) -> bytes:
    return hashlib.sha256(token.encode("ascii") + counter.to_bytes(8, "big")).digest()


def _solves(token: str, difficulty: int, counter: int) -> bool:
    return 0 <= counter <= _MAX_COUNTER and leading_zero_bits(_digest(token, counter)) >= difficulty


def is_solution(challenge: Challenge, counter: int) -> bool:
    return _solves(challenge.token, challenge.difficulty, counter)


def solve(token: str, difficulty: int) -> int:
    """What the browser's worker does, given what ``/api/v1/challenge`` answers."""
    counter = 0
    while not _solves(token, difficulty, counter):
        counter += 1
    return counter
