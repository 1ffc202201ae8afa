"""The published manifest: complete, deterministic, and blind to the form token alone."""

import base64
import re
from typing import Any

import pytest

from hrd_reports import __version__
from hrd_reports.i18n import SUPPORTED_LOCALES
from hrd_reports.resources import resource_dir
from hrd_reports.settings import Settings
from hrd_reports.web.headers import CONTENT_SECURITY_POLICY
from hrd_reports.web.manifest import (
    PUBLISHED_PAGES,
    build_manifest,
    canonical_page,
    manifest_bytes,
    render_page,
    sha256_b64url,
)
from hrd_reports.web.pages import Pages

TOKEN_FIELD = b'<input type="hidden" name="form_token" value="%s">'


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(desk_name="Community help line", attachments_per_report=3)


@pytest.fixture(scope="module")
def manifest(settings: Settings) -> dict[str, Any]:
    return build_manifest(settings, Pages(settings))


def test_manifest_lists_every_file_under_static(manifest: dict[str, dict]) -> None:
    static = resource_dir("static")
    on_disk = {
        f"/static/{path.relative_to(static).as_posix()}": sha256_b64url(path.read_bytes())
        for path in static.rglob("*")
        if path.is_file()
    }
    assert manifest["manifest"]["files"] == on_disk
    assert "/static/vendor/hpke.min.js" in on_disk  # not vacuous


def test_manifest_lists_every_reporter_template(manifest: dict[str, dict]) -> None:
    templates = resource_dir("templates")
    reporter = {f"reporter/{p.name}" for p in (templates / "reporter").iterdir()}
    listed = manifest["hrd_reports"]["templates"]
    assert set(listed) == reporter | {"base.html", "error.html"}
    for name, digest in listed.items():
        assert digest == sha256_b64url((templates / name).read_bytes())


def test_manifest_hashes_every_published_page_in_every_language(
    manifest: dict[str, dict],
) -> None:
    pages = manifest["hrd_reports"]["pages"]
    assert set(pages) == {
        f"{page.path}?lang={code}" for page in PUBLISHED_PAGES for code in SUPPORTED_LOCALES
    }
    assert len(set(pages.values())) == len(pages)  # each language's page is its own


def test_manifest_follows_webcat_field_names_and_hash_encoding(
    manifest: dict[str, dict], settings: Settings
) -> None:
    release = manifest["manifest"]
    assert release["name"] == "hrd-reports"
    assert release["version"] == __version__
    assert release["default_csp"] == CONTENT_SECURITY_POLICY
    assert set(release["extra_csp"]) == {page.path for page in PUBLISHED_PAGES}
    assert release["extra_csp"]["/report"] == Pages(settings).reporter_policy
    assert release["wasm"] == []
    for path, digest in release["files"].items():
        assert path.startswith("/static/")
        # SHA-256 in unpadded base64url: 43 characters that decode to 32 bytes.
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", digest)
        assert len(base64.urlsafe_b64decode(digest + "=")) == 32


def test_manifest_names_the_page_settings_it_was_rendered_with(
    manifest: dict[str, dict],
) -> None:
    assert manifest["hrd_reports"]["desk"] == {
        "desk_name": "Community help line",
        "quick_exit_url": "https://www.wikipedia.org/",
        "attachment_max_mb": 100,
        "attachments_per_report": 3,
        "withdrawal_grace_days": 0,
    }


def test_manifest_is_the_same_bytes_each_time_it_is_built(settings: Settings) -> None:
    first = manifest_bytes(build_manifest(settings, Pages(settings)))
    again = manifest_bytes(build_manifest(settings, Pages(settings)))
    assert first == again


def test_manifest_pages_change_with_a_page_setting(manifest: dict[str, dict]) -> None:
    other = Settings(desk_name="Another name", attachments_per_report=3)
    pages = build_manifest(other, Pages(other))["hrd_reports"]["pages"]
    assert pages["/?lang=en"] != manifest["hrd_reports"]["pages"]["/?lang=en"]


def test_rendered_form_carries_an_empty_token_and_nothing_else_is_emptied(
    settings: Settings,
) -> None:
    form = next(page for page in PUBLISHED_PAGES if page.path == "/report")
    html = render_page(Pages(settings), settings, form, "en")
    assert TOKEN_FIELD % b"" in html
    assert b'data-max-files="3"' in html
    assert b"Community help line" in html


def test_canonical_page_empties_the_form_token_alone() -> None:
    page = b"<form>" + TOKEN_FIELD % b"1.2.3.abc_-.def" + b"<p>words</p></form>"
    assert canonical_page(page) == b"<form>" + TOKEN_FIELD % b"" + b"<p>words</p></form>"
    other_token = page.replace(b"abc_-", b"XYZ")
    assert canonical_page(other_token) == canonical_page(page)
    # Anything beside the token still counts.
    assert canonical_page(page.replace(b"words", b"other words")) != canonical_page(page)


@pytest.mark.parametrize(
    "value",
    [
        b'x" onfocus="alert(1)',  # a token that would end its attribute
        b"x><script src=/static/js/print.js></script><input value=",  # markup for a token
    ],
)
def test_canonical_page_keeps_a_token_that_is_not_a_token(value: bytes) -> None:
    # Such a "token" is not emptied, so whatever it carries is compared with the release.
    page = b"<form>" + TOKEN_FIELD % value + b"</form>"
    assert canonical_page(page) != b"<form>" + TOKEN_FIELD % b"" + b"</form>"
    assert b"alert(1)" in canonical_page(page) or b"print.js" in canonical_page(page)
