"""The fault matrix at the client level: every provider × every fault, real HTTP.

A row serves its provider's simulator behind the fault proxy and reads the
meters, the latest readings and a history window without a fault. Then, for
every column, a fresh client reads them again with the fault: it must raise
the expected ``MeetdataError`` subclass (with a message free of secrets) or
return what it returned without the fault. Nothing else may escape.

One test per row (Home Assistant's per-test garbage collection makes a test
cost ~0.3 s): a failure lists every failing cell of the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
import math
import ssl
from typing import Any

import aiohttp
import pytest

from custom_components.meetdata.api.base import MeterDataClient
from custom_components.meetdata.api.errors import (
    MeetdataConnectionError,
    MeetdataError,
    MeetdataRateLimitError,
    MeetdataResponseError,
)
from custom_components.meetdata.api.models import (
    MEAN_QUANTITIES,
    LatestReadings,
    Meter,
    MeterKind,
)
from custom_components.meetdata.statistics_rows import hourly_amounts, hourly_means

from ..secrets_guard import find_secret
from .catalog import ACCEPT, CLIENT_TIMEOUT, COLUMNS, TYPED_OR_ACCEPT, Column
from .conftest import MakeProxy
from .proxy import HUGE_BYTES, FaultProxy
from .rows import ROWS, Row

type History = dict[str, dict[str, dict[int, Any]]]


def _data_meters(meters: list[Meter]) -> list[Meter]:
    return [m for m in meters if m.kind is not MeterKind.GATEWAY]


def _rounded(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(round(v, 9) for v in value)
    return round(value, 9)


async def _history(
    client: MeterDataClient, row: Row, meters: list[Meter], now: datetime
) -> History:
    """Return the history of every meter, aggregated per UTC hour like the importer."""
    start, end = row.history_window(now)
    result: History = {}
    for meter in meters:
        for series in await client.async_get_history(meter, start, end):
            hourly = (
                hourly_means(series.intervals)
                if series.quantity in MEAN_QUANTITIES
                else hourly_amounts(series.intervals)
            )
            result.setdefault(meter.key, {})[str(series.quantity)] = {
                hour: _rounded(value) for hour, value in hourly.items()
            }
    return result


def _finite(latest: LatestReadings | None, history: History | None) -> bool:
    numbers = [
        reading.value
        for readings in (latest or {}).values()
        for reading in readings.values()
        if isinstance(reading.value, float)
    ]
    for per_quantity in (history or {}).values():
        for hourly in per_quantity.values():
            for value in hourly.values():
                numbers += list(value) if isinstance(value, tuple) else [value]
    return all(math.isfinite(n) for n in numbers)


async def _outcome(call: Any) -> tuple[Any, MeetdataError | None]:
    """Run ``call``; return (result, None) or (None, the MeetdataError)."""
    try:
        return await call(), None
    except MeetdataError as err:
        return None, err


@dataclass
class Baseline:
    """What a row's client returns without a fault."""

    meters: list[Meter]
    latest: LatestReadings
    history: History
    now: datetime


async def _cell(
    row: Row,
    column: Column,
    sim: Any,
    proxy: FaultProxy,
    session: aiohttp.ClientSession,
    base: Baseline,
) -> str | None:
    """Run one cell; return what went wrong (None: the cell passes)."""
    client = row.client(session, proxy.url, sim)
    row.tune(client)
    row.set_promise_timeout(client, 0.2)
    await row.prime(client)
    if column.name == "timeout":
        row.tune(client, timeout=CLIENT_TIMEOUT)
    if column.name == "refused":
        await proxy.stop()
    else:
        proxy.fault = column.fault(row)
    try:
        latest, latest_err = await _outcome(
            lambda: client.async_get_latest(base.meters)
        )
        history, history_err = await _outcome(
            lambda: _history(client, row, base.meters, base.now)
        )
    finally:
        proxy.fault = None
        if column.name == "refused":
            await proxy.start()
    for err in (latest_err, history_err):
        if err is not None and (secret := find_secret(f"{err!r} {err}")):
            return f"secret {secret[:4]}… in {err!r}"
    expect = column.expected(row)
    if expect == ACCEPT:
        if latest_err or history_err:
            return f"refused: {latest_err!r} / {history_err!r}"
        if latest != base.latest:
            return "latest readings differ"
        if history != base.history:
            return "history differs"
    elif expect == TYPED_OR_ACCEPT:
        for err in (latest_err, history_err):
            if err is not None and not isinstance(err, MeetdataResponseError):
                return f"unexpected {err!r}"
        if not _finite(latest, history):
            return "a non-finite value got through"
    else:
        latest_expect, history_expect = (
            expect if isinstance(expect, tuple) else (expect, expect)
        )
        if not isinstance(latest_err, latest_expect):
            return f"latest: {latest_err!r}, not {latest_expect.__name__}"
        if not isinstance(history_err, history_expect):
            return f"history: {history_err!r}, not {history_expect.__name__}"
        if column.name == "rate_limited_retry_after" and (
            not isinstance(latest_err, MeetdataRateLimitError)
            or latest_err.retry_after is None
            or abs(latest_err.retry_after - 120) > 2
        ):
            return f"Retry-After lost: {latest_err!r}"
    if column.name.startswith("huge_50mb"):
        # Refused on Content-Length, or cut off at the size cap: no answer was
        # read to its end (the memory bound is in test_security).
        if not proxy.huge_written or proxy.huge_completed:
            return f"50 MB answers sent to the end: {proxy.huge_completed}"
        if max(proxy.huge_written) >= HUGE_BYTES:
            return "a 50 MB answer was read"
        proxy.huge_written.clear()
    return None


@pytest.mark.parametrize("row", ROWS, ids=str)
async def test_client_row(
    row: Row,
    make_proxy: MakeProxy,
    http_session: aiohttp.ClientSession,
) -> None:
    """Every fault gives the expected typed error, or the same data."""
    sim = row.make_sim()
    proxy = await make_proxy(row, sim, cache=True)
    client = row.client(http_session, proxy.url, sim)
    row.tune(client)
    now = datetime.now(UTC)
    meters = _data_meters(await client.async_get_meters())
    base = Baseline(
        meters,
        await client.async_get_latest(meters),
        await _history(client, row, meters, now),
        now,
    )
    assert base.meters and base.latest and base.history, "the simulator has data"
    failures = {
        column.name: problem
        for column in COLUMNS
        if column.applies(row)
        and (problem := await _cell(row, column, sim, proxy, http_session, base))
    }
    assert not failures, "\n".join(f"{row}/{k}: {v}" for k, v in failures.items())


@pytest.mark.parametrize("row", ROWS, ids=str)
async def test_untrusted_tls_fails_cleanly(
    row: Row,
    make_proxy: MakeProxy,
    http_session: aiohttp.ClientSession,
    untrusted_tls: ssl.SSLContext,
) -> None:
    """A self-signed certificate is refused; verification is never turned off."""
    sim = row.make_sim()
    proxy = await make_proxy(row, sim, ssl_context=untrusted_tls)
    assert proxy.url.startswith("https://")
    client = row.client(http_session, proxy.url, sim)
    with pytest.raises(MeetdataConnectionError) as err:
        await client.async_get_meters()
    assert find_secret(str(err.value)) is None
    assert not proxy.seen, "no request got through the handshake"
