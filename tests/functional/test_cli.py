"""The command-line contract of DESIGN.md section 5, as an operator uses it."""

import os
import stat
from pathlib import Path

import pytest

from hrd_reports.settings import Settings
from hrd_reports.wiring import Runtime
from tests.cli import Run, invoke, table_snapshot
from tests.helpers import Desk, report_content

ADMIN_PASSWORD = "first key holder passphrase"
PASSWORDS = {
    "carol": "coordinator passphrase 1",
    "dave": "case worker passphrase 2",
    "erin": "auditor passphrase 33",
}
AUDIT_TABLES = frozenset({"audit_events", "audit_head"})


def _ok(run: Run) -> Run:
    assert run.exit_code == 0, run.stderr
    return run


def assert_refused(run: Run, message: str) -> None:
    assert run.exit_code != 0
    assert run.stderr.startswith("error: ")
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert "Traceback" not in run.stderr + run.stdout


def _init(env: dict[str, str], *options: str) -> Run:
    return invoke(
        env, "init", "--admin", "admin", "--password-stdin", *options, stdin=ADMIN_PASSWORD + "\n"
    )


@pytest.fixture
def staffed(cli_env: dict[str, str]) -> dict[str, str]:
    _ok(_init(cli_env))
    for name, role in (("carol", "coordinator"), ("dave", "case_worker"), ("erin", "auditor")):
        _ok(
            invoke(
                cli_env,
                "user",
                "add",
                name,
                "--role",
                role,
                "--password-stdin",
                stdin=PASSWORDS[name] + "\n",
            )
        )
    for name in ("carol", "dave"):
        _ok(
            invoke(
                cli_env,
                "user",
                "vet",
                name,
                "--as",
                "admin",
                "--password-stdin",
                stdin=ADMIN_PASSWORD + "\n",
            )
        )
    return cli_env


def _as(env: dict[str, str], name: str, *args: str) -> Run:
    password = ADMIN_PASSWORD if name == "admin" else PASSWORDS[name]
    return invoke(env, *args, "--as", name, "--password-stdin", stdin=password + "\n")


