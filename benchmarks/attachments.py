"""Evidence files through the real HTTP server, each against a floor measured in the same run:
a reporter uploading one large file, a key holder downloading it, and the reporter's browser
encrypting it.

    python benchmarks/attachments.py [--megabytes 100] [--repeats 3] [--no-browser]
                                     [--database-url postgresql+psycopg://...]

- upload: the reference client (``crypto.attachments``, chunk by chunk, never the whole file in
  memory) sends a file of ``--megabytes`` MiB to ``hrd-reports serve`` as a browser does: a
  proof of work and ``POST /api/v1/uploads``, one ``PUT`` per chunk, then the report naming
  it (``POST /api/v1/reports``). The floor: the same chunks, over the same kind of connection,
  to a server that only inserts each into ``attachment_chunks`` (``bare_upload.py``). Target:
  at least half the floor's rate, and the server's resident memory growing by less than
  32 MiB while it takes the file.
- download: a signed-in coordinator's ``GET /dashboard/reports/{id}/files/1``, read as it
  streams and hashed (it must be the file sent, byte for byte). The floor: in this process,
  each chunk read from the database and decrypted, with no HTTP. The same targets.
- browser: Chromium encrypts the file (chosen in a file input, so read from disk) with
  ``HRDAttachments.sendAll`` while the upload API is answered in the page, then sends it to
  the server for real; the floor is WebCrypto's AES-GCM over as many 1 MiB pieces in the same
  page. Skipped while ``static/js/attachments.js`` does not exist. Target: the page's JS heap
  (with its array buffers) under 64 MiB.

The encryption of each file happens before the clock starts (that is the reporter's browser's
work); both ends of a transfer share this machine's cores. Nothing is asserted; the tables are
the result. See benchmarks/README.md.
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from uuid import UUID

import httpx2 as httpx
from bench_desk import (
    CHEAP_ARGON2,
    backend_of,
    free_port,
    memory_mib,
    scratch_runtime,
    server,
    serving,
    set_up_desk,
)
from dashboard_desk import enrol, login_form, vet
from playwright.sync_api import sync_playwright
from scratch_database import fresh_database
from sqlalchemy import select
from sqlalchemy.orm import Session

from hrd_reports import db
from hrd_reports.crypto.attachments import (
    CHUNK_SIZE,
    Layout,
    MetadataChoice,
    Record,
    attachment_key,
    decrypt_chunk,
    encrypt_chunk,
    encrypt_record,
    padded_chunks,
)
from hrd_reports.crypto.envelope import new_dek
from hrd_reports.crypto.pow import solve
from hrd_reports.crypto.receipts import generate_receipt
from hrd_reports.crypto.submission import Submission, build_submission
from hrd_reports.crypto.xwing import PublicKey
from hrd_reports.models import Attachment, AttachmentChunk, Role
from hrd_reports.resources import resource_dir
from hrd_reports.services.clock import naive_utc_now
from hrd_reports.wiring import Runtime

MIB = 1024 * 1024
TARGET_RATIO = 0.5
TARGET_GROWTH_MIB = 32
TARGET_HEAP_MIB = 64
COORDINATOR = "bench-coordinator"
CONTENT = b'{"v":1,"incident_types":["raid"],"narrative":"A benchmark report with a video."}'
# A small file sent each way first, so that what the server allocates once (imports, caches,
# its thread pool) is not counted as the large file's.
WARM_UP_BYTES = 3 * MIB
HERE = Path(__file__).resolve().parent


def settings_for(megabytes: int) -> dict[str, Any]:
    # Cheap Argon2 (the coordinator's sign-in is not measured) and no proof-of-work cost (the
    # browser's): neither is what a transfer measures.
    return CHEAP_ARGON2 | {"pow_difficulty_bits": 0, "attachment_max_mb": max(100, megabytes)}


# ---- the file, as the reporter's client encrypts it ---------------------------------------


def write_random_file(path: Path, size: int) -> str:
    """``size`` random bytes (a video does not compress either); their SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as sink:
        for start in range(0, size, CHUNK_SIZE):
            piece = os.urandom(min(CHUNK_SIZE, size - start))
            digest.update(piece)
            sink.write(piece)
    return digest.hexdigest()


