"""Evidence uploads: chunks kept once and never replaced, complete uploads attached only to the
report and message they are bound to, limits on size, count and storage, and nothing left of a
file once its upload expired or its report was destroyed."""

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from uuid import UUID, uuid4

import pytest
from sqlalchemy import func, select

from hrd_reports.crypto.attachments import (
    CHUNK_OVERHEAD,
    CHUNK_SIZE,
    EncryptedFile,
    Layout,
)
from hrd_reports.crypto.receipts import derive_receipt_keys
from hrd_reports.models import Attachment, AttachmentChunk, Report, ReportMessage
from hrd_reports.services import attachments, conversation, withdrawal
from hrd_reports.services.attachments import (
    AttachmentLimits,
    FileNamed,
    UploadDeclared,
    UploadState,
)
from hrd_reports.services.errors import Conflict, Invalid, NotFound, TooLarge
from tests.cli import table_snapshot
from tests.helpers import Desk, Person, Submitted
from tests.unit.services.accounts_support import Clock
from tests.unit.services.conversation_support import sealed, send
from tests.uploads import TWO_CHUNKS, Reporter, new_reporter

MIB = 1024 * 1024
LIMITS = AttachmentLimits(
    max_file_bytes=10 * MIB,
    per_report=3,
    storage_bytes=2**30,
    upload_expiry=dt.timedelta(hours=24),
)


def _declared(
    encrypted: EncryptedFile, report_id: UUID, message_id: UUID | None = None
) -> UploadDeclared:
    return UploadDeclared(
        attachment_id=encrypted.attachment_id,
        report_id=report_id,
        message_id=message_id,
        chunks=len(encrypted.chunks),
        stored_size=encrypted.stored_size,
    )


def _start(
    desk: Desk,
    encrypted: EncryptedFile,
    report_id: UUID,
    message_id: UUID | None = None,
    *,
    limits: AttachmentLimits = LIMITS,
) -> UploadState:
    with desk.session() as session:
        state = attachments.start_upload(
            session, _declared(encrypted, report_id, message_id), limits=limits
        )
        session.commit()
    return state


def _store(desk: Desk, attachment_id: UUID, index: int, data: bytes) -> int:
    with desk.session() as session:
        missing = attachments.store_chunk(
            session, attachment_id=attachment_id, index=index, data=data
        )
        session.commit()
    return missing


def _upload(
    desk: Desk,
    encrypted: EncryptedFile,
    report_id: UUID,
    message_id: UUID | None = None,
    *,
    limits: AttachmentLimits = LIMITS,
) -> None:
    _start(desk, encrypted, report_id, message_id, limits=limits)
    for index, data in enumerate(encrypted.chunks):
        _store(desk, encrypted.attachment_id, index, data)


def _attach(
    desk: Desk,
    reporter: Reporter,
    files: Sequence[EncryptedFile | FileNamed],
    *,
    message_id: UUID | None = None,
    limits: AttachmentLimits = LIMITS,
) -> list[UUID]:
    named = [
        file if isinstance(file, FileNamed) else FileNamed(file.attachment_id, file.record)
        for file in files
    ]
    with desk.session() as session:
        report = session.execute(
            select(Report).where(Report.public_id == reporter.report_id)
        ).scalar_one()
        if message_id is None:
            done = attachments.attach(
                session, report=report, message=None, files=named, limits=limits
            )
        else:
            message = session.execute(
                select(ReportMessage).where(ReportMessage.public_id == message_id)
            ).scalar_one()
            done = attachments.attach_to_message(
                session, message=message, files=named, limits=limits
            )
        session.commit()
    return [upload.public_id for upload in done]


def _sent(desk: Desk) -> Reporter:
    """A report stored at the desk, as its reporter knows it."""
    reporter = new_reporter(desk.intake_key())
    desk.store(reporter.submission)
    return reporter


def _message(desk: Desk, reporter: Reporter) -> UUID:
    """A message of the reporter, stored; its id, to bind files to."""
    submitted = Submitted(reporter.report_id, reporter.receipt, reporter.submission)
    return send(desk, submitted, *sealed(submitted, "the photos I promised"))


def _rows(desk: Desk) -> tuple[int, int]:
    """Attachments and their chunks: what a refusal must leave and a removal must empty."""
    with desk.session() as session:
        uploads = session.execute(select(func.count()).select_from(Attachment)).scalar_one()
        chunks = session.execute(select(func.count()).select_from(AttachmentChunk)).scalar_one()
    return uploads, chunks


