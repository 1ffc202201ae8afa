"""Dashboard session tokens: the cookie holds the only key to what the server keeps.

The cookie carries a random session id and a random session key. The server stores a hash
of the id and the user's private key sealed under the session key: a copy of the sessions
table, or a server without the person's browser, opens nothing.

The cookie also carries a tag (HMAC under the server's session secret) over both: a cookie
the server never issued is refused with one HMAC, before any database work. A flood of
made-up cookies then costs the server no more than a flood of requests without one.
"""

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from hrd_reports.crypto.aead import aes_gcm_decrypt, aes_gcm_encrypt
from hrd_reports.crypto.contexts import Purpose, bind

ID_SIZE = 16
KEY_SIZE = 32
TAG_SIZE = 16
# Three base64url parts (22 + 43 + 22 characters) and two dots: anything longer is not ours.
_MAX_COOKIE_LENGTH = 100
_COOKIE_TAG_INFO = b"hrd-reports/1/session-cookie/"


@dataclass(frozen=True)
class SessionToken:
    session_id: bytes = field(repr=False)
    key: bytes = field(repr=False)

    @classmethod
    def new(cls) -> "SessionToken":
        return cls(secrets.token_bytes(ID_SIZE), secrets.token_bytes(KEY_SIZE))

    @classmethod
    def parse(cls, text: str, *, secret: bytes) -> "SessionToken | None":
        """The token of a cookie this server issued, or None for anything else."""
        if len(text) > _MAX_COOKIE_LENGTH:
            return None
        parts = text.split(".")
        if len(parts) != 3:
            return None
        try:
            session_id, key, tag = (_b64decode(part) for part in parts)
        except (ValueError, binascii.Error):
            return None
        if len(session_id) != ID_SIZE or len(key) != KEY_SIZE:
            return None
        token = cls(session_id, key)
        if not hmac.compare_digest(tag, token._cookie_tag(secret)):
            return None
        return token

    def cookie_value(self, *, secret: bytes) -> str:
        return ".".join(
            base64.urlsafe_b64encode(part).decode("ascii").rstrip("=")
            for part in (self.session_id, self.key, self._cookie_tag(secret))
        )

    def _cookie_tag(self, secret: bytes) -> bytes:
        message = _COOKIE_TAG_INFO + self.session_id + self.key
        return hmac.new(secret, message, hashlib.sha256).digest()[:TAG_SIZE]

    @property
    def lookup(self) -> bytes:
        """What the server stores to find the session: not the id itself."""
        return hashlib.sha256(self.session_id).digest()

    def seal(self, private_seed: bytes, *, owner: str) -> bytes:
        return aes_gcm_encrypt(self.key, private_seed, aad=self._aad(owner))

    def open(self, sealed: bytes, *, owner: str) -> bytes:
        return aes_gcm_decrypt(self.key, sealed, aad=self._aad(owner))

    def _aad(self, owner: str) -> bytes:
        return bind(Purpose.SESSION_KEY, self.lookup.hex(), owner)

    def csrf_token(self) -> str:
        """A per-session form token; only a page of this session can know it."""
        mac = hmac.new(self.key, b"hrd-reports/1/csrf", hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def csrf_matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", "replace"))


def login_form_token(secret: bytes, nonce: str) -> str:
    """The sign-in form's token, bound to a random cookie set with the form (no session yet)."""
    mac = hmac.new(
        secret, b"hrd-reports/1/login-form/" + nonce.encode("ascii", "replace"), hashlib.sha256
    )
    return base64.urlsafe_b64encode(mac.digest()).decode("ascii").rstrip("=")


def _b64decode(part: str) -> bytes:
    # Only the alphabet the server writes: base64's decoder would skip other characters.
    if not part.isascii() or not part.replace("-", "").replace("_", "").isalnum():
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
