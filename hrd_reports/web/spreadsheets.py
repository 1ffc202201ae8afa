"""CSV files that open safely in a spreadsheet.

The threat: a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return,
which some spreadsheets skip before reading one of those) is run as a formula when the file is
opened: a title typed on the desk could then fetch a URL with the sheet's other cells in it,
on a donor's computer. Such a cell is written with a leading apostrophe, which spreadsheets
show as text. The file is UTF-8 with a byte order mark, so that Arabic and Kurdish open as
such in spreadsheets that otherwise guess an 8-bit code page.
"""

import csv
import io
from collections.abc import Iterable, Sequence

BOM = "\ufeff"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_document(rows: Iterable[Sequence[object]]) -> bytes:
    """The rows as one CSV file (RFC 4180 quoting, CRLF), every cell made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
    return (BOM + buffer.getvalue()).encode("utf-8")
