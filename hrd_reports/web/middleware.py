"""ASGI middleware of the web side: request size bounds, an access log that knows no one, and
a gate that turns away dashboard requests without a session before any routing."""

import asyncio
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hrd_reports.crypto.sessions import SessionToken

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

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = MAX_REQUEST_BYTES,
        *,
        page: Callable[[Scope], ASGIApp | None] | None = None,
        larger: Iterable[tuple[str, int]] = (),
        streamed: Iterable[tuple[str, int]] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Paths (regular expressions) whose bodies may be larger: an upload's chunk.
        self._larger = [(re.compile(path), bound) for path, bound in larger]
        # Paths whose route reads its own body as it streams, within the bound (a form with
        # files, from a browser without JavaScript): it is handed on unread, and reading past
        # the bound raises BodyTooLarge in the route.
        self._streamed = [(re.compile(path), bound) for path, bound in streamed]
        # The refusal as a page, for a request that a person's browser made (None: JSON).
        self._page = page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        streamed = next(
            (
                bound
                for path, bound in self._streamed
                if scope.get("method") == "POST" and path.fullmatch(scope["path"])
            ),
            None,
        )
        max_bytes = next(
            (bound for path, bound in self._larger if path.fullmatch(scope["path"])),
            streamed or self.max_bytes,
        )
        if declares_too_much(scope, max_bytes):
            await self._refuse(scope, receive, send)
            return
        if streamed is not None:
            await self.app(scope, _bounded(receive, streamed), send)
            return
        try:
            body = await whole_body(receive, max_bytes)
        except BodyTooLarge:
            await self._refuse(scope, receive, send)
            return
        if body is None:
            return  # gone before the request was whole: nothing to run, nobody to answer
        await self.app(scope, _replaying(body, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        page = self._page(scope) if self._page is not None else None
        if page is not None:
            await page(scope, receive, send)
        else:
            await _refuse(send)


class BodyTooLarge(Exception):
    """A streamed body went past its bound (see BodySizeLimit's ``streamed``)."""


def declares_too_much(scope: Scope, max_bytes: int) -> bool:
    """Whether the request's Content-Length is over ``max_bytes``, or is not a number."""
    declared = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            declared = value
    # Digits, and not more of them than the bound has: int() of a header of thousands of
    # digits would raise instead of refusing.
    return declared is not None and (
        not declared.isdigit() or len(declared) > len(str(max_bytes)) or int(declared) > max_bytes
    )


async def whole_body(receive: Receive, max_bytes: int) -> bytes | None:
    """The request's body, read whole; None if the client left before sending all of it.
    Raises ``BodyTooLarge`` as soon as it passes ``max_bytes`` (a chunked body declares no
    length), before the rest is read."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > max_bytes:
            raise BodyTooLarge
        if not message.get("more_body", False):
            return bytes(body)


def _bounded(receive: Receive, bound: int) -> Receive:
    seen = 0

    async def bounded() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > bound:
            raise BodyTooLarge
        return message

    return bounded


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
    await send_json(send, *TOO_LARGE)


# No "Connection: close": the server reads and drops the rest of the body and the client gets
# its 413. Closing with a body still arriving resets the connection, and a client still
# sending may lose the answer with it (a reporter's browser would show a broken connection
# instead of a reason).
TOO_LARGE: tuple[int, str, list[tuple[bytes, bytes]]] = (413, "the request is too large", [])


async def send_json(
    send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """An answer ``{"detail": ...}`` sent from below the application (no framework there)."""
    await send_json_answer(send, status, {"detail": detail}, headers)


async def send_json_answer(
    send: Send, status: int, answer: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """``answer`` as a JSON body, sent from below the application."""
    body = json.dumps(answer, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
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


class EndedSessions:
    """Cookies this server issued whose session is over, remembered (a bounded number, per
    process) once a request found so, so that replaying an old cookie in a loop costs a
    thread and a database read once, then as little as a made-up cookie.

    Sound because a session that resumed nothing never resumes again: its id is random, an
    ended session's row is gone or past its limits for good, and a cookie's key cannot be
    changed without failing its HMAC.
    """

    def __init__(self, capacity: int = 4096) -> None:
        self._capacity = capacity
        self._ended: OrderedDict[bytes, None] = OrderedDict()
        # Added to from worker threads, read on the event loop: each step is a dict
        # operation, so the lock is never held for longer than that.
        self._lock = threading.Lock()

    def add(self, token: SessionToken) -> None:
        with self._lock:
            self._ended[token.lookup] = None
            self._ended.move_to_end(token.lookup)
            while len(self._ended) > self._capacity:
                self._ended.popitem(last=False)

    def __contains__(self, token: SessionToken) -> bool:
        with self._lock:
            return token.lookup in self._ended


class SessionGate:
    """Sends to the sign-in page, before any routing, a dashboard request that needs a
    session and carries no session cookie this server issued (or one of a session known to
    be over).

    Anyone can send such requests, as fast as they like: each costs one HMAC here, and no
    framework work, thread or database read, so a flood of them leaves the event loop free
    for reporters (a flood of made-up cookies froze the whole server once). Not logged
    either: a line each would let the flood fill the disk. The routes' own check
    (``web.auth``) still decides everything for the requests let through.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret: bytes,
        cookie_names: Iterable[str],
        open_paths: Iterable[re.Pattern[str]],
        sign_in_path: str,
        ended: EndedSessions | None = None,
    ) -> None:
        self.app = app
        self._ended = ended if ended is not None else EndedSessions()
        self._secret = secret
        self._cookie_names = frozenset(cookie_names)
        self._open_paths = tuple(open_paths)
        self._sign_in = sign_in_path.encode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not scope["path"].startswith(DASHBOARD_PREFIX)
            or any(path.fullmatch(scope["path"]) for path in self._open_paths)
            or self._has_live_cookie(scope)
        ):
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [(b"location", self._sign_in), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    def _has_live_cookie(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name != b"cookie":
                continue
            for cookie, text in cookie_parser(value.decode("latin-1")).items():
                if cookie not in self._cookie_names:
                    continue
                token = SessionToken.parse(text, secret=self._secret)
                if token is not None and token not in self._ended:
                    return True
        return False


DASHBOARD_PREFIX = "/dashboard"


class CutOffAnswer:
    """A request cut off because the server is stopping is answered 503, not 500.

    On SIGTERM, uvicorn lets requests in flight finish for its graceful timeout, then cancels
    them: one still waiting (for the database, say) would otherwise get uvicorn's 500. A 503
    with Retry-After tells a reporter's page that nothing went wrong with what it sent, and
    to send it again in a moment (to another worker, or to the restarted server).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracked = Tracked(send)
        try:
            await self.app(scope, receive, tracked)
        except asyncio.CancelledError:
            if not tracked.started:
                await send_json(send, *CUT_OFF)
            raise


class Tracked:
    """A ``send`` that knows whether the answer has begun: a refusal sent after a failure must
    not start a second one."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)


CUT_OFF = (
    503,
    "the server is restarting; please try again in a moment",
    [(b"retry-after", b"5"), (b"connection", b"close")],
)