# ---- uploads ------------------------------------------------------------------------------


def test_start_upload_new_upload_misses_every_chunk_until_they_arrive(desk: Desk) -> None:
    reporter = new_reporter(desk.intake_key())
    encrypted = reporter.file(bytes(TWO_CHUNKS))

    state = _start(desk, encrypted, reporter.report_id)

    assert (state.attachment_id, state.chunks, state.missing) == (
        encrypted.attachment_id,
        2,
        [0, 1],
    )
    assert _store(desk, encrypted.attachment_id, 1, encrypted.chunks[1]) == 1
    with desk.session() as session:
        assert attachments.upload_state(session, encrypted.attachment_id).missing == [0]
    assert _store(desk, encrypted.attachment_id, 0, encrypted.chunks[0]) == 0


def test_attach_complete_upload_becomes_the_reports_file_with_its_chunks(desk: Desk) -> None:
    reporter = _sent(desk)
    encrypted = reporter.file(b"CANARY-evidence" * 1000)
    _upload(desk, encrypted, reporter.report_id)

    assert _attach(desk, reporter, [encrypted]) == [encrypted.attachment_id]

    with desk.session() as session:
        report = session.execute(
            select(Report).where(Report.public_id == reporter.report_id)
        ).scalar_one()
        [stored] = attachments.files_of(session, report)
        assert (stored.position, stored.record, stored.expires_at) == (1, encrypted.record, None)
        assert stored.message_id is None
        assert list(attachments.chunks_of(session, stored)) == encrypted.chunks
        assert attachments.file_at(session, report, 1).public_id == encrypted.attachment_id
        with pytest.raises(NotFound):
            attachments.file_at(session, report, 2)
        # Attached, it is no longer an upload: no chunk can be added or replaced.
        with pytest.raises(NotFound) as refused:
            attachments.upload_state(session, encrypted.attachment_id)
        assert refused.value.code == "upload_unknown"


def test_store_chunk_same_bytes_again_is_accepted(desk: Desk) -> None:
    reporter = new_reporter(desk.intake_key())
    encrypted = reporter.file(bytes(TWO_CHUNKS))
    _start(desk, encrypted, reporter.report_id)

    assert _store(desk, encrypted.attachment_id, 0, encrypted.chunks[0]) == 1
    assert _store(desk, encrypted.attachment_id, 0, encrypted.chunks[0]) == 1
    assert _rows(desk) == (1, 1)


def test_store_chunk_other_bytes_for_a_stored_chunk_is_a_conflict_and_keeps_the_first(
    desk: Desk,
) -> None:
    reporter = new_reporter(desk.intake_key())
    encrypted = reporter.file(bytes(5000))
    other = reporter.file(bytes(5000))  # another key: other bytes of the very same length
    _upload(desk, encrypted, reporter.report_id)

    with pytest.raises(Conflict) as refused:
        _store(desk, encrypted.attachment_id, 0, other.chunks[0])

    assert refused.value.code == "chunk_conflict"
    with desk.session() as session:
        upload = session.execute(
            select(Attachment).where(Attachment.public_id == encrypted.attachment_id)
        ).scalar_one()
        assert attachments.chunk_data(session, upload, 0) == encrypted.chunks[0]


@pytest.mark.parametrize("index", [-1, 2, 3, 2**31])
def test_store_chunk_index_out_of_range_is_refused(desk: Desk, index: int) -> None:
    reporter = new_reporter(desk.intake_key())
    encrypted = reporter.file(bytes(TWO_CHUNKS))
    _start(desk, encrypted, reporter.report_id)

    with pytest.raises(Invalid) as refused:
        _store(desk, encrypted.attachment_id, index, encrypted.chunks[0])

    assert refused.value.code == "chunk_out_of_range"
    assert _rows(desk) == (1, 0)


