"""Proof-of-work challenges: stateless to hand out, spent once, forgotten when useless."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from hrd_reports.crypto.pow import WINDOW_SECONDS, is_solution, solve
from hrd_reports.models import SpentChallenge
from hrd_reports.services import challenges
from hrd_reports.services.challenges import ProofOfWorkRefused
from tests.helpers import Desk

DIFFICULTY = 6


def _spend(desk: Desk, token: str, counter: int, difficulty: int = DIFFICULTY) -> None:
    with desk.session() as session:
        challenges.spend(
            session, token=token, counter=counter, secrets=desk.secrets, difficulty=difficulty
        )
        session.commit()


def _spent_rows(desk: Desk) -> int:
    with desk.session() as session:
        return session.execute(select(func.count()).select_from(SpentChallenge)).scalar_one()


def _travel(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    monkeypatch.setattr(challenges, "utc_now", lambda: moment)


def test_a_solved_challenge_is_spent_once(desk: Desk) -> None:
    challenge = challenges.issue(secrets=desk.secrets, difficulty=DIFFICULTY)
    counter = solve(challenge.token, challenge.difficulty)
    _spend(desk, challenge.token, counter)
    with pytest.raises(ProofOfWorkRefused, match="already used"):
        _spend(desk, challenge.token, counter)
    assert _spent_rows(desk) == 1


def test_unsolved_forged_or_too_easy_challenges_are_refused(desk: Desk) -> None:
    challenge = challenges.issue(secrets=desk.secrets, difficulty=DIFFICULTY)
    counter = solve(challenge.token, challenge.difficulty)
    wrong = next(c for c in range(counter + 1, counter + 10_000) if not is_solution(challenge, c))
    with pytest.raises(ProofOfWorkRefused, match="not solved"):
        _spend(desk, challenge.token, wrong)
    with pytest.raises(ProofOfWorkRefused, match="not valid"):
        _spend(desk, challenge.token.replace(f".{DIFFICULTY}.", ".1.", 1), counter)
    with pytest.raises(ProofOfWorkRefused, match="too easy"):
        _spend(desk, challenge.token, counter, difficulty=DIFFICULTY + 1)
    assert _spent_rows(desk) == 0


def test_a_challenge_expires_after_its_next_window(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    challenge = challenges.issue(secrets=desk.secrets, difficulty=DIFFICULTY)
    counter = solve(challenge.token, challenge.difficulty)
    _travel(monkeypatch, 2 * WINDOW_SECONDS)
    with pytest.raises(ProofOfWorkRefused, match="expired"):
        _spend(desk, challenge.token, counter)


def test_spent_challenges_are_forgotten_once_they_could_no_longer_be_used(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = challenges.issue(secrets=desk.secrets, difficulty=DIFFICULTY)
    _spend(desk, old.token, solve(old.token, old.difficulty))
    _travel(monkeypatch, 2 * WINDOW_SECONDS)
    fresh = challenges.issue(secrets=desk.secrets, difficulty=DIFFICULTY)
    _spend(desk, fresh.token, solve(fresh.token, fresh.difficulty))
    with desk.session() as session:
        windows = list(session.execute(select(SpentChallenge.window)).scalars())
    assert windows == [fresh.window]


def test_spent_challenges_are_forgotten_even_when_the_first_purge_was_rolled_back(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = challenges.issue(secrets=desk.secrets, difficulty=DIFFICULTY)
    _spend(desk, old.token, solve(old.token, old.difficulty))
    _travel(monkeypatch, 2 * WINDOW_SECONDS)
    # The first spend of the new window purges, but its submission is refused afterwards and
    # the whole transaction, purge included, is rolled back.
    refused = challenges.issue(secrets=desk.secrets, difficulty=DIFFICULTY)
    with desk.session() as session:
        challenges.spend(
            session,
            token=refused.token,
            counter=solve(refused.token, refused.difficulty),
            secrets=desk.secrets,
            difficulty=DIFFICULTY,
        )
        session.rollback()
    fresh = challenges.issue(secrets=desk.secrets, difficulty=DIFFICULTY)
    _spend(desk, fresh.token, solve(fresh.token, fresh.difficulty))
    with desk.session() as session:
        windows = list(session.execute(select(SpentChallenge.window)).scalars())
    assert windows == [fresh.window]
