"""The reporter API: ciphertext in, a report id out; every bad request a 4xx that stores nothing."""

import asyncio
import base64
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import TimeoutError as PoolTimeout

from hrd_reports.crypto.pow import solve
from hrd_reports.crypto.submission import new_submission
from hrd_reports.crypto.xwing import PrivateKey, PublicKey, fingerprint_of
from hrd_reports.db import DatabaseBusy
from hrd_reports.models import Report, SpentChallenge
from hrd_reports.services import challenges, intake
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.helpers import Desk, Person, post_report, report_content, run_coroutine, unsolved_work


@pytest.fixture
def client(settings: Settings, runtime: Runtime, desk: Desk) -> TestClient:
    return TestClient(create_app(settings, runtime=runtime))


def _stored(desk: Desk) -> tuple[int, int]:
    """Reports and spent challenges: a refusal must leave both as they were."""
    with desk.session() as session:
        reports = session.execute(select(func.count()).select_from(Report)).scalar_one()
        spent = session.execute(select(func.count()).select_from(SpentChallenge)).scalar_one()
    return reports, spent


def work(client: TestClient) -> dict[str, Any]:
    challenge = client.get("/api/v1/challenge").json()
    counter = solve(challenge["challenge"], challenge["difficulty"])
    return {"challenge": challenge["challenge"], "counter": counter}


def envelope(client: TestClient, *, to: PublicKey | None = None, **changes: Any) -> dict[str, Any]:
    raw = base64.b64decode(client.get("/api/v1/intake-key").json()["public_key"])
    _, submission = new_submission(report_content("refused"), intake_key=to or PublicKey(raw))
    return submission.to_wire() | changes


def _cut(text: str, length: int = 100) -> str:
    return base64.b64encode(base64.b64decode(text)[:-length]).decode()


def test_intake_key_is_the_desks_active_key(client: TestClient, desk: Desk) -> None:
    answer = client.get("/api/v1/intake-key").json()
    raw = base64.b64decode(answer["public_key"])
    assert raw == desk.intake_key().raw
    assert answer["key_id"] == desk.intake_key().key_id
    assert answer["fingerprint"] == fingerprint_of(raw)
    assert answer["suite"] == "hpke-xwing-hkdfsha256-aes256gcm"


def test_challenge_names_its_algorithm_and_difficulty(
    client: TestClient, settings: Settings
) -> None:
    answer = client.get("/api/v1/challenge").json()
    assert answer["algorithm"] == "sha256-leading-zero-bits"
    assert answer["difficulty"] == settings.pow_difficulty_bits
    assert answer["challenge"] != client.get("/api/v1/challenge").json()["challenge"]


def test_encrypted_report_is_stored_and_reads_back_for_a_key_holder(
    client: TestClient, desk: Desk, admin: Person
) -> None:
    _, response = post_report(client, report_content("over the wire"))
    assert response.status_code == 201
    view = desk.show(admin, response.json()["report_id"])  # type: ignore[arg-type]
    assert view.content is not None
    assert view.content["narrative"] == "over the wire"
    assert not view.server_sealed
    assert "set-cookie" not in response.headers


