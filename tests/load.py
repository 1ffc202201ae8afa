"""A load client for tests (the reference reporter client over async httpx), and a reader of
what the server kept.

Submissions are built (encrypted to the desk's intake key) before the clock starts: that is
the reporters' browsers' work, not the server's. Then each of ``concurrency`` clients takes the
next submission, asks ``GET /api/v1/challenge``, solves it and sends
``POST /api/v1/reports``, as a browser does. A request that gets no answer (the server was
killed: the connection refused, reset or closed) is recorded as such, not raised, so that a
crash test can tell which submissions the server acknowledged and which it never answered.

``read_back`` and ``differences`` then compare every report in the database with what its
reporter sent: the stored columns byte for byte, the content as a key holder decrypts it, and
the receipt still finding it (DESIGN.md invariant 7: no acknowledged report is lost, and none
is half-written).

Receipts and contents stay out of every ``repr``: a failing assertion prints outcomes, and a
receipt or a report's words must never reach a log, even a test's.
"""

import asyncio
import contextlib
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import select

from hrd_reports.crypto.pow import solve
from hrd_reports.crypto.receipts import derive_receipt_keys, lookup_hash
from hrd_reports.crypto.submission import Submission, new_submission
from hrd_reports.crypto.xwing import PublicKey
from hrd_reports.models import Report
from tests.helpers import Desk, Person, report_content, run_coroutine

# Generous: a request slower than this under load is a failure to look at, not a crash.
REQUEST_TIMEOUT_SECONDS = 120.0
NO_ANSWER = "no answer"


@dataclass(frozen=True)
class Prepared:
    """One reporter's submission, built before the load starts, and what it must decrypt to."""

    content: bytes = field(repr=False)
    receipt: str = field(repr=False)
    submission: Submission = field(repr=False)

    @property
    def report_id(self) -> UUID:
        return self.submission.report_id


def prepare(intake_key: PublicKey, count: int, *, label: str) -> list[Prepared]:
    """``count`` submissions to ``intake_key``, each with its own words, receipt and id."""
    prepared = []
    for number in range(count):
        content = report_content(f"{label}, report {number}: followed home from the court")
        receipt, submission = new_submission(content, intake_key=intake_key)
        prepared.append(Prepared(content=content, receipt=receipt, submission=submission))
    return prepared


@dataclass(frozen=True)
class Outcome:
    """What became of one submission. ``status`` is None when no answer came back."""

    prepared: Prepared
    status: int | None
    started: float  # time.perf_counter() when its first request was sent
    # Seconds from the challenge request to the last answer (or error), the proof of work
    # included: a few dozen hashes at the tests' difficulty.
    latency: float
    report_id: UUID | None = None  # from a 201
    # Why it was not acknowledged: the step and the server's one-line refusal, or the
    # transport error's name. Never a value that was sent.
    problem: str | None = None

    @property
    def answered(self) -> bool:
        return self.status is not None

    @property
    def label(self) -> str:
        return NO_ANSWER if self.status is None else str(self.status)


@dataclass(frozen=True)
class LoadResult:
    outcomes: list[Outcome]
    elapsed: float
    concurrency: int

    @property
    def sent(self) -> int:
        return len(self.outcomes)

    @property
    def acknowledged(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.status == 201]

    @property
    def not_acknowledged(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.status != 201]

    @property
    def server_errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is not None and o.status >= 500]

    def counts_by_status(self) -> dict[str, int]:
        return dict(Counter(outcome.label for outcome in self.outcomes))

    def latency_ms(self, percentile: float) -> float | None:
        """Nearest-rank percentile of the answered submissions' latencies, in milliseconds."""
        latencies = sorted(o.latency for o in self.outcomes if o.answered)
        if not latencies:
            return None
        rank = max(1, math.ceil(percentile / 100 * len(latencies)))
        return latencies[rank - 1] * 1000

    @property
    def throughput(self) -> float:
        """Acknowledged submissions per second, over the whole run."""
        return len(self.acknowledged) / self.elapsed if self.elapsed else 0.0

    def figures(self) -> dict[str, Any]:
        """The run in numbers only (no id, receipt or content), for a benchmark runner."""
        statuses = self.counts_by_status()
        return {
            "sent": self.sent,
            "acknowledged": len(self.acknowledged),
            "server_errors": len(self.server_errors),
            "other_statuses": {k: v for k, v in statuses.items() if k != "201"},
            "p50_ms": _rounded(self.latency_ms(50)),
            "p99_ms": _rounded(self.latency_ms(99)),
            "throughput_per_s": round(self.throughput, 1),
            "elapsed_s": round(self.elapsed, 2),
            "concurrency": self.concurrency,
        }

    def failures(self) -> list[str]:
        """One line per submission that was not acknowledged, to show in a failed assert."""
        return [f"{o.label}: {o.problem}" for o in self.not_acknowledged]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _problem(step: str, response: httpx.Response) -> str:
    # The server's refusals are one line that never repeats a submitted value (web/app.py);
    # a crash is uvicorn's plain "Internal Server Error".
    try:
        detail = response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        detail = response.text
    return f"{step} answered {response.status_code}: {str(detail)[:200]}"


