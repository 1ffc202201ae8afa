"""Flood defence of the reporter side: the proof of work grows with a flood and falls back
after it, and a filling disk turns reporters' writes away with 503 before the database fails,
while staff pages keep working."""

import datetime as dt
import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from hrd_reports.crypto.pow import window_of
from hrd_reports.models import Report, SpentChallenge
from hrd_reports.services import challenges, clock
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.web.intake_guard import RETRY_AFTER_SECONDS, IntakeGuard
from hrd_reports.wiring import Runtime
from tests.helpers import Desk, post_report, report_content, solve

NORMAL_PER_HOUR = 30


@pytest.fixture
def client(settings: Settings, runtime: Runtime, desk: Desk) -> Iterator[TestClient]:
    flood_settings = settings.model_copy(
        update={"pow_flood_per_hour": NORMAL_PER_HOUR, "pow_flood_max_extra_bits": 3}
    )
    with TestClient(create_app(flood_settings, runtime=runtime)) as test_client:
        yield test_client


def _guard(client: TestClient) -> IntakeGuard:
    guard: IntakeGuard = client.app.state.intake_guard  # type: ignore[attr-defined]
    return guard


def _accepted_proofs(desk: Desk, count: int) -> None:
    """As if ``count`` proofs had been spent in this window (a flood's submissions)."""
    window = window_of(clock.utc_now().timestamp())
    with desk.session() as session:
        session.add_all(
            SpentChallenge(nonce_hash=os.urandom(32), window=window) for _ in range(count)
        )
        session.commit()


def _difficulty(client: TestClient) -> int:
    difficulty: int = client.get("/api/v1/challenge").json()["difficulty"]
    return difficulty


@pytest.mark.parametrize(
    ("recent", "expected_extra"),
    [(0, 0), (10, 0), (11, 1), (20, 1), (21, 2), (40, 2), (41, 3), (10_000, 3)],
)
def test_flood_difficulty_adds_a_bit_per_doubling_above_the_normal_rate_up_to_a_bound(
    recent: int, expected_extra: int
) -> None:
    # Two windows of proofs are about a third of an hour's: 10 of them is 30 an hour.
    assert (
        challenges.flood_difficulty(
            recent=recent, base=12, normal_per_hour=NORMAL_PER_HOUR, max_extra=3
        )
        == 12 + expected_extra
    )


def test_challenge_grows_harder_in_a_flood_and_falls_back_after_it(
    client: TestClient, desk: Desk, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = settings.pow_difficulty_bits
    assert _difficulty(client) == base
    easy = client.get("/api/v1/challenge").json()

    _accepted_proofs(desk, 35)
    _guard(client).measure()
    assert _difficulty(client) == base + 2

    # A challenge handed out before the flood keeps its difficulty: its reporter is not sent
    # back to solve a harder one.
    before = {"challenge": easy["challenge"], "counter": solve(easy["challenge"], base)}
    _receipt, answer = post_report(
        client, report_content("CANARY-flood before"), proof_of_work=before
    )
    assert answer.status_code == 201, answer.text

    # Twenty minutes later the flood's proofs have aged out of both windows.
    later = clock.utc_now() + dt.timedelta(minutes=21)
    monkeypatch.setattr(challenges, "utc_now", lambda: later)
    _guard(client).measure()
    assert _difficulty(client) == base


def test_low_disk_refuses_reporters_writes_with_503_and_stores_nothing(
    settings: Settings, runtime: Runtime, desk: Desk
) -> None:
    # More free space asked for than any disk has: the guard finds the disk low.
    low = settings.model_copy(update={"min_free_disk_mb": 2**40})
    with TestClient(create_app(low, runtime=runtime)) as client:
        _guard(client).measure()
        if not settings.database_url.startswith("sqlite"):
            # A PostgreSQL server's disk is not this process's to see: never a false alarm.
            assert not _guard(client).disk_low
            return
        assert _guard(client).disk_low

        _receipt, refused = post_report(client, report_content("CANARY-disk full"))
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
        assert "nothing was stored" in refused.json()["detail"]
        assert refused.headers["cache-control"] == "no-store"

        page = client.post("/report?lang=ar", data={"narrative": "x", "no_script": "yes"})
        assert page.status_code == 503
        assert page.headers["content-type"].startswith("text/html")
        assert 'lang="ar"' in page.text
        assert "set-cookie" not in page.headers

        # Reading goes on: the reporter's pages and the staff's.
        assert client.get("/report").status_code == 200
        assert client.get("/inbox").status_code == 200
        assert client.get("/dashboard/login").status_code == 200
    with desk.session() as session:
        assert session.execute(select(func.count()).select_from(Report)).scalar_one() == 0