@pytest.mark.parametrize(
    ("index", "change"),
    [
        (0, lambda data: data[:-1]),
        (0, lambda data: data + b"\0"),
        (0, lambda _data: b""),
        # A full chunk where the last (shorter) one belongs, and the last where a full one does.
        (1, lambda _data: bytes(CHUNK_SIZE + CHUNK_OVERHEAD)),
        (0, lambda _data: bytes(Layout.of_file(TWO_CHUNKS).stored_length(1))),
    ],
    ids=["one byte short", "one byte long", "empty", "full as the last", "last as the first"],
)
def test_store_chunk_of_the_wrong_length_is_refused(
    desk: Desk, index: int, change: Callable[[bytes], bytes]
) -> None:
    reporter = new_reporter(desk.intake_key())
    encrypted = reporter.file(bytes(TWO_CHUNKS))
    _start(desk, encrypted, reporter.report_id)

    with pytest.raises(Invalid) as refused:
        _store(desk, encrypted.attachment_id, index, change(encrypted.chunks[index]))

    assert refused.value.code == "chunk_wrong_length"
    assert _rows(desk) == (1, 0)


def test_store_chunk_of_an_upload_never_started_is_upload_unknown(desk: Desk) -> None:
    with pytest.raises(NotFound) as refused:
        _store(desk, uuid4(), 0, bytes(4096 + CHUNK_OVERHEAD))
    assert refused.value.code == "upload_unknown"
    with desk.session() as session, pytest.raises(NotFound) as asked:
        attachments.upload_state(session, uuid4())
    assert asked.value.code == "upload_unknown"
    assert _rows(desk) == (0, 0)


def test_store_chunk_of_an_expired_upload_is_upload_unknown(desk: Desk, fake_clock: Clock) -> None:
    reporter = new_reporter(desk.intake_key())
    encrypted = reporter.file(bytes(TWO_CHUNKS))
    _start(desk, encrypted, reporter.report_id)
    _store(desk, encrypted.attachment_id, 0, encrypted.chunks[0])

    # Its expiry is rounded up to the hour: 24 hours on, it may still run; 25 on, it cannot.
    fake_clock.advance(dt.timedelta(hours=24))
    assert _store(desk, encrypted.attachment_id, 0, encrypted.chunks[0]) == 1
    fake_clock.advance(dt.timedelta(hours=1))

    with pytest.raises(NotFound) as refused:
        _store(desk, encrypted.attachment_id, 1, encrypted.chunks[1])
    assert refused.value.code == "upload_unknown"
    with desk.session() as session, pytest.raises(NotFound):
        attachments.upload_state(session, encrypted.attachment_id)


def test_existing_upload_same_declaration_resumes_and_any_other_is_upload_exists(
    desk: Desk,
) -> None:
    reporter = new_reporter(desk.intake_key())
    encrypted = reporter.file(bytes(TWO_CHUNKS))
    declared = _declared(encrypted, reporter.report_id)
    with desk.session() as session:
        assert attachments.existing_upload(session, declared) is None
    _start(desk, encrypted, reporter.report_id)
    _store(desk, encrypted.attachment_id, 0, encrypted.chunks[0])

    with desk.session() as session:
        resumed = attachments.existing_upload(session, declared)
        assert resumed is not None
        assert resumed.missing == [1]
        for other in (
            replace(declared, report_id=uuid4()),
            replace(declared, message_id=uuid4()),
            replace(declared, stored_size=declared.stored_size + 1),
        ):
            with pytest.raises(Conflict) as refused:
                attachments.existing_upload(session, other)
            assert refused.value.code == "upload_exists"
        # Started twice all the same (two requests at once): the second is refused.
        with pytest.raises(Conflict) as again:
            attachments.start_upload(session, declared, limits=LIMITS)
        assert again.value.code == "upload_exists"


def test_existing_upload_already_attached_is_upload_exists(desk: Desk) -> None:
    reporter = _sent(desk)
    encrypted = reporter.file(bytes(100))
    _upload(desk, encrypted, reporter.report_id)
    _attach(desk, reporter, [encrypted])

    with desk.session() as session, pytest.raises(Conflict) as refused:
        attachments.existing_upload(session, _declared(encrypted, reporter.report_id))
    assert refused.value.code == "upload_exists"


