"""Group commit of reporters' submissions: many acknowledged reports for one flush to disk.

A submission is answered only once the transaction that stores it has committed, and a
commit returns only once the database has flushed its log to disk (SQLite in WAL mode with
``synchronous=FULL``, PostgreSQL with ``synchronous_commit`` on): an acknowledged report
survives a killed server and a power cut. Committing each report alone makes that flush,
and the write lock's hand-over from one request to the next, the cost of every report, and
a flood of submissions fills the queue for the lock that case workers need too.

One writer thread per server process takes every submission waiting when it is free and
stores them in one transaction (``intake.store_submissions``: each in a savepoint of its own,
so a refused one changes nothing and takes no other with it), commits once, and only then
answers each. At rest a batch is one submission and nobody waits for another; under a flood
the batch grows with the queue and one flush serves them all. Nothing waits on a timer to
fill a batch.
"""

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from sqlalchemy.exc import TimeoutError as PoolTimeout

from hrd_reports.db import DatabaseBusy, unit_of_work
from hrd_reports.services import intake
from hrd_reports.services.errors import ServiceError
from hrd_reports.wiring import Runtime

logger = logging.getLogger("hrd_reports.intake")

# At most this many submissions in one transaction: with their bodies (up to 270 KB each)
# and files' records, a batch stays a few megabytes, and a refused batch (the disk full, the
# database gone) answers no more than this many reporters with an error at once.
MAX_BATCH = 64


@dataclass(frozen=True)
class _Waiting:
    submitted: intake.Submitted
    answer: "Future[str]"


class SubmissionCommitter:
    """Stores submissions in group commits on a thread of its own (see the module)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._queue: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False

    async def store(self, submitted: intake.Submitted) -> str:
        """The stored report's id, once its transaction is committed; a refusal raises the
        service's error for this submission alone."""
        answer: Future[str] = Future()
        self._enqueue(_Waiting(submitted, answer))
        outcome = asyncio.wrap_future(answer)
        try:
            return await asyncio.shield(outcome)
        except asyncio.CancelledError:
            # The request is cut off (the server stopping). Not yet taken by the writer: it
            # is never stored, and its reporter is told nothing was sent. Already being
            # stored: its reporter is told how that ended, not that nothing was sent.
            if answer.cancel():
                raise
            return await outcome

    def _enqueue(self, waiting: _Waiting) -> None:
        with self._lock:
            if self._stopped:
                # Answered 503 with Retry-After: the reporter's page sends it again shortly.
                raise DatabaseBusy("the server is stopping; try again")
            if self._thread is None or not self._thread.is_alive():
                thread = threading.Thread(target=self._run, name="hrd-intake-commits", daemon=True)
                thread.start()
                self._thread = thread
            self._queue.put(waiting)

    def start(self) -> None:
        """Take submissions again (an app served anew after its lifespan ended); the writer
        thread itself starts with the first one."""
        with self._lock:
            self._stopped = False

    def stop(self) -> None:
        """Store what is queued, then end the thread (blocking: call it off the event loop)."""
        with self._lock:
            self._stopped = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            with contextlib.suppress(queue.Empty):
                while len(batch) < MAX_BATCH:
                    waiting = self._queue.get_nowait()
                    if waiting is None:
                        self._commit(batch)
                        return
                    batch.append(waiting)
            self._commit(batch)

    def _commit(self, batch: Sequence[_Waiting]) -> None:
        # A request cut off before its turn (the server stopping) was told nothing was sent:
        # it is not stored. One taken here is waited for by its request (``store``).
        live = [waiting for waiting in batch if waiting.answer.set_running_or_notify_cancel()]
        try:
            outcomes = self._store([waiting.submitted for waiting in live])
        except (DatabaseBusy, PoolTimeout) as busy:
            # Waiting again, one by one, would only keep them waiting longer.
            for waiting in live:
                waiting.answer.set_exception(busy)
            return
        except Exception as failure:
            if len(live) == 1:
                live[0].answer.set_exception(failure)
                return
            # Nothing of the batch is stored. Something no check foresaw failed the
            # transaction: each is tried alone, so one reporter's submission cannot cost the
            # others theirs.
            logger.exception("a group commit of %d failed; storing each alone", len(live))
            for waiting in live:
                self._commit_alone(waiting)
            return
        for waiting, outcome in zip(live, outcomes, strict=True):
            if isinstance(outcome, ServiceError):
                waiting.answer.set_exception(outcome)
            else:
                waiting.answer.set_result(outcome)

    def _commit_alone(self, waiting: _Waiting) -> None:
        try:
            (outcome,) = self._store([waiting.submitted])
        except Exception as failure:  # noqa: BLE001 - the reporter must hear of it
            waiting.answer.set_exception(failure)
            return
        if isinstance(outcome, ServiceError):
            waiting.answer.set_exception(outcome)
        else:
            waiting.answer.set_result(outcome)

    def _store(self, submitted: Sequence[intake.Submitted]) -> list[str | ServiceError]:
        rt = self._runtime
        with unit_of_work(rt.sessions) as session:
            outcomes = intake.store_submissions(
                session,
                submitted,
                secrets=rt.secrets,
                difficulty=rt.settings.pow_difficulty_bits,
                limits=rt.attachment_limits,
            )
            session.commit()
        return outcomes
