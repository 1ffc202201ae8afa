"""Re-sealing every report's data key to a rotation's new intake key, batch by batch.

Each batch is one transaction that first locks the open rotation; batches commit in order.
A batch that dies before its commit changes nothing, and one that committed is never redone,
since its reports now name the new key, so a rerun resumes where the last commit left off.
This is the one service that commits, because the work must be many transactions.
"""

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from hrd_reports.crypto.envelope import open_dek, seal_dek
from hrd_reports.crypto.errors import CryptoError, DecryptionFailed
from hrd_reports.crypto.xwing import PrivateKey, PublicKey, Sealed
from hrd_reports.db import unit_of_work
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import IntakeKey, Report
from hrd_reports.services import keyring
from hrd_reports.services.rotation import lock_open_rotation


@dataclass(frozen=True)
class BatchResult:
    resealed: int
    damaged: list[str]
    last_id: int | None


def reseal_batch(
    session: Session,
    *,
    rotation_id: int,
    intake_keys: dict[str, PrivateKey],
    after_id: int,
    batch_size: int,
    secrets: ServerSecrets,
) -> BatchResult:
    """Re-seal the next ``batch_size`` reports (by id, after ``after_id``) to the new key.

    A report whose data key does not open is left as it is and named in ``damaged``: one
    altered row must not stop a rotation that may be under way because of a compromise.
    """
    running = lock_open_rotation(session, rotation_id)
    new_key = keyring.intake_public_key(
        session.get_one(IntakeKey, running.to_key_id), secrets=secrets
    )
    rows = _rows_to_reseal(session, running.to_key_id, after_id=after_id, limit=batch_size)
    if not rows:
        return BatchResult(resealed=0, damaged=[], last_id=None)
    changes, damaged = _reseal_rows(rows, intake_keys, new_key)
    if changes:
        session.execute(update(Report), changes)
    return BatchResult(resealed=len(changes), damaged=damaged, last_id=rows[-1].id)


def _rows_to_reseal(session: Session, to_key_id: str, *, after_id: int, limit: int) -> list[Any]:
    return list(
        session.execute(
            select(
                Report.id, Report.public_id, Report.dek_suite, Report.dek_key_id, Report.sealed_dek
            )
            .where(Report.dek_key_id != to_key_id, Report.id > after_id)
            .order_by(Report.id)
            .limit(limit)
        ).all()
    )


def _reseal_rows(
    rows: list[Any], intake_keys: dict[str, PrivateKey], new_key: PublicKey
) -> tuple[list[dict[str, Any]], list[str]]:
    """Each row's DEK opened with its old key and sealed to the new one; the damaged named.

    A report whose data key does not open is left as it is: one altered row must not stop a
    rotation that may be under way because of a compromise.
    """
    changes: list[dict[str, Any]] = []
    damaged: list[str] = []
    for row in rows:
        holder = intake_keys.get(row.dek_key_id)
        try:
            if holder is None:
                raise DecryptionFailed(f"no holder for {row.dek_key_id}")
            sealed = Sealed(row.dek_suite, row.dek_key_id, row.sealed_dek)
            dek = open_dek(sealed, report_id=row.public_id, holder=holder)
        except CryptoError:
            damaged.append(str(row.public_id))
            continue
        resealed = seal_dek(dek, report_id=row.public_id, recipient=new_key)
        changes.append(
            {
                "id": row.id,
                "dek_key_id": resealed.key_id,
                "dek_suite": resealed.suite,
                "sealed_dek": resealed.ciphertext,
            }
        )
    return changes, damaged


def _nothing(_: object) -> None:
    """What happens at a checkpoint, or after a batch, when nobody asked for anything."""


def reseal_all(
    sessions: sessionmaker[Session],
    *,
    rotation_id: int,
    intake_keys: dict[str, PrivateKey],
    batch_size: int,
    secrets: ServerSecrets,
    on_batch: Callable[[BatchResult], None] | None = None,
    checkpoint: Callable[[str], None] = _nothing,
) -> list[str]:
    """Re-seal every remaining report, one committed transaction per batch; name the damaged.

    ``checkpoint`` is called at each named point (``batch-N-before-commit`` and
    ``batch-N-after-commit``), so tests can kill the process exactly there.
    """
    reseal = _reseal_overlapped if _dialect(sessions) == "postgresql" else _reseal_serially
    return reseal(
        sessions,
        rotation_id=rotation_id,
        intake_keys=intake_keys,
        batch_size=batch_size,
        secrets=secrets,
        on_batch=on_batch or _nothing,
        checkpoint=checkpoint,
    )


