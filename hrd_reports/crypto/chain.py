"""The audit log's hash chain.

Each entry's digest is HMAC-SHA256, under the audit secret in ``keys/``, of the previous
digest and the entry's canonical JSON. Editing, deleting or reordering any entry breaks every
digest after it; and without the secret, someone who can write to the database cannot
forge a consistent chain.
"""

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

GENESIS = "0" * 64


def canonical_json(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def chain_digest(audit_secret: bytes, previous: str, record: Mapping[str, Any]) -> str:
    mac = hmac.new(audit_secret, previous.encode("ascii") + b"\n", hashlib.sha256)
    mac.update(canonical_json(record))
    return mac.hexdigest()


def digests_match(expected: str, actual: str) -> bool:
    return hmac.compare_digest(expected.encode("ascii"), actual.encode("ascii"))
