"""A partner's public key is judged before anything is encrypted to it: what it is (age or
OpenPGP), whether it is public, valid, alive and strong enough; and what is encrypted to it
opens with the partner's private key, and only that."""

import datetime as dt
import hashlib

import pyrage
import pysequoia
import pytest
from pysequoia.packet import PacketPile

from hrd_reports.crypto.partners import (
    MAX_KEY_BYTES,
    KeyKind,
    PartnerKeyRefused,
    Refusal,
    encrypt_to_partner,
    fingerprint_groups,
    read_partner_key,
)
from tests.partner_keys import (
    DSA_ELGAMAL_CERT,
    age_header_stanzas,
    age_partner,
    age_tag_recipient,
    age_tagpq_recipient,
    bech32,
    openpgp_partner,
)

# The time a key is judged at, passed in: no test here waits for a key to expire.
NOW = dt.datetime.now(dt.UTC)


def refused(data: bytes | str, *, now: dt.datetime = NOW) -> PartnerKeyRefused:
    with pytest.raises(PartnerKeyRefused) as caught:
        read_partner_key(data.encode() if isinstance(data, str) else data, now=now)
    return caught.value


# ---- age ----------------------------------------------------------------------------------


def test_age_x25519_key_round_trips_and_its_fingerprint_is_the_sha256_of_the_line() -> None:
    partner = age_partner()
    key = read_partner_key(f"  {partner.public_key}\n".encode(), now=NOW)

    assert (key.kind, key.text, key.algorithm) == (KeyKind.AGE, partner.public_key, "X25519")
    assert key.fingerprint == hashlib.sha256(partner.public_key.encode()).hexdigest()
    assert not key.post_quantum
    package = encrypt_to_partner(key.kind, key.text, b"the consented fields", now=NOW)
    assert age_header_stanzas(package) == ["X25519"]
    assert partner.open(package) == b"the consented fields"
    with pytest.raises(pyrage.DecryptError):
        age_partner().open(package)


def test_age_public_key_with_comments_as_age_keygen_prints_it_is_read() -> None:
    partner = age_partner()
    text = f"# created: 2026-01-01T00:00:00Z\n# public key of the partner\n{partner.public_key}\n"

    assert read_partner_key(text.encode(), now=NOW).text == partner.public_key


@pytest.mark.parametrize(
    "secret",
    [
        lambda partner: str(partner.identity),
        # The identity file of age-keygen: the public key in a comment, the secret below it.
        lambda partner: f"# public key: {partner.public_key}\n{partner.identity}\n",
        lambda partner: (
            "AGE-SECRET-KEY-PQ-1XXC4XS9DXHZ6TREKQTT3XECY8VNNU7GJ83C3Y49D0GZ3ZUME4JWS6QC3EF"
        ),
        lambda partner: "AGE-PLUGIN-YUBIKEY-1QSPSYQVZ0DJFDPGWQ2RKZ",
    ],
)
def test_age_secret_key_is_refused_as_a_secret_key(secret: object) -> None:
    assert refused(secret(age_partner())).reason == Refusal.SECRET_KEY  # type: ignore[operator]


def test_age_post_quantum_tagged_recipient_is_accepted_and_its_package_says_so() -> None:
    recipient = age_tagpq_recipient()
    key = read_partner_key(recipient.encode(), now=NOW)

    assert key.post_quantum
    assert key.algorithm == "ML-KEM-768 + P-256 (tag)"
    package = encrypt_to_partner(key.kind, key.text, b"fields", now=NOW)
    # The hybrid stanza of age 1.3, and nothing classical beside it.
    assert age_header_stanzas(package) == ["mlkem768p256tag"]


def test_age_tagged_p256_recipient_is_accepted_as_classical() -> None:
    key = read_partner_key(age_tag_recipient().encode(), now=NOW)

    assert not key.post_quantum
    package = encrypt_to_partner(key.kind, key.text, b"fields", now=NOW)
    assert age_header_stanzas(package) == ["p256tag"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # age-keygen -pq: not in the Rust age crate yet.
        (bech32("age1pq", bytes(1216)), Refusal.AGE_PQ_UNSUPPORTED),
        (bech32("age1yubikey", bytes(33)), Refusal.AGE_PLUGIN),
        ("age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq", Refusal.AGE_MALFORMED),
        # A point of low order: the Rust crate panics on it; it must be a refusal.
        (bech32("age", bytes(32)), Refusal.AGE_MALFORMED),
        (bech32("age", b"\x01" + bytes(31)), Refusal.AGE_MALFORMED),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKx partner@example", Refusal.SSH_KEY),
        ("a partner's name, not a key", Refusal.NOT_A_KEY),
        ("   \n\t", Refusal.EMPTY),
    ],
)
def test_age_and_other_text_that_is_no_usable_key_is_refused(text: str, reason: Refusal) -> None:
    assert refused(text).reason == reason


def test_a_character_changed_in_an_age_key_is_refused() -> None:
    key = age_partner().public_key
    typo = key[:20] + ("q" if key[20] != "q" else "p") + key[21:]

    assert refused(typo).reason == Refusal.AGE_MALFORMED


def test_two_age_keys_for_one_partner_are_refused() -> None:
    text = f"{age_partner().public_key}\n{age_partner().public_key}\n"

    assert refused(text).reason == Refusal.AGE_SEVERAL


# ---- OpenPGP ------------------------------------------------------------------------------


