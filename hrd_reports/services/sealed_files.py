"""Files from a browser without JavaScript, encrypted on the server as they stream in.

The browser's work, done in memory: each file is cut into the same chunks, under the same key
(derived from the report's DEK, or from the message key for a message's files), as
``static/js/attachments.js`` makes, and each chunk is stored as soon as it is encrypted. No
plaintext byte is written anywhere: not to a temporary file (the request is parsed by
``web.streamed_form``, which spools nothing), not to the database, not to a log. Photos lose
their metadata first unless the reporter chose to keep it; a photo is held whole in memory for
that (up to ``MAX_PHOTO_BYTES``), every other file one chunk at a time. The page said
beforehand that this path trusts the server more.
"""

import hashlib
import uuid
from dataclasses import dataclass, field

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from hrd_reports import photos
from hrd_reports.crypto.attachments import (
    MAX_MEDIA_TYPE_CHARS,
    MAX_NAME_CHARS,
    ChunkEncryptor,
    Layout,
    MetadataChoice,
    Record,
    attachment_key,
    encrypt_record,
)
from hrd_reports.db import unit_of_work
from hrd_reports.i18n import N_
from hrd_reports.models import Attachment, AttachmentChunk
from hrd_reports.services import attachments
from hrd_reports.services.attachments import AttachmentLimits, FileNamed
from hrd_reports.services.clock import naive_utc_now
from hrd_reports.services.errors import Conflict, Invalid, TooLarge

# A photo is cleaned whole; phones write photos of a few MB, editors rarely past 50 MB.
MAX_PHOTO_BYTES = 64 * 1024 * 1024
# Enough to tell a photo from anything else.
_SNIFF_BYTES = 32


@dataclass
class _File:
    attachment_id: uuid.UUID
    pk: int
    name: str
    media_type: str
    encryptor: ChunkEncryptor
    original: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    head: bytearray = field(default_factory=bytearray)
    # A photo to clean: held whole until its end.
    photo: bytearray | None = None
    decided: bool = False
    kind: photos.PhotoKind | None = None
    size: int = 0
    stored_chunks: int = 0
    stored_bytes: int = 0


