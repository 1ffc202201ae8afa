"""``hrd-reports partner add | list | disable``, as an administrator runs them on the server:
keys from a file or standard input, checked before anything is kept, audited, and each
refusal one line on stderr with a non-zero exit."""

from pathlib import Path

import pytest
from sqlalchemy import select

from hrd_reports.crypto.partners import fingerprint_groups
from hrd_reports.models import AuditEvent
from tests.cli import Run, invoke, table_snapshot
from tests.functional.test_cli import AUDIT_TABLES, assert_refused
from tests.helpers import Desk
from tests.partner_keys import DSA_ELGAMAL_CERT, age_partner, openpgp_partner


def ok(run: Run) -> Run:
    assert run.exit_code == 0, run.stderr
    return run


def test_partner_add_from_a_file_prints_the_fingerprint_to_compare(
    desk: Desk, cli_env: dict[str, str], workdir: Path
) -> None:
    partner = openpgp_partner(post_quantum=True)
    key_file = workdir / "partner.asc"
    key_file.write_text(partner.public_key)
    fingerprint = partner.secret.extract_certificate().fingerprint

    run = ok(invoke(cli_env, "partner", "add", "Legal Aid", "--key-file", str(key_file)))

    assert "added partner Legal Aid (openpgp: ML-KEM-768 + X25519)" in run.stdout
    assert fingerprint_groups(fingerprint) in run.stdout
    with desk.session() as session:
        event = session.execute(
            select(AuditEvent).where(AuditEvent.action == "partner.add")
        ).scalar_one()
    assert event.actor.startswith("cli")
    assert event.subject == "Legal Aid"


def test_partner_add_reads_a_binary_key_from_stdin_and_lists_it_as_json(
    desk: Desk, cli_env: dict[str, str]
) -> None:
    age = age_partner()
    pgp = openpgp_partner()
    ok(invoke(cli_env, "partner", "add", "Age Org", "--key-file", "-", stdin=age.public_key))
    binary = bytes(pgp.secret.extract_certificate())
    added = ok(
        invoke(cli_env, "partner", "add", "PGP Org", "--key-file", "-", "--json", stdin=binary)
    )
    assert added.json()["fingerprint"] == pgp.secret.extract_certificate().fingerprint

    listed = ok(invoke(cli_env, "partner", "list", "--json")).json()["partners"]

    assert [(p["name"], p["kind"], p["disabled"]) for p in listed] == [
        ("Age Org", "age", False),
        ("PGP Org", "openpgp", False),
    ]
    assert set(listed[0]) == {
        "id",
        "name",
        "kind",
        "fingerprint",
        "algorithm",
        "post_quantum",
        "added_on",
        "added_by",
        "disabled",
    }


def test_partner_disable_keeps_it_listed_as_disabled(desk: Desk, cli_env: dict[str, str]) -> None:
    ok(
        invoke(
            cli_env,
            "partner",
            "add",
            "Legal Aid",
            "--key-file",
            "-",
            stdin=age_partner().public_key,
        )
    )

    assert "Legal Aid is disabled." in ok(invoke(cli_env, "partner", "disable", "legal aid")).stdout
    again = ok(invoke(cli_env, "partner", "disable", "Legal Aid"))
    assert "was already disabled" in again.stdout
    listed = ok(invoke(cli_env, "partner", "list")).stdout
    assert "Legal Aid  (disabled)" in listed
    with desk.session() as session:
        disabled = (
            session.execute(select(AuditEvent).where(AuditEvent.action == "partner.disable"))
            .scalars()
            .all()
        )
    assert len(disabled) == 1


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (lambda: str(age_partner().identity), "this is a private (secret) key"),
        (lambda: bytes(openpgp_partner().secret), "this is a private (secret) key"),
        (DSA_ELGAMAL_CERT.read_bytes, "uses DSA, too weak"),
        (lambda: "age1pq1" + "q" * 80, "post-quantum age keys (age1pq1...) cannot be used yet"),
        (lambda: "not a key", "neither an age public key"),
    ],
)
def test_partner_add_refuses_a_key_it_cannot_use_and_changes_nothing(
    desk: Desk, cli_env: dict[str, str], key: object, message: str
) -> None:
    before = table_snapshot(cli_env["HRD_DATABASE_URL"], skip=AUDIT_TABLES)

    run = invoke(cli_env, "partner", "add", "Some Org", "--key-file", "-", stdin=key())  # type: ignore[operator]

    assert run.exit_code == 1
    assert_refused(run, message)
    assert table_snapshot(cli_env["HRD_DATABASE_URL"], skip=AUDIT_TABLES) == before


def test_partner_commands_refuse_unknown_names_and_missing_files(
    desk: Desk, cli_env: dict[str, str], workdir: Path
) -> None:
    ok(
        invoke(
            cli_env,
            "partner",
            "add",
            "Legal Aid",
            "--key-file",
            "-",
            stdin=age_partner().public_key,
        )
    )

    assert_refused(
        invoke(cli_env, "partner", "disable", "Nobody"), "there is no partner named Nobody"
    )
    missing = invoke(cli_env, "partner", "add", "X", "--key-file", str(workdir / "none.asc"))
    assert missing.exit_code == 2
    assert_refused(missing, "cannot read")
    twice = invoke(
        cli_env, "partner", "add", "LEGAL AID", "--key-file", "-", stdin=age_partner().public_key
    )
    assert_refused(twice, "there is already a partner named LEGAL AID")
    assert "no partner yet" not in ok(invoke(cli_env, "partner", "list")).stdout
