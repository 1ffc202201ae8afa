"""``reports list``, ``reports show``, ``reports attachment`` and ``reports assign``: each
decryption is audited;
``reports purge-withdrawn`` destroys what reporters withdrew once the grace period is over, and
``reports destroy`` what a key holder decides to destroy (an abusive or crafted report)."""

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from hrd_reports import received
from hrd_reports.cli.common import (
    AS_OPTION,
    JSON_OUTPUT,
    PASSWORD_STDIN,
    acting_as,
    cli_command,
    print_json,
    runtime,
)
from hrd_reports.db import checkpoint_deleted, unit_of_work
from hrd_reports.services import (
    assignment,
    casework,
    classification,
    evidence,
    listing,
    withdrawal,
)
from hrd_reports.services.errors import ServiceError
from hrd_reports.services.reading import ReportView

app = typer.Typer(
    help="Reports: list, show, assign, destroy, hold, and purge what is due.", no_args_is_help=True
)
# Marks, in ``reports list``, a report that does not follow the form.
OFF_FORM = "[not the form] "


def _document(view: ReportView, *, with_content: bool) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": str(view.id),
        "received_on": view.received_on.isoformat(),
        "status": view.status,
        "priority": view.priority,
        "assignee": view.assignee,
        "server_sealed": view.server_sealed,
        "problem": view.problem,
        # None when the report did not open.
        "follows_form": view.follows_form if view.content is not None else None,
    }
    if with_content:
        document["content"] = view.content
    else:
        document["incident_types"] = (view.content or {}).get("incident_types", [])
    return document


@app.command("list")
@cli_command
def list_(
    as_: str = AS_OPTION, password_stdin: bool = PASSWORD_STDIN, as_json: bool = JSON_OUTPUT
) -> None:
    """Every report this person may read, newest first."""
    with (
        runtime() as rt,
        acting_as(rt, name=as_, password_stdin=password_stdin, attempted="reports.list") as (
            session,
            reader,
        ),
    ):
        # New reports are classified a chunk at a time, each committed, as the dashboard does:
        # reporters' submissions go on meanwhile (services.classification).
        session.commit()
        for _ in classification.classify_new(session, reader=reader, secrets=rt.secrets):
            session.commit()
        # The dashboard's list, as one page of every report.
        listed = listing.list_page(
            session,
            reader=reader,
            filters=listing.ReportFilter(),
            page=1,
            page_size=None,
            secrets=rt.secrets,
        )
    views = sorted(
        (entry.view for entry in listed.entries),
        key=lambda view: view.received_on,
        reverse=True,
    )
    if as_json:
        print_json({"reports": [_document(view, with_content=False) for view in views]})
        return
    for view in views:
        mark = OFF_FORM if view.content is not None and not view.follows_form else ""
        typer.echo(
            f"{view.id}  {view.received_on}  {view.status:<12}  {view.priority or '-':<3}  "
            f"{view.assignee or '-':<16}  {mark}{view.summary()}"
        )
    typer.echo(f"{len(views)} report{'' if len(views) == 1 else 's'}.", err=True)


@app.command("show")
@cli_command
def show(
    report_id: str = typer.Argument(..., metavar="ID"),
    as_: str = AS_OPTION,
    password_stdin: bool = PASSWORD_STDIN,
    as_json: bool = JSON_OUTPUT,
) -> None:
    """One report, decrypted."""
    with (
        runtime() as rt,
        acting_as(
            rt,
            name=as_,
            password_stdin=password_stdin,
            attempted="reports.show",
            subject=report_id,
        ) as (session, reader),
    ):
        # The dashboard's report page; the attempt is audited even when it does not open.
        detail = casework.show(session, reader=reader, report_id=report_id, secrets=rt.secrets)
    view = detail.view
    if view.refusal is not None:
        raise view.refusal
    document = _document(view, with_content=True)
    document["files"] = [_file_document(file) for file in detail.files]
    if as_json:
        print_json({"report": document})
        return
    for key in ("id", "received_on", "status", "priority", "assignee", "server_sealed"):
        typer.echo(f"{key}: {document[key]}")
    for file in document["files"]:
        typer.echo(
            f"file {file['number']}: {file['name'] or '[does not open]'}  {file['type']}  "
            f"{file['size']} bytes  metadata {file['metadata']}  sha256 {file['sha256']}"
        )
    content = view.content or {}
    if view.follows_form:
        typer.echo("content:")
        print_json(content)
        return
    # Escaped already (``received.visible``): nothing in it acts on the terminal.
    problem = content.get(received.SHAPE_PROBLEM)
    typer.echo(f"follows_form: False ({problem})")
    typer.echo("as received:")
    typer.echo(content.get(received.AS_RECEIVED, ""))
    omitted = content.get(received.AS_RECEIVED_OMITTED, 0)
    if omitted:
        typer.echo(f"[{omitted} more characters not shown]")


