"""The two requests of every report, answered below the framework: a challenge, a submission.

A report costs its reporter two requests, and a flood costs the desk as many; what each costs
the server decides how long the desk keeps answering under a flood, and how fast junk fills
its disk. The framework's router, dependencies and exception machinery cost more than the
work itself here, so ``GET /api/v1/challenge`` (one HMAC) and ``POST /api/v1/reports`` (one
validation of the body, then the group commit) are answered by this middleware, inside the
body size bound, the intake guard and the security headers, before routing. Both answer
exactly as their documented routes in ``web.reporter_api`` describe (those declarations are
what the API's description publishes), refusals included.
"""

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
from hrd_reports.web.intake_guard import IntakeGuard
from hrd_reports.web.middleware import send_json_answer
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
    """Answers the challenge and the submission without routing (see the module)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        runtime: Runtime,
        guard: IntakeGuard,
        committer: SubmissionCommitter,
    ) -> None:
        self.app = app
        self._runtime = runtime
        self._guard = guard
        self._committer = committer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["path"] == CHALLENGE_PATH and scope["method"] == "GET":
                await _answer(send, 200, issued_challenge(self._runtime, self._guard))
                return
            if scope["path"] == REPORTS_PATH and scope["method"] == "POST":
                status, answer, headers = await self._submission(scope, receive)
                await _answer(send, status, answer, headers)
                return
        await self.app(scope, receive, send)

    async def _submission(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, dict[str, Any], dict[str, str] | None]:
        body = await _body(receive)
        if not _is_json(scope):
            # As the framework answers a body not sent as JSON: not an object to read.
            return (
                422,
                {"detail": [{"loc": ["body"], "msg": "Input should be a JSON object"}]},
                None,
            )
        try:
            report_in = ReportCreate.model_validate_json(body)
        except ValidationError as exc:
            errors = [dict(error, loc=("body", *error["loc"])) for error in exc.errors()]
            return 422, {"detail": refusals.validation_detail(errors)}, None
        try:
            report_id = await store_report(report_in, self._committer, self._runtime)
        except Exception as exc:
            refused = refusals.api_refusal(exc)
            if refused is None:
                raise
            status, detail, headers = refused
            return status, {"detail": detail}, headers
        return 201, {"report_id": report_id}, None


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            media_type = value.split(b";", 1)[0].strip().lower()
            return media_type in _JSON_TYPES or media_type.endswith(b"+json")
    # No type at all: not read as JSON, as the framework does not.
    return False


async def _body(receive: Receive) -> bytes:
    # Bounded by BodySizeLimit, outside this middleware, which ends an oversized body in 413.
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _answer(
    send: Send, status: int, answer: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    encoded = [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    await send_json_answer(send, status, answer, encoded)