Body = Callable[[TestClient], dict[str, Any]]
REFUSALS: list[tuple[str, Body, int, str]] = [
    ("no envelope", lambda c: {"proof_of_work": work(c)}, 422, "envelope"),
    ("no proof of work", lambda c: {"envelope": envelope(c)}, 422, "proof_of_work"),
    (
        "forged challenge",
        lambda c: {
            "proof_of_work": {"challenge": "1.2.3.forged.mac", "counter": 1},
            "envelope": envelope(c),
        },
        400,
        "anti-spam check is not valid",
    ),
    (
        # str.isdigit() took the superscript two and int() did not: it was a 500.
        "challenge with a digit int() cannot read",
        lambda c: {
            "proof_of_work": {"challenge": "1.\u00b2.4.forged.mac", "counter": 1},
            "envelope": envelope(c),
        },
        400,
        "anti-spam check is not valid",
    ),
    (
        "unsolved challenge",
        lambda c: {"proof_of_work": unsolved_work(c), "envelope": envelope(c)},
        400,
        "not solved",
    ),
    (
        "key the desk never had",
        lambda c: {
            "proof_of_work": work(c),
            "envelope": envelope(c, to=PrivateKey.generate().public),
        },
        400,
        "key the desk does not have",
    ),
    (
        "truncated body",
        lambda c: {
            "proof_of_work": work(c),
            "envelope": (e := envelope(c)) | {"body": _cut(e["body"])},
        },
        400,
        "padded",
    ),
    (
        "truncated sealed key",
        lambda c: {
            "proof_of_work": work(c),
            "envelope": (e := envelope(c)) | {"sealed_dek": _cut(e["sealed_dek"])},
        },
        400,
        "sealed data key",
    ),
    (
        "unknown version",
        lambda c: {"proof_of_work": work(c), "envelope": envelope(c, version=2)},
        400,
        "version",
    ),
    (
        "bad report id",
        lambda c: {"proof_of_work": work(c), "envelope": envelope(c, report_id="x")},
        400,
        "report_id",
    ),
    (
        # A lax parser read "1" and true as the version 1, past the envelope parser's own
        # type check; the public document says an integer, and only an integer is taken.
        "version as a string",
        lambda c: {"proof_of_work": work(c), "envelope": envelope(c, version="1")},
        422,
        "version",
    ),
    (
        "version as true",
        lambda c: {"proof_of_work": work(c), "envelope": envelope(c, version=True)},
        422,
        "version",
    ),
    (
        "counter as a string",
        lambda c: {
            "proof_of_work": (proof := work(c)) | {"counter": str(proof["counter"])},
            "envelope": envelope(c),
        },
        422,
        "counter",
    ),
    (
        "not base64",
        lambda c: {"proof_of_work": work(c), "envelope": envelope(c, body="***")},
        422,
        "body",
    ),
    (
        "extra field",
        lambda c: {"proof_of_work": work(c), "envelope": envelope(c, extra="x")},
        422,
        "extra",
    ),
]


