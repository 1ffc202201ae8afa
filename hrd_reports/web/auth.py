"""Who is signed in, what each role may reach, and the form tokens that stop forged requests.

Every dashboard route is named in ``ACCESS`` with the roles that may use it. The check runs
for the whole dashboard router from that table, so a route without an entry is refused to
everyone (and the role x route test, which reads the router, fails).
"""

import asyncio
import contextlib
import datetime as dt
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from hrd_reports.crypto.authenticators import RelyingParty
from hrd_reports.crypto.sessions import SessionToken, csrf_matches, login_form_token
from hrd_reports.db import DatabaseBusy, unit_of_work
from hrd_reports.models import Role
from hrd_reports.services import conversation, sessions, signin
from hrd_reports.services.credentials import UnlockedUser
from hrd_reports.settings import Settings
from hrd_reports.web.middleware import EndedSessions
from hrd_reports.wiring import Runtime

# Where browsers reach the desk over https, its cookies are Secure and carry the __Host-
# prefix (Secure, Path=/, no Domain: no subdomain or plain-http page can set or overwrite
# them). Plain http (a local test, an onion address) cannot carry a Secure cookie, so they go
# without the prefix there. ``cookies_secure`` decides, for every cookie the dashboard sets.
SECURE_PREFIX = "__Host-"
SESSION_COOKIE_PLAIN = "hrd-session"
SESSION_COOKIE_SECURE = SECURE_PREFIX + SESSION_COOKIE_PLAIN
SESSION_COOKIE_NAMES = (SESSION_COOKIE_SECURE, SESSION_COOKIE_PLAIN)
LOGIN_COOKIE_PLAIN = "hrd-sign-in"
# The security key step of a sign-in: the key to the person's key, sealed until the
# security key answers (services.key_sign_in).
KEY_STEP_COOKIE_PLAIN = "hrd-key-step"
CSRF_FIELD = "csrf_token"

ALL_STAFF = frozenset(Role)
READERS = frozenset({Role.ADMIN, Role.COORDINATOR, Role.CASE_WORKER})
KEY_HOLDERS = frozenset({Role.ADMIN, Role.COORDINATOR})
ADMINS = frozenset({Role.ADMIN})
AUDIT = frozenset({Role.ADMIN, Role.AUDITOR})
# Published statistics snapshots: aggregates, never a report's content or id.
SNAPSHOT_READERS = frozenset({Role.ADMIN, Role.COORDINATOR, Role.AUDITOR})
ANONYMOUS = frozenset[Role]()  # no session needed (sign-in, invitations)

logger = logging.getLogger("hrd_reports.web")