@dataclass(frozen=True)
class Evidence:
    """A file encrypted for a new report as its reporter's client does, the chunks on disk."""

    submission: Submission
    dek: bytes
    attachment_id: UUID
    layout: Layout
    record: bytes
    chunks_path: Path
    size: int
    sha256: str

    def chunks(self) -> Iterator[bytes]:
        """The stored chunks, read one at a time."""
        with self.chunks_path.open("rb") as source:
            for index in range(self.layout.chunks):
                yield source.read(self.layout.stored_length(index))

    @property
    def key(self) -> bytes:
        return attachment_key(
            self.dek,
            report_id=self.submission.report_id,
            message_id=None,
            attachment_id=self.attachment_id,
        )


def encrypt(plain: Path, sha256: str, intake_key: PublicKey, chunks_path: Path) -> Evidence:
    """A new report, and ``plain`` encrypted as its file, chunk by chunk: the client holds
    one chunk at a time, whatever the file's size."""
    size = plain.stat().st_size
    dek = new_dek()
    submission = build_submission(
        CONTENT, intake_key=intake_key, receipt=generate_receipt(), dek=dek
    )
    report_id, attachment_id = submission.report_id, uuid.uuid4()
    key = attachment_key(dek, report_id=report_id, message_id=None, attachment_id=attachment_id)
    layout = Layout.of_file(size)
    with plain.open("rb") as source, chunks_path.open("wb") as sink:
        pieces = iter(lambda: source.read(CHUNK_SIZE), b"")
        for index, plaintext in enumerate(padded_chunks(pieces, size=size)):
            blob = encrypt_chunk(
                key,
                plaintext,
                report_id=report_id,
                message_id=None,
                attachment_id=attachment_id,
                index=index,
                last=index == layout.chunks - 1,
            )
            sink.write(blob)
    record = Record("evidence.mp4", "video/mp4", size, sha256, sha256, MetadataChoice.NOT_CHECKED)
    sealed_record = encrypt_record(
        key, record, report_id=report_id, message_id=None, attachment_id=attachment_id
    )
    return Evidence(
        submission, dek, attachment_id, layout, sealed_record, chunks_path, size, sha256
    )


# ---- HTTP, and the server's memory -------------------------------------------------------


class Http:
    """One keep-alive HTTP/1.1 connection of the standard library's: it costs the shared
    cores little (a chunk is one ``sendall``), so the figure is the server's."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=600)

    def send(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> http.client.HTTPResponse:
        self.connection.request(method, path, body=body, headers=headers or {})
        return self.connection.getresponse()

    def call(self, method: str, path: str, body: bytes = b"", expected: int = 200) -> Any:
        """One request whose answer must be ``expected``; its JSON."""
        content_type = "application/json" if method == "POST" else "application/octet-stream"
        response = self.send(method, path, body, {"Content-Type": content_type})
        answer = response.read()
        if response.status != expected:
            # A refusal would flatter the figure: refuse to print it.
            sys.exit(f"{method} {path}: {response.status} {answer[:300]!r}; no result")
        return json.loads(answer) if answer else None

    def close(self) -> None:
        self.connection.close()


class PeakMemory:
    """A process's resident memory before a block and at its peak during it (Linux).

    Writing 5 to ``/proc/<pid>/clear_refs`` resets the peak (``VmHWM``) to what is resident
    now, so the peak read afterwards is the block's; the resident size is also sampled, in
    case the reset is not allowed here.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = self.peak = 0.0
        self._reset = False
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "PeakMemory":
        self.before = self.peak = memory_mib(self.pid, "VmRSS")
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
            self._reset = True
        except OSError:
            self._reset = False
        self._sampler.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, memory_mib(self.pid, "VmRSS"))

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._sampler.join()
        if self._reset:
            self.peak = max(self.peak, memory_mib(self.pid, "VmHWM"))

    @property
    def growth(self) -> float:
        return self.peak - self.before


# ---- upload ------------------------------------------------------------------------------


