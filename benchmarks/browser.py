"""What a reporter's browser pays: sealing time and the weight of the form page.

    python benchmarks/browser.py

Runs the real server (``hrd-reports serve``) on a fresh desk and drives Debian's Chromium
(``/usr/bin/chromium``) through Playwright:

- seal time: ``HrdEnvelope.buildSubmission`` on a 4 KiB report (HPKE X-Wing seal of the data
  key, AES-256-GCM of the padded body and of the reporter key, receipt key derivation), the
  median of 30 runs after a warm-up; next to it, the reference client doing the same in
  Python in this process, as a point of comparison;
- page weight: the bytes transferred (compressed where the server compresses) to load
  ``/report`` in English and in Arabic (which fetches the Arabic font), from the browser's
  resource timing; the target is at most 150 KB including the HPKE bundle.
"""

import base64
import statistics
import time
from dataclasses import dataclass

from bench_desk import CHEAP_ARGON2, scratch_runtime, server, set_up_desk
from playwright.sync_api import sync_playwright

from hrd_reports.crypto.submission import new_submission
from hrd_reports.crypto.xwing import PublicKey
from hrd_reports.i18n import SUPPORTED_LOCALES

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TARGET_KB = 150
REPORT = b'{"v":1,"incident_types":["death_threat"],"narrative":"' + b"x" * 4000 + b'"}'


@dataclass(frozen=True)
class PageWeight:
    lang: str
    transferred: int
    decoded: int
    # (path, bytes transferred) of each file the page loaded, the page itself included
    files: list[tuple[str, int]]


@dataclass(frozen=True)
class BrowserResult:
    chromium: str
    seal_ms: float
    python_seal_ms: float
    pages: list[PageWeight]


def python_seal_ms(public_key: bytes) -> float:
    key = PublicKey(public_key)
    timings = []
    for _ in range(30):
        started = time.perf_counter()
        new_submission(REPORT, intake_key=key)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


SEAL = """async ([content, runs]) => {
  const key = await (await fetch('/api/v1/intake-key')).json();
  const intakeKey = {keyId: key.key_id, suite: key.suite,
                     publicKey: HrdEnvelope.fromBase64(key.public_key)};
  const bytes = new TextEncoder().encode(content);
  await HrdEnvelope.buildSubmission(bytes, intakeKey, HrdEnvelope.generateReceipt());
  const timings = [];
  for (let i = 0; i < runs; i++) {
    const receipt = HrdEnvelope.generateReceipt();
    const started = performance.now();
    await HrdEnvelope.buildSubmission(bytes, intakeKey, receipt);
    timings.push(performance.now() - started);
  }
  timings.sort((a, b) => a - b);
  return {median: timings[Math.floor(runs / 2)], key: key.public_key};
}"""

WEIGHT = """() => {
  const entries = [...performance.getEntriesByType('navigation'),
                   ...performance.getEntriesByType('resource')];
  return entries.map((e) => [e.name, e.transferSize, e.decodedBodySize]);
}"""


def measure() -> BrowserResult:
    with (
        scratch_runtime(None, "browser", **CHEAP_ARGON2) as (rt, workdir),
        sync_playwright() as playwright,
    ):
        set_up_desk(rt)
        with server(rt.settings, workdir) as (url, _pid):
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page()
            page.goto(f"{url}/report")
            sealed = page.evaluate(SEAL, [REPORT.decode(), 30])
            pages = []
            for lang in SUPPORTED_LOCALES:
                context = browser.new_context()
                page = context.new_page()
                page.goto(f"{url}/report?lang={lang}", wait_until="networkidle")
                page.evaluate("document.fonts.ready")
                entries = page.evaluate(WEIGHT)
                files = sorted(
                    ((name.removeprefix(url), size) for name, size, _ in entries),
                    key=lambda entry: -entry[1],
                )
                pages.append(
                    PageWeight(
                        lang,
                        sum(size for _, size, _ in entries),
                        sum(size for _, _, size in entries),
                        files,
                    )
                )
                context.close()
            version = browser.version
            browser.close()
    python_ms = python_seal_ms(base64.b64decode(sealed["key"]))
    return BrowserResult(version, sealed["median"], python_ms, pages)


def print_result(r: BrowserResult) -> None:
    print(f"\nChromium {r.chromium}, a 4 KiB report")
    print(f"  seal in the browser (median of 30): {r.seal_ms:.1f} ms")
    print(f"  same envelope by the Python reference client: {r.python_seal_ms:.1f} ms")
    for weight in r.pages:
        verdict = "within" if weight.transferred <= TARGET_KB * 1024 else "OVER"
        print(
            f"  /report?lang={weight.lang}: {weight.transferred / 1024:.1f} KB transferred "
            f"({weight.decoded / 1024:.1f} KB decoded, {len(weight.files)} requests), "
            f"{verdict} the {TARGET_KB} KB target"
        )
        for name, size in weight.files:
            print(f"      {size / 1024:7.1f} KB  {name}")


def main() -> None:
    print_result(measure())


if __name__ == "__main__":
    main()
