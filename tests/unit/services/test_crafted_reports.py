"""Reports whose decrypted content a reporter crafted, through every service that reads them:
the list and its second page, the search and its filters, one report, the command line's list
and show, and the counts. One such report broke all of them until its reporter withdrew it."""

import json
from typing import Any
from uuid import UUID

import pytest

from hrd_reports import received
from hrd_reports.models import Role
from hrd_reports.services import reading
from hrd_reports.services.listing import ReportFilter
from hrd_reports.services.reading import ReportView
from tests.helpers import Desk, Person, report_content, sealed_message_bytes
from tests.unit.services.conversation_support import send
from tests.unit.services.reading_support import list_page, show

CRAFTED = {
    "arrays nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "an integer of 5,000 digits": b'{"incident_types":["other"],"narrative":"x","v":'
    + b"9" * 5000
    + b"}",
    "a lone surrogate": b'{"incident_types":["other"],"narrative":"threat \\ud800"}',
    "NaN": b'{"incident_types":["other"],"narrative":"threat","v":NaN}',
    "not UTF-8": b'\xff{"narrative":"threat"}',
    "an array": b'["threat"]',
    "a field twice": b'{"incident_types":["other"],"narrative":"a","narrative":"threat"}',
    "escape sequences": b'{"incident_types":["other"],"narrative":"\\u001b]0;owned\\u0007"}',
}


def _writable(view: ReportView) -> None:
    """What a page or a terminal does with a view: encode every part of it, and its summary."""
    json.dumps(view.content, ensure_ascii=False).encode("utf-8")
    view.summary().encode("utf-8")
    assert received.visible(view.summary()) == view.summary()


@pytest.fixture
def coordinator(desk: Desk, admin: Person) -> Person:
    return desk.add_vetted("carol", Role.COORDINATOR, by=admin)


@pytest.mark.parametrize("name", CRAFTED)
def test_every_reading_service_shows_a_crafted_report_as_received(
    desk: Desk, coordinator: Person, name: str
) -> None:
    # Two urgent reports fill the first page (two a page), so the crafted one is on page 2.
    for i in range(2):
        desk.submit(report_content(f"threat {i}", incident_types=("detention",)))
    crafted = desk.submit(CRAFTED[name]).report_id

    first = list_page(desk, coordinator)
    second = list_page(desk, coordinator, page=2)
    searches = [
        list_page(desk, coordinator, ReportFilter(text="threat"), page=page) for page in (1, 2)
    ]
    by_type = list_page(desk, coordinator, ReportFilter(incident_type="detention"), page_size=10)
    by_place = list_page(desk, coordinator, ReportFilter(governorate="basra"))
    detail = show(desk, coordinator, crafted)
    listed = desk.list_reports(coordinator)
    shown = desk.show(coordinator, crafted)

    assert first.has_next
    assert [entry.view.id for entry in second.entries] == [crafted]
    (entry,) = second.entries
    assert (entry.urgent, entry.view.follows_form) == (False, False)
    assert (first.off_form, second.off_form) == (1, 1)
    assert len(by_type.entries) == 2
    assert by_place.entries == []
    for view in [
        entry.view,
        detail.view,
        shown,
        *listed,
        *(e.view for search in searches for e in search.entries),
    ]:
        _writable(view)
    content: dict[str, Any] = detail.view.content or {}
    assert content[received.UNEXPECTED_SHAPE] is True
    assert content[received.AS_RECEIVED] == received.as_received(CRAFTED[name])[0]
    assert shown.content == content


def test_crafted_report_never_hides_or_breaks_the_reports_around_it(
    desk: Desk, coordinator: Person
) -> None:
    honest = [desk.submit(report_content(f"report {i}")).report_id for i in range(3)]
    for plaintext in CRAFTED.values():
        desk.submit(plaintext)

    listed = list_page(desk, coordinator, page_size=50)
    search = list_page(desk, coordinator, ReportFilter(text="report"), page_size=50)

    assert len(listed.entries) == 3 + len(CRAFTED)
    assert listed.off_form == len(CRAFTED)
    assert {entry.view.id for entry in search.entries} == set(honest)
    assert all(entry.view.follows_form for entry in search.entries)


def test_list_page_filters_the_reports_that_do_not_follow_the_form(
    desk: Desk, coordinator: Person
) -> None:
    desk.submit(report_content("an honest report"))
    crafted = desk.submit(CRAFTED["an array"]).report_id
    list_page(desk, coordinator)  # the first listing learns which is which

    off_form = list_page(desk, coordinator, ReportFilter(off_form=True))

    assert [entry.view.id for entry in off_form.entries] == [crafted]
    assert off_form.off_form == 1


def test_list_reports_case_worker_counts_only_their_own_crafted_reports(
    desk: Desk, coordinator: Person, admin: Person
) -> None:
    worker = desk.add_vetted("dave", Role.CASE_WORKER, by=admin)
    theirs = desk.submit(CRAFTED["NaN"]).report_id
    desk.submit(CRAFTED["an array"])
    desk.assign(theirs, to="dave", by=coordinator)
    list_page(desk, coordinator)

    listed = list_page(desk, worker, page_size=10)

    assert ([entry.view.id for entry in listed.entries], listed.off_form) == ([theirs], 1)


def test_show_reporter_message_that_is_not_text_is_shown_as_received(
    desk: Desk, coordinator: Person
) -> None:
    submitted = desk.submit(report_content("a report"))
    message_id, blob = sealed_message_bytes(
        submitted.receipt, submitted.report_id, b"\xff\xfe hi \x1b[2J"
    )
    send(desk, submitted, message_id, blob)

    (message,) = show(desk, coordinator, submitted.report_id).messages

    assert (message.text, message.as_received) == ("\\xff\\xfe hi \\u001b[2J", True)


def test_show_report_of_a_damaged_report_still_refuses(desk: Desk, coordinator: Person) -> None:
    # What does not open is still a refusal; only what opens is shown, as it is or as received.
    report_id: UUID = desk.submit(report_content("to be damaged")).report_id
    with desk.session() as session:
        row = reading.get_report(session, report_id)
        row.body = row.body[:-1] + bytes([row.body[-1] ^ 1])
        session.commit()
    view = show(desk, coordinator, report_id).view
    assert view.content is None
    assert view.refusal is not None
