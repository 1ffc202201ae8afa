"""The reporter's JSON API (``/api/v1``): the intake key, a challenge, and submission.

Nothing here can identify a reporter: no cookie is read or set, no address is kept, and the
report arrives as ciphertext the server cannot read. Its OpenAPI document is public
(``/api/v1/openapi.json``); the dashboard's is not.
"""

import datetime as dt
from typing import Any
from uuid import UUID

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from hrd_reports import __version__
from hrd_reports.crypto.errors import MalformedEnvelope
from hrd_reports.crypto.submission import decode_b64, encode_b64
from hrd_reports.crypto.xwing import fingerprint_of
from hrd_reports.db import checkpoint_deleted, unit_of_work
from hrd_reports.services import (
    attachments,
    challenges,
    conversation,
    keyring,
    withdrawal,
)
from hrd_reports.services.attachments import FileNamed
from hrd_reports.services.errors import Invalid, NotFound
from hrd_reports.web import reporter_uploads
from hrd_reports.web.deps import ReadSession, RuntimeDep
from hrd_reports.web.intake_path import issued_challenge, store_report
from hrd_reports.web.pages import choose_locale, day_text
from hrd_reports.web.reporter_schemas import (
    API_PREFIX,
    B64,
    EXACTLY_AS_DOCUMENTED,
    RECEIPT_REFUSALS,
    REFUSALS,
    FileIn,
    ProofOfWorkIn,
    ReportCreate,
    ReportCreated,
)
from hrd_reports.web.reporter_uploads import files_named
from hrd_reports.wiring import Runtime

PREFIX = API_PREFIX
router = APIRouter(prefix=PREFIX, tags=["reporter"])


class IntakeKeyPublic(BaseModel):
    key_id: str
    suite: str
    public_key: str = Field(description="X-Wing public key, standard base64 (1216 bytes).")
    fingerprint: str


class ChallengePublic(BaseModel):
    challenge: str
    difficulty: int
    algorithm: str


@router.get("/intake-key", response_model=IntakeKeyPublic)
def get_intake_key(session: ReadSession, runtime: RuntimeDep) -> IntakeKeyPublic:
    """The desk's active intake key, to encrypt a report to."""
    key = keyring.active_intake_key(session)
    public = keyring.intake_public_key(key, secrets=runtime.secrets)
    return IntakeKeyPublic(
        key_id=key.id,
        suite=key.suite,
        public_key=encode_b64(public.raw),
        fingerprint=fingerprint_of(public.raw),
    )


# Both are answered by ``web.intake_path`` before routing, with the same functions; these
# declarations are what the API's description publishes, and answer a caller that reaches
# the router all the same.


@router.get("/challenge", response_model=ChallengePublic)
async def get_challenge(request: Request, runtime: RuntimeDep) -> ChallengePublic:
    """A proof-of-work challenge; a solution makes one submission, within twenty minutes."""
    return ChallengePublic(**issued_challenge(runtime, request.app.state.intake_guard))


@router.post("/reports", status_code=201, response_model=ReportCreated, responses=REFUSALS)
async def post_report(
    report_in: ReportCreate, request: Request, runtime: RuntimeDep
) -> JSONResponse:
    """Store an encrypted report. Nothing is stored when any check refuses it."""
    report_id = await store_report(report_in, request.app.state.submission_committer, runtime)
    return JSONResponse(ReportCreated(report_id=report_id).model_dump(), status_code=201)


def _spend_in(session: Session, runtime: Runtime, proof: ProofOfWorkIn) -> None:
    challenges.spend(
        session,
        token=proof.challenge,
        counter=proof.counter,
        secrets=runtime.secrets,
        difficulty=runtime.settings.pow_difficulty_bits,
    )


# ---- the reporter's inbox ------------------------------------------------------------------


class InboxQuery(BaseModel):
    model_config = EXACTLY_AS_DOCUMENTED

    proof_of_work: ProofOfWorkIn
    lookup_token: str = Field(max_length=64, pattern=B64)


class MessageIn(BaseModel):
    model_config = EXACTLY_AS_DOCUMENTED

    id: str = Field(max_length=36)
    ciphertext: str = Field(max_length=24_000, pattern=B64)
    attachments: list[FileIn] = Field(
        default_factory=list,
        max_length=200,
        description="Evidence files, each a complete upload for this message (see /uploads).",
    )


class MessageCreate(InboxQuery):
    message: MessageIn


class SealedMessageOut(BaseModel):
    id: str
    sender: str
    sent_on: str = Field(description="The day only (YYYY-MM-DD).")
    sent_on_text: str = Field(
        description="The same day as the page's language writes it (month in words, its digits)."
    )
    ciphertext: str = Field(
        description="A reply: HPKE-sealed to the reporter's key. The reporter's own message: "
        "AES-256-GCM under the message key. Standard base64."
    )


class InboxOut(BaseModel):
    """The same fields whether or not the receipt leads to a report."""

    found: bool
    notice: str | None
    report_id: str | None
    stage: str | None
    stage_message: str | None
    can_write: bool
    messages: list[SealedMessageOut]


class MessageCreated(BaseModel):
    id: str


class Withdrawn(BaseModel):
    withdrawn: bool
    destroyed: bool = Field(
        description="False when the desk keeps withdrawn reports for a grace period first."
    )


