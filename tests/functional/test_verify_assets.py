"""``hrd-reports verify-assets`` against a real ``hrd-reports serve``.

The server runs from a copy of this installation (its package, templates and static files,
on its own PYTHONPATH), so a test can change what the desk serves while the verifier keeps
comparing with the release as installed. An untouched desk passes; a desk that serves one
changed script or template fails, and the output names it.
"""

import base64
import hashlib
import shutil
from pathlib import Path

import pytest

import hrd_reports
from hrd_reports.resources import resource_dir
from hrd_reports.web.manifest import MANIFEST_PATH
from tests.cli import Run, invoke
from tests.server import StartServer, free_port
from tests.socks_proxy import SocksProxy

pytestmark = pytest.mark.slow

# A name of the form Tor gives onion services (56 base32 letters): it resolves nowhere but
# through Tor, here the test's SOCKS proxy.
ONION = "http://" + "a" * 56 + ".onion"


class ServedCopy:
    """A copy of the installed release for the server to run from."""

    def __init__(self, root: Path) -> None:
        package = Path(hrd_reports.__file__).resolve().parent
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(package, root / "hrd_reports", ignore=ignore)
        # A checkout keeps templates and static files beside the package, a wheel inside it
        # (hrd_reports.resources looks in both): the copy keeps them where they were.
        for name in ("templates", "static"):
            source = resource_dir(name)
            if not source.is_relative_to(package):
                shutil.copytree(source, root / name, ignore=ignore)
        self.root = root
        inside = root / "hrd_reports"
        self.static = inside / "static" if (inside / "static").is_dir() else root / "static"
        self.templates = (
            inside / "templates" if (inside / "templates").is_dir() else root / "templates"
        )

    @property
    def env(self) -> dict[str, str]:
        return {"PYTHONPATH": str(self.root)}


@pytest.fixture
def served(tmp_path: Path) -> ServedCopy:
    return ServedCopy(tmp_path / "served")


def _verify(*args: str, proxy: str | None = None) -> Run:
    # No HRD_TOR_SOCKS of the machine running the tests: only the one a test gives.
    return invoke({"HRD_TOR_SOCKS": proxy or ""}, "verify-assets", *args)


def _b64url_sha256(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def test_untouched_desk_is_identical_directly_and_as_an_onion_service(
    served: ServedCopy, start_server: StartServer
) -> None:
    server = start_server(workers=1, env=served.env)

    direct = _verify(server.url)
    assert direct.exit_code == 0, direct.stdout + direct.stderr
    assert "Identical" in direct.stdout

    port = int(server.url.rpartition(":")[2])
    with SocksProxy(target_port=port) as proxy:
        through_tor = _verify(ONION, "--json", proxy=proxy.url)
        # The onion name went to the proxy to resolve, as Tor needs; nothing resolved it here.
        assert set(proxy.asked) == {(ONION.removeprefix("http://"), 80)}
    assert through_tor.exit_code == 0, through_tor.stdout + through_tor.stderr
    verdict = through_tor.json()
    assert verdict["identical"] is True
    assert verdict["differences"] == []
    assert {MANIFEST_PATH, "/static/vendor/hpke.min.js", "/report?lang=ar"} <= set(
        verdict["checked"]
    )


def test_desk_serving_a_changed_script_fails_naming_the_file(
    served: ServedCopy, start_server: StartServer
) -> None:
    script = served.static / "js" / "reporter.js"
    release = script.read_bytes()
    script.write_bytes(release + b"\nconsole.log('changed on the server');\n")
    server = start_server(workers=1, env=served.env)

    run = _verify(server.url, "--json")

    assert run.exit_code == 1, run.stdout + run.stderr
    differences = {d["path"]: d for d in run.json()["differences"]}
    changed = differences["/static/js/reporter.js"]
    assert changed["expected"] == _b64url_sha256(release)
    assert changed["got"] == _b64url_sha256(script.read_bytes())
    # The pages name the changed script by its new integrity, and their policy pins it.
    assert "/report?lang=en" in differences
    assert "/report?lang=en Content-Security-Policy" in differences
    # Nothing else of the release is named.
    static = {path for path in differences if path.startswith("/static/")}
    assert static == {"/static/js/reporter.js"}

    table = _verify(server.url)
    assert table.exit_code == 1
    assert any(
        line.startswith("/static/js/reporter.js ") and _b64url_sha256(release)[:40] in line
        for line in table.stdout.splitlines()
    ), table.stdout
    assert "DIFFERENT" in table.stdout


def test_desk_serving_a_changed_template_fails_naming_its_pages(
    served: ServedCopy, start_server: StartServer
) -> None:
    template = served.templates / "reporter" / "index.html"
    added = "<p>Send your report to another address instead.</p>"
    template.write_text(
        template.read_text().replace("{% block content %}", "{% block content %}" + added)
    )
    server = start_server(workers=1, env=served.env)

    run = _verify(server.url, "--json")

    assert run.exit_code == 1, run.stdout + run.stderr
    differences = {d["path"]: d for d in run.json()["differences"]}
    for page in ("/?lang=en", "/?lang=ar", "/?lang=ckb", "/?lang=kmr", "/report/done?lang=en"):
        assert page in differences
        assert added in differences[page]["detail"]
    # The other pages and every file are as the release has them.
    assert not [path for path in differences if path.startswith(("/static/", "/report?", "/inbox"))]
    assert MANIFEST_PATH in differences  # its hash of the template differs too


def test_onion_address_without_a_tor_proxy_is_refused() -> None:
    run = _verify(ONION)
    assert run.exit_code == 2
    assert "HRD_TOR_SOCKS" in run.stderr


@pytest.mark.parametrize(
    "url", ["ftp://desk.example.org", "https://desk.example.org/report", "desk.example.org"]
)
def test_address_that_is_not_a_desk_origin_is_refused(url: str) -> None:
    run = _verify(url)
    assert run.exit_code == 2
    assert "address" in run.stderr


def test_desk_that_cannot_be_reached_exits_2() -> None:
    # A port nothing listens on: the connection is refused at once.
    run = _verify(f"http://127.0.0.1:{free_port()}")
    assert run.exit_code == 2
    assert "could not be asked" in run.stderr
