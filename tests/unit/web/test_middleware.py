"""The request size bound, as ASGI: what the application is handed, and what it never sees."""

import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from hrd_reports.web.middleware import BodySizeLimit
from tests.helpers import run_coroutine

BOUND = 1000
REFUSAL = {"detail": "the request is too large"}


class Application:
    """Records whether it ran and what it read; answers 200."""

    def __init__(self) -> None:
        self.ran = False
        self.read: list[Message] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.ran = True
        message = await receive()
        self.read.append(message)
        while message.get("more_body", False):
            message = await receive()
            self.read.append(message)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


class Client:
    """The server's side of one request: the messages it hands over, what it is sent back."""

    def __init__(self, messages: list[Message]) -> None:
        self.messages = messages
        self.taken = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if self.taken == len(self.messages):
            return {"type": "http.disconnect"}
        self.taken += 1
        return self.messages[self.taken - 1]

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int | None:
        starts = [m["status"] for m in self.sent if m["type"] == "http.response.start"]
        return starts[0] if starts else None

    @property
    def body(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.sent[1:]))


def chunks(*sizes: int, last: bool = True) -> list[Message]:
    """Request messages of ``sizes`` bytes; the last says no more follows unless ``last`` is
    false (a client that goes on sending)."""
    return [
        {"type": "http.request", "body": b"x" * size, "more_body": not last or n < len(sizes) - 1}
        for n, size in enumerate(sizes)
    ]


def run(client: Client, headers: list[tuple[bytes, bytes]] | None = None) -> Application:
    application = Application()
    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers or []}
    run_coroutine(BodySizeLimit(application, max_bytes=BOUND)(scope, client.receive, client.send))
    return application


def test_body_size_limit_chunked_body_over_the_bound_is_a_413_the_application_never_runs() -> None:
    client = Client(chunks(400, 400, 400, 400, last=False))

    application = run(client)

    assert client.status == 413
    assert client.body == REFUSAL
    assert not application.ran
    # Reading stopped at the chunk that passed the bound.
    assert client.taken == 3


def test_body_size_limit_chunked_body_within_the_bound_reaches_the_application_whole() -> None:
    client = Client(chunks(400, 400, 200))

    application = run(client)

    assert client.status == 200
    assert application.read == [{"type": "http.request", "body": b"x" * 1000, "more_body": False}]


def test_body_size_limit_client_gone_before_the_body_is_whole_runs_nothing() -> None:
    client = Client(chunks(400, 400, last=False))

    application = run(client)

    assert not application.ran
    assert client.sent == []


def test_body_size_limit_declared_length_over_the_bound_is_refused_before_reading() -> None:
    client = Client(chunks(BOUND + 1))

    application = run(client, headers=[(b"content-length", str(BOUND + 1).encode())])

    assert client.status == 413
    assert client.taken == 0
    assert not application.ran


def test_body_size_limit_after_the_body_the_application_hears_the_server() -> None:
    client = Client(chunks(10))
    heard: list[Message] = []

    async def listening(scope: Scope, receive: Receive, send: Send) -> None:
        heard.extend([await receive(), await receive()])

    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    run_coroutine(BodySizeLimit(listening, max_bytes=BOUND)(scope, client.receive, client.send))

    assert heard == [
        {"type": "http.request", "body": b"x" * 10, "more_body": False},
        {"type": "http.disconnect"},
    ]