def _dialect(sessions: sessionmaker[Session]) -> str:
    bind = sessions.kw["bind"]
    return str(bind.dialect.name)


def _reseal_serially(
    sessions: sessionmaker[Session],
    *,
    rotation_id: int,
    intake_keys: dict[str, PrivateKey],
    batch_size: int,
    secrets: ServerSecrets,
    on_batch: Callable[[BatchResult], None],
    checkpoint: Callable[[str], None],
) -> list[str]:
    """SQLite: read, re-seal and write each batch in one transaction, one after another."""
    damaged: list[str] = []
    after_id, batch = 0, 0
    while True:
        with unit_of_work(sessions) as session:
            result = reseal_batch(
                session,
                rotation_id=rotation_id,
                intake_keys=intake_keys,
                after_id=after_id,
                batch_size=batch_size,
                secrets=secrets,
            )
            if result.last_id is None:
                return damaged
            batch += 1
            checkpoint(f"batch-{batch}-before-commit")
            session.commit()
        checkpoint(f"batch-{batch}-after-commit")
        damaged += result.damaged
        after_id = result.last_id
        on_batch(result)


# One statement per batch: psycopg sends it at once and waits for the server without holding
# Python's interpreter lock, so the next batch is sealed meanwhile.
_UPDATE_FROM_ARRAYS = text(
    "UPDATE reports SET dek_key_id = :key_id, dek_suite = :suite, sealed_dek = v.dek "
    "FROM unnest(CAST(:ids AS integer[]), CAST(:deks AS bytea[])) AS v(id, dek) "
    "WHERE reports.id = v.id"
)


def _reseal_overlapped(
    sessions: sessionmaker[Session],
    *,
    rotation_id: int,
    intake_keys: dict[str, PrivateKey],
    batch_size: int,
    secrets: ServerSecrets,
    on_batch: Callable[[BatchResult], None],
    checkpoint: Callable[[str], None],
) -> list[str]:
    """PostgreSQL: batch N is written by a writer thread while batch N+1 is re-sealed.

    The database server then works on one core while Python seals on the other. Batches
    still commit one at a time, in order, each in its own transaction that locks the open
    rotation first, so a crash at any point leaves exactly the batches committed before it.
    """
    with unit_of_work(sessions) as session:
        to_key_id = lock_open_rotation(session, rotation_id).to_key_id
        new_key = keyring.intake_public_key(session.get_one(IntakeKey, to_key_id), secrets=secrets)

    def read(after_id: int) -> list[Any]:
        with unit_of_work(sessions) as session:
            return _rows_to_reseal(session, to_key_id, after_id=after_id, limit=batch_size)

    def write(number: int, result: BatchResult, changes: list[dict[str, Any]]) -> BatchResult:
        with unit_of_work(sessions) as session:
            lock_open_rotation(session, rotation_id)
            if changes:
                session.execute(
                    _UPDATE_FROM_ARRAYS,
                    {
                        "key_id": to_key_id,
                        "suite": changes[0]["dek_suite"],
                        "ids": [change["id"] for change in changes],
                        "deks": [change["sealed_dek"] for change in changes],
                    },
                )
            checkpoint(f"batch-{number}-before-commit")
            session.commit()
        checkpoint(f"batch-{number}-after-commit")
        return result

    damaged: list[str] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reseal-writer") as writer:
        pending: Future[BatchResult] | None = None
        rows, number = read(0), 0
        while rows:
            number += 1
            changes, failed = _reseal_rows(rows, intake_keys, new_key)
            result = BatchResult(resealed=len(changes), damaged=failed, last_id=rows[-1].id)
            if pending is not None:
                on_batch(pending.result())
            rows = read(rows[-1].id)
            pending = writer.submit(write, number, result, changes)
            damaged += failed
        if pending is not None:
            on_batch(pending.result())
    return damaged
