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


def test_fault_kill_switch_is_refused_outside_test_suites() -> None:
    with pytest.raises(ValidationError, match="for test suites only"):
        Settings(test_fault_kill_rotation_at="after-start")
    test_suite = {"argon2_time_cost": 1, "insecure_argon2_for_tests": True}
    assert Settings(**test_suite, test_fault_kill_rotation_at="batch-3-before-commit")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="test_fault_kill_rotation_at"):
        Settings(**test_suite, test_fault_kill_rotation_at="after-strat")  # type: ignore[arg-type]
