"""Dashboard session tokens: the cookie holds the only key to what the server keeps.

The cookie carries a random session id and a random session key. The server stores a hash
of the id and the user's private key sealed under the session key: a copy of the sessions
table, or a server without the person's browser, opens nothing.
"""

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from hrd_reports.crypto.contexts import Purpose, bind
from hrd_reports.crypto.envelope import decrypt_with_dek, encrypt_with_dek

ID_SIZE = 16
KEY_SIZE = 32


@dataclass(frozen=True)
class SessionToken:
    session_id: bytes = field(repr=False)
    key: bytes = field(repr=False)

    @classmethod
    def new(cls) -> "SessionToken":
        return cls(secrets.token_bytes(ID_SIZE), secrets.token_bytes(KEY_SIZE))

    @classmethod
    def parse(cls, text: str) -> "SessionToken | None":
        part_id, _, part_key = text.partition(".")
        try:
            session_id = base64.urlsafe_b64decode(part_id + "=" * (-len(part_id) % 4))
            key = base64.urlsafe_b64decode(part_key + "=" * (-len(part_key) % 4))
        except (ValueError, binascii.Error):
            return None
        if len(session_id) != ID_SIZE or len(key) != KEY_SIZE:
            return None
        return cls(session_id, key)

    def cookie_value(self) -> str:
        return ".".join(
            base64.urlsafe_b64encode(part).decode("ascii").rstrip("=")
            for part in (self.session_id, self.key)
        )

    @property
    def lookup(self) -> bytes:
        """What the server stores to find the session: not the id itself."""
        return hashlib.sha256(self.session_id).digest()

    def seal(self, private_seed: bytes, *, owner: str) -> bytes:
        return encrypt_with_dek(self.key, private_seed, aad=self._aad(owner))

    def open(self, sealed: bytes, *, owner: str) -> bytes:
        return decrypt_with_dek(self.key, sealed, aad=self._aad(owner))

    def _aad(self, owner: str) -> bytes:
        return bind(Purpose.SESSION_KEY, f"{self.lookup.hex()}/{owner}")

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
