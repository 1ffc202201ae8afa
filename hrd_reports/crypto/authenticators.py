"""Security keys and passkeys (WebAuthn): the options a browser is given, and the checks of
what it answers, over py_webauthn. Pure functions over bytes and JSON text; no database.

Every answer is held to this desk's exact origin and relying party id (HRD_PUBLIC_URL): a
phishing page on any other address gets an answer that fails here, even when the person was
fooled into touching their key. User verification (the key's PIN or a fingerprint) is
required, so a key found or taken is not enough on its own. The signature counter is checked
after the signature: a counter that goes back can then only come from the credential's own
private key, that is, from a copy of the key (a cloned authenticator).
"""

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    options_to_json_dict,
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    ClientDataType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

CHALLENGE_SIZE = 32
# What the browser is told to wait for the key; the challenge itself lasts a little longer
# (services.security_keys), so a key answered in time is never refused as late.
TIMEOUT_MS = 110_000
# A credential's JSON, as the browser sends it: a few kilobytes at most (a TPM's attestation
# is the largest). Anything longer is refused before it is parsed.
MAX_RESPONSE_CHARS = 16_384
RP_NAME = "hrd-reports"

# The algorithms of today's keys and platforms: ES256, Ed25519, RS256 (Windows Hello).
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]

# Why an answer was refused, for the audit log: a fixed vocabulary, never text the browser
# sent (a crafted answer could otherwise write what it likes into the log).
MALFORMED = "malformed"
WRONG_CEREMONY = "wrong ceremony"
WRONG_CHALLENGE = "challenge"
WRONG_ORIGIN = "origin"
WRONG_RP_ID = "relying party id"
NOT_PRESENT = "user presence"
NOT_VERIFIED = "user verification"
BAD_SIGNATURE = "signature"
COUNTER_WENT_BACK = "sign counter went back (cloned key?)"
UNSUPPORTED = "unsupported key"


class KeyRefused(Exception):
    """An answer that does not prove presence of a registered key here and now."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RelyingParty:
    """This desk, as security keys know it: its host name and its exact origin."""

    id: str
    origin: str


@dataclass(frozen=True)
class NewCredential:
    credential_id: bytes
    public_key: bytes
    sign_count: int
    transports: tuple[str, ...]


@dataclass(frozen=True)
class Assertion:
    credential_id: bytes
    sign_count: int
    # The account the authenticator holds the credential for (a discoverable credential
    # says so), or None where it does not say.
    user_handle: bytes | None


def new_challenge() -> bytes:
    return secrets.token_bytes(CHALLENGE_SIZE)


def registration_options(
    rp: RelyingParty,
    *,
    challenge: bytes,
    user_handle: bytes,
    user_name: str,
    exclude: Sequence[bytes],
) -> dict[str, Any]:
    """``navigator.credentials.create``'s options, as JSON-ready values (base64url bytes).

    A discoverable credential (a passkey, or a FIDO2 key with its PIN) is required: the
    sign-in then asks for "a key of this desk" without naming the account's credentials, so
    that step looks the same for every name and password (see services.key_sign_in). No
    attestation is asked for: the desk keeps no list of makers, and the make of a person's
    key is theirs.
    """
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=RP_NAME,
        user_name=user_name,
        user_id=user_handle,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=known) for known in exclude],
        supported_pub_key_algs=ALGORITHMS,
    )
    return options_to_json_dict(options)


def authentication_options(rp: RelyingParty, *, challenge: bytes) -> dict[str, Any]:
    """``navigator.credentials.get``'s options: no list of credentials (see above)."""
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json_dict(options)


def _checked_client_data(
    client_data_json: bytes, rp: RelyingParty, *, challenge: bytes, ceremony: ClientDataType
) -> None:
    """The browser's own account of the ceremony, checked first so that the audit names
    what was wrong (the library checks it again)."""
    client_data = parse_client_data_json(client_data_json)
    if client_data.type != ceremony:
        raise KeyRefused(WRONG_CEREMONY)
    if not secrets.compare_digest(client_data.challenge, challenge):
        raise KeyRefused(WRONG_CHALLENGE)
    # Another origin (a look-alike address relaying the sign-in) or a frame of another site.
    if client_data.origin != rp.origin or client_data.cross_origin:
        raise KeyRefused(WRONG_ORIGIN)


