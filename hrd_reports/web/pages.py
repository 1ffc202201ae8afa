"""Server-rendered pages in the reader's language, with gettext from the first template on.

The language comes from ``?lang=`` (links, forms and redirects carry it on), else from the
browser's Accept-Language, else English; never from a cookie or storage, since reporter pages
set none. A signed-in staff member's own choice of dashboard language comes first.
"""

import base64
import datetime as dt
import functools
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from babel.dates import format_date, format_skeleton
from babel.numbers import format_decimal
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from hrd_reports.i18n import (
    DEFAULT_LOCALE,
    LANGUAGE_NAMES,
    N_,
    SUPPORTED_LOCALES,
    Locale,
    locale,
    negotiate,
)
from hrd_reports.resources import resource_dir
from hrd_reports.services.errors import ServiceError
from hrd_reports.services.linking import short_id
from hrd_reports.settings import Settings
from hrd_reports.web.headers import REPORTER_SCRIPTS, pinned_policy
from hrd_reports.web.labels import DEVICE_NAMES, DONE, NAMES, PRIORITY_NAMES


@dataclass(frozen=True)
class Notice:
    """A sentence for a page: its English template, translated there, then its values put in.

    Values are filled in after translation, so nothing a person typed is looked up in a
    catalogue, and autoescaping escapes the values (``Markup % values``).
    """

    template: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, refusal: ServiceError) -> "Notice":
        return cls(refusal.template, refusal.params)


# The reporter pages' title and heading when HRD_DESK_NAME is unset: neutral, so that a
# browser's history of them does not read "threat" or "report".
DEFAULT_DESK_NAME = N_("Protection desk")


def is_reporter_page(template: str) -> bool:
    """Whether a template is a reporter's page (they all extend reporter/base.html)."""
    return template.startswith("reporter/") or template == "error.html"


def choose_locale(request: Request) -> str:
    chosen = getattr(getattr(request.state, "signed_in", None), "language", None)
    if chosen in SUPPORTED_LOCALES:
        return str(chosen)
    asked = request.query_params.get("lang", "")
    if asked in SUPPORTED_LOCALES:
        return asked
    return negotiate(request.headers.get("accept-language", "")) or DEFAULT_LOCALE


