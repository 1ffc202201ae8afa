"""The reporter API's uploads of evidence files (``/api/v1/uploads``).

A file reaches the desk as its browser encrypted it, one chunk per request: over Tor or a
failing mobile connection, a dropped request costs one chunk, and the browser asks which
chunks are missing and sends only those. Starting an upload costs one proof of work; its
chunks cost none, since each is bounded by the upload's declared layout. Like the rest of the
reporter API, nothing here reads or sets a cookie or keeps an address.
"""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from hrd_reports.crypto.attachments import CHUNK_SIZE, MAX_CHUNK_BYTES
from hrd_reports.crypto.errors import MalformedEnvelope
from hrd_reports.crypto.submission import decode_b64
from hrd_reports.db import unit_of_work
from hrd_reports.services import attachments, challenges
from hrd_reports.services.attachments import FileNamed, UploadDeclared, UploadState
from hrd_reports.services.errors import Invalid
from hrd_reports.web.deps import RuntimeDep
from hrd_reports.web.reporter_schemas import (
    API_PREFIX,
    EXACTLY_AS_DOCUMENTED,
    UPLOAD_REFUSALS,
    UUID_PATTERN,
    FileIn,
    ProofOfWorkIn,
)
from hrd_reports.wiring import Runtime

router = APIRouter(prefix=API_PREFIX, tags=["reporter"])

_UUID = UUID_PATTERN
# The one path whose body may be larger than a report's (BodySizeLimit): a chunk.
CHUNK_PATH = r"/api/v1/uploads/[^/]+/chunks/[0-9]+"
# The largest upload a desk can be set to take (2 GiB), padded, with its chunks' overhead.
_MAX_STORED = 2 * 2**30 + 2**28


class UploadCreate(BaseModel):
    model_config = EXACTLY_AS_DOCUMENTED

    proof_of_work: ProofOfWorkIn
    report_id: str = Field(pattern=_UUID, description="The report the file is encrypted for.")
    message_id: str | None = Field(
        default=None,
        pattern=_UUID,
        description="The message it is sent with; null for the report itself.",
    )
    attachment_id: str = Field(pattern=_UUID)
    chunks: int = Field(ge=1, le=_MAX_STORED // CHUNK_SIZE + 1)
    size: int = Field(ge=1, le=_MAX_STORED, description="Bytes of every chunk together.")


class UploadPublic(BaseModel):
    attachment_id: str
    chunk_size: int = Field(description="Bytes of a file's plaintext in each full chunk.")
    chunks: int
    missing: list[int] = Field(description="The chunks still to send, in order.")


class ChunkStored(BaseModel):
    index: int
    missing: int = Field(description="How many chunks of the upload are still missing.")


def files_named(files: list[FileIn] | None) -> list[FileNamed]:
    try:
        return [
            FileNamed(UUID(file.id), decode_b64(file.record, field="record"))
            for file in files or []
        ]
    except MalformedEnvelope as exc:
        raise Invalid(str(exc)) from exc


def _public(state: UploadState) -> dict[str, Any]:
    return UploadPublic(
        attachment_id=str(state.attachment_id),
        chunk_size=CHUNK_SIZE,
        chunks=state.chunks,
        missing=state.missing,
    ).model_dump()


# A browser whose answer was lost asks again and is told where to resume: a 200 the document
# must name, or a client built from it treats the resumption as an error.
_RESUMED: dict[int | str, dict[str, Any]] = {
    200: {"model": UploadPublic, "description": "This very upload was already started."}
}


@router.post(
    "/uploads",
    status_code=201,
    response_model=UploadPublic,
    responses=_RESUMED | UPLOAD_REFUSALS,
)
async def post_upload(upload_in: UploadCreate, runtime: RuntimeDep) -> JSONResponse:
    """Start an upload: its chunks follow, one request each. The same upload asked for again
    (its answer was lost) is answered 200 with the chunks still missing, at no new cost."""
    declared = UploadDeclared(
        attachment_id=UUID(upload_in.attachment_id),
        report_id=UUID(upload_in.report_id),
        message_id=UUID(upload_in.message_id) if upload_in.message_id else None,
        chunks=upload_in.chunks,
        stored_size=upload_in.size,
    )
    state, created = await run_in_threadpool(_start, runtime, upload_in.proof_of_work, declared)
    return JSONResponse(_public(state), status_code=201 if created else 200)


def _start(
    runtime: Runtime, proof: ProofOfWorkIn, declared: UploadDeclared
) -> tuple[UploadState, bool]:
    limits = runtime.attachment_limits
    with unit_of_work(runtime.sessions) as session:
        existing = attachments.existing_upload(session, declared)
        if existing is not None:
            return existing, False
        # Refused before the proof of work is spent: a file too large or a full desk does not
        # cost the reporter a second proof for the next try.
        attachments.check_declared(declared, limits)
        challenges.spend(
            session,
            token=proof.challenge,
            counter=proof.counter,
            secrets=runtime.secrets,
            difficulty=runtime.settings.pow_difficulty_bits,
        )
        state = attachments.start_upload(session, declared, limits=limits)
        session.commit()
        return state, True


_AttachmentId = Annotated[str, Path(pattern=_UUID)]


@router.get("/uploads/{attachment_id}", response_model=UploadPublic, responses=UPLOAD_REFUSALS)
async def get_upload(attachment_id: _AttachmentId, runtime: RuntimeDep) -> JSONResponse:
    """Which chunks of an upload are still missing: where a resumed upload starts again."""
    state = await run_in_threadpool(_state, runtime, UUID(attachment_id))
    return JSONResponse(_public(state))


def _state(runtime: Runtime, attachment_id: UUID) -> UploadState:
    with unit_of_work(runtime.read_sessions) as session:
        return attachments.upload_state(session, attachment_id)


@router.put(
    # Digits only, as the document's integer says: read as a number, "0.0", "+0" or " 0" was
    # taken for chunk 0. The same digits (CHUNK_PATH) give the body a chunk's bound.
    "/uploads/{attachment_id}/chunks/{index:int}",
    response_model=ChunkStored,
    responses=UPLOAD_REFUSALS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {
                    "schema": {"type": "string", "format": "binary", "maxLength": MAX_CHUNK_BYTES}
                }
            },
        }
    },
)
async def put_chunk(
    attachment_id: _AttachmentId,
    index: Annotated[int, Path(ge=0, le=_MAX_STORED // CHUNK_SIZE)],
    request: Request,
    runtime: RuntimeDep,
) -> ChunkStored:
    """One encrypted chunk. The same bytes again are accepted; other bytes for a chunk already
    received are refused (409), so a chunk can be retried but never replaced."""
    # Bounded before the route runs (BodySizeLimit allows one chunk on this path only).
    data = await request.body()
    missing = await run_in_threadpool(_store_chunk, runtime, UUID(attachment_id), index, data)
    return ChunkStored(index=index, missing=missing)


def _store_chunk(runtime: Runtime, attachment_id: UUID, index: int, data: bytes) -> int:
    with unit_of_work(runtime.sessions) as session:
        missing = attachments.store_chunk(
            session, attachment_id=attachment_id, index=index, data=data
        )
        session.commit()
        return missing
