"""One-time links (the setup link, invitations): what the server keeps of their tokens.

A link's token is its only credential; the server keeps its SHA-256 and compares that. The
token has 256 bits of randomness, so a plain hash is enough: there is nothing to guess.
"""

import hashlib
import secrets

TOKEN_BYTES = 32


def new_link_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()
