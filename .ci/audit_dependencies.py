"""Known vulnerabilities of everything installed in this environment.

    python .ci/audit_dependencies.py    # with the Python of the environment that was tested

The advisories come from the JSON API of the index that pip itself installs from: PIP_INDEX_URL,
else pip's configuration files, else pip's default index, read through pip's own option parser,
so that no registry host is written down here. The API's base is the index's simple URL with its
last segment ``simple`` replaced by ``pypi``; an index whose URL does not end in ``simple`` has
no API this script can find, and nothing is audited. Extra indexes and find-links serve files,
not advisories, and are not asked.

Each installed distribution is audited from, in this order:
1. its per-version document (``NAME/VERSION/json``): the known vulnerabilities of the installed
   version itself, the source pip-audit reads;
2. else its project document (``NAME/json``), when the installed version is the project's latest
   release: that document lists the known vulnerabilities of the latest release only;
3. else it is not audited, and the summary says so by name.

The rules:
- a known vulnerability (not withdrawn) in anything installed fails;
- a runtime dependency that cannot be audited fails, since the desk runs it. Runtime is the
  transitive closure of the project's own requirements without extras, markers evaluated for
  this interpreter; everything else installed is needed only by the tests;
- a test-only package that cannot be audited is listed as not audited and does not fail: a
  release newer than the one a test tool admits is no finding about what was installed;
- nothing is said of a package that was not checked, and the passage of time alone fails
  nothing: an advisory fails the run, an older release does not, as long as its own document
  can be read.

Exit status: 0 when nothing fails, 1 when something does, 2 when the audit could not run.
"""

from __future__ import annotations

import base64
import http.client
import importlib.metadata
import json
import re
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

# pip's own option parser: the environment, configuration files and defaults, merged as
# `pip install` merges them.
from pip._internal.commands import create_command

PROJECT = "hrd-reports"
TIMEOUT_SECONDS = 30
ATTEMPTS = 3
# Project documents of large projects run to a few MiB; an answer past this is no document.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
PARALLEL_REQUESTS = 8


@dataclass(frozen=True)
class Package:
    name: str
    version: str | None  # None: required at run time, but not installed
    runtime: bool


@dataclass(frozen=True)
class Result:
    package: Package
    source: str | None  # the document it was audited from; None when it was not audited
    vulnerabilities: tuple[str, ...] = ()
    withdrawn: tuple[str, ...] = ()
    reason: str = ""  # why it was not audited

    @property
    def fails(self) -> bool:
        unaudited_at_run_time = self.source is None and self.package.runtime
        name = self.package.name.lower()
        held = name in HELD_BACK and HELD_BACK[name][0] == self.package.version
        return bool(self.vulnerabilities) or (unaudited_at_run_time and not held)


# Runtime packages kept below their latest release on purpose, each at one exact version with
# its reason: the index's API documents the latest release only, so they cannot be audited
# here, and each is listed by name in every run until it is raised.
HELD_BACK: dict[str, tuple[str, str]] = {
    "cryptography": (
        "50.0.2",
        "pyOpenSSL 26.4.0 (required by webauthn) admits cryptography below 51 only",
    ),
    "webauthn": (
        "2.7.1",
        "the security-key checks are written and tested against 2.7.1; 3.0 is not yet tested",
    ),
}


class Unavailable(Exception):
    """A document that could not be read; the reason is shown in the summary."""


# --- Where the advisories come from -------------------------------------------------------


@dataclass(frozen=True)
class PipIndex:
    url: str | None  # None under --no-index
    cert: str | None
    proxy: str | None


def pip_index() -> PipIndex:
    """The index, CA bundle and proxy that ``pip install`` would use here."""
    options, _ = create_command("install").parse_args([])
    return PipIndex(
        url=None if options.no_index else options.index_url,
        cert=options.cert or None,
        proxy=options.proxy or None,
    )


def json_api(index_url: str) -> str | None:
    """The JSON API beside a simple index (``<base>/simple`` -> ``<base>/pypi``), if any."""
    parts = urllib.parse.urlsplit(index_url)
    path = parts.path.rstrip("/")
    if parts.scheme not in {"https", "http"} or not path.endswith("/simple"):
        return None
    return urllib.parse.urlunsplit(parts._replace(path=path[: -len("simple")] + "pypi"))


