"""Evidence files' cryptography: each file opens only whole, in order, where it was sent.

A chunk altered, moved to another file, report or message, put at another index, passed off
as the last one, left out or added must make the file refuse to open; so must a record that
was altered or does not fit its chunks. And an upload may only declare a layout an honest
client makes, so the server never stores room for what no file needs.
"""

import hashlib
import itertools
import uuid
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hrd_reports.crypto.attachments import (
    CHUNK_OVERHEAD,
    CHUNK_SIZE,
    MIN_PADDED_SIZE,
    ChunkEncryptor,
    Layout,
    MetadataChoice,
    Record,
    attachment_key,
    decrypt_chunk,
    decrypt_file,
    decrypt_record,
    encrypt_chunk,
    encrypt_record,
    padded_chunks,
    padded_size,
    record_sizes,
)
from hrd_reports.crypto.errors import DecryptionFailed, MalformedEnvelope

SOURCE_KEY = bytes(range(32))
REPORT, MESSAGE, ATTACHMENT = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
SIZES = [0, 1, 4096, 4097, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE + 5]


def content_of(size: int) -> bytes:
    return bytes((i * 31 + (i >> 9)) & 0xFF for i in range(size))


def ids(message_id: UUID | None = None) -> dict[str, UUID | None]:
    return {"report_id": REPORT, "message_id": message_id, "attachment_id": ATTACHMENT}


def seal(
    content: bytes, message_id: UUID | None = None
) -> tuple[bytes, list[bytes], bytes, Record]:
    """The file as an honest browser sends it: its key, chunks, sealed record and record."""
    key = attachment_key(SOURCE_KEY, **ids(message_id))
    plaintexts = list(padded_chunks([content], size=len(content)))
    chunks = [
        encrypt_chunk(key, text, index=i, last=i == len(plaintexts) - 1, **ids(message_id))
        for i, text in enumerate(plaintexts)
    ]
    digest = hashlib.sha256(content).hexdigest()
    record = Record("شهادة.mp4", "video/mp4", len(content), digest, digest, MetadataChoice.KEPT)
    return key, chunks, encrypt_record(key, record, **ids(message_id)), record


def open_file(
    key: bytes,
    chunks: list[bytes],
    record: Record,
    *,
    chunk_total: int | None = None,
    message_id: UUID | None = None,
    **other: UUID,
) -> bytes:
    where = {**ids(message_id), **other}
    total = len(chunks) if chunk_total is None else chunk_total
    return b"".join(decrypt_file(key, chunks, record=record, chunk_total=total, **where))


def flipped(blob: bytes, at: int) -> bytes:
    return blob[:at] + bytes([blob[at] ^ 0x01]) + blob[at + 1 :]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("message_id", [None, MESSAGE], ids=["report", "message"])
def test_attachment_round_trip_gives_the_file_back(size: int, message_id: UUID | None) -> None:
    content = content_of(size)
    key, chunks, sealed_record, record = seal(content, message_id)
    assert decrypt_record(key, sealed_record, **ids(message_id)) == record
    assert len(sealed_record) in record_sizes()
    assert open_file(key, chunks, record, message_id=message_id) == content
    layout = Layout.of_file(size)
    assert [len(chunk) for chunk in chunks] == [
        layout.stored_length(i) for i in range(layout.chunks)
    ]


def test_attachment_key_differs_for_each_owner_and_file() -> None:
    keys = {
        attachment_key(SOURCE_KEY, report_id=REPORT, message_id=None, attachment_id=ATTACHMENT),
        attachment_key(SOURCE_KEY, report_id=REPORT, message_id=MESSAGE, attachment_id=ATTACHMENT),
        attachment_key(SOURCE_KEY, report_id=REPORT, message_id=None, attachment_id=uuid.uuid4()),
        attachment_key(
            SOURCE_KEY, report_id=uuid.uuid4(), message_id=None, attachment_id=ATTACHMENT
        ),
    }
    assert len(keys) == 4
    with pytest.raises(MalformedEnvelope):
        attachment_key(bytes(16), report_id=REPORT, message_id=None, attachment_id=ATTACHMENT)


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize("at", [0, 12, -1], ids=["nonce", "ciphertext", "tag"])
def test_attachment_with_any_chunk_altered_is_refused(index: int, at: int) -> None:
    key, chunks, _, record = seal(content_of(2 * CHUNK_SIZE + 5))
    chunks[index] = flipped(chunks[index], at % len(chunks[index]))
    with pytest.raises(DecryptionFailed):
        open_file(key, chunks, record)


