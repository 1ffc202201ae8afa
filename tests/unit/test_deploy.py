"""The operator's kit in deploy/: the service runs sandboxed and on the loopback only, and
neither the TLS proxy nor Tor keeps a log of reporters' addresses."""

import re
from pathlib import Path

DEPLOY = Path(__file__).parents[2] / "deploy"


def _unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (DEPLOY / "hrd-reports.service").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_service_unit_runs_sandboxed_without_core_dumps_or_privileges() -> None:
    unit = _unit_settings()
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "PrivateDevices": "yes",
        "LimitCORE": "0",
        "UMask": "0077",
        "CapabilityBoundingSet": "",
    }
    assert {key: unit.get(key, [None])[-1] for key in expected} == expected
    assert unit["ReadWritePaths"] == ["/var/lib/hrd-reports"]
    assert unit["User"] != ["root"]


def test_service_unit_serves_on_the_loopback_only() -> None:
    (command,) = _unit_settings()["ExecStart"]
    assert re.search(r"/hrd-reports serve\b", command)
    assert "--host 127.0.0.1" in command


def test_tls_proxy_keeps_no_access_log_and_passes_no_client_address() -> None:
    config = (DEPLOY / "nginx.conf.example").read_text()
    servers = config.count("server {")
    assert servers == config.count("access_log off;") == 2
    assert "proxy_pass http://127.0.0.1:8000;" in config
    assert 'proxy_set_header X-Forwarded-For "";' in config
    assert "$remote_addr" not in config


def test_onion_service_points_at_the_loopback_and_relays_nothing() -> None:
    lines = {
        line.split()[0]: line.split(maxsplit=1)[1]
        for line in (DEPLOY / "torrc.example").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert lines["HiddenServicePort"] == "80 127.0.0.1:8000"
    assert (lines["SocksPort"], lines["ExitRelay"], lines["SafeLogging"]) == ("0", "0", "1")
