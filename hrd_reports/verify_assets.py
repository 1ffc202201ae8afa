"""What a running desk serves a reporter's browser, compared with what this release would serve.

The desk's manifest is read for two things only: the settings its pages are rendered with
(the desk's name, the quick-exit address, its limits on files, the withdrawal grace period),
and the files it says it has beyond this release's. Every hash compared is computed here,
from this installation's files, never taken from the desk: a desk that serves other files
cannot make them pass by announcing their hashes.

Nothing a reporter sent is involved. No cookie is ever kept or sent back, redirects are not
followed (a page that moved is a difference), and every answer is bounded in size.
"""

import difflib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import ValidationError

from hrd_reports import __version__
from hrd_reports.settings import Settings
from hrd_reports.web.manifest import (
    FORMAT,
    MANIFEST_PATH,
    PAGE_SETTINGS,
    build_manifest,
    canonical_page,
    manifest_bytes,
    page_url,
    published_pages,
    render_page,
    sha256_b64url,
)
from hrd_reports.web.pages import Pages

# Onion circuits are slow to build; a desk that does not answer within this is unreachable.
TIMEOUT_SECONDS = 60.0
# Larger than any file of the release (the fonts, the bundle); an answer past it is refused.
MAX_ANSWER_BYTES = 8 * 1024 * 1024


class Unreachable(Exception):
    """The desk could not be asked (address, network, proxy); nothing was compared."""


@dataclass(frozen=True)
class Difference:
    path: str
    expected: str
    got: str
    # Where a page first differs, for whoever looks into it.
    detail: str = ""


@dataclass
class Verdict:
    url: str
    release: str
    desk_version: str | None
    desk: dict[str, Any]
    checked: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "release": self.release,
            "desk_version": self.desk_version,
            "desk": self.desk,
            "identical": self.identical,
            "checked": self.checked,
            "differences": [asdict(difference) for difference in self.differences],
        }


