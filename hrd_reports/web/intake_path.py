"""The two requests of every report, answered before the framework: a challenge, a submission.

A report costs its reporter two requests, and a flood costs the desk as many; what each costs
the server decides how long the desk keeps answering under a flood, and how fast junk fills
its disk. The framework's router, dependencies and exception machinery, and each layer of
middleware a request passes through, cost more than the work itself here, so
``GET /api/v1/challenge`` (one HMAC) and ``POST /api/v1/reports`` (one validation of the
body, then the group commit) are answered by this, the outermost layer. It does itself what
the layers it skips would do for these two requests: the security headers on every answer,
the intake guard's refusal while the disk is low, the body's bound, a 503 for a request cut
off by a stopping server, a 500 that says nothing more for a crash (neither is logged by the
access log: it logs no reporter request). Both answer exactly as their documented routes in
``web.reporter_api`` describe (those declarations are what the API's description
publishes), refusals included.
"""

import asyncio
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from hrd_reports.crypto.errors import MalformedEnvelope
from hrd_reports.crypto.pow import ALGORITHM
from hrd_reports.crypto.submission import parse_wire
from hrd_reports.services import challenges, intake
from hrd_reports.services.errors import Invalid
from hrd_reports.services.group_commit import SubmissionCommitter
from hrd_reports.web import refusals
from hrd_reports.web.headers import answer_headers
from hrd_reports.web.intake_guard import DISK_LOW, IntakeGuard
from hrd_reports.web.middleware import (
    CUT_OFF,
    MAX_REQUEST_BYTES,
    TOO_LARGE,
    BodyTooLarge,
    Tracked,
    declares_too_much,
    send_json_answer,
    whole_body,
)
from hrd_reports.web.refusals import CRASH_DETAIL
from hrd_reports.web.reporter_schemas import API_PREFIX, ReportCreate
from hrd_reports.web.reporter_uploads import files_named
from hrd_reports.wiring import Runtime

CHALLENGE_PATH = f"{API_PREFIX}/challenge"
REPORTS_PATH = f"{API_PREFIX}/reports"
_JSON_TYPES = (b"application/json",)


def issued_challenge(runtime: Runtime, guard: IntakeGuard) -> dict[str, Any]:
    """A proof-of-work challenge at the flood's difficulty (read from memory): one HMAC."""
    challenge = challenges.issue(secrets=runtime.secrets, difficulty=guard.difficulty)
    return {
        "challenge": challenge.token,
        "difficulty": challenge.difficulty,
        "algorithm": ALGORITHM,
    }


async def store_report(
    report_in: ReportCreate, committer: SubmissionCommitter, runtime: Runtime
) -> str:
    """Store a validated submission with the others that arrive with it; its report's id once
    the transaction that holds it is durable. Refusals raise the service's error."""
    try:
        submission = parse_wire(report_in.envelope.model_dump())
    except MalformedEnvelope as exc:
        raise Invalid(str(exc)) from exc
    submitted = intake.Submitted(
        challenge=report_in.proof_of_work.challenge,
        counter=report_in.proof_of_work.counter,
        submission=submission,
        files=files_named(report_in.attachments),
    )
    # Three hashes on the event loop, so the transaction holding the write lock is shorter.
    return await committer.store(
        intake.checked_on_arrival(
            submitted, secrets=runtime.secrets, difficulty=runtime.settings.pow_difficulty_bits
        )
    )