@pytest.mark.parametrize(
    ("chunks", "stored_size"),
    [
        (1, 4096 + CHUNK_OVERHEAD - 1),  # less than the smallest padded file
        (1, 4097 + CHUNK_OVERHEAD),  # not a Padmé length
        (2, 4096 + 2 * CHUNK_OVERHEAD),  # one chunk's worth in two
        (1, Layout.of_file(TWO_CHUNKS).padded + CHUNK_OVERHEAD),  # two chunks' worth in one
        (0, 0),
        (-1, 4096),
    ],
)
def test_start_upload_layout_no_honest_client_makes_is_bad_layout(
    desk: Desk, chunks: int, stored_size: int
) -> None:
    declared = UploadDeclared(uuid4(), uuid4(), None, chunks, stored_size)
    with desk.session() as session, pytest.raises(Invalid) as refused:
        attachments.start_upload(session, declared, limits=LIMITS)
    assert refused.value.code == "bad_layout"
    assert _rows(desk) == (0, 0)


def test_start_upload_id_not_a_random_uuid_is_bad_layout(desk: Desk) -> None:
    good = Layout.of_file(100)
    for ids in ((UUID(int=1), uuid4()), (uuid4(), UUID(int=1))):
        declared = UploadDeclared(*ids, None, good.chunks, good.stored_size)
        with desk.session() as session, pytest.raises(Invalid) as refused:
            attachments.start_upload(session, declared, limits=LIMITS)
        assert refused.value.code == "bad_layout"


def test_start_upload_file_larger_than_the_desk_takes_is_file_too_large(desk: Desk) -> None:
    limits = replace(LIMITS, max_file_bytes=MIB)
    at_most = Layout.of_file(MIB)
    over = Layout.of_file(MIB + 1)
    assert over.padded > at_most.padded
    with desk.session() as session:
        attachments.start_upload(
            session,
            UploadDeclared(uuid4(), uuid4(), None, at_most.chunks, at_most.stored_size),
            limits=limits,
        )
        with pytest.raises(TooLarge) as refused:
            attachments.start_upload(
                session,
                UploadDeclared(uuid4(), uuid4(), None, over.chunks, over.stored_size),
                limits=limits,
            )
    assert refused.value.code == "file_too_large"


def test_start_upload_desk_that_takes_no_files_is_too_many_files(desk: Desk) -> None:
    limits = replace(LIMITS, max_file_bytes=MIB, per_report=0)
    layout = Layout.of_file(100)
    with desk.session() as session, pytest.raises(Conflict) as refused:
        attachments.start_upload(
            session, UploadDeclared(uuid4(), uuid4(), None, 1, layout.stored_size), limits=limits
        )
    assert refused.value.code == "too_many_files"


def test_start_upload_past_the_files_a_report_may_have_counts_its_messages_files(
    desk: Desk,
) -> None:
    reporter = _sent(desk)
    message_id = _message(desk, reporter)
    limits = replace(LIMITS, max_file_bytes=MIB, per_report=2)
    _start(desk, reporter.file(bytes(10)), reporter.report_id, limits=limits)
    _start(
        desk,
        reporter.file(bytes(10), message_id=message_id),
        reporter.report_id,
        message_id,
        limits=limits,
    )

    with pytest.raises(Conflict) as refused:
        _start(desk, reporter.file(bytes(10)), reporter.report_id, limits=limits)
    assert refused.value.code == "too_many_files"
    # Another report's uploads are counted for that report only.
    _start(desk, reporter.file(bytes(10)), uuid4(), limits=limits)
    assert _rows(desk) == (3, 0)


def test_start_upload_past_the_storage_budget_is_storage_full(desk: Desk) -> None:
    one = Layout.of_file(100).stored_size
    limits = replace(LIMITS, per_report=10, storage_bytes=2 * one)
    reporter = new_reporter(desk.intake_key())
    _start(desk, reporter.file(bytes(100)), reporter.report_id, limits=limits)
    _start(desk, reporter.file(bytes(100)), reporter.report_id, limits=limits)

    with pytest.raises(TooLarge) as refused:
        _start(desk, reporter.file(bytes(100)), reporter.report_id, limits=limits)

    assert refused.value.code == "storage_full"
    with desk.session() as session:
        assert attachments.storage_used(session) == 2 * one


def test_start_upload_expired_uploads_take_no_storage(desk: Desk, fake_clock: Clock) -> None:
    one = Layout.of_file(100).stored_size
    limits = replace(LIMITS, per_report=1, storage_bytes=one, upload_expiry=dt.timedelta(hours=1))
    reporter = new_reporter(desk.intake_key())
    abandoned = reporter.file(bytes(100))
    _upload(desk, abandoned, reporter.report_id, limits=limits)
    fake_clock.advance(dt.timedelta(hours=2))

    # Neither the budget nor the report's count keeps an upload nobody can finish any more.
    _start(desk, reporter.file(bytes(100)), reporter.report_id, limits=limits)

    with desk.session() as session:
        assert attachments.storage_used(session) == one
    assert _rows(desk) == (2, 1)  # the abandoned one waits for the server's hourly purge


