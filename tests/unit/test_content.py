"""The report's content: the same document from the form, in the browser or on the server."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hrd_reports import content
from hrd_reports.content import ContentError, ReportContent, content_from_form

MINIMAL = {"incident_type": ["death_threat"], "narrative": ["They called my mother."]}


def test_minimal_form_makes_a_report_with_defaults() -> None:
    report = content_from_form(MINIMAL)
    assert report.incident_types == ["death_threat"]
    assert report.narrative == "They called my mother."
    assert report.start is None
    assert report.location.governorate is None
    assert not report.urgent


def test_full_form_makes_the_document_the_browser_builds() -> None:
    fields = {
        **MINIMAL,
        "incident_type": ["detention", "surveillance"],
        "start_date": ["2026-10-03"],
        "start_precision": ["month"],
        "end_date": ["2026-10-20"],
        "end_precision": ["exact"],
        "ongoing": ["yes"],
        "in_danger_now": ["no"],
        "governorate": ["sulaymaniyah"],
        "district": ["  Chamchamal "],
        "place_type": ["checkpoint"],
        "target_who": ["colleague"],
        "target_sector": ["journalist"],
        "target_gender": ["woman"],
        "target_age_band": ["30_44"],
        "perpetrator_type": ["krg_security", "unknown"],
        "perpetrator_identification": ["suspected"],
        "perpetrator_identifiers": ["white pickup"],
        "need": ["legal", "relocation"],
        "consent_share": ["anonymised"],
        "consent_publish": ["no"],
    }
    report = content_from_form(fields)
    assert json.loads(report.to_json_bytes()) == {
        "v": 1,
        "incident_types": ["detention", "surveillance"],
        "start": {"date": "2026-10", "precision": "month"},
        "end": {"date": "2026-10-20", "precision": "exact"},
        "ongoing": True,
        "in_danger_now": "no",
        "location": {
            "governorate": "sulaymaniyah",
            "district": "Chamchamal",
            "place_type": "checkpoint",
        },
        "target": {
            "who": "colleague",
            "sector": "journalist",
            "gender": "woman",
            "age_band": "30_44",
        },
        "perpetrator": {
            "types": ["krg_security", "unknown"],
            "identification": "suspected",
            "identifiers": "white pickup",
        },
        "narrative": "They called my mother.",
        "needs": ["legal", "relocation"],
        "consent": {"share": "anonymised", "publish": "no"},
    }
    assert report.urgent  # detention is flagged


def test_report_in_danger_now_is_urgent() -> None:
    assert content_from_form({**MINIMAL, "in_danger_now": ["yes"]}).urgent


@pytest.mark.parametrize(
    ("fields", "wrong"),
    [
        ({"narrative": ["text"]}, "incident_type"),
        ({"incident_type": ["death_threat"], "narrative": ["   \n "]}, "narrative"),
        ({**MINIMAL, "incident_type": ["made_up"]}, "incident_type"),
        ({**MINIMAL, "incident_type": ["killing", "killing"]}, "incident_type"),
        ({**MINIMAL, "governorate": ["atlantis"]}, "governorate"),
        ({**MINIMAL, "start_date": ["2026-13-45"]}, "start_date"),
        ({**MINIMAL, "end_date": ["yesterday"]}, "end_date"),
        ({**MINIMAL, "start_date": ["2026-01-01"], "start_precision": ["vague"]}, "start_date"),
        ({**MINIMAL, "district": ["x" * 201]}, "district"),
        ({**MINIMAL, "narrative": ["x" * 50_001]}, "narrative"),
        ({**MINIMAL, "consent_publish": ["maybe"]}, "consent_publish"),
    ],
)
def test_wrong_fields_are_named(fields: dict[str, list[str]], wrong: str) -> None:
    with pytest.raises(ContentError) as refusal:
        content_from_form(fields)
    assert wrong in refusal.value.fields


def test_unknown_precision_drops_the_date() -> None:
    report = content_from_form(
        {**MINIMAL, "start_date": ["2026-01-01"], "start_precision": ["unknown"]}
    )
    assert report.start is None


def test_there_are_nineteen_governorates_and_the_outside() -> None:
    codes = content.codes(content.GOVERNORATES)
    assert len(codes - {"outside_iraq"}) == 19
    assert {"halabja", "erbil", "sulaymaniyah", "duhok"} <= codes


@given(
    st.dictionaries(
        st.sampled_from(["incident_type", "narrative", "governorate", "start_date", "need", "x"]),
        st.lists(st.text(max_size=30), max_size=3),
    )
)
def test_any_form_is_a_report_or_a_named_refusal(fields: dict[str, list[str]]) -> None:
    try:
        report = content_from_form(fields)
    except ContentError as refusal:
        problems = refusal.fields
    else:
        problems = {}
        assert ReportContent.model_validate_json(report.to_json_bytes()) == report
    # A refusal always names at least one field; an acceptance always round-trips.
    assert problems or report


def test_line_breaks_posted_by_a_form_match_those_the_page_script_reads() -> None:
    posted = content_from_form({**MINIMAL, "narrative": ["first line\r\nsecond\rthird"]})
    assert posted.narrative == "first line\nsecond\nthird"
