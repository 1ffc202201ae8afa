"""Attachments, version 1: evidence files encrypted in the reporter's browser, chunk by chunk.

A file is encrypted under its own key, derived with HKDF-SHA256 from the key its owner is
encrypted under (a report's data key, or the reporter's message key for a file sent with a
follow-up message) with an ``info`` naming the report, the owner and the attachment. It is then
cut into fixed-size chunks, each AES-256-GCM-encrypted on its own with a random nonce and
additional data binding the report, the owner, the attachment, the chunk's index and whether it
is the last one. So no chunk can be moved to another file or position, and a file cut short or
made longer does not open. Each chunk travels in its own request, which makes uploads resumable
over a connection that drops.

Before encryption the file is padded with zeros to a Padmé length (Nikitin et al., "Reducing
Metadata Leakage from Encrypted Files and Communication with PURBs", PETS 2019): at most 12 %
longer, and its stored size reveals about log log of its length instead of the length. The true
length travels in the attachment's record: its name, media type, size, the SHA-256 of the
original file and of what was sent, and what was done with its metadata, as JSON padded to a
bucket and encrypted under the same key.

Wire format of chunk ``i`` of ``n``:
``nonce || AES-256-GCM(key, padded[i*CHUNK_SIZE:(i+1)*CHUNK_SIZE],
aad="hrd-reports/1/attachment-chunk/<report>/<owner>/<attachment>/<i>/<last|more>")``
where ``owner`` is ``report`` or the message's id, and ``key = HKDF-SHA256(source, salt=None,
info="hrd-reports/1/attachment-key/<report>/<owner>/<attachment>")``. The record is
``nonce || AES-256-GCM(key, pad(json), aad="hrd-reports/1/attachment-record/<report>/<owner>/
<attachment>")``. The browser builds the very same bytes (``tests/testdata/vectors.json``).
"""

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hrd_reports.crypto.aead import KEY_SIZE, NONCE_SIZE, TAG_SIZE, aes_gcm_decrypt, aes_gcm_encrypt
from hrd_reports.crypto.contexts import Purpose, bind
from hrd_reports.crypto.envelope import bucket_sizes, pad, unpad
from hrd_reports.crypto.errors import DecryptionFailed, MalformedEnvelope

# One request's worth over Tor: small enough that a dropped connection loses little, large
# enough that a 100 MB file is a hundred requests, not thousands.
CHUNK_SIZE = 1024 * 1024
CHUNK_OVERHEAD = NONCE_SIZE + TAG_SIZE
MAX_CHUNK_BYTES = CHUNK_SIZE + CHUNK_OVERHEAD
# No file pads to less, so a one-line text file and a 3 KB one look alike.
MIN_PADDED_SIZE = 4096
# A record holds a file name of up to 255 characters (up to 1,020 bytes of UTF-8) with room
# to spare; padded to one of three buckets so the name's length does not show.
MAX_RECORD_BUCKET = 4096
MAX_NAME_CHARS = 255
MAX_MEDIA_TYPE_CHARS = 127
REPORT_OWNER = "report"


class MetadataChoice(StrEnum):
    """What was done with a file's embedded metadata before it was encrypted."""

    REMOVED = "removed"  # a photo, cleaned in the browser (or on the server without JavaScript)
    KEPT = "kept"  # a photo whose reporter chose to send the original, after a warning
    NOT_CHECKED = "not-checked"  # a type that cannot be cleaned here (PDF, audio...): warned


def owner_of(message_id: UUID | None) -> str:
    return REPORT_OWNER if message_id is None else str(message_id)


def _subjects(report_id: UUID, message_id: UUID | None, attachment_id: UUID) -> tuple[str, ...]:
    return str(report_id), owner_of(message_id), str(attachment_id)


def attachment_key(
    source_key: bytes, *, report_id: UUID, message_id: UUID | None, attachment_id: UUID
) -> bytes:
    """The file's own key, from its report's DEK (``message_id`` None) or the message key."""
    if len(source_key) != KEY_SIZE:
        raise MalformedEnvelope(f"an attachment's source key is {KEY_SIZE} bytes long")
    info = bind(Purpose.ATTACHMENT_KEY, *_subjects(report_id, message_id, attachment_id))
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=info).derive(source_key)


