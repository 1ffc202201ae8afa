"""Every path of the desk that handles plaintext, driven as its users drive it, for the canary
sweep (``tests/functional/test_canary.py``): each with words of its own, and each checked to
have really run, so that a path that silently did nothing cannot pass the sweep."""

import base64
import contextlib
import enum
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pyrage
from fastapi.testclient import TestClient
from sqlalchemy import select

from hrd_reports.crypto.messages import open_reply_as_reporter
from hrd_reports.crypto.receipts import derive_receipt_keys
from hrd_reports.models import Report, Role, WithdrawnReport
from tests.cli import Run, invoke
from tests.dashboard_support import (
    StaffBrowser,
)
from tests.helpers import (
    Desk,
    Person,
    hidden_value,
    post_report,
    post_reporter_message,
    query_inbox,
    report_content,
    solved_pow,
)
from tests.server import ServerProcess

ARABIC_INDIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
GRACE_DAYS = 7
# Carol's password with two digits swapped: what a person types wrongly is nearly the password.
MISTYPED_PASSWORD = "a coordinator's passphrase 7341"


class Plaintext(enum.Enum):
    """Each path that handles plaintext; its canary names the path that leaked it."""

    REPORT_SEALED_IN_THE_BROWSER = 1
    REPORT_SEALED_BY_THE_SERVER = 2
    REPORT_SEALED_BY_THE_REAL_SERVER = 3
    REPORT_WITHDRAWN_AND_DESTROYED = 4
    MESSAGE_SEALED_IN_THE_BROWSER = 5
    MESSAGE_SEALED_BY_THE_SERVER = 6
    MESSAGE_SEALED_BY_THE_REAL_SERVER = 7
    REPLY_READ_IN_THE_BROWSER = 8
    REPLY_OPENED_BY_THE_SERVER = 9
    INTERNAL_NOTE = 10
    TAGS = 11
    SEARCH = 12
    REPORT_REFUSED_AND_GIVEN_BACK = 13
    # Evidence files from a browser without JavaScript: encrypted on the server as they stream.
    FILE_SEALED_BY_THE_REAL_SERVER = 14
    FILE_OF_A_MESSAGE_SEALED_BY_THE_SERVER = 15
    # The desk's note to a partner, which goes only inside the encrypted referral.
    REFERRAL_NOTE = 16

    @property
    def words(self) -> dict[str, str]:
        """One word per script, each searched for alone."""
        number = f"{self.value:02d}"
        return {
            "latin": f"CANARY-{number}-kidnap-threat",
            "arabic": f"كناري-{number.translate(ARABIC_INDIC_DIGITS)}-اختطاف",
            "kurdish": f"کەناری-{number.translate(PERSIAN_DIGITS)}-ژیان",
        }

    @property
    def text(self) -> str:
        return " ".join(self.words.values())


P = Plaintext  # short, for the many uses below


@dataclass(frozen=True)
class Sent:
    """A report as its reporter knows it: the receipt, and the id the inbox shows."""

    report_id: UUID
    receipt: str


@dataclass(frozen=True)
class Reports:
    """The reports of the sweep, one per way in."""

    in_browser: Sent
    without_js: Sent
    # Sent to the real server, and withdrawn there with a grace period: kept, unreadable.
    on_real_server: Sent
    destroyed: Sent

    def all(self) -> list[Sent]:
        return [self.in_browser, self.without_js, self.on_real_server, self.destroyed]


# ---- the reporters ------------------------------------------------------------------------


def send_in_browser(client: Any, narrative: str) -> Sent:
    receipt, response = post_report(client, report_content(narrative))
    assert response.status_code == 201, response.text
    return Sent(UUID(response.json()["report_id"]), receipt)


def _evidence(words: str) -> bytes:
    """A file of 2.5 MB with the canary in every 64 KiB: any piece of it that leaks holds it."""
    piece = (words + " ").encode()
    return (piece + bytes(64 * 1024 - len(piece))) * 40


