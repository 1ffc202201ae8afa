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


def bind(purpose: Purpose, subject: UUID | str) -> bytes:
    """``hrd-reports/1/<purpose>/<subject>`` as ASCII bytes; UUIDs in their canonical form."""
    text = f"hrd-reports/{PROTOCOL_VERSION}/{purpose.value}/{subject}"
    return text.encode("ascii")
