"""What a referral may carry: every field of the form is named and classed, the reporter's
answer decides which go, and the package holds those and nothing else."""

import datetime as dt
import json
import typing
import uuid
from typing import Any

import pytest
from pydantic import BaseModel

from hrd_reports import received
from hrd_reports.content import IDENTIFYING_FIELDS, REPORT_FIELDS, ReportContent
from hrd_reports.services import referrals
from hrd_reports.services.errors import Conflict, Invalid
from tests.partner_keys import as_bytes, consented_report

WORDS = "CANARY-identifying"


def _leaves(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every field of the form by its path, descending into its nested parts."""
    found = set()
    for name, info in model.model_fields.items():
        kind = info.annotation
        candidates = typing.get_args(kind) or (kind,)
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        # A date (start, end) is one field, though a model of its own.
        if nested and name not in {"start", "end"}:
            found |= _leaves(nested[0], f"{prefix}{name}.")
        else:
            found.add(f"{prefix}{name}")
    return found


def test_every_field_of_the_form_is_a_referral_field_and_none_is_forgotten() -> None:
    # A field added to the form must be classed here before it can go anywhere.
    assert {path for path, _ in REPORT_FIELDS} == _leaves(ReportContent) - {"v"}


def test_identifying_fields_are_the_free_text_the_dates_and_the_person() -> None:
    assert (
        frozenset(
            {
                "narrative",
                "location.district",
                "perpetrator.identifiers",
                "start",
                "end",
                "target.gender",
                "target.age_band",
            }
        )
        == IDENTIFYING_FIELDS
    )


def test_every_free_text_field_of_the_form_is_identifying() -> None:
    # Whatever a reporter types may name them; only choices from the form's lists may go
    # without their name.
    report = consented_report(WORDS, share="anonymised")
    typed = {
        path
        for path, _ in REPORT_FIELDS
        if WORDS in json.dumps(_value(report, path), ensure_ascii=False)
    }
    assert typed == {"narrative", "location.district", "perpetrator.identifiers"}
    assert typed <= IDENTIFYING_FIELDS


def _value(document: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        document = document[part]
    return document


def _content(share: str | None) -> dict[str, Any]:
    return received.read(as_bytes(consented_report(WORDS, share=share)))


def test_plan_follows_the_reporters_answer() -> None:
    assert referrals.plan(_content("named"), withdrawn=False).fields == referrals.ALL_FIELDS
    anonymised = referrals.plan(_content("anonymised"), withdrawn=False)
    assert anonymised.allowed
    assert set(anonymised.fields) == {p for p, _ in REPORT_FIELDS} - IDENTIFYING_FIELDS
    for share in ("none", None):
        refused = referrals.plan(_content(share), withdrawn=False)
        assert not refused.allowed
        assert refused.fields == ()
        assert isinstance(refused.refusal, Invalid)


@pytest.mark.parametrize(
    ("content", "withdrawn", "refusal"),
    [
        (None, False, Invalid),
        (
            received.read(b'{"incident_types": ["killing"], "narrative": "x", "odd": 1}'),
            False,
            Invalid,
        ),
        (received.read(b"\xff not even text"), False, Invalid),
        (_content("named"), True, Conflict),
    ],
)
def test_plan_refuses_what_cannot_be_read_or_was_withdrawn(
    content: dict[str, Any] | None, withdrawn: bool, refusal: type[Exception]
) -> None:
    planned = referrals.plan(content, withdrawn=withdrawn)

    assert isinstance(planned.refusal, refusal)
    assert planned.fields == ()


def test_package_holds_the_chosen_fields_nested_as_in_the_report_and_the_note() -> None:
    referral_id = uuid.uuid4()
    content = _content("anonymised")
    fields = ("incident_types", "location.governorate", "consent.share")

    document = json.loads(
        referrals.package(
            content, fields, referral_id=referral_id, referred_on=dt.date(2026, 3, 5), note="n"
        )
    )

    assert document == {
        "format": "hrd-reports/referral/1",
        "referral": str(referral_id),
        "referred_on": "2026-03-05",
        "fields": list(fields),
        "report": {
            "incident_types": ["arbitrary_arrest", "surveillance"],
            "location": {"governorate": "sulaymaniyah"},
            "consent": {"share": "anonymised"},
        },
        "note": "n",
    }


@pytest.mark.parametrize("note", ["a\x00b", "\u202eevil", "x" * (referrals.MAX_NOTE_LENGTH + 1)])
def test_a_note_that_is_not_plain_text_or_too_long_is_refused(note: str) -> None:
    with pytest.raises(Invalid):
        referrals.check_note(note)


def test_a_note_keeps_its_lines() -> None:
    assert referrals.check_note("  first line\r\nsecond\tline \n") == "first line\nsecond\tline"