@pytest.mark.parametrize(
    ("make_body", "status", "message"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_bad_submission_is_a_4xx_with_a_message_and_stores_nothing(
    client: TestClient, desk: Desk, make_body: Body, status: int, message: str
) -> None:
    response = client.post("/api/v1/reports", json=make_body(client))
    assert response.status_code == status, response.text
    assert message in response.text
    assert _stored(desk) == (0, 0)


def test_malformed_json_is_a_422_that_echoes_nothing(client: TestClient, desk: Desk) -> None:
    response = client.post(
        "/api/v1/reports",
        content=b'{"envelope": "CANARY-echo',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert "CANARY-echo" not in response.text
    assert _stored(desk) == (0, 0)


def test_oversized_request_is_a_413_before_it_is_read(client: TestClient, desk: Desk) -> None:
    response = client.post(
        "/api/v1/reports",
        content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert "content-security-policy" in response.headers
    assert _stored(desk) == (0, 0)


def test_content_length_of_thousands_of_digits_is_a_413(client: TestClient, desk: Desk) -> None:
    response = client.post("/api/v1/reports", content=b"{}", headers={"content-length": "9" * 5000})
    assert response.status_code == 413
    assert _stored(desk) == (0, 0)


def test_replayed_proof_of_work_is_refused(client: TestClient, desk: Desk) -> None:
    proof = work(client)
    first = client.post(
        "/api/v1/reports", json={"proof_of_work": proof, "envelope": envelope(client)}
    )
    assert first.status_code == 201
    again = client.post(
        "/api/v1/reports", json={"proof_of_work": proof, "envelope": envelope(client)}
    )
    assert again.status_code == 400
    assert "already used" in again.json()["detail"]
    assert _stored(desk) == (1, 1)


def test_report_sent_again_with_its_receipt_is_answered_as_received_and_stored_once(
    client: TestClient, desk: Desk
) -> None:
    # The reporter's browser sends again when the first answer was lost on the way.
    sealed = envelope(client)
    first = client.post("/api/v1/reports", json={"proof_of_work": work(client), "envelope": sealed})
    assert first.status_code == 201
    again = client.post("/api/v1/reports", json={"proof_of_work": work(client), "envelope": sealed})
    assert again.status_code == 201
    assert again.json() == first.json()
    assert _stored(desk)[0] == 1


def test_report_id_taken_by_another_receipt_is_refused(client: TestClient, desk: Desk) -> None:
    sealed = envelope(client)
    assert (
        client.post(
            "/api/v1/reports", json={"proof_of_work": work(client), "envelope": sealed}
        ).status_code
        == 201
    )
    other = envelope(client, report_id=sealed["report_id"])
    again = client.post("/api/v1/reports", json={"proof_of_work": work(client), "envelope": other})
    assert again.status_code == 409
    assert "already received" in again.json()["detail"]
    assert _stored(desk) == (1, 1)


def test_report_sealed_to_a_key_retired_since_is_told_to_send_again(
    client: TestClient, desk: Desk, admin: Person
) -> None:
    stale = envelope(client)
    desk.rotate(by=admin)
    response = client.post(
        "/api/v1/reports", json={"proof_of_work": work(client), "envelope": stale}
    )
    assert response.status_code == 409
    assert "send it again" in response.json()["detail"]
    assert _stored(desk) == (0, 0)


def test_only_the_reporter_api_is_described_publicly(client: TestClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    assert set(document["paths"]) == {
        "/api/v1/intake-key",
        "/api/v1/challenge",
        "/api/v1/reports",
        "/api/v1/inbox",
        "/api/v1/inbox/messages",
        "/api/v1/inbox/withdraw",
        "/api/v1/uploads",
        "/api/v1/uploads/{attachment_id}",
        "/api/v1/uploads/{attachment_id}/chunks/{index}",
    }
    for path in ("/openapi.json", "/docs", "/api/v1/docs"):
        assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    "stall",
    [
        DatabaseBusy("the database stayed busy; try again"),
        PoolTimeout("QueuePool limit of size 5 overflow 10 reached"),
    ],
    ids=["write lock", "connection pool"],
)
def test_database_too_busy_is_a_503_to_try_again_and_stores_nothing(
    client: TestClient, desk: Desk, monkeypatch: pytest.MonkeyPatch, stall: Exception
) -> None:
    # A stalled database is no crash: the reporter's page is told to send again shortly.
    def stalled(*_args: Any, **_kwargs: Any) -> None:
        raise stall

    before = _stored(desk)
    # Where the group commit stores every submission it holds.
    monkeypatch.setattr(intake, "store_submissions", stalled)
    response = client.post(
        "/api/v1/reports", json={"proof_of_work": work(client), "envelope": envelope(client)}
    )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "busy" in response.json()["detail"]
    assert response.headers["x-frame-options"] == "DENY"
    assert _stored(desk) == before


def test_an_app_served_again_takes_reports_again(
    settings: Settings, runtime: Runtime, desk: Desk
) -> None:
    # Its first lifespan's end stopped the group commit; the next one starts it again.
    app = create_app(settings, runtime=runtime)
    with TestClient(app) as client:
        _receipt, first = post_report(client, report_content("served once"))
    with TestClient(app) as client:
        _receipt, again = post_report(client, report_content("served again"))
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert _stored(desk)[0] == 2


def test_a_crash_while_storing_is_a_500_that_says_nothing_more_and_stores_nothing(
    settings: Settings, runtime: Runtime, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Answered before the framework's own error handling (web.intake_path): the answer must
    # still be the API's, with every answer's security headers, and name nothing it held.
    client = TestClient(create_app(settings, runtime=runtime), raise_server_exceptions=False)

    def crashed(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("CANARY-crash the words of a report")

    before = _stored(desk)
    monkeypatch.setattr(intake, "store_submissions", crashed)
    response = client.post(
        "/api/v1/reports", json={"proof_of_work": work(client), "envelope": envelope(client)}
    )
    assert response.status_code == 500
    assert "something went wrong" in response.json()["detail"]
    assert "CANARY" not in response.text
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["cache-control"] == "no-store"
    assert _stored(desk) == before


def test_a_crash_while_issuing_a_challenge_is_a_500_with_the_security_headers(
    settings: Settings, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = TestClient(create_app(settings, runtime=runtime), raise_server_exceptions=False)

    def crashed(**_kwargs: Any) -> None:
        raise RuntimeError("the challenge's secret is unreadable")

    monkeypatch.setattr(challenges, "issue", crashed)
    response = client.get("/api/v1/challenge")
    assert response.status_code == 500
    assert "something went wrong" in response.json()["detail"]
    assert "secret" not in response.text
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["x-content-type-options"] == "nosniff"


async def _answer_when_cut_off(app: Any, method: str, path: str) -> list[dict[str, Any]]:
    """What ``app`` sends for a request whose body never ends, cut off as a stopping server
    cuts off the requests still in flight (their task cancelled)."""
    sent: list[dict[str, Any]] = []

    async def never_ends() -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
        ],
        "client": None,
        "server": ("testserver", 80),
    }
    request = asyncio.ensure_future(app(scope, never_ends, send))
    await asyncio.sleep(0.1)
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    return sent


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/v1/challenge"), ("POST", "/api/v1/reports")]
)
def test_a_request_cut_off_by_a_stopping_server_is_a_503_to_send_again(
    settings: Settings, runtime: Runtime, desk: Desk, method: str, path: str
) -> None:
    # Not uvicorn's bare 500 without the security headers: the reporter's page is told that
    # nothing went wrong with what it sent, and to send it again in a moment.
    before = _stored(desk)
    sent = run_coroutine(_answer_when_cut_off(create_app(settings, runtime=runtime), method, path))
    start, body = sent
    headers = dict(start["headers"])
    assert start["status"] == 503
    assert headers[b"retry-after"] == b"5"
    assert headers[b"cache-control"] == b"no-store"
    assert headers[b"x-frame-options"] == b"DENY"
    assert b"try again" in body["body"]
    assert _stored(desk) == before


def test_intake_answers_carry_hsts_and_the_onion_location_when_configured(
    settings: Settings, runtime: Runtime
) -> None:
    onion = f"http://{'a' * 56}.onion"
    behind_tls = settings.model_copy(
        update={"onion_location": onion, "public_url": "https://desk.example.org"}
    )
    client = TestClient(create_app(behind_tls, runtime=runtime))
    for response in (
        client.get("/api/v1/challenge"),
        client.post("/api/v1/reports", json={}),
    ):
        assert response.headers["strict-transport-security"] == "max-age=63072000"
        assert response.headers["onion-location"].startswith(onion + "/api/v1/")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"", "application/json"),
        (b'{"proof_of_work": {"challenge": "\xff", "counter": 1}}', "application/json"),
        (b'{"proof_of_work": {"challenge": "\\ud800", "counter": 1}}', "application/json"),
        (b"[" * 5000 + b"]" * 5000, "application/json"),
        (b"{}", "text/plain"),
        (b"{}", None),
    ],
    ids=[
        "not JSON",
        "not an object",
        "empty",
        "not UTF-8",
        "lone surrogate",
        "nested too deep",
        "sent as text",
        "no type",
    ],
)
def test_a_body_that_is_not_a_submission_is_a_422_and_stores_nothing(
    client: TestClient, desk: Desk, body: bytes, content_type: str | None
) -> None:
    # Answered below the router (web.intake_path): the refusal must still be the API's own.
    before = _stored(desk)
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/api/v1/reports", content=body, headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert all(error["loc"][0] == "body" for error in response.json()["detail"])
    # The security headers of every answer.
    assert response.headers["x-content-type-options"] == "nosniff"
    assert _stored(desk) == before


def test_an_unsolved_or_misshapen_submission_is_refused_before_the_database(
    client: TestClient, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A flood of submissions with no work done, or cut short, must not reach the transaction
    # that holds the write lock: they are refused as they arrive.
    stored: list[int] = []
    real = intake.store_submissions

    def recorded(session: Any, submitted: Any, **kwargs: Any) -> Any:
        stored.append(len(submitted))
        return real(session, submitted, **kwargs)

    monkeypatch.setattr(intake, "store_submissions", recorded)
    unsolved = client.post(
        "/api/v1/reports",
        json={"proof_of_work": unsolved_work(client), "envelope": envelope(client)},
    )
    cut_short = client.post(
        "/api/v1/reports",
        json={
            "proof_of_work": work(client),
            "envelope": envelope(client, sealed_dek=_cut(envelope(client)["sealed_dek"])),
        },
    )
    assert (unsolved.status_code, cut_short.status_code) == (400, 400)
    assert "not solved" in unsolved.json()["detail"]
    assert "sealed data key" in cut_short.json()["detail"]
    assert stored == []
