"""Tests of the CEMM Open API client against the simulator over real HTTP."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
import logging
import time
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from custom_components.meetdata.api.errors import (
    MeetdataAuthError,
    MeetdataConnectionError,
    MeetdataError,
    MeetdataInvalidRequestError,
    MeetdataNotFoundError,
    MeetdataRateLimitError,
    MeetdataResponseError,
    MeetdataTimeoutError,
    MeetdataUnsupportedError,
)
from custom_components.meetdata.api.models import (
    Interval,
    IntervalSeries,
    Meter,
    MeterKind,
    Quantity,
)
from custom_components.meetdata.providers.cemm.client.client import (
    ALIASES,
    CemmClient,
    alias_key,
    uid_key,
)

from ...conftest import Serve
from ...simulators.cemm import DEFAULT_UID, DEMO_API_KEY, CemmSimulator, local_midnight

AMS = ZoneInfo("Europe/Amsterdam")
UID = DEFAULT_UID
KEY = "ffffffffffff"
SECOND_UID = "00-11-22-33-44-55"
ALL_FIVE = {
    "p1": "p1",
    "p1-gas": "gas",
    "s01": "solar_energy",
    "s02": "electric_energy",
    "s03": "solar_energy",
}

type MakeClient = Callable[..., Awaitable[CemmClient]]


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Return an aware local (Amsterdam) datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=AMS)


@pytest.fixture
def sim() -> CemmSimulator:
    """Return the default account: one CEMM with p1, p1-gas and a solar s01."""
    return CemmSimulator()


@pytest.fixture
def make_client(
    serve: Serve, http_session: aiohttp.ClientSession
) -> Callable[..., Awaitable[CemmClient]]:
    """Serve a simulator and return a client talking to it (clock = simulator's)."""

    async def _make(
        simulator: CemmSimulator, api_key: str = DEMO_API_KEY, **kwargs: float
    ) -> CemmClient:
        url = await serve(simulator.build_app())
        options: dict[str, float] = {
            "promise_retry_delay": 0.01,
            "promise_timeout": 0.2,
        }
        options.update(kwargs)
        return CemmClient(
            http_session,
            api_key,
            base_url=f"{url}/v1",
            clock=lambda: simulator.now,
            **options,
        )

    return _make


@pytest.fixture
async def client(sim: CemmSimulator, make_client: MakeClient) -> CemmClient:
    """Return a client of the default simulator."""
    return await make_client(sim)


def by_quantity(series: list[IntervalSeries]) -> dict[Quantity, IntervalSeries]:
    """Index a history answer by quantity."""
    return {item.quantity: item for item in series}


async def meter_by_alias(client: CemmClient, alias: str) -> Meter:
    """Discover the meters and return the one of ``alias``."""
    for meter in await client.async_get_meters():
        if meter.attributes.get("alias") == alias:
            return meter
    raise AssertionError(alias)


# ----------------------------------------------------------------------
# Endpoints
# ----------------------------------------------------------------------


async def test_devices_io_and_alias(client: CemmClient, sim: CemmSimulator) -> None:
    """cemm/, io/ and io-by-alias parse into uids and I/O objects."""
    assert await client.async_get_devices() == [UID]
    ios = await client.async_get_io(UID)
    assert [(io.io_id, io.port, io.type) for io in ios] == [
        (1, 3, "p1"),
        (2, 3, "gas"),
        (3, 1, "solar_energy"),
    ]
    assert ios[0].port_option == "p1_in"
    assert ios[0].full_id == 16384
    gas = await client.async_get_io_by_alias(UID, "p1-gas")
    assert [io.io_id for io in gas] == [2]
    with pytest.raises(MeetdataUnsupportedError) as err:
        await client.async_get_io_by_alias(UID, "s02")
    assert err.value.meter == UID
    assert sim.request_count["/v1/cemm/"] == 1
    assert sim.request_count[f"/v1/cemm/{UID}/io/"] == 1
    assert sim.request_count[f"/v1/cemm/{UID}/p1-gas/"] == 1


async def test_realtime_and_totals(client: CemmClient, sim: CemmSimulator) -> None:
    """Realtime and totals carry the simulator's registers; [0, 0] is no value."""
    regs = sim.registers(UID)
    realtime = await client.async_get_realtime(UID, "p1")
    assert realtime.io_id == 1
    assert realtime.time is None
    assert "switch" not in realtime.values
    assert realtime.values["t1"].value == pytest.approx(regs["t1"], abs=1e-3)
    assert realtime.values["electric_power"].timestamp == sim.now.replace(microsecond=0)

    totals = await client.async_get_totals(UID, "p1", local(2025, 10, 1, 12))
    values = {name: item.value for name, item in totals.values.items()}
    end_of_day = local_midnight(date(2025, 10, 2))
    expected = sim.registers(UID, end_of_day)
    assert totals.time == local(2025, 10, 1, 12)
    assert totals.values["t1"].timestamp == end_of_day
    for name in ("t1", "t2", "t3", "t4", "gas"):
        assert values[name] == pytest.approx(expected[name])
    # The document's example: electric_energy = t1 - t3, _high = t2 - t4 (net).
    assert values["electric_energy"] == pytest.approx(values["t1"] - values["t3"])
    assert values["electric_energy_high"] == pytest.approx(values["t2"] - values["t4"])

    s0 = await client.async_get_totals(UID, "s01", sim.now)
    assert s0.values["electric_energy"].value == pytest.approx(
        sim.registers(
            UID, datetime.fromtimestamp(sim.now.timestamp() // 300 * 300, UTC)
        )["s01"]
    )


async def test_day_month_year_consistent(
    client: CemmClient, sim: CemmSimulator
) -> None:
    """Day, month and year data agree with each other and with the source."""
    day = await client.async_get_day(UID, "p1", local(2025, 6, 10, 0, 0))
    power = day.series["electric_power"]
    assert len(power) == 1440
    assert [item.timestamp for item in power] == sorted(
        item.timestamp for item in power
    )
    source = sim.minute_power(UID, "p1", local(2025, 6, 10), local(2025, 6, 11))
    assert [(item.timestamp, item.value) for item in power] == [
        (moment, float(watts)) for moment, watts in source
    ]

    month = await client.async_get_month(UID, "p1", local(2025, 6, 30, 23, 59))
    low = month.series["electric_energy_low"]
    high = month.series["electric_energy_high"]
    assert len(low) == len(high) == 30
    assert low[0].timestamp == local_midnight(date(2025, 6, 1))
    net = sim.daily_net(UID, date(2025, 6, 1), date(2025, 6, 30))
    assert [item.value for item in low] == pytest.approx([row[1] for row in net])
    assert [item.value for item in high] == pytest.approx([row[2] for row in net])

    year = await client.async_get_year(UID, "p1", local(2025, 3, 3))
    months = year.series["electric_energy_low"]
    assert len(months) == 12
    assert months[5].timestamp == local_midnight(date(2025, 6, 1))
    assert months[5].value == pytest.approx(sum(item.value for item in low))
    assert months[11].value == 0  # December lies after the clock

    gas_year = await client.async_get_year(UID, "p1-gas", local(2025, 3, 3))
    gas_month = await client.async_get_month(UID, "p1-gas", local(2025, 2, 14))
    assert gas_year.series["gas"][1].value == pytest.approx(
        sum(item.value for item in gas_month.series["gas"])
    )


# ----------------------------------------------------------------------
# Meters
# ----------------------------------------------------------------------


async def test_meters(client: CemmClient, sim: CemmSimulator) -> None:
    """The CEMM is a gateway; each connected alias is a meter via it."""
    meters = await client.async_get_meters()
    assert [(m.key, m.kind, m.via) for m in meters] == [
        (KEY, MeterKind.GATEWAY, None),
        (f"{KEY}_p1", MeterKind.ELECTRICITY, KEY),
        (f"{KEY}_p1_gas", MeterKind.GAS, KEY),
        (f"{KEY}_s01", MeterKind.PRODUCTION, KEY),
    ]
    assert all(m.provider == "cemm" for m in meters)
    assert meters[0].name == f"CEMM {UID}"
    assert meters[0].attributes == {"uid": UID}
    assert meters[3].attributes == {
        "uid": UID,
        "alias": "s01",
        "io_id": "3",
        "io_type": "solar_energy",
        "port": "1",
    }
    # cemm/ plus one io-by-alias request per alias; 412 for s02/s03 is no error.
    assert len(sim.requests) == 1 + len(ALIASES)
    assert [r.status for r in sim.requests].count(412) == 2


async def test_meters_empty_alias_data_and_kinds(make_client: MakeClient) -> None:
    """Empty io data skips an alias; non-solar S0 is auxiliary; several CEMMs."""
    sim = CemmSimulator(
        devices={UID: ALL_FIVE, SECOND_UID: {"p1": "p1"}, "ff-ff-ff-ff-ff-ff": {}}
    )
    sim.empty_for_missing_alias = True
    client = await make_client(sim)
    meters = await client.async_get_meters()
    kinds = {m.key: m.kind for m in meters}
    assert kinds == {
        KEY: MeterKind.GATEWAY,
        f"{KEY}_p1": MeterKind.ELECTRICITY,
        f"{KEY}_p1_gas": MeterKind.GAS,
        f"{KEY}_s01": MeterKind.PRODUCTION,
        f"{KEY}_s02": MeterKind.AUXILIARY,
        f"{KEY}_s03": MeterKind.PRODUCTION,
        "001122334455": MeterKind.GATEWAY,
        "001122334455_p1": MeterKind.ELECTRICITY,
    }
    # The duplicate (lower-case) uid maps to the same key and is skipped.
    assert sim.count("ff-ff-ff-ff-ff-ff") == 0
    assert all(r.status == 200 for r in sim.requests)


def test_keys() -> None:
    """Meter keys: lower-case uid without dashes, alias with '_'."""
    assert uid_key("FF-FF-FF-FF-FF-FF") == "ffffffffffff"
    assert alias_key("00-0A-00-00-00-00", "p1-gas") == "000a00000000_p1_gas"


# ----------------------------------------------------------------------
# Latest
# ----------------------------------------------------------------------


async def test_latest(client: CemmClient, sim: CemmSimulator) -> None:
    """One realtime request per alias, plus totals for S0 once per hour."""
    meters = await client.async_get_meters()
    sim.reset_log()
    latest = await client.async_get_latest(meters)
    regs = sim.registers(UID)
    now = sim.now.replace(microsecond=0)

    p1 = latest[f"{KEY}_p1"]
    assert p1[Quantity.ENERGY_IMPORT_LOW].value == pytest.approx(regs["t1"], abs=1e-3)
    assert p1[Quantity.ENERGY_IMPORT_NORMAL].value == pytest.approx(
        regs["t2"], abs=1e-3
    )
    assert p1[Quantity.ENERGY_EXPORT_LOW].value == pytest.approx(regs["t3"], abs=1e-3)
    assert p1[Quantity.ENERGY_EXPORT_NORMAL].value == pytest.approx(
        regs["t4"], abs=1e-3
    )
    assert p1[Quantity.POWER].value == pytest.approx(
        sim.current_power(UID, "p1") / 1000
    )
    assert p1[Quantity.TARIFF].value == "normal"  # Monday 11:30
    assert p1[Quantity.LAST_MEASUREMENT].value == now
    assert p1[Quantity.POWER].timestamp == now
    assert Quantity.GAS_VOLUME not in p1

    gas = latest[f"{KEY}_p1_gas"]
    boundary = datetime.fromtimestamp(sim.gas_boundary(UID), UTC)
    assert gas[Quantity.GAS_VOLUME].value == pytest.approx(
        sim.registers(UID, boundary)["gas"]
    )
    assert gas[Quantity.GAS_VOLUME].timestamp == boundary == local(2025, 11, 3, 11)

    solar = latest[f"{KEY}_s01"]
    assert set(solar) == {Quantity.POWER, Quantity.PRODUCTION}
    assert solar[Quantity.POWER].value == pytest.approx(
        sim.current_power(UID, "s01") / 1000
    )
    five = datetime.fromtimestamp(sim.now.timestamp() // 300 * 300, UTC)
    assert solar[Quantity.PRODUCTION].value == pytest.approx(
        sim.registers(UID, five)["s01"]
    )
    assert solar[Quantity.PRODUCTION].timestamp == five
    assert KEY not in latest  # the gateway has no readings
    assert sim.count("/realtime/") == 3
    assert sim.count("/totals/") == 1

    # Steady state: one request per alias, the S0 register from the cache.
    sim.reset_log()
    again = await client.async_get_latest(meters)
    assert len(sim.requests) == 3
    assert again[f"{KEY}_s01"][Quantity.PRODUCTION] == solar[Quantity.PRODUCTION]

    # After an hour the register is read again.
    base = time.monotonic()
    client._monotonic = lambda: base + 3601
    sim.reset_log()
    await client.async_get_latest(meters)
    assert sim.count("/totals/") == 1


async def test_latest_five_aliases_request_budget(make_client: MakeClient) -> None:
    """Five aliases: steady-state polls use five requests (target ≤ 6)."""
    sim = CemmSimulator(devices={UID: ALL_FIVE})
    client = await make_client(sim)
    meters = await client.async_get_meters()
    await client.async_get_latest(meters)
    sim.reset_log()
    latest = await client.async_get_latest(meters)
    assert len(sim.requests) == 5
    assert latest[f"{KEY}_s02"][Quantity.AUXILIARY].value == pytest.approx(
        sim.registers(
            UID, datetime.fromtimestamp(sim.now.timestamp() // 300 * 300, UTC)
        )["s02"]
    )
    assert Quantity.PRODUCTION in latest[f"{KEY}_s03"]


async def test_latest_weekend_low_tariff_and_skips(
    client: CemmClient, sim: CemmSimulator
) -> None:
    """Weekend → tariff low; a 412 on one alias skips only that meter."""
    meters = await client.async_get_meters()
    sim.now = local(2025, 11, 1, 14, 0)  # Saturday
    sim.force_status(412, alias="p1-gas")
    latest = await client.async_get_latest([*meters, meters[1]])
    assert latest[f"{KEY}_p1"][Quantity.TARIFF].value == "low"
    assert f"{KEY}_p1_gas" not in latest
    assert sim.count("/realtime/") == 3  # the duplicate meter is asked once


async def test_latest_s0_totals_unsupported_is_cached(
    client: CemmClient, sim: CemmSimulator
) -> None:
    """A 412 on totals leaves out the register and is remembered for an hour."""
    meters = await client.async_get_meters()
    solar = [m for m in meters if m.kind is MeterKind.PRODUCTION]
    sim.force_status(412, alias="s01", endpoint="/totals/")
    latest = await client.async_get_latest(solar)
    assert set(latest[f"{KEY}_s01"]) == {Quantity.POWER}
    sim.reset_log()
    latest = await client.async_get_latest(solar)
    assert set(latest[f"{KEY}_s01"]) == {Quantity.POWER}
    assert sim.count("/totals/") == 0
    # A 412 on realtime leaves out the whole meter.
    sim.force_status(412, alias="s01")
    assert await client.async_get_latest(solar) == {}


async def test_latest_errors_propagate(client: CemmClient, sim: CemmSimulator) -> None:
    """Errors other than 412 propagate from latest."""
    meters = await client.async_get_meters()
    sim.force_status(502, alias="p1")
    with pytest.raises(MeetdataConnectionError):
        await client.async_get_latest(meters)


async def test_latest_ignores_foreign_and_gateway(
    client: CemmClient, sim: CemmSimulator
) -> None:
    """Meters of other providers and the gateway cause no requests."""
    foreign = Meter("kenter", "871687120000000000", MeterKind.ELECTRICITY)
    gateway = Meter("cemm", KEY, MeterKind.GATEWAY, attributes={"uid": UID})
    assert await client.async_get_latest([foreign, gateway]) == {}
    assert (
        await client.async_get_history(gateway, local(2025, 6, 1), local(2025, 6, 2))
        == []
    )
    assert sim.requests == []


async def test_meter_without_attributes(client: CemmClient, sim: CemmSimulator) -> None:
    """A meter rebuilt from its key alone still finds its uid and alias."""
    bare = Meter("cemm", f"{KEY}_p1_gas", MeterKind.GAS)
    latest = await client.async_get_latest([bare])
    assert Quantity.GAS_VOLUME in latest[f"{KEY}_p1_gas"]
    assert sim.requests[0].path == f"/v1/cemm/{UID}/p1-gas/realtime/"
    with pytest.raises(MeetdataNotFoundError):
        await client.async_get_latest([Meter("cemm", "bad_x", MeterKind.GAS)])


# ----------------------------------------------------------------------
# Promises and errors
# ----------------------------------------------------------------------


async def test_promise_resolves(client: CemmClient, sim: CemmSimulator) -> None:
    """A 202 promise is followed by repeating the same request."""
    sim.promise_count = 2
    assert await client.async_get_devices() == [UID]
    assert [r.status for r in sim.requests] == [202, 202, 200]
    assert len({str(r.params) + r.path for r in sim.requests}) == 1


async def test_promise_never_resolves(
    make_client: MakeClient, sim: CemmSimulator
) -> None:
    """A promise that never resolves ends in MeetdataTimeoutError."""
    sim.never_resolve = True
    client = await make_client(sim, promise_retry_delay=0.02, promise_timeout=0.1)
    with pytest.raises(MeetdataTimeoutError) as err:
        await client.async_get_realtime(UID, "p1")
    assert err.value.meter == UID
    assert 3 <= len(sim.requests) <= 7
    assert DEMO_API_KEY not in str(err.value)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (403, MeetdataAuthError),
        (408, MeetdataTimeoutError),
        (412, MeetdataUnsupportedError),
        (502, MeetdataConnectionError),
        (500, MeetdataConnectionError),
        (404, MeetdataNotFoundError),
        (400, MeetdataInvalidRequestError),
        (304, MeetdataResponseError),
    ],
)
async def test_status_mapping(
    client: CemmClient, sim: CemmSimulator, status: int, error: type[MeetdataError]
) -> None:
    """Every documented status (and a few more) maps to its error."""
    sim.force_status(status)
    with pytest.raises(error) as err:
        await client.async_get_realtime(UID, "p1")
    assert DEMO_API_KEY not in str(err.value)


async def test_wrong_key(
    make_client: MakeClient, sim: CemmSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong API key is a 403 → MeetdataAuthError; the key is never shown."""
    caplog.set_level(logging.DEBUG)
    secret = "s3cr3t-key-value"
    sim.promise_count = 1
    client = await make_client(sim, api_key=secret)
    with pytest.raises(MeetdataAuthError) as err:
        await client.async_get_meters()
    assert secret not in str(err.value)
    assert secret not in caplog.text


async def test_rate_limit(client: CemmClient, sim: CemmSimulator) -> None:
    """429 becomes MeetdataRateLimitError with Retry-After."""
    sim.override_next("{}", status=429, headers={"Retry-After": "30"})
    with pytest.raises(MeetdataRateLimitError) as err:
        await client.async_get_devices()
    assert err.value.retry_after == 30
    sim.override_next("{}", status=429, headers={"Retry-After": "soon"})
    with pytest.raises(MeetdataRateLimitError) as err:
        await client.async_get_devices()
    assert err.value.retry_after is None


async def test_connection_refused(http_session: aiohttp.ClientSession) -> None:
    """An unreachable server is a MeetdataConnectionError without the key."""
    client = CemmClient(http_session, "topsecret", base_url="http://127.0.0.1:9/v1/")
    with pytest.raises(MeetdataConnectionError) as err:
        await client.async_get_devices()
    assert "topsecret" not in str(err.value)


async def test_malformed_json(client: CemmClient, sim: CemmSimulator) -> None:
    """A truncated body is a MeetdataResponseError."""
    sim.malformed_next()
    with pytest.raises(MeetdataResponseError):
        await client.async_get_realtime(UID, "p1")


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("devices", "[]"),
        ("devices", '{"data": {}}'),
        ("devices", '{"data": [{"id": 1}]}'),
        ("devices", '{"data": [{"uid": 12}]}'),
        ("devices", '{"data": [{"uid": ""}]}'),
        ("devices", '{"nodata": []}'),
        ("io", '{"data": [{"io_id": 1, "port": 3}]}'),
        ("io", '{"data": [{"io_id": "1", "port": 3, "type": "p1"}]}'),
        ("io", '{"data": [{"io_id": true, "port": 3, "type": "p1"}]}'),
        ("io", '{"data": [{"io_id": 1.5, "port": 3, "type": "p1"}]}'),
        ("io", '{"data": [{"io_id": 1, "port": 3, "type": "p1", "full_id": "x"}]}'),
        ("io", '{"data": [1]}'),
        ("realtime", '{"data": {}}'),
        ("realtime", '{"io_id": 1, "data": []}'),
        ("realtime", '{"io_id": 1, "data": {"t1": 5}}'),
        ("realtime", '{"io_id": 1, "data": {"t1": [5]}}'),
        ("realtime", '{"io_id": 1, "data": {"t1": [1496326765000, "5"]}}'),
        ("realtime", '{"io_id": 1, "data": {"t1": [1496326765000, true]}}'),
        ("realtime", '{"io_id": 1, "data": {"t1": [1e300, 5]}}'),
        ("realtime", '{"io_id": 1, "data": {"t1": [99999999999999999, 5]}}'),
        ("realtime", '{"io_id": 1, "data": {"t1": [1496326765000, 1e999]}}'),
        ("realtime", '{"io_id": 1, "time": "x", "data": {}}'),
        ("day", '{"io_id": 1, "data": {"electric_power": {}}}'),
        ("day", '{"io_id": 1, "data": {"electric_power": [[1, 2], 3]}}'),
        ("history", '{"io_id": 1, "time": 1, "data": {"power": []}}'),
    ],
)
async def test_wrong_shapes(
    client: CemmClient, sim: CemmSimulator, method: str, body: str
) -> None:
    """Wrong shapes and missing fields are MeetdataResponseError."""
    sim.override_next(body)
    meter = Meter(
        "cemm",
        f"{KEY}_s01",
        MeterKind.PRODUCTION,
        attributes={"uid": UID, "alias": "s01"},
    )
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "devices": client.async_get_devices,
        "io": lambda: client.async_get_io(UID),
        "realtime": lambda: client.async_get_realtime(UID, "p1"),
        "day": lambda: client.async_get_day(UID, "p1", local(2025, 6, 1)),
        "history": lambda: client.async_get_history(
            meter, local(2025, 6, 1), local(2025, 6, 1, 1)
        ),
    }
    with pytest.raises(MeetdataResponseError):
        await calls[method]()


async def test_lenient_values(client: CemmClient, sim: CemmSimulator) -> None:
    """Null values and zero timestamps are "no value"; integral floats are ints."""
    sim.override_next(
        '{"io_id": 1.0, "time": 1496242535000, "data": {"t1": [1496326765000, null],'
        ' "switch": [0, 0], "t2": [1496326765000.0, 5]}}'
    )
    values = await client.async_get_realtime(UID, "p1")
    assert set(values.values) == {"t2"}
    assert values.time == datetime(2017, 5, 31, 14, 55, 35, tzinfo=UTC)
    assert values.values["t2"].timestamp == datetime(2017, 6, 1, 14, 19, 25, tzinfo=UTC)


async def test_size_cap_and_executor(client: CemmClient, sim: CemmSimulator) -> None:
    """Bodies over the cap are refused; large bodies are parsed in an executor."""
    client.max_response_bytes = 1000
    with pytest.raises(MeetdataResponseError):
        await client.async_get_day(UID, "p1", local(2025, 6, 1))
    client.max_response_bytes = 16 * 1024 * 1024
    client.executor_parse_bytes = 10
    day = await client.async_get_day(UID, "p1", local(2025, 6, 1))
    assert len(day.series["electric_power"]) == 1440
    sim.malformed_next()
    with pytest.raises(MeetdataResponseError):
        await client.async_get_realtime(UID, "p1")


async def test_naive_datetimes_refused(client: CemmClient) -> None:
    """Naive datetimes are a MeetdataInvalidRequestError."""
    meter = await meter_by_alias(client, "p1")
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_get_day(UID, "p1", datetime(2025, 6, 1))
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_get_history(
            meter,
            datetime(2025, 6, 1),
            datetime(2025, 6, 2),
        )


# ----------------------------------------------------------------------
# History
# ----------------------------------------------------------------------


async def test_history_p1_day(client: CemmClient, sim: CemmSimulator) -> None:
    """A whole day: per-minute import/export and the daily net per tariff."""
    meter = await meter_by_alias(client, "p1")
    sim.reset_log()
    start, end = local(2025, 6, 10), local(2025, 6, 11)
    series = by_quantity(await client.async_get_history(meter, start, end))
    imports = series[Quantity.ENERGY_IMPORT].intervals
    exports = series[Quantity.ENERGY_EXPORT].intervals
    expected = sim.minute_energy(UID, "p1", start, end)
    assert len(imports) == len(exports) == len(expected) == 1440
    for got_import, got_export, (moment, kwh_in, kwh_out) in zip(
        imports, exports, expected, strict=True
    ):
        assert got_import.start == got_export.start == moment
        assert got_import.end == moment + timedelta(minutes=1)
        assert got_import.value == pytest.approx(kwh_in)
        assert got_export.value == pytest.approx(kwh_out)
    assert sum(i.value for i in exports) > 1  # the sun returns energy at midday

    (day, net_low, net_normal) = sim.daily_net(
        UID, date(2025, 6, 10), date(2025, 6, 10)
    )[0]
    assert day == date(2025, 6, 10)
    [low] = series[Quantity.ENERGY_NET_LOW].intervals
    [normal] = series[Quantity.ENERGY_NET_NORMAL].intervals
    assert (low.start, low.end) == (start, end)
    assert low.value == pytest.approx(net_low)
    assert normal.value == pytest.approx(net_normal)
    # The daily net per tariff equals import - export of the minutes per tariff.
    low_minutes = [sim.tariff_at(i.start) == 1 for i in imports]
    assert sum(
        i.value - e.value
        for i, e, is_low in zip(imports, exports, low_minutes, strict=True)
        if is_low
    ) == pytest.approx(net_low)
    # One day request and one month request.
    assert sim.count("/data/day/") == 1
    assert sim.count("/data/month/") == 1


async def test_history_registers_integrate_minutes(
    client: CemmClient, sim: CemmSimulator
) -> None:
    """Totals of consecutive days differ by exactly the minutes in between."""
    meter = await meter_by_alias(client, "p1")
    start, end = local(2025, 9, 5), local(2025, 9, 6)  # a Friday
    series = by_quantity(await client.async_get_history(meter, start, end))
    before = (await client.async_get_totals(UID, "p1", local(2025, 9, 4, 12))).values
    after = (await client.async_get_totals(UID, "p1", local(2025, 9, 5, 12))).values
    tariff = {
        i.start: sim.tariff_at(i.start)
        for i in series[Quantity.ENERGY_IMPORT].intervals
    }
    for name, quantity, code in (
        ("t1", Quantity.ENERGY_IMPORT, 1),
        ("t2", Quantity.ENERGY_IMPORT, 2),
        ("t3", Quantity.ENERGY_EXPORT, 1),
        ("t4", Quantity.ENERGY_EXPORT, 2),
    ):
        used = sum(
            i.value for i in series[quantity].intervals if tariff[i.start] == code
        )
        assert after[name].value - before[name].value == pytest.approx(used)


@pytest.mark.parametrize(
    ("day", "hours"), [(date(2025, 3, 30), 23), (date(2025, 10, 26), 25)]
)
async def test_history_dst_days(
    client: CemmClient, sim: CemmSimulator, day: date, hours: int
) -> None:
    """DST days have 23 or 25 hours of minutes, gas hours and a 23/25 h net day."""
    start = local_midnight(day)
    end = local_midnight(day + timedelta(days=1))
    assert end - start == timedelta(hours=hours)
    meter = await meter_by_alias(client, "p1")
    series = by_quantity(await client.async_get_history(meter, start, end))
    minutes = series[Quantity.ENERGY_IMPORT].intervals
    assert len(minutes) == hours * 60
    assert minutes[0].start == start
    assert minutes[-1].end == end
    [low] = series[Quantity.ENERGY_NET_LOW].intervals
    assert low.end - low.start == timedelta(hours=hours)
    # Sunday: all low tariff.
    assert series[Quantity.ENERGY_NET_NORMAL].intervals[0].value == pytest.approx(0)
    assert low.value == pytest.approx(
        sum(i.value for i in minutes)
        - sum(i.value for i in series[Quantity.ENERGY_EXPORT].intervals)
    )

    gas_meter = await meter_by_alias(client, "p1-gas")
    [gas] = await client.async_get_history(gas_meter, start, end)
    assert gas.quantity is Quantity.GAS_VOLUME
    assert len(gas.intervals) == hours
    assert [(i.start, i.end) for i in gas.intervals] == [
        (start + timedelta(hours=h), start + timedelta(hours=h + 1))
        for h in range(hours)
    ]
    assert [i.value for i in gas.intervals] == [
        value for _, value in sim.hourly_gas(UID, start, end)
    ]


def _hour_sums(intervals: list[Interval]) -> dict[datetime, float]:
    """Sum intervals per UTC hour of their start."""
    hours: dict[datetime, float] = defaultdict(float)
    for interval in intervals:
        hours[interval.start.replace(minute=0, second=0, microsecond=0)] += (
            interval.value
        )
    return dict(hours)


@pytest.mark.parametrize("gas_format", ["hour", "minute", "five_minutes"])
async def test_history_gas_formats(make_client: MakeClient, gas_format: str) -> None:
    """DSMR 4 hourly m³, DSMR 5 minute L/min and 5-minute m³: the same m³ per hour.

    The minute flows are rounded (0.01 L/min), so they integrate to slightly
    off the register; the days still add up to the gas register exactly.
    """
    sim = CemmSimulator(gas_format=gas_format)
    client = await make_client(sim)
    meter = await meter_by_alias(client, "p1-gas")
    start, end = local(2025, 1, 14), local(2025, 1, 16)
    body = (await client.async_get_day(UID, "p1-gas", local(2025, 1, 14, 12))).series
    step = {"hour": 3600, "minute": 60, "five_minutes": 300}[gas_format]
    assert len(body["gas"]) == 86400 // step + 1  # 0..23 / 0..1440 with the marker
    [gas] = await client.async_get_history(meter, start, end)
    assert all(i.end - i.start == timedelta(seconds=step) for i in gas.intervals)
    assert len(gas.intervals) == 2 * 86400 // step
    hours = _hour_sums(gas.intervals)
    expected = dict(sim.hourly_gas(UID, start, end))
    assert hours.keys() == expected.keys()
    for hour, amount in expected.items():
        assert hours[hour] == pytest.approx(amount, abs=5e-4), hour
    if gas_format == "minute":
        flows = sum(m.value for m in body["gas"]) / 1000  # L/min × 1 min → m³
        day_used = sum(v for h, v in expected.items() if h < local(2025, 1, 15))
        assert flows != pytest.approx(day_used, abs=1e-9)  # rounding drifts
        assert flows == pytest.approx(day_used, rel=1e-2)  # but not 1000×
    for day in (date(2025, 1, 14), date(2025, 1, 15)):
        first, following = local_midnight(day), local_midnight(day + timedelta(1))
        delta = sim.registers(UID, following)["gas"] - sim.registers(UID, first)["gas"]
        used = sum(v for h, v in hours.items() if first <= h < following)
        assert used == pytest.approx(delta, abs=1e-9)
    assert sum(hours.values()) > 1  # winter


async def test_history_gas_grid_from_single_entry(make_client: MakeClient) -> None:
    """With one entry only, the grid comes from earlier answers or the alignment."""
    sim = CemmSimulator(gas_format="five_minutes")
    sim.future_zeros = False
    client = await make_client(sim)
    meter = await meter_by_alias(client, "p1-gas")
    sim.force_status(412, count=100, endpoint="/totals/")  # no registers to fit
    sim.now = local(2025, 2, 3, 0, 7)
    # No earlier answer: an entry on the hour is taken as hourly.
    [gas] = await client.async_get_history(meter, local(2025, 2, 3), local(2025, 2, 4))
    assert gas.intervals == []  # 00:00 + 1 h is not complete at 00:07
    await client.async_get_history(meter, local(2025, 2, 2), local(2025, 2, 3))
    [gas] = await client.async_get_history(meter, local(2025, 2, 3), local(2025, 2, 4))
    assert [(i.start, i.end) for i in gas.intervals] == [
        (local(2025, 2, 3), local(2025, 2, 3, 0, 5))
    ]
    sim = CemmSimulator(gas_format="five_minutes")
    sim.force_status(412, count=100, endpoint="/totals/")
    sim.future_zeros = False
    sim.now = local(2025, 2, 3, 0, 12)
    client = await make_client(sim)
    five = int(local(2025, 2, 3, 0, 5).timestamp() * 1000)
    sim.override_next(f'{{"io_id": 2, "data": {{"gas": [[{five}, 0.5]]}}}}')
    [gas] = await client.async_get_history(meter, local(2025, 2, 3), local(2025, 2, 4))
    assert [(i.start, i.end, i.value) for i in gas.intervals] == [
        (local(2025, 2, 3, 0, 5), local(2025, 2, 3, 0, 10), 0.5)
    ]
    one = int(local(2025, 2, 3, 0, 1).timestamp() * 1000)
    # A duplicated timestamp: the first entry wins; off the 5-minute grid is a
    # minute grid, whose values are flows in L/min (0.5 L/min for 1 min).
    sim.override_next(
        f'{{"io_id": 2, "data": {{"gas": [[{one}, 0.5], [{one}, 0.25]]}}}}'
    )
    client2 = await make_client(sim)
    [gas] = await client2.async_get_history(meter, local(2025, 2, 3), local(2025, 2, 4))
    assert [(i.start, i.end, i.value) for i in gas.intervals] == [
        (local(2025, 2, 3, 0, 1), local(2025, 2, 3, 0, 2), 0.0005)
    ]


async def test_history_gas_dst_minutes(make_client: MakeClient) -> None:
    """DSMR 5 minute data on the 25-hour day: 1500 minutes, 25 hours of m³."""
    sim = CemmSimulator(gas_format="minute")
    client = await make_client(sim)
    meter = await meter_by_alias(client, "p1-gas")
    start, end = local_midnight(date(2025, 10, 26)), local_midnight(date(2025, 10, 27))
    [gas] = await client.async_get_history(meter, start, end)
    assert len(gas.intervals) == 1500
    hours = _hour_sums(gas.intervals)
    expected = dict(sim.hourly_gas(UID, start, end))
    assert len(hours) == len(expected) == 25
    for hour, amount in expected.items():
        assert hours[hour] == pytest.approx(amount, abs=5e-4)
    delta = sim.registers(UID, end)["gas"] - sim.registers(UID, start)["gas"]
    assert sum(hours.values()) == pytest.approx(delta, abs=1e-9)


@pytest.mark.parametrize(
    "day", [date(2025, 6, 10), date(2025, 3, 30), date(2025, 10, 26), date(2025, 1, 8)]
)
async def test_history_p1_adds_up_to_registers(
    make_client: MakeClient, day: date
) -> None:
    """Minute power integrating to less than the registers: the days take the registers.

    Each direction's register increase is divided over the minutes in
    proportion to that direction's minute power (summer, both DST days, a
    winter day whose export minutes are all 0 and get the increase evenly).
    """
    sim = CemmSimulator(drift=40)
    client = await make_client(sim)
    meter = await meter_by_alias(client, "p1")
    start, end = local_midnight(day), local_midnight(day + timedelta(days=1))
    series = by_quantity(await client.async_get_history(meter, start, end))
    before, after = sim.registers(UID, start), sim.registers(UID, end)
    minutes = sim.minute_energy(UID, "p1", start, end)
    for quantity, names, index in (
        (Quantity.ENERGY_IMPORT, ("t1", "t2"), 1),
        (Quantity.ENERGY_EXPORT, ("t3", "t4"), 2),
    ):
        delta = sum(after[name] - before[name] for name in names)
        integrated = sum(minute[index] for minute in minutes)
        assert delta - integrated > 0.01  # the registers count more
        intervals = series[quantity].intervals
        assert len(intervals) == len(minutes)
        assert sum(i.value for i in intervals) == pytest.approx(delta, abs=1e-9)
        # Hour by hour: the day's increase in proportion to the minute power.
        hours = _hour_sums(intervals)
        if integrated:
            expected = _hour_sums(
                [
                    Interval(m, m + timedelta(minutes=1), a[index - 1])
                    for m, *a in minutes
                ]
            )
            for hour, amount in expected.items():
                assert hours[hour] == pytest.approx(amount * delta / integrated)
        else:
            assert {round(v, 12) for v in hours.values()} == {
                round(delta / len(hours), 12)
            }
    # Net per tariff (month data) is unchanged by what nets out in a minute.
    [low] = series[Quantity.ENERGY_NET_LOW].intervals
    assert low.value == pytest.approx(
        after["t1"] - before["t1"] - (after["t3"] - before["t3"])
    )


async def test_history_p1_today_until_the_last_reading(make_client: MakeClient) -> None:
    """The current day adds up to its last register reading; a day without totals integrates."""
    sim = CemmSimulator(drift=40)
    client = await make_client(sim)
    meter = await meter_by_alias(client, "p1")
    start = local(2025, 11, 3)  # today; the clock is at 11:30:15
    series = by_quantity(await client.async_get_history(meter, start, sim.now))
    reading = local(2025, 11, 3, 11, 30)  # the totals' 5-minute grid
    delta = sum(
        sim.registers(UID, reading)[name] - sim.registers(UID, start)[name]
        for name in ("t1", "t2")
    )
    imports = series[Quantity.ENERGY_IMPORT].intervals
    assert imports[-1].end == reading
    assert sum(i.value for i in imports) == pytest.approx(delta, abs=1e-9)

    sim.force_status(412, count=100, endpoint="/totals/")
    day = date(2025, 6, 10)
    first, following = local_midnight(day), local_midnight(day + timedelta(days=1))
    series = by_quantity(await client.async_get_history(meter, first, following))
    assert sum(i.value for i in series[Quantity.ENERGY_IMPORT].intervals) == (
        pytest.approx(sum(m[1] for m in sim.minute_energy(UID, "p1", first, following)))
    )


async def test_history_s0(client: CemmClient, sim: CemmSimulator) -> None:
    """A solar S0 input: PRODUCTION per minute from its average power."""
    meter = await meter_by_alias(client, "s01")
    start, end = local(2025, 7, 1, 10), local(2025, 7, 1, 14)
    [production] = await client.async_get_history(meter, start, end)
    assert production.quantity is Quantity.PRODUCTION
    expected = sim.minute_energy(UID, "s01", start, end)
    assert len(production.intervals) == 240
    assert [i.start for i in production.intervals] == [m for m, _, _ in expected]
    assert [i.value for i in production.intervals] == pytest.approx(
        [kwh for _, kwh, _ in expected]
    )
    assert sim.count("/data/day/") == 1
    assert sim.count("/data/month/") == 0


async def test_history_auxiliary(make_client: MakeClient) -> None:
    """A non-solar S0 input: AUXILIARY per minute."""
    sim = CemmSimulator(devices={UID: {"p1": "p1", "s02": "heat_pump"}})
    client = await make_client(sim)
    meter = await meter_by_alias(client, "s02")
    assert meter.kind is MeterKind.AUXILIARY
    start, end = local(2025, 1, 20), local(2025, 1, 21)
    [aux] = await client.async_get_history(meter, start, end)
    assert aux.quantity is Quantity.AUXILIARY
    assert sum(i.value for i in aux.intervals) == pytest.approx(
        sum(kwh for _, kwh, _ in sim.minute_energy(UID, "s02", start, end))
    )


async def test_history_window_and_clock(client: CemmClient, sim: CemmSimulator) -> None:
    """Only intervals starting in [start, end) and complete by the clock come back."""
    meter = await meter_by_alias(client, "p1")
    # Mid-day window: minutes only, no daily intervals (no midnight inside).
    start, end = local(2025, 8, 12, 9, 30), local(2025, 8, 12, 10, 15)
    series = by_quantity(await client.async_get_history(meter, start, end))
    minutes = series[Quantity.ENERGY_IMPORT].intervals
    assert (minutes[0].start, minutes[-1].start, len(minutes)) == (
        start,
        end - timedelta(minutes=1),
        45,
    )
    assert series[Quantity.ENERGY_NET_LOW].intervals == []
    assert sim.count("/data/month/") == 0

    # Up to the clock (Monday 11:30:15): complete minutes only, no partial day.
    sim.reset_log()
    start = local(2025, 11, 2)
    series = by_quantity(
        await client.async_get_history(meter, start, local(2025, 11, 5))
    )
    minutes = series[Quantity.ENERGY_IMPORT].intervals
    assert minutes[-1].end == local(2025, 11, 3, 11, 30)
    assert len(minutes) == 24 * 60 + 11 * 60 + 30
    assert [i.start for i in series[Quantity.ENERGY_NET_LOW].intervals] == [start]
    assert sim.count("/data/day/") == 2  # no request for days after the clock
    assert sim.count("/data/month/") == 1


async def test_history_across_months(client: CemmClient, sim: CemmSimulator) -> None:
    """Daily net values across a month boundary: one month request per month."""
    meter = await meter_by_alias(client, "p1")
    start, end = local(2025, 4, 29), local(2025, 5, 2)
    series = by_quantity(await client.async_get_history(meter, start, end))
    net = sim.daily_net(UID, date(2025, 4, 29), date(2025, 5, 1))
    normal = series[Quantity.ENERGY_NET_NORMAL].intervals
    assert [i.start for i in normal] == [local_midnight(day) for day, _, _ in net]
    assert [i.value for i in normal] == pytest.approx([value for _, _, value in net])
    assert sim.count("/data/month/") == 2
    assert sim.count("/data/day/") == 3
    day_times = sorted(int(r.params["time"]) for r in sim.requests if "/day/" in r.path)
    assert [datetime.fromtimestamp(t, AMS).date() for t in day_times] == [
        date(2025, 4, 29),
        date(2025, 4, 30),
        date(2025, 5, 1),
    ]


async def test_history_before_data_and_empty_window(
    client: CemmClient, sim: CemmSimulator
) -> None:
    """Days before the data starts are empty; an empty window asks nothing."""
    meter = await meter_by_alias(client, "p1")
    sim.reset_log()
    empty = await client.async_get_history(meter, local(2025, 6, 2), local(2025, 6, 1))
    assert all(s.intervals == [] for s in empty)
    assert sim.requests == []
    series = by_quantity(
        await client.async_get_history(meter, local(2024, 12, 31), local(2025, 1, 1))
    )
    assert series[Quantity.ENERGY_IMPORT].intervals == []
    # Month data lists every day of the month; before the data starts it is 0.
    assert [i.value for i in series[Quantity.ENERGY_NET_LOW].intervals] == [0]


async def test_history_promise_and_concurrency(
    client: CemmClient, sim: CemmSimulator
) -> None:
    """History of a week works through promises on every request."""
    meter = await meter_by_alias(client, "s01")
    sim.promise_count = 1
    start, end = local(2025, 5, 5), local(2025, 5, 12)
    [production] = await client.async_get_history(meter, start, end)
    assert len(production.intervals) == 7 * 1440
    assert sim.count("/data/day/") == 14