def shown(url: str) -> str:
    """A URL fit for a log: an index URL may carry a password."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc="***@" + (parts.hostname or "")))


class Index:
    """Reads JSON documents from an index's JSON API."""

    def __init__(self, api: str, *, cert: str | None = None, proxy: str | None = None) -> None:
        parts = urllib.parse.urlsplit(api.rstrip("/"))
        if parts.scheme not in {"https", "http"}:
            raise ValueError(f"not an HTTP URL: {parts.scheme}")
        # A password in the index URL goes in a header that no redirect carries elsewhere, and
        # never into a URL that an error message could show.
        self._authorization = None
        if parts.username is not None or parts.password is not None:
            credentials = f"{parts.username or ''}:{parts.password or ''}"
            self._authorization = "Basic " + base64.b64encode(credentials.encode()).decode()
            host = parts.hostname or ""
            parts = parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host)
        self.api = urllib.parse.urlunsplit(parts)
        handlers: list[urllib.request.BaseHandler] = [
            urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=cert))
        ]
        if proxy:
            handlers.append(urllib.request.ProxyHandler({"http": proxy, "https": proxy}))
        self._opener = urllib.request.build_opener(*handlers)

    def document(self, *path: str) -> dict[str, Any]:
        url = "/".join([self.api, *(urllib.parse.quote(part, safe="") for part in path), "json"])
        # Only http and https: the scheme was checked when the index was made.
        request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
        if self._authorization:
            request.add_unredirected_header("Authorization", self._authorization)
        failure = ""
        for _ in range(ATTEMPTS):
            try:
                with self._opener.open(request, timeout=TIMEOUT_SECONDS) as answer:
                    body = answer.read(MAX_DOCUMENT_BYTES + 1)
            except urllib.error.HTTPError as error:
                if error.code in {404, 410}:  # an answer, not a failure: no such document
                    raise Unavailable(f"HTTP {error.code}") from None
                failure = f"HTTP {error.code}"
            # Unreachable, timed out, refused, cut short, or a URL it cannot ask.
            except (OSError, ValueError, http.client.HTTPException) as error:
                failure = type(error).__name__
            else:
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise Unavailable("document too large")
                try:
                    document = json.loads(body)
                except ValueError:
                    raise Unavailable("not a JSON document") from None
                if not isinstance(document, dict):
                    raise Unavailable("not a JSON object")
                return document
        raise Unavailable(failure)


# --- What is installed ---------------------------------------------------------------------


def installed(project: str = PROJECT, path: list[str] | None = None) -> list[Package]:
    """Every distribution installed but the project, each marked runtime or not, and each
    runtime requirement that is missing (with no version)."""
    distributions: dict[str, importlib.metadata.Distribution] = {}
    for distribution in importlib.metadata.distributions(path=path or sys.path):
        # The first one found on the path is the one imported, as for modules.
        distributions.setdefault(canonicalize_name(distribution.metadata["Name"]), distribution)
    project = canonicalize_name(project)
    if project not in distributions:
        raise LookupError(f"{project} is not installed in this environment")
    runtime = runtime_closure(project, distributions)
    missing = {name for name in runtime if name not in distributions}
    packages = [
        Package(name, distribution.version, runtime=name in runtime)
        for name, distribution in sorted(distributions.items())
        if name != project  # not on the index: another project of that name is not this one
    ]
    packages += [Package(name, None, runtime=True) for name in sorted(missing)]
    return packages


def runtime_closure(
    project: str, distributions: Mapping[str, importlib.metadata.Distribution]
) -> set[str]:
    """Names of everything the project needs at run time, extras of dependencies included."""
    closure: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    pending: list[tuple[str, frozenset[str]]] = [(project, frozenset())]
    while pending:
        name, extras = pending.pop()
        distribution = distributions.get(name)
        if (name, extras) in seen or distribution is None:
            continue
        seen.add((name, extras))
        for requirement in map(Requirement, distribution.requires or []):
            if requirement.marker is not None and not any(
                requirement.marker.evaluate({"extra": extra}) for extra in {"", *extras}
            ):
                continue
            dependency = canonicalize_name(requirement.name)
            closure.add(dependency)
            pending.append((dependency, frozenset(map(canonicalize_name, requirement.extras))))
    return closure


# --- The audit -----------------------------------------------------------------------------


def same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def advisory(vulnerability: object) -> str:
    """One line for an advisory, made of the index's words but never of control characters."""
    if not isinstance(vulnerability, dict):
        return "an advisory the index did not describe"
    ids = [vulnerability.get("id"), *(vulnerability.get("aliases") or [])]
    fixed = vulnerability.get("fixed_in") or []
    text = " ".join(str(i) for i in ids if i) + (
        f" (fixed in {', '.join(map(str, fixed))})" if fixed else ""
    )
    return plain(text) or "an advisory without an id"


def plain(text: str) -> str:
    """The index's words for a log, without control characters or terminal escapes."""
    return re.sub(r"[^\w .,:;()+=<>/-]", "?", text)


def findings(package: Package, source: str, document: dict[str, Any]) -> Result:
    vulnerabilities = document.get("vulnerabilities")
    if not isinstance(vulnerabilities, list):  # an answer that lists nothing proves nothing
        raise Unavailable(f"{source} without a list of vulnerabilities")
    return Result(
        package,
        source,
        vulnerabilities=tuple(advisory(v) for v in vulnerabilities if not withdrawn(v)),
        withdrawn=tuple(advisory(v) for v in vulnerabilities if withdrawn(v)),
    )