def send_without_javascript(client: Any, words: str, *, file_words: str | None = None) -> Sent:
    """The form as a browser with scripts off posts it, every free-text field filled in (and,
    with ``file_words``, a file holding them, as a multipart form)."""
    token = hidden_value(client.get("/report").text, "form_token")
    files = None
    if file_words is not None:
        files = [("files", ("evidence.txt", _evidence(file_words), "text/plain"))]
    response = client.post(
        "/report",
        data={
            "no_script": "yes",
            "form_token": token,
            "incident_type": ["arbitrary_arrest", "surveillance"],
            "narrative": words,
            "district": words,
            "perpetrator_identifiers": words,
            # Shared with the reporter's name: the whole report may be referred to a partner.
            "consent_share": "named",
        },
        files=files,
    )
    assert response.status_code == 200, response.text
    receipt = re.search(r'data-testid="receipt"[^>]*>([\d ]+)<', response.text)
    assert receipt is not None
    report_id = query_inbox(client, receipt.group(1)).json()["report_id"]
    return Sent(UUID(report_id), receipt.group(1))


def refused_without_javascript(client: Any, words: str) -> None:
    """A form the server refuses (no kind of incident chosen): the reporter's words come back
    to be corrected, and nothing is kept."""
    token = hidden_value(client.get("/report").text, "form_token")
    response = client.post(
        "/report", data={"no_script": "yes", "form_token": token, "narrative": words}
    )
    assert response.status_code == 400, response.text
    assert words in response.text


def inbox_without_javascript(
    client: Any, sent: Sent, action: str, *, file_words: str | None = None, **fields: str
) -> str:
    """The inbox form with scripts off: the receipt reaches the server for this one request."""
    files = None
    if file_words is not None:
        files = [("files", ("recording.txt", _evidence(file_words), "text/plain"))]
    response = client.post(
        "/inbox",
        data={"no_script": "yes", "action": action, "receipt": sent.receipt, **fields},
        files=files,
    )
    assert response.status_code == 200, response.text
    return str(response.text)


def shown(page: str, testid: str) -> bool:
    return re.search(rf'data-testid="{testid}"(?![^>]*\bhidden\b)', page) is not None


def reporters_write(reporter: TestClient, served: httpx.Client) -> Reports:
    sent = Reports(
        in_browser=send_in_browser(
            reporter, f"{P.REPORT_SEALED_IN_THE_BROWSER.text}: they took him. {P.SEARCH.text}"
        ),
        without_js=send_without_javascript(reporter, P.REPORT_SEALED_BY_THE_SERVER.text),
        on_real_server=send_without_javascript(
            served,
            P.REPORT_SEALED_BY_THE_REAL_SERVER.text,
            file_words=P.FILE_SEALED_BY_THE_REAL_SERVER.text,
        ),
        destroyed=send_in_browser(reporter, P.REPORT_WITHDRAWN_AND_DESTROYED.text),
    )
    refused_without_javascript(reporter, P.REPORT_REFUSED_AND_GIVEN_BACK.text)
    in_browser = sent.in_browser
    response = post_reporter_message(
        reporter, in_browser.receipt, in_browser.report_id, P.MESSAGE_SEALED_IN_THE_BROWSER.text
    )
    assert response.status_code == 201, response.text
    for client, report, path, file_words in [
        (
            reporter,
            sent.without_js,
            P.MESSAGE_SEALED_BY_THE_SERVER,
            P.FILE_OF_A_MESSAGE_SEALED_BY_THE_SERVER.text,
        ),
        (served, sent.on_real_server, P.MESSAGE_SEALED_BY_THE_REAL_SERVER, None),
    ]:
        page = inbox_without_javascript(
            client, report, "send", message=path.text, file_words=file_words
        )
        assert shown(page, "inbox-sent")
    return sent


def reporters_read_the_replies(reporter: TestClient, sent: Reports) -> None:
    # In the browser: the reply opens with keys derived from the receipt, on the client only.
    keys = derive_receipt_keys(sent.in_browser.receipt)
    inbox = query_inbox(reporter, sent.in_browser.receipt).json()
    replies = [
        open_reply_as_reporter(
            base64.b64decode(message["ciphertext"]),
            reporter=keys.reporter_key,
            report_id=sent.in_browser.report_id,
            message_id=UUID(message["id"]),
        )
        for message in inbox["messages"]
        if message["sender"] == "desk"
    ]
    assert replies == [P.REPLY_READ_IN_THE_BROWSER.text]
    # Without JavaScript: the server opens it for the one request that carries the receipt.
    page = inbox_without_javascript(reporter, sent.without_js, "read")
    assert P.REPLY_OPENED_BY_THE_SERVER.text in page


