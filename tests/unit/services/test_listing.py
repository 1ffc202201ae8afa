"""The report list: urgent first, filters, search and pages, each reading audited."""

import json
from uuid import UUID

import pytest

from hrd_reports.models import ReportStatus
from hrd_reports.services import classification
from hrd_reports.services.errors import Invalid
from hrd_reports.services.listing import ReportFilter
from tests.helpers import Desk, Person
from tests.unit.services.reading_support import (
    content,
    decrypt_entries,
    every_page,
    list_page,
    narrative,
    set_tags,
    show,
    update_workflow,
)

# ---- the list -------------------------------------------------------------------------------


def test_list_page_urgent_reports_come_first_then_newest(
    desk: Desk, staff: dict[str, Person]
) -> None:
    desk.submit(content("plain old"))
    desk.submit(content("in danger now", in_danger_now="yes"))
    desk.submit(content("plain new", in_danger_now="no"))
    desk.submit(content("detained", incident_types=("threat_to_family", "detention")))
    desk.submit(content("shot at", incident_types=("assassination_attempt",)))

    listed = list_page(desk, staff["coordinator"], page_size=10)

    assert [(narrative(e.view.content), e.urgent) for e in listed.entries] == [
        ("shot at", True),
        ("detained", True),
        ("in danger now", True),
        ("plain new", False),
        ("plain old", False),
    ]
    assert not listed.has_next


def test_list_page_pages_cover_every_report_once(desk: Desk, staff: dict[str, Person]) -> None:
    for i in range(5):
        desk.submit(content(f"report {i}"))

    pages = [list_page(desk, staff["coordinator"], page=page) for page in (1, 2, 3)]

    assert [[narrative(e.view.content) for e in p.entries] for p in pages] == [
        ["report 4", "report 3"],
        ["report 2", "report 1"],
        ["report 0"],
    ]
    assert [p.has_next for p in pages] == [True, True, False]


def test_list_page_urgent_report_comes_first_among_more_new_reports_than_a_chunk(
    desk: Desk, staff: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(classification, "CLASSIFY_CHUNK", 3)
    plain = 7
    desk.submit(content("in danger now", in_danger_now="yes"))
    for i in range(plain):
        desk.submit(content(f"plain {i}"))

    listed = list_page(desk, staff["coordinator"], page_size=3)

    assert [narrative(entry.view.content) for entry in listed.entries] == [
        "in danger now",
        f"plain {plain - 1}",
        f"plain {plain - 2}",
    ]


def test_list_page_before_the_first_is_refused(desk: Desk, staff: dict[str, Person]) -> None:
    with pytest.raises(Invalid):
        list_page(desk, staff["coordinator"], page=0)


@pytest.fixture
def varied(desk: Desk, staff: dict[str, Person]) -> dict[str, UUID]:
    """Five reports that differ in type, place, words and status; one of them tagged."""
    reports = {
        "baghdad threat": desk.submit(
            content("threat by phone", governorate="baghdad", district="Karrada")
        ),
        "basra raid": desk.submit(
            content("office raided at night", incident_types=("raid",), governorate="basra")
        ),
        "basra threat": desk.submit(
            content("threat at a checkpoint", governorate="basra", perpetrator="Officer Jaber")
        ),
        "erbil raid": desk.submit(
            content("home raided", incident_types=("raid",), governorate="erbil")
        ),
        "tagged": desk.submit(content("letter under the door", governorate="najaf")),
    }
    ids = {name: submitted.report_id for name, submitted in reports.items()}
    update_workflow(desk, staff["coordinator"], ids["basra raid"], status=ReportStatus.OPEN)
    update_workflow(desk, staff["coordinator"], ids["erbil raid"], status=ReportStatus.OPEN)
    set_tags(desk, staff["coordinator"], ids["tagged"], ["Follow-up Karbala"])
    return ids


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (ReportFilter(status=ReportStatus.OPEN), ["home raided", "office raided at night"]),
        (ReportFilter(incident_type="raid"), ["home raided", "office raided at night"]),
        (ReportFilter(governorate="basra"), ["threat at a checkpoint", "office raided at night"]),
        (
            ReportFilter(status=ReportStatus.RECEIVED, governorate="basra"),
            ["threat at a checkpoint"],
        ),
        (ReportFilter(text="RAIDED"), ["home raided", "office raided at night"]),
        (ReportFilter(text="karrada"), ["threat by phone"]),
        (ReportFilter(text="jaber"), ["threat at a checkpoint"]),
        (ReportFilter(text="follow-up"), ["letter under the door"]),
        (ReportFilter(text="threat"), ["threat at a checkpoint", "threat by phone"]),
        (ReportFilter(text="nowhere in any report"), []),
    ],
    ids=lambda value: None if isinstance(value, ReportFilter) else "",
)
def test_list_page_filter_keeps_only_matching_reports(
    desk: Desk,
    staff: dict[str, Person],
    varied: dict[str, UUID],
    filters: ReportFilter,
    expected: list[str],
) -> None:
    listed = list_page(desk, staff["coordinator"], filters, page_size=10)
    assert [narrative(entry.view.content) for entry in listed.entries] == expected


