"""Context strings that bind every ciphertext to what it belongs to.

Each AES-GCM additional-data string and each HPKE ``info`` is built here, so a ciphertext made
for one report, purpose or key cannot be replayed as another: a DEK sealed for report A does
not open as report B's, a report body does not open as a message, and so on. The browser builds
the very same strings (see ``tests/testdata/vectors.json``).
"""

from enum import StrEnum
from uuid import UUID

PROTOCOL_VERSION = 1


class Purpose(StrEnum):
    REPORT_BODY = "report-body"
    REPORT_DEK = "report-dek"
    INTAKE_PRIVATE_KEY = "intake-private-key"
    USER_PRIVATE_KEY = "user-private-key"
    LOGIN = "login"
    KEY_BINDING = "key-binding"
    REPORTER_KEY = "reporter-key"
    TOTP_SECRET = "totp-secret"  # noqa: S105 - a context label, not a secret
    SESSION_KEY = "session-private-key"
    REPORT_NOTE = "report-note"
    REPORT_TAGS = "report-tags"
    # The follow-up conversation: the key the reporter's messages are encrypted under (held by
    # the desk under the report's DEK), each message, and each reply's two copies.
    MESSAGE_KEY = "message-key"
    REPORTER_MESSAGE = "reporter-message"
    REPLY = "reply"
    REPLY_DESK_COPY = "reply-desk-copy"
    # Evidence files: each file's own key (from the report's DEK or the message key), its
    # chunks and its record (crypto.attachments).
    ATTACHMENT_KEY = "attachment-key"
    ATTACHMENT_CHUNK = "attachment-chunk"
    ATTACHMENT_RECORD = "attachment-record"
    # A backup file: the server secrets sealed to the recovery key, and the file's MAC key.
    BACKUP_SECRETS = "backup-secrets"
    BACKUP_MAC = "backup-mac"
    # A staff member's e-mail address for notifications (crypto.addresses).
    CONTACT_ADDRESS = "contact-address"
    # A published snapshot of the desk's statistics (crypto.snapshots).
    STATISTICS_SNAPSHOT = "statistics-snapshot"
    # Where a page of the dashboard's report list goes on from (crypto.list_cursor).
    LIST_CURSOR = "list-cursor"


SEPARATOR = "/"


def bind(purpose: Purpose, *subjects: UUID | str) -> bytes:
    """``hrd-reports/1/<purpose>/<subject>[/<subject>...]`` as ASCII bytes; UUIDs in their
    canonical form.

    A subject may not hold the separator: otherwise ("a/b", "c") and ("a", "b/c") would bind
    alike, and a value of one shape could stand in for one of another. Each part is passed on
    its own and joined here, so the binding is unambiguous by construction.
    """
    if not subjects:
        raise ValueError("a binding needs a subject")
    parts = [str(subject) for subject in subjects]
    if any(SEPARATOR in part or not part for part in parts):
        raise ValueError("a binding's subject is empty or holds its separator")
    text = SEPARATOR.join(["hrd-reports", str(PROTOCOL_VERSION), purpose.value, *parts])
    return text.encode("ascii")
