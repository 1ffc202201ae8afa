"""Security headers on every response.

Nothing is loaded from another origin (a third-party request would tell that origin who is
reporting, and when); no page may be framed; nothing is cached, so a shared or seized phone
keeps no copy of what was shown.
"""

import urllib.parse
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_DIRECTIVES = (
    ("default-src", "'none'"),
    ("script-src", "'self'"),
    ("style-src", "'self'"),
    ("img-src", "'self' data:"),
    ("font-src", "'self'"),
    ("connect-src", "'self'"),
    ("worker-src", "'self'"),
    ("form-action", "'self'"),
    ("frame-ancestors", "'none'"),
    ("base-uri", "'none'"),
)

CONTENT_SECURITY_POLICY = "; ".join(f"{name} {value}" for name, value in _DIRECTIVES)

# Every script a reporter page loads (templates/reporter/, error.html), each with its
# Subresource Integrity. tests/unit/web/test_pinned_policy.py holds the templates to this list.
REPORTER_SCRIPTS = (
    "js/reporter.js",
    "vendor/hpke.min.js",
    "js/envelope.js",
    "js/work.js",
    "js/metadata.js",
    "js/attachments.js",
    "js/files.js",
    "js/intake.js",
    "js/inbox.js",
)


def pinned_policy(script_integrities: Iterable[str]) -> str:
    """The reporter pages' policy: the pages' own, with ``script-src`` naming each script by
    its hash instead of allowing every script of the origin.

    A script tag slipped into a reporter page (a template bug, a file left in static/ that
    was never meant to run there, such as a dashboard script) does not run: only the files
    whose hashes are listed do, and only from a tag that carries the same integrity value
    (CSP Level 3 hash sources for external scripts; Chromium, Firefox 116 and Tor Browser 14,
    Safari 15.6). The proof-of-work worker is governed by ``worker-src``, as before.
    """
    hashes = " ".join(f"'{integrity}'" for integrity in script_integrities)
    if not hashes:
        raise ValueError("a pinned policy names at least one script")
    return "; ".join(
        f"{name} {hashes if name == 'script-src' else value}" for name, value in _DIRECTIVES
    )


SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = tuple(
    (name.encode("latin-1"), value.encode("latin-1"))
    for name, value in (
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    )
)


_POLICY = b"content-security-policy"


def transport_headers(
    scope: Scope, https: bool, onion_location: bytes | None
) -> list[tuple[bytes, bytes]]:
    """HSTS when browsers reach the desk over https, and the onion address for this path."""
    headers = []
    if https:
        headers.append((b"strict-transport-security", b"max-age=63072000"))
    if onion_location is not None:
        # The path percent-encoded again: decoded, it may hold a line break or any byte a
        # client sent encoded, and a header carrying one is refused by the server after the
        # answer began (the connection dropped, a traceback logged for each such request).
        path = urllib.parse.quote(scope.get("path", "/"), safe="/").encode("ascii")
        headers.append((b"onion-location", onion_location + path))
    return headers


def answer_headers(
    scope: Scope, *, public_https: bool, onion_location: bytes | None
) -> list[tuple[bytes, bytes]]:
    """What ``SecurityHeadersMiddleware`` gives an answer of its own making that sets none of
    these (one answered outside it, as ``web.intake_path`` answers)."""
    https = public_https or scope.get("scheme") == "https"
    return [*SECURITY_HEADERS, *transport_headers(scope, https, onion_location)]


class SecurityHeadersMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        onion_location: str | None = None,
        public_https: bool = False,
        pinned_policies: Iterable[str] = (),
    ) -> None:
        self.app = app
        # Policies stricter than the default that a response may carry as its own (the
        # reporter pages'); any other policy a response sets is replaced by the default.
        self.pinned = frozenset(policy.encode("latin-1") for policy in pinned_policies)
        # Behind a proxy that ends TLS (HRD_PUBLIC_URL https), browsers reach the desk over
        # https though the desk sees plain http; a browser ignores HSTS sent over plain http.
        self.public_https = public_https
        # Tor Browser offers the onion address to whoever reaches the desk by its clear one.
        self.onion_location = onion_location.encode("ascii") if onion_location else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = self.public_https or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                own = message.get("headers", [])
                headers = [(k, v) for k, v in own if k.lower() not in names]
                # A response with its own, stricter policy keeps it: a decrypted evidence file
                # is served sandboxed (web.dashboard_files), never under the pages' policy;
                # a reporter page names its scripts by their hashes.
                stricter = [(k, v) for k, v in own if k.lower() == _POLICY]
                if stricter and (b"sandbox" in stricter[0][1] or stricter[0][1] in self.pinned):
                    headers.extend(stricter)
                    headers.extend(
                        h for h in SECURITY_HEADERS if h[0] != b"content-security-policy"
                    )
                else:
                    headers.extend(SECURITY_HEADERS)
                headers.extend(transport_headers(scope, https, self.onion_location))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