@pytest.mark.parametrize("at", [0, 12, -1], ids=["nonce", "ciphertext", "tag"])
def test_attachment_record_altered_is_refused(at: int) -> None:
    key, _, sealed_record, _ = seal(content_of(10))
    with pytest.raises(DecryptionFailed):
        decrypt_record(key, flipped(sealed_record, at % len(sealed_record)), **ids())


@pytest.mark.parametrize(
    "other",
    [
        {"report_id": uuid.uuid4()},
        {"attachment_id": uuid.uuid4()},
        {"message_id": MESSAGE},
    ],
    ids=["report", "attachment", "owner"],
)
def test_attachment_moved_to_another_report_file_or_owner_is_refused(
    other: dict[str, UUID],
) -> None:
    # The same key on purpose: only the additional data differs.
    key, chunks, sealed_record, record = seal(content_of(5000))
    where = {**ids(), **other}
    with pytest.raises(DecryptionFailed):
        decrypt_record(key, sealed_record, **where)
    with pytest.raises(DecryptionFailed):
        b"".join(decrypt_file(key, chunks, record=record, chunk_total=len(chunks), **where))


def test_attachment_under_another_key_is_refused() -> None:
    _, chunks, sealed_record, record = seal(content_of(5000))
    other = attachment_key(bytes(32), **ids())
    with pytest.raises(DecryptionFailed):
        decrypt_record(other, sealed_record, **ids())
    with pytest.raises(DecryptionFailed):
        open_file(other, chunks, record)


def test_attachment_with_chunks_swapped_is_refused() -> None:
    key, chunks, _, record = seal(content_of(2 * CHUNK_SIZE + 5))
    chunks[0], chunks[1] = chunks[1], chunks[0]
    with pytest.raises(DecryptionFailed):
        open_file(key, chunks, record)


def test_attachment_cut_short_with_a_record_to_match_is_refused_by_the_last_flag() -> None:
    # Three chunks; a record (forged with the key) for a file of two: the second chunk was
    # sealed as "more", so it cannot pass for the last one.
    key, chunks, _, record = seal(content_of(2 * CHUNK_SIZE + 5))
    assert len(chunks) == 3
    shorter = Record(
        record.name, record.media_type, 2 * CHUNK_SIZE, "0" * 64, "0" * 64, record.metadata
    )
    assert Layout.of_file(shorter.size).chunks == 2
    with pytest.raises(DecryptionFailed):
        open_file(key, chunks[:2], shorter)


def test_attachment_with_chunks_missing_is_refused() -> None:
    key, chunks, _, record = seal(content_of(2 * CHUNK_SIZE + 5))
    with pytest.raises(DecryptionFailed):
        open_file(key, chunks[:2], record, chunk_total=3)
    with pytest.raises(DecryptionFailed):
        open_file(key, chunks[:2], record)  # the record does not fit two chunks


def test_attachment_with_chunks_added_is_refused() -> None:
    key, chunks, _, record = seal(content_of(2 * CHUNK_SIZE + 5))
    with pytest.raises(DecryptionFailed):
        open_file(key, [*chunks, chunks[0]], record, chunk_total=3)
    with pytest.raises(DecryptionFailed):
        open_file(key, [*chunks, chunks[0]], record)


def test_attachment_whose_padding_is_not_zeros_is_refused() -> None:
    content = content_of(5000)
    key, chunks, _, record = seal(content)
    padded = next(padded_chunks([content], size=len(content)))
    forged = padded[:-1] + b"\x01"
    chunks[0] = encrypt_chunk(key, forged, index=0, last=True, **ids())
    with pytest.raises(DecryptionFailed):
        open_file(key, chunks, record)


def test_attachment_record_claiming_another_size_is_refused() -> None:
    key, chunks, _, record = seal(content_of(5000))
    larger = Record(record.name, record.media_type, 6000, "0" * 64, "0" * 64, record.metadata)
    assert Layout.of_file(6000).chunks == len(chunks)
    with pytest.raises(DecryptionFailed):
        open_file(key, chunks, larger)  # the last chunk is shorter than 6,000 bytes pad to


