"""Group commit of submissions: many reports for one flush to disk, each answered only once
the transaction that holds it is durable, and a refused one takes no other with it.

The threat behind the first property: a reporter told "received" who then deletes their
draft; behind the second, one reporter's malformed or replayed submission (or an attacker's)
costing honest reporters theirs.
"""

import asyncio
import dataclasses
import datetime as dt
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import func, select

from hrd_reports.crypto.pow import WINDOW_SECONDS, is_solution, read_challenge, solve
from hrd_reports.crypto.submission import Submission, new_submission
from hrd_reports.db import DatabaseBusy
from hrd_reports.models import Report, SpentChallenge
from hrd_reports.services import challenges, group_commit, intake
from hrd_reports.services.challenges import ProofOfWorkRefused
from hrd_reports.services.errors import Conflict, Invalid, ServiceError
from hrd_reports.services.group_commit import SubmissionCommitter
from tests.helpers import Desk, report_content, run_coroutine

# Issued with this many bits, so that a counter can fail to solve one.
DIFFICULTY = 8


def _solved(desk: Desk, submission: Submission) -> intake.Submitted:
    challenge = challenges.issue(secrets=desk.secrets, difficulty=DIFFICULTY)
    return intake.Submitted(
        challenge=challenge.token,
        counter=solve(challenge.token, challenge.difficulty),
        submission=submission,
        files=[],
    )


def _new(desk: Desk, words: str = "a report") -> intake.Submitted:
    _, submission = new_submission(report_content(words), intake_key=desk.intake_key())
    return _solved(desk, submission)


def _count(desk: Desk, table: Any) -> int:
    with desk.session() as session:
        return session.execute(select(func.count()).select_from(table)).scalar_one()


async def _store_all(
    committer: SubmissionCommitter, submitted: Sequence[intake.Submitted]
) -> list[str | BaseException]:
    return await asyncio.gather(
        *(committer.store(one) for one in submitted), return_exceptions=True
    )


