"""The reporter's pages: the safety notice, the form, the page that shows the receipt, and
the inbox where the reporter reads the desk's replies.

With JavaScript, the form never posts: ``static/js/intake.js`` encrypts in the browser and
sends only ciphertext to ``/api/v1/reports``. Without it (Tor Browser "Safest"), the form
posts here, and the report is sealed at once, in memory, with the same envelope; the page
said beforehand that this path trusts the server more.
"""

import datetime as dt
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from hrd_reports import content
from hrd_reports.content import ContentError, content_from_form
from hrd_reports.crypto.attachments import CHUNK_SIZE
from hrd_reports.crypto.envelope import new_dek
from hrd_reports.crypto.errors import InvalidReceipt
from hrd_reports.crypto.messages import MAX_MESSAGE_BYTES
from hrd_reports.crypto.receipts import ReceiptKeys, derive_receipt_keys
from hrd_reports.db import checkpoint_deleted, unit_of_work
from hrd_reports.i18n import N_
from hrd_reports.services import attachments, challenges, conversation, intake, withdrawal
from hrd_reports.services.errors import Conflict, NotFound, ServiceError, TooLarge
from hrd_reports.services.sealed_files import ServerSealedFiles
from hrd_reports.settings import Settings
from hrd_reports.web.deps import PagesDep, RuntimeDep
from hrd_reports.web.intake_guard import UNAVAILABLE, IntakeGuard
from hrd_reports.web.labels import STAGE_TEXTS
from hrd_reports.web.middleware import BodyTooLarge
from hrd_reports.web.pages import Notice, choose_locale
from hrd_reports.web.streamed_form import FormTooLarge, StreamedForm, read_form
from hrd_reports.wiring import Runtime

router = APIRouter()

# What a form may hold: generous for a long testimony in Arabic, bounded for everything else.
MAX_FORM_FIELDS = 200
MAX_FIELD_BYTES = 400_000
# A follow-up message at its largest, escaped as a browser encodes a form.
MAX_MESSAGE_FORM_BYTES = 4 * MAX_MESSAGE_BYTES

_RECEIPT_MISTYPED = N_(
    "This is not a receipt: it has 28 digits, and one of them may be mistyped. Check it and try "
    "again."
)
_BUSY = N_("The inbox is busy. Please wait a minute and try again.")
# A form posted with JavaScript on: its page script failed, so the page never warned that
# the server would see what it sends. The server does not read it (see reporter.js).
_SCRIPT_FAILED = N_(
    "Part of this page did not load in your browser, so the server did not read or keep what "
    "the form sent. Please reload the page. If it happens again, your connection may be "
    "altering this site: stop, and use Tor Browser or another connection."
)
# Present only in a form posted by a browser with scripts off (inside <noscript>).
NO_SCRIPT_FIELD = "no_script"
# A report's files, and the reporter's choice to send photos with their metadata.
FILES_FIELD = "files"
KEEP_ORIGINAL_FIELD = "keep_original"
_CONFIRM_WITHDRAW = N_("Tick the box to confirm that you want to withdraw your report.")

CHOICES: dict[str, content.Choices] = {
    "incident_types": content.INCIDENT_TYPES,
    "precisions": content.DATE_PRECISIONS,
    "yes_no": content.YES_NO,
    "governorates": content.GOVERNORATES,
    "place_types": content.PLACE_TYPES,
    "targets": content.TARGETS,
    "sectors": content.SECTORS,
    "genders": content.GENDERS,
    "age_bands": content.AGE_BANDS,
    "perpetrator_types": content.PERPETRATOR_TYPES,
    "identification": content.IDENTIFICATION,
    "needs": content.NEEDS,
    "consent_share": content.CONSENT_SHARE,
}


class ServerSealedLimit:
    """A global bound on reports from browsers without JavaScript, which cannot solve a
    proof of work: a token bucket per server process, never per address."""

    def __init__(self, per_minute: int) -> None:
        self._capacity = float(per_minute)
        self._tokens = float(per_minute)
        self._per_second = per_minute / 60
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            now = time.monotonic()
            elapsed = now - self._updated
            self._tokens = min(self._capacity, self._tokens + elapsed * self._per_second)
            self._updated = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


def _seal_on_server(
    runtime: Runtime,
    report: content.ReportContent,
    form_token: str,
    files: intake.SealedFiles | None,
) -> intake.SealedOnServer | None:
    with unit_of_work(runtime.sessions) as session:
        sealed = intake.submit_server_sealed(
            session, report=report, form_token=form_token, secrets=runtime.secrets, files=files
        )
        session.commit()
        return sealed


