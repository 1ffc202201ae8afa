"""Evidence files from reporters: uploads of encrypted chunks, and attaching them to a report.

The server never sees a file: the reporter's browser encrypts it (``crypto.attachments``) and
sends its chunks one request at a time, so a dropped connection costs one chunk. An upload is
bound by its cryptography to the report (and message) it names, and is attached only by that
report's own submission, or by a message proven with its receipt. Uploads never attached are
deleted when they expire; attached files go with their report (withdrawal, destruction).

Only shapes are checked here, never contents: how many chunks, how long each, which index.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hrd_reports.crypto.attachments import (
    CHUNK_OVERHEAD,
    Layout,
    padded_size,
    record_sizes,
)
from hrd_reports.crypto.errors import MalformedEnvelope
from hrd_reports.i18n import N_
from hrd_reports.models import Attachment, AttachmentChunk, Report, ReportMessage
from hrd_reports.services.clock import naive_utc_now
from hrd_reports.services.errors import (
    Conflict,
    DataIntegrityError,
    Invalid,
    NotFound,
    TooLarge,
)

_RECORD_SIZES = record_sizes()


@dataclass(frozen=True)
class AttachmentLimits:
    max_file_bytes: int
    per_report: int
    storage_bytes: int
    upload_expiry: dt.timedelta


@dataclass(frozen=True)
class UploadDeclared:
    """What a browser declares before sending an upload's first chunk."""

    attachment_id: UUID
    report_id: UUID
    message_id: UUID | None
    chunks: int
    stored_size: int


@dataclass(frozen=True)
class UploadState:
    attachment_id: UUID
    chunks: int
    missing: list[int]


@dataclass(frozen=True)
class FileNamed:
    """A file a submission names: its upload and its encrypted record."""

    attachment_id: UUID
    record: bytes


def _unknown() -> NotFound:
    # One answer for never created, expired and already attached: an upload id learned from a
    # reporter's traffic says nothing about what became of it.
    return NotFound(
        N_("there is no upload with this id; it may have expired"), code="upload_unknown"
    )


def _foreign() -> Invalid:
    # One answer for an upload never started, bound to another report or message, already
    # attached, or expired: a report's submission documents no 404, and a reporter's browser
    # does the same for each (it uploads the file again).
    return Invalid(
        N_("a file named here belongs to no upload of this report"), code="upload_foreign"
    )


def _exists() -> Conflict:
    return Conflict(N_("an upload with this id already exists"), code="upload_exists")


def too_many_files(limit: int) -> Conflict:
    return Conflict(
        N_("a report may have at most %(limit)d files"), code="too_many_files", limit=limit
    )


def file_too_large(max_file_bytes: int) -> TooLarge:
    return TooLarge(
        N_("a file may be at most %(limit)d MiB"),
        code="file_too_large",
        limit=max_file_bytes // (1024 * 1024),
    )


def storage_full() -> TooLarge:
    # Past the budget the desk refuses new files (reports without files still arrive)
    # instead of filling the disk.
    return TooLarge(
        N_("the desk cannot take more files at the moment; send the report without them"),
        code="storage_full",
    )


def _is_pending(upload: Attachment, now: dt.datetime) -> bool:
    """Not attached yet, and not expired: chunks may still come."""
    return upload.report_id is None and upload.expires_at is not None and upload.expires_at > now


def _by_public_id(session: Session, attachment_id: UUID) -> Attachment | None:
    return session.execute(
        select(Attachment).where(Attachment.public_id == attachment_id)
    ).scalar_one_or_none()


def _pending(session: Session, attachment_id: UUID, *, now: dt.datetime) -> Attachment:
    upload = _by_public_id(session, attachment_id)
    if upload is None or not _is_pending(upload, now):
        raise _unknown()
    return upload


def _received(session: Session, upload: Attachment) -> set[int]:
    return set(
        session.execute(
            select(AttachmentChunk.index).where(AttachmentChunk.attachment_id == upload.id)
        ).scalars()
    )


def state_of(session: Session, upload: Attachment) -> UploadState:
    received = _received(session, upload)
    missing = [index for index in range(upload.chunks) if index not in received]
    return UploadState(upload.public_id, upload.chunks, missing)


def _layout(upload: Attachment) -> Layout:
    return Layout(padded=upload.stored_size - upload.chunks * CHUNK_OVERHEAD, chunks=upload.chunks)


def _same(upload: Attachment, declared: UploadDeclared) -> bool:
    return (
        upload.bound_report == declared.report_id
        and upload.bound_message == declared.message_id
        and upload.chunks == declared.chunks
        and upload.stored_size == declared.stored_size
    )


