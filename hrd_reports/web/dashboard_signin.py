"""The dashboard's ways in and out: signing in with a password and a code or a security key,
registering a key where the desk requires one, and signing out.

Thin: each route parses its form, calls a service in a worker thread, commits once and
renders or redirects.
"""

import json
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from hrd_reports.crypto import authenticators
from hrd_reports.crypto.authenticators import MAX_RESPONSE_CHARS, RelyingParty
from hrd_reports.crypto.sessions import SessionToken, csrf_matches
from hrd_reports.db import unit_of_work
from hrd_reports.i18n import N_
from hrd_reports.models import DeviceKind
from hrd_reports.services import key_sign_in, security_keys, sessions, signin, users
from hrd_reports.services.errors import AuthenticationFailed, ServiceError
from hrd_reports.web.auth import (
    KEY_STEP_COOKIE_PLAIN,
    LOGIN_COOKIE_PLAIN,
    SESSION_COOKIE_PLAIN,
    CurrentUser,
    authorise,
    cookie_name,
    delete_cookie,
    login_cookie_name,
    login_throttle,
    login_token_for,
    new_login_nonce,
    relying_party,
    session_limits,
    set_cookie,
)
from hrd_reports.web.deps import DbSession, PagesDep, RuntimeDep
from hrd_reports.web.devices import device_of
from hrd_reports.web.pages import Notice, see_done, see_other_in_language
from hrd_reports.wiring import Runtime

router = APIRouter(prefix="/dashboard", dependencies=[Depends(authorise)])


Text = Annotated[str, Form(max_length=200)]


Password = Annotated[str, Form(max_length=users.MAX_PASSWORD_LENGTH)]


# What the browser sends for a security key: its JSON answer, bounded before it is parsed.
KeyAnswer = Annotated[str, Form(max_length=MAX_RESPONSE_CHARS)]


FormToken = Annotated[str, Form(max_length=128)]


_FORM_EXPIRED = N_("this form has expired; please try again")


_BUSY = N_("many people are signing in at once; please try again in a moment")


# The key step's cookie outlives its challenge a little: an answer that comes late is told so.
_KEY_STEP_SECONDS = int(security_keys.CHALLENGE_LIFETIME.total_seconds()) + 60


def _login_page(
    request: Request,
    pages: PagesDep,
    *,
    name: str = "",
    problem: Notice | None = None,
    status: int = 200,
) -> HTMLResponse:
    nonce = new_login_nonce()
    keys_offered = relying_party(request.app.state.runtime.settings) is not None
    response = pages.render(
        request,
        "dashboard/login.html",
        {
            "name": name,
            "problem": problem,
            "form_token": login_token_for(request, nonce),
            "keys_offered": keys_offered,
        },
        status_code=status,
    )
    set_cookie(response, request, LOGIN_COOKIE_PLAIN, nonce, max_age=1800)
    return response


def _step_refused(request: Request, pages: PagesDep, problem: Notice, status: int) -> HTMLResponse:
    """The sign-in form again, after a key step that is spent whatever its outcome."""
    response = _login_page(request, pages, problem=problem, status=status)
    delete_cookie(response, request, KEY_STEP_COOKIE_PLAIN)
    return response


@router.get("/login", response_class=HTMLResponse, name="dashboard_login_form")
def login_form(request: Request, pages: PagesDep) -> HTMLResponse:
    return _login_page(request, pages)


