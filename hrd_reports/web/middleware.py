"""ASGI middleware of the web side: request size bounds and an access log that knows no one."""

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("hrd_reports.access")

# The largest request any route accepts: an encrypted report padded to 256 KiB, in base64,
# or a form with a long testimony.
MAX_REQUEST_BYTES = 1024 * 1024


class BodySizeLimit:
    """Refuse with 413 any request body above ``max_bytes``, before the application runs.

    A declared Content-Length over the bound is refused before anything is read. A chunked
    body declares no length: it is read here, whole, and refused as soon as it passes the
    bound, and only a body that fits is handed on. Raising from ``receive`` while the
    application reads would not keep the bound: FastAPI's body and form parsing catches
    whatever the stream raises and answers 400 "There was an error parsing the body", and a
    route that reads its own form has already begun its work. Holding the body costs no more
    than the application's own parsing, which holds it too.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        # Digits, and not more of them than the bound has: int() of a header of thousands of
        # digits would raise instead of refusing.
        if declared is not None and (
            not declared.isdigit()
            or len(declared) > len(str(self.max_bytes))
            or int(declared) > self.max_bytes
        ):
            await _refuse(send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # gone before the request was whole: nothing to run, nobody to answer
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await _refuse(send)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replaying(bytes(body), receive), send)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """The whole body in one message, then the server's own messages (its disconnect)."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _refuse(send: Send) -> None:
    # No "Connection: close": the server reads and drops the rest of the body and the client
    # gets its 413. Closing with a body still arriving resets the connection, and a client
    # still sending may lose the answer with it (a reporter's browser would show a broken
    # connection instead of a reason).
    body = b'{"detail":"the request is too large"}'
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# Only the staff's side is logged. Whatever writes the log down (the systemd journal, a
# container runtime) stamps each line with the time to the microsecond, so a line per reporter
# request would record when each report, message or withdrawal arrived: the very time the
# database keeps only to the day, and the one an adversary holding network records would
# match against a person's traffic to name them.
LOGGED_PREFIXES = ("/dashboard", "/setup")


class AccessLog:
    """One line per staff request: method, route template, status, duration; no address, no
    agent; nothing for the reporter's pages, API and static files.

    The route template (``/setup/{token}``), never the path, so that no token, id or query
    string is written either.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(LOGGED_PREFIXES):
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            access_log.info(
                "%s %s %d %.0fms",
                scope["method"],
                _route_template(scope),
                status,
                (time.monotonic() - started) * 1000,
            )


def _route_template(scope: Scope) -> str:
    # The router records the route it matched in the scope it was handed (this very dict).
    route = scope.get("route")
    return str(getattr(route, "path_format", None) or getattr(route, "path", None) or "(no route)")
