"""Small-cell suppression as a pure function: a count under the threshold is never shown, and a
table's total never gives one away."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hrd_reports.services.suppression import (
    HIDDEN,
    SMALL,
    Cell,
    nearest_rank,
    suppress,
    suppress_count,
)


def shown(cells: list[Cell]) -> dict[str, int | str]:
    return {cell.key: cell.count if cell.mark is None else cell.mark for cell in cells}


def test_a_cell_of_three_is_small_and_the_next_smallest_is_hidden_with_it() -> None:
    counts = [("halabja", 3), ("erbil", 6), ("basra", 0), ("baghdad", 8)]

    cells, total = suppress(counts, total=17, min_cell=5)

    assert shown(cells) == {"halabja": SMALL, "erbil": HIDDEN, "basra": 0, "baghdad": 8}
    assert total == Cell("total", 17)


def test_the_complement_is_the_first_of_the_smallest_on_a_tie() -> None:
    cells, _ = suppress([("a", 9), ("b", 1), ("c", 7), ("d", 7)], total=24, min_cell=5)

    assert shown(cells) == {"a": 9, "b": SMALL, "c": HIDDEN, "d": 7}


def test_two_small_cells_need_no_complement() -> None:
    # The total tells only their sum.
    cells, total = suppress([("a", 2), ("b", 3), ("c", 10)], total=15, min_cell=5)

    assert shown(cells) == {"a": SMALL, "b": SMALL, "c": 10}
    assert total == Cell("total", 15)


def test_zeros_are_shown_and_never_hidden_as_a_complement() -> None:
    cells, _ = suppress([("a", 0), ("b", 4), ("c", 0), ("d", 12)], total=16, min_cell=5)

    assert shown(cells) == {"a": 0, "b": SMALL, "c": 0, "d": HIDDEN}


def test_a_small_total_is_hidden_with_every_cell() -> None:
    cells, total = suppress([("a", 1), ("b", 2), ("c", 0)], total=3, min_cell=5)

    assert shown(cells) == {"a": SMALL, "b": SMALL, "c": 0}
    assert total == Cell("total", None, SMALL)


def test_with_no_other_cell_to_hide_the_total_is_hidden() -> None:
    # A table where a report counts in several rows: the total is not the sum of the cells.
    cells, total = suppress([("a", 3), ("b", 0)], total=7, min_cell=5)

    assert shown(cells) == {"a": SMALL, "b": 0}
    assert total == Cell("total", None, HIDDEN)


def test_a_table_without_a_total_hides_only_small_cells() -> None:
    cells, total = suppress([("a", 3), ("b", 6)], total=None, min_cell=5)

    assert (shown(cells), total) == ({"a": SMALL, "b": 6}, None)


def test_a_threshold_of_one_shows_every_count() -> None:
    cells, total = suppress([("a", 1), ("b", 2)], total=3, min_cell=1)

    assert (shown(cells), total) == ({"a": 1, "b": 2}, Cell("total", 3))


def test_a_single_count_is_hidden_when_small() -> None:
    assert suppress_count("overdue", 4, min_cell=5) == Cell("overdue", None, SMALL)
    assert suppress_count("overdue", 0, min_cell=5) == Cell("overdue", 0)
    assert suppress_count("overdue", 5, min_cell=5) == Cell("overdue", 5)


def test_impossible_counts_and_thresholds_are_refused() -> None:
    with pytest.raises(ValueError, match="never negative"):
        suppress([("a", -1)], total=None, min_cell=5)
    with pytest.raises(ValueError, match="at least 1"):
        suppress([("a", 1)], total=1, min_cell=0)


@given(
    counts=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=12),
    min_cell=st.integers(min_value=1, max_value=10),
)
def test_the_total_never_gives_a_small_count_away(counts: list[int], min_cell: int) -> None:
    rows = [(f"row{index}", count) for index, count in enumerate(counts)]

    cells, total = suppress(rows, total=sum(counts), min_cell=min_cell)

    assert total is not None
    for (_key, count), cell in zip(rows, cells, strict=True):
        if cell.mark == SMALL:
            assert 0 < count < min_cell
        elif cell.mark == HIDDEN:
            assert count >= min_cell
        else:
            assert cell.count == count
            assert count == 0 or count >= min_cell
    # What the total minus the shown cells leaves is never one hidden cell alone.
    hidden = [cell for cell in cells if not cell.shown]
    assert len(hidden) != 1 or not total.shown


def test_percentiles_by_nearest_rank_are_always_one_of_the_values() -> None:
    days = [10, 2, 8, 4, 6]

    assert (nearest_rank(days, 50), nearest_rank(days, 90)) == (6, 10)
    assert nearest_rank([1, 2, 3, 4], 50) == 2
    assert nearest_rank([7], 90) == 7
    # 0.9 * 10 in floating point is not above 9: the 9th value, not the 10th.
    assert nearest_rank(list(range(1, 11)), 90) == 9
    assert nearest_rank(list(range(1, 11)), 100) == 10


def test_a_percentile_of_nothing_or_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="no values"):
        nearest_rank([], 50)
    with pytest.raises(ValueError, match="from 1 to 100"):
        nearest_rank([1], 0)
