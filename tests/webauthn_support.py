"""A security key in software, for tests: it answers ``navigator.credentials.create`` and
``.get`` options as a FIDO2 authenticator does (P-256, "none" attestation), with the JSON a
browser sends, and can be told to lie (another origin, no user verification, a counter that
goes back, a cloned key).

The bytes follow WebAuthn Level 3: authenticator data is the SHA-256 of the relying party id,
a flags byte, a big-endian 32-bit counter and, at registration, the attested credential data
(AAGUID, length-prefixed credential id, COSE public key).
"""

import base64
import hashlib
import html
import json
import re
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import hidden_value

UP, UV, AT = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftKey:
    """One credential on one authenticator."""

    origin: str
    rp_id: str
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    sign_count: int = 0
    # Many passkeys never count: they say 0 every time.
    counts: bool = True
    user_handle: bytes | None = None

    def clone(self, *, sign_count: int) -> "SoftKey":
        """The same credential copied to another authenticator, whose counter is behind."""
        return SoftKey(
            self.origin,
            self.rp_id,
            private_key=self.private_key,
            credential_id=self.credential_id,
            sign_count=sign_count,
            counts=self.counts,
            user_handle=self.user_handle,
        )

    def _cose_public_key(self) -> bytes:
        numbers = self.private_key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _next_count(self) -> int:
        if self.counts:
            self.sign_count += 1
            return self.sign_count
        return 0

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin},
            separators=(",", ":"),
        ).encode()

    def create(
        self, options: dict[str, Any], *, origin: str | None = None, verified: bool = True
    ) -> str:
        """The JSON a browser posts after ``navigator.credentials.create(options)``."""
        self.user_handle = unb64url(options["user"]["id"])
        attested = (
            bytes(16)  # AAGUID: none said
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self._cose_public_key()
        )
        flags = UP | AT | (UV if verified else 0)
        auth_data = (
            hashlib.sha256(options["rp"]["id"].encode()).digest()
            + bytes([flags])
            + struct.pack(">I", self._next_count())
            + attested
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(
                        self._client_data("webauthn.create", options["challenge"], origin)
                    ),
                    "attestationObject": b64url(attestation),
                    "transports": ["usb"],
                },
            }
        )

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        verified: bool = True,
        rp_id: str | None = None,
    ) -> str:
        """The JSON a browser posts after ``navigator.credentials.get(options)``."""
        flags = UP | (UV if verified else 0)
        auth_data = (
            hashlib.sha256((rp_id or options["rpId"]).encode()).digest()
            + bytes([flags])
            + struct.pack(">I", self._next_count())
        )
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = self.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(auth_data),
                    "signature": b64url(signature),
                    "userHandle": b64url(self.user_handle) if self.user_handle else None,
                },
            }
        )


# ---- the desk's pages, driven as the browser's script drives them ---------------------------

PUBLIC_URL = "https://desk.example.org"
RP_ID = "desk.example.org"


def options_of(page: str) -> dict[str, Any]:
    """The WebAuthn options a page gives its script (``data-options`` of the key's form)."""
    found = re.search(r'id="security-key-form"[^>]*data-options="([^"]*)"', page)
    assert found is not None, "no security key form on the page"
    options: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return options


def start_key_sign_in(client: Any, name: str, password: str) -> Any:
    """Name and password, no code: the answer is the key step's page."""
    form_token = hidden_value(client.get("/dashboard/login").text, "form_token")
    return client.post(
        "/dashboard/login",
        data={"name": name, "password": password, "code": "", "form_token": form_token},
        follow_redirects=False,
    )


def answer_key_step(client: Any, page: str, answer: str) -> Any:
    return client.post(
        "/dashboard/login/security-key",
        data={"form_token": hidden_value(page, "form_token"), "credential": answer},
        follow_redirects=False,
    )


def sign_in_with_key(client: Any, name: str, password: str, key: SoftKey, **lie: Any) -> Any:
    """The whole two-step sign-in with ``key``; the answer to the key's step."""
    step = start_key_sign_in(client, name, password)
    assert step.status_code == 200, step.text
    return answer_key_step(client, step.text, key.get(options_of(step.text), **lie))


def add_key_page(client: Any, csrf: str) -> Any:
    return client.post(
        "/dashboard/security-keys/new", data={"csrf_token": csrf}, follow_redirects=False
    )


def register_key(
    client: Any, csrf: str, key: SoftKey, *, name: str = "blue key", **lie: Any
) -> Any:
    """The account page's "Add a security key", as the person's browser does it."""
    page = add_key_page(client, csrf)
    assert page.status_code == 200, page.text
    return client.post(
        "/dashboard/security-keys",
        data={
            "csrf_token": csrf,
            "name": name,
            "credential": key.create(options_of(page.text), **lie),
        },
        follow_redirects=False,
    )
