import pytest
from pydantic import ValidationError

from hrd_reports.settings import Settings


def test_defaults_are_a_local_sqlite_file_keys_folder_and_rfc9106_argon2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (
        "HRD_DATABASE_URL",
        "HRD_KEYS_DIR",
        "HRD_ARGON2_TIME_COST",
        "HRD_ARGON2_MEMORY_KIB",
        "HRD_ARGON2_PARALLELISM",
        "HRD_INSECURE_ARGON2_FOR_TESTS",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.database_url == "sqlite:///hrd-reports.db"
    assert str(settings.keys_dir) == "keys"
    assert (settings.argon2.time_cost, settings.argon2.memory_kib, settings.argon2.parallelism) == (
        3,
        65536,
        4,
    )


def test_environment_variables_with_the_hrd_prefix_configure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HRD_DATABASE_URL", "postgresql+psycopg://desk@db/desk")
    monkeypatch.setenv("HRD_ARGON2_MEMORY_KIB", "131072")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://desk@db/desk"
    assert settings.argon2.memory_kib == 131072


@pytest.mark.parametrize(
    "weaker", [{"argon2_time_cost": 2}, {"argon2_memory_kib": 32768}, {"argon2_parallelism": 1}]
)
def test_argon2_below_rfc9106_is_refused_outside_tests(weaker: dict[str, int]) -> None:
    with pytest.raises(ValidationError, match="RFC 9106"):
        Settings(**weaker)  # type: ignore[arg-type]
    assert Settings(**weaker, insecure_argon2_for_tests=True)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://desk.example.org", "https://desk.example.org"),
        ("https://desk.example.org/", "https://desk.example.org"),
        ("HTTPS://Desk.Example.ORG:8443/", "https://desk.example.org:8443"),
        (f"http://{'a' * 56}.onion", f"http://{'a' * 56}.onion"),
        ("https://[2001:db8::1]:443", "https://[2001:db8::1]:443"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("", None),
    ],
)
def test_public_url_is_kept_as_an_origin(given: str, kept: str | None) -> None:
    assert Settings(public_url=given).public_url == kept


@pytest.mark.parametrize(
    "given",
    [
        "desk.example.org",
        "ftp://desk.example.org",
        "javascript:alert(1)",
        "https:desk.example.org",
        "https://",
        "https://desk.example.org/dashboard",
        "https://desk.example.org/?next=1",
        "https://desk.example.org?",
        "https://desk.example.org/#top",
        "https://admin:secret@desk.example.org",
        "https://@desk.example.org",
        "https://desk.example.org:99999",
        "https://desk.example.org:0",
        "https://desk.example.org:port",
        "https://desk..example.org",
        "https://desk_example.org",
        "https://-desk.example.org",
        "https://[not:an:address]",
        "https://desk.example.org /",
        "https://desk.example.org\r\nSet-Cookie: x=1",
        "https://bücher.example",
    ],
)
def test_public_url_that_is_not_an_http_origin_is_refused(given: str) -> None:
    with pytest.raises(ValidationError, match="public_url"):
        Settings(public_url=given)


def test_public_link_joins_the_public_url_and_a_path() -> None:
    assert Settings().public_link("/setup/t") is None
    settings = Settings(public_url="https://desk.example.org/")
    assert settings.public_link("/setup/t") == "https://desk.example.org/setup/t"
    assert settings.public_url_is_https
    assert not Settings(public_url=f"http://{'a' * 56}.onion").public_url_is_https


def test_fault_kill_switch_is_refused_outside_test_suites() -> None:
    with pytest.raises(ValidationError, match="for test suites only"):
        Settings(test_fault_kill_rotation_at="after-start")
    test_suite = {"argon2_time_cost": 1, "insecure_argon2_for_tests": True}
    assert Settings(**test_suite, test_fault_kill_rotation_at="batch-3-before-commit")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="test_fault_kill_rotation_at"):
        Settings(**test_suite, test_fault_kill_rotation_at="after-strat")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("public_url", "origin", "rp_id"),
    [
        ("https://desk.example.org", "https://desk.example.org", "desk.example.org"),
        ("https://desk.example.org:8443", "https://desk.example.org:8443", "desk.example.org"),
        ("http://localhost:8000", "http://localhost:8000", "localhost"),
        (f"http://{'a' * 56}.onion", f"http://{'a' * 56}.onion", f"{'a' * 56}.onion"),
        # An IP address is no relying party id: browsers refuse it, so no keys there.
        ("https://192.0.2.7", None, None),
        ("http://[::1]:8000", None, None),
        (None, None, None),
    ],
)
def test_security_keys_are_bound_to_the_public_url_and_its_host_name(
    public_url: str | None, origin: str | None, rp_id: str | None
) -> None:
    settings = Settings(public_url=public_url)
    assert (settings.webauthn_origin, settings.webauthn_rp_id) == (origin, rp_id)


@pytest.mark.parametrize("policy", ["keyholders", "all"])
@pytest.mark.parametrize("public_url", [None, "https://192.0.2.7"])
def test_requiring_security_keys_without_a_public_host_name_is_refused(
    policy: str, public_url: str | None
) -> None:
    # Nobody could register a key: the policy would lock every person it covers out.
    with pytest.raises(ValidationError, match="HRD_REQUIRE_WEBAUTHN_FOR needs HRD_PUBLIC_URL"):
        Settings(require_webauthn_for=policy, public_url=public_url)


def test_security_key_policy_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HRD_PUBLIC_URL", "https://desk.example.org")
    monkeypatch.setenv("HRD_REQUIRE_WEBAUTHN_FOR", "keyholders")
    assert Settings().require_webauthn_for == "keyholders"
    monkeypatch.setenv("HRD_REQUIRE_WEBAUTHN_FOR", "some")
    with pytest.raises(ValidationError):
        Settings()


def test_statistics_hide_counts_under_five_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HRD_STATS_MIN_CELL", raising=False)
    assert Settings().stats_min_cell == 5
    monkeypatch.setenv("HRD_STATS_MIN_CELL", "10")
    assert Settings().stats_min_cell == 10


@pytest.mark.parametrize("threshold", ["0", "-3", "1001", "five"])
def test_a_statistics_threshold_out_of_its_range_is_refused(
    monkeypatch: pytest.MonkeyPatch, threshold: str
) -> None:
    monkeypatch.setenv("HRD_STATS_MIN_CELL", threshold)
    with pytest.raises(ValidationError, match="stats_min_cell"):
        Settings()