def padded_size(size: int) -> int:
    """Padmé: keep the top ``floor(log2(E)) + 1`` bits of the length (E its bit length - 1)."""
    if size < 0:
        raise MalformedEnvelope("a file's size cannot be negative")
    if size <= MIN_PADDED_SIZE:
        return MIN_PADDED_SIZE
    exponent = size.bit_length() - 1
    significant = exponent.bit_length()
    mask = (1 << (exponent - significant)) - 1
    return (size + mask) & ~mask


def chunk_count(padded: int) -> int:
    return -(-padded // CHUNK_SIZE)


@dataclass(frozen=True)
class Layout:
    """How many chunks a padded file makes and how long each stored chunk is."""

    padded: int
    chunks: int

    @classmethod
    def of_file(cls, size: int) -> "Layout":
        padded = padded_size(size)
        return cls(padded=padded, chunks=chunk_count(padded))

    @classmethod
    def of_upload(cls, *, chunks: int, stored_size: int, max_file_size: int) -> "Layout":
        """The layout an upload declares (chunk count, total stored bytes), if an honest
        client could have made it for a file of at most ``max_file_size`` bytes."""
        padded = stored_size - chunks * CHUNK_OVERHEAD
        if chunks < 1 or padded < MIN_PADDED_SIZE:
            raise MalformedEnvelope("the upload's size is not one an attachment can have")
        if padded > padded_size(max_file_size):
            raise MalformedEnvelope("the file is larger than this desk accepts")
        if padded_size(padded) != padded or chunk_count(padded) != chunks:
            raise MalformedEnvelope("the upload's size is not one an attachment can have")
        return cls(padded=padded, chunks=chunks)

    @property
    def stored_size(self) -> int:
        return self.padded + self.chunks * CHUNK_OVERHEAD

    def plaintext_length(self, index: int) -> int:
        if not 0 <= index < self.chunks:
            raise MalformedEnvelope("the chunk index is out of range")
        if index < self.chunks - 1:
            return CHUNK_SIZE
        return self.padded - (self.chunks - 1) * CHUNK_SIZE

    def stored_length(self, index: int) -> int:
        return self.plaintext_length(index) + CHUNK_OVERHEAD


def _chunk_aad(
    report_id: UUID, message_id: UUID | None, attachment_id: UUID, index: int, last: bool
) -> bytes:
    subjects = _subjects(report_id, message_id, attachment_id)
    return bind(Purpose.ATTACHMENT_CHUNK, *subjects, str(index), "last" if last else "more")


def encrypt_chunk(
    key: bytes,
    plaintext: bytes,
    *,
    report_id: UUID,
    message_id: UUID | None,
    attachment_id: UUID,
    index: int,
    last: bool,
    nonce: bytes | None = None,
) -> bytes:
    """``nonce`` is for known-answer tests only."""
    aad = _chunk_aad(report_id, message_id, attachment_id, index, last)
    return aes_gcm_encrypt(key, plaintext, aad=aad, nonce=nonce)


def decrypt_chunk(
    key: bytes,
    blob: bytes,
    *,
    report_id: UUID,
    message_id: UUID | None,
    attachment_id: UUID,
    index: int,
    last: bool,
) -> bytes:
    aad = _chunk_aad(report_id, message_id, attachment_id, index, last)
    return aes_gcm_decrypt(key, blob, aad=aad)


def padded_chunks(content: Iterable[bytes], *, size: int) -> Iterator[bytes]:
    """The file's bytes, as they arrive, cut into the plaintexts of its chunks, padded.

    For a file whose length is known before it is read (``File.size`` in the browser, the
    reference client); :class:`ChunkEncryptor` is for one whose length shows only at its end.
    """
    layout = Layout.of_file(size)
    buffer = bytearray()
    seen = 0
    index = 0
    for piece in content:
        seen += len(piece)
        if seen > size:
            raise MalformedEnvelope("the file is longer than its declared size")
        buffer += piece
        while len(buffer) >= CHUNK_SIZE and index < layout.chunks - 1:
            yield bytes(buffer[:CHUNK_SIZE])
            del buffer[:CHUNK_SIZE]
            index += 1
    if seen != size:
        raise MalformedEnvelope("the file is shorter than its declared size")
    buffer += bytes(layout.padded - (index * CHUNK_SIZE) - len(buffer))
    while index < layout.chunks:
        yield bytes(buffer[: layout.plaintext_length(index)])
        del buffer[: layout.plaintext_length(index)]
        index += 1


class ChunkEncryptor:
    """Encrypts a stream of unknown length chunk by chunk, holding at most one chunk.

    For a file whose length is known only at its end (a multipart upload from a browser
    without JavaScript): full chunks are encrypted as they fill, and since which chunk is the
    last depends on the padded length, one full chunk is held back until the next byte shows
    it is not the last.
    """

    def __init__(
        self, key: bytes, *, report_id: UUID, message_id: UUID | None, attachment_id: UUID
    ) -> None:
        self._key = key
        self._report_id = report_id
        self._message_id = message_id
        self._attachment_id = attachment_id
        self._buffer = bytearray()
        self._index = 0
        self.size = 0
        self._sent = hashlib.sha256()

    def _encrypt(self, plaintext: bytes, *, last: bool) -> bytes:
        blob = encrypt_chunk(
            self._key,
            plaintext,
            report_id=self._report_id,
            message_id=self._message_id,
            attachment_id=self._attachment_id,
            index=self._index,
            last=last,
        )
        self._index += 1
        return blob

    def feed(self, data: bytes) -> list[bytes]:
        """Takes the next bytes of the file; returns the chunks now known not to be last."""
        self.size += len(data)
        self._sent.update(data)
        self._buffer += data
        done = []
        # A full chunk with more bytes after it is not the last; without, it may be.
        while len(self._buffer) > CHUNK_SIZE:
            done.append(self._encrypt(bytes(self._buffer[:CHUNK_SIZE]), last=False))
            del self._buffer[:CHUNK_SIZE]
        return done

    def finish(self) -> list[bytes]:
        """The remaining chunks, padding included; ``self.size`` is the file's length."""
        layout = Layout.of_file(self.size)
        already = self._index * CHUNK_SIZE
        self._buffer += bytes(layout.padded - already - len(self._buffer))
        done = []
        while self._index < layout.chunks:
            length = layout.plaintext_length(self._index)
            plaintext = bytes(self._buffer[:length])
            del self._buffer[:length]
            done.append(self._encrypt(plaintext, last=self._index == layout.chunks - 1))
        return done

    @property
    def sha256_sent(self) -> str:
        return self._sent.hexdigest()


@dataclass(frozen=True)
class Record:
    """What the desk is told of a file, encrypted beside it.

    The name is never printed: a file name can say as much as the file.
    """

    name: str = field(repr=False)
    media_type: str
    size: int
    sha256_original: str
    sha256_sent: str
    metadata: MetadataChoice

    def to_json_bytes(self) -> bytes:
        return json.dumps(
            {
                "name": self.name,
                "type": self.media_type,
                "size": self.size,
                "sha256": self.sha256_original,
                "sha256_sent": self.sha256_sent,
                "metadata": self.metadata.value,
            },
            ensure_ascii=False,
            separators=(",", ":"),
            sort_keys=True,
        ).encode("utf-8")

    @classmethod
    def from_json_bytes(cls, raw: bytes) -> "Record":
        """A record as its (untrusted) author wrote it, refused unless well formed."""
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise DecryptionFailed("the attachment's record is not JSON") from exc
        if not isinstance(data, dict) or set(data) != _RECORD_FIELDS:
            raise DecryptionFailed("the attachment's record has the wrong fields")
        name, media_type, size = data["name"], data["type"], data["size"]
        original, sent, choice = data["sha256"], data["sha256_sent"], data["metadata"]
        if not (isinstance(name, str) and 0 < len(name) <= MAX_NAME_CHARS):
            raise DecryptionFailed("the attachment's name is malformed")
        if not (isinstance(media_type, str) and len(media_type) <= MAX_MEDIA_TYPE_CHARS):
            raise DecryptionFailed("the attachment's media type is malformed")
        if not (isinstance(size, int) and not isinstance(size, bool) and size >= 0):
            raise DecryptionFailed("the attachment's size is malformed")
        if not (_is_sha256_hex(original) and _is_sha256_hex(sent)):
            raise DecryptionFailed("the attachment's hashes are malformed")
        try:
            metadata = MetadataChoice(choice)
        except ValueError as exc:
            raise DecryptionFailed("the attachment's metadata choice is unknown") from exc
        return cls(name, media_type, size, original, sent, metadata)


_RECORD_FIELDS = frozenset({"name", "type", "size", "sha256", "sha256_sent", "metadata"})


def _is_sha256_hex(value: object) -> bool:
    return (
        isinstance(value, str)
        and len(value) == 64
        and all(character in "0123456789abcdef" for character in value)
    )


def record_sizes() -> frozenset[int]:
    """Every length an honest encrypted record can have."""
    return frozenset(size + CHUNK_OVERHEAD for size in bucket_sizes(MAX_RECORD_BUCKET))


def encrypt_record(
    key: bytes,
    record: Record,
    *,
    report_id: UUID,
    message_id: UUID | None,
    attachment_id: UUID,
    nonce: bytes | None = None,
) -> bytes:
    aad = bind(Purpose.ATTACHMENT_RECORD, *_subjects(report_id, message_id, attachment_id))
    padded = pad(record.to_json_bytes(), max_bucket=MAX_RECORD_BUCKET)
    return aes_gcm_encrypt(key, padded, aad=aad, nonce=nonce)


def decrypt_record(
    key: bytes, blob: bytes, *, report_id: UUID, message_id: UUID | None, attachment_id: UUID
) -> Record:
    aad = bind(Purpose.ATTACHMENT_RECORD, *_subjects(report_id, message_id, attachment_id))
    try:
        raw = unpad(aes_gcm_decrypt(key, blob, aad=aad))
    except MalformedEnvelope as exc:
        raise DecryptionFailed("the attachment's record is badly padded") from exc
    return Record.from_json_bytes(raw)


def decrypt_file(
    key: bytes,
    chunks: Iterable[bytes],
    *,
    record: Record,
    chunk_total: int,
    report_id: UUID,
    message_id: UUID | None,
    attachment_id: UUID,
) -> Iterator[bytes]:
    """The file's bytes, chunk by chunk, without its padding; refused if anything is off.

    The record's size must fit the stored layout, every chunk must open at its position, and
    the padding must be zeros. A refusal can come after some bytes were yielded: a caller
    writing a file removes it, one streaming a download cuts the response short.
    """
    layout = Layout.of_file(record.size)
    if layout.chunks != chunk_total:
        raise DecryptionFailed("the attachment's record does not fit its chunks")
    remaining = record.size
    index = -1
    for index, blob in enumerate(chunks):
        if index >= layout.chunks:
            raise DecryptionFailed("the attachment has more chunks than its record says")
        last = index == layout.chunks - 1
        plaintext = decrypt_chunk(
            key,
            blob,
            report_id=report_id,
            message_id=message_id,
            attachment_id=attachment_id,
            index=index,
            last=last,
        )
        if len(plaintext) != layout.plaintext_length(index):
            raise DecryptionFailed("an attachment chunk has the wrong length")
        content, padding = plaintext[:remaining], plaintext[remaining:]
        if any(padding):
            raise DecryptionFailed("the attachment's padding is malformed")
        remaining -= len(content)
        if content:
            yield content
    if index != layout.chunks - 1:
        raise DecryptionFailed("the attachment has fewer chunks than its record says")


@dataclass(frozen=True)
class EncryptedFile:
    """A whole file as the reporter's browser sends it: its chunks and its record."""

    attachment_id: UUID
    chunks: list[bytes] = field(repr=False)
    record: bytes = field(repr=False)

    @property
    def stored_size(self) -> int:
        return sum(len(chunk) for chunk in self.chunks)


def encrypt_file(
    source_key: bytes,
    content: bytes,
    *,
    name: str,
    media_type: str,
    report_id: UUID,
    message_id: UUID | None = None,
    attachment_id: UUID | None = None,
    metadata: MetadataChoice = MetadataChoice.NOT_CHECKED,
    original_sha256: str | None = None,
) -> EncryptedFile:
    """The reference client's file: what ``static/js/attachments.js`` builds in a browser.

    ``original_sha256`` is the hash of the file before its metadata was removed (by default,
    ``content``'s own).
    """
    attachment_id = attachment_id or uuid.uuid4()
    key = attachment_key(
        source_key, report_id=report_id, message_id=message_id, attachment_id=attachment_id
    )
    layout = Layout.of_file(len(content))
    chunks = [
        encrypt_chunk(
            key,
            plaintext,
            report_id=report_id,
            message_id=message_id,
            attachment_id=attachment_id,
            index=index,
            last=index == layout.chunks - 1,
        )
        for index, plaintext in enumerate(padded_chunks([content], size=len(content)))
    ]
    sent = hashlib.sha256(content).hexdigest()
    record = Record(name, media_type, len(content), original_sha256 or sent, sent, metadata)
    sealed_record = encrypt_record(
        key, record, report_id=report_id, message_id=message_id, attachment_id=attachment_id
    )
    return EncryptedFile(attachment_id, chunks, sealed_record)
