"""What a reporter's phone downloads to open the report form: at most 150 KB in every language,
fonts included, and nothing from another origin.

A reporter on a slow, metered or watched connection pays for every byte before the form can be
used, and a request to another origin would tell a third party that someone opened the desk.
The bytes counted are those that cross the network, headers and body as sent (compressed where
the server compresses), as ``benchmarks/browser.py`` measures them. Size, never time.
"""

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext

from tests.browser.conftest import LiveServer
from tests.browser.support import PAGE_TIMEOUT_MS, Recorder

pytestmark = pytest.mark.browser

NewContext = Callable[..., BrowserContext]
PHONE = {"width": 360, "height": 740}
BUDGET_BYTES = 150 * 1024
# Every language a reporter may ask for. One whose catalogue is not there yet is served in
# English, and must fit the budget all the same.
LANGUAGES = ("en", "ar", "ckb", "kmr")
ARABIC_SCRIPT = frozenset({"ar", "ckb"})
LATIN_FONT = "noto-sans-latin-400.woff2"
ARABIC_FONT = "noto-sans-arabic-arabic-400.woff2"

# Resolves once every font the page's text asked for has arrived (or failed).
FONTS_LOADED = "() => document.fonts.ready.then((fonts) => fonts.status)"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_report_page_weighs_at_most_150_kb_and_loads_only_from_its_own_origin(
    lang: str, new_context: NewContext, live_server: LiveServer
) -> None:
    origin = live_server.origin
    context = new_context(viewport=PHONE)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    recorder = Recorder()
    recorder.attach(context)
    # Nothing may reach the network beyond this server; whatever tried is still recorded.
    context.route(lambda url: not url.startswith(origin + "/"), lambda route: route.abort())
    page = context.new_page()

    page.goto(live_server.url(f"/report?lang={lang}"), wait_until="networkidle")
    assert page.evaluate(FONTS_LOADED) == "loaded"
    page.wait_for_load_state("networkidle")
    served = page.get_attribute("html", "lang")

    elsewhere = [
        request.url
        for request in recorder.requests
        if urlsplit(request.url)[:2] != urlsplit(origin)[:2]
    ]
    assert elsewhere == []
    assert [request.url for request in recorder.failed] == []
    # Every request had its answer in full, so each one's size below is what it cost.
    assert len(recorder.finished) == len(recorder.requests)

    weights = []
    for request in recorder.requests:
        sizes = request.sizes()
        weights.append(
            (sizes["responseHeadersSize"] + sizes["responseBodySize"], urlsplit(request.url).path)
        )
    total = sum(size for size, _ in weights)
    breakdown = "\n".join(f"  {size:7d}  {path}" for size, path in sorted(weights, reverse=True))
    print(f"/report?lang={lang} (served as {served}): {total} bytes, {len(weights)} requests")
    print(breakdown)

    # The fonts are counted, not missed: Latin digits and punctuation are on every page, and
    # the Arabic font is fetched by the pages in Arabic script and by no other.
    fonts = {path.rsplit("/", 1)[1] for _, path in weights if path.endswith(".woff2")}
    assert LATIN_FONT in fonts
    assert (ARABIC_FONT in fonts) == (served in ARABIC_SCRIPT), fonts
    assert {"document", "stylesheet", "script", "font"} <= {
        request.resource_type for request in recorder.requests
    }
    assert total <= BUDGET_BYTES, f"{total} bytes, over {BUDGET_BYTES}:\n{breakdown}"
