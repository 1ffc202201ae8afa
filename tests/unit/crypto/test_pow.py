import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


ISSUED = issue_challenge(SECRET, window=100, difficulty=8)


@pytest.mark.parametrize(
    "number",
    [
        "\u00b2",  # a superscript two: str.isdigit() takes it, int() refuses it
        "\u0661\u0660\u0660",  # 100 in Arabic-Indic digits: int() reads it as the real window
        "9" * 5000,  # longer than int() reads
    ],
)
def test_challenge_with_a_number_not_in_ascii_digits_is_refused(number: str) -> None:
    # A forged token must be refused like any other, not crash the request (a 500, and on
    # the form without JavaScript a lost report) nor pass as the token that was issued.
    _, window, difficulty, nonce, mac = ISSUED.token.split(".")
    for token in (f"1.{number}.{difficulty}.{nonce}.{mac}", f"1.{window}.{number}.{nonce}.{mac}"):
        with pytest.raises(InvalidChallenge):
            read_challenge(SECRET, token)


# Ten digits of the scripts a token could be retyped or pasted in, superscripts included.
DIGIT_SETS = [
    "0123456789",
    "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",  # Arabic-Indic
    "\u06f0\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6\u06f7\u06f8\u06f9",  # Persian
    "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19",  # fullwidth
    "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079",  # superscript
]


@st.composite
def near_tokens(draw: st.DrawFn) -> str:
    """The issued token with some parts replaced: by any text, or for the window and the
    difficulty by the same number spelled another way (another script, leading zeros)."""
    parts = ISSUED.token.split(".")
    for position, part in enumerate(parts):
        change = draw(st.sampled_from(["as issued", "respelled", "any text"]))
        if change == "respelled" and part.isdigit():
            digits = draw(st.sampled_from(DIGIT_SETS))
            zeros = draw(st.integers(0, 2))
            parts[position] = digits[0] * zeros + "".join(digits[int(d)] for d in part)
        elif change == "any text":
            parts[position] = draw(st.text())
    return ".".join(parts + draw(st.lists(st.text(), max_size=2)))


@given(near_tokens())
def test_challenge_reads_back_only_as_the_very_token_issued(token: str) -> None:
    # Anything else, however close, is refused with InvalidChallenge, never another
    # exception: a 500 instead of a refusal, or the same challenge under a second spelling.
    try:
        challenge = read_challenge(SECRET, token)
    except InvalidChallenge:
        return
    assert challenge == ISSUED
