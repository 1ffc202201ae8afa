"""Partner organisations' public keys, and the one thing the desk does with them: encrypt a
referral package that only the partner can open.

Two formats, each through a maintained library rather than code of ours:

- age (``pyrage``, the Python binding of the Rust ``age`` crate): native X25519 recipients
  (``age1...``), and the tagged recipients of age 1.3 for keys held in hardware: P-256
  (``age1tag1...``) and the post-quantum hybrid ML-KEM-768 + P-256 (``age1tagpq1...``). The
  untagged post-quantum recipient of ``age-keygen -pq`` (``age1pq1...``, ML-KEM-768 + X25519)
  is not in the Rust crate yet, so it is refused with that reason.
- OpenPGP (``pysequoia``, the Python binding of Sequoia-PGP): a certificate with a valid,
  unexpired, encryption-capable key under Sequoia's standard policy, post-quantum
  ML-KEM + X25519/X448 subkeys (RFC 9580 v6 keys) included.

A key is judged when it is registered and again before every encryption, against ``now``
passed in (this package reads no clock): a key that expired since, or a certificate altered
in the database, is not encrypted to. Pure: text and bytes in, bytes out, no I/O.

The threat each check answers: a package encrypted to a key nobody holds any more (expired,
revoked: the partner may have lost or retired it, or it fell into other hands), to a key
weak enough to be broken by whoever intercepts the file, or to an attacker's key where a
secret key was pasted by mistake (a secret key pasted into a web form has left its owner).
"""

import datetime as dt
import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pyrage
import pysequoia
from pysequoia.packet import Packet, PacketPile, PublicKeyAlgorithm, SignatureType, Tag

from hrd_reports.crypto.errors import CryptoError

# An OpenPGP certificate with post-quantum subkeys and many signatures is a few KiB; an
# age tagpq recipient is about 2,000 characters.
MAX_KEY_BYTES = 64 * 1024
# NIST SP 800-57 and BSI TR-02102 give RSA below 3072 bits less than 128-bit security.
MIN_RSA_BITS = 3072


class KeyKind(StrEnum):
    AGE = "age"
    OPENPGP = "openpgp"


class Refusal(StrEnum):
    """Why a key is refused; the services say each in words a person reads."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    SECRET_KEY = "secret_key"  # noqa: S105 - a reason's name, not a secret
    NOT_A_KEY = "not_a_key"
    SSH_KEY = "ssh_key"
    AGE_MALFORMED = "age_malformed"
    AGE_SEVERAL = "age_several"
    AGE_PQ_UNSUPPORTED = "age_pq_unsupported"
    AGE_PLUGIN = "age_plugin"
    OPENPGP_MALFORMED = "openpgp_malformed"
    OPENPGP_SEVERAL = "openpgp_several"
    OPENPGP_REVOKED = "openpgp_revoked"
    OPENPGP_EXPIRED = "openpgp_expired"
    OPENPGP_NO_ENCRYPTION_KEY = "openpgp_no_encryption_key"
    OPENPGP_WEAK = "openpgp_weak"


class PartnerKeyRefused(CryptoError):
    """A partner key this desk will not encrypt to; ``params`` fill the reason's sentence."""

    def __init__(self, reason: Refusal, **params: str) -> None:
        super().__init__(f"{reason.value} {params}" if params else reason.value)
        self.reason = reason
        self.params = params


@dataclass(frozen=True)
class PartnerKey:
    kind: KeyKind
    # What is stored and encrypted to: the recipient as age writes it, or the certificate as
    # Sequoia read it, ASCII-armoured (never the bytes as pasted).
    text: str
    # Lowercase hex: the OpenPGP fingerprint, or for age the SHA-256 of ``text``.
    fingerprint: str
    # What a package to this key is encrypted with, for people to read ("X25519").
    algorithm: str
    # True only when every key a package goes to is a post-quantum hybrid: a package also
    # encrypted to a classical key falls to whoever breaks that one.
    post_quantum: bool
    # When the keys a package goes to stop being valid (None: no expiry).
    expires_at: dt.datetime | None


