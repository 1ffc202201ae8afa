"""A person's own account in the dashboard ("Your account", at /dashboard/password where the
password page always was): the language of their dashboard, their password, and (the page's
other parts: web.dashboard_security_keys, web.dashboard_sessions) their security keys and
sessions.

The language is a preference, stored and audited. For the password, the Argon2 work
(checking the current password, protecting the key under the new one) runs in a worker
thread, in a read-only unit of work, with an Argon2 slot held as at sign-in; the change is
then decided in one write."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from hrd_reports.db import unit_of_work
from hrd_reports.i18n import N_
from hrd_reports.models import User
from hrd_reports.services import password_change, security_keys, users
from hrd_reports.services.errors import AuthenticationFailed, ServiceError
from hrd_reports.web.auth import (
    CurrentUser,
    SignedIn,
    authorise,
    login_throttle,
    relying_party,
)
from hrd_reports.web.deps import PagesDep, RuntimeDep
from hrd_reports.web.pages import Notice, see_done
from hrd_reports.wiring import Runtime

router = APIRouter(prefix="/dashboard", dependencies=[Depends(authorise)])

Password = Annotated[str, Form(max_length=users.MAX_PASSWORD_LENGTH)]
# A language's code, or "" to follow the browser.
LanguageCode = Annotated[str, Form(max_length=16)]

_BUSY = N_("many people are signing in at once; please try again in a moment")


def account_page(
    request: Request,
    pages: PagesDep,
    me: SignedIn,
    *,
    problem: Notice | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The page "Your account". Reads the database: call it from a worker thread."""
    runtime: Runtime = request.app.state.runtime
    with unit_of_work(runtime.read_sessions) as session:
        user = session.get(User, me.unlocked.user.id)
        keys = security_keys.keys_of(session, user) if user is not None else []
        required = user is not None and security_keys.key_required(
            session, user, runtime.settings.require_webauthn_for
        )
    return pages.render(
        request,
        "dashboard/password.html",
        {
            "me": me,
            "problem": problem,
            "min_length": users.MIN_PASSWORD_LENGTH,
            "keys": keys,
            "keys_offered": relying_party(runtime.settings) is not None,
            "key_required": required,
        },
        status_code=status,
    )


@router.get("/password", response_class=HTMLResponse, name="dashboard_password")
def password_form(request: Request, pages: PagesDep, me: CurrentUser) -> HTMLResponse:
    return account_page(request, pages, me)


def _change(runtime: Runtime, me: SignedIn, current: str, new: str) -> None:
    with unit_of_work(runtime.read_sessions) as session:
        prepared = password_change.prepare(
            session,
            name=me.name,
            current=current,
            new=new,
            passwords=runtime.passwords,
            private_key=me.unlocked.private_key,
        )
    with unit_of_work(runtime.sessions) as session:
        try:
            password_change.apply(
                session,
                prepared=prepared,
                throttle=login_throttle(runtime.settings),
                secrets=runtime.secrets,
                keep=me.token,
            )
        except AuthenticationFailed:
            # The failure count and the audit entry are kept, as at sign-in.
            session.commit()
            raise
        session.commit()


@router.post("/password", name="dashboard_password_change")
async def password_change_submit(
    request: Request,
    runtime: RuntimeDep,
    pages: PagesDep,
    me: CurrentUser,
    current: Password = "",
    new: Password = "",
    new_again: Password = "",
) -> Response:
    if new != new_again:
        differ = Notice(N_("the two new passwords differ"))
        return await run_in_threadpool(account_page, request, pages, me, problem=differ, status=400)
    async with request.app.state.argon2_slots.held() as slot:
        if not slot:
            return await run_in_threadpool(
                account_page, request, pages, me, problem=Notice(_BUSY), status=429
            )
        try:
            await run_in_threadpool(_change, runtime, me, current, new)
        except AuthenticationFailed as exc:
            return await run_in_threadpool(
                account_page, request, pages, me, problem=Notice.of(exc), status=401
            )
        except ServiceError as exc:
            return await run_in_threadpool(
                account_page, request, pages, me, problem=Notice.of(exc), status=400
            )
    return see_done(request, "dashboard_password", done="password")


def _choose_language(runtime: Runtime, me: SignedIn, language: str | None) -> None:
    with unit_of_work(runtime.sessions) as session:
        users.choose_language(session, name=me.name, language=language, secrets=runtime.secrets)
        session.commit()


@router.post("/language", name="dashboard_language")
async def language_submit(
    request: Request,
    runtime: RuntimeDep,
    pages: PagesDep,
    me: CurrentUser,
    language: LanguageCode = "",
) -> Response:
    try:
        await run_in_threadpool(_choose_language, runtime, me, language or None)
    except ServiceError as exc:
        return await run_in_threadpool(
            account_page, request, pages, me, problem=Notice.of(exc), status=400
        )
    # The next page is in the chosen language, not in the one the form was sent from.
    return see_done(
        request, "dashboard_password", done="language", anchor="language", keep_language=False
    )