def proof_of_work(client: Http) -> dict[str, Any]:
    challenge = client.call("GET", "/api/v1/challenge")
    return {
        "challenge": challenge["challenge"],
        "counter": solve(challenge["challenge"], challenge["difficulty"]),
    }


def upload(url: str, evidence: Evidence) -> float:
    """The whole upload as a reporter's browser makes it: one proof of work and the upload's
    creation, every chunk, and the report naming the file."""
    client = Http(url)
    try:
        started = time.perf_counter()
        declared = {
            "proof_of_work": proof_of_work(client),
            "report_id": str(evidence.submission.report_id),
            "message_id": None,
            "attachment_id": str(evidence.attachment_id),
            "chunks": evidence.layout.chunks,
            "size": evidence.layout.stored_size,
        }
        client.call("POST", "/api/v1/uploads", json.dumps(declared).encode(), expected=201)
        for index, blob in enumerate(evidence.chunks()):
            client.call("PUT", f"/api/v1/uploads/{evidence.attachment_id}/chunks/{index}", blob)
        report = {
            "proof_of_work": proof_of_work(client),
            "envelope": evidence.submission.to_wire(),
            "attachments": [
                {
                    "id": str(evidence.attachment_id),
                    "record": base64.b64encode(evidence.record).decode("ascii"),
                }
            ],
        }
        client.call("POST", "/api/v1/reports", json.dumps(report).encode(), expected=201)
        return time.perf_counter() - started
    finally:
        client.close()


def bare_attachment(database_url: str, evidence: Evidence) -> int:
    """The attachment row the floor's chunks belong to (the chunks' foreign key)."""
    engine = db.make_engine(database_url)
    try:
        with Session(engine) as session:
            row = Attachment(
                public_id=evidence.attachment_id,
                bound_report=evidence.submission.report_id,
                bound_message=None,
                chunks=evidence.layout.chunks,
                stored_size=evidence.layout.stored_size,
                expires_at=naive_utc_now(),
            )
            session.add(row)
            session.commit()
            return row.id
    finally:
        engine.dispose()


def bare_upload(url: str, evidence: Evidence, attachment: int) -> float:
    """The floor: the same chunks, one request each, to a route that only inserts them."""
    client = Http(url)
    try:
        started = time.perf_counter()
        for index, blob in enumerate(evidence.chunks()):
            client.call("PUT", f"/chunks/{attachment}/{index}", blob)
        return time.perf_counter() - started
    finally:
        client.close()


# ---- download ----------------------------------------------------------------------------


def sign_in(url: str, secret: bytes) -> str:
    """The coordinator signs in over HTTP; the ``Cookie`` header of the session."""
    with httpx.Client(base_url=url, timeout=None) as client:
        form = login_form(client.get("/dashboard/login").text, name=COORDINATOR, secret=secret)
        if client.post("/dashboard/login", data=form).status_code != 303:
            sys.exit("the coordinator could not sign in; no result")
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def download(url: str, cookie: str, evidence: Evidence) -> float:
    """The file as a browser saves it, read as it streams; refused unless it is the file.

    The bytes land in memory as they arrive and are hashed after the clock stops: hashing
    while receiving would time the client's SHA-256 (as slow as the floor's whole decryption)
    on the same two cores as the server, which a browser saving a file does not do.
    """
    client = Http(url)
    saved = bytearray(evidence.size + CHUNK_SIZE)
    view = memoryview(saved)
    received = 0
    try:
        started = time.perf_counter()
        path = f"/dashboard/reports/{evidence.submission.report_id}/files/1"
        response = client.send("GET", path, headers={"Cookie": cookie})
        if response.status != 200:
            sys.exit(f"GET {path}: {response.status}; no result")
        while count := response.readinto(view[received : received + CHUNK_SIZE]):
            received += count
            if received > evidence.size:
                break
        elapsed = time.perf_counter() - started
    finally:
        client.close()
    digest = hashlib.sha256(view[:received]).hexdigest()
    if received != evidence.size or digest != evidence.sha256:
        sys.exit(f"the download is not the file sent ({received:,} bytes); no result")
    return elapsed