def withdrawn(vulnerability: object) -> bool:
    return isinstance(vulnerability, dict) and bool(vulnerability.get("withdrawn"))


def release(document: dict[str, Any]) -> str:
    info = document.get("info")
    version = info.get("version") if isinstance(info, dict) else None
    if not isinstance(version, str):
        raise Unavailable("document without a release version")
    return version


def audit_package(package: Package, index: Index | None) -> Result:
    if package.version is None:
        return Result(package, None, reason="required at run time but not installed")
    if index is None:
        return Result(package, None, reason="no advisory source")
    try:
        return from_per_version_document(package, package.version, index)
    except Unavailable as error:
        per_version = f"no per-version document ({error})"
    try:
        return from_project_document(package, package.version, index)
    except Unavailable as error:
        return Result(package, None, reason=f"{per_version}; {error}")


def from_per_version_document(package: Package, version: str, index: Index) -> Result:
    document = index.document(package.name, version)
    answered = release(document)
    if not same_version(answered, version):
        raise Unavailable(f"answered for release {answered}")
    return findings(package, "per-version document", document)


def from_project_document(package: Package, version: str, index: Index) -> Result:
    try:
        document = index.document(package.name)
    except Unavailable as error:
        raise Unavailable(f"no project document ({error})") from None
    latest = release(document)
    if not same_version(latest, version):
        raise Unavailable(f"the latest release is {latest}")
    return findings(package, "project document", document)


def audit(packages: Iterable[Package], index: Index | None) -> list[Result]:
    with ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
        return list(pool.map(lambda package: audit_package(package, index), packages))


@dataclass
class Summary:
    lines: list[str] = field(default_factory=list)
    status: int = 0


def held_back_because(result: Result) -> str:
    return HELD_BACK[result.package.name.lower()][1]


def summarise(results: list[Result]) -> Summary:
    summary = Summary()
    say = summary.lines.append
    audited = [r for r in results if r.source is not None]
    sources = {s: sum(r.source == s for r in audited) for s in {r.source for r in audited}}
    runtime = sum(r.package.runtime for r in results)
    say(
        f"audited {len(audited)} of {len(results)} installed packages "
        f"({runtime} needed at run time, {len(results) - runtime} only by the tests and tools)"
        + "".join(f"; {n} from their {s}s" for s, n in sorted(sources.items()))
    )

    def listing(title: str, chosen: list[Result], line: Callable[[Result], str]) -> None:
        if chosen:
            say(title)
            summary.lines.extend(f"  {line(r)}" for r in chosen)

    def name(result: Result) -> str:
        return f"{result.package.name} {result.package.version or '(missing)'}"

    unaudited = [r for r in results if r.source is None]
    listing(
        "not audited, only for the tests and tools (listed, not failed):",
        [r for r in unaudited if not r.package.runtime],
        lambda r: f"{name(r)}: {plain(r.reason)}",
    )
    listing(
        "NOT AUDITED, needed at run time, held back on purpose (listed, not failed):",
        [r for r in unaudited if r.package.runtime and not r.fails],
        lambda r: f"{name(r)}: {plain(r.reason)}; held back: {held_back_because(r)}",
    )
    listing(
        "NOT AUDITED, needed at run time (fails):",
        [r for r in unaudited if r.package.runtime and r.fails],
        lambda r: f"{name(r)}: {plain(r.reason)}",
    )
    listing(
        "withdrawn advisories (ignored):",
        [r for r in audited if r.withdrawn],
        lambda r: f"{name(r)}: {'; '.join(r.withdrawn)}",
    )
    listing(
        "VULNERABLE (fails):",
        [r for r in audited if r.vulnerabilities],
        lambda r: f"{name(r)}: {'; '.join(r.vulnerabilities)}",
    )
    known = sum(len(r.vulnerabilities) for r in audited)
    say(
        f"known vulnerabilities: {known} in the {len(audited)} audited packages"
        + (f"; {len(unaudited)} not audited" if unaudited else "")
    )
    summary.status = 1 if any(r.fails for r in results) else 0
    return summary


def main() -> int:
    try:
        packages = installed()
        pip = pip_index()
    except (LookupError, AttributeError) as error:
        print(f"audit_dependencies: cannot run: {error}", file=sys.stderr)
        return 2
    api = json_api(pip.url) if pip.url else None
    if api is None:
        print(f"pip's index ({shown(pip.url) if pip.url else 'none'}) has no JSON API to ask")
    else:
        print(f"advisories from {shown(api)}, the JSON API of pip's index {shown(pip.url or '')}")
    index = Index(api, cert=pip.cert, proxy=pip.proxy) if api else None
    summary = summarise(audit(packages, index))
    print("\n".join(summary.lines))
    return summary.status


if __name__ == "__main__":
    sys.exit(main())