def reporters_withdraw(
    reporter: TestClient, served: httpx.Client, sent: Reports, desk: Desk
) -> None:
    # Here without a grace period: destroyed at once, in the browser's way (the lookup token).
    token = derive_receipt_keys(sent.destroyed.receipt).lookup_token
    response = reporter.post(
        "/api/v1/inbox/withdraw",
        json={
            "proof_of_work": solved_pow(reporter),
            "lookup_token": base64.b64encode(token).decode(),
        },
    )
    assert response.json() == {"withdrawn": True, "destroyed": True}
    # On the real server, with a grace period, and without JavaScript: what leaves most
    # behind (the report and its messages are kept, under their keys, until the purge).
    page = inbox_without_javascript(served, sent.on_real_server, "withdraw", confirm_withdraw="yes")
    assert shown(page, "withdrawn-kept")
    assert query_inbox(reporter, sent.destroyed.receipt).json()["found"] is False
    assert query_inbox(served, sent.on_real_server.receipt).json()["found"] is False
    with desk.session() as session:
        stored = {r.public_id: r for r in session.execute(select(Report)).scalars()}
        tombstones = set(session.execute(select(WithdrawnReport.public_id)).scalars())
    assert sent.destroyed.report_id not in stored
    assert sent.destroyed.report_id in tombstones
    assert stored[sent.on_real_server.report_id].withdrawn_on is not None


@contextlib.contextmanager
def real_server(env: dict[str, str], workdir: Path) -> Iterator[httpx.Client]:
    """``hrd-reports serve`` on this desk as deployed, uvicorn's own logging going to a file
    in the working directory (``serve.log``); withdrawn reports are kept for a grace period."""
    server = ServerProcess(env | {"HRD_WITHDRAWAL_GRACE_DAYS": str(GRACE_DAYS)}, workdir, workers=1)
    try:
        server.start()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield client
    finally:
        server.stop()


# ---- the desk -----------------------------------------------------------------------------


def coordinator_works(coordinator: StaffBrowser, sent: Reports) -> None:
    # The list decrypts every report to show it (and to find the urgent ones).
    listing = coordinator.page("/dashboard/reports")
    for path in [
        P.REPORT_SEALED_IN_THE_BROWSER,
        P.REPORT_SEALED_BY_THE_SERVER,
        P.REPORT_SEALED_BY_THE_REAL_SERVER,
        P.REPORT_WITHDRAWN_AND_DESTROYED,
    ]:
        assert path.words["latin"] in listing
    found = coordinator.page(f"/dashboard/reports?q={P.SEARCH.text}")
    assert str(sent.in_browser.report_id) in found
    assert str(sent.without_js.report_id) not in found
    for report, path in [
        (sent.in_browser, P.MESSAGE_SEALED_IN_THE_BROWSER),
        (sent.without_js, P.MESSAGE_SEALED_BY_THE_SERVER),
        (sent.on_real_server, P.MESSAGE_SEALED_BY_THE_REAL_SERVER),
    ]:
        assert path.text in coordinator.report(report.report_id)
    for report in (sent.without_js, sent.on_real_server):
        assert "Sealed by the server" in coordinator.report(report.report_id)
    # The files open, streamed through the server's memory, and nothing of them stays.
    for report, path in [
        (sent.on_real_server, P.FILE_SEALED_BY_THE_REAL_SERVER),
        (sent.without_js, P.FILE_OF_A_MESSAGE_SEALED_BY_THE_SERVER),
    ]:
        download = coordinator.client.get(f"/dashboard/reports/{report.report_id}/files/1")
        assert download.status_code == 200, download.text
        assert download.content.startswith(path.text.encode())
    in_browser = f"/dashboard/reports/{sent.in_browser.report_id}"
    without_js = f"/dashboard/reports/{sent.without_js.report_id}"
    coordinator.post(f"{in_browser}/reply", reply=P.REPLY_READ_IN_THE_BROWSER.text)
    coordinator.post(f"{without_js}/reply", reply=P.REPLY_OPENED_BY_THE_SERVER.text)
    coordinator.post(f"{in_browser}/notes", note=P.INTERNAL_NOTE.text)
    coordinator.post(f"{in_browser}/tags", tags=", ".join(P.TAGS.words.values()))
    coordinator.post(f"{in_browser}/assign", assignee="dave")
    coordinator.post(f"{without_js}/assign", assignee="erin")
    page = coordinator.report(sent.in_browser.report_id)
    for word in [*P.INTERNAL_NOTE.words.values(), *P.TAGS.words.values()]:
        assert word in page