def decrypt_floor(rt: Runtime, evidence: Evidence) -> float:
    """The floor: each chunk read from the database and decrypted, in this process."""
    key = evidence.key
    with db.unit_of_work(rt.read_sessions) as session:
        query = select(Attachment.id).where(Attachment.public_id == evidence.attachment_id)
        attachment = session.execute(query).scalar_one()
    started = time.perf_counter()
    for index in range(evidence.layout.chunks):
        with db.unit_of_work(rt.read_sessions) as session:
            blob = session.execute(
                select(AttachmentChunk.data).where(
                    AttachmentChunk.attachment_id == attachment, AttachmentChunk.index == index
                )
            ).scalar_one()
        decrypt_chunk(
            key,
            blob,
            report_id=evidence.submission.report_id,
            message_id=None,
            attachment_id=evidence.attachment_id,
            index=index,
            last=index == evidence.layout.chunks - 1,
        )
    return time.perf_counter() - started


# ---- upload and download, through the server ----------------------------------------------


@dataclass(frozen=True)
class TransferResult:
    backend: str
    megabytes: int
    upload_floor_s: list[float]
    upload_http_s: list[float]
    # Resident memory growth (MiB) of the server, and of the floor's server, in each upload.
    upload_growth: list[float]
    bare_growth: list[float]
    download_floor_s: list[float]
    download_http_s: list[float]
    download_growth: list[float]
    server_before_mib: float

    @staticmethod
    def rate(megabytes: int, times: list[float]) -> float:
        return megabytes / statistics.median(times)

    @property
    def upload_ratio(self) -> float:
        return statistics.median(self.upload_floor_s) / statistics.median(self.upload_http_s)

    @property
    def download_ratio(self) -> float:
        return statistics.median(self.download_floor_s) / statistics.median(self.download_http_s)


def run(megabytes: int, server_url: str | None, repeats: int = 3) -> TransferResult:
    """``repeats`` rounds, each a new report with its file: the floor's upload, the upload
    through the server; then as many downloads, each with its floor just before."""
    backend = backend_of(server_url)
    size = megabytes * MIB
    with scratch_runtime(server_url, "attachments", **settings_for(megabytes)) as (rt, workdir):
        print(f"{backend}: one {megabytes} MiB file, setting up ...", file=sys.stderr, flush=True)
        plain, warm_up = workdir / "evidence.bin", workdir / "warm-up.bin"
        sha256 = write_random_file(plain, size)
        warm_up_sha256 = write_random_file(warm_up, WARM_UP_BYTES)
        intake_key = set_up_desk(rt)
        secret = enrol(rt, name=COORDINATOR, role=Role.COORDINATOR)
        vet(rt, COORDINATOR)
        with fresh_database(server_url, workdir, "bare") as bare_url:
            engine = db.make_engine(bare_url)
            db.migrate(engine)
            engine.dispose()
            port = free_port()
            command = [sys.executable, str(HERE / "bare_upload.py"), bare_url, str(port)]
            env = dict(os.environ)
            with (
                serving(command, port, env=env, workdir=workdir, log="bare.log") as floor_pid,
                server(rt.settings, workdir) as (url, pid),
            ):
                bare = f"http://127.0.0.1:{port}"
                warm = encrypt(warm_up, warm_up_sha256, intake_key, workdir / "warm-up.chunks")
                bare_upload(bare, warm, bare_attachment(bare_url, warm))
                upload(url, warm)
                cookie = sign_in(url, secret)
                download(url, cookie, warm)
                server_before = memory_mib(pid, "VmRSS")
                up_floor, up_http, up_growth, bare_growth = [], [], [], []
                sent = []
                for round_ in range(repeats):
                    print(f"{backend}: upload {round_ + 1} of {repeats} ...", file=sys.stderr)
                    evidence = encrypt(plain, sha256, intake_key, workdir / f"{round_}.chunks")
                    attachment = bare_attachment(bare_url, evidence)
                    with PeakMemory(floor_pid) as memory:
                        up_floor.append(bare_upload(bare, evidence, attachment))
                    bare_growth.append(memory.growth)
                    with PeakMemory(pid) as memory:
                        up_http.append(upload(url, evidence))
                    up_growth.append(memory.growth)
                    sent.append(evidence)
                down_floor, down_http, down_growth = [], [], []
                for round_, evidence in enumerate(sent):
                    print(f"{backend}: download {round_ + 1} of {repeats} ...", file=sys.stderr)
                    down_floor.append(decrypt_floor(rt, evidence))
                    with PeakMemory(pid) as memory:
                        down_http.append(download(url, cookie, evidence))
                    down_growth.append(memory.growth)
                    evidence.chunks_path.unlink()
    return TransferResult(
        backend,
        megabytes,
        up_floor,
        up_http,
        up_growth,
        bare_growth,
        down_floor,
        down_http,
        down_growth,
        server_before,
    )


