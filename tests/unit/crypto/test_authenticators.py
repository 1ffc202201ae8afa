"""The checks of a security key's answers (crypto.authenticators over py_webauthn), on
answers crafted byte by byte: each lie a phishing page, a stolen key or a cloned authenticator
could tell is refused, and named in the refusal."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hrd_reports.crypto import authenticators
from hrd_reports.crypto.authenticators import KeyRefused, RelyingParty
from tests.webauthn_support import SoftKey, b64url, unb64url

RP = RelyingParty(id="desk.example.org", origin="https://desk.example.org")
PHISHING = "https://desk-example.org"


def _registered(key: SoftKey) -> authenticators.NewCredential:
    challenge = authenticators.new_challenge()
    options = authenticators.registration_options(
        RP, challenge=challenge, user_handle=b"\x01" * 16, user_name="cora", exclude=[]
    )
    return authenticators.registered_credential(
        RP, challenge=challenge, response=key.create(options)
    )


def _signed_in(
    key: SoftKey, credential: authenticators.NewCredential, stored: int, **lie: str | bool
) -> authenticators.Assertion:
    challenge = authenticators.new_challenge()
    options = authenticators.authentication_options(RP, challenge=challenge)
    return authenticators.verified_assertion(
        RP,
        challenge=challenge,
        response=key.get(options, **lie),  # type: ignore[arg-type]
        public_key=credential.public_key,
        stored_sign_count=stored,
    )


def test_registration_options_ask_for_a_verified_discoverable_key_and_no_attestation() -> None:
    options = authenticators.registration_options(
        RP,
        challenge=b"c" * 32,
        user_handle=b"\x01" * 16,
        user_name="cora",
        exclude=[b"known"],
    )
    assert options["rp"] == {"name": "hrd-reports", "id": "desk.example.org"}
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["attestation"] == "none"
    assert options["excludeCredentials"] == [{"id": b64url(b"known"), "type": "public-key"}]
    assert unb64url(options["user"]["id"]) == b"\x01" * 16


def test_authentication_options_name_no_credential_and_require_verification() -> None:
    options = authenticators.authentication_options(RP, challenge=b"c" * 32)
    # Nothing that depends on the account: the step looks the same for every name.
    assert options.get("allowCredentials", []) == []
    assert options["userVerification"] == "required"
    assert options["rpId"] == "desk.example.org"


def test_a_key_registers_and_then_signs_in_with_a_counter_that_goes_up() -> None:
    key = SoftKey(RP.origin, RP.id)
    credential = _registered(key)
    assert credential.credential_id == key.credential_id
    assert credential.transports == ("usb",)
    assertion = _signed_in(key, credential, stored=credential.sign_count)
    assert assertion.credential_id == key.credential_id
    assert assertion.sign_count == credential.sign_count + 1
    assert assertion.user_handle == b"\x01" * 16


def test_a_key_that_never_counts_signs_in_again_and_again() -> None:
    key = SoftKey(RP.origin, RP.id, counts=False)
    credential = _registered(key)
    assert _signed_in(key, credential, stored=0).sign_count == 0
    assert _signed_in(key, credential, stored=0).sign_count == 0


def test_a_cloned_key_whose_counter_is_behind_is_refused() -> None:
    key = SoftKey(RP.origin, RP.id)
    credential = _registered(key)
    stored = _signed_in(key, credential, stored=credential.sign_count).sign_count
    clone = key.clone(sign_count=0)
    with pytest.raises(KeyRefused) as refused:
        _signed_in(clone, credential, stored=stored)
    assert refused.value.reason == authenticators.COUNTER_WENT_BACK


def test_a_replayed_answer_with_the_same_counter_is_refused() -> None:
    key = SoftKey(RP.origin, RP.id)
    credential = _registered(key)
    challenge = authenticators.new_challenge()
    answer = key.get(authenticators.authentication_options(RP, challenge=challenge))
    first = authenticators.verified_assertion(
        RP, challenge=challenge, response=answer, public_key=credential.public_key,
        stored_sign_count=credential.sign_count,
    )  # fmt: skip
    with pytest.raises(KeyRefused) as refused:
        authenticators.verified_assertion(
            RP, challenge=challenge, response=answer, public_key=credential.public_key,
            stored_sign_count=first.sign_count,
        )  # fmt: skip
    assert refused.value.reason == authenticators.COUNTER_WENT_BACK


@pytest.mark.parametrize(
    ("lie", "reason"),
    [
        pytest.param({"origin": PHISHING}, authenticators.WRONG_ORIGIN, id="another origin"),
        pytest.param(
            {"origin": "http://desk.example.org"}, authenticators.WRONG_ORIGIN, id="plain http"
        ),
        pytest.param(
            {"rp_id": "example.org"}, authenticators.WRONG_RP_ID, id="another relying party"
        ),
        pytest.param({"verified": False}, authenticators.NOT_VERIFIED, id="no PIN or fingerprint"),
    ],
)
def test_a_sign_in_answer_that_lies_is_refused_and_named(
    lie: dict[str, str | bool], reason: str
) -> None:
    key = SoftKey(RP.origin, RP.id)
    credential = _registered(key)
    with pytest.raises(KeyRefused) as refused:
        _signed_in(key, credential, stored=credential.sign_count, **lie)
    assert refused.value.reason == reason


@pytest.mark.parametrize(
    ("lie", "reason"),
    [
        pytest.param({"origin": PHISHING}, authenticators.WRONG_ORIGIN, id="another origin"),
        pytest.param({"verified": False}, authenticators.NOT_VERIFIED, id="no PIN or fingerprint"),
    ],
)
def test_a_registration_that_lies_is_refused(lie: dict[str, str | bool], reason: str) -> None:
    key = SoftKey(RP.origin, RP.id)
    challenge = authenticators.new_challenge()
    options = authenticators.registration_options(
        RP, challenge=challenge, user_handle=b"\x01" * 16, user_name="cora", exclude=[]
    )
    with pytest.raises(KeyRefused) as refused:
        authenticators.registered_credential(
            RP,
            challenge=challenge,
            response=key.create(options, **lie),  # type: ignore[arg-type]
        )
    assert refused.value.reason == reason


def test_an_answer_to_another_challenge_is_refused() -> None:
    key = SoftKey(RP.origin, RP.id)
    credential = _registered(key)
    answer = key.get(authenticators.authentication_options(RP, challenge=b"a" * 32))
    with pytest.raises(KeyRefused) as refused:
        authenticators.verified_assertion(
            RP, challenge=b"b" * 32, response=answer, public_key=credential.public_key,
            stored_sign_count=credential.sign_count,
        )  # fmt: skip
    assert refused.value.reason == authenticators.WRONG_CHALLENGE


def test_an_answer_signed_by_another_key_is_refused() -> None:
    key = SoftKey(RP.origin, RP.id)
    credential = _registered(key)
    impostor = SoftKey(RP.origin, RP.id, credential_id=key.credential_id)
    with pytest.raises(KeyRefused) as refused:
        _signed_in(impostor, credential, stored=credential.sign_count)
    assert refused.value.reason == authenticators.BAD_SIGNATURE


def test_a_registration_answer_cannot_stand_in_for_a_sign_in() -> None:
    key = SoftKey(RP.origin, RP.id)
    challenge = authenticators.new_challenge()
    options = authenticators.registration_options(
        RP, challenge=challenge, user_handle=b"\x01" * 16, user_name="cora", exclude=[]
    )
    created = json.loads(key.create(options))
    created["response"]["authenticatorData"] = created["response"]["attestationObject"]
    created["response"]["signature"] = b64url(b"x")
    with pytest.raises(KeyRefused) as refused:
        authenticators.verified_assertion(
            RP, challenge=challenge, response=json.dumps(created), public_key=b"",
            stored_sign_count=0,
        )  # fmt: skip
    assert refused.value.reason == authenticators.WRONG_CEREMONY


@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda raw: json.dumps(b64url(raw))))
def test_any_text_sent_as_an_answer_is_refused_as_malformed_never_raised_otherwise(
    text: str,
) -> None:
    with pytest.raises(KeyRefused):
        authenticators.asserted_credential_id(text)
    with pytest.raises(KeyRefused):
        authenticators.verified_assertion(
            RP, challenge=b"c" * 32, response=text, public_key=b"", stored_sign_count=0
        )
    with pytest.raises(KeyRefused):
        authenticators.registered_credential(RP, challenge=b"c" * 32, response=text)


@given(
    st.dictionaries(
        st.sampled_from(["clientDataJSON", "authenticatorData", "signature", "userHandle"]),
        st.one_of(st.text(max_size=40), st.binary(max_size=60).map(b64url), st.none()),
    )
)
def test_an_answer_of_the_right_shape_with_crafted_fields_is_refused(
    fields: dict[str, str | None],
) -> None:
    answer = json.dumps({"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": fields})
    with pytest.raises(KeyRefused):
        authenticators.verified_assertion(
            RP, challenge=b"c" * 32, response=answer, public_key=b"", stored_sign_count=0
        )


def test_an_oversized_answer_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(KeyRefused) as refused:
        authenticators.asserted_credential_id(" " * (authenticators.MAX_RESPONSE_CHARS + 1))
    assert refused.value.reason == authenticators.MALFORMED