def _form_context(
    runtime: Runtime, values: dict[str, list[str]], problems: dict[str, str]
) -> dict[str, Any]:
    # A fresh token with every form: it lets a resubmitted form be recognised (no cookie).
    token = challenges.issue(secrets=runtime.secrets, difficulty=0).token
    return form_page_context(runtime.settings, form_token=token, values=values, problems=problems)


def form_page_context(
    settings: Settings,
    *,
    form_token: str,
    values: dict[str, list[str]],
    problems: dict[str, str],
) -> dict[str, Any]:
    """What the report form shows; its token is the one value that changes per request (the
    published manifest renders the page with an empty one, see web.manifest)."""
    return {
        "choices": CHOICES,
        "values": values,
        "problems": problems,
        "form_token": form_token,
        **_file_limits(settings),
    }


def _file_limits(settings: Settings) -> dict[str, int]:
    """What the forms tell the browser of the desk's limits on files (0 files: no file field)."""
    return {
        "max_file_bytes": settings.attachment_max_bytes,
        "max_files": settings.attachments_per_report,
        "chunk_size": CHUNK_SIZE,
    }


@router.get("/", response_class=HTMLResponse, name="home")
def home(request: Request, pages: PagesDep) -> HTMLResponse:
    return pages.render(request, "reporter/index.html")


# Whatever a reporter's browser kept of this site (cache, storage) is dropped once a report
# is safe: on the page that shows a receipt sealed by the server, and on the page the
# "Finish" button leads to. (Browsers ignore it on the encrypted path's own request, which
# carries no credentials on purpose.)
CLEAR_SITE_DATA = {"Clear-Site-Data": '"cache", "storage"'}


@router.get("/report/done", response_class=HTMLResponse, name="report_done")
def report_done(request: Request, pages: PagesDep) -> HTMLResponse:
    return pages.render(request, "reporter/index.html", headers=CLEAR_SITE_DATA)


@router.get("/report", response_class=HTMLResponse, name="report_form")
def report_form(request: Request, pages: PagesDep, runtime: RuntimeDep) -> HTMLResponse:
    return pages.render(request, "reporter/report.html", _form_context(runtime, {}, {}))


@router.post("/report", response_class=HTMLResponse, name="report_submit")
async def report_submit(  # noqa: PLR0911 - each refusal is its own page
    request: Request, runtime: RuntimeDep, pages: PagesDep
) -> Response:
    # The report's id and key are drawn first: its files are encrypted under them as they
    # arrive, before the words of the report (read first) are sealed at the end.
    report_id, dek = uuid.uuid4(), new_dek()
    limit: ServerSealedLimit = request.app.state.server_sealed_limit
    sink: ServerSealedFiles | None = None

    def refusal(values: dict[str, list[str]], problems: dict[str, str], status: int) -> Response:
        return pages.render(
            request,
            "reporter/report.html",
            _form_context(runtime, values, problems),
            status_code=status,
        )

    async def files_of_this_report(form: StreamedForm) -> ServerSealedFiles:
        # The report's fields come before its files: checked now, before a file is taken in.
        nonlocal sink
        _checked(form.fields, limit)
        sink = ServerSealedFiles(
            runtime.sessions,
            source_key=dek,
            report_id=report_id,
            message_id=None,
            limits=runtime.attachment_limits,
            keep_original=form.fields.get(KEEP_ORIGINAL_FIELD) == ["yes"],
        )
        return sink

    form = StreamedForm()
    sealed = None
    try:
        try:
            await read_form(
                request.headers.get("content-type", ""),
                request.stream(),
                form,
                max_fields=MAX_FORM_FIELDS,
                max_field_bytes=MAX_FIELD_BYTES,
                files_field=FILES_FIELD,
                sink_for_first_file=files_of_this_report,
            )
            if sink is None:
                _checked(form.fields, limit)
            report = content_from_form(form.fields)
        except _NotRead as exc:
            return refusal(exc.values, exc.problems, exc.status)
        except ContentError as exc:
            # The reporter gets their words back to correct them; nothing was kept.
            return refusal(form.fields, exc.fields, 400)
        except ServiceError as exc:
            if isinstance(exc, FormTooLarge) or exc.code is None:
                return refusal({}, {"report": "malformed"}, 400)
            return refusal(form.fields, {"files": exc.code}, _status_of_file_refusal(exc))
        except BodyTooLarge:
            return _too_large(request, pages)
        form_token = (form.fields.get("form_token") or [""])[0]
        sealed = await run_in_threadpool(
            _seal_on_server,
            runtime,
            report,
            form_token,
            _sealed_files(sink, report_id, dek, runtime),
        )
    finally:
        # Files of a report that was refused, failed, or was sent already (Back, then Reload)
        # are not kept until they expire.
        if sealed is None:
            await _discard(sink)
    if sealed is None:
        return pages.render(request, "reporter/already_sent.html", status_code=409)
    return pages.render(
        request,
        "reporter/report_sent.html",
        {"receipt": sealed.receipt},
        headers=CLEAR_SITE_DATA,
    )


