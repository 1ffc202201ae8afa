"""Fixtures: every test gets its own real database (SQLite file, or PostgreSQL when
``HRD_TEST_DATABASE_URL`` names a server), its own ``keys/`` folder and cheap Argon2."""

import itertools
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hrd_reports import db
from hrd_reports.settings import Settings
from hrd_reports.wiring import Runtime, build_runtime
from tests.helpers import Desk, Person

# Tests never assert on wall-clock time; Hypothesis's per-example deadline would.
hypothesis_settings.register_profile("hrd", deadline=None, print_blob=True)
hypothesis_settings.load_profile("hrd")

# Argon2 at its cheapest, for speed; production refuses these (see Settings).
CHEAP_ARGON2 = {
    "argon2_time_cost": 1,
    "argon2_memory_kib": 64,
    "argon2_parallelism": 1,
    "insecure_argon2_for_tests": True,
}
CHEAP_ARGON2_ENV = {
    f"HRD_{name.upper()}": str(value).lower() for name, value in CHEAP_ARGON2.items()
}


class DatabaseServer:
    """Hands out fresh, migrated databases copied from a template made once per run."""

    def __init__(self, base_dir: Path) -> None:
        self.url = os.environ.get("HRD_TEST_DATABASE_URL")
        self._counter = itertools.count()
        self._run = uuid.uuid4().hex[:8]
        self._created: list[str] = []
        if self.url:
            self._admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
            self._template = f"hrd_tpl_{self._run}"
            self._create(self._template)
            engine = db.make_engine(self._database_url(self._template))
            db.migrate(engine)
            engine.dispose()
        else:
            self._template_file = base_dir / "template.db"
            engine = db.make_engine(f"sqlite:///{self._template_file}")
            db.migrate(engine)
            # Closing the last connection checkpoints the WAL into the file and removes it.
            engine.dispose()

    @property
    def is_postgresql(self) -> bool:
        return self.url is not None

    def _database_url(self, name: str) -> str:
        assert self.url is not None
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def _create(self, name: str, template: str | None = None) -> None:
        clause = f" TEMPLATE {template}" if template else ""
        with self._admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        self._created.append(name)

    def fresh(self, directory: Path) -> str:
        if not self.url:
            target = directory / "hrd-reports.db"
            shutil.copyfile(self._template_file, target)
            return f"sqlite:///{target}"
        name = f"hrd_test_{self._run}_{next(self._counter)}"
        self._create(name, template=self._template)
        return self._database_url(name)

    def drop_all(self) -> None:
        if not self.url:
            return
        with self._admin.connect() as connection:
            for name in reversed(self._created):
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._admin.dispose()


@pytest.fixture(scope="session")
def database_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseServer]:
    server = DatabaseServer(tmp_path_factory.mktemp("template"))
    yield server
    server.drop_all()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The desk's working directory, also the process's, so nothing lands elsewhere."""
    directory = tmp_path / "desk"
    directory.mkdir()
    monkeypatch.chdir(directory)
    return directory


@pytest.fixture
def database_url(database_server: DatabaseServer, workdir: Path) -> str:
    return database_server.fresh(workdir)


# A proof of work of a few bits: every test that submits still solves one.
CHEAP_POW_BITS = 4


@pytest.fixture
def settings(database_url: str, workdir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        keys_dir=workdir / "keys",
        pow_difficulty_bits=CHEAP_POW_BITS,
        **CHEAP_ARGON2,
    )


@pytest.fixture
def cli_env(settings: Settings) -> dict[str, str]:
    """The environment a CLI process of this test's desk runs with."""
    return {
        "HRD_DATABASE_URL": settings.database_url,
        "HRD_KEYS_DIR": str(settings.keys_dir),
        "HRD_POW_DIFFICULTY_BITS": str(CHEAP_POW_BITS),
        **CHEAP_ARGON2_ENV,
    }


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = build_runtime(settings, migrate=False)
    yield rt
    rt.close()


@pytest.fixture
def admin() -> Person:
    return Person("admin", "first key holder passphrase")


@pytest.fixture
def desk(runtime: Runtime, admin: Person) -> Desk:
    """A desk that is set up, with ``admin`` as its first key holder."""
    driver = Desk(runtime)
    driver.set_up(admin)
    return driver