def existing_upload(
    session: Session, declared: UploadDeclared, *, now: dt.datetime | None = None
) -> UploadState | None:
    """The upload already started with exactly these values, if any: a browser whose answer
    was lost asks again and resumes, without a second proof of work."""
    upload = _by_public_id(session, declared.attachment_id)
    if upload is None:
        return None
    if _is_pending(upload, now or naive_utc_now()) and _same(upload, declared):
        return state_of(session, upload)
    raise _exists()


def check_declared(declared: UploadDeclared, limits: AttachmentLimits) -> Layout:
    for value in (declared.attachment_id, declared.report_id, declared.message_id):
        if value is not None and value.version != 4:
            raise Invalid(N_("ids are random UUIDs"), code="bad_layout")
    if limits.per_report == 0:
        raise Conflict(N_("this desk does not accept files"), code="too_many_files")
    padded = declared.stored_size - declared.chunks * CHUNK_OVERHEAD
    if padded > padded_size(limits.max_file_bytes):
        raise file_too_large(limits.max_file_bytes)
    try:
        return Layout.of_upload(
            chunks=declared.chunks,
            stored_size=declared.stored_size,
            max_file_size=limits.max_file_bytes,
        )
    except MalformedEnvelope as exc:
        raise Invalid(
            N_("the upload's size is not one a file can have"), code="bad_layout"
        ) from exc


def start_upload(
    session: Session,
    declared: UploadDeclared,
    *,
    limits: AttachmentLimits,
    now: dt.datetime | None = None,
) -> UploadState:
    """A new upload, once the caller has spent its proof of work (one per file)."""
    check_declared(declared, limits)
    now = now or naive_utc_now()
    count = session.execute(
        select(func.count())
        .select_from(Attachment)
        .where(Attachment.bound_report == declared.report_id, _kept(now))
    ).scalar_one()
    if count >= limits.per_report:
        raise too_many_files(limits.per_report)
    # Checked before any chunk arrives. Two uploads started at the same moment can pass it
    # together, by at most one file each.
    if storage_used(session, now=now) + declared.stored_size > limits.storage_bytes:
        raise storage_full()
    upload = Attachment(
        public_id=declared.attachment_id,
        bound_report=declared.report_id,
        bound_message=declared.message_id,
        chunks=declared.chunks,
        stored_size=declared.stored_size,
        expires_at=_to_the_hour(now + limits.upload_expiry),
    )
    session.add(upload)
    try:
        session.flush()
    except IntegrityError as exc:
        raise _exists() from exc
    return UploadState(upload.public_id, upload.chunks, list(range(upload.chunks)))


def _to_the_hour(moment: dt.datetime) -> dt.datetime:
    # Rounded up: the expiry of an upload tells when it began to the hour, not the second.
    return moment.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)


def upload_state(session: Session, attachment_id: UUID) -> UploadState:
    return state_of(session, _pending(session, attachment_id, now=naive_utc_now()))


def store_chunk(session: Session, *, attachment_id: UUID, index: int, data: bytes) -> int:
    """Keep one chunk; the same bytes again are accepted, other bytes for it refused.

    Returns how many chunks are still missing.
    """
    upload = _pending(session, attachment_id, now=naive_utc_now())
    layout = _layout(upload)
    if not 0 <= index < layout.chunks:
        raise Invalid(
            N_("this upload has no chunk %(index)d"), code="chunk_out_of_range", index=index
        )
    if len(data) != layout.stored_length(index):
        raise Invalid(
            N_("chunk %(index)d must be %(length)d bytes long"),
            code="chunk_wrong_length",
            index=index,
            length=layout.stored_length(index),
        )
    stored = _stored_chunk(session, upload.id, index)
    if stored is None:
        session.add(AttachmentChunk(attachment_id=upload.id, index=index, data=data))
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:
            # The same chunk, sent twice at once over a flaky connection: the other stored it.
            stored = _stored_chunk(session, upload.id, index)
    if stored is not None and stored != data:
        raise Conflict(
            N_("chunk %(index)d was already received with other bytes"),
            code="chunk_conflict",
            index=index,
        )
    return len(state_of(session, upload).missing)


