"""Searching every byte at rest for secrets that must never be there (DESIGN.md invariant 2)."""

import base64
import os
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy.engine import make_url


def encodings(secret: bytes) -> Iterator[tuple[str, bytes]]:
    """The forms a leaked secret could take in a file or a dump."""
    yield "raw", secret
    yield "hex", secret.hex().encode()
    yield "HEX", secret.hex().upper().encode()
    # base64 of the secret at each of the three alignments it can take inside a longer value;
    # groups of four characters that also depend on neighbouring bytes are left out.
    for offset in range(3):
        encoded = base64.b64encode(b"\x00" * offset + secret)
        start = 4 if offset else 0
        end = len(encoded) - (4 if (offset + len(secret)) % 3 else 0)
        yield f"base64+{offset}", encoded[start:end]
    try:
        text = secret.decode("utf-8")
    except UnicodeDecodeError:
        return
    yield "utf-16-le", text.encode("utf-16-le")
    yield "utf-16-be", text.encode("utf-16-be")
    yield "json-escaped", text.encode("ascii", "backslashreplace").replace(b"\\x", b"\\u00")


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
    leaks = []
    for where, blob in blobs:
        for label, secret in secrets.items():
            for encoding, needle in encodings(secret):
                if len(needle) >= 8 and needle in blob:
                    leaks.append(f"{where}: {label} ({encoding})")
    return leaks
