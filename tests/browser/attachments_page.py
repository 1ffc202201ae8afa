"""A page that holds the reporter's attachment code, served from a made-up https origin.

The tests of static/js/attachments.js need the bundle, envelope.js and attachments.js as a
reporter's browser runs them, but not the desk: the files are served from the repository by
``page.route``, on an https origin so that WebCrypto is there, and no request reaches a
network. ``FakeUploads`` answers the upload API (POST, GET, PUT) as the server does, and can
lose requests or their answers, to test retries and resumption.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Page, Route

from hrd_reports.crypto.attachments import CHUNK_SIZE, Layout
from hrd_reports.resources import resource_dir

ORIGIN = "https://attachments.test"
STATIC = resource_dir("static")
SCRIPTS = ["vendor/hpke.min.js", "js/envelope.js", "js/attachments.js"]
PAGE = "<!doctype html><html><head>{}</head><body></body></html>".format(
    "".join(f'<script src="/static/{path}"></script>' for path in SCRIPTS)
)

# SHA-256 with the interface of @noble/hashes' ``sha256`` (``sha256(bytes)``, ``.create()``,
# ``update``, ``digest``), for as long as the committed bundle does not export its own yet
# (vendor/hpke: it is rebuilt only where the registry's audit endpoint answers). Installed
# only when ``HPKE.sha256`` is missing; every hash it gives is compared with Python's hashlib
# by the tests, so a mistake in it fails them rather than hiding one.
SHA256_STUB = """
() => {
  if (HPKE.sha256) return "bundle";
  const primes = [];
  for (let n = 2; primes.length < 64; n++) if (primes.every((p) => n % p)) primes.push(n);
  const frac = (x) => ((x - Math.floor(x)) * 4294967296) >>> 0;
  const K = primes.map((p) => frac(Math.cbrt(p)));
  const H = primes.slice(0, 8).map((p) => frac(Math.sqrt(p)));
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  function create() {
    const h = H.slice(), block = new Uint8Array(64), w = new Uint32Array(64);
    const view = new DataView(block.buffer);
    let used = 0, length = 0;
    function compress() {
      for (let i = 0; i < 16; i++) w[i] = view.getUint32(i * 4);
      for (let i = 16; i < 64; i++) {
        const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
        const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
      }
      let [a, b, c, d, e, f, g, k] = h;
      for (let i = 0; i < 64; i++) {
        const t1 = (k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
          K[i] + w[i]) >>> 0;
        const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
        k = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
      }
      [a, b, c, d, e, f, g, k].forEach((v, i) => { h[i] = (h[i] + v) >>> 0; });
    }
    return {
      update(data) {
        for (let i = 0; i < data.length; i++) {
          block[used++] = data[i];
          if (used === 64) { compress(); used = 0; }
        }
        length += data.length;
        return this;
      },
      digest() {
        block[used++] = 0x80;
        if (used > 56) { block.fill(0, used); compress(); used = 0; }
        block.fill(0, used);
        view.setUint32(56, Math.floor(length / 536870912));
        view.setUint32(60, (length * 8) >>> 0);
        compress();
        const out = new Uint8Array(32);
        h.forEach((v, i) => new DataView(out.buffer).setUint32(i * 4, v));
        return out;
      },
    };
  }
  const sha256 = (data) => create().update(data).digest();
  sha256.create = create;
  HPKE.sha256 = sha256;
  return "stub";
}
"""


def bundle_exports_sha256() -> bool:
    record = json.loads((STATIC / "vendor" / "hpke.min.js.json").read_text())
    return "sha256" in record["exports"]


def open_attachments_page(page: Page) -> None:
    """Loads the three scripts on the made-up origin; answers every other request with 404."""

    def serve(route: Route) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        if path == "/":
            route.fulfill(status=200, content_type="text/html", body=PAGE)
        elif path.startswith("/static/") and path.removeprefix("/static/") in SCRIPTS:
            body = (STATIC / path.removeprefix("/static/")).read_bytes()
            route.fulfill(status=200, content_type="text/javascript", body=body)
        else:
            route.fulfill(status=404, body="")

    page.route(f"{ORIGIN}/**", serve)
    page.goto(f"{ORIGIN}/")
    used = page.evaluate(SHA256_STUB)
    # Once the bundle has its own SHA-256, these tests run it and nothing else.
    assert used == ("bundle" if bundle_exports_sha256() else "stub")


def pattern(size: int, seed: int) -> bytes:
    """Deterministic content, the same as ``PATTERN_JS`` builds in the page."""
    return bytes((i * 31 + seed * 7 + (i >> 11)) & 0xFF for i in range(size))


PATTERN_JS = """
(size, seed) => {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed * 7 + Math.floor(i / 2048)) & 0xff;
  return out;
}
"""

UPLOAD_PATH = re.compile(r"^/api/v1/uploads(?:/([0-9a-f-]{36})(?:/chunks/(\d+))?)?$")


@dataclass
class StoredUpload:
    body: dict[str, Any]
    layout: Layout
    chunks: dict[int, bytes] = field(default_factory=dict)
    # Every body sent for each index, to check that a retry sends the same bytes.
    attempts: dict[int, list[bytes]] = field(default_factory=dict)

    def missing(self) -> list[int]:
        return [i for i in range(self.layout.chunks) if i not in self.chunks]

    def status(self) -> dict[str, Any]:
        return {
            "attachment_id": self.body["attachment_id"],
            "chunk_size": CHUNK_SIZE,
            "chunks": self.layout.chunks,
            "missing": self.missing(),
        }


@dataclass
class FakeUploads:
    """The upload API as the contract states it, in the test's process.

    ``lose_answer`` and ``drop`` name ``(upload number, chunk index)`` pairs whose first PUT
    is stored without its answer reaching the page, or lost before it reaches the server.
    """

    max_file_bytes: int = 100 * 1024 * 1024
    lose_answer: set[tuple[int, int]] = field(default_factory=set)
    drop: set[tuple[int, int]] = field(default_factory=set)
    uploads: dict[str, StoredUpload] = field(default_factory=dict)
    creations: list[dict[str, Any]] = field(default_factory=list)
    gets: int = 0

    def install(self, page: Page) -> None:
        page.route(f"{ORIGIN}/api/v1/uploads**", self._handle)

    def _handle(self, route: Route) -> None:
        request = route.request
        match = UPLOAD_PATH.match(request.url.removeprefix(ORIGIN))
        if match is None:
            route.fulfill(status=404, json={"detail": {"code": "not_found", "message": ""}})
            return
        upload_id, index = match.groups()
        if request.method == "POST" and upload_id is None:
            self._create(route, request.post_data_json)
        elif request.method == "GET" and index is None and upload_id in self.uploads:
            self.gets += 1
            route.fulfill(status=200, json=self.uploads[upload_id].status())
        elif request.method == "PUT" and index is not None and upload_id in self.uploads:
            self._put(route, upload_id, int(index), request.post_data_buffer or b"")
        else:
            route.fulfill(status=404, json={"detail": {"code": "upload_unknown", "message": ""}})

    def _create(self, route: Route, body: dict[str, Any]) -> None:
        self.creations.append(body)
        existing = self.uploads.get(body["attachment_id"])
        if existing is not None:
            route.fulfill(status=200, json=existing.status())
            return
        try:
            layout = Layout.of_upload(
                chunks=body["chunks"], stored_size=body["size"], max_file_size=self.max_file_bytes
            )
        except ValueError:
            route.fulfill(status=400, json={"detail": {"code": "bad_layout", "message": ""}})
            return
        self.uploads[body["attachment_id"]] = StoredUpload(body, layout)
        route.fulfill(status=201, json=self.uploads[body["attachment_id"]].status())

    def _put(self, route: Route, upload_id: str, index: int, data: bytes) -> None:
        upload = self.uploads[upload_id]
        number = list(self.uploads).index(upload_id)
        attempts = upload.attempts.setdefault(index, [])
        attempts.append(data)
        first = len(attempts) == 1
        if first and (number, index) in self.drop:
            route.abort("connectionreset")
            return
        if index >= upload.layout.chunks:
            route.fulfill(status=400, json={"detail": {"code": "chunk_out_of_range"}})
            return
        if len(data) != upload.layout.stored_length(index):
            route.fulfill(status=400, json={"detail": {"code": "chunk_wrong_length"}})
            return
        if index in upload.chunks and upload.chunks[index] != data:
            route.fulfill(status=409, json={"detail": {"code": "chunk_conflict"}})
            return
        upload.chunks[index] = data
        if first and (number, index) in self.lose_answer:
            route.abort("connectionreset")
            return
        route.fulfill(status=200, json={"index": index, "missing": len(upload.missing())})
