"""CSV for spreadsheets: no cell runs as a formula, and Arabic and Kurdish open as such."""

import csv
import io

import pytest

from hrd_reports.web.spreadsheets import csv_document, safe_cell


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("https://example.org")'],
)
def test_a_cell_a_spreadsheet_would_run_is_written_as_text(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["<5", "12", "first quarter", "المحافظة", 7, ""])
def test_other_cells_are_written_as_they_are(value: object) -> None:
    assert safe_cell(value) == str(value)


def test_a_document_is_utf8_with_a_bom_and_quoted_where_needed() -> None:
    body = csv_document([["table", "label"], ["governorates", 'Erbil, "Hewlêr"'], ["x", "=1"]])

    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert "\r\n" in text
    assert list(csv.reader(io.StringIO(text))) == [
        ["table", "label"],
        ["governorates", 'Erbil, "Hewlêr"'],
        ["x", "'=1"],
    ]