class IntakePath:
    """Answers the challenge and the submission before any other layer (see the module)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        runtime: Runtime,
        guard: IntakeGuard,
        committer: SubmissionCommitter,
        onion_location: str | None = None,
        public_https: bool = False,
    ) -> None:
        self.app = app
        self._runtime = runtime
        self._guard = guard
        self._committer = committer
        # The same as SecurityHeadersMiddleware is given (see its parameters).
        self._public_https = public_https
        self._onion_location = onion_location.encode("ascii") if onion_location else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["path"] == CHALLENGE_PATH and scope["method"] == "GET":
                await self._guarded(self._challenge, scope, receive, send)
                return
            if scope["path"] == REPORTS_PATH and scope["method"] == "POST":
                await self._guarded(self._submission, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _guarded(self, answer: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """``answer``, with what the framework's error handling and ``CutOffAnswer`` give every
        other request: a request cut off by a stopping server is answered 503 (its reporter's
        page sends it again shortly), a crash 500 that says no more than that; each only if no
        answer has begun, and raised on to the server, which logs it."""
        tracked = Tracked(send)
        try:
            await answer(scope, receive, tracked)
        except asyncio.CancelledError:
            if not tracked.started:
                await self._refuse(scope, send, *CUT_OFF)
            raise
        except Exception:
            if not tracked.started:
                await self._answer(scope, send, 500, {"detail": CRASH_DETAIL})
            raise

    async def _challenge(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A body has no place here, but one over the bound is refused as on every route.
        if _announces_body(scope) and await self._body(scope, receive, send) is None:
            return
        await self._answer(scope, send, 200, issued_challenge(self._runtime, self._guard))

    async def _submission(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The intake guard first, as its layer came before the body's bound.
        if self._guard.disk_low:
            await self._refuse(scope, send, *DISK_LOW)
            return
        body = await self._body(scope, receive, send)
        if body is None:
            return
        status, answer, headers = await self._stored(scope, body)
        await self._answer(scope, send, status, answer, headers)

    async def _body(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The request's body within the bound; None once refused as too large (413), or
        when the client left before sending all of it (nobody to answer)."""
        if declares_too_much(scope, MAX_REQUEST_BYTES):
            await self._refuse(scope, send, *TOO_LARGE)
            return None
        try:
            return await whole_body(receive, MAX_REQUEST_BYTES)
        except BodyTooLarge:
            await self._refuse(scope, send, *TOO_LARGE)
            return None

    async def _stored(
        self, scope: Scope, body: bytes
    ) -> tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]:
        if not _is_json(scope):
            # As the framework answers a body not sent as JSON: not an object to read.
            return (
                422,
                {"detail": [{"loc": ["body"], "msg": "Input should be a JSON object"}]},
                [],
            )
        try:
            report_in = ReportCreate.model_validate_json(body)
        except ValidationError as exc:
            errors = [dict(error, loc=("body", *error["loc"])) for error in exc.errors()]
            return 422, {"detail": refusals.validation_detail(errors)}, []
        try:
            report_id = await store_report(report_in, self._committer, self._runtime)
        except Exception as exc:
            refused = refusals.api_refusal(exc)
            if refused is None:
                raise
            status, detail, headers = refused
            encoded = [
                (name.lower().encode(), value.encode()) for name, value in (headers or {}).items()
            ]
            return status, {"detail": detail}, encoded
        return 201, {"report_id": report_id}, []

    async def _refuse(
        self, scope: Scope, send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]]
    ) -> None:
        await self._answer(scope, send, status, {"detail": detail}, headers)

    async def _answer(
        self,
        scope: Scope,
        send: Send,
        status: int,
        answer: dict[str, Any],
        headers: Sequence[tuple[bytes, bytes]] = (),
    ) -> None:
        # Every answer's security headers, as SecurityHeadersMiddleware gives them.
        secured = answer_headers(
            scope, public_https=self._public_https, onion_location=self._onion_location
        )
        await send_json_answer(send, status, answer, [*headers, *secured])


def _announces_body(scope: Scope) -> bool:
    return any(
        (name == b"content-length" and value != b"0") or name == b"transfer-encoding"
        for name, value in scope["headers"]
    )


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            media_type = value.split(b";", 1)[0].strip().lower()
            return media_type in _JSON_TYPES or media_type.endswith(b"+json")
    # No type at all: not read as JSON, as the framework does not.
    return False
