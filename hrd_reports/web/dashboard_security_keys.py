"""A person's security keys and passkeys, on their account page: adding one (the browser asks
the key: static/js/security-key.js), and removing one.

A key is added in the person's session: its challenge is kept under that session and no
other (services.security_keys.registration_lookup), so a page of another session, or a
forged form, cannot answer it.
"""

import json
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from hrd_reports.crypto.authenticators import MAX_RESPONSE_CHARS
from hrd_reports.models import User, WebAuthnPurpose
from hrd_reports.services import security_keys
from hrd_reports.services.errors import Conflict, NotFound, ServiceError
from hrd_reports.web.auth import CurrentUser, SignedIn, authorise, relying_party
from hrd_reports.web.dashboard_password import account_page
from hrd_reports.web.deps import DbSession, PagesDep, RuntimeDep
from hrd_reports.web.pages import Notice, see_done

router = APIRouter(prefix="/dashboard", dependencies=[Depends(authorise)])


def _user(session: DbSession, me: SignedIn) -> User:
    user = session.get(User, me.unlocked.user.id)
    if user is None:
        raise NotFound(security_keys.TOO_LATE)
    return user


def _refused(request: Request, pages: PagesDep, me: SignedIn, exc: ServiceError) -> HTMLResponse:
    status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
    return account_page(request, pages, me, problem=Notice.of(exc), status=status)


@router.post("/security-keys/new", response_class=HTMLResponse, name="dashboard_security_key_new")
def security_key_new(
    request: Request, runtime: RuntimeDep, session: DbSession, pages: PagesDep, me: CurrentUser
) -> HTMLResponse:
    """The page where the browser creates the key: its options carry a fresh challenge."""
    rp = relying_party(runtime.settings)
    if rp is None:
        return account_page(
            request, pages, me, problem=Notice(security_keys.UNAVAILABLE), status=400
        )
    user = _user(session, me)
    try:
        challenge = security_keys.new_challenge(
            session,
            user=user,
            purpose=WebAuthnPurpose.REGISTER,
            lookup=security_keys.registration_lookup(me.token.lookup),
        )
        options = security_keys.registration_options(session, user=user, rp=rp, challenge=challenge)
    except ServiceError as exc:
        session.rollback()
        return _refused(request, pages, me, exc)
    session.commit()
    return pages.render(
        request,
        "dashboard/security_key_add.html",
        {"me": me, "options": json.dumps(options), "max_name": security_keys.MAX_NAME_LENGTH},
    )


@router.post("/security-keys", name="dashboard_security_key_add")
def security_key_add(
    request: Request,
    runtime: RuntimeDep,
    session: DbSession,
    pages: PagesDep,
    me: CurrentUser,
    name: Annotated[str, Form(max_length=200)] = "",
    credential: Annotated[str, Form(max_length=MAX_RESPONSE_CHARS)] = "",
) -> Response:
    rp = relying_party(runtime.settings)
    if rp is None:
        return account_page(
            request, pages, me, problem=Notice(security_keys.UNAVAILABLE), status=400
        )
    user = _user(session, me)
    kept = security_keys.take_challenge(
        session,
        lookup=security_keys.registration_lookup(me.token.lookup),
        purpose=WebAuthnPurpose.REGISTER,
    )
    try:
        security_keys.register(
            session,
            user=user,
            challenge=kept,
            rp=rp,
            name=name,
            response=credential,
            secrets=runtime.secrets,
        )
    except ServiceError as exc:
        # The spent challenge and the audit entry of a refused key are kept.
        session.commit()
        return _refused(request, pages, me, exc)
    session.commit()
    return see_done(request, "dashboard_password", done="key_added", anchor="security-keys")


@router.post("/security-keys/{key_id}/remove", name="dashboard_security_key_remove")
def security_key_remove(
    key_id: UUID,
    request: Request,
    runtime: RuntimeDep,
    session: DbSession,
    pages: PagesDep,
    me: CurrentUser,
) -> Response:
    try:
        security_keys.remove(
            session,
            user=_user(session, me),
            key_id=key_id,
            policy=runtime.settings.require_webauthn_for,
            secrets=runtime.secrets,
        )
    except ServiceError as exc:
        session.rollback()
        return _refused(request, pages, me, exc)
    session.commit()
    return see_done(request, "dashboard_password", done="key_removed", anchor="security-keys")