def _too_large(request: Request, pages: PagesDep) -> HTMLResponse:
    # More than every file at its largest: not a form a reporter sent.
    notice = Notice(N_("the request is too large"))
    return pages.render(request, "error.html", {"message": notice}, status_code=413)


class _NotRead(Exception):
    """The form is refused before its report is read (and before any of its files)."""

    def __init__(self, values: dict[str, list[str]], problems: dict[str, str], status: int):
        super().__init__(status)
        self.values = values
        self.problems = problems
        self.status = status


def _checked(values: dict[str, list[str]], limit: ServerSealedLimit) -> None:
    if values.get(NO_SCRIPT_FIELD) != ["yes"]:
        # Not read, not echoed back: the words stay in the reporter's browser only.
        raise _NotRead({}, {"report": "script_failed"}, 400)
    try:
        content_from_form(values)
    except ContentError as exc:
        raise _NotRead(values, exc.fields, 400) from exc
    if not limit.allow():
        raise _NotRead(values, {"report": "busy"}, 429)


def _status_of_file_refusal(exc: ServiceError) -> int:
    return 413 if isinstance(exc, TooLarge) else 409 if isinstance(exc, Conflict) else 400


def _sealed_files(
    sink: ServerSealedFiles | None, report_id: uuid.UUID, dek: bytes, runtime: Runtime
) -> intake.SealedFiles | None:
    if sink is None:
        return None
    return intake.SealedFiles(report_id, dek, sink.named(), runtime.attachment_limits)


# ---- the inbox ----------------------------------------------------------------------------
#
# With JavaScript, static/js/inbox.js derives the keys from the receipt in the browser and asks
# /api/v1/inbox; the form never posts. Without it, the form posts here: the receipt reaches the
# server for this one request, the keys are derived, used and dropped with it, and the page
# said so before the receipt was sent.

INBOX_ACTIONS = frozenset({"read", "send", "withdraw"})


def inbox_page_context(settings: Settings) -> dict[str, Any]:
    """What the inbox page shows before a receipt is typed."""
    return {
        "problem": None,
        "problem_field": None,
        "inbox": None,
        "opened": [],
        "withdrawn": False,
        "destroyed": False,
        "sent": False,
        "grace_days": settings.withdrawal_grace_days,
        "stages": STAGE_TEXTS,
        **_file_limits(settings),
    }


