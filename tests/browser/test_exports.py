"""Exports in a real browser, as a key holder makes them: from the report's page or the list,
through the confirmation's form, to the case file on screen (its print button working under the
strict policy), the JSON file and the CSV file as downloads; and hostile words in a report
still inert text on the case file.
"""

import csv
import json
import re
from pathlib import Path

import pytest

from tests.browser.test_dashboard import (  # noqa: F401 - fixtures
    PAYLOADS,
    Watch,
    Watched,
    cora,
    fake_clock,
    follow,
    hostile_report,
    submit_content,
    watch,
    watched,
)
from tests.helpers import Desk

pytestmark = pytest.mark.browser


def _confirm_and_send(watched: Watched) -> None:  # noqa: F811 - not the fixture
    page = watched.page
    page.get_by_test_id("export-confirm").check()
    follow(page, page.get_by_test_id("export"))


def test_case_file_from_the_report_page_prints_under_the_strict_policy(
    watch: Watch,  # noqa: F811 - a fixture
    desk: Desk,
) -> None:
    report_id = submit_content(desk, hostile_report("CANARY-a case to print"))
    watched = watch(policy=True)  # noqa: F811 - the policy on, as deployed
    page = watched.page
    watched.open(f"/dashboard/reports/{report_id}")

    follow(page, page.get_by_test_id("export-case-file"))
    # The box must be ticked: the browser does not send the form without it.
    page.get_by_test_id("export").click()
    assert page.get_by_test_id("export-form").is_visible()
    assert "case-file?" in page.url
    with page.expect_response(lambda answer: answer.request.method == "POST") as answer:
        _confirm_and_send(watched)

    assert answer.value.status == 200
    policy = answer.value.headers["content-security-policy"]
    assert "script-src 'self'" in policy.split("; ")
    assert "unsafe-inline" not in policy
    assert page.get_by_test_id("narrative").text_content() == "CANARY-a case to print"
    assert page.get_by_test_id("exported").text_content().startswith("Exported by cora on ")
    # The self-hosted print script ran (its button is hidden until it does), and nothing else.
    assert page.get_by_role("button", name="Print this page").is_visible()
    watched.assert_inert("the case file")


def test_case_file_shows_hostile_fields_as_inert_text(
    watched: Watched,  # noqa: F811 - a fixture
    desk: Desk,
) -> None:
    for label, text in PAYLOADS.items():
        report_id = submit_content(desk, hostile_report(text))
        watched.open(f"/dashboard/reports/{report_id}/case-file")
        _confirm_and_send(watched)
        watched.assert_inert(f"the case file of the report with the {label} payload")
        assert watched.page.get_by_test_id("narrative").text_content() == text, label


def test_json_and_csv_download_as_files(
    watched: Watched,  # noqa: F811 - a fixture
    desk: Desk,
    tmp_path: Path,
) -> None:
    report_id = submit_content(desk, hostile_report('=HYPERLINK("https://attacker.invalid")'))
    page = watched.page

    watched.open(f"/dashboard/reports/{report_id}")
    follow(page, page.get_by_test_id("export-json"))
    page.get_by_test_id("export-confirm").check()
    with page.expect_download() as json_download:
        page.get_by_test_id("export").click()
    assert json_download.value.suggested_filename == f"case-file-{report_id.hex[:8]}.json"
    saved = tmp_path / "case-file.json"
    json_download.value.save_as(saved)
    document = json.loads(saved.read_text("utf-8"))
    assert document["event"]["event_description"] == '=HYPERLINK("https://attacker.invalid")'

    watched.open("/dashboard/reports?status=received")
    follow(page, page.get_by_test_id("export-csv"))
    assert re.search(r"/dashboard/reports\.csv\?lang=en&status=received$", page.url)
    page.get_by_test_id("export-confirm").check()
    with page.expect_download() as csv_download:
        page.get_by_test_id("export").click()
    assert re.fullmatch(r"reports-\d{4}-\d{2}-\d{2}\.csv", csv_download.value.suggested_filename)
    saved = tmp_path / "reports.csv"
    csv_download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"\xef\xbb\xbf")
    with saved.open(encoding="utf-8-sig", newline="") as opened:
        rows = list(csv.reader(opened))
    assert rows[1][0] == str(report_id)
    assert '\'=HYPERLINK("https://attacker.invalid")' in rows[1]