def _reason(exc: WebAuthnException) -> str:
    message = str(exc)
    for fragment, reason in (
        ("RP ID hash", WRONG_RP_ID),
        ("not present", NOT_PRESENT),
        ("verification is required", NOT_VERIFIED),
        ("signature", BAD_SIGNATURE),
        ("Unsupported", UNSUPPORTED),
        ("algorithm", UNSUPPORTED),
    ):
        if fragment in message:
            return reason
    return MALFORMED


def _json_object(response: str) -> dict[str, Any]:
    if len(response) > MAX_RESPONSE_CHARS:
        raise KeyRefused(MALFORMED)
    try:
        parsed = json.loads(response)
    except (ValueError, RecursionError):
        # RecursionError: a few thousand nested brackets, well within the length bound.
        raise KeyRefused(MALFORMED) from None
    if not isinstance(parsed, dict):
        raise KeyRefused(MALFORMED)
    return parsed


# What parsing crafted bytes can raise besides the library's own exceptions (bad base64,
# CBOR that is not a map, a truncated structure): each is a malformed answer, a 4xx.
_PARSE_ERRORS = (WebAuthnException, ValueError, TypeError, KeyError, IndexError, AttributeError)


def registered_credential(rp: RelyingParty, *, challenge: bytes, response: str) -> NewCredential:
    """The new credential of a ``navigator.credentials.create`` answer, or KeyRefused."""
    parsed = _json_object(response)
    try:
        credential = parse_registration_credential_json(parsed)
        _checked_client_data(
            credential.response.client_data_json,
            rp,
            challenge=challenge,
            ceremony=ClientDataType.WEBAUTHN_CREATE,
        )
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
            supported_pub_key_algs=ALGORITHMS,
        )
    except KeyRefused:
        raise
    except WebAuthnException as exc:
        raise KeyRefused(_reason(exc)) from None
    except _PARSE_ERRORS:
        raise KeyRefused(MALFORMED) from None
    transports = tuple(
        str(getattr(transport, "value", transport))
        for transport in credential.response.transports or ()
    )
    return NewCredential(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=transports,
    )


def asserted_credential_id(response: str) -> bytes:
    """The credential a ``navigator.credentials.get`` answer claims to come from, to find
    its public key; nothing in it is trusted before ``verified_assertion``."""
    try:
        return parse_authentication_credential_json(_json_object(response)).raw_id
    except KeyRefused:
        raise
    except _PARSE_ERRORS:
        raise KeyRefused(MALFORMED) from None


def verified_assertion(
    rp: RelyingParty,
    *,
    challenge: bytes,
    response: str,
    public_key: bytes,
    stored_sign_count: int,
) -> Assertion:
    """A ``navigator.credentials.get`` answer signed by ``public_key``'s key, for this
    challenge, origin and relying party, with the user verified; or KeyRefused."""
    parsed = _json_object(response)
    try:
        credential = parse_authentication_credential_json(parsed)
        _checked_client_data(
            credential.response.client_data_json,
            rp,
            challenge=challenge,
            ceremony=ClientDataType.WEBAUTHN_GET,
        )
        # The counter is compared below, once the signature is known to be the key's own: the
        # library compares it first, and a forged answer could then pass for a cloned key.
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=public_key,
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except KeyRefused:
        raise
    except WebAuthnException as exc:
        raise KeyRefused(_reason(exc)) from None
    except _PARSE_ERRORS:
        raise KeyRefused(MALFORMED) from None
    # A key that counts (most security keys) must count up; a key that never counts (many
    # passkeys say 0 every time) has nothing to compare. WebAuthn Level 3, 7.2 step 22.
    counts = verified.new_sign_count != 0 or stored_sign_count != 0
    if counts and verified.new_sign_count <= stored_sign_count:
        raise KeyRefused(COUNTER_WENT_BACK)
    return Assertion(
        credential_id=verified.credential_id,
        sign_count=verified.new_sign_count,
        user_handle=credential.response.user_handle,
    )
