"""The reporter pages' Content-Security-Policy names every script they may run by its hash.

A script the list forgets would not run on the page (the browser tests would fail); a script
the list keeps after the templates dropped it could still be slipped onto a page. The
templates and the list are held together here, and the middleware keeps the pinned policy
while it replaces any other a response sets.
"""

import base64
import hashlib
import re

import pytest
from starlette.types import Message, Receive, Scope, Send

from hrd_reports.resources import resource_dir
from hrd_reports.web.headers import (
    CONTENT_SECURITY_POLICY,
    REPORTER_SCRIPTS,
    SecurityHeadersMiddleware,
    pinned_policy,
)
from tests.helpers import run_coroutine

TEMPLATES = resource_dir("templates")
STATIC = resource_dir("static")
SCRIPT_TAG = re.compile(r"<script\b[^>]*\bsrc=\"\{\{ static\('([^']+)'\) \}\}\"[^>]*>")


def _scripts_of(names: list[str]) -> set[str]:
    found: set[str] = set()
    for name in names:
        text = (TEMPLATES / name).read_text()
        tags = re.findall(r"<script\b[^>]*>", text)
        scripts = SCRIPT_TAG.findall(text)
        assert len(scripts) == len(tags), f"a script tag of {name} is not a static file"
        found.update(scripts)
    return found


def _reporter_templates() -> list[str]:
    reporter = sorted(f"reporter/{path.name}" for path in (TEMPLATES / "reporter").glob("*.html"))
    return ["base.html", "error.html", *reporter]


def _integrity(path: str) -> str:
    digest = hashlib.sha384((STATIC / path).read_bytes()).digest()
    return "sha384-" + base64.b64encode(digest).decode()


def test_reporter_scripts_are_exactly_the_scripts_of_the_reporter_templates() -> None:
    assert _scripts_of(_reporter_templates()) == set(REPORTER_SCRIPTS)


def test_dashboard_scripts_are_not_pinned_for_reporter_pages() -> None:
    # copy.js and print.js run on staff pages only: a reporter page must not be able to run them.
    staff = [str(p.relative_to(TEMPLATES)) for p in (TEMPLATES / "dashboard").glob("*.html")]
    staff += ["setup_done.html"]
    assert _scripts_of(staff) >= {"js/copy.js", "js/print.js"}
    assert not _scripts_of(staff) & set(REPORTER_SCRIPTS)


def test_pinned_policy_differs_from_the_default_in_script_src_alone() -> None:
    integrities = [_integrity(path) for path in REPORTER_SCRIPTS]
    pinned = dict(d.split(" ", 1) for d in pinned_policy(integrities).split("; "))
    default = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert pinned.pop("script-src") == " ".join(f"'{i}'" for i in integrities)
    assert default.pop("script-src") == "'self'"
    assert pinned == default


def test_pinned_policy_without_scripts_is_refused() -> None:
    # "script-src" with no source would not fall back to anything: refused rather than sent.
    with pytest.raises(ValueError, match="at least one script"):
        pinned_policy([])


def _headers_sent(own_policy: bytes, pinned: list[str]) -> list[tuple[bytes, bytes]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-security-policy", own_policy)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    middleware = SecurityHeadersMiddleware(app, pinned_policies=pinned)
    run_coroutine(middleware({"type": "http", "path": "/"}, receive, send))
    return [h for h in sent[0]["headers"] if h[0] == b"content-security-policy"]


def test_middleware_keeps_a_pinned_policy() -> None:
    pinned = pinned_policy(["sha384-AAAA"])
    assert _headers_sent(pinned.encode(), [pinned]) == [
        (b"content-security-policy", pinned.encode())
    ]


def test_middleware_replaces_any_other_policy_a_response_sets() -> None:
    pinned = pinned_policy(["sha384-AAAA"])
    weaker = b"default-src *; script-src 'unsafe-inline'"
    assert _headers_sent(weaker, [pinned]) == [
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode())
    ]
