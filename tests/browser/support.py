"""What the browser tests share: driving the report form, recording a context, reading back."""

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import (
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    Request,
    Response,
    WebError,
)
from playwright.sync_api import Error as PlaywrightError

from hrd_reports.crypto.receipts import normalise_receipt
from hrd_reports.settings import Settings
from tests.atrest import files_under, find_leaks, postgres_dump
from tests.cli import invoke
from tests.conftest import DatabaseServer
from tests.helpers import Person

# What a reporter is shown: 28 digits in seven groups of four.
RECEIPT_PATTERN = re.compile(r"\d{4}( \d{4}){6}")

# How long a page may take for any step (the proof of work is cheap here): a page that hangs
# fails in seconds, not Playwright's default half minute.
PAGE_TIMEOUT_MS = 10_000


def canary(tag: str) -> str:
    """A narrative found nowhere else: a unique ASCII token and an Arabic word ("witness")."""
    return f"CANARY-{tag}-{uuid.uuid4().hex[:16]} شاهد"


@dataclass
class Recorder:
    """Everything a browser context sends, receives and complains about, for assertions."""

    requests: list[Request] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    # Each response's body, once read (``read_bodies``), for ``received_leaks``.
    bodies: list[tuple[Response, bytes]] = field(default_factory=list)
    finished: list[Request] = field(default_factory=list)
    failed: list[Request] = field(default_factory=list)
    _context: BrowserContext | None = field(default=None, repr=False)

    def attach(self, context: BrowserContext) -> None:
        self._context = context
        # Methods, not ``list.append``: Playwright tags its handlers, which a built-in refuses.
        context.on("request", self._request)
        context.on("response", self._response)
        context.on("console", self._console)
        context.on("weberror", self._error)
        context.on("requestfinished", self._finished)
        context.on("requestfailed", self._failed)

    def _request(self, request: Request) -> None:
        self.requests.append(request)

    def _response(self, response: Response) -> None:
        self.responses.append(response)

    def _finished(self, request: Request) -> None:
        self.finished.append(request)

    def _failed(self, request: Request) -> None:
        self.failed.append(request)

    def _error(self, error: WebError) -> None:
        self.page_errors.append(str(error.error))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location['url']})")

    def read_bodies(self) -> None:
        """Read the body of every response so far. Call it before the page navigates
        (Chromium drops the bodies of a page once it has left it), once the network is idle."""
        for response in self.responses:
            if not any(read is response for read, _ in self.bodies):
                self.bodies.append((response, self._body_of(response)))

    def _body_of(self, response: Response) -> bytes:
        if 300 <= response.status < 400:
            return b""  # a redirect has no body a browser would read
        # Asked before the body is complete, Playwright would wait for ever (a page that never
        # reads a fetch's answer never completes it): refused instead.
        if not any(request is response.request for request in self.finished):
            raise AssertionError(f"the body of {response.url} is not complete: not read")
        try:
            return response.body()
        except PlaywrightError as exc:
            # Chromium does not hand over a worker's script. A static file is the same bytes
            # on every request (and the page checks its integrity): it is asked for again.
            static = urlsplit(response.url).path.startswith("/static/")
            if self._context is None or not static or response.request.method != "GET":
                raise AssertionError(f"the body of {response.url} was not read: {exc}") from exc
            again = self._context.request.get(response.url, max_redirects=0)
            assert again.status == response.status, response.url
            return again.body()

    def received(self) -> list[tuple[str, bytes]]:
        """Each response as the bytes that reached the browser: URL, headers and body.

        A body that was not read in time fails the search rather than being left out.
        """
        self.read_bodies()
        return [
            (
                response.url,
                b"\n".join(
                    [
                        response.url.encode(),
                        *(f"{k}: {v}".encode() for k, v in response.all_headers().items()),
                        body,
                    ]
                ),
            )
            for response, body in self.bodies
        ]

    def received_leaks(self, secrets: dict[str, str]) -> list[str]:
        """Each secret found in what the server sent to the browser (see ``leaks``)."""
        return find_leaks(
            self.received(), {label: value.encode() for label, value in secrets.items()}
        )

    def posts(self) -> list[Request]:
        return [request for request in self.requests if request.method == "POST"]

    def sent(self) -> list[tuple[str, bytes]]:
        """Each request as the bytes that left the browser: URL, headers and body."""
        return [
            (
                f"{request.method} {request.url}",
                b"\n".join(
                    [
                        request.url.encode(),
                        *(f"{k}: {v}".encode() for k, v in request.all_headers().items()),
                        request.post_data_buffer or b"",
                    ]
                ),
            )
            for request in self.requests
        ]

    def leaks(self, secrets: dict[str, str]) -> list[str]:
        """Each secret found in what the browser sent, in any encoding ``find_leaks`` knows
        (raw UTF-8, JSON ``\\u`` escapes, UTF-16, hex, base64 at every alignment)."""
        return find_leaks(self.sent(), {label: value.encode() for label, value in secrets.items()})


