"""``user add``, ``user invite``, ``user vet``, ``user revoke``, ``user remove-keys`` and
``user password``."""

import datetime as dt
import getpass
import sys

import typer

from hrd_reports.cli.common import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    PASSWORD_STDIN,
    PUBLIC_URL_HINT,
    cli_command,
    fail,
    listening_origin,
    read_password,
    refusals_audited,
    runtime,
    unlock,
)
from hrd_reports.crypto.recovery import decode_recovery_key
from hrd_reports.db import unit_of_work
from hrd_reports.models import Role, User
from hrd_reports.services import (
    accounts,
    keyring,
    password_change,
    security_keys,
    signin,
    users,
)
from hrd_reports.settings import public_origin

app = typer.Typer(help="People: add, vet and revoke.", no_args_is_help=True)


def operator() -> str:
    """Who ran an unauthenticated administrative command, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except OSError:
        return "cli"


@app.command("invite")
@cli_command
def invite(
    name: str,
    role: Role | None = typer.Option(
        None, "--role", help="For a new person: admin, coordinator, case_worker or auditor."
    ),
    base_url: str | None = typer.Option(
        None,
        "--base-url",
        help="The address people reach the dashboard at; HRD_PUBLIC_URL by default.",
    ),
) -> None:
    """A one-time link: a new person sets a password and enrols a second factor; an existing
    account (made by init or user add) enrols its second factor."""
    origin = None
    if base_url is not None:
        try:
            origin = public_origin(base_url)
        except ValueError as exc:
            raise fail(f"--base-url {exc}", code=2) from None
    with runtime() as rt, unit_of_work(rt.sessions) as session:
        token = accounts.invite(
            session,
            name=name,
            role=role,
            actor=operator(),
            valid_for=dt.timedelta(hours=rt.settings.invitation_hours),
            secrets=rt.secrets,
        )
        session.commit()
        hours = rt.settings.invitation_hours
        # This process cannot know where people reach the server; the setting or the option
        # says it, or the address is a guess, and the command says so.
        origin = origin or rt.settings.public_url
    guessed = origin is None
    if origin is None:
        origin = listening_origin(DEFAULT_HOST, DEFAULT_PORT)
    typer.echo(
        f"Pass this link to {name} through a channel you trust; it works once, for {hours} hours:"
    )
    typer.echo(f"  {origin}/dashboard/invitation/{token}")
    if guessed:
        typer.echo(
            f"note: {origin} in this link is a guess (where `serve` listens by default): this "
            "command cannot know the address people use.",
            err=True,
        )
        typer.echo(PUBLIC_URL_HINT, err=True)


@app.command("add")
@cli_command
def add(
    name: str,
    role: Role = typer.Option(..., "--role", help="admin, coordinator, case_worker or auditor."),
    password_stdin: bool = PASSWORD_STDIN,
) -> None:
    """Add a user with a password of their own; a key holder vets them afterwards."""
    users.check_name(name)
    with runtime() as rt:
        with unit_of_work(rt.sessions) as session:
            if users.exists(session, name):
                raise fail(f"there is already a user named {name!r}")
        password = read_password(name=name, from_stdin=password_stdin, confirm=True)
        with unit_of_work(rt.sessions) as session:
            users.create_user(
                session,
                name=name,
                role=role,
                password=password,
                passwords=rt.passwords,
                secrets=rt.secrets,
                actor=operator(),
            )
            session.commit()
    typer.echo(f"added {name} ({role.value}).")
    if role != Role.AUDITOR:
        typer.echo(f"Next, a key holder vets them: hrd-reports user vet {name} --as KEYHOLDER")


@app.command("vet")
@cli_command
def vet(
    name: str,
    as_: str | None = typer.Option(None, "--as", help="The key holder who vets."),
    password_stdin: bool = PASSWORD_STDIN,
    recovery_key_stdin: bool = typer.Option(
        False,
        "--recovery-key-stdin",
        help="Vet with the desk's recovery key (first line of stdin) when no key holder is left.",
    ),
) -> None:
    """Vet a user; a coordinator or administrator also receives the desk keys."""
    if (as_ is None) == (not recovery_key_stdin):
        raise fail("say who vets: --as KEYHOLDER, or --recovery-key-stdin", code=2)
    with runtime() as rt, unit_of_work(rt.sessions) as session:
        if as_ is not None:
            password = read_password(name=as_, from_stdin=password_stdin)
            holder = unlock(rt, session, name=as_, password=password)
            vetter: User | None = holder.user
            vetted_by = holder.name
            intake_keys = keyring.unlock_intake_keys(
                session, user=holder.user, private_key=holder.private_key
            )
        else:
            recovery = decode_recovery_key(sys.stdin.readline())
            vetter = None
            vetted_by = f"recovery-key:{recovery.key_id}"
            with refusals_audited(rt, session, actor=vetted_by, attempted="user.vet", subject=name):
                intake_keys = keyring.unlock_intake_keys_with_recovery(session, recovery=recovery)
        with refusals_audited(rt, session, actor=vetted_by, attempted="user.vet", subject=name):
            outcome = users.vet_user(
                session,
                name=name,
                vetter=vetter,
                intake_keys=intake_keys,
                vetted_by=vetted_by,
                secrets=rt.secrets,
            )
        session.commit()
    if outcome.already_vetted:
        typer.echo(f"{name} was already vetted; nothing changed.")
    elif outcome.keys_granted:
        typer.echo(f"{name} is vetted and now holds the desk keys ({len(outcome.keys_granted)}).")
    else:
        typer.echo(
            f"{name} is vetted ({outcome.role.value}); reports assigned to them will be readable."
        )


@app.command("revoke")
@cli_command
def revoke(name: str) -> None:
    """Remove a user's vetting and every key they were given."""
    with runtime() as rt, unit_of_work(rt.sessions) as session:
        outcome = users.revoke_user(session, name=name, actor=operator(), secrets=rt.secrets)
        session.commit()
    typer.echo(
        f"{name}: vetting removed; {outcome.desk_keys_removed} desk key grants and "
        f"{outcome.report_keys_removed} report key grants deleted; "
        f"{outcome.reports_unassigned} reports unassigned."
    )
    if outcome.rotation_advised:
        typer.echo(
            "A key rotation is advised, since they could have kept what they could open: "
            "hrd-reports keys rotate --as KEYHOLDER --retire-old"
        )


