"""Security headers on every response.

Nothing is loaded from another origin (a third-party request would tell that origin who is
reporting, and when); no page may be framed; nothing is cached, so a shared or seized phone
keeps no copy of what was shown.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
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


class SecurityHeadersMiddleware:
    def __init__(
        self, app: ASGIApp, *, onion_location: str | None = None, public_https: bool = False
    ) -> None:
        self.app = app
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
                # is served sandboxed (web.dashboard_files), never under the pages' policy.
                sandboxed = [(k, v) for k, v in own if k.lower() == _POLICY]
                if sandboxed and b"sandbox" in sandboxed[0][1]:
                    headers.extend(sandboxed)
                    headers.extend(
                        h for h in SECURITY_HEADERS if h[0] != b"content-security-policy"
                    )
                else:
                    headers.extend(SECURITY_HEADERS)
                if https:
                    headers.append((b"strict-transport-security", b"max-age=63072000"))
                if self.onion_location is not None:
                    path = scope.get("path", "/").encode("ascii", "ignore")
                    headers.append((b"onion-location", self.onion_location + path))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
