"""A crafted report through the dashboard and the command line.

An anonymous reporter, with one proof of work, sealed a report of arrays nested 100,000 deep,
or of a 5,000-digit number, or with a lone surrogate: the report list, its search, its second
page, the report's page and ``reports list`` failed (500, or a traceback) until the reporter
withdrew it.
"""

import html
import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hrd_reports import received
from hrd_reports.models import Role
from hrd_reports.settings import Settings
from hrd_reports.web.app import create_app
from hrd_reports.wiring import Runtime
from tests.cli import invoke
from tests.dashboard_support import Clock, Staff, enrol, install_clock, sign_in
from tests.helpers import Desk, Person, report_content

CRAFTED = {
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "a 5,000-digit integer": b'{"incident_types":["other"],"narrative":"x","v":'
    + b"9" * 5000
    + b"}",
    "a lone surrogate": b'{"incident_types":["other"],"narrative":"<b>threat</b> \\ud800"}',
    "markup, not JSON": b"<script>alert(1)</script> \x1b]0;owned\x07 \xff",
}
AS_RECEIVED = re.compile(r'<pre class="text" data-testid="as-received">(.*?)</pre>', re.DOTALL)
AUDIT_TABLES = frozenset({"audit_events", "audit_head"})


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


@pytest.fixture
def client(settings: Settings, runtime: Runtime, desk: Desk) -> Iterator[TestClient]:
    with TestClient(create_app(settings, runtime=runtime)) as test_client:
        yield test_client


@pytest.fixture
def coordinator(desk: Desk, admin: Person, fake_clock: Clock) -> Staff:
    return enrol(desk, desk.add_vetted("cora", Role.COORDINATOR, by=admin), Role.COORDINATOR)


def _ok(client: TestClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, f"{path}: {response.status_code}"
    assert "Traceback" not in response.text
    return response.text


def as_received_on(page: str) -> str:
    """The "as received" text of a report page, as the browser shows it."""
    shown = AS_RECEIVED.search(page)
    assert shown is not None, "no as-received text on the page"
    # Escaped: nothing of the report is markup.
    assert "<" not in shown.group(1)
    return html.unescape(shown.group(1))


@pytest.mark.parametrize("name", CRAFTED)
def test_dashboard_shows_a_crafted_report_as_received_on_every_page(
    client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock, name: str
) -> None:
    # A page of urgent reports comes first, so the crafted one is on the second page.
    for i in range(50):
        desk.submit(report_content(f"threat {i}", incident_types=("detention",)))
    crafted = desk.submit(CRAFTED[name]).report_id
    assert sign_in(client, coordinator, fake_clock) == 303

    first = _ok(client, "/dashboard/reports")
    second = _ok(client, "/dashboard/reports?page=2")
    for path in (
        "/dashboard/reports?q=threat",
        "/dashboard/reports?q=threat&page=2",
        "/dashboard/reports?incident_type=detention&page=2",
    ):
        _ok(client, path)
    only = _ok(client, "/dashboard/reports?form=off")
    page = _ok(client, f"/dashboard/reports/{crafted}")

    assert 'data-testid="off-form-count"' in first
    assert str(crafted) in second
    assert 'data-testid="off-form"' in second
    assert re.findall(r'data-report-id="([^"]+)"', only) == [str(crafted)]
    assert 'data-testid="unexpected-shape"' in page
    assert as_received_on(page) == received.as_received(CRAFTED[name])[0]
    assert "<b>threat" not in page


def test_dashboard_report_page_cuts_a_long_report_and_says_so(
    client: TestClient, desk: Desk, coordinator: Staff, fake_clock: Clock
) -> None:
    crafted = desk.submit(b"x" * (received.AS_RECEIVED_MAX + 10)).report_id
    assert sign_in(client, coordinator, fake_clock) == 303
    page = _ok(client, f"/dashboard/reports/{crafted}")
    assert as_received_on(page) == "x" * received.AS_RECEIVED_MAX
    assert "10 more characters are not shown" in page


# ---- the command line --------------------------------------------------------------------


def _as(env: dict[str, str], person: Person, *args: str) -> tuple[int, str, str]:
    run = invoke(env, *args, "--as", person.name, "--password-stdin", stdin=person.password + "\n")
    assert "Traceback" not in run.stdout + run.stderr
    return run.exit_code, run.stdout, run.stderr


@pytest.mark.parametrize("name", CRAFTED)
def test_reports_list_and_show_print_a_crafted_report_as_received(
    cli_env: dict[str, str], desk: Desk, admin: Person, name: str
) -> None:
    crafted = desk.submit(CRAFTED[name]).report_id
    desk.submit(report_content("an honest report"))

    code, listed, _ = _as(cli_env, admin, "reports", "list")
    assert code == 0
    (line,) = [line for line in listed.splitlines() if line.startswith(str(crafted))]
    assert "[not the form]" in line
    code, as_json, _ = _as(cli_env, admin, "reports", "list", "--json")
    assert code == 0
    code, shown, _ = _as(cli_env, admin, "reports", "show", str(crafted))
    assert code == 0
    assert received.as_received(CRAFTED[name])[0] in shown
    code, shown_json, _ = _as(cli_env, admin, "reports", "show", str(crafted), "--json")
    assert code == 0
    documents = {doc["id"]: doc for doc in json.loads(as_json)["reports"]}
    assert documents[str(crafted)]["follows_form"] is False
    content = json.loads(shown_json)["report"]["content"]
    assert content[received.AS_RECEIVED] == received.as_received(CRAFTED[name])[0]
    for output in (listed, shown, as_json, shown_json):
        # Nothing that acts on a terminal reaches it.
        assert received.visible(output) == output
