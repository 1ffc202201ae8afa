import itertools
import random
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
    decrypt_reporter_key,
    encrypt_report_body,
    encrypt_reporter_key,
    new_dek,
    open_dek,
    pad,
    seal_dek,
    unpad,
)
from hrd_reports.crypto.errors import DecryptionFailed, InvalidKeyMaterial, MalformedEnvelope
from hrd_reports.crypto.messages import MAX_MESSAGE_BUCKET
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


LENGTH_PREFIX = 4
# The largest bucket of a report and of a message: both are padded by ``pad``.
MAX_BUCKETS = [MAX_REPORT_BUCKET, MAX_MESSAGE_BUCKET]


def _text(length: int, seed: int) -> bytes:
    # Any bytes of a given length, up to 256 KiB, without Hypothesis drawing each of them.
    return random.Random(seed).randbytes(length)  # noqa: S311 - test data, not a secret


def _bucket_of(length: int) -> int:
    return next(size for size in bucket_sizes() if LENGTH_PREFIX + length <= size)


@st.composite
def lengths_near_bucket_edges(draw: st.DrawFn) -> int:
    """A text length at, or just either side of, the longest a bucket holds."""
    edge = draw(st.sampled_from(bucket_sizes())) - LENGTH_PREFIX
    return min(edge + draw(st.integers(-2, 2)), MAX_REPORT_BUCKET - LENGTH_PREFIX)


text_lengths = st.integers(0, MAX_REPORT_BUCKET - LENGTH_PREFIX) | lengths_near_bucket_edges()


@given(text_lengths, st.integers(0, 2**32))
def test_padding_of_any_length_round_trips_into_the_smallest_bucket_that_holds_it(
    length: int, seed: int
) -> None:
    plaintext = _text(length, seed)
    padded = pad(plaintext)
    assert len(padded) == _bucket_of(length)
    assert unpad(padded) == plaintext


@given(st.data(), st.sampled_from(range(len(bucket_sizes()))))
def test_encrypted_report_length_tells_the_bucket_and_nothing_finer(
    data: st.DataObject, bucket: int
) -> None:
    # The threat: a copy of the database, or a watcher of the wire, telling a two-line report
    # from a long testimony by its size. Any two reports of one bucket look the same.
    sizes = bucket_sizes()
    shortest = 0 if bucket == 0 else sizes[bucket - 1] - LENGTH_PREFIX + 1
    longest = sizes[bucket] - LENGTH_PREFIX
    lengths = data.draw(st.lists(st.integers(shortest, longest), min_size=2, max_size=2))
    dek = new_dek()
    bodies = [encrypt_report_body(dek, bytes(length), report_id=REPORT) for length in lengths]
    assert {len(body) for body in bodies} == {NONCE_SIZE + sizes[bucket] + TAG_SIZE}


@given(st.sampled_from(MAX_BUCKETS), st.integers(1, MAX_REPORT_BUCKET))
def test_text_larger_than_the_largest_bucket_is_refused(max_bucket: int, excess: int) -> None:
    assert len(pad(bytes(max_bucket - LENGTH_PREFIX), max_bucket=max_bucket)) == max_bucket
    with pytest.raises(MalformedEnvelope):
        pad(bytes(max_bucket - LENGTH_PREFIX + excess), max_bucket=max_bucket)


@given(st.binary(max_size=64) | st.binary(max_size=64).map(pad))
def test_unpad_of_any_bytes_is_refused_or_gives_the_text_its_prefix_names(padded: bytes) -> None:
    # A message's padding is read after it decrypted, from whoever holds its key: malformed
    # padding is refused with MalformedEnvelope, never another exception.
    try:
        text = unpad(padded)
    except MalformedEnvelope:
        return
    assert padded == len(text).to_bytes(LENGTH_PREFIX, "big") + text + bytes(
        len(padded) - LENGTH_PREFIX - len(text)
    )


def test_reporter_key_opens_with_its_dek_and_report_id() -> None:
    dek, key = new_dek(), PrivateKey.generate().public
    box = encrypt_reporter_key(dek, key.raw, report_id=REPORT)
    assert decrypt_reporter_key(dek, box, report_id=REPORT).raw == key.raw
    with pytest.raises(DecryptionFailed):
        decrypt_reporter_key(dek, box, report_id=OTHER_REPORT)


def test_reporter_key_that_cannot_be_sealed_to_is_refused_when_opened() -> None:
    # The reporter's client chose it; a low-order X25519 half parses but seals nothing.
    dek = new_dek()
    weak = PrivateKey.generate().public.raw[:-32] + bytes(32)
    box = encrypt_reporter_key(dek, weak, report_id=REPORT)
    with pytest.raises(InvalidKeyMaterial):
        decrypt_reporter_key(dek, box, report_id=REPORT)
