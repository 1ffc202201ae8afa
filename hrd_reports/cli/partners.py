"""``partner add``, ``partner list`` and ``partner disable``: the organisations cases are
referred to, and their public keys."""

import sys
from dataclasses import asdict
from pathlib import Path

import typer

from hrd_reports.cli.common import JSON_OUTPUT, cli_command, fail, print_json, runtime
from hrd_reports.cli.users import operator
from hrd_reports.crypto.partners import MAX_KEY_BYTES
from hrd_reports.db import unit_of_work
from hrd_reports.services import partners

app = typer.Typer(help="Partner organisations: add, list and disable.", no_args_is_help=True)


def _read_key(key_file: str) -> bytes:
    """The key file's bytes (``-``: standard input), read no further than a key can be."""
    try:
        if key_file == "-":
            return sys.stdin.buffer.read(MAX_KEY_BYTES + 1)
        with Path(key_file).open("rb") as source:
            return source.read(MAX_KEY_BYTES + 1)
    except OSError as exc:
        raise fail(f"cannot read {key_file}: {exc.strerror or exc}", code=2) from None


def _document(view: partners.PartnerView) -> dict[str, object]:
    document = asdict(view)
    document["id"] = str(view.id)
    document["added_on"] = view.added_on.isoformat()
    return document


@app.command("add")
@cli_command
def add(
    name: str,
    key_file: str = typer.Option(
        ...,
        "--key-file",
        help="The partner's public key: an age recipient (age1...) or an OpenPGP certificate, "
        "armoured or binary; - reads it from standard input.",
    ),
    as_json: bool = JSON_OUTPUT,
) -> None:
    """Register a partner; its key is checked first (valid, unexpired, not weak, public)."""
    data = _read_key(key_file)
    with runtime() as rt, unit_of_work(rt.sessions) as session:
        added = partners.add_partner(
            session, name=name, key_data=data, actor=operator(), secrets=rt.secrets
        )
        session.commit()
    if as_json:
        print_json(_document(added))
        return
    typer.echo(f"added partner {added.name} ({added.kind}: {added.algorithm}).")
    typer.echo(f"fingerprint: {added.fingerprint_groups}")
    typer.echo(
        "Compare this fingerprint with the partner by a call or in person, before a case is "
        "referred to them."
    )


@app.command("list")
@cli_command
def list_(as_json: bool = JSON_OUTPUT) -> None:
    """Every partner, with its key's fingerprint; disabled ones last."""
    with runtime() as rt, unit_of_work(rt.read_sessions) as session:
        found = partners.list_partners(session)
    if as_json:
        print_json({"partners": [_document(view) for view in found]})
        return
    if not found:
        typer.echo("no partner yet: hrd-reports partner add NAME --key-file FILE")
    for view in found:
        state = "  (disabled)" if view.disabled else ""
        typer.echo(f"{view.name}{state}")
        typer.echo(f"    {view.kind}: {view.algorithm}; added {view.added_on} by {view.added_by}")
        typer.echo(f"    fingerprint {view.fingerprint_groups}")


@app.command("disable")
@cli_command
def disable(name: str) -> None:
    """No case can be referred to NAME any more; its past referrals still name it."""
    with runtime() as rt, unit_of_work(rt.sessions) as session:
        partner = partners.partner_named(session, name)
        changed = partners.disable_partner(
            session, partner=partner, actor=operator(), secrets=rt.secrets
        )
        session.commit()
        shown = partner.name
    typer.echo(f"{shown} is disabled." if changed else f"{shown} was already disabled.")
