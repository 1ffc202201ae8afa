import itertools
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hrd_reports.crypto.envelope import (
    MAX_REPORT_BUCKET,
    MIN_BUCKET,
    NONCE_SIZE,
    SEALED_DEK_SIZE,
    TAG_SIZE,
    body_sizes,
    bucket_sizes,
    decrypt_report_body,
    encrypt_report_body,
    new_dek,
    open_dek,
    pad,
    seal_dek,
    unpad,
)
from hrd_reports.crypto.errors import DecryptionFailed, MalformedEnvelope
from hrd_reports.crypto.xwing import PrivateKey

REPORT = uuid.UUID("0b5e7f0e-3f1a-4d38-a2b6-6a8f3c1d2e4f")
OTHER_REPORT = uuid.UUID("9a0c1e2d-4b6f-4a8e-8c1d-3e5f7a9b0c2d")


@given(st.binary(max_size=3 * MIN_BUCKET))
def test_padding_round_trips(plaintext: bytes) -> None:
    assert unpad(pad(plaintext)) == plaintext


@given(st.binary(max_size=3 * MIN_BUCKET))
def test_padded_length_is_always_a_bucket(plaintext: bytes) -> None:
    assert len(pad(plaintext)) in bucket_sizes()


def test_stored_size_does_not_tell_a_short_report_from_a_longer_one() -> None:
    dek = new_dek()
    short = encrypt_report_body(dek, b"x", report_id=REPORT)
    longer = encrypt_report_body(dek, b"y" * 900, report_id=REPORT)
    assert len(short) == len(longer) == NONCE_SIZE + MIN_BUCKET + TAG_SIZE


def test_buckets_double_from_one_kib_to_the_maximum() -> None:
    sizes = bucket_sizes()
    assert sizes[0] == MIN_BUCKET
    assert sizes[-1] == MAX_REPORT_BUCKET
    assert all(b == 2 * a for a, b in itertools.pairwise(sizes))
    assert body_sizes() == {NONCE_SIZE + size + TAG_SIZE for size in sizes}


def test_report_larger_than_the_largest_bucket_is_refused() -> None:
    with pytest.raises(MalformedEnvelope):
        pad(bytes(MAX_REPORT_BUCKET))


@pytest.mark.parametrize(
    "padded",
    [
        b"",
        b"\x00\x00",
        (2000).to_bytes(4, "big") + bytes(1020),  # length beyond the bucket
        (3).to_bytes(4, "big") + b"abc" + b"\x00\x01" + bytes(1015),  # non-zero padding
    ],
)
def test_malformed_padding_is_refused(padded: bytes) -> None:
    with pytest.raises(MalformedEnvelope):
        unpad(padded)


def test_report_body_decrypts_with_its_dek_and_report_id() -> None:
    dek = new_dek()
    body = encrypt_report_body(dek, "تهديد بالقتل".encode(), report_id=REPORT)
    assert decrypt_report_body(dek, body, report_id=REPORT).decode() == "تهديد بالقتل"


def test_report_body_moved_to_another_report_is_refused() -> None:
    dek = new_dek()
    body = encrypt_report_body(dek, b"report", report_id=REPORT)
    with pytest.raises(DecryptionFailed):
        decrypt_report_body(dek, body, report_id=OTHER_REPORT)


def test_every_flipped_byte_of_a_report_body_is_refused() -> None:
    dek = new_dek()
    body = encrypt_report_body(dek, b"report", report_id=REPORT)
    for position in range(len(body)):
        tampered = bytearray(body)
        tampered[position] ^= 0x80
        with pytest.raises(DecryptionFailed):
            decrypt_report_body(dek, bytes(tampered), report_id=REPORT)


def test_report_body_with_the_wrong_dek_is_refused() -> None:
    body = encrypt_report_body(new_dek(), b"report", report_id=REPORT)
    with pytest.raises(DecryptionFailed):
        decrypt_report_body(new_dek(), body, report_id=REPORT)


def test_dek_sealed_for_one_report_does_not_open_for_another() -> None:
    intake = PrivateKey.generate()
    dek = new_dek()
    sealed = seal_dek(dek, report_id=REPORT, recipient=intake.public)
    assert len(sealed.ciphertext) == SEALED_DEK_SIZE
    assert open_dek(sealed, report_id=REPORT, holder=intake) == dek
    with pytest.raises(DecryptionFailed):
        open_dek(sealed, report_id=OTHER_REPORT, holder=intake)


def test_sealed_value_of_another_size_is_not_taken_as_a_dek() -> None:
    intake = PrivateKey.generate()
    sealed = intake.public.seal(b"short", info=b"hrd-reports/1/report-dek/" + str(REPORT).encode())
    with pytest.raises(DecryptionFailed, match="size"):
        open_dek(sealed, report_id=REPORT, holder=intake)