ACCESS: dict[str, frozenset[Role]] = {
    "dashboard_login_form": ANONYMOUS,
    "dashboard_login": ANONYMOUS,
    "dashboard_login_key": ANONYMOUS,
    "dashboard_login_key_enrol": ANONYMOUS,
    "dashboard_invitation_form": ANONYMOUS,
    "dashboard_invitation_accept": ANONYMOUS,
    "dashboard_logout": ALL_STAFF,
    "dashboard_home": ALL_STAFF,
    "dashboard_welcome": ALL_STAFF,
    "dashboard_password": ALL_STAFF,
    "dashboard_language": ALL_STAFF,
    "dashboard_password_change": ALL_STAFF,
    "dashboard_security_key_new": ALL_STAFF,
    "dashboard_security_key_add": ALL_STAFF,
    "dashboard_security_key_remove": ALL_STAFF,
    "dashboard_sessions": ALL_STAFF,
    "dashboard_session_end": ALL_STAFF,
    "dashboard_today": READERS,
    "dashboard_reports": READERS,
    "dashboard_report": READERS,
    "dashboard_report_workflow": READERS,
    "dashboard_report_file": READERS,
    "dashboard_report_file_preview": READERS,
    "dashboard_report_note": READERS,
    "dashboard_report_tags": READERS,
    "dashboard_report_reply": READERS,
    "dashboard_stages": KEY_HOLDERS,
    "dashboard_stage_save": KEY_HOLDERS,
    "dashboard_report_link": READERS,
    "dashboard_report_assign": KEY_HOLDERS,
    "dashboard_report_unassign": KEY_HOLDERS,
    "dashboard_report_destroy": KEY_HOLDERS,
    "dashboard_report_hold": KEY_HOLDERS,
    "dashboard_report_release": KEY_HOLDERS,
    # Plaintext leaves the desk: its key holders only (and the service checks the desk key).
    "dashboard_case_file_confirm": KEY_HOLDERS,
    "dashboard_case_file": KEY_HOLDERS,
    "dashboard_case_file_json_confirm": KEY_HOLDERS,
    "dashboard_case_file_json": KEY_HOLDERS,
    "dashboard_reports_csv_confirm": KEY_HOLDERS,
    "dashboard_reports_csv": KEY_HOLDERS,
    "dashboard_users": ADMINS | {Role.COORDINATOR},
    "dashboard_user_invite": ADMINS,
    "dashboard_user_vet": KEY_HOLDERS,
    "dashboard_user_revoke": ADMINS,
    "dashboard_user_role": ADMINS,
    "dashboard_user_disable": ADMINS,
    "dashboard_audit": AUDIT,
    # Live statistics decrypt, with the reader's own keys, only what the reader may read.
    "dashboard_stats": READERS,
    "dashboard_snapshot_publish": KEY_HOLDERS,
    "dashboard_snapshots": SNAPSHOT_READERS,
    "dashboard_snapshot": SNAPSHOT_READERS,
    "dashboard_snapshot_csv": SNAPSHOT_READERS,
    "dashboard_notifications": READERS,
    "dashboard_notifications_save": READERS,
    "dashboard_notification_status": ADMINS,
    # Referring a case: whoever may read the report and act on it (a key holder, or the case
    # worker it is assigned to, which the service checks by their grant).
    "dashboard_report_refer": READERS,
    "dashboard_partners": ADMINS,
    "dashboard_partner_add": ADMINS,
    "dashboard_partner_disable": ADMINS,
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
    # Its last use is old enough to be written down again (at most once a minute).
    needs_touch: bool = False
    # Reporters' messages nobody has read yet on the reports this person may read, for the
    # navigation (None for someone who reads no reports).
    unread: int | None = None
    # The dashboard language the person chose (None: their browser's).
    language: str | None = None

    @property
    def csrf_token(self) -> str:
        return self.token.csrf_token()


def cookies_secure(request: Request) -> bool:
    """Whether the browser reaches the desk over https: the one decision about cookies.

    True when the request came over https, or HRD_PUBLIC_URL is https (a proxy in front ends
    TLS and passes plain http on). X-Forwarded-Proto is never read: any client can send it.
    """
    settings: Settings = request.app.state.runtime.settings
    return request.url.scheme == "https" or settings.public_url_is_https


def cookie_name(request: Request, plain_name: str) -> str:
    return SECURE_PREFIX + plain_name if cookies_secure(request) else plain_name


def session_cookie_name(request: Request) -> str:
    return cookie_name(request, SESSION_COOKIE_PLAIN)


def login_cookie_name(request: Request) -> str:
    return cookie_name(request, LOGIN_COOKIE_PLAIN)


def set_cookie(
    response: Response, request: Request, plain_name: str, value: str, *, max_age: int | None = None
) -> None:
    """A dashboard cookie: out of scripts' reach (HttpOnly), never sent with another site's
    requests (SameSite=Strict), Secure with the __Host- prefix where ``cookies_secure``."""
    response.set_cookie(
        cookie_name(request, plain_name),
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=cookies_secure(request),
        samesite="strict",
    )


def delete_cookie(response: Response, request: Request, plain_name: str) -> None:
    # With the attributes it was set with: a browser ignores the deletion of a __Host- cookie
    # that is not itself Secure with Path=/, and the cookie would outlive the sign-out.
    response.delete_cookie(
        cookie_name(request, plain_name),
        path="/",
        httponly=True,
        secure=cookies_secure(request),
        samesite="strict",
    )


def login_throttle(settings: Settings) -> signin.Throttle:
    return signin.Throttle(
        max_failures=settings.login_max_failures,
        lockout=dt.timedelta(minutes=settings.login_lockout_minutes),
    )


def relying_party(settings: Settings) -> RelyingParty | None:
    """This desk as security keys know it, or None where it offers none (HRD_PUBLIC_URL
    unset, or an IP address)."""
    if settings.webauthn_origin is None or settings.webauthn_rp_id is None:
        return None
    return RelyingParty(id=settings.webauthn_rp_id, origin=settings.webauthn_origin)


def session_limits(settings: Settings) -> sessions.SessionLimits:
    return sessions.SessionLimits(
        idle=dt.timedelta(minutes=settings.session_idle_minutes),
        absolute=dt.timedelta(hours=settings.session_absolute_hours),
    )


def route_name(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "name", ""))


