"""Who is signed in, what each role may reach, and the form tokens that stop forged requests.

Every dashboard route is named in ``ACCESS`` with the roles that may use it. The check runs
for the whole dashboard router from that table, so a route without an entry is refused to
everyone (and the role x route test, which reads the router, fails).
"""

import asyncio
import contextlib
import datetime as dt
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from hrd_reports.crypto.sessions import SessionToken, csrf_matches, login_form_token
from hrd_reports.models import Role
from hrd_reports.services import sessions
from hrd_reports.services.users import UnlockedUser
from hrd_reports.settings import Settings
from hrd_reports.web.deps import DbSession

# On https the cookie gets the __Host- prefix (Secure, Path=/, no Domain: no subdomain or
# plain-http page can set or overwrite it); plain http (a local test, or a proxy that ends
# TLS in front) cannot carry a Secure cookie, so it goes without the prefix there.
SESSION_COOKIE_SECURE = "__Host-hrd-session"
SESSION_COOKIE_PLAIN = "hrd-session"
LOGIN_COOKIE = "hrd-sign-in"
CSRF_FIELD = "csrf_token"

ALL_STAFF = frozenset(Role)
READERS = frozenset({Role.ADMIN, Role.COORDINATOR, Role.CASE_WORKER})
KEY_HOLDERS = frozenset({Role.ADMIN, Role.COORDINATOR})
ADMINS = frozenset({Role.ADMIN})
AUDIT = frozenset({Role.ADMIN, Role.AUDITOR})
STATS = frozenset({Role.ADMIN, Role.COORDINATOR, Role.AUDITOR})
ANONYMOUS = frozenset[Role]()  # no session needed (sign-in, invitations)

ACCESS: dict[str, frozenset[Role]] = {
    "dashboard_login_form": ANONYMOUS,
    "dashboard_login": ANONYMOUS,
    "dashboard_invitation_form": ANONYMOUS,
    "dashboard_invitation_accept": ANONYMOUS,
    "dashboard_logout": ALL_STAFF,
    "dashboard_home": ALL_STAFF,
    "dashboard_reports": READERS,
    "dashboard_report": READERS,
    "dashboard_report_workflow": READERS,
    "dashboard_report_note": READERS,
    "dashboard_report_tags": READERS,
    "dashboard_report_reply": READERS,
    "dashboard_stages": KEY_HOLDERS,
    "dashboard_stage_save": KEY_HOLDERS,
    "dashboard_report_link": READERS,
    "dashboard_report_assign": KEY_HOLDERS,
    "dashboard_report_unassign": KEY_HOLDERS,
    "dashboard_report_destroy": KEY_HOLDERS,
    "dashboard_users": ADMINS | {Role.COORDINATOR},
    "dashboard_user_invite": ADMINS,
    "dashboard_user_vet": KEY_HOLDERS,
    "dashboard_user_revoke": ADMINS,
    "dashboard_user_role": ADMINS,
    "dashboard_user_disable": ADMINS,
    "dashboard_audit": AUDIT,
    "dashboard_stats": STATS,
}


class SignInRequired(Exception):
    """No valid session: the person is sent to the sign-in page."""


class NotAllowed(Exception):
    """Signed in, but this role may not use this route."""


class FormTokenInvalid(Exception):
    """A state-changing request without this session's form token."""


@dataclass(frozen=True)
class SignedIn:
    unlocked: UnlockedUser
    token: SessionToken
    # Copied when the session is resumed: error pages and audit entries still need them after
    # the request's database session is closed.
    name: str
    role: Role

    @property
    def csrf_token(self) -> str:
        return self.token.csrf_token()


def session_cookie_name(request: Request) -> str:
    return SESSION_COOKIE_SECURE if request.url.scheme == "https" else SESSION_COOKIE_PLAIN


def session_limits(settings: Settings) -> sessions.SessionLimits:
    return sessions.SessionLimits(
        idle=dt.timedelta(minutes=settings.session_idle_minutes),
        absolute=dt.timedelta(hours=settings.session_absolute_hours),
    )


def route_name(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "name", ""))


async def _posted_csrf(request: Request) -> str:
    form = await request.form()
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else ""


async def authorise(request: Request, session: DbSession) -> SignedIn | None:
    """The router-wide check: session, role, and the form token of a state-changing request."""
    allowed = ACCESS.get(route_name(request))
    if allowed is None:
        raise NotAllowed
    if allowed is ANONYMOUS:
        return None
    signed_in = _resume(request, session)
    if signed_in is None:
        raise SignInRequired
    if signed_in.role not in allowed:
        raise NotAllowed
    if request.method not in {"GET", "HEAD"} and not csrf_matches(
        signed_in.csrf_token, await _posted_csrf(request)
    ):
        raise FormTokenInvalid
    request.state.signed_in = signed_in
    return signed_in


def _resume(request: Request, session: Session) -> SignedIn | None:
    cookie = request.cookies.get(session_cookie_name(request))
    token = SessionToken.parse(cookie) if cookie else None
    if token is None:
        return None
    runtime = request.app.state.runtime
    unlocked = sessions.resume(session, token=token, limits=session_limits(runtime.settings))
    if unlocked is None:
        return None
    if sessions.needs_touch(session, token=token):
        sessions.touch(session, token=token)
        session.commit()
    return SignedIn(
        unlocked=unlocked, token=token, name=unlocked.user.name, role=unlocked.user.role
    )


async def current(request: Request) -> SignedIn:
    signed_in: SignedIn | None = getattr(request.state, "signed_in", None)
    if signed_in is None:
        raise SignInRequired
    return signed_in


CurrentUser = Annotated[SignedIn, Depends(current)]


def new_login_nonce() -> str:
    return secrets.token_urlsafe(24)


def login_token_for(request: Request, nonce: str) -> str:
    return login_form_token(request.app.state.runtime.secrets.session, nonce)


class Argon2Slots:
    """A bound on Argon2 computations at once, per server process.

    Each computation takes HRD_ARGON2_MEMORY_KIB, so a flood of sign-ins cannot add up to
    more than ``slots`` of them. Waiting for a slot holds no thread: a sign-in that waited in
    a worker thread took one of the threads every other page is served from, and fifty at
    once stalled the whole site, reporters' pages included. At most ``max_waiting`` wait, each
    at most ``wait_seconds``; the rest are told the server is busy.
    """

    def __init__(self, slots: int, *, max_waiting: int = 100, wait_seconds: float = 30.0) -> None:
        self._semaphore = asyncio.Semaphore(slots)
        self._max_waiting = max_waiting
        self._wait = wait_seconds
        self._waiting = 0

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[bool]:
        """A slot for one Argon2 computation (True), or False when too many wait already or
        none came free in time: the caller answers that the server is busy."""
        acquired = False
        if not self._semaphore.locked():
            acquired = await self._semaphore.acquire()  # free now: taken without waiting
        elif self._waiting < self._max_waiting:
            self._waiting += 1
            try:
                acquired = await asyncio.wait_for(self._semaphore.acquire(), self._wait)
            except TimeoutError:
                acquired = False
            finally:
                self._waiting -= 1
        try:
            yield acquired
        finally:
            if acquired:
                self._semaphore.release()
