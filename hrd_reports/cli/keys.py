"""``keys status`` and ``keys rotate``."""

import os
import signal
from dataclasses import asdict

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from hrd_reports.cli.common import (
    AS_OPTION,
    JSON_OUTPUT,
    PASSWORD_STDIN,
    cli_command,
    print_json,
    read_password,
    refusals_audited,
    runtime,
    unlock,
)
from hrd_reports.db import unit_of_work
from hrd_reports.services import keyring, reseal, rotation
from hrd_reports.settings import Settings

app = typer.Typer(help="The desk's intake keys: status and rotation.", no_args_is_help=True)


@app.command("status")
@cli_command
def status(as_json: bool = JSON_OUTPUT) -> None:
    """Intake keys, their state, holders and how many reports each still protects."""
    with runtime() as rt, unit_of_work(rt.read_sessions) as session:
        keys = keyring.keyring_status(session)
        running = rotation.open_rotation(session)
        pending = rotation.remaining_reports(session, running) if running else None
    document = {
        "intake_keys": [asdict(key) for key in keys],
        "rotation_in_progress": (
            {"new_key_id": running.to_key_id, "reports_remaining": pending} if running else None
        ),
    }
    if as_json:
        print_json(document)
        return
    for key in keys:
        typer.echo(f"{key.id}  {key.state:<9}  created {key.created_on}  reports {key.reports}")
        typer.echo(f"    fingerprint {key.fingerprint}")
        typer.echo(
            f"    holders: {', '.join(key.holders) or '-'}; recovery keys: {len(key.recovery_keys)}"
        )
    if running:
        typer.echo(
            f"A rotation to {running.to_key_id} is unfinished ({pending} reports left): "
            "run keys rotate again."
        )


def _fault_point(settings: Settings, point: str) -> None:
    """HRD_TEST_FAULT_KILL_ROTATION_AT, which only a test suite's settings admit: prove that
    a rotation killed at this point resumes (DESIGN.md invariant 7).

    The points, in order: ``start-before-commit``, ``after-start``, then for each batch
    ``batch-N-before-commit`` and ``batch-N-after-commit`` (see ``reseal.reseal_all``), then
    ``before-finish``, ``finish-before-commit`` (with ``--retire-old``, the old grants are
    deleted by then, uncommitted) and ``after-finish``.
    """
    if settings.test_fault_kill_rotation_at == point:
        os.kill(os.getpid(), signal.SIGKILL)


@app.command("rotate")
@cli_command
def rotate(
    as_: str = AS_OPTION,
    password_stdin: bool = PASSWORD_STDIN,
    retire_old: bool = typer.Option(
        False, "--retire-old", help="Then destroy the grants of old keys that no report needs."
    ),
) -> None:
    """Make a new intake key and re-seal every report's data key to it (resumable)."""
    with runtime() as rt:
        settings = rt.settings
        password = read_password(name=as_, from_stdin=password_stdin)
        with unit_of_work(rt.sessions) as session:
            holder = unlock(rt, session, name=as_, password=password)
            with refusals_audited(rt, session, actor=holder.name, attempted="keys.rotate"):
                intake_keys = keyring.unlock_intake_keys(
                    session, user=holder.user, private_key=holder.private_key
                )
                start = rotation.start_rotation(
                    session,
                    holder=holder.user,
                    intake_keys=intake_keys,
                    secrets=rt.secrets,
                )
            _fault_point(settings, "start-before-commit")
            session.commit()
        _fault_point(settings, "after-start")
        verb = "Resuming" if start.resumed else "Started"
        typer.echo(f"{verb} rotation to intake key {start.new_key_id}.", err=True)
        progress = Progress(
            TextColumn("re-sealing data keys"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        with progress:
            task = progress.add_task("reseal", total=start.remaining)
            damaged = reseal.reseal_all(
                rt.sessions,
                rotation_id=start.rotation_id,
                intake_keys=intake_keys,
                batch_size=settings.rotation_batch_size,
                secrets=rt.secrets,
                on_batch=lambda result: progress.advance(
                    task, result.resealed + len(result.damaged)
                ),
                checkpoint=lambda point: _fault_point(settings, point),
            )
        _fault_point(settings, "before-finish")
        with unit_of_work(rt.sessions) as session:
            end = rotation.finish_rotation(
                session,
                rotation_id=start.rotation_id,
                actor=holder.name,
                retire_old=retire_old,
                secrets=rt.secrets,
                damaged=damaged,
            )
            _fault_point(settings, "finish-before-commit")
            session.commit()
        _fault_point(settings, "after-finish")
    typer.echo(f"Rotation complete: new intake key {end.new_key_id}.")
    if damaged or end.left_on_old_keys:
        typer.echo(
            f"{end.left_on_old_keys} reports could not be re-sealed (their data key failed its "
            f"integrity check) and stay on their old key: {', '.join(damaged)}",
            err=True,
        )
    if end.destroyed_keys:
        typer.echo(f"Destroyed the grants of old keys: {', '.join(end.destroyed_keys)}.")
    if end.kept_keys:
        typer.echo(f"Kept old keys that reports still need: {', '.join(end.kept_keys)}.")