def test_operator_story_from_init_to_rotation(staffed: dict[str, str], runtime: Runtime) -> None:
    desk = Desk(runtime)
    first = desk.submit(report_content("first report"))
    second = desk.submit(report_content("second report"))

    listed = _ok(_as(staffed, "carol", "reports", "list", "--json")).json()
    assert {report["id"] for report in listed["reports"]} == {
        str(first.report_id),
        str(second.report_id),
    }

    _ok(_as(staffed, "carol", "reports", "assign", str(first.report_id), "--to", "dave"))
    shown = _ok(_as(staffed, "dave", "reports", "show", str(first.report_id), "--json")).json()
    assert shown["report"]["content"]["narrative"] == "first report"
    assert shown["report"]["assignee"] == "dave"
    assert [
        r["id"] for r in _ok(_as(staffed, "dave", "reports", "list", "--json")).json()["reports"]
    ] == [str(first.report_id)]

    before = _ok(invoke(staffed, "keys", "status", "--json")).json()
    rotated = _ok(_as(staffed, "admin", "keys", "rotate", "--retire-old"))
    assert "Rotation complete" in rotated.stdout
    after = _ok(invoke(staffed, "keys", "status", "--json")).json()
    states = {key["id"]: key["state"] for key in after["intake_keys"]}
    assert states[before["intake_keys"][0]["id"]] == "destroyed"
    [active] = [key for key in after["intake_keys"] if key["state"] == "active"]
    assert active["reports"] == 2
    assert active["holders"] == ["admin", "carol"]
    assert len(active["recovery_keys"]) == 1
    assert after["rotation_in_progress"] is None

    assert len(_ok(_as(staffed, "carol", "reports", "list", "--json")).json()["reports"]) == 2
    verified = _ok(invoke(staffed, "audit", "verify", "--json")).json()
    assert verified["intact"] is True


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ("reports", "list", "--as", "carol", "--password-stdin"),
            "not carol's password\n",
            "wrong password",
        ),
        (
            ("reports", "list", "--as", "nobody", "--password-stdin"),
            "some long password\n",
            "wrong password",
        ),
        (
            ("reports", "list", "--as", "erin", "--password-stdin"),
            PASSWORDS["erin"] + "\n",
            "auditors",
        ),
        (
            (
                "reports",
                "assign",
                "00000000-0000-4000-8000-000000000000",
                "--to",
                "dave",
                "--as",
                "dave",
                "--password-stdin",
            ),
            PASSWORDS["dave"] + "\n",
            "key holder",
        ),
        (
            ("user", "vet", "erin", "--as", "carol", "--password-stdin"),
            PASSWORDS["carol"] + "\n",
            "auditors",
        ),
        (
            ("user", "vet", "carol", "--as", "dave", "--password-stdin"),
            PASSWORDS["dave"] + "\n",
            "key holder",
        ),
        (
            ("keys", "rotate", "--as", "dave", "--password-stdin"),
            PASSWORDS["dave"] + "\n",
            "key holder",
        ),
        (("user", "revoke", "nobody"), None, "no user named"),
        (
            ("user", "add", "dave", "--role", "auditor", "--password-stdin"),
            "whatever password\n",
            "already",
        ),
        (
            ("user", "add", "zed", "--role", "auditor", "--password-stdin"),
            "short\n",
            "12 characters",
        ),
        (
            ("reports", "show", "not-an-id", "--as", "carol", "--password-stdin"),
            PASSWORDS["carol"] + "\n",
            "not a report id",
        ),
        (
            ("init", "--admin", "again", "--password-stdin"),
            "another long password\n",
            "already set up",
        ),
    ],
)
def test_refusal_is_one_line_on_stderr_and_changes_nothing_but_the_audit_log(
    staffed: dict[str, str],
    settings: Settings,
    args: tuple[str, ...],
    stdin: str | None,
    message: str,
) -> None:
    before = table_snapshot(settings.database_url, skip=AUDIT_TABLES)
    assert_refused(invoke(staffed, *args, stdin=stdin), message)
    assert table_snapshot(settings.database_url, skip=AUDIT_TABLES) == before
    assert _ok(invoke(staffed, "audit", "verify", "--json")).json()["intact"]


def test_refusals_are_recorded_in_the_audit_log(
    staffed: dict[str, str], settings: Settings
) -> None:
    assert_refused(
        invoke(
            staffed,
            "reports",
            "list",
            "--as",
            "erin",
            "--password-stdin",
            stdin=PASSWORDS["erin"] + "\n",
        ),
        "auditors",
    )
    assert_refused(
        invoke(
            staffed,
            "reports",
            "list",
            "--as",
            "carol",
            "--password-stdin",
            stdin="bad guess here\n",
        ),
        "wrong",
    )
    audit = table_snapshot(settings.database_url)["audit_events"]
    refusals = [row for row in audit if row[3] == "access.refused"]
    assert {(row[2], row[4]) for row in refusals} == {("erin", None), ("unauthenticated", "carol")}


def test_init_writes_the_recovery_key_to_a_new_private_file(
    cli_env: dict[str, str], workdir: Path
) -> None:
    target = workdir / "recovery.txt"
    run = _ok(_init(cli_env, "--recovery-key-out", str(target)))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    recovery_key = target.read_text().strip()
    assert recovery_key.startswith("HRDRK1-")
    assert recovery_key not in run.stdout


def test_init_refuses_to_overwrite_a_file_and_sets_nothing_up(
    cli_env: dict[str, str], workdir: Path
) -> None:
    target = workdir / "existing.txt"
    target.write_text("keep me")
    assert_refused(_init(cli_env, "--recovery-key-out", str(target)), "already exists")
    assert target.read_text() == "keep me"
    _ok(_init(cli_env))


