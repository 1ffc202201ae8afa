"""The supply-chain audit CI runs (.ci/audit_dependencies.py), against a fake index served over
HTTP on the loopback: what fails, what is only listed, and where the advisories come from."""

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pip._internal.models.index import PyPI, TestPyPI

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / ".ci" / "audit_dependencies.py"

ADVISORY = {
    "id": "PYSEC-2099-1",
    "aliases": ["CVE-2099-1"],
    "fixed_in": ["2.0"],
    "withdrawn": None,
}
WITHDRAWN = {**ADVISORY, "id": "GHSA-wwww-wwww-wwww", "withdrawn": "2099-01-02T00:00:00"}


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_dependencies", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while they are made
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_script()


def document(version: str, vulnerabilities: list[dict[str, Any]] | None = None) -> object:
    return {"info": {"version": version}, "vulnerabilities": vulnerabilities or []}


class FakeIndex:
    """Answers ``/pypi/<path>/json`` from ``documents`` (or ``fallback``), 404 for the rest."""

    def __init__(self) -> None:
        self.documents: dict[str, object] = {}
        self.fallback: Callable[[str], object | None] = lambda _path: None
        self.asked: list[str] = []
        self.authorizations: list[str | None] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.asked.append(self.path)
                fake.authorizations.append(self.headers.get("Authorization"))
                path = self.path.removeprefix("/pypi/").removesuffix("/json")
                answer = fake.documents.get(path, fake.fallback(path))
                body = json.dumps(answer).encode()
                self.send_response(404 if answer is None else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.simple = f"http://127.0.0.1:{self.server.server_port}/simple/"
        self.api = f"http://127.0.0.1:{self.server.server_port}/pypi"


@pytest.fixture
def index() -> Iterator[FakeIndex]:
    fake = FakeIndex()
    thread = threading.Thread(target=fake.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
    thread.join()


def run(script: ModuleType, index: FakeIndex, *packages: tuple[str, str, bool]) -> Any:
    """The audit of ``(name, installed version, runtime)`` packages against the fake index."""
    chosen = [script.Package(name, version, runtime) for name, version, runtime in packages]
    return script.summarise(script.audit(chosen, script.Index(index.api)))


def test_audit_vulnerable_runtime_package_fails(script: ModuleType, index: FakeIndex) -> None:
    index.documents["cryptography/51.0.1"] = document("51.0.1", [ADVISORY])

    summary = run(script, index, ("cryptography", "51.0.1", True))

    assert summary.status == 1
    assert "  cryptography 51.0.1: PYSEC-2099-1 CVE-2099-1 (fixed in 2.0)" in summary.lines
    assert summary.lines[-1] == "known vulnerabilities: 1 in the 1 audited packages"


def test_audit_vulnerable_test_only_package_fails(script: ModuleType, index: FakeIndex) -> None:
    index.documents["pytest/8.0"] = document("8.0", [ADVISORY])

    summary = run(script, index, ("pytest", "8.0", False))

    assert summary.status == 1
    assert "VULNERABLE (fails):" in summary.lines


def test_audit_vulnerability_of_latest_release_in_project_document_fails(
    script: ModuleType, index: FakeIndex
) -> None:
    # No per-version document: the project document speaks for its latest release.
    index.documents["segno"] = document("1.6.6", [ADVISORY])

    summary = run(script, index, ("segno", "1.6.6", True))

    assert summary.status == 1
    assert "  segno 1.6.6: PYSEC-2099-1 CVE-2099-1 (fixed in 2.0)" in summary.lines


def test_audit_per_version_document_comes_before_project_document(
    script: ModuleType, index: FakeIndex
) -> None:
    # The latest release is clean; the installed one is not, and only its own document says so.
    index.documents["jinja2"] = document("3.2")
    index.documents["jinja2/3.1"] = document("3.1", [ADVISORY])

    summary = run(script, index, ("jinja2", "3.1", True))

    assert summary.status == 1
    assert "  jinja2 3.1: PYSEC-2099-1 CVE-2099-1 (fixed in 2.0)" in summary.lines


def test_audit_runtime_package_behind_latest_without_per_version_document_fails(
    script: ModuleType, index: FakeIndex
) -> None:
    index.documents["cryptography"] = document("51.0.1")

    # One version behind the one held back on purpose: not held back, and it fails.
    summary = run(script, index, ("cryptography", "50.0.1", True))

    assert summary.status == 1
    assert summary.lines[1:] == [
        "NOT AUDITED, needed at run time (fails):",
        "  cryptography 50.0.1: no per-version document (HTTP 404); the latest release is 51.0.1",
        "known vulnerabilities: 0 in the 0 audited packages; 1 not audited",
    ]


def test_audit_a_runtime_package_held_back_on_purpose_is_listed_with_its_reason(
    script: ModuleType, index: FakeIndex
) -> None:
    index.documents["cryptography"] = document("51.0.1")

    summary = run(script, index, ("cryptography", "50.0.2", True))

    assert summary.status == 0
    assert summary.lines[1] == (
        "NOT AUDITED, needed at run time, held back on purpose (listed, not failed):"
    )
    assert "held back: pyOpenSSL 26.4.0" in summary.lines[2]


def test_audit_test_only_package_behind_latest_without_per_version_document_is_listed(
    script: ModuleType, index: FakeIndex
) -> None:
    index.documents["jsonschema-rs"] = document("0.61.2")
    index.documents["cryptography"] = document("51.0.1")

    summary = run(
        script, index, ("jsonschema-rs", "0.60.3", False), ("cryptography", "51.0.1", True)
    )

    assert summary.status == 0
    assert summary.lines == [
        "audited 1 of 2 installed packages (1 needed at run time, 1 only by the tests and tools);"
        " 1 from their project documents",
        "not audited, only for the tests and tools (listed, not failed):",
        "  jsonschema-rs 0.60.3: no per-version document (HTTP 404); the latest release is 0.61.2",
        # Nothing claimed of the package that was not checked.
        "known vulnerabilities: 0 in the 1 audited packages; 1 not audited",
    ]


def test_audit_all_audited_and_clean_passes(script: ModuleType, index: FakeIndex) -> None:
    # An older release whose own document is clean passes: time alone fails nothing.
    index.documents["alembic/1.13.0"] = document("1.13.0")
    index.documents["alembic"] = document("1.18.0")
    index.documents["pytest"] = document("9.0.1")

    summary = run(script, index, ("alembic", "1.13.0", True), ("pytest", "9.0.1", False))

    assert summary.status == 0
    assert summary.lines == [
        "audited 2 of 2 installed packages (1 needed at run time, 1 only by the tests and tools);"
        " 1 from their per-version documents; 1 from their project documents",
        "known vulnerabilities: 0 in the 2 audited packages",
    ]


def test_audit_withdrawn_advisory_is_ignored(script: ModuleType, index: FakeIndex) -> None:
    index.documents["babel/2.17.0"] = document("2.17.0", [WITHDRAWN])

    summary = run(script, index, ("babel", "2.17.0", True))

    assert summary.status == 0
    assert "  babel 2.17.0: GHSA-wwww-wwww-wwww CVE-2099-1 (fixed in 2.0)" in summary.lines
    assert summary.lines[-1] == "known vulnerabilities: 0 in the 1 audited packages"


def test_audit_document_without_vulnerability_list_does_not_count_as_audited(
    script: ModuleType, index: FakeIndex
) -> None:
    # A mirror that copies release data but not advisories proves nothing about them.
    index.documents["rich/14.0.0"] = {"info": {"version": "14.0.0"}}
    index.documents["rich"] = {"info": {"version": "14.0.0"}}

    summary = run(script, index, ("rich", "14.0.0", True))

    assert summary.status == 1
    assert summary.lines[1] == "NOT AUDITED, needed at run time (fails):"


def test_audit_unreachable_index_fails_runtime_and_lists_test_only(
    script: ModuleType, index: FakeIndex
) -> None:
    index.server.shutdown()
    index.server.server_close()

    summary = run(script, index, ("cryptography", "51.0.1", True), ("pytest", "9.0.1", False))

    assert summary.status == 1
    assert summary.lines[-1] == "known vulnerabilities: 0 in the 0 audited packages; 2 not audited"


def test_audit_runtime_requirement_not_installed_fails(script: ModuleType) -> None:
    results = script.audit([script.Package("argon2-cffi", None, runtime=True)], None)

    summary = script.summarise(results)

    assert summary.status == 1
    assert "  argon2-cffi (missing): required at run time but not installed" in summary.lines


def write_distribution(site: Path, name: str, version: str, *requires: str) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    (info / "METADATA").write_text("\n".join(lines + [f"Requires-Dist: {r}" for r in requires]))


def test_installed_runtime_is_the_projects_closure_without_extras(
    script: ModuleType, tmp_path: Path
) -> None:
    write_distribution(
        tmp_path,
        "hrd-reports",
        "0.1.0",
        "psycopg[binary]>=3.2",
        "argon2-cffi>=23.1",
        'uvloop>=0.19; python_version < "3"',
        'pytest>=8; extra == "test"',
    )
    write_distribution(tmp_path, "Psycopg", "3.3.0", 'psycopg-binary==3.3.0; extra == "binary"')
    write_distribution(tmp_path, "psycopg_binary", "3.3.0")
    write_distribution(tmp_path, "pytest", "9.0.1", "pluggy>=1.5")
    write_distribution(tmp_path, "pluggy", "1.6.0")
    write_distribution(tmp_path, "uvloop", "0.22.1")

    packages = script.installed(path=[str(tmp_path)])

    assert {(p.name, p.version, p.runtime) for p in packages} == {
        ("psycopg", "3.3.0", True),
        ("psycopg-binary", "3.3.0", True),  # through psycopg's extra, which the project asks
        ("pytest", "9.0.1", False),
        ("pluggy", "1.6.0", False),
        ("uvloop", "0.22.1", False),  # installed, but not for this interpreter's markers
        ("argon2-cffi", None, True),  # required, not installed
    }


@pytest.fixture
def pip_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """pip's configuration as on a machine without configuration files."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for name in ("PIP_INDEX_URL", "PIP_NO_INDEX"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.usefixtures("pip_environment")
def test_pip_index_default_is_pips_own_default_index(script: ModuleType) -> None:
    index_url = script.pip_index().url

    assert index_url == PyPI.simple_url
    assert script.json_api(index_url) == PyPI.pypi_url


@pytest.mark.parametrize(
    ("index_url", "api"),
    [
        ("https://mirror.example/simple/", "https://mirror.example/pypi"),
        ("https://mirror.example/python/simple", "https://mirror.example/python/pypi"),
        ("https://mirror.example/root/pypi/+simple/", None),
        ("file:///opt/mirror/simple", None),
    ],
)
def test_json_api_is_derived_from_a_simple_index_url(
    script: ModuleType, index_url: str, api: str | None
) -> None:
    assert script.json_api(index_url) == api


def test_shown_url_hides_an_index_password(script: ModuleType) -> None:
    assert (
        script.shown("https://ci:s3cret@mirror.example/pypi") == "https://***@mirror.example/pypi"
    )


def test_index_sends_a_password_in_a_header_not_in_the_url(
    script: ModuleType, index: FakeIndex
) -> None:
    index.documents["segno/1.6.6"] = document("1.6.6")
    api = index.api.replace("http://", "http://ci:s3cret@")

    summary = script.summarise(
        script.audit([script.Package("segno", "1.6.6", runtime=True)], script.Index(api))
    )

    assert summary.status == 0
    assert index.asked == ["/pypi/segno/1.6.6/json"]
    assert index.authorizations == ["Basic Y2k6czNjcmV0"]  # base64 of ci:s3cret


def test_main_asks_the_index_pip_is_configured_with(
    script: ModuleType,
    index: FakeIndex,
    pip_environment: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pip_environment.setenv("PIP_INDEX_URL", index.simple)
    # Every installed version has a clean document of its own, but cryptography's lists one.
    index.fallback = lambda path: document(path.split("/")[-1]) if "/" in path else None
    version = importlib.metadata.version("cryptography")
    index.documents[f"cryptography/{version}"] = document(version, [ADVISORY])

    status = script.main()

    out = capsys.readouterr().out
    assert status == 1
    assert out.startswith(f"advisories from {index.api}, the JSON API of pip's index")
    assert f"  cryptography {version}: PYSEC-2099-1 CVE-2099-1 (fixed in 2.0)" in out
    assert out.splitlines()[-1].startswith("known vulnerabilities: 1 in the ")
    assert "not audited" not in out


def test_repository_names_no_registry_host() -> None:
    # The audit finds its index through pip; the hosts are taken from pip, not written here.
    hosts = {PyPI.netloc, TestPyPI.netloc, PyPI.file_storage_domain}
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    naming = [
        name.decode()
        for name in files
        if name and (ROOT / name.decode()).is_file()
        for host in hosts
        if host.encode() in (ROOT / name.decode()).read_bytes()
    ]
    assert naming == []