def _file_document(file: evidence.FileView) -> dict[str, Any]:
    record = file.record
    return {
        "number": file.position,
        "message": str(file.message_id) if file.message_id else None,
        # Escaped (``received.visible``): the name is the reporter's client's.
        "name": file.name if record else None,
        "type": file.media_type,
        "type_as_sent": received.visible(record.media_type) if record else None,
        "size": record.size if record else None,
        "sha256": record.sha256_original if record else None,
        "sha256_sent": record.sha256_sent if record else None,
        "metadata": record.metadata.value if record else None,
    }


def _write_new_file(out: Path, content: Iterator[bytes]) -> int:
    try:
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise ServiceError(f"cannot create {out}: {exc.strerror}") from exc
    written = 0
    try:
        with os.fdopen(descriptor, "wb") as target:
            for piece in content:
                target.write(piece)
                written += len(piece)
    except BaseException:
        # A file that failed to decrypt part way is not left behind looking whole.
        out.unlink(missing_ok=True)
        raise
    return written


@app.command("attachment")
@cli_command
def attachment(
    report_id: str = typer.Argument(..., metavar="ID"),
    number: int = typer.Argument(..., metavar="N", min=1, help="The file's number (reports show)."),
    out: Path = typer.Option(..., "--out", help="Where to write it; must not exist yet."),
    as_: str = AS_OPTION,
    password_stdin: bool = PASSWORD_STDIN,
) -> None:
    """Write one file of a report, decrypted, to a new file readable by you only (audited)."""
    # Refused before anything is decrypted: never overwrite, never follow a link planted there.
    if out.exists() or out.is_symlink():
        raise ServiceError(f"{out} already exists; name a new file")
    with runtime() as rt:
        with acting_as(
            rt,
            name=as_,
            password_stdin=password_stdin,
            attempted="reports.attachment",
            subject=report_id,
        ) as (session, reader):
            opened = evidence.open_file(
                session, reader=reader, report_id=report_id, position=number, secrets=rt.secrets
            )
        # The audit entry is committed: now the file is decrypted, chunk by chunk.
        written = _write_new_file(out, opened.content(rt.read_sessions))
    typer.echo(f"wrote {written} bytes to {out} (sha256 {opened.record.sha256_sent})", err=True)


@app.command("assign")
@cli_command
def assign(
    report_id: str = typer.Argument(..., metavar="ID"),
    to: str = typer.Option(..., "--to", help="The case worker (or coordinator) to assign to."),
    as_: str = AS_OPTION,
    password_stdin: bool = PASSWORD_STDIN,
) -> None:
    """Assign a report; a case worker receives that one report's key."""
    with (
        runtime() as rt,
        acting_as(
            rt,
            name=as_,
            password_stdin=password_stdin,
            attempted="reports.assign",
            subject=report_id,
        ) as (session, keyholder),
    ):
        outcome = assignment.assign_report(
            session,
            keyholder=keyholder,
            report_id=report_id,
            assignee_name=to,
            secrets=rt.secrets,
        )
    previous = f" (was {outcome.previous})" if outcome.previous else ""
    typer.echo(f"report {outcome.report_id} assigned to {outcome.assignee}{previous}.")


@app.command("destroy")
@cli_command
def destroy(
    report_id: str = typer.Argument(..., metavar="ID"),
    reason: str = typer.Option(
        ...,
        "--reason",
        help="Why it is destroyed (kept in the audit log, which auditors read: do not quote "
        "the report).",
    ),
    as_: str = AS_OPTION,
    password_stdin: bool = PASSWORD_STDIN,
) -> None:
    """Destroy a report now, without its reporter (a key holder only); audited, a tombstone
    is kept, and the reporter's receipt then finds nothing, as after a withdrawal."""
    with runtime() as rt:
        with acting_as(
            rt,
            name=as_,
            password_stdin=password_stdin,
            attempted="reports.destroy",
            subject=report_id,
        ) as (session, keyholder):
            destroyed = withdrawal.destroy_by_desk(
                session,
                keyholder=keyholder,
                report_id=report_id,
                reason=reason,
                secrets=rt.secrets,
            )
        checkpoint_deleted(rt.engine)
    typer.echo(f"report {destroyed} destroyed.")


@app.command("purge-withdrawn")
@cli_command
def purge_withdrawn(as_json: bool = JSON_OUTPUT) -> None:
    """Destroy the reports withdrawn longer ago than HRD_WITHDRAWAL_GRACE_DAYS (run daily).

    Needs no key: destroying ciphertext does not decrypt it. Audited.
    """
    with runtime() as rt:
        with unit_of_work(rt.sessions) as session:
            destroyed = withdrawal.purge_withdrawn(
                session,
                grace=dt.timedelta(days=rt.settings.withdrawal_grace_days),
                actor="cli",
                secrets=rt.secrets,
            )
            session.commit()
        checkpoint_deleted(rt.engine)
    if as_json:
        print_json({"destroyed": destroyed})
        return
    typer.echo(f"destroyed {len(destroyed)} withdrawn report(s)")