@router.post("/login", response_class=HTMLResponse, name="dashboard_login")
async def login(
    request: Request,
    runtime: RuntimeDep,
    pages: PagesDep,
    name: Text,
    password: Password,
    form_token: Annotated[str, Form(max_length=64)],
    # Empty where the account signs in with a security key: the next step asks for it.
    code: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    # Sign-in forgery: the form token must match the cookie set with this very form.
    nonce = request.cookies.get(login_cookie_name(request), "")
    if not nonce or not csrf_matches(login_token_for(request, nonce), form_token):
        return _login_page(request, pages, name=name, problem=Notice(_FORM_EXPIRED), status=403)
    rp = relying_party(runtime.settings)
    if rp is not None and not code.strip():
        return await _password_then_key(request, runtime, pages, rp, name.strip(), password)
    # Waiting for an Argon2 slot holds no thread; the check itself (Argon2) runs in one, in a
    # read-only unit of work, and the slot is free again before the write that decides.
    async with request.app.state.argon2_slots.held() as slot:
        if not slot:
            return _login_page(request, pages, name=name, problem=Notice(_BUSY), status=429)
        check = await run_in_threadpool(_check_sign_in, runtime, name.strip(), password, code)
    try:
        opened = await run_in_threadpool(_record_sign_in, runtime, check, device_of(request))
    except AuthenticationFailed as exc:
        return _login_page(request, pages, name=name, problem=Notice.of(exc), status=401)
    if isinstance(opened, _Enrolment):
        return _enrolment_page(request, pages, opened)
    return _signed_in(request, runtime, opened)


async def _password_then_key(
    request: Request, runtime: Runtime, pages: PagesDep, rp: RelyingParty, name: str, password: str
) -> Response:
    """No code typed, on a desk that offers security keys: the password now, then the key."""
    async with request.app.state.argon2_slots.held() as slot:
        if not slot:
            return _login_page(request, pages, name=name, problem=Notice(_BUSY), status=429)
        check = await run_in_threadpool(_check_password, runtime, name, password)
    token = SessionToken.new()
    step = await run_in_threadpool(_record_password, runtime, check, token)
    return _key_step_page(request, pages, rp=rp, token=token, challenge=step.challenge)


def _signed_in(request: Request, runtime: Runtime, token: SessionToken) -> Response:
    response = see_other_in_language(request, "dashboard_home")
    set_cookie(
        response, request, SESSION_COOKIE_PLAIN, token.cookie_value(secret=runtime.secrets.session)
    )
    delete_cookie(response, request, LOGIN_COOKIE_PLAIN)
    delete_cookie(response, request, KEY_STEP_COOKIE_PLAIN)
    return response


def _check_sign_in(
    runtime: Runtime, name: str, password: str, code: str
) -> signin.SignInCheck | AuthenticationFailed:
    with unit_of_work(runtime.read_sessions) as session:
        try:
            return signin.check_sign_in(
                session,
                name=name,
                password=password,
                code=code,
                passwords=runtime.passwords,
                secrets=runtime.secrets,
            )
        except AuthenticationFailed as exc:
            return exc


def _check_password(runtime: Runtime, name: str, password: str) -> signin.SignInCheck:
    with unit_of_work(runtime.read_sessions) as session:
        return key_sign_in.check_password(
            session, name=name, password=password, passwords=runtime.passwords
        )


def _record_password(
    runtime: Runtime, check: signin.SignInCheck, token: SessionToken
) -> key_sign_in.KeyStep:
    with unit_of_work(runtime.sessions) as session:
        step = key_sign_in.record_password(
            session,
            check=check,
            token=token,
            throttle=login_throttle(runtime.settings),
            secrets=runtime.secrets,
        )
        session.commit()
    return step


@dataclass(frozen=True)
class _Enrolment:
    """Password and code were right, and the desk requires a key this person has not got."""

    token: SessionToken
    options: dict[str, object]


def _record_sign_in(
    runtime: Runtime, check: signin.SignInCheck | AuthenticationFailed, device: DeviceKind
) -> SessionToken | _Enrolment:
    """The sign-in decided and, if it succeeds, a session opened (or, where the desk requires
    a key of someone who has none, their key's registration begun): one unit of work."""
    if isinstance(check, AuthenticationFailed):
        raise check
    rp = relying_party(runtime.settings)
    with unit_of_work(runtime.sessions) as session:
        try:
            unlocked = signin.record_sign_in(
                session,
                check=check,
                throttle=login_throttle(runtime.settings),
                secrets=runtime.secrets,
                keys_replace_codes=rp is not None,
            )
        except AuthenticationFailed:
            # The failure count and the audit entry are kept: guessing must cost the guesser.
            session.commit()
            raise
        policy = runtime.settings.require_webauthn_for
        if rp is not None and security_keys.key_required(session, unlocked.user, policy):
            # A key holder with a key was refused a code above: here, they have none yet.
            token = SessionToken.new()
            challenge = key_sign_in.begin_enrolment(session, unlocked=unlocked, token=token)
            options = security_keys.registration_options(
                session, user=unlocked.user, rp=rp, challenge=challenge
            )
            session.commit()
            return _Enrolment(token, options)
        opened = sessions.open_session(
            session, unlocked=unlocked, limits=session_limits(runtime.settings), device=device
        )
        session.commit()
    return opened


def _step_cookie(
    request: Request, runtime: Runtime, response: Response, token: SessionToken
) -> str:
    value = token.cookie_value(secret=runtime.secrets.session)
    set_cookie(response, request, KEY_STEP_COOKIE_PLAIN, value, max_age=_KEY_STEP_SECONDS)
    return value


def _key_step_page(
    request: Request, pages: PagesDep, *, rp: RelyingParty, token: SessionToken, challenge: bytes
) -> HTMLResponse:
    """The same page for every outcome of the password step (see services.key_sign_in)."""
    runtime: Runtime = request.app.state.runtime
    value = token.cookie_value(secret=runtime.secrets.session)
    response = pages.render(
        request,
        "dashboard/security_key_sign_in.html",
        {
            "form_token": login_token_for(request, value),
            "options": json.dumps(authenticators.authentication_options(rp, challenge=challenge)),
        },
    )
    _step_cookie(request, runtime, response, token)
    return response


def _enrolment_page(
    request: Request, pages: PagesDep, enrolment: _Enrolment, *, status: int = 200
) -> HTMLResponse:
    runtime: Runtime = request.app.state.runtime
    value = enrolment.token.cookie_value(secret=runtime.secrets.session)
    response = pages.render(
        request,
        "dashboard/security_key_enrol.html",
        {
            "form_token": login_token_for(request, value),
            "options": json.dumps(enrolment.options),
            "max_name": security_keys.MAX_NAME_LENGTH,
        },
        status_code=status,
    )
    _step_cookie(request, runtime, response, enrolment.token)
    return response


def _step_token(request: Request, runtime: Runtime, form_token: str) -> SessionToken | None:
    """The key step's token, from its cookie, where the form came with it (no forgery)."""
    cookie = request.cookies.get(cookie_name(request, KEY_STEP_COOKIE_PLAIN), "")
    token = SessionToken.parse(cookie, secret=runtime.secrets.session) if cookie else None
    if token is None or not csrf_matches(login_token_for(request, cookie), form_token):
        return None
    return token


@router.post("/login/security-key", response_class=HTMLResponse, name="dashboard_login_key")
async def login_key(
    request: Request,
    runtime: RuntimeDep,
    pages: PagesDep,
    form_token: FormToken = "",
    credential: KeyAnswer = "",
) -> Response:
    token = _step_token(request, runtime, form_token)
    rp = relying_party(runtime.settings)
    if token is None or rp is None:
        return _login_page(request, pages, problem=Notice(_FORM_EXPIRED), status=403)
    try:
        opened = await run_in_threadpool(
            _sign_in_with_key, runtime, rp, token, credential, device_of(request)
        )
    except AuthenticationFailed as exc:
        return _step_refused(request, pages, Notice.of(exc), 401)
    return _signed_in(request, runtime, opened)


def _sign_in_with_key(
    runtime: Runtime, rp: RelyingParty, token: SessionToken, answer: str, device: DeviceKind
) -> SessionToken:
    with unit_of_work(runtime.sessions) as session:
        try:
            unlocked = key_sign_in.sign_in_with_key(
                session,
                token=token,
                response=answer,
                rp=rp,
                throttle=login_throttle(runtime.settings),
                secrets=runtime.secrets,
            )
        except AuthenticationFailed:
            # The spent challenge, the failure count and the audit entry are kept.
            session.commit()
            raise
        opened = sessions.open_session(
            session, unlocked=unlocked, limits=session_limits(runtime.settings), device=device
        )
        session.commit()
    return opened


@router.post(
    "/login/security-key/enrol", response_class=HTMLResponse, name="dashboard_login_key_enrol"
)
async def login_key_enrol(
    request: Request,
    runtime: RuntimeDep,
    pages: PagesDep,
    form_token: FormToken = "",
    name: Annotated[str, Form(max_length=200)] = "",
    credential: KeyAnswer = "",
) -> Response:
    token = _step_token(request, runtime, form_token)
    rp = relying_party(runtime.settings)
    if token is None or rp is None:
        return _login_page(request, pages, problem=Notice(_FORM_EXPIRED), status=403)
    try:
        opened = await run_in_threadpool(
            _enrol_key, runtime, rp, token, name, credential, device_of(request)
        )
    except ServiceError as exc:
        # The challenge is spent: signing in again (with the next code) starts anew.
        return _step_refused(request, pages, Notice.of(exc), 400)
    response = see_done(request, "dashboard_password", done="key_added", anchor="security-keys")
    set_cookie(
        response, request, SESSION_COOKIE_PLAIN, opened.cookie_value(secret=runtime.secrets.session)
    )
    delete_cookie(response, request, LOGIN_COOKIE_PLAIN)
    delete_cookie(response, request, KEY_STEP_COOKIE_PLAIN)
    return response


def _enrol_key(
    runtime: Runtime,
    rp: RelyingParty,
    token: SessionToken,
    name: str,
    answer: str,
    device: DeviceKind,
) -> SessionToken:
    with unit_of_work(runtime.sessions) as session:
        try:
            unlocked = key_sign_in.finish_enrolment(
                session, token=token, name=name, response=answer, rp=rp, secrets=runtime.secrets
            )
        except ServiceError:
            # The spent challenge and the audit entry of a refused key are kept.
            session.commit()
            raise
        opened = sessions.open_session(
            session, unlocked=unlocked, limits=session_limits(runtime.settings), device=device
        )
        session.commit()
    return opened


@router.post("/logout", name="dashboard_logout")
def logout(request: Request, session: DbSession, me: CurrentUser) -> Response:
    sessions.close(session, token=me.token)
    session.commit()
    request.app.state.ended_sessions.add(me.token)
    response = see_other_in_language(request, "dashboard_login_form")
    delete_cookie(response, request, SESSION_COOKIE_PLAIN)
    # The browser forgets this origin's cookies, storage and cached pages.
    response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    return response
