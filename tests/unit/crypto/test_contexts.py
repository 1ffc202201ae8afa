"""Context strings: each binding names one thing, and no two different things alike."""

import uuid

import pytest

from hrd_reports.crypto.contexts import Purpose, bind

REPORT = uuid.UUID("6f1c2b1e-8d5a-4c3e-9b7a-2f4d6e8a0c1b")
NOTE = uuid.UUID("0b7e6f1a-1d2c-4e3f-8a9b-0c1d2e3f4a5b")


def test_bind_joins_its_subjects_as_the_stored_ciphertexts_were_bound() -> None:
    # The bytes of every existing binding are kept: stored notes, messages and keys open.
    assert bind(Purpose.REPORT_NOTE, REPORT, NOTE) == (
        f"hrd-reports/1/report-note/{REPORT}/{NOTE}".encode("ascii")
    )
    assert bind(Purpose.REPORT_BODY, REPORT) == f"hrd-reports/1/report-body/{REPORT}".encode()


@pytest.mark.parametrize("subjects", [("a/b",), ("a", "b/c"), ("a/",), ("",), ("a", "")])
def test_bind_subject_holding_its_separator_or_empty_is_refused(subjects: tuple[str, ...]) -> None:
    # ("a/b", "c") and ("a", "b/c") would otherwise bind alike.
    with pytest.raises(ValueError, match="separator"):
        bind(Purpose.REPORT_NOTE, *subjects)


def test_bind_without_a_subject_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a subject"):
        bind(Purpose.REPORT_BODY)
