"""``backup create``, ``backup verify`` and ``backup restore``: the whole desk in one file."""

import os
import sys
from pathlib import Path

import typer

from hrd_reports import db
from hrd_reports.backups.create import (
    BackupRefused,
    BackupSummary,
    verify_backup,
    write_backup,
    write_backup_file,
)
from hrd_reports.backups.fileformat import BackupFormatError
from hrd_reports.backups.restore import TargetNotEmpty, restore_backup
from hrd_reports.cli.common import JSON_OUTPUT, cli_command, fail, print_json, runtime
from hrd_reports.crypto.recovery import decode_recovery_key
from hrd_reports.crypto.xwing import PrivateKey
from hrd_reports.keystore import KeystoreError
from hrd_reports.settings import Settings

app = typer.Typer(help="Back up the desk, check a backup, restore one.", no_args_is_help=True)

RECOVERY_KEY_STDIN = typer.Option(
    False,
    "--recovery-key-stdin",
    help="Read the desk's recovery key (HRDRK1-...) from the first line of standard input.",
)


def _read_recovery_key() -> PrivateKey:
    line = sys.stdin.readline().strip()
    if not line:
        raise fail("no recovery key on the first line of standard input")
    return decode_recovery_key(line)


def _backup_file(path: Path) -> Path:
    if not path.is_file():
        raise fail(f"{path} is not a file")
    return path


@cli_command
def create(
    out: Path = typer.Option(..., "--out", help="The new backup file (mode 0600)."),
    as_json: bool = JSON_OUTPUT,
) -> None:
    """Write one file with a consistent snapshot of the database and the keys folder."""
    with runtime() as rt:
        try:
            summary = write_backup_file(
                out,
                lambda stream: write_backup(
                    rt.engine, out=stream, secrets=rt.secrets, keys_dir=rt.settings.keys_dir
                ),
            )
        except (BackupRefused, KeystoreError) as exc:
            raise fail(str(exc)) from None
    _print_created(out, summary, as_json=as_json)


def _print_created(out: Path, summary: BackupSummary, *, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "file": str(out),
                "backup_id": str(summary.backup_id),
                "created_on": summary.created_on,
                "schema_revision": summary.schema_revision,
                "audit_entries": summary.audit_entries,
                "rows": summary.rows,
                "bytes": summary.size,
            }
        )
        return
    typer.echo(f"Backup {summary.backup_id} written to {out} ({summary.size} bytes).")
    typer.echo(
        f"{summary.rows.get('reports', 0)} reports, {summary.rows.get('users', 0)} users, "
        f"{summary.audit_entries} audit entries; keys sealed to the recovery key."
    )


@cli_command
def verify(
    file: Path = typer.Argument(..., help="The backup file."),
    recovery_key_stdin: bool = RECOVERY_KEY_STDIN,
    as_json: bool = JSON_OUTPUT,
) -> None:
    """Check a backup's structure and SHA-256; with the recovery key, its MAC and secrets."""
    recovery_key = _read_recovery_key() if recovery_key_stdin else None
    try:
        with _backup_file(file).open("rb") as stream:
            outcome = verify_backup(stream, recovery_key=recovery_key)
    except BackupFormatError as exc:
        raise fail(f"{file}: {exc}") from None
    if as_json:
        print_json(
            {
                "file": str(file),
                "backup_id": str(outcome.backup_id),
                "created_on": outcome.created_on,
                "schema_revision": outcome.schema_revision,
                "source_backend": outcome.source_backend,
                "audit_entries": outcome.audit_entries,
                "rows": outcome.rows,
                "authenticated": outcome.authenticated,
                "key_files": outcome.key_files,
            }
        )
        return
    typer.echo(
        f"Backup {outcome.backup_id} of {outcome.created_on} is whole: "
        f"{outcome.rows.get('reports', 0)} reports, {outcome.audit_entries} audit entries."
    )
    if outcome.authenticated:
        typer.echo("Its MAC checks and its secrets open with this recovery key.")
    else:
        typer.echo(
            "Checked without a key: this proves it was not damaged by accident, not that "
            "nobody rewrote it. Add --recovery-key-stdin to check its MAC and secrets."
        )


@cli_command
def restore(
    file: Path = typer.Argument(..., help="The backup file."),
    recovery_key_stdin: bool = typer.Option(
        ...,
        "--recovery-key-stdin",
        help="Read the desk's recovery key (HRDRK1-...) from the first line of standard input.",
    ),
    as_json: bool = JSON_OUTPUT,
) -> None:
    """Restore a backup into an empty database and an empty (or absent) keys folder."""
    if not recovery_key_stdin:
        raise fail("a restore needs the recovery key: pass --recovery-key-stdin", code=2)
    recovery_key = _read_recovery_key()
    settings = Settings()
    # Not the usual runtime, which would create a keys folder on an empty target; but as it
    # does, whatever this restore creates (a SQLite file, its journals) is private.
    os.umask(0o077)
    engine = db.make_engine(settings.database_url)
    try:
        outcome = restore_backup(
            engine, path=_backup_file(file), recovery_key=recovery_key, keys_dir=settings.keys_dir
        )
    except TargetNotEmpty as exc:
        raise fail(str(exc), code=2) from None
    except (BackupRefused, BackupFormatError, KeystoreError) as exc:
        raise fail(str(exc)) from None
    finally:
        engine.dispose()
    if as_json:
        print_json(
            {
                "backup_id": str(outcome.backup_id),
                "created_on": outcome.created_on,
                "source_backend": outcome.source_backend,
                "rows": outcome.rows,
                "audit_entries": outcome.audit_entries,
            }
        )
        return
    typer.echo(
        f"Backup {outcome.backup_id} of {outcome.created_on} restored: "
        f"{outcome.rows.get('reports', 0)} reports, {outcome.rows.get('users', 0)} users."
    )
    typer.echo(f"Keys written to {settings.keys_dir}. Run `hrd-reports audit verify` next.")


app.command("create")(create)
app.command("verify")(verify)
app.command("restore")(restore)
