import os
import stat
from pathlib import Path

import pytest

from hrd_reports.keystore import KeystoreError, load_or_create
from hrd_reports.settings import Settings
from hrd_reports.wiring import StartupError, build_runtime
from tests.helpers import Desk, Person


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_start_creates_private_secrets_in_a_private_folder(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o755)
    (keys / "README.md").write_text("a committed README in a fresh clone")
    os.chmod(keys, 0o755)
    secrets = load_or_create(keys, may_create=True)
    assert _mode(keys) == 0o700
    for name in ("pepper", "lookup", "audit"):
        assert _mode(keys / f"{name}.key") == 0o600
    assert len({secrets.pepper, secrets.lookup, secrets.audit}) == 3
    assert load_or_create(keys, may_create=False) == secrets
    assert "hidden" in repr(secrets)


@pytest.mark.parametrize("target", ["folder", "pepper.key"])
def test_secrets_readable_by_others_are_refused(tmp_path: Path, target: str) -> None:
    keys = tmp_path / "keys"
    load_or_create(keys, may_create=True)
    os.chmod(keys if target == "folder" else keys / target, 0o750 if target == "folder" else 0o640)
    with pytest.raises(KeystoreError, match="can be read by other users"):
        load_or_create(keys, may_create=True)


def test_partly_missing_secrets_are_refused_not_replaced(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    load_or_create(keys, may_create=True)
    (keys / "pepper.key").unlink()
    with pytest.raises(KeystoreError, match=r"pepper\.key"):
        load_or_create(keys, may_create=True)
    assert not (keys / "pepper.key").exists()


def test_damaged_secret_is_refused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    load_or_create(keys, may_create=True)
    (keys / "audit.key").write_text("c2hvcnQ=\n")
    with pytest.raises(KeystoreError, match="damaged"):
        load_or_create(keys, may_create=True)


def test_symlinked_keys_folder_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    load_or_create(real, may_create=True)
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(KeystoreError, match="symbolic link"):
        load_or_create(tmp_path / "link", may_create=True)


def test_a_desk_that_is_set_up_never_gets_new_secrets(settings: Settings, admin: Person) -> None:
    runtime = build_runtime(settings, migrate=False)
    Desk(runtime).set_up(admin)
    runtime.close()
    for key_file in settings.keys_dir.glob("*.key"):
        key_file.unlink()
    with pytest.raises(StartupError, match="restore the folder"):
        build_runtime(settings, migrate=False)
    assert list(settings.keys_dir.glob("*.key")) == []