def _inbox_page(
    request: Request,
    pages: PagesDep,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    return pages.render(
        request,
        "reporter/inbox.html",
        {**inbox_page_context(request.app.state.runtime.settings), **context},
        status_code=status_code,
        # The page may show the desk's replies: nothing of it is kept, not even by Back.
        headers=CLEAR_SITE_DATA,
    )


class _FormRefused(Exception):
    """``field``: the id of the field the page marks as the cause, if one is."""

    def __init__(self, notice: Notice, status: int, field: str | None = None) -> None:
        super().__init__(notice.template)
        self.notice = notice
        self.status = status
        self.field = field


# The receipt field of each inbox form, by the form's action.
_RECEIPT_FIELD = {"read": "receipt", "send": "message-receipt", "withdraw": "withdraw-receipt"}


def _checked_inbox_form(
    fields: dict[str, str], limit: ServerSealedLimit
) -> tuple[str, ReceiptKeys]:
    """The action and the keys of the posted receipt, or the reason to refuse the form."""
    if fields.get(NO_SCRIPT_FIELD) != "yes":
        raise _FormRefused(Notice(_SCRIPT_FAILED), 400)
    action = fields.get("action", "read")
    if action not in INBOX_ACTIONS:
        raise _FormRefused(Notice(N_("unknown action")), 400)
    try:
        keys = derive_receipt_keys(fields.get("receipt", "")[:200])
    except InvalidReceipt:
        raise _FormRefused(Notice(_RECEIPT_MISTYPED), 400, _RECEIPT_FIELD[action]) from None
    if action == "withdraw" and fields.get("confirm_withdraw") != "yes":
        raise _FormRefused(Notice(_CONFIRM_WITHDRAW), 400, "confirm-withdraw")
    # The same global bound as reports without JavaScript: no proof of work is possible here.
    if not limit.allow():
        raise _FormRefused(Notice(_BUSY), 429)
    return action, keys


@dataclass
class _MessageFiles:
    """A message's id, drawn before its files are encrypted for it, and the files."""

    message_id: uuid.UUID = field(default_factory=uuid.uuid4)
    sink: ServerSealedFiles | None = None


def _act_on_inbox(
    runtime: Runtime,
    action: str,
    keys: ReceiptKeys,
    message: str,
    locale: str,
    files: _MessageFiles,
) -> dict[str, Any]:
    """What a posted inbox form asks, in one unit of work; the page's context."""
    with unit_of_work(runtime.sessions) as session:
        if action == "withdraw":
            destroyed = withdrawal.withdraw(
                session,
                lookup_token=keys.lookup_token,
                grace=dt.timedelta(days=runtime.settings.withdrawal_grace_days),
                secrets=runtime.secrets,
            )
            session.commit()
            checkpoint_deleted(runtime.engine)
            return {"withdrawn": True, "destroyed": destroyed}
        if action == "send":
            posted = conversation.post_message_in_memory(
                session,
                keys=keys,
                text=message,
                secrets=runtime.secrets,
                message_id=files.message_id,
            )
            if files.sink is not None:
                attachments.attach_to_message(
                    session,
                    message=posted,
                    files=files.sink.named(),
                    limits=runtime.attachment_limits,
                )
            session.commit()
        inbox = conversation.open_inbox(
            session, lookup_token=keys.lookup_token, secrets=runtime.secrets, locale=locale
        )
        return {
            "inbox": inbox,
            "opened": conversation.open_in_memory(inbox, keys),
            "sent": action == "send",
        }


@router.get("/inbox", response_class=HTMLResponse, name="inbox")
def inbox_form(request: Request, pages: PagesDep) -> HTMLResponse:
    return _inbox_page(request, pages)


def _refuse_while_disk_low(request: Request, action: str) -> None:
    """A message is a write, which the intake guard refuses while the disk is low (reading the
    inbox, and withdrawing, which frees space, go on)."""
    guard: IntakeGuard = request.app.state.intake_guard
    if action == "send" and guard.disk_low:
        raise _FormRefused(Notice(UNAVAILABLE), 503)


@router.post("/inbox", response_class=HTMLResponse, name="inbox_submit")
async def inbox_submit(request: Request, runtime: RuntimeDep, pages: PagesDep) -> HTMLResponse:
    limit: ServerSealedLimit = request.app.state.server_sealed_limit
    files = _MessageFiles()
    checked: tuple[str, ReceiptKeys] | None = None

    async def files_of_this_message(form: StreamedForm) -> ServerSealedFiles:
        # The receipt and the message come before the files: checked now, before a file is
        # taken in, and the files encrypted under the key the receipt gives.
        nonlocal checked
        checked = _checked_inbox_form(_single(form.fields), limit)
        action, keys = checked
        if action != "send":
            raise _FormRefused(Notice(N_("files can only be sent with a message")), 400)
        _refuse_while_disk_low(request, action)
        report_id = await run_in_threadpool(_report_of, runtime, keys)
        files.sink = ServerSealedFiles(
            runtime.sessions,
            source_key=keys.message_key,
            report_id=report_id,
            message_id=files.message_id,
            limits=runtime.attachment_limits,
            keep_original=form.fields.get(KEEP_ORIGINAL_FIELD) == ["yes"],
        )
        return files.sink

    form = StreamedForm()
    result = None
    try:
        await read_form(
            request.headers.get("content-type", ""),
            request.stream(),
            form,
            max_fields=8,
            max_field_bytes=MAX_MESSAGE_FORM_BYTES,
            files_field=FILES_FIELD,
            sink_for_first_file=files_of_this_message,
        )
        action, keys = checked or _checked_inbox_form(_single(form.fields), limit)
        _refuse_while_disk_low(request, action)
        result = await run_in_threadpool(
            _act_on_inbox,
            runtime,
            action,
            keys,
            _single(form.fields).get("message", ""),
            choose_locale(request),
            files,
        )
    except _FormRefused as refused:
        return _inbox_page(
            request,
            pages,
            problem=refused.notice,
            problem_field=refused.field,
            status_code=refused.status,
        )
    except BodyTooLarge:
        return _too_large(request, pages)
    except NotFound as exc:
        return _inbox_page(request, pages, problem=Notice.of(exc))
    except ServiceError as exc:
        status = _status_of_file_refusal(exc)
        return _inbox_page(request, pages, problem=Notice.of(exc), status_code=status)
    finally:
        # Files of a message that was refused or failed are not kept until they expire.
        if result is None:
            await _discard(files.sink)
    return _inbox_page(request, pages, **result)


def _single(fields: dict[str, list[str]]) -> dict[str, str]:
    return {name: values[0] for name, values in fields.items() if values}


def _report_of(runtime: Runtime, keys: ReceiptKeys) -> uuid.UUID:
    with unit_of_work(runtime.read_sessions) as session:
        report = conversation.report_of_receipt(session, keys.lookup_token, runtime.secrets)
        return report.public_id


async def _discard(sink: ServerSealedFiles | None) -> None:
    if sink is not None:
        await run_in_threadpool(sink.discard)
