import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hrd_reports.crypto.errors import InvalidReceipt
from hrd_reports.crypto.receipts import (
    RANDOM_DIGITS,
    RECEIPT_DIGITS,
    damm_check_digit,
    derive_receipt_keys,
    format_receipt,
    generate_receipt,
    lookup_hash,
    normalise_receipt,
)

ARABIC_INDIC = {str(i): chr(0x0660 + i) for i in range(10)}
PERSIAN = {str(i): chr(0x06F0 + i) for i in range(10)}
canonical_receipts = st.text("0123456789", min_size=RANDOM_DIGITS, max_size=RANDOM_DIGITS).map(
    lambda digits: digits + damm_check_digit(digits)
)


def test_receipt_carries_at_least_80_bits() -> None:
    assert RANDOM_DIGITS * math.log2(10) >= 80
    # ...and every random position really varies: 3000 receipts show each of the ten digits
    # at each position (a generator drawing from a small range would leave digits out).
    receipts = [normalise_receipt(generate_receipt()) for _ in range(3000)]
    for position in range(RANDOM_DIGITS):
        assert {receipt[position] for receipt in receipts} == set("0123456789"), position


def test_generated_receipt_is_seven_groups_of_four_digits_and_valid() -> None:
    receipt = generate_receipt()
    groups = receipt.split(" ")
    assert [len(group) for group in groups] == [4] * 7
    assert all(group.isascii() and group.isdigit() for group in groups)
    assert normalise_receipt(receipt) == receipt.replace(" ", "")


def test_generated_receipts_do_not_repeat() -> None:
    assert len({generate_receipt() for _ in range(2000)}) == 2000


def test_check_digit_catches_every_single_wrong_digit() -> None:
    canonical = normalise_receipt(generate_receipt())
    for position in range(RECEIPT_DIGITS):
        for digit in "0123456789":
            if digit == canonical[position]:
                continue
            typo = canonical[:position] + digit + canonical[position + 1 :]
            with pytest.raises(InvalidReceipt):
                normalise_receipt(typo)


def test_check_digit_catches_every_swap_of_neighbours() -> None:
    canonical = "3141592653589793238462643382"
    for position in range(RECEIPT_DIGITS - 1):
        a, b = canonical[position], canonical[position + 1]
        if a == b:
            continue
        swapped = canonical[:position] + b + a + canonical[position + 2 :]
        with pytest.raises(InvalidReceipt):
            normalise_receipt(swapped)


@given(
    canonical_receipts,
    st.sampled_from([ARABIC_INDIC, PERSIAN, {}]),
    st.sampled_from([" ", "-", "\u00a0", "\u200f", " \u2013 "]),
)
def test_receipt_typed_with_any_digits_and_separators_normalises_to_the_same(
    canonical: str, digits: dict[str, str], separator: str
) -> None:
    typed = separator.join(
        "".join(digits.get(char, char) for char in group)
        for group in format_receipt(canonical).split(" ")
    )
    assert normalise_receipt(f" {typed}\n") == canonical


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "3141 5926",
        "3141 5926 5358 9793 2384 6264 3382 1",
        "3141 5926 5358 9793 2384 6264 338x",
        "<script>",
    ],
)
def test_malformed_receipt_is_refused(typed: str) -> None:
    with pytest.raises(InvalidReceipt):
        normalise_receipt(typed)


def test_receipt_derives_distinct_token_and_key() -> None:
    receipt = generate_receipt()
    keys = derive_receipt_keys(receipt)
    again = derive_receipt_keys(receipt.replace(" ", "-"))
    assert keys.lookup_token == again.lookup_token
    assert keys.reporter_key.public.raw == again.reporter_key.public.raw
    assert keys.lookup_token != keys.reporter_key.seed()
    other = derive_receipt_keys(generate_receipt())
    assert other.lookup_token != keys.lookup_token


def test_lookup_hash_depends_on_the_server_secret() -> None:
    token = derive_receipt_keys(generate_receipt()).lookup_token
    first = lookup_hash(token, lookup_secret=b"a" * 32)
    assert first == lookup_hash(token, lookup_secret=b"a" * 32)
    assert first != lookup_hash(token, lookup_secret=b"b" * 32)
    assert token not in first


