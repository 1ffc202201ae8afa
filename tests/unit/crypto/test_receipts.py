import math

import pytest
from hypothesis import given
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