@pytest.mark.parametrize("size", SIZES)
def test_layout_of_upload_accepts_what_an_honest_client_declares(size: int) -> None:
    honest = Layout.of_file(size)
    declared = Layout.of_upload(
        chunks=honest.chunks, stored_size=honest.stored_size, max_file_size=3 * CHUNK_SIZE
    )
    assert declared == honest


@pytest.mark.parametrize(
    ("chunks", "stored_size"),
    [
        (0, 0),  # no chunk
        (0, MIN_PADDED_SIZE),  # no chunk, yet bytes
        (-1, MIN_PADDED_SIZE),  # a negative count
        (1, MIN_PADDED_SIZE - 1 + CHUNK_OVERHEAD),  # shorter than any padded file
        (1, 4097 + CHUNK_OVERHEAD),  # not a Padmé length
        (2, MIN_PADDED_SIZE + 2 * CHUNK_OVERHEAD),  # one chunk's worth in two
        (1, 2 * CHUNK_SIZE + CHUNK_OVERHEAD),  # two chunks' worth in one
        (3, 2 * CHUNK_SIZE + 3 * CHUNK_OVERHEAD),  # a padded length, but an empty chunk
    ],
)
def test_layout_of_upload_refuses_a_dishonest_layout(chunks: int, stored_size: int) -> None:
    with pytest.raises(MalformedEnvelope):
        Layout.of_upload(chunks=chunks, stored_size=stored_size, max_file_size=3 * CHUNK_SIZE)


def test_layout_of_upload_refuses_a_file_larger_than_the_desk_accepts() -> None:
    limit = 10 * CHUNK_SIZE
    fits, over = Layout.of_file(limit), Layout.of_file(padded_size(limit) + 1)
    assert Layout.of_upload(chunks=fits.chunks, stored_size=fits.stored_size, max_file_size=limit)
    with pytest.raises(MalformedEnvelope):
        Layout.of_upload(chunks=over.chunks, stored_size=over.stored_size, max_file_size=limit)


def test_padded_size_is_padme_and_never_below_the_minimum() -> None:
    assert [padded_size(n) for n in (0, 1, 4096, 4097, 5000, 2**20 + 1)] == [
        4096,
        4096,
        4096,
        4352,
        5120,
        2**20 + 2**15,
    ]
    for size in range(4097, 300_000, 997):
        padded = padded_size(size)
        assert size <= padded <= size * 1.12
        assert padded_size(padded) == padded
    with pytest.raises(MalformedEnvelope):
        padded_size(-1)


def test_padded_chunks_refuses_a_file_of_another_length_than_declared() -> None:
    with pytest.raises(MalformedEnvelope):
        list(padded_chunks([b"abc"], size=2))
    with pytest.raises(MalformedEnvelope):
        list(padded_chunks([b"abc"], size=4))


@settings(max_examples=30, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=3 * CHUNK_SIZE + 10),
    cuts=st.lists(st.integers(min_value=0, max_value=3 * CHUNK_SIZE + 10), max_size=8),
)
def test_chunk_encryptor_of_a_stream_matches_padded_chunks(size: int, cuts: list[int]) -> None:
    # The no-JavaScript path (length known only at the end) seals what the browser seals
    # (length known first), however the stream is cut.
    content = content_of(size)
    bounds = sorted({0, size, *(cut for cut in cuts if cut <= size)})
    pieces = [content[a:b] for a, b in itertools.pairwise(bounds)]
    encryptor = ChunkEncryptor(SOURCE_KEY, **ids())
    sealed = [chunk for piece in pieces for chunk in encryptor.feed(piece)]
    sealed += encryptor.finish()
    expected = list(padded_chunks(pieces, size=size))
    assert len(sealed) == len(expected)
    opened = [
        decrypt_chunk(SOURCE_KEY, blob, index=i, last=i == len(sealed) - 1, **ids())
        for i, blob in enumerate(sealed)
    ]
    assert opened == expected
    assert (encryptor.size, encryptor.sha256_sent) == (size, hashlib.sha256(content).hexdigest())