def test_list_page_search_pages_cover_every_match_once(
    desk: Desk, staff: dict[str, Person]
) -> None:
    for i in range(5):
        desk.submit(content(f"threat {i}"))
        desk.submit(content(f"unrelated {i}"))

    assert every_page(desk, staff["coordinator"], ReportFilter(text="threat")) == [
        f"threat {i}" for i in reversed(range(5))
    ]


def test_list_page_case_worker_sees_only_reports_assigned_to_them(
    desk: Desk, staff: dict[str, Person]
) -> None:
    submitted = [desk.submit(content(f"report {i}")) for i in range(4)]
    for i in (0, 2):
        desk.assign(submitted[i].report_id, to="dave", by=staff["coordinator"])
    desk.assign(submitted[3].report_id, to="frank", by=staff["coordinator"])

    listed = list_page(desk, staff["case_worker"], page_size=10)

    assert [narrative(entry.view.content) for entry in listed.entries] == [
        "report 2",
        "report 0",
    ]
    opened = {report for entry in decrypt_entries(desk) for report in entry["detail"]["reports"]}
    assert opened == {str(submitted[i].report_id) for i in (0, 2)}
    others = list_page(desk, staff["other_case_worker"]).entries
    assert [narrative(entry.view.content) for entry in others] == ["report 3"]


def test_list_page_case_worker_search_reads_only_reports_assigned_to_them(
    desk: Desk, staff: dict[str, Person]
) -> None:
    submitted = [desk.submit(content(f"threat {i}")) for i in range(4)]
    desk.assign(submitted[1].report_id, to="dave", by=staff["coordinator"])
    desk.assign(submitted[2].report_id, to="frank", by=staff["coordinator"])

    listed = list_page(desk, staff["case_worker"], ReportFilter(text="threat"), page_size=10)

    assert [narrative(entry.view.content) for entry in listed.entries] == ["threat 1"]
    search = decrypt_entries(desk)[-1]["detail"]
    assert (search["search"], search["reports"]) == (True, [str(submitted[1].report_id)])


def test_list_page_search_finds_a_report_that_does_not_follow_the_form_and_shows_it_as_text(
    desk: Desk, staff: dict[str, Person]
) -> None:
    odd = {"incident_types": "not a list: raid", "narrative": "threat <b>by</b> phone", "x": 1}
    odd_id = desk.submit(json.dumps(odd).encode()).report_id
    desk.submit(content("office raided", incident_types=("raid",)))

    found = list_page(desk, staff["coordinator"], ReportFilter(text="<b>BY</b>")).entries
    by_type = list_page(desk, staff["coordinator"], ReportFilter(incident_type="raid")).entries

    assert [entry.view.id for entry in found] == [odd_id]
    shown = found[0].view.content
    assert shown is not None
    assert (shown["unexpected_shape"], shown["incident_types"]) == (True, [])
    assert json.loads(shown["as_received"]) == odd
    # A string where the form has a list of codes is not searched as if it were one.
    assert [narrative(entry.view.content) for entry in by_type] == ["office raided"]


