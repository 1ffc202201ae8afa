"""Nothing at rest decrypts without a person (DESIGN.md invariants 1 and 2): the canary sweep.

Every path that handles plaintext runs, driven as its users drive it, each with a canary of
its own in Latin, Arabic and Kurdish script: a report sealed in the browser (the reference
client over HTTP), reports sealed by the server (the form without JavaScript, in process and
on the real ``hrd-reports serve``), a form refused and given back, the reporters' messages
and their reading of replies both ways, a reply, an internal note, tags and a search in the
dashboard, listing and showing, an invitation, vetting, assignment, a mistyped password,
revocation, withdrawal (destroyed at once, and kept for a grace period), and on the command
line ``init``, ``user add`` and ``vet``, ``keys rotate``, ``reports list`` and ``show``.

Then every byte at rest is searched: the database file (with its journal) or a pg_dump, the
working directory with ``keys/``, every log record of the run down to DEBUG (SQLAlchemy's bound
parameters included), the real server's own log, and what the commands wrote to the terminal
other than the report a person asked to see. Searched for: each canary, receipt and what a
receipt opens, password, second factor, invitation, session cookie and key, in the encodings a
leak would take. The threat: a seized server, a stolen backup or a log shipped elsewhere that
reveals a report, or a credential that opens one, without any person's key.
"""