def read_partner_key(data: bytes, *, now: dt.datetime) -> PartnerKey:
    """The partner key ``data`` holds (text or binary), checked as of ``now``; else refused."""
    if len(data) > MAX_KEY_BYTES:
        raise PartnerKeyRefused(Refusal.TOO_LARGE)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None:
        return _read_openpgp(data, now=now)
    stripped = text.strip()
    if not stripped:
        raise PartnerKeyRefused(Refusal.EMPTY)
    upper = stripped.upper()
    # An age identity file holds the secret key with the public one in a comment above it.
    if "AGE-SECRET-KEY-" in upper or "AGE-PLUGIN-" in upper or "PGP PRIVATE KEY" in upper:
        raise PartnerKeyRefused(Refusal.SECRET_KEY)
    if "-----BEGIN PGP" in upper:
        if upper.count("-----BEGIN PGP") > 1:
            raise PartnerKeyRefused(Refusal.OPENPGP_SEVERAL)
        return _read_openpgp(data, now=now)
    if stripped.startswith(("ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-")):
        raise PartnerKeyRefused(Refusal.SSH_KEY)
    lines = [line.strip() for line in stripped.splitlines()]
    recipients = [line for line in lines if line and not line.startswith("#")]
    if recipients and recipients[0].lower().startswith("age1"):
        return _read_age(recipients)
    raise PartnerKeyRefused(Refusal.NOT_A_KEY)


def encrypt_to_partner(kind: KeyKind, text: str, plaintext: bytes, *, now: dt.datetime) -> bytes:
    """``plaintext`` encrypted to the partner key ``text`` (binary age or OpenPGP), which is
    judged again as of ``now`` first."""
    key = read_partner_key(text.encode("utf-8"), now=now)
    if key.kind != kind or key.text != text:
        # The stored text is the canonical form read at registration; anything else was not.
        raise PartnerKeyRefused(Refusal.NOT_A_KEY)
    if key.kind == KeyKind.AGE:
        return _age_encrypt(plaintext, _age_recipient(key.text))
    return pysequoia.encrypt(plaintext, [pysequoia.Cert.from_bytes(text.encode())], armor=False)


def fingerprint_groups(fingerprint: str) -> str:
    """A fingerprint as people read it aloud and compare it: groups of four, upper case."""
    upper = fingerprint.upper()
    return " ".join(upper[i : i + 4] for i in range(0, len(upper), 4))


# ---- age ----------------------------------------------------------------------------------

# By the part of the recipient before its last "1" (its Bech32 human-readable part).
_AGE_TYPES: dict[str, tuple[Any, str, bool]] = {
    "age": (pyrage.x25519.Recipient, "X25519", False),
    "age1tag": (pyrage.tag.Recipient, "P-256 (tag)", False),
    "age1tagpq": (pyrage.tagpq.Recipient, "ML-KEM-768 + P-256 (tag)", True),
}


def _age_recipient(text: str) -> Any:
    kind, _, _ = _AGE_TYPES[text.rsplit("1", 1)[0]]
    return kind.from_str(text)


def _age_encrypt(plaintext: bytes, recipient: Any) -> bytes:
    try:
        return pyrage.encrypt(plaintext, [recipient])
    except pyrage.EncryptError as exc:
        raise PartnerKeyRefused(Refusal.AGE_MALFORMED) from exc
    except BaseException as exc:
        # The Rust crate panics on an X25519 recipient of low order (its shared secret would
        # be all zeros), and pyo3 raises a panic as a BaseException: a crafted key must get
        # a refusal, not take down the request.
        if type(exc).__name__ != "PanicException":
            raise
        raise PartnerKeyRefused(Refusal.AGE_MALFORMED) from None