# Every form of one digit a receipt may arrive in: ASCII, Arabic-Indic and Persian (typed on
# Arabic, Kurdish and Persian keyboards), and the fullwidth and mathematical forms that
# Unicode compatibility folds to ASCII (pasted from a PDF or a chat app).
DIGIT_FORMS = {
    str(d): [str(d), chr(0x0660 + d), chr(0x06F0 + d), chr(0xFF10 + d), chr(0x1D7CE + d)]
    for d in range(10)
}
# What people put between groups: spaces of every width, dashes, a kashida, and the invisible
# direction marks a right-to-left page wraps digits in.
SEPARATORS = (
    " \t\n-_.\u00a0\u2009\u202f\u3000\u200e\u200f\u061c\u2066\u2069\u2013\u2212\u0640\uff0d"
)
separator_runs = st.text(st.sampled_from(SEPARATORS), max_size=3)


@st.composite
def typed_forms(draw: st.DrawFn, canonical: str) -> str:
    """``canonical`` as a person may type or paste it: any digit form, any grouping."""
    typed = [draw(separator_runs)]
    for digit in canonical:
        typed += [draw(st.sampled_from(DIGIT_FORMS[digit])), draw(separator_runs)]
    return "".join(typed)


@given(st.data(), canonical_receipts)
def test_receipt_typed_in_any_digit_form_and_grouping_normalises_to_the_same_canonical_form(
    data: st.DataObject, canonical: str
) -> None:
    typed = data.draw(typed_forms(canonical))
    assert normalise_receipt(typed) == canonical
    # Idempotent: the canonical form, and the form shown to the reporter, read back as is.
    assert normalise_receipt(canonical) == canonical
    assert normalise_receipt(format_receipt(canonical)) == canonical


@st.composite
def near_receipts(draw: st.DrawFn) -> str:
    """A typed receipt with one character inserted, removed or replaced by any character."""
    typed = draw(typed_forms(draw(canonical_receipts)))
    position = draw(st.integers(0, len(typed)))
    other = draw(st.characters())
    edit = draw(st.sampled_from(["insert", "remove", "replace"]))
    if edit == "insert":
        return typed[:position] + other + typed[position:]
    end = position + 1
    return typed[:position] + (other if edit == "replace" else "") + typed[end:]


@given(
    st.text()
    | st.text(st.sampled_from("0123456789" + SEPARATORS))
    | canonical_receipts.flatmap(typed_forms)
    | near_receipts()
)
def test_receipt_any_text_is_refused_or_normalises_to_a_valid_canonical_receipt(
    typed: str,
) -> None:
    # Refused with InvalidReceipt, which the pages turn into a sentence, and never another
    # exception: a receipt is typed by a person under stress, sometimes pasted from anywhere.
    try:
        canonical = normalise_receipt(typed)
    except InvalidReceipt:
        return
    assert len(canonical) == RECEIPT_DIGITS
    assert canonical.isascii()
    assert canonical.isdigit()
    assert damm_check_digit(canonical) == "0"
    assert normalise_receipt(canonical) == canonical


@given(canonical_receipts, st.integers(0, RECEIPT_DIGITS - 1), st.integers(1, 9))
def test_receipt_with_any_one_digit_mistyped_is_refused(
    canonical: str, position: int, shift: int
) -> None:
    # The check digit stops a typo from opening someone else's inbox, or nobody's.
    wrong = str((int(canonical[position]) + shift) % 10)
    with pytest.raises(InvalidReceipt):
        normalise_receipt(canonical[:position] + wrong + canonical[position + 1 :])


@given(canonical_receipts, st.integers(0, RECEIPT_DIGITS - 2))
def test_receipt_with_any_two_neighbours_swapped_is_refused(canonical: str, position: int) -> None:
    first, second = canonical[position], canonical[position + 1]
    assume(first != second)
    swapped = canonical[:position] + second + first + canonical[position + 2 :]
    with pytest.raises(InvalidReceipt):
        normalise_receipt(swapped)