import base64
import contextlib
import enum
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from hrd_reports import db
from hrd_reports.crypto import totp
from hrd_reports.crypto.envelope import open_dek
from hrd_reports.crypto.messages import open_reply_as_reporter
from hrd_reports.crypto.receipts import derive_receipt_keys, normalise_receipt
from hrd_reports.crypto.recovery import decode_recovery_key
from hrd_reports.crypto.sessions import SessionToken
from hrd_reports.crypto.xwing import Sealed
from hrd_reports.models import Report, ReportGrant, Role, User, WithdrawnReport
from hrd_reports.services import keyring, users
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.atrest import every_log_record_in, files_under, find_leaks, postgres_dump
from tests.cli import Run, invoke
from tests.conftest import DatabaseServer
from tests.dashboard_support import (
    Clock,
    Staff,
    StaffBrowser,
    enrol,
    install_clock,
    invited,
    sign_in,
)
from tests.helpers import (
    Desk,
    Person,
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


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


# ---- the reporters ------------------------------------------------------------------------


def _send_in_browser(client: Any, narrative: str) -> Sent:
    receipt, response = post_report(client, report_content(narrative))
    assert response.status_code == 201, response.text
    return Sent(UUID(response.json()["report_id"]), receipt)


def _send_without_javascript(client: Any, words: str) -> Sent:
    """The form as a browser with scripts off posts it, every free-text field filled in."""
    token = re.search(r'name="form_token" value="([^"]+)"', client.get("/report").text)
    assert token is not None
    response = client.post(
        "/report",
        data={
            "no_script": "yes",
            "form_token": token.group(1),
            "incident_type": ["arbitrary_arrest", "surveillance"],
            "narrative": words,
            "district": words,
            "perpetrator_identifiers": words,
        },
    )
    assert response.status_code == 200, response.text
    receipt = re.search(r'data-testid="receipt"[^>]*>([\d ]+)<', response.text)
    assert receipt is not None
    report_id = query_inbox(client, receipt.group(1)).json()["report_id"]
    return Sent(UUID(report_id), receipt.group(1))


def _refused_without_javascript(client: Any, words: str) -> None:
    """A form the server refuses (no kind of incident chosen): the reporter's words come back
    to be corrected, and nothing is kept."""
    token = re.search(r'name="form_token" value="([^"]+)"', client.get("/report").text)
    assert token is not None
    response = client.post(
        "/report", data={"no_script": "yes", "form_token": token.group(1), "narrative": words}
    )
    assert response.status_code == 400, response.text
    assert words in response.text


def _inbox_without_javascript(client: Any, sent: Sent, action: str, **fields: str) -> str:
    """The inbox form with scripts off: the receipt reaches the server for this one request."""
    response = client.post(
        "/inbox", data={"no_script": "yes", "action": action, "receipt": sent.receipt, **fields}
    )
    assert response.status_code == 200, response.text
    return str(response.text)


def _shown(page: str, testid: str) -> bool:
    return re.search(rf'data-testid="{testid}"(?![^>]*\bhidden\b)', page) is not None


def _reporters_write(reporter: TestClient, served: httpx.Client) -> Reports:
    sent = Reports(
        in_browser=_send_in_browser(
            reporter, f"{P.REPORT_SEALED_IN_THE_BROWSER.text}: they took him. {P.SEARCH.text}"
        ),
        without_js=_send_without_javascript(reporter, P.REPORT_SEALED_BY_THE_SERVER.text),
        on_real_server=_send_without_javascript(served, P.REPORT_SEALED_BY_THE_REAL_SERVER.text),
        destroyed=_send_in_browser(reporter, P.REPORT_WITHDRAWN_AND_DESTROYED.text),
    )
    _refused_without_javascript(reporter, P.REPORT_REFUSED_AND_GIVEN_BACK.text)
    in_browser = sent.in_browser
    response = post_reporter_message(
        reporter, in_browser.receipt, in_browser.report_id, P.MESSAGE_SEALED_IN_THE_BROWSER.text
    )
    assert response.status_code == 201, response.text
    for client, report, path in [
        (reporter, sent.without_js, P.MESSAGE_SEALED_BY_THE_SERVER),
        (served, sent.on_real_server, P.MESSAGE_SEALED_BY_THE_REAL_SERVER),
    ]:
        page = _inbox_without_javascript(client, report, "send", message=path.text)
        assert _shown(page, "inbox-sent")
    return sent


def _reporters_read_the_replies(reporter: TestClient, sent: Reports) -> None:
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
    page = _inbox_without_javascript(reporter, sent.without_js, "read")
    assert P.REPLY_OPENED_BY_THE_SERVER.text in page


def _reporters_withdraw(
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
    page = _inbox_without_javascript(
        served, sent.on_real_server, "withdraw", confirm_withdraw="yes"
    )
    assert _shown(page, "withdrawn-kept")
    assert query_inbox(reporter, sent.destroyed.receipt).json()["found"] is False
    assert query_inbox(served, sent.on_real_server.receipt).json()["found"] is False
    with desk.session() as session:
        stored = {r.public_id: r for r in session.execute(select(Report)).scalars()}
        tombstones = set(session.execute(select(WithdrawnReport.public_id)).scalars())
    assert sent.destroyed.report_id not in stored
    assert sent.destroyed.report_id in tombstones
    assert stored[sent.on_real_server.report_id].withdrawn_on is not None


@contextlib.contextmanager
def _real_server(env: dict[str, str], workdir: Path) -> Iterator[httpx.Client]:
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


def _coordinator_works(coordinator: StaffBrowser, sent: Reports) -> None:
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


# ---- the command line ---------------------------------------------------------------------


def _cli(
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


def _set_up_on_the_command_line(
    env: dict[str, str], kept: Path, admin: Person
) -> tuple[str, dict[str, Person]]:
    """``init``, then a coordinator and a case worker added and vetted, as an administrator
    does it: the recovery key, shown once, and each new password pass through the commands."""
    as_admin = ("--as", admin.name, "--password-stdin")
    init = ("init", "--admin", admin.name, "--password-stdin")
    run = _cli(env, kept, *init, password=admin.password, shows_secrets=True)
    recovery_key = re.search(r"shown once, never stored:\n\s+(\S+)\n", run.stdout)
    assert recovery_key is not None
    people = {"admin": admin}
    for name, role, password in [
        ("carol", Role.COORDINATOR, "a coordinator's passphrase 7314"),
        ("erin", Role.CASE_WORKER, "a case worker's passphrase 2209"),
    ]:
        add = ("user", "add", name, "--role", role.value, "--password-stdin")
        _cli(env, kept, *add, password=password)
        _cli(env, kept, "user", "vet", name, *as_admin, password=admin.password)
        people[name] = Person(name, password)
    return recovery_key.group(1), people


def _command_line(
    env: dict[str, str], kept: Path, sent: Reports, *, admin: Person, carol: Person
) -> None:
    as_admin = ("--as", "admin", "--password-stdin")
    run = _cli(env, kept, "keys", "rotate", *as_admin, "--retire-old", password=admin.password)
    assert "Rotation complete" in run.stdout
    as_carol = ("--as", "carol", "--password-stdin")
    run = _cli(env, kept, "reports", "list", *as_carol, password=carol.password, shows_secrets=True)
    for report in [sent.in_browser, sent.without_js, sent.on_real_server]:
        assert str(report.report_id) in run.stdout
    for report, path in [
        (sent.in_browser, P.REPORT_SEALED_IN_THE_BROWSER),
        (sent.without_js, P.REPORT_SEALED_BY_THE_SERVER),
        (sent.on_real_server, P.REPORT_SEALED_BY_THE_REAL_SERVER),
    ]:
        show = ("reports", "show", str(report.report_id), *as_carol)
        run = _cli(env, kept, *show, password=carol.password, shows_secrets=True)
        assert path.words["latin"] in run.stdout


# ---- what must not be at rest -------------------------------------------------------------


def _canaries() -> dict[str, bytes]:
    return {
        f"canary of {path.name} ({script})": word.encode()
        for path in Plaintext
        for script, word in path.words.items()
    }


def _keys_of_the_desk(desk: Desk, people: list[Person]) -> dict[str, bytes]:
    """Every private key and data key of the desk now, opened in memory only to search for."""
    found: dict[str, bytes] = {}
    with desk.session() as session:
        for person in people:
            unlocked = users.unlock(
                session,
                name=person.name,
                password=person.password,
                passwords=desk.runtime.passwords,
            )
            found[f"private key of {person.name}"] = unlocked.private_key.seed()
            if person.name == "admin":
                intake_keys = keyring.unlock_intake_keys(
                    session, user=unlocked.user, private_key=unlocked.private_key
                )
        for key_id, key in intake_keys.items():
            found[f"intake key {key_id}"] = key.seed()
        for report in session.execute(select(Report)).scalars():
            sealed = Sealed(report.dek_suite, report.dek_key_id, report.sealed_dek)
            found[f"DEK of {report.public_id}"] = open_dek(
                sealed, report_id=report.public_id, holder=intake_keys[report.dek_key_id]
            )
        session.rollback()
    return found


def _credentials(
    staff: list[Staff], browsers: list[StaffBrowser], sent: Reports
) -> dict[str, bytes]:
    """Passwords, second factors, session cookies, receipts and what each receipt opens."""
    found: dict[str, bytes] = {}
    for member in staff:
        name = member.person.name
        found[f"password of {name}"] = member.person.password.encode()
        found[f"second factor of {name}"] = member.secret
        found[f"second factor of {name} (base32)"] = base64.b32encode(member.secret)
        found[f"second factor of {name} (as shown)"] = totp.secret_text(member.secret).encode()
    for browser in browsers:
        token = SessionToken.parse(browser.cookie)
        assert token is not None
        found[f"session id of a cookie {browser.cookie[:6]}"] = token.session_id
        found[f"session key of a cookie {browser.cookie[:6]}"] = token.key
    for report in sent.all():
        keys = derive_receipt_keys(report.receipt)
        found[f"receipt of {report.report_id}"] = report.receipt.encode()
        found[f"receipt digits of {report.report_id}"] = normalise_receipt(report.receipt).encode()
        found[f"lookup token of {report.report_id}"] = keys.lookup_token
        found[f"reporter key of {report.report_id}"] = keys.reporter_key.seed()
        found[f"message key of {report.report_id}"] = keys.message_key
    return found


def _assert_revoked(desk: Desk, name: str) -> None:
    with desk.session() as session:
        user = session.execute(select(User).where(User.name == name)).scalar_one()
        grants = select(func.count()).select_from(ReportGrant).where(ReportGrant.user_id == user.id)
        assert session.execute(grants).scalar_one() == 0
        assert not user.vetted


def _assert_the_logs_were_written(workdir: Path) -> None:
    """A log that stayed empty would pass the search without proving anything."""
    sweep = (workdir / "sweep.log").read_text(encoding="utf-8")
    assert "sqlalchemy.engine.Engine INFO INSERT INTO reports" in sweep
    # The values bound to statements are there, a name the dashboard sent among them.
    assert re.search(r"tests\.atrest\.bound_values DEBUG .*'dave'", sweep)
    assert "hrd_reports.access INFO POST /dashboard/reports/{report_id}/notes 303" in sweep
    # Reporters' requests are not logged at all (see web/middleware.py); the server's own
    # log must still have run from start to a clean shutdown.
    served = (workdir / "serve.log").read_text(encoding="utf-8")
    assert "Application startup complete" in served
    assert "Application shutdown complete" in served
    assert "Started rotation" in (workdir / "terminal.log").read_text(encoding="utf-8")


# ---- the sweep ----------------------------------------------------------------------------


def test_no_plaintext_receipt_password_or_key_at_rest(
    runtime: Runtime,
    settings: Settings,
    admin: Person,
    cli_env: dict[str, str],
    workdir: Path,
    database_server: DatabaseServer,
    fake_clock: Clock,
) -> None:
    desk = Desk(runtime)
    app = create_app(settings, runtime=runtime)
    reporter = TestClient(app)
    terminal = workdir / "terminal.log"
    secrets = _canaries()

    with every_log_record_in(workdir / "sweep.log"):
        recovery_key, people = _set_up_on_the_command_line(cli_env, terminal, admin)
        staff = {
            "admin": enrol(desk, admin, Role.ADMIN),
            "carol": enrol(desk, people["carol"], Role.COORDINATOR),
            "erin": enrol(desk, people["erin"], Role.CASE_WORKER),
        }
        with _real_server(cli_env, workdir) as served:
            sent = _reporters_write(reporter, served)

            head = StaffBrowser(app, staff["admin"], fake_clock)
            staff["dave"], invitation = invited(app, head, "dave", Role.CASE_WORKER, fake_clock)
            head.post("/dashboard/users/dave/vet")
            # A mistyped password is refused, and what was typed is kept nowhere.
            mistyped = Staff(Person("carol", MISTYPED_PASSWORD), staff["carol"].secret)
            assert sign_in(TestClient(app), mistyped, fake_clock) == 401
            coordinator = StaffBrowser(app, staff["carol"], fake_clock)
            _coordinator_works(coordinator, sent)
            # Each case worker opens the one report assigned to them (their grant works).
            dave = StaffBrowser(app, staff["dave"], fake_clock)
            page = dave.report(sent.in_browser.report_id)
            assert P.REPORT_SEALED_IN_THE_BROWSER.words["latin"] in page
            erins = StaffBrowser(app, staff["erin"], fake_clock)
            page = erins.report(sent.without_js.report_id)
            assert P.REPORT_SEALED_BY_THE_SERVER.words["latin"] in page

            _reporters_read_the_replies(reporter, sent)
            everyone = [member.person for member in staff.values()]
            secrets |= _keys_of_the_desk(desk, everyone)  # before a report and a key are gone
            _reporters_withdraw(reporter, served, sent, desk)
            kept = coordinator.report(sent.on_real_server.report_id)
            assert 'data-testid="withdrawn"' in kept
            assert P.MESSAGE_SEALED_BY_THE_REAL_SERVER.text in kept
            assert str(sent.destroyed.report_id) not in coordinator.page("/dashboard/reports")

            # Revocation ends the case worker's grants and session.
            head.post("/dashboard/users/erin/revoke")
            refused = erins.client.get(f"/dashboard/reports/{sent.without_js.report_id}")
            assert P.REPORT_SEALED_BY_THE_SERVER.words["latin"] not in refused.text
            _assert_revoked(desk, "erin")

            _command_line(cli_env, terminal, sent, admin=admin, carol=people["carol"])
            secrets |= _keys_of_the_desk(desk, everyone)  # the new intake key

    secrets |= _credentials(list(staff.values()), [head, coordinator, dave, erins], sent)
    secrets["mistyped password of carol"] = MISTYPED_PASSWORD.encode()
    secrets["invitation token"] = invitation.encode()
    secrets["recovery key"] = recovery_key.encode()
    secrets["recovery key (compact)"] = "".join(recovery_key.split("-")).encode()
    secrets["recovery key seed"] = decode_recovery_key(recovery_key).seed()
    runtime.close()  # checkpoint SQLite's journal into the file that is searched

    blobs = [(str(path), path.read_bytes()) for path in files_under(workdir)]
    if database_server.is_postgresql:
        blobs.append(("pg_dump", postgres_dump(settings.database_url)))
    else:
        assert any(path.endswith(".db") for path, _ in blobs)
    _assert_the_logs_were_written(workdir)
    leaks = find_leaks(blobs, secrets)
    assert not leaks, "found at rest:\n" + "\n".join(leaks)


# ---- the sweep can fail -------------------------------------------------------------------


def test_the_search_finds_a_planted_canary(workdir: Path) -> None:
    # The sweep above passes only if the search itself works: plant each form and find it.
    words = Plaintext.INTERNAL_NOTE.words
    planted = {
        "hex": b"xx" + words["latin"].encode().hex().encode() + b"yy",
        "utf-16-le": b"x" + words["arabic"].encode("utf-16-le"),
        "base64": base64.b64encode(
            b"a prefix of some length: " + words["kurdish"].encode() + b" and more"
        ),
        "query-string": b"GET /dashboard/reports?"
        + httpx.URL("/", params={"q": Plaintext.INTERNAL_NOTE.text}).query,
        "bytes-repr": repr(b"(" + words["kurdish"].encode() + b")").encode(),
    }
    for name, content in planted.items():
        (workdir / f"{name}.bin").write_bytes(content)
    blobs = [(str(path), path.read_bytes()) for path in files_under(workdir)]
    leaks = find_leaks(blobs, {script: word.encode() for script, word in words.items()})
    for name, script, encoding in [
        ("hex", "latin", "hex"),
        ("utf-16-le", "arabic", "utf-16-le"),
        ("base64", "kurdish", "base64"),
        ("query-string", "arabic", "url-encoded"),
        ("bytes-repr", "kurdish", "bytes-repr"),
    ]:
        assert any(f"{name}.bin: {script} ({encoding}" in leak for leak in leaks), (name, leaks)


def test_every_log_record_reaches_the_searched_file(workdir: Path) -> None:
    # A logger made quiet, not propagating and disabled still writes into the file, and the
    # values bound to statements are there too, from the application's own engine, which
    # hides them from SQLAlchemy's log; all is put back afterwards.
    quiet = logging.getLogger("tests.canary.quiet")
    quiet.setLevel(logging.ERROR)
    quiet.propagate = False
    quiet.disabled = True
    engine = db.make_engine(f"sqlite:///{workdir / 'bound.db'}")
    words = Plaintext.SEARCH.words
    with every_log_record_in(workdir / "all.log"):
        quiet.debug("a debug record: %s", words["latin"])
        with engine.connect() as connection:
            connection.execute(text("SELECT :word"), {"word": words["arabic"]})
    engine.dispose()
    assert (quiet.level, quiet.propagate, quiet.disabled) == (logging.ERROR, False, True)
    leaks = find_leaks(
        [("all.log", (workdir / "all.log").read_bytes())],
        {script: word.encode() for script, word in words.items()},
    )
    assert "all.log: latin (raw)" in leaks
    assert "all.log: arabic (raw)" in leaks