@dataclass(frozen=True)
class _Presented:
    """What a dashboard request brings, read without any database work."""

    allowed: frozenset[Role]
    token: SessionToken | None
    posted_form_token: str


async def _presented(request: Request) -> _Presented:
    """The route's roles, the session cookie's token and a posted form token.

    On the event loop, and so nothing that waits: a cookie this server never issued fails its
    HMAC here and is sent to the sign-in page without a thread or a database read (a flood of
    made-up cookies froze the whole server when each one waited for SQLite's writer lock on
    the event loop). Reading a posted form is the one thing here that awaits.
    """
    allowed = ACCESS.get(route_name(request))
    if allowed is None:
        raise NotAllowed
    if allowed is ANONYMOUS:
        return _Presented(allowed, None, "")
    cookie = request.cookies.get(session_cookie_name(request))
    runtime: Runtime = request.app.state.runtime
    token = SessionToken.parse(cookie, secret=runtime.secrets.session) if cookie else None
    if token is None:
        raise SignInRequired
    posted = ""
    if request.method not in {"GET", "HEAD"}:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        posted = value if isinstance(value, str) else ""
    return _Presented(allowed, token, posted)


def authorise(
    request: Request,
    background: BackgroundTasks,
    presented: Annotated[_Presented, Depends(_presented)],
) -> SignedIn | None:
    """The router-wide check: session, role, and the form token of a state-changing request.

    Not ``async``: FastAPI runs it in a worker thread, so resuming a session (a database read)
    never holds up the event loop, whatever the database is waiting for.
    """
    if presented.token is None:
        return None
    runtime: Runtime = request.app.state.runtime
    signed_in = _resume(runtime, presented.token)
    if signed_in is None:
        ended: EndedSessions = request.app.state.ended_sessions
        ended.add(presented.token)
        raise SignInRequired
    # Known from here on: a refusal below is recorded as this person's, not as anonymous.
    request.state.signed_in = signed_in
    if signed_in.role not in presented.allowed:
        raise NotAllowed
    if request.method not in {"GET", "HEAD"} and not csrf_matches(
        signed_in.csrf_token, presented.posted_form_token
    ):
        raise FormTokenInvalid
    if signed_in.needs_touch:
        # After the answer: a page is never held up by the write that keeps its session alive.
        background.add_task(_touch, runtime, presented.token)
    return signed_in


def _resume(runtime: Runtime, token: SessionToken) -> SignedIn | None:
    # A read-only unit of work: on SQLite it takes a snapshot and never waits for the writer
    # lock, so signed-in pages are not queued behind intake or anyone's write.
    with unit_of_work(runtime.read_sessions) as session:
        unlocked = sessions.resume(session, token=token, limits=session_limits(runtime.settings))
        if unlocked is None:
            return None
        needs_touch = sessions.needs_touch(session, token=token)
        unread = conversation.unread_total(session, unlocked.user)
    return SignedIn(
        unlocked=unlocked,
        token=token,
        name=unlocked.user.name,
        role=unlocked.user.role,
        needs_touch=needs_touch,
        unread=unread,
        language=unlocked.user.language,
    )


def _touch(runtime: Runtime, token: SessionToken) -> None:
    try:
        with unit_of_work(runtime.sessions) as session:
            sessions.touch(session, token=token)
            session.commit()
    except (DatabaseBusy, OperationalError, PoolTimeout):
        # The next request within the idle time tries again; nothing else depends on it.
        logger.warning("a session's last use could not be recorded: the database is busy")


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


async def signed_in_for_page(request: Request) -> SignedIn | None:
    """Who is signed in, for a dashboard page that no route's check ran for (an address with
    no page, a crash): their name and navigation on it, and nothing decided by it.

    The session is resumed in a worker thread, never on the event loop; a session that does
    not resume (or a database that does not answer) leaves the page without a name.
    """
    known: SignedIn | None = getattr(request.state, "signed_in", None)
    if known is not None:
        return known
    cookie = request.cookies.get(session_cookie_name(request))
    runtime: Runtime = request.app.state.runtime
    token = SessionToken.parse(cookie, secret=runtime.secrets.session) if cookie else None
    if token is None or token in request.app.state.ended_sessions:
        return None
    try:
        return await run_in_threadpool(_resume, runtime, token)
    except Exception:  # noqa: BLE001 - an error page must answer even when the database fails
        logger.warning("the session of an error page could not be resumed")
        return None
