"""The manifest of everything a reporter's browser runs or reads, served at a well-known path.

Anyone can rebuild it from a release and compare it with what a desk serves
(``hrd-reports verify-assets``): the static files by their SHA-256, and the reporter pages
as this release renders them. Its fields follow WEBCAT's manifest where they mean the same
(``name``, ``version``, ``default_csp``, ``extra_csp``, ``files``, ``wasm``; hashes in
unpadded base64url); what WEBCAT has no field for is under ``hrd_reports``.

A reporter page is not the same bytes on every request: the report form carries a fresh form
token, and a desk's settings (its name, the quick-exit address, the limits on files, the
withdrawal grace period) are part of its pages. The manifest names those settings, and
hashes each page in each language as rendered with them, with the form token's value empty:
``canonical_page`` empties it in a fetched page too, and nothing else. Every other byte of
the page, its scripts and their integrity values included, is compared.
"""

import base64
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.requests import Request as StarletteRequest

from hrd_reports import __version__
from hrd_reports.i18n import SUPPORTED_LOCALES
from hrd_reports.resources import resource_dir
from hrd_reports.settings import Settings
from hrd_reports.web import reporter
from hrd_reports.web.headers import CONTENT_SECURITY_POLICY
from hrd_reports.web.pages import Pages, is_reporter_page

MANIFEST_PATH = "/.well-known/hrd-reports/manifest.json"
# Raised when a field changes meaning; a reader refuses a format it does not know.
FORMAT = 1

# The settings that reporter pages show or depend on, by their HRD_ names (lower case).
PAGE_SETTINGS = (
    "desk_name",
    "quick_exit_url",
    "attachment_max_mb",
    "attachments_per_report",
    "withdrawal_grace_days",
)


@dataclass(frozen=True)
class PublishedPage:
    """A reporter page that anyone may fetch without sending anything."""

    path: str
    template: str
    context: Callable[[Settings], dict[str, Any]]


PUBLISHED_PAGES = (
    PublishedPage("/", "reporter/index.html", lambda _settings: {}),
    PublishedPage("/report/done", "reporter/index.html", lambda _settings: {}),
    PublishedPage(
        "/report",
        "reporter/report.html",
        lambda settings: reporter.form_page_context(
            settings, form_token="", values={}, problems={}
        ),
    ),
    PublishedPage("/inbox", "reporter/inbox.html", reporter.inbox_page_context),
)

# The one value of a reporter page that changes with every request. The token is text the
# server drew (base64url and dots), so it holds no quote that could end the attribute early.
_FORM_TOKEN = re.compile(rb'(<input type="hidden" name="form_token" value=")[^"<>]*(">)')


def canonical_page(html: bytes) -> bytes:
    """A reporter page with the form token's value emptied; every other byte as it was."""
    return _FORM_TOKEN.sub(rb"\1\2", html)


def sha256_b64url(data: bytes) -> str:
    """SHA-256 as WEBCAT writes it: base64url without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")


def page_url(page: PublishedPage, code: str) -> str:
    """Where a page is fetched in one language: the language is chosen by the address alone,
    never by a header, so the verifier fetches exactly the page it rendered."""
    return f"{page.path}?lang={code}"


def published_pages() -> Iterator[tuple[PublishedPage, str]]:
    """Every published page in every language, as (page, language code)."""
    for page in PUBLISHED_PAGES:
        for code in SUPPORTED_LOCALES:
            yield page, code


def _files_under(root: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield path.relative_to(root).as_posix(), path


def static_files() -> dict[str, str]:
    """Every file under /static/, by its URL path: all of them are served, to anyone."""
    return {
        f"/static/{name}": sha256_b64url(path.read_bytes())
        for name, path in _files_under(resource_dir("static"))
    }


def reporter_templates() -> dict[str, str]:
    """The templates reporter pages are rendered from: not fetched by a browser, listed so
    that two installations can be compared, and a release's pages traced to their sources."""
    templates = resource_dir("templates")
    return {
        name: sha256_b64url(path.read_bytes())
        for name, path in _files_under(templates)
        if is_reporter_page(name) or name == "base.html"
    }


def render_page(pages: Pages, settings: Settings, page: PublishedPage, code: str) -> bytes:
    """The page as this release serves it at ``page.path?lang=code``, canonical."""
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "server": ("desk.invalid", 80),
        "path": page.path,
        "raw_path": page.path.encode("ascii"),
        "root_path": "",
        "query_string": f"lang={code}".encode("ascii"),
        "headers": [(b"host", b"desk.invalid")],
        # The reporter's routes, for the links of the page (paths only, never the host).
        "router": reporter.router,
        "state": {},
    }
    response = pages.render(StarletteRequest(scope), page.template, page.context(settings))
    return canonical_page(bytes(response.body))


def build_manifest(settings: Settings, pages: Pages) -> dict[str, Any]:
    return {
        "manifest": {
            "name": "hrd-reports",
            "version": __version__,
            "default_csp": CONTENT_SECURITY_POLICY,
            "extra_csp": {page.path: pages.reporter_policy for page in PUBLISHED_PAGES},
            "files": static_files(),
            "wasm": [],
        },
        "hrd_reports": {
            "format": FORMAT,
            "desk": {name: getattr(settings, name) for name in PAGE_SETTINGS},
            "pages": {
                page_url(page, code): sha256_b64url(render_page(pages, settings, page, code))
                for page, code in published_pages()
            },
            "templates": reporter_templates(),
        },
    }


def manifest_bytes(document: dict[str, Any]) -> bytes:
    """One serialisation, so that the same manifest is the same bytes wherever it is built."""
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


class ServedManifest:
    """This desk's manifest, built at the first request for it: the files do not change while
    the server runs, and no request pays for it again."""

    def __init__(self, settings: Settings, pages: Pages) -> None:
        self._settings = settings
        self._pages = pages

    @functools.cached_property
    def body(self) -> bytes:
        return manifest_bytes(build_manifest(self._settings, self._pages))


router = APIRouter()


@router.get(MANIFEST_PATH, name="asset_manifest", include_in_schema=False)
def asset_manifest(request: Request) -> Response:
    served: ServedManifest = request.app.state.served_manifest
    # The headers of every response (no cookie, no-store, the default policy) come from the
    # security middleware; no page of it runs anything.
    return Response(served.body, media_type="application/json")
