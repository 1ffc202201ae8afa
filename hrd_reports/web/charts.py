"""Bar charts drawn on the server, as inline SVG: no script, nothing from another origin.

This module lays a chart out (where each label, bar and count goes); the template
(``dashboard/_statistics.html``) writes the SVG, so every label and count is a text node that
Jinja escapes, and no style attribute is needed (the page's Content Security Policy allows
the stylesheet only: colours and sizes are in ``base.css``). Each label sits on its own line
above its bar, so a long label (or its translation) takes the chart's whole width and a 360 px
phone reads it at the size of the page's text. Right to left, the chart is mirrored: labels
and bars start at the right edge.

A hidden count (``services.suppression``) gets no bar: its length would tell the count.
A chart leaves out the rows at zero; the table beside it lists every row.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from hrd_reports.services.suppression import Cell

WIDTH = 340
ROW_HEIGHT = 42
LABEL_BASELINE = 15
BAR_TOP = 21
BAR_HEIGHT = 14
EDGE = 2
# Room after the longest bar for its count.
COUNT_ROOM = 64
GAP = 5


@dataclass(frozen=True)
class Bar:
    cell: Cell
    label_x: float
    label_y: float
    # Zero: no bar (a hidden count).
    bar_x: float
    bar_y: float
    bar_width: float
    count_x: float
    count_y: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]


def bar_chart(cells: Sequence[Cell], *, rtl: bool) -> Chart:
    rows = [cell for cell in cells if not cell.shown or cell.count]
    longest = max((cell.count or 0 for cell in rows if cell.shown), default=0)
    room = WIDTH - 2 * EDGE - COUNT_ROOM
    bars = []
    for index, cell in enumerate(rows):
        top = index * ROW_HEIGHT
        width = 0.0
        if cell.shown and cell.count:
            # At least a sliver: a count of one among thousands is still seen.
            width = max(2.0, round(cell.count / longest * room, 1))
        start = WIDTH - EDGE if rtl else EDGE
        bar_x = start - width if rtl else start
        count_x = start - width - GAP if rtl else start + width + GAP
        bars.append(
            Bar(
                cell=cell,
                label_x=start,
                label_y=top + LABEL_BASELINE,
                bar_x=bar_x,
                bar_y=top + BAR_TOP,
                bar_width=width,
                count_x=count_x,
                count_y=top + BAR_TOP + BAR_HEIGHT - 2,
            )
        )
    return Chart(WIDTH, len(rows) * ROW_HEIGHT + 4, bars)
