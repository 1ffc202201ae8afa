"""The dashboard's evidence files: download and preview, each audited.

A file is decrypted on the server as it streams, one chunk at a time, so a download of any size
holds one chunk in memory. What a reporter's client sent is untrusted: a download is always
``application/octet-stream`` with ``Content-Disposition: attachment``, and only a JPEG, PNG or
WebP image (by its bytes, not its name) is shown inline, in a sandbox with nothing allowed to
run, so a crafted file cannot act with the signed-in person's session.
"""

import asyncio
import contextlib
import re
import unicodedata
from collections.abc import AsyncIterator, Iterator
from typing import Annotated
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Depends, Path
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from hrd_reports.services import evidence
from hrd_reports.web.auth import CurrentUser, authorise
from hrd_reports.web.deps import DbSession, RuntimeDep

router = APIRouter(prefix="/dashboard", dependencies=[Depends(authorise)])

# The page's own policy does not apply to a file: nothing in it may load, run or be framed.
FILE_POLICY = "default-src 'none'; img-src 'self'; sandbox; frame-ancestors 'none'"
_Position = Annotated[int, Path(ge=1, le=100_000)]


def _ascii_name(name: str) -> str:
    """A fallback file name for old browsers: letters and digits of ASCII, dots and dashes."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", folded).strip("._") or "file"
    return safe[:100]


def _disposition(kind: str, name: str) -> str:
    # No path, no control character, no quote: the name is the reporter's client's.
    cleaned = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    cleaned = cleaned.replace("/", "_").replace("\\", "_").strip() or "file"
    return (
        f"{kind}; filename=\"{_ascii_name(cleaned)}\"; filename*=UTF-8''{quote(cleaned, safe='')}"
    )


async def _read_ahead(pieces: Iterator[bytes]) -> AsyncIterator[bytes]:
    """The file's pieces, the next one read and decrypted in a worker thread while the one
    before is sent: the database, the decryption and the network each take their turn at
    once instead of one after another, and at most two chunks are in memory."""
    done = object()
    try:
        upcoming = asyncio.ensure_future(run_in_threadpool(next, pieces, done))
        while True:
            piece = await upcoming
            if piece is done:
                return
            upcoming = asyncio.ensure_future(run_in_threadpool(next, pieces, done))
            yield piece  # type: ignore[misc]
    finally:
        # The client went away (or a chunk did not open): let the read in flight end, then
        # close the generator, which ends its database session.
        with contextlib.suppress(BaseException):
            await upcoming
        await run_in_threadpool(_close, pieces)


def _close(pieces: Iterator[bytes]) -> None:
    close = getattr(pieces, "close", None)
    if close is not None:
        close()


def _stream(
    opened: evidence.OpenedFile, runtime: RuntimeDep, *, media_type: str, disposition: str
) -> StreamingResponse:
    return StreamingResponse(
        _read_ahead(iter(opened.content(runtime.read_sessions))),
        media_type=media_type,
        headers={
            "content-disposition": disposition,
            "content-length": str(opened.record.size),
            "content-security-policy": FILE_POLICY,
            "x-content-type-options": "nosniff",
            "cache-control": "no-store",
        },
    )


def _served(
    session: DbSession,
    runtime: RuntimeDep,
    me: CurrentUser,
    report_id: UUID,
    position: int,
    *,
    preview: bool,
) -> StreamingResponse:
    opened = evidence.open_file(
        session,
        reader=me.unlocked,
        report_id=report_id,
        position=position,
        secrets=runtime.secrets,
        preview=preview,
    )
    # The audit entry is committed before the first byte leaves.
    session.commit()
    if preview:
        disposition = _disposition("inline", opened.record.name)
        return _stream(opened, runtime, media_type=opened.view.media_type, disposition=disposition)
    disposition = _disposition("attachment", opened.record.name)
    return _stream(opened, runtime, media_type="application/octet-stream", disposition=disposition)


@router.get("/reports/{report_id}/files/{position}", name="dashboard_report_file")
def report_file(
    report_id: UUID, position: _Position, session: DbSession, runtime: RuntimeDep, me: CurrentUser
) -> StreamingResponse:
    return _served(session, runtime, me, report_id, position, preview=False)


@router.get("/reports/{report_id}/files/{position}/preview", name="dashboard_report_file_preview")
def report_file_preview(
    report_id: UUID, position: _Position, session: DbSession, runtime: RuntimeDep, me: CurrentUser
) -> StreamingResponse:
    return _served(session, runtime, me, report_id, position, preview=True)