class Pages:
    """Renders templates; one Jinja environment per language, built once."""

    def __init__(self, settings: Settings) -> None:
        self._loader = jinja2.FileSystemLoader(resource_dir("templates"))
        self._static = resource_dir("static")
        self._desk_name = settings.desk_name
        self._globals = {
            "quick_exit_url": settings.quick_exit_url,
            "sri": self.integrity,
            "static": lambda path: f"/static/{path}",
            "names": NAMES,
            "device_names": DEVICE_NAMES,
            "priority_names": PRIORITY_NAMES,
            "done_messages": DONE,
            "short_id": short_id,
            "languages": [
                (code, LANGUAGE_NAMES[code], locale(code).direction) for code in SUPPORTED_LOCALES
            ],
        }

    @cache  # noqa: B019 - one instance per app, languages are few
    def _environment(self, code: str) -> jinja2.Environment:
        current = locale(code)
        environment = jinja2.Environment(
            loader=self._loader,
            # Everything a person typed is text, never markup.
            autoescape=True,
            extensions=["jinja2.ext.i18n"],
            undefined=jinja2.StrictUndefined,
            # Templates do not change while the server runs: no stat() of each template file
            # on every render, which would be file work on the event loop.
            auto_reload=False,
        )
        environment.install_gettext_translations(current.translations, newstyle=True)  # type: ignore[attr-defined]
        # Counts in sentences in the page's digits: the same as Jinja's own (autoescaped,
        # values filled in after translation), with whole numbers written as the language
        # writes them.
        gettext, ngettext = _gettext_in_digits(current)
        environment.globals.update(gettext=gettext, _=gettext, ngettext=ngettext)
        environment.filters["day"] = functools.partial(_day, current)
        environment.filters["reported_day"] = functools.partial(_reported_day, current)
        environment.filters["digits"] = current.digits
        # A day in plain text, where no markup may go (an <option>).
        environment.filters["day_text"] = lambda day: day_text(code, day) if day else ""
        environment.filters["number"] = functools.partial(_number, current)
        environment.globals.update(
            self._globals,
            lang=current.code,
            direction=current.direction,
            desk_name=self._desk_name or current.translations.gettext(DEFAULT_DESK_NAME),
        )
        return environment

    @cache  # noqa: B019 - static files do not change while the server runs
    def integrity(self, path: str) -> str:
        """Subresource Integrity of a static file: a changed file on disk is not run."""
        digest = hashlib.sha384((self._static / Path(path)).read_bytes()).digest()
        return "sha384-" + base64.b64encode(digest).decode("ascii")

    @functools.cached_property
    def reporter_policy(self) -> str:
        """The Content-Security-Policy of reporter pages: only their own scripts run."""
        return pinned_policy(self.integrity(path) for path in REPORTER_SCRIPTS)

    def render(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        code = choose_locale(request)

        def path_for(route: str, /, **params: Any) -> str:
            # Paths only, never absolute URLs: the same page works behind a TLS proxy and on
            # an onion address. The language travels with every link.
            path = request.url_for(route, **params).path
            return f"{path}?lang={code}"

        html = (
            self._environment(code)
            .get_template(name)
            .render({"request": request, "path_for": path_for, **(context or {})})
        )
        sent = dict(headers or {})
        if is_reporter_page(name):
            sent["Content-Security-Policy"] = self.reporter_policy
        return HTMLResponse(html, status_code=status_code, headers=sent)


def _gettext_in_digits(current: Locale) -> tuple[Callable[..., str], Callable[..., str]]:
    translations = current.translations

    def fill(context: jinja2.runtime.Context, text: str, values: dict[str, Any]) -> str:
        if context.eval_ctx.autoescape:
            # The catalogue's own words, as Jinja's gettext takes them; the values are escaped.
            text = Markup(text)  # noqa: S704 - a translation from the committed catalogue
        if current.digits("0") != "0":
            text, values = _counts_in_digits(current, text, values)
        return text % values

    @jinja2.pass_context
    def gettext(context: jinja2.runtime.Context, message: str, /, **values: Any) -> str:
        return fill(context, translations.gettext(message), values)

    @jinja2.pass_context
    def ngettext(
        context: jinja2.runtime.Context, singular: str, plural: str, count: int, /, **values: Any
    ) -> str:
        values.setdefault("num", count)
        return fill(context, translations.ngettext(singular, plural, count), values)

    return gettext, ngettext


# A whole number's placeholder, with its conversion flags: "%(num)d", "%(size)5d".
_WHOLE_NUMBER = re.compile(r"%\(([^()]+)\)([-#0 +]*[0-9]*)[di]")


def _counts_in_digits(
    current: Locale, text: str, values: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """``text`` and ``values`` with each whole number written as Python would, then in the
    page's digits: its placeholder takes the written number as text (a ``%d`` would not)."""
    written: dict[str, Any] = dict(values)

    def as_text(placeholder: re.Match[str]) -> str:
        name, flags = placeholder.group(1), placeholder.group(2)
        value = values.get(name)
        if not _is_count(value):
            return placeholder.group(0)  # left to Python's own formatting, and its errors
        key = f"{name}:{flags}d"
        written[key] = current.digits(f"%{flags}d" % value)
        return f"%({key})s"

    return type(text)(_WHOLE_NUMBER.sub(as_text, text)), written


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(current: Locale, value: int) -> str:
    """A count shown on its own (a table's cell, the navigation's unread messages), with the
    language's own grouping mark ("١٢٬٣٤٥" in Arabic and Sorani)."""
    grouped = format_decimal(value, locale=current.cldr, numbering_system="default")
    return current.digits(grouped)


def day_text(code: str, day: dt.date) -> str:
    """A day as the reader's language writes it, with the month in words and in its digits
    (Babel's CLDR data: "December 7, 2026", or Iraq's month names and Arabic-Indic digits on an
    Arabic page): a date of digits alone is read back to front in a right-to-left sentence."""
    current = locale(code)
    return current.digits(format_date(day, format="long", locale=current.cldr))


@functools.lru_cache(maxsize=4096)
def month_text(code: str, month: str) -> str:
    """A month (``YYYY-MM``) as the reader's language writes it, in words and its digits
    ("March 2026"); anything that is not a month, as the text it is.

    Remembered: Babel matches the skeleton anew on each call (milliseconds), and a page of
    statistics writes each month of a few years twice."""
    current = locale(code)
    try:
        first = dt.date.fromisoformat(month + "-01") if len(month) == len("2026-03") else None
    except ValueError:
        first = None
    if first is None:
        return month
    return current.digits(format_skeleton("yMMMM", first, locale=current.cldr))


def _day(current: Locale, day: dt.date | None) -> Markup:
    """``day_text``, isolated, so that the sentence around it keeps its order."""
    if day is None:
        return Markup("")
    return Markup("<bdi>%s</bdi>") % day_text(current.code, day)


def _reported_day(current: Locale, text: object) -> Markup | str:
    """A date as a reporter gave it (a day, or a month): in the reader's way when it is one,
    else as the text it is (the browser builds the report, so it may be anything)."""
    if not isinstance(text, str):
        return ""
    try:
        if len(text) == len("2026-12-07"):
            return _day(current, dt.date.fromisoformat(text))
        if len(text) == len("2026-12"):
            month = format_skeleton(
                "yMMMM", dt.date.fromisoformat(text + "-01"), locale=current.cldr
            )
            return Markup("<bdi>%s</bdi>") % current.digits(month)
    except ValueError:
        pass
    return text


def see_other(request: Request, route: str, **params: Any) -> RedirectResponse:
    """303 to a route's path (post/redirect/get: a reload never repeats an action)."""
    return RedirectResponse(request.url_for(route, **params).path, status_code=303)


def see_other_in_language(request: Request, route: str, **params: Any) -> RedirectResponse:
    """``see_other``, to the page in the language of the page that was sent: a person who
    signed in or enrolled in Arabic goes on in Arabic."""
    path = request.url_for(route, **params).path
    return RedirectResponse(f"{path}?lang={choose_locale(request)}", status_code=303)


def see_done(
    request: Request,
    route: str,
    /,
    *,
    done: str,
    anchor: str | None = None,
    at: str | None = None,
    keep_language: bool = True,
    **params: Any,
) -> RedirectResponse:
    """``see_other`` after an action, to the page that says what it did, where the reader was.

    ``done`` is a key of ``labels.DONE`` (the sentence the page shows), ``anchor`` the part of
    the page the reader was at (and ``at`` the code of that part, where the page has several
    alike); the page's language goes on with them, unless the action changed it. Each is one
    of a fixed set, never text a person typed, so a crafted link cannot put words on a desk's
    page.
    """
    if done not in DONE:
        raise ValueError(f"no sentence for {done!r}")
    query = {"done": done}
    language = request.query_params.get("lang", "")
    if keep_language and language in SUPPORTED_LOCALES:
        query = {"lang": language, **query}
    if at is not None:
        query["at"] = at
    path = f"{request.url_for(route, **params).path}?{urlencode(query)}"
    if anchor:
        path += "#" + anchor
    return RedirectResponse(path, status_code=303)