def print_result(r: TransferResult) -> None:
    runs = len(r.upload_http_s)
    print(f"\nevidence file of {r.megabytes} MiB, {r.backend}, median of {runs} runs; ", end="")
    print(f"server RSS {r.server_before_mib:.0f} MiB before")
    floor, http_rate = r.rate(r.megabytes, r.upload_floor_s), r.rate(r.megabytes, r.upload_http_s)
    print(f"  upload, floor (bare route, same table): {floor:7.1f} MiB/s", end="")
    print(f"   (its server grew by {max(r.bare_growth):.1f} MiB)")
    print(f"  upload through the server:              {http_rate:7.1f} MiB/s   ", end="")
    print(f"ratio {r.upload_ratio:.2f}   (target >= {TARGET_RATIO:.2f})")
    print(f"    server RSS growth {_growths(r.upload_growth)} MiB (target < {TARGET_GROWTH_MIB})")
    floor = r.rate(r.megabytes, r.download_floor_s)
    http_rate = r.rate(r.megabytes, r.download_http_s)
    print(f"  download, floor (read and decrypt):     {floor:7.1f} MiB/s")
    print(f"  download through the server:            {http_rate:7.1f} MiB/s   ", end="")
    print(f"ratio {r.download_ratio:.2f}   (target >= {TARGET_RATIO:.2f})")
    print(f"    server RSS growth {_growths(r.download_growth)} MiB (target < {TARGET_GROWTH_MIB})")
    print("  every download was the file sent (its SHA-256)")


def _growths(values: list[float]) -> str:
    return ", ".join(f"{value:.1f}" for value in values)


# ---- the reporter's browser --------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# The file input the reporter chooses the file with (Playwright gives it the file on disk,
# so the page reads it with File.slice as a phone reads its video).
FILE_INPUT = """() => {
  const input = document.createElement("input");
  input.type = "file";
  input.id = "hrd-bench-file";
  document.body.append(input);
}"""

# Each script starts its work and returns; the page sets window.hrdBench when it is done, so
# that the heap can be sampled meanwhile. The upload API is answered in the page (``answer``)
# or by the server.
SEND = """async ({ answer }) => {
  const file = document.getElementById("hrd-bench-file").files[0];
  const realFetch = window.fetch;
  const json = (status, body) => new Response(JSON.stringify(body), {
    status: status, headers: { "Content-Type": "application/json" } });
  let chunks = 0;
  if (answer) {
    window.fetch = async (path, init) => {
      const method = (init && init.method) || "GET";
      if (method === "POST") {
        const body = JSON.parse(init.body);
        chunks = body.chunks;
        return json(201, { attachment_id: body.attachment_id, chunk_size: 1048576,
                           chunks: chunks, missing: [...Array(chunks).keys()] });
      }
      const id = String(path).split("/")[4];
      if (method === "PUT") return json(200, { index: 0, missing: 0 });
      return json(200, { attachment_id: id, chunk_size: 1048576, chunks: chunks, missing: [] });
    };
  }
  const dek = crypto.getRandomValues(new Uint8Array(32));
  window.hrdBench = { done: false };
  (async () => {
    const started = performance.now();
    try {
      const attached = await HRDAttachments.sendAll(
        HRDAttachments.plan([{ file: file, keepOriginal: false }]), {
          sourceKey: dek, reportId: crypto.randomUUID(), messageId: null,
          proofOfWork: async () => {
            const challenge = await (await realFetch("/api/v1/challenge")).json();
            return { challenge: challenge.challenge, counter: 0 };
          },
        });
      window.hrdBench = { done: true, ms: performance.now() - started, files: attached.length };
    } catch (error) {
      window.hrdBench = { done: true, error: String(error && (error.code || error.message)) };
    } finally {
      window.fetch = realFetch;
    }
  })();
}"""

