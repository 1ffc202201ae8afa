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
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import sync_playwright

from hrd_reports.crypto.submission import new_submission
from hrd_reports.crypto.xwing import PublicKey

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
ENV = {
    "HRD_INSECURE_ARGON2_FOR_TESTS": "true",
    "HRD_ARGON2_TIME_COST": "1",
    "HRD_ARGON2_MEMORY_KIB": "64",
    "HRD_ARGON2_PARALLELISM": "1",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def server() -> Iterator[str]:
    workdir = Path(tempfile.mkdtemp(prefix="hrd-bench-browser-"))
    env = os.environ | ENV
    command = [sys.executable, "-m", "hrd_reports"]
    subprocess.run(
        [*command, "init", "--admin", "desk-admin", "--password-stdin"],
        input="benchmark password only\n",
        text=True,
        cwd=workdir,
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [*command, "serve", "--port", str(port)], cwd=workdir, env=env, stdout=log, stderr=log
    )
    try:
        time.sleep(3)
        yield f"http://localhost:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


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


def main() -> None:
    with server() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto(f"{url}/report")
        sealed = page.evaluate(SEAL, [REPORT.decode(), 30])
        python_ms = python_seal_ms(base64.b64decode(sealed["key"]))
        print(f"\nChromium {browser.version}, a 4 KiB report")
        print(f"  seal in the browser (median of 30): {sealed['median']:.1f} ms")
        print(f"  same envelope by the Python reference client: {python_ms:.1f} ms")
        for lang in ("en", "ar"):
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{url}/report?lang={lang}", wait_until="networkidle")
            page.evaluate("document.fonts.ready")
            entries = page.evaluate(WEIGHT)
            total = sum(size for _, size, _ in entries)
            decoded = sum(size for _, _, size in entries)
            verdict = "within" if total <= TARGET_KB * 1024 else "OVER"
            print(
                f"  /report?lang={lang}: {total / 1024:.1f} KB transferred "
                f"({decoded / 1024:.1f} KB decoded, {len(entries)} requests), "
                f"{verdict} the {TARGET_KB} KB target"
            )
            for name, size, _ in sorted(entries, key=lambda entry: -entry[1]):
                print(f"      {size / 1024:7.1f} KB  {name.removeprefix(url)}")
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