def test_recovery_key_vets_a_coordinator_when_no_key_holder_is_left(
    cli_env: dict[str, str], runtime: Runtime
) -> None:
    init = _ok(_init(cli_env))
    recovery_key = next(
        line.strip() for line in init.stdout.splitlines() if line.strip().startswith("HRDRK1-")
    )
    report = Desk(runtime).submit(report_content("survives lost passwords"))
    _ok(
        invoke(
            cli_env,
            "user",
            "add",
            "carol",
            "--role",
            "coordinator",
            "--password-stdin",
            stdin=PASSWORDS["carol"] + "\n",
        )
    )
    _ok(invoke(cli_env, "user", "vet", "carol", "--recovery-key-stdin", stdin=recovery_key + "\n"))
    listed = _ok(_as(cli_env, "carol", "reports", "list", "--json")).json()
    assert [r["id"] for r in listed["reports"]] == [str(report.report_id)]


def test_json_output_is_one_document_with_stable_keys(
    staffed: dict[str, str], runtime: Runtime
) -> None:
    Desk(runtime).submit(report_content("x"))
    listed = _ok(_as(staffed, "carol", "reports", "list", "--json")).json()
    assert set(listed) == {"reports"}
    assert set(listed["reports"][0]) == {
        "id",
        "received_on",
        "status",
        "priority",
        "assignee",
        "server_sealed",
        "problem",
        "follows_form",
        "incident_types",
    }
    status = _ok(invoke(staffed, "keys", "status", "--json")).json()
    assert set(status) == {"intake_keys", "rotation_in_progress"}
    assert set(status["intake_keys"][0]) == {
        "id",
        "state",
        "suite",
        "created_on",
        "fingerprint",
        "reports",
        "holders",
        "recovery_keys",
    }


def test_argon2_below_rfc9106_is_refused_by_configuration(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "HRD_INSECURE_ARGON2_FOR_TESTS": "false"}
    run = invoke(env, "keys", "status")
    assert run.exit_code == 2
    assert "RFC 9106" in run.stderr
    assert "HRD_:" not in run.stderr


def test_keys_folder_readable_by_others_is_refused(
    staffed: dict[str, str], settings: Settings
) -> None:
    os.chmod(settings.keys_dir, 0o755)
    assert_refused(invoke(staffed, "keys", "status"), "can be read by other users")
    os.chmod(settings.keys_dir, 0o700)
    os.chmod(settings.keys_dir / "pepper.key", 0o644)
    assert_refused(invoke(staffed, "keys", "status"), "chmod 600")


@pytest.mark.parametrize(
    ("env_change", "message"),
    [
        ({"HRD_DATABASE_URL": "not a url"}, "HRD_DATABASE_URL"),
        ({"HRD_DATABASE_URL": "mysql://root@localhost/desk"}, "HRD_DATABASE_URL"),
        ({"HRD_KEYS_DIR": "/proc/no-such-place/keys"}, "keys"),
    ],
)
def test_unusable_configuration_is_one_line_not_a_traceback(
    cli_env: dict[str, str], env_change: dict[str, str], message: str
) -> None:
    assert_refused(invoke({**cli_env, **env_change}, "keys", "status"), message)


def test_keys_folder_that_is_a_file_is_one_line(cli_env: dict[str, str], workdir: Path) -> None:
    (workdir / "not-a-folder").write_text("x")
    env = {**cli_env, "HRD_KEYS_DIR": str(workdir / "not-a-folder")}
    assert_refused(_init(env), "not-a-folder")


def test_password_that_is_not_utf8_is_refused_cleanly(staffed: dict[str, str]) -> None:
    run = invoke(
        staffed, "reports", "list", "--as", "carol", "--password-stdin", stdin=b"\xff\xfe bytes\n"
    )
    assert_refused(run, "UTF-8")


def test_overlong_report_id_is_refused_and_audited_on_every_database(
    staffed: dict[str, str], settings: Settings
) -> None:
    long_id = "x" * 300
    assert_refused(
        invoke(
            staffed,
            "reports",
            "show",
            long_id,
            "--as",
            "erin",
            "--password-stdin",
            stdin=PASSWORDS["erin"] + "\n",
        ),
        "auditors",
    )
    assert _ok(invoke(staffed, "audit", "verify", "--json")).json()["intact"]
