"""Learning which new reports are urgent, in chunks that each commit on their own.

A report's urgency is in its encrypted content, so the first listing after reports arrive
opens every report nobody has opened yet (``reading.learn`` keeps what it learned in clear).
After a bulk arrival that is tens of thousands of decryptions: done inside the listing's
one transaction it held the database's write lock (SQLite) for the whole of it, and every
reporter's submission waited behind it or failed as busy. Invariant 6: a flood never stalls
the reporter side.

So the reports are opened from a read-only snapshot, which holds no write lock, a chunk at a
time; each chunk's flags and its audit entry are written by the caller's session, which the
caller commits after every chunk (``classify_new`` yields then). The write transaction holds
only those UPDATEs and one audit entry, never a decryption. Every report decrypted is in the
audit entry of the chunk that decrypted it, committed with what was learned from it.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import Connection, bindparam, update
from sqlalchemy.orm import Session

from hrd_reports import db, received
from hrd_reports.crypto.xwing import Sealed
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import Report
from hrd_reports.services import reading
from hrd_reports.services.credentials import UnlockedUser

# Reports opened per chunk: about 0.2 s of decryption on a server core, read outside any
# write transaction; the transaction that follows writes this many flags and one audit entry.
CLASSIFY_CHUNK = 1000

_LEARNED = (
    update(Report)
    .where(Report.id == bindparam("row_id"), Report.follows_form.is_(None))
    .values(urgent=bindparam("learned_urgent"), follows_form=bindparam("learned_form"))
)


@dataclass(frozen=True)
class Learned:
    row_id: int
    urgent: bool
    follows_form: bool


def _open_chunk(
    session: Session, reader: UnlockedUser, *, after: int, limit: int
) -> tuple[dict[UUID, bool], list[Learned], int | None]:
    """The next ``limit`` unclassified reports after row ``after`` opened from a snapshot:
    each report decrypted (id: whether it opened), what was learned, and the last row id
    (None: none left).

    Read by row id, not from the start each time: a report that does not open stays
    unclassified and would otherwise be read again and again.
    """
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    unclassified = reading.visible(reader).where(Report.follows_form.is_(None), Report.id > after)
    with db.snapshot(engine) as connection, Session(bind=connection) as reading_session:
        # Nearly every listing finds nothing new: that is one indexed look, without unlocking
        # the reader's keys (an X-Wing key opened for each of them) for nothing.
        if connection.execute(unclassified.with_only_columns(Report.id).limit(1)).first() is None:
            return {}, [], None
        keys = reading.reader_keys(reading_session, reader)
        query = (
            unclassified.with_only_columns(
                Report.id, Report.public_id, Report.body, *keys.sealed_dek_columns()
            )
            .order_by(Report.id)
            .limit(limit)
        )
        rows = connection.execute(query).all()
    opened: dict[UUID, bool] = {}
    learned: list[Learned] = []
    for row_id, report_id, body, suite, key_id, sealed_dek in rows:
        decrypted = reading.decrypt(
            keys, report_id=report_id, sealed=Sealed(suite, key_id, sealed_dek), body=body
        )
        opened[report_id] = decrypted.plaintext is not None
        if decrypted.plaintext is not None:
            urgent, follows_form = reading.classification(received.read(decrypted.plaintext))
            learned.append(Learned(row_id, urgent, follows_form))
    return opened, learned, rows[-1][0] if rows else None


def classify_new(
    session: Session,
    *,
    reader: UnlockedUser,
    secrets: ServerSecrets,
    chunk: int | None = None,
) -> Iterator[int]:
    """Open the reports nobody has opened yet that ``reader`` may read, so urgent ones reach
    the top of the list; after each chunk, its flags and its audit entry are flushed to
    ``session`` and the number of reports decrypted is yielded, for the caller to commit.

    A caller that does not commit in between (the list, for reports that arrived since) makes
    one transaction of it all, as before.
    """
    limit = chunk or CLASSIFY_CHUNK
    after = 0
    while True:
        opened, learned, last = _open_chunk(session, reader, after=after, limit=limit)
        if last is None:
            return
        after = last
        if learned:
            # Another reader may have classified some meanwhile: theirs stand (same values).
            session.connection().execute(
                _LEARNED,
                [
                    {
                        "row_id": item.row_id,
                        "learned_urgent": item.urgent,
                        "learned_form": item.follows_form,
                    }
                    for item in learned
                ],
            )
        reading.audit_reading(
            session,
            reader=reader.name,
            opened=opened,
            secrets=secrets,
            subject=None,
            detail={"classified": len(learned)},
        )
        session.flush()
        yield len(opened)