class HeldFirstBatch:
    """Wraps ``intake.store_submissions``: records each batch's size, and holds the first one
    until released, while the rest of the submissions queue up behind it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sizes: list[int] = []
        self.release = threading.Event()
        real = intake.store_submissions

        def store(session: Any, submitted: Sequence[intake.Submitted], **kwargs: Any) -> Any:
            self.sizes.append(len(submitted))
            if len(self.sizes) == 1:
                assert self.release.wait(timeout=60), "never released"
            return real(session, submitted, **kwargs)

        monkeypatch.setattr(intake, "store_submissions", store)


def behind_a_held_batch(
    monkeypatch: pytest.MonkeyPatch,
    desk: Desk,
    first: intake.Submitted,
    batch: Sequence[intake.Submitted],
) -> tuple[list[int], list[str | BaseException]]:
    """Store ``first``, hold its transaction, queue ``batch`` behind it, then let both go:
    the sizes of the batches stored, and the answers (``first``'s, then ``batch``'s)."""
    held = HeldFirstBatch(monkeypatch)
    committer = SubmissionCommitter(desk.runtime)

    async def scenario() -> list[str | BaseException]:
        ahead = asyncio.ensure_future(committer.store(first))
        while not held.sizes:
            await asyncio.sleep(0.01)
        queued = [asyncio.ensure_future(committer.store(one)) for one in batch]
        await asyncio.sleep(0.2)
        # Everyone is waiting for the held transaction: nobody has been answered yet.
        assert not any(task.done() for task in [ahead, *queued])
        held.release.set()
        return list(await asyncio.gather(ahead, *queued, return_exceptions=True))

    try:
        return held.sizes, run_coroutine(scenario())
    finally:
        held.release.set()
        committer.stop()


def test_submissions_that_wait_together_are_stored_in_one_transaction_and_answered_after_it(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    submitted = [_new(desk, f"report {n}") for n in range(12)]

    sizes, answers = behind_a_held_batch(monkeypatch, desk, submitted[0], submitted[1:])

    assert sizes == [1, 11]
    assert answers == [str(one.submission.report_id) for one in submitted]
    assert _count(desk, Report) == 12
    assert _count(desk, SpentChallenge) == 12


def test_a_refused_submission_changes_nothing_and_takes_no_other_with_it(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = [_new(desk, f"honest report {n}") for n in range(4)]
    # good[0]'s solved challenge, sent again with another report.
    replayed_proof = dataclasses.replace(
        _new(desk, "copied proof"), challenge=good[0].challenge, counter=good[0].counter
    )
    unsolved = _new(desk, "no work done")
    challenge = read_challenge(desk.secrets.pow, unsolved.challenge)
    wrong = next(n for n in range(1000) if not is_solution(challenge, n))
    unsolved = dataclasses.replace(unsolved, counter=wrong)
    # good[3]'s report id with another receipt: someone who saw the id, not its reporter.
    other_receipt = _new(desk, "a stolen id")
    other_receipt = dataclasses.replace(
        other_receipt,
        submission=dataclasses.replace(
            other_receipt.submission, report_id=good[3].submission.report_id
        ),
    )
    misshapen = _new(desk, "cut short")
    misshapen = dataclasses.replace(
        misshapen, submission=dataclasses.replace(misshapen.submission, sealed_dek=b"\0" * 7)
    )

    batch = [good[0], replayed_proof, good[1], unsolved, good[2], good[3], other_receipt]
    batch.append(misshapen)

    sizes, [_, *answers] = behind_a_held_batch(monkeypatch, desk, _new(desk, "first"), batch)

    assert sizes == [1, 8]
    stored = [str(one.submission.report_id) for one in good]
    assert [answers[0], answers[2], answers[4], answers[5]] == stored
    refusals = [answers[1], answers[3], answers[6], answers[7]]
    assert isinstance(refusals[0], ProofOfWorkRefused)
    assert "already used" in str(refusals[0])
    assert isinstance(refusals[1], ProofOfWorkRefused)
    assert "not solved" in str(refusals[1])
    assert isinstance(refusals[2], Conflict)
    assert isinstance(refusals[3], Invalid)
    assert not isinstance(refusals[3], ProofOfWorkRefused)
    # The first submission and the four honest ones; a refused one spent no proof of work.
    assert _count(desk, Report) == 5
    assert _count(desk, SpentChallenge) == 5


def test_the_same_report_sent_twice_in_one_batch_is_stored_once_and_both_are_answered(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _new(desk, "sent twice: the first answer was lost on the way")
    again = _solved(desk, first.submission)

    sizes, [_, *answers] = behind_a_held_batch(
        monkeypatch, desk, _new(desk, "first"), [first, again]
    )

    assert sizes == [1, 2]
    assert answers == [str(first.submission.report_id)] * 2
    assert _count(desk, Report) == 2


def test_a_batch_that_fails_unforeseen_is_stored_one_by_one(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_insert = intake._insert_together
    failures = []

    def insert_broken_for_many(session: Any, plain: Sequence[Any], **kwargs: Any) -> None:
        if len(plain) > 1:
            failures.append(len(plain))
            raise RuntimeError("an unforeseen failure")
        real_insert(session, plain, **kwargs)

    monkeypatch.setattr(intake, "_insert_together", insert_broken_for_many)
    monkeypatch.setattr(group_commit.logger, "exception", lambda *_args, **_kw: None)
    submitted = [_new(desk, f"report {n}") for n in range(4)]

    sizes, answers = behind_a_held_batch(monkeypatch, desk, submitted[0], submitted[1:])

    # The batch of three failed as a whole, and each of its submissions was stored alone.
    assert failures == [3]
    assert sizes == [1, 3, 1, 1, 1]
    assert answers == [str(one.submission.report_id) for one in submitted]
    assert _count(desk, Report) == 4


def test_a_stopped_committer_stores_what_is_queued_and_refuses_more(desk: Desk) -> None:
    committer = SubmissionCommitter(desk.runtime)
    submitted = [_new(desk, f"report {n}") for n in range(3)]

    async def scenario() -> list[str | BaseException]:
        return await _store_all(committer, submitted)

    answers = run_coroutine(scenario())
    committer.stop()
    assert answers == [str(one.submission.report_id) for one in submitted]
    with pytest.raises(DatabaseBusy, match="stopping"):
        run_coroutine(committer.store(_new(desk)))
    assert not any(isinstance(answer, ServiceError) for answer in answers)


def test_a_committer_started_again_stores_again(desk: Desk) -> None:
    # An app whose lifespan ended is served again (the server's lifespan starts it): its
    # reporters must not all be answered "stopping".
    committer = SubmissionCommitter(desk.runtime)
    committer.stop()
    committer.start()
    again = _new(desk, "after a restart")
    try:
        assert run_coroutine(committer.store(again)) == str(again.submission.report_id)
    finally:
        committer.stop()
    assert _count(desk, Report) == 1


def test_a_proof_checked_on_arrival_that_expired_before_its_batch_is_refused(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Checked as it arrived, stored two windows later (a queue held up by a flood): its
    # spent twin may have been purged meanwhile, so the check counts when it is stored.
    arrived = intake.checked_on_arrival(
        _new(desk, "held up"), secrets=desk.secrets, difficulty=DIFFICULTY
    )
    assert arrived.plain is not None
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2 * WINDOW_SECONDS)
    monkeypatch.setattr(challenges, "utc_now", lambda: later)
    committer = SubmissionCommitter(desk.runtime)
    try:
        (answer,) = run_coroutine(_store_all(committer, [arrived]))
    finally:
        committer.stop()
    assert isinstance(answer, ProofOfWorkRefused)
    assert "expired" in str(answer)
    assert _count(desk, Report) == 0
    assert _count(desk, SpentChallenge) == 0
