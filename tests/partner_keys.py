"""Partner organisations' keys made by the tests, with their private halves, so that a test
can open what the desk encrypted to a partner; and reports whose reporter answered the
consent question."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyrage
import pysequoia
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, mlkem

TESTDATA = Path(__file__).parent / "testdata"
# A DSA primary key with an ElGamal subkey, as GnuPG 1 made them (``gpg --gen-key`` with
# Key-Type DSA, Subkey-Type ELG-E, 2048 bits each); public only.
DSA_ELGAMAL_CERT = TESTDATA / "openpgp-dsa-elgamal.asc"


@dataclass(frozen=True)
class AgePartner:
    identity: Any  # pyrage.x25519.Identity

    @property
    def public_key(self) -> str:
        return str(self.identity.to_public())

    def open(self, package: bytes) -> bytes:
        return pyrage.decrypt(package, [self.identity])


@dataclass(frozen=True)
class OpenPgpPartner:
    secret: pysequoia.Tsk

    @property
    def public_key(self) -> str:
        return str(self.secret.extract_certificate())

    def open(self, package: bytes) -> bytes:
        opened = pysequoia.decrypt(package, self.secret.decryptor()).bytes
        assert opened is not None
        return opened


def age_partner() -> AgePartner:
    return AgePartner(pyrage.x25519.Identity.generate())


def openpgp_partner(*, post_quantum: bool = False, **generate: Any) -> OpenPgpPartner:
    if post_quantum:
        generate |= {
            "profile": pysequoia.Profile.RFC9580,
            "cipher_suite": pysequoia.CipherSuite.MLDSA65_Ed25519,
        }
    return OpenPgpPartner(pysequoia.Tsk.generate("Partner <referrals@partner.example>", **generate))


# ---- age recipients the desk encrypts to but cannot open (their identities live in hardware)


_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values: list[int]) -> int:
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            checksum ^= generator[i] if (top >> i) & 1 else 0
    return checksum


def bech32(prefix: str, data: bytes) -> str:
    """BIP 173 Bech32 without its length limit, as age encodes recipients."""
    words, accumulator, bits = [], 0, 0
    for byte in data:
        accumulator, bits = (accumulator << 8) | byte, bits + 8
        while bits >= 5:
            bits -= 5
            words.append((accumulator >> bits) & 31)
    if bits:
        words.append((accumulator << (5 - bits)) & 31)
    expanded = [ord(c) >> 5 for c in prefix] + [0] + [ord(c) & 31 for c in prefix]
    checksum = _polymod(expanded + words + [0] * 6) ^ 1
    words += [(checksum >> 5 * (5 - i)) & 31 for i in range(6)]
    return prefix + "1" + "".join(_BECH32[word] for word in words)


def _p256_point(form: serialization.PublicFormat) -> bytes:
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    return public.public_bytes(serialization.Encoding.X962, form)


def age_tagpq_recipient() -> str:
    """An ``age1tagpq1`` recipient: an ML-KEM-768 encapsulation key, then a P-256 point."""
    pq = mlkem.MLKEM768PrivateKey.generate().public_key().public_bytes_raw()
    return bech32("age1tagpq", pq + _p256_point(serialization.PublicFormat.UncompressedPoint))


def age_tag_recipient() -> str:
    return bech32("age1tag", _p256_point(serialization.PublicFormat.CompressedPoint))


def age_header_stanzas(package: bytes) -> list[str]:
    """The recipient types an age file's header names (``-> X25519 ...``), but the random
    "grease" stanzas that rage adds so that parsers stay tolerant of unknown types."""
    header = package.split(b"\n---", 1)[0].decode("ascii").splitlines()
    assert header[0] == "age-encryption.org/v1"
    stanzas = [line.split()[1] for line in header[1:] if line.startswith("-> ")]
    return [kind for kind in stanzas if not kind.endswith("-grease")]


# ---- reports ------------------------------------------------------------------------------


def consented_report(
    words: str, *, share: str | None, publish: str | None = "no"
) -> dict[str, Any]:
    """A report with every field filled in, its free text holding ``words``."""
    return {
        "v": 1,
        "incident_types": ["arbitrary_arrest", "surveillance"],
        "start": {"date": "2026-03-04", "precision": "exact"},
        "end": {"date": "2026-03", "precision": "month"},
        "ongoing": True,
        "in_danger_now": "yes",
        "location": {
            "governorate": "sulaymaniyah",
            "district": f"{words} district",
            "place_type": "home",
        },
        "target": {"who": "me", "sector": "journalist", "gender": "woman", "age_band": "30_44"},
        "perpetrator": {
            "types": ["krg_security"],
            "identification": "suspected",
            "identifiers": f"{words} unit",
        },
        "narrative": f"{words}: they came at night.",
        "needs": ["legal", "relocation"],
        "consent": {"share": share, "publish": publish},
    }


def as_bytes(report: dict[str, Any]) -> bytes:
    return json.dumps(report, ensure_ascii=False).encode("utf-8")