# ---- attaching ----------------------------------------------------------------------------


def test_attach_incomplete_upload_is_upload_incomplete_and_changes_nothing(desk: Desk) -> None:
    reporter = _sent(desk)
    encrypted = reporter.file(bytes(TWO_CHUNKS))
    _start(desk, encrypted, reporter.report_id)
    _store(desk, encrypted.attachment_id, 1, encrypted.chunks[1])
    before = table_snapshot(desk.runtime.settings.database_url)

    with pytest.raises(Conflict) as refused:
        _attach(desk, reporter, [encrypted])

    assert refused.value.code == "upload_incomplete"
    assert table_snapshot(desk.runtime.settings.database_url) == before


@dataclass(frozen=True)
class Attaching:
    """How attaching ended: the code of its Invalid refusal (None if it went through), and
    whether every table was left as it was."""

    refused_as: str | None
    changed_nothing: bool


# One answer for every file the reporter may not name there, and nothing of the report, its
# messages or any upload changed by the attempt.
REFUSED_AS_FOREIGN = Attaching(refused_as="upload_foreign", changed_nothing=True)


def _attaching(
    desk: Desk,
    reporter: Reporter,
    files: Sequence[EncryptedFile | FileNamed],
    message_id: UUID | None = None,
) -> Attaching:
    before = table_snapshot(desk.runtime.settings.database_url)
    try:
        _attach(desk, reporter, files, message_id=message_id)
    except Invalid as refused:
        refused_as = refused.code
    else:
        refused_as = None
    changed_nothing = table_snapshot(desk.runtime.settings.database_url) == before
    return Attaching(refused_as, changed_nothing)


def test_attach_upload_of_another_report_is_upload_foreign(desk: Desk) -> None:
    reporter, other = _sent(desk), _sent(desk)
    theirs = other.file(bytes(100))
    _upload(desk, theirs, other.report_id)

    assert _attaching(desk, reporter, [theirs]) == REFUSED_AS_FOREIGN


def test_attach_upload_never_started_is_upload_foreign(desk: Desk) -> None:
    reporter = _sent(desk)
    assert _attaching(desk, reporter, [reporter.file(bytes(100))]) == REFUSED_AS_FOREIGN


def test_attach_upload_of_another_message_or_of_the_report_itself_is_upload_foreign(
    desk: Desk,
) -> None:
    reporter = _sent(desk)
    first, second = _message(desk, reporter), _message(desk, reporter)
    of_first = reporter.file(bytes(100), message_id=first)
    of_report = reporter.file(bytes(100))
    _upload(desk, of_first, reporter.report_id, first)
    _upload(desk, of_report, reporter.report_id)

    assert _attaching(desk, reporter, [of_first], message_id=second) == REFUSED_AS_FOREIGN
    assert _attaching(desk, reporter, [of_first]) == REFUSED_AS_FOREIGN
    assert _attaching(desk, reporter, [of_report], message_id=first) == REFUSED_AS_FOREIGN


def test_attach_file_already_attached_is_kept_as_it_is_or_refused_as_upload_foreign(
    desk: Desk,
) -> None:
    reporter = _sent(desk)
    message_id = _message(desk, reporter)
    encrypted = reporter.file(bytes(100), message_id=message_id)
    _upload(desk, encrypted, reporter.report_id, message_id)
    _attach(desk, reporter, [encrypted], message_id=message_id)

    # Named again by the same message (its answer was lost), even with a record encrypted
    # anew: accepted, and nothing of the file changes, its record included.
    before = table_snapshot(desk.runtime.settings.database_url)
    other_record = FileNamed(encrypted.attachment_id, reporter.file(bytes(100)).record)
    _attach(desk, reporter, [other_record], message_id=message_id)
    assert table_snapshot(desk.runtime.settings.database_url) == before
    # Named by another of the report's messages, or by another report.
    another_message = _message(desk, reporter)
    assert _attaching(desk, reporter, [encrypted], message_id=another_message) == REFUSED_AS_FOREIGN
    assert _attaching(desk, _sent(desk), [encrypted]) == REFUSED_AS_FOREIGN


