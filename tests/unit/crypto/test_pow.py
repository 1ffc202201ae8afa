import hashlib

import pytest

from hrd_reports.crypto.pow import (
    InvalidChallenge,
    is_solution,
    issue_challenge,
    leading_zero_bits,
    read_challenge,
    solve,
    window_of,
)

SECRET = b"p" * 32


def test_issued_challenge_reads_back_and_its_solution_is_accepted() -> None:
    challenge = issue_challenge(SECRET, window=100, difficulty=8)
    assert read_challenge(SECRET, challenge.token) == challenge
    counter = solve(challenge.token, challenge.difficulty)
    assert is_solution(challenge, counter)
    digest = hashlib.sha256(challenge.token.encode() + counter.to_bytes(8, "big")).digest()
    assert leading_zero_bits(digest) >= 8


def test_challenges_are_unique() -> None:
    tokens = {issue_challenge(SECRET, window=1, difficulty=1).token for _ in range(100)}
    assert len(tokens) == 100


@pytest.mark.parametrize(
    "change",
    [
        lambda token: token.replace(".8.", ".1.", 1),  # easier difficulty, same MAC
        lambda token: "1.99." + token.split(".", 2)[2],  # another window
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # MAC altered
        lambda token: token + ".x",
        lambda token: "2" + token[1:],
        lambda token: "",
    ],
)
def test_altered_or_foreign_challenge_is_refused(change: object) -> None:
    challenge = issue_challenge(SECRET, window=100, difficulty=8)
    with pytest.raises(InvalidChallenge):
        read_challenge(SECRET, change(challenge.token))  # type: ignore[operator]
    with pytest.raises(InvalidChallenge):
        read_challenge(b"q" * 32, challenge.token)


def test_wrong_or_out_of_range_counters_are_not_solutions() -> None:
    challenge = issue_challenge(SECRET, window=1, difficulty=16)

    def zeros(counter: int) -> int:
        data = challenge.token.encode() + counter.to_bytes(8, "big")
        return leading_zero_bits(hashlib.sha256(data).digest())

    wrong = next(counter for counter in range(1000) if zeros(counter) < 16)
    assert not is_solution(challenge, wrong)
    assert not is_solution(challenge, -1)
    assert not is_solution(challenge, 2**64)


def test_leading_zero_bits_counts_bits_not_bytes() -> None:
    assert leading_zero_bits(b"\x80") == 0
    assert leading_zero_bits(b"\x01") == 7
    assert leading_zero_bits(b"\x00\x10") == 11
    assert leading_zero_bits(bytes(4)) == 32


def test_windows_are_ten_minutes() -> None:
    assert window_of(0) == window_of(599) == 0
    assert window_of(600) == 1
