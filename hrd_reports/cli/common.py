"""What every command shares: settings, passwords from a prompt or stdin, errors, output."""

import contextlib
import functools
import getpass
import ipaddress
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from hrd_reports import received
from hrd_reports.crypto.errors import CryptoError
from hrd_reports.db import DatabaseBusy, unit_of_work
from hrd_reports.services import audit, credentials, users
from hrd_reports.services.errors import AuthenticationFailed, Forbidden, ServiceError
from hrd_reports.settings import Settings
from hrd_reports.wiring import Runtime, StartupError, build_runtime

P = ParamSpec("P")
R = TypeVar("R")

AS_OPTION = typer.Option(..., "--as", help="The person acting; their password unlocks their keys.")
PASSWORD_STDIN = typer.Option(
    False, "--password-stdin", help="Read the password from the first line of standard input."
)
JSON_OUTPUT = typer.Option(False, "--json", help="Print one JSON document on standard output.")
# Where ``serve`` listens unless told otherwise.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# Printed with a link when HRD_PUBLIC_URL is unset and the command had to choose the address.
PUBLIC_URL_HINT = (
    "If people reach the desk at another address (through a TLS proxy or an onion service), "
    "set HRD_PUBLIC_URL to it, e.g. HRD_PUBLIC_URL=https://desk.example.org, for the server "
    "and every command."
)


def listening_origin(host: str, port: int) -> str:
    """``http://host:port`` where ``serve --host HOST --port PORT`` is reached from this
    machine: an address that listens on every interface is reached at the loopback one."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 - compared, not bound
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(shown).version == 6:
            shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def fail(message: str, *, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def cli_command(func: Callable[P, R]) -> Callable[P, R]:
    """Turn every refusal into one line on stderr and a non-zero exit, never a traceback.

    Messages come from services and the crypto package, which never put a secret in them.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (ServiceError, StartupError) as exc:
            raise fail(exc.message if isinstance(exc, ServiceError) else str(exc)) from None
        except CryptoError as exc:
            raise fail(str(exc)) from None
        except ValidationError as exc:
            problems = "; ".join(_configuration_problem(error) for error in exc.errors())
            raise fail(f"configuration: {problems}", code=2) from None
        except DatabaseBusy as exc:
            raise fail(str(exc)) from None
        except IntegrityError:
            raise fail(
                "someone changed the same records at the same moment; run it again"
            ) from None
        except DBAPIError as exc:
            # The driver's first line says what failed; the rest is SQL and parameters.
            lines = str(exc.orig).strip().splitlines()
            raise fail(
                f"the database refused: {lines[0] if lines else type(exc.orig).__name__}"
            ) from None

    return wrapper


def _configuration_problem(error: ErrorDetails) -> str:
    message = error["msg"].removeprefix("Value error, ")
    if not error["loc"]:
        return message  # a rule across several variables names them itself
    return f"HRD_{'_'.join(str(part) for part in error['loc']).upper()}: {message}"


@contextmanager
def runtime() -> Iterator[Runtime]:
    rt = build_runtime(Settings())
    try:
        yield rt
    finally:
        rt.close()


def read_password(*, name: str, from_stdin: bool, confirm: bool = False) -> str:
    if from_stdin:
        try:
            line = sys.stdin.readline()
        except UnicodeDecodeError:
            raise fail("the password is not valid UTF-8 text") from None
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            raise fail("no password on the first line of standard input")
    else:
        password = getpass.getpass(f"Password for {name}: ")
        if confirm and getpass.getpass(f"Repeat the password for {name}: ") != password:
            raise fail("the two passwords differ")
    try:
        # Under a C locale, bytes that are not UTF-8 arrive as lone surrogates instead.
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise fail("the password is not valid UTF-8 text") from None
    return password


def unlock(rt: Runtime, session: Session, *, name: str, password: str) -> credentials.UnlockedUser:
    """Open a user's key; a failed attempt is audited (in its own transaction) and refused."""
    try:
        return credentials.unlock(session, name=name, password=password, passwords=rt.passwords)
    except AuthenticationFailed as exc:
        known = users.exists(session, name)
        # Release this command's transaction first: SQLite allows one writer at a time.
        session.rollback()
        # The claimed name is the subject, not the actor: whoever typed it is not proven to be
        # them. An unknown name is not written down (it may be a password typed in the wrong place).
        _record_refusal(
            rt,
            actor="unauthenticated",
            attempted="unlock",
            reason=exc.message,
            subject=name if known else None,
        )
        raise


def _record_refusal(
    rt: Runtime, *, actor: str, attempted: str, reason: str, subject: str | None = None
) -> None:
    with unit_of_work(rt.sessions) as session:
        audit.record(
            session,
            audit_secret=rt.secrets.audit,
            actor=actor,
            action="access.refused",
            subject=subject,
            detail={"attempted": attempted, "reason": reason},
        )
        session.commit()


@contextmanager
def refusals_audited(
    rt: Runtime, session: Session, *, actor: str, attempted: str, subject: str | None = None
) -> Iterator[None]:
    """A refusal by role or assignment is recorded, even though the command changes nothing."""
    try:
        yield
    except Forbidden as exc:
        session.rollback()
        _record_refusal(rt, actor=actor, attempted=attempted, reason=exc.message, subject=subject)
        raise


def print_json(document: Any) -> None:
    # Control characters within strings (a report's words) written as JSON escapes, which
    # mean the same characters: the document is unchanged, and nothing in it acts on a terminal.
    text = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True)
    typer.echo(received.visible(text))


@contextmanager
def acting_as(
    rt: Runtime,
    *,
    name: str,
    password_stdin: bool,
    attempted: str,
    subject: str | None = None,
) -> Iterator[tuple[Session, credentials.UnlockedUser]]:
    """A command's one unit of work, done as ``name``: their password read, their key opened
    (a failure audited and refused), a refusal by role or assignment audited; committed when
    the command's work is done, before it shows anything, so that no plaintext is shown
    without its audit entry."""
    password = read_password(name=name, from_stdin=password_stdin)
    with unit_of_work(rt.sessions) as session:
        actor = unlock(rt, session, name=name, password=password)
        with refusals_audited(rt, session, actor=actor.name, attempted=attempted, subject=subject):
            yield session, actor
        session.commit()