def _read_age(recipients: list[str]) -> PartnerKey:
    if len(recipients) != 1:
        # One partner, one key: a second recipient would be someone the desk never checked.
        raise PartnerKeyRefused(Refusal.AGE_SEVERAL)
    text = recipients[0]
    prefix = text.lower().rsplit("1", 1)[0]
    if prefix == "age1pq":
        raise PartnerKeyRefused(Refusal.AGE_PQ_UNSUPPORTED)
    if prefix not in _AGE_TYPES:
        # A plugin recipient (age1yubikey1..., age1se1...) needs the plugin's program to run
        # on the server to encrypt: the desk runs no programs a key names.
        raise PartnerKeyRefused(Refusal.AGE_PLUGIN)
    try:
        recipient = _age_recipient(text)
    except pyrage.RecipientError as exc:
        raise PartnerKeyRefused(Refusal.AGE_MALFORMED) from exc
    # A recipient that parses may still be one age will not encrypt to.
    _age_encrypt(b"", recipient)
    canonical = str(recipient)
    _, algorithm, post_quantum = _AGE_TYPES[prefix]
    return PartnerKey(
        kind=KeyKind.AGE,
        text=canonical,
        fingerprint=hashlib.sha256(canonical.encode("ascii")).hexdigest(),
        algorithm=algorithm,
        post_quantum=post_quantum,
        expires_at=None,
    )


# ---- OpenPGP ------------------------------------------------------------------------------

_RSA = (
    PublicKeyAlgorithm.RSAEncryptSign,
    PublicKeyAlgorithm.RSAEncrypt,
    PublicKeyAlgorithm.RSASign,
)
# Finite-field DSA and ElGamal: small keys in practice, and deprecated by RFC 9580.
_REFUSED = (
    PublicKeyAlgorithm.DSA,
    PublicKeyAlgorithm.ElGamalEncrypt,
    PublicKeyAlgorithm.ElGamalEncryptSign,
)
_POST_QUANTUM = (PublicKeyAlgorithm.MLKEM768_X25519, PublicKeyAlgorithm.MLKEM1024_X448)
_KEY_TAGS = (Tag.PublicKey, Tag.PublicSubkey)


def _packets(data: bytes) -> list[Packet]:
    try:
        return list(PacketPile.from_bytes(data))
    except RuntimeError as exc:  # Sequoia's parse errors, whatever their cause
        raise PartnerKeyRefused(Refusal.OPENPGP_MALFORMED) from exc


def _read_openpgp(data: bytes, *, now: dt.datetime) -> PartnerKey:
    packets = _packets(data)
    if any(packet.tag in (Tag.SecretKey, Tag.SecretSubkey) for packet in packets):
        raise PartnerKeyRefused(Refusal.SECRET_KEY)
    primaries = sum(packet.tag == Tag.PublicKey for packet in packets)
    if primaries == 0:
        raise PartnerKeyRefused(Refusal.OPENPGP_MALFORMED)
    if primaries > 1:
        raise PartnerKeyRefused(Refusal.OPENPGP_SEVERAL)
    try:
        cert = pysequoia.Cert.from_bytes(data)
    except RuntimeError as exc:
        raise PartnerKeyRefused(Refusal.OPENPGP_MALFORMED) from exc
    if cert.is_revoked:
        raise PartnerKeyRefused(Refusal.OPENPGP_REVOKED)
    if cert.expiration is not None and cert.expiration <= now:
        raise PartnerKeyRefused(Refusal.OPENPGP_EXPIRED, day=cert.expiration.date().isoformat())
    canonical = _packets(bytes(cert))
    keys = [packet for packet in canonical if packet.tag in _KEY_TAGS]
    # The primary key certifies the others: a weak one lets whoever breaks it bind a subkey.
    _refuse_weak(keys[0])
    # What Sequoia itself would encrypt to, under its standard policy (which sets aside
    # SHA-1 bindings, broken algorithms and revoked subkeys): found by encrypting nothing.
    try:
        probe = pysequoia.encrypt(b"", [cert], armor=False)
    except RuntimeError as exc:
        # Say why, when it is a weak key the policy set aside (an ElGamal subkey).
        for key in keys:
            _refuse_weak(key)
        raise PartnerKeyRefused(Refusal.OPENPGP_NO_ENCRYPTION_KEY) from exc
    targets = [_key_of(keys, recipient) for recipient in _recipients(probe)]
    if not targets:
        raise PartnerKeyRefused(Refusal.OPENPGP_NO_ENCRYPTION_KEY)
    for key in targets:
        _refuse_weak(key)
    expiries = [cert.expiration, *(_subkey_expiry(canonical, key) for key in targets)]
    known = [expiry for expiry in expiries if expiry is not None]
    expires_at = min(known) if known else None
    # pysequoia falls back to an expired encryption key when a certificate has no live one;
    # the desk does not.
    if expires_at is not None and expires_at <= now:
        raise PartnerKeyRefused(Refusal.OPENPGP_EXPIRED, day=expires_at.date().isoformat())
    return PartnerKey(
        kind=KeyKind.OPENPGP,
        text=str(cert),
        fingerprint=cert.fingerprint.lower(),
        algorithm=", ".join(sorted({_algorithm_name(key) for key in targets})),
        post_quantum=all(key.key_algorithm in _POST_QUANTUM for key in targets),
        expires_at=expires_at,
    )


