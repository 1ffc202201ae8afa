"""The manifest a desk serves, and the verifier's judgement of what a desk answers, with the
application in a test client (the real server: test_verify_assets.py)."""

import json
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient

from hrd_reports.settings import Settings
from hrd_reports.verify_assets import Verdict, desk_client, desk_origin, verify
from hrd_reports.web.headers import CONTENT_SECURITY_POLICY
from hrd_reports.web.manifest import (
    MANIFEST_PATH,
    build_manifest,
    canonical_page,
    manifest_bytes,
    sha256_b64url,
)
from hrd_reports.web.pages import Pages

ORIGIN = "http://desk.test"
# What a desk's answer may be changed into, on its way to the verifier.
Tamper = Callable[[httpx.Request, httpx.Response], httpx.Response]


def _bridge(
    client: TestClient, tamper: Tamper | None, sent: list[httpx.Request]
) -> httpx.MockTransport:
    """The verifier's requests, answered by the application."""

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        got = client.get(request.url.raw_path.decode())
        # The test client decoded the body already: it goes on without its encoding.
        headers = [
            (name, value)
            for name, value in got.headers.items()
            if name not in {"content-encoding", "content-length"}
        ]
        response = httpx.Response(got.status_code, headers=headers, content=got.content)
        return tamper(request, response) if tamper else response

    return httpx.MockTransport(answer)


def _verify(
    client: TestClient, tamper: Tamper | None = None
) -> tuple[Verdict, list[httpx.Request]]:
    sent: list[httpx.Request] = []
    with desk_client(proxy=None, transport=_bridge(client, tamper, sent)) as desk:
        return verify(ORIGIN, client=desk), sent


def _paths(verdict: Verdict) -> set[str]:
    return {difference.path for difference in verdict.differences}


def test_desk_serves_the_manifest_this_release_builds(
    client: TestClient, settings: Settings
) -> None:
    response = client.get(MANIFEST_PATH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == manifest_bytes(build_manifest(settings, Pages(settings)))
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers


def test_served_pages_match_the_manifest_once_the_form_token_is_emptied(
    client: TestClient,
) -> None:
    pages = client.get(MANIFEST_PATH).json()["hrd_reports"]["pages"]
    for url, digest in pages.items():
        assert sha256_b64url(canonical_page(client.get(url).content)) == digest, url
    # Two forms differ by their tokens alone.
    first, second = client.get("/report?lang=en").content, client.get("/report?lang=en").content
    assert first != second
    assert canonical_page(first) == canonical_page(second)


def test_untouched_desk_is_identical(client: TestClient) -> None:
    verdict, sent = _verify(client)
    assert verdict.differences == []
    assert len(verdict.checked) == len(sent) > 30


def test_desk_announcing_a_file_this_release_lacks_is_named(client: TestClient) -> None:
    def announce(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.url.path != MANIFEST_PATH:
            return response
        document = json.loads(response.content)
        document["manifest"]["files"]["/static/js/extra.js"] = "A" * 43
        return httpx.Response(200, headers=response.headers, content=manifest_bytes(document))

    verdict, _ = _verify(client, announce)
    assert _paths(verdict) == {MANIFEST_PATH, "/static/js/extra.js"}


def test_desk_declaring_settings_no_desk_accepts_is_named(client: TestClient) -> None:
    def declare(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.url.path != MANIFEST_PATH:
            return response
        document = json.loads(response.content)
        document["hrd_reports"]["desk"]["quick_exit_url"] = "javascript:alert(1)"
        return httpx.Response(200, headers=response.headers, content=manifest_bytes(document))

    verdict, _ = _verify(client, declare)
    assert f"{MANIFEST_PATH} desk" in _paths(verdict)


def test_desk_serving_no_manifest_is_named_and_its_files_are_still_checked(
    client: TestClient,
) -> None:
    def missing(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        return httpx.Response(404) if request.url.path == MANIFEST_PATH else response

    verdict, _ = _verify(client, missing)
    assert _paths(verdict) == {MANIFEST_PATH}
    assert verdict.differences[0].got == "HTTP 404"
    assert "/static/vendor/hpke.min.js" in verdict.checked


def test_verifier_sends_no_cookie_a_desk_sets_and_names_it(client: TestClient) -> None:
    def with_cookie(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        response.headers["set-cookie"] = "tracker=1; Path=/"
        return response

    verdict, sent = _verify(client, with_cookie)
    assert [request for request in sent if "cookie" in request.headers] == []
    assert f"{MANIFEST_PATH} Set-Cookie" in _paths(verdict)
    assert "/?lang=en Set-Cookie" in _paths(verdict)


def test_page_served_under_another_policy_is_named_with_what_differs(
    client: TestClient,
) -> None:
    def weaker(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.url.path == "/inbox":
            response.headers["content-security-policy"] = CONTENT_SECURITY_POLICY
        return response

    verdict, _ = _verify(client, weaker)
    changed = [d for d in verdict.differences if d.path.endswith("Content-Security-Policy")]
    assert {d.path for d in changed} == {
        f"/inbox?lang={code} Content-Security-Policy" for code in ("en", "ar", "ckb", "kmr")
    }
    assert changed[0].got == "script-src 'self'"
    assert changed[0].expected.startswith("script-src 'sha384-")


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://desk.example.org", "https://desk.example.org"),
        ("http://desk.example.org:8080/", "http://desk.example.org:8080"),
        (" http://" + "a" * 56 + ".onion ", "http://" + "a" * 56 + ".onion"),
    ],
)
def test_desk_origin_of_an_address(url: str, origin: str) -> None:
    assert desk_origin(url) == origin


@pytest.mark.parametrize(
    "url",
    [
        "desk.example.org",
        "ftp://desk.example.org",
        "https://desk.example.org/report",
        "https://desk.example.org/?lang=ar",
        "https://user@desk.example.org",
    ],
)
def test_address_that_is_not_a_desk_origin_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="address"):
        desk_origin(url)