# The floor: AES-256-GCM over the file's padded length in 1 MiB pieces, each under a fresh
# nonce with additional data as long as a chunk's; no file read, no hash, no request.
ENCRYPT = """async ({ padded }) => {
  const piece = new Uint8Array(1048576);
  for (let at = 0; at < piece.length; at += 65536) {
    crypto.getRandomValues(piece.subarray(at, at + 65536));
  }
  const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false,
                                              ["encrypt"]);
  const aad = new TextEncoder().encode("hrd-reports/1/attachment-chunk/" +
    [crypto.randomUUID(), "report", crypto.randomUUID(), "0", "more"].join("/"));
  window.hrdBench = { done: false };
  (async () => {
    const started = performance.now();
    for (let at = 0; at < padded; at += piece.length) {
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv: crypto.getRandomValues(new Uint8Array(12)),
          additionalData: aad, tagLength: 128 },
        key, piece.subarray(0, Math.min(piece.length, padded - at)));
    }
    window.hrdBench = { done: true, ms: performance.now() - started };
  })();
}"""


@dataclass(frozen=True)
class BrowserResult:
    chromium: str
    megabytes: int
    # (milliseconds, peak JS heap MiB) of each run
    floor: list[tuple[float, float]]
    encrypt: list[tuple[float, float]]
    upload: list[tuple[float, float]]
    heap_before_mib: float
    server_growth: list[float]
    stand_ins: list[str]
    # The same encryption, garbage collected before each sample (not timed): what the page
    # holds, as against what it has allocated and not yet given back.
    held: list[tuple[float, float]] = field(default_factory=list)

    def rate(self, runs: list[tuple[float, float]]) -> float:
        return self.megabytes / (statistics.median(ms for ms, _ in runs) / 1000)

    @property
    def ratio(self) -> float:
        return self.rate(self.encrypt) / self.rate(self.floor)


def heap_mib(cdp: Any) -> float:
    """The page's JS heap in use, with the array buffers it holds (stored outside it)."""
    usage = cdp.send("Runtime.getHeapUsage")
    return float(usage["usedSize"] + usage.get("backingStorageSize", 0)) / MIB


def run_in_page(
    page: Any, cdp: Any, script: str, argument: dict[str, Any], *, collect: bool = False
) -> tuple[float, float]:
    """``script``'s time in the page (ms) and the page's peak heap (MiB) meanwhile; with
    ``collect``, garbage is collected before each sample, so the peak is what it holds."""
    cdp.send("HeapProfiler.collectGarbage")
    page.evaluate(script, argument)
    peak = heap_mib(cdp)
    while True:
        if collect:
            cdp.send("HeapProfiler.collectGarbage")
        peak = max(peak, heap_mib(cdp))
        state = page.evaluate("window.hrdBench")
        if state["done"]:
            break
        time.sleep(0.02)
    if "error" in state:
        sys.exit(f"Chromium: {state['error']}; no result")
    return float(state["ms"]), peak


def load_attachments_js(page: Any) -> tuple[str | None, list[str]]:
    """Loads attachments.js (and metadata.js) into the report page unless it has them; why it
    cannot run, if it cannot, and the stand-ins it runs with."""
    stand_ins = []
    for name, script in (("HRDMetadata", "metadata.js"), ("HRDAttachments", "attachments.js")):
        if page.evaluate(f"typeof {name}") != "undefined":
            continue
        if (resource_dir("static") / "js" / script).exists():
            page.add_script_tag(url=f"/static/js/{script}")
        elif name == "HRDMetadata":
            # The file is random bytes, never a photo: finding no photo is what metadata.js
            # itself would answer.
            page.evaluate("window.HRDMetadata = { sniff: () => null }")
            stand_ins.append("metadata.js missing: a stand-in that finds no photo")
    if page.evaluate("typeof HPKE.sha256") != "function":
        return "the HPKE bundle does not export the SHA-256 attachments.js hashes with", stand_ins
    return None, stand_ins


