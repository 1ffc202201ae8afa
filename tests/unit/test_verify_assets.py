"""How ``verify-assets`` shows what it found: the desk's words never act on the terminal, and a
changed policy reads as the hashes that differ."""

import pytest

from hrd_reports.cli.assets import _print
from hrd_reports.verify_assets import Difference, Verdict, _policy_change


def test_desks_words_are_shown_with_their_control_characters_escaped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A desk could put terminal escapes into a page, a file name it announces or its name.
    clear_screen = "\x1b[2J"
    verdict = Verdict(
        url="http://desk.test",
        release="0.1.0",
        desk_version="0.1.0",
        desk={"desk_name": f"Help{clear_screen}"},
        checked=["/?lang=en"],
        differences=[
            Difference(f"/static/{clear_screen}.js", "not in this release", "AAAA"),
            Difference("/?lang=en", "x", "y", f"-<p>a</p>\n+<p>{clear_screen}</p>"),
        ],
    )
    _print(verdict)
    shown = capsys.readouterr().out
    assert "\x1b" not in shown
    assert "DIFFERENT: 2" in shown
    assert "\\x1b[2J" in shown or "\\u001b[2J" in shown


def test_a_changed_script_reads_as_the_hash_expected_and_the_hash_named() -> None:
    expected = "default-src 'none'; script-src 'sha384-A' 'sha384-B'; style-src 'self'"
    got = "default-src 'none'; script-src 'sha384-A' 'sha384-C'; style-src 'self'"
    assert _policy_change(expected, got) == ("script-src 'sha384-B'", "script-src 'sha384-C'")


def test_a_weaker_policy_reads_as_what_it_allows_more() -> None:
    expected = "default-src 'none'; script-src 'sha384-A'"
    got = "default-src 'none'; script-src 'self' 'unsafe-inline'; img-src *"
    assert _policy_change(expected, got) == (
        "script-src 'sha384-A'",
        "img-src *; script-src 'self' 'unsafe-inline'",
    )
    assert _policy_change(got, got) == ("(nothing more)", "(nothing more)")
