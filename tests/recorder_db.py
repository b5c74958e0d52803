"""A database per test on PostgreSQL and MariaDB, dropped even when still in use.

pytest-homeassistant-custom-component creates the database of ``--dburl`` for
each test and drops it afterwards. When a connection of the test's recorder
outlives the test by a moment, the drop fails and every later test fails at
setup because the database still exists. Here each test gets a database of
its own name, and the teardown ends the connections still open before it
drops the database, so one slow connection cannot fail the tests after it.
"""

from __future__ import annotations

from collections.abc import Iterator
import itertools
import logging
import os
from shutil import rmtree
import time
from typing import cast

import pytest
import sqlalchemy as sa

_LOGGER = logging.getLogger(__name__)
_NUMBER = itertools.count(1)
_DROP_ATTEMPTS = 5


def _server_url(db_url: str) -> sa.URL:
    """Return ``db_url`` naming a database of this test's own."""
    url = sa.make_url(db_url)
    return url.set(database=f"{url.database}_{os.getpid()}_{next(_NUMBER)}")


def _drop(url: sa.URL) -> None:
    """Drop the database of ``url`` after ending the connections left on it."""
    import sqlalchemy_utils

    name = url.database
    if url.get_backend_name() == "postgresql":
        _drop_postgresql(url.set(database="postgres"), name)
        return
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        left = connection.execute(
            sa.text(
                "SELECT id FROM information_schema.processlist"
                " WHERE db = :db AND id != CONNECTION_ID()"
            ),
            {"db": name},
        ).fetchall()
        for (pid,) in left:
            _LOGGER.warning("Ending connection %s still open on %s", pid, name)
            connection.execute(sa.text(f"KILL {int(pid)}"))
    engine.dispose()
    sqlalchemy_utils.drop_database(url)


def _drop_postgresql(server: sa.URL, name: str | None) -> None:
    """End this role's connections on ``name``, then drop it.

    Not ``DROP DATABASE … WITH (FORCE)``: that also terminates an autovacuum
    worker busy on the database, which a role without superuser or
    pg_signal_backend may not do. A plain drop stops autovacuum by itself.
    """
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for attempt in itertools.count(1):
            ended = connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :db AND usename = current_user"
                    " AND pid != pg_backend_pid()"
                ),
                {"db": name},
            ).fetchall()
            if ended:
                _LOGGER.warning(
                    "Ended %s connections still open on %s", len(ended), name
                )
            try:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            except sa.exc.OperationalError:
                if attempt == _DROP_ATTEMPTS:
                    raise
                time.sleep(0.2 * attempt)
            else:
                break
    engine.dispose()


@pytest.fixture
def recorder_db_url(
    pytestconfig: pytest.Config,
    hass_fixture_setup: list[bool],
    persistent_database: bool,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """Return the recorder URL of this test: a fresh database on a server."""
    assert not hass_fixture_setup
    db_url = cast("str", pytestconfig.getoption("dburl"))
    if db_url.startswith("sqlite://"):
        if db_url == "sqlite://" and persistent_database:
            tmp_path = tmp_path_factory.mktemp("recorder")
            yield "sqlite:///" + str(tmp_path / "pytest.db")
            rmtree(tmp_path, ignore_errors=True)
        else:
            yield db_url
        return
    import sqlalchemy_utils

    url = _server_url(db_url)
    if url.get_backend_name() == "mysql":
        sqlalchemy_utils.create_database(
            url, encoding="utf8mb4' COLLATE = 'utf8mb4_unicode_ci"
        )
    else:
        sqlalchemy_utils.create_database(url, encoding="utf8")
    yield url.render_as_string(hide_password=False)
    _drop(url)
