"""Fixtures shared by every test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
import logging
import warnings

import aiohttp
from aiohttp import web
import pytest

from .deprecation_guard import deprecation_reports
from .recorder_db import recorder_db_url  # noqa: F401
from .secrets_guard import assert_no_secret, hass_texts, record_text
from .simulators.server import start_app

type Serve = Callable[[web.Application], Awaitable[str]]


@pytest.fixture(autouse=True)
def no_secret_leaks(
    caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> Iterator[None]:
    """Run at DEBUG level; fail the test when a secret reaches any log record.

    In Home Assistant tests, repair issues, entry titles and coordinator
    errors are checked too (see secrets_guard.hass_texts).
    """
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    yield
    for when in ("setup", "call", "teardown"):
        for record in caplog.get_records(when):  # type: ignore[arg-type]
            assert_no_secret(record_text(record), f"log record of {record.name}")
    hass = getattr(request.node, "funcargs", {}).get("hass")
    if hass is not None:
        for where, text in hass_texts(hass):
            assert_no_secret(text, where)


@pytest.fixture(autouse=True)
def no_deprecated_use(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail the test when Home Assistant or Python reports a deprecated use of ours.

    See deprecation_guard: HA's frame/deprecation helpers log such reports, and
    DeprecationWarnings are attributed to the module that made the call.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        warnings.simplefilter("always", PendingDeprecationWarning)
        yield
    records = [
        record
        for when in ("setup", "call", "teardown")
        for record in caplog.get_records(when)  # type: ignore[arg-type]
    ]
    reports = deprecation_reports(records, caught)
    assert not reports, "deprecated use by Meetdata:\n" + "\n".join(reports)


@pytest.fixture
async def serve(socket_enabled: None) -> AsyncIterator[Serve]:
    """Serve simulator apps on 127.0.0.1; return each one's base URL.

    pytest-homeassistant-custom-component limits sockets to 127.0.0.1
    (socket_allow_hosts); ``socket_enabled`` lifts only the blanket ban.
    """
    runners: list[web.AppRunner] = []

    async def _serve(app: web.Application) -> str:
        runner, url = await start_app(app)
        runners.append(runner)
        return url

    yield _serve
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def http_session(socket_enabled: None) -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session for testing clients without Home Assistant."""
    async with aiohttp.ClientSession() as session:
        yield session


def pytest_configure(config: pytest.Config) -> None:
    """Keep Home Assistant's import-time log handler from flooding the terminal.

    Records still reach pytest's capture (caplog, reports of failed tests).
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if type(handler) is logging.StreamHandler:
            root.removeHandler(handler)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