def _recipients(message: bytes) -> list[tuple[str, str]]:
    """Whom an OpenPGP message is encrypted to, from its PKESK packets: ("key_id", hex) for
    version 3, ("fingerprint", hex) for version 6."""
    found = []
    for packet in _packets(message):
        if packet.tag != Tag.PKESK:
            continue
        body = packet.body
        if body[:1] == b"\x03" and len(body) >= 9:
            found.append(("key_id", body[1:9].hex()))
        elif body[:1] == b"\x06" and len(body) >= 3 and body[1] > 1:
            found.append(("fingerprint", body[3 : 2 + body[1]].hex()))
        else:
            raise PartnerKeyRefused(Refusal.OPENPGP_NO_ENCRYPTION_KEY)
    return found


def _key_of(keys: list[Packet], recipient: tuple[str, str]) -> Packet:
    field, value = recipient
    for key in keys:
        if (key.key_id if field == "key_id" else key.fingerprint) == value:
            return key
    raise PartnerKeyRefused(Refusal.OPENPGP_NO_ENCRYPTION_KEY)


def _subkey_expiry(packets: list[Packet], key: Packet) -> dt.datetime | None:
    """When a subkey expires, by its newest binding signature (the primary key's expiry is
    the certificate's)."""
    if key.tag != Tag.PublicSubkey or key.key_created is None:
        return None
    start = next(i for i, packet in enumerate(packets) if packet is key) + 1
    bindings = []
    for packet in packets[start:]:
        if packet.tag != Tag.Signature:
            break
        if packet.signature_type == SignatureType.SubkeyBinding:
            bindings.append(packet)
    if not bindings:
        return None
    created = key.key_created
    newest = max(bindings, key=lambda sig: sig.signature_created or created)
    period = newest.key_validity_period
    return key.key_created + period if period else None


def _rsa_bits(key: Packet) -> int:
    """The modulus length of an RSA key packet: the bit count of its first MPI, after the
    version, creation time and algorithm (and, from version 5, the key material length)."""
    body = key.body
    offset = {4: 6, 5: 10, 6: 10}.get(body[0] if body else 0)
    if offset is None or len(body) < offset + 2:
        return 0
    return int.from_bytes(body[offset : offset + 2], "big")


def _refuse_weak(key: Packet) -> None:
    algorithm = key.key_algorithm
    if algorithm in _REFUSED:
        raise PartnerKeyRefused(Refusal.OPENPGP_WEAK, algorithm=_algorithm_name(key))
    if algorithm in _RSA and _rsa_bits(key) < MIN_RSA_BITS:
        raise PartnerKeyRefused(Refusal.OPENPGP_WEAK, algorithm=_algorithm_name(key))


def _algorithm_name(key: Packet) -> str:
    algorithm = key.key_algorithm
    if algorithm is None:
        return "unknown"
    if algorithm in _RSA:
        return f"RSA {_rsa_bits(key)}"
    # Sequoia's enum members are not hashable: looked up by equality.
    names = [
        (PublicKeyAlgorithm.MLKEM768_X25519, "ML-KEM-768 + X25519"),
        (PublicKeyAlgorithm.MLKEM1024_X448, "ML-KEM-1024 + X448"),
        (PublicKeyAlgorithm.ElGamalEncrypt, "ElGamal"),
        (PublicKeyAlgorithm.ElGamalEncryptSign, "ElGamal"),
    ]
    named = next((name for known, name in names if algorithm == known), None)
    return named or str(algorithm).rsplit(".", 1)[-1]
