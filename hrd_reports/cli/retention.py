"""``reports purge`` (what the retention policy and the withdrawal grace destroy, with
``--dry-run`` to see what would go and when), ``reports hold`` and ``reports release``.

Registered on the ``reports`` command group; apart from ``cli.reports``, which reads reports.
"""

import datetime as dt
from typing import Any

import typer

from hrd_reports.cli.common import (
    AS_OPTION,
    JSON_OUTPUT,
    PASSWORD_STDIN,
    acting_as,
    cli_command,
    print_json,
    runtime,
)
from hrd_reports.cli.reports import app
from hrd_reports.db import checkpoint_deleted, shred_deleted_reports, unit_of_work
from hrd_reports.services import retention, withdrawal
from hrd_reports.services.clock import utc_today

__all__ = ["app", "hold", "purge", "release"]

REASON = typer.Option(
    ...,
    "--reason",
    help="Why (kept in the audit log, which auditors read: do not quote the report).",
)


def _due_document(entry: retention.Due, today: dt.date) -> dict[str, Any]:
    return {
        "id": str(entry.report_id),
        "status": entry.status.value,
        "since": entry.since.isoformat(),
        "destroy_on": entry.destroy_on.isoformat(),
        "now": entry.destroy_on <= today and not entry.held,
        "legal_hold": entry.held,
    }


@app.command("purge")
@cli_command
def purge(
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help=f"Destroy nothing: list what goes now and in the next {retention.WARNING_DAYS} days.",
    ),
    as_json: bool = JSON_OUTPUT,
) -> None:
    """Destroy what HRD_RETENTION and HRD_WITHDRAWAL_GRACE_DAYS say is due (the server does
    it every hour too). Needs no key: destroying ciphertext does not decrypt it. Audited."""
    with runtime() as rt:
        policy = rt.settings.retention_days
        if dry_run:
            with unit_of_work(rt.read_sessions) as session:
                coming = retention.due(session, policy=policy, within_days=retention.WARNING_DAYS)
            today = utc_today()
            entries = [_due_document(entry, today) for entry in coming]
            if as_json:
                print_json({"policy": {s.value: d for s, d in policy.items()}, "due": entries})
                return
            if not policy:
                typer.echo("no retention policy (HRD_RETENTION is unset): nothing expires")
            for entry in entries:
                when = "now" if entry["now"] else entry["destroy_on"]
                held = " (legal hold: kept)" if entry["legal_hold"] else ""
                typer.echo(f"{entry['id']}  {entry['status']} since {entry['since']}: {when}{held}")
            typer.echo(f"{sum(e['now'] for e in entries)} report(s) would be destroyed now")
            return
        with unit_of_work(rt.sessions) as session:
            withdrawn = withdrawal.purge_withdrawn(
                session,
                grace=dt.timedelta(days=rt.settings.withdrawal_grace_days),
                actor="cli",
                secrets=rt.secrets,
            )
            expired = retention.purge(session, policy=policy, actor="cli", secrets=rt.secrets)
            session.commit()
        checkpoint_deleted(rt.engine)
        if withdrawn or expired:
            shred_deleted_reports(rt.engine)
    if as_json:
        print_json({"withdrawn": withdrawn, "retention": expired})
        return
    typer.echo(
        f"destroyed {len(withdrawn)} withdrawn report(s) and {len(expired)} whose retention "
        "period had ended"
    )


def _set_hold(report_id: str, *, held: bool, reason: str, as_: str, password_stdin: bool) -> None:
    with (
        runtime() as rt,
        acting_as(
            rt,
            name=as_,
            password_stdin=password_stdin,
            attempted="reports.hold" if held else "reports.release",
            subject=report_id,
        ) as (session, keyholder),
    ):
        changed = retention.set_hold(
            session,
            keyholder=keyholder,
            report_id=report_id,
            held=held,
            reason=reason,
            secrets=rt.secrets,
        )
    typer.echo(f"report {changed} {'is on legal hold' if held else 'is released from its hold'}.")


@app.command("hold")
@cli_command
def hold(
    report_id: str = typer.Argument(..., metavar="ID"),
    reason: str = REASON,
    as_: str = AS_OPTION,
    password_stdin: bool = PASSWORD_STDIN,
) -> None:
    """Put a report on legal hold: no retention period destroys it until it is released (a key
    holder only); audited with the reason."""
    _set_hold(report_id, held=True, reason=reason, as_=as_, password_stdin=password_stdin)


@app.command("release")
@cli_command
def release(
    report_id: str = typer.Argument(..., metavar="ID"),
    reason: str = REASON,
    as_: str = AS_OPTION,
    password_stdin: bool = PASSWORD_STDIN,
) -> None:
    """Release a report from its legal hold (a key holder only); audited with the reason."""
    _set_hold(report_id, held=False, reason=reason, as_=as_, password_stdin=password_stdin)