async def _submit_one(client: httpx.AsyncClient, prepared: Prepared) -> Outcome:
    started = time.perf_counter()

    def outcome(status: int | None, **kwargs: Any) -> Outcome:
        return Outcome(prepared, status, started, time.perf_counter() - started, **kwargs)

    try:
        answer = await client.get("/api/v1/challenge")
        if answer.status_code != 200:
            return outcome(answer.status_code, problem=_problem("GET /api/v1/challenge", answer))
        challenge = answer.json()
        body = {
            "proof_of_work": {
                "challenge": challenge["challenge"],
                "counter": solve(challenge["challenge"], challenge["difficulty"]),
            },
            "envelope": prepared.submission.to_wire(),
        }
        answer = await client.post("/api/v1/reports", json=body)
    except httpx.TransportError as exc:
        # The server was killed or went away; whether it stored the report is for the
        # database to say, not this client.
        return outcome(None, problem=type(exc).__name__)
    if answer.status_code != 201:
        return outcome(answer.status_code, problem=_problem("POST /api/v1/reports", answer))
    return outcome(201, report_id=UUID(answer.json()["report_id"]))


async def submit_all(
    base_url: str,
    prepared: Sequence[Prepared],
    *,
    concurrency: int,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> LoadResult:
    """Send every prepared submission, ``concurrency`` at a time; ``on_outcome`` sees each
    outcome as it comes (a crash test kills the server from there)."""
    pending = iter(prepared)
    outcomes: list[Outcome] = []

    async def reporter(client: httpx.AsyncClient) -> None:
        # One shared iterator: the event loop runs one reporter at a time between awaits.
        for item in pending:
            outcome = await _submit_one(client, item)
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)

    # A client, and so a connection, per reporter, as each reporter has a browser of their
    # own. (One client with a pool of 64 also costs httpcore a scan of the whole pool at every
    # request: the client, on the same cores as the server, would be what is measured.)
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS)
            )
            for _ in range(concurrency)
        ]
        started = time.perf_counter()
        await asyncio.gather(*(reporter(client) for client in clients))
        elapsed = time.perf_counter() - started
    return LoadResult(outcomes=outcomes, elapsed=elapsed, concurrency=concurrency)


def run_load(
    base_url: str,
    prepared: Sequence[Prepared],
    *,
    concurrency: int,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> LoadResult:
    return run_coroutine(
        submit_all(base_url, prepared, concurrency=concurrency, on_outcome=on_outcome)
    )


# ---- what the server kept ------------------------------------------------------------------

_STORED_AS_SENT = (
    Report.envelope_version,
    Report.body,
    Report.dek_key_id,
    Report.dek_suite,
    Report.sealed_dek,
    Report.reporter_key,
    Report.message_key,
    Report.lookup_hash,
)


@dataclass(frozen=True)
class Stored:
    """One report row: the columns intake copies from the submission, and its content as a
    key holder decrypts it (None, with ``problem``, when it does not open)."""

    columns: dict[str, Any] = field(repr=False)
    content: dict[str, Any] | None = field(repr=False)
    problem: str | None


def read_back(desk: Desk, keyholder: Person) -> dict[UUID, Stored]:
    """Every report in the database, read as the desk reads them: decrypted through the
    services with ``keyholder``'s keys, and audited like any reading."""
    with desk.session() as session:
        rows = session.execute(select(Report.public_id, *_STORED_AS_SENT)).all()
    # Read after the rows (a report is never deleted here): each row read has its view, even
    # if a server still running stored another report in between.
    views = {view.id: view for view in desk.list_reports(keyholder)}
    stored = {}
    for report_id, *values in rows:
        view = views[report_id]
        columns = {column.key: value for column, value in zip(_STORED_AS_SENT, values, strict=True)}
        stored[report_id] = Stored(columns=columns, content=view.content, problem=view.problem)
    return stored


def differences(
    stored: Mapping[UUID, Stored], sent: Mapping[UUID, Prepared], *, lookup_secret: bytes
) -> list[str]:
    """Every way a stored report differs from what its reporter sent, one line each (ids and
    column names only); empty when each row is whole, byte for byte, and opens to the words
    sent. A report that was never sent is a difference too."""
    problems = []
    for report_id, row in stored.items():
        prepared = sent.get(report_id)
        if prepared is None:
            problems.append(f"{report_id}: stored, but no reporter sent it")
            continue
        submission = prepared.submission
        # The lookup hash from the receipt, not from the submission: the reporter must still
        # find the report with what they wrote down.
        token = derive_receipt_keys(prepared.receipt).lookup_token
        expected = {
            "envelope_version": submission.version,
            "body": submission.body,
            "dek_key_id": submission.intake_key_id,
            "dek_suite": submission.suite,
            "sealed_dek": submission.sealed_dek,
            "reporter_key": submission.reporter_key,
            "message_key": submission.message_key,
            "lookup_hash": lookup_hash(token, lookup_secret=lookup_secret),
        }
        problems += [
            f"{report_id}: {name} is not what was sent"
            for name, value in expected.items()
            if row.columns[name] != value
        ]
        if row.content is None:
            problems.append(f"{report_id}: does not decrypt ({row.problem})")
        elif row.content != json.loads(prepared.content):
            problems.append(f"{report_id}: decrypts to something else than was sent")
    return problems
