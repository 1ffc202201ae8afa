"""The desk's side of evidence files: listing a report's files, and opening one, audited.

A file opens with its report's data key (or, for a file sent with a follow-up message, the
message key the report holds): whoever may read the report may read its files, and nobody
else. A case worker's grant covers the files of the reports assigned to them, and only those.
Everything a file's record says (name, type, size, hashes) was written by the reporter's
client and is shown as a claim; what the file *is* is read from its first bytes.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy.orm import Session

from hrd_reports import filetypes, received
from hrd_reports.crypto.attachments import (
    Record,
    attachment_key,
    decrypt_chunk,
    decrypt_file,
    decrypt_record,
)
from hrd_reports.crypto.envelope import decrypt_message_key
from hrd_reports.crypto.errors import CryptoError
from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import Attachment, Report
from hrd_reports.services import attachments, audit, reading
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.services.errors import DataIntegrityError, Invalid

_UNKNOWN = "application/octet-stream"


@dataclass(frozen=True)
class FileView:
    """One file of a report as the desk sees it; ``record`` None when it does not open."""

    position: int
    message_id: UUID | None
    stored_size: int
    media_type: str = _UNKNOWN
    record: Record | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        # Written by the reporter's client: its control characters are written out.
        return received.visible(self.record.name) if self.record is not None else ""

    @property
    def media_type_as_sent(self) -> str:
        # Also the reporter's client's: written out as ``name`` is.
        return received.visible(self.record.media_type) if self.record is not None else ""

    @property
    def previewable(self) -> bool:
        return self.record is not None and self.media_type in filetypes.PREVIEWABLE


@dataclass(frozen=True)
class FileKey:
    """What opens one attachment: its own key and the ids its chunks are bound to."""

    key: bytes = field(repr=False)
    report_id: UUID
    message_id: UUID | None
    attachment_id: UUID


def _key_of(session: Session, report: Report, row: Attachment, dek: bytes) -> FileKey:
    message_id = row.bound_message
    source = dek
    if message_id is not None:
        if report.message_key is None:
            raise CryptoError("the report holds no message key")
        source = decrypt_message_key(dek, report.message_key, report_id=report.public_id)
    key = attachment_key(
        source, report_id=report.public_id, message_id=message_id, attachment_id=row.public_id
    )
    return FileKey(key, report.public_id, message_id, row.public_id)


def _open_record(file_key: FileKey, row: Attachment) -> Record:
    if row.record is None:
        raise CryptoError("the file has no record")
    return decrypt_record(
        file_key.key,
        row.record,
        report_id=file_key.report_id,
        message_id=file_key.message_id,
        attachment_id=file_key.attachment_id,
    )


def _sniff(session: Session, file_key: FileKey, row: Attachment) -> str:
    first = decrypt_chunk(
        file_key.key,
        attachments.chunk_data(session, row, 0),
        report_id=file_key.report_id,
        message_id=file_key.message_id,
        attachment_id=file_key.attachment_id,
        index=0,
        last=row.chunks == 1,
    )
    return filetypes.media_type_of(first[: filetypes.SNIFF_BYTES])


def _opened(
    session: Session, report: Report, row: Attachment, dek: bytes
) -> tuple[FileKey, Record, FileView]:
    """The file's key and its view, its record opened and its type sniffed; CryptoError when
    either does not open."""
    file_key = _key_of(session, report, row, dek)
    record = _open_record(file_key, row)
    media_type = _sniff(session, file_key, row)
    view = FileView(row.position or 0, row.bound_message, row.stored_size, media_type, record)
    return file_key, record, view


def list_files(session: Session, report: Report, dek: bytes) -> list[FileView]:
    """Every file of the report, each with its record and sniffed type if it opens.

    The caller audits the reading of the report; listing opens records, not files.
    """
    views = []
    for row in attachments.files_of(session, report):
        try:
            views.append(_opened(session, report, row, dek)[2])
        except CryptoError:
            # A client can send a record or chunk that does not open: the desk sees that the
            # file is there and damaged, and the rest of the report as usual.
            views.append(FileView(row.position or 0, row.bound_message, row.stored_size))
    return views


@dataclass(frozen=True)
class OpenedFile:
    """A file ready to stream: its view, and its bytes read one chunk at a time."""

    view: FileView
    record: Record = field(repr=False)
    content: Callable[[Callable[[], Session]], Iterator[bytes]] = field(repr=False)


def open_file(
    session: Session,
    *,
    reader: UnlockedUser,
    report_id: str | UUID,
    position: int,
    secrets: ServerSecrets,
    preview: bool = False,
) -> OpenedFile:
    """One file of a report, for its reader: refused as the report itself would be, and
    audited (a download and a preview alike) before a byte is sent."""
    keys = reading.reader_keys(session, reader)
    report = reading.get_report(session, report_id)
    dek = keys.data_key(session, report)
    row = attachments.file_at(session, report, position)
    try:
        file_key, record, view = _opened(session, report, row, dek)
    except CryptoError as exc:
        raise DataIntegrityError(
            N_("file %(n)d of report %(report)s does not open"), n=position, report=report.public_id
        ) from exc
    if preview and not view.previewable:
        raise Invalid(N_("only JPEG, PNG and WebP images can be previewed; download it instead"))
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=reader.name,
        action="attachment.preview" if preview else "attachment.download",
        subject=str(report.public_id),
        # The file's number only: its hash would let anyone reading the log confirm that the
        # desk holds a photo or document they already have.
        detail={"file": position},
    )
    chunks = row.chunks
    attachment_pk = row.id

    def content(new_session: Callable[[], Session]) -> Iterator[bytes]:
        # Each chunk is read in its own short transaction, when the response needs it: a
        # download of any size holds one chunk in memory and no database lock.
        def stored() -> Iterator[bytes]:
            for index in range(chunks):
                with new_session() as chunk_session:
                    yield attachments.chunk_data_by_id(chunk_session, attachment_pk, index)

        yield from decrypt_file(
            file_key.key,
            stored(),
            record=record,
            chunk_total=chunks,
            report_id=file_key.report_id,
            message_id=file_key.message_id,
            attachment_id=file_key.attachment_id,
        )

    return OpenedFile(view, record, content)


def message_positions(views: list[FileView]) -> dict[UUID, list[FileView]]:
    """The files sent with each message, for the conversation's view."""
    by_message: dict[UUID, list[FileView]] = {}
    for view in views:
        if view.message_id is not None:
            by_message.setdefault(view.message_id, []).append(view)
    return by_message