def _nothing_found() -> InboxOut:
    return InboxOut(
        found=False,
        notice=conversation.NOTHING_FOUND,
        report_id=None,
        stage=None,
        stage_message=None,
        can_write=False,
        messages=[],
    )


def _token(query: InboxQuery) -> bytes:
    try:
        return decode_b64(query.lookup_token, field="lookup_token")
    except MalformedEnvelope as exc:
        raise Invalid(str(exc)) from exc


def _spend(runtime: Runtime, proof: ProofOfWorkIn) -> None:
    """Spend the proof of work in a transaction of its own, committed whatever follows.

    Here, unlike a submission, a refusal must still cost its proof: otherwise a wrong
    receipt, refused, would leave the same solution free for the next guess.
    """
    with unit_of_work(runtime.sessions) as session:
        _spend_in(session, runtime, proof)
        session.commit()


@router.post("/inbox", response_model=InboxOut, responses=REFUSALS)
async def post_inbox(query: InboxQuery, request: Request, runtime: RuntimeDep) -> InboxOut:
    """The report's stage and its messages, as ciphertext only the receipt opens.

    A receipt that leads nowhere (never sent, withdrawn, destroyed) gets the same fields and
    one sentence; every look-up costs a proof of work, so receipts cannot be tried in bulk.
    """
    token = _token(query)
    return await run_in_threadpool(
        _look_up, runtime, query.proof_of_work, token, choose_locale(request)
    )


def _look_up(runtime: Runtime, proof: ProofOfWorkIn, token: bytes, locale: str) -> InboxOut:
    _spend(runtime, proof)
    with unit_of_work(runtime.sessions) as session:
        try:
            inbox = conversation.open_inbox(
                session, lookup_token=token, secrets=runtime.secrets, locale=locale
            )
        except NotFound:
            return _nothing_found()
    return InboxOut(
        found=True,
        notice=None,
        report_id=str(inbox.report_id),
        stage=inbox.stage.value,
        stage_message=inbox.stage_message,
        can_write=inbox.can_write,
        messages=[
            SealedMessageOut(
                id=str(message.id),
                sender=message.sender.value,
                sent_on=message.sent_on.isoformat(),
                sent_on_text=day_text(locale, message.sent_on),
                ciphertext=encode_b64(message.ciphertext),
            )
            for message in inbox.messages
        ],
    )


@router.post(
    "/inbox/messages",
    status_code=201,
    response_model=MessageCreated,
    responses=RECEIPT_REFUSALS,
)
async def post_inbox_message(query: MessageCreate, runtime: RuntimeDep) -> JSONResponse:
    """A message from the reporter, encrypted in their browser; nothing is stored on a refusal."""
    token = _token(query)
    try:
        message_id = UUID(query.message.id)
        ciphertext = decode_b64(query.message.ciphertext, field="ciphertext")
    except ValueError as exc:
        raise Invalid("the message id is not a UUID") from exc
    except MalformedEnvelope as exc:
        raise Invalid(str(exc)) from exc
    # The browser binds the message to its id as it spelled it: only the canonical spelling
    # is the same string on both sides.
    if str(message_id) != query.message.id:
        raise Invalid("the message id is not a UUID in its canonical form")
    files = files_named(query.message.attachments)
    created = await run_in_threadpool(
        _store_message, runtime, query.proof_of_work, token, message_id, ciphertext, files
    )
    return JSONResponse(MessageCreated(id=created).model_dump(), status_code=201)


def _store_message(
    runtime: Runtime,
    proof: ProofOfWorkIn,
    token: bytes,
    message_id: UUID,
    ciphertext: bytes,
    files: list[FileNamed],
) -> str:
    _spend(runtime, proof)
    with unit_of_work(runtime.sessions) as session:
        message = conversation.post_reporter_message(
            session,
            lookup_token=token,
            message_id=message_id,
            ciphertext=ciphertext,
            secrets=runtime.secrets,
        )
        attachments.attach_to_message(
            session, message=message, files=files, limits=runtime.attachment_limits
        )
        session.commit()
        return str(message.public_id)


@router.post("/inbox/withdraw", response_model=Withdrawn, responses=RECEIPT_REFUSALS)
async def post_withdraw(query: InboxQuery, runtime: RuntimeDep) -> Withdrawn:
    """Withdraw the report: its content and messages are destroyed (after the desk's grace
    period, if it set one); only workflow fields remain, for statistics."""
    token = _token(query)
    destroyed = await run_in_threadpool(_withdraw, runtime, query.proof_of_work, token)
    return Withdrawn(withdrawn=True, destroyed=destroyed)


def _withdraw(runtime: Runtime, proof: ProofOfWorkIn, token: bytes) -> bool:
    _spend(runtime, proof)
    with unit_of_work(runtime.sessions) as session:
        destroyed = withdrawal.withdraw(
            session,
            lookup_token=token,
            grace=dt.timedelta(days=runtime.settings.withdrawal_grace_days),
            secrets=runtime.secrets,
        )
        session.commit()
    checkpoint_deleted(runtime.engine)
    return destroyed


def add_openapi_route(app: FastAPI) -> None:
    """Publish the reporter API's description, and only it."""
    schema = get_openapi(
        title="hrd-reports reporter API",
        version=__version__,
        description="Anonymous, end-to-end encrypted incident reports.",
        routes=[*router.routes, *reporter_uploads.router.routes],
    )

    @app.get(f"{PREFIX}/openapi.json", include_in_schema=False)
    def reporter_openapi() -> dict[str, Any]:
        return schema