def desk_origin(url: str) -> str:
    """``scheme://host[:port]`` of a desk's address; a path, query or user name is refused."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("give the desk's address, such as https://desk.example.org")
    if parts.path not in {"", "/"} or parts.query or parts.fragment or parts.username:
        raise ValueError("give the desk's address alone, without a path, query or user name")
    return f"{parts.scheme}://{parts.netloc}"


def is_onion(origin: str) -> bool:
    return (urlsplit(origin).hostname or "").endswith(".onion")


@contextmanager
def desk_client(
    *, proxy: str | None, transport: httpx.BaseTransport | None = None
) -> Iterator[httpx.Client]:
    """A client that keeps no cookie (its jar refuses every one), follows no redirect and
    reads nothing from the environment (no netrc password, no proxy but ``proxy``).
    ``transport``: another way to the desk, for tests."""
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    with httpx.Client(
        proxy=proxy,
        transport=transport,
        timeout=TIMEOUT_SECONDS,
        follow_redirects=False,
        trust_env=False,
        cookies=jar,
    ) as client:
        yield client


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    headers: httpx.Headers


def _get(client: httpx.Client, url: str) -> _Answer:
    try:
        with client.stream("GET", url) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise Unreachable(f"{url}: the answer is larger than any file of a release")
            return _Answer(response.status_code, bytes(body), response.headers)
    except httpx.HTTPError as exc:
        raise Unreachable(f"{url}: {exc or type(exc).__name__}") from None


def verify(origin: str, *, client: httpx.Client) -> Verdict:
    """Every file and published page of this release, fetched from ``origin`` and compared."""
    answer = _get(client, origin + MANIFEST_PATH)
    served, problems = _read_manifest(answer)
    settings, declared, refused = _declared_settings(served)
    version = _field(served, "manifest", "version")
    verdict = Verdict(
        url=origin,
        release=__version__,
        desk_version=None if version is None else str(version),
        desk=declared,
        differences=problems + refused,
    )
    if verdict.desk_version is not None and verdict.desk_version != __version__:
        verdict.differences.insert(0, Difference("version", __version__, verdict.desk_version))
    pages = Pages(settings)
    local = build_manifest(settings, pages)
    _compare(verdict, MANIFEST_PATH, expected=manifest_bytes(local), answer=answer)
    _check_files(verdict, client, local["manifest"]["files"], served)
    for page, code in published_pages():
        url = page_url(page, code)
        expected = render_page(pages, settings, page, code)
        page_answer = _get(client, origin + url)
        _compare(verdict, url, expected=expected, answer=page_answer, page=True)
        policy = page_answer.headers.get("content-security-policy", "")
        if page_answer.status == 200 and policy != pages.reporter_policy:
            expected_part, got_part = _policy_change(pages.reporter_policy, policy)
            detail = f"- {pages.reporter_policy}\n+ {policy}"
            path = f"{url} Content-Security-Policy"
            verdict.differences.append(Difference(path, expected_part, got_part, detail))
    return verdict


def _policy_change(expected: str, got: str) -> tuple[str, str]:
    """What of each policy the other lacks, by directive: a changed script reads as the hash
    it was expected to have, and the one the desk names instead."""

    def directives(policy: str) -> dict[str, set[str]]:
        parts = (d.strip().split() for d in policy.split(";") if d.strip())
        return {words[0].lower(): set(words[1:]) for words in parts}

    ours, theirs = directives(expected), directives(got)
    names = sorted(set(ours) | set(theirs))

    def only(a: dict[str, set[str]], b: dict[str, set[str]]) -> str:
        return "; ".join(
            f"{name} {' '.join(sorted(a[name] - b.get(name, set())))}".strip()
            for name in names
            if name in a and (name not in b or a[name] - b[name])
        )

    return only(ours, theirs) or "(nothing more)", only(theirs, ours) or "(nothing more)"


def _check_files(
    verdict: Verdict, client: httpx.Client, files: dict[str, str], served: dict[str, Any]
) -> None:
    for path, expected in files.items():
        answer = _get(client, verdict.url + path)
        verdict.checked.append(path)
        if answer.status != 200:
            verdict.differences.append(Difference(path, expected, f"HTTP {answer.status}"))
        elif (got := sha256_b64url(answer.body)) != expected:
            verdict.differences.append(Difference(path, expected, got))
        _no_cookie(verdict, path, answer)
    # Files this release does not have cannot be fetched by name unless the desk names them.
    announced = _field(served, "manifest", "files")
    for path in sorted(set(announced or {}) - set(files)):
        verdict.differences.append(Difference(path, "not in this release", str(announced[path])))


def _compare(
    verdict: Verdict, path: str, *, expected: bytes, answer: _Answer, page: bool = False
) -> None:
    verdict.checked.append(path)
    _no_cookie(verdict, path, answer)
    if answer.status != 200:
        verdict.differences.append(
            Difference(path, sha256_b64url(expected), f"HTTP {answer.status}")
        )
        return
    got = canonical_page(answer.body) if page else answer.body
    if got != expected:
        change = _first_change(expected, got)
        verdict.differences.append(
            Difference(path, sha256_b64url(expected), sha256_b64url(got), change)
        )


def _no_cookie(verdict: Verdict, path: str, answer: _Answer) -> None:
    if "set-cookie" in answer.headers:
        verdict.differences.append(Difference(f"{path} Set-Cookie", "no cookie", "a cookie"))


def _first_change(expected: bytes, got: bytes) -> str:
    """The first line that differs, as ``- expected`` and ``+ got``, shortened."""
    lines = difflib.unified_diff(
        expected.decode("utf-8", "replace").splitlines(),
        got.decode("utf-8", "replace").splitlines(),
        lineterm="",
        n=0,
    )
    changed = [line for line in lines if line[:1] in "-+" and line[:3] not in {"---", "+++"}]
    return "\n".join(line if len(line) <= 160 else line[:159] + "…" for line in changed[:4])


def _read_manifest(answer: _Answer) -> tuple[dict[str, Any], list[Difference]]:
    """The desk's manifest, or an empty one (an answer other than 200 is named as the
    manifest's own difference by ``_compare``)."""
    if answer.status != 200:
        return {}, []
    try:
        document = json.loads(answer.body)
    except (UnicodeDecodeError, ValueError):
        document = None
    if not isinstance(document, dict):
        return {}, [Difference(MANIFEST_PATH, "a manifest (JSON)", "something else")]
    found = _field(document, "hrd_reports", "format")
    if found != FORMAT:
        return document, [Difference(f"{MANIFEST_PATH} format", str(FORMAT), str(found))]
    return document, []


def _field(document: dict[str, Any], section: str, name: str) -> Any:
    part = document.get(section)
    return part.get(name) if isinstance(part, dict) else None


def _declared_settings(
    served: dict[str, Any],
) -> tuple[Settings, dict[str, Any], list[Difference]]:
    """The settings the desk says its pages are rendered with; this release's defaults for
    any it does not give (its pages then differ, and say so)."""
    desk = _field(served, "hrd_reports", "desk")
    declared = {
        name: desk[name] if isinstance(desk, dict) and name in desk else _default(name)
        for name in PAGE_SETTINGS
    }
    try:
        # Given explicitly, each of them: nothing of this machine's own HRD_* enters.
        return Settings(**declared), declared, []
    except ValidationError as exc:
        problem = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        defaults = {name: _default(name) for name in PAGE_SETTINGS}
        difference = Difference(f"{MANIFEST_PATH} desk", "settings a desk accepts", problem)
        return Settings(**defaults), declared, [difference]


def _default(name: str) -> Any:
    return Settings.model_fields[name].default
