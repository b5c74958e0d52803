"""Polls that cost nothing when nothing changed (issue 18, item 3).

Wattworx (``ean/list`` carries each EAN's lastDataDate) and the metering
company (``/meters`` carries each meter's datum_laatste_meting) say which
meters have new data: a poll with no new data is one request for the whole
account, only meters with new data are read, and the readings are those a
fresh client (one that reads every meter) returns. Counted at the simulators,
over HTTP.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from custom_components.meetdata.api.models import LatestReadings, Meter, MeterKind
from custom_components.meetdata.providers.dtl.client.client import DtlClient
from custom_components.meetdata.providers.wattworx.client import (
    WattworxClient,
    parse as wattworx_parse,
)
from custom_components.meetdata.providers.wattworx.client.models import Device
from custom_components.meetdata.providers.wattworx.client.parse import parse_devices

from ..conftest import Serve
from ..simulators.dtl import (
    CUSTOMER_EAN,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    PRODUCTION_METER_EAN,
    SECOND_CUSTOMER_EAN,
    TRANSFER_METER_EAN,
    DtlSimulator,
    SimMeter,
    with_check_digit,
)
from ..simulators.wattworx import (
    DEMO_KEY,
    EAN_GAS,
    EAN_POWER,
    SimDevice,
    WattworxSimulator,
)

NOW = datetime(2026, 3, 16, 10, 2, tzinfo=UTC)
LARGE = 50


def _polled(meters: list[Meter]) -> list[Meter]:
    return [meter for meter in meters if meter.kind is not MeterKind.GATEWAY]


def _unchanged(first: LatestReadings, later: LatestReadings, keys: list[str]) -> None:
    for key in keys:
        assert later[key] == first[key], key


# --- Wattworx ------------------------------------------------------------


def _wattworx_sim(size: int | None) -> WattworxSimulator:
    """The demo account (electricity, gas, one unsigned EAN) or ``size`` EANs."""
    sim = WattworxSimulator(now=NOW)
    if size is None:
        return sim
    template = sim.devices[EAN_POWER]
    sim.devices = {}
    for index in range(1, size + 1):
        ean = f"8712345000001{index:05d}"
        sim.devices[ean] = SimDevice(
            30000 + index,
            ean,
            "KVBG" if index % 5 == 0 else "KVBE",
            f"QUIET{index:05d}",
            template.address,
            template.zip,
            template.city,
            template.rnb,
            template.client_id,
            template.authorisation,
            template.authorisation_status,
            date(2024, 1, 1),
            solar=index % 2 == 0,
        )
    return sim


@pytest.mark.parametrize("size", [None, LARGE], ids=["demo", "50"])
async def test_wattworx_reads_only_meters_with_new_data(
    serve: Serve, http_session: aiohttp.ClientSession, size: int | None
) -> None:
    """First poll reads all; no new data → 1 request; one new day → 1 + 1."""
    sim = _wattworx_sim(size)
    base_url = f"{await serve(sim.build_app())}/api/v1/"
    client = WattworxClient(http_session, DEMO_KEY, base_url=base_url)
    meters = _polled(await client.async_get_meters())
    signed = [m.key for m in meters if sim.last_data_date(sim.devices[m.key])]
    assert len(signed) == (4 if size is None else LARGE)

    sim.request_count.clear()
    first = await client.async_get_latest(meters)
    assert sim.request_count == Counter({"ean/list": 1, "ean/dayvalues": len(signed)})
    assert sorted(first) == sorted(signed)

    sim.request_count.clear()
    second = await client.async_get_latest(meters)
    assert sim.request_count == Counter({"ean/list": 1})
    assert second == first

    # A day later only one EAN has published its data (the rest lag a day).
    changed = EAN_POWER if size is None else signed[3]
    for device in sim.devices.values():
        if device.ean != changed:
            device.publish_lag_days = 2
    sim.now = NOW + timedelta(days=1)
    sim.request_count.clear()
    third = await client.async_get_latest(meters)
    assert sim.request_count == Counter({"ean/list": 1, "ean/dayvalues": 1})
    assert [r.params.get("code") for r in sim.requests[-1:]] == [changed]
    assert third[changed] != first[changed]
    _unchanged(first, third, [key for key in signed if key != changed])

    # The same readings as a client that reads every meter.
    fresh = WattworxClient(http_session, DEMO_KEY, base_url=base_url)
    await fresh.async_get_meters()
    assert await fresh.async_get_latest(meters) == third


async def test_wattworx_unsigned_and_gone_meters_are_forgotten(
    serve: Serve, http_session: aiohttp.ClientSession
) -> None:
    """A meter that loses its signature has no readings, and is read again later."""
    sim = _wattworx_sim(None)
    base_url = f"{await serve(sim.build_app())}/api/v1/"
    client = WattworxClient(http_session, DEMO_KEY, base_url=base_url)
    meters = _polled(await client.async_get_meters())
    first = await client.async_get_latest(meters)
    sim.devices[EAN_GAS].authorisation_status = "Ingetrokken"
    assert EAN_GAS not in await client.async_get_latest(meters)
    sim.devices[EAN_GAS].authorisation_status = "Getekend"
    sim.request_count.clear()
    assert await client.async_get_latest(meters) == first
    assert sim.request_count == Counter({"ean/list": 1, "ean/dayvalues": 1})


async def test_wattworx_same_device_list_is_not_parsed_again(
    serve: Serve, http_session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ean/list answer equal to the last one reuses its devices."""
    sim = _wattworx_sim(None)
    base_url = f"{await serve(sim.build_app())}/api/v1/"
    client = WattworxClient(http_session, DEMO_KEY, base_url=base_url)
    meters = _polled(await client.async_get_meters())
    first = await client.async_get_latest(meters)
    parsed: list[int] = []

    def counting(root: Any) -> list[Device]:
        devices = parse_devices(root)
        parsed.append(len(devices))
        return devices

    monkeypatch.setattr(wattworx_parse, "parse_devices", counting)
    assert await client.async_get_latest(meters) == first
    assert parsed == []
    devices = await client.async_get_devices()
    devices.clear()  # the caller's list; the kept answer is untouched
    assert await client.async_get_latest(meters) == first
    sim.now = NOW + timedelta(days=1)
    later = await client.async_get_latest(meters)
    assert parsed == [5]
    assert all(later[key] != first[key] for key in first)


