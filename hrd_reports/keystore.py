"""The server secrets kept in ``keys/``.

These are not report keys (those exist only sealed to people), but they make a copy of the
database alone useless to an attacker, and writing to it alone harmless: the pepper (no
offline password guessing), the lookup secret (no linking a receipt to its report), the audit
secret (no forging the audit chain) and the binding secret (no slipping a public key of one's
own into the key ring).
Files are created 0600 in a 0700 folder, and start-up refuses a folder others can read.
"""

import base64
import os
import re
import secrets
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

SECRET_SIZE = 32
# Lost, these would lock people out or break what is stored: they are made once, then kept.
_SECRET_FILES = ("pepper", "lookup", "audit", "binding")
# Lost, these only void what is in flight (proof-of-work challenges, sign-in forms): made
# whenever missing.
_REPLACEABLE_FILES = ("pow", "session")


class KeystoreError(Exception):
    """The keys folder is unsafe or damaged; the message says how to fix it."""


@dataclass(frozen=True)
class ServerSecrets:
    pepper: bytes
    lookup: bytes
    audit: bytes
    binding: bytes
    pow: bytes
    session: bytes

    def __repr__(self) -> str:
        return "ServerSecrets(<hidden>)"


def _check_private(path: Path, *, expect_dir: bool) -> None:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        raise KeystoreError(f"{path} is a symbolic link; keep server secrets in a real folder")
    if expect_dir != stat.S_ISDIR(info.st_mode):
        raise KeystoreError(f"{path} is not a {'folder' if expect_dir else 'file'}")
    if info.st_uid != os.geteuid():
        raise KeystoreError(f"{path} belongs to another user; it must belong to the server's user")
    if info.st_mode & 0o077:
        wanted = "700" if expect_dir else "600"
        raise KeystoreError(
            f"{path} can be read by other users (mode {stat.S_IMODE(info.st_mode):o}); "
            f"run: chmod {wanted} {path}"
        )


def _write_new_secret(path: Path) -> None:
    value = base64.b64encode(secrets.token_bytes(SECRET_SIZE)) + b"\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, value)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _read_secret(path: Path) -> bytes:
    _check_private(path, expect_dir=False)
    return parse_secret(path.read_bytes(), name=str(path))


def parse_secret(data: bytes, *, name: str) -> bytes:
    """A secret from the text of its file (base64 of 32 bytes)."""
    try:
        value = base64.b64decode(data.strip(), validate=True)
    except ValueError as exc:
        raise KeystoreError(f"{name} is damaged (not base64)") from exc
    if len(value) != SECRET_SIZE:
        raise KeystoreError(f"{name} is damaged ({len(value)} bytes, expected {SECRET_SIZE})")
    return value


def load_or_create(keys_dir: Path, *, may_create: bool) -> ServerSecrets:
    """Read the server secrets; create them only on a desk that has none yet.

    A committed ``keys/`` holds only its README, so a fresh clone's folder may be 0755: the
    first start, before any secret exists, narrows it to 0700. Once a secret exists, a
    folder or file that others can read is refused instead, since it may already be copied.
    Missing secrets on a desk that is set up are refused too: a new pepper would lock every
    user out for good, so the folder must be restored from a backup.
    """
    if may_create:
        keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    paths = {name: keys_dir / f"{name}.key" for name in _SECRET_FILES}
    missing = [path for path in paths.values() if not path.exists()]
    if missing and (not may_create or len(missing) < len(paths)):
        names = ", ".join(path.name for path in missing)
        raise KeystoreError(
            f"{keys_dir} lacks {names}, which this desk needs: restore the folder from a backup "
            "or point HRD_KEYS_DIR at the right one"
        )
    if missing:
        keys_dir.chmod(0o700)
    _check_private(keys_dir, expect_dir=True)
    paths |= {name: keys_dir / f"{name}.key" for name in _REPLACEABLE_FILES}
    for path in paths.values():
        if not path.exists():
            _write_new_secret(path)
    return ServerSecrets(**{name: _read_secret(path) for name, path in paths.items()})


# Names a file of ``keys/`` may have to travel in a backup: no path, nothing hidden.
_KEY_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def read_key_files(keys_dir: Path) -> dict[str, bytes]:
    """Every file of the keys folder by name, for a backup; the folder must be sound."""
    _check_private(keys_dir, expect_dir=True)
    files: dict[str, bytes] = {}
    for path in sorted(keys_dir.iterdir()):
        if not _KEY_FILE_NAME.match(path.name):
            raise KeystoreError(f"{path} has a name a backup cannot carry; move it elsewhere")
        _check_private(path, expect_dir=False)
        files[path.name] = path.read_bytes()
    missing = [name for name in _SECRET_FILES if f"{name}.key" not in files]
    if missing:
        raise KeystoreError(f"{keys_dir} lacks {', '.join(missing)}; it cannot be backed up")
    return files


def is_empty_or_absent(keys_dir: Path) -> bool:
    return not keys_dir.exists() or (keys_dir.is_dir() and not any(keys_dir.iterdir()))


def stage_key_files(keys_dir: Path, files: dict[str, bytes]) -> Path:
    """Write restored key files into a new private folder beside ``keys_dir``.

    ``install_staged`` then moves it into place with one rename, once the database is
    restored: a restore that fails half-way leaves no keys folder that looks whole.
    """
    if any(not _KEY_FILE_NAME.match(name) for name in files) or any(
        f"{name}.key" not in files for name in _SECRET_FILES
    ):
        raise KeystoreError("the backup's key files are incomplete or wrongly named")
    keys_dir.parent.mkdir(parents=True, exist_ok=True)
    staged = keys_dir.parent / f".{keys_dir.name}.restoring-{secrets.token_hex(4)}"
    staged.mkdir(mode=0o700)
    for name, data in files.items():
        descriptor = os.open(staged / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, data)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    return staged


def install_staged(staged: Path, keys_dir: Path) -> None:
    if keys_dir.exists():
        keys_dir.rmdir()  # empty, as the restore checked; refuses otherwise
    staged.rename(keys_dir)


def discard_staged(staged: Path) -> None:
    shutil.rmtree(staged, ignore_errors=True)


SMTP_PASSWORD_FILE = "smtp-password"  # noqa: S105 - the file's name, not its content


def read_smtp_password(keys_dir: Path) -> str | None:
    """The mail server's password from ``keys/smtp-password`` (one line), if the file exists:
    kept with the other server secrets, never on a command line or in the environment of
    every process the server starts. Refused when others can read it, like every secret here.
    """
    path = keys_dir / SMTP_PASSWORD_FILE
    if not path.exists():
        return None
    _check_private(path, expect_dir=False)
    try:
        return path.read_text(encoding="utf-8").strip("\r\n")
    except UnicodeDecodeError as exc:
        raise KeystoreError(f"{path} is not UTF-8 text") from exc
