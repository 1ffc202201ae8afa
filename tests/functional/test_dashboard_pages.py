"""The dashboard as people work a day in it: words instead of stored codes, every field a
reporter filled in, a page that says what an action did and where, reports linked by their
short id, error pages with the navigation, and a case worker's worklist."""

import datetime as dt
import json
import re
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from hrd_reports import content
from hrd_reports.models import Priority, Report, ReportLink, ReportMessage, ReportStatus, Role
from hrd_reports.services import clock
from hrd_reports.settings import Settings
from tests.dashboard_support import (  # noqa: F401 - fixture_*: fixtures
    Staff,
    StaffBrowser,
    fixture_coordinator,
    fixture_cora,
    fixture_wafa,
    fixture_worker,
)
from tests.helpers import Desk, Person, post_reporter_message, report_content


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _rows(page: str) -> list[str]:
    """The text of each report of the list (the table's body, not its headings)."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [_text(row) for row in body.split("</tr>") if "data-report-id" in row]


def _section(page: str, anchor: str) -> str:
    """The part of a page from the element with id ``anchor`` to the next section."""
    start = page.index(f'id="{anchor}"')
    end = page.find("<section", start + 1)
    return page[start : end if end != -1 else len(page)]


# ---- words, never stored codes ----------------------------------------------------------

# Stored codes that are no English word: a page that shows one shows the database, not words.
# (Some labels are the same word as their code in English, "closed" say: the cells that
# show a status or a priority are compared whole with their labels below.)
CODES = [
    *(code for code in content.codes(content.INCIDENT_TYPES) if "_" in code),
    *(status.value for status in ReportStatus if "_" in status.value),
    *(priority.value for priority in Priority),
    *(priority.value.upper() for priority in Priority),
    "none",
    "NONE",
]


def _codes_in(text: str) -> list[str]:
    return [code for code in CODES if re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text)]


def _cells(page: str) -> list[list[str]]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [_text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)]
        for row in body.split("</tr>")
        if "data-report-id" in row
    ]


def test_report_list_shows_no_code_only_translated_labels(desk: Desk, cora: StaffBrowser) -> None:
    threat = desk.submit(report_content("CANARY-labels", incident_types=("death_threat",)))
    desk.submit(report_content("CANARY-other", incident_types=("blackmail", "surveillance")))
    cora.post(f"/dashboard/reports/{threat.report_id}/workflow", status="triage", priority="p1")

    page = cora.page("/dashboard/reports")

    assert [_codes_in(row) for row in _rows(page)] == [[], []], _rows(page)
    cells = sorted(_cells(page), key=lambda row: row[1])
    assert [row[1:] for row in cells] == [
        [
            "Blackmail or extortion, Physical or digital surveillance or stalking: CANARY-other",
            "new, not yet acknowledged",
            "not set",
            "nobody",
        ],
        ["Death threat: CANARY-labels", "in triage", "priority 1, immediate", "nobody"],
    ]


def test_counts_page_names_priorities_by_their_labels(
    desk: Desk, cora: StaffBrowser, admin: Person
) -> None:
    desk.submit(report_content("CANARY-counted"))
    counts = cora.page("/dashboard/stats").split("<main", 1)[1]
    headings = [_text(cell) for cell in re.findall(r"<th[^>]*>(.*?)</th>", counts)]
    assert _codes_in(" ".join(headings)) == []
    assert "received" not in headings
    assert {"new, not yet acknowledged", "out of mandate", "not set"} <= set(headings)


def test_list_and_report_dates_are_written_in_the_readers_language(
    desk: Desk, cora: StaffBrowser
) -> None:
    submitted = desk.submit(report_content("CANARY-dates"))
    with desk.session() as session:
        session.execute(update(Report).values(received_on=dt.date(2026, 3, 4)))
        session.commit()
    english = cora.page("/dashboard/reports?lang=en")
    arabic = cora.page(f"/dashboard/reports/{submitted.report_id}?lang=ar")
    assert "March 4, 2026" in english
    assert "2026-03-04" not in _text(english)
    assert "2026-03-04" not in _text(arabic)
    # Iraq's month names, the page's digits, the month in words: no day-month order to misread
    # in a right-to-left line.
    assert "<bdi>٤ آذار ٢٠٢٦</bdi>" in arabic


# ---- the report page: everything the reporter said -------------------------------------

EVERY_FIELD = {
    "v": 1,
    "incident_types": ["arbitrary_arrest", "threat_to_family"],
    "start": {"date": "2026-05-02", "precision": "exact"},
    "end": {"date": "2026-06", "precision": "month"},
    "ongoing": True,
    "in_danger_now": "no",
    "location": {"governorate": "basra", "district": "CANARY-district", "place_type": "checkpoint"},
    "target": {"who": "colleague", "sector": "lawyer", "gender": "woman", "age_band": "30_44"},
    "perpetrator": {
        "types": ["militia", "online"],
        "identification": "suspected",
        "identifiers": "CANARY-identifiers",
    },
    "narrative": "CANARY-narrative",
    "needs": ["legal", "relocation"],
    "consent": {"share": "anonymised", "publish": "yes"},
}


def test_report_page_shows_every_field_of_the_form_by_its_label(
    desk: Desk, cora: StaffBrowser
) -> None:
    submitted = desk.submit(json.dumps(EVERY_FIELD).encode("utf-8"))
    page = cora.report(submitted.report_id)
    shown = _text(page.split('data-testid="report"', 1)[1].split("</dl>", 1)[0])
    for words in (
        "Arbitrary arrest or summons, Threat to family",
        "May 2, 2026 (Exact date)",
        "June 2026 (Only the month)",
        "Still ongoing Yes",
        "In danger now No",
        "Basra · CANARY-district · Checkpoint",
        "A colleague",
        "Lawyer",
        "Woman",
        "30 to 44",
        "Non-state armed group or militia, Online actor",
        "Suspected",
        "CANARY-identifiers",
        "CANARY-narrative",
        "Legal support, Relocation or a safe place",
        "Consent to share Share without anything that identifies me",
        "Consent to publish Yes",
    ):
        assert words in shown, words
    assert _codes_in(shown) == []


def test_report_page_shows_its_short_id_as_selectable_text(desk: Desk, cora: StaffBrowser) -> None:
    submitted = desk.submit(report_content("CANARY-short-id"))
    page = cora.report(submitted.report_id)
    short = submitted.report_id.hex[:8]
    assert re.search(rf'<code [^>]*data-testid="short-id"[^>]*>{short}</code>', page)
    # The copy button is shown by its script only; the script is the page's own, with SRI.
    assert re.search(r'<button [^>]*data-copy="short-id"[^>]*hidden', page)
    assert re.search(r'<script src="/static/js/copy.js" integrity="sha384-', page)


# ---- each action says what it did, where the reader was ---------------------------------


def _redirect(response_location: str) -> tuple[str, dict[str, list[str]], str]:
    parts = urlsplit(response_location)
    return parts.path, parse_qs(parts.query), parts.fragment


@pytest.mark.parametrize(
    ("action", "fields", "done", "anchor", "sentence"),
    [
        ("workflow", {"status": "triage"}, "saved", "workflow", "The workflow was saved."),
        ("notes", {"note": "CANARY-note"}, "note", "notes", "Your note was added."),
        ("reply", {"reply": "CANARY-reply"}, "reply", "conversation", "Your reply was encrypted"),
        ("tags", {"tags": "police, basra"}, "tags", "desk-tags", "The tags were saved."),
        ("assign", {"assignee": "wafa"}, "assigned", "assignment", "The report was assigned."),
        ("unassign", {}, "unassigned", "assignment", "The report was taken back"),
    ],
)
def test_report_action_lands_on_its_part_of_the_page_with_a_confirmation(
    desk: Desk,
    admin: Person,
    worker: Staff,
    cora: StaffBrowser,
    action: str,
    fields: dict[str, str],
    done: str,
    anchor: str,
    sentence: str,
) -> None:
    report_id = desk.submit(report_content("CANARY-actions")).report_id
    if action == "unassign":
        desk.assign(report_id, to="wafa", by=admin)
    response = cora.client.post(
        f"/dashboard/reports/{report_id}/{action}?lang=ar",
        data={**fields, "csrf_token": cora.csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    path, query, fragment = _redirect(response.headers["location"])
    assert (path, query, fragment) == (
        f"/dashboard/reports/{report_id}",
        {"lang": ["ar"], "done": [done]},
        anchor,
    )
    page = cora.page(f"{path}?lang=en&done={done}")
    part = _section(page, anchor)
    assert 'role="status"' in part
    assert sentence in part
    # Said once, where the reader lands, not in every part of the page.
    assert page.count('data-testid="done"') == 1


def test_report_page_says_nothing_for_an_unknown_confirmation_key(
    desk: Desk, cora: StaffBrowser
) -> None:
    report_id = desk.submit(report_content("CANARY-unknown-done")).report_id
    page = cora.page(f"/dashboard/reports/{report_id}?done=%3Cb%3Eyou%20were%20hacked")
    assert 'data-testid="done"' not in page
    assert "you were hacked" not in page


def test_vetting_on_the_people_page_confirms_in_the_persons_row(
    desk: Desk, cora: StaffBrowser
) -> None:
    desk.add("farid", Role.CASE_WORKER)
    response = cora.client.post(
        "/dashboard/users/farid/vet",
        data={"csrf_token": cora.csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    path, query, fragment = _redirect(response.headers["location"])
    assert (path, query, fragment) == (
        "/dashboard/users",
        {"done": ["vetted"], "at": ["farid"]},
        "person-farid",
    )
    page = cora.page(response.headers["location"].split("#")[0])
    row = page.split('id="person-farid"', 1)[1].split("</tr>", 1)[0]
    assert 'role="status"' in row
    assert "The person was vetted" in row
    assert page.count('data-testid="done"') == 1


# ---- linking by short id ----------------------------------------------------------------


def _linked(desk: Desk) -> list[tuple[int, int]]:
    with desk.session() as session:
        return [
            (link.report_id, link.linked_id)
            for link in session.execute(select(ReportLink)).scalars()
        ]


def test_report_is_linked_by_its_typed_short_id(desk: Desk, cora: StaffBrowser) -> None:
    first = desk.submit(report_content("CANARY-first")).report_id
    second = desk.submit(report_content("CANARY-second")).report_id
    cora.post(f"/dashboard/reports/{first}/links", other=f" {second.hex[:8].upper()} ")
    assert len(_linked(desk)) == 1
    page = cora.report(first)
    assert f'href="/dashboard/reports/{second}?lang=en"' in page


def test_link_form_offers_recent_reports_by_short_id_day_and_translated_type(
    desk: Desk, cora: StaffBrowser
) -> None:
    first = desk.submit(report_content("CANARY-first")).report_id
    second = desk.submit(report_content("CANARY-second", incident_types=("blackmail",)))
    page = cora.report(first)
    choice = page.split('data-testid="link-choice"', 1)[1].split("</select>", 1)[0]
    assert f'value="{second.report_id}"' in choice
    assert f'value="{first}"' not in choice
    assert second.report_id.hex[:8] in choice
    assert "Blackmail or extortion" in choice
    assert "blackmail<" not in choice
    assert "CANARY-second" not in choice
    cora.post(f"/dashboard/reports/{first}/links", chosen=str(second.report_id))
    assert len(_linked(desk)) == 1
    assert f'<option value="{second.report_id}"' not in cora.report(first)


def test_link_to_an_unknown_or_ambiguous_short_id_is_refused_and_links_nothing(
    desk: Desk, cora: StaffBrowser
) -> None:
    first = desk.submit(report_content("CANARY-first")).report_id
    second = desk.submit(report_content("CANARY-second")).report_id
    unknown = "0123abcd" if not second.hex.startswith("0123abcd") else "fedc9876"
    page = cora.post(f"/dashboard/reports/{first}/links", expect=404, other=unknown)
    assert f"no report you can open has the short id {unknown}" in page
    page = cora.post(f"/dashboard/reports/{first}/links", expect=400, other="not-an-id")
    assert "short id is its first 8 characters" in page
    # Two reports whose ids share their first eight digits: the short id names neither.
    with desk.session() as session:
        session.execute(
            update(Report)
            .where(Report.public_id == second)
            .values(public_id=UUID(first.hex[:8] + "0" * 24))
        )
        session.commit()
    page = cora.post(f"/dashboard/reports/{first}/links", expect=409, other=first.hex[:8])
    assert "several reports start with" in page
    assert _linked(desk) == []


def test_case_worker_typing_the_short_id_of_a_report_not_theirs_learns_nothing(
    desk: Desk, admin: Person, wafa: StaffBrowser
) -> None:
    mine = desk.submit(report_content("CANARY-mine")).report_id
    theirs = desk.submit(report_content("CANARY-theirs")).report_id
    desk.assign(mine, to="wafa", by=admin)
    page = wafa.post(f"/dashboard/reports/{mine}/links", expect=404, other=theirs.hex[:8])
    assert "no report you can open has the short id" in page
    assert 'data-testid="link-choice"' not in wafa.report(mine)
    assert _linked(desk) == []


# ---- error pages ------------------------------------------------------------------------


def test_unknown_dashboard_address_is_a_page_with_the_navigation_and_the_name(
    cora: StaffBrowser,
) -> None:
    response = cora.client.get("/dashboard/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "cora (coordinator)" in response.text
    assert 'href="/dashboard/reports?lang=en"' in response.text
    assert "there is no page at this address" in response.text


def test_refusals_by_role_and_assignment_are_pages_with_the_navigation(
    desk: Desk, admin: Person, cora: StaffBrowser, wafa: StaffBrowser
) -> None:
    other = desk.submit(report_content("CANARY-not-hers")).report_id
    for browser, path, name in (
        (wafa, f"/dashboard/reports/{other}", "wafa (case worker)"),
        (cora, "/dashboard/audit", "cora (coordinator)"),
    ):
        response = browser.client.get(path)
        assert response.status_code == 403, path
        assert response.headers["content-type"].startswith("text/html"), path
        assert name in response.text, path
        assert 'href="/dashboard/reports?lang=en"' in response.text, path
        assert "CANARY-not-hers" not in response.text


def test_crash_on_a_dashboard_page_is_a_page_that_tells_nothing_of_the_error(
    desk: Desk, cora: StaffBrowser, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk.submit(report_content("CANARY-crash"))

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("CANARY-exception-text /var/secret/path")

    monkeypatch.setattr("hrd_reports.services.listing.list_page", broken)
    crashing = TestClient(cora.client.app, raise_server_exceptions=False)
    crashing.cookies.update(cora.client.cookies)
    response = crashing.get("/dashboard/reports")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "cora (coordinator)" in response.text
    assert "something went wrong on the server" in response.text
    assert "CANARY-exception-text" not in response.text
    assert "/var/secret" not in response.text


def test_reporter_unknown_address_is_a_reporter_page_with_the_quick_exit_and_no_cookie(
    client: TestClient, settings: Settings
) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "data-quick-exit" in response.text
    assert settings.quick_exit_url in response.text
    assert "set-cookie" not in response.headers


def test_crash_on_a_reporter_page_is_a_reporter_page_with_the_quick_exit_and_no_cookie(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("CANARY-exception-text")

    monkeypatch.setattr("hrd_reports.web.reporter._form_context", broken)
    crashing = TestClient(client.app, raise_server_exceptions=False)
    response = crashing.get("/report")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert settings.quick_exit_url in response.text
    assert "CANARY-exception-text" not in response.text
    assert "set-cookie" not in response.headers


def test_api_unknown_address_still_answers_json(client: TestClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"


# ---- a case worker's day ----------------------------------------------------------------


def _received_days_ago(desk: Desk, report_id: UUID, days: int, **values: object) -> None:
    with desk.session() as session:
        session.execute(
            update(Report)
            .where(Report.public_id == report_id)
            .values(received_on=clock.utc_today() - dt.timedelta(days=days), **values)
        )
        session.commit()


def test_case_worker_home_shows_overdue_then_unread_then_assigned(
    client: TestClient, desk: Desk, admin: Person, wafa: StaffBrowser
) -> None:
    late = desk.submit(report_content("CANARY-late"))
    talking = desk.submit(report_content("CANARY-talking"))
    fresh = desk.submit(report_content("CANARY-fresh"))
    not_hers = desk.submit(report_content("CANARY-not-hers"))
    for submitted in (late, talking, fresh):
        desk.assign(submitted.report_id, to="wafa", by=admin)
    _received_days_ago(desk, late.report_id, 9, priority=Priority.P3)
    _received_days_ago(desk, not_hers.report_id, 30)
    post_reporter_message(client, talking.receipt, talking.report_id, "CANARY-message")

    page = wafa.page("/dashboard")

    sections = [
        page.index(f'data-testid="home-{part}"') for part in ("overdue", "unread", "assigned")
    ]
    assert sections == sorted(sections)
    overdue, unread, assigned = (_section(page, part) for part in ("overdue", "unread", "assigned"))
    assert str(late.report_id) in overdue
    assert str(fresh.report_id) not in overdue
    assert str(talking.report_id) in unread
    assert "1 new message" in unread
    assert all(str(s.report_id) in assigned for s in (late, talking, fresh))
    assert str(not_hers.report_id) not in page
    # Nothing decrypted for it: no content, nor any reading in the audit log.
    assert "CANARY" not in page


def test_unread_reporter_message_waiting_too_long_makes_a_report_overdue(
    client: TestClient, desk: Desk, admin: Person, wafa: StaffBrowser
) -> None:
    waiting = desk.submit(report_content("CANARY-waiting"))
    desk.assign(waiting.report_id, to="wafa", by=admin)
    post_reporter_message(client, waiting.receipt, waiting.report_id, "CANARY-are-you-there")
    with desk.session() as session:
        session.execute(update(Report).values(status=ReportStatus.OPEN))
        session.execute(
            update(ReportMessage).values(sent_on=clock.utc_today() - dt.timedelta(days=3))
        )
        session.commit()
    assert str(waiting.report_id) in _section(wafa.page("/dashboard"), "overdue")


def test_key_holder_home_is_the_report_list(cora: StaffBrowser) -> None:
    response = cora.client.get("/dashboard", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/reports"


def test_key_holder_today_shows_overdue_unread_and_urgent_reports_nobody_holds(
    client: TestClient, desk: Desk, admin: Person, worker: Staff, cora: StaffBrowser
) -> None:
    danger = desk.submit(report_content("CANARY-danger", incident_types=("detention",)))
    held = desk.submit(report_content("CANARY-held", incident_types=("detention",)))
    calm = desk.submit(report_content("CANARY-calm", incident_types=("dismissal",)))
    desk.assign(held.report_id, to="wafa", by=admin)
    cora.page("/dashboard/reports")  # opened once: urgency is learned from the content
    _received_days_ago(desk, danger.report_id, 2)
    post_reporter_message(client, calm.receipt, calm.report_id, "CANARY-hello")

    page = cora.page("/dashboard/today")

    assert 'href="/dashboard/today?lang=en"' in page
    overdue, unread, unassigned = (
        _section(page, part) for part in ("overdue", "unread", "unassigned")
    )
    assert str(danger.report_id) in overdue
    assert str(danger.report_id) in unassigned
    assert str(held.report_id) not in unassigned
    assert str(calm.report_id) not in unassigned
    assert str(calm.report_id) in unread
    assert 'data-testid="home-assigned"' not in page