@app.command("remove-keys")
@cli_command
def remove_keys(name: str) -> None:
    """Remove every security key and passkey of NAME, for a person who lost theirs: they sign
    in with password and their app's code again (and register a new key right after, where
    HRD_REQUIRE_WEBAUTHN_FOR covers them)."""
    with runtime() as rt, unit_of_work(rt.sessions) as session:
        user = users.get_user(session, name)
        removed = security_keys.remove_all(session, user=user, actor=operator(), secrets=rt.secrets)
        session.commit()
    typer.echo(f"{name}: {removed} security key(s) removed.")


@app.command("password")
@cli_command
def password(name: str, password_stdin: bool = PASSWORD_STDIN) -> None:
    """Change NAME's password: the current one, then the new one (twice when typed; with
    --password-stdin, the current on the first line and the new on the second). Every
    dashboard session of NAME ends."""
    current = read_password(name=name, from_stdin=password_stdin)
    if password_stdin:
        new = read_password(name=name, from_stdin=True)
    else:
        new = getpass.getpass(f"New password for {name}: ")
        if getpass.getpass(f"Repeat the new password for {name}: ") != new:
            raise fail("the two new passwords differ")
    with runtime() as rt:
        # The Argon2 work first, in a read-only unit of work (see services.password_change).
        with unit_of_work(rt.read_sessions) as session:
            prepared = password_change.prepare(
                session, name=name, current=current, new=new, passwords=rt.passwords
            )
        with unit_of_work(rt.sessions) as session:
            try:
                password_change.apply(
                    session,
                    prepared=prepared,
                    throttle=signin.Throttle(
                        max_failures=rt.settings.login_max_failures,
                        lockout=dt.timedelta(minutes=rt.settings.login_lockout_minutes),
                    ),
                    secrets=rt.secrets,
                )
            finally:
                # A refusal is counted and audited too: guessing costs the guesser.
                session.commit()
    typer.echo(f"the password of {name} is changed; their dashboard sessions have ended.")