# --- Metering company (DTL) ---------------------------------------------


def _dtl_sim(size: int | None) -> tuple[DtlSimulator, list[str]]:
    """The demo account (3 meters, 2 customers) or ``size`` meters of 5 customers."""
    sim = DtlSimulator(now=NOW)
    if size is None:
        return sim, [CUSTOMER_EAN, SECOND_CUSTOMER_EAN]
    customers = [with_check_digit(f"871687140002{i:05d}") for i in range(1, 6)]
    sim.meters = [
        SimMeter(
            customers[index % 5],
            with_check_digit(f"871687140008{index:05d}"),
            "bruto_productie" if index % 4 == 0 else "overdrachtspunt",
            index,
            900,
            0 if index % 4 == 0 else 150,
        )
        for index in range(1, size + 1)
    ]
    return sim, customers


def _dtl_client(
    session: aiohttp.ClientSession, url: str, customers: list[str]
) -> DtlClient:
    return DtlClient(session, url, DEMO_USERNAME, DEMO_PASSWORD, customers)


@pytest.mark.parametrize("size", [None, LARGE], ids=["demo", "50"])
async def test_dtl_reads_only_meters_with_new_data(
    serve: Serve, http_session: aiohttp.ClientSession, size: int | None
) -> None:
    """First poll reads all; no new data → 1 request; one new interval → 1 + 1."""
    sim, customers = _dtl_sim(size)
    url = await serve(sim.build_app())
    client = _dtl_client(http_session, url, customers)
    meters = await client.async_get_meters()
    keys = [meter.key for meter in meters]
    assert len(keys) == (3 if size is None else LARGE)

    sim.request_count.clear()
    first = await client.async_get_latest(meters)
    assert sim.request_count == Counter({"/meters": 1, "/meetdata": len(keys)})
    assert sorted(first) == sorted(keys)

    sim.request_count.clear()
    second = await client.async_get_latest(meters)
    assert sim.request_count == Counter({"/meters": 1})
    assert second == first

    # Five minutes later only one meter has delivered its next interval.
    changed = TRANSFER_METER_EAN if size is None else keys[7]
    far = NOW + timedelta(days=1)
    for meter_ean in keys:
        if meter_ean != changed:
            sim.add_gap(sim.data_end, far, meter_ean=meter_ean)
    sim.now = NOW + timedelta(minutes=5)
    sim.request_count.clear()
    third = await client.async_get_latest(meters)
    assert sim.request_count == Counter({"/meters": 1, "/meetdata": 1})
    assert dict(sim.requests[-1].query)["meter_ean"] == changed
    assert third[changed] != first[changed]
    _unchanged(first, third, [key for key in keys if key != changed])

    # The same readings as a client that reads every meter.
    fresh = _dtl_client(http_session, url, customers)
    assert await fresh.async_get_latest(meters) == third


async def test_dtl_unsettled_readings_are_read_again(
    serve: Serve, http_session: aiohttp.ClientSession
) -> None:
    """A type missing at datum_laatste_meting: that meter is read every poll."""
    sim, customers = _dtl_sim(None)
    url = await serve(sim.build_app())
    client = _dtl_client(http_session, url, customers)
    meters = await client.async_get_meters()
    newest = sim.data_end - timedelta(minutes=5)
    sim.add_gap(
        newest,
        sim.data_end,
        meter_ean=PRODUCTION_METER_EAN,
        meting_types=["spanning_l3"],
    )
    first = await client.async_get_latest(meters)
    sim.request_count.clear()
    assert await client.async_get_latest(meters) == first
    assert sim.request_count == Counter({"/meters": 1, "/meetdata": 1})
    assert dict(sim.requests[-1].query)["meter_ean"] == PRODUCTION_METER_EAN

    # The late row arrives (datum_laatste_meting unchanged): it is shown.
    sim.gaps.clear()
    sim.request_count.clear()
    late = await client.async_get_latest(meters)
    assert sim.request_count == Counter({"/meters": 1, "/meetdata": 1})
    assert late[PRODUCTION_METER_EAN] != first[PRODUCTION_METER_EAN]
    fresh = _dtl_client(http_session, url, customers)
    assert await fresh.async_get_latest(meters) == late
    sim.request_count.clear()
    assert await client.async_get_latest(meters) == late
    assert sim.request_count == Counter({"/meters": 1})
