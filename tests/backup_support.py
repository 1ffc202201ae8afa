"""A desk with something of everything in it, and databases of either backend, for the
backup tests."""

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from sqlalchemy import select

from hrd_reports.backups.create import BackupSummary, write_backup, write_backup_file
from hrd_reports.crypto.recovery import decode_recovery_key
from hrd_reports.crypto.xwing import PrivateKey
from hrd_reports.models import Report, Role
from hrd_reports.services import attachments
from hrd_reports.services.attachments import AttachmentLimits, FileNamed, UploadDeclared
from hrd_reports.settings import Settings
from hrd_reports.wiring import Runtime, build_runtime
from tests.conftest import CHEAP_ARGON2, CHEAP_POW_BITS, DatabaseServer
from tests.helpers import Desk, Person
from tests.unit.services.conversation_support import post
from tests.uploads import new_reporter

LIMITS = AttachmentLimits(
    max_file_bytes=10 * 1024 * 1024,
    per_report=3,
    storage_bytes=2**30,
    upload_expiry=dt.timedelta(hours=24),
)
FILE_CONTENT = b"\xff\xd8\xff\xe0 photo of the car that followed her " * 40
ADMIN = Person("admin", "first key holder passphrase")


def empty_database(server: DatabaseServer, backend: str, directory: Path) -> str:
    """A new database of ``backend`` with nothing in it (PostgreSQL's is migrated, empty)."""
    directory.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        return f"sqlite:///{directory / 'hrd-reports.db'}"
    return server.fresh(directory)


def settings_for(database_url: str, keys_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        keys_dir=keys_dir,
        pow_difficulty_bits=CHEAP_POW_BITS,
        **CHEAP_ARGON2,
    )


@contextmanager
def desk_runtime(settings: Settings) -> Iterator[Runtime]:
    rt = build_runtime(settings)
    try:
        yield rt
    finally:
        rt.close()


@dataclass
class FilledDesk:
    recovery_key: PrivateKey
    recovery_text: str
    people: dict[str, Person]
    reports: list[UUID]
    with_file: UUID
    assigned: UUID


def fill_desk(desk: Desk, *, admin: Person = ADMIN) -> FilledDesk:
    """Set up ``desk`` with several people, reports, a reporter's message, a reply, a file."""
    setup = desk.set_up(admin)
    people = {
        "admin": admin,
        "carol": desk.add_vetted("carol", Role.COORDINATOR, by=admin),
        "dave": desk.add_vetted("dave", Role.CASE_WORKER, by=admin),
        "erin": desk.add("erin", Role.AUDITOR),
    }
    submitted = [desk.submit(f"report number {n}".encode()) for n in range(3)]
    reporter = new_reporter(desk.intake_key(), narrative="the file is attached")
    desk.store(reporter.submission)
    encrypted = reporter.file(FILE_CONTENT)
    with desk.session() as session:
        attachments.start_upload(
            session,
            UploadDeclared(
                attachment_id=encrypted.attachment_id,
                report_id=reporter.report_id,
                message_id=None,
                chunks=len(encrypted.chunks),
                stored_size=encrypted.stored_size,
            ),
            limits=LIMITS,
        )
        for index, data in enumerate(encrypted.chunks):
            attachments.store_chunk(
                session, attachment_id=encrypted.attachment_id, index=index, data=data
            )
        report = session.execute(
            select(Report).where(Report.public_id == reporter.report_id)
        ).scalar_one()
        attachments.attach(
            session,
            report=report,
            message=None,
            files=[FileNamed(encrypted.attachment_id, encrypted.record)],
            limits=LIMITS,
        )
        session.commit()
    post(desk, submitted[0], "they came back last night")
    desk.reply(submitted[0].report_id, "we are calling you tomorrow", by=admin)
    desk.assign(submitted[1].report_id, to="dave", by=admin)
    return FilledDesk(
        recovery_key=decode_recovery_key(setup.recovery_key),
        recovery_text=setup.recovery_key,
        people=people,
        reports=[*(s.report_id for s in submitted), reporter.report_id],
        with_file=reporter.report_id,
        assigned=submitted[1].report_id,
    )


def back_up(rt: Runtime, path: Path) -> BackupSummary:
    return write_backup_file(
        path,
        lambda out: write_backup(
            rt.engine, out=out, secrets=rt.secrets, keys_dir=rt.settings.keys_dir
        ),
    )
