"""Small-cell suppression of statistics tables, and the percentiles of waiting times.

The threat: a count of two reports of a death threat from Halabja, sent to a donor, can name
the two people behind it to anyone who knows the town. A table therefore never shows a count
from 1 to ``min_cell - 1`` (HRD_STATS_MIN_CELL): it shows "fewer than ``min_cell``".
A table that also shows its total would give that count away all the same (the total minus
every other cell), so one more cell is hidden with it: complementary suppression.

The rules, as ``suppress`` applies them:

1. A count from 1 to ``min_cell - 1`` is small and hidden (``SMALL``).
2. A zero is shown as 0: it names nobody, and a zero hidden would be read as "a few".
   Zeros are never hidden as a complement either: hiding a zero reveals nothing to protect
   the small cell, since the reader could not tell it from any other zero.
3. The total, when the table shows one, is itself small and hidden when it is from 1 to
   ``min_cell - 1``.
4. When the total is shown and exactly one cell is small, the smallest non-zero count of the
   cells still shown is hidden too (``HIDDEN``; the first in the table's order on a tie):
   the total then tells only the sum of the two. Two small cells or more need no complement,
   since the total tells only their sum. Should no such cell be left (every other cell zero),
   the total would equal the small cell, so the total is hidden instead.

The same rules hold for a table where a report may count in several rows (incident types,
perpetrators): its total is the number of reports, not the sum of its cells, so it reveals
less, and the rule is kept for simplicity and safety.

Pure functions over counts: the statistics (``services.statistics``) call them before
anything is shown or published, so a published snapshot carries only what survived them.
"""

from collections.abc import Sequence
from dataclasses import dataclass

# Why a cell's count is not shown.
SMALL = "small"
HIDDEN = "hidden"
MARKS = frozenset({SMALL, HIDDEN})


@dataclass(frozen=True)
class Cell:
    """One count as it may be shown: ``count`` None when it is hidden, and ``mark`` why."""

    key: str
    count: int | None
    mark: str | None = None

    @property
    def shown(self) -> bool:
        return self.mark is None


def _is_small(count: int, min_cell: int) -> bool:
    return 0 < count < min_cell


def suppress_count(key: str, count: int, *, min_cell: int) -> Cell:
    """A single count (no table around it): hidden when it is small."""
    if count < 0:
        raise ValueError("a count is never negative")
    if _is_small(count, min_cell):
        return Cell(key, None, SMALL)
    return Cell(key, count)


def suppress(
    counts: Sequence[tuple[str, int]], *, total: int | None, min_cell: int
) -> tuple[list[Cell], Cell | None]:
    """The cells of a table, and its total (None when the table shows none), as they may be
    shown under the rules of this module."""
    if min_cell < 1:
        raise ValueError("the smallest count shown is at least 1")
    cells = [suppress_count(key, count, min_cell=min_cell) for key, count in counts]
    if total is None:
        return cells, None
    shown_total = suppress_count("total", total, min_cell=min_cell)
    small = [cell for cell in cells if cell.mark == SMALL]
    if len(small) != 1 or not shown_total.shown:
        return cells, shown_total
    candidates = [
        (count, index)
        for index, ((_key, count), cell) in enumerate(zip(counts, cells, strict=True))
        if cell.shown and count > 0
    ]
    if not candidates:
        return cells, Cell("total", None, HIDDEN)
    _count, index = min(candidates)
    cells[index] = Cell(cells[index].key, None, HIDDEN)
    return cells, shown_total


def nearest_rank(values: Sequence[int], percent: int) -> int:
    """The ``percent``-th percentile of ``values`` by the nearest-rank method: the smallest
    value that at least ``percent`` per cent of the values do not exceed. Always one of the
    values (a number of days, never a fraction of one); the median is the 50th."""
    if not values:
        raise ValueError("no values")
    if not 0 < percent <= 100:
        raise ValueError("a percentile is from 1 to 100")
    ordered = sorted(values)
    # In integers: 0.9 * n in floating point can land a hair above a whole rank.
    rank = -(-percent * len(ordered) // 100)
    return ordered[rank - 1]
