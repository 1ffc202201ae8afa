import unicodedata
import uuid

import pytest
from argon2 import PasswordHasher

from hrd_reports.crypto.errors import DecryptionFailed, InvalidKeyMaterial
from hrd_reports.crypto.passwords import (
    RFC9106_LOW_MEMORY,
    Argon2Params,
    PasswordProtection,
)

CHEAP = Argon2Params(time_cost=1, memory_kib=64, parallelism=1)
PEPPER = bytes(range(32))
OWNER = uuid.UUID("7e1f2d3c-4b5a-4968-8776-5a4b3c2d1e0f")
SEED = bytes(range(100, 132))


@pytest.fixture
def protection() -> PasswordProtection:
    return PasswordProtection(pepper=PEPPER, params=CHEAP)


def test_password_verifies_and_a_wrong_one_does_not(protection: PasswordProtection) -> None:
    stored = protection.hash_password("long enough password")
    assert protection.verify_password(stored, "long enough password")
    assert not protection.verify_password(stored, "long enough passworD")
    assert not protection.verify_password("not a PHC string", "long enough password")


def test_login_hash_cannot_be_checked_without_the_pepper(protection: PasswordProtection) -> None:
    # A copy of the database alone gives a PHC string that the password itself does not
    # match: guessing offline needs the pepper from keys/ too.
    stored = protection.hash_password("long enough password")
    assert stored.startswith("$argon2id$")
    with pytest.raises(Exception, match="not match"):
        PasswordHasher().verify(stored, "long enough password")
    other_pepper = PasswordProtection(pepper=bytes(32), params=CHEAP)
    assert not other_pepper.verify_password(stored, "long enough password")


def test_unicode_forms_of_one_password_are_the_same_password(
    protection: PasswordProtection,
) -> None:
    composed = unicodedata.normalize("NFC", "كلمة سرّ طويلة جدًا")
    decomposed = unicodedata.normalize("NFD", composed)
    stored = protection.hash_password(composed)
    assert protection.verify_password(stored, decomposed)


def test_protected_seed_opens_with_password_pepper_and_owner(
    protection: PasswordProtection,
) -> None:
    blob = protection.protect_seed(SEED, password="long enough password", owner=OWNER)
    assert SEED not in blob
    assert protection.unprotect_seed(blob, password="long enough password", owner=OWNER) == SEED


@pytest.mark.parametrize(
    ("password", "pepper", "owner"),
    [
        ("wrong password!!", PEPPER, OWNER),
        ("long enough password", bytes(32), OWNER),
        ("long enough password", PEPPER, uuid.UUID(int=1)),
    ],
    ids=["wrong password", "other pepper", "moved to another user"],
)
def test_protected_seed_refuses_anything_else(
    password: str, pepper: bytes, owner: uuid.UUID
) -> None:
    blob = PasswordProtection(pepper=PEPPER, params=CHEAP).protect_seed(
        SEED, password="long enough password", owner=OWNER
    )
    with pytest.raises(DecryptionFailed):
        PasswordProtection(pepper=pepper, params=CHEAP).unprotect_seed(
            blob, password=password, owner=owner
        )


def test_every_flipped_byte_of_a_protected_seed_is_refused(protection: PasswordProtection) -> None:
    blob = protection.protect_seed(SEED, password="long enough password", owner=OWNER)
    for position in range(len(blob)):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(DecryptionFailed):
            protection.unprotect_seed(bytes(tampered), password="long enough password", owner=OWNER)


@pytest.mark.parametrize(
    ("offset", "value"),
    [
        (1, 17),  # time cost: more passes than any sound setting
        (5, 2 * 1024 * 1024 + 1),  # memory: more than 2 GiB
        (5, 4 * 1024 * 1024),  # memory: 4 GiB
        (9, 17),  # parallelism
    ],
    ids=["time", "memory over 2 GiB", "memory 4 GiB", "lanes"],
)
def test_header_asking_for_excessive_costs_is_refused_before_argon2_runs(
    protection: PasswordProtection, offset: int, value: int
) -> None:
    blob = bytearray(protection.protect_seed(SEED, password="long enough password", owner=OWNER))
    width = 1 if offset == 9 else 4
    blob[offset : offset + width] = value.to_bytes(width, "big")
    with pytest.raises(DecryptionFailed, match="parameters"):
        protection.unprotect_seed(bytes(blob), password="long enough password", owner=OWNER)


def test_raised_costs_mark_old_hashes_and_blobs_outdated(protection: PasswordProtection) -> None:
    stored = protection.hash_password("long enough password")
    blob = protection.protect_seed(SEED, password="long enough password", owner=OWNER)
    stronger = PasswordProtection(pepper=PEPPER, params=Argon2Params(2, 128, 1))
    assert not protection.password_hash_outdated(stored)
    assert not protection.protection_outdated(blob)
    assert stronger.password_hash_outdated(stored)
    assert stronger.protection_outdated(blob)
    # Old blobs still open under the new setting: their parameters travel with them.
    assert stronger.unprotect_seed(blob, password="long enough password", owner=OWNER) == SEED


def test_production_parameters_are_rfc9106_low_memory() -> None:
    expected = Argon2Params(time_cost=3, memory_kib=65536, parallelism=4)
    assert expected == RFC9106_LOW_MEMORY


def test_pepper_of_wrong_size_is_refused() -> None:
    with pytest.raises(InvalidKeyMaterial):
        PasswordProtection(pepper=b"short", params=CHEAP)
