"""Bar charts laid out on the server: proportional bars, none for a hidden count, mirrored
right to left."""

from hrd_reports.services.suppression import HIDDEN, SMALL, Cell
from hrd_reports.web.charts import COUNT_ROOM, EDGE, GAP, WIDTH, bar_chart

CELLS = [Cell("a", 10), Cell("b", 0), Cell("c", 5), Cell("d", None, SMALL), Cell("e", None, HIDDEN)]


def test_bars_are_proportional_and_rows_at_zero_are_left_out() -> None:
    chart = bar_chart(CELLS, rtl=False)

    assert [bar.cell.key for bar in chart.bars] == ["a", "c", "d", "e"]
    longest = WIDTH - 2 * EDGE - COUNT_ROOM
    assert [bar.bar_width for bar in chart.bars] == [longest, longest / 2, 0, 0]
    assert chart.bars[1].bar_y > chart.bars[0].bar_y
    assert chart.height > chart.bars[-1].count_y


def test_a_hidden_count_has_no_bar_that_would_tell_it() -> None:
    chart = bar_chart([Cell("small", None, SMALL), Cell("hidden", None, HIDDEN)], rtl=False)

    assert [bar.bar_width for bar in chart.bars] == [0, 0]


def test_a_count_of_one_among_thousands_is_still_seen() -> None:
    chart = bar_chart([Cell("many", 5000), Cell("one", 1)], rtl=False)

    assert chart.bars[1].bar_width >= 2


def test_right_to_left_mirrors_labels_bars_and_counts() -> None:
    left = bar_chart(CELLS, rtl=False)
    right = bar_chart(CELLS, rtl=True)

    for ltr, rtl in zip(left.bars, right.bars, strict=True):
        assert (ltr.label_x, rtl.label_x) == (EDGE, WIDTH - EDGE)
        assert rtl.bar_x + rtl.bar_width == WIDTH - EDGE
        assert WIDTH - (rtl.bar_x + rtl.bar_width) == ltr.bar_x
        assert rtl.count_x == WIDTH - EDGE - rtl.bar_width - GAP
        assert ltr.count_x == EDGE + ltr.bar_width + GAP


def test_a_table_with_nothing_to_draw_has_no_bars() -> None:
    assert bar_chart([Cell("a", 0)], rtl=True).bars == []
