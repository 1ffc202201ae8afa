"""``init``, ``serve``, ``status`` and ``audit verify``: setting a desk up, running it,
checking its health and its log."""

import copy
import datetime as dt
import os
from pathlib import Path
from typing import Any

import typer
import uvicorn

from hrd_reports.cli.common import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    JSON_OUTPUT,
    PASSWORD_STDIN,
    PUBLIC_URL_HINT,
    cli_command,
    fail,
    listening_origin,
    print_json,
    read_password,
    runtime,
)
from hrd_reports.db import make_engine, unit_of_work
from hrd_reports.notifier import build_notifier
from hrd_reports.services import audit, desk, health, users
from hrd_reports.services.clock import utc_now
from hrd_reports.settings import Settings


@cli_command
def init(
    admin: str = typer.Option(..., "--admin", help="Name of the first administrator."),
    password_stdin: bool = PASSWORD_STDIN,
    recovery_key_out: Path | None = typer.Option(
        None, "--recovery-key-out", help="Write the recovery key to this new file (mode 0600)."
    ),
) -> None:
    """Set up a desk without a browser: first administrator, recovery key, intake key."""
    with runtime() as rt:
        with unit_of_work(rt.sessions) as session:
            if desk.is_set_up(session):
                raise fail("this desk is already set up")
        users.check_name(admin)
        password = read_password(name=admin, from_stdin=password_stdin, confirm=True)
        users.check_password(name=admin, password=password)
        with unit_of_work(rt.sessions) as session:
            setup = desk.set_up_desk(
                session,
                admin_name=admin,
                admin_password=password,
                passwords=rt.passwords,
                secrets=rt.secrets,
            )
            # The key is written (and synced) before the commit, and removed if the commit
            # fails: a desk must never exist whose recovery key nobody ever saw.
            if recovery_key_out is not None:
                _write_new_private_file(recovery_key_out, setup.recovery_key + "\n")
            try:
                session.commit()
            except BaseException:
                if recovery_key_out is not None:
                    recovery_key_out.unlink(missing_ok=True)
                raise
    typer.echo(f"Desk set up. Administrator: {setup.admin_name} (a key holder).")
    typer.echo(f"Intake key {setup.intake_key_id}, fingerprint {setup.intake_key_fingerprint}")
    if recovery_key_out is not None:
        typer.echo(f"Recovery key {setup.recovery_key_id} written to {recovery_key_out}.")
        typer.echo("Print it, store it offline, then delete the file.")
    else:
        typer.echo(f"Recovery key {setup.recovery_key_id}, shown once, never stored:")
        typer.echo(f"  {setup.recovery_key}")
        typer.echo(
            "Write it down and keep it offline: it opens every report if all key holders are lost."
        )


def _write_new_private_file(path: Path, text: str) -> None:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise fail(f"{path} already exists; choose a new file") from None
    except OSError as exc:
        raise fail(f"cannot create {path}: {exc.strerror}") from None
    try:
        os.write(descriptor, text.encode("ascii"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


GRACEFUL_SHUTDOWN_SECONDS = 10


@cli_command
def serve(
    host: str = typer.Option(DEFAULT_HOST, help="Address to listen on."),
    port: int = typer.Option(DEFAULT_PORT, min=1, max=65535),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes."),
) -> None:
    """Run the server; on a fresh desk, print the one-time setup link first."""
    with runtime() as rt, unit_of_work(rt.sessions) as session:
        # Checked here, in one line: a mail server password missing, or in a file others can
        # read, would otherwise stop every worker with a traceback.
        build_notifier(rt, rt.settings)
        token = None
        if not desk.is_set_up(session):
            token = desk.issue_setup_link(
                session, valid_for=dt.timedelta(hours=rt.settings.setup_link_hours)
            )
            session.commit()
    if token is not None:
        path = f"/setup/{token}"
        typer.echo(
            "This desk is not set up yet. Open this link once, within "
            f"{rt.settings.setup_link_hours} hours, to create the first administrator:"
        )
        typer.echo(f"  {rt.settings.public_link(path) or listening_origin(host, port) + path}")
        if rt.settings.public_url is None:
            typer.echo(PUBLIC_URL_HINT)
    uvicorn.run(
        "hrd_reports.web.app:app_from_environment",
        log_config=_log_config(),
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # Uvicorn's access log writes every client's address: reporters' anonymity forbids it.
        access_log=False,
        # X-Forwarded-* is anyone's to send. Uvicorn would believe it from 127.0.0.1, where a
        # proxy in front sits, but so does every other process of the machine; the desk's
        # public address is HRD_PUBLIC_URL instead, and a client's address is never wanted.
        proxy_headers=False,
        forwarded_allow_ips=[],
        server_header=False,
        date_header=False,
        # On SIGTERM, requests in flight get this long to finish (an acknowledged report is
        # committed before its answer); then the server stops, whatever is still waiting.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


def _log_config() -> dict[str, Any]:
    """Uvicorn's own logging, plus the application's access log (which holds no address)."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["hrd_reports"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    return config


@cli_command
def audit_verify(as_json: bool = typer.Option(False, "--json")) -> None:
    """Recompute the audit log's hash chain; name the first entry that does not fit."""
    with runtime() as rt, unit_of_work(rt.read_sessions) as session:
        verdict = audit.verify(session, audit_secret=rt.secrets.audit)
    if as_json:
        print_json(
            {
                "intact": verdict.intact,
                "entries": verdict.entries,
                "head_digest": verdict.head_digest,
                "problem": verdict.problem,
                "broken_entry": verdict.broken_seq,
            }
        )
    elif verdict.intact:
        typer.echo(f"audit log intact: {verdict.entries} entries, head {verdict.head_digest}")
    if not verdict.intact:
        if not as_json:
            typer.echo(f"audit log BROKEN: {verdict.problem}", err=True)
        raise typer.Exit(1)


@cli_command
def status(as_json: bool = JSON_OUTPUT) -> None:
    """Database, keys folder, last backup, unfinished rotation, disk, storage, audit head.

    Exits 1 when something needs an operator (unreachable or unmigrated database, unsound
    keys folder, failed or stale backup, disk nearly full). Changes nothing.
    """
    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        result = health.check_desk(engine=engine, settings=settings, now=utc_now())
    finally:
        engine.dispose()
    if as_json:
        print_json(
            {
                "sound": result.sound,
                "checks": {
                    check.name: {"level": check.level.value, "detail": check.detail, **check.values}
                    for check in result.checks
                },
            }
        )
    else:
        for check in result.checks:
            marker = {"ok": "ok", "warning": "WARNING", "problem": "PROBLEM"}[check.level.value]
            typer.echo(f"{check.name:<9} {marker:<8} {check.detail}")
    if not result.sound:
        raise typer.Exit(1)