def measure_browser(megabytes: int, repeats: int = 3) -> BrowserResult | None:
    """The browser's encryption against WebCrypto's alone, then a real upload; None (with a
    message) while the page's attachment code is not there."""
    script = resource_dir("static") / "js" / "attachments.js"
    if not script.exists():
        print(f"\nbrowser: skipped: {script} does not exist yet (no HRDAttachments to measure)")
        return None
    size = megabytes * MIB
    padded = Layout.of_file(size).padded
    with (
        scratch_runtime(None, "attachments-browser", **settings_for(megabytes)) as (rt, workdir),
        sync_playwright() as playwright,
    ):
        set_up_desk(rt)
        plain = workdir / "evidence.bin"
        write_random_file(plain, size)
        with server(rt.settings, workdir) as (url, pid):
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page()
            page.goto(f"{url}/report")
            why_not, stand_ins = load_attachments_js(page)
            if why_not is not None:
                print(f"\nbrowser: skipped: {why_not}")
                browser.close()
                return None
            page.evaluate(FILE_INPUT)
            page.set_input_files("#hrd-bench-file", plain)
            cdp = page.context.new_cdp_session(page)
            cdp.send("HeapProfiler.collectGarbage")
            heap_before = heap_mib(cdp)
            floor, encrypted, uploaded, growth = [], [], [], []
            print(f"Chromium: {repeats} x {megabytes} MiB ...", file=sys.stderr, flush=True)
            for _ in range(repeats):
                floor.append(run_in_page(page, cdp, ENCRYPT, {"padded": padded}))
                encrypted.append(run_in_page(page, cdp, SEND, {"answer": True}))
            for _ in range(repeats):
                with PeakMemory(pid) as memory:
                    uploaded.append(run_in_page(page, cdp, SEND, {"answer": False}))
                growth.append(memory.growth)
            held = [run_in_page(page, cdp, SEND, {"answer": True}, collect=True)]
            version = browser.version
            browser.close()
    return BrowserResult(
        version, megabytes, floor, encrypted, uploaded, heap_before, growth, stand_ins, held
    )


def print_browser(r: BrowserResult) -> None:
    runs = len(r.encrypt)
    print(f"\nChromium {r.chromium}, one {r.megabytes} MiB file, median of {runs} runs")
    for stand_in in r.stand_ins:
        print(f"  ({stand_in})")
    print(f"  floor (WebCrypto AES-GCM, 1 MiB pieces):  {r.rate(r.floor):7.1f} MiB/s")
    print(f"  HRDAttachments, API answered in the page: {r.rate(r.encrypt):7.1f} MiB/s   ", end="")
    print(f"ratio {r.ratio:.2f}")
    print(f"    page heap {r.heap_before_mib:.1f} MiB before, ", end="")
    print(f"peak {max(heap for _, heap in r.encrypt):.1f} MiB with garbage not yet collected")
    if r.held:
        held = max(heap for _, heap in r.held)
        print(f"    page heap held (collected at each sample): peak {held:.1f} MiB ", end="")
        print(f"(target < {TARGET_HEAP_MIB})")
    print(f"  HRDAttachments, uploading to the server:   {r.rate(r.upload):7.1f} MiB/s")
    print(f"    page heap peak {max(heap for _, heap in r.upload):.1f} MiB; ", end="")
    print(f"server RSS growth {_growths(r.server_growth)} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description="Evidence files' upload and download.")
    parser.add_argument("--megabytes", type=int, default=100, help="the file's size in MiB")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each; default 3")
    parser.add_argument("--no-browser", action="store_true", help="leave Chromium out")
    parser.add_argument("--database-url", help="a PostgreSQL server to create a database on")
    args = parser.parse_args()
    if args.database_url is not None and db.is_sqlite(args.database_url):
        parser.error("--database-url is for PostgreSQL; SQLite runs in a temporary directory")
    print_result(run(args.megabytes, args.database_url, args.repeats))
    if not args.no_browser:
        browser = measure_browser(args.megabytes, args.repeats)
        if browser is not None:
            print_browser(browser)


if __name__ == "__main__":
    main()