def test_attach_same_file_named_twice_is_refused(desk: Desk) -> None:
    reporter = _sent(desk)
    encrypted = reporter.file(bytes(100))
    _upload(desk, encrypted, reporter.report_id)

    assert _attaching(desk, reporter, [encrypted, encrypted]) == REFUSED_AS_FOREIGN


def test_attach_expired_upload_is_upload_foreign(desk: Desk, fake_clock: Clock) -> None:
    reporter = _sent(desk)
    encrypted = reporter.file(bytes(100))
    _upload(desk, encrypted, reporter.report_id)
    fake_clock.advance(LIMITS.upload_expiry + dt.timedelta(hours=1))

    # One answer for an upload that expired and one deleted since: the report's submission
    # documents no 404.
    assert _attaching(desk, reporter, [encrypted]) == REFUSED_AS_FOREIGN


@pytest.mark.parametrize("length", [0, 1, 1024 + CHUNK_OVERHEAD - 1, 4096 + CHUNK_OVERHEAD + 1])
def test_attach_record_of_a_length_no_client_makes_is_bad_record(desk: Desk, length: int) -> None:
    reporter = _sent(desk)
    encrypted = reporter.file(bytes(100))
    _upload(desk, encrypted, reporter.report_id)
    before = table_snapshot(desk.runtime.settings.database_url)

    with pytest.raises(Invalid) as refused:
        _attach(desk, reporter, [FileNamed(encrypted.attachment_id, bytes(length))])

    assert refused.value.code == "bad_record"
    assert table_snapshot(desk.runtime.settings.database_url) == before


def test_attach_past_the_files_a_report_may_have_counts_its_messages_files(desk: Desk) -> None:
    reporter = _sent(desk)
    message_id, later = _message(desk, reporter), _message(desk, reporter)
    with_message = [reporter.file(bytes(n), message_id=message_id) for n in (1, 2)]
    with_later = [reporter.file(bytes(n), message_id=later) for n in (3, 4)]
    roomy = replace(LIMITS, max_file_bytes=MIB, per_report=10)
    for encrypted in with_message:
        _upload(desk, encrypted, reporter.report_id, message_id, limits=roomy)
    for encrypted in with_later:
        _upload(desk, encrypted, reporter.report_id, later, limits=roomy)
    # The desk lowered its limit while the uploads ran.
    lowered = replace(LIMITS, max_file_bytes=MIB, per_report=3)
    _attach(desk, reporter, with_message, message_id=message_id, limits=lowered)
    before = table_snapshot(desk.runtime.settings.database_url)

    with pytest.raises(Conflict) as refused:
        _attach(desk, reporter, with_later, message_id=later, limits=lowered)

    assert refused.value.code == "too_many_files"
    assert table_snapshot(desk.runtime.settings.database_url) == before


def test_attach_files_are_numbered_in_arrival_order_across_report_and_messages(
    desk: Desk,
) -> None:
    reporter = new_reporter(desk.intake_key())
    own = [reporter.file(bytes(n)) for n in (10, 20)]
    for encrypted in own:
        _upload(desk, encrypted, reporter.report_id)
    desk.store(reporter.submission)
    _attach(desk, reporter, own)
    message_id = _message(desk, reporter)
    later = reporter.file(bytes(30), message_id=message_id)
    _upload(desk, later, reporter.report_id, message_id)
    _attach(desk, reporter, [later], message_id=message_id)

    with desk.session() as session:
        report = session.execute(
            select(Report).where(Report.public_id == reporter.report_id)
        ).scalar_one()
        files = attachments.files_of(session, report)
        assert [(file.public_id, file.position) for file in files] == [
            (own[0].attachment_id, 1),
            (own[1].attachment_id, 2),
            (later.attachment_id, 3),
        ]
        message = session.execute(
            select(ReportMessage).where(ReportMessage.public_id == message_id)
        ).scalar_one()
        assert [file.message_id for file in files] == [None, None, message.id]