def test_openpgp_curve25519_certificate_round_trips() -> None:
    partner = openpgp_partner()
    key = read_partner_key(partner.public_key.encode(), now=NOW)

    assert key.kind == KeyKind.OPENPGP
    assert key.fingerprint == partner.secret.extract_certificate().fingerprint
    assert key.algorithm == "ECDH"
    assert not key.post_quantum
    package = encrypt_to_partner(key.kind, key.text, b"the consented fields", now=NOW)
    assert partner.open(package) == b"the consented fields"
    with pytest.raises(RuntimeError):
        openpgp_partner().open(package)


def test_openpgp_binary_certificate_is_stored_armoured() -> None:
    partner = openpgp_partner()
    key = read_partner_key(bytes(partner.secret.extract_certificate()), now=NOW)

    assert key.text == read_partner_key(partner.public_key.encode(), now=NOW).text
    assert key.text.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")


def test_openpgp_post_quantum_certificate_is_encrypted_to_its_ml_kem_subkey() -> None:
    partner = openpgp_partner(post_quantum=True)
    key = read_partner_key(partner.public_key.encode(), now=NOW)

    assert key.post_quantum
    assert key.algorithm == "ML-KEM-768 + X25519"
    package = encrypt_to_partner(key.kind, key.text, b"fields", now=NOW)
    assert partner.open(package) == b"fields"


def test_openpgp_rsa_3072_is_accepted_and_rsa_2048_refused_as_weak() -> None:
    strong = openpgp_partner(cipher_suite=pysequoia.CipherSuite.RSA3k)
    weak = openpgp_partner(cipher_suite=pysequoia.CipherSuite.RSA2k)

    assert read_partner_key(strong.public_key.encode(), now=NOW).algorithm == "RSA 3072"
    refusal = refused(weak.public_key)
    assert (refusal.reason, refusal.params) == (Refusal.OPENPGP_WEAK, {"algorithm": "RSA 2048"})


def test_openpgp_dsa_and_elgamal_certificate_is_refused_as_weak() -> None:
    refusal = refused(DSA_ELGAMAL_CERT.read_bytes())

    assert (refusal.reason, refusal.params) == (Refusal.OPENPGP_WEAK, {"algorithm": "DSA"})


@pytest.mark.parametrize("armoured", [True, False])
def test_openpgp_secret_key_pasted_by_mistake_is_refused(armoured: bool) -> None:
    secret = openpgp_partner().secret
    data = str(secret).encode() if armoured else bytes(secret)

    assert refused(data).reason == Refusal.SECRET_KEY


def test_openpgp_certificate_expired_at_the_time_given_is_refused_with_its_day() -> None:
    partner = openpgp_partner(validity_seconds=3600)
    alive = read_partner_key(partner.public_key.encode(), now=NOW)
    assert alive.expires_at is not None
    later = alive.expires_at + dt.timedelta(seconds=1)

    refusal = refused(partner.public_key, now=later)

    assert refusal.reason == Refusal.OPENPGP_EXPIRED
    assert refusal.params == {"day": alive.expires_at.date().isoformat()}
    # Registered while alive, expired since: nothing is encrypted to it any more.
    with pytest.raises(PartnerKeyRefused):
        encrypt_to_partner(alive.kind, alive.text, b"fields", now=later)


def test_openpgp_revoked_certificate_is_refused() -> None:
    secret = openpgp_partner().secret
    cert = secret.extract_certificate()
    revocation = cert.revoke(secret.certifier())
    revoked = pysequoia.Cert.from_packets(
        [*PacketPile.from_bytes(bytes(cert)), *PacketPile.from_bytes(bytes(revocation))]
    )

    assert refused(str(revoked)).reason == Refusal.OPENPGP_REVOKED


def test_two_openpgp_certificates_are_refused() -> None:
    text = openpgp_partner().public_key + "\n" + openpgp_partner().public_key

    assert refused(text).reason == Refusal.OPENPGP_SEVERAL


@pytest.mark.parametrize(
    "data",
    [
        b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a key\n-----END PGP PUBLIC KEY BLOCK-----\n",
        b"\x99\x00\x0d" + bytes(13),
        b"\xff\xfe\x00 bytes that are not text and not OpenPGP",
    ],
)
def test_malformed_openpgp_data_is_refused(data: bytes) -> None:
    assert refused(data).reason == Refusal.OPENPGP_MALFORMED


def test_a_cut_openpgp_certificate_is_refused() -> None:
    text = openpgp_partner().public_key
    cut = text[: len(text) // 2] + "\n-----END PGP PUBLIC KEY BLOCK-----\n"

    assert refused(cut).reason == Refusal.OPENPGP_MALFORMED


def test_anything_larger_than_a_key_is_refused_unread() -> None:
    assert refused(b"age1" + b"q" * MAX_KEY_BYTES).reason == Refusal.TOO_LARGE


def test_encrypting_to_a_key_text_other_than_the_canonical_one_is_refused() -> None:
    # What the desk stores is the key as it read it; a row changed to anything else is not it.
    partner = openpgp_partner()
    key = read_partner_key(partner.public_key.encode(), now=NOW)

    with pytest.raises(PartnerKeyRefused):
        encrypt_to_partner(KeyKind.OPENPGP, key.text + "\n\n", b"fields", now=NOW)
    with pytest.raises(PartnerKeyRefused):
        encrypt_to_partner(KeyKind.AGE, key.text, b"fields", now=NOW)


def test_fingerprint_is_shown_in_groups_of_four() -> None:
    assert fingerprint_groups("3ef045168b3a4f67") == "3EF0 4516 8B3A 4F67"