def referred_to_a_partner(head: StaffBrowser, coordinator: StaffBrowser, sent: Reports) -> bytes:
    """An administrator registers a partner; the coordinator refers the report sealed by the
    server to it, with a note, and downloads the package: only ciphertext, which the
    partner's key opens to the report's words and the note. Returns the package."""
    partner = pyrage.x25519.Identity.generate()
    head.post("/dashboard/partners", name="Legal Aid", key=str(partner.to_public()))
    page = coordinator.report(sent.without_js.report_id)
    chosen = re.search(r'<option value="([0-9a-f-]{36})">Legal Aid</option>', page)
    assert chosen is not None
    response = coordinator.client.post(
        f"/dashboard/reports/{sent.without_js.report_id}/referrals",
        data={
            "partner": chosen.group(1),
            "note": P.REFERRAL_NOTE.text,
            "tell_reporter": "yes",
            "csrf_token": coordinator.csrf,
        },
    )
    assert response.status_code == 200, response.text
    package = bytes(response.content)
    opened = json.loads(pyrage.decrypt(package, [partner]))
    assert opened["note"] == P.REFERRAL_NOTE.text
    assert P.REPORT_SEALED_BY_THE_SERVER.words["arabic"] in opened["report"]["narrative"]
    return package


# ---- the command line ---------------------------------------------------------------------


def cli(
    env: dict[str, str], kept: Path, *args: str, password: str, shows_secrets: bool = False
) -> Run:
    """A command as an operator types it. What it writes to the terminal goes to ``kept`` for
    the search: stderr always, and stdout unless its purpose is to show the person who asked
    a report or the recovery key (on a terminal, not at rest)."""
    run = invoke(env, *args, stdin=password + "\n")
    with kept.open("a", encoding="utf-8") as terminal:
        terminal.write(f"$ hrd-reports {' '.join(args)}\n{run.stderr}")
        if not shows_secrets:
            terminal.write(run.stdout)
    assert run.exit_code == 0, run.stderr
    return run


def set_up_on_the_command_line(
    env: dict[str, str], kept: Path, admin: Person
) -> tuple[str, dict[str, Person]]:
    """``init``, then a coordinator and a case worker added and vetted, as an administrator
    does it: the recovery key, shown once, and each new password pass through the commands."""
    as_admin = ("--as", admin.name, "--password-stdin")
    init = ("init", "--admin", admin.name, "--password-stdin")
    run = cli(env, kept, *init, password=admin.password, shows_secrets=True)
    recovery_key = re.search(r"shown once, never stored:\n\s+(\S+)\n", run.stdout)
    assert recovery_key is not None
    people = {"admin": admin}
    for name, role, password in [
        ("carol", Role.COORDINATOR, "a coordinator's passphrase 7314"),
        ("erin", Role.CASE_WORKER, "a case worker's passphrase 2209"),
    ]:
        add = ("user", "add", name, "--role", role.value, "--password-stdin")
        cli(env, kept, *add, password=password)
        cli(env, kept, "user", "vet", name, *as_admin, password=admin.password)
        people[name] = Person(name, password)
    return recovery_key.group(1), people


def command_line(
    env: dict[str, str], kept: Path, sent: Reports, *, admin: Person, carol: Person
) -> None:
    as_admin = ("--as", "admin", "--password-stdin")
    run = cli(env, kept, "keys", "rotate", *as_admin, "--retire-old", password=admin.password)
    assert "Rotation complete" in run.stdout
    as_carol = ("--as", "carol", "--password-stdin")
    run = cli(env, kept, "reports", "list", *as_carol, password=carol.password, shows_secrets=True)
    for report in [sent.in_browser, sent.without_js, sent.on_real_server]:
        assert str(report.report_id) in run.stdout
    for report, path in [
        (sent.in_browser, P.REPORT_SEALED_IN_THE_BROWSER),
        (sent.without_js, P.REPORT_SEALED_BY_THE_SERVER),
        (sent.on_real_server, P.REPORT_SEALED_BY_THE_REAL_SERVER),
    ]:
        show = ("reports", "show", str(report.report_id), *as_carol)
        run = cli(env, kept, *show, password=carol.password, shows_secrets=True)
        assert path.words["latin"] in run.stdout
