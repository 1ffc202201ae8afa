"""What makes a backup file safe to keep anywhere: sealed secrets, a MAC and a digest.

A backup holds every row of the database (already ciphertext where it matters) and the
server secrets of ``keys/``. Those secrets, with a MAC key drawn for this one backup, are
HPKE-sealed (X-Wing) to the desk's offline recovery key: without that key a backup gives
nothing away, and its pepper cannot be used to guess passwords offline.

The file ends with two values over every byte before them:

- an HMAC-SHA256 under the sealed MAC key: with the recovery key, ``backup verify`` proves
  that no byte changed since the file was sealed (authenticity needs a key);
- a SHA-256 over everything before it, the HMAC included: without any key, it proves that
  no byte was flipped or cut off by accident (a disk, a copy, a transfer). Whoever rewrites
  the file can also recompute it, so it proves nothing against a forger.

This is not a signature: the recovery public key is stored in the database and need not be
secret, so someone who has it could write a whole made-up backup with a MAC key of their
own. What a keyed check rules out is a change to a backup the desk wrote; where a backup
came from is for the operator to keep sure of (the desk writes them in a 0700 folder, and
``backup create`` prints the backup's id, which ``verify`` and ``restore`` print back).
"""

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from uuid import UUID

from hrd_reports.crypto.contexts import Purpose, bind
from hrd_reports.crypto.errors import DecryptionFailed, InvalidKeyMaterial
from hrd_reports.crypto.xwing import PrivateKey, PublicKey, Sealed

MAC_KEY_SIZE = 32
MAC_SIZE = 32
DIGEST_SIZE = 32
TRAILER_SIZE = MAC_SIZE + DIGEST_SIZE


@dataclass(frozen=True)
class BackupSecrets:
    """What a backup keeps sealed: its MAC key and the files of ``keys/`` by name."""

    mac_key: bytes
    key_files: dict[str, bytes]

    def __repr__(self) -> str:
        return f"BackupSecrets(files={sorted(self.key_files)!r})"


def new_backup_secrets(key_files: dict[str, bytes]) -> BackupSecrets:
    return BackupSecrets(mac_key=secrets.token_bytes(MAC_KEY_SIZE), key_files=dict(key_files))


def _secrets_info(backup_id: UUID) -> bytes:
    # Bound to the backup's id: the sealed secrets of one backup cannot be spliced into
    # another backup's header and pass for its own.
    return bind(Purpose.BACKUP_SECRETS, backup_id)


def seal_backup_secrets(
    value: BackupSecrets, *, backup_id: UUID, recovery_key: PublicKey
) -> Sealed:
    document = {
        "mac_key": value.mac_key.hex(),
        "key_files": {name: data.hex() for name, data in sorted(value.key_files.items())},
    }
    plaintext = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")
    return recovery_key.seal(plaintext, info=_secrets_info(backup_id))


def open_backup_secrets(
    sealed: Sealed, *, backup_id: UUID, recovery_key: PrivateKey
) -> BackupSecrets:
    plaintext = recovery_key.open(sealed, info=_secrets_info(backup_id))
    try:
        document = json.loads(plaintext)
        mac_key = bytes.fromhex(document["mac_key"])
        key_files = {str(name): bytes.fromhex(data) for name, data in document["key_files"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidKeyMaterial("the backup's sealed secrets are malformed") from exc
    if len(mac_key) != MAC_KEY_SIZE:
        raise InvalidKeyMaterial("the backup's sealed secrets are malformed")
    return BackupSecrets(mac_key=mac_key, key_files=key_files)


class FileDigest:
    """SHA-256 (and, once the MAC key is known, HMAC-SHA256) over a file's bytes as they pass.

    The HMAC's key is bound to the backup's id, so a MAC key is good for its own file only.
    """

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._mac: hmac.HMAC | None = None
        self._pending: list[bytes] = []

    def start_mac(self, mac_key: bytes, *, backup_id: UUID) -> None:
        key = hmac.new(mac_key, bind(Purpose.BACKUP_MAC, backup_id), hashlib.sha256).digest()
        self._mac = hmac.new(key, digestmod=hashlib.sha256)
        # The bytes read before the key was known (the header that names it).
        for data in self._pending:
            self._mac.update(data)
        self._pending.clear()

    def update(self, data: bytes, *, keep_for_mac: bool = False) -> None:
        self._sha.update(data)
        if self._mac is not None:
            self._mac.update(data)
        elif keep_for_mac:
            self._pending.append(bytes(data))

    def trailer(self) -> bytes:
        """``HMAC || SHA-256(everything before || HMAC)``, to end a file being written."""
        if self._mac is None:
            raise ValueError("a backup's MAC key was never set")
        mac = self._mac.digest()
        self._sha.update(mac)
        return mac + self._sha.digest()

    def check_trailer(self, trailer: bytes) -> bool:
        """Check the trailer of a file being read; the HMAC too when the MAC key was given.

        Returns whether the HMAC was checked. Raises DecryptionFailed if either differs.
        """
        if len(trailer) != TRAILER_SIZE:
            raise DecryptionFailed("the backup is cut short: its trailer is missing")
        mac, digest = trailer[:MAC_SIZE], trailer[MAC_SIZE:]
        self._sha.update(mac)
        if not hmac.compare_digest(self._sha.digest(), digest):
            raise DecryptionFailed("the backup is damaged: its SHA-256 does not match")
        if self._mac is None:
            return False
        if not hmac.compare_digest(self._mac.digest(), mac):
            raise DecryptionFailed("the backup was altered: its MAC does not match")
        return True
