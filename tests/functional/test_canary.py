"""Nothing at rest decrypts without a person (DESIGN.md invariant 2).

Reports carrying unique canaries go through every path that handles plaintext in this
version (intake, listing, showing, assignment, rotation, vetting, revocation); then every
byte at rest (the database file or a pg_dump, the working directory, keys/) is searched
for each canary, each receipt, each password and each private key, in several encodings.
"""

import base64
from pathlib import Path

from hrd_reports.crypto.envelope import open_dek
from hrd_reports.crypto.receipts import normalise_receipt
from hrd_reports.crypto.recovery import decode_recovery_key
from hrd_reports.crypto.xwing import Sealed
from hrd_reports.models import Report, Role
from hrd_reports.services import keyring, users
from hrd_reports.settings import Settings
from hrd_reports.wiring import Runtime
from tests.atrest import files_under, find_leaks, postgres_dump
from tests.cli import invoke
from tests.conftest import DatabaseServer
from tests.helpers import Desk, Person, report_content

CANARIES = ["CANARY-4f1e-kidnap-threat", "كناري-اختطاف-٧٣٩", "CANARY-ژیان-کوردی-55"]


def _private_material(desk: Desk, people: list[Person], recovery_key: str) -> dict[str, bytes]:
    """Every private key and data key of the desk, opened in memory only to search for them."""
    found: dict[str, bytes] = {"recovery key seed": decode_recovery_key(recovery_key).seed()}
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
        for report in session.query(Report):
            sealed = Sealed(report.dek_suite, report.dek_key_id, report.sealed_dek)
            found[f"DEK of {report.public_id}"] = open_dek(
                sealed, report_id=report.public_id, holder=intake_keys[report.dek_key_id]
            )
        session.rollback()
    return found


def test_no_plaintext_receipt_password_or_key_at_rest(
    runtime: Runtime,
    settings: Settings,
    admin: Person,
    cli_env: dict[str, str],
    workdir: Path,
    database_server: DatabaseServer,
) -> None:
    desk = Desk(runtime)
    setup = desk.set_up(admin)
    carol = desk.add_vetted("carol", Role.COORDINATOR, by=admin)
    dave = desk.add_vetted("dave", Role.CASE_WORKER, by=admin)
    erin = desk.add_vetted("erin", Role.CASE_WORKER, by=admin)
    submitted = [
        desk.submit(report_content(f"{canary}: they took him at the checkpoint"))
        for canary in CANARIES
    ]
    desk.assign(submitted[0].report_id, to="dave", by=carol)
    desk.assign(submitted[1].report_id, to="erin", by=carol)
    desk.list_reports(carol)
    desk.show(dave, submitted[0].report_id)
    desk.rotate(by=admin, retire_old=True)
    # The CLI paths too, which print plaintext to the terminal and must write none to disk.
    for report in submitted:
        run = invoke(
            cli_env,
            "reports",
            "show",
            str(report.report_id),
            "--as",
            "carol",
            "--password-stdin",
            stdin=carol.password + "\n",
        )
        assert run.exit_code == 0, run.stderr
    desk.revoke("erin")

    people = [admin, carol, dave, erin]
    secrets: dict[str, bytes] = {f"canary {c}": c.encode() for c in CANARIES}
    secrets |= {f"password of {p.name}": p.password.encode() for p in people}
    secrets |= {f"receipt {s.report_id}": s.receipt.encode() for s in submitted}
    secrets |= {
        f"receipt digits {s.report_id}": normalise_receipt(s.receipt).encode() for s in submitted
    }
    secrets["recovery key"] = setup.recovery_key.encode()
    secrets |= _private_material(desk, people, setup.recovery_key)
    runtime.close()  # checkpoint SQLite's journal into the file that is searched

    blobs = [(str(path), path.read_bytes()) for path in files_under(workdir, settings.keys_dir)]
    if database_server.is_postgresql:
        blobs.append(("pg_dump", postgres_dump(settings.database_url)))
    assert any(path.endswith(".db") for path, _ in blobs) or database_server.is_postgresql
    assert find_leaks(blobs, secrets) == []


def test_the_search_finds_a_planted_canary(workdir: Path) -> None:
    # The sweep above passes only if the search itself works: plant each form and find it.
    planted = {
        "hex": b"xx" + CANARIES[0].encode().hex().encode() + b"yy",
        "utf-16-le": b"x" + CANARIES[1].encode("utf-16-le"),
        "base64": base64.b64encode(
            b"a prefix of some length: " + CANARIES[2].encode() + b" and more"
        ),
    }
    for name, content in planted.items():
        (workdir / f"{name}.bin").write_bytes(content)
    blobs = [(str(path), path.read_bytes()) for path in files_under(workdir)]
    leaks = find_leaks(blobs, {f"canary {i}": c.encode() for i, c in enumerate(CANARIES)})
    assert any("canary 0 (hex)" in leak for leak in leaks)
    assert any("canary 1 (utf-16-le)" in leak for leak in leaks)
    assert any("canary 2 (base64" in leak for leak in leaks)
