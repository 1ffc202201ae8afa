"""Nothing at rest decrypts without a person (DESIGN.md invariants 1 and 2): the canary sweep.

Every path that handles plaintext runs, driven as its users drive it, each with a canary of
its own in Latin, Arabic and Kurdish script: a report sealed in the browser (the reference
client over HTTP), reports sealed by the server (the form without JavaScript, in process and
on the real ``hrd-reports serve``), a form refused and given back, the reporters' messages
and their reading of replies both ways, a reply, an internal note, tags and a search in the
dashboard, a referral to a partner with a note (its package too must be kept nowhere),
listing and showing, an invitation, vetting, assignment, a mistyped password,
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
import logging
import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from hrd_reports import db
from hrd_reports.crypto import totp
from hrd_reports.crypto.envelope import open_dek
from hrd_reports.crypto.receipts import derive_receipt_keys, normalise_receipt
from hrd_reports.crypto.recovery import decode_recovery_key
from hrd_reports.crypto.sessions import SessionToken
from hrd_reports.crypto.xwing import Sealed
from hrd_reports.models import Report, ReportGrant, Role, User
from hrd_reports.services import credentials, keyring
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.atrest import every_log_record_in, files_under, find_leaks, postgres_dump
from tests.cli import invoke
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
from tests.helpers import Desk, Person
from tests.plaintext_paths import (
    MISTYPED_PASSWORD,
    P,
    Plaintext,
    Reports,
    command_line,
    coordinator_works,
    real_server,
    referred_to_a_partner,
    reporters_read_the_replies,
    reporters_withdraw,
    reporters_write,
    set_up_on_the_command_line,
)


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


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
            unlocked = credentials.unlock(
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
    staff: list[Staff], browsers: list[StaffBrowser], sent: Reports, *, session_secret: bytes
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
        token = SessionToken.parse(browser.cookie, secret=session_secret)
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
        recovery_key, people = set_up_on_the_command_line(cli_env, terminal, admin)
        staff = {
            "admin": enrol(desk, admin, Role.ADMIN),
            "carol": enrol(desk, people["carol"], Role.COORDINATOR),
            "erin": enrol(desk, people["erin"], Role.CASE_WORKER),
        }
        with real_server(cli_env, workdir) as served:
            sent = reporters_write(reporter, served)

            head = StaffBrowser(app, staff["admin"], fake_clock)
            staff["dave"], invitation = invited(app, head, "dave", Role.CASE_WORKER, fake_clock)
            head.post("/dashboard/users/dave/vet")
            # A mistyped password is refused, and what was typed is kept nowhere.
            mistyped = Staff(Person("carol", MISTYPED_PASSWORD), staff["carol"].secret)
            assert sign_in(TestClient(app), mistyped, fake_clock) == 401
            coordinator = StaffBrowser(app, staff["carol"], fake_clock)
            coordinator_works(coordinator, sent)
            # Not even the ciphertext of a referral is kept: it leaves in the response only.
            secrets["referral package"] = referred_to_a_partner(head, coordinator, sent)
            # Each case worker opens the one report assigned to them (their grant works).
            dave = StaffBrowser(app, staff["dave"], fake_clock)
            page = dave.report(sent.in_browser.report_id)
            assert P.REPORT_SEALED_IN_THE_BROWSER.words["latin"] in page
            erins = StaffBrowser(app, staff["erin"], fake_clock)
            page = erins.report(sent.without_js.report_id)
            assert P.REPORT_SEALED_BY_THE_SERVER.words["latin"] in page

            reporters_read_the_replies(reporter, sent)
            everyone = [member.person for member in staff.values()]
            secrets |= _keys_of_the_desk(desk, everyone)  # before a report and a key are gone
            reporters_withdraw(reporter, served, sent, desk)
            kept = coordinator.report(sent.on_real_server.report_id)
            assert 'data-testid="withdrawn"' in kept
            assert P.MESSAGE_SEALED_BY_THE_REAL_SERVER.text in kept
            assert str(sent.destroyed.report_id) not in coordinator.page("/dashboard/reports")

            # Revocation ends the case worker's grants and session.
            head.post("/dashboard/users/erin/revoke")
            refused = erins.client.get(f"/dashboard/reports/{sent.without_js.report_id}")
            assert P.REPORT_SEALED_BY_THE_SERVER.words["latin"] not in refused.text
            _assert_revoked(desk, "erin")

            command_line(cli_env, terminal, sent, admin=admin, carol=people["carol"])
            secrets |= _keys_of_the_desk(desk, everyone)  # the new intake key
            # A backup of all of it lands in the searched folder too: a stolen backup is
            # one of the threats.
            backed_up = invoke(cli_env, "backup", "create", "--out", str(workdir / "desk.hrdb"))
            assert backed_up.exit_code == 0, backed_up.stderr

    secrets |= _credentials(
        list(staff.values()),
        [head, coordinator, dave, erins],
        sent,
        session_secret=desk.secrets.session,
    )
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
    assert any(path.endswith(".hrdb") for path, _ in blobs)
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