def written_with_escapes(narrative: str) -> bytes:
    """A report as a client that escapes every character outside ASCII writes it
    (``\\u0628``): valid JSON, the same document."""
    document = json.loads(content(narrative))
    return json.dumps(document, ensure_ascii=True).encode()


@pytest.mark.parametrize(
    ("stored", "term"),
    [
        # The words are in the document only behind \u escapes, not in its raw text.
        (written_with_escapes("تهديد بالقتل عبر الهاتف"), "بالقتل"),
        (b'{"incident_types": ["raid"], "narrative": "\\u0074hreat by phone"}', "THREAT"),
        ('{"incident_types": ["raid"], "narrative": "تهديد \\u0074hreat"}'.encode(), "threat"),
        # Words with a character that the raw text holds as an escape.
        (content('he said "stop writing"\nor else'), '"STOP WRITING"'),
        (content("line one\nline two"), "one\nline"),
        # Casefolded, not lowered: ß is ss, and the Kelvin sign outside ASCII is a k.
        (content("outside the Straße office"), "STRASSE"),
        (content("held at 300 \u212a"), "300 k"),
    ],
    ids=[
        "arabic escaped",
        "letter escaped",
        "letter escaped beside arabic",
        "quote",
        "line break",
        "casefold",
        "kelvin",
    ],
)
def test_list_page_search_finds_words_however_the_json_writes_them(
    desk: Desk, staff: dict[str, Person], stored: bytes, term: str
) -> None:
    found_id = desk.submit(stored).report_id
    desk.submit(content("unrelated report"))

    found = list_page(desk, staff["coordinator"], ReportFilter(text=term)).entries

    assert [entry.view.id for entry in found] == [found_id]


def test_list_page_search_finds_words_within_one_field_not_across_two(
    desk: Desk, staff: dict[str, Person]
) -> None:
    desk.submit(content("they followed me in a white", district="car park"))

    across = list_page(desk, staff["coordinator"], ReportFilter(text="white car")).entries
    within = list_page(desk, staff["coordinator"], ReportFilter(text="car park")).entries

    assert (len(across), len(within)) == (0, 1)


def test_list_page_and_show_each_write_a_decrypt_audit_entry(
    desk: Desk, staff: dict[str, Person]
) -> None:
    first, second = (desk.submit(content(f"report {i}")).report_id for i in range(2))

    # The first listing classifies both new reports (an entry of its own, committed with
    # what it learned), then shows them (opened again, for the page).
    assert list_page(desk, staff["coordinator"], page_size=10).decrypted == 2
    list_page(desk, staff["coordinator"], ReportFilter(text="report 1"), page_size=10)
    show(desk, staff["coordinator"], first)

    entries = decrypt_entries(desk)
    assert [(e["actor"], e["subject"]) for e in entries] == [
        ("carol", None),
        ("carol", None),
        ("carol", None),
        ("carol", str(first)),
    ]
    classified, listed, searched, shown = entries
    assert classified["detail"]["classified"] == 2
    assert sorted(classified["detail"]["reports"]) == sorted([str(first), str(second)])
    assert sorted(listed["detail"]["reports"]) == sorted([str(first), str(second)])
    assert listed["detail"]["shown"] == [str(second), str(first)]
    # A search opens every report it looks through, and says so.
    assert (searched["detail"]["search"], searched["detail"]["shown"]) == (True, [str(second)])
    assert sorted(searched["detail"]["reports"]) == sorted([str(first), str(second)])
    assert shown["detail"]["reports"] == [str(first)]
