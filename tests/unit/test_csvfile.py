"""CSV for spreadsheets: a byte-order mark, every cell quoted, and no cell a spreadsheet runs;
read back with Python's csv module, every cell is what was written but for the documented
apostrophe in front of a formula."""

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from hrd_reports.csvfile import FORMULA_STARTS, PREFIX, encode, neutralised


def _read(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def _expected(cell: str) -> str:
    return PREFIX + cell if cell[:1] in FORMULA_STARTS else cell


def test_a_cell_a_spreadsheet_would_run_gets_an_apostrophe() -> None:
    assert [neutralised(cell) for cell in ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"]] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\t=1",
        "'\r=1",
    ]
    # Anything else is left as it is, a formula sign inside a cell included.
    assert [neutralised(cell) for cell in ["a=1", " =1", "'=1", "", "عربي =1"]] == [
        "a=1",
        " =1",
        "'=1",
        "",
        "عربي =1",
    ]


def test_every_cell_is_quoted_and_lines_end_with_crlf() -> None:
    assert encode([["a", "b"], ["1", ""]]) == b'\xef\xbb\xbf"a","b"\r\n"1",""\r\n'


# Any text a field can hold, but a lone surrogate (no UTF-8 text holds one): line breaks,
# quotes, commas, control characters, Arabic and Kurdish letters.
CELLS = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@given(st.lists(st.lists(CELLS, min_size=1, max_size=5), min_size=1, max_size=5))
def test_every_cell_reads_back_as_written_but_for_a_formulas_apostrophe(
    rows: list[list[str]],
) -> None:
    back = _read(encode(rows))
    assert back == [[_expected(cell) for cell in row] for row in rows]
    assert not [cell for row in back for cell in row if cell.startswith(FORMULA_STARTS)]


def test_a_lone_surrogate_is_written_as_its_escape() -> None:
    assert _read(encode([["name \ud800.jpg"]])) == [["name \\ud800.jpg"]]