def test_attach_same_message_sent_again_with_the_same_files_changes_nothing(
    desk: Desk,
) -> None:
    reporter = _sent(desk)
    submitted = Submitted(reporter.report_id, reporter.receipt, reporter.submission)
    message_id, blob = sealed(submitted, "here they are")
    files = [reporter.file(bytes(n), message_id=message_id) for n in (100, TWO_CHUNKS)]
    for encrypted in files:
        _upload(desk, encrypted, reporter.report_id, message_id)
    send(desk, submitted, message_id, blob)
    assert _attach(desk, reporter, files, message_id=message_id) == [
        encrypted.attachment_id for encrypted in files
    ]
    before = table_snapshot(desk.runtime.settings.database_url)

    # The answer was lost; the browser sends the very same message again.
    with desk.session() as session:
        message = conversation.post_reporter_message(
            session,
            lookup_token=derive_receipt_keys(reporter.receipt).lookup_token,
            message_id=message_id,
            ciphertext=blob,
            secrets=desk.secrets,
        )
        named = [FileNamed(encrypted.attachment_id, encrypted.record) for encrypted in files]
        assert (
            attachments.attach_to_message(session, message=message, files=named, limits=LIMITS)
            == []
        )
        session.commit()

    assert table_snapshot(desk.runtime.settings.database_url) == before


# ---- removal ------------------------------------------------------------------------------


def test_delete_expired_uploads_deletes_only_expired_unattached_uploads_and_their_chunks(
    desk: Desk, fake_clock: Clock
) -> None:
    reporter = _sent(desk)
    expired = reporter.file(bytes(TWO_CHUNKS))
    attached = reporter.file(bytes(100))
    _start(desk, expired, reporter.report_id)
    _store(desk, expired.attachment_id, 0, expired.chunks[0])
    _upload(desk, attached, reporter.report_id)
    _attach(desk, reporter, [attached])
    fake_clock.advance(dt.timedelta(hours=12))
    running = reporter.file(bytes(100))
    _start(desk, running, reporter.report_id)
    _store(desk, running.attachment_id, 0, running.chunks[0])
    fake_clock.advance(dt.timedelta(hours=14))

    with desk.session() as session:
        assert attachments.delete_expired_uploads(session) == 1
        session.commit()

    with desk.session() as session:
        left = session.execute(select(Attachment.public_id)).scalars().all()
        chunks_of = (
            session.execute(
                select(Attachment.public_id).join(
                    AttachmentChunk, AttachmentChunk.attachment_id == Attachment.id
                )
            )
            .scalars()
            .all()
        )
    assert sorted(left) == sorted([attached.attachment_id, running.attachment_id])
    assert sorted(chunks_of) == sorted([attached.attachment_id, running.attachment_id])
    assert _rows(desk) == (2, 2)


def _with_files(desk: Desk) -> Reporter:
    """A report with a file of its own, a file of a message, and an upload still running."""
    reporter = new_reporter(desk.intake_key())
    own = reporter.file(b"CANARY-attached-file" * 300)
    _upload(desk, own, reporter.report_id)
    desk.store(reporter.submission)
    _attach(desk, reporter, [own])
    message_id = _message(desk, reporter)
    with_message = reporter.file(bytes(TWO_CHUNKS), message_id=message_id)
    _upload(desk, with_message, reporter.report_id, message_id)
    _attach(desk, reporter, [with_message], message_id=message_id)
    # For a message not sent yet: the browser uploads a message's files before the message.
    next_message = uuid4()
    running = reporter.file(bytes(TWO_CHUNKS), message_id=next_message)
    _start(desk, running, reporter.report_id, next_message)
    _store(desk, running.attachment_id, 0, running.chunks[0])
    assert _rows(desk) == (3, 4)
    return reporter


def test_withdraw_removes_the_reports_files_uploads_and_chunks(desk: Desk) -> None:
    reporter = _with_files(desk)
    others = _sent(desk)
    kept = others.file(bytes(100))
    _upload(desk, kept, others.report_id)

    with desk.session() as session:
        assert withdrawal.withdraw(
            session,
            lookup_token=derive_receipt_keys(reporter.receipt).lookup_token,
            grace=dt.timedelta(0),
            secrets=desk.secrets,
        )
        session.commit()

    # Another report's upload is not touched.
    assert _rows(desk) == (1, 1)


def test_destroy_by_desk_removes_the_reports_files_uploads_and_chunks(
    desk: Desk, admin: Person
) -> None:
    reporter = _with_files(desk)

    desk.destroy(reporter.report_id, reason="abusive", by=admin)

    assert _rows(desk) == (0, 0)