class ServerSealedFiles:
    """The files of one form, in the order they arrive; ``named()`` once they all have."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        source_key: bytes,
        report_id: uuid.UUID,
        message_id: uuid.UUID | None,
        limits: AttachmentLimits,
        keep_original: bool,
    ) -> None:
        """``source_key`` is the report's DEK, or the reporter's message key for the files of
        the message ``message_id``."""
        self._sessions = sessions
        self._source_key = source_key
        self._report_id = report_id
        self._message_id = message_id
        self._limits = limits
        self._keep_original = keep_original
        self._files: list[_File] = []
        self._records: list[FileNamed] = []
        self._current: _File | None = None

    def begin(self, *, name: str, media_type: str) -> None:
        if len(self._files) >= self._limits.per_report:
            raise attachments.too_many_files(self._limits.per_report)
        attachment_id = uuid.uuid4()
        with unit_of_work(self._sessions) as session:
            if attachments.storage_used(session) >= self._limits.storage_bytes:
                raise attachments.storage_full()
            # Until its report is stored, an upload like any other: if this request dies, the
            # chunks stored so far expire with it.
            row = Attachment(
                public_id=attachment_id,
                bound_report=self._report_id,
                bound_message=self._message_id,
                chunks=0,
                stored_size=0,
                expires_at=naive_utc_now() + self._limits.upload_expiry,
            )
            session.add(row)
            session.commit()
            pk = row.id
        key = self._key(attachment_id)
        encryptor = ChunkEncryptor(
            key, report_id=self._report_id, message_id=self._message_id, attachment_id=attachment_id
        )
        self._current = _File(
            attachment_id,
            pk,
            name[:MAX_NAME_CHARS] or "file",
            media_type[:MAX_MEDIA_TYPE_CHARS],
            encryptor,
        )
        self._files.append(self._current)

    def feed(self, data: bytes) -> None:
        file = self._require_current()
        file.size += len(data)
        if file.size > self._limits.max_file_bytes:
            raise attachments.file_too_large(self._limits.max_file_bytes)
        file.original.update(data)
        if not file.decided:
            file.head += data
            if len(file.head) < _SNIFF_BYTES:
                return
            self._decide(file)
            data, file.head = bytes(file.head), bytearray()
        self._take(file, data)

    def _decide(self, file: _File) -> None:
        file.decided = True
        file.kind = photos.sniff(bytes(file.head))
        if file.kind is not None and not self._keep_original:
            file.photo = bytearray()

    def _take(self, file: _File, data: bytes) -> None:
        if file.photo is not None:
            if len(file.photo) + len(data) > MAX_PHOTO_BYTES:
                raise TooLarge(
                    N_(
                        "a photo larger than %(limit)d MiB cannot be cleaned of its metadata "
                        "here; send it from a browser with JavaScript, or keep the original"
                    ),
                    code="photo_too_large",
                    limit=MAX_PHOTO_BYTES // (1024 * 1024),
                )
            file.photo += data
            return
        self._store(file, file.encryptor.feed(data))

    def _store(self, file: _File, chunks: list[bytes]) -> None:
        if not chunks:
            return
        with unit_of_work(self._sessions) as session:
            for chunk in chunks:
                session.add(
                    AttachmentChunk(attachment_id=file.pk, index=file.stored_chunks, data=chunk)
                )
                file.stored_chunks += 1
                file.stored_bytes += len(chunk)
            session.commit()

    def end(self) -> None:
        file = self._require_current()
        self._current = None
        if not file.decided:
            self._decide(file)
            head, file.head = bytes(file.head), bytearray()
            self._take(file, head)
        # A photo kept as it is by the reporter's choice; any other type cannot be cleaned here.
        choice = MetadataChoice.KEPT if file.kind is not None else MetadataChoice.NOT_CHECKED
        if file.photo is not None:
            try:
                cleaned = photos.strip_metadata(bytes(file.photo))
            except photos.PhotoMalformed as exc:
                raise Invalid(
                    N_("a photo could not be read to remove its metadata; it was not sent"),
                    code="photo_unreadable",
                ) from exc
            file.photo = None
            self._store(file, file.encryptor.feed(cleaned.data))
            choice = MetadataChoice.REMOVED
        self._store(file, file.encryptor.finish())
        layout = Layout.of_file(file.encryptor.size)
        record = Record(
            file.name,
            file.media_type,
            file.encryptor.size,
            file.original.hexdigest(),
            file.encryptor.sha256_sent,
            choice,
        )
        sealed = encrypt_record(
            self._key(file.attachment_id),
            record,
            report_id=self._report_id,
            message_id=self._message_id,
            attachment_id=file.attachment_id,
        )
        with unit_of_work(self._sessions) as session:
            row = session.get(Attachment, file.pk)
            if row is None:  # pragma: no cover - deleted only by expiry, a day later
                raise Conflict(N_("this upload expired; send the report again"))
            row.chunks = layout.chunks
            row.stored_size = file.stored_bytes
            if attachments.storage_used(session) > self._limits.storage_bytes:
                raise attachments.storage_full()
            session.commit()
        self._records.append(FileNamed(file.attachment_id, sealed))

    def _key(self, attachment_id: uuid.UUID) -> bytes:
        return attachment_key(
            self._source_key,
            report_id=self._report_id,
            message_id=self._message_id,
            attachment_id=attachment_id,
        )

    def _require_current(self) -> _File:
        if self._current is None:
            raise Invalid(N_("the form is malformed"))
        return self._current

    def named(self) -> list[FileNamed]:
        return list(self._records)

    def discard(self) -> None:
        """Delete what was stored: the report was refused, or never came."""
        if not self._files:
            return
        with unit_of_work(self._sessions) as session:
            session.execute(
                delete(Attachment).where(Attachment.id.in_([file.pk for file in self._files]))
            )
            session.commit()