def attach(
    session: Session,
    *,
    report: Report,
    message: ReportMessage | None,
    files: Sequence[FileNamed],
    limits: AttachmentLimits,
) -> list[Attachment]:
    """Make complete uploads the files of ``report`` (and of ``message``, if given).

    Each must be bound to this very report and message, complete, and not yet attached; its
    record must have a length an honest client makes. A message sent again with the same files
    finds them already attached to it and changes nothing.
    """
    if not files:
        return []
    if len({file.attachment_id for file in files}) != len(files):
        raise Invalid(N_("the same file is named twice"), code="upload_foreign")
    now = naive_utc_now()
    rows = session.execute(
        select(Attachment).where(Attachment.public_id.in_([f.attachment_id for f in files]))
    ).scalars()
    by_id = {row.public_id: row for row in rows}
    message_id = message.public_id if message is not None else None
    attached: list[tuple[Attachment, FileNamed]] = []
    for file in files:
        upload = by_id.get(file.attachment_id)
        if upload is None or upload.bound_report != report.public_id:
            raise _foreign()
        if upload.bound_message != message_id:
            raise _foreign()
        if upload.report_id is not None:
            if upload.report_id == report.id:
                # The same report or message sent again after its answer was lost: already
                # attached (bound to this very report and message, checked above); nothing
                # of it changes, its record included.
                continue
            raise _foreign()
        if not _is_pending(upload, now):
            raise _foreign()
        if len(file.record) not in _RECORD_SIZES:
            raise Invalid(N_("a file's record is not padded to a known size"), code="bad_record")
        if state_of(session, upload).missing:
            raise Conflict(
                N_("a file named here is not completely uploaded yet"), code="upload_incomplete"
            )
        attached.append((upload, file))
    count = session.execute(
        select(func.count()).select_from(Attachment).where(Attachment.report_id == report.id)
    ).scalar_one()
    if count + len(attached) > limits.per_report:
        raise too_many_files(limits.per_report)
    for position, (upload, file) in enumerate(attached, start=count + 1):
        upload.report_id = report.id
        upload.message_id = message.id if message is not None else None
        upload.position = position
        upload.record = file.record
        upload.expires_at = None
    session.flush()
    return [upload for upload, _file in attached]


def attach_to_message(
    session: Session,
    *,
    message: ReportMessage,
    files: Sequence[FileNamed],
    limits: AttachmentLimits,
) -> list[Attachment]:
    report = session.get(Report, message.report_id)
    if report is None:  # pragma: no cover - a message's report is a foreign key
        raise _unknown()
    return attach(session, report=report, message=message, files=files, limits=limits)


def files_of(session: Session, report: Report) -> list[Attachment]:
    """A report's files in the order they arrived (the report's own, then its messages')."""
    return list(
        session.execute(
            select(Attachment)
            .where(Attachment.report_id == report.id)
            .order_by(Attachment.position)
        ).scalars()
    )


def file_at(session: Session, report: Report, position: int) -> Attachment:
    found = session.execute(
        select(Attachment).where(Attachment.report_id == report.id, Attachment.position == position)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(
            N_("report %(report)s has no file %(n)d"), report=report.public_id, n=position
        )
    return found


def _stored_chunk(session: Session, attachment_pk: int, index: int) -> bytes | None:
    return session.execute(
        select(AttachmentChunk.data).where(
            AttachmentChunk.attachment_id == attachment_pk, AttachmentChunk.index == index
        )
    ).scalar_one_or_none()


def chunk_data_by_id(session: Session, attachment_pk: int, index: int) -> bytes:
    """A stored chunk, by its attachment's key (a reader that holds no row, in its own
    session); refused as damaged data if it is missing."""
    data = _stored_chunk(session, attachment_pk, index)
    if data is None:
        raise DataIntegrityError(N_("a chunk of a file is missing"))
    return data


def chunk_data(session: Session, attachment: Attachment, index: int) -> bytes:
    return chunk_data_by_id(session, attachment.id, index)


def chunks_of(session: Session, attachment: Attachment) -> Iterable[bytes]:
    """The stored chunks one at a time, each read when needed: constant memory for any size."""
    for index in range(attachment.chunks):
        yield chunk_data(session, attachment, index)


def delete_expired_uploads(session: Session, *, now: dt.datetime | None = None) -> int:
    """Delete uploads whose time ran out before any report named them; how many."""
    now = now or naive_utc_now()
    result = session.execute(
        delete(Attachment).where(Attachment.report_id.is_(None), Attachment.expires_at <= now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def delete_files_of(session: Session, report: Report) -> None:
    """Delete a report's files and every upload bound to it, finished or not, with their
    chunks: an upload still running when the report is destroyed would otherwise keep its
    ciphertext until it expires."""
    session.execute(delete(Attachment).where(Attachment.bound_report == report.public_id))


def _kept(now: dt.datetime) -> ColumnElement[bool]:
    """Attached files and uploads that may still be finished.

    An expired upload stays in its table until the server's hourly purge deletes it; counted
    until then, abandoned uploads (one proof of work each) could close the desk to every file,
    or a report to more of its own.
    """
    return or_(Attachment.expires_at.is_(None), Attachment.expires_at > now)


def storage_used(session: Session, *, now: dt.datetime | None = None) -> int:
    """Bytes of every file and of every upload that has not expired."""
    now = now or naive_utc_now()
    return int(
        session.execute(
            select(func.coalesce(func.sum(Attachment.stored_size), 0)).where(_kept(now))
        ).scalar_one()
    )
