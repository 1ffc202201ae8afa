"""Searching every byte at rest for secrets that must never be there (DESIGN.md invariant 2),
and making sure that every log record of a test lands where the search looks."""

import base64
import logging
import os
import re
import subprocess
import urllib.parse
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url


def _base64_inner(secret: bytes, *, urlsafe: bool) -> Iterator[tuple[str, bytes]]:
    # base64 of the secret at each of the three alignments it can take inside a longer value;
    # groups of four characters that also depend on neighbouring bytes are left out.
    for offset in range(3):
        encoded = base64.b64encode(b"\x00" * offset + secret)
        start = 4 if offset else 0
        end = len(encoded) - (4 if (offset + len(secret)) % 3 else 0)
        inner = encoded[start:end]
        if urlsafe:
            yield f"base64url+{offset}", inner.translate(bytes.maketrans(b"+/", b"-_"))
        else:
            yield f"base64+{offset}", inner


def encodings(secret: bytes) -> Iterator[tuple[str, bytes]]:
    """The forms a leaked secret could take in a file, a log line or a dump."""
    quoted = urllib.parse.quote_from_bytes(secret, safe="").encode("ascii")
    candidates = [
        ("raw", secret),
        ("hex", secret.hex().encode()),
        ("HEX", secret.hex().upper().encode()),
        *_base64_inner(secret, urlsafe=False),
        # Cookies and tokens are URL-safe base64.
        *_base64_inner(secret, urlsafe=True),
        # How Python writes bytes it logs or raises (SQLAlchemy's parameters, a repr()).
        ("bytes-repr", repr(secret)[2:-1].encode("ascii")),
        # A query string or a form body, as an access log or a proxy would keep it.
        ("url-encoded", quoted),
        ("url-encoded-lower", re.sub(rb"%[0-9A-F]{2}", lambda hexed: hexed[0].lower(), quoted)),
        ("url-encoded+", urllib.parse.quote_plus(secret, safe="").encode("ascii")),
    ]
    try:
        text = secret.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        candidates += [
            ("utf-16-le", text.encode("utf-16-le")),
            ("utf-16-be", text.encode("utf-16-be")),
            ("json-escaped", text.encode("ascii", "backslashreplace").replace(b"\\x", b"\\u00")),
        ]
    forms: dict[bytes, str] = {}
    for name, needle in candidates:
        forms.setdefault(needle, name)
    for needle, name in forms.items():
        yield name, needle


def files_under(*roots: Path) -> Iterator[Path]:
    for root in roots:
        for directory, _, names in os.walk(root):
            for name in names:
                yield Path(directory) / name


def postgres_dump(database_url: str) -> bytes:
    url = make_url(database_url)
    return subprocess.run(
        [
            "pg_dump",
            "--no-owner",
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            url.database or "",
        ],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout


def find_leaks(blobs: Iterable[tuple[str, bytes]], secrets: dict[str, bytes]) -> list[str]:
    """``where: what (encoding)`` for every secret found in any blob; empty when clean."""
    needles = [
        (label, encoding, needle)
        for label, secret in secrets.items()
        for encoding, needle in encodings(secret)
        if len(needle) >= 8
    ]
    leaks = []
    for where, blob in blobs:
        for label, encoding, needle in needles:
            if needle in blob:
                leaks.append(f"{where}: {label} ({encoding})")
    return leaks


# The test's own HTTP clients: what they log (a URL with its query string) is what the
# browser of the person who asked keeps, never the server; it is left out of the file.
CLIENT_LOGGERS = ("httpx", "httpcore")  # httpx2 too, under TestClient


class _NotTheClients(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(CLIENT_LOGGERS)


_bound_values = logging.getLogger("tests.atrest.bound_values")


def _log_bound_values(*execution: Any) -> None:
    # (connection, cursor, statement, parameters, context, executemany)
    _bound_values.debug("%s %r", execution[2], execution[3])


@contextmanager
def every_log_record_in(path: Path) -> Iterator[None]:
    """Every record that any logger of this process emits, down to DEBUG, appended to ``path``.

    A record that never reaches a file cannot be searched: a leak into a logger that a library
    quietened (SQLAlchemy sets its own to WARNING), that does not propagate (``serve`` gives
    ``hrd_reports`` a handler of its own and no propagation), or that a logging configuration
    disabled, would go unseen here while a deployment that logs more would write it to disk.
    So for the duration every logger propagates at DEBUG to the root, where the file is; all
    is put back afterwards.

    The values bound to every statement are written too, by a listener on every engine: the
    application's engines hide them from SQLAlchemy's own log and errors (``hide_parameters``),
    and plaintext handed to the database in the clear, even only in a WHERE clause, would
    otherwise go unseen.
    """
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.addFilter(_NotTheClients())
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    loggers = [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.level, logger.propagate, logger.disabled) for logger in loggers]
    root_level, disabled_below = root.level, logging.root.manager.disable
    logging.disable(logging.NOTSET)
    root.setLevel(logging.DEBUG)
    for logger in loggers:
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
        logger.disabled = False
    root.addHandler(handler)
    event.listen(Engine, "before_cursor_execute", _log_bound_values)
    try:
        yield
    finally:
        event.remove(Engine, "before_cursor_execute", _log_bound_values)
        root.removeHandler(handler)
        handler.close()
        for logger, level, propagate, disabled in saved:
            logger.setLevel(level)
            logger.propagate = propagate
            logger.disabled = disabled
        root.setLevel(root_level)
        logging.disable(disabled_below)