def record_dialogs(page: Page) -> list[str]:
    """Dismiss every dialog the page opens (a dismissed ``beforeunload`` cancels the leaving)
    and return the list of their types, which grows as dialogs come."""
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return dialogs


def fill_report(page: Page, narrative: str, incident_type: str = "death_threat") -> None:
    page.check(f"input[name=incident_type][value={incident_type}]")
    page.fill("textarea[name=narrative]", narrative)


def send_and_read_receipt(page: Page) -> str:
    """Press "Send report" and wait for the receipt the page shows."""
    page.click("button[type=submit]")
    receipt = page.locator("[data-testid=receipt]")
    receipt.wait_for(state="visible")
    text = receipt.text_content() or ""
    assert RECEIPT_PATTERN.fullmatch(text), repr(text)
    normalise_receipt(text)  # its check digit holds
    return text


def report_ids(cli_env: dict[str, str], person: Person) -> list[str]:
    run = invoke(
        cli_env,
        *("reports", "list", "--as", person.name, "--password-stdin", "--json"),
        stdin=person.password + "\n",
    )
    assert run.exit_code == 0, run.stderr
    return [report["id"] for report in run.json()["reports"]]


def show_report(cli_env: dict[str, str], person: Person, report_id: str) -> dict[str, Any]:
    """``hrd-reports reports show ID --json``: the report as the desk decrypts it."""
    run = invoke(
        cli_env,
        *("reports", "show", report_id, "--as", person.name, "--password-stdin", "--json"),
        stdin=person.password + "\n",
    )
    assert run.exit_code == 0, run.stderr
    report: dict[str, Any] = run.json()["report"]
    return report


def leaks_at_rest(
    workdir: Path, settings: Settings, database_server: DatabaseServer, secrets: dict[str, str]
) -> list[str]:
    """Every secret found in any byte at rest: the desk's working directory (the SQLite
    file among it), ``keys/``, and a dump of the PostgreSQL database. Stop the server and
    close the runtime first, so that SQLite's journal is checkpointed into the file."""
    blobs = [(str(path), path.read_bytes()) for path in files_under(workdir, settings.keys_dir)]
    if database_server.is_postgresql:
        blobs.append(("pg_dump", postgres_dump(settings.database_url)))
    # The search must have searched something: the database itself.
    assert database_server.is_postgresql or any(where.endswith(".db") for where, _ in blobs)
    return find_leaks(blobs, {label: value.encode() for label, value in secrets.items()})


def receipt_secrets(receipt: str) -> dict[str, str]:
    return {"receipt": receipt, "receipt digits": normalise_receipt(receipt)}


class LogCapture(logging.Handler):
    """The message of every log record the server writes."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def capture_server_log() -> Iterator[LogCapture]:
    """The application's and uvicorn's logs at INFO, the level a desk runs with."""
    capture = LogCapture()
    names = ("hrd_reports", "uvicorn")
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.INFO)
        logger.addHandler(capture)
    try:
        yield capture
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(capture)
            logger.setLevel(level)
